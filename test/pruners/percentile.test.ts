import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { MedianPruner } from '../../src/pruners/median.js';
import { PercentilePruner } from '../../src/pruners/percentile.js';
import { nanPercentile } from '../../src/pruners/steps.js';
import type { Pruner } from '../../src/pruners/pruner.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import type { StudyDirection } from '../../src/trial/types.js';
import { FakeStudy, makeTrial } from './fake-study.js';

/** Five COMPLETE trials whose value at step 3 is 1, 2, 3, 4, 5 (median 3); steps 0..4. */
function fiveCompleted(sign = 1): FrozenTrial[] {
  return [1, 2, 3, 4, 5].map((v, i) =>
    makeTrial({ number: i, values: { 0: sign * 10, 1: sign * 10, 2: sign * 10, 3: sign * v, 4: sign * v } }),
  );
}

function running(values: Record<number, number>): FrozenTrial {
  return makeTrial({ number: 99, state: 'RUNNING', values });
}

async function ask(
  pruner: Pruner,
  others: FrozenTrial[],
  values: Record<number, number>,
  direction: StudyDirection = 'minimize',
): Promise<boolean> {
  const trial = running(values);
  return pruner.prune(new FakeStudy([...others, trial], [direction]), trial);
}

describe('MedianPruner', () => {
  it('prunes above the median of the COMPLETE trials at the same step (minimize)', async () => {
    const p = new MedianPruner();
    expect(await ask(p, fiveCompleted(), { 0: 10, 1: 10, 2: 10, 3: 3.5 })).toBe(true);
    expect(await ask(p, fiveCompleted(), { 0: 10, 1: 10, 2: 10, 3: 2.5 })).toBe(false);
    expect(await ask(p, fiveCompleted(), { 0: 10, 1: 10, 2: 10, 3: 3 })).toBe(false); // equal is kept
  });

  it("compares the trial's best value over its steps, as Optuna does", async () => {
    const p = new MedianPruner();
    // current value 3.5 is above the median 3, but the best so far (1 at step 0) is below it
    expect(await ask(p, fiveCompleted(), { 0: 1, 1: 10, 2: 10, 3: 3.5 })).toBe(false);
  });

  it('prunes below the median when maximizing', async () => {
    const p = new MedianPruner();
    const others = fiveCompleted(-1); // -1 .. -5 at step 3, median -3
    expect(await ask(p, others, { 0: -10, 3: -3.5 }, 'maximize')).toBe(true);
    expect(await ask(p, others, { 0: -10, 3: -2.5 }, 'maximize')).toBe(false);
    // with maximize, the best over steps is the largest
    expect(await ask(p, others, { 0: -1, 3: -3.5 }, 'maximize')).toBe(false);
  });

  it('keeps a trial exactly at the median of two values, computing it as numpy does (0.01, 0.03 -> 0.02)', async () => {
    // a + (b - a) * 0.5 gives 0.019999999999999997 here, which pruned a trial reporting 0.02.
    const p = new MedianPruner({ nStartupTrials: 2 });
    const two = [0.01, 0.03].map((v, i) => makeTrial({ number: i, values: { 0: v } }));
    expect(await ask(p, two, { 0: 0.02 })).toBe(false);
  });

  it('interpolates linearly between order statistics', async () => {
    const p = new MedianPruner({ nStartupTrials: 4 });
    const four = fiveCompleted().slice(0, 4); // 1, 2, 3, 4 -> median 2.5
    expect(await ask(p, four, { 3: 2.6 })).toBe(true);
    expect(await ask(p, four, { 3: 2.5 })).toBe(false);
  });

  it('waits for nStartupTrials COMPLETE trials; PRUNED and RUNNING trials do not count', async () => {
    const p = new MedianPruner({ nStartupTrials: 5 });
    const four = fiveCompleted().slice(0, 4);
    const extra = [
      makeTrial({ number: 10, state: 'PRUNED', values: { 3: 0 } }),
      makeTrial({ number: 11, state: 'RUNNING', values: { 3: 0 } }),
    ];
    expect(await ask(p, [...four, ...extra], { 3: 100 })).toBe(false);
    expect(await ask(p, fiveCompleted(), { 3: 100 })).toBe(true);
  });

  it('ignores PRUNED trials and COMPLETE trials without the step when computing the median', async () => {
    const p = new MedianPruner();
    const others = [
      ...fiveCompleted(),
      makeTrial({ number: 10, state: 'PRUNED', values: { 3: 100 } }),
      makeTrial({ number: 11, state: 'PRUNED', values: { 3: 100 } }),
      makeTrial({ number: 12, values: { 0: 100, 2: 100, 4: 100 } }), // no step 3
    ];
    expect(await ask(p, others, { 3: 3.5 })).toBe(true);
  });

  it('respects nWarmupSteps and intervalSteps (a skipped checkpoint moves to the next report)', async () => {
    const bad = { 0: 100, 1: 100, 2: 100, 3: 100, 4: 100 };
    const warm = new MedianPruner({ nWarmupSteps: 4 });
    expect(await ask(warm, fiveCompleted(), { 0: 100, 1: 100, 2: 100, 3: 100 })).toBe(false);
    expect(await ask(warm, fiveCompleted(), bad)).toBe(true);

    // checkpoints at 1, 3, 5, ... (warm-up 1, interval 2)
    const every2 = new MedianPruner({ nWarmupSteps: 1, intervalSteps: 2 });
    expect(await ask(every2, fiveCompleted(), { 0: 100 })).toBe(false); // before warm-up
    expect(await ask(every2, fiveCompleted(), { 0: 100, 1: 100 })).toBe(true);
    expect(await ask(every2, fiveCompleted(), { 0: 100, 1: 100, 2: 100 })).toBe(false);
    expect(await ask(every2, fiveCompleted(), { 0: 100, 1: 100, 2: 100, 3: 100 })).toBe(true);
    expect(await ask(every2, fiveCompleted(), bad)).toBe(false); // 4 is off the interval
    // step 3 was never reported: the checkpoint at 3 is postponed to the report at 4
    expect(await ask(every2, fiveCompleted(), { 0: 100, 1: 100, 2: 100, 4: 100 })).toBe(true);
    // ... but not when the checkpoint was already covered by a report at 3
    expect(await ask(every2, fiveCompleted(), { 0: 100, 1: 100, 3: 100, 4: 100 })).toBe(false);
  });

  it('needs nMinTrials COMPLETE values at the step', async () => {
    const others = [
      makeTrial({ number: 0, values: { 3: 1 } }),
      makeTrial({ number: 1, values: { 3: 2 } }),
      ...[2, 3, 4].map((n) => makeTrial({ number: n, values: { 2: 1 } })),
    ];
    expect(await ask(new MedianPruner({ nMinTrials: 3 }), others, { 3: 50 })).toBe(false);
    expect(await ask(new MedianPruner({ nMinTrials: 2 }), others, { 3: 50 })).toBe(true);
  });

  it('prunes a trial whose values are all NaN and ignores NaN in the others', async () => {
    const p = new MedianPruner();
    expect(await ask(p, fiveCompleted(), { 2: NaN, 3: NaN })).toBe(true);
    const withNaN = [...fiveCompleted(), ...[5, 6, 7].map((n) => makeTrial({ number: n, values: { 3: NaN } }))];
    expect(await ask(p, withNaN, { 3: 2.9 })).toBe(false); // median of 1..5 without NaN is 3
    expect(await ask(p, withNaN, { 3: 3.1 })).toBe(true);
  });

  it('reads the trials once per call', async () => {
    const trial = running({ 3: 3.5 });
    const study = new FakeStudy([...fiveCompleted(), trial]);
    await new MedianPruner().prune(study, trial);
    expect(study.getTrialsCalls).toBe(1);
  });
});

describe('PercentilePruner', () => {
  it('keeps the best 25 % (minimize: prune above the 25th percentile)', async () => {
    const p = new PercentilePruner({ percentile: 25 }); // 25th percentile of 1..5 = 2
    expect(await ask(p, fiveCompleted(), { 3: 2.1 })).toBe(true);
    expect(await ask(p, fiveCompleted(), { 3: 2 })).toBe(false);
  });

  it('mirrors the percentile when maximizing (prune below the 75th percentile)', async () => {
    const p = new PercentilePruner({ percentile: 25 }); // values -1..-5; 75th percentile = -2
    expect(await ask(p, fiveCompleted(-1), { 3: -2.1 }, 'maximize')).toBe(true);
    expect(await ask(p, fiveCompleted(-1), { 3: -2 }, 'maximize')).toBe(false);
  });

  it('percentile 100 never prunes a finite trial at or under the worst; 0 prunes anything worse than the best', async () => {
    expect(await ask(new PercentilePruner({ percentile: 100 }), fiveCompleted(), { 3: 5 })).toBe(false);
    expect(await ask(new PercentilePruner({ percentile: 0 }), fiveCompleted(), { 3: 1.01 })).toBe(true);
    expect(await ask(new PercentilePruner({ percentile: 0 }), fiveCompleted(), { 3: 1 })).toBe(false);
  });
});

describe('percentile and median options', () => {
  const cases: [string, () => unknown][] = [
    ['percentile', () => new PercentilePruner({ percentile: 101 })],
    ['percentile', () => new PercentilePruner({ percentile: -1 })],
    ['percentile', () => new PercentilePruner({ percentile: NaN })],
    ['percentile', () => new PercentilePruner({} as never)],
    ['nStartupTrials', () => new MedianPruner({ nStartupTrials: -1 })],
    ['nStartupTrials', () => new MedianPruner({ nStartupTrials: 1.5 })],
    ['nWarmupSteps', () => new MedianPruner({ nWarmupSteps: -2 })],
    ['intervalSteps', () => new MedianPruner({ intervalSteps: 0 })],
    ['nMinTrials', () => new MedianPruner({ nMinTrials: 0 })],
    ['percentile', () => new MedianPruner({ percentile: 30 } as never)],
    ['nStartup', () => new MedianPruner({ nStartup: 3 } as never)],
  ];
  for (const [option, make] of cases) {
    it(`rejects a bad ${option}`, () => {
      let error: unknown;
      try {
        make();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(option);
      expect((error as InvalidOptionError).code).toBe('INVALID_OPTION');
    });
  }

  it('has Optuna defaults', () => {
    const p = new MedianPruner();
    expect([p.percentile, p.nStartupTrials, p.nWarmupSteps, p.intervalSteps, p.nMinTrials]).toEqual([50, 5, 0, 1, 1]);
    expect(p.name).toBe('median');
  });
});

describe('nanPercentile', () => {
  it("equals np.nanpercentile (method 'linear') to the last bit, as Optuna's PercentilePruner computes it", () => {
    // Expected values printed by numpy 2.4: repr(float(np.nanpercentile(values, q))).
    expect(nanPercentile([0.01, 0.03], 50)).toBe(0.02);
    expect(nanPercentile([0.01, 0.05], 50)).toBe(0.030000000000000002);
    expect(nanPercentile([0.37, 0.07, 0.93, 0.29, 0.91, 0.41, 0.02], 75)).toBe(0.66);
    expect(nanPercentile([0.1, 0.2, 0.3], 10)).toBe(0.12000000000000001);
    expect(nanPercentile([-Infinity, 3.61, 4, 4], 33.3)).toBe(-Infinity);
    expect(nanPercentile([1, NaN, 3], 50)).toBe(2);
  });
});
