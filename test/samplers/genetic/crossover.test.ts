import { describe, expect, it } from 'vitest';
import { blxAlphaCrossover, crossover, sbxCrossover, uniformCrossover } from '../../../src/samplers/genetic/crossover.js';
import { Rng } from '../../../src/util/prng.js';

const x0 = Float64Array.from([0.1, 0.2, 0.3, 0.9]);
const x1 = Float64Array.from([0.5, 0.2, 0.7, 0.4]);

describe('uniformCrossover', () => {
  it('copies parent 1 at swappingProb 0 and parent 2 at 1', () => {
    expect([...uniformCrossover(x0, x1, 0, new Rng(1))]).toEqual([...x0]);
    expect([...uniformCrossover(x0, x1, 1, new Rng(1))]).toEqual([...x1]);
  });

  it('takes each gene from one parent, from parent 2 at rate swappingProb (0.3; 5 sigma over 20k genes)', () => {
    const rng = new Rng(2);
    let fromSecond = 0;
    const n = 5000;
    for (let i = 0; i < n; i++) {
      const child = uniformCrossover(x0, x1, 0.3, rng);
      for (const j of [0, 2, 3]) {
        expect(child[j] === x0[j] || child[j] === x1[j]).toBe(true);
        if (child[j] === x1[j]) fromSecond++;
      }
      expect(child[1]).toBe(0.2);
    }
    const total = 3 * n;
    expect(Math.abs(fromSecond - 0.3 * total)).toBeLessThan(5 * Math.sqrt(total * 0.3 * 0.7));
  });
});

describe('blxAlphaCrossover', () => {
  it('draws uniformly on [min - alpha I, max + alpha I] (alpha 0.5; range and mean within 0.01)', () => {
    const rng = new Rng(3);
    const a = Float64Array.from([0.4]);
    const b = Float64Array.from([0.6]);
    let lo = Infinity;
    let hi = -Infinity;
    let sum = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const v = blxAlphaCrossover(a, b, 0.5, rng)[0];
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      sum += v;
    }
    expect(lo).toBeGreaterThanOrEqual(0.3);
    expect(hi).toBeLessThanOrEqual(0.7);
    expect(lo).toBeLessThan(0.31);
    expect(hi).toBeGreaterThan(0.69);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
  });

  it('returns the common value when both parents agree', () => {
    expect([...blxAlphaCrossover(Float64Array.from([0.25]), Float64Array.from([0.25]), 0.5, new Rng(4))]).toEqual([0.25]);
  });
});

describe('sbxCrossover', () => {
  it('stays inside the unit interval for parents anywhere, boundaries included (10k children)', () => {
    const rng = new Rng(5);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < 10_000; i++) {
      const a = Float64Array.from([rng.nextFloat(), 0, 1, rng.nextFloat()]);
      const b = Float64Array.from([rng.nextFloat(), 1, 1e-9, a[3]]);
      const eta = i % 2 === 0 ? 2 : 20;
      for (const v of sbxCrossover(a, b, eta, rng)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    expect(lo).toBeGreaterThanOrEqual(-1e-12);
    expect(hi).toBeLessThanOrEqual(1 + 1e-12);
  });

  it('keeps children nearer the parents for a larger eta (mean distance to the nearer parent)', () => {
    const spread = (eta: number): number => {
      const rng = new Rng(6);
      const a = Float64Array.from([0.3]);
      const b = Float64Array.from([0.6]);
      let total = 0;
      for (let i = 0; i < 5000; i++) {
        const v = sbxCrossover(a, b, eta, rng)[0];
        total += Math.min(Math.abs(v - 0.3), Math.abs(v - 0.6));
      }
      return total / 5000;
    };
    expect(spread(20)).toBeLessThan(0.5 * spread(2));
  });

  it('is symmetric around the parents midpoint (mean within 0.01 over 20k)', () => {
    const rng = new Rng(7);
    const a = Float64Array.from([0.4]);
    const b = Float64Array.from([0.6]);
    let sum = 0;
    for (let i = 0; i < 20_000; i++) sum += sbxCrossover(a, b, 2, rng)[0];
    expect(Math.abs(sum / 20_000 - 0.5)).toBeLessThan(0.01);
  });
});

describe('crossover dispatch', () => {
  it('uses the operator named by kind (same stream, same result)', () => {
    const settings = { swappingProb: 0.5, blxAlpha: 0.5, sbxEta: 2 };
    expect([...crossover({ ...settings, kind: 'uniform' }, x0, x1, new Rng(8))]).toEqual([
      ...uniformCrossover(x0, x1, 0.5, new Rng(8)),
    ]);
    expect([...crossover({ ...settings, kind: 'blxalpha' }, x0, x1, new Rng(8))]).toEqual([
      ...blxAlphaCrossover(x0, x1, 0.5, new Rng(8)),
    ]);
    expect([...crossover({ ...settings, kind: 'sbx' }, x0, x1, new Rng(8))]).toEqual([...sbxCrossover(x0, x1, 2, new Rng(8))]);
  });
});
