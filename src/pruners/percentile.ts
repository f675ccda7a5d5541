import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';
import { checkOptionsObject, intOption, numberOption } from './options.js';
import type { Pruner } from './pruner.js';
import {
  bestIntermediateValue,
  isFirstInIntervalStep,
  nanPercentile,
  pruningDirection,
  sortedSteps,
} from './steps.js';

/** Options of `new PercentilePruner(...)`, Optuna's defaults; an unknown name throws `InvalidOptionError`. */
export interface PercentilePrunerOptions {
  /** In [0, 100]. With 25, a trial is kept only if it is in the best 25 % of trials at its step. */
  readonly percentile: number;
  /** No pruning until this many trials are COMPLETE. Default 5. */
  readonly nStartupTrials?: number;
  /** No pruning while the trial's last step is below this. Default 0 (steps are assumed to start at 0). */
  readonly nWarmupSteps?: number;
  /** Pruning checks happen at `nWarmupSteps + j * intervalSteps` (or the first report after). Default 1. */
  readonly intervalSteps?: number;
  /** No pruning when fewer COMPLETE trials than this reported a value at the current step. Default 1. */
  readonly nMinTrials?: number;
}

const OPTION_KEYS = ['percentile', 'nStartupTrials', 'nWarmupSteps', 'intervalSteps', 'nMinTrials'] as const;

/**
 * Prunes a trial whose best intermediate value so far is worse than the given percentile of the
 * COMPLETE trials' intermediate values at the trial's current step. Optuna's `PercentilePruner`,
 * rule for rule (`optuna/pruners/_percentile.py`):
 *
 * - the trial's side is its BEST value over all its reported steps (not only the current one);
 * - the other side is the percentile (linear interpolation, NaN ignored) of the values that
 *   COMPLETE trials reported at exactly the current step; trials that did not report that step,
 *   and PRUNED or RUNNING trials, do not count. For `maximize` the percentile is mirrored
 *   (`100 - percentile`) and the trial is pruned when its best is below it, for `minimize` when
 *   above it;
 * - no pruning with fewer than `nStartupTrials` COMPLETE trials, before `nWarmupSteps`, off the
 *   interval, or when fewer than `nMinTrials` COMPLETE trials reported the step;
 * - a trial whose every reported value is NaN is pruned (when a check is due).
 *
 * The direction is `study.directions[0]`.
 */
export class PercentilePruner implements Pruner {
  readonly name: string = 'percentile';
  readonly percentile: number;
  readonly nStartupTrials: number;
  readonly nWarmupSteps: number;
  readonly intervalSteps: number;
  readonly nMinTrials: number;

  constructor(options: PercentilePrunerOptions) {
    checkOptionsObject(options, OPTION_KEYS, 'PercentilePruner', true);
    this.percentile = numberOption('percentile', options.percentile, undefined, 0, 100);
    this.nStartupTrials = intOption('nStartupTrials', options.nStartupTrials, 5, 0);
    this.nWarmupSteps = intOption('nWarmupSteps', options.nWarmupSteps, 0, 0);
    this.intervalSteps = intOption('intervalSteps', options.intervalSteps, 1, 1);
    this.nMinTrials = intOption('nMinTrials', options.nMinTrials, 1, 1);
  }

  async prune(study: StudyView, trial: FrozenTrial): Promise<boolean> {
    const steps = sortedSteps(trial);
    if (steps.length === 0) return false;
    const step = steps[steps.length - 1];
    if (step < this.nWarmupSteps) return false;
    if (!isFirstInIntervalStep(step, steps, this.nWarmupSteps, this.intervalSteps)) return false;

    const completed = await study.getTrials({ states: ['COMPLETE'] });
    if (completed.length === 0 || completed.length < this.nStartupTrials) return false;

    const direction = pruningDirection(study.directions);
    const best = bestIntermediateValue(trial, direction);
    if (Number.isNaN(best)) return true;

    const atStep: number[] = [];
    for (const other of completed) {
      const value = other.intermediateValues[step];
      if (value !== undefined) atStep.push(value);
    }
    if (atStep.length < this.nMinTrials) return false;
    const q = direction === 'maximize' ? 100 - this.percentile : this.percentile;
    const threshold = nanPercentile(atStep, q);
    if (Number.isNaN(threshold)) return false;
    return direction === 'maximize' ? best < threshold : best > threshold;
  }
}
