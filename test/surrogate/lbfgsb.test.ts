import { describe, expect, it } from 'vitest';
import { minimizeLbfgsb } from '../../src/surrogate/lbfgsb.js';

function rosenbrock(x: Float64Array, g: Float64Array): number {
  let f = 0;
  g.fill(0);
  for (let i = 0; i + 1 < x.length; i++) {
    const a = x[i + 1] - x[i] * x[i];
    const b = 1 - x[i];
    f += 100 * a * a + b * b;
    g[i] += -400 * x[i] * a - 2 * b;
    g[i + 1] += 200 * a;
  }
  return f;
}

describe('minimizeLbfgsb', () => {
  it('minimizes an unconstrained 5-D Rosenbrock to 1e-5', () => {
    const n = 5;
    const res = minimizeLbfgsb(rosenbrock, new Float64Array(n).fill(-1.2), {
      lower: new Float64Array(n).fill(-10),
      upper: new Float64Array(n).fill(10),
      maxIterations: 500,
      pgtol: 1e-8,
      ftol: 0,
    });
    for (const v of res.x) expect(Math.abs(v - 1)).toBeLessThan(1e-5);
  });

  it('stops on active bounds with the KKT conditions (x* = clamp of the unconstrained optimum)', () => {
    // f = sum (x_i - c_i)^2 with c outside the box on some coordinates.
    const c = [2, -3, 0.25, 0.5];
    const fn = (x: Float64Array, g: Float64Array) => {
      let f = 0;
      for (let i = 0; i < 4; i++) {
        f += (x[i] - c[i]) ** 2;
        g[i] = 2 * (x[i] - c[i]);
      }
      return f;
    };
    const res = minimizeLbfgsb(fn, Float64Array.from([0.5, 0.5, 0.5, 0.1]), {
      lower: Float64Array.from([0, 0, 0, 0.1]),
      upper: Float64Array.from([1, 1, 1, 0.1]),
    });
    expect(Array.from(res.x).map((v) => Number(v.toFixed(8)))).toEqual([1, 0, 0.25, 0.1]);
    expect(res.converged).toBe(true);
  });

  it('backtracks out of regions where f is not finite', () => {
    // f = -log(x) + x on x > 0: minimum at 1; undefined (NaN/inf) at x <= 0.
    const fn = (x: Float64Array, g: Float64Array) => {
      if (x[0] <= 0) return Number.POSITIVE_INFINITY;
      g[0] = -1 / x[0] + 1;
      return -Math.log(x[0]) + x[0];
    };
    const res = minimizeLbfgsb(fn, Float64Array.from([5]), {
      lower: Float64Array.from([-100]),
      upper: Float64Array.from([100]),
      pgtol: 1e-9,
    });
    expect(Math.abs(res.x[0] - 1)).toBeLessThan(1e-6);
  });
});
