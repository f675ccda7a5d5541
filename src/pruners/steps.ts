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
 * value is left.
 */
export function nanPercentile(values: readonly number[], q: number): number {
  const finite = values.filter((v) => !Number.isNaN(v));
  if (finite.length === 0) return NaN;
  finite.sort((a, b) => a - b);
  const position = (q / 100) * (finite.length - 1);
  const lo = Math.floor(position);
  const hi = Math.min(lo + 1, finite.length - 1);
  const fraction = position - lo;
  if (fraction === 0 || finite[lo] === finite[hi]) return finite[lo];
  return finite[lo] + (finite[hi] - finite[lo]) * fraction;
}
