/**
 * Non-dominated sorting and crowding distance for NSGA-II.
 *
 * Notation:
 *   n           number of individuals
 *   m           number of objectives
 *   losses[i]   the m objective values of individual i, all to be MINIMIZED (a maximized
 *               objective is negated by the caller)
 *   penalty[i]  constraint violation sum_k max(0, c_ik) >= 0; 0 means feasible
 *   rank[i]     0-based index of the non-dominated front of i (0 = the Pareto front)
 *
 * Sources:
 * - Fast non-dominated sort and crowding distance: K. Deb, A. Pratap, S. Agarwal, T. Meyarivan,
 *   "A fast and elitist multiobjective genetic algorithm: NSGA-II", IEEE Trans. Evol. Comput. 6(2),
 *   2002, Sections III-A (fast-non-dominated-sort) and III-B (crowding-distance-assignment).
 * - Two objectives in O(n log n): M. T. Jensen, "Reducing the run-time complexity of multiobjective
 *   EAs: the NSGA-II and other algorithms", IEEE Trans. Evol. Comput. 7(5), 2003 (the 2-D sweep).
 * - Constrained domination: same paper, Section VI ("constrained-domination"), in the form Optuna's
 *   `_fast_non_domination_rank(loss_values, penalty=...)` implements: feasible individuals are
 *   ranked among themselves first; infeasible ones come after every feasible front, ranked by their
 *   penalty alone (equal penalties share a front).
 *
 * Crowding distance follows Optuna's `_calc_crowding_distance`: an objective whose values are all
 * equal within the front contributes nothing (its extremes are not made infinite); otherwise the
 * extremes get +Infinity and interior points add (f[j+1] - f[j-1]) / (f_max - f_min). Terms that are
 * not finite numbers (infinite objective values give Infinity - Infinity) are skipped.
 */

/** True when loss vector `a` Pareto-dominates `b` (no worse in every objective, better in one). */
export function dominates(a: readonly number[], b: readonly number[]): boolean {
  let strictlyBetter = false;
  for (let k = 0; k < a.length; k++) {
    if (a[k] > b[k]) return false;
    if (a[k] < b[k]) strictlyBetter = true;
  }
  return strictlyBetter;
}

/**
 * Front index of every individual: the front index equals the length of the longest chain of
 * individuals dominating it (Deb et al. 2002, fast-non-dominated-sort, gives the same fronts).
 * Identical loss vectors never dominate each other and share a front.
 *
 * Computed in lexicographic order of the losses, where every dominator of an individual comes
 * before it: one objective, a sort; two, the sweep of Jensen (IEEE Trans. Evol. Comput. 7(5),
 * 2003) in O(n log n): the fronts' smallest second losses are non-decreasing in the front index,
 * so a binary search finds the first front none of whose members dominates the individual; more,
 * each individual is compared with the fronts found so far, from the last one down, in O(m n^2)
 * time and O(n) memory. (Deb's version keeps, for every individual, the list of those it
 * dominates: O(n^2) memory, ~350 MB for 10,000 points on a chain.)
 */
export function nonDominatedRanks(losses: readonly (readonly number[])[]): Int32Array {
  const n = losses.length;
  const rank = new Int32Array(n);
  if (n === 0) return rank;
  const m = losses[0].length;
  if (m === 1) return scalarRanks(losses.map((l) => l[0]));
  const order = losses.map((_, i) => i).sort((a, b) => lexicographic(losses[a], losses[b]) || a - b);
  if (m === 2) {
    // minSecond[k]: the smallest second loss in front k so far (non-decreasing in k).
    const minSecond: number[] = [];
    for (let p = 0; p < n; p++) {
      const i = order[p];
      const prev = p > 0 ? order[p - 1] : -1;
      if (prev >= 0 && losses[prev][0] === losses[i][0] && losses[prev][1] === losses[i][1]) {
        rank[i] = rank[prev];
        continue;
      }
      const y = losses[i][1];
      let lo = 0;
      let hi = minSecond.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (minSecond[mid] <= y) lo = mid + 1;
        else hi = mid;
      }
      rank[i] = lo;
      if (lo === minSecond.length) minSecond.push(y);
      else if (y < minSecond[lo]) minSecond[lo] = y;
    }
    return rank;
  }
  const fronts: number[][] = [];
  for (const i of order) {
    let r = 0;
    for (let k = fronts.length - 1; k >= 0; k--) {
      if (fronts[k].some((j) => dominates(losses[j], losses[i]))) {
        r = k + 1;
        break;
      }
    }
    rank[i] = r;
    if (r === fronts.length) fronts.push([]);
    fronts[r].push(i);
  }
  return rank;
}

/** Negative, 0 or positive as `a` comes before, with or after `b` in lexicographic order. */
function lexicographic(a: readonly number[], b: readonly number[]): number {
  for (let k = 0; k < a.length; k++) {
    if (a[k] < b[k]) return -1;
    if (a[k] > b[k]) return 1;
  }
  return 0;
}

/** One objective: the rank is the number of distinct smaller values (a sort, O(n log n)). */
function scalarRanks(values: readonly number[]): Int32Array {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const rank = new Int32Array(values.length);
  let r = 0;
  for (let i = 0; i < order.length; i++) {
    if (i > 0 && values[order[i]] !== values[order[i - 1]]) r++;
    rank[order[i]] = r;
  }
  return rank;
}

/**
 * Front index under constrained domination. `penalties` null: plain `nonDominatedRanks`.
 * Otherwise feasible individuals (penalty 0) take fronts 0..F-1 by their losses and infeasible ones
 * fronts F.. by their penalty (smaller violation first).
 */
export function constrainedRanks(
  losses: readonly (readonly number[])[],
  penalties: readonly number[] | null,
): Int32Array {
  if (penalties === null) return nonDominatedRanks(losses);
  const n = losses.length;
  const feasible: number[] = [];
  const infeasible: number[] = [];
  for (let i = 0; i < n; i++) (penalties[i] > 0 ? infeasible : feasible).push(i);
  const rank = new Int32Array(n);
  const feasibleRanks = nonDominatedRanks(feasible.map((i) => losses[i]));
  let nFeasibleFronts = 0;
  feasible.forEach((i, k) => {
    rank[i] = feasibleRanks[k];
    nFeasibleFronts = Math.max(nFeasibleFronts, feasibleRanks[k] + 1);
  });
  const infeasibleRanks = scalarRanks(infeasible.map((i) => penalties[i]));
  infeasible.forEach((i, k) => {
    rank[i] = nFeasibleFronts + infeasibleRanks[k];
  });
  return rank;
}

/**
 * Crowding distance of each member of one front (Deb et al. 2002, crowding-distance-assignment),
 * `front` holding indices into `losses`; the result is aligned with `front`.
 */
export function crowdingDistances(losses: readonly (readonly number[])[], front: readonly number[]): Float64Array {
  const size = front.length;
  const distance = new Float64Array(size);
  if (size === 0) return distance;
  const m = losses[front[0]].length;
  const order = front.map((_, k) => k);
  for (let obj = 0; obj < m; obj++) {
    const value = (k: number): number => losses[front[k]][obj];
    order.sort((a, b) => value(a) - value(b) || a - b);
    const lo = value(order[0]);
    const hi = value(order[size - 1]);
    const width = hi - lo;
    if (width === 0) continue;
    distance[order[0]] = Number.POSITIVE_INFINITY;
    distance[order[size - 1]] = Number.POSITIVE_INFINITY;
    for (let j = 1; j < size - 1; j++) {
      const term = (value(order[j + 1]) - value(order[j - 1])) / width;
      if (Number.isFinite(term)) distance[order[j]] += term;
    }
  }
  return distance;
}

/** Groups individual indices by front: result[r] lists the members of front r in index order. */
export function frontsOf(rank: Int32Array): number[][] {
  const fronts: number[][] = [];
  for (let i = 0; i < rank.length; i++) {
    while (fronts.length <= rank[i]) fronts.push([]);
    fronts[rank[i]].push(i);
  }
  return fronts.filter((f) => f.length > 0);
}
