/**
 * What `kestrel run` and `kestrel worker` share: build the sampler, pruner and objective from a
 * validated config, create or join the study, optimize under the study-wide budget with a progress
 * display, and print the outcome.
 *
 * The budget is `maxTrialsInStudy`: the study-wide total of trials, those it held before the run
 * included. Each trial is created only while the study holds fewer, atomically in storage, so any
 * number of `run` and `worker` processes on one journal together bring it to exactly `nTrials`.
 */
import type { GpuId } from '../tfjs/gpus.js';
import path from 'node:path';
import { ConfigError, ConstraintsFuncError, InterruptedError, InvalidOptionError, KestrelError, NoCompletedTrialsError, StorageError } from '../errors.js';
import { specDistributions } from '../space/spec.js';
import { JournalStorage } from '../storage/journal-storage.js';
import { createStudy } from '../study/create-study.js';
import { messageOf } from '../errors.js';
import type { Study } from '../study/study.js';
import type { SpaceSpec } from '../space/types.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import { FAIL_REASON_STALE_PREFIX } from '../trial/system-attrs.js';
import { MEMORY_STORAGE, storageSpec, type RunConfig } from './config.js';
import { formatParams, formatValues } from './format.js';
import type { CliIo } from './io.js';
import { checkObjectiveModule, loadConstraints, loadObjective, paramsWithoutSpaceError } from './objective-loader.js';
import { Progress } from './progress.js';
import { createPruner, createSampler } from './registry.js';

export interface ExecuteStudyOptions {
  readonly config: RunConfig;
  readonly io: CliIo;
  /** `run` prints the best trial; a `worker` prints only its summary. */
  readonly role: 'run' | 'worker';
  /** Force the progress bar on/off (default: stderr is a TTY). */
  readonly tty?: boolean;
  /**
   * Record the study's RUNNING trials as FAIL before starting: trials left behind by a worker that
   * was killed. Only correct when no other process is working on the study.
   */
  readonly failStale?: boolean;
}

/** Where the finished trials of a stopped run are, for its messages (in-memory storage keeps none). */
function keptIn(storage: string): string {
  return storage === MEMORY_STORAGE
    ? 'finished trials were kept in memory only and are lost with this process'
    : `finished trials are kept in ${storage}`;
}

/** The `fail_reason` of trials closed by `--fail-stale`. */
export const STALE_REASON = `${FAIL_REASON_STALE_PREFIX} its worker stopped without finishing it (closed by --fail-stale)`;

/**
 * Runs the study described by the config to its budget. Rejects with `InterruptedError` on Ctrl-C
 * or SIGTERM, and with `ConstraintsFuncError` naming the config's `constraintsExport` when that
 * function failed at a trial's tell (the trial stays recorded, infeasible; the run stops there).
 */
export async function executeStudy(options: ExecuteStudyOptions): Promise<void> {
  const { config, io, role } = options;
  // Everything that can fail on a bad config happens before storage is touched.
  // The constraints function is evaluated by the sampler at `tell`, which happens in this process
  // in process mode too: so it is loaded here whatever the execution, importing the objective
  // module in this process (and in each worker process, where the objective is).
  const constraintsFunc =
    config.constraintsExport === null ? null : await loadConstraints(config.objectivePath, config.constraintsExport);
  const sampler = await createSampler({
    name: config.sampler.name,
    options: config.sampler.options,
    seed: config.seed,
    space: config.space,
    constraintsFunc,
  });
  const pruner = await createPruner(config.pruner);
  // In process mode the objective is loaded by each worker process only: loading it here too would,
  // for a TensorFlow.js objective, initialize tfjs (and claim GPU memory) in the parent.
  // In process mode the module is at least checked to exist here, before the study is created
  // (and imported here only for a `constraintsExport`, above).
  const objective =
    config.processes === null
      ? await loadObjective({ modulePath: config.objectivePath, exportName: config.objectiveExport, space: config.space })
      : await checkObjectiveModule(config.objectivePath).then(() => null);
  // A journal's missing directories are made by JournalStorage (which syncs their entries with its
  // first record), when createStudy opens it.

  const study = await createStudy({
    studyName: config.studyName,
    directions: config.directions,
    sampler,
    pruner,
    storage: storageSpec(config.storage),
    loadIfExists: true,
  }).catch(async (error: unknown) => {
    throw withSyncAdvice(await directionsConflict(error, config));
  });
  // Whether the run has failed already: an error of the close below is then reported beside it.
  let failedAlready = false;
  try {
    if (config.space !== null) await checkSpaceAgainstStudy(study, config.space);
    if (options.failStale === true) {
      const stale = await study.getTrials({ states: ['RUNNING'] });
      for (const trial of stale) {
        await study.storage.finishTrial(trial.trialId, { state: 'FAIL', systemAttrs: { fail_reason: STALE_REASON } });
      }
      if (stale.length > 0) {
        io.stderr.write(`kestrel: recorded ${stale.length} stale RUNNING trial(s) as FAIL: ${stale.map((t) => `#${t.number}`).join(', ')}\n`);
      }
    }
    const existing = await study.getTrials();
    const where = config.storage === MEMORY_STORAGE ? 'in memory' : config.storage;
    const budget = config.nTrials === null ? 'no trial budget' : `budget ${config.nTrials} trials`;
    const gpus = config.processes === null ? [] : await resolveGpus(config.processes.gpus, io);
    const execution =
      config.processes === null
        ? `concurrency ${config.concurrency}`
        : gpus.length > 0
          ? `one trial process per GPU ${gpus.join(', ')}`
          : `${config.concurrency} CPU trial process(es)`;
    io.stderr.write(
      `kestrel: ${role} study "${study.studyName}" (${existing.length} existing trials, ${budget}, ` +
        `sampler ${sampler.name}, pruner ${pruner.name}, ${execution}) storage ${where}\n`,
    );
    if (config.nTrials !== null && existing.length >= config.nTrials && !existing.some((t) => t.state === 'WAITING')) {
      io.stderr.write(
        `kestrel: the study already has ${existing.length} trials (budget ${config.nTrials}); nothing to run (raise --n-trials to run more)\n`,
      );
    }
    const progress = new Progress({
      stream: io.stderr,
      tty: options.tty,
      total: config.nTrials,
      existing,
      directions: study.directions,
    });
    // SIGTERM (`kill`, `docker stop`, a scheduler's preemption) stops the run as Ctrl-C does, so the
    // running trials are recorded as FAIL "interrupted" rather than left RUNNING. Once: a second
    // SIGTERM is left to Node's default.
    const terminate = new AbortController();
    const onSigterm = (): void => terminate.abort();
    process.once('SIGTERM', onSigterm);
    // A run that cannot go on is stopped as on SIGTERM (the running trials recorded as FAIL) and
    // reported as the objective's failure (`failure`, thrown below), where Node would end it with
    // those trials left RUNNING:
    // - an objective awaiting a promise that nothing can settle (no timer, I/O or child process
    //   left in Node's event loop): Node's 'beforeExit' says the loop is empty, which during a run
    //   means it can never finish; Node then ended the process with no message (exit 13 from
    //   bin/kestrel.js, 0 from dist/cli/main.js);
    // - an error that escaped the objective (a rejected promise it did not await, a timer callback
    //   that threw): Node crashed with a stack trace, whatever the other trials were doing.
    // `cause`: the escaped error, whose stack KESTREL_DEBUG=1 shows.
    let failure: { readonly why: string; readonly cause?: unknown } | null = null;
    const stop = (why: string, cause?: unknown): void => {
      failure ??= { why, cause };
      terminate.abort();
    };
    const onBeforeExit = (): void =>
      stop(
        `the objective of study "${study.studyName}" awaits a promise that can never settle (Node's event loop has no ` +
          'timer, I/O or process left that could settle it)',
      );
    const onUncaughtException = (error: unknown): void =>
      stop(`an error escaped the objective of study "${study.studyName}" (thrown outside it, by a timer or callback): ${messageOf(error)}`, error);
    const onUnhandledRejection = (error: unknown): void =>
      stop(`an error escaped the objective of study "${study.studyName}" (a rejected promise nothing awaited): ${messageOf(error)}`, error);
    const failed = ({ why, cause }: { readonly why: string; readonly cause?: unknown }): KestrelError =>
      new KestrelError(
        'OBJECTIVE_ERROR',
        `${why}; the running trials are recorded as FAIL ("interrupted"), ${keptIn(config.storage)}`,
        { cause },
      );
    process.once('beforeExit', onBeforeExit);
    process.on('uncaughtException', onUncaughtException);
    process.on('unhandledRejection', onUnhandledRejection);
    try {
      if (objective !== null) {
        await study.optimize(objective, {
          signal: terminate.signal,
          maxTrialsInStudy: config.nTrials ?? undefined,
          timeoutMs: config.timeoutSec === null ? undefined : config.timeoutSec * 1000,
          concurrency: config.concurrency,
          heartbeatIntervalMs: config.heartbeat === null ? undefined : config.heartbeat.intervalSec * 1000,
          heartbeatGraceMs: config.heartbeat === null ? undefined : config.heartbeat.graceSec * 1000,
          onTrialStart: () => progress.trialStarted(),
          callbacks: [async (current, trial) => progress.trialFinished(trial, await current.getTrials())],
        });
      } else {
        await runInProcesses(study, config, gpus, progress, terminate.signal);
      }
      // An error that escaped as the last trials finished: the run ended, but not as it should have.
      if (failure !== null) throw failed(failure);
      progress.sync(await study.getTrials());
    } catch (error) {
      if (error instanceof InterruptedError && failure !== null) throw failed(failure);
      throw error;
    } finally {
      process.removeListener('SIGTERM', onSigterm);
      process.removeListener('beforeExit', onBeforeExit);
      process.removeListener('uncaughtException', onUncaughtException);
      process.removeListener('unhandledRejection', onUnhandledRejection);
      progress.stop();
    }
    const trials = await study.getTrials();
    io.stdout.write(summaryLine(study.studyName, trials));
    if (role === 'run') io.stdout.write(await bestReport(study, config.storage));
  } catch (error) {
    failedAlready = true;
    if (error instanceof InterruptedError) {
      io.stderr.write(
        `kestrel: interrupted; trials that were running are recorded as FAIL ("interrupted"), ${keptIn(config.storage)}\n`,
      );
    }
    if (error instanceof ConstraintsFuncError && config.constraintsExport !== null) {
      // The user's constraints function failed at a trial's tell (exit 1, as a failing objective
      // with `catch: none` would): name it as the config does, and say that nothing was lost.
      throw new ConstraintsFuncError(
        error.trialNumber,
        `${error.problem} (trial ${error.trialNumber} is recorded, with constraint values null: infeasible; ${keptIn(config.storage)})`,
        { cause: error, funcName: `constraintsExport "${config.constraintsExport}" of ${path.basename(config.objectivePath)}` },
      );
    }
    throw withSyncAdvice(error);
  } finally {
    // Closing syncs what the journal holds unsynced (JournalStorage.close), and can fail.
    try {
      await study.close();
    } catch (error) {
      // Reported instead of the run's own error (the exit code and message of an interruption, a
      // failing objective), it would hide what stopped the run: that one stays the error.
      if (!failedAlready) throw withSyncAdvice(error);
      const what = error instanceof KestrelError ? `${error.code}: ${error.message}` : messageOf(error);
      io.stderr.write(`kestrel: closing the storage failed too: ${what}\n`);
    }
  }
}

/**
 * A failed sync of the journal (STORAGE_SYNC_FAILED), with what a CLI user can do, where the
 * library's message speaks of storage objects; any other error as it is.
 */
function withSyncAdvice(error: unknown): unknown {
  if (!(error instanceof StorageError) || error.code !== 'STORAGE_SYNC_FAILED') return error;
  return new StorageError(
    `${error.message}. kestrel stopped writing: check the disk (the system log names the I/O error), then run kestrel ` +
      'again: it resumes from what the journal holds',
    { syncFailed: true, cause: error },
  );
}

/**
 * The config's directions disagree with those of the study it resumes (`createStudy` rejects with
 * `InvalidOptionError` at its option `directions`): a config error at the field the config wrote
 * (`direction` when it wrote neither), naming both sides. The stored directions are read back from
 * the journal, read-only. Any other error is returned as it is.
 */
async function directionsConflict(error: unknown, config: RunConfig): Promise<unknown> {
  if (!(error instanceof InvalidOptionError) || error.option !== 'directions' || config.storage === MEMORY_STORAGE) return error;
  let stored: readonly string[];
  const storage = new JournalStorage({ path: config.storage, readOnly: true });
  try {
    stored = await storage.getStudyDirections(await storage.getStudyIdFromName(config.studyName));
  } catch {
    return error; // changed meanwhile: the library's own message still says what was wrong
  } finally {
    await storage.close();
  }
  const field = config.directionsField ?? 'direction';
  const given = field === 'directions' ? `[${config.directions.join(', ')}]` : config.directions[0];
  return new ConfigError(
    field,
    `${given}${config.directionsField === null ? ' (the default)' : ''}, but the study "${config.studyName}" in ${config.storage} ` +
      `was created with directions [${stored.join(', ')}]; use another study name for other directions`,
    { cause: error },
  );
}

/**
 * Refuses a declarative space that gives a parameter of the study's trials another kind (float,
 * int, categorical), as Optuna refuses it: a worker or a resumed run with an edited config would
 * otherwise mix, under one name, values the samplers cannot compare. Another range or other
 * choices of the same kind are allowed, as in Optuna.
 * @throws ConfigError at `space.<name>`.
 */
async function checkSpaceAgainstStudy(study: Study, space: SpaceSpec): Promise<void> {
  const wanted = specDistributions(space);
  for (const trial of await study.getTrials()) {
    for (const [name, held] of Object.entries(trial.distributions)) {
      const mine = Object.prototype.hasOwnProperty.call(wanted, name) ? wanted[name] : undefined;
      if (mine !== undefined && mine.kind !== held.kind) {
        throw new ConfigError(
          `space.${name}`,
          `is a ${mine.kind} parameter here, but a ${held.kind} one in trial #${trial.number} of the study "${study.studyName}"; ` +
            'use another study name for another space',
        );
      }
    }
  }
}

/**
 * `gpus: auto` resolved as `runTrialsInProcesses` does (`detectWorkerGpus`: the entries of a set
 * CUDA_VISIBLE_DEVICES, else every GPU nvidia-smi lists); none falls back to CPU processes, with a
 * warning line.
 */
async function resolveGpus(gpus: readonly number[] | 'auto' | null, io: CliIo): Promise<readonly GpuId[]> {
  if (gpus === null) return [];
  if (gpus !== 'auto') return gpus;
  const { detectWorkerGpus } = await import('../tfjs/gpus.js');
  const found = await detectWorkerGpus();
  if (found.length === 0) {
    io.stderr.write(
      'kestrel: warning: gpus: auto found no GPU (nvidia-smi -L, CUDA_VISIBLE_DEVICES); running trials in CPU processes (concurrency)\n',
    );
  }
  return found;
}

/**
 * Process execution (config `processes: true` / `gpus`): the same study-wide budget, timeout and
 * heartbeats as in-process runs; Ctrl-C (or `terminate`, aborted on SIGTERM) records the running
 * trials as FAIL "interrupted".
 */
async function runInProcesses(
  study: Study,
  config: RunConfig,
  gpus: readonly GpuId[],
  progress: Progress,
  terminate: AbortSignal,
): Promise<void> {
  const execution = config.processes!;
  const { runTrialsInProcesses } = await import('../tfjs/process-runner.js');
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  terminate.addEventListener('abort', onSigint, { once: true });
  try {
    await runTrialsInProcesses({
      study,
      objectiveModule: config.objectivePath,
      objectiveExport: config.objectiveExport,
      ...(config.space === null ? {} : { space: config.space }),
      gpus,
      concurrency: config.concurrency,
      trialsPerProcess: execution.trialsPerProcess,
      ...(execution.trialTimeoutSec === null ? {} : { trialTimeoutMs: execution.trialTimeoutSec * 1000 }),
      ...(config.nTrials === null ? {} : { maxTrialsInStudy: config.nTrials }),
      ...(config.timeoutSec === null ? {} : { timeoutMs: config.timeoutSec * 1000 }),
      ...(config.heartbeat === null
        ? {}
        : { heartbeat: { intervalMs: config.heartbeat.intervalSec * 1000, graceMs: config.heartbeat.graceSec * 1000 } }),
      onTrialStart: () => progress.trialStarted(),
      callbacks: [async (current, trial) => progress.trialFinished(trial, await current.getTrials())],
      signal: controller.signal,
      handleSigint: false, // handled above, together with SIGTERM
    });
  } catch (error) {
    // The first worker process found an objective(params, trial) in a config without space: the
    // same config error as in-process runs give, before any objective ran.
    if (config.space === null && error instanceof InvalidOptionError && error.option === 'space') {
      throw paramsWithoutSpaceError(config.objectiveExport, config.objectivePath, error);
    }
    throw error;
  } finally {
    process.removeListener('SIGINT', onSigint);
    terminate.removeEventListener('abort', onSigint);
  }
}

/** `study "x": 50 trials (47 complete, 2 pruned, 1 failed, 0 running, 0 waiting)` */
export function summaryLine(studyName: string, trials: readonly FrozenTrial[]): string {
  const count = (state: string): number => trials.filter((t) => t.state === state).length;
  return (
    `study "${studyName}": ${trials.length} trials (${count('COMPLETE')} complete, ${count('PRUNED')} pruned, ` +
    `${count('FAIL')} failed, ${count('RUNNING')} running, ${count('WAITING')} waiting)\n`
  );
}

/**
 * The best trial (or the Pareto front) as text. A constrained study whose complete trials are all
 * infeasible ran as asked: that is reported in a line (`no feasible trial among N complete`), not
 * thrown; `storage` (a resolved RunConfig storage: an absolute journal path or ':memory:') makes
 * the line's `kestrel trials` hint name the run's journal, which need not be the default
 * `kestrel.journal` of the current directory. Rejects with `NoCompletedTrialsError` when no trial
 * completed (every one failed or was pruned: the run produced no result).
 */
export async function bestReport(study: Study, storage: string): Promise<string> {
  // bestTrials(): the feasible Pareto front, or the tied best trials of one objective; empty when none is feasible.
  const best = await study.bestTrials();
  if (best.length === 0) {
    const nComplete = (await study.getTrials({ states: ['COMPLETE'] })).length;
    if (nComplete === 0) throw new NoCompletedTrialsError(study.studyName);
    const hint =
      storage === MEMORY_STORAGE
        ? 'storage memory keeps no trials to inspect'
        : `kestrel trials ${shellWord(study.studyName)} --storage ${shellWord(storage)} --format json shows their constraints`;
    return `no feasible trial among ${nComplete} complete (each violates a constraint or has no constraint values); ${hint}\n`;
  }
  if (study.directions.length === 1) {
    const trial = await study.bestTrial();
    return `best trial #${trial.number}: value=${formatValues(trial.values)} params: ${formatParams(trial.params)}\n`;
  }
  const lines = best.map((t) => `  #${t.number}: values=${formatValues(t.values)} params: ${formatParams(t.params)}\n`);
  return `Pareto front (${best.length} trials, directions ${study.directions.join(', ')}):\n${lines.join('')}`;
}

/** `word` as one POSIX shell word: as is when it needs no quoting, else single-quoted. */
function shellWord(word: string): string {
  return /^[\w./:@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
