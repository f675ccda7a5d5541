/**
 * Runs the CUDA kernels WITHOUT a GPU: native/cuda/cuda_gp.cu is compiled by the host C++
 * compiler against native/cuda/emulation/cuda_emulation.h (blocks run one at a time, each CUDA
 * thread on a host thread, real barriers for __syncthreads, warp shuffles emulated), linked with
 * the CPU core, and native/cuda/emulation/emulate_check.cc compares the device Cholesky (sizes
 * around the 64-wide blocks, failing pivot, NaN, jitter), the many-right-hand-side triangular
 * solves and CudaGp (factor, predict, logEI / UCB / PI with gradient) with the CPU core, and
 * checks that a call after a device out-of-memory (an injected cudaMalloc failure) works, that
 * CudaGp::device_bytes() (what the addon reports to the JS engine for a device copy) equals the
 * bytes the emulated device holds for it (the emulator counts live allocations), after calls,
 * after an out-of-memory failure at each of create's allocations and when it is freed, and that
 * the kernel-image probe behind cudaAvailable() reports a card the build has no image for (an
 * injected compute capability 5.0 whose launches fail) with its capability, and leaves no error.
 * Tolerances are in emulate_check.cc (1e-12 relative for the factor and solves, 1e-10 for the
 * moments, 1e-9 / 1e-8 for acquisition values / gradients). This proves indexing, bounds and
 * synchronization logic; timing and the device memory model need a GPU (cuda-parity.test.ts).
 * About 15-25 s on 2 cores. Skipped with a message when no C++20 compiler is on PATH.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/binding/load.js';

const root = packageRoot();
const cxx = process.env.CXX ?? 'c++';
const hasCxx = spawnSync(cxx, ['--version']).status === 0;

const includes = ['include', 'core', 'cuda'].map((d) => `-I${path.join(root, 'native', d)}`);
const baseFlags = ['-std=c++20', '-O1', '-pthread', '-Wno-unknown-pragmas', ...includes];

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cxx, args, { cwd: root });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', (err) => resolve({ code: -1, output: err.message }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** Runs the compile jobs two at a time (CI has 2 cores). */
async function compileAll(jobs: string[][]): Promise<void> {
  const queue = [...jobs];
  const worker = async (): Promise<void> => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      const res = await run(job);
      expect(res.code, `${cxx} ${job.join(' ')}\n${res.output}`).toBe(0);
    }
  };
  await Promise.all([worker(), worker()]);
}

describe('CUDA kernels under the host emulator', () => {
  if (!hasCxx) {
    it.skip(`no C++ compiler (${cxx}): skipping the emulated CUDA kernels`, () => {});
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kestrel-cuda-emu-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('device Cholesky, solves and CudaGp equal the CPU core', { timeout: 240_000 }, async () => {
    const sources = JSON.parse(readFileSync(path.join(root, 'scripts', 'native-sources.json'), 'utf8')) as {
      core: string[];
      isa: string[];
    };
    const objects: string[] = [];
    const jobs: string[][] = [];
    for (const src of sources.core) {
      const obj = path.join(dir, `${path.basename(src)}.o`);
      objects.push(obj);
      jobs.push([...baseFlags, '-c', path.join(root, src), '-o', obj]);
    }
    for (const src of sources.isa) {
      const obj = path.join(dir, `base-${path.basename(src)}.o`);
      objects.push(obj);
      jobs.push([
        ...baseFlags,
        '-DKESTREL_ISA_NS=isa_base',
        '-DKESTREL_ISA_NAME="base"',
        '-DKESTREL_VW=2',
        '-DKESTREL_NR=4',
        '-c',
        path.join(root, src),
        '-o',
        obj,
      ]);
    }
    const checkObj = path.join(dir, 'emulate_check.o');
    jobs.push([...baseFlags, '-Wall', '-Wextra', '-Wno-subobject-linkage', '-c',
      path.join(root, 'native', 'cuda', 'emulation', 'emulate_check.cc'), '-o', checkObj]);
    await compileAll(jobs);
    const binary = path.join(dir, 'emulate_check');
    const link = await run(['-pthread', checkObj, ...objects, '-o', binary]);
    expect(link.code, link.output).toBe(0);
    const res = spawnSync(binary, [], { encoding: 'utf8', timeout: 120_000 });
    const output = `${res.stdout}${res.stderr}`;
    expect(output).toMatch(/[1-9]\d* checks, 0 failed/);
    expect(res.status, output).toBe(0);
  });
});
