/**
 * The contract every storage backend satisfies (see the doc comment of src/storage/storage.ts).
 * Call `runStorageContract(name, makeStorage, cleanup?)` from a backend's test file; `makeStorage`
 * returns a fresh, empty storage on every call and `cleanup` runs after each test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Storage } from '../../src/storage/storage.js';
import type { Distribution } from '../../src/space/types.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';

export const X: Distribution = { kind: 'float', low: -5, high: 5, log: false, step: null };
export const N: Distribution = { kind: 'int', low: 1, high: 9, log: false, step: 2 };
export const C: Distribution = { kind: 'categorical', choices: ['adam', 'sgd', null] };

type Maker = () => Storage | Promise<Storage>;

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code });
}

/** Plain data of a snapshot, for deep comparisons. */
function data(trial: FrozenTrial): unknown {
  return JSON.parse(JSON.stringify(trial.toJSON()));
}

export function runStorageContract(name: string, makeStorage: Maker, cleanup?: () => void | Promise<void>): void {
  describe(`${name}: storage contract`, () => {
    const opened: Storage[] = [];
    async function make(): Promise<Storage> {
      const storage = await makeStorage();
      opened.push(storage);
      return storage;
    }

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      if (cleanup !== undefined) await cleanup();
    });

    it('creates, finds, lists and deletes studies', async () => {
      const s = await make();
      const a = await s.createStudy('a', ['minimize']);
      const b = await s.createStudy('b', ['maximize', 'minimize']);
      expect(a).not.toBe(b);
      expect(await s.getStudyIdFromName('a')).toBe(a);
      expect(await s.getStudyName(b)).toBe('b');
      expect(await s.getStudyDirections(b)).toEqual(['maximize', 'minimize']);
      await s.createTrial(b);
      const all = await s.getAllStudies();
      expect(all.map((x) => [x.studyName, x.nTrials])).toEqual([
        ['a', 0],
        ['b', 1],
      ]);
      expect(typeof all[0].datetimeCreated).toBe('number');

      const trial = await s.createTrial(a);
      await s.deleteStudy(a);
      await rejectsWith(s.getStudyIdFromName('a'), 'STUDY_NOT_FOUND');
      await rejectsWith(s.getStudyName(a), 'STUDY_NOT_FOUND');
      // A deleted study is named in the error (it read study "#0"), and said to be deleted.
      await expect(s.createTrial(a)).rejects.toMatchObject({ code: 'STUDY_NOT_FOUND', studyName: 'a', message: expect.stringMatching(/deleted/) });
      await rejectsWith(s.getTrial(trial.trialId), 'TRIAL_NOT_FOUND');
      // A worker still running a trial of the deleted study learns why its result cannot be stored.
      const deleted = { code: 'TRIAL_NOT_FOUND', trialId: trial.trialId, message: expect.stringMatching(/its study "a" was deleted/) };
      await expect(s.finishTrial(trial.trialId, { state: 'COMPLETE', values: [1] })).rejects.toMatchObject(deleted);
      await expect(s.updateTrial(trial.trialId, { userAttrs: { k: 1 } })).rejects.toMatchObject(deleted);
      await expect(s.getTrial(trial.trialId)).rejects.toMatchObject(deleted);
      await expect(s.getTrial(trial.trialId + 1000)).rejects.toMatchObject({ message: 'trial ' + String(trial.trialId + 1000) + ' does not exist' });
      expect((await s.getAllStudies()).map((x) => x.studyName)).toEqual(['b']);
      // The name is free again; the new study gets a new id and starts at trial number 0.
      const a2 = await s.createStudy('a', ['minimize']);
      expect(a2).not.toBe(a);
      expect((await s.createTrial(a2)).number).toBe(0);
    });

    it('rejects duplicate study names and invalid study options', async () => {
      const s = await make();
      await s.createStudy('dup', ['minimize']);
      await rejectsWith(s.createStudy('dup', ['maximize']), 'DUPLICATED_STUDY');
      await rejectsWith(s.createStudy('', ['minimize']), 'INVALID_OPTION');
      await rejectsWith(s.createStudy('x', []), 'INVALID_OPTION');
      await rejectsWith(s.createStudy('x', ['up' as never]), 'INVALID_OPTION');
      expect((await s.getAllStudies()).length).toBe(1);
    });

    it('rejects unknown ids without creating anything', async () => {
      const s = await make();
      const id = await s.createStudy('s', ['minimize']);
      const ghost = id + 1000;
      await rejectsWith(s.getStudyName(ghost), 'STUDY_NOT_FOUND');
      await rejectsWith(s.getStudyDirections(ghost), 'STUDY_NOT_FOUND');
      await rejectsWith(s.deleteStudy(ghost), 'STUDY_NOT_FOUND');
      await rejectsWith(s.createTrial(ghost), 'STUDY_NOT_FOUND');
      await rejectsWith(s.popWaitingTrial(ghost), 'STUDY_NOT_FOUND');
      await rejectsWith(s.getAllTrials(ghost), 'STUDY_NOT_FOUND');
      await rejectsWith(s.getNTrials(ghost), 'STUDY_NOT_FOUND');
      await rejectsWith(s.claim(ghost, 'k'), 'STUDY_NOT_FOUND');
      await rejectsWith(s.setStudyUserAttr(ghost, 'k', 1), 'STUDY_NOT_FOUND');
      await rejectsWith(s.getStudyUserAttrs(ghost), 'STUDY_NOT_FOUND');
      await rejectsWith(s.getStudyIdFromName('nope'), 'STUDY_NOT_FOUND');
      await rejectsWith(s.getTrial(12345), 'TRIAL_NOT_FOUND');
      await rejectsWith(s.updateTrial(12345, { userAttrs: { a: 1 } }), 'TRIAL_NOT_FOUND');
      await rejectsWith(s.finishTrial(12345, { state: 'COMPLETE', values: [1] }), 'TRIAL_NOT_FOUND');
      await rejectsWith(s.getStudyName(-1), 'INVALID_OPTION');
      expect((await s.getAllStudies()).length).toBe(1);
      expect(await s.getNTrials(id)).toBe(0);
    });

    it('numbers trials densely under 100 concurrent createTrial calls', async () => {
      const s = await make();
      const a = await s.createStudy('a', ['minimize']);
      const b = await s.createStudy('b', ['minimize']);
      const created = await Promise.all(Array.from({ length: 100 }, (_, i) => s.createTrial(i % 4 === 0 ? b : a)));
      const numbersA = created.filter((_, i) => i % 4 !== 0).map((t) => t.number).sort((x, y) => x - y);
      const numbersB = created.filter((_, i) => i % 4 === 0).map((t) => t.number).sort((x, y) => x - y);
      expect(numbersA).toEqual(Array.from({ length: 75 }, (_, i) => i));
      expect(numbersB).toEqual(Array.from({ length: 25 }, (_, i) => i));
      expect(new Set(created.map((t) => t.trialId)).size).toBe(100);
      for (const t of created) {
        expect(t.state).toBe('RUNNING');
        expect(typeof t.datetimeStart).toBe('number');
        expect(t.datetimeComplete).toBeNull();
        expect(t.values).toBeNull();
      }
      expect(await s.getNTrials(a)).toBe(75);
    });

    it('creates trials only below a count, atomically, under concurrency (createTrialIfBelow)', async () => {
      const s = await make();
      const id = await s.createStudy('s', ['minimize']);
      const other = await s.createStudy('other', ['minimize']);
      await s.createTrial(id);
      await s.createTrial(id, { state: 'WAITING' }); // every state counts
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => s.createTrialIfBelow(id, 25, { systemAttrs: { i } })),
      );
      const created = results.filter((t): t is FrozenTrial => t !== null);
      expect(created.map((t) => t.number).sort((x, y) => x - y)).toEqual(Array.from({ length: 23 }, (_, i) => i + 2));
      for (const t of created) {
        expect(t.state).toBe('RUNNING');
        expect(typeof t.systemAttrs.i).toBe('number');
      }
      expect(await s.getNTrials(id)).toBe(25);
      expect(await s.createTrialIfBelow(id, 25)).toBeNull();
      expect(await s.createTrialIfBelow(id, 0)).toBeNull();
      expect(await s.getNTrials(id)).toBe(25);
      expect((await s.createTrialIfBelow(other, 1))?.number).toBe(0);
      for (const bad of [-1, 1.5, Number.NaN, '3']) {
        await rejectsWith(s.createTrialIfBelow(id, bad as never), 'INVALID_OPTION');
      }
      await rejectsWith(s.createTrialIfBelow(99, 5), 'STUDY_NOT_FOUND');
      await rejectsWith(s.createTrialIfBelow(id, 25, { state: 'DONE' as never }), 'INVALID_OPTION'); // at the budget too
      expect(await s.getNTrials(id)).toBe(25);
    });

    it('pops each WAITING trial exactly once, oldest first, under concurrency', async () => {
      const s = await make();
      const id = await s.createStudy('s', ['minimize']);
      expect(await s.popWaitingTrial(id)).toBeNull();
      const enqueued: FrozenTrial[] = [];
      for (let i = 0; i < 10; i++) {
        enqueued.push(await s.createTrial(id, { state: 'WAITING', systemAttrs: { fixed: { x: i } } }));
      }
      expect(enqueued[0].datetimeStart).toBeNull();
      // One of them is told directly (never popped); it must not come out of the queue.
      await s.finishTrial(enqueued[3].trialId, { state: 'FAIL' });
      const first = await s.popWaitingTrial(id);
      expect(first?.number).toBe(0);
      expect(first?.state).toBe('RUNNING');
      expect(typeof first?.datetimeStart).toBe('number');
      const popped = await Promise.all(Array.from({ length: 30 }, () => s.popWaitingTrial(id)));
      const got = popped.filter((t): t is FrozenTrial => t !== null);
      expect(got.length).toBe(8);
      expect(got.map((t) => t.number).sort((x, y) => x - y)).toEqual([1, 2, 4, 5, 6, 7, 8, 9]);
      expect(await s.getNTrials(id, { states: ['WAITING'] })).toBe(0);
      expect(await s.getNTrials(id, { states: ['RUNNING'] })).toBe(9);
      expect(await s.popWaitingTrial(id)).toBeNull();
      // The queue keeps working after it was drained.
      const late = await s.createTrial(id, { state: 'WAITING' });
      expect((await s.popWaitingTrial(id))?.trialId).toBe(late.trialId);
    });

    it('queues a WAITING trial that holds enqueued_number at that number\'s place', async () => {
      const s = await make();
      const id = await s.createStudy('s', ['minimize']);
      const [a, b] = [await s.createTrial(id, { state: 'WAITING' }), await s.createTrial(id, { state: 'WAITING' })];
      const c = await s.createTrial(id, { state: 'WAITING' });
      // Trials 0 and 1 are asked, their asks withdrawn, and their configurations enqueued again,
      // the later one first: each goes back to its place, before trial 2, in the original order.
      expect((await s.popWaitingTrial(id))?.trialId).toBe(a.trialId);
      expect((await s.popWaitingTrial(id))?.trialId).toBe(b.trialId);
      for (const t of [a, b]) await s.finishTrial(t.trialId, { state: 'FAIL' });
      const again1 = await s.createTrial(id, { state: 'WAITING', systemAttrs: { enqueued_number: b.number } });
      const again0 = await s.createTrial(id, { state: 'WAITING', systemAttrs: { enqueued_number: a.number } });
      const d = await s.createTrial(id, { state: 'WAITING' });
      const order: number[] = [];
      for (let t = await s.popWaitingTrial(id); t !== null; t = await s.popWaitingTrial(id)) order.push(t.trialId);
      expect(order).toEqual([again0.trialId, again1.trialId, c.trialId, d.trialId]);
      // Only a WAITING trial is placed by it; elsewhere it is an ordinary attribute.
      const running = await s.createTrial(id, { systemAttrs: { enqueued_number: 'x' } });
      expect(running.systemAttrs.enqueued_number).toBe('x');
      const n = await s.getNTrials(id);
      for (const bad of [-1, 0.5, 'x', null, n + 1]) {
        await expect(s.createTrial(id, { state: 'WAITING', systemAttrs: { enqueued_number: bad } })).rejects.toMatchObject({
          code: 'INVALID_OPTION',
          option: 'template.systemAttrs.enqueued_number',
        });
      }
      expect(await s.getNTrials(id)).toBe(n);
    });

    it('claims each key exactly once per study', async () => {
      const s = await make();
      const a = await s.createStudy('a', ['minimize']);
      const b = await s.createStudy('b', ['minimize']);
      const keys = ['g0', 'g1', 'g2', 'g3', 'g4'];
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => s.claim(a, keys[i % 5])));
      for (let k = 0; k < 5; k++) {
        expect(results.filter((r, i) => r && i % 5 === k).length).toBe(1);
      }
      expect(await s.claim(a, 'g0')).toBe(false);
      expect(await s.claim(b, 'g0')).toBe(true);
      expect(await s.claim(b, 'g0')).toBe(false);
    });

    it('areClaimed (optional) reads the claims of a study without taking any', async () => {
      const s = await make();
      if (s.areClaimed === undefined) return; // a storage without it: grids find claims by claiming
      const a = await s.createStudy('a', ['minimize']);
      const b = await s.createStudy('b', ['minimize']);
      expect(await s.claim(a, 'g1')).toBe(true);
      expect(await s.areClaimed(a, ['g0', 'g1', 'g2'])).toEqual([false, true, false]);
      expect(await s.areClaimed(a, ['g0', 'g1', 'g2'])).toEqual([false, true, false]); // took nothing
      expect(await s.claim(a, 'g0')).toBe(true);
      expect(await s.areClaimed(a, ['g0'])).toEqual([true]);
      expect(await s.areClaimed(b, ['g0', 'g1'])).toEqual([false, false]);
      expect(await s.areClaimed(a, [])).toEqual([]);
      await rejectsWith(s.areClaimed(a + b + 1000, ['g0']), 'STUDY_NOT_FOUND');
      await rejectsWith(s.areClaimed(a, ['g0', 3 as unknown as string]), 'INVALID_OPTION');
      await rejectsWith(s.areClaimed(a, 'g0' as unknown as string[]), 'INVALID_OPTION');
    });

    it('never changes a finished trial (every write kind rejects with TRIAL_FINISHED)', async () => {
      const s = await make();
      const id = await s.createStudy('s', ['minimize']);
      for (const state of ['COMPLETE', 'PRUNED', 'FAIL'] as const) {
        const t = await s.createTrial(id);
        const done = await s.finishTrial(t.trialId, {
          state,
          values: state === 'COMPLETE' ? [1.5] : null,
          params: { x: 0.5 },
          distributions: { x: X },
          intermediateValues: { 0: 2 },
          userAttrs: { u: 1 },
        });
        expect(done.state).toBe(state);
        expect(typeof done.datetimeComplete).toBe('number');
        const before = data(await s.getTrial(t.trialId));
        await rejectsWith(s.updateTrial(t.trialId, { userAttrs: { u: 2 } }), 'TRIAL_FINISHED');
        await rejectsWith(s.updateTrial(t.trialId, { systemAttrs: { s: 2 } }), 'TRIAL_FINISHED');
        await rejectsWith(s.updateTrial(t.trialId, { intermediateValues: { 1: 3 } }), 'TRIAL_FINISHED');
        await rejectsWith(s.updateTrial(t.trialId, { params: { n: 3 }, distributions: { n: N } }), 'TRIAL_FINISHED');
        await rejectsWith(s.finishTrial(t.trialId, { state: 'COMPLETE', values: [0] }), 'TRIAL_FINISHED');
        await rejectsWith(s.finishTrial(t.trialId, { state: 'FAIL' }), 'TRIAL_FINISHED');
        expect(data(await s.getTrial(t.trialId))).toEqual(before);
      }
      // Two concurrent tells of one trial: exactly one wins.
      const t = await s.createTrial(id);
      const both = await Promise.allSettled([
        s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] }),
        s.finishTrial(t.trialId, { state: 'COMPLETE', values: [2] }),
      ]);
      expect(both.filter((r) => r.status === 'fulfilled').length).toBe(1);
      const rejected = both.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(rejected.reason).toMatchObject({ code: 'TRIAL_FINISHED' });
      expect((await s.getTrial(t.trialId)).values).toEqual([1]);
    });

    it('validates finishes: values per direction, finite for COMPLETE, params in their distributions', async () => {
      const s = await make();
      const id = await s.createStudy('mo', ['minimize', 'maximize']);
      const t = await s.createTrial(id);
      await rejectsWith(s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] }), 'INVALID_TRIAL_VALUE');
      await rejectsWith(s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1, Number.NaN] }), 'INVALID_TRIAL_VALUE');
      await rejectsWith(s.finishTrial(t.trialId, { state: 'COMPLETE' }), 'INVALID_TRIAL_VALUE');
      await rejectsWith(s.finishTrial(t.trialId, { state: 'RUNNING' as never, values: [1, 2] }), 'INVALID_OPTION');
      await rejectsWith(
        s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1, 2], params: { x: 7 }, distributions: { x: X } }),
        'INVALID_PARAM_VALUE',
      );
      expect((await s.getTrial(t.trialId)).state).toBe('RUNNING');
      const done = await s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1, -2], params: { x: 2 }, distributions: { x: X } });
      expect(done.values).toEqual([1, -2]);
      expect(done.params).toEqual({ x: 2 });
      const pruned = await s.finishTrial((await s.createTrial(id)).trialId, { state: 'PRUNED', values: null });
      expect(pruned.values).toBeNull();
    });

    it('validates addTrial (a finished template) fully and creates nothing on error', async () => {
      const s = await make();
      const id = await s.createStudy('s', ['minimize']);
      const good = { state: 'COMPLETE', values: [0.25], params: { x: 1, n: 3, c: null }, distributions: { x: X, n: N, c: C } } as const;
      await rejectsWith(s.createTrial(id, { ...good, params: { x: 1, n: 4, c: null } }), 'INVALID_PARAM_VALUE');
      await rejectsWith(s.createTrial(id, { ...good, params: { x: 6, n: 3, c: null } }), 'INVALID_PARAM_VALUE');
      await rejectsWith(s.createTrial(id, { ...good, params: { x: 1, n: 3, c: 'rmsprop' } }), 'INVALID_PARAM_VALUE');
      await rejectsWith(s.createTrial(id, { ...good, params: { ...good.params, y: 1 } }), 'INVALID_PARAM_VALUE');
      await rejectsWith(s.createTrial(id, { ...good, values: [Number.NaN] }), 'INVALID_TRIAL_VALUE');
      await rejectsWith(s.createTrial(id, { ...good, values: [Infinity] }), 'INVALID_TRIAL_VALUE');
      await rejectsWith(s.createTrial(id, { ...good, values: [1, 2] }), 'INVALID_TRIAL_VALUE');
      await rejectsWith(s.createTrial(id, { ...good, values: null }), 'INVALID_TRIAL_VALUE');
      await rejectsWith(s.createTrial(id, { state: 'RUNNING', values: [1] }), 'INVALID_TRIAL_VALUE');
      await rejectsWith(s.createTrial(id, { ...good, distributions: { ...good.distributions, x: { kind: 'float', low: 2, high: 1, log: false, step: null } } }), 'INVALID_SEARCH_SPACE');
      await rejectsWith(s.createTrial(id, { ...good, state: 'DONE' as never }), 'INVALID_OPTION');
      await rejectsWith(s.createTrial(id, { ...good, userAttrs: { bad: Number.NaN } }), 'INVALID_OPTION');
      expect(await s.getNTrials(id)).toBe(0);

      const added = await s.createTrial(id, { ...good, userAttrs: { note: 'warm start' }, datetimeStart: 1000, datetimeComplete: 4000 });
      expect(added.number).toBe(0);
      expect(added.state).toBe('COMPLETE');
      expect(added.value).toBe(0.25);
      expect(added.params).toEqual({ x: 1, n: 3, c: null });
      expect(added.distributions).toEqual({ x: X, n: N, c: C });
      expect(added.durationMs).toBe(3000);
      const failed = await s.createTrial(id, { state: 'FAIL' });
      expect(failed.number).toBe(1);
      expect(typeof failed.datetimeComplete).toBe('number');
    });

    it('stores intermediate values (merged by step, NaN kept) and keeps params consistent', async () => {
      const s = await make();
      const id = await s.createStudy('s', ['minimize']);
      const t = await s.createTrial(id);
      await s.updateTrial(t.trialId, { intermediateValues: { 0: 1.5, 1: 1.25 } });
      await s.updateTrial(t.trialId, { intermediateValues: { 2: Number.NaN }, params: { x: 0 }, distributions: { x: X } });
      await rejectsWith(s.updateTrial(t.trialId, { intermediateValues: { '-1': 3 } as never }), 'INVALID_OPTION');
      await rejectsWith(s.updateTrial(t.trialId, { params: { x: 1 } }), 'INVALID_PARAM_VALUE');
      await rejectsWith(s.updateTrial(t.trialId, { params: { x: 0 }, distributions: { x: N } }), 'DISTRIBUTION_CONFLICT');
      await rejectsWith(s.updateTrial(t.trialId, { distributions: { n: N } }), 'INVALID_PARAM_VALUE');
      await rejectsWith(s.updateTrial(t.trialId, { params: { n: 3 } }), 'INVALID_PARAM_VALUE');
      await s.updateTrial(t.trialId, { params: { x: 0, n: 3 }, distributions: { n: N } });
      const mid = await s.getTrial(t.trialId);
      expect(mid.intermediateValues[0]).toBe(1.5);
      expect(mid.intermediateValues[2]).toBeNaN();
      expect(mid.lastStep).toBe(2);
      expect(mid.params).toEqual({ x: 0, n: 3 });
      const done = await s.finishTrial(t.trialId, { state: 'PRUNED', values: [1.25], intermediateValues: { 3: -Infinity, 1: 9 } });
      expect(done.intermediateValues[1]).toBe(9);
      expect(done.intermediateValues[3]).toBe(-Infinity);
      expect(Object.keys(done.intermediateValues)).toEqual(['0', '1', '2', '3']);
      expect(done.values).toEqual([1.25]);
    });

    it('stores study and trial attributes as JSON, isolated from the caller', async () => {
      const s = await make();
      const id = await s.createStudy('s', ['minimize']);
      const nested = { lr: [0.1, 0.01], meta: { by: 'me' } };
      await s.setStudyUserAttr(id, 'cfg', nested);
      await s.setStudySystemAttr(id, 'sampler', 'gp');
      nested.lr.push(5);
      expect(await s.getStudyUserAttrs(id)).toEqual({ cfg: { lr: [0.1, 0.01], meta: { by: 'me' } } });
      expect(await s.getStudySystemAttrs(id)).toEqual({ sampler: 'gp' });
      await s.setStudyUserAttr(id, 'cfg', 2);
      expect(await s.getStudyUserAttrs(id)).toEqual({ cfg: 2 });
      await rejectsWith(s.setStudyUserAttr(id, 'bad', Infinity), 'INVALID_OPTION');
      await rejectsWith(s.setStudyUserAttr(id, 'bad', new Date() as never), 'INVALID_OPTION');
      const summary = (await s.getAllStudies())[0];
      expect(summary.userAttrs).toEqual({ cfg: 2 });
      expect(summary.systemAttrs).toEqual({ sampler: 'gp' });

      const t = await s.createTrial(id, { userAttrs: { a: 1 } });
      const attrs = { b: { deep: [1, 2] } };
      await s.updateTrial(t.trialId, { userAttrs: attrs, systemAttrs: { fixed: null } });
      attrs.b.deep.push(3);
      const got = await s.getTrial(t.trialId);
      expect(got.userAttrs).toEqual({ a: 1, b: { deep: [1, 2] } });
      expect(got.systemAttrs).toEqual({ fixed: null });
      await rejectsWith(s.updateTrial(t.trialId, { userAttrs: { f: (() => 1) as never } }), 'INVALID_OPTION');
    });

    it('keeps parameters and attribute keys named like Object.prototype members (constructor, __proto__)', async () => {
      const s = await make();
      const id = await s.createStudy('s', ['minimize']);
      const names = ['constructor', 'toString', 'hasOwnProperty', '__proto__'];
      const params: Record<string, number> = {};
      const dists: Record<string, Distribution> = {};
      const attrs: Record<string, number> = {};
      for (const [i, key] of names.entries()) {
        Object.defineProperty(params, key, { value: i, enumerable: true });
        Object.defineProperty(dists, key, { value: X, enumerable: true });
        Object.defineProperty(attrs, key, { value: i, enumerable: true });
      }
      const t = await s.createTrial(id);
      await s.updateTrial(t.trialId, { params, distributions: dists, userAttrs: attrs });
      // The same value and distribution again are accepted; another value is not.
      await s.updateTrial(t.trialId, { params: { constructor: 0 }, distributions: { constructor: X } });
      await rejectsWith(s.updateTrial(t.trialId, { params: { toString: 3 } }), 'INVALID_PARAM_VALUE');
      await s.setStudyUserAttr(id, '__proto__', { polluted: true });
      const done = await s.finishTrial(t.trialId, { state: 'COMPLETE', values: [1] });
      for (const [i, key] of names.entries()) {
        expect(Object.prototype.hasOwnProperty.call(done.params, key)).toBe(true);
        expect(done.params[key]).toBe(i);
        expect(done.distributions[key]).toEqual(X);
        expect(done.userAttrs[key]).toBe(i);
      }
      const studyAttrs = await s.getStudyUserAttrs(id);
      expect(Object.keys(studyAttrs)).toEqual(['__proto__']);
      expect(studyAttrs.polluted).toBeUndefined();
      const added = await s.createTrial(id, { state: 'COMPLETE', values: [2], params: { constructor: 1.5 }, distributions: { constructor: X } });
      expect(added.params).toEqual({ constructor: 1.5 });
    });

    it('stores -0 as 0 everywhere, as a journal reads it back (JSON has no -0)', async () => {
      const s = await make();
      const id = await s.createStudy('s', ['minimize', 'minimize']);
      await s.setStudyUserAttr(id, 'z', { a: [-0] });
      const t = await s.createTrial(id, { params: { x: -0 }, distributions: { x: X }, userAttrs: { u: -0 }, intermediateValues: { 0: -0 } });
      await s.updateTrial(t.trialId, { systemAttrs: { v: -0 }, intermediateValues: { 1: -0 } });
      await s.finishTrial(t.trialId, { state: 'COMPLETE', values: [-0, 1] });
      const f = await s.getTrial(t.trialId);
      // toEqual tells -0 from 0.
      expect(f.params).toEqual({ x: 0 });
      expect(f.values).toEqual([0, 1]);
      expect(f.userAttrs).toEqual({ u: 0 });
      expect(f.systemAttrs).toEqual({ v: 0 });
      expect(f.intermediateValues).toEqual({ 0: 0, 1: 0 });
      expect(await s.getStudyUserAttrs(id)).toEqual({ z: { a: [0] } });
    });

    it('lists trials ordered by number, filtered by state, with matching counts', async () => {
      const s = await make();
      const id = await s.createStudy('s', ['minimize']);
      const other = await s.createStudy('other', ['minimize']);
      const states = ['COMPLETE', 'RUNNING', 'FAIL', 'WAITING', 'PRUNED', 'COMPLETE', 'RUNNING'] as const;
      for (const [i, state] of states.entries()) {
        await s.createTrial(other);
        if (state === 'WAITING') await s.createTrial(id, { state });
        else if (state === 'RUNNING') await s.createTrial(id);
        else await s.createTrial(id, { state, values: state === 'COMPLETE' ? [i] : null });
      }
      const all = await s.getAllTrials(id);
      expect(all.map((t) => t.number)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(all.map((t) => t.state)).toEqual([...states]);
      const done = await s.getAllTrials(id, { states: ['COMPLETE', 'PRUNED'] });
      expect(done.map((t) => t.number)).toEqual([0, 4, 5]);
      expect(await s.getNTrials(id)).toBe(7);
      expect(await s.getNTrials(id, { states: ['COMPLETE'] })).toBe(2);
      expect(await s.getNTrials(id, { states: ['RUNNING', 'WAITING'] })).toBe(3);
      expect(await s.getNTrials(id, { states: [] })).toBe(0);
      expect(await s.getAllTrials(id, { states: [] })).toEqual([]);
      // A state change moves the counts.
      await s.finishTrial(all[1].trialId, { state: 'COMPLETE', values: [9] });
      expect(await s.getNTrials(id, { states: ['COMPLETE'] })).toBe(3);
      expect(await s.getNTrials(id, { states: ['RUNNING'] })).toBe(1);
      await rejectsWith(s.getNTrials(id, { states: ['DONE' as never] }), 'INVALID_OPTION');
    });

    it('hands out immutable snapshots that later writes never change', async () => {
      const s = await make();
      const id = await s.createStudy('s', ['minimize']);
      const t = await s.createTrial(id, { userAttrs: { a: 1 } });
      const list = await s.getAllTrials(id);
      const snap = await s.getTrial(t.trialId);
      const before = data(snap);
      expect(Object.isFrozen(snap)).toBe(true);
      expect(Object.isFrozen(snap.params)).toBe(true);
      await s.updateTrial(t.trialId, { userAttrs: { a: 2 }, params: { x: 1 }, distributions: { x: X }, intermediateValues: { 0: 1 } });
      await s.finishTrial(t.trialId, { state: 'COMPLETE', values: [3] });
      await s.createTrial(id);
      expect(data(snap)).toEqual(before);
      expect(data(t)).toEqual(before);
      expect(list.length).toBe(1);
      expect(data(list[0])).toEqual(before);
      const after = await s.getTrial(t.trialId);
      expect(after.userAttrs).toEqual({ a: 2 });
      expect(after.state).toBe('COMPLETE');
      expect((await s.getAllTrials(id)).length).toBe(2);
    });

    it('rejects every call after close()', async () => {
      const s = await make();
      const id = await s.createStudy('s', ['minimize']);
      const t = await s.createTrial(id);
      await s.close();
      await rejectsWith(s.createStudy('t', ['minimize']), 'STORAGE_ERROR');
      await rejectsWith(s.getStudyIdFromName('s'), 'STORAGE_ERROR');
      await rejectsWith(s.getAllStudies(), 'STORAGE_ERROR');
      await rejectsWith(s.createTrial(id), 'STORAGE_ERROR');
      await rejectsWith(s.getTrial(t.trialId), 'STORAGE_ERROR');
      await rejectsWith(s.getAllTrials(id), 'STORAGE_ERROR');
      await rejectsWith(s.finishTrial(t.trialId, { state: 'FAIL' }), 'STORAGE_ERROR');
      await rejectsWith(s.claim(id, 'k'), 'STORAGE_ERROR');
      await rejectsWith(s.popWaitingTrial(id), 'STORAGE_ERROR');
      await s.close(); // idempotent
    });
  });
}
