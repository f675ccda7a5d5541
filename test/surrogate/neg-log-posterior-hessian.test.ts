/**
 * SurrogateBackend.negLogPosteriorHessian on the JS backend and (when the addon is built) the
 * native one: symmetric, equal to a second difference of negLogPosterior's value, zero noise row
 * when deterministic, the two backends agreeing, and bad input rejected with typed errors.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, NumericalError } from '../../src/errors.js';
import { loadAddon } from '../../src/binding/load.js';
import type { GpTrainingData, KernelKind, SurrogateBackend } from '../../src/surrogate/backend.js';
import { createJsBackend } from '../../src/surrogate/js-backend.js';
import { createNativeBackend } from '../../src/surrogate/native-backend.js';
import { randomData, uniformStream } from './helpers.js';

const native = loadAddon().addon !== null ? createNativeBackend({ device: 'cpu', numThreads: 2 }) : null;
const backends: [string, SurrogateBackend][] = [['js', createJsBackend()], ...(native === null ? [] : [['cpu', native] as [string, SurrogateBackend]])];

function thetaOf(deterministic: boolean): Float64Array {
  return Float64Array.from([Math.log(0.4), Math.log(0.8), Math.log(1.3), Math.log(1.1), Math.log(deterministic ? 1e-6 : 0.03)]);
}

async function hessianOf(backend: SurrogateBackend, data: GpTrainingData, theta: Float64Array, kernel: KernelKind, deterministic: boolean): Promise<Float64Array> {
  if (backend.negLogPosteriorHessian === undefined) throw new Error(`${backend.name} has no negLogPosteriorHessian`);
  return backend.negLogPosteriorHessian(data, theta, kernel, deterministic);
}

describe.each(backends)('negLogPosteriorHessian (%s backend)', (_, backend) => {
  for (const [kernel, deterministic] of [['matern52', false], ['rbf', false], ['matern52', true]] as const) {
    it(`is symmetric and matches a second difference of the value within 1e-3 relative (${kernel}, deterministic ${deterministic})`, async () => {
      const data = randomData(21, 30, 3, [2]);
      const theta = thetaOf(deterministic);
      const q = theta.length;
      const h = await hessianOf(backend, data, theta, kernel, deterministic);
      expect(h.length).toBe(q * q);
      const value = async (a: number, da: number, b: number, db: number): Promise<number> => {
        const t = Float64Array.from(theta);
        t[a] += da;
        t[b] += db;
        return (await backend.negLogPosterior(data, t, kernel, deterministic)).value;
      };
      const step = 1e-3;
      for (let a = 0; a < q; a++) {
        for (let b = 0; b < q; b++) {
          expect(h[a * q + b]).toBe(h[b * q + a]);
          if (deterministic && (a === q - 1 || b === q - 1)) {
            expect(h[a * q + b]).toBe(0);
            continue;
          }
          // Second central difference of the value: truncation O(step^2), rounding ~1e-13 / step^2.
          const fd = ((await value(a, step, b, step)) - (await value(a, step, b, -step)) - (await value(a, -step, b, step)) + (await value(a, -step, b, -step))) / (4 * step * step);
          expect(Math.abs(h[a * q + b] - fd), `H[${a}][${b}] ${h[a * q + b]} vs ${fd}`).toBeLessThan(1e-3 * (1 + Math.abs(fd)));
        }
      }
    });
  }

  it('is positive definite at a MAP point in the lengthscale and output-scale block', async () => {
    const data = randomData(5, 40, 2);
    const fitted = await backend.fit(data, { kernel: 'matern52', deterministic: false, nRestarts: 2, seed: 1, warmStart: null, numThreads: 1 });
    const theta = Float64Array.from(fitted.theta);
    fitted.dispose();
    const h = await hessianOf(backend, data, theta, 'matern52', false);
    // Sylvester's criterion on the 3 x 3 block (lengthscales, output scale).
    const m = (i: number, j: number): number => h[i * 4 + j];
    const det2 = m(0, 0) * m(1, 1) - m(0, 1) * m(1, 0);
    const det3 = m(0, 0) * (m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1)) - m(0, 1) * (m(1, 0) * m(2, 2) - m(1, 2) * m(2, 0)) + m(0, 2) * (m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0));
    expect(m(0, 0)).toBeGreaterThan(0);
    expect(det2).toBeGreaterThan(0);
    expect(det3).toBeGreaterThan(0);
  });

  it('rejects bad input with InvalidOptionError naming it', async () => {
    const data = randomData(3, 10, 3);
    const theta = thetaOf(false);
    await expect(hessianOf(backend, data, new Float64Array(4), 'matern52', false)).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'theta' });
    await expect(hessianOf(backend, data, Float64Array.from([0, 0, Number.NaN, 0, -3]), 'matern52', false)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(hessianOf(backend, { ...data, x: new Float64Array(7) }, theta, 'matern52', false)).rejects.toMatchObject({ option: 'data.x' });
    await expect(hessianOf(backend, data, theta, 'cubic' as KernelKind, false)).rejects.toBeInstanceOf(InvalidOptionError);
  });

  it('rejects with NumericalError when the covariance cannot be factored next to theta', async () => {
    // An output scale of exp(709.78271), just below the largest double: finite at theta, infinite one step up, so the
    // covariance of that evaluation has non-finite entries.
    const data = randomData(3, 10, 3);
    const theta = Float64Array.from([Math.log(0.4), Math.log(0.8), Math.log(1.3), 709.78271, Math.log(0.03)]);
    await expect(hessianOf(backend, data, theta, 'matern52', false)).rejects.toBeInstanceOf(NumericalError);
  });

  it('rejects with NumericalError when the gradient next to theta is not finite, though the value is', async () => {
    // Targets of magnitude 1e152 (native_tests.cc test_lbfgsb_non_finite_gradient): the value is
    // finite (~8e306) but its gradient overflows to inf and NaN, so central differences of it are
    // no Hessian; it used to resolve to a matrix of NaN.
    const base = randomData(3, 30, 2);
    const rnd = uniformStream(3);
    const data = { ...base, y: base.y.map(() => 1e152 * (rnd() - 0.5)) };
    const theta = Float64Array.from([0, 0, 0, Math.log(1e-3)]);
    const at = await backend.negLogPosterior(data, theta, 'matern52', false);
    expect(Number.isFinite(at.value)).toBe(true);
    expect(Array.from(at.grad).every(Number.isFinite)).toBe(false);
    await expect(hessianOf(backend, data, theta, 'matern52', false)).rejects.toThrow(/gradient/);
    await expect(hessianOf(backend, data, theta, 'matern52', false)).rejects.toBeInstanceOf(NumericalError);
  });
});

describe.runIf(native !== null)('negLogPosteriorHessian, native against JS', () => {
  it('the two backends agree within 1e-6 relative (Matern-5/2 and RBF, a categorical dim)', async () => {
    const js = createJsBackend();
    for (const [kernel, deterministic] of [['matern52', false], ['rbf', true]] as const) {
      const data = randomData(8, 50, 3, [1]);
      const theta = thetaOf(deterministic);
      const a = await hessianOf(native as SurrogateBackend, data, theta, kernel, deterministic);
      const b = await hessianOf(js, data, theta, kernel, deterministic);
      let scale = 0;
      for (const v of b) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i]), `entry ${i}: ${a[i]} vs ${b[i]}`).toBeLessThan(1e-6 * scale);
    }
  });

  it('gives the same matrix for any thread count', async () => {
    const data = randomData(9, 60, 4);
    const theta = Float64Array.from([-1, -0.5, 0, 0.3, 0.2, Math.log(0.01)]);
    const one = await hessianOf(createNativeBackend({ device: 'cpu', numThreads: 1 }), data, theta, 'matern52', false);
    const two = await hessianOf(native as SurrogateBackend, data, theta, 'matern52', false);
    expect(Array.from(two)).toEqual(Array.from(one));
  });
});
