/**
 * The non-dominated region of a Pareto front as disjoint axis-aligned boxes, for an exact expected
 * hypervolume improvement (EHVI) in GpSampler: EHVI(x) = sum over boxes of the product over
 * objectives of a one-dimensional Gaussian integral over the box's side, as in BoTorch's analytic
 * `ExpectedHypervolumeImprovement` (Yang, Emmerich, Deutz & Back 2019, "Efficient computation of
 * expected hypervolume improvement using box decomposition algorithms", J. Global Optim. 75).
 *
 * Notation (maximization in every objective, larger is better):
 *   K          number of objectives, k in 0..K-1
 *   P          number of points, `points` row-major (P, K)
 *   r          the reference point (K values); only the region z >= r counts
 *   N          the non-dominated region {z >= r : no point y has y >= z componentwise}
 *   B          number of boxes; a box row is [lower_0..lower_{K-1}, upper_0..upper_{K-1}]
 *
 * Decomposition: slicing objectives, the recursion of the HSO hypervolume algorithm (While,
 * Hingston, Barone & Huband 2006, "A faster algorithm for calculating hypervolume", IEEE Trans.
 * Evol. Comput. 10(1)), applied to the non-dominated rather than the dominated region, with the
 * slabs merged. Sort the points by objective 0, descending, a_1 >= a_2 >= ... . On the slab
 * a_{i+1} <= z_0 < a_i (a_0 = +inf, a_{P+1} = r_0) exactly the points 1..i reach z_0, so N restricted
 * to the slab is the slab times the non-dominated region of those points projected onto objectives
 * 1..K-1, which is decomposed the same way; in the last objective it is [max(r, best), +inf). The
 * sweep down objective 0 then merges slabs: a box of one slab's sub-decomposition that recurs
 * unchanged in the next slab's is extended rather than closed, and a point whose projection is
 * weakly dominated by an earlier point's does not cut at all. The boxes are disjoint because the
 * slabs are, and within a slab the sub-boxes are, at every level.
 *
 * For K = 2 this gives the minimal P' + 1 boxes for P' non-dominated points (the staircase BoTorch
 * computes for two objectives). BoTorch's `NondominatedPartitioning` for K >= 3 uses the
 * grid-and-merge method of Couckuyt, Deschrijver & Dhaene 2012 ("Towards efficient multiobjective
 * optimization: multiobjective statistical criterions", IEEE CEC); Lacour, Klamroth & Fonseca 2017
 * ("A box decomposition algorithm to compute the hypervolume indicator", Comput. Oper. Res. 79)
 * bound the count by O(P^floor(K/2)). Box counts measured here on random fronts (P points on the
 * positive unit sphere, all non-dominated; ref 0; seeds 1..5, mean; without the merging of
 * recurring sub-boxes in parentheses):
 *   K = 3: P = 10 -> 21 (39),  P = 30 -> 61 (209),   P = 50 -> 101 (422);
 *   K = 4: P = 10 -> 43 (158), P = 30 -> 148 (1339), P = 50 -> 264 (3935).
 * (K = 3 gives 2P' + 1 on these fronts.) Cost: O(P) sub-decompositions per level, each recomputed
 * from scratch, so roughly O(P^(K-1)) time. The sweep runs in rank space (each coordinate replaced
 * by its rank among its objective's distinct values: the same comparisons, integer boxes), boxes
 * are interned so that matching a sub-box between slabs is one map lookup, the last two objectives
 * are the staircase in one pass, and a decomposition over `maxBoxes` stops early on a lower bound
 * of its final count (see `Decomposition.decompose`): on the sphere fronts of the latency bench
 * (bench/multi-objective-latency.ts --front; bench/surrogate.md, 2026-12-06), K = 5, P = 100
 * (1,949 boxes) takes about 50 ms and the failing P = 400 at maxBoxes 2,048 about 60 ms.
 *
 * Boundaries have measure zero, so whether a point on a box face counts as dominated does not
 * change any volume.
 */
import { InvalidOptionError } from '../../errors.js';

/**
 * The region above `ref` that no point of `points` weakly dominates, as disjoint axis-aligned boxes.
 *
 * `points`: `p` rows of `k` values, row-major, any order; dominated points, duplicates and points not
 * strictly above `ref` in every objective are allowed (the last dominate nothing of positive volume
 * above `ref` and are ignored). `-Infinity` is a value like any other ("not above ref"); `NaN` and
 * `+Infinity` are rejected (a point at `+Infinity` would dominate an unbounded region).
 * `ref`: `k` finite values. `maxBoxes`: a positive integer or `Infinity`.
 *
 * Returns `null` when the decomposition needs more than `maxBoxes` boxes, else `B * 2k` values,
 * row-major, each row `[lower_0..lower_{k-1}, upper_0..upper_{k-1}]`, every lower finite and
 * `>= ref`, `upper > lower`, upper possibly `+Infinity`. With no point above `ref`: the one box
 * `[ref, +Infinity)^k`. For `k = 1` one box `[max(ref, best), +Infinity)`; for `k = 2` exactly
 * `P' + 1` boxes for `P'` distinct non-dominated points above `ref`.
 *
 * @throws InvalidOptionError naming the argument (`p`, `k`, `points`, `points[i]`, `ref`, `ref[j]`,
 *   `maxBoxes`) when a shape or value is invalid.
 */
export function nonDominatedBoxes(
  points: Float64Array,
  p: number,
  k: number,
  ref: Float64Array,
  maxBoxes: number,
): Float64Array | null {
  validateShape(points, p, k, ref);
  if (!(maxBoxes === Infinity || (Number.isSafeInteger(maxBoxes) && maxBoxes >= 1))) {
    throw new InvalidOptionError('maxBoxes', 'a positive integer or Infinity', maxBoxes);
  }

  const front = paretoFront(points, p, k, ref);
  if (k === 1) {
    let best = ref[0];
    for (const row of front) best = Math.max(best, row[0]);
    return Float64Array.of(best, Infinity);
  }
  return new Decomposition(front, ref).boxes(maxBoxes);
}

/**
 * An upper bound on the number of boxes `nonDominatedBoxes` returns for `p` points in `k`
 * objectives: (p + 1)^(k - 1), exact for k <= 2 when the p points are distinct and non-dominated
 * (the staircase's p + 1). By induction on the sweep (`Decomposition.decompose`): over the last two
 * objectives at most one box per point plus one; above, every box is the first box left open or
 * a box of one of at most p slabs' sub-decompositions, so C(d) <= 1 + p C(d + 1) <= (p + 1)^(k - 1 - d).
 * A front of p points with (p + 1)^(k - 1) <= maxBoxes therefore always fits (for 2,048 boxes: 2,047
 * points with two objectives, 44 with three, 11 with four, 5 with five), which stored-front-size.ts
 * uses to reject recorded sizes no failing decomposition could have led to.
 */
export function boxCountBound(p: number, k: number): number {
  return (p + 1) ** (k - 1);
}

/**
 * One decomposition, in rank space: coordinate j of a point is replaced by its rank among the
 * distinct values of objective j (0 = ref_j, the last = +inf), which keeps every comparison the
 * sweep makes and turns boxes into small integers. A box over objectives d..K-1 is interned as an
 * id of (lower_d, upper_d, id of its sub-box over d+1..K-1; -1 below the last objective), so equal
 * boxes get equal ids and "the sub-box recurs in the next slab" is an id lookup.
 */
class Decomposition {
  private readonly k: number;
  /** `rank[i * k + j]`: the rank of front[i][j]. */
  private readonly rank: Int32Array;
  /** `values[j][r]`: the value of rank r in objective j. */
  private readonly values: Float64Array[];
  private readonly radix: number;
  private readonly lowerOf: number[] = [];
  private readonly upperOf: number[] = [];
  private readonly subOf: number[] = [];
  private readonly ids = new Map<number | string, number>();
  /** `empty[d]`: the id of [ref_d.., +inf), the decomposition of no point over objectives d..K-1. */
  private readonly empty: number[];

  constructor(front: readonly Float64Array[], ref: Float64Array) {
    const k = ref.length;
    this.k = k;
    this.rank = new Int32Array(front.length * k);
    this.values = [];
    for (let j = 0; j < k; j++) {
      const distinct = [...new Set(front.map((row) => row[j]))].sort((a, b) => a - b);
      const rankOf = new Map(distinct.map((v, r) => [v, r + 1]));
      front.forEach((row, i) => (this.rank[i * k + j] = rankOf.get(row[j]) as number));
      const values = new Float64Array(distinct.length + 2);
      values[0] = ref[j];
      values.set(distinct, 1);
      values[distinct.length + 1] = Infinity;
      this.values.push(values);
    }
    this.radix = Math.max(...this.values.map((v) => v.length));
    this.empty = new Array<number>(k);
    for (let d = k - 1, sub = -1; d >= 0; d--) sub = this.empty[d] = this.intern(0, this.top(d), sub);
  }

  /** The boxes as `nonDominatedBoxes` returns them, or null when there are more than `maxBoxes`. */
  boxes(maxBoxes: number): Float64Array | null {
    const k = this.k;
    const n = this.rank.length / k;
    // Sorted by objective 0, descending; ties in input order (the sweep's stable sort).
    const active = Array.from({ length: n }, (_, i) => i).sort((a, b) => this.rank[b * k] - this.rank[a * k]);
    const ids = this.decompose(active, 0, maxBoxes);
    if (ids === null) return null;
    const out = new Float64Array(ids.length * 2 * k);
    ids.forEach((id, b) => {
      for (let j = 0; j < k; j++, id = this.subOf[id]) {
        out[b * 2 * k + j] = this.values[j][this.lowerOf[id]];
        out[b * 2 * k + k + j] = this.values[j][this.upperOf[id]];
      }
    });
    return out;
  }

  /** The rank of +inf in objective d. */
  private top(d: number): number {
    return this.values[d].length - 1;
  }

  private intern(lower: number, upper: number, sub: number): number {
    const numeric = ((sub + 1) * this.radix + lower) * this.radix + upper;
    const key = Number.isSafeInteger(numeric) ? numeric : `${sub},${lower},${upper}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.lowerOf.length;
      this.lowerOf.push(lower);
      this.upperOf.push(upper);
      this.subOf.push(sub);
      this.ids.set(key, id);
    }
    return id;
  }

  /**
   * The ids of the boxes over objectives d..K-1 of the non-dominated region of the rows `active`
   * (sorted by objective d, descending), in the order of the sweep; null when there are more than
   * `budget`.
   *
   * The count closed + open never decreases along the sweep, and each later cut raises it by at
   * least one (the new point removes part of a box unbounded in the last objective, whose rest
   * needs a new box), so closed + open + (cuts still to come) bounds the final count from below:
   * the sweep stops as soon as that is over `budget`, and a sub-decomposition gets as budget what
   * is left of it after the closed boxes and the cuts still to come.
   */
  private decompose(active: readonly number[], d: number, budget: number): number[] | null {
    const k = this.k;
    const rank = this.rank;
    const m = active.length;
    if (d === k - 2) {
      // Two objectives left: the staircase, one box closed per point that raises the best
      // value of the last objective.
      const closed: number[] = [];
      let best = 0;
      let upper = this.top(d);
      for (let s = 0; s < m; ) {
        const value = rank[active[s] * k + d];
        let next = best;
        for (; s < m && rank[active[s] * k + d] === value; s++) next = Math.max(next, rank[active[s] * k + d + 1]);
        if (next > best) {
          if (closed.length + 2 > budget) return null;
          closed.push(this.intern(value, upper, this.intern(best, this.top(d + 1), -1)));
          upper = value;
          best = next;
        }
      }
      closed.push(this.intern(0, upper, this.intern(best, this.top(d + 1), -1)));
      return closed.length > budget ? null : closed;
    }

    // Which points reach the slabs below them: those no earlier point weakly dominates in d+1..
    const adds = new Uint8Array(m);
    const added: number[] = [];
    let cuts = 0;
    for (let s = 0; s < m; ) {
      const value = rank[active[s] * k + d];
      let cutsHere = false;
      for (; s < m && rank[active[s] * k + d] === value; s++) {
        const i = active[s];
        if (!added.some((j) => this.weaklyDominates(j, i, d + 1))) {
          added.push(i);
          adds[s] = 1;
          cutsHere = true;
        }
      }
      if (cutsHere) cuts++;
    }
    if (1 + cuts > budget) return null;

    const closed: number[] = [];
    let open = new Map<number, number>([[this.empty[d + 1], this.top(d)]]); // sub-box id -> upper_d
    const reached: number[] = []; // the points reaching the current slab, by objective d+1 descending
    for (let s = 0; s < m; ) {
      const value = rank[active[s] * k + d];
      let cutsHere = false;
      for (; s < m && rank[active[s] * k + d] === value; s++) {
        if (adds[s]) {
          this.insertSorted(reached, active[s], d + 1);
          cutsHere = true;
        }
      }
      if (!cutsHere) continue;
      cuts--;
      const sub = this.decompose(reached, d + 1, budget - closed.length - cuts);
      if (sub === null) return null;
      const next = new Map<number, number>();
      for (const id of sub) next.set(id, open.get(id) ?? value);
      for (const [id, upper] of open) if (!next.has(id)) closed.push(this.intern(value, upper, id));
      open = next;
      if (closed.length + open.size + cuts > budget) return null;
    }
    for (const [id, upper] of open) closed.push(this.intern(0, upper, id));
    return closed;
  }

  /** Whether row a >= row b in every objective from `from` on. */
  private weaklyDominates(a: number, b: number, from: number): boolean {
    const k = this.k;
    for (let j = from; j < k; j++) if (this.rank[a * k + j] < this.rank[b * k + j]) return false;
    return true;
  }

  /** Inserts row i into `rows` (sorted by objective d, descending) after the rows it ties with. */
  private insertSorted(rows: number[], i: number, d: number): void {
    const k = this.k;
    const v = this.rank[i * k + d];
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.rank[rows[mid] * k + d] >= v) lo = mid + 1;
      else hi = mid;
    }
    rows.splice(lo, 0, i);
  }
}

/**
 * Hypervolume improvement of `y` (`k` values) over the region `boxes` describe (rows of
 * `nonDominatedBoxes`): sum over boxes of prod_k max(0, min(upper_k, y_k) - lower_k). Not validated
 * beyond shapes (it runs inside acquisition loops): a `NaN` in `y` gives `NaN`; `+/-Infinity` in `y`
 * is a value like any other (a box with a side at or below its lower bound adds 0).
 *
 * @throws InvalidOptionError when `k` is not a positive integer, `boxes.length` is not a multiple of
 *   `2k`, or `y.length !== k`.
 */
export function hypervolumeImprovement(boxes: Float64Array, k: number, y: ArrayLike<number>): number {
  if (!Number.isSafeInteger(k) || k < 1) throw new InvalidOptionError('k', 'a positive integer', k);
  if (boxes.length % (2 * k) !== 0) {
    throw new InvalidOptionError('boxes', `a length that is a multiple of 2k = ${2 * k}`, boxes.length);
  }
  if (y.length !== k) throw new InvalidOptionError('y', `length k = ${k}`, y.length);
  let sum = 0;
  for (let b = 0; b < boxes.length; b += 2 * k) {
    let volume = 1;
    for (let j = 0; j < k; j++) {
      const side = Math.min(boxes[b + k + j], y[j]) - boxes[b + j];
      if (Number.isNaN(side)) return Number.NaN; // a NaN in y (lowers are finite)
      // A side <= 0 ends the box at 0 even after an infinite one (Infinity * 0 would be NaN).
      if (side <= 0) {
        volume = 0;
        break;
      }
      volume *= side;
    }
    sum += volume;
  }
  return sum;
}

function validateShape(points: Float64Array, p: number, k: number, ref: Float64Array): void {
  if (!Number.isSafeInteger(p) || p < 0) throw new InvalidOptionError('p', 'a non-negative integer', p);
  if (!Number.isSafeInteger(k) || k < 1) throw new InvalidOptionError('k', 'a positive integer', k);
  if (!(points instanceof Float64Array) || points.length !== p * k) {
    throw new InvalidOptionError('points', `a Float64Array of length p * k = ${p * k}`, points instanceof Float64Array ? points.length : points);
  }
  if (!(ref instanceof Float64Array) || ref.length !== k) {
    throw new InvalidOptionError('ref', `a Float64Array of length k = ${k}`, ref instanceof Float64Array ? ref.length : ref);
  }
  for (let j = 0; j < k; j++) {
    if (!Number.isFinite(ref[j])) throw new InvalidOptionError(`ref[${j}]`, 'a finite number', ref[j]);
  }
  for (let i = 0; i < points.length; i++) {
    const v = points[i];
    if (Number.isNaN(v) || v === Infinity) {
      throw new InvalidOptionError(`points[${i}]`, 'a finite number or -Infinity (row-major, row i / k, objective i % k)', v);
    }
  }
}

/** The distinct non-dominated rows strictly above `ref` in every objective. */
function paretoFront(points: Float64Array, p: number, k: number, ref: Float64Array): Float64Array[] {
  const above: Float64Array[] = [];
  for (let i = 0; i < p; i++) {
    const row = points.subarray(i * k, (i + 1) * k);
    let ok = true;
    for (let j = 0; j < k && ok; j++) ok = row[j] > ref[j];
    if (ok) above.push(row);
  }
  // Keep row i unless another row weakly dominates it; of equal rows keep the first.
  return above.filter((row, i) =>
    above.every((other, j) => j === i || !weaklyDominates(other, row, 0) || (j > i && equalRows(other, row))),
  );
}

/**
 * Indices of the rows of `points` (p rows of k values, larger is better) that no other row weakly
 * dominates; of equal rows the first. Ascending.
 */
export function nonDominatedIndices(points: Float64Array, p: number, k: number): number[] {
  const rows = Array.from({ length: p }, (_, i) => points.subarray(i * k, (i + 1) * k));
  const out: number[] = [];
  rows.forEach((row, i) => {
    if (rows.every((other, j) => j === i || !weaklyDominates(other, row, 0) || (j > i && equalRows(other, row)))) out.push(i);
  });
  return out;
}

/** Whether a >= b in every objective from `from` on. */
function weaklyDominates(a: Float64Array, b: Float64Array, from: number): boolean {
  for (let j = from; j < a.length; j++) if (a[j] < b[j]) return false;
  return true;
}

function equalRows(a: Float64Array, b: Float64Array): boolean {
  for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return false;
  return true;
}
