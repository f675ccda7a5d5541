import { describe, expect, it } from 'vitest';
import { ParzenEstimator, type ParzenEstimatorOptions } from '../../../src/samplers/tpe/parzen-estimator.js';
import { encodeLogInt } from '../../../src/util/log-int.js';
import { normalCdf, normalLogPdf } from '../../../src/util/math.js';
import { Rng } from '../../../src/util/prng.js';

function estimator(observations: number[], grid: number[], overrides: Partial<ParzenEstimatorOptions> = {}): ParzenEstimator {
  const d = grid.length;
  const n = observations.length / d;
  return new ParzenEstimator({
    observations: Float64Array.from(observations),
    n,
    d,
    grid: Float64Array.from(grid),
    weights: new Float64Array(n).fill(1),
    priorWeight: 1,
    considerMagicClip: true,
    considerEndpoints: false,
    multivariate: false,
    ...overrides,
  });
}

/** Density at x of N(mu, s^2) truncated to [0, 1]. */
function truncPdf(x: number, mu: number, s: number): number {
  return Math.exp(normalLogPdf((x - mu) / s)) / s / (normalCdf((1 - mu) / s) - normalCdf(-mu / s));
}

function logPdfAt(pe: ParzenEstimator, x: number[]): number {
  return pe.logPdf(Float64Array.from(x), 1)[0];
}

describe('ParzenEstimator', () => {
  it("uses Optuna's univariate bandwidths (hand-computed mixture, relative error < 1e-12)", () => {
    // mus 0.1, 0.4 and the prior 0.5, padded with 0 and 1: [0, 0.1, 0.4, 0.5, 1]. Neighbour gaps
    // give 0.3 and 0.3; the first kernel uses its inner gap 0.3 (considerEndpoints false); the clip
    // floor is 1 / min(100, 1 + 3) = 0.25. The prior is N(0.5, 1). Weights 1/3 each.
    const pe = estimator([0.1, 0.4], [0]);
    for (const x of [0, 0.05, 0.3, 0.77, 1]) {
      const want = (truncPdf(x, 0.1, 0.3) + truncPdf(x, 0.4, 0.3) + truncPdf(x, 0.5, 1)) / 3;
      expect(Math.abs(Math.exp(logPdfAt(pe, [x])) / want - 1)).toBeLessThan(1e-12);
    }
    // considerEndpoints (clip off so that it does not mask the rule): padded [0, 0.3, 0.5, 0.98, 1];
    // 0.3 gets its inner gap 0.2, or max(0.3 - 0, 0.5 - 0.3) = 0.3 with the end points;
    // 0.98 gets 0.48 either way.
    const a = estimator([0.3, 0.98], [0], { considerMagicClip: false });
    const b = estimator([0.3, 0.98], [0], { considerMagicClip: false, considerEndpoints: true });
    const wantInner = (truncPdf(0.1, 0.3, 0.2) + truncPdf(0.1, 0.98, 0.48) + truncPdf(0.1, 0.5, 1)) / 3;
    const wantEnds = (truncPdf(0.1, 0.3, 0.3) + truncPdf(0.1, 0.98, 0.48) + truncPdf(0.1, 0.5, 1)) / 3;
    expect(Math.abs(Math.exp(logPdfAt(a, [0.1])) / wantInner - 1)).toBeLessThan(1e-12);
    expect(Math.abs(Math.exp(logPdfAt(b, [0.1])) / wantEnds - 1)).toBeLessThan(1e-12);
  });

  it('clips bandwidths to [1 / min(100, 1 + K), 1] (magic clip) and weights the prior by priorWeight', () => {
    // Three observations at 0.5: gaps are 0, so each bandwidth is clipped up to 1 / (1 + 4) = 0.2.
    const pe = estimator([0.5, 0.5, 0.5], [0], { priorWeight: 2 });
    const want = (3 * truncPdf(0.8, 0.5, 0.2) + 2 * truncPdf(0.8, 0.5, 1)) / 5;
    expect(Math.abs(Math.exp(logPdfAt(pe, [0.8])) / want - 1)).toBeLessThan(1e-12);
  });

  it('uses sigma = 0.2 n^(-1/(d + 4)) in multivariate mode (product kernels)', () => {
    const obs = [0.2, 0.7, 0.6, 0.1];
    // Clip off: with n = 2 the floor 1 / (1 + 3) would exceed 0.2 * 2^(-1/6).
    const pe = estimator(obs, [0, 0], { multivariate: true, considerMagicClip: false });
    const s = 0.2 * 2 ** (-1 / 6);
    const x = [0.3, 0.5];
    const want =
      (truncPdf(x[0], 0.2, s) * truncPdf(x[1], 0.7, s) +
        truncPdf(x[0], 0.6, s) * truncPdf(x[1], 0.1, s) +
        truncPdf(x[0], 0.5, 1) * truncPdf(x[1], 0.5, 1)) /
      3;
    expect(Math.abs(Math.exp(logPdfAt(pe, x)) / want - 1)).toBeLessThan(1e-12);
    // With the clip on, the floor 0.25 applies.
    const clipped = estimator(obs, [0, 0], { multivariate: true });
    const wantClipped =
      (truncPdf(x[0], 0.2, 0.25) * truncPdf(x[1], 0.7, 0.25) +
        truncPdf(x[0], 0.6, 0.25) * truncPdf(x[1], 0.1, 0.25) +
        truncPdf(x[0], 0.5, 1) * truncPdf(x[1], 0.5, 1)) /
      3;
    expect(Math.abs(Math.exp(logPdfAt(clipped, x)) / wantClipped - 1)).toBeLessThan(1e-12);
  });

  it('is a normalized density: continuous (Simpson, 1e-6), grid cells and categoricals (sum, 1e-12)', () => {
    const cont = estimator([0.05, 0.3, 0.31, 0.9, 0.99], [0]);
    const m = 2000;
    let s = 0;
    for (let i = 0; i <= m; i++) {
      const w = i === 0 || i === m ? 1 : i % 2 === 1 ? 4 : 2;
      s += w * Math.exp(logPdfAt(cont, [i / m]));
    }
    expect(Math.abs(s / (3 * m) - 1)).toBeLessThan(1e-6);

    const g = 1 / 7; // an int with 7 values
    const disc = estimator([0.5 * g, 3.5 * g, 3.5 * g, 6.5 * g], [g]);
    let mass = 0;
    for (let k = 0; k < 7; k++) mass += Math.exp(logPdfAt(disc, [(k + 0.5) * g]));
    expect(Math.abs(mass - 1)).toBeLessThan(1e-12);

    const cat = estimator([0, 2, 2, 3], [4]);
    let p = 0;
    for (let c = 0; c < 4; c++) p += Math.exp(logPdfAt(cat, [c]));
    expect(Math.abs(p - 1)).toBeLessThan(1e-12);
    // Categorical kernels: observation i puts (1 + w/K) / (1 + 4 w/K) on its choice, K = 5, w = 1.
    const one = estimator([2], [4]);
    const hit = (1 + 1 / 2) / (1 + 4 / 2);
    const miss = 1 / 2 / (1 + 4 / 2);
    expect(Math.exp(logPdfAt(one, [2]))).toBeCloseTo((hit + 0.25) / 2, 12);
    expect(Math.exp(logPdfAt(one, [0]))).toBeCloseTo((miss + 0.25) / 2, 12);
  });

  it('samples from its own density (grid x categorical histogram within 0.01 of the mass)', () => {
    const g = 1 / 5;
    const obs = [0.5 * g, 0, 2.5 * g, 1, 2.5 * g, 1, 4.5 * g, 2];
    const pe = estimator(obs, [g, 3]);
    const rng = new Rng(3);
    const n = 40000;
    const draws = pe.sample(rng, n);
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const key = `${draws[2 * i].toFixed(6)}|${draws[2 * i + 1]}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    let total = 0;
    for (let k = 0; k < 5; k++) {
      for (let c = 0; c < 3; c++) {
        const x = [(k + 0.5) * g, c];
        const p = Math.exp(logPdfAt(pe, x));
        total += p;
        const got = (counts.get(`${x[0].toFixed(6)}|${c}`) ?? 0) / n;
        expect(Math.abs(got - p), `cell ${k}, choice ${c}`).toBeLessThan(0.01);
      }
    }
    expect(Math.abs(total - 1)).toBeLessThan(1e-12);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(n);
  });

  it('without observations is the prior alone', () => {
    const pe = estimator([], [0]);
    expect(pe.nKernels).toBe(1);
    expect(Math.exp(logPdfAt(pe, [0.2]))).toBeCloseTo(truncPdf(0.2, 0.5, 1), 12);
  });

  it('scores a batch with repeated discrete values exactly as row by row (grid, log-int, categorical, continuous)', () => {
    // d = 4: a continuous dim, 10 grid cells, a log int on [1, 32], 3 choices. logPdf computes a
    // discrete dim's kernel terms once per distinct value in the batch; the result must be the
    // same double as scoring each row alone (Object.is: no tolerance).
    const rng = new Rng(7);
    const n = 60;
    const cell = (u: number): number => (Math.min(9, Math.floor(10 * u)) + 0.5) / 10;
    const logInt = (u: number): number => encodeLogInt(1 + Math.floor(32 * u * u), 1, 32);
    const rows = (m: number): number[] =>
      Array.from({ length: m }, () => [rng.nextFloat(), cell(rng.nextFloat()), logInt(rng.nextFloat()), Math.floor(3 * rng.nextFloat())]).flat();
    for (const multivariate of [false, true]) {
      const pe = estimator(rows(n), [0, 0.1, 0, 3], { multivariate, logIntBounds: [null, null, [1, 32], null], weights: Array.from({ length: n }, (_, i) => 0.5 + i / n) });
      const batch = Float64Array.from(rows(40));
      const together = pe.logPdf(batch, 40);
      for (let c = 0; c < 40; c++) {
        const alone = pe.logPdf(batch.slice(c * 4, c * 4 + 4), 1)[0];
        expect(Object.is(together[c], alone), `row ${c}: ${together[c]} vs ${alone}`).toBe(true);
        expect(Number.isFinite(alone)).toBe(true);
      }
    }
  });

  it('normalizes weights whose sum overflows (documented as any finite non-negative numbers)', () => {
    // Weights of 1e308 summed to Infinity: every mixture weight became 0 and every score NaN, so
    // TPE always took its first candidate.
    const obs = [0.1, 0.4, 0.8];
    const unit = estimator(obs, [0], { weights: [1, 1, 1], priorWeight: 1 });
    const huge = estimator(obs, [0], { weights: [1e308, 1e308, 1e308], priorWeight: 1e308 });
    for (const x of [0.05, 0.4, 0.93]) {
      expect(Number.isFinite(logPdfAt(huge, [x]))).toBe(true);
      expect(logPdfAt(huge, [x])).toBe(logPdfAt(unit, [x]));
    }
  });
});
