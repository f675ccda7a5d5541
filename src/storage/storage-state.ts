/**
 * `StorageState`: the one implementation of storage state, shared by `InMemoryStorage` (which calls
 * it directly) and `JournalStorage` (which replays its log into it and validates each new operation
 * against it before appending). All methods are synchronous; a thrown error leaves the state
 * unchanged (every check runs before the first mutation).
 *
 * Cost per call is O(1) amortized (plus the size of the data written), whatever the number of
 * trials: trials live in a per-study array indexed by number and in a global id map; each trial
 * caches its `FrozenTrial` snapshot and rebuilds it only after it changed; per-study state counts are
 * kept incrementally; WAITING trials sit in a queue ordered by their place (see `peekWaiting`), which
 * a new enqueue joins at the end in O(1) and a configuration enqueued again (its place an earlier
 * number) by a binary search and an insertion, O(queue length). `getAllTrials` is O(n) and returns
 * a cached frozen array while the study is unchanged.
 */
import {
  DistributionConflictError,
  DuplicatedStudyError,
  InvalidOptionError,
  InvalidParamValueError,
  StorageError,
  StudyNotFoundError,
  TrialFinishedError,
  TrialNotFoundError,
} from '../errors.js';
import { distributionsEqual, validateParamValue } from '../space/distributions.js';
import type { Distribution, ParamValue } from '../space/types.js';
import { FrozenTrial } from '../trial/frozen-trial.js';
import { SystemAttr } from '../trial/system-attrs.js';
import { getOwn, hasOwn, setOwn } from '../util/own-keys.js';
import { isFinishedState, type JsonValue, type StudyDirection, type TrialState } from '../trial/types.js';
import type { StudySummary } from './storage.js';
import type { AttrMap, NormalizeOptions, NormalizedFinish, NormalizedTemplate, NormalizedUpdate } from './validate.js';

interface TrialRecord {
  readonly trialId: number;
  readonly number: number;
  readonly study: StudyRecord;
  state: TrialState;
  values: readonly number[] | null;
  readonly params: Record<string, ParamValue>;
  readonly distributions: Record<string, Distribution>;
  readonly userAttrs: Record<string, JsonValue>;
  readonly systemAttrs: Record<string, JsonValue>;
  readonly intermediateValues: Record<number, number>;
  datetimeStart: number | null;
  datetimeComplete: number | null;
  snapshot: FrozenTrial | null;
}

interface StudyRecord {
  readonly studyId: number;
  readonly studyName: string;
  readonly directions: readonly StudyDirection[];
  readonly userAttrs: Record<string, JsonValue>;
  readonly systemAttrs: Record<string, JsonValue>;
  readonly datetimeCreated: number;
  readonly trials: TrialRecord[];
  readonly counts: Record<TrialState, number>;
  /**
   * Trial ids enqueued as WAITING, in queue order (by place, then number); entries before
   * `waitingHead` are consumed. Entries of trials no longer WAITING are dropped as they reach the head.
   */
  readonly waiting: number[];
  /** The place of each entry of `waiting` (`waitingPlace`), non-decreasing from `waitingHead` on. */
  readonly waitingPlaces: number[];
  waitingHead: number;
  readonly claims: Set<string>;
  /** All snapshots ordered by number, while no trial of the study changed. */
  allSnapshot: readonly FrozenTrial[] | null;
}

export type AttrKind = 'user' | 'system';

export class StorageState {
  private readonly studies = new Map<number, StudyRecord>();
  private readonly studyIds = new Map<string, number>();
  private readonly trials = new Map<number, TrialRecord>();
  /** Names of deleted studies by id, so that a Study object still held names its study in errors. */
  private readonly deletedNames = new Map<number, string>();
  /**
   * Study ids of the trials of deleted studies, by trial id: a worker still running one (another
   * process deleted the study) is told why its result cannot be stored, not only that the trial
   * does not exist. One entry per trial a deleted study held.
   */
  private readonly deletedTrials = new Map<number, number>();
  private nextStudyId = 0;
  private nextTrialId = 0;

  // ------------------------------------------------------------------------------------------
  // studies
  // ------------------------------------------------------------------------------------------

  /** Throws `DuplicatedStudyError` when the name is taken (nothing changes then). */
  checkCreateStudy(studyName: string): void {
    if (this.studyIds.has(studyName)) throw new DuplicatedStudyError(studyName);
  }

  createStudy(studyName: string, directions: readonly StudyDirection[], now: number): number {
    this.checkCreateStudy(studyName);
    const studyId = this.nextStudyId++;
    this.studies.set(studyId, {
      studyId,
      studyName,
      directions,
      userAttrs: {},
      systemAttrs: {},
      datetimeCreated: now,
      trials: [],
      counts: { WAITING: 0, RUNNING: 0, COMPLETE: 0, PRUNED: 0, FAIL: 0 },
      waiting: [],
      waitingPlaces: [],
      waitingHead: 0,
      claims: new Set(),
      allSnapshot: null,
    });
    this.studyIds.set(studyName, studyId);
    return studyId;
  }

  deleteStudy(studyId: number): void {
    const study = this.study(studyId);
    for (const trial of study.trials) {
      this.trials.delete(trial.trialId);
      this.deletedTrials.set(trial.trialId, studyId);
    }
    this.studies.delete(studyId);
    this.studyIds.delete(study.studyName);
    this.deletedNames.set(studyId, study.studyName);
  }

  studyIdFromName(studyName: string): number {
    const id = this.studyIds.get(studyName);
    if (id === undefined) throw new StudyNotFoundError(studyName);
    return id;
  }

  studyName(studyId: number): string {
    return this.study(studyId).studyName;
  }

  directions(studyId: number): readonly StudyDirection[] {
    return this.study(studyId).directions;
  }

  /** Throws `StudyNotFoundError` for an unknown id. */
  checkStudy(studyId: number): void {
    this.study(studyId);
  }

  allStudies(): readonly StudySummary[] {
    const out: StudySummary[] = [];
    for (const s of this.studies.values()) {
      out.push(
        Object.freeze({
          studyId: s.studyId,
          studyName: s.studyName,
          directions: s.directions,
          userAttrs: Object.freeze({ ...s.userAttrs }),
          systemAttrs: Object.freeze({ ...s.systemAttrs }),
          nTrials: s.trials.length,
          datetimeCreated: s.datetimeCreated,
        }),
      );
    }
    return out;
  }

  /** `value` must already be a frozen JSON value (see `cloneJsonValue`). */
  setStudyAttr(studyId: number, kind: AttrKind, key: string, value: JsonValue): void {
    const study = this.study(studyId);
    setOwn(kind === 'user' ? study.userAttrs : study.systemAttrs, key, value);
  }

  studyAttrs(studyId: number, kind: AttrKind): AttrMap {
    const study = this.study(studyId);
    return Object.freeze({ ...(kind === 'user' ? study.userAttrs : study.systemAttrs) });
  }

  /** Whether `claim` would succeed. */
  isClaimed(studyId: number, key: string): boolean {
    return this.study(studyId).claims.has(key);
  }

  /** True for the first caller per (study, key). */
  claim(studyId: number, key: string): boolean {
    const study = this.study(studyId);
    if (study.claims.has(key)) return false;
    study.claims.add(key);
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // trials: writes
  // ------------------------------------------------------------------------------------------

  /** Checks that `createTrial(studyId, template, now)` would succeed, without changing anything. */
  checkCreateTrial(studyId: number, template: NormalizedTemplate): void {
    const study = this.study(studyId);
    checkParamSet({}, {}, template.params, template.distributions);
    if (template.state === 'WAITING') waitingPlace(template, study.trials.length);
  }

  /**
   * `options.replay`: the template is a journal's record, written by a version that may predate
   * `enqueued_number` placing WAITING trials (the attribute was plain data then, any JSON value):
   * a value that is not a valid place queues the trial at its own number, as that version did,
   * instead of throwing (a journal that opened must keep opening).
   */
  createTrial(studyId: number, template: NormalizedTemplate, now: number, options: NormalizeOptions = {}): FrozenTrial {
    const study = this.study(studyId);
    checkParamSet({}, {}, template.params, template.distributions);
    const place = template.state === 'WAITING' ? waitingPlace(template, study.trials.length, options.replay === true) : -1;
    const state = template.state;
    const finished = isFinishedState(state);
    const start = state === 'WAITING' ? template.datetimeStart : (template.datetimeStart ?? now);
    const record: TrialRecord = {
      trialId: this.nextTrialId++,
      number: study.trials.length,
      study,
      state,
      values: template.values,
      params: { ...template.params },
      distributions: { ...template.distributions },
      userAttrs: { ...template.userAttrs },
      systemAttrs: { ...template.systemAttrs },
      intermediateValues: { ...template.intermediateValues },
      datetimeStart: start,
      datetimeComplete: finished ? (template.datetimeComplete ?? now) : null,
      snapshot: null,
    };
    study.trials.push(record);
    study.counts[state]++;
    if (state === 'WAITING') enqueue(study, record.trialId, place);
    study.allSnapshot = null;
    this.trials.set(record.trialId, record);
    return snapshotOf(record);
  }

  /**
   * The WAITING trial of the study first in the queue (its id), or null. Drops stale queue entries.
   * The queue is ordered by place, then by number: a trial's place is its `enqueued_number` system
   * attribute as created (the number of the trial whose configuration it enqueues again), else its
   * own number; so with no such attribute it is the oldest WAITING trial.
   */
  peekWaiting(studyId: number): number | null {
    const study = this.study(studyId);
    while (study.waitingHead < study.waiting.length) {
      const id = study.waiting[study.waitingHead];
      const trial = this.trials.get(id);
      if (trial !== undefined && trial.state === 'WAITING') return id;
      study.waitingHead++;
    }
    if (study.waitingHead > 0) {
      study.waiting.length = 0;
      study.waitingPlaces.length = 0;
      study.waitingHead = 0;
    }
    return null;
  }

  /** Moves a WAITING trial to RUNNING (start time `now`). Throws if it is not WAITING. */
  startWaiting(trialId: number, now: number): FrozenTrial {
    const trial = this.trial(trialId);
    if (isFinishedState(trial.state)) throw new TrialFinishedError(trialId, trial.state, trial.number);
    if (trial.state !== 'WAITING') throw new StorageError(`trial ${trialId} is ${trial.state}, not WAITING`);
    this.setState(trial, 'RUNNING');
    trial.datetimeStart = now;
    touch(trial);
    return snapshotOf(trial);
  }

  /** Checks that `updateTrial(trialId, update)` would succeed. Returns the trial's study id. */
  checkUpdateTrial(trialId: number, update: NormalizedUpdate): number {
    const trial = this.trial(trialId);
    if (isFinishedState(trial.state)) throw new TrialFinishedError(trialId, trial.state, trial.number);
    checkParamSet(trial.params, trial.distributions, update.params, update.distributions);
    return trial.study.studyId;
  }

  updateTrial(trialId: number, update: NormalizedUpdate): void {
    this.checkUpdateTrial(trialId, update);
    const trial = this.trial(trialId);
    merge(trial, update);
    touch(trial);
  }

  /** Number of directions of the trial's study (needed to validate a finish); throws for unknown or finished trials. */
  finishDirections(trialId: number): number {
    const trial = this.trial(trialId);
    if (isFinishedState(trial.state)) throw new TrialFinishedError(trialId, trial.state, trial.number);
    return trial.study.directions.length;
  }

  /** Checks that `finishTrial(trialId, finish, now)` would succeed (values were checked by `normalizeFinish`). */
  checkFinishTrial(trialId: number, finish: NormalizedFinish): void {
    this.finishDirections(trialId);
    const trial = this.trial(trialId);
    checkParamSet(trial.params, trial.distributions, finish.params, finish.distributions);
  }

  finishTrial(trialId: number, finish: NormalizedFinish, now: number): FrozenTrial {
    this.checkFinishTrial(trialId, finish);
    const trial = this.trial(trialId);
    merge(trial, finish);
    const complete = finish.datetimeComplete ?? now;
    if (trial.datetimeStart === null) trial.datetimeStart = complete;
    trial.datetimeComplete = complete;
    trial.values = finish.values;
    this.setState(trial, finish.state);
    touch(trial);
    return snapshotOf(trial);
  }

  // ------------------------------------------------------------------------------------------
  // trials: reads
  // ------------------------------------------------------------------------------------------

  getTrial(trialId: number): FrozenTrial {
    return snapshotOf(this.trial(trialId));
  }

  getAllTrials(studyId: number, states?: readonly TrialState[]): readonly FrozenTrial[] {
    const study = this.study(studyId);
    if (states === undefined) {
      if (study.allSnapshot === null) {
        const out = new Array<FrozenTrial>(study.trials.length);
        for (let i = 0; i < out.length; i++) out[i] = snapshotOf(study.trials[i]);
        study.allSnapshot = Object.freeze(out);
      }
      return study.allSnapshot;
    }
    const wanted = new Set(states);
    const out: FrozenTrial[] = [];
    for (const trial of study.trials) if (wanted.has(trial.state)) out.push(snapshotOf(trial));
    return Object.freeze(out);
  }

  getNTrials(studyId: number, states?: readonly TrialState[]): number {
    const study = this.study(studyId);
    if (states === undefined) return study.trials.length;
    let n = 0;
    for (const state of new Set(states)) n += study.counts[state] ?? 0;
    return n;
  }

  // ------------------------------------------------------------------------------------------

  private study(studyId: number): StudyRecord {
    const study = this.studies.get(studyId);
    if (study === undefined) {
      const deleted = this.deletedNames.get(studyId);
      throw new StudyNotFoundError(deleted === undefined ? `#${studyId}` : deleted, deleted === undefined ? undefined : 'it was deleted');
    }
    return study;
  }

  private trial(trialId: number): TrialRecord {
    const trial = this.trials.get(trialId);
    if (trial === undefined) {
      const studyId = this.deletedTrials.get(trialId);
      const name = studyId === undefined ? undefined : this.deletedNames.get(studyId);
      throw new TrialNotFoundError(trialId, name === undefined ? undefined : `its study ${JSON.stringify(name)} was deleted`);
    }
    return trial;
  }

  private setState(trial: TrialRecord, state: TrialState): void {
    trial.study.counts[trial.state]--;
    trial.study.counts[state]++;
    trial.state = state;
  }
}

/**
 * The place in the queue of a new WAITING trial numbered `number`: its `enqueued_number` system
 * attribute, or `number` without one. Throws `InvalidOptionError` for a value that is not the
 * number of a trial of the study up to this one, unless `replay` (see `createTrial`): `number` then.
 */
function waitingPlace(template: NormalizedTemplate, number: number, replay = false): number {
  const key = SystemAttr.enqueuedNumber;
  if (!hasOwn(template.systemAttrs, key)) return number;
  const place = template.systemAttrs[key];
  if (typeof place !== 'number' || !Number.isSafeInteger(place) || place < 0 || place > number) {
    if (replay) return number;
    throw new InvalidOptionError(`template.systemAttrs.${key}`, `the number of a trial of the study, an integer from 0 to ${number} (the new trial's)`, place);
  }
  return place;
}

/**
 * Puts a WAITING trial into its study's queue: after every entry of a lower or equal place (an
 * equal place: an older trial). A new enqueue's place is its own number, above every other, so it
 * is appended.
 */
function enqueue(study: StudyRecord, trialId: number, place: number): void {
  const { waiting, waitingPlaces } = study;
  let lo = study.waitingHead;
  let hi = waiting.length;
  if (hi === lo || waitingPlaces[hi - 1] <= place) {
    waiting.push(trialId);
    waitingPlaces.push(place);
    return;
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (waitingPlaces[mid] <= place) lo = mid + 1;
    else hi = mid;
  }
  waiting.splice(lo, 0, trialId);
  waitingPlaces.splice(lo, 0, place);
}

function snapshotOf(trial: TrialRecord): FrozenTrial {
  if (trial.snapshot === null) {
    trial.snapshot = new FrozenTrial({
      trialId: trial.trialId,
      number: trial.number,
      state: trial.state,
      values: trial.values,
      params: trial.params,
      distributions: trial.distributions,
      userAttrs: trial.userAttrs,
      systemAttrs: trial.systemAttrs,
      intermediateValues: trial.intermediateValues,
      datetimeStart: trial.datetimeStart,
      datetimeComplete: trial.datetimeComplete,
    });
  }
  return trial.snapshot;
}

function touch(trial: TrialRecord): void {
  trial.snapshot = null;
  trial.study.allSnapshot = null;
}

function merge(trial: TrialRecord, update: NormalizedUpdate): void {
  for (const key of Object.keys(update.params)) setOwn(trial.params, key, update.params[key]);
  for (const key of Object.keys(update.distributions)) setOwn(trial.distributions, key, update.distributions[key]);
  for (const key of Object.keys(update.userAttrs)) setOwn(trial.userAttrs, key, update.userAttrs[key]);
  for (const key of Object.keys(update.systemAttrs)) setOwn(trial.systemAttrs, key, update.systemAttrs[key]);
  for (const key in update.intermediateValues) {
    const step = Number(key);
    trial.intermediateValues[step] = update.intermediateValues[step];
  }
}

/**
 * Checks the parameters a write adds to a trial: every new parameter has a distribution (given now
 * or stored), every new distribution a value, each value belongs to its distribution, and a stored
 * parameter is never changed (the same value and distribution again is allowed).
 */
function checkParamSet(
  storedParams: Readonly<Record<string, ParamValue>>,
  storedDists: Readonly<Record<string, Distribution>>,
  params: Readonly<Record<string, ParamValue>>,
  dists: Readonly<Record<string, Distribution>>,
): void {
  for (const name of Object.keys(dists)) {
    const stored = getOwn(storedDists, name);
    if (stored !== undefined && !distributionsEqual(stored, dists[name])) {
      throw new DistributionConflictError(name, 'is already set with a different distribution in this trial');
    }
    if (!hasOwn(params, name) && !hasOwn(storedParams, name)) {
      throw new InvalidParamValueError(name, 'a distribution was given without a value');
    }
  }
  for (const name of Object.keys(params)) {
    const dist = getOwn(dists, name) ?? getOwn(storedDists, name);
    if (dist === undefined) throw new InvalidParamValueError(name, 'a value was given without a distribution');
    validateParamValue(name, dist, params[name]);
    if (hasOwn(storedParams, name) && storedParams[name] !== params[name]) {
      throw new InvalidParamValueError(name, `is already set to ${String(storedParams[name])} in this trial`);
    }
  }
}
