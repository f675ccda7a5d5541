import { describe, expect, it } from 'vitest';
import {
  LAMBDA_MAX,
  LAMBDA_MIN,
  fitOutcomeTransform,
  moments,
  yeoJohnson,
  yeoJohnsonLambda,
  yeoJohnsonLogLikelihood,
} from '../../src/surrogate/outcome-transform.js';
import { Rng } from '../../src/util/prng.js';

/** The inverse of yeoJohnson(., lambda), for generating data with a known exponent. */
function inverseYeoJohnson(t: number, lambda: number): number {
  if (t >= 0) return Math.abs(lambda) < 1e-12 ? Math.expm1(t) : (t * lambda + 1) ** (1 / lambda) - 1;
  return Math.abs(lambda - 2) < 1e-12 ? -Math.expm1(-t) : 1 - (1 - t * (2 - lambda)) ** (1 / (2 - lambda));
}

describe('Yeo-Johnson', () => {
  it('is the identity at lambda = 1, continuous at lambda = 0 and 2, and increasing', () => {
    for (const z of [-3, -0.5, 0, 0.25, 4]) expect(Math.abs(yeoJohnson(z, 1) - z)).toBeLessThan(1e-14 * (1 + Math.abs(z)));
    for (const z of [0.3, 2]) expect(Math.abs(yeoJohnson(z, 1e-9) - yeoJohnson(z, 0))).toBeLessThan(1e-8);
    for (const z of [-0.3, -2]) expect(Math.abs(yeoJohnson(z, 2 - 1e-9) - yeoJohnson(z, 2))).toBeLessThan(1e-8);
    for (const lambda of [-2, -0.5, 0, 0.7, 1, 2, 3.5]) {
      let previous = Number.NEGATIVE_INFINITY;
      for (let z = -6; z <= 6; z += 0.25) {
        const t = yeoJohnson(z, lambda);
        expect(t).toBeGreaterThan(previous);
        previous = t;
      }
    }
  });

  it('recovers the exponent of transformed normal data by maximum likelihood (within 0.25 for 400 points)', () => {
    for (const lambda of [0.3, 1, 2.5]) {
      const rng = new Rng(11);
      const raw = Array.from({ length: 400 }, () => inverseYeoJohnson(rng.normal(), lambda));
      const { mean, std } = moments(raw);
      // The likelihood is of standardized values; transform them back to a comparable scale.
      const z = raw.map((v) => (v - mean) / std);
      const fitted = yeoJohnsonLambda(raw);
      const onStandardized = yeoJohnsonLambda(z);
      expect(Math.abs(fitted - lambda), `lambda ${lambda}: fitted ${fitted}`).toBeLessThan(0.25);
      expect(onStandardized).toBeGreaterThanOrEqual(LAMBDA_MIN);
      expect(onStandardized).toBeLessThanOrEqual(LAMBDA_MAX);
      // The search lands on the maximum: no point of a grid over the bracket beats it.
      for (let l = LAMBDA_MIN; l <= LAMBDA_MAX; l += 0.05) {
        expect(yeoJohnsonLogLikelihood(raw, l)).toBeLessThanOrEqual(yeoJohnsonLogLikelihood(raw, fitted) + 1e-9);
      }
    }
  });

  it('uses lambda = 1 for fewer than three values', () => {
    expect(yeoJohnsonLambda([])).toBe(1);
    expect(yeoJohnsonLambda([0.5, -2])).toBe(1);
  });
});

describe('fitOutcomeTransform', () => {
  const rng = new Rng(3);
  // A heavy tail of bad values (the GP maximizes: bad = very negative), as Rosenbrock's.
  const values = Array.from({ length: 60 }, () => -Math.exp(3 * rng.nextFloat()) * (rng.nextFloat() < 0.2 ? 100 : 1));

  it("'standardize' is (v - mean) / std", () => {
    const { mean, std } = moments(values);
    const t = fitOutcomeTransform(values, 'standardize', 'mean');
    expect(t.lambda).toBe(1);
    for (const v of [...values, 5, -1e4]) expect(t.apply(v)).toBe((v - mean) / std);
  });

  it("'power' keeps the order, standardizes its output and spreads the good end of a heavy-tailed sample", () => {
    const power = fitOutcomeTransform(values, 'power', 'mean');
    const standard = fitOutcomeTransform(values, 'standardize', 'mean');
    // A long tail of bad values: the exponent is > 1 (the bad side is compressed).
    expect(power.lambda).toBeGreaterThan(1);
    const targets = values.map((v) => power.apply(v));
    const m = moments(targets);
    expect(Math.abs(m.mean)).toBeLessThan(1e-12);
    expect(Math.abs(m.std - 1)).toBeLessThan(1e-12);
    const order = (xs: number[]) => xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
    expect(order(targets)).toEqual(order(values));
    // The best ten values span a larger part of the target range than when only standardized.
    const best = [...values].sort((a, b) => b - a).slice(0, 10);
    const spread = (f: (v: number) => number) => f(best[0]) - f(best[9]);
    expect(spread((v) => power.apply(v))).toBeGreaterThan(2 * spread((v) => standard.apply(v)));
  });

  it('gives finite, order-keeping targets for values of extreme magnitude', () => {
    // (Values that differ by less than std * 2^-52 map to the same target: 1e-3 and 2e-3 here.)
    const extreme = [1e-3, 2e-3, 5e-1, -1e300, -3e299, -1e300];
    for (const kind of ['power', 'standardize'] as const) {
      const t = fitOutcomeTransform(extreme, kind, 'worst-observed');
      const targets = extreme.map((v) => t.apply(v));
      expect(targets.every(Number.isFinite)).toBe(true);
      expect(targets[1]).toBeGreaterThanOrEqual(targets[0]);
      expect(targets[0]).toBeGreaterThan(targets[4]);
      expect(targets[4]).toBeGreaterThan(targets[3]);
    }
    expect(moments([1e300, -1e300]).std).toBe(1e300);
  });

  it("priorMean: 'worst-observed' shifts the targets so the worst fitted value is 0; 'mean' leaves them", () => {
    for (const kind of ['power', 'standardize'] as const) {
      const centred = fitOutcomeTransform(values, kind, 'mean');
      const shifted = fitOutcomeTransform(values, kind, 'worst-observed');
      expect(centred.offset).toBe(0);
      expect(shifted.priorMean).toBe('worst-observed');
      expect(shifted.lambda).toBe(centred.lambda);
      const targets = values.map((v) => shifted.apply(v));
      // The GP's zero prior mean is the worst value seen: every fitted target is >= 0, one is 0.
      expect(Math.min(...targets)).toBe(0);
      expect(shifted.offset).toBe(Math.min(...values.map((v) => centred.apply(v))));
      expect(shifted.offset).toBeLessThan(-0.5);
      for (const v of [...values, 5, -1e4]) expect(shifted.apply(v)).toBeCloseTo(centred.apply(v) - shifted.offset, 12);
      // A value worse than every fitted one (appended before the next fit) lands below the prior mean.
      expect(shifted.apply(Math.min(...values) - 1)).toBeLessThan(0);
    }
    expect(fitOutcomeTransform([], 'power', 'worst-observed').offset).toBe(0);
  });

  it('gives finite, order-keeping targets for +-Number.MAX_VALUE sentinels of both signs (v - mean overflowed)', () => {
    // A study minimizing with +-MAX_VALUE "failure" values: the mean is -MAX/4 here, so MAX - mean
    // overflowed; moments() returned std = 1 and the targets were +-Infinity / NaN, which the GP
    // rejected ("data.y[0]: expected a finite number, received NaN") and the study failed.
    const M = Number.MAX_VALUE;
    const sentinels = [M, -M, -M, 0.5, 0.25];
    const { mean, std } = moments(sentinels);
    expect(Math.abs(mean / (-M / 5) - 1)).toBeLessThan(1e-12);
    expect(std / M).toBeGreaterThan(0.5);
    expect(std).toBeLessThanOrEqual(M);
    for (const kind of ['power', 'standardize'] as const) {
      for (const priorMean of ['mean', 'worst-observed'] as const) {
        const t = fitOutcomeTransform(sentinels, kind, priorMean);
        const targets = sentinels.map((v) => t.apply(v));
        expect(targets.every(Number.isFinite), `${kind}/${priorMean}: ${targets.join(', ')}`).toBe(true);
        expect(targets[0]).toBeGreaterThan(targets[3]);
        expect(targets[3]).toBeGreaterThanOrEqual(targets[4]);
        expect(targets[4]).toBeGreaterThan(targets[1]);
        expect(targets[1]).toBe(targets[2]);
      }
    }
    // Standardized, they have mean 0 and std 1 like any other values (to rounding).
    const z = fitOutcomeTransform(sentinels, 'standardize', 'mean');
    const m = moments(sentinels.map((v) => z.apply(v)));
    expect(Math.abs(m.mean)).toBeLessThan(1e-12);
    expect(Math.abs(m.std - 1)).toBeLessThan(1e-12);
  });

  it('gives a finite mean and finite targets when every value is the same +-Number.MAX_VALUE sentinel', () => {
    // Summing MAX / n term by term rounded past MAX for n = 3, 9, 11, ...: the mean was Infinity,
    // the std Infinity and every target NaN (a study whose first trials all failed with the sentinel).
    const M = Number.MAX_VALUE;
    for (const n of [3, 9, 11, 12]) {
      for (const v of [M, -M]) {
        const values = new Array<number>(n).fill(v);
        const { mean, std } = moments(values);
        expect(mean, `n = ${n}, v = ${v}`).toBe(v);
        expect(Number.isFinite(std), `n = ${n}, v = ${v}: std ${std}`).toBe(true);
        for (const kind of ['power', 'standardize'] as const) {
          for (const priorMean of ['mean', 'worst-observed'] as const) {
            const t = fitOutcomeTransform(values, kind, priorMean);
            const targets = values.map((x) => t.apply(x));
            expect(targets.every((x) => x === 0), `${kind}/${priorMean}, n = ${n}: ${targets.join(', ')}`).toBe(true);
          }
        }
      }
    }
  });

  it('keeps the targets of numerically equal values of huge magnitude within +-1 (not their raw differences)', () => {
    // 1e20 +- 1e5 differ by 6 ulps (relative 1e-15, below the 1e-12 of "numerically equal"): std
    // was replaced by 1, so the targets were the raw differences, +-9.8e4 (and past 1e160 they
    // overflowed the GP's likelihood).
    const near = [1e20, 1e20 + 1e5, 1e20 - 1e5];
    expect(moments(near).std).toBe(1e8);
    const t = fitOutcomeTransform(near, 'standardize', 'mean');
    for (const v of near) expect(Math.abs(t.apply(v))).toBeLessThanOrEqual(1e-3);
    for (const scale of [1e100, 1e200, 1e300]) {
      const values = [scale, scale * (1 + 4 * Number.EPSILON), scale * (1 - 4 * Number.EPSILON)];
      for (const kind of ['power', 'standardize'] as const) {
        const targets = values.map((v) => fitOutcomeTransform(values, kind, 'worst-observed').apply(v));
        expect(targets.every((x) => Number.isFinite(x) && Math.abs(x) <= 3), `${kind} at ${scale}: ${targets.join(', ')}`).toBe(true);
      }
    }
    // Ordinary magnitudes keep std = 1 for equal values.
    expect(moments([2, 2, 2, 2]).std).toBe(1);
    expect(moments([1, 1 + 1e-15, 1 - 1e-15]).std).toBe(1);
  });

  it('standardizes distinct values of tiny magnitude instead of taking them for equal ones', () => {
    // The "numerically equal" threshold was 1e-12 max(1, |mean|): absolute below |mean| = 1, so
    // losses spread over [0, 1e-12] (relative differences of 100%) got std = 1, and their targets,
    // differences of 1e-13, left the GP a flat objective (it then asked the worst point).
    // Below 1e-154 their squared deviations underflowed too (to 0 past 1e-162).
    for (const scale of [1e-13, 1e-100, 1e-200, 1e-300]) {
      const values = [1, 3, 1, 3].map((v) => v * scale);
      expect(moments(values).std / scale, `at ${scale}`).toBeCloseTo(1, 12);
      const t = fitOutcomeTransform(values, 'standardize', 'mean');
      expect(t.apply(values[1]) - t.apply(values[0]), `at ${scale}`).toBeCloseTo(2, 9);
    }
    // Equal values of tiny magnitude, and zeros, stay numerically equal.
    expect(moments([1e-13, 1e-13, 1e-13]).std).toBe(1);
    expect(moments([0, 0, 0]).std).toBe(1);
    expect(moments([3e-300, 3e-300 * (1 + 2 * Number.EPSILON)]).std).toBe(1);
  });

  it('gives finite targets for equal values and for values outside the fitted sample', () => {
    const flat = fitOutcomeTransform([2, 2, 2, 2], 'power', 'worst-observed');
    expect(flat.apply(2) === 0).toBe(true);
    const power = fitOutcomeTransform(values, 'power', 'worst-observed');
    for (const v of [1e6, -1e9, 0]) expect(Number.isFinite(power.apply(v))).toBe(true);
  });
});
