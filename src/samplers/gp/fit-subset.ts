/**
 * Which observations a Gaussian-process fit at large n runs on (GpSampler's refit policy, and the
 * per-column models of column-models.ts): above `fitSubsetMax` rows one likelihood evaluation costs
 * O(n^3), so the hyperparameters are fitted on a subset and the full model is then built at them.
 */
import { InvalidOptionError } from '../../errors.js';
import { deriveSeed } from '../../util/prng.js';

export interface SelectFitSubsetOptions {
  /** One id per observation (unique). */
  readonly trialIds: readonly number[];
  /** The observations' targets, larger is better (the GP maximizes). */
  readonly values: ArrayLike<number>;
  /** Subset size (all observations when there are at most this many). */
  readonly size: number;
  /** How many of the best observations are always kept (at most `size`). */
  readonly nBest: number;
  /** Seed of the sample of the rest. */
  readonly seed: number;
}

/**
 * The observations the hyperparameters are fitted on at large n: the `nBest` best (ties by
 * smaller trial id), then the `size - nBest` others with the smallest key deriveSeed(seed, id)
 * (a bottom-k sample: uniform, deterministic for a seed, and stable as observations are added).
 * Returns trial ids, the best first (by value), then the sample (by key).
 */
export function selectFitSubset(options: SelectFitSubsetOptions): number[] {
  const { trialIds, values, size, nBest, seed } = options;
  if (values.length !== trialIds.length) {
    throw new InvalidOptionError('values', `${trialIds.length} values (one per trial id)`, values.length);
  }
  if (!Number.isInteger(size) || size < 1) throw new InvalidOptionError('size', 'an integer >= 1', size);
  if (!Number.isInteger(nBest) || nBest < 0 || nBest > size) {
    throw new InvalidOptionError('nBest', `an integer in [0, ${size}]`, nBest);
  }
  const order = trialIds.map((_, i) => i);
  if (order.length <= size) return order.sort((a, b) => trialIds[a] - trialIds[b]).map((i) => trialIds[i]);
  order.sort((a, b) => values[b] - values[a] || trialIds[a] - trialIds[b]);
  const best = order.slice(0, nBest);
  const rest = order.slice(nBest).map((i) => ({ i, key: deriveSeed(seed, trialIds[i]) }));
  rest.sort((a, b) => a.key - b.key || trialIds[a.i] - trialIds[b.i]);
  return [...best, ...rest.slice(0, size - nBest).map((r) => r.i)].map((i) => trialIds[i]);
}
