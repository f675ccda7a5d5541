/**
 * The public surface as a consumer's TypeScript sees it: every type that a declaration exported
 * from `kestrel` or `kestrel/tfjs` mentions (an option's type, a parameter, a base class) is
 * itself exported from one of the two entry points, so a consumer can name it. The declarations
 * are emitted in memory from src/ (what `npm run prepare` writes to dist/), then walked from the
 * entry points' exports with the type checker.
 */
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/binding/load.js';

const root = packageRoot();
const entries = ['src/index.ts', 'src/tfjs/index.ts'].map((e) => path.join(root, e));

/**
 * Internal types that appear only as constructor parameters of classes a consumer never
 * constructs (`createStudy`/`loadStudy` make the `Study`, the study makes each `Trial`), or in
 * methods documented as internal (`Study.beginRun` / `endRun`, used by optimize and the tfjs
 * process runner).
 */
const INTERNAL = new Set(['StudyInit', 'TrialHost', 'FixedParams', 'OptimizeRun']);

function emitDeclarations(): Map<string, string> {
  const config = ts.readConfigFile(path.join(root, 'tsconfig.build.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    sourceMap: false,
    declarationMap: false,
  };
  const files = new Map<string, string>();
  const result = ts.createProgram(entries, options).emit(undefined, (name, text) => {
    if (name.endsWith('.d.ts')) files.set(path.resolve(name), text);
  });
  expect(result.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  return files;
}

/** Names of package types reachable from the entries' exports that neither entry exports. */
function unexportedReachableTypes(files: Map<string, string>, outDir: string): Map<string, string> {
  const options: ts.CompilerOptions = {
    strict: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    skipLibCheck: true,
    noEmit: true,
  };
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (f) => files.has(path.resolve(f)) || fileExists.call(host, f);
  host.readFile = (f) => files.get(path.resolve(f)) ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, onError, create) => {
    const text = files.get(path.resolve(f));
    return text !== undefined ? ts.createSourceFile(f, text, lang, true) : getSourceFile.call(host, f, lang, onError, create);
  };
  const dtsEntries = entries.map((e) => path.join(outDir, path.relative(path.join(root, 'src'), e)).replace(/\.ts$/, '.d.ts'));
  const program = ts.createProgram(dtsEntries, options, host);
  const checker = program.getTypeChecker();
  const resolve = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const ours = (d: ts.Declaration): boolean => files.has(path.resolve(d.getSourceFile().fileName));

  const exported = new Set<ts.Symbol>();
  for (const entry of dtsEntries) {
    const sf = program.getSourceFile(entry);
    expect(sf, entry).toBeDefined();
    for (const s of checker.getExportsOfModule(checker.getSymbolAtLocation(sf!)!)) exported.add(resolve(s));
  }
  const missing = new Map<string, string>();
  const seen = new Set<ts.Symbol>();
  const work = [...exported];
  while (work.length > 0) {
    const symbol = work.pop()!;
    if (seen.has(symbol)) continue;
    seen.add(symbol);
    for (const decl of symbol.declarations ?? []) {
      if (!ours(decl)) continue;
      const visit = (node: ts.Node): void => {
        if (ts.canHaveModifiers(node) && ts.getCombinedModifierFlags(node as ts.Declaration) & ts.ModifierFlags.Private) return;
        let name: ts.Node | undefined;
        if (ts.isTypeReferenceNode(node)) name = node.typeName;
        else if (ts.isExpressionWithTypeArguments(node)) name = node.expression;
        else if (ts.isTypeQueryNode(node)) name = node.exprName;
        const target = name === undefined ? undefined : checker.getSymbolAtLocation(name);
        if (target !== undefined) {
          const ref = resolve(target);
          if (!(ref.flags & ts.SymbolFlags.TypeParameter) && (ref.declarations ?? []).some(ours)) {
            if (!exported.has(ref) && !INTERNAL.has(ref.name) && !missing.has(ref.name)) {
              missing.set(ref.name, `${symbol.name} (${path.relative(outDir, decl.getSourceFile().fileName)})`);
            }
            work.push(ref);
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(decl);
    }
  }
  return missing;
}

describe('the public type surface (src/index.ts, src/tfjs/index.ts)', () => {
  it('exports every type its exported declarations mention', () => {
    const files = emitDeclarations();
    const outDir = path.join(root, 'dist');
    expect(files.has(path.join(outDir, 'index.d.ts'))).toBe(true);
    const missing = unexportedReachableTypes(files, outDir);
    // name -> the exported declaration that mentions it
    expect(Object.fromEntries(missing)).toEqual({});
  }, 120_000);
});

/**
 * Exported names of `entry` whose declarations carry no TSDoc comment, each with its file: what a
 * user's editor shows on hover.
 */
function undocumentedExports(entry: string): string[] {
  const program = ts.createProgram([entry], {
    strict: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(entry);
  expect(sf, entry).toBeDefined();
  const documented = (d: ts.Declaration): boolean =>
    ts.getJSDocCommentsAndTags(d).length > 0 ||
    // `export const X = ...`: the comment sits on the statement, two levels up.
    (ts.isVariableDeclaration(d) && ts.getJSDocCommentsAndTags(d.parent.parent).length > 0);
  const missing: string[] = [];
  for (const exported of checker.getExportsOfModule(checker.getSymbolAtLocation(sf!)!)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const decls = symbol.declarations ?? [];
    if (!decls.some(documented)) {
      missing.push(`${exported.name} (${decls.map((d) => path.relative(root, d.getSourceFile().fileName)).join(', ')})`);
    }
  }
  return missing.sort();
}

describe('the public names of kestrel and kestrel/tfjs', () => {
  it.each(['src/index.ts', 'src/tfjs/index.ts'])('%s: each has a TSDoc comment on its declaration', (entry) => {
    expect(undocumentedExports(path.join(root, entry))).toEqual([]);
  }, 120_000);
});
