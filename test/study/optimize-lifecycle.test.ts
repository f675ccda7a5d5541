/**
 * The trial lifecycle at its edges: interruptions that land while a trial is being asked (or
 * created, or before the launch), heartbeats of trials still being asked, results storage refuses,
 * and the study-wide budget counted in trials the study holds.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { InterruptedError, StorageError, TrialFinishedError } from '../../src/errors.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { JournalStorage } from '../../src/storage/journal-storage.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import type { SearchSpace } from '../../src/space/types.js';
import type { Storage, TrialFinish } from '../../src/storage/storage.js';
import { createStudy, loadStudy } from '../../src/study/create-study.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import type { StudyView } from '../../src/trial/study-view.js';
import { isNonObjectiveFailReason } from '../../src/trial/system-attrs.js';
import type { JsonValue } from '../../src/trial/types.js';
import { resetWarnOnce } from '../../src/util/warn.js';
import { heldEnqueues } from './fixtures/held-enqueues.js';

const root = mkdtempSync(join(tmpdir(), 'kestrel-lifecycle-'));
let nJournals = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

function freshJournal(): string {
  return join(root, `s${nJournals++}.journal`);
}

interface Gate {
  /** Resolves when something reached the gate. */
  readonly entered: Promise<void>;
  /** Lets it through. */
  open(): void;
  /** What waits at the gate. */
  pass(): Promise<void>;
}

function gate(): Gate {
  let enter: () => void = () => undefined;
  let release: () => void = () => undefined;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const opened = new Promise<void>((resolve) => (release = resolve));
  return {
    entered,
    open: () => release(),
    pass: async () => {
      enter();
      await opened;
    },
  };
}

/** A random sampler whose `beforeTrial` waits at a gate (a slow GP fit, say), then writes state. */
class GatedSampler extends RandomSampler {
  constructor(private readonly gate: Gate) {
    super({ seed: 1 });
  }

  async beforeTrial(study: StudyView, trial: FrozenTrial): Promise<void> {
    await this.gate.pass();
    await study.setTrialSystemAttrs?.(trial.trialId, { sampler_state: 1 });
  }
}

/** A random sampler whose joint sampling waits at a gate. */
class GatedRelativeSampler extends RandomSampler {
  constructor(private readonly gate: Gate) {
    super({ seed: 1 });
  }

  async inferRelativeSearchSpace(): Promise<SearchSpace> {
    return { x: { kind: 'float', low: 0, high: 1, log: false, step: null } };
  }

  async sampleRelative(): Promise<Record<string, number>> {
    await this.gate.pass();
    return { x: 0.5 };
  }
}

/** An in-memory storage whose chosen method waits at a gate once. */
function gatedStorage(method: keyof Storage, g: Gate): Storage {
  const inner = new InMemoryStorage();
  let armed = false;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => Promise<unknown>;
      if (prop !== method) return fn.bind(target);
      return async (...args: unknown[]) => {
        if (!armed) {
          armed = true;
          await g.pass();
        }
        return fn.apply(target, args);
      };
    },
  }) as Storage;
}

const quiet = { handleSigint: false } as const;

describe('an interruption while a trial is being asked', () => {
  it('records the trial as FAIL "interrupted", rejects, and leaves nothing live', async () => {
    const g = gate();
    const study = await createStudy({ sampler: new GatedSampler(g) });
    const controller = new AbortController();
    const run = study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 5, signal: controller.signal, ...quiet });
    await g.entered;
    controller.abort();
    g.open(); // the ask goes on; its sampler's write to the failed trial is dropped
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    const trials = await study.getTrials();
    expect(trials.map((t) => [t.number, t.state, t.systemAttrs.fail_reason])).toEqual([[0, 'FAIL', 'interrupted']]);
    expect(study.liveTrials()).toHaveLength(0);
  });

  it('with concurrency, records every trial being asked, and warns of no failed joint sampling', async () => {
    resetWarnOnce();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const g = gate();
    const study = await createStudy({ sampler: new GatedRelativeSampler(g), storage: freshJournal() });
    const controller = new AbortController();
    const run = study.optimize((t) => t.suggestFloat('x', 0, 1), {
      nTrials: 10,
      concurrency: 3,
      signal: controller.signal,
      heartbeatIntervalMs: 60_000,
      ...quiet,
    });
    await g.entered;
    while ((await study.getTrials()).length < 3) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    g.open();
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    const trials = await study.getTrials();
    expect(trials).toHaveLength(3);
    for (const t of trials) expect([t.state, t.systemAttrs.fail_reason]).toEqual(['FAIL', 'interrupted']);
    expect(warnings.mock.calls.map((c) => (c[1] as { code?: string } | undefined)?.code)).not.toContain('SAMPLER_RELATIVE_FAILED');
    await study.close();
  });

  it('records a trial whose creation was in flight', async () => {
    const g = gate();
    const study = await createStudy({ storage: gatedStorage('createTrial', g) });
    const controller = new AbortController();
    const run = study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 3, signal: controller.signal, ...quiet });
    await g.entered;
    controller.abort();
    g.open();
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    const trials = await study.getTrials();
    expect(trials.map((t) => [t.state, t.systemAttrs.fail_reason])).toEqual([['FAIL', 'interrupted']]);
  });

  it('launches nothing when it lands during the stale-trial sweep', async () => {
    const g = gate();
    const study = await createStudy({ storage: gatedStorage('getAllTrials', g) });
    const controller = new AbortController();
    const run = study.optimize((t) => t.suggestFloat('x', 0, 1), {
      nTrials: 3,
      signal: controller.signal,
      heartbeatIntervalMs: 1_000,
      ...quiet,
    });
    await g.entered;
    controller.abort();
    g.open();
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    expect(await study.getTrials()).toHaveLength(0);
  });
});

describe('an interruption while a trial is being told', () => {
  it('records the result its objective returned, not "interrupted"', async () => {
    // The objective had returned 42, but its tell waited for the write of a report not awaited;
    // the interruption recorded the trial FAIL "interrupted" meanwhile, and the tell was refused.
    const g = gate();
    const study = await createStudy({ storage: gatedStorage('updateTrial', g) });
    const controller = new AbortController();
    const run = study.optimize(
      (t) => {
        void t.report(0, 1);
        return 42;
      },
      { nTrials: 3, signal: controller.signal, ...quiet },
    );
    await g.entered;
    await new Promise((resolve) => setImmediate(resolve)); // the tell now waits for the report's write
    controller.abort();
    g.open();
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    const trials = await study.getTrials();
    expect(trials.map((t) => [t.state, t.values, t.intermediateValues])).toEqual([['COMPLETE', [42], { 0: 1 }]]);
    expect(study.liveTrials()).toHaveLength(0);
  });
});

describe('heartbeats of a trial being asked', () => {
  it('beat from its creation, so another worker never finds it stale while the sampler works', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const storage = new InMemoryStorage();
    const g = gate();
    const a = await createStudy({ studyName: 's', storage, sampler: new GatedSampler(g) });
    const b = await loadStudy({ studyName: 's', storage });
    const asked = a.ask({ heartbeat: true });
    await g.entered;
    vi.setSystemTime(1_010_000); // a 10 s fit
    await a.beatLiveTrials();
    expect(await b.failStaleTrials({ graceMs: 5_000 })).toEqual([]);
    g.open();
    const trial = await asked;
    expect((await a.tell(trial, 0.5)).state).toBe('COMPLETE');
  });

  it('are written by optimize while the ask runs', async () => {
    const storage = new InMemoryStorage();
    const g = gate();
    const study = await createStudy({ storage, sampler: new GatedSampler(g) });
    const run = study.optimize((t) => t.suggestFloat('x', 0, 1), {
      nTrials: 1,
      heartbeatIntervalMs: 10,
      heartbeatGraceMs: 60_000,
      ...quiet,
    });
    await g.entered;
    const [pending] = await study.getTrials();
    const first = pending.systemAttrs.heartbeat as number;
    let beaten = false;
    for (let i = 0; i < 1000 && !beaten; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      beaten = ((await storage.getTrial(pending.trialId)).systemAttrs.heartbeat as number) > first;
    }
    g.open();
    expect(beaten).toBe(true);
    await run;
    expect((await study.getTrials()).map((t) => t.state)).toEqual(['COMPLETE']);
  });

  it('stop once tell finds the trial finished elsewhere', async () => {
    const storage = new InMemoryStorage();
    const study = await createStudy({ storage });
    const trial = await study.ask({ heartbeat: true });
    await storage.finishTrial(trial.trialId, { state: 'FAIL', systemAttrs: { fail_reason: 'stale' } });
    await expect(study.tell(trial, 1)).rejects.toBeInstanceOf(TrialFinishedError);
    expect(study.liveTrials()).toHaveLength(0);
  });
});

describe('results storage refuses', () => {
  const bads: [string, unknown][] = [
    ['NaN', Number.NaN],
    ['a Date', new Date(0)],
    ['undefined', undefined],
    ['a function', () => 1],
    ['a bigint', 10n],
  ];

  it.each(bads)('a user attribute that is %s fails its trial with the reason; optimize goes on', async (_name, bad) => {
    const study = await createStudy({ storage: freshJournal() });
    await study.optimize(
      (t) => {
        const x = t.suggestFloat('x', 0, 1);
        if (t.number === 1) t.setUserAttr('note', bad as JsonValue);
        return x;
      },
      { nTrials: 3, ...quiet },
    );
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'FAIL', 'COMPLETE']);
    expect(String(trials[1].systemAttrs.fail_reason)).toMatch(/userAttrs\.note/);
    await study.close();
  });

  it("tell keeps a FAIL's own reason first when its buffered data is refused", async () => {
    resetWarnOnce();
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const study = await createStudy();
    const trial = await study.ask();
    trial.suggestFloat('x', 0, 1);
    trial.restoreChanges({ params: {}, distributions: {}, userAttrs: { bad: Number.NaN }, intermediateValues: {} });
    const frozen = await study.tell(trial, { state: 'FAIL', failReason: 'the loss diverged' });
    expect(frozen.state).toBe('FAIL');
    const reason = String(frozen.systemAttrs.fail_reason);
    expect(reason).toMatch(/^the loss diverged \(its result could not be recorded: .*userAttrs\.bad.*\)$/);
    expect(isNonObjectiveFailReason(reason)).toBe(false);
  });

  it('tell records FAIL with the reason, keeping the parameters, when buffered data is refused', async () => {
    resetWarnOnce();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const study = await createStudy();
    const trial = await study.ask();
    trial.suggestFloat('x', 0, 1);
    // Data that bypassed setUserAttr's check (Trial.restoreChanges is internal).
    trial.restoreChanges({ params: {}, distributions: {}, userAttrs: { bad: Number.NaN }, intermediateValues: {} });
    await expect(trial.report(0, 1)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    const frozen = await study.tell(trial, 0.5);
    expect(frozen.state).toBe('FAIL');
    expect(String(frozen.systemAttrs.fail_reason)).toMatch(/could not be recorded.*userAttrs\.bad/);
    expect(Object.keys(frozen.params)).toEqual(['x']);
    expect(frozen.userAttrs).toEqual({});
    expect(study.liveTrials()).toHaveLength(0);
    expect(warnings.mock.calls.map((c) => (c[1] as { code?: string } | undefined)?.code)).toContain('TRIAL_RESULT_REJECTED');
  });
});

describe('a trial of optimize told from elsewhere first', () => {
  it('is warned about for each trial, in every study, without a process-wide record of each', async () => {
    // The TRIAL_FINISHED_ELSEWHERE warning names its trial, but went through warnOnce: each such
    // trial left its message in the process-wide set for good, and trial 0 of a second study
    // (same number, same id in its own storage) was not warned about.
    resetWarnOnce();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    for (let i = 0; i < 2; i++) {
      const study = await createStudy({ sampler: new RandomSampler({ seed: i }) });
      await study.optimize(
        async (trial) => {
          await study.tell(trial, 5); // told by the objective itself: optimize's own tell finds it finished
          return 1;
        },
        { nTrials: 1, ...quiet },
      );
      expect((await study.getTrials()).map((t) => [t.state, t.values])).toEqual([['COMPLETE', [5]]]);
    }
    const codes = warnings.mock.calls.map((c) => (c[1] as { code?: string } | undefined)?.code);
    expect(codes.filter((c) => c === 'TRIAL_FINISHED_ELSEWHERE')).toHaveLength(2);
  });
});

describe('a storage error while optimize tells a result', () => {
  /** Refuses the first finish of a trial in `state` with a StorageError "disk full". */
  class FlakyStorage extends InMemoryStorage {
    failures = 1;
    constructor(private readonly refusedState: TrialFinish['state']) {
      super();
    }
    override async finishTrial(trialId: number, finish: TrialFinish): Promise<FrozenTrial> {
      if (finish.state === this.refusedState && this.failures > 0) {
        this.failures--;
        throw new StorageError('disk full');
      }
      return super.finishTrial(trialId, finish);
    }
  }

  it("keeps a failed objective's own reason first when storage refused its FAIL once, so samplers still see a failure there", async () => {
    // The refused FAIL was recorded as "its result could not be recorded: ...", which GpSampler
    // takes for a run that went wrong, not for an objective failing at its parameters: the point
    // stopped being kept off.
    const study = await createStudy({ storage: new FlakyStorage('FAIL'), sampler: new RandomSampler({ seed: 1 }) });
    const run = study.optimize(
      (t) => {
        t.suggestFloat('x', 0, 1);
        throw new Error('CUDA out of memory');
      },
      { nTrials: 3, heartbeatIntervalMs: 1000, ...quiet },
    );
    await expect(run).rejects.toThrow('disk full');
    const [trial] = await study.getTrials();
    expect(trial.state).toBe('FAIL');
    const reason = String(trial.systemAttrs.fail_reason);
    expect(reason).toMatch(/^Error: CUDA out of memory \(its result could not be recorded: .*disk full\)$/);
    expect(isNonObjectiveFailReason(reason)).toBe(false);
  });

  it('rejects with it and records the trial as FAIL, rather than leave it RUNNING and live for good', async () => {
    // The trial stayed RUNNING and live in the Study: a later optimize (a retry after the error)
    // beat its heartbeat forever, so no worker ever failed it, and samplers kept it as pending.
    const study = await createStudy({ storage: new FlakyStorage('COMPLETE'), sampler: new RandomSampler({ seed: 1 }) });
    await expect(study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 3, heartbeatIntervalMs: 1000, ...quiet })).rejects.toThrow(
      'disk full',
    );
    const [trial] = await study.getTrials();
    expect(trial.state).toBe('FAIL');
    expect(String(trial.systemAttrs.fail_reason)).toMatch(/could not be recorded.*disk full/);
    expect(Object.keys(trial.params)).toEqual(['x']);
    expect(study.liveTrials()).toHaveLength(0);
  });

  it('releases a trial whose result and failure storage both refused, so that the sweeps of this process can fail it', async () => {
    // Neither the result nor the FAIL could be recorded (TRIAL_RESULT_NOT_RECORDED): the trial
    // stayed live in the Study object for good, and every stale-trial and orphan sweep of this
    // process spared it as running here (runTrialsInProcesses releases such trials: failLiveTrials).
    class RefusingStorage extends InMemoryStorage {
      refuse = true;
      override async finishTrial(trialId: number, finish: TrialFinish): Promise<FrozenTrial> {
        if (this.refuse) throw new StorageError('disk gone');
        return super.finishTrial(trialId, finish);
      }
    }
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const storage = new RefusingStorage();
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 1 }) });
    await expect(
      study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 3, heartbeatIntervalMs: 60_000, heartbeatGraceMs: 120_000, ...quiet }),
    ).rejects.toThrow('disk gone');
    const codes = warnings.mock.calls.map((c) => (c[1] as { code?: string } | undefined)?.code);
    expect(codes).toContain('TRIAL_RESULT_NOT_RECORDED');
    expect(study.liveTrials()).toEqual([]);
    storage.refuse = false;
    expect((await study.getTrials()).map((t) => t.state)).toEqual(['RUNNING']);
    // Its heartbeat is past the grace: this process's sweep fails it (it spared it before).
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 121_000 });
    expect(await study.failStaleTrials({ graceMs: 120_000 })).toEqual([0]);
  });
});

describe('maxTrialsInStudy', () => {
  const objective = (t: { suggestFloat(n: string, l: number, h: number): number }): number => t.suggestFloat('x', 0, 1);

  it('counts the trials the study already holds, however they were made', async () => {
    const study = await createStudy();
    await study.optimize(objective, { nTrials: 5, ...quiet });
    await study.optimize(objective, { maxTrialsInStudy: 5, ...quiet });
    expect(await study.getTrials()).toHaveLength(5);
    await study.optimize(objective, { maxTrialsInStudy: 7, ...quiet });
    expect(await study.getTrials()).toHaveLength(7);
    await study.addTrial({ value: 1, params: {}, distributions: {} });
    await study.optimize(objective, { maxTrialsInStudy: 8, ...quiet });
    expect(await study.getTrials()).toHaveLength(8);
  });

  it('runs enqueued trials, already counted, and creates none past the budget', async () => {
    const study = await createStudy();
    await study.optimize(objective, { nTrials: 3, ...quiet });
    await study.enqueueTrial({ x: 0.25 });
    await study.enqueueTrial({ x: 0.75 });
    await study.optimize(objective, { maxTrialsInStudy: 5, concurrency: 3, ...quiet });
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(Array(5).fill('COMPLETE'));
    expect(trials.slice(3).map((t) => t.params.x)).toEqual([0.25, 0.75]);
  });

  it('is shared exactly by concurrent workers on one journal', async () => {
    const path = freshJournal();
    const a = await createStudy({ studyName: 's', storage: path });
    await a.optimize(objective, { nTrials: 3, ...quiet });
    const b = await loadStudy({ studyName: 's', storage: path });
    const slow = async (t: { suggestFloat(n: string, l: number, h: number): number }): Promise<number> => {
      await new Promise((resolve) => setImmediate(resolve));
      return objective(t);
    };
    await Promise.all([
      a.optimize(slow, { maxTrialsInStudy: 25, concurrency: 4, ...quiet }),
      b.optimize(slow, { maxTrialsInStudy: 25, concurrency: 4, ...quiet }),
    ]);
    const trials = await a.getTrials();
    expect(trials.map((t) => t.number)).toEqual([...Array(25).keys()]);
    expect(trials.every((t) => t.state === 'COMPLETE')).toBe(true);
    await a.close();
    await b.close();
  });

  it('tryAsk resolves null at the budget and validates it', async () => {
    const study = await createStudy();
    const t0 = await study.tryAsk({ maxTrialsInStudy: 1 });
    expect(t0).not.toBeNull();
    expect(await study.tryAsk({ maxTrialsInStudy: 1 })).toBeNull();
    await study.enqueueTrial({});
    expect(await study.tryAsk({ maxTrialsInStudy: 1 })).not.toBeNull(); // the enqueued one
    await expect(study.tryAsk({ maxTrialsInStudy: -1 })).rejects.toMatchObject({ option: 'maxTrialsInStudy' });
    await expect(study.tryAsk({ maxTrialsInStudy: 1.5 })).rejects.toMatchObject({ option: 'maxTrialsInStudy' });
  });

  it('takes budgets of any integer size (Optuna allows any int), holding nothing per budgeted trial', async () => {
    // A budget beyond what a study can ever hold (2^53 trials) is no budget: it must run, not fail
    // at the first ask (maxTrialsInStudy) or allocate per trial (nTrials), and stop by other means.
    const journal = freshJournal();
    for (const storage of [new InMemoryStorage(), journal]) {
      const study = await createStudy({ storage });
      let seen = 0;
      const stopAt3 = (s: { stop(): void }): void => {
        if (++seen === 3) s.stop();
      };
      await study.optimize(objective, { nTrials: 1e300, maxTrialsInStudy: 1e300, concurrency: 2, callbacks: [stopAt3], ...quiet });
      const trials = await study.getTrials();
      expect(trials.length).toBeGreaterThanOrEqual(3);
      expect(trials.length).toBeLessThanOrEqual(4); // the other slot's trial in flight at the stop
      expect(trials.every((t) => t.state === 'COMPLETE')).toBe(true);
      expect(await study.tryAsk({ maxTrialsInStudy: Number.MAX_VALUE })).not.toBeNull();
      expect(await study.tryAsk({ maxTrialsInStudy: 2 ** 53 + 2 })).not.toBeNull();
      await study.close();
    }
  });
});

describe('a stop while a worker sweeps stale trials before its launch', () => {
  it.each([
    ['study.stop()', 'stop'],
    ['the timeout', 'timeout'],
    ["another worker's uncaught error", 'error'],
  ] as const)('launches nothing more when %s lands during the sweep', async (_name, how) => {
    // The sweep before a launch reads storage (a journal: file I/O); a stop, an expired timeout or
    // an uncaught error meanwhile was not looked at again, and the worker asked and ran one more
    // trial after the study was told to launch none.
    const g = gate();
    const study = await createStudy({ storage: gatedStorage('getAllTrials', g), sampler: new RandomSampler({ seed: 1 }) });
    const now = Date.now();
    let clock = now;
    vi.spyOn(Date, 'now').mockImplementation(() => clock);
    let failed: () => void = () => undefined;
    const fatal = new Promise<void>((resolve) => (failed = resolve));
    const run = study.optimize(
      (t) => {
        if (how === 'error' && t.number === 0) throw new Error('boom');
        return t.suggestFloat('x', 0, 1);
      },
      { nTrials: 3, concurrency: how === 'error' ? 2 : 1, catch: 'none', timeoutMs: 60_000, callbacks: [() => failed()], ...quiet },
    );
    await g.entered;
    // With two workers, the second (no sweep due) runs trial 0, whose error stops the study.
    if (how === 'error') await fatal;
    if (how === 'stop') study.stop();
    if (how === 'timeout') clock = now + 60_000;
    g.open();
    if (how === 'error') await expect(run).rejects.toThrow('boom');
    else await run;
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(how === 'error' ? ['FAIL'] : []);
  });
});

describe('study.stop() with two optimize calls on one study', () => {
  it('a second call started after stop() does not clear it: the stopped call launches nothing more', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    const g = gate();
    let nFirst = 0;
    const first = study.optimize(
      async (trial) => {
        nFirst++;
        if (trial.number === 0) await g.pass();
        return 1;
      },
      { nTrials: 10, ...quiet },
    );
    await g.entered;
    study.stop('meant for the first call');
    // Started after the stop: runs normally, and must not revive the first call.
    await study.optimize(() => 2, { nTrials: 2, ...quiet });
    g.open();
    await first;
    expect(nFirst).toBe(1);
    const trials = await study.getTrials();
    expect(trials.map((t) => t.values?.[0])).toEqual([1, 2, 2]);
    expect(study.stopped).toBe('meant for the first call');
  });

  it('stop() stops every call running at the time, and a later call forgets it', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    const g = gate();
    const counts = [0, 0];
    const objective = (i: number) => async (trial: { number: number }) => {
      counts[i]++;
      if (counts[i] === 1) await g.pass();
      return trial.number;
    };
    const both = Promise.all([
      study.optimize(objective(0), { nTrials: 10, ...quiet }),
      study.optimize(objective(1), { nTrials: 10, ...quiet }),
    ]);
    await g.entered;
    study.stop();
    g.open();
    await both;
    expect(counts).toEqual([1, 1]);
    await study.optimize(() => 0, { nTrials: 3, ...quiet });
    expect(study.stopped).toBeNull();
    expect(await study.getTrials()).toHaveLength(5);
  });
});

describe('an interruption of one optimize call', () => {
  it("fails only that call's trials: another optimize call's trial and a trial asked directly go on", async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    const manual = await study.ask();
    const controller = new AbortController();
    const inA = gate();
    const inB = gate();
    const a = study.optimize(
      async () => {
        await inA.pass();
        return 1;
      },
      { nTrials: 1, signal: controller.signal, ...quiet },
    );
    const b = study.optimize(
      async () => {
        await inB.pass();
        return 2;
      },
      { nTrials: 1, ...quiet },
    );
    await Promise.all([inA.entered, inB.entered]);
    controller.abort();
    await expect(a).rejects.toBeInstanceOf(InterruptedError);
    inA.open();
    inB.open();
    await b;
    const told = await study.tell(manual, 3);
    expect(told.state).toBe('COMPLETE');
    const byValue = (await study.getTrials()).map((t) => [t.state, t.values?.[0] ?? null]);
    expect(byValue).toEqual([
      ['COMPLETE', 3],
      ['FAIL', null],
      ['COMPLETE', 2],
    ]);
  });
});

describe('heartbeats of optimize', () => {
  it('are not written to a trial asked directly without heartbeats, which a sweep would then fail', async () => {
    const g = gate();
    let optimizeTrialId = -1;
    class WatchedStorage extends InMemoryStorage {
      override async updateTrial(...args: Parameters<InMemoryStorage['updateTrial']>): Promise<void> {
        await super.updateTrial(...args);
        const [trialId, changes] = args;
        if (trialId === optimizeTrialId && changes.systemAttrs?.heartbeat !== undefined) g.open();
      }
    }
    const storage = new WatchedStorage();
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 1 }) });
    const manual = await study.ask();
    await study.optimize(
      async (trial) => {
        optimizeTrialId = trial.trialId;
        await g.pass(); // until optimize's interval has beaten this trial
        return 1;
      },
      { nTrials: 1, heartbeatIntervalMs: 1, heartbeatGraceMs: 2, ...quiet },
    );
    const stored = await storage.getTrial(manual.trialId);
    expect(stored.systemAttrs.heartbeat).toBeUndefined();
    // So a sweep from another worker, however late, leaves it alone and its result is recorded.
    const other = await loadStudy({ storage, studyName: study.studyName });
    vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 60_000);
    expect(await other.failStaleTrials({ graceMs: 2 })).toEqual([]);
    vi.restoreAllMocks();
    expect((await study.tell(manual, 5)).state).toBe('COMPLETE');
  });
});

describe('an interruption while storage never answers a trial creation', () => {
  it('still rejects with InterruptedError after the 10 s drain bound, and records the trials already live', async () => {
    const hung = gate();
    class HungCreation extends InMemoryStorage {
      hang = false;
      override createTrial(...args: Parameters<InMemoryStorage['createTrial']>): ReturnType<InMemoryStorage['createTrial']> {
        if (!this.hang) return super.createTrial(...args);
        void hung.pass(); // never opened: this creation never returns
        return new Promise(() => undefined);
      }
    }
    const storage = new HungCreation();
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const first = gate();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const promise = study.optimize(
      async (trial) => {
        if (trial.number === 0) await first.pass();
        if (trial.number === 1) storage.hang = true; // its worker's next creation hangs
        return 1;
      },
      { concurrency: 2, nTrials: 3, signal: controller.signal, ...quiet },
    );
    const settled = promise.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await Promise.all([first.entered, hung.entered]);
    controller.abort();
    let done = false;
    void settled.then(() => (done = true));
    // The drain waits (each bounded by what is left of the 10 s) start one after the other.
    for (let i = 0; i < 10 && !done; i++) await vi.advanceTimersByTimeAsync(10_001);
    expect(done).toBe(true); // not hung on the creation that never returns
    const outcome = await settled;
    expect(outcome).toBeInstanceOf(InterruptedError);
    const trials = await study.getTrials();
    expect(trials.map((t) => [t.number, t.state, t.systemAttrs.fail_reason ?? null])).toEqual([
      [0, 'FAIL', 'interrupted'],
      [1, 'COMPLETE', null],
    ]);
  });
});

describe('a synchronous objective on in-memory storage', () => {
  it('lets timers and signals run between trials, so a run without limits can be stopped', async () => {
    // Every await of such a run settled as a microtask: the event loop never turned, so an abort
    // from a timer (or Ctrl-C: Node runs signal handlers on the loop) never came, and
    // optimize({}) ran until the process was killed.
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 20);
    try {
      await expect(study.optimize((t) => t.suggestFloat('x', 0, 1), { signal: controller.signal, ...quiet })).rejects.toBeInstanceOf(
        InterruptedError,
      );
    } finally {
      clearTimeout(timer);
    }
    expect(study.liveTrials()).toHaveLength(0);
    expect((await study.getTrials({ states: ['COMPLETE'] })).length).toBeGreaterThan(0);
  }, 10_000);
});

describe('many optimize calls side by side', () => {
  it('share one SIGINT listener and one listener on a shared AbortSignal, so Node warns of no listener leak', async () => {
    // Each call added its own SIGINT listener and its own 'abort' listener: the eleventh call side
    // by side (a study per dataset, one AbortController for all) printed Node's "Possible
    // EventEmitter memory leak detected" and "Possible EventTarget memory leak detected".
    const n = 12;
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    const sigintListeners = process.listenerCount('SIGINT');
    const controller = new AbortController();
    let runs: Promise<void>[] = [];
    try {
      const studies = await Promise.all(Array.from({ length: n }, (_, i) => createStudy({ sampler: new RandomSampler({ seed: i }) })));
      let started = 0;
      let allStarted: () => void = () => undefined;
      const running = new Promise<void>((resolve) => (allStarted = resolve));
      runs = studies.map((study) =>
        study.optimize(
          async (trial) => {
            if (++started === n) allStarted();
            await new Promise((resolve) => trial.signal.addEventListener('abort', resolve));
            return 1;
          },
          { signal: controller.signal },
        ),
      );
      await running;
      expect(process.listenerCount('SIGINT')).toBe(sigintListeners + 1);
      controller.abort();
      const results = await Promise.allSettled(runs);
      expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).constructor.name : r.status))).toEqual(Array(n).fill('InterruptedError'));
      for (const study of studies) expect((await study.getTrials()).map((t) => t.state)).toEqual(['FAIL']);
      await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on a later tick
      expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
      expect(process.listenerCount('SIGINT')).toBe(sigintListeners);
    } finally {
      controller.abort();
      await Promise.allSettled(runs);
      process.removeListener('warning', onWarning);
    }
  });

  it('are all interrupted by one SIGINT, and a second one is left to Node', async () => {
    const n = 12;
    const sigintListeners = process.listenerCount('SIGINT');
    const studies = await Promise.all(Array.from({ length: n }, (_, i) => createStudy({ sampler: new RandomSampler({ seed: i }) })));
    let started = 0;
    let allStarted: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (allStarted = resolve));
    const runs = studies.map((study) =>
      study.optimize(
        async (trial) => {
          if (++started === n) allStarted();
          await new Promise((resolve) => trial.signal.addEventListener('abort', resolve));
          return 1;
        },
        {},
      ),
    );
    await running;
    process.emit('SIGINT', 'SIGINT');
    // The first Ctrl-C is taken: no listener of optimize is left for a second one.
    expect(process.listenerCount('SIGINT')).toBe(sigintListeners);
    const results = await Promise.allSettled(runs);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).constructor.name : r.status))).toEqual(Array(n).fill('InterruptedError'));
  });
});

describe("an AbortSignal's reason", () => {
  it('is the cause of the InterruptedError, whether it aborts before the start or mid-run', async () => {
    // `controller.abort(reason)` and `AbortSignal.timeout()` (a TimeoutError) said why: the
    // rejection said only "interrupted (aborted)".
    const reason = new Error('the deploy is shutting down');
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    const before = new AbortController();
    before.abort(reason);
    const early = await study.optimize(() => 1, { signal: before.signal, ...quiet }).catch((error: unknown) => error);
    expect(early).toBeInstanceOf(InterruptedError);
    expect((early as InterruptedError).cause).toBe(reason);

    const during = new AbortController();
    const run = study.optimize(
      async (trial) => {
        during.abort(reason);
        await new Promise((resolve) => trial.signal.addEventListener('abort', resolve));
        return 1;
      },
      { signal: during.signal, ...quiet },
    );
    const late = await run.catch((error: unknown) => error);
    expect(late).toBeInstanceOf(InterruptedError);
    expect((late as InterruptedError).cause).toBe(reason);
    expect((late as InterruptedError).message).toMatch(/interrupted \(aborted: Error: the deploy is shutting down\)/);
  });
});

describe('a process that runs optimize', () => {
  it('exits by itself once its runs return: no timer, listener or rejection is left behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-exit-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/study/fixtures/exiting-run.ts', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
      // A hang guard, not a timing assertion: a child kept alive is killed and the test fails.
      const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
      clearTimeout(guard);
      expect({ code, signal, finished: out.includes('finished'), unhandled: err.includes('unhandled rejection') }).toEqual({
        code: 0,
        signal: null,
        finished: true,
        unhandled: false,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('a stop, timeout or abort while an ask of optimize waits inside tryAsk', () => {
  it('creates no trial after a stop() that came while the ask waited behind an enqueue', async () => {
    // The ask waited for the enqueue, then popped the enqueued trial and ran it, stop() or not.
    const { storage, release } = heldEnqueues();
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 1 }) });
    const enqueued = study.enqueueTrial({ x: 0.25 });
    let nRun = 0;
    const run = study.optimize(
      (trial) => {
        nRun++;
        return trial.suggestFloat('x', 0, 1);
      },
      { nTrials: 3, ...quiet },
    );
    await new Promise((resolve) => setImmediate(resolve)); // the ask is waiting for the enqueue
    study.stop('enough');
    release();
    await enqueued;
    await run;
    expect(nRun).toBe(0);
    // The enqueued configuration is still there for the next run.
    expect((await study.getTrials()).map((t) => [t.state, t.systemAttrs.fixed_params])).toEqual([['WAITING', { x: 0.25 }]]);
  });

  it('creates no trial after the timeout expired while the ask waited, and an abort then loses no enqueued configuration', async () => {
    for (const how of ['timeout', 'abort'] as const) {
      const { storage, release } = heldEnqueues();
      const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 1 }) });
      const enqueued = study.enqueueTrial({ x: 0.25 });
      const controller = new AbortController();
      let nRun = 0;
      const run = study.optimize(
        (trial) => {
          nRun++;
          return trial.suggestFloat('x', 0, 1);
        },
        how === 'timeout' ? { nTrials: 3, timeoutMs: 20, ...quiet } : { nTrials: 3, signal: controller.signal, ...quiet },
      );
      await new Promise((resolve) => setImmediate(resolve));
      if (how === 'timeout') await new Promise((resolve) => setTimeout(resolve, 40));
      else controller.abort();
      release();
      await enqueued;
      if (how === 'timeout') await run;
      else await expect(run).rejects.toBeInstanceOf(InterruptedError);
      expect(nRun).toBe(0);
      expect((await study.getTrials()).map((t) => [t.state, t.systemAttrs.fixed_params])).toEqual([['WAITING', { x: 0.25 }]]);
    }
  });

  it('does not run an enqueued trial popped while the stop came, and enqueues its configuration again', async () => {
    const inner = new InMemoryStorage();
    let onPop: () => void = () => undefined;
    const storage = new Proxy(inner, {
      get(target, key, receiver) {
        if (key !== 'popWaitingTrial') return Reflect.get(target, key, receiver) as unknown;
        return async (studyId: number) => {
          const popped = await target.popWaitingTrial(studyId);
          onPop(); // the stop lands while storage pops the trial
          return popped;
        };
      },
    });
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 1 }) });
    await study.enqueueTrial({ x: 0.25 }, { userAttrs: { source: 'warm start' } });
    onPop = () => study.stop('enough');
    let nRun = 0;
    await study.optimize(
      (trial) => {
        nRun++;
        return trial.suggestFloat('x', 0, 1);
      },
      { nTrials: 3, ...quiet },
    );
    expect(nRun).toBe(0);
    const trials = await study.getTrials();
    expect(trials.map((t) => [t.number, t.state, t.systemAttrs.fail_reason, t.systemAttrs.fixed_params, t.userAttrs])).toEqual([
      [0, 'FAIL', 'interrupted', { x: 0.25 }, { source: 'warm start' }],
      [1, 'WAITING', undefined, { x: 0.25 }, { source: 'warm start' }],
    ]);
    // The next run runs the configuration.
    onPop = () => undefined;
    await study.optimize((trial) => trial.suggestFloat('x', 0, 1), { nTrials: 1, ...quiet });
    expect((await study.getTrials()).map((t) => [t.state, t.params])).toEqual([['FAIL', {}], ['COMPLETE', { x: 0.25 }]]);
  });
});

describe('an enqueued configuration whose ask was withdrawn', () => {
  /** A storage whose popWaitingTrial calls `onPop` once storage has popped (a stop landing then). */
  function popHook(inner: Storage): { storage: Storage; setOnPop: (f: () => void) => void } {
    let onPop: () => void = () => undefined;
    const storage = new Proxy(inner, {
      get(target, key, receiver) {
        if (key !== 'popWaitingTrial') return Reflect.get(target, key, receiver) as unknown;
        return async (studyId: number) => {
          const popped = await target.popWaitingTrial(studyId);
          onPop();
          return popped;
        };
      },
    });
    return { storage, setOnPop: (f) => (onPop = f) };
  }
  const objective = (trial: { suggestFloat: (name: string, low: number, high: number) => number }): number => trial.suggestFloat('x', 0, 1);

  for (const kind of ['memory', 'journal'] as const) {
    it(`keeps its place in the queue and the number it was first enqueued as (${kind})`, async () => {
      const path = freshJournal();
      const { storage, setOnPop } = popHook(kind === 'memory' ? new InMemoryStorage() : new JournalStorage({ path }));
      const study = await createStudy({ studyName: 's', storage, sampler: new RandomSampler({ seed: 1 }) });
      for (const x of [0.25, 0.5, 0.75]) await study.enqueueTrial({ x });
      // Two asks pop trials 0 and 1 (or only 0) while the stop lands: neither runs.
      setOnPop(() => study.stop('enough'));
      await study.optimize(objective, { nTrials: 3, concurrency: 2, ...quiet });
      // Withdrawn a second time: the configuration still queues as trial 0 did.
      await study.optimize(objective, { nTrials: 3, ...quiet });
      setOnPop(() => undefined);
      const waiting = await study.getTrials({ states: ['WAITING'] });
      expect(waiting.map((t) => t.systemAttrs.fixed_params)).toEqual(expect.arrayContaining([{ x: 0.25 }, { x: 0.5 }, { x: 0.75 }]));
      const placeOf = (x: number): unknown => waiting.find((t) => (t.systemAttrs.fixed_params as { x: number }).x === x)?.systemAttrs.enqueued_number;
      expect(placeOf(0.25)).toBe(0);
      expect([1, undefined]).toContain(placeOf(0.5)); // 1 when the second ask popped it too
      let next = study;
      if (kind === 'journal') {
        await storage.close();
        next = await loadStudy({ studyName: 's', storage: new JournalStorage({ path }), sampler: new RandomSampler({ seed: 1 }) });
      }
      const ran: number[] = [];
      await next.optimize((trial) => ran[ran.push(objective(trial)) - 1], { nTrials: 3, ...quiet });
      expect(ran).toEqual([0.25, 0.5, 0.75]);
      if (kind === 'journal') await next.close();
    });
  }

  it('keeps its place when an interruption withdrew it', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    for (const x of [0.5, 0.75]) await study.enqueueTrial({ x });
    const controller = new AbortController();
    const run = study.optimize(objective, { nTrials: 2, signal: controller.signal, onTrialStart: () => controller.abort(), ...quiet });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    const ran: number[] = [];
    await study.optimize((trial) => ran[ran.push(objective(trial)) - 1], { nTrials: 2, ...quiet });
    expect(ran).toEqual([0.5, 0.75]);
  });
});

describe('an enqueued trial of optimize interrupted before its objective ran', () => {
  it('is recorded FAIL "interrupted" and its configuration enqueued again', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    await study.enqueueTrial({ x: 0.5 }, { userAttrs: { source: 'warm start' } });
    const controller = new AbortController();
    let nRun = 0;
    const run = study.optimize(
      (trial) => {
        nRun++;
        return trial.suggestFloat('x', 0, 1);
      },
      { nTrials: 2, signal: controller.signal, onTrialStart: () => controller.abort(), ...quiet },
    );
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    expect(nRun).toBe(0);
    expect((await study.getTrials()).map((t) => [t.state, t.systemAttrs.fail_reason, t.systemAttrs.fixed_params, t.userAttrs])).toEqual([
      ['FAIL', 'interrupted', { x: 0.5 }, { source: 'warm start' }],
      ['WAITING', undefined, { x: 0.5 }, { source: 'warm start' }],
    ]);
  });
});

describe('an optimize interrupted while a trial is told', () => {
  it('settles only after the callbacks of that trial have run, and starts none afterwards', async () => {
    // The interruption waited for the tell in flight but not for the callbacks after it: the
    // promise rejected while a callback was still running, so the run went on after it settled.
    const controller = new AbortController();
    const inner = new InMemoryStorage();
    const storage = new Proxy(inner, {
      get(target, key, receiver) {
        if (key !== 'finishTrial') return Reflect.get(target, key, receiver) as unknown;
        return async (trialId: number, finish: TrialFinish) => {
          if (finish.state === 'COMPLETE') controller.abort(); // Ctrl-C while the result is recorded
          return target.finishTrial(trialId, finish);
        };
      },
    });
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 1 }) });
    const events: string[] = [];
    const run = study.optimize((trial) => trial.suggestFloat('x', 0, 1), {
      nTrials: 3,
      signal: controller.signal,
      ...quiet,
      callbacks: [
        async (_s, t) => {
          events.push(`first ${t.number} start`);
          await new Promise((resolve) => setTimeout(resolve, 30));
          events.push(`first ${t.number} end`);
        },
        (_s, t) => void events.push(`second ${t.number}`),
      ],
    });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    events.push('settled');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(events).toEqual(['first 0 start', 'first 0 end', 'second 0', 'settled']);
    expect((await study.getTrials()).map((t) => t.state)).toEqual(['COMPLETE']);
  });
});
