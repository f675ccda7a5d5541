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

  it('slopes of log PI and of logEI deep in the lower tail match the Mills-ratio series (1e-12)', () => {
    // z = -t: with R(t) = (1 - Phi(t)) / phi(t) = 1/t - 1/t^3 + 3/t^5 - 15/t^7 + ...,
    // d log PI / d mu = 1 / (sd R) and d log EI / d mu = R / (sd (1 - t R)), 1 - t R = 1/t^2 - 3/t^4 + ...
    // (nine terms of each series: exact to rounding from t = 100 on). Taken as differences of two
    // logs of size t^2/2 the slopes were wrong by orders of magnitude (at t = 1e9, log PI's was 1
    // instead of 1e9, logEI's 6e27); eq. (9)'s middle branch of logH, kept down to 1/sqrt(eps),
    // lost logEI's as eps t^2 (1e-9 at 1e3, 2e-2 at 1e7, ~1 just above 6.7e7).
    const pi = new Float64Array(3);
    const ei = new Float64Array(3);
    const series = (w: number, first: number): number => {
      let sum = 0;
      let term = 1;
      for (let k = 0; k < 9; k++) {
        if (k >= first) sum += term;
        term *= -(2 * k + 1) * w;
      }
      return sum;
    };
    for (const t of [100, 150, 1e3, 1e5, 1e7, 5e7, 6.7e7, 1e8, 1e9, 1e12]) {
      const w = 1 / (t * t);
      const mills = series(w, 0) / t;
      const gap = series(w, 1) * -1; // 1 - t R = w - 3 w^2 + ... (the series from its second term, negated)
      logProbabilityOfImprovement(-t, 1, 0, pi);
      logExpectedImprovement(-t, 1, 0, ei);
      expect(Math.abs(pi[1] * mills - 1), `log PI at z = ${-t}`).toBeLessThan(1e-12);
      expect(Math.abs(pi[2] - t * pi[1])).toBeLessThan(1e-12 * Math.abs(pi[2]));
      expect(Math.abs((ei[1] * gap) / mills - 1), `logEI at z = ${-t}`).toBeLessThan(1e-12);
      expect(Math.abs(ei[2] - (1 + t * ei[1]))).toBeLessThan(1e-12 * Math.abs(ei[2]));
    }
    // logH is continuous across its branches (at z = -1 and at the series' start, z = -100).
    for (const z of [-1, -100]) {
      const below = logH(z * (1 + 1e-13));
      const above = logH(z * (1 - 1e-13));
      expect(Math.abs(below - above), `logH at ${z}`).toBeLessThan(1e-9 * Math.abs(above) + 1e-10);
    }
  });
});
