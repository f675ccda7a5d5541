import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { ThresholdPruner } from '../../src/pruners/threshold.js';
import { FakeStudy, makeTrial } from './fake-study.js';

async function ask(pruner: ThresholdPruner, values: Record<number, number>): Promise<boolean> {
  const trial = makeTrial({ number: 0, state: 'RUNNING', values });
  return pruner.prune(new FakeStudy([trial]), trial);
}

describe('ThresholdPruner', () => {
  it('prunes when the latest value leaves [lower, upper]', async () => {
    const p = new ThresholdPruner({ lower: 0, upper: 1 });
    expect(await ask(p, { 0: 0.5 })).toBe(false);
    expect(await ask(p, { 0: 0 })).toBe(false); // bounds are inclusive
    expect(await ask(p, { 0: 1 })).toBe(false);
    expect(await ask(p, { 0: -0.01 })).toBe(true);
    expect(await ask(p, { 0: 1.01 })).toBe(true);
    expect(await ask(p, { 0: 5, 1: 0.5 })).toBe(false); // only the latest value counts
  });

  it('one-sided bounds', async () => {
    expect(await ask(new ThresholdPruner({ upper: 2 }), { 0: -1e9 })).toBe(false);
    expect(await ask(new ThresholdPruner({ upper: 2 }), { 0: 3 })).toBe(true);
    expect(await ask(new ThresholdPruner({ lower: 2 }), { 0: 1e9 })).toBe(false);
    expect(await ask(new ThresholdPruner({ lower: 2 }), { 0: 1 })).toBe(true);
  });

  it('prunes NaN', async () => {
    expect(await ask(new ThresholdPruner({ upper: 2 }), { 0: 1, 1: NaN })).toBe(true);
  });

  it('respects nWarmupSteps and intervalSteps', async () => {
    const p = new ThresholdPruner({ upper: 1, nWarmupSteps: 2, intervalSteps: 3 }); // checks at 2, 5, 8
    expect(await ask(p, { 0: 9, 1: 9 })).toBe(false);
    expect(await ask(p, { 0: 9, 1: 9, 2: 9 })).toBe(true);
    expect(await ask(p, { 0: 9, 1: 9, 2: 9, 3: 9 })).toBe(false);
    expect(await ask(p, { 0: 9, 1: 9, 2: 9, 3: 9, 4: 9, 5: 9 })).toBe(true);
    expect(await ask(p, { 0: 9, 6: 9 })).toBe(true); // the checkpoint at 5 postponed to 6
  });

  it('rejects bad options', () => {
    const bad: [string, () => unknown][] = [
      ['lower', () => new ThresholdPruner({})],
      ['lower', () => new ThresholdPruner({ lower: 2, upper: 1 })],
      ['lower', () => new ThresholdPruner({ lower: NaN })],
      ['upper', () => new ThresholdPruner({ upper: '1' as never })],
      ['nWarmupSteps', () => new ThresholdPruner({ upper: 1, nWarmupSteps: -1 })],
      ['intervalSteps', () => new ThresholdPruner({ upper: 1, intervalSteps: 0 })],
    ];
    for (const [option, make] of bad) {
      expect(make, option).toThrow(InvalidOptionError);
      try {
        make();
      } catch (e) {
        expect((e as InvalidOptionError).option).toBe(option);
      }
    }
  });
});
