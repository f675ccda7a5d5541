/**
 * The below / above split of the TPE sampler (Optuna's `_split_trials`, v4, single objective):
 * the `nBelow` best COMPLETE trials (by value, in the study's direction) are "below"; if fewer
 * than `nBelow` trials are COMPLETE, the best PRUNED ones fill up the rest, ranked by the last
 * step they reached (later is better) and then by their value at that step (a NaN value is worst;
 * a pruned trial without intermediate values ranks after all that have one). Everything else is
 * "above". FAIL, WAITING and RUNNING trials are not split (the sampler adds running trials to
 * "above" itself when it lies for them). Both lists are returned in trial-number order, the order
 * the weights function expects.
 */
import type { FrozenTrial } from '../../trial/frozen-trial.js';
import type { StudyDirection } from '../../trial/types.js';

export interface TrialSplit {
  readonly below: readonly FrozenTrial[];
  readonly above: readonly FrozenTrial[];
}

function completeScore(trial: FrozenTrial, direction: StudyDirection): number {
  const v = trial.values !== null && trial.values.length > 0 ? trial.values[0] : NaN;
  if (Number.isNaN(v)) return Infinity;
  return direction === 'minimize' ? v : -v;
}

/** Optuna's `_get_pruned_trial_score`: (-last step, value in minimize sense), or (1, 0) without reports. */
function prunedScore(trial: FrozenTrial, direction: StudyDirection): readonly [number, number] {
  const step = trial.lastStep;
  if (step === null) return [1, 0];
  const v = trial.intermediateValues[step];
  if (Number.isNaN(v)) return [-step, Infinity];
  return [-step, direction === 'minimize' ? v : -v];
}

const byNumber = (p: FrozenTrial, q: FrozenTrial): number => p.number - q.number;

/** Splits the COMPLETE and PRUNED trials of `trials` into the `nBelow` best and the rest. */
export function splitTrials(trials: readonly FrozenTrial[], direction: StudyDirection, nBelow: number): TrialSplit {
  const complete: { trial: FrozenTrial; score: number }[] = [];
  const pruned: { trial: FrozenTrial; score: readonly [number, number] }[] = [];
  for (const trial of trials) {
    if (trial.state === 'COMPLETE') complete.push({ trial, score: completeScore(trial, direction) });
    else if (trial.state === 'PRUNED') pruned.push({ trial, score: prunedScore(trial, direction) });
  }
  complete.sort((p, q) => compareValues(p.score, q.score) || p.trial.number - q.trial.number);
  pruned.sort(
    (p, q) => p.score[0] - q.score[0] || compareValues(p.score[1], q.score[1]) || p.trial.number - q.trial.number,
  );
  const below: FrozenTrial[] = [];
  const above: FrozenTrial[] = [];
  let remaining = Math.max(0, nBelow);
  for (const { trial } of complete) {
    if (remaining > 0) {
      below.push(trial);
      remaining--;
    } else above.push(trial);
  }
  for (const { trial } of pruned) {
    if (remaining > 0) {
      below.push(trial);
      remaining--;
    } else above.push(trial);
  }
  below.sort(byNumber);
  above.sort(byNumber);
  return { below, above };
}

/** Ascending order with Infinity handled (Infinity - Infinity is NaN). */
function compareValues(a: number, b: number): number {
  return a === b ? 0 : a < b ? -1 : 1;
}
