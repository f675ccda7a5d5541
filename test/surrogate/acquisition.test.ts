import { describe, expect, it } from 'vitest';
import { erfc } from '../../src/util/math.js';
import {
  logExpectedImprovement,
  logH,
  logProbabilityOfImprovement,
  upperConfidenceBound,
} from '../../src/surrogate/acquisition.js';

function naiveLogEi(mean: number, sd: number, best: number): number {
  const z = (mean - best) / sd;
  const pdf = Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
  const cdf = 0.5 * erfcRef(-z / Math.SQRT2);
  return Math.log(sd * (pdf + z * cdf));
}

function erfcRef(x: number): number {
  return erfc(x);
}

describe('logEI', () => {
  it('agrees with log(EI) computed naively wherever EI is representable (1e-9)', () => {
    const out = new Float64Array(3);
    for (const z of [-8, -5, -2.5, -1.0001, -0.999, -0.3, 0, 0.7, 3, 12]) {
      for (const sd of [0.01, 1, 3]) {
        logExpectedImprovement(z * sd, sd, 0, out);
        const naive = naiveLogEi(z * sd, sd, 0);
        expect(Math.abs(out[0] - naive)).toBeLessThan(1e-9 * Math.max(1, Math.abs(naive)));
      }
    }
  });

  it('is finite and accurate at z = -40 where EI underflows to 0', () => {
    const out = new Float64Array(3);
    logExpectedImprovement(-40, 1, 0, out);
    // log EI at z = -40, sd = 1 is log h(-40) = -808.29856835661996 (mpmath, 40 digits).
    expect(Number.isFinite(out[0])).toBe(true);
    expect(Math.abs(out[0] - -808.29856835661996)).toBeLessThan(1e-9);
    expect(Math.abs(logH(-1e9) - (-5e17 - 0.5 * Math.log(2 * Math.PI) - 2 * Math.log(1e9))) / 5e17).toBeLessThan(1e-15);
  });

  it('derivatives match central differences for logEI, UCB and log PI', () => {
    const out = new Float64Array(3);
    const plus = new Float64Array(3);
    const minus = new Float64Array(3);
    const fns = [
      (m: number, s: number, o: Float64Array) => logExpectedImprovement(m, s, 0.3, o),
      (m: number, s: number, o: Float64Array) => logProbabilityOfImprovement(m, s, 0.3, o),
      (m: number, s: number, o: Float64Array) => upperConfidenceBound(m, s, 4, o),
    ];
    for (const fn of fns) {
      for (const [m, s] of [[-3, 0.2], [0.1, 0.5], [1.5, 0.8], [-20, 0.5]]) {
        fn(m, s, out);
        const h = 1e-6;
        fn(m + h, s, plus);
        fn(m - h, s, minus);
        const dm = (plus[0] - minus[0]) / (2 * h);
        fn(m, s + h, plus);
        fn(m, s - h, minus);
        const ds = (plus[0] - minus[0]) / (2 * h);
        expect(Math.abs(dm - out[1])).toBeLessThan(1e-5 * Math.max(1, Math.abs(dm)));
        expect(Math.abs(ds - out[2])).toBeLessThan(1e-5 * Math.max(1, Math.abs(ds)));
      }
    }
  });
});
