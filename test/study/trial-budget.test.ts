import { afterEach, describe, expect, it, vi } from 'vitest';
import { staleTrialSweeper } from '../../src/study/trial-budget.js';

describe('staleTrialSweeper', () => {
  afterEach(() => vi.useRealTimers());

  it('sweeps at most once per interval, with the grace it was given', async () => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
    const graces: number[] = [];
    const sweep = staleTrialSweeper({ failStaleTrials: async (o) => (graces.push(o.graceMs), []) }, 1000, 3000);
    await sweep();
    await sweep();
    vi.setSystemTime(1_000_999);
    await sweep();
    vi.setSystemTime(1_001_000);
    await sweep();
    expect(graces).toEqual([3000, 3000]);
  });

  it('is a no-op without heartbeats', async () => {
    let calls = 0;
    const sweep = staleTrialSweeper({ failStaleTrials: async () => (calls++, []) }, undefined, 0);
    await sweep();
    await staleTrialSweeper({ failStaleTrials: async () => (calls++, []) }, null, 0)();
    expect(calls).toBe(0);
  });
});
