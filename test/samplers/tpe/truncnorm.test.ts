import { describe, expect, it } from 'vitest';
import { logGaussMass, normalQuantile, sampleStandardTruncatedNormal } from '../../../src/samplers/tpe/truncnorm.js';
import { normalCdf, normalLogPdf } from '../../../src/util/math.js';
import { Rng } from '../../../src/util/prng.js';

/** log of int_a^b phi(t) dt by composite Simpson on phi(t) / phi(m), m the bound nearest 0. */
function logMassBySimpson(a: number, b: number, intervals = 4000): number {
  const m = a > 0 ? a : b < 0 ? b : 0;
  const h = (b - a) / intervals;
  let s = 0;
  for (let i = 0; i <= intervals; i++) {
    const t = a + i * h;
    const f = Math.exp(normalLogPdf(t) - normalLogPdf(m));
    s += f * (i === 0 || i === intervals ? 1 : i % 2 === 1 ? 4 : 2);
  }
  return Math.log((s * h) / 3) + normalLogPdf(m);
}

describe('normalQuantile', () => {
  it('matches reference quantiles (relative error < 1e-13)', () => {
    // Reference values: scipy.special.ndtri.
    const cases: [number, number][] = [
      [0.5, 0],
      [0.975, 1.959963984540054],
      [0.841344746068543, 1.0],
      [1e-10, -6.361340902404056],
      [0.02, -2.053748910631823],
    ];
    for (const [p, x] of cases) expect(Math.abs(normalQuantile(p) - x)).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(x)) + 1e-15);
    // Near 1, p itself carries an absolute error of ~1e-16 and dx/dp = 1/phi(x) ~ 2e5 amplifies it.
    expect(Math.abs(normalQuantile(1 - 1e-6) - 4.753424308822899)).toBeLessThan(1e-9);
  });

  it('inverts the normal cdf over 1e-300 .. 1 - 1e-12 (relative error in p < 1e-12)', () => {
    for (let e = -300; e <= -1; e += 7) {
      const p = 10 ** e;
      expect(Math.abs(normalCdf(normalQuantile(p)) - p) / p).toBeLessThan(1e-12);
    }
    for (const p of [0.1, 0.3, 0.5, 0.7, 0.9, 0.999, 1 - 1e-9]) {
      expect(Math.abs(normalCdf(normalQuantile(p)) - p)).toBeLessThan(1e-12 * p);
    }
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(normalQuantile(1.5)).toBeNaN();
  });
});

describe('logGaussMass', () => {
  it('agrees with Simpson integration in the center and in both tails (relative error < 1e-8)', () => {
    const cases: [number, number][] = [
      [-1, 2],
      [-0.3, 0.1],
      [-40, -39],
      [-12, -11.999],
      [5, 6],
      [38, 39],
      [-3, 30],
      [0.2, 0.2000001],
    ];
    for (const [a, b] of cases) {
      const got = logGaussMass(a, b);
      const want = logMassBySimpson(a, b);
      expect(Math.abs(got - want), `[${a}, ${b}]`).toBeLessThan(1e-8 * Math.max(1, Math.abs(want)));
    }
  });

  it('is finite for intervals so narrow that Phi(a) and Phi(b) round to the same double', () => {
    // Phi(b) - Phi(a) (or its log-space and mirrored forms) rounded to 0 and gave -Infinity for a
    // non-empty interval; its mass is (b - a) phi(xi), xi in [a, b], phi constant to ~1e-10 here.
    const cases: [number, number][] = [
      [1e-10, 1.0000000000010001e-10],
      [-1e-17, 1e-17],
      [-1000, -1000 + 1e-13],
      [700, 700 + 1e-13],
    ];
    for (const [a, b] of cases) {
      const got = logGaussMass(a, b);
      const want = Math.log(b - a) + normalLogPdf(a / 2 + b / 2);
      expect(Math.abs(got - want), `[${a}, ${b}]: ${got}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(want)));
    }
  });

  it('is -Infinity for an empty interval and symmetric under mirroring', () => {
    expect(logGaussMass(1, 1)).toBe(-Infinity);
    expect(logGaussMass(2, 1)).toBe(-Infinity);
    expect(logGaussMass(-3, -1)).toBeCloseTo(logGaussMass(1, 3), 14);
  });

  it('is -Infinity, not NaN, for an interval whose mass underflows entirely', () => {
    // Both log cdfs -Infinity: their difference was NaN.
    for (const [a, b] of [
      [-Infinity, -1e200],
      [-1e200, -1e199],
      [1e199, 1e200],
      [1e200, Infinity],
    ] as [number, number][]) {
      expect(logGaussMass(a, b), `[${a}, ${b}]`).toBe(-Infinity);
    }
  });
});

describe('sampleStandardTruncatedNormal', () => {
  it('stays in [a, b] and matches the truncated mean and cdf (20000 draws, tolerance 0.015)', () => {
    const rng = new Rng(11);
    for (const [a, b] of [
      [-1, 2],
      [-3, -0.5],
      [0.5, 4],
      [-20, -18],
    ] as [number, number][]) {
      const z = normalCdf(b) - normalCdf(a);
      const pdf = (t: number): number => Math.exp(normalLogPdf(t));
      // Mean of the truncated standard normal: (phi(a) - phi(b)) / Z; for the far tail, by Simpson below.
      const mean = a > -10 ? (pdf(a) - pdf(b)) / z : NaN;
      const n = 20000;
      let sum = 0;
      let belowMid = 0;
      let outside = 0;
      const mid = (a + b) / 2;
      for (let i = 0; i < n; i++) {
        const x = sampleStandardTruncatedNormal(a, b, rng.nextFloat());
        if (!(x >= a && x <= b)) outside++;
        sum += x;
        if (x < mid) belowMid++;
      }
      expect(outside).toBe(0);
      const wantBelow = Math.exp(logGaussMass(a, mid) - logGaussMass(a, b));
      expect(Math.abs(belowMid / n - wantBelow), `[${a}, ${b}] cdf`).toBeLessThan(0.015);
      if (!Number.isNaN(mean)) expect(Math.abs(sum / n - mean), `[${a}, ${b}] mean`).toBeLessThan(0.015 * (b - a));
    }
  });
});
