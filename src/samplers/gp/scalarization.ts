/**
 * Several objectives for GpSampler: ParEGO's random augmented Chebyshev scalarization (Knowles 2006,
 * "ParEGO: a hybrid algorithm with on-line landscape approximation for expensive multiobjective
 * optimization problems"; BoTorch's qParEGO draws its weights the same way). Each suggestion draws
 * weights w uniformly from the simplex, normalizes every objective by the range of the observed
 * Pareto front (cost 0 at its best value, 1 at its worst, the ideal and nadir points; dominated
 * values beyond the nadir count up to 3), and models the one target
 *
 *   s = -(max_j w_j c_j + rho sum_j w_j c_j),   rho = 0.05,
 *
 * to be maximized: a point that maximizes s for some w is Pareto-optimal (the max term reaches the
 * concave parts of a front that a weighted sum misses; the small sum breaks its ties). Different
 * weights on different suggestions spread the search along the front. Normalizing by the front
 * rather than by every observation keeps a few very poor trials from compressing the front into a
 * sliver of the unit range (Branin-Currin's Branin spans 0.4-308, its front about 0.4-100):
 * hypervolume at 60 evaluations 53.5 -> 55.4 there, the two other problems of
 * bench/multi-objective.ts unchanged within the seeds' spread (bench/quality.md).
 */
import type { StudyDirection } from '../../trial/types.js';
import { Rng } from '../../util/prng.js';

/** ParEGO's augmentation coefficient rho. */
export const CHEBYSHEV_RHO = 0.05;

/** m weights drawn uniformly from the simplex (normalized exponentials: Dirichlet(1, ..., 1)). */
export function scalarizationWeights(m: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const w = new Float64Array(m);
  let sum = 0;
  for (let j = 0; j < m; j++) {
    // 1 - u is in (0, 1]: its log is finite.
    w[j] = -Math.log(1 - rng.nextFloat());
    sum += w[j];
  }
  for (let j = 0; j < m; j++) w[j] = sum > 0 ? w[j] / sum : 1 / m;
  return w;
}

/** Costs beyond the front's nadir are clipped at this many front ranges (cost 1 + NADIR_MARGIN). */
export const NADIR_MARGIN = 2;

/**
 * The scalarized target of each value vector (one per observation, in `directions`' order; finite
 * or infinite, not NaN), to be maximized. Costs are normalized by the range of the non-dominated
 * vectors, clipped to [0, 1 + NADIR_MARGIN]. An objective whose front values are all equal (or not
 * finite) contributes cost 0.5 everywhere; infinite values are clipped like any other. An objective
 * the front does not spread is normalized by the range of every observation.
 */
export function scalarize(vectors: readonly (readonly number[])[], directions: readonly StudyDirection[], weights: Float64Array): Float64Array {
  const m = directions.length;
  const front = finiteRange(paretoFront(vectors, directions), m);
  const all = finiteRange(vectors, m);
  // An objective the front does not spread (one front point, or all equal there) takes the range
  // of every observation instead.
  const lo = front.lo.map((v, j) => (front.hi[j] > v ? v : all.lo[j]));
  const hi = front.hi.map((v, j) => (v > front.lo[j] ? v : all.hi[j]));
  return Float64Array.from(vectors, (v) => {
    let max = Number.NEGATIVE_INFINITY;
    let sum = 0;
    for (let j = 0; j < m; j++) {
      // Halves: the span of finite doubles of both signs can overflow, half of it cannot.
      const halfSpan = hi[j] / 2 - lo[j] / 2;
      let cost = 0.5;
      if (halfSpan > 0) {
        // 0 at the front's best value of objective j (the best observed), 1 at its worst, more for
        // dominated values beyond it, up to 1 + NADIR_MARGIN (an infinite value included).
        const beyondBest = directions[j] === 'minimize' ? (v[j] / 2 - lo[j] / 2) / halfSpan : (hi[j] / 2 - v[j] / 2) / halfSpan;
        cost = Math.min(1 + NADIR_MARGIN, Math.max(0, beyondBest));
      }
      max = Math.max(max, weights[j] * cost);
      sum += weights[j] * cost;
    }
    return -(max + CHEBYSHEV_RHO * sum);
  });
}

/** Per objective, the smallest and largest finite value (+Infinity / -Infinity when none). */
function finiteRange(vectors: readonly (readonly number[])[], m: number): { lo: Float64Array; hi: Float64Array } {
  const lo = new Float64Array(m).fill(Number.POSITIVE_INFINITY);
  const hi = new Float64Array(m).fill(Number.NEGATIVE_INFINITY);
  for (const v of vectors) {
    for (let j = 0; j < m; j++) {
      if (Number.isFinite(v[j])) {
        lo[j] = Math.min(lo[j], v[j]);
        hi[j] = Math.max(hi[j], v[j]);
      }
    }
  }
  return { lo, hi };
}

/** The vectors no other vector dominates (better or equal in every objective, better in one). */
function paretoFront(vectors: readonly (readonly number[])[], directions: readonly StudyDirection[]): (readonly number[])[] {
  const m = directions.length;
  const better = (a: number, b: number, j: number): boolean => (directions[j] === 'minimize' ? a < b : a > b);
  const dominates = (a: readonly number[], b: readonly number[]): boolean => {
    let strictly = false;
    for (let j = 0; j < m; j++) {
      if (better(b[j], a[j], j)) return false;
      if (better(a[j], b[j], j)) strictly = true;
    }
    return strictly;
  };
  return vectors.filter((v) => !vectors.some((u) => dominates(u, v)));
}
