/**
 * scripts/build-native.mjs as `npm install` runs it when the addon cannot be built: the install
 * goes on with one warning (the library then uses the TypeScript backend), unless
 * KESTREL_REQUIRE_NATIVE=1, where it fails. Run on a copy of the shipped build inputs with no
 * compiler, cmake or Python on PATH, so that nothing is compiled (a few seconds).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/binding/load.js';
import { nodeDir } from '../../scripts/build-native.mjs';

const root = packageRoot();
const dir = mkdtempSync(path.join(os.tmpdir(), 'kestrel-build-native-'));
const emptyPath = path.join(dir, 'empty-bin');

/** A copy of the package's build inputs; `modules` names the packages its node_modules holds (all when omitted). */
function copyPackage(name: string, modules?: string[]): string {
  const target = path.join(dir, name);
  for (const entry of ['package.json', 'binding.gyp', 'CMakeLists.txt', 'native', 'scripts']) {
    cpSync(path.join(root, entry), path.join(target, entry), { recursive: true });
  }
  if (modules === undefined) {
    symlinkSync(path.join(root, 'node_modules'), path.join(target, 'node_modules'), 'dir');
  } else {
    mkdirSync(path.join(target, 'node_modules'));
    for (const m of modules) symlinkSync(path.join(root, 'node_modules', m), path.join(target, 'node_modules', m), 'dir');
  }
  return target;
}

function install(pkg: string, env: Record<string, string>): { status: number | null; output: string } {
  const res = spawnSync(process.execPath, [path.join(pkg, 'scripts', 'build-native.mjs')], {
    cwd: pkg,
    encoding: 'utf8',
    timeout: 120_000,
    env: { HOME: process.env.HOME ?? os.tmpdir(), PATH: emptyPath, ...env },
  });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

describe('scripts/build-native.mjs when the addon cannot be built', () => {
  mkdirSync(emptyPath, { recursive: true });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('no compiler: the install succeeds with one warning; KESTREL_REQUIRE_NATIVE=1 fails it', () => {
    const pkg = copyPackage('no-compiler');
    const lenient = install(pkg, {});
    expect(lenient.status, lenient.output).toBe(0);
    // Without Node headers the script stops before cmake-js, with its own message.
    const headers = nodeDir() !== null;
    expect(lenient.output).toMatch(
      headers ? /kestrel: warning: the native addon could not be built .* the TypeScript surrogate will be used/ : /kestrel: warning: Node headers/,
    );
    const strict = install(pkg, { KESTREL_REQUIRE_NATIVE: '1' });
    expect(strict.status, strict.output).toBe(1);
    expect(strict.output).toMatch(headers ? /kestrel: error: the cmake-js build failed and KESTREL_REQUIRE_NATIVE=1/ : /kestrel: error: Node headers.*KESTREL_REQUIRE_NATIVE=1/);
  }, 240_000);

  it('an unexpected error (node-addon-api missing) is a warning, and a failure under KESTREL_REQUIRE_NATIVE=1', () => {
    const pkg = copyPackage('no-node-addon-api', ['cmake-js', 'node-gyp-build']);
    const lenient = install(pkg, {});
    expect(lenient.status, lenient.output).toBe(0);
    expect(lenient.output).toMatch(/kestrel: warning: native build skipped: .*node-addon-api/);
    const strict = install(pkg, { KESTREL_REQUIRE_NATIVE: '1' });
    expect(strict.status, strict.output).toBe(1);
    expect(strict.output).toMatch(/kestrel: error: native build failed: .*node-addon-api[\s\S]*KESTREL_REQUIRE_NATIVE=1/);
  }, 60_000);

  // `npm rebuild kestrel` (what the loader's message tells a user to run) over a truncated
  // build/Release/kestrel.node (an interrupted build or copy): the "already built?" probe used to
  // load the file into the install script itself, where the dynamic linker's SIGBUS killed it
  // (npm error code 135) instead of rebuilding or falling back.
  const built = path.join(root, 'build', 'Release', 'kestrel.node');
  const isElf = existsSync(built) && readFileSync(built).subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  it.skipIf(!isElf)('a truncated build/Release/kestrel.node is not taken for a build, and does not kill the script', () => {
    const pkg = copyPackage('truncated');
    mkdirSync(path.join(pkg, 'build', 'Release'), { recursive: true });
    writeFileSync(path.join(pkg, 'build', 'Release', 'kestrel.node'), readFileSync(built).subarray(0, 10_000));
    const lenient = install(pkg, {});
    expect(lenient.output).not.toMatch(/already built/);
    expect(lenient.status, lenient.output).toBe(0);
    expect(lenient.output).toMatch(/kestrel: warning: /);
  }, 240_000);
});
