import { describe, expect, it } from 'vitest';
import type { KernelKind } from '../../src/surrogate/backend.js';
import { defaultTheta } from '../../src/surrogate/hyperparameters.js';
import {
  kernelShape,
  kernelShapeDerivative,
  negLogPosteriorJs,
  trainingCovariance,
} from '../../src/surrogate/js-kernels.js';
import { randomData, uniformStream } from './helpers.js';

describe('kernel shapes', () => {
  it('are 1 at r = 0, decreasing, and df/d(r^2) matches central differences (1e-7)', () => {
    for (const kind of ['matern52', 'rbf'] as KernelKind[]) {
      expect(kernelShape(kind, 0)).toBe(1);
      let prev = 1;
      for (const r2 of [0.01, 0.3, 1, 4, 25]) {
        const f = kernelShape(kind, r2);
        expect(f).toBeLessThan(prev);
        prev = f;
        const h = 1e-6 * Math.max(r2, 1e-3);
        const fd = (kernelShape(kind, r2 + h) - kernelShape(kind, r2 - h)) / (2 * h);
        expect(Math.abs(fd - kernelShapeDerivative(kind, r2))).toBeLessThan(1e-7);
      }
    }
  });

  it('are 0 far away, also at r^2 = Infinity (Matern: not Infinity * 0 = NaN, as the native kernels), and NaN stays NaN', () => {
    for (const kind of ['matern52', 'rbf'] as KernelKind[]) {
      for (const r2 of [1.5e6, 1e300, Number.MAX_VALUE, Number.POSITIVE_INFINITY]) {
        expect(kernelShape(kind, r2), `${kind} at ${r2}`).toBe(0);
        expect(kernelShapeDerivative(kind, r2) === 0, `${kind}' at ${r2}`).toBe(true);
      }
      // The formula is already exactly 0 just below the cut-off, so nothing jumps there.
      expect(kernelShape(kind, 0.999e6)).toBe(0);
      expect(kernelShape(kind, Number.NaN)).toBeNaN();
      expect(kernelShapeDerivative(kind, Number.NaN)).toBeNaN();
    }
  });

  it('the training covariance is symmetric with s2 + sn2 on the diagonal', () => {
    const data = randomData(3, 12, 3, [2]);
    const theta = defaultTheta(3, false);
    theta[3] = Math.log(2);
    const a = trainingCovariance(data, theta, 'matern52');
    for (let i = 0; i < 12; i++) {
      expect(a[i * 12 + i]).toBeCloseTo(2 + Math.exp(theta[4]), 14);
      for (let j = 0; j < 12; j++) expect(a[i * 12 + j]).toBe(a[j * 12 + i]);
    }
  });
});

describe('negLogPosteriorJs', () => {
  it('analytic gradient matches central finite differences (relative 1e-5)', () => {
    for (const kind of ['matern52', 'rbf'] as KernelKind[]) {
      for (const deterministic of [false, true]) {
        const d = 4;
        const data = randomData(kind === 'rbf' ? 21 : 22, 30, d, [3]);
        const rnd = uniformStream(9);
        const theta = defaultTheta(d, deterministic);
        for (let j = 0; j < d; j++) theta[j] += rnd() - 0.5;
        theta[d] += 0.3;
        if (!deterministic) theta[d + 1] = Math.log(0.01);
        const res = negLogPosteriorJs(data, theta, kind, deterministic);
        expect(res).not.toBeNull();
        if (res === null) return;
        for (let p = 0; p < d + 2; p++) {
          const h = 1e-5;
          const plus = Float64Array.from(theta);
          const minus = Float64Array.from(theta);
          plus[p] += h;
          minus[p] -= h;
          const fp = negLogPosteriorJs(data, plus, kind, deterministic);
          const fm = negLogPosteriorJs(data, minus, kind, deterministic);
          if (fp === null || fm === null) throw new Error('nll failed');
          // With the noise pinned (deterministic), the objective's noise coordinate is constant by construction.
          const fd = deterministic && p === d + 1 ? 0 : (fp.value - fm.value) / (2 * h);
          expect(Math.abs(fd - res.grad[p])).toBeLessThan(1e-5 * Math.max(1, Math.abs(fd)));
        }
      }
    }
  });

  it('equals the dense formula 1/2 y^T A^-1 y + 1/2 log|A| + n/2 log 2pi + prior terms', () => {
    const data = randomData(2, 3, 1);
    const theta = Float64Array.from([Math.log(0.4), Math.log(1.5), Math.log(0.1)]);
    const res = negLogPosteriorJs(data, theta, 'rbf', false);
    const a = trainingCovariance(data, theta, 'rbf');
    // 3x3 determinant and solve by Cramer's rule.
    const det3 = (m: number[]) =>
      m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
    const m = Array.from(a);
    const det = det3(m);
    const y = Array.from(data.y);
    const sol = [0, 1, 2].map((c) => {
      const mc = m.slice();
      for (let r = 0; r < 3; r++) mc[r * 3 + c] = y[r];
      return det3(mc) / det;
    });
    const quad = y[0] * sol[0] + y[1] * sol[1] + y[2] * sol[2];
    const nll = 0.5 * quad + 0.5 * Math.log(det) + 1.5 * Math.log(2 * Math.PI);
    const l = Math.exp(theta[0]); // lengthscale prior 0.1 (l^2 + l^-2)
    const prior = 0.1 * (l * l + 1 / (l * l)) + (-theta[1] + Math.exp(theta[1])) + (-0.1 * theta[2] + 30 * Math.exp(theta[2]));
    expect(res?.value).toBeCloseTo(nll + prior, 10);
  });
});
