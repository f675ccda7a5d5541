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

  // The same over a build tree: a broken binary newer than its sources is "up to date" for
  // make/ninja ("ninja: no work to do"), so the cmake-js build left it in place and the script
  // reported "the cmake-js build failed" (exit 1 under KESTREL_REQUIRE_NATIVE=1, else node-gyp or
  // the TypeScript backend). A stand-in `cmake` plays make's rule here: it links (copies the real
  // binary) only when the output is missing, so that no compiler runs.
  it.skipIf(!isElf)('a broken binary that the build tree calls up to date is relinked, not kept', () => {
    const pkg = copyPackage('stale');
    const out = path.join(pkg, 'build', 'Release', 'kestrel.node');
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, readFileSync(built).subarray(0, 10_000));
    const bin = path.join(dir, 'fake-cmake-bin');
    mkdirSync(bin, { recursive: true });
    const cmake = path.join(bin, 'cmake');
    writeFileSync(
      cmake,
      `#!${process.execPath}
const fs = require('node:fs');
const path = require('node:path');
const args = process.argv.slice(2);
if (args[0] === '--version') console.log('cmake version 3.25.1');
else if (args[0] === '-E' && args[1] === 'capabilities') console.log(JSON.stringify({ generators: [{ name: 'Unix Makefiles' }] }));
else if (args[0] === '--build' && !fs.existsSync(${JSON.stringify(out)})) {
  fs.mkdirSync(path.dirname(${JSON.stringify(out)}), { recursive: true });
  fs.copyFileSync(${JSON.stringify(built)}, ${JSON.stringify(out)});
}
`,
      { mode: 0o755 },
    );
    // cmake-js looks for a compiler on PATH before it runs cmake; this one is never called.
    writeFileSync(path.join(bin, 'g++'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const strict = install(pkg, { PATH: bin, KESTREL_REQUIRE_NATIVE: '1' });
    expect(strict.status, strict.output).toBe(0);
    expect(readFileSync(out).equals(readFileSync(built))).toBe(true);
  }, 120_000);
});
