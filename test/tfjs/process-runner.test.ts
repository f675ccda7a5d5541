import { fork } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { InterruptedError, InvalidOptionError, KestrelError } from '../../src/errors.js';
import type { Pruner } from '../../src/pruners/pruner.js';
import type { Sampler } from '../../src/samplers/sampler.js';
import { GridSampler } from '../../src/samplers/grid-sampler.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { createStudy, loadStudy } from '../../src/study/create-study.js';
import type { Study } from '../../src/study/study.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import {
  cudaDevicesHidden,
  detectGpus,
  detectWorkerGpus,
  parseCudaVisibleDevices,
  parseNvidiaSmiList,
} from '../../src/tfjs/gpus.js';
import { currentProcessIdentity } from '../../src/util/process-identity.js';
import { resetWarnOnce } from '../../src/util/warn.js';
import { ABORT_GRACE_MS, MAX_PROCESSES, MAX_TIMER_MS, runTrialsInProcesses } from '../../src/tfjs/process-runner.js';
import { heldEnqueues } from '../study/fixtures/held-enqueues.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const crashModule = path.join(here, 'fixtures', 'crash-objective.ts');
const brokenModule = path.join(here, 'fixtures', 'broken-objective.ts');
const tfjsModule = path.join(here, 'fixtures', 'tfjs-objective.ts');
const startFailureModule = path.join(here, 'fixtures', 'start-failure-objective.ts');

function byNumber(trials: readonly FrozenTrial[]): Map<number, FrozenTrial> {
  return new Map(trials.map((t) => [t.number, t]));
}


/**
 * `study` whose tell of trial `number` is preceded by `other` (another Study on the same storage)
 * recording that trial FAIL, as another worker's stale-trial sweep would just before the result.
 */
function failedElsewhereBeforeTell(study: Study, other: Study, number: number): Study {
  const tell = study.tell.bind(study);
  return new Proxy(study, {
    get(target, key, receiver) {
      if (key !== 'tell') return Reflect.get(target, key, receiver);
      return async (trial: Parameters<typeof study.tell>[0], result: Parameters<typeof study.tell>[1]) => {
        const n = typeof trial === 'number' ? trial : trial.number;
        if (n === number) await other.tell(n, { state: 'FAIL', failReason: 'stale: no heartbeat (test)' });
        return tell(trial, result);
      };
    },
  });
}

describe('runTrialsInProcesses', () => {
  it('fails crashed, killed and throwing trials with their reason and completes the others', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 7 }) });
    const finished: number[] = [];
    const result = await runTrialsInProcesses({
      study,
      objectiveModule: crashModule,
      nTrials: 6,
      concurrency: 2,
      callbacks: [(_s, t) => void finished.push(t.number)],
    });
    const trials = byNumber(await study.getTrials());
    expect(trials.size).toBe(6);
    expect(trials.get(1)!.state).toBe('FAIL');
    expect(trials.get(1)!.systemAttrs.fail_reason).toBe('trial process exited with code 3');
    expect(trials.get(2)!.state).toBe('FAIL');
    expect(trials.get(2)!.systemAttrs.fail_reason).toBe('trial process was killed by SIGKILL');
    expect(trials.get(3)!.state).toBe('FAIL');
    expect(trials.get(3)!.systemAttrs.fail_reason).toBe('Error: objective failed on purpose');
    for (const n of [0, 4, 5]) {
      const t = trials.get(n)!;
      expect(t.state).toBe('COMPLETE');
      // The value the child computed from the parameters the parent sampled (define-by-run replay).
      const x = t.params.x as number;
      const y = t.params.y as number;
      expect(t.values![0]).toBeCloseTo(x * x + y, 12);
      expect(t.userAttrs.kind_seen).toBe(t.params.kind);
      // Reports travelled over IPC into storage.
      expect(Object.keys(t.intermediateValues).map(Number)).toEqual([1, 2, 3]);
      expect(t.intermediateValues[3]).toBeCloseTo(x * x + y, 12);
      // Ran in its own process (trialsPerProcess = 1), recorded by the parent.
      expect(t.userAttrs.worker_pid).toBe(t.userAttrs.pid);
      expect(t.userAttrs.worker_pid).not.toBe(process.pid);
      // Owned by this (the parent) process, which tells it whatever its worker does: a later run
      // fails it only once this process is gone (study.failOrphanedTrials).
      expect(t.systemAttrs.owner_process).toEqual(currentProcessIdentity() ?? undefined);
    }
    const pids = [0, 4, 5].map((n) => trials.get(n)!.userAttrs.pid);
    expect(new Set(pids).size).toBe(3);
    expect(result.trials).toHaveLength(6);
    expect(result.nProcessesStarted).toBe(6);
    expect([...finished].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('asks the parent study pruner over IPC and records PRUNED trials', async () => {
    // Prunes at step 2 every trial whose step-1 value exceeds 3.
    const pruner: Pruner = {
      name: 'test-threshold',
      prune: (_study, trial) => {
        const steps = Object.keys(trial.intermediateValues).map(Number);
        return steps.includes(2) && trial.intermediateValues[1] > 3;
      },
    };
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 3 }), pruner });
    // Trials 1-3 misbehave by design; run 0 and 4..9 and check the pruning rule on those.
    await runTrialsInProcesses({ study, objectiveModule: crashModule, nTrials: 10, concurrency: 2, trialsPerProcess: 3 });
    const trials = await study.getTrials();
    let nPruned = 0;
    for (const t of trials.filter((t) => ![1, 2, 3].includes(t.number))) {
      const x = t.params.x as number;
      const y = t.params.y as number;
      const first = x * x + y + 2;
      if (first > 3) {
        nPruned++;
        expect(t.state).toBe('PRUNED');
        expect(Object.keys(t.intermediateValues).map(Number)).toEqual([1, 2]);
        expect(t.values).toEqual([t.intermediateValues[2]]);
      } else {
        expect(t.state).toBe('COMPLETE');
      }
    }
    expect(nPruned).toBeGreaterThan(0);
  });

  it('pins one process per GPU with CUDA_VISIBLE_DEVICES', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 11 }) });
    const result = await runTrialsInProcesses({
      study,
      objectiveModule: crashModule,
      nTrials: 1,
      gpus: 'auto',
      detectGpus: async () => [5],
    });
    expect(result.gpus).toEqual([5]);
    const [trial] = await study.getTrials();
    expect(trial.state).toBe('COMPLETE');
    expect(trial.userAttrs.cuda_visible_devices).toBe('5');
    expect(trial.userAttrs.worker_gpu).toBe(5);
  });

  it("hides every GPU from CPU workers (CUDA_VISIBLE_DEVICES=''), as Ray does for a trial given none; GPU workers see their GPU", async () => {
    // The parent was given GPUs 0 and 1 (by a scheduler, say): CPU workers must not inherit them.
    const saved = process.env.CUDA_VISIBLE_DEVICES;
    process.env.CUDA_VISIBLE_DEVICES = '0,1';
    try {
      const seen = async (options: { gpus?: readonly number[] | 'auto'; env?: Record<string, string>; detectGpus?: () => Promise<number[]> }) => {
        const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 11 }) });
        // Trial 0 completes (crash-objective), recording the CUDA_VISIBLE_DEVICES its process saw.
        await runTrialsInProcesses({ study, objectiveModule: crashModule, nTrials: 1, ...options });
        const [trial] = await study.getTrials();
        expect(trial.state).toBe('COMPLETE');
        return { cuda: trial.userAttrs.cuda_visible_devices, gpu: trial.userAttrs.worker_gpu };
      };
      expect(await seen({})).toEqual({ cuda: '', gpu: undefined });
      expect(await seen({ gpus: [] })).toEqual({ cuda: '', gpu: undefined });
      expect(await seen({ gpus: 'auto', detectGpus: async () => [] })).toEqual({ cuda: '', gpu: undefined });
      expect(await seen({ gpus: [1] })).toEqual({ cuda: '1', gpu: 1 });
      // An explicit env value is the way to let CPU workers see GPUs; a GPU worker's pin wins over it.
      expect(await seen({ env: { CUDA_VISIBLE_DEVICES: '1' } })).toEqual({ cuda: '1', gpu: undefined });
      expect(await seen({ gpus: [0], env: { CUDA_VISIBLE_DEVICES: '1' } })).toEqual({ cuda: '0', gpu: 0 });
    } finally {
      if (saved === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
      else process.env.CUDA_VISIBLE_DEVICES = saved;
    }
  });

  it('runs a grid search to its end without a trial budget, as optimize does', async () => {
    // Refused as unbounded ("nTrials: expected a trial count"), though an exhausted grid ends the
    // run: `kestrel run` of a grid config with `processes: true` and no nTrials (a valid config,
    // "only a grid search ends by itself") failed before its first trial.
    const space = { a: { type: 'float', low: 0, high: 1, n: 3 }, b: { type: 'categorical', choices: ['p', 'q'] } } as const;
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new GridSampler({ space }) });
    await runTrialsInProcesses({ study, objectiveModule: crashModule, objectiveExport: 'fromParams', space, concurrency: 2, trialsPerProcess: 10 });
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(Array(6).fill('COMPLETE'));
    expect(new Set(trials.map((t) => `${String(t.params.a)} ${String(t.params.b)}`)).size).toBe(6);
    for (const t of trials) expect(t.values![0]).toBe((t.params.a as number) + (t.params.b === 'q' ? 1 : 0));
    // A sampler without an end still needs a bound.
    const unbounded = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 1 }) });
    const refused = runTrialsInProcesses({ study: unbounded, objectiveModule: crashModule, objectiveExport: 'fromParams', space });
    await expect(refused).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(refused).rejects.toMatchObject({ option: 'nTrials' });
    expect(await unbounded.getTrials()).toHaveLength(0);
  });

  it('samples a declarative space in the parent and passes the params', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 5 }) });
    await runTrialsInProcesses({
      study,
      objectiveModule: crashModule,
      objectiveExport: 'withSpace',
      space: { a: { type: 'float', low: 10, high: 20 } },
      nTrials: 2,
      concurrency: 1,
      trialsPerProcess: 2,
    });
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE']);
    for (const t of trials) {
      expect(JSON.parse(t.userAttrs.params_seen as string)).toEqual({ a: t.params.a });
      expect(t.values![0]).toBeCloseTo((t.params.a as number) + (t.params.extra as number), 12);
    }
    // Both trials ran in the same process.
    expect(trials[0].userAttrs.worker_pid).toBe(trials[1].userAttrs.worker_pid);
  });

  it('trains a TensorFlow.js model in a worker, with model params sampled by the parent', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 2 }) });
    await runTrialsInProcesses({ study, objectiveModule: tfjsModule, nTrials: 2, concurrency: 1, trialsPerProcess: 2 });
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE']);
    for (const t of trials) {
      expect(t.userAttrs.tfjs_backend).toBe('cpu');
      expect(Object.keys(t.params)).toEqual(expect.arrayContaining(['units0', 'activation', 'optimizer', 'learningRate']));
      expect(Object.keys(t.intermediateValues)).toEqual(['1', '2', '3']);
      expect(t.values![0]).toBe(t.intermediateValues[3]);
    }
    // The second trial in the same process starts from a clean tfjs memory.
    expect(trials[1].userAttrs.tensors_at_start).toBe(trials[0].userAttrs.tensors_at_start);
  });

  it('records a TensorFlow.js trial whose fit an interruption stopped as FAIL "interrupted", not COMPLETE', async () => {
    // The pruning callback stops a fit when the trial's signal aborts; fitWithPruning returned the
    // truncated history, and the runner recorded the loss the objective returned as COMPLETE.
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 2 }) });
    const controller = new AbortController();
    const poll = setInterval(() => {
      void study.getTrials().then((trials) => {
        if (trials.some((t) => Object.keys(t.intermediateValues).length >= 2)) controller.abort();
      });
    }, 20);
    try {
      const run = runTrialsInProcesses({ study, objectiveModule: tfjsModule, objectiveExport: 'longFit', nTrials: 1, signal: controller.signal });
      await expect(run).rejects.toBeInstanceOf(InterruptedError);
    } finally {
      clearInterval(poll);
    }
    const [trial] = await study.getTrials();
    expect([trial.state, trial.systemAttrs.fail_reason]).toEqual(['FAIL', 'interrupted']);
    expect(Object.keys(trial.intermediateValues).length).toBeLessThan(1000);
  });

  it("names an abort's reason in its InterruptedError and keeps it as the cause, as optimize does", async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    const reason = new Error('the scheduler preempted this job');
    const run = runTrialsInProcesses({ study, objectiveModule: crashModule, objectiveExport: 'hang', nTrials: 2, signal: AbortSignal.abort(reason) });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    await expect(run).rejects.toMatchObject({ message: expect.stringContaining('the scheduler preempted this job'), cause: reason });
    expect(await study.getTrials()).toHaveLength(0);
  });

  it('kills a trial that runs past trialTimeoutMs, and forwards an abort to running trials', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    await runTrialsInProcesses({ study, objectiveModule: crashModule, objectiveExport: 'hang', nTrials: 1, trialTimeoutMs: 300 });
    const [timedOut] = await study.getTrials();
    expect(timedOut.state).toBe('FAIL');
    expect(timedOut.systemAttrs.fail_reason).toBe('trial timed out after 300 ms (process killed)');

    const controller = new AbortController();
    const run = runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'hang', nTrials: 5, signal: controller.signal,
      onTrialStart: () => controller.abort(),
    });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    const trials = await study.getTrials();
    expect(trials).toHaveLength(2); // no trial launched after the abort
    expect(trials[1].state).toBe('FAIL');
    expect(trials[1].systemAttrs.fail_reason).toBe('interrupted');
  });

  it('kills a worker that never finishes loading the objective after startTimeoutMs, failing its trial', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    const result = await runTrialsInProcesses({
      study, objectiveModule: startFailureModule, nTrials: 2, startTimeoutMs: 1500, env: { KESTREL_TEST_START: 'hang' },
    });
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL']);
    for (const t of trials) {
      expect(t.systemAttrs.fail_reason).toBe(
        'the trial worker process did not start: trial timed out after 1500 ms while its process was starting (process killed)',
      );
    }
    expect(result.trials).toHaveLength(2);
  });

  // `spin`: a module stuck in a synchronous loop never sees its IPC channel close; it outlived its
  // parent (holding its GPU) until a watchdog thread that checks the parent was added.
  it.each(['hang', 'spin'])('a worker still loading the objective (%s) exits when its parent dies', async (mode) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kestrel-orphan-'));
    const pidFile = path.join(dir, 'worker.pid');
    const parent = fork(path.join(here, 'fixtures', 'orphan-parent.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, KESTREL_TEST_PID_FILE: pidFile, KESTREL_TEST_START: mode },
      stdio: 'ignore',
    });
    try {
      let workerPid: number | null = null;
      for (let i = 0; i < 300 && workerPid === null; i++) {
        workerPid = await readFile(pidFile, 'utf8').then(Number, () => null);
        if (workerPid === null) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(workerPid).not.toBeNull();
      parent.kill('SIGKILL');
      const alive = (pid: number): boolean => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      // Polled for up to 5 s (it exits as soon as it sees the IPC channel close, or its watchdog
      // sees the parent gone).
      for (let i = 0; i < 100 && alive(workerPid!); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      const survived = alive(workerPid!);
      if (survived) process.kill(workerPid!, 'SIGKILL');
      expect(survived).toBe(false);
    } finally {
      parent.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  // The watchdog thread inherited the worker's preloads (`execArgv` -r, NODE_OPTIONS): one that only
  // works on a main thread threw there, and the unhandled 'error' event killed every trial. Run from
  // dist/ with a JavaScript objective: a TypeScript worker's tsx hooks thread runs preloads as well.
  it.each([
    ['execArgv', { execArgv: ['-r', path.join(here, 'fixtures', 'main-thread-preload.cjs')] }],
    ['NODE_OPTIONS', { env: { NODE_OPTIONS: `-r ${path.join(here, 'fixtures', 'main-thread-preload.cjs')}` } }],
  ] as const)('runs trials whose workers preload a main-thread-only module (%s)', async (_how, extra) => {
    const dist = path.join(here, '..', '..', 'dist');
    const { createStudy: createDistStudy } = (await import(path.join(dist, 'study', 'create-study.js'))) as typeof import('../../src/study/create-study.js');
    const { runTrialsInProcesses: runDist } = (await import(path.join(dist, 'tfjs', 'process-runner.js'))) as typeof import('../../src/tfjs/process-runner.js');
    const study = await createDistStudy({});
    await runDist({ study, objectiveModule: path.join(here, 'fixtures', 'slow-objective.mjs'), nTrials: 1, ...extra });
    const [trial] = await study.getTrials();
    expect(trial.systemAttrs.fail_reason).toBeUndefined();
    expect(trial.state).toBe('COMPLETE');
  });

  it('refuses an objective(params, trial) without a space as a start failure (InvalidOptionError at space), running no objective', async () => {
    // Called as objective(trial) without a space, params was the trial and every trial failed
    // with NaN; the worker reports the function's arity when it is ready, and the parent refuses.
    const study = await createStudy({ storage: new InMemoryStorage() });
    const run = runTrialsInProcesses({ study, objectiveModule: crashModule, objectiveExport: 'withSpace', nTrials: 3, concurrency: 1 });
    await expect(run).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(run).rejects.toMatchObject({ option: 'space' });
    await expect(run).rejects.toThrow(/objective "withSpace" of crash-objective\.ts takes \(params, trial\)/);
    const trials = await study.getTrials();
    // Only the trial asked for the first process, recorded FAIL with the reason; nothing ran.
    expect(trials.map((t) => t.state)).toEqual(['FAIL']);
    expect(trials[0].systemAttrs.fail_reason).toMatch(/InvalidOptionError: option "space"/);
    expect(trials[0].userAttrs.params_seen).toBeUndefined();
  });

  it('refuses such an objective with one FAIL trial however many processes: the others start once the first has loaded it', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    const run = runTrialsInProcesses({ study, objectiveModule: crashModule, objectiveExport: 'withSpace', nTrials: 6, concurrency: 3 });
    await expect(run).rejects.toMatchObject({ option: 'space' });
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['FAIL']);
    expect(trials[0].systemAttrs.fail_reason).toMatch(/InvalidOptionError: option "space"/);
  });

  it('fails only its trial when a worker is killed by a signal while starting, and goes on', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    const result = await runTrialsInProcesses({
      study, objectiveModule: startFailureModule, nTrials: 2, env: { KESTREL_TEST_START: 'sigint' },
    });
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL']);
    for (const t of trials) {
      expect(t.systemAttrs.fail_reason).toBe('the trial worker process did not start: trial process was killed by SIGINT');
    }
    expect(result.trials).toHaveLength(2);
  });

  it('treats a worker that Ctrl-C killed while starting as interrupted, not as a broken objective', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    const controller = new AbortController();
    // The worker's `stop` message arrives before it kills itself with SIGINT: the run is interrupted first.
    study.stop = () => controller.abort();
    const run = runTrialsInProcesses({
      study, objectiveModule: startFailureModule, nTrials: 3, signal: controller.signal,
      env: { KESTREL_TEST_START: 'sigint', KESTREL_TEST_STOP_FIRST: '1' },
    });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    const trials = await study.getTrials();
    expect(trials).toHaveLength(1);
    expect(trials[0].state).toBe('FAIL');
    expect(trials[0].systemAttrs.fail_reason).toBe('interrupted');
  });

  it('kills a trial process that ignores the abort ABORT_GRACE_MS after an interruption', async () => {
    const controller = new AbortController();
    let abortedAt = 0;
    // Aborts once the objective runs: its suggestFloat reaches the parent's sampler. (An abort from
    // onTrialStart runs no objective at all.)
    const sampler: Sampler = {
      name: 'abort-on-suggest',
      sampleIndependent: () => {
        abortedAt = Date.now();
        controller.abort();
        return 0.5;
      },
    };
    const study = await createStudy({ storage: new InMemoryStorage(), sampler });
    const run = runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'ignoreAbort', nTrials: 3, signal: controller.signal,
    });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    const elapsed = Date.now() - abortedAt;
    // Killed after the grace (not left running until the objective gives up), with a 5 s margin.
    expect(elapsed).toBeGreaterThanOrEqual(ABORT_GRACE_MS - 50);
    expect(elapsed).toBeLessThan(ABORT_GRACE_MS + 5000);
    const trials = await study.getTrials();
    expect(trials).toHaveLength(1);
    expect(trials[0].state).toBe('FAIL');
    expect(trials[0].systemAttrs.fail_reason).toBe('interrupted');
  });

  it('leaves no worker process running once an interrupted call settled, and a call right after runs its own budget alone', async () => {
    // In-process, an interruption does not wait for objectives (JS cannot cancel them); here it
    // waits for the worker processes, killing those that ignore the abort: nothing of the first
    // call outlives it to write late results or warn into the next one.
    const controller = new AbortController();
    let nSuggested = 0;
    const sampler: Sampler = {
      name: 'abort-on-second-suggest',
      sampleIndependent: () => {
        if (++nSuggested === 2) controller.abort(); // both workers are running their objective
        return 0.5;
      },
    };
    const study = await createStudy({ storage: new InMemoryStorage(), sampler });
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const first = runTrialsInProcesses({
        study, objectiveModule: crashModule, objectiveExport: 'ignoreAbort', nTrials: 4, concurrency: 2, signal: controller.signal,
      });
      await expect(first).rejects.toBeInstanceOf(InterruptedError);
      const interrupted = await study.getTrials();
      expect(interrupted.map((t) => [t.state, t.systemAttrs.fail_reason])).toEqual([
        ['FAIL', 'interrupted'],
        ['FAIL', 'interrupted'],
      ]);
      for (const t of interrupted) {
        const pid = t.userAttrs.worker_pid as number;
        expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
      }
      const second = await runTrialsInProcesses({
        study, objectiveModule: crashModule, objectiveExport: 'fromParams', space: { a: { type: 'float', low: 0, high: 1 } }, nTrials: 2, concurrency: 2,
      });
      expect(second.trials.map((t) => [t.number, t.state]).sort()).toEqual([[2, 'COMPLETE'], [3, 'COMPLETE']]);
      const all = await study.getTrials();
      expect(all.map((t) => t.state)).toEqual(['FAIL', 'FAIL', 'COMPLETE', 'COMPLETE']);
      expect(warnings).not.toHaveBeenCalled();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      warnings.mockRestore();
    }
  });

  it('fails a trial whose objective returns a value IPC cannot carry, without crashing its process', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    const result = await runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'returnsFunction', nTrials: 2, trialsPerProcess: 2,
    });
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL']);
    for (const t of trials) {
      expect(t.systemAttrs.fail_reason).toMatch(/^KestrelError: the objective returned function, expected a number or an array of numbers/);
    }
    // Both trials ran in the one process: it survived the first.
    expect(result.nProcessesStarted).toBe(1);
  });

  it('fails a trial whose objective calls study.stop with a reason that is not a string, as optimize does', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    await runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'stopsWithNull', nTrials: 2, trialsPerProcess: 2,
    });
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL']);
    for (const t of trials) expect(t.systemAttrs.fail_reason).toMatch(/option "reason": expected a string, received null/);
    expect(study.stopped).toBeNull();
  });

  it('keeps the user attributes of a trial that fails or is pruned, as optimize does', async () => {
    // tfObjective records tfjs_backend and tfjs_leaked_tensors this way; they were dropped when the
    // objective threw, since only a successful objective flushed its attributes at the end.
    const study = await createStudy({ storage: new InMemoryStorage() });
    for (const objectiveExport of ['failsAfterAttr', 'prunedAfterAttr']) {
      await runTrialsInProcesses({ study, objectiveModule: crashModule, objectiveExport, nTrials: 1 });
    }
    const [failed, pruned] = await study.getTrials();
    expect(failed.state).toBe('FAIL');
    expect(failed.systemAttrs.fail_reason).toBe('Error: failed after setting an attribute');
    expect(failed.userAttrs.set_before_failing).toBe(true);
    expect(pruned.state).toBe('PRUNED');
    expect(pruned.userAttrs.set_before_pruning).toBe(true);
    expect(pruned.values).toEqual([0.5]);
  });

  it('records what the objective returned as its value, never as a tell instruction', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    await runTrialsInProcesses({ study, objectiveModule: crashModule, objectiveExport: 'returnsTellShape', nTrials: 1 });
    const [trial] = await study.getTrials();
    // In process, study.optimize fails such a trial the same way.
    expect(trial.state).toBe('FAIL');
    expect(trial.systemAttrs.fail_reason).toBe('the objective returned object, expected a number or an array of numbers');
  });

  it('rejects timers Node cannot hold (trialTimeoutMs or heartbeat.intervalMs over 2^31 - 1 ms)', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    const base = { study, objectiveModule: crashModule, objectiveExport: 'withSpace', space: { a: { type: 'float', low: 0, high: 1 } }, nTrials: 1 } as const;
    // 30 days: Node would fire it after 1 ms and kill the trial at once.
    await expect(runTrialsInProcesses({ ...base, trialTimeoutMs: 30 * 86_400_000 })).rejects.toThrow(/option "trialTimeoutMs"/);
    await expect(runTrialsInProcesses({ ...base, trialTimeoutMs: Infinity })).rejects.toThrow(/option "trialTimeoutMs"/);
    await expect(runTrialsInProcesses({ ...base, startTimeoutMs: 0 })).rejects.toThrow(/option "startTimeoutMs"/);
    await expect(
      runTrialsInProcesses({ ...base, heartbeat: { intervalMs: MAX_TIMER_MS + 1, graceMs: 2 * MAX_TIMER_MS } }),
    ).rejects.toThrow(/option "heartbeat"/);
    expect(await study.getTrials()).toHaveLength(0);
    // The longest timer Node holds is accepted and does not fire early.
    await runTrialsInProcesses({ ...base, trialTimeoutMs: MAX_TIMER_MS });
    const [trial] = await study.getTrials();
    expect(trial.state).toBe('COMPLETE');
  });

  it('shares a study-wide budget (maxTrialsInStudy) between concurrent runners, with heartbeats', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 4 }) });
    const options = {
      study, objectiveModule: crashModule, objectiveExport: 'withSpace', space: { a: { type: 'float', low: 0, high: 1 } },
      maxTrialsInStudy: 5, concurrency: 2, trialsPerProcess: 10, heartbeat: { intervalMs: 50, graceMs: 10_000 },
    } as const;
    const [a, b] = await Promise.all([runTrialsInProcesses(options), runTrialsInProcesses(options)]);
    expect(a.trials.length + b.trials.length).toBe(5);
    const trials = await study.getTrials();
    expect(trials).toHaveLength(5);
    expect(trials.every((t) => t.state === 'COMPLETE')).toBe(true);
    expect(trials.every((t) => typeof t.systemAttrs.heartbeat === 'number')).toBe(true);
    // The budget is already used: a third runner starts no trial.
    expect((await runTrialsInProcesses(options)).trials).toHaveLength(0);
    await expect(runTrialsInProcesses({ study, objectiveModule: crashModule })).rejects.toThrow(/option "nTrials"/);
    await expect(runTrialsInProcesses({ ...options, heartbeat: { intervalMs: 10, graceMs: 5 } })).rejects.toThrow(/option "heartbeat"/);
  });

  it('counts trials the study holds and runs its enqueued trials within maxTrialsInStudy', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 6 }) });
    await study.optimize(() => 1, { nTrials: 2 });
    await study.enqueueTrial({ a: 0.25 });
    await study.enqueueTrial({ a: 0.75 });
    const result = await runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'withSpace', space: { a: { type: 'float', low: 0, high: 1 } },
      maxTrialsInStudy: 6, concurrency: 2, trialsPerProcess: 10,
    });
    // 2 earlier trials + the 2 enqueued ones (already counted) + 2 new ones: exactly the budget.
    expect(result.trials).toHaveLength(4);
    const trials = await study.getTrials();
    expect(trials.map((t) => t.number)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(trials.every((t) => t.state === 'COMPLETE')).toBe(true);
    expect(trials.slice(2, 4).map((t) => t.params.a)).toEqual([0.25, 0.75]);
  });

  it('shares maxTrialsInStudy exactly with an in-process optimize on one journal', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kestrel-runner-journal-'));
    const journal = path.join(dir, 'study.journal');
    const runnerStudy = await createStudy({ studyName: 's', storage: journal, sampler: new RandomSampler({ seed: 8 }) });
    const optimizeStudy = await loadStudy({ studyName: 's', storage: journal, sampler: new RandomSampler({ seed: 9 }) });
    try {
      const objective = async (trial: { suggestFloat(name: string, low: number, high: number): number }): Promise<number> => {
        await new Promise((resolve) => setImmediate(resolve));
        return trial.suggestFloat('a', 0, 1);
      };
      const [result] = await Promise.all([
        runTrialsInProcesses({
          study: runnerStudy, objectiveModule: crashModule, objectiveExport: 'withSpace',
          space: { a: { type: 'float', low: 0, high: 1 } }, maxTrialsInStudy: 6, concurrency: 2, trialsPerProcess: 10,
          heartbeat: { intervalMs: 50, graceMs: 10_000 },
        }),
        // A grace well above the 50 ms beat: on a loaded machine (CI beside other jobs) the runner's
        // beats can be late by more than optimize's default 3 intervals, and a sweep would fail them.
        optimizeStudy.optimize(objective, { maxTrialsInStudy: 6, concurrency: 2, heartbeatIntervalMs: 50, heartbeatGraceMs: 10_000 }),
      ]);
      const trials = await runnerStudy.getTrials();
      expect(trials.map((t) => t.number)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(trials.every((t) => t.state === 'COMPLETE')).toBe(true);
      const byRunner = trials.filter((t) => t.userAttrs.worker_pid !== undefined);
      expect(byRunner).toHaveLength(result.trials.length);
    } finally {
      await runnerStudy.close();
      await optimizeStudy.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('runs after an earlier stop() of the study, and stops on a stop() during the run', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 5 }) });
    study.stop('an earlier run was stopped');
    const first = await runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'withSpace',
      space: { a: { type: 'float', low: 0, high: 1 } }, nTrials: 2, trialsPerProcess: 10,
    });
    expect(first.trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE']);
    // A stop during the run (here from a callback after the first trial) ends it.
    const second = await runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'withSpace',
      space: { a: { type: 'float', low: 0, high: 1 } }, nTrials: 5, trialsPerProcess: 10,
      callbacks: [(s) => s.stop('enough')],
    });
    expect(second.trials).toHaveLength(1);
    expect(study.stopped).toBe('enough');
  });

  it('keeps going when a trial was finished elsewhere (a stale sweep) before its result arrived', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kestrel-runner-elsewhere-'));
    const journal = path.join(dir, 'study.journal');
    const study = await createStudy({ studyName: 's', storage: journal, sampler: new RandomSampler({ seed: 3 }) });
    const other = await loadStudy({ studyName: 's', storage: journal });
    // Another worker on the journal fails trial 1 as stale just before the runner tells its result.
    const racing = failedElsewhereBeforeTell(study, other, 1);
    try {
      const result = await runTrialsInProcesses({
        study: racing, objectiveModule: crashModule, objectiveExport: 'withSpace',
        space: { a: { type: 'float', low: 0, high: 1 } }, nTrials: 3, trialsPerProcess: 10,
      });
      expect(result.trials.map((t) => t.number)).toEqual([0, 2]);
      const trials = await study.getTrials();
      expect(trials.map((t) => [t.number, t.state])).toEqual([[0, 'COMPLETE'], [1, 'FAIL'], [2, 'COMPLETE']]);
      expect(trials[1].systemAttrs.fail_reason).toBe('stale: no heartbeat (test)');
    } finally {
      await study.close();
      await other.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('warns of each trial finished elsewhere, in every study, without a process-wide record of each', async () => {
    // TRIAL_FINISHED_ELSEWHERE names its trial but went through warnOnce: each message stayed in a
    // process-wide set for good, and trial 0 of a second study was never warned about.
    resetWarnOnce();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      for (let i = 0; i < 2; i++) {
        const storage = new InMemoryStorage();
        const study = await createStudy({ studyName: 's', storage, sampler: new RandomSampler({ seed: i }) });
        const other = await loadStudy({ studyName: 's', storage });
        const racing = failedElsewhereBeforeTell(study, other, 0);
        const result = await runTrialsInProcesses({
          study: racing, objectiveModule: crashModule, objectiveExport: 'withSpace',
          space: { a: { type: 'float', low: 0, high: 1 } }, nTrials: 1,
        });
        expect(result.trials).toEqual([]);
      }
      const codes = warnings.mock.calls.map((c) => (c[1] as { code?: string } | undefined)?.code);
      expect(codes.filter((c) => c === 'TRIAL_FINISHED_ELSEWHERE')).toHaveLength(2);
    } finally {
      warnings.mockRestore();
    }
  });

  it('shares one SIGINT listener and one listener on a shared AbortSignal between many calls side by side', async () => {
    // Each call added its own SIGINT and 'abort' listener: the eleventh call side by side printed
    // Node's MaxListenersExceededWarning ("Possible EventEmitter memory leak detected").
    const n = 12;
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    const sigintListeners = process.listenerCount('SIGINT');
    const controller = new AbortController();
    let entered = 0;
    let allEntered: () => void = () => undefined;
    const allIn = new Promise<void>((resolve) => (allEntered = resolve));
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Holds every ask until all the calls are running, so no worker process is started.
    const sampler: Sampler = {
      name: 'gate',
      beforeTrial: async () => {
        if (++entered === n) allEntered();
        await gate;
      },
      sampleIndependent: () => 0.5,
    };
    let runs: Promise<unknown>[] = [];
    try {
      const studies = await Promise.all(Array.from({ length: n }, () => createStudy({ storage: new InMemoryStorage(), sampler })));
      runs = studies.map((study) =>
        runTrialsInProcesses({ study, objectiveModule: crashModule, objectiveExport: 'hang', nTrials: 1, signal: controller.signal }),
      );
      await allIn;
      expect(process.listenerCount('SIGINT')).toBe(sigintListeners + 1);
      controller.abort();
      release();
      const results = await Promise.allSettled(runs);
      expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).constructor.name : r.status))).toEqual(Array(n).fill('InterruptedError'));
      for (const study of studies) {
        expect((await study.getTrials()).map((t) => [t.state, t.systemAttrs.fail_reason])).toEqual([['FAIL', 'interrupted']]);
      }
      await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on a later tick
      expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
      expect(process.listenerCount('SIGINT')).toBe(sigintListeners);
    } finally {
      controller.abort();
      release();
      await Promise.allSettled(runs);
      process.removeListener('warning', onWarning);
    }
  });

  it('creates no trial after a stop() that came while its ask waited behind an enqueue, leaving the enqueued trial WAITING', async () => {
    const { storage, release } = heldEnqueues();
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 1 }) });
    const enqueued = study.enqueueTrial({ a: 0.25 });
    const run = runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'withSpace', space: { a: { type: 'float', low: 0, high: 1 } }, nTrials: 2,
    });
    await new Promise((resolve) => setTimeout(resolve, 20)); // validated, and asking behind the enqueue
    study.stop('enough');
    release();
    await enqueued;
    const result = await run;
    expect(result.nProcessesStarted).toBe(0);
    expect((await study.getTrials()).map((t) => [t.state, t.systemAttrs.fixed_params])).toEqual([['WAITING', { a: 0.25 }]]);
  });

  it('records a trial asked after an interruption as FAIL "interrupted" without starting a process', async () => {
    const controller = new AbortController();
    // Aborts while the trial is being asked, i.e. after storage created it.
    const sampler: Sampler = {
      name: 'abort-on-ask',
      beforeTrial: async () => controller.abort(),
      sampleIndependent: () => 0.5,
    };
    const study = await createStudy({ storage: new InMemoryStorage(), sampler });
    let nStarted = 0;
    const run = runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'hang', nTrials: 3, signal: controller.signal,
      onTrialStart: () => void nStarted++,
    });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    const trials = await study.getTrials();
    expect(trials).toHaveLength(1);
    expect(trials[0].state).toBe('FAIL');
    expect(trials[0].systemAttrs.fail_reason).toBe('interrupted');
    expect(nStarted).toBe(0);
  });

  it('gives an enqueued configuration asked after an interruption back its place in the queue', async () => {
    const controller = new AbortController();
    const sampler: Sampler = {
      name: 'abort-on-ask',
      beforeTrial: async () => controller.abort(),
      sampleIndependent: () => 0.5,
    };
    const study = await createStudy({ storage: new InMemoryStorage(), sampler });
    for (const a of [0.25, 0.75]) await study.enqueueTrial({ a });
    const run = runTrialsInProcesses({ study, objectiveModule: crashModule, objectiveExport: 'hang', nTrials: 3, signal: controller.signal });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    const asked = [await study.ask(), await study.ask()];
    expect(asked.map((t) => t.suggestFloat('a', 0, 1))).toEqual([0.25, 0.75]);
    expect((await study.getTrials()).find((t) => t.trialId === asked[0].trialId)?.systemAttrs.enqueued_number).toBe(0);
  });

  it('handles Ctrl-C (SIGINT) as optimize does: running trials FAIL "interrupted", then InterruptedError', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    const before = process.listenerCount('SIGINT');
    let during = -1;
    // A backstop: without a SIGINT handler the emitted signal does nothing and `hang` never returns.
    const backstop = new AbortController();
    const timer = setTimeout(() => backstop.abort(), 10_000);
    try {
      const run = runTrialsInProcesses({
        study, objectiveModule: crashModule, objectiveExport: 'hang', nTrials: 3, signal: backstop.signal,
        onTrialStart: () => {
          during = process.listenerCount('SIGINT');
          process.emit('SIGINT');
        },
      });
      await expect(run).rejects.toBeInstanceOf(InterruptedError);
    } finally {
      clearTimeout(timer);
    }
    expect(during).toBe(before + 1);
    expect(backstop.signal.aborted).toBe(false);
    expect(process.listenerCount('SIGINT')).toBe(before);
    const trials = await study.getTrials();
    expect(trials.map((t) => [t.state, t.systemAttrs.fail_reason])).toEqual([['FAIL', 'interrupted']]);

    // handleSigint: false leaves SIGINT alone (the kestrel CLI handles it itself).
    let withoutHandler = -1;
    await runTrialsInProcesses({
      study, objectiveModule: crashModule, nTrials: 1, handleSigint: false,
      onTrialStart: () => void (withoutHandler = process.listenerCount('SIGINT')),
    });
    expect(withoutHandler).toBe(before);
  });

  it('rejects when the objective cannot be loaded, and validates options', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    const error = await runTrialsInProcesses({ study, objectiveModule: brokenModule, nTrials: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KestrelError);
    expect((error as Error).message).toMatch(/no exported function "objective"/);
    // The trial asked for the launch is recorded FAIL with the reason, not left RUNNING.
    const [failed, ...rest] = await study.getTrials();
    expect(rest).toHaveLength(0);
    expect(failed.state).toBe('FAIL');
    expect(failed.systemAttrs.fail_reason).toMatch(/no exported function "objective"/);
    await expect(runTrialsInProcesses({ study, objectiveModule: crashModule, nTrials: 0 })).rejects.toThrow(/option "nTrials"/);
    await expect(runTrialsInProcesses({ study, objectiveModule: crashModule, nTrials: 1, gpus: [0, 0] })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(runTrialsInProcesses({ study, objectiveModule: 'nope/missing.ts', nTrials: 1 })).rejects.toThrow(/option "objectiveModule"/);
  });

  it('records a trial whose onTrialStart throws as FAIL, as optimize does, and validates onTrialStart up front', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 1 }) });
    const error = await runTrialsInProcesses({
      study,
      objectiveModule: crashModule,
      nTrials: 3,
      handleSigint: false,
      onTrialStart: () => {
        throw new Error('progress display broke');
      },
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('progress display broke');
    // Not left RUNNING (a journal would hold it until a stale sweep): FAIL with the reason.
    const [trial, ...rest] = await study.getTrials();
    expect(rest).toHaveLength(0);
    expect(trial.state).toBe('FAIL');
    expect(trial.systemAttrs.fail_reason).toBe('onTrialStart threw: Error: progress display broke');

    const other = await createStudy({ storage: new InMemoryStorage() });
    const options = { study: other, objectiveModule: crashModule, nTrials: 1, onTrialStart: 'not a function' };
    await expect(runTrialsInProcesses(options as unknown as Parameters<typeof runTrialsInProcesses>[0])).rejects.toThrow(
      /option "onTrialStart"/,
    );
    expect(await other.getTrials()).toHaveLength(0);
  });

  it("keeps a crashed trial's own reason first when storage refused its FAIL once, as optimize does", async () => {
    // The refused FAIL was recorded as "its result could not be recorded: ...", which GpSampler
    // takes for a run that went wrong rather than a failure of the objective at its parameters.
    class FlakyStorage extends InMemoryStorage {
      failures = 1;
      override async finishTrial(trialId: number, finish: Parameters<InMemoryStorage['finishTrial']>[1]): Promise<FrozenTrial> {
        if (finish.state === 'FAIL' && this.failures > 0) {
          this.failures--;
          throw new KestrelError('STORAGE_ERROR', 'disk full');
        }
        return super.finishTrial(trialId, finish);
      }
    }
    const study = await createStudy({ storage: new FlakyStorage(), sampler: new RandomSampler({ seed: 7 }) });
    await expect(runTrialsInProcesses({ study, objectiveModule: crashModule, nTrials: 2, handleSigint: false })).rejects.toThrow('disk full');
    const failed = (await study.getTrials()).find((t) => t.number === 1);
    expect(failed?.state).toBe('FAIL');
    expect(String(failed?.systemAttrs.fail_reason)).toMatch(/^trial process exited with code 3 \(its result could not be recorded: .*disk full\)$/);
  });

  it('rejects with the onTrialStart error when storage refuses its FAIL too, and warns TRIAL_START_FAILED, as optimize does', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      class RefusingStorage extends InMemoryStorage {
        override async finishTrial(): Promise<FrozenTrial> {
          throw new KestrelError('STORAGE_ERROR', 'disk gone');
        }
      }
      const study = await createStudy({ storage: new RefusingStorage(), sampler: new RandomSampler({ seed: 1 }) });
      const error = await runTrialsInProcesses({
        study,
        objectiveModule: crashModule,
        nTrials: 1,
        handleSigint: false,
        onTrialStart: () => {
          throw new Error('progress display broke');
        },
      }).catch((e: unknown) => e);
      // The run's error, not the storage's answer to recording it (which lost it).
      expect((error as Error).message).toBe('progress display broke');
      const startFailed = warnings.mock.calls.filter((c) => (c[1] as { code?: string } | undefined)?.code === 'TRIAL_START_FAILED');
      expect(startFailed.map((c) => String(c[0]))).toEqual([expect.stringMatching(/^could not record trial 0 as FAIL: .*disk gone/)]);
      expect(study.liveTrials()).toEqual([]);
    } finally {
      warnings.mockRestore();
    }
  });

  it('an async onTrialStart that rejects, or one that throws null, stops the run like a throw (as in optimize)', async () => {
    // The rejection was not awaited (unhandled: Node ended the process), and `fatal === null` took
    // a thrown null for "no error": the run went on and resolved.
    for (const [start, expected] of [
      [async (): Promise<void> => Promise.reject(new Error('async display broke')), 'async display broke'],
      [
        (): void => {
          throw null; // eslint-disable-line no-throw-literal
        },
        null,
      ],
    ] as const) {
      const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 1 }) });
      const outcome = await runTrialsInProcesses({ study, objectiveModule: crashModule, nTrials: 3, handleSigint: false, onTrialStart: start }).then(
        () => 'resolved',
        (e: unknown) => ({ rejected: e }),
      );
      expect(outcome).not.toBe('resolved');
      const rejected = (outcome as { rejected: unknown }).rejected;
      if (expected === null) expect(rejected).toBeNull();
      else expect((rejected as Error).message).toBe(expected);
      const trials = await study.getTrials();
      expect(trials).toHaveLength(1);
      expect(trials[0].state).toBe('FAIL');
      expect(String(trials[0].systemAttrs.fail_reason)).toMatch(/^onTrialStart threw: /);
    }
  });

  it('starts at most MAX_PROCESSES worker processes at once: more CPU processes or GPUs is an InvalidOptionError, creating nothing', async () => {
    // There was no bound: `concurrency: 1e6` forked a process per slot until the machine gave out.
    const study = await createStudy({ storage: new InMemoryStorage() });
    const rejection = async (options: Partial<Parameters<typeof runTrialsInProcesses>[0]>): Promise<InvalidOptionError> => {
      const error = await runTrialsInProcesses({ study, objectiveModule: crashModule, nTrials: 1, handleSigint: false, ...options }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidOptionError);
      return error as InvalidOptionError;
    };
    const tooMany = Array.from({ length: MAX_PROCESSES + 1 }, (_, i) => i);
    for (const concurrency of [MAX_PROCESSES + 1, 1e6]) {
      const error = await rejection({ concurrency });
      expect(error.option).toBe('concurrency');
      expect(error.message).toContain(`at most ${MAX_PROCESSES}`);
    }
    expect((await rejection({ gpus: tooMany })).option).toBe('gpus');
    // Discovered GPUs are bounded too (checked before any trial is asked).
    const detected = await rejection({ gpus: 'auto', detectGpus: async () => tooMany });
    expect(detected.option).toBe('gpus');
    expect(detected.message).toContain(`at most ${MAX_PROCESSES}`);
    // With GPUs given, concurrency is ignored (one process per GPU), so it is not bounded either:
    // the next check, trialsPerProcess, is the one that refuses this call.
    expect((await rejection({ gpus: [0], concurrency: 1e6, trialsPerProcess: 0 })).option).toBe('trialsPerProcess');
    expect(await study.getTrials()).toHaveLength(0);
  });

  it('refuses option names it does not know, such as the CLI config\'s trialTimeout, creating nothing', async () => {
    const study = await createStudy({ storage: new InMemoryStorage() });
    // The config's `trialTimeout: 600` (seconds) is `trialTimeoutMs` here: ignored, no trial would ever time out.
    const options = { study, objectiveModule: crashModule, nTrials: 1, trialTimeout: 600 };
    const error = await runTrialsInProcesses(options as Parameters<typeof runTrialsInProcesses>[0]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(/option "trialTimeout".*trialTimeoutMs/);
    expect(await study.getTrials()).toHaveLength(0);
  });
});

/**
 * Runs `body` with a fake `nvidia-smi` on PATH that, like the real one, lists 4 GPUs whatever
 * CUDA_VISIBLE_DEVICES says, and with CUDA_VISIBLE_DEVICES set to `visible` (unset when undefined).
 */
async function withFakeNvidiaSmi<T>(visible: string | undefined, body: (command: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kestrel-fake-smi-'));
  const command = path.join(dir, 'nvidia-smi');
  const lines = [0, 1, 2, 3].map((i) => `echo "GPU ${i}: NVIDIA H100 80GB HBM3 (UUID: GPU-${'abcd'[i].repeat(4)})"`);
  await writeFile(command, `#!/bin/sh\n${lines.join('\n')}\n`, { mode: 0o755 });
  const saved = { PATH: process.env.PATH, CUDA_VISIBLE_DEVICES: process.env.CUDA_VISIBLE_DEVICES };
  process.env.PATH = `${dir}${path.delimiter}${saved.PATH ?? ''}`;
  if (visible === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
  else process.env.CUDA_VISIBLE_DEVICES = visible;
  try {
    return await body(command);
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await rm(dir, { recursive: true, force: true });
  }
}

describe('GPU detection', () => {
  it('parses nvidia-smi -L and treats a missing nvidia-smi as no GPU', async () => {
    const out = 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-2)\n';
    expect(parseNvidiaSmiList(out)).toEqual([0, 1]);
    expect(parseNvidiaSmiList('')).toEqual([]);
    expect(await detectGpus({ command: 'kestrel-no-such-command-xyz' })).toEqual([]);
  });

  it('reads CUDA_VISIBLE_DEVICES as CUDA does: indices and UUIDs, up to the first invalid entry', () => {
    expect(parseCudaVisibleDevices(undefined)).toBeNull();
    expect(parseCudaVisibleDevices('2,3')).toEqual([2, 3]);
    expect(parseCudaVisibleDevices(' 3 , 1,3')).toEqual([3, 1]);
    expect(parseCudaVisibleDevices('GPU-8932f937-d72c,MIG-GPU-8932f937/1/0,0')).toEqual(['GPU-8932f937-d72c', 'MIG-GPU-8932f937/1/0', 0]);
    expect(parseCudaVisibleDevices('0,-1,1')).toEqual([0]);
    for (const hidden of ['', ' ', '-1', 'NoDevFiles']) {
      expect(parseCudaVisibleDevices(hidden), hidden).toEqual([]);
      expect(cudaDevicesHidden({ CUDA_VISIBLE_DEVICES: hidden }), hidden).toBe(true);
    }
    expect(cudaDevicesHidden({})).toBe(false);
    expect(cudaDevicesHidden({ CUDA_VISIBLE_DEVICES: '1' })).toBe(false);
  });

  it.skipIf(process.platform === 'win32')("'auto' takes the GPUs CUDA_VISIBLE_DEVICES gives, if nvidia-smi finds any", async () => {
    await withFakeNvidiaSmi(undefined, async (command) => {
      expect(await detectWorkerGpus({ command, env: {} })).toEqual([0, 1, 2, 3]);
      expect(await detectWorkerGpus({ command, env: { CUDA_VISIBLE_DEVICES: '2,3' } })).toEqual([2, 3]);
      expect(await detectWorkerGpus({ command, env: { CUDA_VISIBLE_DEVICES: 'GPU-cccc' } })).toEqual(['GPU-cccc']);
      expect(await detectWorkerGpus({ command, env: { CUDA_VISIBLE_DEVICES: '-1' } })).toEqual([]);
      expect(await detectWorkerGpus({ command: 'kestrel-no-such-command-xyz', env: { CUDA_VISIBLE_DEVICES: '0' } })).toEqual([]);
    });
  });

  it.skipIf(process.platform === 'win32')(
    "runTrialsInProcesses with gpus: 'auto' runs workers only on the parent's CUDA_VISIBLE_DEVICES",
    async () => {
      await withFakeNvidiaSmi('2,3', async () => {
        const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 11 }) });
        const result = await runTrialsInProcesses({
          study,
          objectiveModule: crashModule,
          objectiveExport: 'withSpace',
          space: { a: { type: 'float', low: 0, high: 1 } },
          nTrials: 4,
          gpus: 'auto',
        });
        expect(result.gpus).toEqual([2, 3]);
        const trials = await study.getTrials();
        expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE', 'COMPLETE']);
        expect(new Set(trials.map((t) => t.userAttrs.worker_gpu))).toEqual(new Set([2, 3]));
      });
    },
  );

  it('pins workers to GPU UUIDs given explicitly', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 11 }) });
    const result = await runTrialsInProcesses({ study, objectiveModule: crashModule, nTrials: 1, gpus: ['GPU-abcd'] });
    expect(result.gpus).toEqual(['GPU-abcd']);
    const [trial] = await study.getTrials();
    expect(trial.userAttrs.cuda_visible_devices).toBe('GPU-abcd');
    expect(trial.userAttrs.worker_gpu).toBe('GPU-abcd');
    await expect(runTrialsInProcesses({ study, objectiveModule: crashModule, nTrials: 1, gpus: ['gpu0' as never] })).rejects.toBeInstanceOf(
      InvalidOptionError,
    );
  });
});
