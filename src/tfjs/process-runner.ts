/**
 * Local multi-GPU / multi-process execution of trials.
 *
 * `runTrialsInProcesses` runs trials in forked worker processes, one trial per process at a time:
 * one process per GPU, pinned with `CUDA_VISIBLE_DEVICES=<gpu>` (`gpus: [0, 1]`, or `'auto'`: the
 * entries of the parent's `CUDA_VISIBLE_DEVICES` when it is set, else the GPUs `nvidia-smi -L`
 * lists; see `detectWorkerGpus`), or, without GPUs, `concurrency` processes on the CPU, which see no
 * GPU (`CUDA_VISIBLE_DEVICES=''`, as Ray gives a trial with no GPU).
 *
 * The parent owns the study: it asks for each trial, answers the worker's `suggest*`, `report` and
 * `shouldPrune` through its live `Trial` (so pruners see every report in storage, as in-process),
 * and tells the result. The worker only imports the objective module and trains (./trial-worker.ts,
 * protocol in ./ipc.ts). A worker that crashes, exits or is killed mid-trial (an out-of-memory kill,
 * `process.exit(3)`, SIGKILL, a trial timeout) fails that trial with the exit reason as its
 * `fail_reason`, and the next trial gets a fresh process. Workers are recycled after
 * `trialsPerProcess` trials (default 1), which returns all their memory, GPU memory included, to the
 * system between trials.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GridExhaustedError, InterruptedError, InvalidOptionError, KestrelError, StorageError, TrialFinishedError, messageOf } from '../errors.js';
import { suggestFromSpec, validateSpaceSpec } from '../space/spec.js';
import type { Distribution, ParamValue, SpaceSpec } from '../space/types.js';
import {
  INTERRUPT_DRAIN_MS,
  describeValues,
  enterRunContext,
  failUnrecordedTrial,
  failUnstartedTrial,
  releaseUnrecordedTrials,
  warnErrorNotRethrown,
  warnLateResultDropped,
  type OptimizeCallback,
} from '../study/optimize.js';
import type { Study } from '../study/study.js';
import { MAX_PROCESSES, staleTrialSweeper } from '../study/trial-budget.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import { FAIL_REASON_INTERRUPTED } from '../trial/system-attrs.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';
import { abortDetail, listenAbort, listenSigint } from '../util/interrupt-listeners.js';
import { warn } from '../util/warn.js';
import type { Trial } from '../trial/trial.js';
import { detectWorkerGpus, isGpuId, type GpuId } from './gpus.js';
import {
  describeSerializedError,
  isChildMessage,
  serializeError,
  type ChildMessage,
  type ChildRequest,
  type ParentMessage,
  type WorkerArgs,
} from './ipc.js';
import { isPromiseLike } from '../util/promise.js';

/** Options of `runTrialsInProcesses`; an unknown name throws `InvalidOptionError`. */
export interface RunTrialsInProcessesOptions {
  readonly study: Study;
  /** Path of the module that exports the objective (relative paths resolve against the cwd). */
  readonly objectiveModule: string;
  /** Its named export (default 'objective'). */
  readonly objectiveExport?: string;
  /**
   * Declarative space: the parent samples it up front and calls `objective(params, trial)`. Without
   * one the objective is called as `objective(trial)`; a function declaring two parameters is then
   * refused when the first worker process has loaded it (this process never imports the module):
   * the call rejects with `InvalidOptionError` at `space`, the trial that process was started for
   * recorded FAIL with that reason, and no objective runs. Only that trial: without a space, one
   * process loads the objective before the other slots ask their first trials and start theirs.
   */
  readonly space?: SpaceSpec;
  /**
   * Trials this call runs (unbounded when omitted, then give `maxTrialsInStudy` or `timeoutMs`,
   * unless the study's sampler ends by itself: a GridSampler runs until its grid is exhausted).
   */
  readonly nTrials?: number;
  /**
   * Stop when the study holds this many trials in total (any state: earlier runs, `addTrial` and
   * enqueued trials count), counting every process working on it. Each launch asks with
   * `study.tryAsk({maxTrialsInStudy})`, which counts and creates in one storage step
   * (`Storage.createTrialIfBelow`) and takes enqueued trials first, as `study.optimize` does, so
   * runners and `optimize` calls on one study share the budget exactly.
   */
  readonly maxTrialsInStudy?: number;
  /** Launch no new trial after this many milliseconds (running trials finish). */
  readonly timeoutMs?: number;
  /**
   * Heartbeats of running trials, as in `study.optimize`: each trial is stamped at ask time and
   * beaten every `intervalMs`; before each launch, RUNNING trials whose heartbeat is older than
   * `graceMs` (their worker was killed) are recorded as FAIL. Off when omitted. `intervalMs` is at
   * most 2^31 - 1 ms (`MAX_TIMER_MS`, about 24.8 days). Without heartbeats too, the trials record
   * this (the parent) process as their owner, and trials whose owner process has exited are
   * recorded as FAIL before the first launch and every `ORPHAN_SWEEP_INTERVAL_MS`, as in `optimize`
   * (`study.failOrphanedTrials`).
   *
   * A journal whose sync fails (STORAGE_SYNC_FAILED) records nothing more: the call aborts the
   * trials running in worker processes as an interruption does (killed `ABORT_GRACE_MS` later) and
   * rejects with that error. Those trials stay RUNNING in the journal (each named by a
   * `TRIAL_RESULT_NOT_RECORDED` warning, as in `study.optimize`), owned by this process, and
   * no Study object of it holds them any more: once this process has exited, the orphan sweep of
   * the next run fails them; before, the orphan sweep of a study reopened in this process records
   * them FAIL ("its result could not be recorded: ...") once storage takes it, and with heartbeats
   * a stale-trial sweep does once their heartbeat is older than `graceMs`.
   */
  readonly heartbeat?: { readonly intervalMs: number; readonly graceMs: number };
  /**
   * GPUs to run on, one process per GPU pinned with `CUDA_VISIBLE_DEVICES=<gpu>`: indices or UUIDs
   * ("GPU-...", "MIG-..."), used as written, or 'auto': the entries of this process's
   * `CUDA_VISIBLE_DEVICES` when it is set (the GPUs it was given; none when it hides them all),
   * else every GPU `nvidia-smi -L` lists; no GPU found means CPU processes (`concurrency`).
   * Default: none (CPU).
   *
   * CPU processes get `CUDA_VISIBLE_DEVICES=''` (every GPU hidden), whatever this process's value,
   * as Ray Tune does for a trial given no GPU (Ray sets the variable to the trial's GPU ids, an
   * empty list for none). Otherwise each CPU worker would inherit the parent's GPUs, and with
   * `@tensorflow/tfjs-node-gpu` every one of them would open GPU 0 and allocate its memory;
   * `selectTfBackend` in such a worker picks a CPU backend. To let CPU workers see GPUs anyway,
   * set `CUDA_VISIBLE_DEVICES` in `env` (used as given on CPU slots; a GPU slot's pin wins).
   */
  readonly gpus?: readonly GpuId[] | 'auto';
  /**
   * CPU worker processes when no GPU is used: an integer in [1, `MAX_PROCESSES`] (256), default 1.
   * Ignored with GPUs, whose count (`gpus`, given or discovered) has the same bound. More throws
   * `InvalidOptionError` naming the option, before any trial is asked.
   */
  readonly concurrency?: number;
  /** Trials a worker process runs before it is replaced (default 1). */
  readonly trialsPerProcess?: number;
  /**
   * Kill a trial's process after it has run the trial this many milliseconds; the trial fails
   * ("timed out"). At most 2^31 - 1 ms (`MAX_TIMER_MS`, about 24.8 days), the longest timer Node holds.
   */
  readonly trialTimeoutMs?: number;
  /**
   * Kill a worker process that has not finished starting (loading the objective module) after this
   * many milliseconds; the trial it was started for fails ("timed out ... while its process was
   * starting") and the run goes on. Default: when `trialTimeoutMs` is set, the longer of it and
   * 60 s (`DEFAULT_MIN_START_TIMEOUT_MS`; loading TensorFlow.js with CUDA can take tens of seconds);
   * else no limit. At most 2^31 - 1 ms.
   */
  readonly startTimeoutMs?: number;
  /** Extra Node options for workers (e.g. --max-old-space-size=4096). */
  readonly execArgv?: readonly string[];
  /**
   * Extra environment variables for workers. `CUDA_VISIBLE_DEVICES` here applies to CPU workers
   * only (replacing the `''` they get by default); GPU workers are pinned to their GPU.
   */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Called in order after each trial has been told; a returned Promise is awaited. On an
   * interruption, as in `study.optimize`, the call waits for the callbacks running (within the
   * interruption's 10 s bound, `INTERRUPT_DRAIN_MS`; none starts after it) and rejects with
   * `InterruptedError`: an error a callback throws meanwhile or later is reported by an
   * `ERROR_NOT_RETHROWN` warning, never rethrown or lost.
   */
  readonly callbacks?: readonly OptimizeCallback[];
  /**
   * Called when a trial starts (progress displays); a returned Promise is awaited. If it throws
   * or rejects, that trial is recorded as FAIL without running, no new trial is launched, and the
   * call rejects with the error once running trials are done (as in `study.optimize`). An
   * interruption waits for one in flight within its 10 s bound (see `signal`); its trial's
   * objective then does not run.
   */
  readonly onTrialStart?: (trial: Trial) => void | Promise<void>;
  /**
   * Aborting stops launching trials and aborts running trials' signals; a process that has not
   * finished its trial 3 s (`ABORT_GRACE_MS`) later is killed. The trials it stopped are FAIL
   * "interrupted" (one whose process returned a value within the grace is COMPLETE), and the call
   * then rejects with InterruptedError, only once every worker process has exited: unlike an
   * in-process objective, no worker runs on after it to write or warn late. The parent's own work
   * in flight (tells to storage and the callbacks after them, asks, `onTrialStart`) is waited for
   * at most 10 s (`INTERRUPT_DRAIN_MS`) in all, as by `study.optimize`: then every worker process
   * still there is killed (between trials too), the trials still running are recorded FAIL
   * "interrupted", and the call rejects. What that work does later is dropped, never written over
   * the record: a result storage takes late (one `LATE_RESULT_DROPPED` warning per call), a
   * callback not started yet (skipped), an error (an `ERROR_NOT_RETHROWN` warning), a
   * `study.stop()` (ignored, with a `LATE_STOP_IGNORED` warning, rather than stop a later call). The
   * rejection is always the InterruptedError, also when a callback or `onTrialStart` threw meanwhile.
   */
  readonly signal?: AbortSignal;
  /**
   * Handle SIGINT (Ctrl-C) while running (default true), as `study.optimize` does: the first one
   * stops the run as an aborted `signal` does; a second is left to Node's default. With `false`,
   * Ctrl-C kills this process at once and leaves its running trials RUNNING in storage. However many
   * calls (and `optimize` calls) run side by side, they share one SIGINT listener (and one 'abort'
   * listener per `signal`), so Node never warns of a listener leak.
   */
  readonly handleSigint?: boolean;
  /** GPU discovery for `gpus: 'auto'` (default: `detectWorkerGpus()`); for tests. */
  readonly detectGpus?: () => Promise<readonly GpuId[]>;
}

/** What `runTrialsInProcesses` resolves to. */
export interface RunTrialsInProcessesResult {
  /** The trials this call finished, in the order they finished. */
  readonly trials: readonly FrozenTrial[];
  /** GPUs used (empty: CPU processes). */
  readonly gpus: readonly GpuId[];
  /** Worker processes started. */
  readonly nProcessesStarted: number;
}

/** User attributes recorded on every trial run in a worker process. */
export const WORKER_PID_ATTR = 'worker_pid';
/** User attribute recorded on every trial run in a GPU worker process: the GPU it was pinned to. */
export const WORKER_GPU_ATTR = 'worker_gpu';
export { MAX_PROCESSES };

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);
const SHUTDOWN_GRACE_MS = 10_000;
/**
 * The longest delay Node's timers honour (2^31 - 1 ms, about 24.8 days): a longer one fires after
 * 1 ms, which would kill every trial at once or beat heartbeats every millisecond.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** The least default `startTimeoutMs` when `trialTimeoutMs` is set. */
export const DEFAULT_MIN_START_TIMEOUT_MS = 60_000;

type Outcome =
  | { readonly kind: 'complete'; readonly values: number | readonly number[] }
  | { readonly kind: 'pruned' }
  | { readonly kind: 'fail'; readonly reason: string };

/**
 * Runs `nTrials` trials of `study` in worker processes (see the file comment). An option name it
 * does not know (the CLI config's `trialTimeout`, which is `trialTimeoutMs` here) throws
 * `InvalidOptionError`, starting nothing.
 */
export async function runTrialsInProcesses(options: RunTrialsInProcessesOptions): Promise<RunTrialsInProcessesResult> {
  const opts = await validate(options);
  const gpus = opts.gpus === 'auto' ? [...(await (options.detectGpus ?? (() => detectWorkerGpus()))())] : [...opts.gpus];
  // One process per GPU: a discovered list is bounded like a given one.
  if (gpus.length > MAX_PROCESSES) {
    throw new InvalidOptionError('gpus', `at most ${MAX_PROCESSES} GPUs, one worker process each (MAX_PROCESSES); 'auto' found ${gpus.length}`, opts.gpus);
  }
  const slots: Slot[] =
    gpus.length > 0
      ? gpus.map((gpu, index) => ({ index, gpu, child: null, trialsInChild: 0 }))
      : Array.from({ length: opts.concurrency }, (_, index) => ({ index, gpu: null, child: null, trialsInChild: 0 }));

  const study = opts.study;
  const finished: FrozenTrial[] = [];
  const running = new Set<ChildHandle>();
  /** Every worker process not yet exited, running a trial or not: past the drain bound, all are killed. */
  const children = new Set<ChildHandle>();
  let launched = 0;
  let nProcessesStarted = 0;
  // Boxed: a thrown null is an error too (with `fatal: unknown = null` it never stopped the run).
  let fatal: { readonly error: unknown } | null = null;
  let interrupted = false;
  // What interrupted the run first, for the InterruptedError (as optimize names it).
  let interruption: { readonly reason: string; readonly cause?: unknown } | null = null;
  /**
   * Set once the call settles, or once an interruption has waited `INTERRUPT_DRAIN_MS` for the
   * slots: a callback not started by then is skipped, a result not recorded by then is dropped, and
   * an error met later is reported by a warning (it can no longer be rethrown).
   */
  let settled = false;
  /**
   * Why the trials running in worker processes are aborted (null: they are not): an interruption,
   * or a journal whose sync failed (STORAGE_SYNC_FAILED), which records nothing more, so that a
   * trial run on would waste its compute. A process started later gets the same abort.
   */
  let abortReason: string | null = null;
  const abortTrials = (reason: string): void => {
    abortReason ??= reason;
    for (const child of running) child.abort(abortReason);
  };
  // Resolves INTERRUPT_DRAIN_MS after the interruption: the wait for the slots ends there.
  let reachDrainBound!: () => void;
  const drainBound = new Promise<void>((resolve) => (reachDrainBound = resolve));
  let drainTimer: NodeJS.Timeout | undefined;

  const onAbort = (reason: string, cause?: unknown): void => {
    if (!interrupted) {
      drainTimer = setTimeout(reachDrainBound, INTERRUPT_DRAIN_MS);
      drainTimer.unref();
    }
    interrupted = true;
    interruption ??= cause === undefined ? { reason } : { reason, cause };
    abortTrials('interrupted');
  };
  const signal = opts.signal;
  const onSignal = (): void => onAbort(`aborted${abortDetail(signal as AbortSignal)}`, (signal as AbortSignal).reason);
  if (signal?.aborted === true) onSignal();
  // Shared with every optimize and runTrialsInProcesses call side by side (see interrupt-listeners).
  const stopListeningAbort = signal === undefined ? null : listenAbort(signal, onSignal);
  const stopListeningSigint = opts.handleSigint ? listenSigint(() => onAbort('SIGINT')) : null;

  const deadline = opts.timeoutMs === null ? Infinity : Date.now() + opts.timeoutMs;
  // A run of its own, as optimize's: `study.stop()` (an exhausted grid, a callback) stops it, and a
  // stop from before this call does not (study.stopped keeps that reason until a run starts).
  // tryAsk looks at these too, after its waits (enqueues in flight, a grid point): no trial is
  // created once the run may no longer launch.
  const run = study.beginRun(() => fatal === null && !interrupted && Date.now() < deadline);
  const caller = `runTrialsInProcesses on study "${study.studyName}"`;
  const context = enterRunContext(study);
  // Interrupted, the call rejects with InterruptedError: an error met then is reported, as by optimize.
  const setFatal = (error: unknown): void => {
    if (settled) warnErrorNotRethrown(run, caller, error);
    else if (fatal === null) fatal = { error };
    if (error instanceof StorageError && error.code === 'STORAGE_SYNC_FAILED') abortTrials(`their results can no longer be recorded: ${messageOf(error)}`);
  };
  /** A result (`outcome`) a trial gave after the interruption's bound had recorded the trial FAIL. */
  const onDropped = (trial: Trial, outcome: Outcome): void => {
    if (outcome.kind === 'complete') warnLateResultDropped(run, study, trial.number, `returned ${describeValues(outcome.values)}`);
    else if (outcome.kind === 'pruned') warnLateResultDropped(run, study, trial.number, 'was pruned');
  };
  const shouldLaunch = (): boolean =>
    fatal === null && !interrupted && run.stopped === null && launched < opts.nTrials && Date.now() < deadline;

  // optimize's stale sweep; the budget is tryAsk's (see maxTrialsInStudy).
  const failStale = staleTrialSweeper(study, opts.heartbeat?.intervalMs, opts.heartbeat?.graceMs ?? 0);
  const beats =
    opts.heartbeat === null
      ? null
      : setInterval(() => {
          study.beatLiveTrials().catch(() => undefined);
        }, opts.heartbeat.intervalMs);
  beats?.unref();

  const spawn = async (slot: Slot, timeoutMs: number | null): Promise<ChildHandle> => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      ...opts.env,
      KESTREL_WORKER_SLOT: String(slot.index),
      KESTREL_STUDY_ID: String(study.studyId),
      KESTREL_STUDY_NAME: study.studyName,
      KESTREL_STUDY_DIRECTIONS: JSON.stringify(study.directions),
    };
    // A GPU slot sees its GPU only; a CPU slot sees none (unless `env` names the devices itself),
    // as Ray hides GPUs from a trial given none: see `gpus`.
    if (slot.gpu !== null) env.CUDA_VISIBLE_DEVICES = String(slot.gpu);
    else if (!Object.prototype.hasOwnProperty.call(opts.env, 'CUDA_VISIBLE_DEVICES')) env.CUDA_VISIBLE_DEVICES = '';
    nProcessesStarted++;
    const child = new ChildHandle(study, workerArgs(opts), env, opts.execArgv);
    // Started while interrupted (or interrupted while starting): the abort kills it after the grace.
    if (abortReason !== null) child.abort(abortReason);
    running.add(child);
    children.add(child);
    void child.exit.then(() => children.delete(child));
    try {
      await child.whenReady(timeoutMs);
    } finally {
      running.delete(child);
    }
    // Without a space the objective is called as objective(trial): one written for a space,
    // objective(params, trial), got the trial as params and failed every trial (NaN, or a
    // TypeError). Known only once a process has imported the module (this process does not), so
    // it is refused as a start failure: its trial is recorded FAIL and the call rejects.
    if (opts.space === null && child.objectiveArity !== null && child.objectiveArity >= 2) {
      await child.shutdown();
      throw new InvalidOptionError(
        'space',
        `a declarative space, as objective "${opts.exportName}" of ${path.basename(opts.modulePath)} takes (params, trial) (or an objective(trial) calling trial.suggest*)`,
        undefined,
      );
    }
    return child;
  };

  // Without a space, whether the objective can be called at all (an objective(params, trial)
  // cannot: see `spawn`) is known only once a process has loaded the module, which this process
  // never imports. Until one has, a single slot (the probe) launches and the others wait, so a
  // refused objective costs one FAIL trial, not one per slot; the other slots start one process
  // load later. The probe passes to a waiting slot when its slot stops before a process of it has
  // loaded the objective (a budget reached, say); a fatal start failure stops them all.
  let objectiveChecked = opts.space !== null;
  let probe: { readonly slot: Slot; readonly done: Promise<void>; readonly release: () => void } | null = null;
  const releaseProbe = (slot: Slot): void => {
    if (probe === null || probe.slot !== slot) return;
    const { release } = probe;
    probe = null;
    release();
  };

  /** The callbacks, in order; past the interruption's bound the rest are skipped, as in optimize. */
  const runCallbacks = async (frozen: FrozenTrial): Promise<void> => {
    for (const callback of opts.callbacks) {
      if (settled) return;
      await callback(study, frozen);
    }
  };

  const runSlot = async (slot: Slot): Promise<void> => {
    try {
      while (shouldLaunch()) {
        if (!objectiveChecked) {
          if (probe === null) {
            let release!: () => void;
            const done = new Promise<void>((resolve) => {
              release = resolve;
            });
            probe = { slot, done, release };
          } else if (probe.slot !== slot) {
            await probe.done;
            continue;
          }
        }
        launched++;
        await failStale();
        if (interrupted) break;
        // Ask before spawning, so that no process is started for a trial the budget refuses. The
        // trial is live (heartbeated) from its creation, so a slow spawn does not make it stale.
        let trial: Trial | null;
        try {
          // In this run (as optimize's trials are in its run): the trial records this process as
          // its owner, which tells it whatever its worker process does, so a later run can fail it
          // once this process is gone (`study.failOrphanedTrials`).
          trial = await study.tryAskIn(run, {
            heartbeat: opts.heartbeat !== null,
            ...(opts.maxTrialsInStudy === null ? {} : { maxTrialsInStudy: opts.maxTrialsInStudy }),
          });
        } catch (error) {
          if (error instanceof GridExhaustedError) break; // no trial, or one tryAsk recorded FAIL
          throw error;
        }
        if (trial === null) break; // the study holds maxTrialsInStudy trials
        if (interrupted) {
          // Asked while an interruption landed: record it, start nothing for it (an enqueued
          // configuration is enqueued again: it never ran).
          finished.push(await study.withdrawTrial(trial));
          break;
        }
        if (slot.child === null) {
          // A process that does not finish starting (an objective module that never finishes loading)
          // within startTimeoutMs is killed, and its trial fails like one that hangs.
          try {
            slot.child = await spawn(slot, opts.startTimeoutMs);
            objectiveChecked = true;
            releaseProbe(slot);
          } catch (error) {
            const reason =
              error instanceof WorkerStartError && error.transient ? error.message : describeSerializedError(serializeError(error));
            // Interrupted (Ctrl-C reaches the starting process too), killed by a signal or timed out
            // while starting: the trial fails like a crashed one and the loop goes on (or stops, if
            // interrupted). Any other start failure (the module cannot be loaded) would fail every
            // trial: the call rejects with it, once the trial is recorded.
            const failedAlone = interrupted || (error instanceof WorkerStartError && error.transient);
            const recorded = interrupted ? study.withdrawTrial(trial) : study.tell(trial, { state: 'FAIL', failReason: reason });
            if (!failedAlone) {
              await recorded.catch(() => undefined);
              throw error;
            }
            const frozen = await recorded;
            finished.push(frozen);
            await runCallbacks(frozen);
            continue;
          }
          slot.trialsInChild = 0;
        }
        if (interrupted) {
          // Interrupted while its process was starting: run nothing in it.
          finished.push(await study.withdrawTrial(trial));
          break;
        }
        try {
          // An async one (which `(trial) => void` accepts) rejected unhandled, ending the process.
          const started: unknown = opts.onTrialStart?.(trial);
          if (isPromiseLike(started)) await started;
        } catch (error) {
          // Not run: recorded as FAIL rather than left RUNNING, and the run stops with this error
          // (not with a storage error met recording it: TRIAL_START_FAILED), as in optimize. A
          // failed journal sync then still aborts the trials running in worker processes.
          setFatal(error);
          const frozen = await failUnstartedTrial(study, trial, error, (refusal) => {
            if (!settled) setFatal(refusal);
          });
          if (frozen !== null) finished.push(frozen);
          break;
        }
        if (interrupted) {
          // Interrupted while onTrialStart ran: the objective does not run.
          finished.push(await study.withdrawTrial(trial));
          break;
        }
        const child = slot.child;
        trial.setUserAttr(WORKER_PID_ATTR, child.pid);
        if (slot.gpu !== null) trial.setUserAttr(WORKER_GPU_ATTR, slot.gpu);

        let outcome: Outcome;
        let specParams: Record<string, ParamValue> | null = null;
        try {
          if (opts.space !== null) specParams = suggestFromSpec(trial, opts.space);
          running.add(child);
          if (abortReason !== null) child.abort(abortReason);
          outcome = await child.run(trial, specParams, opts.trialTimeoutMs);
        } catch (error) {
          outcome = { kind: 'fail', reason: describeSerializedError(serializeError(error)) };
        } finally {
          running.delete(child);
        }
        slot.trialsInChild++;
        // Past the interruption's bound, which recorded the trial FAIL "interrupted" (and killed its process).
        if (settled) {
          onDropped(trial, outcome);
          break;
        }

        // Ctrl-C / abort: whatever the process made of it, the trial was interrupted.
        if (interrupted && outcome.kind !== 'complete') outcome = { kind: 'fail', reason: FAIL_REASON_INTERRUPTED };
        let frozen: FrozenTrial | null = null;
        try {
          // Whatever the objective returned is a value, never a tell instruction ({state: 'PRUNED'}).
          if (outcome.kind === 'complete') frozen = await study.tell(trial, { state: 'COMPLETE', values: outcome.values });
          else if (outcome.kind === 'pruned') frozen = await study.tell(trial, { state: 'PRUNED' });
          else frozen = await study.tell(trial, { state: 'FAIL', failReason: outcome.reason });
          finished.push(frozen);
        } catch (error) {
          // A tell past the interruption's bound, which recorded the trial meanwhile: that record stands.
          if (settled) {
            onDropped(trial, outcome);
            break;
          }
          // Finished meanwhile by another worker on the storage that found its heartbeat stale (a
          // loaded machine): that record stands and the run goes on, as in optimize.
          if (!(error instanceof TrialFinishedError)) {
            // A storage error: the run stops (a failed journal sync aborts the other trials at
            // once); the trial is recorded FAIL if storage takes that, else TRIAL_RESULT_NOT_RECORDED.
            setFatal(error);
            await failUnrecordedTrial(study, trial, error, outcome.kind === 'fail' ? outcome.reason : null);
            break;
          }
          // `warn`: the message names the trial (a process-wide warnOnce record of each is kept for good).
          warn('TRIAL_FINISHED_ELSEWHERE', `trial ${trial.number} was finished elsewhere before its result arrived: ${messageOf(error)}`);
        }

        if (child.exited || slot.trialsInChild >= opts.trialsPerProcess) {
          slot.child = null;
          await child.shutdown();
        }
        if (frozen !== null) await runCallbacks(frozen);
      }
    } catch (error) {
      setFatal(error);
    } finally {
      releaseProbe(slot);
      if (slot.child !== null) {
        const child = slot.child;
        slot.child = null;
        await child.shutdown();
      }
    }
  };

  try {
    // In a context of this call, as optimize's workers are: a study.stop() from work left running
    // past the interruption's bound (a callback, a late ask of a GridSampler) stops nothing then.
    const slotsDone = Promise.all(slots.map((slot) => context.run(() => runSlot(slot))));
    const done = await Promise.race([slotsDone.then(() => true), drainBound.then(() => false)]);
    if (!done) {
      // Interrupted INTERRUPT_DRAIN_MS ago, and a slot still waits for a callback, onTrialStart, a
      // tell or an ask: as optimize, stop waiting. Kill every worker process (those between trials
      // too) so that none outlives the call, and record the trials still running FAIL "interrupted".
      settled = true;
      await Promise.all([...children].map((child) => child.kill()));
      try {
        await study.failLiveTrials(FAIL_REASON_INTERRUPTED, run, 0);
      } catch (error) {
        warnErrorNotRethrown(run, caller, error);
      }
    }
    // A trial whose result (or failure) storage refused stays live in the Study, where every sweep
    // of this process would spare it for good: recorded FAIL where storage still takes that and
    // released, as by optimize. A journal whose sync failed takes nothing: the trial stays RUNNING,
    // owned by this process, for the sweeps of a reopened study (see `heartbeat`).
    if (fatal !== null) await releaseUnrecordedTrials(study, run, (fatal as { readonly error: unknown }).error);
  } finally {
    settled = true;
    context.end();
    clearTimeout(drainTimer);
    study.endRun(run);
    stopListeningAbort?.();
    stopListeningSigint?.();
    if (beats !== null) clearInterval(beats);
  }
  if (interrupted) {
    // The rejection is the interruption's, not an error met meanwhile (as in optimize).
    if (fatal !== null) warnErrorNotRethrown(run, caller, (fatal as { readonly error: unknown }).error);
    const { reason, cause }: { readonly reason: string; readonly cause?: unknown } = interruption ?? { reason: 'interrupted' };
    throw new InterruptedError(`trials of study "${study.studyName}" in worker processes were interrupted (${reason})`, cause === undefined ? {} : { cause });
  }
  if (fatal !== null) throw (fatal as { readonly error: unknown }).error;
  return { trials: finished, gpus, nProcessesStarted };
}

interface Slot {
  readonly index: number;
  readonly gpu: GpuId | null;
  child: ChildHandle | null;
  trialsInChild: number;
}

interface Validated {
  readonly study: Study;
  readonly modulePath: string;
  readonly exportName: string;
  readonly space: SpaceSpec | null;
  /** Infinity when unbounded. */
  readonly nTrials: number;
  readonly maxTrialsInStudy: number | null;
  readonly timeoutMs: number | null;
  readonly heartbeat: { readonly intervalMs: number; readonly graceMs: number } | null;
  readonly gpus: readonly GpuId[] | 'auto';
  readonly concurrency: number;
  readonly trialsPerProcess: number;
  readonly trialTimeoutMs: number | null;
  readonly startTimeoutMs: number | null;
  readonly execArgv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly callbacks: readonly OptimizeCallback[];
  readonly onTrialStart: ((trial: Trial) => void | Promise<void>) | undefined;
  readonly signal: AbortSignal | undefined;
  readonly handleSigint: boolean;
}

const OPTION_KEYS = optionKeys<RunTrialsInProcessesOptions>()([
  'study', 'objectiveModule', 'objectiveExport', 'space', 'nTrials', 'maxTrialsInStudy', 'timeoutMs', 'heartbeat', 'gpus',
  'concurrency', 'trialsPerProcess', 'trialTimeoutMs', 'startTimeoutMs', 'execArgv', 'env', 'callbacks', 'onTrialStart',
  'signal', 'handleSigint', 'detectGpus',
]);

async function validate(options: RunTrialsInProcessesOptions): Promise<Validated> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  // A misspelt or CLI-config name (`trialTimeout`, `timeout`) would otherwise be ignored silently.
  checkOptionsObject(options, OPTION_KEYS, 'runTrialsInProcesses');
  const study = options.study;
  if (study === null || typeof study !== 'object' || typeof study.ask !== 'function' || typeof study.tell !== 'function') {
    throw new InvalidOptionError('study', 'a Study (from createStudy or loadStudy)', study);
  }
  if (typeof options.objectiveModule !== 'string' || options.objectiveModule.length === 0) {
    throw new InvalidOptionError('objectiveModule', 'the path of a module exporting the objective', options.objectiveModule);
  }
  const modulePath = path.resolve(options.objectiveModule);
  try {
    await access(modulePath);
  } catch {
    throw new InvalidOptionError('objectiveModule', 'the path of an existing module', modulePath);
  }
  const exportName = options.objectiveExport ?? 'objective';
  if (typeof exportName !== 'string' || exportName.length === 0) throw new InvalidOptionError('objectiveExport', 'a non-empty string', exportName);
  const nTrials = options.nTrials ?? Infinity;
  if (nTrials !== Infinity && (!Number.isInteger(nTrials) || nTrials < 1)) throw new InvalidOptionError('nTrials', 'an integer >= 1', nTrials);
  const maxTrialsInStudy = options.maxTrialsInStudy ?? null;
  if (maxTrialsInStudy !== null && (!Number.isInteger(maxTrialsInStudy) || maxTrialsInStudy < 0)) {
    throw new InvalidOptionError('maxTrialsInStudy', 'an integer >= 0', maxTrialsInStudy);
  }
  const timeoutMs = options.timeoutMs ?? null;
  if (timeoutMs !== null && !(typeof timeoutMs === 'number' && timeoutMs > 0)) {
    throw new InvalidOptionError('timeoutMs', 'a number of milliseconds > 0', timeoutMs);
  }
  // A sampler with finitely many points (GridSampler: `remainingTrials`) ends the run by itself, as
  // in `optimize`: an exhausted grid stops the launch loop (GridExhaustedError).
  const samplerEnds = typeof study.sampler?.remainingTrials === 'function';
  if (nTrials === Infinity && maxTrialsInStudy === null && timeoutMs === null && !samplerEnds) {
    throw new InvalidOptionError(
      'nTrials',
      'a trial count (or maxTrialsInStudy or timeoutMs: one of them bounds the run; a grid search ends by itself)',
      options.nTrials,
    );
  }
  const heartbeat = options.heartbeat ?? null;
  if (
    heartbeat !== null &&
    (typeof heartbeat !== 'object' ||
      !(heartbeat.intervalMs > 0 && heartbeat.intervalMs <= MAX_TIMER_MS) ||
      !(heartbeat.graceMs > heartbeat.intervalMs))
  ) {
    throw new InvalidOptionError('heartbeat', `{intervalMs in (0, ${MAX_TIMER_MS}], graceMs > intervalMs}`, heartbeat);
  }
  const gpus = options.gpus ?? [];
  if (gpus !== 'auto' && (!Array.isArray(gpus) || !gpus.every(isGpuId) || new Set(gpus).size !== gpus.length)) {
    throw new InvalidOptionError('gpus', "'auto' or an array of distinct GPUs (indices >= 0 or \"GPU-\"/\"MIG-\" UUIDs)", gpus);
  }
  if (gpus !== 'auto' && gpus.length > MAX_PROCESSES) {
    throw new InvalidOptionError('gpus', `at most ${MAX_PROCESSES} GPUs, one worker process each (MAX_PROCESSES)`, `${gpus.length} GPUs`);
  }
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidOptionError('concurrency', 'an integer >= 1', concurrency);
  // There was no bound: each slot forks a whole Node.js process. Listed GPUs set the process
  // count instead (concurrency is ignored); with 'auto' it is the fallback when none is found.
  if ((gpus === 'auto' || gpus.length === 0) && concurrency > MAX_PROCESSES) {
    throw new InvalidOptionError('concurrency', `at most ${MAX_PROCESSES} worker processes (MAX_PROCESSES)`, concurrency);
  }
  const trialsPerProcess = options.trialsPerProcess ?? 1;
  if (!Number.isInteger(trialsPerProcess) || trialsPerProcess < 1) {
    throw new InvalidOptionError('trialsPerProcess', 'an integer >= 1', trialsPerProcess);
  }
  const trialTimeoutMs = options.trialTimeoutMs ?? null;
  if (trialTimeoutMs !== null && !(typeof trialTimeoutMs === 'number' && trialTimeoutMs > 0 && trialTimeoutMs <= MAX_TIMER_MS)) {
    throw new InvalidOptionError('trialTimeoutMs', `a number of milliseconds in (0, ${MAX_TIMER_MS}] (about 24.8 days)`, trialTimeoutMs);
  }
  const startTimeoutMs =
    options.startTimeoutMs ?? (trialTimeoutMs === null ? null : Math.max(trialTimeoutMs, DEFAULT_MIN_START_TIMEOUT_MS));
  if (startTimeoutMs !== null && !(typeof startTimeoutMs === 'number' && startTimeoutMs > 0 && startTimeoutMs <= MAX_TIMER_MS)) {
    throw new InvalidOptionError('startTimeoutMs', `a number of milliseconds in (0, ${MAX_TIMER_MS}]`, startTimeoutMs);
  }
  const execArgv = options.execArgv ?? [];
  if (!Array.isArray(execArgv) || !execArgv.every((a) => typeof a === 'string')) {
    throw new InvalidOptionError('execArgv', 'an array of strings', execArgv);
  }
  const env = options.env ?? {};
  if (env === null || typeof env !== 'object' || !Object.values(env).every((v) => typeof v === 'string')) {
    throw new InvalidOptionError('env', 'an object of string values', env);
  }
  const callbacks = options.callbacks ?? [];
  if (!Array.isArray(callbacks) || !callbacks.every((c) => typeof c === 'function')) {
    throw new InvalidOptionError('callbacks', 'an array of functions', callbacks);
  }
  if (options.onTrialStart !== undefined && typeof options.onTrialStart !== 'function') {
    throw new InvalidOptionError('onTrialStart', 'a function', options.onTrialStart);
  }
  const space = options.space === undefined ? null : validateSpaceSpec(options.space);
  return {
    study, modulePath, exportName, space, nTrials, maxTrialsInStudy, timeoutMs, heartbeat, gpus, concurrency, trialsPerProcess, trialTimeoutMs,
    startTimeoutMs, execArgv, env, callbacks, onTrialStart: options.onTrialStart, signal: options.signal,
    handleSigint: options.handleSigint ?? true,
  };
}

function workerArgs(opts: Validated): WorkerArgs {
  return { modulePath: opts.modulePath, exportName: opts.exportName, withParams: opts.space !== null };
}

/** The worker script next to this module, and the Node options it needs (a TypeScript loader for .ts). */
function workerCommand(modulePath: string): { script: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = path.extname(here);
  const script = path.join(path.dirname(here), `trial-worker${ext}`);
  const needsTs = TS_EXTENSIONS.has(ext) || TS_EXTENSIONS.has(path.extname(modulePath).toLowerCase());
  if (!needsTs) return { script, execArgv: [] };
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { script, execArgv: ['--import', tsx] };
}

/**
 * How long a trial's process may go on after an interruption (its `trial.signal` is aborted) before
 * it is killed: an objective that ignores the signal must not keep the interrupted run waiting.
 */
export const ABORT_GRACE_MS = 3_000;

/** A worker process that did not start. `transient`: killed or timed out, not a broken module. */
class WorkerStartError extends KestrelError {
  readonly transient: boolean;

  constructor(message: string, transient: boolean) {
    super('OBJECTIVE_ERROR', message);
    this.transient = transient;
  }
}

/** One worker process. */
class ChildHandle {
  readonly ready: Promise<void>;
  exited = false;
  /** The objective's declared parameters (its `length`), as the process reported when ready. */
  objectiveArity: number | null = null;
  private readonly proc: ChildProcess;
  private readonly study: Study;
  /** Resolves once the process has exited. */
  readonly exit: Promise<void>;
  private exitReason: string | null = null;
  private current: { trial: Trial; resolve: (outcome: Outcome) => void } | null = null;
  private timeoutReason: string | null = null;
  private abortReason: string | null = null;
  private abortKill: NodeJS.Timeout | null = null;
  private killedBySignal = false;

  constructor(study: Study, args: WorkerArgs, env: Record<string, string | undefined>, extraExecArgv: readonly string[]) {
    this.study = study;
    const command = workerCommand(args.modulePath);
    this.proc = fork(command.script, [JSON.stringify(args)], {
      env,
      execArgv: [...command.execArgv, ...extraExecArgv],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let readyResolve!: () => void;
    let readyReject!: (error: unknown) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    // A rejected `ready` that nobody awaits yet must not crash the parent.
    this.ready.catch(() => undefined);
    let isReady = false;

    this.exit = new Promise<void>((resolve) => {
      const onGone = (reason: string): void => {
        if (this.exited) return;
        this.exited = true;
        this.exitReason = this.timeoutReason ?? reason;
        if (this.abortKill !== null) clearTimeout(this.abortKill);
        if (!isReady) {
          const transient = this.killedBySignal || this.timeoutReason !== null || this.abortReason !== null;
          readyReject(new WorkerStartError(`the trial worker process did not start: ${this.exitReason}`, transient));
        }
        const current = this.current;
        this.current = null;
        current?.resolve({ kind: 'fail', reason: this.exitReason });
        resolve();
      };
      this.proc.on('exit', (code, signal) => {
        this.killedBySignal = signal !== null;
        onGone(signal !== null ? `trial process was killed by ${signal}` : `trial process exited with code ${code ?? 'unknown'}`);
      });
      this.proc.on('error', (error) => onGone(`trial process error: ${error.message}`));
    });

    this.proc.on('message', (raw: unknown) => {
      if (!isChildMessage(raw)) return;
      const message: ChildMessage = raw;
      switch (message.type) {
        case 'ready':
          this.objectiveArity = typeof message.arity === 'number' ? message.arity : null;
          isReady = true;
          readyResolve();
          return;
        case 'fatal':
          readyReject(new WorkerStartError(`cannot load the objective in the trial worker: ${describeSerializedError(message.error)}`, false));
          return;
        case 'stop':
          // Study.stop throws on a reason that is not a string; here that would be an uncaught exception.
          this.study.stop(typeof message.reason === 'string' ? message.reason : undefined);
          return;
        case 'request':
          void this.answer(message.id, message.request);
          return;
        case 'done': {
          const current = this.current;
          this.current = null;
          if (current === null) return;
          if (message.outcome === 'complete') current.resolve({ kind: 'complete', values: message.values });
          else if (message.outcome === 'pruned') current.resolve({ kind: 'pruned' });
          else current.resolve({ kind: 'fail', reason: describeSerializedError(message.error) });
          return;
        }
      }
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  send(message: ParentMessage): void {
    if (this.exited || !this.proc.connected) return;
    try {
      this.proc.send(message);
    } catch {
      // The process is going away; its exit handler reports it.
    }
  }

  /**
   * Aborts the running trial's signal in the worker (now, or as soon as its trial starts), and kills
   * the process if it has not finished its trial (or started) `ABORT_GRACE_MS` later.
   */
  abort(reason: string): void {
    if (this.abortReason === null && !this.exited) {
      this.abortKill = setTimeout(() => {
        if (this.current !== null || !this.started) this.proc.kill('SIGKILL');
      }, ABORT_GRACE_MS);
      this.abortKill.unref();
    }
    this.abortReason = reason;
    if (this.current !== null && this.runSent) this.send({ type: 'abort', reason });
  }

  /**
   * Waits until the worker has loaded the objective; after `timeoutMs` (when not null) the process is
   * killed and this rejects with a "timed out" `WorkerStartError`.
   */
  async whenReady(timeoutMs: number | null): Promise<void> {
    let timer: NodeJS.Timeout | null = null;
    if (timeoutMs !== null) {
      timer = setTimeout(() => {
        this.timeoutReason = `trial timed out after ${timeoutMs} ms while its process was starting (process killed)`;
        this.proc.kill('SIGKILL');
      }, timeoutMs);
    }
    try {
      await this.ready;
      this.started = true;
    } finally {
      if (timer !== null) clearTimeout(timer);
    }
  }

  private started = false;

  private runSent = false;

  /** Runs one trial; resolves with its outcome (a crash or timeout is a 'fail' with the reason). */
  run(trial: Trial, specParams: Record<string, ParamValue> | null, timeoutMs: number | null): Promise<Outcome> {
    if (this.exited) return Promise.resolve({ kind: 'fail', reason: this.exitReason ?? 'trial process is gone' });
    return new Promise<Outcome>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      if (timeoutMs !== null) {
        timer = setTimeout(() => {
          this.timeoutReason = `trial timed out after ${timeoutMs} ms (process killed)`;
          this.proc.kill('SIGKILL');
        }, timeoutMs);
      }
      this.runSent = false;
      this.current = {
        trial,
        resolve: (outcome) => {
          if (timer !== null) clearTimeout(timer);
          this.runSent = false;
          resolve(outcome);
        },
      };
      // FrozenTrial data of the running trial (plain data: structured clone drops prototypes).
      void this.study.storage.getTrial(trial.trialId).then(
        (frozen) => {
          this.send({ type: 'run', trial: frozen.toJSON(), specParams });
          this.runSent = true;
          if (this.abortReason !== null) this.send({ type: 'abort', reason: this.abortReason });
        },
        (error: unknown) => this.current?.resolve({ kind: 'fail', reason: describeSerializedError(serializeError(error)) }),
      );
    });
  }

  /** Kills the process (SIGKILL) and waits until it has exited; its running trial, if any, fails. */
  async kill(): Promise<void> {
    if (!this.exited) this.proc.kill('SIGKILL');
    await this.exit;
  }

  /** Asks the process to exit and waits (SIGKILL after a grace period). */
  async shutdown(): Promise<void> {
    if (this.exited) return;
    this.send({ type: 'shutdown' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), SHUTDOWN_GRACE_MS);
    try {
      await this.exit;
    } finally {
      clearTimeout(timer);
    }
  }

  private async answer(id: number, request: ChildRequest): Promise<void> {
    try {
      const value = await this.handle(request);
      this.send({ type: 'reply', id, ok: true, value });
    } catch (error) {
      this.send({ type: 'reply', id, ok: false, error: serializeError(error) });
    }
  }

  private async handle(request: ChildRequest): Promise<unknown> {
    const trial = this.current?.trial;
    switch (request.op) {
      case 'getTrials':
        return (await this.study.getTrials(request.states === null ? {} : { states: request.states })).map((t) => t.toJSON());
      case 'claim':
        return this.study.claim(request.key);
      default:
        break;
    }
    if (trial === undefined) throw new KestrelError('OBJECTIVE_ERROR', `no trial is running for a "${request.op}" request`);
    switch (request.op) {
      case 'suggest':
        return suggestDistribution(trial, request.name, request.distribution);
      case 'flush': {
        for (const [key, value] of Object.entries(request.userAttrs)) trial.setUserAttr(key, value);
        const steps = Object.keys(request.intermediateValues).map(Number).sort((a, b) => a - b);
        for (const step of steps) await trial.report(step, request.intermediateValues[step]);
        return true;
      }
      case 'prune':
        return trial.shouldPrune();
    }
  }
}

/** Suggests `name` on the parent's live trial with the distribution the worker's objective asked for. */
function suggestDistribution(trial: Trial, name: string, distribution: Distribution): ParamValue {
  switch (distribution.kind) {
    case 'float':
      return trial.suggestFloat(name, distribution.low, distribution.high, {
        log: distribution.log,
        ...(distribution.step === null ? {} : { step: distribution.step }),
      });
    case 'int':
      return trial.suggestInt(name, distribution.low, distribution.high, {
        log: distribution.log,
        ...(distribution.step === 1 ? {} : { step: distribution.step }),
      });
    case 'categorical':
      return trial.suggestCategorical(name, distribution.choices);
    default:
      throw new InvalidOptionError('distribution', 'a float, int or categorical distribution', distribution);
  }
}
