import { InvalidOptionError } from '../errors.js';
import { fromUnit } from '../space/encode.js';
import type { Distribution, ParamValue } from '../space/types.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';
import { deriveUnit, resolveSeed } from '../util/prng.js';
import type { Sampler } from './sampler.js';

/** Options of `new RandomSampler(...)`; an unknown name throws `InvalidOptionError`. */
export interface RandomSamplerOptions {
  /** Seed (safe integer). Default: a random seed from crypto. */
  readonly seed?: number;
}

/**
 * Validates a sampler options argument: undefined or a plain object whose keys are all in
 * `allowed` (a misspelt option is an InvalidOptionError naming it, not silently ignored).
 */
export function checkSamplerOptions<T extends object>(
  sampler: string,
  options: T | undefined,
  allowed: readonly string[],
): T | Record<string, never> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError(`${sampler} options`, 'an object', options);
  }
  checkOptionsObject(options, allowed, sampler);
  return options;
}

const OPTION_KEYS = optionKeys<RandomSamplerOptions>()(['seed']);

/**
 * Independent uniform sampling (log-uniform for `log`, uniform over the grid points of ints and
 * stepped floats, uniform over categorical choices).
 *
 * The value of parameter `name` in trial number `t` is `fromUnit(distribution, u)` with
 * u = deriveUnit(seed, t, name): it depends only on (seed, t, name), so a seeded study is
 * reproducible however its trials interleave across workers. Allocation-free apart from the hash.
 */
export class RandomSampler implements Sampler {
  readonly name = 'random';
  readonly seed: number;

  constructor(options?: RandomSamplerOptions) {
    const opts = checkSamplerOptions('RandomSampler', options, OPTION_KEYS);
    this.seed = resolveSeed('seed', opts.seed);
  }

  sampleIndependent(_study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue {
    return fromUnit(distribution, deriveUnit(this.seed, trial.number, name));
  }
}
