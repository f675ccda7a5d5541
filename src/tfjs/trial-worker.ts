/**
 * The trial worker process forked by `runTrialsInProcesses`: imports the user's objective module
 * once, then runs one trial at a time as the parent asks (see ./ipc.ts for the protocol).
 *
 * `suggest*` is synchronous but the sampler lives in the parent, so define-by-run parameters are
 * fetched by replay: the proxy trial answers from the values the parent sent so far; on a parameter
 * it does not know it throws an internal `ParamRequest`, the worker asks the parent (whose live
 * `Trial` samples it), and runs the objective again from the start with one more value known.
 * Objectives should therefore suggest before doing expensive work (the usual shape), or the config
 * should declare a `space`, whose values the parent samples up front. Reports repeated by a replay
 * are harmless: a step keeps its first value.
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InvalidOptionError, KestrelError } from '../errors.js';
import type { Distribution, ParamValue } from '../space/types.js';
import { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';
import { Trial, type TrialHost } from '../trial/trial.js';
import type { FrozenTrialData, TrialState } from '../trial/types.js';
import {
  isParentMessage,
  serializeError,
  type ChildMessage,
  type ChildRequest,
  type ParentMessage,
  type RunMessage,
  type SerializedError,
  type WorkerArgs,
} from './ipc.js';

/** Thrown by the proxy trial for a parameter only the parent can sample. Never leaves the worker. */
class ParamRequest extends KestrelError {
  readonly param: string;
  readonly distribution: Distribution;

  constructor(param: string, distribution: Distribution) {
    super(
      'OBJECTIVE_ERROR',
      `internal: parameter "${param}" is sampled by the parent process (do not catch this error in an objective)`,
    );
    this.param = param;
    this.distribution = distribution;
  }
}

type ObjectiveFn = (...args: unknown[]) => unknown;

let nextRequestId = 1;
const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
let abortController: AbortController | null = null;

function send(message: ChildMessage): void {
  process.send?.(message);
}

function request(req: ChildRequest): Promise<unknown> {
  const id = nextRequestId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    send({ type: 'request', id, request: req });
  });
}

function errorFrom(serialized: SerializedError): Error {
  const error = new KestrelError('OBJECTIVE_ERROR', serialized.message);
  error.name = serialized.name;
  return error;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as WorkerArgs;
  // The parent went away: nothing left to do. Registered before the objective module loads, so that
  // a module that never finishes loading does not outlive its parent.
  process.on('disconnect', () => process.exit(0));
  watchParent();
  let objective: ObjectiveFn;
  try {
    const mod = (await import(pathToFileURL(args.modulePath).href)) as Record<string, unknown>;
    const fallback = mod.default;
    const fn =
      mod[args.exportName] ??
      (fallback !== null && typeof fallback === 'object' ? (fallback as Record<string, unknown>)[args.exportName] : undefined);
    if (typeof fn !== 'function') {
      throw new KestrelError('OBJECTIVE_ERROR', `${args.modulePath} has no exported function "${args.exportName}"`);
    }
    objective = fn as ObjectiveFn;
  } catch (error) {
    send({ type: 'fatal', error: serializeError(error) });
    process.disconnect?.();
    process.exitCode = 1;
    return;
  }

  let queue: Promise<void> = Promise.resolve();
  process.on('message', (raw: unknown) => {
    if (!isParentMessage(raw)) return;
    const message: ParentMessage = raw;
    switch (message.type) {
      case 'reply': {
        const entry = pending.get(message.id);
        if (entry === undefined) return;
        pending.delete(message.id);
        if (message.ok) entry.resolve(message.value);
        else entry.reject(errorFrom(message.error ?? { name: 'Error', message: 'request failed', code: null }));
        return;
      }
      case 'abort':
        abortController?.abort(new KestrelError('INTERRUPTED', message.reason));
        return;
      case 'shutdown':
        process.disconnect?.();
        return;
      case 'run': {
        // Created now, so that an abort arriving before the trial starts is not lost.
        const controller = new AbortController();
        abortController = controller;
        queue = queue.then(() => runTrial(objective, args, message, controller.signal));
        return;
      }
    }
  });
  send({ type: 'ready', pid: process.pid, arity: objective.length });
}

/** How often the watchdog thread checks that the parent process is alive. */
const PARENT_CHECK_MS = 500;

/**
 * Kills this process once its parent is gone (Linux and macOS reparent an orphan, so its ppid
 * changes), from a thread of its own: the main thread may never serve the IPC channel's
 * 'disconnect' again (an objective stuck in a synchronous loop, at import or mid-trial), and such
 * a process outlived a killed parent, holding its GPU. Unref'd: it never keeps the process alive.
 *
 * The thread runs none of the process's preloads: a worker thread inherits `execArgv` and, through
 * its environment, NODE_OPTIONS, so a `-r` setup module (an APM agent, one that loads TensorFlow.js,
 * one that calls process.chdir, which throws in a thread) ran again in it, and its error, an
 * unhandled 'error' event here, killed every trial. Hence no `execArgv`, an empty `env`, and an
 * 'error' listener: a watchdog that cannot run leaves the 'disconnect' exit to do its job.
 */
function watchParent(): void {
  if (process.platform === 'win32') return; // no reparenting to detect; 'disconnect' still applies
  const watchdog = new Worker(
    `const { workerData } = require('node:worker_threads');
     setInterval(() => {
       if (process.ppid !== workerData.ppid) process.kill(process.pid, 'SIGKILL');
     }, workerData.intervalMs);`,
    {
      eval: true,
      execArgv: [],
      env: {},
      workerData: { ppid: process.ppid, intervalMs: PARENT_CHECK_MS },
      stdout: false,
      stderr: false,
    },
  );
  watchdog.on('error', () => undefined);
  watchdog.unref();
}

async function runTrial(objective: ObjectiveFn, args: WorkerArgs, message: RunMessage, signal: AbortSignal): Promise<void> {
  const known = new Map<string, { value: ParamValue } | { error: SerializedError }>();
  const base = new FrozenTrial(message.trial);
  const study = studyProxy();
  let missed: ParamRequest | null = null;

  const host: TrialHost = {
    study,
    sampleIndependent: (_trial, name, distribution) => {
      const entry = known.get(name);
      if (entry === undefined) {
        missed = new ParamRequest(name, distribution);
        throw missed;
      }
      if ('error' in entry) throw errorFrom(entry.error);
      return entry.value;
    },
    flush: async (trial) => {
      const changes = trial.takeChanges();
      const empty = Object.keys(changes.userAttrs).length === 0 && Object.keys(changes.intermediateValues).length === 0;
      if (empty) return;
      await request({ op: 'flush', userAttrs: changes.userAttrs, intermediateValues: changes.intermediateValues });
    },
    shouldPrune: async (trial) => {
      await host.flush(trial);
      return (await request({ op: 'prune' })) === true;
    },
  };

  // Replay until the objective runs with every parameter it suggests known.
  for (;;) {
    missed = null;
    const trial = new Trial(host, base, { enqueued: {}, relative: {}, relativeSpace: {} }, signal);
    let values: unknown;
    let failure: unknown = null;
    try {
      values = args.withParams ? await objective(message.specParams ?? {}, trial) : await objective(trial);
    } catch (error) {
      failure = error;
    }
    // `missed` is assigned inside the host's closure; TypeScript cannot see that.
    const miss = missed as ParamRequest | null;
    if (miss === null) {
      // Attributes and reports set after the last flush, whatever the outcome: `study.tell` keeps a
      // failed or pruned trial's attributes in process too (tfObjective's tfjs_leaked_tensors, say).
      try {
        await host.flush(trial);
      } catch (error) {
        failure ??= error;
      }
    }
    if (miss !== null) {
      const { param, distribution } = miss;
      try {
        known.set(param, { value: (await request({ op: 'suggest', name: param, distribution })) as ParamValue });
      } catch (error) {
        known.set(param, { error: serializeError(error) });
      }
      continue;
    }
    if (failure === null) {
      try {
        send({ type: 'done', outcome: 'complete', values: values as number | readonly number[] });
      } catch (error) {
        // Not structured-cloneable (a function, a class instance holding one): fail the trial with
        // the reason instead of crashing the process.
        const what = typeof values === 'object' && values !== null ? (values.constructor?.name ?? 'object') : typeof values;
        send({
          type: 'done',
          outcome: 'fail',
          error: {
            name: 'KestrelError',
            message: `the objective returned ${what}, expected a number or an array of numbers (${(error as Error).message})`,
            code: 'INVALID_TRIAL_VALUE',
          },
        });
      }
    } else if (isPruned(failure)) {
      send({ type: 'done', outcome: 'pruned', message: (failure as Error).message });
    } else {
      send({ type: 'done', outcome: 'fail', error: serializeError(failure) });
    }
    return;
  }
}

function isPruned(error: unknown): boolean {
  return error !== null && typeof error === 'object' && (error as { code?: unknown }).code === 'TRIAL_PRUNED';
}

/** The study as seen from the worker: metadata from the environment, trials from the parent. */
function studyProxy(): StudyView {
  return {
    studyId: Number(process.env.KESTREL_STUDY_ID ?? -1),
    studyName: process.env.KESTREL_STUDY_NAME ?? '',
    directions: JSON.parse(process.env.KESTREL_STUDY_DIRECTIONS ?? '["minimize"]') as StudyView['directions'],
    getTrials: async (options) => {
      const states: readonly TrialState[] | null = options?.states ?? null;
      const data = (await request({ op: 'getTrials', states })) as FrozenTrialData[];
      return data.map((d) => new FrozenTrial(d));
    },
    claim: async (key) => (await request({ op: 'claim', key })) === true,
    stop: (reason) => {
      // As Study.stop: refused here, in the objective, rather than in the parent's message handler.
      if (reason !== undefined && typeof reason !== 'string') throw new InvalidOptionError('reason', 'a string', reason);
      send({ type: 'stop', reason });
    },
  };
}

void main();
