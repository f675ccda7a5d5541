import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  DistributionConflictError,
  DuplicatedStudyError,
  InterruptedError,
  InvalidOptionError,
  NoCompletedTrialsError,
  StudyNotFoundError,
  TrialFinishedError,
  TrialPrunedError,
} from '../../src/errors.js';
import { NopPruner, type Pruner } from '../../src/pruners/pruner.js';
import { MedianPruner } from '../../src/pruners/median.js';
import { NsgaIiSampler } from '../../src/samplers/genetic/nsga-ii-sampler.js';
import { GpSampler } from '../../src/samplers/gp/gp-sampler.js';
import { GridSampler } from '../../src/samplers/grid-sampler.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { SobolSampler } from '../../src/samplers/sobol-sampler.js';
import { TpeSampler } from '../../src/samplers/tpe/tpe-sampler.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { createStudy, loadStudy } from '../../src/study/create-study.js';
import { Study } from '../../src/study/study.js';
import type { Trial } from '../../src/trial/trial.js';
import { resetWarnOnce } from '../../src/util/warn.js';

const quadratic = (trial: Trial): number => {
  const x = trial.suggestFloat('x', -10, 10);
  const y = trial.suggestInt('y', -5, 5);
  return x * x + y * y;
};

describe('createStudy / loadStudy', () => {
  it('creates, rejects duplicates, loads with loadIfExists and checks directions', async () => {
    const storage = new InMemoryStorage();
    const study = await createStudy({ studyName: 's', storage });
    expect(study.directions).toEqual(['minimize']);
    await expect(createStudy({ studyName: 's', storage })).rejects.toBeInstanceOf(DuplicatedStudyError);
    const again = await createStudy({ studyName: 's', storage, loadIfExists: true });
    expect(again.studyId).toBe(study.studyId);
    await expect(
      createStudy({ studyName: 's', storage, loadIfExists: true, direction: 'maximize' }),
    ).rejects.toBeInstanceOf(InvalidOptionError);
    const loaded = await loadStudy({ studyName: 's', storage });
    expect(loaded.studyId).toBe(study.studyId);
    await expect(loadStudy({ studyName: 'nope', storage })).rejects.toBeInstanceOf(StudyNotFoundError);
  });

  it('validates options with errors naming the option', async () => {
    await expect(createStudy({ direction: 'up' as never })).rejects.toThrow(/direction/);
    await expect(createStudy({ direction: 'minimize', directions: ['minimize'] })).rejects.toThrow(/direction/);
    await expect(createStudy({ directions: [] })).rejects.toThrow(/directions/);
    await expect(createStudy({ sampler: {} as never })).rejects.toThrow(/sampler/);
    await expect(createStudy({ pruner: 3 as never })).rejects.toThrow(/pruner/);
    // 'true' (a config or environment string) was taken as false: on an existing study the error
    // was DuplicatedStudyError, telling to pass the loadIfExists: true that had been passed.
    const storage = new InMemoryStorage();
    await createStudy({ studyName: 's', storage });
    for (const loadIfExists of ['true', 1, null]) {
      await expect(createStudy({ studyName: 's', storage, loadIfExists: loadIfExists as never })).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        option: 'loadIfExists',
      });
      await expect(createStudy({ studyName: 'new', storage, loadIfExists: loadIfExists as never })).rejects.toThrow(/loadIfExists/);
    }
    expect((await storage.getAllStudies()).map((st) => st.studyName)).toEqual(['s']);
    const study = await createStudy();
    await expect(study.optimize(quadratic, { nTrials: -1 })).rejects.toThrow(/nTrials/);
    await expect(study.optimize(quadratic, { concurrency: 0 })).rejects.toThrow(/concurrency/);
    await expect(study.optimize(quadratic, { timeoutMs: Number.NaN })).rejects.toThrow(/timeoutMs/);
    await expect(study.optimize('f' as never, { nTrials: 1 })).rejects.toThrow(/objective/);
  });
});

describe('optimize', () => {
  it('runs nTrials, tracks the best trial and records timestamps', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
    await expect(study.bestTrial()).rejects.toBeInstanceOf(NoCompletedTrialsError);
    await study.optimize(quadratic, { nTrials: 30 });
    const trials = await study.getTrials();
    expect(trials.map((t) => t.number)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(trials.every((t) => t.state === 'COMPLETE')).toBe(true);
    const best = await study.bestTrial();
    const min = Math.min(...trials.map((t) => t.values![0]));
    expect(best.values![0]).toBe(min);
    expect(await study.bestValue()).toBe(min);
    expect(best.durationMs).not.toBeNull();
    expect(best.durationMs!).toBeGreaterThanOrEqual(0);
    expect(Object.keys(best.params).sort()).toEqual(['x', 'y']);
  });

  it('maximizes when asked', async () => {
    const study = await createStudy({ direction: 'maximize', sampler: new RandomSampler({ seed: 2 }) });
    await study.optimize(quadratic, { nTrials: 20 });
    const values = (await study.getTrials()).map((t) => t.values![0]);
    expect(await study.bestValue()).toBe(Math.max(...values));
  });

  it('is reproducible for a fixed seed in sequential runs', async () => {
    const run = async (): Promise<unknown[]> => {
      const study = await createStudy({ sampler: new RandomSampler({ seed: 42 }) });
      await study.optimize(
        (trial) => {
          const a = trial.suggestFloat('a', 1e-5, 1, { log: true });
          const b = trial.suggestCategorical('b', ['x', 'y', 'z']);
          const c = trial.suggestInt('c', 0, 100, { step: 5 });
          return a + (b === 'x' ? 1 : 0) + c;
        },
        { nTrials: 15 },
      );
      return (await study.getTrials()).map((t) => t.params);
    };
    const first = await run();
    expect(await run()).toEqual(first);
  });

  it('marks a throwing objective or a NaN/Infinity value FAIL with the reason, and goes on', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 3 }) });
    await study.optimize(
      (trial) => {
        const n = trial.number;
        trial.suggestFloat('x', 0, 1);
        if (n === 1) throw new Error('boom');
        if (n === 2) return Number.NaN;
        if (n === 3) return Number.POSITIVE_INFINITY;
        if (n === 4) return [1, 2];
        return n;
      },
      { nTrials: 6 },
    );
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'FAIL', 'FAIL', 'FAIL', 'FAIL', 'COMPLETE']);
    expect(trials[1].systemAttrs.fail_reason).toMatch(/boom/);
    expect(trials[2].systemAttrs.fail_reason).toMatch(/NaN/);
    expect(trials[3].systemAttrs.fail_reason).toMatch(/Infinity/);
    expect(trials[4].systemAttrs.fail_reason).toMatch(/2 value/);
    // The failed trial keeps the parameters it suggested.
    expect(trials[1].params.x).toBeTypeOf('number');
  });

  it('fails a trial whose value cannot be turned into a string (a null-prototype object, a throwing toString), and goes on', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 3 }) });
    const bad: unknown[] = [Object.create(null), { toString: () => { throw new Error('no string'); } }];
    await study.optimize(
      (trial) => {
        trial.suggestFloat('x', 0, 1);
        return (trial.number < bad.length ? [bad[trial.number]] : trial.number) as number;
      },
      { nTrials: 3 },
    );
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL', 'COMPLETE']);
    expect(trials[0].systemAttrs.fail_reason).toBe('the objective returned {}, expected a number');
    expect(trials[1].systemAttrs.fail_reason).toBe('the objective returned {}, expected a number');
  });

  it('warns when a caught objective error fails a trial, once per message, as it does for a NaN value', async () => {
    resetWarnOnce();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const study = await createStudy({ sampler: new RandomSampler({ seed: 3 }) });
      await study.optimize(
        (trial) => {
          trial.suggestFloat('x', 0, 1);
          if (trial.number === 3) throw new TrialPrunedError();
          throw new TypeError(trial.number === 2 ? 'other bug' : 'a bug in the objective');
        },
        { nTrials: 4, handleSigint: false },
      );
      const failed = warnings.mock.calls
        .filter((c) => (c[1] as { code?: string } | undefined)?.code === 'OBJECTIVE_FAILED')
        .map((c) => String(c[0]));
      expect(failed).toHaveLength(2);
      expect(failed[0]).toMatch(/trial 0 failed: TypeError: a bug in the objective/);
      expect(failed[1]).toMatch(/trial 2 failed: TypeError: other bug/);
    } finally {
      warnings.mockRestore();
    }
  });

  it('warns for a NaN value and for a thrown error once per optimize call: again in a second call of the same process', async () => {
    resetWarnOnce();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const study = await createStudy({ sampler: new RandomSampler({ seed: 7 }) });
      const objective = (trial: { number: number }): number => {
        if (trial.number % 2 === 0) return Number.NaN;
        throw new TypeError('a bug in the objective');
      };
      const codes = (): (string | undefined)[] => warnings.mock.calls.map((c) => (c[1] as { code?: string } | undefined)?.code).sort();
      await study.optimize(objective, { nTrials: 4, handleSigint: false });
      expect(codes()).toEqual(['INVALID_OBJECTIVE_VALUE', 'OBJECTIVE_FAILED']);
      await study.optimize(objective, { nTrials: 4, handleSigint: false });
      expect(codes()).toEqual(['INVALID_OBJECTIVE_VALUE', 'INVALID_OBJECTIVE_VALUE', 'OBJECTIVE_FAILED', 'OBJECTIVE_FAILED']);
    } finally {
      warnings.mockRestore();
    }
  });

  it("rethrows errors not listed in `catch` after recording the trial as FAIL", async () => {
    class Fatal extends Error {}
    class Recoverable extends Error {}
    const study = await createStudy({ sampler: new RandomSampler({ seed: 4 }) });
    await expect(
      study.optimize(
        (trial) => {
          if (trial.number === 0) throw new Recoverable('ok');
          if (trial.number === 2) throw new Fatal('stop');
          return 1;
        },
        { nTrials: 10, catch: [Recoverable] },
      ),
    ).rejects.toBeInstanceOf(Fatal);
    const states = (await study.getTrials()).map((t) => t.state);
    expect(states).toEqual(['FAIL', 'COMPLETE', 'FAIL']);
  });

  it('runs trials concurrently when concurrency > 1', async () => {
    const study = await createStudy({ sampler: new RandomSampler({ seed: 5 }) });
    let running = 0;
    let peak = 0;
    await study.optimize(
      async (trial) => {
        running++;
        peak = Math.max(peak, running);
        // Yield a few times so that the other slots start.
        for (let i = 0; i < 5; i++) await Promise.resolve();
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        return trial.suggestFloat('x', 0, 1);
      },
      { nTrials: 40, concurrency: 8 },
    );
    expect(peak).toBe(8);
    const trials = await study.getTrials();
    expect(trials).toHaveLength(40);
    expect(new Set(trials.map((t) => t.number)).size).toBe(40);
  });

  it('stops launching trials after timeoutMs', async () => {
    const study = await createStudy();
    const start = Date.now();
    await study.optimize(
      async (trial) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return trial.suggestFloat('x', 0, 1);
      },
      { timeoutMs: 60 },
    );
    const n = (await study.getTrials()).length;
    expect(n).toBeGreaterThan(0);
    expect(Date.now() - start).toBeLessThan(2000);
  });

  it('calls callbacks after each finished trial and honours study.stop()', async () => {
    const study = await createStudy();
    const seen: number[] = [];
    await study.optimize((trial) => trial.suggestFloat('x', 0, 1), {
      nTrials: 100,
      callbacks: [
        (s, frozen) => {
          seen.push(frozen.number);
          if (frozen.number === 4) s.stop();
        },
      ],
    });
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    // A later optimize call runs again.
    await study.optimize((trial) => trial.suggestFloat('x', 0, 1), { nTrials: 2 });
    expect(await study.getTrials()).toHaveLength(7);
  });

  it('on abort: launches nothing new, marks running trials FAIL "interrupted", keeps finished ones', async () => {
    const study = await createStudy();
    const controller = new AbortController();
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const promise = study.optimize(
      async (trial) => {
        const x = trial.suggestFloat('x', 0, 1);
        if (trial.number >= 3) {
          if (trial.number === 4) controller.abort();
          await blocked;
        }
        return x;
      },
      { nTrials: 50, concurrency: 2, signal: controller.signal, handleSigint: false },
    );
    await expect(promise).rejects.toBeInstanceOf(InterruptedError);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    const trials = await study.getTrials();
    expect(trials.slice(0, 3).every((t) => t.state === 'COMPLETE')).toBe(true);
    const rest = trials.slice(3);
    expect(rest.length).toBe(2);
    for (const t of rest) {
      expect(t.state).toBe('FAIL');
      expect(t.systemAttrs.fail_reason).toBe('interrupted');
      expect(t.params.x).toBeTypeOf('number');
    }
  });

  it('respects maxTrialsInStudy across optimize calls', async () => {
    const study = await createStudy();
    await study.optimize((t) => t.suggestFloat('x', 0, 1), { maxTrialsInStudy: 7, concurrency: 3 });
    expect(await study.getTrials()).toHaveLength(7);
    await study.optimize((t) => t.suggestFloat('x', 0, 1), { maxTrialsInStudy: 7 });
    expect(await study.getTrials()).toHaveLength(7);
  });
});

describe('ask / tell', () => {
  it('supports ask/tell with values and states', async () => {
    const study = await createStudy({ directions: ['minimize', 'maximize'] });
    const t0 = await study.ask();
    const x = t0.suggestFloat('x', 0, 1);
    const frozen = await study.tell(t0, [x, 1 - x]);
    expect(frozen.state).toBe('COMPLETE');
    expect(frozen.params.x).toBe(x);
    await expect(study.tell(t0, [1, 2])).rejects.toBeInstanceOf(TrialFinishedError);
    const t1 = await study.ask();
    expect((await study.tell(t1.number, { state: 'FAIL', failReason: 'oom' })).systemAttrs.fail_reason).toBe('oom');
    const t2 = await study.ask();
    expect((await study.tell(t2, 5)).state).toBe('FAIL'); // wrong arity for two objectives
    await expect(study.bestTrial()).rejects.toBeInstanceOf(InvalidOptionError);
    // The error says why and points to bestTrials (it used to read only 'option "direction":
    // expected a single-objective study, received "2 directions"').
    for (const call of [() => study.bestTrial(), () => study.bestValue(), () => study.bestParams()]) {
      await expect(call()).rejects.toThrow(/no single best trial; use bestTrials\(\).*2 directions \(minimize, maximize\)/);
    }
    expect((await study.bestTrials()).map((t) => t.number)).toEqual([0]);
  });

  it('records PRUNED with the last reported value', async () => {
    const study = await createStudy();
    const trial = await study.ask();
    await trial.report(0, 5);
    await trial.report(1, 3);
    await trial.report(1, 99); // a repeated step keeps its first value
    const frozen = await study.tell(trial, { state: 'PRUNED' });
    expect(frozen.state).toBe('PRUNED');
    expect(frozen.values).toEqual([3]);
    expect(frozen.intermediateValues).toEqual({ 0: 5, 1: 3 });
  });

  it('rejects a parameter re-suggested with another distribution, and returns the same value otherwise', async () => {
    const study = await createStudy();
    const trial = await study.ask();
    const x = trial.suggestFloat('x', 0, 1);
    expect(trial.suggestFloat('x', 0, 1)).toBe(x);
    expect(() => trial.suggestFloat('x', 0, 2)).toThrow(DistributionConflictError);
    expect(() => trial.suggestInt('x', 0, 1)).toThrow(/"x"/);
  });

  it('persists user attributes and intermediate values on report', async () => {
    const storage = new InMemoryStorage();
    const study = await createStudy({ storage });
    const trial = await study.ask();
    trial.setUserAttr('note', 'hello');
    await trial.report(3, 0.5);
    const stored = await storage.getTrial(trial.trialId);
    expect(stored.userAttrs.note).toBe('hello');
    expect(stored.intermediateValues[3]).toBe(0.5);
    expect(stored.state).toBe('RUNNING');
  });

  it('writes suggested parameters once the objective yields, before it reports or finishes', async () => {
    // They were written only at the first report or the tell: a worker killed mid-trial left a
    // RUNNING (then stale-FAIL) trial with no parameters, so nobody could tell what it ran.
    class CountingStorage extends InMemoryStorage {
      updates = 0;
      override async updateTrial(...args: Parameters<InMemoryStorage['updateTrial']>): Promise<void> {
        this.updates++;
        return super.updateTrial(...args);
      }
    }
    const storage = new CountingStorage();
    const study = await createStudy({ storage, sampler: new RandomSampler({ seed: 1 }) });
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let seen: Readonly<Record<string, unknown>> | null = null;
    const running = study.optimize(
      async (t) => {
        const x = t.suggestFloat('x', 0, 1);
        const k = t.suggestCategorical('k', ['a', 'b']);
        await gate;
        return x + (k === 'a' ? 0 : 1);
      },
      { nTrials: 1 },
    );
    for (let i = 0; i < 50 && seen === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      const [trial] = await storage.getAllTrials(study.studyId);
      if (trial !== undefined && Object.keys(trial.params).length === 2) seen = trial.params;
    }
    expect(storage.updates).toBe(1); // both suggestions in one write
    release();
    await running;
    const [done] = await storage.getAllTrials(study.studyId);
    expect(seen).toEqual(done.params);
    expect(done.state).toBe('COMPLETE');
    // An objective that returns without yielding is told first: no extra write.
    storage.updates = 0;
    await study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 3 });
    expect(storage.updates).toBe(0);
  });

  it('merges sampler state into a running trial (setTrialSystemAttrs) and refuses a finished one', async () => {
    const storage = new InMemoryStorage();
    const study = await createStudy({ storage });
    const trial = await study.ask();
    await study.setTrialSystemAttrs(trial.trialId, { sampler_state: { step: 1 } });
    await study.setTrialSystemAttrs(trial.trialId, { other: [1, 2] });
    expect((await storage.getTrial(trial.trialId)).systemAttrs).toMatchObject({ sampler_state: { step: 1 }, other: [1, 2] });
    await study.tell(trial, 1);
    await expect(study.setTrialSystemAttrs(trial.trialId, { sampler_state: { step: 2 } })).rejects.toBeInstanceOf(TrialFinishedError);
    expect((await storage.getTrial(trial.trialId)).systemAttrs.sampler_state).toEqual({ step: 1 });
  });
});

describe('enqueueTrial / addTrial', () => {
  it('runs enqueued configurations first, sampling the rest', async () => {
    const study = await createStudy();
    await study.enqueueTrial({ x: 0.25, kind: 'b' });
    await study.enqueueTrial({ x: 0.75 });
    await study.enqueueTrial({ x: 0.75 }, { skipIfExists: true });
    await study.optimize(
      (trial) => {
        const x = trial.suggestFloat('x', 0, 1);
        const kind = trial.suggestCategorical('kind', ['a', 'b']);
        return x + (kind === 'a' ? 0 : 1);
      },
      { nTrials: 3 },
    );
    const trials = await study.getTrials();
    expect(trials).toHaveLength(3);
    expect(trials[0].params).toEqual({ x: 0.25, kind: 'b' });
    expect(trials[1].params.x).toBe(0.75);
  });

  it('runs an enqueued configuration first when its enqueueTrial was not awaited (Optuna ports)', async () => {
    // Optuna's enqueue_trial is synchronous, so ports drop the await. The ask popped the queue
    // before the enqueue had created its trial: the first trial was sampled and the enqueued one
    // was left WAITING (run later, or never within nTrials).
    const study = await createStudy();
    void study.enqueueTrial({ x: 0.25 });
    const trial = await study.ask();
    expect(trial.fixedParams).toEqual({ x: 0.25 });
    await study.tell(trial, trial.suggestFloat('x', 0, 1));
    void study.enqueueTrial({ x: 0.5 });
    void study.enqueueTrial({ x: 0.75 });
    await study.optimize((t) => t.suggestFloat('x', 0, 1), { nTrials: 2 });
    expect((await study.getTrials()).map((t) => [t.state, t.params.x])).toEqual([
      ['COMPLETE', 0.25],
      ['COMPLETE', 0.5],
      ['COMPLETE', 0.75],
    ]);
  });

  it('fails an enqueued trial whose value is outside the distribution', async () => {
    const study = await createStudy();
    await study.enqueueTrial({ x: 5 });
    await study.optimize((trial) => trial.suggestFloat('x', 0, 1), { nTrials: 1 });
    const [trial] = await study.getTrials();
    expect(trial.state).toBe('FAIL');
    expect(String(trial.systemAttrs.fail_reason)).toMatch(/"x"/);
  });

  it('imports finished trials and validates them', async () => {
    const study = await createStudy();
    const distributions = { x: { kind: 'float', low: 0, high: 1, log: false, step: null } } as const;
    await study.addTrial({ params: { x: 0.5 }, distributions, value: 2 });
    expect(await study.bestValue()).toBe(2);
    await expect(study.addTrial({ params: { x: 3 }, distributions, value: 1 })).rejects.toThrow(/"x"/);
    await expect(study.addTrial({ params: { x: 0.1 }, distributions, value: Number.NaN })).rejects.toThrow(/NaN/);
    // There is no objective in an import: the message names the trial being added.
    await expect(study.addTrial({ params: { x: 0.1 }, distributions })).rejects.toThrow(/^the trial to add has no value/);
    await expect(study.addTrial({ params: { x: 0.1 }, distributions, values: [1, 2] })).rejects.toThrow(
      /^the trial to add has 2 value\(s\) but the study has 1 direction/,
    );
    // Datetimes a Date cannot hold (nanoseconds by mistake) would break every export later.
    for (const [option, t] of [['datetimeStart', 1.7e18], ['datetimeComplete', -9e15], ['datetimeStart', Infinity]] as const) {
      await expect(study.addTrial({ params: { x: 0.1 }, distributions, value: 1, [option]: t })).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        option,
      });
    }
    expect(await study.getTrials()).toHaveLength(1);
    await study.addTrial({ params: { x: 0.2 }, distributions, value: 1, datetimeStart: 0, datetimeComplete: 8.64e15 });
    expect(await study.getTrials()).toHaveLength(2);
    // A trial cannot end before it started (Optuna refuses it too): its duration would be negative.
    await expect(
      study.addTrial({ params: { x: 0.3 }, distributions, value: 1, datetimeStart: 2_000, datetimeComplete: 1_000 }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'datetimeComplete' });
    await expect(study.addTrial({ params: { x: 0.3 }, distributions, value: 1, datetimeStart: Date.now() + 3_600_000 })).rejects.toMatchObject({
      option: 'datetimeComplete',
    });
    await study.addTrial({ params: { x: 0.3 }, distributions, value: 1, datetimeStart: 1_000, datetimeComplete: 1_000 });
    expect(await study.getTrials()).toHaveLength(3);
  });

  it('keeps the system attributes of a trial imported as plain data (toJSON), as of a FrozenTrial', async () => {
    const source = await createStudy();
    const failed = await source.tell(await source.ask(), { state: 'FAIL', failReason: 'out of memory' });
    const target = await createStudy();
    // FrozenTrial data that went through JSON (a file, a message): the fail reason was dropped.
    const copied = await target.addTrial(JSON.parse(JSON.stringify(failed)) as never);
    expect(copied.systemAttrs).toEqual({ fail_reason: 'out of memory' });
    expect((await target.addTrial(failed)).systemAttrs).toEqual({ fail_reason: 'out of memory' });
    // Optuna's create_trial takes system_attrs too.
    const added = await target.addTrial({ params: {}, distributions: {}, value: 1, systemAttrs: { source: 'grid-run' } });
    expect(added.systemAttrs).toEqual({ source: 'grid-run' });
  });
});

describe('pruning', () => {
  it('asks the pruner with the persisted intermediate values and records PRUNED', async () => {
    const calls: number[] = [];
    const pruner: Pruner = {
      name: 'test',
      prune: (_study, trial) => {
        const steps = Object.keys(trial.intermediateValues).map(Number);
        calls.push(Math.max(...steps));
        return trial.intermediateValues[2] !== undefined && trial.intermediateValues[2] > 1;
      },
    };
    const study = await createStudy({ pruner });
    await study.optimize(
      async (trial) => {
        const slope = trial.number === 0 ? 0.1 : 1;
        for (let step = 0; step < 5; step++) {
          await trial.report(step, slope * step);
          await trial.pruneIfNeeded();
        }
        return slope;
      },
      { nTrials: 2 },
    );
    const trials = await study.getTrials();
    expect(trials[0].state).toBe('COMPLETE');
    expect(trials[1].state).toBe('PRUNED');
    expect(trials[1].values).toEqual([2]);
    expect(calls).toEqual([0, 1, 2, 3, 4, 0, 1, 2]);
    expect(new TrialPrunedError().code).toBe('TRIAL_PRUNED');
  });
});

describe('heartbeats and stale trials', () => {
  it('stamps trials run with heartbeats and fails only those whose heartbeat is stale', async () => {
    const storage = new InMemoryStorage();
    const study = await createStudy({ storage });
    const stamped = await study.ask({ heartbeat: true });
    expect(typeof (await storage.getTrial(stamped.trialId)).systemAttrs.heartbeat).toBe('number');
    // A worker that died: a trial with an old heartbeat, never told, that no Study object of this
    // process runs (one that some Study object here holds live is spared: process-live-trials.test.ts).
    const dead = await storage.createTrial(study.studyId, { systemAttrs: { heartbeat: Date.now() - 60_000 } });
    // A trial without heartbeats (plain ask/tell) is never judged stale.
    const manual = await study.ask();

    // Another process (a second Study object on the same storage) sees the dead trial as stale.
    const other = await loadStudy({ studyName: study.studyName, storage });
    await expect(other.failStaleTrials({ graceMs: 0 })).rejects.toThrow(/graceMs/);
    expect(await other.failStaleTrials({ graceMs: 30_000 })).toEqual([dead.number]);
    const failed = await storage.getTrial(dead.trialId);
    expect(failed.state).toBe('FAIL');
    expect(String(failed.systemAttrs.fail_reason)).toMatch(/stale/);
    expect((await storage.getTrial(manual.trialId)).state).toBe('RUNNING');
    // The dead worker's late tell is refused: the finished trial is immutable.
    await expect(study.tell(dead.number, 1)).rejects.toBeInstanceOf(TrialFinishedError);
    await study.tell(stamped, 1);
  });

  it('names a finished trial by its number in its study, as listings do, and by its storage id', async () => {
    // With two studies in one storage a trial's id differs from its number: the message named
    // only the id ("trial 3"), which the user's listing of that study does not show.
    const storage = new InMemoryStorage();
    const first = await createStudy({ storage, studyName: 'a' });
    for (let i = 0; i < 3; i++) await first.tell(await first.ask(), i);
    const study = await createStudy({ storage, studyName: 'b' });
    const trial = await study.ask();
    await study.tell(trial, 1);
    const fromTrial = await study.tell(trial, 2).catch((e: unknown) => e);
    expect(fromTrial).toBeInstanceOf(TrialFinishedError);
    expect((fromTrial as Error).message).toMatch(/^trial 0 \(id 3\) is already finished \(COMPLETE\)/);
    expect((fromTrial as TrialFinishedError).trialNumber).toBe(0);
    const fromStorage = await storage.updateTrial(trial.trialId, { userAttrs: { k: 1 } }).catch((e: unknown) => e);
    expect((fromStorage as Error).message).toMatch(/^trial 0 \(id 3\) is already finished/);
  });

  it('optimize with heartbeatIntervalMs fails stale trials first and beats for running ones', async () => {
    const storage = new InMemoryStorage();
    const study = await createStudy({ storage });
    // The dead trial belongs to a worker that died (no Study object of this process runs it).
    const dead = await storage.createTrial(study.studyId, { systemAttrs: { heartbeat: Date.now() - 10_000 } });
    const beats: number[] = [];
    await study.optimize(
      async (trial) => {
        const before = (await storage.getTrial(trial.trialId)).systemAttrs.heartbeat as number;
        // Wait until the heartbeat timer has written a newer beat.
        for (;;) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          const now = (await storage.getTrial(trial.trialId)).systemAttrs.heartbeat as number;
          if (now > before) {
            beats.push(now - before);
            break;
          }
        }
        return trial.suggestFloat('x', 0, 1);
      },
      { nTrials: 2, heartbeatIntervalMs: 20, heartbeatGraceMs: 1_000, handleSigint: false },
    );
    expect((await storage.getTrial(dead.trialId)).state).toBe('FAIL');
    expect(beats).toHaveLength(2);
    expect(await study.getTrials({ states: ['COMPLETE'] })).toHaveLength(2);
    await expect(study.optimize(() => 1, { heartbeatIntervalMs: 10, heartbeatGraceMs: 5 })).rejects.toThrow(
      /heartbeatGraceMs/,
    );
  });
});

describe('bestTrials (Pareto front)', () => {
  /** The front by definition: every COMPLETE trial no other one dominates (maximize negated). */
  function bruteForceFront(values: readonly (readonly number[])[], directions: readonly ('minimize' | 'maximize')[]): number[] {
    const loss = values.map((v) => v.map((x, k) => (directions[k] === 'minimize' ? x : -x)));
    const dominated = (a: readonly number[], b: readonly number[]): boolean =>
      a.every((x, k) => x <= b[k]) && a.some((x, k) => x < b[k]);
    return loss.flatMap((l, i) => (loss.some((o) => dominated(o, l)) ? [] : [i]));
  }

  it('equals a brute-force front with ties, duplicates, constant objectives and maximize, in trial order', async () => {
    let seed = 7;
    const next = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const cases: ('minimize' | 'maximize')[][] = [
      ['minimize', 'maximize'],
      ['maximize', 'maximize', 'minimize'],
      ['minimize', 'maximize', 'minimize', 'maximize'],
    ];
    for (const directions of cases) {
      for (const n of [1, 2, 60]) {
        const study = await createStudy({ directions });
        const values: number[][] = [];
        for (let i = 0; i < n; i++) {
          // Few distinct levels make ties and exact duplicates common; the last objective is constant.
          const v = directions.map((_, k) => (k === directions.length - 1 ? 3 : Math.floor(next() * 4)));
          values.push(v);
          await study.tell(await study.ask(), v);
        }
        await study.tell(await study.ask(), { state: 'FAIL' });
        const front = (await study.bestTrials()).map((t) => t.number);
        expect(front, `${directions.join(',')} n=${n}`).toEqual(bruteForceFront(values, directions));
      }
    }
  });

  it('compares each trial with the front found so far, not with every other trial', async () => {
    // It compared every pair: 5,000 trials all on the front took ~0.9 s per call (now ~0.2 s),
    // 20,000 about 14 s. Counted here as reads of `values`: at most a few per trial.
    const study = await createStudy({ directions: ['minimize', 'maximize'] });
    const n = 300;
    for (let i = 0; i < n; i++) await study.tell(await study.ask(), [i % 17, (i * 7) % 23]);
    let reads = 0;
    const plain = study.getTrials.bind(study);
    study.getTrials = async (options) =>
      (await plain(options)).map(
        (t) =>
          new Proxy(t, {
            get(target, key, receiver) {
              if (key === 'values') reads++;
              return Reflect.get(target, key, receiver) as unknown;
            },
          }),
      );
    await study.bestTrials();
    expect(reads, `reads of values for ${n} trials`).toBeLessThanOrEqual(2 * n);
  });
});

describe('typed arrays as objective values', () => {
  it('takes a Float64Array or Float32Array from tell and from an objective as its values', async () => {
    // tell took a typed array for TellOptions and its `values` method for the values: the trial
    // FAILed with "the objective returned function".
    const study = await createStudy({ directions: ['minimize', 'maximize'] });
    const told = await study.tell(await study.ask(), new Float64Array([1.5, -2]));
    expect(told.state).toBe('COMPLETE');
    expect(told.values).toEqual([1.5, -2]);
    expect((await study.tell(await study.ask(), { values: new Float32Array([0.5, 4]) })).values).toEqual([0.5, 4]);
    await study.optimize(() => new Float32Array([0.25, 8]), { nTrials: 1, handleSigint: false });
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE']);
    expect(trials[2].values).toEqual([0.25, 8]);
    // Wrong length or NaN inside a typed array fail the trial as for a plain array.
    expect((await study.tell(await study.ask(), new Float64Array([1]))).systemAttrs.fail_reason).toMatch(/1 value\(s\) but the study has 2/);
    expect((await study.tell(await study.ask(), new Float64Array([1, Number.NaN]))).systemAttrs.fail_reason).toMatch(/NaN/);
  });
});

describe('pruning a multi-objective study', () => {
  const message =
    'option "pruner": expected no pruner for study "mo-pruned", which has 2 directions (minimize, maximize): pruning is undefined for several objectives, received "median"';

  it('refuses a pruner at createStudy, before the study is created', async () => {
    // It was accepted, and only shouldPrune threw: inside optimize that error was caught like any
    // objective error, so every trial of the budget ran to its first report and was recorded FAIL.
    const storage = new InMemoryStorage();
    const error = await createStudy({ studyName: 'mo-pruned', directions: ['minimize', 'maximize'], pruner: new MedianPruner(), storage }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toBe(message);
    expect(await storage.getAllStudies()).toEqual([]);
    // NopPruner (the default) is no pruning, and one direction takes any pruner.
    await createStudy({ directions: ['minimize', 'maximize'], pruner: new NopPruner(), storage });
    await createStudy({ directions: ['maximize'], pruner: new MedianPruner(), storage });
  });

  it('refuses a pruner at loadStudy of a study with several directions', async () => {
    const storage = new InMemoryStorage();
    const study = await createStudy({ studyName: 'mo-pruned', directions: ['minimize', 'maximize'], storage });
    const error = await loadStudy({ studyName: 'mo-pruned', storage, pruner: new MedianPruner() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toBe(message);
    // The trials are untouched, and loading without a pruner works.
    expect((await study.tell(await study.ask(), [1, 2])).state).toBe('COMPLETE');
    expect((await (await loadStudy({ studyName: 'mo-pruned', storage })).getTrials()).length).toBe(1);
  });
});

describe('a single-objective sampler on a multi-objective study', () => {
  const message =
    'option "sampler": expected a sampler that takes several objectives for study "mo-tpe", which has 2 directions (minimize, maximize): ' +
    'tpe models one objective; use GpSampler, NsgaIiSampler, RandomSampler, SobolSampler or GridSampler, received "tpe"';

  it('refuses TpeSampler at createStudy, before the study is created', async () => {
    // It was accepted, and every ask then created a trial that beforeTrial failed: one FAIL per ask.
    const storage = new InMemoryStorage();
    const error = await createStudy({ studyName: 'mo-tpe', directions: ['minimize', 'maximize'], sampler: new TpeSampler(), storage }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ code: 'INVALID_OPTION', option: 'sampler', message });
    expect(await storage.getAllStudies()).toEqual([]);
    // One direction takes TpeSampler; the samplers that model several objectives take several.
    await createStudy({ directions: ['maximize'], sampler: new TpeSampler(), storage });
    for (const sampler of [new RandomSampler(), new SobolSampler(), new GridSampler({ space: { x: [0, 1] } }), new NsgaIiSampler(), new GpSampler()]) {
      expect((await createStudy({ directions: ['minimize', 'maximize'], sampler, storage })).sampler).toBe(sampler);
    }
  });

  it('refuses it with loadIfExists and at loadStudy of a stored study with several directions, creating no trial', async () => {
    const storage = new InMemoryStorage();
    const study = await createStudy({ studyName: 'mo-tpe', directions: ['minimize', 'maximize'], storage });
    const loaded = await createStudy({ studyName: 'mo-tpe', directions: ['minimize', 'maximize'], sampler: new TpeSampler(), storage, loadIfExists: true }).catch(
      (e: unknown) => e,
    );
    expect(loaded).toMatchObject({ code: 'INVALID_OPTION', option: 'sampler', message });
    const error = await loadStudy({ studyName: 'mo-tpe', storage, sampler: new TpeSampler() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ code: 'INVALID_OPTION', option: 'sampler', message });
    expect(await study.getTrials()).toEqual([]);
  });

  it('refuses it when a Study is constructed directly', () => {
    const init = { studyId: 0, studyName: 'mo-tpe', directions: ['minimize', 'maximize'] as const, storage: new InMemoryStorage(), pruner: new NopPruner(), ownsStorage: false };
    expect(() => new Study({ ...init, sampler: new TpeSampler() })).toThrow(message);
    expect(new Study({ ...init, sampler: new RandomSampler() }).directions).toEqual(['minimize', 'maximize']);
  });
});

describe('stale trials of live processes', () => {
  /** Starts the busy worker; resolves its trial id once it has asked, and its output at exit. */
  function startBusyWorker(path: string, busyMs: number): { asked: Promise<number>; done: Promise<string>; child: ChildProcess } {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/study/fixtures/busy-worker.ts', path, String(busyMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const asked = new Promise<number>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        const m = /^asked (\d+)$/m.exec(out);
        if (m !== null) resolve(Number(m[1]));
      });
      child.on('exit', () => reject(new Error(`the busy worker exited before asking: ${out}`)));
    });
    const done = new Promise<string>((resolve) => child.on('exit', () => resolve(out)));
    return { asked, done, child };
  }

  it('a worker blocked by a synchronous objective keeps its trial; a killed one loses it to the sweep', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-busy-'));
    const path = join(dir, 'hb.journal');
    try {
      const study = await createStudy({ studyName: 'hb', storage: path, loadIfExists: true });
      // Alive, but its event loop is blocked for 4 s: it writes no heartbeat in that time.
      const busy = startBusyWorker(path, 4_000);
      const busyId = await busy.asked;
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(await study.failStaleTrials({ graceMs: 300 })).toEqual([]);
      expect(await busy.done).toMatch(/^told COMPLETE$/m);
      expect((await study.storage.getTrial(busyId)).values).toEqual([0.5]);

      // Killed: its heartbeat stops for good and the sweep records its trial as FAIL.
      const killed = startBusyWorker(path, 60_000);
      const killedId = await killed.asked;
      killed.child.kill('SIGKILL');
      await killed.done;
      await new Promise((resolve) => setTimeout(resolve, 400));
      const number = (await study.storage.getTrial(killedId)).number;
      expect(await study.failStaleTrials({ graceMs: 300 })).toEqual([number]);
      // What it was running is on record (it suggested x, yielded, then was killed before any report).
      const swept = await study.storage.getTrial(killedId);
      expect(swept.state).toBe('FAIL');
      expect(typeof swept.params.x).toBe('number');
      await study.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('two tells of one trial at once', () => {
  it('run one after the other: the second is refused before the sampler sees a result that is not recorded', async () => {
    // Both tells read the trial as RUNNING and both ran the sampler's finish hook (constraintsFunc
    // twice, the losing value's penalty cached by NsgaIiSampler), before storage refused the second.
    const seen: number[] = [];
    const sampler = new NsgaIiSampler({
      seed: 1,
      constraintsFunc: (t) => {
        seen.push(t.values![0]);
        return [t.values![0] - 1];
      },
    });
    const study = await createStudy({ directions: ['minimize', 'minimize'], sampler });
    const trial = await study.ask();
    trial.suggestFloat('x', 0, 1);
    const [first, second] = await Promise.allSettled([study.tell(trial, [1, 1]), study.tell(trial.number, [2, 2])]);
    expect(first.status).toBe('fulfilled');
    expect(second.status === 'rejected' ? second.reason : second.value).toBeInstanceOf(TrialFinishedError);
    expect(seen).toEqual([1]);
    const [stored] = await study.getTrials();
    expect([stored.values, stored.systemAttrs.constraints]).toEqual([[1, 1], [0]]);
  });
});
