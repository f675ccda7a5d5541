import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GridExhaustedError, InvalidOptionError, InvalidParamValueError, SearchSpaceError, StorageError } from '../../src/errors.js';
import { GridSampler } from '../../src/samplers/grid-sampler.js';
import { categoricalDistribution, floatDistribution, intDistribution } from '../../src/space/distributions.js';
import type { Distribution, ParamValue } from '../../src/space/types.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { JournalStorage } from '../../src/storage/journal-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { createStudy, loadStudy } from '../../src/study/create-study.js';
import { FrozenTrial } from '../../src/trial/frozen-trial.js';
import { SystemAttr } from '../../src/trial/system-attrs.js';
import { FakeStudy, ask, runTrial, suggestAll, tell } from './fake-study.js';

const VALUES = { x: [1, 2, 3], opt: ['a', 'b'] };
const SPACE: Record<string, Distribution> = {
  x: intDistribution('x', 1, 3),
  opt: categoricalDistribution('opt', ['a', 'b']),
};

function key(p: Readonly<Record<string, ParamValue>>): string {
  return JSON.stringify(Object.entries(p).sort());
}

describe('GridSampler', () => {
  it('enumerates a record of value lists (Cartesian product, first key slowest)', () => {
    const sampler = new GridSampler({ space: VALUES });
    expect(sampler.size).toBe(6);
    expect(sampler.points).toEqual([
      { x: 1, opt: 'a' },
      { x: 1, opt: 'b' },
      { x: 2, opt: 'a' },
      { x: 2, opt: 'b' },
      { x: 3, opt: 'a' },
      { x: 3, opt: 'b' },
    ]);
  });

  it('runs every grid point exactly once, then throws GridExhaustedError and stops the study', async () => {
    const sampler = new GridSampler({ space: VALUES });
    const study = new FakeStudy();
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const trial = await runTrial(sampler, study, SPACE);
      expect(sampler.gridIdOf(trial.trialId)).toBe(i);
      seen.push(key(trial.params));
    }
    expect(new Set(seen).size).toBe(6);
    expect(seen).toEqual(sampler.points.map(key));
    await expect(ask(sampler, study)).rejects.toBeInstanceOf(GridExhaustedError);
    await expect(ask(sampler, study)).rejects.toMatchObject({ code: 'GRID_EXHAUSTED' });
    expect(study.stopReason).toBe('grid exhausted');
  });

  it('stops the study when it claims the last point: a grid run records no extra FAIL trial', async () => {
    for (const concurrency of [1, 3]) {
      const study = await createStudy({ storage: new InMemoryStorage(), sampler: new GridSampler({ space: { x: [1, 2, 3, 4, 5, 6, 7] } }) });
      await study.optimize(
        async (t) => {
          await new Promise((resolve) => setImmediate(resolve));
          return t.suggestCategorical('x', [1, 2, 3, 4, 5, 6, 7]) as number;
        },
        { concurrency },
      );
      const trials = await study.getTrials();
      expect(trials.map((t) => t.state)).toEqual(Array(7).fill('COMPLETE'));
      expect(trials.map((t) => t.params.x).sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(study.stopped).toBe('grid exhausted');
    }
  });

  it('with concurrency above the grid size, creates no trial that finds the grid exhausted', async () => {
    // optimize({concurrency: 8}) on a 3-point grid recorded 5 FAIL trials: all eight asks were in
    // flight before the first claim. The extra asks now wait for those in flight, then end.
    class SlowClaims extends InMemoryStorage {
      override async claim(studyId: number, key: string): Promise<boolean> {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return super.claim(studyId, key);
      }
    }
    for (const storage of [new InMemoryStorage(), new SlowClaims()]) {
      const study = await createStudy({ storage, sampler: new GridSampler({ space: { x: [1, 2, 3] } }) });
      await study.optimize((t) => t.suggestCategorical('x', [1, 2, 3]) as number, { concurrency: 8 });
      const trials = await study.getTrials();
      expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE']);
      expect(trials.map((t) => t.params.x).sort()).toEqual([1, 2, 3]);
      expect(study.stopped).toBe('grid exhausted');
      // A later run, or a direct ask, creates no trial either.
      await study.optimize((t) => t.suggestCategorical('x', [1, 2, 3]) as number, { concurrency: 2 });
      await expect(study.ask()).rejects.toBeInstanceOf(GridExhaustedError);
      expect(await study.getTrials()).toHaveLength(3);
    }
  });

  it('runs enqueued trials beside the grid when concurrency exceeds the points left', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new GridSampler({ space: { x: [1, 2] } }) });
    for (const x of [5, 6, 7]) await study.enqueueTrial({ x });
    await study.optimize(
      async (t) => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        return t.suggestInt('x', 0, 9);
      },
      { concurrency: 6 },
    );
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(Array(5).fill('COMPLETE'));
    expect(trials.map((t) => t.params.x).sort()).toEqual([1, 2, 5, 6, 7]);
  });

  it('an enqueued trial without parameters counts as taking a grid point', async () => {
    // enqueueTrial({}, {userAttrs}) is popped, not gated, yet the grid hands it a point: the other
    // asks did not count it and one of them was recorded FAIL 'all 2 grid points have been claimed'.
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new GridSampler({ space: { x: [1, 2] } }) });
    await study.enqueueTrial({}, { userAttrs: { note: 'first' } });
    await study.optimize(
      async (t) => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        return t.suggestInt('x', 1, 2);
      },
      { concurrency: 3 },
    );
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE']);
    expect(trials.map((t) => t.params.x).sort()).toEqual([1, 2]);
    expect(trials[0].userAttrs).toEqual({ note: 'first' });
  });

  it('concurrent direct asks beyond the grid: the extra ones reject without creating trials', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new GridSampler({ space: { x: [1, 2, 3] } }) });
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => study.ask()));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(GridExhaustedError);
    expect(await study.getTrials()).toHaveLength(3);
    expect(study.liveTrials()).toHaveLength(3);
  });

  it('stops the study when it hands out the last point, before a slow claim returns', async () => {
    // A journal's claim takes milliseconds: stopping only once the last claim returned let a
    // worker that finished meanwhile launch a trial, which found the grid exhausted and was
    // recorded as FAIL (`kestrel run examples/grid.yaml --concurrency 4` on a journal: 2 of 18).
    // Here: claims take 100 ms; x = 1 runs 150 ms (the others 1 ms): it ends at ~250 ms, while the
    // last point's claim is pending (handed out at ~200 ms, returning at ~300 ms).
    class SlowClaims extends InMemoryStorage {
      override async claim(studyId: number, key: string): Promise<boolean> {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return super.claim(studyId, key);
      }
    }
    const study = await createStudy({ storage: new SlowClaims(), sampler: new GridSampler({ space: { x: [1, 2, 3, 4] } }) });
    await study.optimize(
      async (t) => {
        const x = t.suggestCategorical('x', [1, 2, 3, 4]) as number;
        await new Promise((resolve) => setTimeout(resolve, x === 1 ? 150 : 1));
        return x;
      },
      { concurrency: 2 },
    );
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(Array(4).fill('COMPLETE'));
    expect(study.stopped).toBe('grid exhausted');
  });

  it('never runs a point twice across workers sharing claims, even when asked concurrently', async () => {
    const claims = new Set<string>();
    const workers = [0, 1, 2].map(() => ({ sampler: new GridSampler({ space: VALUES, shuffle: true, seed: 3 }), study: new FakeStudy(1, claims) }));
    const seen: string[] = [];
    let exhausted = 0;
    for (let round = 0; round < 4; round++) {
      const results = await Promise.allSettled(workers.map(({ sampler, study }) => ask(sampler, study)));
      for (let w = 0; w < workers.length; w++) {
        const r = results[w];
        if (r.status === 'rejected') {
          expect(r.reason).toBeInstanceOf(GridExhaustedError);
          exhausted++;
          continue;
        }
        const { sampler, study } = workers[w];
        const params = suggestAll(sampler, study, r.value, SPACE);
        await tell(sampler, study, r.value, params, SPACE, 0);
        seen.push(key(params));
      }
    }
    expect(seen.length).toBe(6);
    expect(new Set(seen).size).toBe(6);
    expect(exhausted).toBe(6);
    expect(claims.size).toBe(6);
  });

  it('keeps a local cursor: a worker does not re-claim ids it saw taken', async () => {
    const study = new FakeStudy();
    let calls = 0;
    const claim = study.claim.bind(study);
    study.claim = async (k: string) => {
      calls++;
      return claim(k);
    };
    const sampler = new GridSampler({ space: VALUES });
    for (let i = 0; i < 6; i++) await runTrial(sampler, study, SPACE);
    await expect(ask(sampler, study)).rejects.toBeInstanceOf(GridExhaustedError);
    expect(calls).toBe(6);
  });

  it('shuffles with a seed: a permutation, reproducible, different from enumeration order', async () => {
    const space = { i: Array.from({ length: 20 }, (_, k) => k) };
    const dist = { i: intDistribution('i', 0, 19) };
    const order = async (seed: number) => {
      const sampler = new GridSampler({ space, shuffle: true, seed });
      const study = new FakeStudy();
      const out: number[] = [];
      for (let t = 0; t < 20; t++) out.push((await runTrial(sampler, study, dist)).params.i as number);
      return out;
    };
    const a = await order(1);
    expect([...a].sort((x, y) => x - y)).toEqual(space.i);
    expect(await order(1)).toEqual(a);
    expect(a).not.toEqual(space.i);
    expect(await order(2)).not.toEqual(a);
  });

  it('accepts a declarative space, conditionals included', async () => {
    const sampler = new GridSampler({
      space: {
        lr: { type: 'float', low: 1e-3, high: 1e-1, log: true, n: 3 },
        optimizer: { type: 'categorical', choices: { sgd: { momentum: { type: 'float', low: 0, high: 0.9, step: 0.45 } }, adam: {} } },
      },
    });
    expect(sampler.size).toBe(3 * (3 + 1));
    const study = new FakeStudy();
    const trial = await ask(sampler, study);
    const lr = floatDistribution('lr', 1e-3, 1e-1, { log: true });
    const optimizer = categoricalDistribution('optimizer', ['sgd', 'adam']);
    const params = suggestAll(sampler, study, trial, { lr, optimizer });
    expect(params).toEqual({ lr: 1e-3, optimizer: 'sgd' });
    const momentum = floatDistribution('optimizer.sgd.momentum', 0, 0.9, { step: 0.45 });
    expect(sampler.sampleIndependent(study, trial.trial, 'optimizer.sgd.momentum', momentum)).toBe(0);
  });

  it('an enqueued trial claims no grid point, so every point still runs (as in Optuna)', async () => {
    const sampler = new GridSampler({ space: VALUES });
    const study = new FakeStudy();
    /** A trial created with `fixed_params`, as `study.enqueueTrial` stores it. */
    const enqueued = (fixed: Record<string, ParamValue>): FrozenTrial => {
      const plain = study.createTrial();
      const trial = new FrozenTrial({ ...plain.toJSON(), systemAttrs: { [SystemAttr.fixedParams]: fixed } });
      study.trials[plain.number] = trial;
      return trial;
    };
    const first = enqueued({ x: 3, opt: 'b' });
    await sampler.beforeTrial(study, first);
    expect(sampler.gridIdOf(first.trialId)).toBeNull();
    expect(study.claims.size).toBe(0);
    // a parameter it was not enqueued with has no value to come from
    expect(() => sampler.sampleIndependent(study, first, 'x', SPACE.x)).toThrow(SearchSpaceError);
    expect(() => sampler.sampleIndependent(study, first, 'x', SPACE.x)).toThrow(/was not enqueued for trial 0/);
    // the sampled trials then take all six points, the enqueued one included
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(key((await runTrial(sampler, study, SPACE)).params));
    expect(seen).toEqual(sampler.points.map(key));
    await expect(ask(sampler, study)).rejects.toBeInstanceOf(GridExhaustedError);
    // an exhausted grid does not stop an enqueued trial; one enqueued with no values needs a point
    await expect(sampler.beforeTrial(study, enqueued({ x: 1, opt: 'a' }))).resolves.toBeUndefined();
    await expect(sampler.beforeTrial(study, enqueued({}))).rejects.toBeInstanceOf(GridExhaustedError);
  });

  it('with a Study: enqueueTrial({x: 3}) on the grid {1, 2, 3} still evaluates 1, 2 and 3', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), sampler: new GridSampler({ space: { x: [1, 2, 3] } }) });
    await study.enqueueTrial({ x: 3 });
    await study.optimize((t) => t.suggestCategorical('x', [1, 2, 3]) as number, { nTrials: 10 });
    const complete = (await study.getTrials({ states: ['COMPLETE'] })).map((t) => t.params.x);
    expect(complete).toEqual([3, 1, 2, 3]);
    expect(study.stopped).toBe('grid exhausted');
  });

  it('rejects names not in the grid and grid values outside the suggested distribution', async () => {
    const sampler = new GridSampler({ space: VALUES });
    const study = new FakeStudy();
    const { trial } = await ask(sampler, study);
    expect(() => sampler.sampleIndependent(study, trial, 'y', floatDistribution('y', 0, 1))).toThrow(SearchSpaceError);
    expect(() => sampler.sampleIndependent(study, trial, 'y', floatDistribution('y', 0, 1))).toThrow(/"y": is not in the grid/);
    expect(() => sampler.sampleIndependent(study, trial, 'x', intDistribution('x', 5, 9))).toThrow(InvalidParamValueError);
    const unprepared = study.createTrial();
    expect(() => sampler.sampleIndependent(study, unprepared, 'x', SPACE.x)).toThrow(/no grid point/);
  });

  it('validates options', () => {
    expect(() => new GridSampler({} as unknown as { space: Record<string, number[]> })).toThrow(InvalidOptionError);
    expect(() => new GridSampler({ space: {} })).toThrow(/option "space"/);
    expect(() => new GridSampler({ space: { x: [] } })).toThrow(SearchSpaceError);
    expect(() => new GridSampler({ space: { x: [1, 1] } })).toThrow(/duplicate/);
    expect(() => new GridSampler({ space: { x: { type: 'float', low: 0, high: 1 } } })).toThrow(/grid search needs step or n/);
    expect(() => new GridSampler({ space: VALUES, shuffle: 1 as unknown as boolean })).toThrow(/option "shuffle"/);
    expect(() => new GridSampler({ space: VALUES, shuffle: true, seed: 0.1 })).toThrow(/option "seed"/);
  });
});

describe('GridSampler handed to a second study', () => {
  // Each in-memory study has study id 0 and trial ids from 0: the sampler's cursor (by study id)
  // and its grid-point assignments (by trial id) of the first study were taken for the second's.
  it('runs the whole grid again, each point once, and stops without a FAIL trial', async () => {
    const sampler = new GridSampler({ space: { x: [1, 2, 3] } });
    const objective = (trial: { suggestInt(name: string, low: number, high: number): number }): number =>
      trial.suggestInt('x', 1, 3);
    const first = await createStudy({ sampler });
    await first.optimize(objective);
    expect((await first.getTrials()).map((t) => t.params.x)).toEqual([1, 2, 3]);

    const second = await createStudy({ sampler });
    // An imported trial shifts the trial ids of the second study against the first's.
    await second.addTrial({ params: {}, distributions: {}, value: 0 });
    await second.optimize(objective);
    const trials = await second.getTrials();
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE', 'COMPLETE']);
    expect(trials.slice(1).map((t) => t.params.x).sort()).toEqual([1, 2, 3]);
  });
});

describe('a grid study rerun or resumed by a new Study object (another process, a second `kestrel run`)', () => {
  // A new Study object (and sampler) starts its cursor at the first grid id: it took every point
  // for free, created a trial per concurrent ask, found every id claimed and recorded it FAIL.
  const root = mkdtempSync(join(tmpdir(), 'kestrel-grid-rerun-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let nJournals = 0;
  const storages = (): Array<[string, () => Storage]> => {
    const memory = new InMemoryStorage();
    const path = join(root, `g${nJournals++}.journal`);
    return [
      ['memory', () => memory],
      ['journal', () => new JournalStorage({ path })],
    ];
  };
  const points = [1, 2, 3, 4, 5];
  const objective = async (t: { suggestCategorical(n: string, c: readonly number[]): unknown }): Promise<number> => {
    await new Promise((resolve) => setImmediate(resolve));
    return t.suggestCategorical('x', points) as number;
  };
  const quiet = { handleSigint: false } as const;

  it('ends a rerun of an exhausted grid at once: no trial, no FAIL, the finished trials unchanged', async () => {
    for (const [kind, storage] of storages()) {
      const first = await createStudy({ studyName: 'g', storage: storage(), sampler: new GridSampler({ space: { x: points } }) });
      await first.optimize(objective, { concurrency: 2, ...quiet });
      const before = (await first.getTrials()).map((t) => t.toJSON());
      expect(before.map((t) => t.state), kind).toEqual(Array(5).fill('COMPLETE'));
      for (const concurrency of [1, 4]) {
        const again = await loadStudy({ studyName: 'g', storage: storage(), sampler: new GridSampler({ space: { x: points } }) });
        await again.optimize(objective, { concurrency, ...quiet });
        expect(again.stopped, kind).toBe('grid exhausted');
        await expect(again.ask()).rejects.toBeInstanceOf(GridExhaustedError);
        await expect(again.askBatch(3)).rejects.toBeInstanceOf(GridExhaustedError);
        expect((await again.getTrials()).map((t) => t.toJSON()), `${kind}, concurrency ${concurrency}`).toEqual(before);
        if (kind === 'journal') await again.close();
      }
      if (kind === 'journal') await first.close();
    }
  });

  it('resumes a partly run grid with concurrency above the points left: each left point once, no FAIL', async () => {
    for (const [kind, storage] of storages()) {
      const first = await createStudy({ studyName: 'g', storage: storage(), sampler: new GridSampler({ space: { x: points }, shuffle: true, seed: 5 }) });
      await first.optimize(objective, { nTrials: 2, ...quiet });
      const resumed = await loadStudy({ studyName: 'g', storage: storage(), sampler: new GridSampler({ space: { x: points }, shuffle: true, seed: 5 }) });
      await resumed.optimize(objective, { concurrency: 8, ...quiet });
      const trials = await resumed.getTrials();
      expect(trials.map((t) => t.state), kind).toEqual(Array(5).fill('COMPLETE'));
      expect(trials.map((t) => t.params.x).sort(), kind).toEqual(points);
      expect(resumed.stopped).toBe('grid exhausted');
      if (kind === 'journal') {
        await first.close();
        await resumed.close();
      }
    }
  });

  it('still runs the grid once per point on a custom storage without areClaimed (taken points found by claiming)', async () => {
    const memory = new InMemoryStorage();
    const storage = new Proxy(memory, { get: (target, key) => (key === 'areClaimed' ? undefined : Reflect.get(target, key)) });
    const study = await createStudy({ storage, sampler: new GridSampler({ space: { x: points } }) });
    await study.optimize(objective, { concurrency: 3, ...quiet });
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual(Array(5).fill('COMPLETE'));
    expect(trials.map((t) => t.params.x).sort()).toEqual(points);
  });

  it('a custom storage whose areClaimed answers something other than one boolean per key is a StorageError naming it', async () => {
    // Its answer was used unchecked: a non-array was a bare TypeError out of the grid sampler.
    for (const answer of ['yes', [true], [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], null]) {
      const memory = new InMemoryStorage();
      const storage = new Proxy(memory, {
        get: (target, key) => (key === 'areClaimed' ? async () => answer : Reflect.get(target, key)),
      });
      const study = await createStudy({ storage, sampler: new GridSampler({ space: { x: points } }) });
      const error = await study.optimize(objective, { concurrency: 2, ...quiet }).then(() => null, (e: unknown) => e);
      expect(error, JSON.stringify(answer)).toBeInstanceOf(StorageError);
      expect(String(error)).toMatch(/areClaimed/);
      expect(await study.getTrials()).toHaveLength(0);
    }
  });

  it('two Study objects on one storage sharing a grid: each point once, in whichever order they take them', async () => {
    // Sequential workers (one after the other on a shared journal): the second finds the first's
    // claims in storage rather than one FAIL trial per id it had not seen taken.
    for (const [kind, storage] of storages()) {
      const a = await createStudy({ studyName: 'g', storage: storage(), sampler: new GridSampler({ space: { x: points } }) });
      const b = await loadStudy({ studyName: 'g', storage: storage(), sampler: new GridSampler({ space: { x: points } }) });
      await b.optimize(objective, { nTrials: 1, ...quiet }); // b takes point 0 (x = 1)
      await a.optimize(objective, { concurrency: 3, ...quiet }); // a takes the other four
      await b.optimize(objective, { concurrency: 3, ...quiet }); // none left: b ends without a trial
      const trials = await a.getTrials();
      expect(trials.map((t) => t.state), kind).toEqual(Array(5).fill('COMPLETE'));
      expect(trials.map((t) => t.params.x), kind).toEqual(points);
      if (kind === 'journal') {
        await a.close();
        await b.close();
      }
    }
  });
});
