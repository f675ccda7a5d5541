/**
 * runTrialsInProcesses interrupted while work of the parent (a callback, onTrialStart, a tell to a
 * slow storage) is in flight: bounded like `optimize`'s interruption (10 s in all), rejected with
 * `InterruptedError` whatever that work throws, and nothing of it outlives the call unreported.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { InterruptedError } from '../../src/errors.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { createStudy } from '../../src/study/create-study.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import { runTrialsInProcesses } from '../../src/tfjs/process-runner.js';
import { barrier, heldFinishes, watchLateWork } from '../study/fixtures/late-work.js';

const crashModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'crash-objective.ts');
const space = { a: { type: 'float', low: 0, high: 1 } } as const;
const quiet = { handleSigint: false } as const;

const { unhandled, warned, warnedCodes } = watchLateWork();

/** What `promise` settled to within `ms` of real time (timers may be faked: polled by setImmediate), or 'pending'. */
async function settledWithin(promise: Promise<unknown>, ms = 5000): Promise<unknown> {
  let outcome: unknown = 'pending';
  void promise.then((value) => (outcome = { value }), (error: unknown) => (outcome = { error }));
  const end = performance.now() + ms;
  while (outcome === 'pending' && performance.now() < end) await new Promise((resolve) => setImmediate(resolve));
  return outcome;
}

/** The pids of this process's child processes (Linux). */
function childPids(): number[] {
  const pids: number[] = [];
  for (const task of readdirSync('/proc/self/task')) {
    const text = readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim();
    if (text !== '') pids.push(...text.split(/\s+/).map(Number));
  }
  return pids;
}

function summary(trials: readonly FrozenTrial[]): unknown[] {
  return trials.map((t) => [t.number, t.state, t.systemAttrs.fail_reason ?? null]);
}

describe('runTrialsInProcesses interrupted while a callback runs', () => {
  it('rejects with InterruptedError 10 s after the interruption when a callback hangs, and reports its late error', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const gate = barrier();
    let secondRan = false;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const run = runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'fromParams', space, nTrials: 3, signal: controller.signal, ...quiet,
      callbacks: [
        async () => {
          controller.abort();
          await gate.pass();
          throw new Error('late callback boom');
        },
        () => void (secondRan = true),
      ],
    });
    run.catch(() => undefined); // it may reject while the timers advance
    await gate.reached(1);
    await vi.advanceTimersByTimeAsync(9_000);
    expect(await settledWithin(run, 200)).toBe('pending'); // within the bound: waited for
    await vi.advanceTimersByTimeAsync(1_001);
    expect(await settledWithin(run)).toEqual({ error: expect.any(InterruptedError) });
    expect(childPids()).toEqual([]);
    gate.open();
    await settledWithin(new Promise(() => undefined), 100);
    expect(secondRan).toBe(false); // none starts after the call settled
    expect(warned('ERROR_NOT_RETHROWN')).toEqual([expect.stringMatching(/late callback boom/)]);
    expect(unhandled).toEqual([]);
    expect(summary(await study.getTrials())).toEqual([[0, 'COMPLETE', null]]);
  });

  it('within the bound, rejects with InterruptedError, not with the error a callback throws, and reports that error by a warning', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const run = runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'fromParams', space, nTrials: 3, signal: controller.signal, ...quiet,
      callbacks: [
        () => {
          controller.abort();
          throw new Error('callback boom');
        },
      ],
    });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    expect(warned('ERROR_NOT_RETHROWN')).toEqual([expect.stringMatching(/callback boom/)]);
    expect(unhandled).toEqual([]);
    expect(summary(await study.getTrials())).toEqual([[0, 'COMPLETE', null]]);
  });
});

describe('runTrialsInProcesses interrupted while onTrialStart runs', () => {
  it('rejects 10 s after the interruption, kills the process started for the trial, and records the trial FAIL "interrupted"', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const gate = barrier();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const run = runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'fromParams', space, nTrials: 3, signal: controller.signal, ...quiet,
      onTrialStart: async () => {
        controller.abort();
        await gate.pass();
      },
    });
    run.catch(() => undefined); // it may reject while the timers advance
    await gate.reached(1);
    expect(childPids()).toHaveLength(1); // the trial's process has started, and waits
    await vi.advanceTimersByTimeAsync(10_001);
    expect(await settledWithin(run)).toEqual({ error: expect.any(InterruptedError) });
    expect(childPids()).toEqual([]);
    expect(summary(await study.getTrials())).toEqual([[0, 'FAIL', 'interrupted']]);
    gate.open();
    await settledWithin(new Promise(() => undefined), 100);
    expect(summary(await study.getTrials())).toEqual([[0, 'FAIL', 'interrupted']]);
    expect(warnedCodes()).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});

describe('runTrialsInProcesses interrupted while a result is being told', () => {
  it('records the trial FAIL "interrupted" after 10 s, and drops the result storage takes later with one LATE_RESULT_DROPPED warning', async () => {
    const gate = barrier();
    // A storage that answers after 10 s.
    const storage = heldFinishes(gate, (finish) => finish.state === 'COMPLETE');
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const seen: number[] = [];
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const run = runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'fromParams', space, nTrials: 2, signal: controller.signal, ...quiet,
      callbacks: [(_s, t) => void seen.push(t.number)],
    });
    run.catch(() => undefined); // it may reject while the timers advance
    await gate.reached(1);
    controller.abort();
    await vi.advanceTimersByTimeAsync(10_001);
    expect(await settledWithin(run)).toEqual({ error: expect.any(InterruptedError) });
    expect(childPids()).toEqual([]);
    expect(summary(await study.getTrials())).toEqual([[0, 'FAIL', 'interrupted']]);
    gate.open();
    await settledWithin(new Promise(() => undefined), 100);
    expect(summary(await study.getTrials())).toEqual([[0, 'FAIL', 'interrupted']]);
    expect(seen).toEqual([]);
    expect(warned('LATE_RESULT_DROPPED')).toEqual([expect.stringMatching(/trial 0 /)]);
    expect(warned('TRIAL_FINISHED_ELSEWHERE')).toEqual([]);
    expect(unhandled).toEqual([]);
  });

  it('names a dropped value as optimize does: NaN as NaN, not as JSON null', async () => {
    const gate = barrier();
    // The tell of the NaN (recorded FAIL) answers after 10 s; the interruption's FAIL at once.
    const storage = heldFinishes(gate, (finish) => finish.systemAttrs?.fail_reason !== 'interrupted');
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const run = runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'returnsNaN', space, nTrials: 1, signal: controller.signal, ...quiet,
    });
    run.catch(() => undefined); // it may reject while the timers advance
    await gate.reached(1);
    controller.abort();
    await vi.advanceTimersByTimeAsync(10_001);
    expect(await settledWithin(run)).toEqual({ error: expect.any(InterruptedError) });
    gate.open();
    await settledWithin(new Promise(() => undefined), 100);
    expect(summary(await study.getTrials())).toEqual([[0, 'FAIL', 'interrupted']]);
    expect(warned('LATE_RESULT_DROPPED')).toEqual([expect.stringMatching(/^trial 0 of study "[^"]+" returned NaN after the interruption/)]);
    expect(unhandled).toEqual([]);
  });
});

describe('work an interrupted runTrialsInProcesses left running', () => {
  it('does not stop a later call with study.stop() from a callback past the bound, as in optimize (LATE_STOP_IGNORED)', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const gate = barrier();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const first = runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'fromParams', space, nTrials: 3, signal: controller.signal, ...quiet,
      callbacks: [
        async (s) => {
          controller.abort();
          await gate.pass();
          s.stop();
        },
      ],
    });
    first.catch(() => undefined); // it may reject while the timers advance
    await gate.reached(1);
    await vi.advanceTimersByTimeAsync(10_001);
    expect(await settledWithin(first)).toEqual({ error: expect.any(InterruptedError) });
    vi.useRealTimers();
    const second = await runTrialsInProcesses({
      study, objectiveModule: crashModule, objectiveExport: 'fromParams', space, nTrials: 2, ...quiet,
      onTrialStart: async () => {
        gate.open(); // the late callback calls study.stop() now
        await settledWithin(new Promise(() => undefined), 50);
      },
    });
    expect(second.trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE']);
    expect(warned('LATE_STOP_IGNORED')).toHaveLength(1);
    expect(unhandled).toEqual([]);
  });
});
