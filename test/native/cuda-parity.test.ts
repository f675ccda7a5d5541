/**
 * GPU parity: the CUDA backend (native/cuda/cuda_gp.cu through createNativeBackend({device:
 * 'cuda'})) against the CPU backend on random inputs, and the device Cholesky (cudaCholesky)
 * against the CPU one. Needs an addon built with KESTREL_CUDA=1 and a device; otherwise the
 * parity suite is skipped with "no CUDA device: skipping GPU parity tests" and only the
 * "explicit cuda request throws" contract runs. Tolerances are stated per assertion: the device
 * and the CPU run the same formulas in fp64 with different summation orders.
 */
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '../../src/errors.js';
import { loadAddon } from '../../src/binding/load.js';
import type { AcquisitionKind, FitOptions, GpTrainingData, KernelKind } from '../../src/surrogate/backend.js';
import { createNativeBackend, type NativeFittedGp } from '../../src/surrogate/native-backend.js';
import { uniformStream as rng } from '../surrogate/helpers.js';

const { addon } = loadAddon();
const cudaReady = addon !== null && addon.buildInfo().cuda && addon.cudaAvailable();

function dataset(n: number, d: number, seed: number, categorical: boolean): GpTrainingData {
  const r = rng(seed);
  const x = new Float64Array(n * d);
  const y = new Float64Array(n);
  const isCategorical = new Uint8Array(d);
  if (categorical) isCategorical[d - 1] = 1;
  for (let i = 0; i < n; i++) {
    let f = 0;
    for (let j = 0; j < d; j++) {
      const v = isCategorical[j] === 1 ? Math.floor(r() * 4) : r();
      x[i * d + j] = v;
      f += Math.cos(3 * v + j);
    }
    y[i] = f + 0.05 * (r() - 0.5);
  }
  const mean = y.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(y.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  for (let i = 0; i < n; i++) y[i] = (y[i] - mean) / sd;
  return { x, y, n, d, isCategorical };
}

function candidates(m: number, data: GpTrainingData, seed: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(m * data.d);
  for (let c = 0; c < m; c++) {
    for (let j = 0; j < data.d; j++) out[c * data.d + j] = data.isCategorical[j] === 1 ? Math.floor(r() * 4) : r();
  }
  return out;
}

/** A random SPD matrix (n, n) column-major: B B^T / n + I. */
function spd(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const b = Float64Array.from({ length: n * n }, () => r() - 0.5);
  const a = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let p = 0; p < n; p++) s += b[i + p * n] * b[j + p * n];
      a[i + j * n] = s / n + (i === j ? 1 : 0);
    }
  }
  return a;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function maxAbs(a: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]));
  return worst;
}

describe('explicit cuda request without a usable device', () => {
  if (addon === null || cudaReady) {
    it.skip(addon === null ? 'native addon not built' : 'a CUDA device is present (see the parity suite)', () => {});
    return;
  }
  it('createNativeBackend({ device: "cuda" }) throws BackendUnavailableError naming the reason', () => {
    let caught: unknown = null;
    try {
      createNativeBackend({ device: 'cuda' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BackendUnavailableError);
    expect(String((caught as Error).message)).toMatch(/cuda/i);
  });
});

describe('CUDA backend parity with the CPU backend', () => {
  if (!cudaReady || addon === null) {
    it.skip('no CUDA device: skipping GPU parity tests', () => {});
    return;
  }
  const gpuAddon = addon;

  // Sizes straddle the 64-wide device blocks (one partial block, several full ones + remainder).
  for (const n of [1, 37, 64, 200, 333]) {
    it(`cudaCholesky equals the CPU factor (n = ${n}; max abs diff <= 1e-10 max|L|)`, async () => {
      const a = spd(n, 100 + n);
      const cpu = await addon.cholesky(a, n, 2);
      const gpu = await gpuAddon.cudaCholesky(a, n);
      expect(cpu.factor).not.toBeNull();
      expect(gpu.factor).not.toBeNull();
      const lg = gpu.factor ?? new Float64Array(0);
      expect(maxAbsDiff(lg, cpu.factor ?? [])).toBeLessThanOrEqual(1e-10 * maxAbs(lg));
      for (let j = 1; j < n; j++) for (let i = 0; i < j; i++) expect(lg[i + j * n]).toBe(0);
    });
  }

  it('cudaCholesky reports the same failing pivot, and NaN apart from "not PD"', async () => {
    const n = 150;
    const a = spd(n, 7);
    a[97 + 97 * n] = -1; // not positive definite at 97 (or earlier, exactly as the CPU)
    const cpu = await addon.cholesky(a, n, 2);
    const gpu = await gpuAddon.cudaCholesky(a, n);
    expect(gpu.factor).toBeNull();
    expect(gpu.hadNan).toBe(false);
    expect(gpu.index).toBe(cpu.index);
    const b = spd(n, 8);
    b[120 + 33 * n] = Number.NaN;
    const nan = await gpuAddon.cudaCholesky(b, n);
    expect(nan.factor).toBeNull();
    expect(nan.hadNan).toBe(true);
    expect(nan.index).toBe(33);
  });

  const cases: { n: number; d: number; kernel: KernelKind; categorical: boolean }[] = [
    { n: 50, d: 2, kernel: 'matern52', categorical: false },
    { n: 300, d: 4, kernel: 'rbf', categorical: true },
    { n: 700, d: 3, kernel: 'matern52', categorical: true },
  ];
  for (const tc of cases) {
    it(`fit + predict + acquisition match the CPU (n = ${tc.n}, d = ${tc.d}, ${tc.kernel}${tc.categorical ? ', categorical' : ''})`, async () => {
      const data = dataset(tc.n, tc.d, tc.n, tc.categorical);
      const options: FitOptions = { kernel: tc.kernel, deterministic: false, nRestarts: 1, seed: 3, warmStart: null, numThreads: 2 };
      const cpuGp = (await createNativeBackend({ device: 'cpu', numThreads: 2 }).fit(data, options)) as NativeFittedGp;
      const gpuGp = (await createNativeBackend({ device: 'cuda', numThreads: 2 }).fit(data, options)) as NativeFittedGp;
      expect(gpuGp.backend).toBe('cuda');
      expect(Array.from(gpuGp.theta)).toEqual(Array.from(cpuGp.theta)); // the fit itself runs on the CPU
      const lg = gpuGp.factor();
      expect(maxAbsDiff(lg, cpuGp.factor()), 'factor, abs tol 1e-9 max|L|').toBeLessThanOrEqual(1e-9 * maxAbs(lg));
      const m = 1500;
      const x = candidates(m, data, tc.n + 1);
      const pc = await cpuGp.predict(x, m);
      const pg = await gpuGp.predict(x, m);
      const s2 = Math.exp(cpuGp.theta[tc.d]);
      expect(maxAbsDiff(pg.mean, pc.mean), 'mean, abs tol 1e-8').toBeLessThan(1e-8);
      expect(maxAbsDiff(pg.variance, pc.variance), 'variance, abs tol 1e-8 s2').toBeLessThan(1e-8 * s2);
      const kinds: AcquisitionKind[] = ['logei', 'ucb', 'pi'];
      for (const kind of kinds) {
        const acq = { kind, incumbent: Math.max(...data.y), beta: 2 };
        const ac = await cpuGp.acquisition(x, m, acq, true);
        const ag = await gpuGp.acquisition(x, m, acq, true);
        expect(maxAbsDiff(ag.value, ac.value), `${kind} value, tol 1e-7 (1 + max|value|)`).toBeLessThan(
          1e-7 * (1 + maxAbs(ac.value)),
        );
        expect(maxAbsDiff(ag.grad ?? [], ac.grad ?? []), `${kind} grad, tol 1e-6 (1 + max|grad|)`).toBeLessThan(
          1e-6 * (1 + maxAbs(ac.grad ?? [])),
        );
        const noGrad = await gpuGp.acquisition(x, m, acq, false);
        expect(noGrad.grad).toBeNull();
        expect(maxAbsDiff(noGrad.value, ag.value), `${kind} value without gradient, same kernels`).toBe(0);
      }
      const k = 3;
      const more = dataset(k, tc.d, tc.n + 2, tc.categorical);
      const cpuNext = await cpuGp.append(more.x, more.y, k);
      const gpuNext = await gpuGp.append(more.x, more.y, k);
      expect(gpuNext.backend).toBe('cuda');
      const qc = await cpuNext.predict(x, 200);
      const qg = await gpuNext.predict(x, 200);
      expect(maxAbsDiff(qg.mean, qc.mean), 'mean after append, abs tol 1e-8').toBeLessThan(1e-8);
      for (const g of [cpuGp, gpuGp, cpuNext, gpuNext]) g.dispose();
    });
  }
});
