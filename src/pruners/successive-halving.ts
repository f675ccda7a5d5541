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
 * Rung records, as in Optuna: when a trial is judged at rung k its value (the one reported at its
 * largest step) is recorded on the trial as the system attribute `completed_rung_k`
 * (`rungRecordKey(k)`), before the verdict, so a trial pruned at rung k is recorded there too. A
 * call judges the rungs from the trial's current rung (the number of rungs recorded on it) up to
 * the last rung whose step r_k is <= its largest reported step, in order, with the same value;
 * when that step is below the current rung's step nothing is judged and the trial keeps running.
 * So a second `shouldPrune` without a new larger step, a repeated step or an out-of-order smaller
 * step never judges a rung again (ASHA promotions are final). At rung k a trial competes with the
 * trials that have a rung-k record (any state; the value at rung k is the recorded one); it is
 * promoted (keeps running) iff its value is within the top floor(n / eta) of the n competing
 * values (itself included), and, while n < eta, only if it is the best of them. That is Optuna's
 * `_is_trial_promotable_to_next_rung`: with values sorted best-first, idx = max(floor(n / eta) - 1,
 * 0), promoted iff value is at least as good as the idx-th. A NaN value at a rung prunes without a
 * record, so NaN never competes. A trial that reports without calling `shouldPrune` (or under
 * another pruner) has no records and competes nowhere, as in Optuna.
 *
 * The records are written through `StudyView.setTrialSystemAttrs` (one write per judging call), so
 * every worker and process of the study sees them and they survive a reload. On a view without
 * `setTrialSystemAttrs` (a hand-written view) the pruner keeps them in its own memory, per study
 * object, and then only it sees them. +/-Infinity, which system attributes cannot hold as numbers,
 * is recorded as the string "Infinity" / "-Infinity".
 *
 * Difference from Optuna: `minResource: 'auto'`: Optuna takes (largest last step of the COMPLETE
 * trials) / 100 at the first call that sees one; Kestrel takes the last step of the COMPLETE trial
 * that completed first (ties by number), floor-divided by 100, at least 1, so that every worker
 * derives the same value. Until a trial completes nothing is pruned (and nothing recorded); a trial
 * already past some rungs when it becomes known is judged at all of them at its next call.
 *
 * Kestrel also accepts a non-integer `minResource` >= 1 (Optuna requires an integer); the adaptive
 * preset needs it. A rung step r * eta^(s + k) within a relative 1e-9 of an integer is that integer
 * (`rungStep`), so rounding never moves a rung past the step it falls on.
 */
import { InvalidOptionError } from '../errors.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';
import type { JsonValue, StudyDirection, TrialState } from '../trial/types.js';
import { checkOptionsObject, intOption } from './options.js';
import type { Pruner } from './pruner.js';
import { pruningDirection } from './steps.js';

/** Options of `new SuccessiveHalvingPruner(...)`, Optuna's defaults; an unknown name throws `InvalidOptionError`. */
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

/**
 * Asynchronous successive halving (ASHA, config names `asha` and `successive-halving`): at rung k,
 * step r * eta^(s + k), a trial keeps running only if it is in the top 1/eta of the trials judged
 * there. Rungs are recorded on the trial (`completed_rung_k`), so every worker judges alike. See
 * the file header for the rule and the differences from Optuna.
 */
export class SuccessiveHalvingPruner implements Pruner {
  readonly name = 'successive-halving';
  readonly minResource: 'auto' | number;
  readonly reductionFactor: number;
  readonly minEarlyStoppingRate: number;
  readonly bootstrapCount: number;
  private estimatedMinResource: number | null = null;
  /**
   * Rung records kept in memory for views without `setTrialSystemAttrs`: per study object, by
   * trial id, the recorded values of rungs 0, 1, ... Unused when the view can write system attributes.
   */
  private readonly memoryRecords = new WeakMap<object, Map<number, number[]>>();

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

  /**
   * The step of rung `rung` for a given minimum resource: r * eta^(s + rung), snapped to the
   * nearest integer when within a relative 1e-9 of it. A non-integer r (the adaptive preset's
   * maxLength / eta^k) puts a rung on an integer step that the product can round just above:
   * (87 / 81) * 27 is 29.000000000000004, which step 29 did not reach, so that rung was judged one
   * step late. An integer r gives exact integers, unchanged.
   */
  rungStep(rung: number, minResource: number): number {
    const step = minResource * this.reductionFactor ** (this.minEarlyStoppingRate + rung);
    const nearest = Math.round(step);
    return Math.abs(step - nearest) <= 1e-9 * nearest ? nearest : step;
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
   * `owner` is the object that in-memory rung records are kept under (the study), used only when
   * `study` lacks `setTrialSystemAttrs`. Rungs whose step is >= `rungStepLimit` are not judged (and
   * not recorded): the adaptive preset's top rung, where a trial has finished training.
   */
  async pruneIn(study: StudyView, trial: FrozenTrial, owner: object, rungStepLimit = Infinity): Promise<boolean> {
    const step = trial.lastStep;
    if (step === null) return false;
    const value = trial.intermediateValues[step];

    let trials: readonly FrozenTrial[] | null = null;
    let minResource = this.resolvedMinResource();
    if (minResource === null) {
      trials = await study.getTrials({ states: REPORTING_STATES });
      minResource = estimateMinResource(trials);
      if (minResource === null) return false;
      this.estimatedMinResource = minResource;
    }

    const memory = study.setTrialSystemAttrs === undefined ? this.memoryFor(owner) : null;
    let rung = currentRung(trial, memory);
    const nextRungStep = this.rungStep(rung, minResource);
    if (step < nextRungStep || nextRungStep >= rungStepLimit) return false;
    if (Number.isNaN(value)) return true;
    trials ??= await study.getTrials({ states: REPORTING_STATES });
    const direction = pruningDirection(study.directions);

    // Rungs judged by this call, each recorded before its verdict (Optuna's order).
    const judged: number[] = [];
    let pruned = false;
    while (this.rungStep(rung, minResource) <= step && this.rungStep(rung, minResource) < rungStepLimit) {
      judged.push(rung);
      const competing = competingValues(trials, rung, memory, trial.trialId);
      competing.push(value);
      if (competing.length <= this.bootstrapCount || !isPromotable(value, competing, this.reductionFactor, direction)) {
        pruned = true;
        break;
      }
      rung += 1;
    }
    await record(study, memory, trial.trialId, judged, value);
    return pruned;
  }

  private memoryFor(owner: object): Map<number, number[]> {
    let byTrial = this.memoryRecords.get(owner);
    if (byTrial === undefined) {
      byTrial = new Map();
      this.memoryRecords.set(owner, byTrial);
    }
    return byTrial;
  }
}

/** The system attribute holding a trial's rung-`rung` record (Optuna's `_completed_rung_key`). */
export function rungRecordKey(rung: number): string {
  return `completed_rung_${rung}`;
}

/** The rung-`rung` value recorded on `trial` (system attributes first, then `memory`), or undefined. */
function recordedValue(trial: FrozenTrial, rung: number, memory: Map<number, number[]> | null): number | undefined {
  const stored = decodeRecord(trial.systemAttrs[rungRecordKey(rung)]);
  if (stored !== undefined || memory === null) return stored;
  return memory.get(trial.trialId)?.[rung];
}

/** The number of consecutive rungs recorded on `trial` from rung 0 (Optuna's `_get_current_rung`). */
function currentRung(trial: FrozenTrial, memory: Map<number, number[]> | null): number {
  let rung = 0;
  while (recordedValue(trial, rung, memory) !== undefined) rung += 1;
  return rung;
}

/** The rung-`rung` records of every trial but `excludeTrialId`. */
function competingValues(
  trials: readonly FrozenTrial[],
  rung: number,
  memory: Map<number, number[]> | null,
  excludeTrialId: number,
): number[] {
  const values: number[] = [];
  for (const other of trials) {
    if (other.trialId === excludeTrialId) continue;
    const v = recordedValue(other, rung, memory);
    if (v !== undefined) values.push(v);
  }
  return values;
}

/** Records `value` at each of `rungs` for the trial: in its system attributes, or in `memory`. */
async function record(
  study: StudyView,
  memory: Map<number, number[]> | null,
  trialId: number,
  rungs: readonly number[],
  value: number,
): Promise<void> {
  if (memory !== null) {
    let values = memory.get(trialId);
    if (values === undefined) {
      values = [];
      memory.set(trialId, values);
    }
    for (const rung of rungs) values[rung] = value;
    return;
  }
  const attrs: Record<string, JsonValue> = {};
  const encoded = Number.isFinite(value) ? value : String(value); // 'Infinity' or '-Infinity'
  for (const rung of rungs) attrs[rungRecordKey(rung)] = encoded;
  await study.setTrialSystemAttrs?.(trialId, attrs);
}

/** A recorded rung value: a number, or "Infinity" / "-Infinity"; undefined for anything else. */
function decodeRecord(raw: JsonValue | undefined): number | undefined {
  if (typeof raw === 'number') return raw;
  if (raw === 'Infinity') return Infinity;
  if (raw === '-Infinity') return -Infinity;
  return undefined;
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
