/**
 * The CUDA kernels' per-element math is the CPU's math. native/cuda/cuda_gp_math.h holds the
 * KESTREL_HD bodies the kernels of native/cuda/cuda_gp.cu call (covariance entries, the
 * acquisition of a candidate from its moments, the gradient term); they compose the shared
 * functions of native/include/kestrel. Here they are compiled as HOST code
 * (native/cuda/shared_math_check.cc, plain C++, no nvcc, no GPU) and their posterior,
 * acquisition and gradient are compared with the CPU core's at the same theta and jitter.
 * A source check also keeps the kernels from re-implementing that math.
 * Skipped with a message when no C++ compiler is on PATH or the addon is not built.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAddon, packageRoot } from '../../src/binding/load.js';
import type { AcquisitionKind, GpTrainingData, KernelKind } from '../../src/surrogate/backend.js';
import { createNativeBackend, type NativeFittedGp } from '../../src/surrogate/native-backend.js';
import { uniformStream as rng } from '../surrogate/helpers.js';

const root = packageRoot();
const cxx = process.env.CXX ?? 'c++';
const hasCxx = spawnSync(cxx, ['--version']).status === 0;
const hasAddon = loadAddon().addon !== null;

/** n points in d dims, the last dim categorical with 3 choices; y standardized. */
function dataset(n: number, d: number, seed: number): GpTrainingData {
  const r = rng(seed);
  const x = new Float64Array(n * d);
  const y = new Float64Array(n);
  const isCategorical = new Uint8Array(d);
  isCategorical[d - 1] = 1;
  for (let i = 0; i < n; i++) {
    let f = 0;
    for (let j = 0; j < d; j++) {
      const v = isCategorical[j] === 1 ? Math.floor(r() * 3) : r();
      x[i * d + j] = v;
      f += Math.sin(4 * v + j) + (isCategorical[j] === 1 ? 0.3 * v : 0);
    }
    y[i] = f;
  }
  const mean = y.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(y.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  for (let i = 0; i < n; i++) y[i] = (y[i] - mean) / sd;
  return { x, y, n, d, isCategorical };
}

function candidates(m: number, d: number, seed: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(m * d);
  for (let c = 0; c < m; c++) {
    for (let j = 0; j < d; j++) out[c * d + j] = j === d - 1 ? Math.floor(r() * 3) : r();
  }
  return out;
}

interface HostResult {
  mean: number[];
  variance: number[];
  value: number[];
  grad: number[];
}

const KERNELS: Record<KernelKind, number> = { matern52: 0, rbf: 1 };
const KINDS: Record<AcquisitionKind, number> = { logei: 0, ucb: 1, pi: 2 };

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

describe('CUDA kernel math compiled as host code', () => {
  it('cuda_gp.cu calls the shared functions instead of re-implementing them', () => {
    const source = readFileSync(path.join(root, 'native', 'cuda', 'cuda_gp.cu'), 'utf8');
    for (const fn of ['training_entry', 'covariance_entry', 'score_candidate', 'grad_term']) {
      expect(source, `cuda_gp.cu should call cuda_math::${fn}`).toContain(`cuda_math::${fn}(`);
    }
    // No kernel formula of its own: these only appear in native/include/kestrel.
    for (const token of ['kSqrt5', 'erfc', 'log_ndtr', 'matern52_shape', 'rbf_shape']) {
      expect(source, `cuda_gp.cu must not use ${token} directly`).not.toContain(token);
    }
    const math = readFileSync(path.join(root, 'native', 'cuda', 'cuda_gp_math.h'), 'utf8');
    for (const fn of ['dim_distance2(', 'kernel_shape_both(', 'acquisition_from_moments(']) expect(math).toContain(fn);
  });

  if (!hasCxx || !hasAddon) {
    it.skip(`${hasCxx ? 'native addon not built' : `no C++ compiler (${cxx})`}: skipping the host build of the CUDA math`, () => {});
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kestrel-cuda-math-'));
  const binary = path.join(dir, 'shared_math_check');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles as plain C++ (KESTREL_HD empty) without warnings', () => {
    const res = spawnSync(
      cxx,
      [
        '-std=c++17',
        '-O2',
        '-Wall',
        '-Wextra',
        '-Werror',
        `-I${path.join(root, 'native', 'include')}`,
        `-I${path.join(root, 'native', 'cuda')}`,
        path.join(root, 'native', 'cuda', 'shared_math_check.cc'),
        '-o',
        binary,
      ],
      { encoding: 'utf8' },
    );
    expect(res.status, `${res.stdout}${res.stderr}`).toBe(0);
  });

  const backend = createNativeBackend({ device: 'cpu', numThreads: 2 });
  const cases: { kernel: KernelKind; kind: AcquisitionKind; n: number; seed: number }[] = [
    { kernel: 'matern52', kind: 'logei', n: 45, seed: 11 },
    { kernel: 'rbf', kind: 'ucb', n: 30, seed: 12 },
    { kernel: 'matern52', kind: 'pi', n: 60, seed: 13 },
    { kernel: 'rbf', kind: 'logei', n: 25, seed: 14 },
  ];
  for (const tc of cases) {
    it(`${tc.kernel} / ${tc.kind}: posterior, acquisition and gradient equal the CPU core's`, async () => {
      const d = 3;
      const m = 40;
      const data = dataset(tc.n, d, tc.seed);
      const gp = (await backend.fit(data, {
        kernel: tc.kernel,
        deterministic: false,
        nRestarts: 0,
        seed: tc.seed,
        warmStart: null,
        numThreads: 2,
      })) as NativeFittedGp;
      const x = candidates(m, d, tc.seed + 100);
      // Incumbent above the best y so logEI / PI reach their small-z branches for some points.
      const acq = { kind: tc.kind, incumbent: Math.max(...data.y) + 0.5, beta: 2.5 };
      const cpuPred = await gp.predict(x, m);
      const cpuAcq = await gp.acquisition(x, m, acq, true);
      const input = [
        tc.n, d, m, KERNELS[tc.kernel], KINDS[tc.kind], acq.incumbent, acq.beta, gp.jitter,
        ...gp.theta, ...data.isCategorical, ...data.x, ...data.y, ...x,
      ]
        .map((v) => (Number.isInteger(v) ? String(v) : v.toPrecision(17)))
        .join(' ');
      const res = spawnSync(binary, [], { input, encoding: 'utf8' });
      expect(res.status, res.stderr).toBe(0);
      const host = JSON.parse(res.stdout) as HostResult;
      gp.dispose();
      const s2 = Math.exp(gp.theta[d]);
      // Same formulas, different summation order (CPU: blocked / vectorized): rounding only.
      expect(maxAbsDiff(host.mean, cpuPred.mean), 'mean, abs tol 1e-9').toBeLessThan(1e-9);
      expect(maxAbsDiff(host.variance, cpuPred.variance), 'variance, abs tol 1e-9 s2').toBeLessThan(1e-9 * s2);
      expect(maxAbsDiff(host.value, cpuAcq.value), 'acquisition, tol 1e-8 (1 + |value|)').toBeLessThan(
        1e-8 * (1 + maxAbs(cpuAcq.value)),
      );
      const grad = cpuAcq.grad;
      expect(grad).not.toBeNull();
      expect(maxAbsDiff(host.grad, grad ?? []), 'gradient, tol 1e-6 (1 + max |grad|)').toBeLessThan(1e-6 * (1 + maxAbs(grad ?? [])));
      // The categorical dim's gradient is exactly zero on both sides.
      for (let c = 0; c < m; c++) expect(host.grad[c * d + d - 1]).toBe(0);
    });
  }
});
