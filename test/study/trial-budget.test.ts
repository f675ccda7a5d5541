import { afterEach, describe, expect, it, vi } from 'vitest';
import { ORPHAN_SWEEP_INTERVAL_MS, staleTrialSweeper } from '../../src/study/trial-budget.js';

describe('staleTrialSweeper', () => {
  afterEach(() => vi.useRealTimers());

  it('sweeps at most once per interval, with the grace it was given', async () => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
    const graces: number[] = [];
    const sweep = staleTrialSweeper({ failStaleTrials: async (o) => (graces.push(o.graceMs), []), failOrphanedTrials: async () => [] }, 1000, 3000);
    await sweep();
    await sweep();
    vi.setSystemTime(1_000_999);
    await sweep();
    vi.setSystemTime(1_001_000);
    await sweep();
    expect(graces).toEqual([3000, 3000]);
  });

  it('sweeps no heartbeats without heartbeats', async () => {
    let calls = 0;
    const sweep = staleTrialSweeper({ failStaleTrials: async () => (calls++, []), failOrphanedTrials: async () => [] }, undefined, 0);
    await sweep();
    await staleTrialSweeper({ failStaleTrials: async () => (calls++, []), failOrphanedTrials: async () => [] }, null, 0)();
    expect(calls).toBe(0);
  });

  it('looks for trials of exited owners at the first launch, then at most once per ORPHAN_SWEEP_INTERVAL_MS, heartbeats or not', async () => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
    let orphanSweeps = 0;
    const sweep = staleTrialSweeper({ failStaleTrials: async () => [], failOrphanedTrials: async () => (orphanSweeps++, []) }, undefined, 0);
    await sweep();
    await sweep();
    expect(orphanSweeps).toBe(1);
    vi.setSystemTime(1_000_000 + ORPHAN_SWEEP_INTERVAL_MS - 1);
    await sweep();
    expect(orphanSweeps).toBe(1);
    vi.setSystemTime(1_000_000 + ORPHAN_SWEEP_INTERVAL_MS);
    await sweep();
    expect(orphanSweeps).toBe(2);
  });
});
