/**
 * The prebuilt-binary path (issue 3: "prebuildify produces a prebuilt CPU binary that
 * node-gyp-build loads without compiling"), which is also the node-gyp fallback over binding.gyp:
 * scripts/prebuild.mjs run on a copy of the sources, offline, and the binary it leaves under
 * prebuilds/ loaded through node-gyp-build in a fresh process and used. Skipped with a message
 * when this machine has no Node headers or node-gyp (the install then uses the TypeScript backend).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/binding/load.js';
import { nodeDir, nodeGypScript } from '../../scripts/build-native.mjs';

const root = packageRoot();
const toolchain = nodeDir() !== null && nodeGypScript() !== null;

describe('prebuilt binary (scripts/prebuild.mjs)', () => {
  if (!toolchain) {
    it.skip('no Node headers or node-gyp on this machine: the prebuild path cannot run here', () => {});
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kestrel-prebuild-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds offline from the shared source list and loads through node-gyp-build without compiling', () => {
    for (const entry of ['package.json', 'binding.gyp', 'CMakeLists.txt', 'native', 'scripts']) {
      cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true });
    }
    symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const build = spawnSync(process.execPath, [path.join(dir, 'scripts', 'prebuild.mjs')], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 480_000,
    });
    const output = `${build.stdout}${build.stderr}`;
    expect(build.status, output).toBe(0);
    const binary = path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'kestrel.node');
    expect(existsSync(binary), output).toBe(true);
    // node-gyp-build picks the prebuild (the copy has no build/Release fallback once it is
    // removed), and the addon factors a small matrix.
    rmSync(path.join(dir, 'build'), { recursive: true, force: true });
    const script = `
      const load = require(${JSON.stringify(path.join(root, 'node_modules', 'node-gyp-build'))});
      const file = load.path(${JSON.stringify(dir)});
      const addon = require(file);
      addon.cholesky(Float64Array.from([4, 2, 2, 5]), 2, 1).then((r) => {
        process.stdout.write(JSON.stringify({ file, system: addon.buildInfo().buildSystem, l: Array.from(r.factor) }));
      });`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    const result = JSON.parse(run.stdout) as { file: string; system: string; l: number[] };
    expect(result.file).toBe(binary);
    expect(result.system).toBe('node-gyp');
    expect(result.l).toEqual([2, 1, 0, 2]);
  }, 540_000);
});

// binding.gyp on a CPU other than x86 (arm64 Linux or macOS, where the node-gyp fallback and
// prebuildify are the usual way to build): the AVX2 and AVX-512 variants must not be built, since
// their -mavx2 / -mavx512f flags are rejected by an arm64 compiler. They used to be targets on every
// architecture, and node-gyp's make builds every target ("all"), whatever the dependencies say; the
// x86 switch also read the host's process.arch rather than the target's. Checked on the generated
// makefiles (`node-gyp configure --arch=arm64`, nothing is compiled).
describe('binding.gyp for a non-x86 target', () => {
  if (!toolchain) {
    it.skip('no Node headers or node-gyp on this machine', () => {});
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kestrel-gyp-arch-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function makefiles(arch: string): string {
    const pkg = path.join(dir, arch);
    for (const entry of ['package.json', 'binding.gyp', 'scripts']) {
      cpSync(path.join(root, entry), path.join(pkg, entry), { recursive: true });
    }
    symlinkSync(path.join(root, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');
    const res = spawnSync(process.execPath, [nodeGypScript()!, 'configure', `--arch=${arch}`, `--nodedir=${nodeDir()!}`], {
      cwd: pkg,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(res.status, `${res.stdout}${res.stderr}`).toBe(0);
    const build = path.join(pkg, 'build');
    return readdirSync(build)
      .filter((f) => f.endsWith('.mk') || f === 'Makefile')
      .map((f) => readFileSync(path.join(build, f), 'utf8'))
      .join('\n');
  }

  it('arm64: only the portable kernels, without x86 flags or KESTREL_HAVE_X86_ISAS; x64: all three', () => {
    const arm = makefiles('arm64');
    expect(arm).toMatch(/^all: kestrel_isa_base$/m);
    expect(arm).not.toMatch(/kestrel_isa_avx/);
    expect(arm).not.toMatch(/-mavx|-mfma|KESTREL_HAVE_X86_ISAS/);
    const x64 = makefiles('x64');
    for (const isa of ['base', 'avx2', 'avx512']) expect(x64).toMatch(new RegExp(`^all: kestrel_isa_${isa}$`, 'm'));
    expect(x64).toMatch(/KESTREL_HAVE_X86_ISAS/);
  }, 120_000);
});
