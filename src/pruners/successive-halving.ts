/**
 * Asynchronous successive halving (ASHA).
 *
 * Notation (Li et al. 2020, "A System for Massively Parallel Hyperparameter Tuning", MLSys,
 * Algorithm 2; Optuna's `optuna/pruners/_successive_halving.py`):
 *   r      minimum resource (`minResource`), in steps
 *   eta    reduction factor (`reductionFactor`)
 *   s      minimum early-stopping rate (`minEarlyStoppingRate`)
 *   r_k    = r * eta^(s + k), the step of rung k = 0, 1, 2, ...
 *
 * A trial reaches rung k at its first report at a step >= r_k; the value reported there is its
 * rung-k value. When it reaches rung k it competes with every trial of the study that reached
 * rung k before it (any state); it is promoted (keeps running) iff its value is within the top
 * floor(n / eta) of the n competing values (itself included), and, while n < eta, only if it is the
 * best of them. That is Optuna's `_is_trial_promotable_to_next_rung`: with values sorted
 * best-first, idx = max(floor(n / eta) - 1, 0), promoted iff value is at least as good as the
 * idx-th.
 *
 * Difference from Optuna, by design: Optuna writes each trial's rung values into its system
 * attributes while pruning. A Kestrel pruner cannot write storage, so rung values are recomputed
 * from the stored intermediate values on every call; a decision then depends only on what storage
 * holds and agrees across concurrent trials and worker processes. It matches Optuna's decisions
 * when `shouldPrune` is called after every `report` (the usual loop), with these rules:
 *
 * - the rungs checked on a call are those first reached by this report (r_k > previous reported
 *   step and r_k <= current step); rungs passed at earlier reports are not judged again (ASHA
 *   promotions are final). Several rungs crossed by one report are judged in order with the same
 *   value, as Optuna does;
 * - a PRUNED competitor counts at the rungs it passed before its last report and at the first rung
 *   its last report reached (where it was judged); a NaN rung value never counts (Optuna prunes
 *   NaN before recording it);
 * - `minResource: 'auto'`: Optuna takes (largest last step of the COMPLETE trials) / 100 at the first
 *   call that sees one; Kestrel takes the last step of the COMPLETE trial that completed first
 *   (ties by number), floor-divided by 100, at least 1, so that every worker derives the same
 *   value. Until a trial completes nothing is pruned. Trials already past some rungs when it
 *   becomes known are judged from their next report on.
 *
 * Kestrel also accepts a non-integer `minResource` >= 1 (Optuna requires an integer); the adaptive
 * preset needs it.
 */
import { InvalidOptionError } from '../errors.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';
import { isFinishedState, type StudyDirection, type TrialState } from '../trial/types.js';
import { checkOptionsObject, intOption } from './options.js';
import type { Pruner } from './pruner.js';
import { pruningDirection, sortedSteps } from './steps.js';

export interface SuccessiveHalvingPrunerOptions {
  /** Steps before the first rung (r), a number >= 1, or 'auto' (default). */
  readonly minResource?: 'auto' | number;
  /** eta, an integer >= 2. Default 4. */
  readonly reductionFactor?: number;
  /** s, an integer >= 0: the first rung is at r * eta^s. Default 0. */
  readonly minEarlyStoppingRate?: number;
  /** Trials reaching a rung are pruned until more than this many reached it. Default 0. */
  readonly bootstrapCount?: number;
}

const OPTION_KEYS = ['minResource', 'reductionFactor', 'minEarlyStoppingRate', 'bootstrapCount'] as const;

/** Every state in which a trial can have reported values. */
export const REPORTING_STATES: readonly TrialState[] = ['RUNNING', 'COMPLETE', 'PRUNED', 'FAIL'];

export class SuccessiveHalvingPruner implements Pruner {
  readonly name = 'successive-halving';
  readonly minResource: 'auto' | number;
  readonly reductionFactor: number;
  readonly minEarlyStoppingRate: number;
  readonly bootstrapCount: number;
  private estimatedMinResource: number | null = null;
  /**
   * Rung values of finished trials (immutable in storage), per study, by trial id then
   * `rung:minResource`: the value that counts at that rung, or null when the trial does not count
   * there. Saves rescanning every finished trial's reports at each rung check.
   */
  private readonly finishedRungValues = new WeakMap<object, Map<number, Map<string, number | null>>>();

  constructor(options: SuccessiveHalvingPrunerOptions = {}) {
    checkOptionsObject(options, OPTION_KEYS, 'SuccessiveHalvingPruner');
    this.minResource = minResourceOption(options.minResource, 'auto');
    this.reductionFactor = intOption('reductionFactor', options.reductionFactor, 4, 2);
    this.minEarlyStoppingRate = intOption('minEarlyStoppingRate', options.minEarlyStoppingRate, 0, 0);
    this.bootstrapCount = intOption('bootstrapCount', options.bootstrapCount, 0, 0);
    if (this.bootstrapCount > 0 && this.minResource === 'auto') {
      throw new InvalidOptionError(
        'bootstrapCount',
        "0 when minResource is 'auto' (the two are incompatible, as in Optuna)",
        this.bootstrapCount,
      );
    }
  }

  /** The step of rung `rung` for a given minimum resource. */
  rungStep(rung: number, minResource: number): number {
    return minResource * this.reductionFactor ** (this.minEarlyStoppingRate + rung);
  }

  /** The minimum resource in use: the option, the estimate once known, or null. */
  resolvedMinResource(): number | null {
    return this.minResource === 'auto' ? this.estimatedMinResource : this.minResource;
  }

  // Not `async`: returning pruneIn's promise directly keeps the microtask count of a direct call.
  prune(study: StudyView, trial: FrozenTrial): Promise<boolean> {
    return this.pruneIn(study, trial, study);
  }

  /**
   * `prune` on a view of a study (HyperbandPruner's per-bracket view, a new object per call):
   * `cacheOwner` is the object the finished-trial rung values are cached under (the study).
   */
  async pruneIn(study: StudyView, trial: FrozenTrial, cacheOwner: object): Promise<boolean> {
    const steps = sortedSteps(trial);
    if (steps.length === 0) return false;
    const step = steps[steps.length - 1];
    const previousStep = steps.length >= 2 ? steps[steps.length - 2] : -Infinity;
    const value = trial.intermediateValues[step];

    let trials: readonly FrozenTrial[] | null = null;
    let minResource = this.resolvedMinResource();
    if (minResource === null) {
      trials = await study.getTrials({ states: REPORTING_STATES });
      minResource = estimateMinResource(trials);
      if (minResource === null) return false;
      this.estimatedMinResource = minResource;
    }

    let rung = this.firstRungAbove(previousStep, minResource);
    if (step < this.rungStep(rung, minResource)) return false;
    if (Number.isNaN(value)) return true;
    trials ??= await study.getTrials({ states: REPORTING_STATES });
    const direction = pruningDirection(study.directions);

    while (this.rungStep(rung, minResource) <= step) {
      const competing = this.rungValues(cacheOwner, trials, rung, minResource, trial.trialId);
      competing.push(value);
      if (competing.length <= this.bootstrapCount) return true;
      if (!isPromotable(value, competing, this.reductionFactor, direction)) return true;
      rung += 1;
    }
    return false;
  }

  /** The smallest rung k whose step is above `step`. */
  private firstRungAbove(step: number, minResource: number): number {
    let rung = 0;
    while (this.rungStep(rung, minResource) <= step) rung += 1;
    return rung;
  }

  /** The rung-`rung` values of every trial but `excludeTrialId` that counts at that rung. */
  private rungValues(
    cacheOwner: object,
    trials: readonly FrozenTrial[],
    rung: number,
    minResource: number,
    excludeTrialId: number,
  ): number[] {
    const values: number[] = [];
    const key = `${rung}:${minResource}`;
    let byTrial = this.finishedRungValues.get(cacheOwner);
    if (byTrial === undefined) {
      byTrial = new Map();
      this.finishedRungValues.set(cacheOwner, byTrial);
    }
    for (const other of trials) {
      if (other.trialId === excludeTrialId) continue;
      let v: number | null;
      if (!isFinishedState(other.state)) {
        v = this.rungValueOf(other, rung, minResource); // still reporting: recompute
      } else {
        let cached = byTrial.get(other.trialId);
        if (cached === undefined) {
          cached = new Map();
          byTrial.set(other.trialId, cached);
        }
        v = cached.get(key) ?? null;
        if (!cached.has(key)) {
          v = this.rungValueOf(other, rung, minResource);
          cached.set(key, v);
        }
      }
      if (v !== null) values.push(v);
    }
    return values;
  }

  /** The value of `other` that counts at rung `rung` (its first report at or after the rung's step), or null. */
  private rungValueOf(other: FrozenTrial, rung: number, minResource: number): number | null {
    const rungStep = this.rungStep(rung, minResource);
    let first = Infinity; // first reported step >= rungStep
    let last = -Infinity;
    let secondLast = -Infinity;
    for (const key of Object.keys(other.intermediateValues)) {
      const s = Number(key);
      if (s >= rungStep && s < first) first = s;
      if (s > last) {
        secondLast = last;
        last = s;
      } else if (s > secondLast) {
        secondLast = s;
      }
    }
    if (first === Infinity) return null;
    if (other.state === 'PRUNED' && first > secondLast && rung !== this.firstRungAbove(secondLast, minResource)) {
      return null; // reached in its last report, but it was pruned at an earlier rung of that report
    }
    const v = other.intermediateValues[first];
    return Number.isNaN(v) ? null : v;
  }
}

/**
 * Optuna's `_is_trial_promotable_to_next_rung`: `competing` includes `value`; promoted iff `value`
 * is at least as good as the idx-th best, idx = max(floor(n / eta) - 1, 0).
 */
export function isPromotable(
  value: number,
  competing: readonly number[],
  reductionFactor: number,
  direction: StudyDirection,
): boolean {
  let idx = Math.floor(competing.length / reductionFactor) - 1;
  if (idx < 0) idx = 0;
  const sorted = [...competing].sort((a, b) => a - b);
  return direction === 'maximize' ? value >= sorted[sorted.length - 1 - idx] : value <= sorted[idx];
}

/** Last step of the first-completed COMPLETE trial / 100 (floor), at least 1; null when none. */
export function estimateMinResource(trials: readonly FrozenTrial[]): number | null {
  const first = firstCompleted(trials);
  if (first === null) return null;
  return Math.max(Math.floor((first.lastStep as number) / 100), 1);
}

/** The COMPLETE trial with reports that completed first (ties by number); null when none. */
export function firstCompleted(trials: readonly FrozenTrial[]): FrozenTrial | null {
  let best: FrozenTrial | null = null;
  for (const t of trials) {
    if (t.state !== 'COMPLETE' || t.lastStep === null) continue;
    if (best === null) {
      best = t;
      continue;
    }
    const a = t.datetimeComplete ?? Infinity;
    const b = best.datetimeComplete ?? Infinity;
    if (a < b || (a === b && t.number < best.number)) best = t;
  }
  return best;
}

function minResourceOption(value: unknown, fallback: 'auto' | number): 'auto' | number {
  if (value === undefined) return fallback;
  if (value === 'auto') return value;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) {
    throw new InvalidOptionError('minResource', "'auto' or a finite number >= 1", value);
  }
  return value;
}
