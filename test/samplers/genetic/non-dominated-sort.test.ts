import { describe, expect, it } from 'vitest';
import {
  constrainedRanks,
  crowdingDistances,
  dominates,
  frontsOf,
  nonDominatedRanks,
} from '../../../src/samplers/genetic/non-dominated-sort.js';
import { Rng } from '../../../src/util/prng.js';

describe('dominates', () => {
  it('needs no-worse everywhere and better somewhere', () => {
    expect(dominates([1, 2], [1, 3])).toBe(true);
    expect(dominates([1, 3], [1, 2])).toBe(false);
    expect(dominates([1, 2], [1, 2])).toBe(false);
    expect(dominates([0, 3], [1, 2])).toBe(false);
    expect(dominates([-Infinity, 0], [0, 0])).toBe(true);
  });
});

describe('nonDominatedRanks', () => {
  it('ranks a hand-checked 2-objective set (duplicates share a front)', () => {
    const losses = [
      [1, 5], // 0: front 0
      [2, 3], // 1: front 0
      [4, 1], // 2: front 0
      [3, 4], // 3: dominated by [2, 3] -> front 1
      [5, 5], // 4: dominated by [3, 4] -> front 2
      [2, 3], // 5: duplicate of 1 -> front 0
      [4, 2], // 6: dominated by [4, 1] only -> front 1
    ];
    expect([...nonDominatedRanks(losses)]).toEqual([0, 0, 0, 1, 2, 0, 1]);
    expect(frontsOf(nonDominatedRanks(losses))).toEqual([[0, 1, 2, 5], [3, 6], [4]]);
  });

  it('ranks a hand-checked 3-objective set', () => {
    const losses = [
      [1, 1, 1], // dominates 3 and 4
      [0, 2, 2],
      [2, 0, 2],
      [2, 2, 2], // dominated by 0, 1, 2 -> front 1
      [3, 3, 1], // dominated by 0 -> front 1
      [3, 3, 3], // dominated by 3 -> front 2
    ];
    expect([...nonDominatedRanks(losses)]).toEqual([0, 0, 0, 1, 1, 2]);
  });

  it('is a sort for one objective (equal values share a rank)', () => {
    expect([...nonDominatedRanks([[3], [1], [2], [1], [Infinity], [-Infinity]])]).toEqual([3, 1, 2, 1, 4, 0]);
  });

  it('satisfies the front definition on 200 random 3-objective points', () => {
    const rng = new Rng(5);
    const losses = Array.from({ length: 200 }, () => [rng.nextInt(0, 9), rng.nextInt(0, 9), rng.nextInt(0, 9)]);
    const rank = nonDominatedRanks(losses);
    for (let i = 0; i < losses.length; i++) {
      // Nothing in the same or a later front dominates i; something in front rank-1 does (rank > 0).
      for (let j = 0; j < losses.length; j++) {
        if (rank[j] >= rank[i]) expect(dominates(losses[j], losses[i])).toBe(false);
      }
      if (rank[i] > 0) expect(losses.some((l, j) => rank[j] === rank[i] - 1 && dominates(l, losses[i]))).toBe(true);
    }
    expect(Math.max(...rank)).toBeGreaterThan(2);
  });

  it('equals peeling fronts by definition for 1-4 objectives, with duplicates and infinities', () => {
    const peel = (losses: readonly number[][]): number[] => {
      const rank = losses.map(() => -1);
      let rest = losses.map((_, i) => i);
      for (let r = 0; rest.length > 0; r++) {
        const front = rest.filter((i) => !rest.some((j) => dominates(losses[j], losses[i])));
        for (const i of front) rank[i] = r;
        rest = rest.filter((i) => rank[i] < 0);
      }
      return rank;
    };
    const rng = new Rng(21);
    const levels = [Number.NEGATIVE_INFINITY, -1, 0, 1, 2, Number.POSITIVE_INFINITY];
    for (let it = 0; it < 400; it++) {
      const m = 1 + (it % 4);
      const n = 1 + rng.nextInt(0, 40);
      const losses = Array.from({ length: n }, () => Array.from({ length: m }, () => levels[rng.nextInt(0, levels.length - 1)]));
      expect(Array.from(nonDominatedRanks(losses)), JSON.stringify(losses)).toEqual(peel(losses));
    }
  });

  it('ranks 2 objectives in O(n log n): few reads of the losses for 2,000 points on a chain', () => {
    // Deb's fast-non-dominated-sort compared every pair and kept every domination list:
    // 10,000 points on a chain took 2.5 s and ~350 MB. Counted here as reads of loss entries.
    const n = 2000;
    let reads = 0;
    const losses = Array.from(
      { length: n },
      (_, i) =>
        new Proxy([n - i, n - i], {
          get(target, key, receiver) {
            if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
            return Reflect.get(target, key, receiver) as unknown;
          },
        }),
    );
    const rank = nonDominatedRanks(losses);
    expect(rank[0]).toBe(n - 1);
    expect(rank[n - 1]).toBe(0);
    expect(reads, `reads of loss entries for ${n} points`).toBeLessThanOrEqual(100 * n);
  });
});

describe('constrainedRanks', () => {
  it('puts feasible fronts first, then infeasible ones by total violation', () => {
    const losses = [[1], [2], [0], [5], [-1]];
    const penalties = [0, 0, 3, 1, 1];
    expect([...constrainedRanks(losses, penalties)]).toEqual([0, 1, 3, 2, 2]);
    expect([...constrainedRanks(losses, null)]).toEqual([2, 3, 1, 4, 0]);
  });

  it('ranks an all-infeasible population by violation alone', () => {
    expect([...constrainedRanks([[0, 0], [9, 9], [1, 1]], [2, 0.5, 2])]).toEqual([1, 0, 1]);
  });
});

describe('crowdingDistances', () => {
  it('matches a hand computation on a 4-point front (tolerance 1e-12)', () => {
    const losses = [
      [1, 5],
      [2, 3],
      [3, 2.5],
      [4, 1],
    ];
    const d = crowdingDistances(losses, [0, 1, 2, 3]);
    // f1: width 3, point 1 gets (3 - 1)/3, point 2 (4 - 2)/3. f2: width 4, point 1 (5 - 2.5)/4, point 2 (3 - 1)/4.
    expect(d[0]).toBe(Infinity);
    expect(d[3]).toBe(Infinity);
    expect(d[1]).toBeCloseTo(2 / 3 + 0.625, 12);
    expect(d[2]).toBeCloseTo(2 / 3 + 0.5, 12);
  });

  it('is aligned with the given front (a subset of the rows)', () => {
    const losses = [[9, 9], [1, 5], [7, 7], [2, 3], [3, 2.5], [4, 1]];
    const d = crowdingDistances(losses, [5, 3, 1, 4]);
    expect([...d]).toEqual([Infinity, d[1], Infinity, d[3]]);
    expect(d[1]).toBeCloseTo(2 / 3 + 0.625, 12);
    expect(d[3]).toBeCloseTo(2 / 3 + 0.5, 12);
  });

  it('skips an objective that is constant on the front', () => {
    const d = crowdingDistances([[1, 2], [1, 3], [1, 4]], [0, 1, 2]);
    expect([...d]).toEqual([Infinity, 1, Infinity]);
    expect([...crowdingDistances([[1], [1]], [0, 1])]).toEqual([0, 0]);
  });

  it('stays finite inside when an end is infinite', () => {
    const d = crowdingDistances([[-Infinity, 4], [1, 2], [2, 1], [3, 0]], [0, 1, 2, 3]);
    expect(d[0]).toBe(Infinity);
    expect(d[3]).toBe(Infinity);
    expect(Number.isNaN(d[1])).toBe(false);
    expect(d[2]).toBeCloseTo(2 / 4, 12); // f1 term is (3 - 1)/Infinity = 0; f2 term (2 - 0)/4
  });
});
