/**
 * Misuse of the Study API and hostile values from objectives: each gets a typed error or a recorded
 * FAIL, never a crash that leaves a trial RUNNING or a value silently dropped.
 */
import { describe, expect, it, vi } from 'vitest';
import { InvalidOptionError, StorageError, TrialFinishedError, TrialPrunedError } from '../../src/errors.js';
import { resetWarnOnce } from '../../src/util/warn.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ThresholdPruner } from '../../src/pruners/threshold.js';
import { NsgaIiSampler } from '../../src/samplers/genetic/nsga-ii-sampler.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { createStudy, deleteStudy, getAllStudySummaries, loadStudy } from '../../src/study/create-study.js';
import type { OptimizeCallback } from '../../src/study/optimize.js';
import type { Study } from '../../src/study/study.js';
import type { Trial } from '../../src/trial/trial.js';

describe('optimize with objectives that throw odd values', () => {
  it('records FAIL for a thrown value that cannot be converted to a string, and goes on', async () => {
    const study = await createStudy();
    class BadMessage extends Error {
      override get message(): string {
        throw new Error('getter');
      }
    }
    const thrown: unknown[] = [Object.create(null), new BadMessage(), undefined, 42];
    await study.optimize(
      (trial) => {
        throw thrown[trial.number];
      },
      { nTrials: thrown.length },
    );
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['FAIL', 'FAIL', 'FAIL', 'FAIL']);
    expect(trials[0].systemAttrs.fail_reason).toMatch(/null prototype/);
    expect(trials[1].systemAttrs.fail_reason).toMatch(/Error/);
    expect(trials[2].systemAttrs.fail_reason).toBe('undefined');
    expect(trials[3].systemAttrs.fail_reason).toBe('42');
  });

  it('stops on a thrown null as on any other error that is not caught (catch: none, a callback)', async () => {
    // `fatal === null` meant "no error yet", so a thrown null was never rethrown: every trial ran.
    const study = await createStudy();
    let nRun = 0;
    const objective = (): number => {
      nRun++;
      throw null;
    };
    await expect(study.optimize(objective, { nTrials: 5, catch: 'none' })).rejects.toBeNull();
    expect(nRun).toBe(1);
    const callback = (): void => {
      throw null;
    };
    await expect(study.optimize(() => 1, { nTrials: 5, callbacks: [callback] })).rejects.toBeNull();
    expect((await study.getTrials()).map((t) => t.state)).toEqual(['FAIL', 'COMPLETE']);
  });

  it('refuses a sparse callbacks array before running any trial', async () => {
    // some() skips holes, so [, fn] passed the check and the hole was called after the first
    // trial: a TypeError (callback is not a function) rejected optimize.
    const study = await createStudy();
    const sparse = [, () => undefined] as unknown as OptimizeCallback[];
    await expect(study.optimize(() => 1, { nTrials: 2, callbacks: sparse })).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'callbacks' });
    expect(await study.getTrials()).toHaveLength(0);
  });

  it('refuses a catch entry that is not a class before running any trial', async () => {
    const study = await createStudy();
    const arrow = (() => undefined) as unknown as typeof Error;
    await expect(study.optimize(() => 1, { nTrials: 1, catch: [arrow] })).rejects.toThrow(InvalidOptionError);
    await expect(study.optimize(() => 1, { nTrials: 1, catch: [arrow] })).rejects.toThrow(/catch/);
    expect(await study.getTrials()).toHaveLength(0);
    // A bound class still works with instanceof.
    class Recoverable extends Error {}
    const Bound = Recoverable.bind(null) as unknown as typeof Error;
    await study.optimize(
      () => {
        throw new Recoverable('x');
      },
      { nTrials: 1, catch: [Bound] },
    );
    expect((await study.getTrials()).map((t) => t.state)).toEqual(['FAIL']);
  });
});

describe('a Trial after tell', () => {
  it('refuses new suggestions, user attributes and reports instead of dropping them', async () => {
    const study = await createStudy();
    const trial = await study.ask();
    const x = trial.suggestFloat('x', 0, 1);
    await study.tell(trial, 1);
    expect(() => trial.suggestFloat('y', 0, 1)).toThrow(TrialFinishedError);
    expect(() => trial.suggestInt('n', 0, 3)).toThrow(TrialFinishedError);
    expect(() => trial.setUserAttr('late', 1)).toThrow(TrialFinishedError);
    expect(() => trial.report(0, 1)).toThrow(TrialFinishedError);
    expect(trial.intermediateValues).toEqual({});
    // A parameter the trial already has still reads back, as in Optuna.
    expect(trial.suggestFloat('x', 0, 1)).toBe(x);
    expect(trial.finishedState).toBe('COMPLETE');
    const [stored] = await study.getTrials();
    expect(stored.params).toEqual({ x });
    expect(stored.userAttrs).toEqual({});
  });

  it('is marked finished when told by number, too', async () => {
    const study = await createStudy();
    const trial = await study.ask();
    await study.tell(trial.number, { state: 'FAIL', failReason: 'gave up' });
    expect(() => trial.suggestFloat('y', 0, 1)).toThrow(TrialFinishedError);
  });

  it("a second tell does not run the sampler's finish hook (constraintsFunc) on the finished trial", async () => {
    // The hook ran on a preview of the refused result before storage said "finished": the user's
    // constraintsFunc saw values never recorded, and NsgaIiSampler cached the preview's penalty
    // (here Infinity, as the function fails for a PRUNED trial without values) over the stored
    // feasible constraints of trial 0.
    const seen: string[] = [];
    const sampler = new NsgaIiSampler({
      seed: 1,
      constraintsFunc: (t) => {
        seen.push(`${t.state}:${JSON.stringify(t.values)}`);
        return [t.values![0] - 5];
      },
    });
    const study = await createStudy({ sampler });
    const trial = await study.ask();
    trial.suggestFloat('x', 0, 1);
    await study.tell(trial, 1);
    await expect(study.tell(trial.number, 10)).rejects.toBeInstanceOf(TrialFinishedError);
    await expect(study.tell(trial, { state: 'PRUNED' })).rejects.toBeInstanceOf(TrialFinishedError);
    expect(seen).toEqual(['COMPLETE:[1]']);
    const [stored] = await study.getTrials();
    expect(stored.systemAttrs.constraints).toEqual([-4]);
    const penalties = (sampler as unknown as { state: WeakMap<object, { penalties: Map<number, number> }> }).state.get(study)?.penalties;
    expect(penalties?.get(stored.trialId)).toBe(0);
  });
});

describe('a second tell with a bad value', () => {
  // The value was checked before the trial's state: a second tell with NaN warned "trial failed:
  // the objective returned NaN" for a trial that was already finished and, warnOnce keying on the
  // message, the warning never came for the next trial that did fail with NaN. First only trials
  // known finished in this Study object were refused before the check; one still live here but
  // finished in storage (FAIL by another worker's failStaleTrials) was refused by storage only
  // after the warning.
  const cases: [string, (study: Study, trial: Trial) => Promise<unknown>, string][] = [
    ['a trial told here', (study, trial) => study.tell(trial, 1), 'COMPLETE'],
    ['a live trial finished elsewhere meanwhile (a stale-trial sweep of another worker)', (study, trial) => study.storage.finishTrial(trial.trialId, { state: 'FAIL' }), 'FAIL'],
  ];
  for (const [what, finish, state] of cases) {
    it(`warns nothing about the refused value for ${what}, and the warning still comes for a later trial that fails with it`, async () => {
      resetWarnOnce();
      const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      try {
        const study = await createStudy();
        const trial = await study.ask();
        await finish(study, trial);
        await expect(study.tell(trial, Number.NaN)).rejects.toBeInstanceOf(TrialFinishedError);
        await expect(study.tell(trial.number, [1, 2])).rejects.toBeInstanceOf(TrialFinishedError);
        expect(warnings).not.toHaveBeenCalled();
        expect((await study.getTrials()).map((t) => t.state)).toEqual([state]);

        const next = await study.ask();
        await study.tell(next, Number.NaN);
        expect(warnings.mock.calls.map((c) => [c[0], (c[1] as { code?: string }).code])).toEqual([
          ['trial failed: the objective returned NaN', 'INVALID_OBJECTIVE_VALUE'],
        ]);
      } finally {
        warnings.mockRestore();
      }
    });
  }
});

describe('tell refuses what Optuna refuses, leaving the trial unchanged', () => {
  it('values with state PRUNED or FAIL', async () => {
    const study = await createStudy();
    const trial = await study.ask();
    await trial.report(2, 0.25);
    await expect(study.tell(trial, { state: 'PRUNED', values: 9 })).rejects.toThrow(/option "values"/);
    await expect(study.tell(trial, { state: 'FAIL', values: [1] })).rejects.toBeInstanceOf(InvalidOptionError);
    expect((await study.getTrials())[0].state).toBe('RUNNING');
    const pruned = await study.tell(trial, { state: 'PRUNED', values: null });
    expect(pruned.state).toBe('PRUNED');
    expect(pruned.values).toEqual([0.25]);
  });

  it('a failReason that is not a string', async () => {
    const study = await createStudy();
    const trial = await study.ask();
    await expect(study.tell(trial, { state: 'FAIL', failReason: { a: 1 } as never })).rejects.toThrow(/failReason/);
    expect((await study.getTrials())[0].state).toBe('RUNNING');
  });

  it('a WAITING (enqueued, never asked) trial', async () => {
    const study = await createStudy();
    await study.enqueueTrial({ x: 0.5 });
    await expect(study.tell(0, 1)).rejects.toThrow(/WAITING/);
    expect((await study.getTrials())[0].state).toBe('WAITING');
    const trial = await study.ask();
    expect(trial.suggestFloat('x', 0, 1)).toBe(0.5);
    expect((await study.tell(0, 1)).state).toBe('COMPLETE');
  });
});

describe('enqueueTrial / addTrial / addTrials option checks', () => {
  it('reject non-objects with InvalidOptionError naming the option, creating nothing', async () => {
    const study = await createStudy();
    await expect(study.enqueueTrial({ x: 1 }, null as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'options' });
    await expect(study.addTrial(null as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'trial' });
    await expect(study.addTrial(7 as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'trial' });
    await expect(study.addTrials(5 as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'trials' });
    await expect(study.addTrials({ value: 1, params: {}, distributions: {} } as never)).rejects.toMatchObject({ option: 'trials' });
    expect(await study.getTrials()).toHaveLength(0);
  });

  it('addTrial refuses a misspelt or Optuna-named field instead of dropping it, and takes FrozenTrial data', async () => {
    const study = await createStudy();
    const base = { params: {}, distributions: {}, value: 1 };
    // Optuna's create_trial names: the attributes, reports and times were silently lost.
    for (const key of ['user_attrs', 'intermediate_values', 'datetime_start', 'userAttr']) {
      await expect(study.addTrial({ ...base, [key]: { 0: 1 } } as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', option: key });
    }
    expect(await study.getTrials()).toHaveLength(0);
    // FrozenTrial data (toJSON) carries trialId and number, which the import reassigns.
    const first = await study.addTrial(base);
    const again = await study.addTrial(JSON.parse(JSON.stringify(first)) as never);
    expect([again.number, again.values]).toEqual([1, [1]]);
  });
});

describe('tell with a Trial of another study', () => {
  it('is refused, leaving both trials RUNNING (trial ids are per storage)', async () => {
    const a = await createStudy({ studyName: 'a' });
    const b = await createStudy({ studyName: 'b' });
    const storage = new InMemoryStorage();
    const c = await createStudy({ studyName: 'c', storage });
    const d = await createStudy({ studyName: 'd', storage });
    await a.ask();
    await c.ask();
    const fromB = await b.ask();
    const fromD = await d.ask();
    await expect(a.tell(fromB, 123)).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'trial' });
    await expect(c.tell(fromD, 123)).rejects.toThrow(/of study \\"d\\"/);
    for (const study of [a, b, c, d]) expect((await study.getTrials()).map((t) => t.state)).toEqual(['RUNNING']);
    expect((await b.tell(fromB, 1)).values).toEqual([1]);
  });

  it('is accepted from another Study object of the same study on the same journal file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-tell-'));
    try {
      const path = join(dir, 's.journal');
      const first = await createStudy({ studyName: 's', storage: path });
      const second = await loadStudy({ studyName: 's', storage: path });
      const trial = await first.ask();
      expect((await second.tell(trial, 2)).state).toBe('COMPLETE');
      expect((await first.getTrials())[0].values).toEqual([2]);
      await first.close();
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps what the trial buffered when told through another Study object of the same study', async () => {
    // The second object took no buffered changes (the trial is live in the first), so the trial was
    // recorded COMPLETE without its parameters and user attributes, and stayed live in the first.
    const storage = new InMemoryStorage();
    const first = await createStudy({ studyName: 's', storage });
    const second = await loadStudy({ studyName: 's', storage });
    const trial = await first.ask();
    const x = trial.suggestFloat('x', 0, 1);
    trial.setUserAttr('u', 1);
    const told = await second.tell(trial, 2);
    expect([told.state, told.params, told.userAttrs]).toEqual(['COMPLETE', { x }, { u: 1 }]);
    expect((await first.getTrials())[0].params).toEqual({ x });
    expect(first.liveTrials()).toHaveLength(0);
  });
});

describe('enqueueTrial skipIfExists', () => {
  it('skips only a trial with exactly these parameters (its enqueued ones if enqueued), as Optuna does', async () => {
    const study = await createStudy();
    const opt = { kind: 'categorical', choices: ['adam', 'sgd'] } as const;
    const lr = { kind: 'float', low: 0, high: 1, log: false, step: null } as const;
    await study.addTrial({ value: 1, params: { opt: 'adam', lr: 0.1 }, distributions: { opt, lr } });
    // A trial with more parameters is not "this configuration": enqueued.
    await study.enqueueTrial({ opt: 'adam' }, { skipIfExists: true });
    expect(await study.getTrials({ states: ['WAITING'] })).toHaveLength(1);
    // The same again (an enqueued trial's fixed parameters), or all of a trial's parameters: skipped.
    await study.enqueueTrial({ opt: 'adam' }, { skipIfExists: true });
    await study.enqueueTrial({ lr: 0.1, opt: 'adam' }, { skipIfExists: true });
    expect(await study.getTrials({ states: ['WAITING'] })).toHaveLength(1);
    // Run the enqueued one: it suggests lr too, and still counts as {opt: 'adam'}.
    await study.optimize((trial) => (trial.suggestCategorical('opt', ['adam', 'sgd']) === 'adam' ? 0 : 1) + trial.suggestFloat('lr', 0, 1), { nTrials: 1 });
    await study.enqueueTrial({ opt: 'adam' }, { skipIfExists: true });
    expect(await study.getTrials()).toHaveLength(2);
    await study.enqueueTrial({ opt: 'sgd' }, { skipIfExists: true });
    expect(await study.getTrials()).toHaveLength(3);
  });

  it('skips duplicates among enqueues that were not awaited one by one (Promise.all), keeping call order', async () => {
    // Each call read the trials before any of them had created its own, so all four were queued.
    const study = await createStudy();
    const configs = [{ x: 1 }, { x: 1 }, { x: 2 }, { x: 1 }, { x: 3 }];
    await Promise.all(configs.map((params) => study.enqueueTrial(params, { skipIfExists: true })));
    const waiting = await study.getTrials({ states: ['WAITING'] });
    expect(waiting.map((t) => t.systemAttrs.fixed_params)).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }]);
  });
});

describe('deleteStudy / getAllStudySummaries option checks', () => {
  it('reject a missing options object or study name with InvalidOptionError', async () => {
    await expect(deleteStudy(null as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'options' });
    await expect(getAllStudySummaries(undefined as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', option: 'options' });
    // A missing journal file used to answer StudyNotFoundError for an undefined name.
    await expect(deleteStudy({ storage: 'missing-dir/none.journal' } as never)).rejects.toMatchObject({ option: 'studyName' });
  });
});

describe('optimize with an onTrialStart that throws', () => {
  it('records that trial as FAIL, launches nothing more, and rejects only once running trials are done', async () => {
    const study = await createStudy();
    let running = 0;
    // Objectives wait for a gate that opens in the macrotask after trial 4's onTrialStart throws.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const error = new Error('progress bar broke');
    const promise = study.optimize(
      async (trial) => {
        running++;
        if (trial.number >= 2) await gate;
        running--;
        return trial.suggestFloat('x', 0, 1);
      },
      {
        nTrials: 20,
        concurrency: 3,
        onTrialStart: (trial) => {
          if (trial.number !== 4) return;
          setImmediate(open);
          throw error;
        },
      },
    );
    await expect(promise).rejects.toBe(error);
    expect(running).toBe(0);
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).not.toContain('RUNNING');
    expect(trials[4].state).toBe('FAIL');
    expect(trials[4].systemAttrs.fail_reason).toMatch(/onTrialStart threw: Error: progress bar broke/);
    expect(trials).toHaveLength(5); // 0-1 done, 2-3 waiting at the gate beside 4
  });
  it('treats an async onTrialStart that rejects as one that throws, not as an unhandled rejection', async () => {
    const study = await createStudy();
    const error = new Error('progress display broke');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // `(trial) => void` accepts an async function: its rejection crashed Node by default.
      const promise = study.optimize((trial) => trial.suggestFloat('x', 0, 1), {
        nTrials: 5,
        onTrialStart: async (trial) => {
          if (trial.number === 1) throw error;
        },
      });
      await expect(promise).rejects.toBe(error);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'FAIL']);
    expect(trials[1].systemAttrs.fail_reason).toBe('onTrialStart threw: Error: progress display broke');
  });
});

describe('optimize handleSigint', () => {
  it('refuses a value that is not a boolean, before running any trial', async () => {
    // handleSigint: 'false' (from a config file or an environment variable) was truthy: SIGINT was taken over.
    const study = await createStudy();
    for (const value of ['false', 0, null]) {
      await expect(study.optimize(() => 1, { nTrials: 1, handleSigint: value as never })).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        option: 'handleSigint',
      });
    }
    expect(await study.getTrials()).toHaveLength(0);
  });
});

describe('optimize heartbeatIntervalMs', () => {
  it('refuses an interval longer than Node.js timers run (which would beat every 1 ms)', async () => {
    const study = await createStudy();
    await expect(study.optimize(() => 1, { nTrials: 1, heartbeatIntervalMs: 3e9 })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      option: 'heartbeatIntervalMs',
    });
    expect(await study.getTrials()).toHaveLength(0);
    await study.optimize(() => 1, { nTrials: 1, heartbeatIntervalMs: 2_147_483_647 });
    expect(await study.getTrials()).toHaveLength(1);
  });
});

describe('a custom pruner whose prune() returns no boolean', () => {
  it.each([['a string', 'yes'], ['nothing', undefined], ['a number (async)', 1]])(
    'returning %s: shouldPrune rejects with InvalidOptionError naming the pruner, and its trial fails',
    async (_label, decision) => {
      const pruner = { name: 'custom', prune: async () => decision as unknown as boolean };
      const study = await createStudy({ pruner });
      let error: unknown = null;
      await study.optimize(
        async (trial) => {
          await trial.report(0, 1);
          try {
            await trial.shouldPrune();
          } catch (e) {
            error = e;
            throw e;
          }
          return 1;
        },
        { nTrials: 1, handleSigint: false },
      );
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe('pruner');
      expect(String((error as Error).message)).toContain('custom');
      const [trial] = await study.getTrials();
      expect(trial.state).toBe('FAIL');
    },
  );

  it('a boolean passes through unchanged', async () => {
    const study = await createStudy({ pruner: { name: 'always', prune: () => true } });
    const trial = await study.ask();
    await trial.report(0, 1);
    expect(await trial.shouldPrune()).toBe(true);
  });
});

describe('shouldPrune after a report that was not awaited', () => {
  // Optuna's `trial.report(value, step)` is synchronous, so ported code often drops the `await`.
  // The journal's reads do not wait for its queued writes: shouldPrune read the trial back before
  // the report's write landed and the pruner judged the previous step (memory storage was right).
  it('judges the latest reported step, on memory and on journal storage', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-report-'));
    try {
      for (const storage of [undefined, join(dir, 'study.journal')]) {
        const study = await createStudy({ storage, pruner: new ThresholdPruner({ upper: 1 }) });
        const trial = await study.ask();
        void trial.report(0, 0.5);
        void trial.report(1, 5); // above `upper`: prune
        expect(await trial.shouldPrune()).toBe(true);
        expect((await study.getTrials())[0].intermediateValues).toEqual({ 0: 0.5, 1: 5 });
        await study.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Optuna's report(value, step), not awaited", () => {
  // Optuna's `trial.report(value, step)` is synchronous: ported code writes `trial.report(acc,
  // epoch)` without `await`. The swapped step (0.53) made `report` reject, nobody handled the
  // rejection, and Node killed the process (`kestrel run` left its in-flight trials RUNNING).
  it('fails that trial with the typed error, and the study goes on', async () => {
    const study = await createStudy({ direction: 'minimize' });
    await study.optimize(
      (trial) => {
        const x = trial.suggestFloat('x', 0, 1);
        if (trial.number === 0) void trial.report(0.53, 3);
        return x;
      },
      { nTrials: 3 },
    );
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['FAIL', 'COMPLETE', 'COMPLETE']);
    expect(String(trials[0].systemAttrs.fail_reason)).toMatch(/step.*0\.53/);
  });

  it('tell waits for its write: the value lands, and a failed write is retried by tell', async () => {
    // tell took the trial's buffered changes while an unawaited report's write was in flight: on a
    // storage whose writes are slower than its finishTrial the write then arrived after the trial
    // was finished (refused, the value dropped), and a write that failed restored its value into a
    // trial already told, so it was never written and nothing said so.
    class SlowStorage extends InMemoryStorage {
      failures = 0;
      override async updateTrial(...args: Parameters<InMemoryStorage['updateTrial']>): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, 10));
        if (this.failures > 0) {
          this.failures--;
          throw new StorageError('disk full');
        }
        return super.updateTrial(...args);
      }
    }
    const storage = new SlowStorage();
    const study = await createStudy({ storage });
    const trial = await study.ask();
    void trial.report(0, 0.5);
    expect((await study.tell(trial, 1)).intermediateValues).toEqual({ 0: 0.5 });
    const failing = await study.ask();
    storage.failures = 1;
    void failing.report(0, 0.25);
    expect((await study.tell(failing, 2)).intermediateValues).toEqual({ 0: 0.25 });
    expect((await study.getTrials()).map((t) => t.intermediateValues)).toEqual([{ 0: 0.5 }, { 0: 0.25 }]);
  });

  it('throws at the call, so a caller that does await it sees the same error', async () => {
    const study = await createStudy();
    const trial = await study.ask();
    expect(() => trial.report(0.53, 3)).toThrow(expect.objectContaining({ code: 'INVALID_PARAM_VALUE', param: 'step' }));
    await expect((async () => trial.report(0.53, 3))()).rejects.toMatchObject({ param: 'step' });
    await study.tell(trial, 1);
    expect(() => trial.report(0, 1)).toThrow(TrialFinishedError);
  });
});

describe("Optuna's `if trial.should_prune():` without await", () => {
  // shouldPrune() returns a Promise, always truthy: `if (trial.shouldPrune()) throw new
  // TrialPrunedError()` prunes every trial at its first check. It cannot be caught, but the
  // objective throwing TrialPrunedError while its shouldPrune() has not answered gives it away.
  const codes = (spy: { mock: { calls: unknown[][] } }) => spy.mock.calls.map((c) => (c[1] as { code?: string } | undefined)?.code);

  it('warns once (SHOULD_PRUNE_NOT_AWAITED) when the objective is pruned while shouldPrune() is pending', async () => {
    resetWarnOnce();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const study = await createStudy({ pruner: new ThresholdPruner({ upper: 100 }) });
      await study.optimize(
        async (trial) => {
          await trial.report(0, trial.suggestFloat('x', 0, 1));
          // As plain JavaScript would (TypeScript refuses the condition: TS2801).
          const answer: unknown = trial.shouldPrune();
          if (answer) throw new TrialPrunedError();
          return 0;
        },
        { nTrials: 3 },
      );
      expect((await study.getTrials()).map((t) => t.state)).toEqual(['PRUNED', 'PRUNED', 'PRUNED']);
      expect(codes(warnings).filter((c) => c === 'SHOULD_PRUNE_NOT_AWAITED')).toHaveLength(1);
    } finally {
      warnings.mockRestore();
    }
  });

  it('does not warn when concurrent folds await it and one is pruned while another still asks', async () => {
    // Cross-validation folds run with Promise.all, each `if (await trial.shouldPrune()) throw`: the
    // first fold pruned rejects the Promise.all while another fold's shouldPrune() is still pending
    // (here the pruner answers the second fold's question later).
    resetWarnOnce();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    let nQuestions = 0;
    const pruner = {
      name: 'slow-second',
      prune: async (): Promise<boolean> => {
        if (nQuestions++ % 2 === 1) await new Promise((resolve) => setTimeout(resolve, 20));
        return true;
      },
    };
    try {
      const study = await createStudy({ pruner });
      await study.optimize(
        async (trial) => {
          await Promise.all(
            [0.1, 0.9].map(async (score, fold) => {
              await trial.report(fold, score);
              if (await trial.shouldPrune()) throw new TrialPrunedError();
            }),
          );
          return 0;
        },
        { nTrials: 2 },
      );
      expect((await study.getTrials()).map((t) => t.state)).toEqual(['PRUNED', 'PRUNED']);
      expect(codes(warnings)).not.toContain('SHOULD_PRUNE_NOT_AWAITED');
    } finally {
      warnings.mockRestore();
    }
  });

  it('does not warn when the objective awaits it, or prunes on its own rule', async () => {
    resetWarnOnce();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const study = await createStudy({ pruner: new ThresholdPruner({ upper: 0.5 }) });
      await study.optimize(
        async (trial) => {
          const x = trial.suggestFloat('x', 0, 1);
          await trial.report(0, x);
          if (await trial.shouldPrune()) throw new TrialPrunedError();
          if (trial.number === 0) throw new TrialPrunedError('own rule');
          return x;
        },
        { nTrials: 6 },
      );
      expect((await study.getTrials()).some((t) => t.state === 'PRUNED')).toBe(true);
      expect(codes(warnings)).not.toContain('SHOULD_PRUNE_NOT_AWAITED');
    } finally {
      warnings.mockRestore();
    }
  });
});

describe('misspelt option names at the Study API', () => {
  // As samplers and pruners do: an option name the API does not know is an InvalidOptionError
  // naming it, never silently ignored (`n_trials` made optimize run without end, `directon` gave a
  // study minimizing what the user meant to maximize).
  it('createStudy and loadStudy refuse an unknown option', async () => {
    await expect(createStudy({ directon: 'maximize' } as never)).rejects.toThrow(/option "directon"/);
    await expect(createStudy({ study_name: 'x' } as never)).rejects.toThrow(InvalidOptionError);
    const storage = new InMemoryStorage();
    await createStudy({ studyName: 's', storage });
    await expect(loadStudy({ studyName: 's', storage, load_if_exists: true } as never)).rejects.toThrow(/option "load_if_exists"/);
    expect(await storage.getAllStudies()).toHaveLength(1);
  });

  it('optimize refuses an unknown option before running any trial', async () => {
    const study = await createStudy();
    // maxTrialsInStudy bounds the run that ignoring n_trials would make endless.
    await expect(study.optimize(() => 1, { n_trials: 3, maxTrialsInStudy: 5 } as never)).rejects.toThrow(/option "n_trials"/);
    await expect(study.optimize(() => 1, { nTrials: 1, timeout: 10 } as never)).rejects.toThrow(/option "timeout"/);
    expect(await study.getTrials()).toHaveLength(0);
  });

  it('ask, tryAsk, tell, enqueueTrial and getTrials refuse an unknown option', async () => {
    const study = await createStudy();
    await expect(study.ask({ x: { kind: 'float', low: 0, high: 1, log: false, step: null } } as never)).rejects.toThrow(/option "x"/);
    await expect(study.tryAsk({ max_trials: 1 } as never)).rejects.toThrow(/option "max_trials"/);
    expect(await study.getTrials()).toHaveLength(0);
    const trial = await study.ask();
    await expect(study.tell(trial, { value: 3 } as never)).rejects.toThrow(/option "value"/);
    expect((await study.getTrials())[0].state).toBe('RUNNING');
    await study.tell(trial, { values: 3 });
    await expect(study.enqueueTrial({ x: 1 }, { skip_if_exists: true } as never)).rejects.toThrow(/option "skip_if_exists"/);
    await expect(study.getTrials({ state: ['COMPLETE'] } as never)).rejects.toThrow(/option "state"/);
    expect((await study.getTrials()).map((t) => t.state)).toEqual(['COMPLETE']);
  });
});

describe('Study.stop and ask options of the wrong type', () => {
  it('stop(reason) refuses a reason that is not a string instead of not stopping', async () => {
    // stop(null) left the run's stop flag null: optimize ran all 10 trials, silently.
    for (const reason of [null, 0, Symbol('s')]) {
      const study = await createStudy();
      expect(() => study.stop(reason as unknown as string)).toThrow(InvalidOptionError);
      expect(() => study.stop(reason as unknown as string)).toThrow(/option "reason"/);
      expect(study.stopped).toBeNull();
      // Thrown in an objective, it fails that trial with the reason recorded.
      await study.optimize(
        (trial) => {
          if (trial.number === 1) study.stop(reason as unknown as string);
          return trial.number;
        },
        { nTrials: 3 },
      );
      const trials = await study.getTrials();
      expect(trials[1].state).toBe('FAIL');
      expect(trials[1].systemAttrs.fail_reason).toMatch(/option "reason"/);
    }
    const study = await createStudy();
    study.stop();
    expect(study.stopped).toBe('stopped by the user');
  });

  it('ask, tryAsk and askBatch refuse a heartbeat that is not a boolean instead of ignoring it', async () => {
    const study = await createStudy();
    for (const heartbeat of ['true', 1, null]) {
      const bad = { heartbeat } as unknown as { heartbeat: boolean };
      await expect(study.ask(bad)).rejects.toThrow(/option "heartbeat"/);
      await expect(study.tryAsk(bad)).rejects.toThrow(InvalidOptionError);
      await expect(study.askBatch(2, bad)).rejects.toThrow(/option "heartbeat"/);
    }
    expect(await study.getTrials()).toHaveLength(0);
  });

  it('ask refuses options that are not an object, as tryAsk does', async () => {
    const study = await createStudy();
    for (const options of [true, 5, 'heartbeat']) {
      await expect(study.ask(options as never)).rejects.toThrow(InvalidOptionError);
      await expect(study.askBatch(1, options as never)).rejects.toThrow(InvalidOptionError);
    }
    expect(await study.getTrials()).toHaveLength(0);
    // undefined and null keep meaning "no options".
    await study.ask(undefined);
    await study.ask(null as never);
    expect(await study.getTrials()).toHaveLength(2);
  });
});
