/**
 * The storage contract. Every backend (memory, journal file, later PostgreSQL) implements it and
 * runs the shared contract suite in `test/storage/contract.ts`.
 *
 * Contract:
 * - All methods are async and safe to call concurrently from one process; a backend meant for
 *   several processes (journal) or machines (PostgreSQL) is safe across them as well.
 * - `createTrial` is atomic: `trialId` is unique in the storage and `number` is unique and dense
 *   (0, 1, 2, ...) within the study, whatever the number of concurrent writers.
 * - `createTrialIfBelow(studyId, max)` counts the study's trials and creates one in the same atomic
 *   step: however many writers call it, the study never grows past `max` through it.
 * - `popWaitingTrial` moves exactly one WAITING trial to RUNNING for exactly one caller: the first in
 *   queue order, by place (the trial's `enqueued_number` system attribute as created, else its own
 *   number), ties by number. A `createTrial` of a WAITING trial whose `enqueued_number` is not an
 *   integer from 0 to the new trial's number rejects with `InvalidOptionError`
 *   (`template.systemAttrs.enqueued_number`), creating nothing. The attribute places only WAITING
 *   trials; a backend that ignores it still works, but a configuration `Study` enqueues again
 *   after a withdrawn ask then goes to the end of the queue instead of back to its place.
 * - `claim(studyId, key)` returns true for exactly one caller per (study, key), ever; `areClaimed`
 *   (optional) reads the same claims without taking any.
 * - A finished trial (COMPLETE, PRUNED, FAIL) is immutable: any later write to it rejects with
 *   `TrialFinishedError` and leaves it unchanged.
 * - `finishTrial` is durable when its promise resolves (the journal fsyncs); every other write is
 *   durable once `close()` has resolved (the journal fsyncs what it had not).
 * - Unknown ids reject with `StudyNotFoundError` / `TrialNotFoundError`; nothing is created implicitly.
 * - Returned `FrozenTrial`s are immutable snapshots; later writes never mutate them.
 */
import type { Distribution, ParamValue } from '../space/types.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { JsonValue, StudyDirection, TrialState } from '../trial/types.js';

/** One study of a storage, as `getAllStudySummaries` and `Storage.getAllStudies` list it. */
export interface StudySummary {
  readonly studyId: number;
  readonly studyName: string;
  readonly directions: readonly StudyDirection[];
  readonly userAttrs: Readonly<Record<string, JsonValue>>;
  readonly systemAttrs: Readonly<Record<string, JsonValue>>;
  /** Number of trials in any state. */
  readonly nTrials: number;
  /** Epoch ms of creation. */
  readonly datetimeCreated: number;
}

/** What `createTrial` may be given: a WAITING trial (enqueue), a RUNNING one (ask), or a finished one (addTrial). */
export interface TrialTemplate {
  readonly state?: TrialState; // default RUNNING
  readonly values?: readonly number[] | null;
  readonly params?: Readonly<Record<string, ParamValue>>;
  readonly distributions?: Readonly<Record<string, Distribution>>;
  readonly userAttrs?: Readonly<Record<string, JsonValue>>;
  readonly systemAttrs?: Readonly<Record<string, JsonValue>>;
  readonly intermediateValues?: Readonly<Record<number, number>>;
  readonly datetimeStart?: number | null;
  readonly datetimeComplete?: number | null;
}

/** The final write of a trial: its state, values and anything buffered since the last write. */
export interface TrialFinish {
  readonly state: 'COMPLETE' | 'PRUNED' | 'FAIL';
  readonly values?: readonly number[] | null;
  /** Parameters suggested since the last write (merged into the trial's params). */
  readonly params?: Readonly<Record<string, ParamValue>>;
  readonly distributions?: Readonly<Record<string, Distribution>>;
  readonly userAttrs?: Readonly<Record<string, JsonValue>>;
  readonly systemAttrs?: Readonly<Record<string, JsonValue>>;
  readonly intermediateValues?: Readonly<Record<number, number>>;
  /** Defaults to now. */
  readonly datetimeComplete?: number;
}

/** A partial update of a RUNNING (or WAITING) trial. Fields are merged into what is stored. */
export interface TrialUpdate {
  readonly params?: Readonly<Record<string, ParamValue>>;
  readonly distributions?: Readonly<Record<string, Distribution>>;
  readonly userAttrs?: Readonly<Record<string, JsonValue>>;
  readonly systemAttrs?: Readonly<Record<string, JsonValue>>;
  readonly intermediateValues?: Readonly<Record<number, number>>;
}

/** Options of `Storage.getAllTrials` and `study.getTrials`. */
export interface GetTrialsOptions {
  /** Only trials in these states; all when omitted. */
  readonly states?: readonly TrialState[];
}

/**
 * Where studies and trials are kept: `InMemoryStorage`, `JournalStorage`, or a backend of your own
 * that keeps the contract in this file's header (`createTrialIfBelow` atomic, finished trials
 * immutable, `finishTrial` durable when it resolves). Pass one as `createStudy({ storage })`.
 */
export interface Storage {
  /** Rejects with `DuplicatedStudyError` if the name is taken. Returns the new study id. */
  createStudy(studyName: string, directions: readonly StudyDirection[]): Promise<number>;
  deleteStudy(studyId: number): Promise<void>;
  /** Rejects with `StudyNotFoundError`. */
  getStudyIdFromName(studyName: string): Promise<number>;
  getStudyName(studyId: number): Promise<string>;
  getStudyDirections(studyId: number): Promise<readonly StudyDirection[]>;
  getAllStudies(): Promise<readonly StudySummary[]>;
  setStudyUserAttr(studyId: number, key: string, value: JsonValue): Promise<void>;
  setStudySystemAttr(studyId: number, key: string, value: JsonValue): Promise<void>;
  getStudyUserAttrs(studyId: number): Promise<Readonly<Record<string, JsonValue>>>;
  getStudySystemAttrs(studyId: number): Promise<Readonly<Record<string, JsonValue>>>;

  /** Atomically creates a trial (number = next in the study). Validates finished templates. */
  createTrial(studyId: number, template?: TrialTemplate): Promise<FrozenTrial>;
  /**
   * `createTrial`, but only while the study holds fewer than `maxTrials` trials (in any state,
   * WAITING included); resolves null, creating nothing, otherwise. The count and the creation are
   * one atomic step, across processes for a backend shared by several, so workers sharing a
   * study-wide budget (`optimize({maxTrialsInStudy})`) never overshoot it.
   */
  createTrialIfBelow(studyId: number, maxTrials: number, template?: TrialTemplate): Promise<FrozenTrial | null>;
  /**
   * Atomically takes the WAITING trial first in the queue (the oldest, unless a trial holds
   * `enqueued_number`: see the contract above) and makes it RUNNING (start time = now); null if none.
   */
  popWaitingTrial(studyId: number): Promise<FrozenTrial | null>;
  /** Merges an update into a non-finished trial. Rejects with `TrialFinishedError` if finished. */
  updateTrial(trialId: number, update: TrialUpdate): Promise<void>;
  /**
   * Finishes a RUNNING trial (or a WAITING one: storage allows it, though `Study.tell` refuses a
   * WAITING trial, as Optuna does). Durable on resolve. Rejects with
   * `TrialFinishedError` if it was already finished (the stored trial is unchanged).
   */
  finishTrial(trialId: number, finish: TrialFinish): Promise<FrozenTrial>;
  getTrial(trialId: number): Promise<FrozenTrial>;
  /** Trials ordered by number. */
  getAllTrials(studyId: number, options?: GetTrialsOptions): Promise<readonly FrozenTrial[]>;
  getNTrials(studyId: number, options?: GetTrialsOptions): Promise<number>;
  /** True for exactly one caller per (study, key). Used e.g. by grid search to never run a point twice. */
  claim(studyId: number, key: string): Promise<boolean>;
  /**
   * Whether each key has been claimed in the study (by any caller), claiming nothing: a grid
   * sampler of a new Study object (a rerun, another worker) skips the points taken before it, and
   * so creates no trial that would find none left. Optional (the built-in storages have it): without
   * it a grid finds taken points only by claiming them.
   */
  areClaimed?(studyId: number, keys: readonly string[]): Promise<readonly boolean[]>;
  /**
   * Waits for pending writes, makes what was written durable (a journal fdatasyncs records not yet
   * synced; a failure rejects with `StorageError` code STORAGE_SYNC_FAILED) and releases files,
   * locks and connections, failing or not. Further calls reject.
   */
  close(): Promise<void>;
}
