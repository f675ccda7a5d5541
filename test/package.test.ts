/**
 * The package as a consumer installs it: what `npm pack` ships (package.json `files`) and what
 * its `exports` map lets a consumer load. Offline: `npm pack --dry-run --json` lists the files
 * without building or writing a tarball (--ignore-scripts: `prepare` is not needed for the list).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/binding/load.js';

const root = packageRoot();
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | Record<string, string>>;
};

describe('package.json exports', () => {
  it('resolves every subpath for import and require, types first', () => {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      // `default` serves both import and require (Node >= 20.19 requires ES modules without
      // top-level await); an `import`-only entry made require('kestrel') fail with
      // ERR_PACKAGE_PATH_NOT_EXPORTED "No exports main defined".
      expect(Object.keys(target), subpath).toEqual(['types', 'default']);
    }
    expect(pkg.exports['./package.json']).toBe('./package.json');
  });

  const built = existsSync(path.join(root, 'dist', 'index.js')) && existsSync(path.join(root, 'dist', 'tfjs', 'index.js'));
  it.skipIf(!built)('loads kestrel and kestrel/tfjs through require() and import (package self-reference)', () => {
    const script = `
      const core = require('kestrel');
      const tfjs = require('kestrel/tfjs');
      import('kestrel').then((esm) => {
        process.stdout.write(JSON.stringify({
          same: esm.createStudy === core.createStudy,
          core: typeof core.createStudy,
          tfjs: typeof tfjs.tfObjective,
          version: require('kestrel/package.json').version,
        }));
      });`;
    const run = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ same: true, core: 'function', tfjs: 'function', version: expect.any(String) });
  }, 90_000);
});

describe('types for TypeScript without exports support', () => {
  const built = existsSync(path.join(root, 'dist', 'index.d.ts')) && existsSync(path.join(root, 'dist', 'tfjs', 'index.d.ts'));
  // moduleResolution node10 (TypeScript's `node`, still the default of many CommonJS projects)
  // ignores `exports`: without `typesVersions` 'kestrel/tfjs' had no types there (TS2307).
  it.skipIf(!built)('type-checks kestrel and kestrel/tfjs under moduleResolution node10', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kestrel-node10-'));
    try {
      mkdirSync(path.join(dir, 'node_modules'));
      symlinkSync(root, path.join(dir, 'node_modules', 'kestrel'), 'dir');
      writeFileSync(
        path.join(dir, 'consumer.ts'),
        "import { createStudy, GpSampler } from 'kestrel';\nimport { tfObjective } from 'kestrel/tfjs';\n" +
          'export const used: [typeof createStudy, typeof GpSampler, typeof tfObjective] = [createStudy, GpSampler, tfObjective];\n',
      );
      const config = { compilerOptions: { module: 'commonjs', moduleResolution: 'node10', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ['consumer.ts'] };
      writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config));
      const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const run = spawnSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
      expect(run.stdout + run.stderr).toBe('');
      expect(run.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});

describe('types under the strictest consumer settings', () => {
  const built = existsSync(path.join(root, 'dist', 'index.d.ts'));
  // exactOptionalPropertyTypes (in @tsconfig/strictest and many strict projects): GpSampler
  // declared `finishSystemAttrs?: Sampler['finishSystemAttrs']`, whose type includes undefined, so
  // `createStudy({ sampler: new GpSampler() })` failed to compile there (TS2375), as did dist's
  // gp-sampler.d.ts itself (TS2420) without skipLibCheck.
  it.skipIf(!built)('every sampler, pruner and storage is assignable to its interface with exactOptionalPropertyTypes', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kestrel-strictest-'));
    try {
      mkdirSync(path.join(dir, 'node_modules'));
      symlinkSync(root, path.join(dir, 'node_modules', 'kestrel'), 'dir');
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
      writeFileSync(
        path.join(dir, 'consumer.ts'),
        [
          "import * as k from 'kestrel';",
          "import type { Pruner, Sampler, Storage } from 'kestrel';",
          'export const samplers: Sampler[] = [new k.RandomSampler(), new k.GridSampler({ space: { a: [1, 2] } }), new k.SobolSampler(),',
          '  new k.GpSampler(), new k.GpSampler({ constraintsFunc: () => [0] }), new k.TpeSampler(), new k.NsgaIiSampler()];',
          'export const pruners: Pruner[] = [new k.NopPruner(), new k.MedianPruner(), new k.PercentilePruner({ percentile: 25 }),',
          "  new k.PatientPruner({ wrapped: new k.MedianPruner(), patience: 2 }), new k.ThresholdPruner({ lower: 0 }),",
          "  new k.SuccessiveHalvingPruner(), new k.HyperbandPruner(), k.adaptivePruner({ mode: 'standard', maxLength: 9 })];",
          "export const storages: Storage[] = [new k.InMemoryStorage(), new k.JournalStorage({ path: 'x.journal' })];",
          '',
        ].join('\n'),
      );
      const config = {
        compilerOptions: {
          module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true, noEmit: true, types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')],
        },
        files: ['consumer.ts', path.join(root, 'dist', 'index.d.ts')],
      };
      writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config));
      const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const run = spawnSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
      // Diagnostics in kestrel's own declarations and in the consumer (not in third-party .d.ts).
      const ours = (run.stdout + run.stderr)
        .split('\n')
        .filter((line) => /^\S+\(\d+,\d+\): error/.test(line) && !/node_modules\/(?!kestrel\/)/.test(line.split('(')[0]));
      expect(ours).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});

/** Repository files that `#include "..."` pulls into `file`, recursively (system headers and the generated build-info header resolve nowhere and are left out). */
function localIncludes(file: string, seen: Set<string>): void {
  if (seen.has(file)) return;
  seen.add(file);
  const text = readFileSync(path.join(root, file), 'utf8');
  for (const match of text.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
    // Host emulation of the CUDA runtime, included only under KESTREL_CUDA_EMULATE by the
    // C++ test build (test/native/cuda-emulated.test.ts); never by the addon.
    if (match[1] === 'emulation/cuda_emulation.h') continue;
    const found = [path.dirname(file), 'native/include', 'native/core', 'native/cuda']
      .map((dir) => path.posix.join(dir, match[1]))
      .find((candidate) => existsSync(path.join(root, candidate)));
    if (found !== undefined) localIncludes(found, seen);
  }
}

describe('npm pack file list', () => {
  const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  const files = pack.status === 0 ? new Set((JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path)) : new Set<string>();

  it('ships every source and header the native build compiles, and the build scripts', () => {
    expect(pack.status, pack.stderr).toBe(0);
    const sources = JSON.parse(readFileSync(path.join(root, 'scripts', 'native-sources.json'), 'utf8')) as Record<string, string[] | string>;
    const needed = new Set<string>();
    for (const key of ['core', 'isa', 'addon', 'cuda', 'cudaNone']) {
      for (const file of sources[key] as string[]) localIncludes(file, needed);
    }
    for (const file of ['package.json', 'CMakeLists.txt', 'binding.gyp', 'scripts/build-native.mjs', 'scripts/native-sources.json', 'bin/kestrel.js']) {
      needed.add(file);
    }
    expect([...needed].filter((file) => !files.has(file))).toEqual([]);
  });

  it('ships no tests, test-only native sources, benchmarks, examples, TypeScript sources or build outputs', () => {
    const unwanted = [...files].filter((file) =>
      /^(test|bench|examples|src|build|native\/tests|native\/cuda\/emulation)\//.test(file) ||
      file === 'native/cuda/shared_math_check.cc' ||
      /^scripts\/(run-native-tests|test-summary)\.mjs$/.test(file) ||
      (file.endsWith('.node') && !file.startsWith('prebuilds/')),
    );
    expect(unwanted).toEqual([]);
  });

  it.skipIf(!existsSync(path.join(root, 'dist', 'index.js')))('ships the compiled entry points named in package.json', () => {
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/tfjs/index.js', 'dist/tfjs/index.d.ts', 'dist/cli/main.js']) {
      expect(files.has(file), file).toBe(true);
    }
  });
});
