/**
 * Step and value helpers shared by the pruners, written to mirror the helpers of Optuna's
 * `optuna/pruners/_percentile.py` (`_is_first_in_interval_step`, best value over steps,
 * `np.nanpercentile` with linear interpolation).
 */
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyDirection } from '../trial/types.js';

/** The reported steps of a trial, ascending. */
export function sortedSteps(trial: FrozenTrial): number[] {
  const steps = Object.keys(trial.intermediateValues).map(Number);
  steps.sort((a, b) => a - b);
  return steps;
}

/** The direction pruners follow: the first objective's (Optuna does the same for multi-objective). */
export function pruningDirection(directions: readonly StudyDirection[]): StudyDirection {
  return directions.length > 0 ? directions[0] : 'minimize';
}

/**
 * True when `step` is the first reported step at or after the latest pruning checkpoint
 * (`nWarmupSteps + j * intervalSteps`). A checkpoint with no report is postponed to the next report.
 * `steps` is ascending and ends with `step`.
 */
export function isFirstInIntervalStep(
  step: number,
  steps: readonly number[],
  nWarmupSteps: number,
  intervalSteps: number,
): boolean {
  const nearestLowerPruningStep =
    Math.floor((step - nWarmupSteps) / intervalSteps) * intervalSteps + nWarmupSteps;
  const secondLast = steps.length >= 2 ? steps[steps.length - 2] : -1;
  return secondLast < nearestLowerPruningStep;
}

/** Best value over all reported steps, ignoring NaN; NaN when every value is NaN. */
export function bestIntermediateValue(trial: FrozenTrial, direction: StudyDirection): number {
  let best = NaN;
  for (const value of Object.values(trial.intermediateValues)) {
    if (Number.isNaN(value)) continue;
    if (Number.isNaN(best) || (direction === 'maximize' ? value > best : value < best)) best = value;
  }
  return best;
}

/**
 * The q-th percentile (q in [0, 100]) of `values` ignoring NaN, with linear interpolation between
 * order statistics (numpy's default `method="linear"`): position q/100 * (n - 1). NaN when no
 * value is left. The interpolation is numpy's `_lerp` to the last bit: `a + (b - a) * t` for
 * t < 0.5, `b - (b - a) * (1 - t)` for t >= 0.5 (so the median of 0.01 and 0.03 is 0.02, not
 * 0.019999999999999997), so that a trial exactly at the percentile gets Optuna's verdict. One
 * difference: where the position falls on an order statistic, or between equal ones, that value is
 * returned even when it is infinite (numpy gives NaN there).
 */
export function nanPercentile(values: readonly number[], q: number): number {
  const finite = values.filter((v) => !Number.isNaN(v));
  if (finite.length === 0) return NaN;
  finite.sort((a, b) => a - b);
  const position = (q / 100) * (finite.length - 1);
  const lo = Math.floor(position);
  const hi = Math.min(lo + 1, finite.length - 1);
  const fraction = position - lo;
  const a = finite[lo];
  const b = finite[hi];
  if (fraction === 0 || a === b) return a;
  const diff = b - a;
  return fraction >= 0.5 ? b - diff * (1 - fraction) : a + diff * fraction;
}
