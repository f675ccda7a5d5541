/**
 * The candidate points an acquisition maximization scores before refining the best of them
 * (both backends' `optimizeAcquisition`, so that they score the same points for the same seed).
 *
 * Notation: d input dims in the unit cube (encoded), c the best observation's inputs (the
 * training row with the largest y), sigma = LOCAL_CANDIDATE_SIGMA.
 *
 * - `nSobol` scrambled Sobol points (src/util/sobol.ts) cover the whole cube;
 * - after every LOCAL_CANDIDATE_EVERY of them comes one local candidate, c + N(0, sigma^2 I)
 *   clipped to [0, 1] on continuous and ordinal dims (ordinal ones are snapped to their grid by
 *   the caller, as every candidate is), c's own choice on categorical dims. Interleaving keeps
 *   the mix in any prefix, which is what the native large-n budget scores
 *   (native/core/gp.cc `acquisition_budget`).
 *
 * Why local candidates: the Sobol points are spread over the cube, so late in a run, when the
 * acquisition's maximum sits within a few hundredths of the incumbent, few of them land near it
 * and the local searches start far away. BoTorch adds perturbations of the best points to its
 * raw samples for the same reason (`sample_around_best`). Measured over seeds 0-39 and,
 * out of sample, 40-79 (bench/quality.md): regret at 60 / 100 evaluations lower on all five
 * test functions at 100 (paired geometric mean x0.6-0.98) with sigma 0.02 and one local
 * candidate per ten Sobol points; sigma 0.05 or 0.005 helped less.
 */
import { Rng, deriveSeed } from '../util/prng.js';
import { SobolSequence } from '../util/sobol.js';

/** Standard deviation of a local candidate around the best observation, per encoded dim. */
export const LOCAL_CANDIDATE_SIGMA = 0.02;
/** One local candidate after every this many Sobol candidates. */
export const LOCAL_CANDIDATE_EVERY = 10;

export interface CandidateOptions {
  readonly d: number;
  /** Scrambled Sobol candidates (`OptimizeAcquisitionOptions.nCandidates`). */
  readonly nSobol: number;
  /** Seed of the Sobol scramble and of the local candidates' draws. */
  readonly seed: number;
  /**
   * The points local candidates go around: rows of d (the best observation's inputs, or several
   * points taken in turn), or null / empty (no observations): no local candidates.
   */
  readonly center: Float64Array | null;
  /** 1 for categorical dims (kept at the centre's choice). */
  readonly isCategorical: Uint8Array;
}

/** The candidates, (count, d) row-major: Sobol points with local candidates interleaved. */
export function acquisitionCandidates(options: CandidateOptions): { readonly x: Float64Array; readonly count: number } {
  const { d, nSobol, seed, center, isCategorical } = options;
  const sobol = new Float64Array(nSobol * d);
  new SobolSequence({ dimension: d, seed, scramble: true }).fill(sobol, nSobol);
  const nCenters = center === null || center.length % d !== 0 ? 0 : center.length / d;
  const nLocal = nCenters === 0 ? 0 : Math.floor(nSobol / LOCAL_CANDIDATE_EVERY);
  if (nLocal === 0) return { x: sobol, count: nSobol };
  const count = nSobol + nLocal;
  const x = new Float64Array(count * d);
  const rng = new Rng(deriveSeed(seed, 'local-candidates'));
  let row = 0;
  for (let i = 0; i < nSobol; i++) {
    x.set(sobol.subarray(i * d, i * d + d), row * d);
    row += 1;
    if ((i + 1) % LOCAL_CANDIDATE_EVERY !== 0) continue;
    const offset = ((i + 1) / LOCAL_CANDIDATE_EVERY - 1) % nCenters; // local candidate k goes around center k mod nCenters
    for (let j = 0; j < d; j++) {
      const c = (center as Float64Array)[offset * d + j];
      x[row * d + j] = isCategorical[j] === 1 ? c : Math.min(1, Math.max(0, c + LOCAL_CANDIDATE_SIGMA * rng.normal()));
    }
    row += 1;
  }
  return { x, count };
}
