import { describe, expect, it } from 'vitest';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { runStorageContract, X } from './contract.js';

runStorageContract('InMemoryStorage', () => new InMemoryStorage());

describe('InMemoryStorage', () => {
  it('caches snapshots: unchanged trials and lists come back as the same objects', async () => {
    const s = new InMemoryStorage();
    const id = await s.createStudy('s', ['minimize']);
    const a = await s.createTrial(id);
    const b = await s.createTrial(id);
    expect(await s.getTrial(a.trialId)).toBe(a);
    const list = await s.getAllTrials(id);
    expect(await s.getAllTrials(id)).toBe(list);
    expect(Object.isFrozen(list)).toBe(true);
    await s.finishTrial(b.trialId, { state: 'COMPLETE', values: [1], params: { x: 0 }, distributions: { x: X } });
    const list2 = await s.getAllTrials(id);
    expect(list2).not.toBe(list);
    expect(list2[0]).toBe(a); // the untouched trial keeps its snapshot
    expect(list2[1]).not.toBe(b);
    expect(list2[1].state).toBe('COMPLETE');
  });

  it('keeps ask+tell cost flat as the study grows (10,000 trials, counts stay exact)', async () => {
    const s = new InMemoryStorage();
    const id = await s.createStudy('s', ['minimize']);
    for (let i = 0; i < 10_000; i++) {
      const t = (await s.popWaitingTrial(id)) ?? (await s.createTrial(id));
      await s.finishTrial(t.trialId, {
        state: i % 10 === 0 ? 'PRUNED' : 'COMPLETE',
        values: [i],
        params: { x: (i % 11) - 5 },
        distributions: { x: X },
      });
    }
    expect(await s.getNTrials(id)).toBe(10_000);
    expect(await s.getNTrials(id, { states: ['PRUNED'] })).toBe(1_000);
    const trials = await s.getAllTrials(id);
    expect(trials[9_999].number).toBe(9_999);
    expect(trials[9_999].values).toEqual([9_999]);
  });
});
