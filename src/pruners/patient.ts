import { InvalidOptionError } from '../errors.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';
import { checkOptionsObject, intOption, numberOption } from './options.js';
import type { Pruner } from './pruner.js';
import { pruningDirection, sortedSteps } from './steps.js';

/** Options of `new PatientPruner(...)`; an unknown name throws `InvalidOptionError`. */
export interface PatientPrunerOptions {
  /** Consulted once the trial has stalled; `null` (the default) prunes on the stall alone. */
  readonly wrapped?: Pruner | null;
  /** Number of consecutive reports without improvement tolerated. An integer >= 0. */
  readonly patience: number;
  /** Smallest change counted as an improvement. >= 0, default 0. */
  readonly minDelta?: number;
}

const OPTION_KEYS = ['wrapped', 'patience', 'minDelta'] as const;

/**
 * Optuna's `PatientPruner` (`optuna/pruners/_patient.py`): the trial has stalled when the best of
 * its last `patience + 1` reported values does not improve on the best value reported before them
 * by more than `minDelta` (minimize: `min(before) + minDelta < min(recent)`; maximize:
 * `max(before) - minDelta > max(recent)`; NaN values ignored, and a side with only NaN never
 * stalls). Only a stalled trial is passed to `wrapped` (or pruned when `wrapped` is null). No
 * decision until more than `patience + 1` steps were reported.
 */
export class PatientPruner implements Pruner {
  readonly name = 'patient';
  readonly wrapped: Pruner | null;
  readonly patience: number;
  readonly minDelta: number;

  constructor(options: PatientPrunerOptions) {
    checkOptionsObject(options, OPTION_KEYS, 'PatientPruner', true);
    const wrapped: unknown = options.wrapped ?? null;
    if (wrapped !== null && !isPruner(wrapped)) {
      throw new InvalidOptionError('wrapped', 'a Pruner (an object with a prune method) or null', wrapped);
    }
    this.wrapped = wrapped;
    if (options.patience === undefined) throw new InvalidOptionError('patience', 'an integer >= 0', undefined);
    this.patience = intOption('patience', options.patience, 0, 0);
    this.minDelta = numberOption('minDelta', options.minDelta, 0, 0, Infinity);
  }

  async prune(study: StudyView, trial: FrozenTrial): Promise<boolean> {
    const steps = sortedSteps(trial);
    if (steps.length <= this.patience + 1) return false;
    const split = steps.length - this.patience - 1;
    const direction = pruningDirection(study.directions);
    const values = steps.map((s) => trial.intermediateValues[s]);
    const before = bestOf(values.slice(0, split), direction);
    const recent = bestOf(values.slice(split), direction);
    const stalled =
      direction === 'minimize' ? before + this.minDelta < recent : before - this.minDelta > recent;
    if (!stalled) return false;
    return this.wrapped === null ? true : await this.wrapped.prune(study, trial);
  }
}

function bestOf(values: readonly number[], direction: 'minimize' | 'maximize'): number {
  let best = NaN;
  for (const v of values) {
    if (Number.isNaN(v)) continue;
    if (Number.isNaN(best) || (direction === 'minimize' ? v < best : v > best)) best = v;
  }
  return best;
}

function isPruner(value: unknown): value is Pruner {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { prune?: unknown }).prune === 'function'
  );
}
