import { describe, expect, it, vi } from 'vitest';
import { InvalidOptionError, TrialPrunedError } from '../../src/errors.js';
import { SuccessiveHalvingPruner } from '../../src/pruners/successive-halving.js';
import { createStudy } from '../../src/study/create-study.js';
import type { JsonValue } from '../../src/trial/types.js';
import { resetWarnOnce } from '../../src/util/warn.js';

describe('Trial.setUserAttr', () => {
  it('throws InvalidOptionError naming the key for a value JSON cannot hold, recording nothing', async () => {
    const study = await createStudy();
    const trial = await study.ask();
    const bad: [unknown, string][] = [
      [Number.NaN, 'userAttrs.note'],
      [Infinity, 'userAttrs.note'],
      [new Date(0), 'userAttrs.note'],
      [undefined, 'userAttrs.note'],
      [() => 1, 'userAttrs.note'],
      [10n, 'userAttrs.note'],
      [new Map(), 'userAttrs.note'],
      [[0.5, Number.NaN], 'userAttrs.note[1]'],
      [{ curve: { last: undefined } }, 'userAttrs.note.curve.last'],
    ];
    for (const [value, option] of bad) {
      let thrown: unknown = null;
      try {
        trial.setUserAttr('note', value as JsonValue);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect(thrown).toMatchObject({ code: 'INVALID_OPTION', option });
      expect(trial.userAttrs).toEqual({});
    }
    expect(() => trial.setUserAttr(3 as never, 1)).toThrow(InvalidOptionError);
    // Nothing bad was buffered: the trial finishes normally.
    expect((await study.tell(trial, 1)).state).toBe('COMPLETE');
  });

  it('keeps a frozen deep copy of a JSON value', async () => {
    const study = await createStudy();
    const trial = await study.ask();
    const curve = { losses: [0.5, 0.25], done: false, note: null };
    trial.setUserAttr('curve', curve);
    curve.losses.push(0.1);
    expect(trial.userAttrs.curve).toEqual({ losses: [0.5, 0.25], done: false, note: null });
    expect(Object.isFrozen(trial.userAttrs.curve)).toBe(true);
    const frozen = await study.tell(trial, 1);
    expect(frozen.userAttrs.curve).toEqual({ losses: [0.5, 0.25], done: false, note: null });
  });
});

describe('Trial.report', () => {
  it('refuses a step beyond the safe integers at once, so later reports and the tell still work', async () => {
    const study = await createStudy();
    const trial = await study.ask();
    await trial.report(0, 1);
    expect(() => trial.report(2 ** 53, 1)).toThrow(expect.objectContaining({ code: 'INVALID_PARAM_VALUE', param: 'step' }));
    expect(() => trial.report(1e300, 1)).toThrow(expect.objectContaining({ code: 'INVALID_PARAM_VALUE', param: 'step' }));
    await trial.report(1, 2);
    const told = await study.tell(trial, 5);
    expect(told.state).toBe('COMPLETE');
    expect(told.intermediateValues).toEqual({ 0: 1, 1: 2 });
  });
});

describe('Trial.suggest* with names of Object.prototype members', () => {
  it('suggests, re-reads, enqueues and stores constructor, toString and __proto__ like any name', async () => {
    const study = await createStudy();
    await study.enqueueTrial({ constructor: 0.5 });
    const trial = await study.ask();
    expect(trial.suggestFloat('constructor', 0, 1)).toBe(0.5);
    const s = trial.suggestFloat('toString', 0, 1);
    const p = trial.suggestInt('__proto__', 0, 9);
    expect(trial.suggestFloat('toString', 0, 1)).toBe(s);
    expect(() => trial.suggestFloat('toString', 0, 2)).toThrow(/different distribution/);
    trial.setUserAttr('__proto__', { polluted: true });
    const told = await study.tell(trial, 1);
    expect(told.params).toEqual(Object.fromEntries([['constructor', 0.5], ['toString', s], ['__proto__', p]]));
    expect(Object.keys(told.userAttrs)).toEqual(['__proto__']);
    expect((told.userAttrs as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('FrozenTrial.value', () => {
  it('throws a KestrelError naming .values for a multi-objective trial', async () => {
    const study = await createStudy({ directions: ['minimize', 'maximize'] });
    const told = await study.tell(await study.ask(), [1, 2]);
    expect(told.values).toEqual([1, 2]);
    expect(() => told.value).toThrow(InvalidOptionError);
    expect(() => told.value).toThrow(/use \.values/);
  });
});

describe('Trial.suggest* parameter names', () => {
  it('refuses a name that is not a string, recording nothing', async () => {
    const study = await createStudy();
    const trial = await study.ask();
    for (const name of [5, undefined, null, {}, Symbol('s')]) {
      expect(() => trial.suggestFloat(name as never, 0, 1)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', option: 'name' }));
      expect(() => trial.suggestInt(name as never, 0, 1)).toThrow(InvalidOptionError);
      expect(() => trial.suggestCategorical(name as never, ['a'])).toThrow(InvalidOptionError);
    }
    expect((await study.tell(trial, 1)).params).toEqual({});
  });
});

describe('Trial.report at a step already reported', () => {
  it('keeps the first value and warns, as Optuna does, once per trial, step and value', async () => {
    resetWarnOnce();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const study = await createStudy();
      const trial = await study.ask();
      await trial.report(3, 1);
      await trial.report(3, 1); // the same value: nothing lost, no warning
      expect(warnings).not.toHaveBeenCalled();
      await trial.report(3, 2);
      await trial.report(3, 2);
      expect(warnings).toHaveBeenCalledTimes(1);
      expect(String(warnings.mock.calls[0][0])).toMatch(/step 3 was already reported \(value 1 kept\); the value 2 is ignored/);
      expect(warnings.mock.calls[0][1]).toMatchObject({ code: 'DUPLICATE_REPORT_STEP', type: 'KestrelWarning' });
      const told = await study.tell(trial, 0);
      expect(told.intermediateValues).toEqual({ 3: 1 });
    } finally {
      warnings.mockRestore();
    }
  });
});

describe('Trial.report at a step already reported, in two studies', () => {
  it("warns for each trial, even one with another study's trial number, step and values", async () => {
    // The warning was deduplicated process-wide by its message: trial 0 of a second study (the same
    // seeded objective rerun) was not warned about, and every such trial left its message in the
    // process-wide set for good (about 400 bytes per trial, 100,000 trials: 40 MB).
    resetWarnOnce();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      for (let i = 0; i < 2; i++) {
        const study = await createStudy();
        await study.optimize(
          async (trial) => {
            await trial.report(0, 1);
            await trial.report(0, 2);
            await trial.report(0, 2); // the same duplicate again: no second warning for this trial
            return 1;
          },
          { nTrials: 1, handleSigint: false },
        );
      }
      const codes = warnings.mock.calls.map((c) => (c[1] as { code?: string } | undefined)?.code);
      expect(codes.filter((c) => c === 'DUPLICATE_REPORT_STEP')).toHaveLength(2);
    } finally {
      warnings.mockRestore();
    }
  });
});

describe('Trial.shouldPrune not awaited', () => {
  it('does not end the process when its answer fails once the trial is told', async () => {
    // Optuna's `if trial.should_prune():` ported without await tests a Promise: the objective throws
    // TrialPrunedError and the trial is told PRUNED while the pruner still judges it. A pruner that
    // records rungs (successive halving) then wrote to the finished trial, and the TrialFinishedError
    // of that unawaited shouldPrune() was an unhandled rejection, which ends the process.
    resetWarnOnce();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const study = await createStudy({ pruner: new SuccessiveHalvingPruner({ minResource: 1 }) });
      await study.optimize(
        async (trial) => {
          await trial.report(1, trial.suggestFloat('x', 0, 1));
          if (trial.shouldPrune() as unknown) throw new TrialPrunedError();
          return 0;
        },
        { nTrials: 2 },
      );
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      expect((await study.getTrials()).map((t) => t.state)).toEqual(['PRUNED', 'PRUNED']);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      warnings.mockRestore();
    }
  });
});
