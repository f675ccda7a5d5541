import { InvalidOptionError } from '../errors.js';
import { intersectionSearchSpace } from '../space/intersection.js';
import { isSingle } from '../space/distributions.js';
import { fromUnit } from '../space/encode.js';
import type { Distribution, ParamValue, Params, SearchSpace } from '../space/types.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';
import { deriveSeed, resolveSeed } from '../util/prng.js';
import { setOwn } from '../util/own-keys.js';
import { SOBOL_MAX_DIMENSION, SobolSequence } from '../util/sobol.js';
import { RandomSampler, checkSamplerOptions } from './random-sampler.js';
import type { Sampler } from './sampler.js';
import { optionKeys } from '../util/options.js';

/** Options of `new SobolSampler(...)`; an unknown name throws `InvalidOptionError`. */
export interface SobolSamplerOptions {
  /** Seed of the scrambling and of the independent fallback. Default: a random seed from crypto. */
  readonly seed?: number;
  /** Owen-scramble the sequence (default true). Unscrambled, point 0 is the origin (all lower bounds). */
  readonly scramble?: boolean;
}

/** Every SobolSamplerOptions key, checked against the interface at compile time. */
const OPTION_KEYS = optionKeys<SobolSamplerOptions>()(['seed', 'scramble']);

/**
 * Quasi-random search with a (scrambled) Sobol sequence, Optuna's `QMCSampler(qmc_type="sobol")`.
 *
 * - Relative space: the intersection of the distributions of all COMPLETE trials
 *   (`intersectionSearchSpace`), without single-valued ones, dimensions in sorted name order. The
 *   first trial (no COMPLETE trial yet) is therefore sampled independently.
 * - Point index = `trial.number`, so concurrent trials get distinct points, and a seeded study is
 *   reproducible whatever the completion order once its relative space is settled. Before that
 *   the completion order decides: with concurrent trials, a trial asked before any trial completed
 *   is sampled independently (reproducibly, by its number), one asked after gets its Sobol point
 *   (Optuna's QMCSampler fixes the space from the first trial instead). Coordinate k of the point
 *   is mapped with `fromUnit` (categoricals: choice floor(u * n)).
 * - When the relative space changes (a parameter appears or disappears), the dimensions are
 *   re-indexed: the same trial numbers now index a sequence of another dimension, so the
 *   low-discrepancy property holds per stable space, not across the change.
 * - Parameters outside the relative space (and dimensions beyond the 1111 the Sobol table supports)
 *   are sampled independently, exactly as `RandomSampler` with the same seed would.
 *
 * Without a seed each process scrambles differently; give a seed when several processes share a study.
 */
export class SobolSampler implements Sampler {
  readonly name = 'sobol';
  readonly seed: number;
  readonly scramble: boolean;
  private readonly independent: RandomSampler;
  private cache: { key: string; sequence: SobolSequence; point: Float64Array } | null = null;

  constructor(options?: SobolSamplerOptions) {
    const opts = checkSamplerOptions('SobolSampler', options, OPTION_KEYS);
    this.seed = resolveSeed('seed', opts.seed);
    const scramble = opts.scramble ?? true;
    if (typeof scramble !== 'boolean') throw new InvalidOptionError('scramble', 'a boolean', scramble);
    this.scramble = scramble;
    this.independent = new RandomSampler({ seed: this.seed });
  }

  async inferRelativeSearchSpace(study: StudyView, _trial: FrozenTrial): Promise<SearchSpace> {
    const trials = await study.getTrials({ states: ['COMPLETE'] });
    const space: Record<string, Distribution> = {};
    for (const [name, dist] of Object.entries(intersectionSearchSpace(trials))) {
      if (!isSingle(dist)) setOwn(space, name, dist);
    }
    return space;
  }

  async sampleRelative(_study: StudyView, trial: FrozenTrial, space: SearchSpace): Promise<Params> {
    const names = Object.keys(space).sort().slice(0, SOBOL_MAX_DIMENSION);
    if (names.length === 0) return {};
    const key = names.join('\u0000');
    if (this.cache === null || this.cache.key !== key) {
      const sequence = new SobolSequence({
        dimension: names.length,
        seed: deriveSeed(this.seed, 'sobol-sampler'),
        scramble: this.scramble,
      });
      this.cache = { key, sequence, point: new Float64Array(names.length) };
    }
    const { sequence, point } = this.cache;
    sequence.seek(trial.number).next(point);
    const params: Record<string, ParamValue> = {};
    for (let k = 0; k < names.length; k++) setOwn(params, names[k], fromUnit(space[names[k]], point[k]));
    return params;
  }

  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue {
    return this.independent.sampleIndependent(study, trial, name, distribution);
  }
}
