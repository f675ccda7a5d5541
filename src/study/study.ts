/**
 * `Study`: the composition root. It ties a storage, a sampler and a pruner together and runs the
 * trial lifecycle: `ask` (create or pop a trial, sample relative parameters), the objective's
 * `suggest*` calls (independent sampling), `tell` (finish the trial durably), and `optimize` (the
 * loop, with concurrency, timeouts, callbacks and interruption).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { hostname } from 'node:os';
import {
  describeValue,
  GridExhaustedError,
  InterruptedError,
  InvalidOptionError,
  InvalidTrialValueError,
  KestrelError,
  messageOf,
  NoCompletedTrialsError,
  NoFeasibleTrialsError,
  StorageError,
  TrialFinishedError,
  TrialNotFoundError,
} from '../errors.js';
import type { Pruner } from '../pruners/pruner.js';
import type { Sampler } from '../samplers/sampler.js';
import type { Distribution, ParamValue, Params, SearchSpace } from '../space/types.js';
import { JournalStorage } from '../storage/journal-storage.js';
import type { Storage, TrialTemplate } from '../storage/storage.js';
import { MAX_DATETIME_MS } from '../storage/validate.js';
import { FrozenTrial } from '../trial/frozen-trial.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';
import { currentProcessIdentity, isProcessIdentity, ownerState, pidExists, type ProcessIdentity } from '../util/process-identity.js';
import { hasOwn, setOwn } from '../util/own-keys.js';
import { settledWithin } from '../util/promise.js';
import type { StudyView } from '../trial/study-view.js';
import { FAIL_REASON_INTERRUPTED, FAIL_REASON_STALE_PREFIX, SystemAttr, isFeasible, notRecordedFailReason } from '../trial/system-attrs.js';
import { Trial, type TrialHost } from '../trial/trial.js';
import { isFinishedState, type JsonValue, type StudyDirection, type TrialState } from '../trial/types.js';
import { warn, warnOnce } from '../util/warn.js';
import { isLeftoverOfOptimize, runOptimize, type Objective, type OptimizeOptions } from './optimize.js';


/** Options of `study.ask` and `study.askBatch`. */
export interface AskOptions {
  /**
   * Stamp the trial with a heartbeat so that `failStaleTrials` can tell, later and from any
   * process, that its worker died. `optimize` sets it when `heartbeatIntervalMs` is given.
   */
  readonly heartbeat?: boolean;
}

/** What `tryAsk` accepts. */
export interface TryAskOptions extends AskOptions {
  /**
   * Create a trial only while the study holds fewer than this many trials (any state, counting
   * every process working on it); see `tryAsk`. Any integer >= 0: a budget no study can reach
   * (2^53 trials and more, `1e300`) is accepted and never ends the run. No limit when omitted.
   */
  readonly maxTrialsInStudy?: number;
}

/**
 * The most trials one `askBatch` starts (`q`): a batch is held live at once, like `optimize`'s
 * `concurrency`, and has the same bound (1,024). Larger batches would only exhaust memory
 * (`askBatch(1e12)` asked until it did); ask several batches instead.
 */
export const MAX_BATCH_SIZE = 1024;

/** What `tell` accepts besides a plain value or values. */
export interface TellOptions {
  readonly state?: 'COMPLETE' | 'PRUNED' | 'FAIL';
  readonly values?: number | readonly number[] | Float64Array | Float32Array | null;
  /** Recorded as the trial's `fail_reason` system attribute when state is FAIL. */
  readonly failReason?: string;
}

/**
 * A value, an array of values (one per direction), or `TellOptions`. A typed array of numbers
 * (`Float64Array`, `Float32Array`, e.g. a TF.js `tensor.dataSync()`) counts as an array of values,
 * as Optuna takes any sequence of floats (a NumPy array included).
 */
export type TellResult = number | readonly number[] | Float64Array | Float32Array | TellOptions;

/** A finished trial to import with `study.addTrial`. */
export interface AddTrialOptions {
  readonly state?: 'COMPLETE' | 'PRUNED' | 'FAIL';
  readonly value?: number;
  readonly values?: readonly number[];
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly distributions: Readonly<Record<string, Distribution>>;
  readonly userAttrs?: Readonly<Record<string, JsonValue>>;
  /**
   * As Optuna's `create_trial(system_attrs=...)`; kept from FrozenTrial data (`trial.toJSON()`, a
   * FrozenTrial read back from JSON) as from a FrozenTrial, `fail_reason` included.
   */
  readonly systemAttrs?: Readonly<Record<string, JsonValue>>;
  readonly intermediateValues?: Readonly<Record<number, number>>;
  readonly datetimeStart?: number;
  readonly datetimeComplete?: number;
}

const ASK_KEYS = optionKeys<AskOptions>()(['heartbeat']);
const TRY_ASK_KEYS = optionKeys<TryAskOptions>()(['heartbeat', 'maxTrialsInStudy']);
const TELL_KEYS = optionKeys<TellOptions>()(['state', 'values', 'failReason']);
const GET_TRIALS_KEYS = ['states'] as const;
const ENQUEUE_KEYS = optionKeys<EnqueueTrialOptions>()(['userAttrs', 'skipIfExists']);
/** `AddTrialOptions`, and the fields of FrozenTrial data (`toJSON()`) that the import reassigns. */
const ADD_TRIAL_KEYS: readonly string[] = [
  ...optionKeys<AddTrialOptions>()([
    'state', 'value', 'values', 'params', 'distributions', 'userAttrs', 'systemAttrs', 'intermediateValues', 'datetimeStart', 'datetimeComplete',
  ]),
  'trialId',
  'number',
];

/** Options of `study.enqueueTrial`. */
export interface EnqueueTrialOptions {
  readonly userAttrs?: Readonly<Record<string, JsonValue>>;
  /**
   * Skip when a trial of the study already has exactly these parameters, as in Optuna: its
   * enqueued parameters if it was enqueued, else those it suggested, with the same names and equal
   * values. A trial that has more parameters (e.g. {opt: 'adam', lr: 0.1} when enqueueing
   * {opt: 'adam'}) does not count. The enqueues of one `Study` object run one at a time, so
   * duplicates among calls not awaited one by one are skipped too; not atomic across `Study`
   * objects or processes.
   */
  readonly skipIfExists?: boolean;
}

/**
 * A trial this process started and has not finished. It is live from the moment storage created
 * (or popped) it, so it gets heartbeats and is recorded as FAIL on an interruption even while the
 * sampler is still proposing its parameters (`trial` is null until `ask` returns it).
 */
interface LiveTrial {
  trial: Trial | null;
  readonly controller: AbortController;
  /** The `optimize` run that launched it, or null for `ask` / `tryAsk` called directly. */
  readonly run: OptimizeRun | null;
  /** Asked with `heartbeat: true`: only such trials get heartbeats (`beatLiveTrials`). */
  readonly heartbeat: boolean;
}

/**
 * The Study objects of this process that hold trials live, each while it holds at least one: the
 * process-wide registry of the trials this process is running. `failStaleTrials` spares a trial
 * live in any of them that stands for the same stored study (`isSameStoredStudy`: the same
 * storage object, or journals on one file), so two Study objects of one study in one process (two
 * `loadStudy` calls, a CLI session beside a library call) never fail each other's running trials
 * when heartbeats lag. An entry goes with the object's last live trial, however it ended (told,
 * withdrawn, interrupted, failed): see `LiveTrials`.
 */
const studiesWithLiveTrials = new Map<Study, ReadonlyMap<number, LiveTrial>>();

/** How many Study objects of this process hold trials live (the registry's size). Internal: for tests. */
export function studiesHoldingLiveTrials(): number {
  return studiesWithLiveTrials.size;
}

/** Whether some Study object of this process holding `study`'s stored study runs trial `trialId`. */
function isLiveInProcess(study: Study, trialId: number): boolean {
  for (const [other, live] of studiesWithLiveTrials) {
    if (live.has(trialId) && isSameStoredStudy(other, study)) return true;
  }
  return false;
}

/**
 * Trials this process gave up on, by the Study object that did: `failLiveTrials` released them
 * (an interruption, or a run ending on a result storage refused), but storage refused their FAIL
 * too (a journal whose sync failed), so they stay RUNNING and nothing of this process will record
 * them. Each maps to the `fail_reason` that FAIL was to have. `failOrphanedTrials` of any Study
 * object of the same stored study (one reopened in this process) writes that FAIL once storage
 * takes it. Only released trials, not every trial of this process that no Study object holds
 * live: a trial is also not live while storage creates it (until its ask registers it) and while
 * `withdrawTrial` or `failLiveTrials` records it, and a sweep that finished it then would write
 * a false reason and keep an enqueued configuration from going back to the queue. An entry goes
 * once a sweep of the same stored study finds its trial finished, or finishes it.
 */
const releasedTrials = new Map<Study, Map<number, string>>();

/** The `fail_reason` a released trial was to get (see `releasedTrials`), or null if not released. */
function releasedReason(study: Study, trialId: number): string | null {
  for (const [other, released] of releasedTrials) {
    const reason = released.get(trialId);
    if (reason !== undefined && isSameStoredStudy(other, study)) return reason;
  }
  return null;
}

/** Forgets a released trial once it is finished (see `releasedTrials`). */
function forgetReleased(study: Study, trialId: number): void {
  for (const [other, released] of releasedTrials) {
    if (!isSameStoredStudy(other, study) || !released.delete(trialId)) continue;
    if (released.size === 0) releasedTrials.delete(other);
  }
}

/**
 * A Study object's live trials by trial id, which keeps `studiesWithLiveTrials` in step: every
 * change to the map goes through `set` / `delete` / `clear`, so no exit path of a trial can leave
 * its Study object registered.
 */
class LiveTrials extends Map<number, LiveTrial> {
  readonly #owner: Study;

  constructor(owner: Study) {
    super();
    this.#owner = owner;
  }

  override set(trialId: number, entry: LiveTrial): this {
    super.set(trialId, entry);
    studiesWithLiveTrials.set(this.#owner, this);
    return this;
  }

  override delete(trialId: number): boolean {
    const deleted = super.delete(trialId);
    if (this.size === 0) studiesWithLiveTrials.delete(this.#owner);
    return deleted;
  }

  override clear(): void {
    super.clear();
    studiesWithLiveTrials.delete(this.#owner);
  }
}

/**
 * Set while the sampler prepares an asked trial: a `study.stop()` it makes then (a GridSampler's
 * 'grid exhausted') is the sampler's, not the user's (see `Study.stop`).
 */
const samplerAsking = new AsyncLocalStorage<true>();

/** One running `optimize` call; `stopped` is set by `study.stop()` while it runs. Internal. */
export interface OptimizeRun {
  stopped: string | null;
  /**
   * Whether the run may still launch trials apart from `stopped` (its timeout, an interruption, an
   * uncaught error): `tryAskIn` looks at both before it pops or creates a trial.
   */
  readonly mayLaunch: () => boolean;
  /**
   * The failed-trial warnings (code and message) this run has emitted: each is emitted once per
   * `optimize` call, as the README says, not once per process.
   */
  readonly warned: Set<string>;
}

/** Emits a warning once per `optimize` run (`run`), or once per process outside one. */
export function warnOncePerRun(run: OptimizeRun | null, code: string, message: string): void {
  if (run === null) {
    warnOnce(code, message);
    return;
  }
  const key = `${code}\u0000${message}`;
  if (run.warned.has(key)) return;
  run.warned.add(key);
  warn(code, message);
}

export interface StudyInit {
  readonly studyId: number;
  readonly studyName: string;
  readonly directions: readonly StudyDirection[];
  readonly storage: Storage;
  readonly sampler: Sampler;
  readonly pruner: Pruner;
  /** Whether the study opened the storage itself (then `close()` closes it). */
  readonly ownsStorage: boolean;
}

/**
 * A study: trials of one objective (or several) in a storage, searched by a sampler and stopped
 * early by a pruner, as Optuna's `Study`. Made by `createStudy` / `loadStudy`, not constructed
 * directly. `optimize(objective, options)` runs the loop; `ask` / `tell` let you drive it;
 * `bestTrial`, `bestTrials` and `getTrials` read the results.
 */
export class Study implements StudyView {
  readonly studyId: number;
  readonly studyName: string;
  readonly directions: readonly StudyDirection[];
  readonly storage: Storage;
  readonly sampler: Sampler;
  readonly pruner: Pruner;

  private readonly ownsStorage: boolean;
  /** The trials this object is running, mirrored in the process-wide `studiesWithLiveTrials`. */
  private readonly live: LiveTrials = new LiveTrials(this);
  /** COMPLETE trials this Study object recorded without constraint values (`checkUnconstrainedTell`). */
  private unconstrainedTells = 0;
  private unconstrainedWarned = false;
  /** Trial creations (and pops) in flight: `failLiveTrials` waits for them, so it misses none. */
  private readonly creating = new Set<Promise<unknown>>();
  /** Trials an interruption failed while they were being asked: sampler writes to them are dropped. */
  private readonly abandoned = new Set<number>();
  /**
   * Per trial, the flush in flight (settled, never rejecting), so that the next one starts after it:
   * `shouldPrune` then reads back what every earlier `report` wrote, awaited or not.
   */
  private readonly flushing = new WeakMap<Trial, Promise<void>>();
  private stopReason: string | null = null;
  /** The `optimize` calls running now, each with its own stop flag (see `stop`). */
  private readonly runs = new Set<OptimizeRun>();
  private readonly host: TrialHost;
  /** Asks in flight that will take one of the sampler's finitely many points (see `remainingTrials`). */
  private pointAsks = 0;
  /** Resolved (and replaced) whenever such an ask settles. */
  private pointAskSettled: { promise: Promise<void>; resolve: () => void } = settledSignal();
  /** Per trial id, the `tell` in flight (settled, never rejecting): the next tell of it starts after it. */
  private readonly tellsInFlight = new Map<number, Promise<void>>();
  /** The last `enqueueTrial` of this object, settled: the next one starts after it. */
  private enqueueing: Promise<void> = Promise.resolve();

  /**
   * Use `createStudy` or `loadStudy`. A sampler that models one objective (TpeSampler) with several
   * directions throws `InvalidOptionError` here too (`checkSamplerDirections`).
   */
  constructor(init: StudyInit) {
    checkSamplerDirections(init.sampler, init.studyName, init.directions);
    this.studyId = init.studyId;
    this.studyName = init.studyName;
    this.directions = Object.freeze([...init.directions]);
    this.storage = init.storage;
    this.sampler = init.sampler;
    this.pruner = init.pruner;
    this.ownsStorage = init.ownsStorage;
    this.host = {
      study: this,
      sampleIndependent: (trial, name, distribution) =>
        this.sampler.sampleIndependent(this, trial, name, distribution),
      flush: (trial) => this.flush(trial),
      persistParams: (trial, params, distributions) => this.storage.updateTrial(trial.trialId, { params, distributions }),
      shouldPrune: (trial) => this.shouldPrune(trial),
    };
  }

  /** The direction of a single-objective study. */
  get direction(): StudyDirection {
    if (this.directions.length !== 1) {
      throw new InvalidOptionError('direction', 'a single-objective study', `${this.directions.length} directions`);
    }
    return this.directions[0];
  }

  /** True when the study has several directions. */
  get isMultiObjective(): boolean {
    return this.directions.length > 1;
  }

  /**
   * Why the study was last asked to stop (`stop()`, an exhausted grid, ...), or null if it was not
   * since the last `optimize` call that started while no other was running.
   */
  get stopped(): string | null {
    return this.stopReason;
  }

  // ---------------------------------------------------------------------------------------------
  // StudyView
  // ---------------------------------------------------------------------------------------------

  /** Trials ordered by number, filtered by `states`; any other option name throws `InvalidOptionError`. */
  async getTrials(options: { readonly states?: readonly TrialState[] } = {}): Promise<readonly FrozenTrial[]> {
    // `{state: [...]}` returned every trial.
    if (options !== null && typeof options === 'object') checkOptionsObject(options, GET_TRIALS_KEYS, 'getTrials');
    return this.storage.getAllTrials(this.studyId, options);
  }

  /** See `StudyView.claim`: true for exactly one caller per key in this study, ever (GridSampler's points). */
  claim(key: string): Promise<boolean> {
    return this.storage.claim(this.studyId, key);
  }

  /**
   * See `StudyView.areClaimed`: null when the storage lacks `areClaimed`. A (custom) storage's
   * answer other than one boolean per key is a `StorageError` naming the method.
   */
  async areClaimed(keys: readonly string[]): Promise<readonly boolean[] | null> {
    if (typeof this.storage.areClaimed !== 'function') return null;
    const claimed: unknown = await this.storage.areClaimed(this.studyId, keys);
    if (!Array.isArray(claimed) || claimed.length !== keys.length || !claimed.every((c) => typeof c === 'boolean')) {
      throw new StorageError(`storage.areClaimed returned ${describeValue(claimed)} for ${keys.length} keys; expected one boolean per key`);
    }
    return claimed as boolean[];
  }

  /**
   * Merges system attributes into a running (or waiting) trial; samplers record state for later
   * samplers on the study this way (see `StudyView.setTrialSystemAttrs`). Rejects with
   * `TrialFinishedError` when the trial is finished, except for a trial whose ask is still running
   * after an interruption recorded it as FAIL: the write is then dropped.
   */
  async setTrialSystemAttrs(trialId: number, attrs: Readonly<Record<string, JsonValue>>): Promise<void> {
    if (this.abandoned.has(trialId)) return;
    await this.storage.updateTrial(trialId, { systemAttrs: attrs });
  }

  /**
   * Launch no new trials in the `optimize` calls running now, all of them (running trials finish;
   * an ask of theirs still waiting for enqueues or a grid point creates none, see `tryAskIn`).
   * An `optimize` call started later runs normally: it does not inherit this stop, and it does not
   * clear it for the calls that were already running. A `reason` that is not a string throws
   * `InvalidOptionError` (option `reason`) and stops nothing. Called by work an interrupted
   * `optimize` (or `runTrialsInProcesses`) call left running (a callback past the interruption's 10 s bound, a late objective,
   * a timer either started, an ask a sampler still answers), it stops nothing, with a one-time
   * `LATE_STOP_IGNORED` warning: it meant the call that ran it, which has ended, not the calls
   * running now. Without the warning when the sampler stops the study itself from such an ask
   * (a GridSampler that hands out its last point): the calls running now find the grid exhausted
   * by their own asks.
   */
  stop(reason = 'stopped by the user'): void {
    // stop(null) left the stop flag null, so the running optimize went on.
    if (typeof reason !== 'string') throw new InvalidOptionError('reason', 'a string', reason);
    if (isLeftoverOfOptimize(this)) {
      // A sampler's own stop (a GridSampler handing out its last point) from an ask that outlived
      // its call is nothing the user did or can act on: the calls running now find the grid
      // exhausted by their own asks.
      if (samplerAsking.getStore() === true) return;
      warnOnce(
        'LATE_STOP_IGNORED',
        `study.stop(${JSON.stringify(reason)}) on study "${this.studyName}" came from work an optimize or runTrialsInProcesses call left running (a callback, an objective, or a timer or promise either started) after that call has ended, and is ignored: it meant that call, and would have stopped the calls running now`,
      );
      return;
    }
    if (this.stopReason === null) this.stopReason = reason;
    for (const run of this.runs) if (run.stopped === null) run.stopped = reason;
  }

  /**
   * Registers an `optimize` run: its own stop flag, set by every `stop()` until `endRun`. A
   * previous stop is forgotten by `stopped` only when no other run is going on. Internal.
   */
  beginRun(mayLaunch: () => boolean = () => true): OptimizeRun {
    if (this.runs.size === 0) this.stopReason = null;
    const run: OptimizeRun = { stopped: null, mayLaunch, warned: new Set() };
    this.runs.add(run);
    return run;
  }

  /** Unregisters a run of `beginRun`. Internal. */
  endRun(run: OptimizeRun): void {
    this.runs.delete(run);
  }

  // ---------------------------------------------------------------------------------------------
  // ask / tell
  // ---------------------------------------------------------------------------------------------

  /**
   * Starts a trial: takes the oldest enqueued (WAITING) trial or creates one, then lets the sampler
   * propose the parameters it models jointly. Rejects with `GridExhaustedError` when a grid sampler
   * has nothing left, and the running optimize stops with reason "grid exhausted": no trial is
   * created when every point is taken, by this process or, as storage shows before the trial is
   * created, by earlier runs and other workers (an ask that the asks in flight would leave without
   * a point waits for them first); a trial that another process beat to the last point meanwhile
   * is recorded as FAIL with the error's message. Any other
   * error while asking also records the trial as FAIL with the reason. A sampler whose joint
   * (relative) sampling throws is not such an error: the trial falls back to independent sampling
   * with a one-time `SAMPLER_RELATIVE_FAILED` warning, except for `INVALID_OPTION` and
   * `BACKEND_UNAVAILABLE` (a GpSampler `backend` the machine lacks), which would fail every trial
   * alike and so reject the ask (and, inside `optimize`, stop it with that error). Rejects with
   * `InterruptedError` when the running `optimize` was interrupted meanwhile (the trial is then
   * recorded as FAIL, "interrupted"). An option name it does not know (Optuna's fixed
   * distributions, `ask({x: dist})`, have no counterpart) throws `InvalidOptionError`, creating nothing;
   * so do options that are not an object (null counts as none) and a `heartbeat` that is not a boolean.
   */
  async ask(options: AskOptions = {}): Promise<Trial> {
    // null is "no options"; ask(true) or ask(5) was ignored.
    if (options !== null) checkOptionsObject(options, ASK_KEYS, 'ask');
    const trial = await this.tryAsk({ heartbeat: options?.heartbeat });
    return trial as Trial; // never null without maxTrialsInStudy
  }

  /**
   * `ask` under a study-wide trial budget: takes the oldest enqueued (WAITING) trial if there is
   * one (it is already counted), else creates a trial only while the study holds fewer than
   * `maxTrialsInStudy` trials in any state. The count and the creation are one atomic storage step
   * (`Storage.createTrialIfBelow`), so workers in any number of processes never overshoot the
   * budget. Resolves null, creating nothing, when the study is at its budget. `optimize` launches
   * its trials this way.
   */
  async tryAsk(options: TryAskOptions = {}): Promise<Trial | null> {
    return this.tryAskIn(null, options);
  }

  /**
   * `tryAsk` for an `optimize` run: the trial belongs to `run`, so that interrupting that run
   * (`failLiveTrials(reason, run)`) fails it and not the trials of other runs or of direct asks.
   * Resolves null, creating nothing, once the run may no longer launch trials (`study.stop()`, its
   * timeout, an interruption: `run.stopped`, `run.mayLaunch`), looked at after each wait (for
   * enqueues in flight, for a grid point) right before the trial is popped or created. A trial
   * popped or created while such a stop came is not run: it is recorded FAIL "interrupted" and,
   * if it was enqueued, its configuration enqueued again (`withdrawTrial`), and this resolves
   * null. A stop that comes later, while the sampler prepares the trial (a GridSampler stops
   * the study when it hands out its last point), leaves the trial to run, as Optuna's running
   * trials finish after `stop()`. Internal.
   */
  async tryAskIn(run: OptimizeRun | null, options: TryAskOptions = {}): Promise<Trial | null> {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
    checkOptionsObject(options, TRY_ASK_KEYS, 'tryAsk');
    const budget = options.maxTrialsInStudy;
    if (budget !== undefined && (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 0)) {
      throw new InvalidOptionError('maxTrialsInStudy', 'an integer >= 0', budget);
    }
    // A budget is a bound, not a size: one past 2^53 (CLI `nTrials: 1e300`) failed the first ask, as
    // storage counts in safe integers; no study holds 2^53 trials, so clamping it changes nothing.
    const max = budget === undefined ? undefined : Math.min(budget, Number.MAX_SAFE_INTEGER);
    // heartbeat: 'true' or 1 gave a trial without heartbeats, which failStaleTrials never fails.
    if (options.heartbeat !== undefined && typeof options.heartbeat !== 'boolean') {
      throw new InvalidOptionError('heartbeat', 'a boolean', options.heartbeat);
    }
    // After this object's enqueues, awaited or not (Optuna's enqueue_trial is synchronous, so ports
    // drop the await): an ask that popped the queue before such an enqueue had created its trial
    // sampled a new one, and the enqueued configuration was left WAITING.
    await this.enqueueing;
    // Stopped while waiting for the enqueues: the enqueued trials stay WAITING for a later run.
    if (run !== null && !runMayLaunch(run)) return null;
    const beatOwner = currentProcessIdentity() ?? { pid: process.pid, host: HOST };
    const beat = options.heartbeat === true ? { [SystemAttr.heartbeat]: Date.now(), [SystemAttr.heartbeatOwner]: { ...beatOwner } } : null;
    // A trial a run launches is this process's to finish: the run tells it or, interrupted, fails
    // it. It records this process, so that once the process is gone (SIGKILL, a crash) a later run
    // can fail it (`failOrphanedTrials`). Not a bare ask's: its trial may be told from elsewhere.
    const identity = run === null ? null : currentProcessIdentity();
    const owner = identity === null ? null : { [SystemAttr.ownerProcess]: { ...identity } };
    const stamp = beat === null && owner === null ? null : { ...beat, ...owner };
    const controller = new AbortController();
    const slot = { takesPoint: false };
    let frozen: FrozenTrial | null;
    try {
      frozen = await this.startTrial(stamp, beat !== null, max, controller, run, slot);
    } catch (error) {
      this.releasePointAsk(slot);
      throw error;
    }
    if (frozen === null) {
      this.releasePointAsk(slot);
      return null;
    }
    const trialId = frozen.trialId;
    if (run !== null && !runMayLaunch(run) && !controller.signal.aborted) {
      // The stop came while storage popped or created the trial: it is not run (see above).
      this.releasePointAsk(slot);
      if (this.live.get(trialId)?.controller === controller) this.live.delete(trialId);
      await this.withdrawStored(frozen);
      return null;
    }
    try {
      // A popped WAITING trial: stamped now (an owner it held before is replaced by this process).
      const popped =
        (beat !== null && frozen.systemAttrs[SystemAttr.heartbeat] === undefined) ||
        (identity !== null && !sameIdentity(frozen.systemAttrs[SystemAttr.ownerProcess], identity));
      if (stamp !== null && popped) await this.storage.updateTrial(trialId, { systemAttrs: stamp });
      const trial = await samplerAsking.run(true, () => this.prepareTrial(frozen, controller));
      if (controller.signal.aborted) throw new InterruptedError(`trial ${frozen.number} was interrupted while it was being asked`);
      const entry = this.live.get(trialId);
      if (entry !== undefined && entry.controller === controller) entry.trial = trial;
      return trial;
    } catch (error) {
      if (this.live.get(trialId)?.controller === controller) this.live.delete(trialId);
      // An interruption already recorded the trial as FAIL ("interrupted"); an enqueued
      // configuration it held goes back to the queue, as it never ran.
      if (controller.signal.aborted) {
        if (isEnqueued(frozen)) await this.requeue(frozen);
        if (error instanceof InterruptedError) throw error;
        throw new InterruptedError(`trial ${frozen.number} was interrupted while it was being asked`, { cause: error });
      }
      try {
        await this.storage.finishTrial(trialId, { state: 'FAIL', systemAttrs: { [SystemAttr.failReason]: messageOf(error) } });
      } catch (finishError) {
        if (!(finishError instanceof TrialFinishedError)) throw finishError;
      }
      if (error instanceof GridExhaustedError) samplerAsking.run(true, () => this.stop('grid exhausted'));
      throw error;
    } finally {
      this.abandoned.delete(trialId);
      this.releasePointAsk(slot);
    }
  }

  /** Ends the count of an ask that was to take one of the sampler's finitely many points. */
  private releasePointAsk(slot: { takesPoint: boolean }): void {
    if (!slot.takesPoint) return;
    slot.takesPoint = false;
    this.pointAsks--;
    const settled = this.pointAskSettled;
    this.pointAskSettled = settledSignal();
    settled.resolve();
  }

  /**
   * Pops the oldest WAITING trial or creates one (within `max`, when given), and makes it live in
   * the same turn as storage answers, so that an interruption waiting on `creating` sees it.
   */
  private async startTrial(
    stamp: Record<string, JsonValue> | null,
    heartbeat: boolean,
    max: number | undefined,
    controller: AbortController,
    run: OptimizeRun | null,
    slot: { takesPoint: boolean },
  ): Promise<FrozenTrial | null> {
    const register = (frozen: FrozenTrial | null): FrozenTrial | null => {
      if (frozen !== null) this.live.set(frozen.trialId, { trial: null, controller, run, heartbeat });
      return frozen;
    };
    const track = async (operation: Promise<FrozenTrial | null>): Promise<FrozenTrial | null> => {
      const registered = operation.then(register);
      this.creating.add(registered);
      try {
        return await registered;
      } finally {
        this.creating.delete(registered);
      }
    };
    const remaining = this.sampler.remainingTrials?.bind(this.sampler);
    // An enqueued trial always runs, but it may take a point too (one enqueued without parameters
    // gets a grid point): it counts as an ask in flight, else the asks beside it would expect that
    // point and one of them would be recorded FAIL.
    const popped = (frozen: FrozenTrial): FrozenTrial => {
      if (remaining !== undefined) {
        this.pointAsks++;
        slot.takesPoint = true;
      }
      return frozen;
    };
    const stopped = (): boolean => run !== null && !runMayLaunch(run);
    if (stopped()) return null;
    let waiting = await track(this.storage.popWaitingTrial(this.studyId));
    if (waiting !== null) return popped(waiting);
    // A sampler with finitely many points (a grid): an ask that the asks in flight would leave
    // without one waits for them (an enqueued trial may turn up meanwhile); with none left here, no
    // trial is created (concurrency 8 on a 3-point grid recorded 5 FAIL trials).
    if (remaining !== undefined) {
      // Awaited: a grid first skips the points other workers (or earlier runs) took, so a rerun of
      // an exhausted grid creates no trial (one FAIL trial per concurrent ask, before). Compared
      // after the await, with the count of asks in flight as it is then, and counted in the same turn.
      for (;;) {
        const left = await remaining(this);
        if (stopped()) return null;
        if (this.pointAsks < left) break;
        if (this.pointAsks === 0) {
          this.stop('grid exhausted');
          throw new GridExhaustedError(`sampler "${this.sampler.name}" has handed out every grid point of study "${this.studyName}"`);
        }
        // Not live yet (no trial): an interruption meanwhile fails the trial created below, as
        // optimize records a trial created after it.
        await this.pointAskSettled.promise;
        if (stopped()) return null;
        waiting = await track(this.storage.popWaitingTrial(this.studyId));
        if (waiting !== null) return popped(waiting);
      }
      this.pointAsks++;
      slot.takesPoint = true;
    }
    if (stopped()) return null;
    const template = stamp === null ? {} : { systemAttrs: stamp };
    return track(
      max === undefined
        ? this.storage.createTrial(this.studyId, template)
        : this.storage.createTrialIfBelow(this.studyId, max, template),
    );
  }

  /** Runs the sampler's hooks for a new trial and builds the live `Trial` (see `ask`). */
  private async prepareTrial(frozen: FrozenTrial, controller: AbortController): Promise<Trial> {
    const enqueued = readFixedParams(frozen);
    if (this.sampler.beforeTrial !== undefined) await this.sampler.beforeTrial(this, frozen);

    let relative: Params = {};
    let relativeSpace: SearchSpace = {};
    if (this.sampler.inferRelativeSearchSpace !== undefined && this.sampler.sampleRelative !== undefined) {
      try {
        const space = await this.sampler.inferRelativeSearchSpace(this, frozen);
        const free: Record<string, Distribution> = {};
        for (const [name, distribution] of Object.entries(space)) {
          if (!hasOwn(enqueued, name)) setOwn(free, name, distribution);
        }
        if (Object.keys(free).length > 0) {
          relative = await this.sampler.sampleRelative(this, frozen, free);
          relativeSpace = free;
        }
      } catch (error) {
        if (controller.signal.aborted) throw error;
        // A misconfigured sampler, or a backend named explicitly that this machine lacks
        // (`backend: 'cuda'` without a device): each would fail every trial the same way, so the
        // ask fails (its trial recorded FAIL) instead of turning the study into random search.
        if (error instanceof KestrelError && (error.code === 'INVALID_OPTION' || error.code === 'BACKEND_UNAVAILABLE')) throw error;
        warnOnce(
          'SAMPLER_RELATIVE_FAILED',
          `sampler "${this.sampler.name}" failed to sample jointly (${messageOf(error)}); ` +
            'falling back to independent sampling for the affected trials',
        );
        relative = {};
        relativeSpace = {};
      }
      if (Object.keys(relative).length > 0) {
        await this.storage.updateTrial(frozen.trialId, {
          systemAttrs: { [SystemAttr.relativeParams]: relative as Record<string, JsonValue> },
        });
      }
    }
    return new Trial(this.host, frozen, { enqueued, relative, relativeSpace }, controller.signal);
  }

  /**
   * Starts `q` trials whose parameters are decided together (batch Bayesian optimization): each
   * is asked in turn, so the sampler sees the earlier ones as RUNNING with their proposals
   * recorded, and a GpSampler fantasizes them at its posterior mean (kriging believer) before
   * placing the next: the q points spread out instead of piling onto one acquisition maximum.
   *
   * What is decided at ask time: the sampler's relative search space only, i.e. for GpSampler
   * the parameters every completed trial shares (same distribution). Their values are fixed when
   * `askBatch` resolves and `suggest*` returns them. Parameters outside that space (define-by-run
   * branches, parameters no completed trial has yet) are sampled independently when the objective
   * calls `suggest*`, and are not spread jointly. With a sampler that has no relative sampling
   * (random; TPE without `multivariate`), `askBatch(q)` is just q asks.
   *
   * Rejects with `InvalidOptionError` (option `q`), creating nothing, unless q is an integer in
   * [1, `MAX_BATCH_SIZE`] (1,024: the batch is held live at once). A grid that runs
   * out partway (`GridExhaustedError` after at least one trial) ends the batch early: the trials
   * asked so far are returned, holding their grid points (the study is stopped, as in `ask`). If an ask fails otherwise, or the grid had no point
   * left, the trials already asked in this batch are finished as FAIL (reason recorded; one
   * finished meanwhile elsewhere is left as it is) and that error is rethrown, so no half-batch is
   * left RUNNING.
   */
  async askBatch(q: number, options: AskOptions = {}): Promise<Trial[]> {
    if (typeof q !== 'number' || !Number.isInteger(q) || q < 1) {
      throw new InvalidOptionError('q', 'an integer >= 1', q);
    }
    if (q > MAX_BATCH_SIZE) {
      throw new InvalidOptionError('q', `at most ${MAX_BATCH_SIZE} trials in one batch (MAX_BATCH_SIZE; ask several batches)`, q);
    }
    const trials: Trial[] = [];
    try {
      for (let i = 0; i < q; i++) trials.push(await this.ask(options));
    } catch (error) {
      // Grid points are claimed for good: failing the trials that hold them would lose those
      // points (askBatch(5) on a 3-point grid ran none of them).
      if (error instanceof GridExhaustedError && trials.length > 0) return trials;
      // Every trial of the batch is finished, and the error that aborted it is the one thrown,
      // even when one of them was finished meanwhile (a stale sweep of another worker, say).
      for (const trial of trials) {
        try {
          await this.tell(trial, { state: 'FAIL', failReason: `askBatch aborted: ${messageOf(error)}` });
        } catch (tellError) {
          if (!(tellError instanceof TrialFinishedError)) {
            warn('ASK_BATCH_CLEANUP_FAILED', `askBatch: could not record trial ${trial.number} as FAIL: ${messageOf(tellError)}`);
          }
        }
      }
      throw error;
    }
    return trials;
  }

  /**
   * Finishes a trial: a number (or one per objective) makes it COMPLETE; `{state: 'PRUNED'}` or
   * `{state: 'FAIL'}` otherwise. A value that is NaN, infinite, not a number or of the wrong arity
   * makes the trial FAIL with the reason recorded (a warning is emitted once it is recorded); the study goes on. So
   * does anything buffered in the trial that storage refuses (its parameters, attributes and
   * intermediate values are then dropped): a told trial never stays RUNNING because of its data.
   * Rejects with `TrialFinishedError` if the trial was already finished, here or by another worker
   * meanwhile (whatever the value, and without a warning about it; tells of one trial through
   * this `Study` object run one after the other, so of two at once the second is refused before
   * the sampler sees its value), and, as Optuna raises
   * ValueError, with `InvalidOptionError` for values given with state PRUNED or FAIL (option
   * `values`: a PRUNED trial takes its last reported value), a `failReason` that is not a string,
   * an option other than `state`, `values` and `failReason` (`{value: 3}`, say), or a trial that is WAITING (enqueued, not yet asked; option `trial`); the trial is then
   * unchanged. After `tell`, the `Trial` refuses new suggestions, attributes and reports. A `Trial`
   * asked from another study is refused (`InvalidOptionError`, option `trial`); one asked from
   * another `Study` object of this study is told through that object, which holds it live.
   */
  async tell(trial: Trial | number, result: TellResult): Promise<FrozenTrial> {
    const options = normalizeTellResult(result);
    const trialId = await this.resolveTrialId(trial);
    // A Trial asked from another Study object of this study (see `owns`) is live in that object,
    // with its buffered suggestions, attributes and writes in flight: told here, they were dropped
    // (a COMPLETE trial without its parameters) and the trial stayed live there.
    if (trial instanceof Trial && trial.study !== this) return (trial.study as Study).tell(trial, result);
    // One tell of a trial at a time (by Trial or by number): two at once both found it RUNNING and
    // both ran the sampler's finish hook (a constraintsFunc called with the value storage then
    // refused, its penalty cached); the second now finds it finished and is refused first.
    return afterPrevious(this.tellsInFlight, trialId, () => this.tellNow(trial, trialId, options));
  }

  private async tellNow(trial: Trial | number, trialId: number, options: ReturnType<typeof normalizeTellResult>): Promise<FrozenTrial> {
    const live = this.live.get(trialId);
    if (live === undefined) {
      const stored = await this.storage.getTrial(trialId);
      if (stored.state === 'WAITING') {
        throw new InvalidOptionError('trial', 'a RUNNING trial (ask for an enqueued trial before telling it)', `trial ${stored.number} (WAITING)`);
      }
      // Told before: refused here, before the value is checked. A bad value checked first warned
      // "trial failed" for a trial that stays as it was, and so silenced that warning (once per
      // message) for the next trial that really fails with it.
      if (isFinishedState(stored.state)) throw new TrialFinishedError(trialId, stored.state, stored.number);
    }
    let state = options.state ?? 'COMPLETE';
    let values: readonly number[] | null = null;
    let failReason = options.failReason ?? null;
    // Why a bad value fails the trial, warned only once the trial is recorded finished here: a
    // live trial may have been finished elsewhere meanwhile (another worker's stale-trial sweep),
    // and a warning for a tell that storage then refuses silenced the next real one (warnOnce).
    let invalidValue: string | null = null;

    if (state === 'COMPLETE') {
      const checked = this.checkValues(options.values);
      if (typeof checked === 'string') {
        state = 'FAIL';
        failReason = checked;
        invalidValue = checked;
      } else {
        values = checked;
      }
    } else if (state === 'PRUNED') {
      values = this.prunedValues(live?.trial ?? null, await this.storage.getTrial(trialId));
    }

    // After the trial's writes in flight (a `report` not awaited): taken before one settled, its
    // changes reached storage after the trial was finished (refused, dropped), or, had it failed,
    // were restored into a trial already told and never written.
    const liveTrial = live?.trial ?? null;
    const pending = liveTrial === null ? undefined : this.flushing.get(liveTrial);
    if (pending !== undefined) await pending;
    const changes = live?.trial?.takeChanges();
    const systemAttrs: Record<string, JsonValue> = {};
    if (state === 'FAIL' && failReason !== null) systemAttrs[SystemAttr.failReason] = failReason;
    if (this.sampler.finishSystemAttrs !== undefined) {
      // The trial as it will be stored, so that what the sampler derives from it (NsgaIiSampler,
      // GpSampler: constraint values) is written with the result: a finished trial cannot be updated, and a
      // reader must never see it finished without them.
      const stored = await this.storage.getTrial(trialId);
      if (isFinishedState(stored.state)) {
        // Told before (or finished elsewhere): the hook must not see a result that will not be
        // recorded (NsgaIiSampler cached the refused result's constraint penalty over the stored one).
        if (this.live.get(trialId) === live) this.live.delete(trialId);
        throw new TrialFinishedError(trialId, stored.state, stored.number);
      }
      const preview = new FrozenTrial({
        ...stored.toJSON(),
        state,
        values,
        params: { ...stored.params, ...changes?.params },
        distributions: { ...stored.distributions, ...changes?.distributions },
        userAttrs: { ...stored.userAttrs, ...changes?.userAttrs },
        intermediateValues: { ...stored.intermediateValues, ...changes?.intermediateValues },
        datetimeComplete: Date.now(),
      });
      try {
        Object.assign(systemAttrs, await this.sampler.finishSystemAttrs(this, preview, state, values));
      } catch (error) {
        // A sampler broke the hook's contract: the trial stays RUNNING and keeps what it recorded.
        if (changes !== undefined) live?.trial?.restoreChanges(changes);
        throw error;
      }
    }
    let frozen: FrozenTrial;
    try {
      frozen = await this.storage.finishTrial(trialId, {
        state,
        values,
        params: changes?.params,
        distributions: changes?.distributions,
        userAttrs: changes?.userAttrs,
        intermediateValues: changes?.intermediateValues,
        systemAttrs,
      });
    } catch (error) {
      if (error instanceof TrialFinishedError) {
        // Finished elsewhere (an interruption, or a worker that found its heartbeat stale): it is
        // no longer ours to beat or to fail.
        if (this.live.get(trialId) === live) this.live.delete(trialId);
        throw error;
      }
      if (changes === undefined || !isRejectedInput(error)) {
        if (changes !== undefined) live?.trial?.restoreChanges(changes);
        throw error;
      }
      // What the trial recorded cannot be stored (a user attribute that is not JSON, say): record
      // the trial as FAIL with the reason rather than leave it RUNNING, without the user
      // attributes and intermediate values, and without the parameters too if they were the cause.
      const reason = notRecordedFailReason(messageOf(error), state === 'FAIL' ? failReason : null);
      // Names the trial: `warn`, as a process-wide `warnOnce` record of each would be kept for good.
      warn('TRIAL_RESULT_REJECTED', `trial ${trialLabel(live, trialId)} failed: ${reason}`);
      const fail = { state: 'FAIL', systemAttrs: { [SystemAttr.failReason]: reason } } as const;
      try {
        frozen = await this.storage.finishTrial(trialId, { ...fail, params: changes.params, distributions: changes.distributions });
      } catch (retryError) {
        if (!isRejectedInput(retryError)) throw retryError;
        frozen = await this.storage.finishTrial(trialId, fail);
      }
    }
    // Once per optimize call for a trial it ran (as for a thrown error), else once per process.
    if (invalidValue !== null) warnOncePerRun(live?.run ?? null, 'INVALID_OBJECTIVE_VALUE', `trial failed: ${invalidValue}`);
    this.live.delete(trialId);
    (trial instanceof Trial ? trial : live?.trial)?.markFinished(frozen.state);
    if (frozen.state === 'COMPLETE' && !hasOwn(frozen.systemAttrs, SystemAttr.constraints)) await this.checkUnconstrainedTell();
    if (this.sampler.afterTrial !== undefined) await this.sampler.afterTrial(this, frozen, frozen.state, frozen.values);
    return frozen;
  }

  /**
   * A COMPLETE trial was recorded without constraint values: in a study whose trials hold them
   * (run before with a `constraintsFunc`, now resumed without one: another sampler, a CLI worker
   * without the constraints) it counts as infeasible for bestTrial(), which silently spoils the
   * study. Warns once (CONSTRAINTS_NOT_RECORDED). The study is read at the 1st, 2nd, 4th, 8th, ...
   * such tell of this Study object (O(log n) reads): a worker that started before any constrained
   * trial existed still finds out, and an unconstrained study pays little.
   */
  private async checkUnconstrainedTell(): Promise<void> {
    this.unconstrainedTells += 1;
    if (this.unconstrainedWarned || (this.unconstrainedTells & (this.unconstrainedTells - 1)) !== 0) return;
    const trials = await this.storage.getAllTrials(this.studyId);
    if (!trials.some((t) => hasOwn(t.systemAttrs, SystemAttr.constraints))) return;
    this.unconstrainedWarned = true;
    warnOnce(
      'CONSTRAINTS_NOT_RECORDED',
      `study "${this.studyName}" holds constraint values, but its sampler (${this.sampler.name}) records none: ` +
        'trials finished now count as infeasible in bestTrial()/bestTrials(); give the sampler the constraintsFunc the study was run with ' +
        '(constraintsExport in a kestrel config)',
    );
  }

  /**
   * Runs `objective` over many trials. See `OptimizeOptions`. Called from inside a trial (objective,
   * callback, `onTrialStart`) of a running `optimize` of this stored study (through this Study
   * object or another of the same study and storage, see `isSameStoredStudy`), it rejects with
   * `NestedOptimizationError`, starting nothing, as Optuna refuses nested optimization; calls that
   * run side by side, and another study's `optimize` inside an objective, are allowed. Its trials
   * record this process (`owner_process`), and before its first launch, then every
   * `ORPHAN_SWEEP_INTERVAL_MS`, it records as FAIL the RUNNING trials whose owner process has
   * exited (`failOrphanedTrials`), heartbeats or not.
   */
  optimize(objective: Objective, options: OptimizeOptions = {}): Promise<void> {
    return runOptimize(this, objective, options);
  }

  /**
   * Queues a trial whose parameters are fixed (warm start with known configurations). Parameters the
   * objective suggests that are not given here are sampled as usual. Values must be finite numbers,
   * strings, booleans or null, else it rejects with `InvalidOptionError` (option `params.<name>`)
   * and queues nothing (as it does for an unknown name in `options`); whether a value fits its distribution is checked when the trial suggests it
   * (`InvalidParamValueError`, which fails that trial). An ask of this `Study` object made after the
   * call, awaited or not, sees the enqueued trial. With some parameters given, the sampler is asked
   * for the rest only; a `GpSampler` keeps its model over all the parameters it models and
   * maximizes its acquisition over the free ones with the given ones held (BoTorch's
   * `fixed_features`), so the suggestion accounts for the enqueued values.
   */
  async enqueueTrial(params: Readonly<Record<string, ParamValue>>, options: EnqueueTrialOptions = {}): Promise<void> {
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      throw new InvalidOptionError('params', 'an object of parameter values', params);
    }
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
    checkOptionsObject(options, ENQUEUE_KEYS, 'enqueueTrial');
    for (const [name, value] of Object.entries(params)) {
      const ok =
        value === null || typeof value === 'string' || typeof value === 'boolean' ||
        (typeof value === 'number' && Number.isFinite(value));
      if (!ok) throw new InvalidOptionError(`params.${name}`, 'a finite number, string, boolean or null', value);
    }
    // One at a time, in call order: enqueues not awaited one by one (`Promise.all`) each read the
    // trials before any had created its own, so skipIfExists queued every duplicate.
    const run = this.enqueueing.then(() => this.enqueueNow(params, options));
    this.enqueueing = run.catch(() => undefined);
    return run;
  }

  private async enqueueNow(params: Readonly<Record<string, ParamValue>>, options: EnqueueTrialOptions): Promise<void> {
    if (options.skipIfExists === true) {
      const trials = await this.getTrials();
      const key = stableKey(params);
      for (const t of trials) {
        const existing = hasOwn(t.systemAttrs, SystemAttr.fixedParams) ? readFixedParams(t) : t.params;
        if (stableKey(existing) === key) return;
      }
    }
    await this.storage.createTrial(this.studyId, {
      state: 'WAITING',
      userAttrs: options.userAttrs ?? {},
      systemAttrs: { [SystemAttr.fixedParams]: params as Record<string, JsonValue> },
    });
  }

  /**
   * Imports a finished trial (results obtained elsewhere). Validated against its distributions;
   * `datetimeStart` / `datetimeComplete` (default: now) must be epoch milliseconds a Date can hold
   * (|t| <= 8.64e15), the completion not before the start. A field it does not know (Optuna's
   * `user_attrs`, a misspelling) throws `InvalidOptionError` naming it; FrozenTrial data
   * (`trial.toJSON()`) is accepted, its `trialId` and `number` being reassigned.
   */
  async addTrial(trial: AddTrialOptions | FrozenTrial): Promise<FrozenTrial> {
    if (trial === null || typeof trial !== 'object' || Array.isArray(trial)) {
      throw new InvalidOptionError('trial', 'an object {params, distributions, value | values, state?, ...} or a FrozenTrial', trial);
    }
    checkOptionsObject(trial, ADD_TRIAL_KEYS, 'addTrial');
    const state = trial.state ?? 'COMPLETE';
    for (const option of ['datetimeStart', 'datetimeComplete'] as const) {
      const t: unknown = trial[option];
      if (t !== undefined && t !== null && !(typeof t === 'number' && Math.abs(t) <= MAX_DATETIME_MS)) {
        throw new InvalidOptionError(option, `epoch milliseconds a Date can hold (finite, at most ${MAX_DATETIME_MS} in magnitude)`, t);
      }
    }
    if (state !== 'COMPLETE' && state !== 'PRUNED' && state !== 'FAIL') {
      throw new InvalidOptionError('state', 'COMPLETE, PRUNED or FAIL', state);
    }
    let values: readonly number[] | null = trial.values ?? null;
    if (!(trial instanceof FrozenTrial) && trial.value !== undefined) {
      if (trial.values !== undefined) throw new InvalidOptionError('value', 'either value or values, not both', 'both');
      values = [trial.value];
    }
    if (state === 'COMPLETE') {
      const checked = this.checkValues(values ?? undefined, 'the trial to add has');
      if (typeof checked === 'string') throw new InvalidTrialValueError(checked);
      values = checked;
    }
    const now = Date.now();
    const datetimeStart = trial.datetimeStart ?? now;
    const datetimeComplete = trial.datetimeComplete ?? now;
    // As Optuna's FrozenTrial validation: a trial cannot end before it started (a negative duration).
    if (datetimeComplete < datetimeStart) {
      throw new InvalidOptionError(
        'datetimeComplete',
        `not before datetimeStart (${datetimeStart}${trial.datetimeStart === undefined ? ', now' : ''})`,
        datetimeComplete,
      );
    }
    const template: TrialTemplate = {
      state,
      values,
      params: trial.params,
      distributions: trial.distributions,
      userAttrs: trial.userAttrs ?? {},
      systemAttrs: trial.systemAttrs ?? {},
      intermediateValues: trial.intermediateValues ?? {},
      datetimeStart,
      datetimeComplete,
    };
    return this.storage.createTrial(this.studyId, template);
  }

  /** `addTrial` for each, in order; stops at the first that is refused (the earlier ones stay). */
  async addTrials(trials: readonly (AddTrialOptions | FrozenTrial)[]): Promise<void> {
    if (!Array.isArray(trials)) throw new InvalidOptionError('trials', 'an array of trials to add', trials);
    for (const trial of trials) await this.addTrial(trial);
  }

  // ---------------------------------------------------------------------------------------------
  // Results
  // ---------------------------------------------------------------------------------------------

  /**
   * The best COMPLETE trial of a single-objective study (earliest on ties). A study with several
   * objectives has no single best trial: `InvalidOptionError` naming `bestTrials()` (as Optuna's
   * `best_trial`, which raises and points to `best_trials`); so do `bestValue` and `bestParams`.
   * None COMPLETE: `NoCompletedTrialsError`.
   *
   * Constrained study (any trial holds constraint values, `systemAttrs.constraints`, as
   * the `constraintsFunc` of NsgaIiSampler or GpSampler writes them): the best feasible trial, feasible meaning it
   * holds constraint values and all are <= 0; none feasible: `NoFeasibleTrialsError` (Optuna 4
   * raises ValueError). One deliberate difference: Optuna 4 looks at constraints only when its
   * best-valued trial holds some that are violated, and returns a best-valued trial that holds none
   * ("undefined behaviour", its comment says); here such a trial is infeasible, as in `bestTrials`.
   */
  async bestTrial(): Promise<FrozenTrial> {
    if (this.isMultiObjective) {
      throw new InvalidOptionError(
        'direction',
        `a single-objective study for bestTrial/bestValue/bestParams (a study with several objectives has no single best trial; use bestTrials() for its Pareto front)`,
        `study "${this.studyName}" with ${this.directions.length} directions (${this.directions.join(', ')})`,
      );
    }
    const direction = this.direction;
    const { complete, constrained } = await this.completeTrials();
    if (complete.length === 0) throw new NoCompletedTrialsError(this.studyName);
    let best: FrozenTrial | null = null;
    for (const trial of complete) {
      if (constrained && !isFeasible(trial.systemAttrs)) continue;
      const value = trial.values![0];
      if (best === null) {
        best = trial;
        continue;
      }
      const bestValue = best.values![0];
      if (direction === 'minimize' ? value < bestValue : value > bestValue) best = trial;
    }
    if (best === null) throw new NoFeasibleTrialsError(this.studyName, complete.length);
    return best;
  }

  /**
   * The COMPLETE trials, and whether the study is constrained: any trial, in any state, holds
   * `systemAttrs.constraints` (Optuna 4's `best_trials` test).
   */
  private async completeTrials(): Promise<{ complete: readonly FrozenTrial[]; constrained: boolean }> {
    const trials = await this.getTrials();
    const constrained = trials.some((t) => hasOwn(t.systemAttrs, SystemAttr.constraints));
    return { complete: trials.filter((t) => t.state === 'COMPLETE'), constrained };
  }

  /** The value of `bestTrial()` (same errors). */
  async bestValue(): Promise<number> {
    return (await this.bestTrial()).values![0];
  }

  /** The parameters of `bestTrial()` (same errors). */
  async bestParams(): Promise<Readonly<Record<string, ParamValue>>> {
    return (await this.bestTrial()).params;
  }

  /**
   * The Pareto front of COMPLETE trials (for one objective: the best trials, ties included), in
   * trial order; trials with equal values are all kept, as Optuna's `best_trials`. In a constrained
   * study (see `bestTrial`) the front of the feasible trials only, as Optuna 4: empty when none is
   * feasible, and a COMPLETE trial without constraint values (added by `addTrial`, say) counts as
   * infeasible.
   *
   * The trials are visited in lexicographic order of their values (each maximized objective
   * negated). A trial can only be dominated by one visited before it, and whoever dominates it is
   * itself dominated by, or is, a member of the front found so far (domination is transitive), so
   * each trial is compared with the front only: O(n log n + n * front) rather than every pair.
   */
  async bestTrials(): Promise<readonly FrozenTrial[]> {
    const all = await this.completeTrials();
    const complete = all.constrained ? all.complete.filter((t) => isFeasible(t.systemAttrs)) : all.complete;
    const losses = complete.map((t) => t.values!.map((v, k) => (this.directions[k] === 'minimize' ? v : -v)));
    const order = losses.map((_, i) => i).sort((a, b) => lexicographic(losses[a], losses[b]) || a - b);
    const front: number[] = [];
    for (const i of order) {
      if (!front.some((f) => dominates(losses[f], losses[i]))) front.push(i);
    }
    front.sort((a, b) => a - b);
    return front.map((i) => complete[i]);
  }

  /** Sets a user attribute of the study (a JSON value), as Optuna's `study.set_user_attr`. */
  async setUserAttr(key: string, value: JsonValue): Promise<void> {
    await this.storage.setStudyUserAttr(this.studyId, key, value);
  }

  /** The study's user attributes. */
  async userAttrs(): Promise<Readonly<Record<string, JsonValue>>> {
    return this.storage.getStudyUserAttrs(this.studyId);
  }

  /**
   * Closes the storage if the study opened it from a path. A journal then fdatasyncs the records
   * it had not synced yet (attributes, intermediate values, running trials); a failure rejects with
   * `StorageError` code STORAGE_SYNC_FAILED, the file closed all the same.
   */
  async close(): Promise<void> {
    if (this.ownsStorage) await this.storage.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Internals shared with optimize()
  // ---------------------------------------------------------------------------------------------

  /** Trials started by this process (`ask` has returned them) and not yet told. */
  liveTrials(): readonly Trial[] {
    const out: Trial[] = [];
    for (const entry of this.live.values()) if (entry.trial !== null) out.push(entry.trial);
    return out;
  }

  /**
   * Records a trial that was asked but whose objective never ran (its run was stopped, timed out
   * or interrupted meanwhile) as FAIL "interrupted", aborting its signal; one an interruption
   * already recorded so is left as it is. If it was an enqueued trial, its configuration (fixed
   * parameters and user attributes) is enqueued again, back at its place in the queue, so that the
   * next ask runs it (see `requeue`). Resolves with the trial as stored. Internal: used by
   * `optimize` and `runTrialsInProcesses`.
   */
  async withdrawTrial(trial: Trial): Promise<FrozenTrial> {
    const entry = this.live.get(trial.trialId);
    if (entry !== undefined && entry.trial === trial) {
      this.live.delete(trial.trialId);
      entry.controller.abort(new InterruptedError(FAIL_REASON_INTERRUPTED));
    }
    const frozen = await this.withdrawStored(await this.storage.getTrial(trial.trialId), true);
    if (frozen.state === 'FAIL') trial.markFinished('FAIL');
    return frozen;
  }

  /**
   * `withdrawTrial` of a stored trial that is no longer live. `interrupted`: one an interruption
   * recorded FAIL "interrupted" (its objective never ran) is requeued too.
   */
  private async withdrawStored(trial: FrozenTrial, interrupted = false): Promise<FrozenTrial> {
    let frozen: FrozenTrial;
    try {
      frozen = await this.storage.finishTrial(trial.trialId, { state: 'FAIL', systemAttrs: { [SystemAttr.failReason]: FAIL_REASON_INTERRUPTED } });
    } catch (error) {
      if (!(error instanceof TrialFinishedError)) throw error;
      frozen = await this.storage.getTrial(trial.trialId);
      // Finished by an interruption, which does not know whether the objective ran: the caller
      // does. Finished otherwise (a stale sweep of another worker): that record stands.
      const byInterruption = frozen.state === 'FAIL' && frozen.systemAttrs[SystemAttr.failReason] === FAIL_REASON_INTERRUPTED;
      if (interrupted && byInterruption && isEnqueued(trial)) await this.requeue(trial);
      return frozen;
    }
    if (isEnqueued(trial)) await this.requeue(trial);
    return frozen;
  }

  /**
   * Enqueues again the configuration of an enqueued trial that never ran, as a new WAITING trial
   * (a new number) that holds the number of the trial first enqueued with it
   * (`SystemAttr.enqueuedNumber`): storage queues it at that number's place, so the next ask takes
   * it first and the enqueued configurations keep their order, as Optuna's WAITING trial simply
   * stays WAITING. The withdrawn trial itself cannot go back to WAITING: an interruption has
   * often recorded it FAIL already, and a finished trial is immutable; even one still RUNNING
   * holds what its ask wrote (its owner, heartbeat, the sampler's proposal, a fit record), which
   * storage cannot remove and a later ask would read as its own.
   */
  private async requeue(trial: FrozenTrial): Promise<void> {
    const first = trial.systemAttrs[SystemAttr.enqueuedNumber];
    const place = typeof first === 'number' && Number.isSafeInteger(first) && first >= 0 && first <= trial.number ? first : trial.number;
    await this.storage.createTrial(this.studyId, {
      state: 'WAITING',
      userAttrs: trial.userAttrs,
      systemAttrs: { [SystemAttr.fixedParams]: trial.systemAttrs[SystemAttr.fixedParams] ?? {}, [SystemAttr.enqueuedNumber]: place },
    });
  }

  /**
   * Records every live trial as FAIL (`reason`, e.g. "interrupted") and aborts their signals, the
   * trials still being asked included (their `ask` then rejects with `InterruptedError`). Waits
   * first for trial creations in flight, so that a trial storage is creating is not missed. Used
   * on SIGINT or an aborted signal; finished trials are untouched. With `run`, only the trials
   * that `optimize` run launched: another `optimize` call on the study, and trials asked directly
   * (ask-and-tell), go on. `maxWaitMs` bounds the wait for creations (a storage that never
   * answers): the trials live by then are recorded all the same.
   */
  async failLiveTrials(reason: string, run?: OptimizeRun, maxWaitMs = Infinity): Promise<void> {
    if (this.creating.size > 0) await settledWithin([...this.creating], maxWaitMs);
    const entries = [...this.live.entries()].filter(([, entry]) => run === undefined || entry.run === run);
    for (const [trialId] of entries) this.live.delete(trialId);
    await Promise.all(
      entries.map(async ([trialId, { trial, controller }]) => {
        if (trial === null) this.abandoned.add(trialId);
        controller.abort(new InterruptedError(reason));
        const changes = trial?.takeChanges();
        const systemAttrs = { [SystemAttr.failReason]: reason };
        try {
          try {
            await this.storage.finishTrial(trialId, { state: 'FAIL', ...changes, systemAttrs });
          } catch (error) {
            if (changes === undefined || !isRejectedInput(error)) throw error;
            await this.storage.finishTrial(trialId, { state: 'FAIL', systemAttrs });
          }
          trial?.markFinished('FAIL');
        } catch (error) {
          if (!(error instanceof TrialFinishedError)) {
            // Released all the same: the orphan sweep records it later (see `releasedTrials`).
            const released = releasedTrials.get(this) ?? new Map<number, string>();
            releasedTrials.set(this, released.set(trialId, reason));
            throw error;
          }
        }
      }),
    );
  }

  /**
   * Writes a heartbeat for every trial this process is running that was asked with heartbeats.
   * Not for the others (asked directly without `heartbeat`): a trial that got one would be failed as
   * stale by another worker's sweep once heartbeats stop, while its owner still means to tell it.
   * Internal: used by `optimize`.
   */
  async beatLiveTrials(): Promise<void> {
    const now = Date.now();
    const beating = [...this.live.entries()].filter(([, entry]) => entry.heartbeat).map(([trialId]) => trialId);
    await Promise.all(
      beating.map(async (trialId) => {
        try {
          await this.storage.updateTrial(trialId, { systemAttrs: { [SystemAttr.heartbeat]: now } });
        } catch (error) {
          if (!(error instanceof TrialFinishedError)) throw error;
        }
      }),
    );
  }

  /**
   * Records as FAIL every RUNNING trial run with heartbeats whose last heartbeat is older than
   * `graceMs`: its worker was killed or lost. A trial that this process is running, in this Study
   * object or in any other of the same stored study (`isSameStoredStudy`: a second `loadStudy`, a
   * CLI session beside a library call), is left alone however old its heartbeat. So is a trial
   * whose worker (`heartbeat_owner`) is another process that is certainly still alive, one of this
   * host, boot and PID namespace with that pid and start time (`ownerState`) (a synchronous
   * objective blocks the event loop, and with it the heartbeat timer, for as long as it runs; the
   * trial is finished when it returns). Other workers (other hosts, boots or PID namespaces such
   * as another container with this host name, and any worker where this process has no identity,
   * not Linux; and a trial stamped with this process that no Study object of it holds live) are
   * judged by the heartbeat alone: safe as long as they beat more often than `graceMs`. A pid that another process now has does not spare the
   * trial. A `heartbeat_owner` written by an earlier version, `{pid, host}`, names no PID
   * namespace: its trial is spared, as before, while some process on this host has that pid (it
   * may be another one: the trial then stays RUNNING until that process exits, never failed while
   * its worker may be alive), and judged by the heartbeat otherwise. Returns the numbers of the
   * trials it failed.
   */
  async failStaleTrials(options: { readonly graceMs: number }): Promise<readonly number[]> {
    const graceMs = options?.graceMs;
    if (typeof graceMs !== 'number' || !(graceMs > 0)) {
      throw new InvalidOptionError('graceMs', 'a positive number of milliseconds', graceMs);
    }
    const now = Date.now();
    const failed: number[] = [];
    for (const trial of await this.getTrials({ states: ['RUNNING'] })) {
      const beat = trial.systemAttrs[SystemAttr.heartbeat];
      if (typeof beat !== 'number' || now - beat <= graceMs || isLiveInProcess(this, trial.trialId)) continue;
      if (isOtherLiveProcess(trial.systemAttrs[SystemAttr.heartbeatOwner])) continue;
      try {
        await this.storage.finishTrial(trial.trialId, {
          state: 'FAIL',
          systemAttrs: { [SystemAttr.failReason]: `${FAIL_REASON_STALE_PREFIX} no heartbeat for ${now - beat} ms (its worker stopped)` },
        });
        failed.push(trial.number);
      } catch (error) {
        if (!(error instanceof TrialFinishedError)) throw error; // another worker got there first
      }
      forgetReleased(this, trial.trialId);
    }
    return failed;
  }

  /**
   * Records as FAIL every RUNNING trial whose owner process (`owner_process`, written for the
   * trials `optimize` and `runTrialsInProcesses` launch) is provably gone: on this host, this boot
   * and this PID namespace, no process has that pid, or the one that has it started at another
   * time (the pid was reused), or it is a zombie. Its `fail_reason` starts with "stale:", so
   * samplers do not learn from it as from a failure of its parameters. Never touched: trials
   * without an owner (a bare `ask`, whose trial its owner may tell from any process later; trials
   * written before owners were recorded), trials of a live process (this one included), of
   * another host, boot or PID namespace (a container), trials any Study object of this process
   * holds live (see `failStaleTrials`), and everything where the process table cannot be read
   * (not Linux). One exception for this process: a trial of its runs that it gave up on, because
   * storage refused the FAIL an interruption or a failed run tried to record (a journal whose sync
   * failed; see `releasedTrials`), is recorded with that FAIL ("interrupted", "its result could
   * not be recorded: ...") by this sweep of any Study object of the same stored study, one
   * reopened in this process say, once storage takes it. `optimize` calls it before its first
   * launch and then at most every `ORPHAN_SWEEP_INTERVAL_MS`. Returns the numbers of the trials it
   * failed.
   */
  async failOrphanedTrials(): Promise<readonly number[]> {
    const identity = currentProcessIdentity();
    if (identity === null) return [];
    const failed: number[] = [];
    const running = await this.getTrials({ states: ['RUNNING'] });
    const runningIds = new Set(running.map((t) => t.trialId));
    for (const [other, released] of releasedTrials) {
      if (!isSameStoredStudy(other, this)) continue;
      for (const trialId of released.keys()) if (!runningIds.has(trialId)) forgetReleased(this, trialId);
    }
    for (const trial of running) {
      const owner = trial.systemAttrs[SystemAttr.ownerProcess];
      if (owner === undefined || isLiveInProcess(this, trial.trialId)) continue;
      // A trial this process gave up on gets the FAIL it was to have; any other only once its owner is gone.
      const released = sameIdentity(owner, identity) ? releasedReason(this, trial.trialId) : null;
      if (released === null && ownerState(owner) !== 'gone') continue;
      const { pid, host } = owner as { readonly pid: number; readonly host: string };
      const reason = released ?? `${FAIL_REASON_STALE_PREFIX} the process that ran it (pid ${pid} on ${host}) has exited without finishing it`;
      try {
        await this.storage.finishTrial(trial.trialId, { state: 'FAIL', systemAttrs: { [SystemAttr.failReason]: reason } });
        failed.push(trial.number);
      } catch (error) {
        if (!(error instanceof TrialFinishedError)) throw error; // finished meanwhile
      }
      forgetReleased(this, trial.trialId);
    }
    return failed;
  }

  /**
   * Writes what the trial changed since its last flush, after any flush of it still in flight: a
   * `report` that was not awaited (Optuna's `report` is synchronous) leaves its write queued, and a
   * storage's reads need not wait for its queued writes (the journal's do not), so without the
   * chain `shouldPrune` read the trial back without its latest step.
   */
  private flush(trial: Trial): Promise<void> {
    return afterPrevious(this.flushing, trial, () => this.writeChanges(trial));
  }

  private async writeChanges(trial: Trial): Promise<void> {
    const changes = trial.takeChanges();
    const empty =
      isEmpty(changes.params) && isEmpty(changes.userAttrs) && isEmpty(changes.intermediateValues);
    if (empty) return;
    try {
      await this.storage.updateTrial(trial.trialId, changes);
    } catch (error) {
      if (!(error instanceof TrialFinishedError)) trial.restoreChanges(changes);
      throw error;
    }
  }

  private async shouldPrune(trial: Trial): Promise<boolean> {
    await this.flush(trial);
    if (this.pruner.name === 'nop') return false;
    checkPrunerDirections(this.pruner, this.studyName, this.directions);
    const frozen = await this.storage.getTrial(trial.trialId);
    const decision: unknown = await this.pruner.prune(this, frozen);
    // A custom pruner returning 'yes', 1 or nothing would be taken as truthy / falsy silently, and
    // `shouldPrune() === true` checks would disagree with `if (await shouldPrune())` ones.
    if (typeof decision !== 'boolean') {
      throw new InvalidOptionError('pruner', `a pruner whose prune() returns a boolean (pruner "${String(this.pruner.name)}")`, decision);
    }
    return decision;
  }

  private async resolveTrialId(trial: Trial | number): Promise<number> {
    if (trial instanceof Trial) {
      if (!this.owns(trial)) {
        throw new InvalidOptionError(
          'trial',
          `a trial of study "${this.studyName}"`,
          `trial ${trial.number} of study "${trial.study.studyName}"`,
        );
      }
      return trial.trialId;
    }
    if (!Number.isInteger(trial) || trial < 0) {
      throw new InvalidOptionError('trial', 'a Trial or a non-negative trial number', trial);
    }
    for (const entry of this.live.values()) {
      if (entry.trial !== null && entry.trial.number === trial) return entry.trial.trialId;
    }
    const trials = await this.getTrials();
    const found = trials.find((t) => t.number === trial);
    if (found === undefined) throw new TrialNotFoundError(trial);
    return found.trialId;
  }

  /**
   * Whether `trial` was asked from this study: from this object, or from another `Study` of the
   * same study on the same storage (the same object, or journals on the same file). Trial ids are
   * per storage, so telling another study's trial by its id would finish an unrelated trial here.
   */
  private owns(trial: Trial): boolean {
    const owner = trial.study;
    return owner === this || (owner instanceof Study && isSameStoredStudy(owner, this));
  }

  /**
   * Values usable for COMPLETE, or a string saying why not; `source` starts it ("the objective
   * returned" for `tell`, "the trial to add has" for `addTrial`, which has no objective).
   */
  private checkValues(
    raw: number | readonly number[] | Float64Array | Float32Array | null | undefined,
    source = 'the objective returned',
  ): readonly number[] | string {
    if (raw === null || raw === undefined) return `${source} no value`;
    const values = typeof raw === 'number' ? [raw] : isTypedArray(raw) ? Array.from(raw as ArrayLike<number>) : raw;
    if (!Array.isArray(values)) return `${source} ${typeof raw}, expected a number or an array of numbers`;
    if (values.length !== this.directions.length) {
      return `${source} ${values.length} value(s) but the study has ${this.directions.length} direction(s)`;
    }
    for (const value of values) {
      // describeValue, not String(): a null-prototype object or a throwing toString made String()
      // throw here, which rejected optimize and left the trial RUNNING.
      if (typeof value !== 'number') return `${source} ${describeValue(value)}, expected a number`;
      if (!Number.isFinite(value)) return `${source} ${value}`;
    }
    return values;
  }

  private prunedValues(trial: Trial | null, stored: FrozenTrial): readonly number[] | null {
    if (this.isMultiObjective) return null;
    const intermediate = { ...stored.intermediateValues, ...(trial?.intermediateValues ?? {}) };
    let lastStep = -1;
    for (const key of Object.keys(intermediate)) lastStep = Math.max(lastStep, Number(key));
    if (lastStep < 0) return null;
    const value = intermediate[lastStep];
    return Number.isFinite(value) ? [value] : null;
  }
}

/**
 * Throws `InvalidOptionError` (option `pruner`) for a pruner other than `NopPruner` on a study
 * with several directions: pruning compares one value per step, undefined for several objectives
 * (Optuna raises NotImplementedError at `should_prune`). `createStudy` and `loadStudy` check it,
 * so a misconfigured study is refused before any trial runs, rather than failing every trial of
 * an `optimize` budget at its first `shouldPrune`.
 */
/**
 * A sampler that models one objective (`Sampler.singleObjective`, as TpeSampler) on a study with
 * several directions throws `InvalidOptionError` (option "sampler"), before any trial is created:
 * otherwise every ask would create a trial that the sampler then fails.
 */
export function checkSamplerDirections(sampler: Sampler, studyName: string, directions: readonly StudyDirection[]): void {
  if (sampler.singleObjective !== true || directions.length <= 1) return;
  throw new InvalidOptionError(
    'sampler',
    `a sampler that takes several objectives for study "${studyName}", which has ${directions.length} directions (${directions.join(', ')}): ` +
      `${sampler.name} models one objective; use GpSampler, NsgaIiSampler, RandomSampler, SobolSampler or GridSampler`,
    sampler.name,
  );
}

export function checkPrunerDirections(pruner: Pruner, studyName: string, directions: readonly StudyDirection[]): void {
  if (pruner.name === 'nop' || directions.length <= 1) return;
  throw new InvalidOptionError(
    'pruner',
    `no pruner for study "${studyName}", which has ${directions.length} directions (${directions.join(', ')}): pruning is undefined for several objectives`,
    pruner.name,
  );
}

/**
 * Whether two `Study` objects stand for one stored study: the same study (id and name) in the same
 * storage, which is one storage object, or journals on one file (the same `realPath`, symbolic
 * links resolved; or the same `path`, for a storage of another kind that has one). Trial ids and
 * study ids are per storage, so anything less would confuse studies of different storages.
 */
export function isSameStoredStudy(a: Study, b: Study): boolean {
  if (a === b) return true;
  if (a.studyId !== b.studyId || a.studyName !== b.studyName) return false;
  if (a.storage === b.storage) return true;
  if (a.storage instanceof JournalStorage && b.storage instanceof JournalStorage) return a.storage.realPath === b.storage.realPath;
  const pathOf = (storage: Storage): unknown => (storage as { readonly path?: unknown }).path;
  return typeof pathOf(a.storage) === 'string' && pathOf(a.storage) === pathOf(b.storage);
}

const HOST = hostname();

/**
 * Whether a `heartbeat_owner` system attribute names another process that is alive (see
 * `Study.failStaleTrials`). A `ProcessIdentity` is judged by `ownerState`: only 'alive' spares, so
 * a process of another PID namespace or boot (a container sharing this host name), whose pid
 * means nothing here, or a pid reused by a new process, is left to the heartbeat. An earlier
 * version's `{pid, host}` cannot say which namespace its pid is of: it spares while a process of
 * this host has that pid, which at worst keeps a dead worker's trial RUNNING longer, never fails a
 * live one's; its death is never judged by the pid alone.
 */
function isOtherLiveProcess(owner: JsonValue | undefined): boolean {
  if (isProcessIdentity(owner)) return owner.pid !== process.pid && ownerState(owner) === 'alive';
  if (typeof owner !== 'object' || owner === null || Array.isArray(owner)) return false;
  const { pid, host } = owner as Record<string, JsonValue>;
  if (host !== HOST || typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  return pidExists(pid);
}

/** Whether a stored `owner_process` is exactly `identity`. */
function sameIdentity(stored: JsonValue | undefined, identity: ProcessIdentity): boolean {
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return false;
  const keys = Object.keys(identity) as (keyof ProcessIdentity)[];
  return Object.keys(stored).length === keys.length && keys.every((k) => (stored as Record<string, JsonValue>)[k] === identity[k]);
}

/** A typed array (not a DataView): its elements are the values; a BigInt64Array's are refused later. */
function isTypedArray(value: unknown): value is ArrayLike<unknown> {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

function normalizeTellResult(result: TellResult): { state?: 'COMPLETE' | 'PRUNED' | 'FAIL'; values?: number | readonly number[] | Float64Array | Float32Array | null; failReason?: string } {
  if (typeof result === 'number' || Array.isArray(result)) return { state: 'COMPLETE', values: result as number | readonly number[] };
  // Before the TellOptions branch: a typed array's `values` is its iterator method, which was
  // taken for the values ("the objective returned function").
  if (isTypedArray(result)) return { state: 'COMPLETE', values: Array.from(result) as number[] };
  if (result === null || typeof result !== 'object') {
    return { state: 'COMPLETE', values: result as unknown as number };
  }
  const options = result as TellOptions;
  // `{value: 3}` was taken for a result with no value and failed the trial.
  checkOptionsObject(options, TELL_KEYS, 'tell');
  if (options.state !== undefined && !['COMPLETE', 'PRUNED', 'FAIL'].includes(options.state)) {
    throw new InvalidOptionError('state', 'COMPLETE, PRUNED or FAIL', options.state);
  }
  if (options.state !== undefined && options.state !== 'COMPLETE' && options.values !== undefined && options.values !== null) {
    throw new InvalidOptionError('values', `none when state is ${options.state}`, options.values);
  }
  if (options.failReason !== undefined && typeof options.failReason !== 'string') {
    throw new InvalidOptionError('failReason', 'a string', options.failReason);
  }
  return options;
}

/** Whether the run may launch a trial now: not stopped, and its own conditions hold. */
function runMayLaunch(run: OptimizeRun): boolean {
  return run.stopped === null && run.mayLaunch();
}

/** Whether a trial was enqueued (`enqueueTrial` records its `fixed_params`, even none). */
function isEnqueued(trial: FrozenTrial): boolean {
  return hasOwn(trial.systemAttrs, SystemAttr.fixedParams);
}

function readFixedParams(trial: FrozenTrial): Readonly<Record<string, ParamValue>> {
  const fixed = trial.systemAttrs[SystemAttr.fixedParams];
  if (fixed === undefined || fixed === null || typeof fixed !== 'object' || Array.isArray(fixed)) return {};
  return fixed as Readonly<Record<string, ParamValue>>;
}

/** Negative, 0 or positive as `a` comes before, with or after `b` in lexicographic order. */
function lexicographic(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] < b[i]) return -1;
    if (a[i] > b[i]) return 1;
  }
  return 0;
}

/** True when loss vector `a` (all minimized) Pareto-dominates `b`. */
function dominates(a: readonly number[], b: readonly number[]): boolean {
  let strictly = false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] > b[i]) return false;
    if (a[i] < b[i]) strictly = true;
  }
  return strictly;
}

function stableKey(params: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(Object.keys(params).sort().map((k) => [k, params[k]]));
}

function isEmpty(record: object): boolean {
  for (const _ in record) return false;
  return true;
}

/** Errors storage raises for data it refuses (as opposed to I/O or state errors). */
function isRejectedInput(error: unknown): boolean {
  return (
    error instanceof KestrelError &&
    (error.code === 'INVALID_OPTION' ||
      error.code === 'INVALID_PARAM_VALUE' ||
      error.code === 'DISTRIBUTION_CONFLICT' ||
      error.code === 'INVALID_TRIAL_VALUE')
  );
}

function trialLabel(live: LiveTrial | undefined, trialId: number): string {
  const trial = live?.trial ?? null;
  return trial === null ? `id ${trialId}` : String(trial.number);
}

/**
 * Runs `fn` once the previous call chained under `key` has settled (fulfilled or rejected), and
 * returns its result: calls for one key run one at a time, in call order. `chains` holds each
 * key's latest link and forgets a key once its last call has settled.
 */
function afterPrevious<K, T>(
  chains: { get(key: K): Promise<void> | undefined; set(key: K, value: Promise<void>): unknown; delete(key: K): unknown },
  key: K,
  fn: () => Promise<T>,
): Promise<T> {
  const previous = chains.get(key);
  const run = previous === undefined ? fn() : previous.then(fn);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  chains.set(key, settled);
  void settled.then(() => {
    if (chains.get(key) === settled) chains.delete(key);
  });
  return run;
}

/** A promise with its resolver, for waking every waiter at once. */
function settledSignal(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
