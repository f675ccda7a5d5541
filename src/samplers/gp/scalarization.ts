/**
 * Several objectives for GpSampler: ParEGO's random augmented Chebyshev scalarization (Knowles 2006,
 * "ParEGO: a hybrid algorithm with on-line landscape approximation for expensive multiobjective
 * optimization problems"; BoTorch's qParEGO draws its weights the same way). Each suggestion draws
 * weights w uniformly from the simplex, normalizes every objective to [0, 1] over the observations
 * (0 the best observed, 1 the worst, as costs), and models the one target
 *
 *   s = -(max_j w_j c_j + rho sum_j w_j c_j),   rho = 0.05,
 *
 * to be maximized: a point that maximizes s for some w is Pareto-optimal (the max term reaches the
 * concave parts of a front that a weighted sum misses; the small sum breaks its ties). Different
 * weights on different suggestions spread the search along the front.
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

/**
 * The scalarized target of each value vector (one per observation, in `directions`' order; finite
 * or infinite, not NaN), to be maximized. An objective whose observed values are all equal (or
 * not finite) contributes cost 0.5 everywhere; infinite values are clipped to the worst or best
 * finite one.
 */
export function scalarize(vectors: readonly (readonly number[])[], directions: readonly StudyDirection[], weights: Float64Array): Float64Array {
  const m = directions.length;
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
  return Float64Array.from(vectors, (v) => {
    let max = Number.NEGATIVE_INFINITY;
    let sum = 0;
    for (let j = 0; j < m; j++) {
      // Halves: the span of finite doubles of both signs can overflow, half of it cannot.
      const halfSpan = hi[j] / 2 - lo[j] / 2;
      let cost = 0.5;
      if (halfSpan > 0) {
        // Cost in [0, 1]: 0 at the best observed value of objective j, 1 at the worst.
        const clipped = Math.min(hi[j], Math.max(lo[j], v[j]));
        const above = (clipped / 2 - lo[j] / 2) / halfSpan;
        cost = directions[j] === 'minimize' ? above : 1 - above;
      }
      max = Math.max(max, weights[j] * cost);
      sum += weights[j] * cost;
    }
    return -(max + CHEBYSHEV_RHO * sum);
  });
}
