import { describe, expect, it, vi } from 'vitest';
import type { FitOptions } from '../../src/surrogate/backend.js';
import { defaultTheta } from '../../src/surrogate/hyperparameters.js';
import { fitJs } from '../../src/surrogate/js-backend.js';
import { negLogPosteriorJs } from '../../src/surrogate/js-kernels.js';
import { randomData } from './helpers.js';

// Records the thetas at which the fit evaluates the negative log posterior, without changing
// what it returns.
const calls = vi.hoisted(() => ({ thetas: [] as Float64Array[] }));
vi.mock('../../src/surrogate/js-kernels.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/surrogate/js-kernels.js')>();
  return {
    ...original,
    negLogPosteriorJs: (...args: Parameters<typeof original.negLogPosteriorJs>) => {
      calls.thetas.push(Float64Array.from(args[1]));
      return original.negLogPosteriorJs(...args);
    },
  };
});

const FIT: FitOptions = { kernel: 'matern52', deterministic: false, nRestarts: 2, seed: 3, warmStart: null, numThreads: 1 };

describe('JS fit with a negative log posterior whose gradient is not finite', () => {
  it('stops a start at its non-finite gradient (1 evaluation), never evaluates a non-finite theta, and keeps that finite start', () => {
    // Observations of magnitude 1e153: at the default theta the value is finite (about 4e307) but
    // its gradient overflows to inf / NaN (as in native test_lbfgsb_non_finite_gradient); at the
    // two seeded restarts the value itself overflows.
    const base = randomData(3, 30, 2);
    const data = { ...base, y: base.y.map((v) => 1e153 * v) };
    const start = defaultTheta(2, false);
    const atStart = negLogPosteriorJs(data, start, 'matern52', false);
    expect(atStart !== null && Number.isFinite(atStart.value)).toBe(true);
    expect(atStart !== null && atStart.grad.every(Number.isFinite)).toBe(false);
    calls.thetas.length = 0;
    const model = fitJs(data, FIT);
    const thetas = calls.thetas.splice(0);
    // One evaluation per start (the default and 2 restarts): before, the default start spent the
    // line search's 30 steps at NaN thetas.
    expect(thetas.length).toBe(3);
    expect(thetas.every((t) => t.every(Number.isFinite))).toBe(true);
    // The only start with a finite value is the default theta, where its minimization stopped.
    expect(Array.from(model.theta)).toEqual(Array.from(start));
  });
});
