import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { defaultTheta } from '../../src/surrogate/hyperparameters.js';
import { trainingCovariance, crossKernel } from '../../src/surrogate/js-kernels.js';
import {
  choleskyAppend,
  choleskyInverse,
  choleskySolve,
  choleskyWithJitter,
} from '../../src/surrogate/js-linalg.js';
import { maxAbsDiff, randomData, uniformStream } from './helpers.js';

function covariance(seed: number, n: number, d: number): Float64Array {
  const data = randomData(seed, n, d, [d - 1]);
  const theta = defaultTheta(d, false);
  theta[d + 1] = Math.log(1e-4);
  return trainingCovariance(data, theta, 'matern52');
}

describe('choleskyWithJitter', () => {
  it('L * L^T reproduces K (relative 1e-12) and matches ml-matrix', () => {
    for (const [seed, n] of [[1, 5], [2, 40], [3, 97]] as const) {
      const k = covariance(seed, n, 4);
      const res = choleskyWithJitter(k, n);
      expect(res.ok).toBe(true);
      if (!res.ok) return;
      expect(res.jitter).toBe(0);
      const l = res.l;
      const rebuilt = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p <= Math.min(i, j); p++) s += l[i * n + p] * l[j * n + p];
          rebuilt[i * n + j] = s;
        }
      }
      let scale = 0;
      for (const v of k) scale = Math.max(scale, Math.abs(v));
      expect(maxAbsDiff(rebuilt, k) / scale).toBeLessThan(1e-12);
      const reference = new CholeskyDecomposition(new Matrix(Array.from({ length: n }, (_, i) => Array.from(k.subarray(i * n, i * n + n)))));
      const refL = reference.lowerTriangularMatrix.to1DArray();
      expect(maxAbsDiff(l, refL)).toBeLessThan(1e-9);
    }
  });

  it('solves with small residuals and the inverse is an inverse', () => {
    const n = 60;
    const k = covariance(7, n, 3);
    const res = choleskyWithJitter(k, n);
    if (!res.ok) throw new Error('factorization failed');
    const rnd = uniformStream(11);
    const b = Float64Array.from({ length: n }, () => rnd() - 0.5);
    const x = choleskySolve(res.l, n, b);
    const residual = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += k[i * n + j] * x[j];
      residual[i] = s - b[i];
    }
    expect(maxAbsDiff(residual, new Float64Array(n))).toBeLessThan(1e-8);
    const inv = choleskyInverse(res.l, n);
    let err = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < n; p++) s += k[i * n + p] * inv[p * n + j];
        err = Math.max(err, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    expect(err).toBeLessThan(1e-6);
  });

  it('escalates jitter on a singular matrix and reports NaN apart from indefiniteness', () => {
    const n = 4;
    const ones = new Float64Array(n * n).fill(1); // rank one: PSD but singular
    const res = choleskyWithJitter(ones, n);
    expect(res.ok).toBe(true);
    if (res.ok) expect(res.jitter).toBeGreaterThan(0);
    const indefinite = Float64Array.from([1, 2, 2, 1]);
    const bad = choleskyWithJitter(indefinite, 2, 1e-10, 3);
    expect(bad).toEqual({ ok: false, reason: 'not-positive-definite', index: 1 });
    const nan = Float64Array.from([1, 0, 0, Number.NaN]);
    const withNan = choleskyWithJitter(nan, 2);
    expect(withNan.ok).toBe(false);
    if (!withNan.ok) expect(withNan.reason).toBe('nan');
  });

  it('keeps the jitter finite when the diagonal sum overflows (finite entries near 1e308)', () => {
    // Rank one, 1e308 everywhere (native/tests test_cholesky's twin): the diagonal's sum, its mean
    // and so the jitter were Infinity, and the retry's infinite pivot was reported as 'nan', an
    // input NaN this matrix does not have.
    const n = 4;
    const big = new Float64Array(n * n).fill(1e308);
    const res = choleskyWithJitter(big, n);
    expect(res.ok, JSON.stringify(res)).toBe(true);
    if (res.ok) {
      expect(Number.isFinite(res.jitter) && res.jitter > 0).toBe(true);
      expect(res.l.every(Number.isFinite)).toBe(true);
    }
  });
});

describe('choleskyAppend', () => {
  it('extending the factor by k rows equals a fresh factorization (1e-10)', () => {
    const d = 3;
    const data = randomData(5, 50, d);
    const theta = defaultTheta(d, false);
    theta[d + 1] = Math.log(1e-3);
    const full = trainingCovariance(data, theta, 'rbf');
    const fresh = choleskyWithJitter(full, 50);
    if (!fresh.ok) throw new Error('factorization failed');
    for (const [n0, k] of [[49, 1], [42, 8], [1, 49]] as const) {
      const lead = new Float64Array(n0 * n0);
      for (let i = 0; i < n0; i++) lead.set(full.subarray(i * 50, i * 50 + n0), i * n0);
      const l0 = choleskyWithJitter(lead, n0);
      if (!l0.ok) throw new Error('factorization failed');
      const xOld = data.x.subarray(0, n0 * d);
      const xNew = data.x.subarray(n0 * d, (n0 + k) * d);
      const cross = crossKernel(xNew, k, xOld, n0, d, theta, 'rbf', data.isCategorical);
      const corner = new Float64Array(k * k);
      for (let r = 0; r < k; r++) corner.set(full.subarray((n0 + r) * 50 + n0, (n0 + r) * 50 + n0 + k), r * k);
      const extended = choleskyAppend(l0.l, n0, cross, corner, k);
      expect(extended).not.toBeNull();
      expect(maxAbsDiff(extended as Float64Array, fresh.l)).toBeLessThan(1e-10);
    }
  });
});
