import { InvalidOptionError } from '../errors.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';
import { checkOptionsObject, intOption } from './options.js';
import type { Pruner } from './pruner.js';
import { isFirstInIntervalStep, sortedSteps } from './steps.js';

/** Options of `new ThresholdPruner(...)`; an unknown name throws `InvalidOptionError`. */
export interface ThresholdPrunerOptions {
  /** Prune when the latest value is below this. At least one of `lower` and `upper` is required. */
  readonly lower?: number;
  /** Prune when the latest value is above this. */
  readonly upper?: number;
  /** No pruning while the trial's last step is below this. Default 0. */
  readonly nWarmupSteps?: number;
  /** Checks every `intervalSteps` steps after the warm-up. Default 1. */
  readonly intervalSteps?: number;
}

const OPTION_KEYS = ['lower', 'upper', 'nWarmupSteps', 'intervalSteps'] as const;

/**
 * Optuna's `ThresholdPruner` (`optuna/pruners/_threshold.py`): prunes when the value reported at
 * the latest step is NaN, below `lower` or above `upper`, once past `nWarmupSteps` and on the
 * pruning interval. It looks at no other trial.
 */
export class ThresholdPruner implements Pruner {
  readonly name = 'threshold';
  readonly lower: number;
  readonly upper: number;
  readonly nWarmupSteps: number;
  readonly intervalSteps: number;

  constructor(options: ThresholdPrunerOptions) {
    checkOptionsObject(options, OPTION_KEYS, 'ThresholdPruner', true);
    if (options.lower === undefined && options.upper === undefined) {
      throw new InvalidOptionError('lower', 'a number for lower or upper (at least one of them)', undefined);
    }
    this.lower = bound('lower', options.lower, -Infinity);
    this.upper = bound('upper', options.upper, Infinity);
    if (this.lower > this.upper) {
      throw new InvalidOptionError('lower', `a number <= upper (${this.upper})`, this.lower);
    }
    this.nWarmupSteps = intOption('nWarmupSteps', options.nWarmupSteps, 0, 0);
    this.intervalSteps = intOption('intervalSteps', options.intervalSteps, 1, 1);
  }

  prune(_study: StudyView, trial: FrozenTrial): boolean {
    const steps = sortedSteps(trial);
    if (steps.length === 0) return false;
    const step = steps[steps.length - 1];
    if (step < this.nWarmupSteps) return false;
    if (!isFirstInIntervalStep(step, steps, this.nWarmupSteps, this.intervalSteps)) return false;
    const latest = trial.intermediateValues[step];
    if (Number.isNaN(latest)) return true;
    return latest < this.lower || latest > this.upper;
  }
}

function bound(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new InvalidOptionError(name, 'a number (not NaN)', value);
  }
  return value;
}
