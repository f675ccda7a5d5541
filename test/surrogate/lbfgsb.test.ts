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

// A gradient with a NaN or infinite component (the value finite) stops the minimization at once,
// as native/core/lbfgsb.cc does (test_lbfgsb_non_finite_gradient): before, the NaN / infinite
// direction sent the line search through all 30 steps evaluating f at NaN points.
describe('minimizeLbfgsb with a non-finite gradient', () => {
  const lower = Float64Array.from([-2, -2]);
  const upper = Float64Array.from([2, 2]);
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    it(`stops at the start on a ${bad} component (1 evaluation, the start returned)`, () => {
      let nonFinitePoints = 0;
      const fn = (x: Float64Array, g: Float64Array) => {
        if (!x.every(Number.isFinite)) nonFinitePoints++;
        g[0] = 1e-9;
        g[1] = bad;
        return x[0] * x[0] + x[1] * x[1];
      };
      const res = minimizeLbfgsb(fn, Float64Array.from([1e-5, 0.5]), { lower, upper });
      expect(res.stop).toBe('non_finite_gradient');
      expect(res.converged).toBe(false);
      expect(res.evaluations).toBe(1);
      expect(res.iterations).toBe(0);
      expect(Array.from(res.x)).toEqual([1e-5, 0.5]);
      expect(res.f).toBe(1e-10 + 0.25);
      expect(nonFinitePoints).toBe(0);
    });

    it(`stops at a later accepted iterate on a ${bad} component, returning that iterate`, () => {
      let nonFinitePoints = 0;
      const fn = (x: Float64Array, g: Float64Array) => {
        if (!x.every(Number.isFinite)) nonFinitePoints++;
        g[0] = 2 * (x[0] - 0.1);
        g[1] = x[0] < 0.9 ? bad : 2 * x[1];
        return (x[0] - 0.1) ** 2 + x[1] ** 2;
      };
      const res = minimizeLbfgsb(fn, Float64Array.from([1.5, 1]), { lower, upper });
      expect(res.stop).toBe('non_finite_gradient');
      expect(res.converged).toBe(false);
      expect(res.evaluations).toBe(2); // the start and the accepted first step
      expect(res.iterations).toBe(1);
      expect(res.x.every(Number.isFinite)).toBe(true);
      expect(res.x[0]).toBeLessThan(0.9);
      expect(res.f).toBe((res.x[0] - 0.1) ** 2 + res.x[1] ** 2);
      expect(res.f).toBeLessThan(1.96 + 1);
      expect(nonFinitePoints).toBe(0);
    });
  }

  it('reports the other stop reasons with native names', () => {
    const quadratic = (x: Float64Array, g: Float64Array) => {
      g[0] = 2 * x[0];
      g[1] = 2 * x[1];
      return x[0] * x[0] + x[1] * x[1];
    };
    const res = minimizeLbfgsb(quadratic, Float64Array.from([1, -0.5]), { lower, upper });
    expect(res.converged).toBe(true);
    expect(['projected_gradient', 'relative_decrease']).toContain(res.stop);
    const infinite = (_x: Float64Array, g: Float64Array) => {
      g.fill(0);
      return Number.POSITIVE_INFINITY;
    };
    const inf = minimizeLbfgsb(infinite, Float64Array.from([1, -0.5]), { lower, upper });
    expect([inf.stop, inf.converged, inf.evaluations]).toEqual(['non_finite_value', false, 1]);
    const one = minimizeLbfgsb(rosenbrock, Float64Array.from([-1.2, 1]), { lower, upper, maxIterations: 1 });
    expect([one.stop, one.converged, one.iterations]).toEqual(['max_iterations', false, 1]);
    // f decreases nowhere along -g (a wrong-sign gradient): the search gives up.
    const wrong = (x: Float64Array, g: Float64Array) => {
      g[0] = -2 * x[0];
      g[1] = -2 * x[1];
      return x[0] * x[0] + x[1] * x[1];
    };
    const ls = minimizeLbfgsb(wrong, Float64Array.from([1, -0.5]), { lower, upper });
    expect([ls.stop, ls.converged]).toEqual(['line_search', false]);
  });
});
