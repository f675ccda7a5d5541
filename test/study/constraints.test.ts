import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KestrelError, NoFeasibleTrialsError } from '../../src/errors.js';
import { NsgaIiSampler } from '../../src/samplers/genetic/nsga-ii-sampler.js';
import { GpSampler } from '../../src/samplers/gp/gp-sampler.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { createStudy } from '../../src/study/create-study.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import { resetWarnOnce } from '../../src/util/warn.js';

const dirs: string[] = [];
function tempJournal(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kestrel-constraints-'));
  dirs.push(dir);
  return join(dir, 'study.journal');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  resetWarnOnce();
});

/** Feasible when x <= 0.5. */
const constraintsFunc = (t: FrozenTrial): number[] => [(t.params.x as number) - 0.5];

/** Tells one trial per x with objective -x (minimize: larger x is better). */
async function tellXs(study: Awaited<ReturnType<typeof createStudy>>, xs: readonly number[]): Promise<void> {
  for (const x of xs) {
    await study.enqueueTrial({ x });
    const trial = await study.ask();
    await study.tell(trial, -trial.suggestFloat('x', 0, 1));
  }
}

describe('constraint values stored on trials (NsgaIiSampler constraintsFunc)', () => {
  it('writes them into systemAttrs.constraints at tell; they survive reopening a journal study', async () => {
    const path = tempJournal();
    const study = await createStudy({ studyName: 'c', storage: path, sampler: new NsgaIiSampler({ seed: 1, constraintsFunc }) });
    await tellXs(study, [0.25, 0.75]);
    const told = await study.getTrials();
    expect(told.map((t) => t.systemAttrs.constraints)).toEqual([[-0.25], [0.25]]);
    await study.close();

    // No constraintsFunc on the reopened study: the values come from the journal.
    const again = await createStudy({ studyName: 'c', storage: path, loadIfExists: true, sampler: new RandomSampler({ seed: 2 }) });
    expect((await again.getTrials()).map((t) => t.systemAttrs.constraints)).toEqual([[-0.25], [0.25]]);
    expect((await again.bestTrial()).number).toBe(0);
    expect((await again.bestTrials()).map((t) => t.number)).toEqual([0]);
    await again.close();
  });

  it('stores them for PRUNED trials too, and not for FAIL ones (as Optuna)', async () => {
    const study = await createStudy({ sampler: new NsgaIiSampler({ seed: 1, constraintsFunc }) });
    const pruned = await study.ask();
    pruned.suggestFloat('x', 0, 1);
    pruned.report(0, 1);
    const failed = await study.ask();
    failed.suggestFloat('x', 0, 1);
    const p = await study.tell(pruned, { state: 'PRUNED' });
    const f = await study.tell(failed, { state: 'FAIL' });
    expect(p.systemAttrs.constraints).toEqual([(p.params.x as number) - 0.5]);
    expect(Object.keys(f.systemAttrs)).not.toContain('constraints');
  });

  it('a bad constraintsFunc value is refused at tell and stored as null, the trial intact', async () => {
    const bad: unknown[] = [[Number.NaN], [Number.POSITIVE_INFINITY], 'x', [1, '2']];
    for (const value of bad) {
      const path = tempJournal();
      const sampler = new NsgaIiSampler({ seed: 1, constraintsFunc: () => value as number[] });
      const study = await createStudy({ studyName: 'c', storage: path, sampler });
      await study.enqueueTrial({ x: 0.25 });
      const trial = await study.ask();
      trial.suggestFloat('x', 0, 1);
      trial.setUserAttr('note', 'kept');
      const error = await study.tell(trial, 0.5).then(() => null, (e: unknown) => e);
      expect(error, JSON.stringify(value)).toBeInstanceOf(KestrelError);
      expect((error as KestrelError).code).toBe('CONSTRAINTS_FUNC_ERROR');
      await study.close();
      const again = await createStudy({ studyName: 'c', storage: path, loadIfExists: true });
      const [stored] = await again.getTrials();
      expect(stored.state).toBe('COMPLETE');
      expect(stored.values).toEqual([0.5]);
      expect(stored.params).toEqual({ x: 0.25 });
      expect(stored.userAttrs).toEqual({ note: 'kept' });
      expect(stored.systemAttrs.constraints).toBeNull();
      // No valid constraint values: infeasible, as Optuna 4 counts a trial without them.
      expect(await again.bestTrials()).toEqual([]);
      await again.close();
    }
  });

  it('a typed array from constraintsFunc is stored as plain numbers (NSGA-II and GP), as Optuna takes any sequence', async () => {
    // It was refused as "not an array": CONSTRAINTS_FUNC_ERROR at every tell, every trial infeasible.
    const returns = [
      (t: FrozenTrial) => new Float64Array([(t.params.x as number) - 0.5, -1]),
      (t: FrozenTrial) => new Float32Array([(t.params.x as number) - 0.5, -1]),
      (t: FrozenTrial) => Int8Array.of((t.params.x as number) > 0.5 ? 1 : -1, -1),
    ];
    for (const [i, func] of returns.entries()) {
      for (const sampler of [new NsgaIiSampler({ seed: 1, constraintsFunc: func as never }), new GpSampler({ seed: 1, constraintsFunc: func as never })]) {
        const path = tempJournal();
        const study = await createStudy({ studyName: 'c', storage: path, sampler });
        await tellXs(study, [0.25, 0.75]);
        const expected = [Array.from(func({ params: { x: 0.25 } } as unknown as FrozenTrial)), Array.from(func({ params: { x: 0.75 } } as unknown as FrozenTrial))];
        for (const t of await study.getTrials()) expect(Array.isArray(t.systemAttrs.constraints), `${i} ${sampler.name}`).toBe(true);
        expect((await study.getTrials()).map((t) => t.systemAttrs.constraints)).toEqual(expected);
        await study.close();
        const again = await createStudy({ studyName: 'c', storage: path, loadIfExists: true });
        expect((await again.getTrials()).map((t) => t.systemAttrs.constraints)).toEqual(expected);
        expect((await again.bestTrial()).number).toBe(0);
        await again.close();
      }
    }
  });

  it('a DataView, a BigInt64Array or a typed array holding NaN is refused, naming what it was', async () => {
    const cases: [unknown, RegExp][] = [
      [new DataView(new ArrayBuffer(8)), /expected an array of finite numbers, received a DataView$/],
      [new BigInt64Array([1n]), /expected an array of finite numbers, received a BigInt64Array$/],
      [new BigUint64Array([1n]), /expected an array of finite numbers, received a BigUint64Array$/],
      [new Float64Array([0, Number.NaN]), /expected an array of finite numbers, its value \[1\] was NaN$/],
      [new Float32Array([Number.POSITIVE_INFINITY]), /expected an array of finite numbers, its value \[0\] was Infinity$/],
    ];
    for (const [value, message] of cases) {
      const study = await createStudy({ sampler: new NsgaIiSampler({ seed: 1, constraintsFunc: () => value as number[] }) });
      const trial = await study.ask();
      trial.suggestFloat('x', 0, 1);
      const error = await study.tell(trial, 1).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(KestrelError);
      expect((error as KestrelError).code).toBe('CONSTRAINTS_FUNC_ERROR');
      expect((error as Error).message).toMatch(message);
      const [stored] = await study.getTrials();
      expect(stored.state).toBe('COMPLETE');
      expect(stored.systemAttrs.constraints).toBeNull();
    }
  });

  it('a throwing constraintsFunc is stored as null too', async () => {
    const sampler = new NsgaIiSampler({ seed: 1, constraintsFunc: () => { throw new Error('boom'); } });
    const study = await createStudy({ sampler });
    const trial = await study.ask();
    trial.suggestFloat('x', 0, 1);
    await expect(study.tell(trial, 1)).rejects.toThrow(/^constraintsFunc failed for trial 0: it threw: boom$/);
    const [stored] = await study.getTrials();
    expect(stored.state).toBe('COMPLETE');
    expect(stored.systemAttrs.constraints).toBeNull();
  });

  it('a constraintsFunc throwing a value with no string form still records the trial (NSGA-II and GP)', async () => {
    // String(Object.create(null)) throws TypeError: the hook used to reject with it, leaving the
    // trial RUNNING with its objective value lost.
    const throwing = (): number[] => {
      throw Object.create(null) as object;
    };
    await expectTrialKeptOnConstraintsError(throwing, /constraintsFunc failed for trial 0: it threw/);
  });

  it('a constraintsFunc result that throws when read (a lazy getter, a revoked Proxy) still records the trial (NSGA-II and GP)', async () => {
    // The result was read (Array.isArray, its elements) outside the function's try: the hook
    // rejected with the reader's own Error, leaving the trial RUNNING with its objective value lost.
    const lazy = (): number[] =>
      new Proxy([0], {
        get(target, key, receiver) {
          if (key === '0') throw new Error('lazy constraint failed');
          return Reflect.get(target, key, receiver) as unknown;
        },
      });
    const revoked = (): number[] => {
      const { proxy, revoke } = Proxy.revocable([0], {});
      revoke();
      return proxy;
    };
    for (const [func, message] of [
      [lazy, /it threw: lazy constraint failed/],
      [revoked, /it threw: .*revoked/],
    ] as const) {
      await expectTrialKeptOnConstraintsError(func, message);
    }
  });
});

/**
 * Tells one trial of an NSGA-II and of a GP study whose constraintsFunc fails: the tell rejects
 * with CONSTRAINTS_FUNC_ERROR (its text matching `message`) and the trial stays COMPLETE with its
 * value and no constraints.
 */
async function expectTrialKeptOnConstraintsError(func: () => number[], message: RegExp): Promise<void> {
  for (const sampler of [new NsgaIiSampler({ seed: 1, constraintsFunc: func }), new GpSampler({ seed: 1, constraintsFunc: func })]) {
    const study = await createStudy({ sampler });
    const trial = await study.ask();
    trial.suggestFloat('x', 0, 1);
    const error = await study.tell(trial, 1).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(KestrelError);
    expect((error as KestrelError).code).toBe('CONSTRAINTS_FUNC_ERROR');
    expect(String(error)).toMatch(message);
    const [stored] = await study.getTrials();
    expect(stored.state).toBe('COMPLETE');
    expect(stored.values).toEqual([1]);
    expect(stored.systemAttrs.constraints).toBeNull();
  }
}

describe('best trials of a constrained study', () => {
  it('bestTrial and bestTrials keep feasible trials only', async () => {
    const study = await createStudy({ sampler: new NsgaIiSampler({ seed: 1, constraintsFunc }) });
    // -x: 0.9 is the best value but infeasible; 0.5 (constraint exactly 0) is the best feasible.
    await tellXs(study, [0.2, 0.9, 0.5, 0.5, 0.7]);
    expect((await study.bestTrial()).number).toBe(2);
    expect(await study.bestValue()).toBe(-0.5);
    expect((await study.bestTrials()).map((t) => t.number)).toEqual([2, 3]);
  });

  it('multi-objective: the Pareto front of the feasible trials', async () => {
    const study = await createStudy({ directions: ['minimize', 'minimize'], sampler: new NsgaIiSampler({ seed: 1, constraintsFunc }) });
    for (const x of [0.1, 0.4, 0.9, 0.45]) {
      await study.enqueueTrial({ x });
      const trial = await study.ask();
      const v = trial.suggestFloat('x', 0, 1);
      await study.tell(trial, [-v, v * v]);
    }
    // 0.9 would dominate nothing away (it is on the unconstrained front) but is infeasible.
    expect((await study.bestTrials()).map((t) => t.number)).toEqual([0, 1, 3]);
  });

  it('none feasible: bestTrials is empty and bestTrial throws NoFeasibleTrialsError (as Optuna)', async () => {
    const study = await createStudy({ sampler: new NsgaIiSampler({ seed: 1, constraintsFunc }) });
    await tellXs(study, [0.8, 0.9]);
    expect(await study.bestTrials()).toEqual([]);
    const error = await study.bestTrial().then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(NoFeasibleTrialsError);
    expect((error as KestrelError).code).toBe('NO_FEASIBLE_TRIALS');
    await expect(study.bestValue()).rejects.toBeInstanceOf(NoFeasibleTrialsError);
  });

  it('in a constrained study, a COMPLETE trial without constraint values is infeasible (Optuna 4)', async () => {
    const storage = new InMemoryStorage();
    const study = await createStudy({ studyName: 's', storage, sampler: new NsgaIiSampler({ seed: 1, constraintsFunc }) });
    await tellXs(study, [0.3]);
    // Added without constraints: better value, but no constraint values.
    await study.addTrial({ params: { x: 0.1 }, distributions: (await study.getTrials())[0].distributions, value: -2 });
    expect((await study.bestTrial()).number).toBe(0);
    expect((await study.bestTrials()).map((t) => t.number)).toEqual([0]);
  });

  it('a study where no trial has constraint values is unconstrained (unchanged)', async () => {
    const study = await createStudy({ sampler: new NsgaIiSampler({ seed: 1 }) });
    await tellXs(study, [0.8, 0.9]);
    expect((await study.getTrials()).every((t) => !('constraints' in t.systemAttrs))).toBe(true);
    expect((await study.bestTrial()).number).toBe(1);
    expect((await study.bestTrials()).map((t) => t.number)).toEqual([1]);
  });
});

describe('a constrained study resumed without constraints', () => {
  it('warns once (CONSTRAINTS_NOT_RECORDED) when a trial is completed without constraint values', async () => {
    const codes: (string | undefined)[] = [];
    const onWarning = (w: Error & { code?: string }) => codes.push(w.code);
    process.on('warning', onWarning);
    try {
      const path = tempJournal();
      const first = await createStudy({ studyName: 'c', storage: path, sampler: new NsgaIiSampler({ seed: 1, constraintsFunc }) });
      await tellXs(first, [0.25, 0.75]);
      await first.close();
      // Unconstrained studies never warn.
      const plain = await createStudy({ sampler: new RandomSampler({ seed: 1 }) });
      await tellXs(plain, [0.1, 0.2]);
      await new Promise((r) => setImmediate(r));
      expect(codes).not.toContain('CONSTRAINTS_NOT_RECORDED');
      // Resumed with a sampler that records no constraint values: the new trials are infeasible.
      const resumed = await createStudy({ studyName: 'c', storage: path, loadIfExists: true, sampler: new RandomSampler({ seed: 2 }) });
      await tellXs(resumed, [0.1, 0.3]);
      await new Promise((r) => setImmediate(r));
      expect(codes.filter((c) => c === 'CONSTRAINTS_NOT_RECORDED')).toHaveLength(1);
      expect((await resumed.bestTrial()).params.x).toBe(0.25);
      await resumed.close();
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('a worker without constraints that started first', () => {
  it('still warns once constrained trials appear (the study is re-read at its 1st, 2nd, 4th... unconstrained tell)', async () => {
    const codes: (string | undefined)[] = [];
    const onWarning = (w: Error & { code?: string }) => codes.push(w.code);
    process.on('warning', onWarning);
    try {
      const storage = new InMemoryStorage();
      const plain = await createStudy({ studyName: 's', storage, sampler: new RandomSampler({ seed: 3 }) });
      await tellXs(plain, [0.9]); // no constrained trial exists yet: nothing to warn about
      const constrained = await createStudy({ studyName: 's', storage, loadIfExists: true, sampler: new NsgaIiSampler({ seed: 1, constraintsFunc }) });
      await tellXs(constrained, [0.25]);
      await tellXs(plain, [0.8, 0.7, 0.6]);
      await new Promise((r) => setImmediate(r));
      expect(codes.filter((c) => c === 'CONSTRAINTS_NOT_RECORDED')).toHaveLength(1);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
