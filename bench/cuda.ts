/**
 * CUDA vs CPU for the device part of the GP (bench/cuda.md): Cholesky, and posterior + logEI
 * with gradient for m candidates, at growing n. Needs an addon built with KESTREL_CUDA=1 and a
 * device; otherwise prints why and exits 0. Warm-up 1, repeats 5, median and min, the ratio
 * CPU / CUDA from the same run; JSON lines on stdout with machine and backend.
 *
 *   npx tsx bench/cuda.ts [--sizes 512,2048,4096] [--m 10000]   (--help lists the flags)
 */
import os from 'node:os';
import { loadAddon } from '../src/binding/load.js';
import type { KestrelAddon } from '../src/binding/addon.js';
import { createNativeBackend } from '../src/surrogate/native-backend.js';
import type { FittedGp, GpTrainingData } from '../src/surrogate/backend.js';
import { int, intList, parseBenchArgs } from './lib/args.js';
import { medianAndMin } from './lib/stats.js';

type CudaAddon = KestrelAddon & { cudaCholesky(a: Float64Array, n: number, jitter?: boolean): Promise<{ factor: Float64Array | null }> };

const args = parseBenchArgs({
  script: 'bench/cuda.ts',
  summary: 'CPU vs CUDA Cholesky and posterior + logEI with gradient at growing n (bench/cuda.md); needs a KESTREL_CUDA=1 build and a device.',
  flags: {
    sizes: intList({ description: 'matrix sizes n', min: 1, default: [512, 2048, 4096] }),
    m: int({ description: 'candidates of the posterior + logEI figure', min: 1, default: 10000 }),
  },
});

async function time(fn: () => Promise<unknown>, repeats = 5): Promise<{ median: number; min: number }> {
  await fn();
  const t: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
  }
  return medianAndMin(t);
}

function data(n: number, d: number): GpTrainingData {
  // The LCG x -> (1103515245 x + 12345) mod 2^31 in exact 32-bit arithmetic (the plain product
  // exceeds 2^53 and rounds, which sent the sequence into a cycle of 10,466 after 5,937 draws).
  let s = 12345;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff) / 2147483648);
  const x = Float64Array.from({ length: n * d }, r);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) y[i] += Math.sin(3 * x[i * d + j] + j);
  return { x, y, n, d, isCategorical: new Uint8Array(d) };
}

async function main(): Promise<void> {
  const { addon } = loadAddon();
  if (addon === null || !addon.buildInfo().cuda || !addon.cudaAvailable()) {
    process.stderr.write(`bench/cuda: no CUDA device or CUDA build (${addon === null ? 'addon not built' : addon.cudaDevice()}); nothing to measure\n`);
    return;
  }
  const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), gpu: addon.cudaDevice() };
  const { sizes, m } = args;
  const d = 8;
  const emit = (row: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...row, machine })}\n`);
  const cpu = createNativeBackend({ device: 'cpu' });
  const cuda = createNativeBackend({ device: 'cuda' });
  for (const n of sizes) {
    const a = new Float64Array(n * n);
    for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) a[i + j * n] = Math.exp(-((i - j) ** 2) / (2 * (n / 8) ** 2)) + (i === j ? 1e-3 : 0);
    const cc = await time(() => addon.cholesky(a, n, os.availableParallelism()));
    const cg = await time(() => (addon as CudaAddon).cudaCholesky(a, n));
    emit({ figure: 'cholesky', n, backend: 'cpu', ...cc });
    emit({ figure: 'cholesky', n, backend: 'cuda', ...cg, ratio: cc.median / cg.median });
    const train = data(n, d);
    const options = { kernel: 'matern52' as const, deterministic: false, nRestarts: 0, seed: 1, warmStart: null, numThreads: os.availableParallelism() };
    const gpC: FittedGp = await cpu.fit(train, options);
    const gpG: FittedGp = await cuda.fit(train, options);
    const x = Float64Array.from({ length: m * d }, (_, i) => (i * 0.6180339887) % 1);
    const acq = { kind: 'logei' as const, incumbent: 1, beta: 2 };
    const ac = await time(() => gpC.acquisition(x, m, acq, true));
    const ag = await time(() => gpG.acquisition(x, m, acq, true));
    emit({ figure: 'posterior+logEI+grad', n, m, backend: 'cpu', ...ac });
    emit({ figure: 'posterior+logEI+grad', n, m, backend: 'cuda', ...ag, ratio: ac.median / ag.median });
    gpC.dispose();
    gpG.dispose();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/cuda failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
