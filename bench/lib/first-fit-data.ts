/**
 * bench/first-fit.ts's inputs: the first n observations of a minimized history, encoded as
 * GpSampler encodes them for a first fit (src/samplers/gp/gp-sampler.ts), and the screen's subset.
 */
import { selectFitSubset } from '../../src/samplers/gp/gp-sampler.js';
import type { GpTrainingData } from '../../src/surrogate/backend.js';
import { fitOutcomeTransform } from '../../src/surrogate/outcome-transform.js';

/** Evaluated points (in the parameters' own units, float dims) and their minimized values. */
export interface MinimizedHistory {
  readonly bounds: readonly (readonly [number, number])[];
  readonly params: readonly (readonly number[])[];
  readonly values: readonly number[];
}

/** Size of a first fit's screen and how many of its rows are the best observations (GpSampler's defaults). */
export const SCREEN_SIZE = 128;
export const SCREEN_BEST = 32;
/** L-BFGS-B iterations per start of that screen (GpSampler's COLD_FIT_SCREEN_ITERATIONS). */
export const SCREEN_ITERATIONS = 15;

/**
 * The first `n` observations as GpSampler's default first fit sees them: inputs on the unit cube,
 * targets the negated values (the GP maximizes) through the power outcome transform with the
 * worst-observed prior mean, fitted on those n; and the screen, `selectFitSubset` of SCREEN_SIZE
 * rows (the SCREEN_BEST best, i.e. lowest values, then a sample seeded by `seed`).
 */
export function firstFitData(history: MinimizedHistory, n: number, seed: number): { all: GpTrainingData; screen: GpTrainingData } {
  if (history.values.length < n) throw new Error(`${history.values.length} evaluations, fewer than ${n}`);
  const d = history.bounds.length;
  const targets = Float64Array.from(history.values.slice(0, n), (v) => -v);
  const outcome = fitOutcomeTransform(targets, 'power', 'worst-observed');
  const encode = (ids: readonly number[]): GpTrainingData => ({
    x: Float64Array.from(ids.flatMap((i) => history.params[i].map((u, j) => (u - history.bounds[j][0]) / (history.bounds[j][1] - history.bounds[j][0])))),
    y: Float64Array.from(ids, (i) => outcome.apply(targets[i])),
    n: ids.length,
    d,
    isCategorical: new Uint8Array(d),
  });
  const ids = Array.from({ length: n }, (_, i) => i);
  const screenIds = selectFitSubset({ trialIds: ids, values: targets, size: SCREEN_SIZE, nBest: SCREEN_BEST, seed });
  return { all: encode(ids), screen: encode(screenIds) };
}
