/**
 * CI gate for the CUDA sources: compiles every .cu file of scripts/native-sources.json ("cuda")
 * with nvcc on its own (no CMake configure, no addon link), device code for sm_80 only, with the
 * flags CMakeLists.txt gives the device library (-std=c++17 -O3, PIC host code, the same include
 * directories). The default `npm install` stays CPU-only; this keeps the kernels compiling.
 * Takes about 10-15 s on a 2-core machine (bench/cuda.md). Skipped with a message without nvcc.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/binding/load.js';

const root = packageRoot();
const nvccProbe = spawnSync('nvcc', ['--version'], { encoding: 'utf8' });
const hasNvcc = nvccProbe.status === 0;

/** The device-library flags of CMakeLists.txt, for one architecture. */
const NVCC_FLAGS: readonly string[] = [
  '-c',
  '-std=c++17',
  '-O3',
  '-Xcompiler',
  '-fPIC,-Wall',
  '-gencode',
  'arch=compute_80,code=sm_80',
  `-I${path.join(root, 'native', 'include')}`,
  `-I${path.join(root, 'native', 'core')}`,
  `-I${path.join(root, 'native', 'cuda')}`,
];

interface Compiled {
  readonly source: string;
  readonly object: string;
  readonly code: number | null;
  readonly output: string;
}

function compile(source: string, outDir: string): Promise<Compiled> {
  const object = path.join(outDir, `${path.basename(source)}.o`);
  return new Promise((resolve) => {
    const child = spawn('nvcc', [...NVCC_FLAGS, path.join(root, source), '-o', object], { cwd: root });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', (err) => resolve({ source, object, code: -1, output: err.message }));
    child.on('close', (code) => resolve({ source, object, code, output }));
  });
}

describe('CUDA sources compile (nvcc -c, sm_80)', () => {
  if (!hasNvcc) {
    it.skip('nvcc not found on PATH: skipping the CUDA compile check', () => {});
    return;
  }
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'kestrel-cuda-build-'));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('every .cu in native-sources.json compiles with the project flags', { timeout: 180_000 }, async () => {
    const sources = (JSON.parse(readFileSync(path.join(root, 'scripts', 'native-sources.json'), 'utf8')) as { cuda: string[] })
      .cuda;
    expect(sources.length).toBeGreaterThanOrEqual(2);
    expect(sources).toContain('native/cuda/cuda_gp.cu');
    const started = performance.now();
    const results = await Promise.all(sources.map((s) => compile(s, outDir)));
    const seconds = (performance.now() - started) / 1000;
    for (const r of results) {
      expect(r.code, `nvcc ${r.source}:\n${r.output}`).toBe(0);
      expect(statSync(r.object).size, `${r.object} is empty`).toBeGreaterThan(0);
      // -Wall on the host side and nvcc's own diagnostics: the kernels compile warning-free.
      expect(r.output, `nvcc ${r.source} warned:\n${r.output}`).not.toMatch(/warning/i);
    }
    // Budget for CI (2 cores): bench/cuda.md records about 10-15 s.
    expect(seconds, `CUDA compile took ${seconds.toFixed(1)} s`).toBeLessThan(90);
  });
});
