/**
 * The live trial handed to an objective. `suggest*` are synchronous (define-by-run, as in Optuna);
 * anything that touches storage (`report`, `shouldPrune`, `flush`) is async and goes through the
 * `TrialHost` that the study provides, so this module never depends on storage or samplers.
 */
import {
  DistributionConflictError,
  InvalidOptionError,
  InvalidParamValueError,
  TrialFinishedError,
  TrialPrunedError,
} from '../errors.js';
import {
  categoricalDistribution,
  contains,
  distributionsEqual,
  floatDistribution,
  intDistribution,
} from '../space/distributions.js';
import type { Suggester } from '../space/suggester.js';
import type {
  CategoricalChoice,
  Distribution,
  NumericSuggestOptions,
  ParamValue,
} from '../space/types.js';
import type { FrozenTrial } from './frozen-trial.js';
import { cloneJsonValue } from './json-value.js';
import { getOwn, hasOwn, setOwn } from '../util/own-keys.js';
import type { StudyView } from './study-view.js';
import type { JsonValue, TrialState } from './types.js';
import { warn } from '../util/warn.js';

/** What a live trial needs from its study. Implemented by `Study`. */
export interface TrialHost {
  readonly study: StudyView;
  /** Draws a value for a parameter not covered by a fixed or relative value. Synchronous. */
  sampleIndependent(trial: FrozenTrial, name: string, distribution: Distribution): ParamValue;
  /** Persists the trial's buffered parameters, attributes and intermediate values. */
  flush(trial: Trial): Promise<void>;
  /**
   * Writes these parameters of the running trial to storage, leaving the trial's buffer as it is
   * (the next flush or the tell writes them again, the same values). Optional: a host whose trial
   * lives elsewhere (a worker process's proxy) has nothing to persist.
   */
  persistParams?(trial: Trial, params: Record<string, ParamValue>, distributions: Record<string, Distribution>): Promise<void>;
  /** Asks the pruner, after flushing. */
  shouldPrune(trial: Trial): Promise<boolean>;
}

/** Values fixed before the objective runs, and their origin. */
export interface FixedParams {
  /** Enqueued (`study.enqueueTrial`) values: always used; validated against the suggested distribution. */
  readonly enqueued: Readonly<Record<string, ParamValue>>;
  /** Relative (joint) sample of the sampler: used when the suggested distribution matches `relativeSpace`. */
  readonly relative: Readonly<Record<string, ParamValue>>;
  readonly relativeSpace: Readonly<Record<string, Distribution>>;
}

/**
 * The running trial an objective receives, as Optuna's `Trial`: `suggest*` pick its parameters
 * (synchronously), `report` / `shouldPrune` / `pruneIfNeeded` talk to the pruner, `setUserAttr`
 * records what it measured. Made by the study (`optimize`, `ask`), not constructed directly.
 */
export class Trial implements Suggester {
  /** Unique in the storage. */
  readonly trialId: number;
  /** 0, 1, 2, ... within the study. */
  readonly number: number;
  /** Epoch ms when the trial started running. */
  readonly datetimeStart: number;
  /** Aborted when the study is interrupted (Ctrl-C, AbortSignal): long objectives may stop early. */
  readonly signal: AbortSignal;

  private readonly host: TrialHost;
  private readonly base: FrozenTrial;
  private readonly fixed: FixedParams;
  private readonly paramsMap: Record<string, ParamValue>;
  private readonly distributionsMap: Record<string, Distribution>;
  private readonly userAttrsMap: Record<string, JsonValue>;
  private readonly intermediate: Record<number, number>;
  /** `shouldPrune()` calls not answered yet (`pruneQueryPending`). */
  private pruneQueries = 0;
  /** Whether a `shouldPrune()` call answered true (`pruneQueryPending`). */
  private prunedAnswer = false;
  // What changed since the last flush.
  private dirtyParams: Record<string, ParamValue> = {};
  private dirtyDistributions: Record<string, Distribution> = {};
  private dirtyUserAttrs: Record<string, JsonValue> = {};
  private dirtyIntermediate: Record<number, number> = {};
  /** The duplicate reports (step and ignored value) already warned about (`report`). */
  private readonly warnedDuplicates = new Set<string>();
  /** The state the study recorded for this trial once it finished it (see `markFinished`). */
  private finishedAs: TrialState | null = null;
  /** Live trials with parameters to write once the objective yields (see `persistSoon`). */
  private static readonly toPersist = new Set<Trial>();
  private static persistScheduled = false;

  constructor(host: TrialHost, base: FrozenTrial, fixed: FixedParams, signal: AbortSignal) {
    this.host = host;
    this.base = base;
    this.fixed = fixed;
    this.signal = signal;
    this.trialId = base.trialId;
    this.number = base.number;
    this.datetimeStart = base.datetimeStart ?? Date.now();
    this.paramsMap = { ...base.params };
    this.distributionsMap = { ...base.distributions };
    this.userAttrsMap = { ...base.userAttrs };
    this.intermediate = { ...base.intermediateValues };
  }

  /** The study this trial belongs to (read-only view). */
  get study(): StudyView {
    return this.host.study;
  }

  /** Parameters suggested so far. */
  get params(): Readonly<Record<string, ParamValue>> {
    return { ...this.paramsMap };
  }

  /** The distribution of each parameter suggested so far. */
  get distributions(): Readonly<Record<string, Distribution>> {
    return { ...this.distributionsMap };
  }

  /** User attributes set so far (`setUserAttr`). */
  get userAttrs(): Readonly<Record<string, JsonValue>> {
    return { ...this.userAttrsMap };
  }

  /** step -> value, as reported so far. */
  get intermediateValues(): Readonly<Record<number, number>> {
    return { ...this.intermediate };
  }

  /** The enqueued values this trial was created with (empty unless enqueued). */
  get fixedParams(): Readonly<Record<string, ParamValue>> {
    return this.fixed.enqueued;
  }

  /**
   * A real parameter in [low, high]. `log: true` samples in log space (low > 0); `step` puts it on the
   * grid low, low + step, ..., high, and a step that does not divide high - low throws
   * `SearchSpaceError` (Optuna moves high down onto the grid with a warning). Any other key in `options` (a misspelt `lg`, say) throws
   * `SearchSpaceError`, as do bad bounds; a `name` that is not a string throws `InvalidOptionError`.
   * Suggesting a name again with the same distribution returns the same value (a different one
   * throws `DistributionConflictError`); a new name throws `TrialFinishedError` once the study has
   * finished the trial (after `study.tell`).
   */
  suggestFloat(name: string, low: number, high: number, options: NumericSuggestOptions = {}): number {
    const value = this.suggest(name, floatDistribution(checkName(name), low, high, options));
    return value as number;
  }

  /**
   * An integer parameter in [low, high] (inclusive); `step` (default 1) and `log` as in Optuna,
   * except that a step that does not divide high - low throws `SearchSpaceError` where Optuna
   * moves high down to the last grid point with a warning (`suggest_int(16, 100, step=16)` gives
   * 16..96 there). Errors as for `suggestFloat`.
   */
  suggestInt(name: string, low: number, high: number, options: NumericSuggestOptions = {}): number {
    const value = this.suggest(name, intDistribution(checkName(name), low, high, options));
    return value as number;
  }

  /** One of `choices` (strings, numbers, booleans or null). Errors as for `suggestFloat`. */
  suggestCategorical<T extends CategoricalChoice>(name: string, choices: readonly T[]): T {
    const value = this.suggest(name, categoricalDistribution(checkName(name), choices));
    return value as T;
  }

  /**
   * Records a user attribute (persisted with the next `report` and when the trial finishes). The
   * value must be JSON: null, a boolean, a finite number, a string, or arrays and plain objects of
   * those. Anything else (NaN, Infinity, undefined, a function, a bigint, a Date or other class
   * instance) throws `InvalidOptionError` here, naming the key (option `userAttrs.<key>`), so
   * that inside `optimize` the trial is recorded as FAIL with that reason. A deep, frozen copy is
   * kept: changing `value` afterwards does not change the attribute. Throws `TrialFinishedError`
   * once the study has finished the trial (after `study.tell`).
   */
  setUserAttr(key: string, value: JsonValue): void {
    this.assertNotFinished();
    if (typeof key !== 'string') throw new InvalidOptionError('key', 'a string', key);
    const copy = cloneJsonValue(`userAttrs.${key}`, value);
    setOwn(this.userAttrsMap, key, copy);
    setOwn(this.dirtyUserAttrs, key, copy);
  }

  /**
   * Reports an intermediate objective value at `step` (an epoch, say; a non-negative integer up to
   * `Number.MAX_SAFE_INTEGER`) and persists it, so that pruners in every worker see it. A step
   * reported twice keeps its first value, as in Optuna, which warns (here when the
   * new value differs: a one-time `DUPLICATE_REPORT_STEP` KestrelWarning per trial, step and value). Any number is accepted as the value (NaN
   * and +-Infinity included).
   *
   * Bad arguments throw at the call, not through the promise: `InvalidParamValueError` (param
   * `step` or `value`) for another step or a value that is not a number, `TrialFinishedError` once
   * the study has finished the trial. Code ported from Optuna, whose `report(value, step)` is
   * synchronous, often drops the `await`; a rejection there went unhandled and ended the process,
   * where a throw fails the trial with that error. The promise settles when the value is persisted
   * and rejects when that write fails; such a failure of a call that is not awaited is not lost,
   * and does not end the process: the value stays buffered, and the next `report`, `shouldPrune` or
   * the trial's `tell` writes it again (and fails there).
   */
  report(step: number, value: number): Promise<void> {
    this.assertNotFinished();
    // Safe integers only: storage refuses a larger step, and a step buffered here but refused there
    // would be retried by every later report and fail the trial when it is told.
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new InvalidParamValueError('step', `expected a non-negative safe integer step, received ${String(step)}`);
    }
    if (typeof value !== 'number') {
      throw new InvalidParamValueError('value', `expected a number for step ${step}, received ${typeof value}`);
    }
    if (!(step in this.intermediate)) {
      this.intermediate[step] = value;
      this.dirtyIntermediate[step] = value;
    } else if (!Object.is(this.intermediate[step], value)) {
      // Once per step and value of this trial, remembered by the trial: a process-wide `warnOnce`
      // kept one message per such trial for good, and silenced the same trial number of another study.
      const key = `${step}\u0000${value}`;
      if (!this.warnedDuplicates.has(key)) {
        this.warnedDuplicates.add(key);
        warn(
          'DUPLICATE_REPORT_STEP',
          `trial ${this.number}: step ${step} was already reported (value ${this.intermediate[step]} kept); the value ${value} is ignored`,
        );
      }
    }
    const written = this.host.flush(this);
    written.catch(() => undefined); // handled here too, for a call that is not awaited (see above)
    return written;
  }

  /**
   * Whether the study's pruner says this trial should stop now. Throw `TrialPrunedError` if so.
   * The pruner sees every earlier `report` of the trial, also one that was not awaited.
   * Rejects with `InvalidOptionError` (option `pruner`) when a custom pruner's `prune` returns
   * anything but a boolean, and with what it threw when it throws. A call that is not awaited
   * (`if (trial.shouldPrune())`, see `pruneQueryPending`) does not end the process when it rejects.
   */
  shouldPrune(): Promise<boolean> {
    const answer = this.askPruner();
    // Handled here too, for a call that is not awaited: the objective then throws TrialPrunedError and
    // the trial is told while the pruner still judges it, so a pruner that records rungs wrote to a
    // finished trial, and that rejection went unhandled and ended the process (as `report`'s did).
    answer.catch(() => undefined);
    return answer;
  }

  private async askPruner(): Promise<boolean> {
    this.pruneQueries++;
    try {
      const decision = await this.host.shouldPrune(this);
      if (decision) this.prunedAnswer = true;
      return decision;
    } finally {
      this.pruneQueries--;
    }
  }

  /**
   * Internal: whether a `shouldPrune()` call has not answered yet and none has answered true.
   * `optimize` warns (SHOULD_PRUNE_NOT_AWAITED) when the objective throws TrialPrunedError
   * meanwhile: Optuna's `if trial.should_prune():` ported without `await` tests a Promise, always
   * truthy. A true answer explains the throw (concurrent folds awaiting their own `shouldPrune()`
   * in `Promise.all`: the first pruned rejects while another still asks).
   */
  get pruneQueryPending(): boolean {
    return this.pruneQueries > 0 && !this.prunedAnswer;
  }

  /** Convenience: `await trial.pruneIfNeeded()` throws `TrialPrunedError` when the pruner says so. */
  async pruneIfNeeded(): Promise<void> {
    if (await this.shouldPrune()) {
      const step = this.lastStep();
      throw new TrialPrunedError(step === null ? 'trial was pruned' : `trial was pruned at step ${step}`);
    }
  }

  /** The latest reported step, or null. */
  lastStep(): number | null {
    let last: number | null = null;
    for (const key of Object.keys(this.intermediate)) {
      const step = Number(key);
      if (last === null || step > last) last = step;
    }
    return last;
  }

  /**
   * Takes what changed since the last call (for the study to persist). Internal: used by the study
   * when it flushes or finishes the trial.
   */
  takeChanges(): {
    params: Record<string, ParamValue>;
    distributions: Record<string, Distribution>;
    userAttrs: Record<string, JsonValue>;
    intermediateValues: Record<number, number>;
  } {
    const changes = {
      params: this.dirtyParams,
      distributions: this.dirtyDistributions,
      userAttrs: this.dirtyUserAttrs,
      intermediateValues: this.dirtyIntermediate,
    };
    this.dirtyParams = {};
    this.dirtyDistributions = {};
    this.dirtyUserAttrs = {};
    this.dirtyIntermediate = {};
    return changes;
  }

  /**
   * Tells the trial that its study recorded it as finished (`study.tell`, an interruption). From
   * then on a new `suggest*`, `setUserAttr` and `report` throw `TrialFinishedError`, as Optuna's
   * do, instead of returning values and buffering data that would never be stored. Suggesting a
   * parameter the trial already has still returns its value. Internal: used by the study.
   */
  markFinished(state: TrialState): void {
    if (this.finishedAs === null) this.finishedAs = state;
    Trial.toPersist.delete(this);
  }

  /** The finished state the study recorded, or null while the trial runs (see `markFinished`). */
  get finishedState(): TrialState | null {
    return this.finishedAs;
  }

  private assertNotFinished(): void {
    if (this.finishedAs !== null) throw new TrialFinishedError(this.trialId, this.finishedAs, this.number);
  }

  /** Puts changes back after a failed write, so that the next flush retries them. */
  restoreChanges(changes: ReturnType<Trial['takeChanges']>): void {
    this.dirtyParams = { ...changes.params, ...this.dirtyParams };
    this.dirtyDistributions = { ...changes.distributions, ...this.dirtyDistributions };
    this.dirtyUserAttrs = { ...changes.userAttrs, ...this.dirtyUserAttrs };
    this.dirtyIntermediate = { ...changes.intermediateValues, ...this.dirtyIntermediate };
  }

  private suggest(name: string, distribution: Distribution): ParamValue {
    const previous = getOwn(this.distributionsMap, name);
    if (previous !== undefined) {
      if (!distributionsEqual(previous, distribution)) {
        throw new DistributionConflictError(
          name,
          `suggested again in trial ${this.number} with a different distribution ` +
            `(${JSON.stringify(previous)} then ${JSON.stringify(distribution)})`,
        );
      }
      return getOwn(this.paramsMap, name) as ParamValue;
    }
    this.assertNotFinished();

    let value: ParamValue;
    const relativeDistribution = getOwn(this.fixed.relativeSpace, name);
    if (hasOwn(this.fixed.enqueued, name)) {
      value = this.fixed.enqueued[name];
      if (!contains(distribution, value)) {
        throw new InvalidParamValueError(
          name,
          `enqueued value ${JSON.stringify(value)} is outside the suggested distribution ${JSON.stringify(distribution)}`,
        );
      }
    } else if (
      hasOwn(this.fixed.relative, name) &&
      relativeDistribution !== undefined &&
      distributionsEqual(relativeDistribution, distribution)
    ) {
      value = this.fixed.relative[name];
    } else {
      value = this.host.sampleIndependent(this.base, name, distribution);
    }

    setOwn(this.paramsMap, name, value);
    setOwn(this.distributionsMap, name, distribution);
    setOwn(this.dirtyParams, name, value);
    setOwn(this.dirtyDistributions, name, distribution);
    this.persistSoon();
    return value;
  }

  /**
   * Writes new parameters to storage once the objective yields (one write for all it suggested
   * meanwhile), as Optuna writes each suggestion: a trial whose process is killed before it
   * reports or finishes still shows, once failed by a stale sweep, the configuration it ran.
   * An objective that returns without yielding is told first and needs no extra write. The write
   * leaves the buffer alone, so it never races the tell; on success it drops what it wrote and
   * what has not changed since, on failure the next flush or the tell writes the values. One
   * immediate serves every trial (a tight ask/tell loop pays a Set insertion per suggestion).
   */
  private persistSoon(): void {
    if (this.host.persistParams === undefined) return;
    Trial.toPersist.add(this);
    if (Trial.persistScheduled) return;
    Trial.persistScheduled = true;
    setImmediate(() => {
      Trial.persistScheduled = false;
      const trials = [...Trial.toPersist];
      Trial.toPersist.clear();
      for (const trial of trials) trial.persistNow();
    });
  }

  private persistNow(): void {
    if (this.finishedAs !== null || Object.keys(this.dirtyParams).length === 0) return;
    const params = { ...this.dirtyParams };
    const distributions = { ...this.dirtyDistributions };
    // A custom storage that throws synchronously must not throw out of the shared immediate.
    let write: Promise<void>;
    try {
      write = this.host.persistParams!(this, params, distributions);
    } catch {
      return; // the next flush or the tell writes them
    }
    write.then(
      () => {
        for (const name of Object.keys(params)) {
          if (hasOwn(this.dirtyParams, name) && getOwn(this.dirtyParams, name) === getOwn(params, name)) {
            delete this.dirtyParams[name];
            delete this.dirtyDistributions[name];
          }
        }
      },
      () => undefined,
    );
  }
}

/**
 * A parameter name must be a string: anything else would be stored under its string form (5 as
 * "5", undefined as "undefined") or throw a TypeError (a symbol).
 */
function checkName(name: unknown): string {
  if (typeof name !== 'string') throw new InvalidOptionError('name', 'a parameter name (a string)', name);
  return name;
}
