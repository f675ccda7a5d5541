/**
 * The optimization loop behind `study.optimize`: N trials at once in one process, a study-wide
 * trial budget shared by worker processes, timeouts, callbacks, and clean interruption.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { GridExhaustedError, InterruptedError, InvalidOptionError, NestedOptimizationError, TrialFinishedError, describeValue, isTrialPrunedError, messageOf } from '../errors.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import { FAIL_REASON_INTERRUPTED, notRecordedFailReason } from '../trial/system-attrs.js';
import type { Trial } from '../trial/trial.js';
import type { Study } from './study.js';
import { isSameStoredStudy, warnOncePerRun, type OptimizeRun } from './study.js';
import { staleTrialSweeper } from './trial-budget.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';
import { warn, warnOnce } from '../util/warn.js';
import { isPromiseLike, nextTurn, settledWithin } from '../util/promise.js';
import { abortDetail, listenAbort, listenSigint } from '../util/interrupt-listeners.js';

/**
 * What an objective returns: one value per objective. A typed array of numbers (`Float64Array`,
 * `Float32Array`, e.g. a tensor's `dataSync()`) is taken as an array of values, as in `tell`.
 */
export type ObjectiveValues = number | readonly number[] | Float64Array | Float32Array;
/** An objective: returns the value (or one value per direction) to minimize or maximize. */
export type Objective = (trial: Trial) => ObjectiveValues | Promise<ObjectiveValues>;

/** Called after each trial this `optimize` ran has finished (COMPLETE, PRUNED or FAIL). */
export type OptimizeCallback = (study: Study, trial: FrozenTrial) => void | Promise<void>;

/** An error class; errors that are instances of one listed in `catch` fail only their trial. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** Options of `study.optimize`; an unknown name (`n_trials`, say) throws `InvalidOptionError` naming it. */
export interface OptimizeOptions {
  /**
   * Trials this call runs (across its concurrent slots): any integer >= 0, as in Optuna. A budget,
   * not a size: nothing is held per budgeted trial, so `1e300` runs until `timeoutMs`, `stop()` or
   * an interruption ends it. Unbounded when omitted.
   */
  readonly nTrials?: number;
  /**
   * Stop when the study holds this many trials in total (any state, enqueued ones included),
   * counting every process working on it and the trials it held before this call. A trial is
   * created only while the study holds fewer, in one atomic storage step, so workers never
   * overshoot. Enqueued (WAITING) trials are already counted: they are run even when the study is
   * at its budget. Any integer >= 0, however large (see `TryAskOptions.maxTrialsInStudy`).
   */
  readonly maxTrialsInStudy?: number;
  /** Launch no new trial after this many milliseconds (running trials finish). */
  readonly timeoutMs?: number;
  /** Trials run at once in this process (async objectives): an integer in [1, 1024], default 1. */
  readonly concurrency?: number;
  /**
   * Which objective errors fail only their trial and let the study go on: `'all'` (default), `'none'`,
   * or a list of error classes. Such a failure is reported by an `OBJECTIVE_FAILED` warning, once per
   * error message in each `optimize` call. An error not caught still fails its trial, then stops the study and
   * rejects `optimize` with it once running trials are done. A storage error while a result is
   * recorded does the same whatever `catch` says: the trial is recorded as FAIL ("its result could
   * not be recorded: ...") if storage takes that, else it stays RUNNING with a
   * `TRIAL_RESULT_NOT_RECORDED` warning, owned by this process (`owner_process`) but no longer
   * held as running by the Study once `optimize` has settled: the orphan sweep of a study reopened
   * in this process (`failOrphanedTrials`, before each `optimize`'s first launch) records that FAIL
   * once storage takes it, with heartbeats a stale-trial sweep fails it once its heartbeat is older
   * than the grace, and once this process has exited the next run's orphan sweep does.
   */
  readonly catch?: 'all' | 'none' | readonly ErrorClass[];
  /**
   * Called in order after each trial this call ran has been told; a returned Promise is awaited. On
   * an interruption, `optimize` rejects only once the callbacks of the trials told meanwhile have
   * run (within the interruption's 10 s bound); none starts after it has settled. The rejection is
   * the interruption's: an error a callback throws meanwhile, or after the bound (one still running
   * is not awaited), is reported by an `ERROR_NOT_RETHROWN` warning (once per message and call),
   * never lost or left an unhandled rejection.
   */
  readonly callbacks?: readonly OptimizeCallback[];
  /**
   * Aborting it stops the optimization like Ctrl-C does; the `InterruptedError` names the signal's
   * reason (`controller.abort(reason)`, `AbortSignal.timeout`) and keeps it as its `cause`.
   */
  readonly signal?: AbortSignal;
  /**
   * Handle SIGINT while optimizing (default true): stop launching trials, let the trials whose
   * objective has returned be recorded with its result and their callbacks run, record the running trials
   * of this call as FAIL ("interrupted"), those still being asked included (trials of another
   * `optimize` call on the study, or asked directly with `ask`, are left to their owners), wait
   * for the tells (and the callbacks after them) and asks (and `onTrialStart` calls) in flight (at most 10 s in all, trial creations storage has not answered
   * included; objectives are not waited for, their `trial.signal` is aborted), and reject with
   * `InterruptedError`. A result an objective gives after the interruption recorded its trial (a
   * value, a prune, or a tell of one still in flight past the bound) is dropped: the trial stays
   * FAIL "interrupted", as Optuna keeps a finished trial, no callback sees it, nothing is written
   * (so a storage closed since is not touched), and one `LATE_RESULT_DROPPED` warning per call
   * names the first such trial. A second Ctrl-C is left to Node's default. However many calls run side by
   * side, they share one SIGINT listener (and one 'abort' listener per `signal`), so Node never
   * warns of a listener leak. SIGTERM is not handled here
   * (the `kestrel` CLI turns it into `signal`); pass an AbortSignal for it. Not a boolean: `InvalidOptionError`.
   */
  readonly handleSigint?: boolean;
  /**
   * Write a heartbeat for each running trial this often (ms, at most 2^31 - 1, the longest timer
   * Node.js runs), and before launching trials record as
   * FAIL the RUNNING trials of this study whose heartbeat is older than `heartbeatGraceMs`
   * (workers that were killed; not those of a live process on this host, see
   * `Study.failStaleTrials`). Off by default; the CLI turns it on.
   */
  readonly heartbeatIntervalMs?: number;
  /**
   * Default: 3 x heartbeatIntervalMs. Only together with `heartbeatIntervalMs`, and more than it
   * (else `InvalidOptionError`).
   */
  readonly heartbeatGraceMs?: number;
  /**
   * Called when a trial starts (for progress displays); a Promise it returns is awaited before the
   * objective runs. If it throws (or its Promise rejects), the trial is recorded as FAIL without
   * running, no new trial is launched, and `optimize` rejects with the error once running trials
   * are done (as for a callback that throws). An interruption waits for one in flight (within its
   * 10 s bound); its trial's objective then does not run, and the configuration of an enqueued
   * trial is back in the queue before `optimize` settles.
   */
  readonly onTrialStart?: (trial: Trial) => void | Promise<void>;
}

/** The most trials `optimize` runs at once in one process (`concurrency`). */
export const MAX_CONCURRENCY = 1024;
/** The longest delay setTimeout / setInterval accept (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;
/**
 * How long an interruption waits, in all, for the work of the parent in flight (tells and the
 * callbacks after them, asks, `onTrialStart`) before it rejects: `optimize` and
 * `runTrialsInProcesses` alike.
 */
export const INTERRUPT_DRAIN_MS = 10_000;
/** An `optimize` call as the async context of its workers sees it; `running` is false once it returned. */
interface ContextRun {
  readonly study: Study;
  running: boolean;
}
/**
 * The `optimize` runs whose workers (objective, callbacks, onTrialStart) the current async context
 * descends from, outermost first. Async context rather than a flag on the Study: with
 * `concurrency` > 1 or two `optimize` calls side by side, several runs are live at once and only a
 * call made from within one of their trials is nested. A context outlives its run (a promise
 * continuation or timer an objective left behind), so a run counts only while it is `running`.
 */
const optimizing = new AsyncLocalStorage<readonly ContextRun[]>();

export async function runOptimize(study: Study, objective: Objective, options: OptimizeOptions): Promise<void> {
  const outer = (optimizing.getStore() ?? []).filter((r) => r.running);
  // Per stored study, not per Study object: another Study loaded on the same study and storage
  // (one storage object, or a journal file) nested inside a trial is the same nesting.
  if (outer.some((r) => isSameStoredStudy(r.study, study))) throw new NestedOptimizationError(study.studyName);
  const opts = validate(objective, options);
  if (opts.signal?.aborted === true) {
    throw new InterruptedError(`optimization of study "${study.studyName}" was aborted before it started${abortDetail(opts.signal)}`, {
      cause: opts.signal.reason,
    });
  }
  // The run's own conditions, which tryAsk looks at too (after its waits, before creating a trial).
  const run = study.beginRun(() => mayLaunch());
  const context = enterRunContext(study);
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  let launched = 0;
  // Boxed: a thrown null is an error too (with `fatal: unknown = null` it never stopped the run).
  let fatal: { readonly error: unknown } | null = null;
  /** Set when `optimize` settles: a callback not started by then is skipped. */
  let settled = false;
  // An interrupted run rejects with the interruption, never with such an error, and work it left
  // running (a callback past the drain bound) fails after it has settled: the error went nowhere.
  const reportNotRethrown = (error: unknown): void => warnErrorNotRethrown(run, `optimize of study "${study.studyName}"`, error);
  const setFatal = (error: unknown): void => {
    if (settled) reportNotRethrown(error);
    else if (fatal === null) fatal = { error };
  };
  let interrupted: string | null = null;
  let interruptDone: Promise<void> | null = null;
  const failStale = staleTrialSweeper(
    study,
    opts.heartbeatIntervalMs,
    opts.heartbeatGraceMs ?? 3 * (opts.heartbeatIntervalMs ?? 0),
  );

  // A call to optimize() starts a fresh run even if a previous one was stopped; a stop() while it
  // runs stops it, even when another optimize call on the study starts meanwhile.
  const mayLaunch = (): boolean => fatal === null && interrupted === null && run.stopped === null && Date.now() < deadline;
  const shouldLaunch = (): boolean => mayLaunch() && (opts.nTrials === undefined || launched < opts.nTrials);

  // A caught objective error fails only its trial; say so (once per message in this run), as tell
  // does for a NaN value, rather than let a bug fail every trial without a word.
  const onCaught = (trialNumber: number, error: unknown): void => {
    const message = messageOf(error);
    const key = `OBJECTIVE_FAILED\u0000${message}`;
    if (run.warned.has(key)) return;
    run.warned.add(key);
    warn(
      'OBJECTIVE_FAILED',
      `trial ${trialNumber} failed: ${message} (the study goes on; later trials failing with this message are not reported; catch: 'none' stops at the first error)`,
    );
  };

  /** Launches in flight (asks, `onTrialStart`); an interruption waits for them (bounded). */
  const asking = new Set<Promise<unknown>>();
  /**
   * Trials whose objective has returned, each settled once it is told and every callback after the
   * tell has run: an interruption lets them record the result and waits for their callbacks
   * (bounded), so that none runs after `optimize` has settled.
   */
  const telling = new Set<Promise<unknown>>();

  // An objective is not awaited by an interruption: a result it gives once the interruption has
  // recorded its trial FAIL "interrupted" is dropped, as Optuna keeps a finished trial as recorded.
  // Said once per run (naming the first such trial): a run of 1024 concurrent trials is one warning.
  const onDropped = (trialNumber: number, result: string): void => warnLateResultDropped(run, study, trialNumber, result);

  const interrupt = (reason: string): Promise<void> => {
    if (interruptDone === null) {
      interrupted = reason;
      interruptDone = (async () => {
        // One bound for every wait (a storage that never answers must not hang the interruption);
        // a trial created later is recorded by its worker, which sees `interrupted`.
        const drainDeadline = Date.now() + INTERRUPT_DRAIN_MS;
        const left = (): number => Math.max(0, drainDeadline - Date.now());
        // A trial whose objective has returned is no longer running: its tell records the result
        // (failing it as "interrupted" lost a value the objective had returned), and its callbacks
        // run before optimize rejects.
        await settledWithin([...telling], left());
        // Live trials include those still being asked: they are recorded now, their asks reject;
        // then the launches in flight end (an onTrialStart returns, its trial is withdrawn).
        await study.failLiveTrials(FAIL_REASON_INTERRUPTED, run, left());
        await settledWithin([...asking], left());
        // A trial whose creation was still in flight is live only now.
        await study.failLiveTrials(FAIL_REASON_INTERRUPTED, run, left());
        // Trials whose objective returned while the interruption recorded the others (none starts
        // a tell now: their signals are aborted) and their callbacks.
        await settledWithin([...telling], left());
      })();
    }
    return interruptDone;
  };

  let interruptedPromiseReject: ((error: unknown) => void) | null = null;
  const interruptedPromise = new Promise<never>((_, reject) => {
    interruptedPromiseReject = reject;
  });
  // Never an unhandled rejection when nobody awaits it.
  interruptedPromise.catch(() => undefined);

  const onAbort = (reason: string, cause?: unknown): void => {
    void interrupt(reason).then(
      () =>
        interruptedPromiseReject?.(
          new InterruptedError(`optimization of study "${study.studyName}" was interrupted (${reason})`, cause === undefined ? {} : { cause }),
        ),
      (error: unknown) => interruptedPromiseReject?.(error),
    );
  };

  /** Withdraws a trial whose objective will not run (see `Study.withdrawTrial`). */
  const withdraw = async (trial: Trial): Promise<void> => {
    try {
      await study.withdrawTrial(trial);
    } catch (error) {
      setFatal(error);
    }
  };

  /**
   * Launches one trial, from the stale sweep through the ask to `onTrialStart`: resolves with the
   * trial to run, 'skip' when an interruption came during `onTrialStart` (the trial is withdrawn,
   * and the next launch finds the run stopped), or 'stop'.
   */
  const launch = async (): Promise<Trial | 'skip' | 'stop'> => {
    let trial: Trial | null;
    try {
      await failStale();
      // The sweep reads storage (file I/O for a journal): a stop, the timeout, an uncaught error
      // or an interruption that came meanwhile must not see one more trial launched.
      if (!mayLaunch()) return 'stop';
      trial = await study.tryAskIn(run, { heartbeat: opts.heartbeatIntervalMs !== undefined, maxTrialsInStudy: opts.maxTrialsInStudy });
    } catch (error) {
      // Interrupted while asking: the interruption recorded the trial as FAIL.
      if (!(error instanceof GridExhaustedError || error instanceof InterruptedError)) setFatal(error);
      return 'stop';
    }
    if (trial === null) return 'stop'; // the study holds maxTrialsInStudy trials
    if (interrupted !== null) {
      // Created after the interruption recorded the live trials: record it as well (and enqueue
      // again the configuration of an enqueued one, which never ran).
      await withdraw(trial);
      return 'stop';
    }
    try {
      // An async one (which `(trial) => void` accepts) rejected unhandled, crashing Node.
      const started: unknown = opts.onTrialStart?.(trial);
      if (isPromiseLike(started)) await started;
    } catch (error) {
      // Not run: record the trial as FAIL rather than leave it RUNNING, and stop like a callback error.
      setFatal(error);
      await failUnstartedTrial(study, trial, error);
      return 'stop';
    }
    if (interrupted !== null || trial.signal.aborted) {
      // Interrupted while onTrialStart ran (the interruption may not have reached the trial yet):
      // the objective does not run; an enqueued configuration goes back.
      await withdraw(trial);
      return 'skip';
    }
    return trial;
  };

  const worker = async (): Promise<void> => {
    while (shouldLaunch()) {
      launched++;
      // In flight as a whole, so that an interruption waits (bounded) for the ask and for
      // onTrialStart with the withdrawal after it: an enqueued configuration is back in the queue
      // before optimize settles, not written after it (into a storage the user closed since).
      const launching = launch();
      asking.add(launching);
      let launchedTrial: Trial | 'skip' | 'stop';
      try {
        launchedTrial = await launching;
      } finally {
        asking.delete(launching);
      }
      if (launchedTrial === 'stop') break;
      if (launchedTrial === 'skip') continue;
      const trial = launchedTrial;
      // Tracked from the first tell of the trial (runTrial tells once its objective has returned)
      // to the end of its callbacks.
      let finished: (() => void) | null = null;
      const trackTell = <T>(told: Promise<T>): Promise<T> => {
        if (finished === null) {
          const finishing = new Promise<void>((resolve) => (finished = resolve));
          telling.add(finishing);
          void finishing.then(() => telling.delete(finishing));
        }
        return told;
      };
      try {
        const frozen = await runTrial(study, trial, objective, opts, { onCaught, onUncaught: setFatal, onDropped, trackTell });
        if (frozen === null) continue; // finished by an interruption
        for (const callback of opts.callbacks) {
          // Past the interruption's bound (a callback that hangs): the rest are skipped, not run
          // after optimize has rejected.
          if (settled) break;
          try {
            await callback(study, frozen);
          } catch (error) {
            setFatal(error);
          }
        }
      } finally {
        (finished as (() => void) | null)?.();
      }
      // A synchronous objective on in-memory storage settles every await of a trial as a
      // microtask: without a turn of the event loop between trials, no timer, signal handler
      // (Ctrl-C) or abort from one ever ran, and a run without limits could only be killed. The
      // same point of every trial, so the order of concurrent workers stays deterministic.
      await nextTurn();
    }
  };

  const { signal } = opts;
  const stopListeningAbort = signal === undefined ? null : listenAbort(signal, () => onAbort(`aborted${abortDetail(signal)}`, signal.reason));
  const stopListeningSigint = opts.handleSigint ? listenSigint(() => onAbort('SIGINT')) : null;
  let beating = false;
  const heartbeat =
    opts.heartbeatIntervalMs === undefined
      ? null
      : setInterval(() => {
          if (beating) return;
          beating = true;
          study.beatLiveTrials().then(
            () => {
              beating = false;
            },
            (error: unknown) => {
              beating = false;
              warnOnce('HEARTBEAT_FAILED', `could not write a trial heartbeat: ${messageOf(error)}`);
            },
          );
        }, opts.heartbeatIntervalMs);
  heartbeat?.unref();
  try {
    // A worker that throws (a bug) sets `fatal` rather than reject Promise.all at once: optimize
    // then returns only when every worker has stopped, never with trials still being launched.
    const workers = Promise.all(
      Array.from({ length: opts.concurrency }, () =>
        context.run(worker).catch((error: unknown) => {
          setFatal(error);
        }),
      ),
    );
    await Promise.race([workers, interruptedPromise]);
    // The workers can all stop (their asks rejected) before the interruption is fully recorded.
    if (interrupted !== null) await interruptedPromise;
    // Every worker has stopped: a trial of this run still live is one storage refused to record.
    if (fatal !== null) await releaseUnrecordedTrials(study, run, (fatal as { readonly error: unknown }).error);
  } finally {
    settled = true;
    context.end();
    study.endRun(run);
    if (heartbeat !== null) clearInterval(heartbeat);
    stopListeningSigint?.();
    stopListeningAbort?.();
    // Interrupted: the rejection is the interruption's, not this error.
    if (interrupted !== null && fatal !== null) reportNotRethrown((fatal as { readonly error: unknown }).error);
  }
  if (fatal !== null) throw (fatal as { readonly error: unknown }).error;
}

/** The async context of a call's work (see `optimizing`): `run` runs work in it, `end` marks the call ended. */
export interface RunContext {
  readonly run: <T>(work: () => T) => T;
  readonly end: () => void;
}

/**
 * A context for the work (objectives, callbacks, onTrialStart, asks) of one `optimize` or
 * `runTrialsInProcesses` call on `study`: from within it, a nested `optimize` of the same stored
 * study is refused, and once `end` has been called a `study.stop()` from it is ignored
 * (`isLeftoverOfOptimize`). Internal.
 */
export function enterRunContext(study: Study): RunContext {
  const self: ContextRun = { study, running: true };
  const inside: readonly ContextRun[] = [...(optimizing.getStore() ?? []).filter((r) => r.running), self];
  return {
    run: (work) => optimizing.run(inside, work),
    end: () => {
      self.running = false;
    },
  };
}

/**
 * Records as FAIL ("onTrialStart threw: <error>") a trial whose `onTrialStart` threw `error`, its
 * objective never run; the caller stops its run with `error`. When storage refuses the FAIL,
 * warns `TRIAL_START_FAILED` and passes the refusal to `onRefused` (the trial stays RUNNING,
 * released when the run ends: `releaseUnrecordedTrials`). Resolves with the trial as recorded, or
 * null. Internal: optimize and the process runner.
 */
export async function failUnstartedTrial(
  study: Study,
  trial: Trial,
  error: unknown,
  onRefused: (refusal: unknown) => void = () => undefined,
): Promise<FrozenTrial | null> {
  try {
    return await study.tell(trial, { state: 'FAIL', failReason: `onTrialStart threw: ${messageOf(error)}` });
  } catch (tellError) {
    if (tellError instanceof TrialFinishedError) return null;
    warn('TRIAL_START_FAILED', `could not record trial ${trial.number} as FAIL: ${messageOf(tellError)}`);
    onRefused(tellError);
    return null;
  }
}

/**
 * Records as FAIL ("its result could not be recorded: <error>") a trial whose result (or failure)
 * storage refused with `error`, a storage error that stops its run; a refused FAIL (`told`, its
 * reason) keeps its own reason first (`notRecordedFailReason`). When storage refuses that too,
 * warns `TRIAL_RESULT_NOT_RECORDED` naming the trial, which stays RUNNING (released from the Study
 * when its run ends: `releaseUnrecordedTrials`); one finished meanwhile elsewhere keeps its record.
 * `track` marks the tell in flight. Internal: optimize and the process runner.
 */
export async function failUnrecordedTrial(
  study: Study,
  trial: Trial,
  error: unknown,
  told: string | null,
  track: <T>(told: Promise<T>) => Promise<T> = (told) => told,
): Promise<void> {
  try {
    await track(study.tell(trial, { state: 'FAIL', failReason: notRecordedFailReason(messageOf(error), told) }));
  } catch (failError) {
    if (!(failError instanceof TrialFinishedError)) {
      warn('TRIAL_RESULT_NOT_RECORDED', `trial ${trial.number} stays RUNNING: neither its result nor a failure could be recorded: ${messageOf(failError)}`);
    }
  }
}

/**
 * Ends a call (`optimize`, `runTrialsInProcesses`) that stopped on `error`, once its workers have
 * stopped: a trial of `run` still live in `study` is one whose result (or failure) storage refused
 * (`TRIAL_RESULT_NOT_RECORDED`). It is recorded FAIL ("its result could not be recorded: ...")
 * where storage now takes that, and released from the Study either way (`failLiveTrials`):
 * otherwise every stale-trial and orphan sweep of this process would spare it, as running here,
 * for as long as the process lives. One that storage still refuses (a journal whose sync failed
 * takes nothing more) stays RUNNING, owned by this process, for the sweeps to fail. Internal:
 * optimize and the process runner.
 */
export async function releaseUnrecordedTrials(study: Study, run: OptimizeRun, error: unknown): Promise<void> {
  await study.failLiveTrials(notRecordedFailReason(messageOf(error)), run).catch(() => undefined);
}

/**
 * Warns, once per run and message, of an error that an interrupted call (`caller`: `optimize of
 * study "s"`, say) does not rethrow: it rejects with the interruption, and work it left running
 * (past `INTERRUPT_DRAIN_MS`) fails after it has settled. Internal: optimize and the process runner.
 */
export function warnErrorNotRethrown(run: OptimizeRun, caller: string, error: unknown): void {
  warnOncePerRun(run, 'ERROR_NOT_RETHROWN', `${caller} was interrupted, so an error of its trials, callbacks or onTrialStart is not rethrown: ${messageOf(error)}`);
}

/**
 * Warns, once per run (naming its first trial: a run of 1024 concurrent trials is one warning), of
 * a result (`result`: "returned 0.3", "was pruned") given after the interruption of `run` had
 * finished its trial: the result is dropped. Internal: optimize and the process runner.
 */
export function warnLateResultDropped(run: OptimizeRun, study: Study, trialNumber: number, result: string): void {
  if (run.warned.has('LATE_RESULT_DROPPED')) return;
  run.warned.add('LATE_RESULT_DROPPED');
  warn(
    'LATE_RESULT_DROPPED',
    `trial ${trialNumber} of study "${study.studyName}" ${result} after the interruption had ended it (recorded FAIL "interrupted", ` +
      'unless another worker\'s stale-trial sweep had finished it first): the result is dropped and the trial stays as recorded ' +
      '(later results of this run\'s interrupted trials are dropped without a warning)',
  );
}

/**
 * Whether the caller is work that an `optimize` call of `study`'s stored study left running after
 * it settled (a callback past the interruption's bound, an objective, a timer either started): the
 * innermost such call in the async context has ended. Internal: `Study.stop` ignores such a stop.
 */
export function isLeftoverOfOptimize(study: Study): boolean {
  const runs = optimizing.getStore() ?? [];
  for (let i = runs.length - 1; i >= 0; i--) if (isSameStoredStudy(runs[i].study, study)) return !runs[i].running;
  return false;
}


/** What `runTrial` reports to its run. */
interface TrialHooks {
  /** An objective error `catch` lets the study go on after. */
  readonly onCaught: (trialNumber: number, error: unknown) => void;
  /** An error that stops the run. */
  readonly onUncaught: (error: unknown) => void;
  /** A result (`result`: "returned 0.3", say) given after an interruption recorded the trial. */
  readonly onDropped: (trialNumber: number, result: string) => void;
  /** Marks a tell of the trial as in flight (an interruption waits for it, bounded). */
  readonly trackTell: <T>(told: Promise<T>) => Promise<T>;
}

/**
 * Runs one trial to its end. Returns null when an interruption finished it first: a result the
 * objective gives after that (its signal is aborted) is dropped and reported (`onDropped`), never
 * written over the FAIL "interrupted" record, and an error it throws then is its answer to the
 * abort. Nothing about such a trial reaches `onUncaught`: it may come after `optimize` settled.
 */
async function runTrial(
  study: Study,
  trial: Trial,
  objective: Objective,
  opts: ValidatedOptions,
  { onCaught, onUncaught, onDropped, trackTell }: TrialHooks,
): Promise<FrozenTrial | null> {
  // What the objective gave, described for `onDropped` only when dropped; null for an error (a
  // failure that loses to the interruption's FAIL loses nothing).
  let result: (() => string) | null = null;
  // The reason of the FAIL being told, if the tell is one (kept should storage refuse it).
  let toldFail: string | null = null;
  try {
    let values: ObjectiveValues;
    try {
      values = await objective(trial);
    } catch (error) {
      if (isTrialPrunedError(error)) {
        if (trial.pruneQueryPending) {
          warnOnce(
            'SHOULD_PRUNE_NOT_AWAITED',
            'an objective threw TrialPrunedError before its trial.shouldPrune() had answered: `if (trial.shouldPrune())` tests a Promise, which is always true; write `if (await trial.shouldPrune())` (the trial is recorded PRUNED)',
          );
        }
        result = () => 'was pruned';
        if (trial.signal.aborted) {
          onDropped(trial.number, result());
          return null;
        }
        return await trackTell(study.tell(trial, { state: 'PRUNED' }));
      }
      if (trial.signal.aborted) return null;
      toldFail = messageOf(error);
      const frozen = await trackTell(study.tell(trial, { state: 'FAIL', failReason: toldFail }));
      if (isCaught(error, opts.catch)) onCaught(frozen.number, error);
      else onUncaught(error);
      return frozen;
    }
    result = () => `returned ${describeValues(values)}`;
    if (trial.signal.aborted) {
      onDropped(trial.number, result());
      return null;
    }
    return await trackTell(study.tell(trial, isNumberOrArray(values) ? values : { state: 'COMPLETE', values: values as never }));
  } catch (error) {
    // The interruption recorded the trial while its result was being told (a tell past the drain
    // bound): that record stands, whatever the tell met (TrialFinishedError, or a storage the user
    // has closed since), and nothing more is written.
    if (trial.signal.aborted) {
      if (result !== null) onDropped(trial.number, result());
      return null;
    }
    // The trial was finished meanwhile by another worker that found its heartbeat stale (a
    // blocked event loop). Its record stands; the study goes on.
    if (error instanceof TrialFinishedError) {
      // `warn`, not `warnOnce`: the message names the trial, so each is new, and a process-wide
      // record of each (kept for good) silenced the same trial number of another study.
      warn('TRIAL_FINISHED_ELSEWHERE', `trial ${trial.number} was finished elsewhere before its result arrived: ${messageOf(error)}`);
      return null;
    }
    // The result could not be recorded (a storage error): record the trial as FAIL, rather than
    // leave it RUNNING and live in the Study for good, where a later run's heartbeats beat it and
    // no worker ever failed it. The study stops with the error all the same.
    await failUnrecordedTrial(study, trial, error, toldFail, trackTell);
    onUncaught(error);
    return null;
  }
}

/**
 * An objective's values for a message: "0.3", "NaN", "[0.3, 2]" (a typed array too); anything else
 * as `describeValue` names it (never String(), which throws for an object with a null prototype or
 * a throwing toString; never JSON alone, which writes NaN and Infinity as null). Internal: the
 * `LATE_RESULT_DROPPED` warnings of optimize and the process runner.
 */
export function describeValues(values: unknown): string {
  if (values instanceof DataView) return describeValue(values);
  if (Array.isArray(values) || ArrayBuffer.isView(values)) {
    return `[${Array.from(values as ArrayLike<unknown>, (value) => describeValue(value)).join(', ')}]`;
  }
  return describeValue(values);
}

/**
 * Whether `instanceof` works with `value` (a class, or a bound one). An arrow function passes
 * `typeof` but makes `instanceof` throw TypeError, which would surface only when an objective fails.
 */
function isErrorClass(value: unknown): boolean {
  if (typeof value !== 'function') return false;
  try {
    void (new Error() instanceof (value as ErrorClass));
    return true;
  } catch {
    return false;
  }
}

function isNumberOrArray(value: unknown): value is number | readonly number[] {
  return typeof value === 'number' || Array.isArray(value);
}

function isCaught(error: unknown, rule: ValidatedOptions['catch']): boolean {
  if (rule === 'all') return true;
  if (rule === 'none') return false;
  return rule.some((cls) => error instanceof cls);
}

interface ValidatedOptions {
  readonly nTrials: number | undefined;
  readonly maxTrialsInStudy: number | undefined;
  readonly timeoutMs: number | undefined;
  readonly concurrency: number;
  readonly catch: 'all' | 'none' | readonly ErrorClass[];
  readonly callbacks: readonly OptimizeCallback[];
  readonly signal: AbortSignal | undefined;
  readonly handleSigint: boolean;
  readonly onTrialStart: ((trial: Trial) => void | Promise<void>) | undefined;
  readonly heartbeatIntervalMs: number | undefined;
  readonly heartbeatGraceMs: number | undefined;
}

/** Every OptimizeOptions key, checked against the interface at compile time. */
const OPTION_KEYS = optionKeys<OptimizeOptions>()(['nTrials', 'maxTrialsInStudy', 'timeoutMs', 'concurrency', 'catch', 'callbacks', 'signal', 'handleSigint', 'heartbeatIntervalMs', 'heartbeatGraceMs', 'onTrialStart']);

function validate(objective: Objective, options: OptimizeOptions): ValidatedOptions {
  if (typeof objective !== 'function') throw new InvalidOptionError('objective', 'a function', objective);
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  // A misspelt name (Optuna's `n_trials` or `timeout`) would otherwise run without a budget.
  checkOptionsObject(options, OPTION_KEYS, 'optimize');
  const count = (name: string, value: unknown, min: number): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new InvalidOptionError(name, `an integer >= ${min}`, value);
    }
    return value;
  };
  const nTrials = count('nTrials', options.nTrials, 0);
  const maxTrialsInStudy = count('maxTrialsInStudy', options.maxTrialsInStudy, 0);
  let timeoutMs: number | undefined;
  if (options.timeoutMs !== undefined) {
    if (typeof options.timeoutMs !== 'number' || !(options.timeoutMs >= 0)) {
      throw new InvalidOptionError('timeoutMs', 'a non-negative number of milliseconds', options.timeoutMs);
    }
    timeoutMs = options.timeoutMs;
  }
  const concurrency = count('concurrency', options.concurrency, 1) ?? 1;
  if (concurrency > MAX_CONCURRENCY) throw new InvalidOptionError('concurrency', `at most ${MAX_CONCURRENCY}`, concurrency);
  const catchRule = options.catch ?? 'all';
  if (catchRule !== 'all' && catchRule !== 'none') {
    if (!Array.isArray(catchRule) || catchRule.some((c) => !isErrorClass(c))) {
      throw new InvalidOptionError('catch', '"all", "none" or an array of error classes', catchRule);
    }
  }
  const callbacks = options.callbacks ?? [];
  // Array.from: some() skips the holes of a sparse array, which were then called after a trial.
  if (!Array.isArray(callbacks) || Array.from(callbacks).some((c) => typeof c !== 'function')) {
    throw new InvalidOptionError('callbacks', 'an array of functions', callbacks);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new InvalidOptionError('signal', 'an AbortSignal', options.signal);
  }
  // 'false' (a config or environment string) was truthy, and SIGINT was taken over.
  if (options.handleSigint !== undefined && typeof options.handleSigint !== 'boolean') {
    throw new InvalidOptionError('handleSigint', 'a boolean', options.handleSigint);
  }
  if (options.onTrialStart !== undefined && typeof options.onTrialStart !== 'function') {
    throw new InvalidOptionError('onTrialStart', 'a function', options.onTrialStart);
  }
  const positiveMs = (name: string, value: unknown): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
      throw new InvalidOptionError(name, 'a positive number of milliseconds', value);
    }
    return value;
  };
  const heartbeatIntervalMs = positiveMs('heartbeatIntervalMs', options.heartbeatIntervalMs);
  // setInterval runs a longer delay every 1 ms (TimeoutOverflowWarning): a heartbeat per trial per ms.
  if (heartbeatIntervalMs !== undefined && heartbeatIntervalMs > MAX_TIMER_MS) {
    throw new InvalidOptionError('heartbeatIntervalMs', `at most ${MAX_TIMER_MS} ms (the longest timer Node.js runs)`, heartbeatIntervalMs);
  }
  const heartbeatGraceMs = positiveMs('heartbeatGraceMs', options.heartbeatGraceMs);
  if (heartbeatGraceMs !== undefined && heartbeatIntervalMs === undefined) {
    throw new InvalidOptionError('heartbeatGraceMs', 'to be given together with heartbeatIntervalMs', heartbeatGraceMs);
  }
  if (heartbeatGraceMs !== undefined && heartbeatIntervalMs !== undefined && heartbeatGraceMs <= heartbeatIntervalMs) {
    throw new InvalidOptionError('heartbeatGraceMs', `more than heartbeatIntervalMs (${heartbeatIntervalMs})`, heartbeatGraceMs);
  }
  return {
    heartbeatIntervalMs,
    heartbeatGraceMs,
    nTrials,
    maxTrialsInStudy,
    timeoutMs,
    concurrency,
    catch: catchRule,
    callbacks,
    signal: options.signal,
    handleSigint: options.handleSigint ?? true,
    onTrialStart: options.onTrialStart,
  };
}
