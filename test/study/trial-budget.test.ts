import { afterEach, describe, expect, it, vi } from 'vitest';
import { staleTrialSweeper, trialSlotClaimer } from '../../src/study/trial-budget.js';

/** `claim` as storage implements it (true for exactly one caller per key), over `nTrials` trials. */
function claims(nTrials = 0): {
  studyId: number;
  storage: { getNTrials: () => Promise<number> };
  claim: (key: string) => Promise<boolean>;
  keys: Set<string>;
  nTrials: number;
} {
  const keys = new Set<string>();
  const study = {
    studyId: 0,
    keys,
    nTrials,
    storage: { getNTrials: async () => study.nTrials },
    claim: async (key: string) => {
      if (keys.has(key)) return false;
      keys.add(key);
      return true;
    },
  };
  return study;
}

describe('trialSlotClaimer', () => {
  it('shares maxTrialsInStudy slots between claimers of one study', async () => {
    const study = claims();
    const a = trialSlotClaimer(study, 5);
    const b = trialSlotClaimer(study, 5);
    const got = [await a(), await b(), await a(), await b(), await b(), await a(), await b()];
    expect(got).toEqual([true, true, true, true, true, false, false]);
    expect([...study.keys].sort()).toEqual([0, 1, 2, 3, 4].map((k) => `optimize_slot:${k}`));
  });

  it('counts the trials the study already holds against the budget', async () => {
    const study = claims(5);
    const a = trialSlotClaimer(study, 7);
    expect([await a(), await a(), await a()]).toEqual([true, true, false]);
    expect([...study.keys].sort()).toEqual(['optimize_slot:5', 'optimize_slot:6']);
    // Trials created by other means meanwhile count too.
    const full = claims(3);
    const b = trialSlotClaimer(full, 5);
    expect(await b()).toBe(true);
    full.nTrials = 5;
    expect(await b()).toBe(false);
  });

  it('never limits without a budget', async () => {
    const study = claims();
    for (const budget of [null, undefined]) {
      const c = trialSlotClaimer(study, budget);
      for (let i = 0; i < 3; i++) expect(await c()).toBe(true);
    }
    expect(study.keys.size).toBe(0);
  });
});

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
