import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { Rng, deriveSeed, deriveUnit, randomSeed, resolveSeed } from '../../src/util/prng.js';

/** Pearson chi-square statistic of counts against a uniform expectation. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((s, c) => s + ((c - expected) * (c - expected)) / expected, 0);
}

describe('Rng (xoshiro128**)', () => {
  it('matches the reference C implementation (same seeding) for seed 42', () => {
    // Values printed by Blackman & Vigna's xoshiro128** C code with the state seeded as in Rng.
    const rng = new Rng(42);
    expect([rng.nextUint32(), rng.nextUint32(), rng.nextUint32()]).toEqual([724422381, 2095358522, 65955990]);
  });

  it('is deterministic per seed and differs across seeds', () => {
    const a = Rng.fromSeed(7);
    const b = Rng.fromSeed(7);
    const c = Rng.fromSeed(8);
    const xs = Array.from({ length: 20 }, () => a.nextFloat());
    expect(Array.from({ length: 20 }, () => b.nextFloat())).toEqual(xs);
    expect(Array.from({ length: 20 }, () => c.nextFloat())).not.toEqual(xs);
  });

  it('nextFloat is in [0, 1) and uniform (chi-square, 20 bins, 1e5 draws, p ~ 1e-6 bound)', () => {
    const rng = new Rng(1);
    const counts = new Array<number>(20).fill(0);
    let inRange = true;
    for (let i = 0; i < 100_000; i++) {
      const u = rng.nextFloat();
      inRange &&= u >= 0 && u < 1;
      counts[Math.floor(u * 20)]++;
    }
    expect(inRange).toBe(true);
    // chi-square with 19 degrees of freedom: P(X > 55) < 1e-5
    expect(chiSquare(counts)).toBeLessThan(55);
  });

  it('nextInt covers [lo, hi] inclusively and uniformly', () => {
    const rng = new Rng(2);
    const counts = new Array<number>(7).fill(0);
    let inRange = true;
    for (let i = 0; i < 70_000; i++) {
      const k = rng.nextInt(-3, 3);
      inRange &&= Number.isInteger(k) && k >= -3 && k <= 3;
      counts[k + 3]++;
    }
    expect(inRange).toBe(true);
    // 6 degrees of freedom: P(X > 35) < 1e-5
    expect(chiSquare(counts)).toBeLessThan(35);
    expect(rng.nextInt(5, 5)).toBe(5);
    const wide = rng.nextInt(0, 2 ** 40);
    expect(wide >= 0 && wide <= 2 ** 40).toBe(true);
    expect(() => rng.nextInt(3, 2)).toThrow(InvalidOptionError);
    expect(() => rng.nextInt(0.5, 2)).toThrow(/option "lo"/);
  });

  it('nextInt is uniform on ranges of more than 2^32 values, up to the full safe-integer range', () => {
    const rng = new Rng(3);
    // 3 * 2^51 values: residues mod 3 are equally likely (2 degrees of freedom: P(X > 25) < 4e-6).
    const n = 3 * 2 ** 51;
    const byResidue = [0, 0, 0];
    for (let i = 0; i < 40_000; i++) {
      const k = rng.nextInt(0, n - 1);
      expect(Number.isSafeInteger(k) && k >= 0 && k < n).toBe(true);
      byResidue[k % 3]++;
    }
    expect(chiSquare(byResidue)).toBeLessThan(25);
    // 2^54 - 1 values: both parities occur (each draw is odd with probability 1/2).
    const lo = -(2 ** 53 - 1);
    const hi = 2 ** 53 - 1;
    const byParity = [0, 0];
    for (let i = 0; i < 2_000; i++) {
      const k = rng.nextInt(lo, hi);
      expect(Number.isSafeInteger(k) && k >= lo && k <= hi).toBe(true);
      byParity[Math.abs(k) % 2]++;
    }
    // 1 degree of freedom: P(X > 25) < 1e-6
    expect(chiSquare(byParity)).toBeLessThan(25);
  });

  it('normal has mean 0 and variance 1 (1e5 draws, 5 sigma tolerances)', () => {
    const rng = new Rng(3);
    const n = 100_000;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      sum += z;
      sumSq += z * z;
    }
    const mean = sum / n;
    const variance = sumSq / n - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  it('split streams are reproducible, independent of parent draws, and distinct by label', () => {
    const parent = new Rng(9);
    const child1 = parent.split('a');
    parent.nextFloat();
    const child2 = parent.split('a');
    expect(child1.nextFloat()).toBe(child2.nextFloat());
    expect(parent.split('a').nextUint32()).not.toBe(parent.split('b').nextUint32());
    expect(parent.split(1).nextUint32()).not.toBe(parent.split('1').nextUint32());
  });

  it('permutation is a permutation and seeded', () => {
    const p = new Rng(4).permutation(50);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(new Rng(4).permutation(50)).toEqual(p);
    expect(p).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('rejects bad seeds naming the option', () => {
    expect(() => new Rng(1.5)).toThrow(InvalidOptionError);
    expect(() => Rng.fromSeed(Number.NaN)).toThrow(/option "seed": expected a safe integer seed, received NaN/);
    expect(() => resolveSeed('sampler.seed', '3')).toThrow(/option "sampler.seed"/);
  });

  it('uses a crypto seed when none is given', () => {
    const seeds = new Set(Array.from({ length: 10 }, () => randomSeed()));
    expect(seeds.size).toBe(10);
    for (const s of seeds) expect(Number.isSafeInteger(s) && s >= 0).toBe(true);
    expect(Rng.fromSeed().seed).not.toBe(Rng.fromSeed().seed);
  });
});

describe('deriveSeed', () => {
  it('is a pure function of (seed, parts) with a pinned value', () => {
    expect(deriveSeed(42, 3, 'lr')).toBe(deriveSeed(42, 3, 'lr'));
    expect(deriveSeed(42, 3, 'lr')).toBe(4497854272584502);
  });

  it('separates seeds, trial numbers, names, part types and part boundaries', () => {
    const base = deriveSeed(1, 0, 'x');
    expect(deriveSeed(2, 0, 'x')).not.toBe(base);
    expect(deriveSeed(1, 1, 'x')).not.toBe(base);
    expect(deriveSeed(1, 0, 'y')).not.toBe(base);
    expect(deriveSeed(1, '0', 'x')).not.toBe(base);
    expect(deriveSeed(1, 'ab', 'c')).not.toBe(deriveSeed(1, 'a', 'bc'));
    expect(deriveSeed(1, 0.5)).not.toBe(deriveSeed(1, 0.25));
    expect(deriveSeed(-1, 0)).not.toBe(deriveSeed(2 ** 32 - 1, 0));
  });

  it('has no collisions over 200k (trial, name) pairs and uniform output', () => {
    const seen = new Set<number>();
    const counts = new Array<number>(16).fill(0);
    let valid = true;
    for (let t = 0; t < 50_000; t++) {
      for (const name of ['lr', 'depth', 'optimizer', 'x0']) {
        const s = deriveSeed(123, t, name);
        valid &&= s >= 0 && s < 2 ** 53 && Number.isInteger(s);
        seen.add(s);
        counts[Math.floor(deriveUnit(123, t, name) * 16)]++;
      }
    }
    expect(valid).toBe(true);
    expect(seen.size).toBe(200_000);
    // 15 degrees of freedom: P(X > 45) < 1e-4
    expect(chiSquare(counts)).toBeLessThan(45);
  });

  it('deriveUnit is deriveSeed / 2^53', () => {
    expect(deriveUnit(5, 7, 'a')).toBe(deriveSeed(5, 7, 'a') / 2 ** 53);
  });
});
