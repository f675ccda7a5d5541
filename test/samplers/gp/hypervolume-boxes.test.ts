import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../src/errors.js';
import { hypervolumeImprovement, nonDominatedBoxes } from '../../../src/samplers/gp/hypervolume-boxes.js';
import { Rng } from '../../../src/util/prng.js';
import { referenceNonDominatedBoxes } from './hypervolume-boxes-reference.js';

// ---------------------------------------------------------------------------------------------
// Independent references (no code shared with the module under test)
// ---------------------------------------------------------------------------------------------

/**
 * Exact hypervolume (maximization) of `points` above `ref` by a grid sweep: the sorted distinct
 * coordinates of each objective cut the space into cells; a cell [c_i, c_{i+1}) is dominated
 * exactly when some point is >= its upper corner. Cost (P + 1)^K * P * K, fine for small P.
 */
function bruteHypervolume(points: number[][], ref: number[]): number {
  const k = ref.length;
  const above = points.filter((y) => y.every((v, j) => v > ref[j]));
  if (above.length === 0) return 0;
  const coords = ref.map((r, j) => [...new Set([r, ...above.map((y) => y[j])])].sort((a, b) => a - b));
  let total = 0;
  const index = new Array<number>(k).fill(0);
  for (;;) {
    let volume = 1;
    const corner: number[] = [];
    for (let j = 0; j < k && volume > 0; j++) {
      const c = coords[j];
      if (index[j] + 1 >= c.length) volume = 0;
      else {
        volume *= c[index[j] + 1] - c[index[j]];
        corner.push(c[index[j] + 1]);
      }
    }
    if (volume > 0 && above.some((y) => y.every((v, j) => v >= corner[j]))) total += volume;
    let j = 0;
    while (j < k && ++index[j] >= coords[j].length) index[j++] = 0;
    if (j === k) return total;
  }
}

/** The number of distinct rows above ref that no other row weakly dominates. */
function countParetoFront(points: number[][], ref: number[]): number {
  const above = points.filter((y) => y.every((v, j) => v > ref[j]));
  const distinct = [...new Map(above.map((y) => [y.join(','), y])).values()];
  return distinct.filter((y, i) => !distinct.some((z, l) => l !== i && z.every((v, j) => v >= y[j]))).length;
}

const flat = (rows: number[][]): Float64Array => Float64Array.from(rows.flat());

function boxRows(boxes: Float64Array, k: number): { lower: number[]; upper: number[] }[] {
  const rows = [];
  for (let b = 0; b < boxes.length; b += 2 * k) {
    rows.push({ lower: [...boxes.subarray(b, b + k)], upper: [...boxes.subarray(b + k, b + 2 * k)] });
  }
  return rows;
}

/** Points on the positive unit sphere (a concave front, all mutually non-dominated) scaled to [0, 10]. */
function sphereFront(rng: Rng, n: number, k: number): number[][] {
  return Array.from({ length: n }, () => {
    const g = Array.from({ length: k }, () => Math.abs(rng.normal()) + 1e-3);
    const norm = Math.hypot(...g);
    return g.map((v) => (10 * v) / norm);
  });
}

/**
 * A messy point set: a front, some dominated points, duplicates, points below ref in one objective
 * and at -Infinity, values rounded to a grid so that ties occur.
 */
function messyPoints(rng: Rng, n: number, k: number): number[][] {
  const front = sphereFront(rng, n, k).map((y) => y.map((v) => Math.round(v * 4) / 4));
  const extra: number[][] = [];
  for (let i = 0; i < Math.ceil(n / 3); i++) {
    const y = front[rng.nextInt(0, front.length - 1)];
    extra.push(y.map((v) => v * (0.3 + 0.6 * rng.nextFloat()))); // dominated
    extra.push([...y]); // duplicate
    const below = [...y];
    below[rng.nextInt(0, k - 1)] = rng.nextFloat() < 0.5 ? -1 : -Infinity; // not above ref
    extra.push(below);
  }
  return rng.shuffle([...front, ...extra]);
}

/** Query points y: random, dominated, beyond the front, on box boundaries, partly below ref. */
function queries(rng: Rng, points: number[][], boxes: Float64Array, k: number, ref: number[]): number[][] {
  const out: number[][] = [];
  const rows = boxRows(boxes, k);
  for (let q = 0; q < 40; q++) {
    const base = points.length > 0 ? points[rng.nextInt(0, points.length - 1)] : ref.map((r) => r + 5);
    const kind = q % 5;
    if (kind === 0) out.push(ref.map(() => -1 + 13 * rng.nextFloat()));
    else if (kind === 1) out.push(base.map((v) => (Number.isFinite(v) ? v * (0.2 + 0.7 * rng.nextFloat()) : 0)));
    else if (kind === 2) out.push(base.map((v) => (Number.isFinite(v) ? v * (1 + 0.5 * rng.nextFloat()) : 12)));
    else if (kind === 3) {
      // Every coordinate on a box face (a lower bound, or a finite upper bound).
      out.push(
        ref.map((_, j) => {
          const box = rows[rng.nextInt(0, rows.length - 1)];
          return Number.isFinite(box.upper[j]) && rng.nextFloat() < 0.5 ? box.upper[j] : box.lower[j];
        }),
      );
    } else {
      const y = ref.map(() => 12 * rng.nextFloat());
      y[rng.nextInt(0, k - 1)] = ref[0] - 1;
      out.push(y);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

describe('nonDominatedBoxes + hypervolumeImprovement', () => {
  for (const k of [1, 2, 3, 4]) {
    const sizes = k === 4 ? [0, 1, 4, 9] : [0, 1, 5, 14];
    it(`matches brute-force HV(points + y) - HV(points) on random point sets, K = ${k}`, () => {
      const rng = new Rng(100 + k);
      for (const n of sizes) {
        for (let rep = 0; rep < 3; rep++) {
          const ref = rep === 2 ? new Array<number>(k).fill(0.5) : new Array<number>(k).fill(0);
          const points = rep === 0 ? sphereFront(rng, n, k) : messyPoints(rng, n, k);
          const boxes = nonDominatedBoxes(flat(points), points.length, k, Float64Array.from(ref), Infinity);
          expect(boxes).not.toBeNull();
          const base = bruteHypervolume(points, ref);
          for (const y of queries(rng, points, boxes as Float64Array, k, ref)) {
            const expected = bruteHypervolume([...points, y], ref) - base;
            const got = hypervolumeImprovement(boxes as Float64Array, k, y);
            // Relative to the hypervolumes involved (about 10^K): sums of many box volumes.
            expect(Math.abs(got - expected), `n=${n} rep=${rep} y=${y.join(',')}`).toBeLessThanOrEqual(1e-9 * (1 + base));
          }
        }
      }
    });

    it(`gives disjoint boxes above ref that cover exactly the non-dominated region, K = ${k}`, () => {
      const rng = new Rng(200 + k);
      const ref = new Array<number>(k).fill(0.25);
      const points = messyPoints(rng, k === 4 ? 10 : 20, k);
      const boxes = nonDominatedBoxes(flat(points), points.length, k, Float64Array.from(ref), Infinity) as Float64Array;
      const rows = boxRows(boxes, k);
      for (const { lower, upper } of rows) {
        for (let j = 0; j < k; j++) {
          expect(Number.isFinite(lower[j])).toBe(true);
          expect(lower[j]).toBeGreaterThanOrEqual(ref[j]);
          expect(upper[j]).toBeGreaterThan(lower[j]);
        }
      }
      for (let a = 0; a < rows.length; a++) {
        for (let b = a + 1; b < rows.length; b++) {
          const apart = rows[a].lower.some((_, j) => Math.max(rows[a].lower[j], rows[b].lower[j]) >= Math.min(rows[a].upper[j], rows[b].upper[j]));
          expect(apart, `boxes ${a} and ${b} overlap`).toBe(true);
        }
      }
      // Random z above ref (ties have probability 0): in exactly one box iff no point dominates it.
      for (let s = 0; s < 2000; s++) {
        const z = ref.map((r) => r + 12 * rng.nextFloat());
        const dominated = points.some((y) => y.every((v, j) => v >= z[j]));
        const inside = rows.filter(({ lower, upper }) => z.every((v, j) => v >= lower[j] && v < upper[j])).length;
        expect(inside).toBe(dominated ? 0 : 1);
      }
    });
  }

  it('K = 1: one box [max(ref, best), +inf)', () => {
    const ref = Float64Array.of(1);
    expect([...(nonDominatedBoxes(Float64Array.of(3, -Infinity, 7, 0.5, 7), 5, 1, ref, 1) ?? [])]).toEqual([7, Infinity]);
    expect([...(nonDominatedBoxes(Float64Array.of(0.5, 1), 2, 1, ref, 1) ?? [])]).toEqual([1, Infinity]);
    expect(hypervolumeImprovement(Float64Array.of(7, Infinity), 1, [9.5])).toBe(2.5);
    expect(hypervolumeImprovement(Float64Array.of(7, Infinity), 1, [6])).toBe(0);
  });

  it('an infinite coordinate of y next to one at or below a lower bound improves nothing (0, not NaN)', () => {
    const boxes = nonDominatedBoxes(new Float64Array(0), 0, 2, Float64Array.of(0, 0), Infinity) as Float64Array; // [0, inf)^2
    expect(hypervolumeImprovement(boxes, 2, [Infinity, -1])).toBe(0);
    expect(hypervolumeImprovement(boxes, 2, [Infinity, -Infinity])).toBe(0);
    expect(hypervolumeImprovement(boxes, 2, [-1, Infinity])).toBe(0);
    expect(hypervolumeImprovement(boxes, 2, [Infinity, 2])).toBe(Infinity);
    expect(hypervolumeImprovement(boxes, 2, [Number.NaN, 2])).toBeNaN();
    expect(hypervolumeImprovement(boxes, 2, [Number.NaN, -1])).toBeNaN();
  });

  it('K = 2: exactly P\' + 1 boxes, the staircase of the front', () => {
    const ref = Float64Array.of(0, 0);
    // Front (4,1), (3,2), (1,3); plus a dominated point, a duplicate, one on ref, one below ref.
    const rows = [[1, 3], [4, 1], [2, 1.5], [3, 2], [3, 2], [5, 0], [6, -2]];
    const boxes = nonDominatedBoxes(flat(rows), rows.length, 2, ref, Infinity) as Float64Array;
    expect(boxRows(boxes, 2)).toEqual([
      { lower: [4, 0], upper: [Infinity, Infinity] },
      { lower: [3, 1], upper: [4, Infinity] },
      { lower: [1, 2], upper: [3, Infinity] },
      { lower: [0, 3], upper: [1, Infinity] },
    ]);
    const rng = new Rng(7);
    for (let rep = 0; rep < 20; rep++) {
      const points = messyPoints(rng, 1 + rng.nextInt(0, 30), 2);
      const refArr = [0.5, 0.5];
      const b = nonDominatedBoxes(flat(points), points.length, 2, Float64Array.from(refArr), Infinity) as Float64Array;
      expect(b.length / 4).toBe(countParetoFront(points, refArr) + 1);
    }
  });

  it('keeps the box count small for K >= 3 (recurring sub-boxes merged across slabs)', () => {
    // Measured on these fronts: K = 3 gives 2P + 1 boxes, K = 4 about 5P (see the module header).
    for (const [k, n, limit] of [[3, 30, 61], [4, 30, 160]] as const) {
      const rng = new Rng(1);
      const front = sphereFront(rng, n, k);
      const boxes = nonDominatedBoxes(flat(front), n, k, new Float64Array(k), Infinity) as Float64Array;
      expect(boxes.length / (2 * k)).toBeLessThanOrEqual(limit);
    }
  });

  it('with no point above ref: the single box [ref, +inf)^K', () => {
    for (const k of [1, 2, 3, 4]) {
      const ref = Float64Array.from({ length: k }, (_, j) => j);
      const below = Float64Array.from({ length: 2 * k }, (_, i) => (i === 0 || i === k + Math.min(1, k - 1) ? -Infinity : 10));
      for (const [pts, p] of [[new Float64Array(0), 0], [below, 2]] as const) {
        const boxes = nonDominatedBoxes(pts, p, k, ref, 1) as Float64Array;
        expect([...boxes]).toEqual([...ref, ...new Array<number>(k).fill(Infinity)]);
      }
    }
  });

  it('is unchanged by dominated points, duplicates and points below ref', () => {
    const rng = new Rng(11);
    const ref = [0, 0, 0];
    const front = sphereFront(rng, 12, 3);
    const noisy = rng.shuffle([...front, ...front.slice(0, 4), ...front.map((y) => y.map((v) => v * 0.9)), [20, 20, -1], [-Infinity, 30, 30]]);
    const clean = nonDominatedBoxes(flat(front), front.length, 3, Float64Array.from(ref), Infinity) as Float64Array;
    const dirty = nonDominatedBoxes(flat(noisy), noisy.length, 3, Float64Array.from(ref), Infinity) as Float64Array;
    const sortRows = (b: Float64Array): string[] => boxRows(b, 3).map((r) => JSON.stringify(r)).sort();
    expect(sortRows(dirty)).toEqual(sortRows(clean));
  });

  it('returns null when more than maxBoxes boxes are needed', () => {
    const rows = [[1, 5], [2, 4], [3, 3], [4, 2], [5, 1]]; // 5 non-dominated points: 6 boxes
    const ref = Float64Array.of(0, 0);
    expect(nonDominatedBoxes(flat(rows), 5, 2, ref, 5)).toBeNull();
    expect(nonDominatedBoxes(flat(rows), 5, 2, ref, 6)?.length).toBe(6 * 4);
    const rng = new Rng(3);
    const front = sphereFront(rng, 20, 3);
    const all = nonDominatedBoxes(flat(front), 20, 3, Float64Array.of(0, 0, 0), Infinity) as Float64Array;
    const nBoxes = all.length / 6;
    expect(nonDominatedBoxes(flat(front), 20, 3, Float64Array.of(0, 0, 0), nBoxes - 1)).toBeNull();
    expect(nonDominatedBoxes(flat(front), 20, 3, Float64Array.of(0, 0, 0), nBoxes)).toEqual(all);
  });

  it('rejects invalid input with InvalidOptionError naming the argument', () => {
    const ok = Float64Array.of(1, 2, 3, 4);
    const ref = Float64Array.of(0, 0);
    const cases: [() => unknown, string][] = [
      [() => nonDominatedBoxes(ok, -1, 2, ref, 10), '"p"'],
      [() => nonDominatedBoxes(ok, 1.5, 2, ref, 10), '"p"'],
      [() => nonDominatedBoxes(ok, 2, 0, ref, 10), '"k"'],
      [() => nonDominatedBoxes(ok, 2, 2.5, ref, 10), '"k"'],
      [() => nonDominatedBoxes(ok, 3, 2, ref, 10), '"points"'],
      [() => nonDominatedBoxes(ok, 2, 2, Float64Array.of(0), 10), '"ref"'],
      [() => nonDominatedBoxes(ok, 2, 2, Float64Array.of(0, NaN), 10), '"ref[1]"'],
      [() => nonDominatedBoxes(ok, 2, 2, Float64Array.of(-Infinity, 0), 10), '"ref[0]"'],
      [() => nonDominatedBoxes(Float64Array.of(1, 2, NaN, 4), 2, 2, ref, 10), '"points[2]"'],
      [() => nonDominatedBoxes(Float64Array.of(1, Infinity, 3, 4), 2, 2, ref, 10), '"points[1]"'],
      [() => nonDominatedBoxes(ok, 2, 2, ref, 0), '"maxBoxes"'],
      [() => nonDominatedBoxes(ok, 2, 2, ref, 2.5), '"maxBoxes"'],
      [() => nonDominatedBoxes(ok, 2, 2, ref, NaN), '"maxBoxes"'],
      [() => hypervolumeImprovement(Float64Array.of(0, 0, 1), 2, [1, 1]), '"boxes"'],
      [() => hypervolumeImprovement(Float64Array.of(0, 0, 1, 1), 0, [1, 1]), '"k"'],
      [() => hypervolumeImprovement(Float64Array.of(0, 0, 1, 1), 2, [1]), '"y"'],
    ];
    for (const [call, name] of cases) {
      expect(call).toThrow(InvalidOptionError);
      expect(call).toThrow(name);
    }
    // -Infinity in points is allowed: such a point is not above ref.
    expect(nonDominatedBoxes(Float64Array.of(-Infinity, 5), 1, 2, ref, 1)).toEqual(Float64Array.of(0, 0, Infinity, Infinity));
  });
});

describe('nonDominatedBoxes against the first implementation (hypervolume-boxes-reference.ts)', () => {
  /** The same values in the same order (Object.is: +0 and -0 apart), or both null. */
  const same = (got: Float64Array | null, want: Float64Array | null): boolean =>
    got === null || want === null ? got === want : got.length === want.length && got.every((v, i) => Object.is(v, want[i]));

  /** Points on a coarse grid: many ties in every objective, duplicates, dominated points. */
  function gridPoints(rng: Rng, n: number, k: number): number[][] {
    return Array.from({ length: n }, () => Array.from({ length: k }, () => rng.nextInt(-1, 4) + (rng.nextFloat() < 0.1 ? -Infinity : 0)));
  }

  for (const k of [2, 3, 4, 5]) {
    it(`gives the same boxes in the same order, and the same null verdict for every maxBoxes, K = ${k}`, () => {
      const rng = new Rng(500 + k);
      const sizes = k === 5 ? [0, 1, 3, 8, 16, 30] : [0, 1, 3, 8, 20, 45];
      let compared = 0;
      for (const n of sizes) {
        for (let rep = 0; rep < 4; rep++) {
          const points = rep === 0 ? sphereFront(rng, n, k) : rep === 1 ? messyPoints(rng, n, k) : gridPoints(rng, n, k);
          const ref = Float64Array.from({ length: k }, () => (rep === 3 ? 0.5 : 0));
          const flatPoints = flat(points);
          const want = referenceNonDominatedBoxes(flatPoints, points.length, k, ref, Infinity) as Float64Array;
          const count = want.length / (2 * k);
          for (const maxBoxes of [Infinity, count, count + 1, count - 1, Math.ceil(count / 2), 1, rng.nextInt(1, count + 2)]) {
            if (maxBoxes < 1) continue;
            const got = nonDominatedBoxes(flatPoints, points.length, k, ref, maxBoxes);
            const expected = maxBoxes === Infinity ? want : referenceNonDominatedBoxes(flatPoints, points.length, k, ref, maxBoxes);
            expect(same(got, expected), `n=${n} rep=${rep} maxBoxes=${maxBoxes} count=${count}`).toBe(true);
            expect(got === null, `n=${n} rep=${rep} maxBoxes=${maxBoxes} count=${count}`).toBe(count > maxBoxes);
            compared++;
          }
        }
      }
      expect(compared).toBeGreaterThan(100);
    });
  }

  it('agrees at the size GpSampler thins to (K = 5, 80 points, hundreds of boxes), at the count and one below', () => {
    const rng = new Rng(77);
    const points = flat(sphereFront(rng, 80, 5));
    const ref = new Float64Array(5);
    const want = referenceNonDominatedBoxes(points, 80, 5, ref, Infinity) as Float64Array;
    const count = want.length / 10;
    expect(count).toBeGreaterThan(500);
    expect(same(nonDominatedBoxes(points, 80, 5, ref, count), want)).toBe(true);
    expect(nonDominatedBoxes(points, 80, 5, ref, count - 1)).toBeNull();
  });
});
