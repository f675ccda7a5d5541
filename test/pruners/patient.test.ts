import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { PatientPruner } from '../../src/pruners/patient.js';
import type { Pruner } from '../../src/pruners/pruner.js';
import { NopPruner } from '../../src/pruners/pruner.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import type { StudyView } from '../../src/trial/study-view.js';
import type { StudyDirection } from '../../src/trial/types.js';
import { FakeStudy, makeTrial } from './fake-study.js';

function series(values: number[]): Record<number, number> {
  return Object.fromEntries(values.map((v, i) => [i, v]));
}

async function ask(pruner: Pruner, values: number[], direction: StudyDirection = 'minimize'): Promise<boolean> {
  const trial = makeTrial({ number: 0, state: 'RUNNING', values: series(values) });
  return pruner.prune(new FakeStudy([trial], [direction]), trial);
}

/** A wrapped pruner that records its calls and answers `answer`. */
class SpyPruner implements Pruner {
  readonly name = 'spy';
  calls: number[] = [];
  constructor(private readonly answer: boolean) {}
  prune(_study: StudyView, trial: FrozenTrial): boolean {
    this.calls.push(trial.lastStep ?? -1);
    return this.answer;
  }
}

describe('PatientPruner', () => {
  // patience 2: compare the best of the last 3 values with the best before them
  it('prunes once the last patience + 1 values do not improve on the earlier best (minimize)', async () => {
    const p = new PatientPruner({ wrapped: null, patience: 2 });
    expect(await ask(p, [5, 4, 3])).toBe(false); // too few steps (needs > patience + 1)
    expect(await ask(p, [5, 4, 3, 3.5])).toBe(false); // before [5], recent [4, 3, 3.5]: improved
    expect(await ask(p, [5, 4, 3, 3.5, 3.2, 3.1])).toBe(true); // min before 3 < min recent 3.1
    expect(await ask(p, [5, 4, 3, 3.5, 3.2, 3.0])).toBe(false); // 3 + 0 < 3 is false: a tie is not a stall
  });

  it('minDelta demands an improvement larger than it', async () => {
    // before [5, 4, 3] best 3; recent best 2.95 improves by only 0.05
    expect(await ask(new PatientPruner({ patience: 2 }), [5, 4, 3, 3.5, 3.2, 2.95])).toBe(false);
    expect(await ask(new PatientPruner({ patience: 2, minDelta: 0.1 }), [5, 4, 3, 3.5, 3.2, 3.15])).toBe(true);
    // with minDelta the comparison is min(before) + minDelta < min(recent)
    expect(await ask(new PatientPruner({ patience: 2, minDelta: 0.2 }), [5, 4, 3, 3.5, 3.2, 3.15])).toBe(false);
  });

  it('mirrors for maximize', async () => {
    const p = new PatientPruner({ wrapped: null, patience: 1 });
    expect(await ask(p, [1, 3, 2, 2.5], 'maximize')).toBe(true); // max before 3 > max recent 2.5
    expect(await ask(p, [1, 3, 2, 3.5], 'maximize')).toBe(false);
    // the same values under minimize: min before 1 < min recent 2, so that is a stall
    expect(await ask(p, [1, 3, 2, 2.5], 'minimize')).toBe(true);
    expect(await ask(p, [3, 1, 2, 0.5], 'minimize')).toBe(false);
  });

  it('consults the wrapped pruner only when stalled', async () => {
    const yes = new SpyPruner(true);
    const p = new PatientPruner({ wrapped: yes, patience: 0 });
    expect(await ask(p, [3, 2])).toBe(false); // improving: not stalled
    expect(yes.calls).toEqual([]);
    expect(await ask(p, [3, 2, 2.5])).toBe(true); // stalled: the wrapped answer
    expect(yes.calls).toEqual([2]);
    const no = new PatientPruner({ wrapped: new NopPruner(), patience: 0 });
    expect(await ask(no, [3, 2, 2.5])).toBe(false);
  });

  it('ignores NaN values; an all-NaN window never stalls', async () => {
    const p = new PatientPruner({ wrapped: null, patience: 1 });
    expect(await ask(p, [1, NaN, NaN])).toBe(false);
    expect(await ask(p, [1, 2, NaN, 3])).toBe(true); // min before 1 < min recent 3
    expect(await ask(p, [NaN, NaN, 2, 3])).toBe(false);
  });

  it('rejects bad options', () => {
    const bad: [string, () => unknown][] = [
      ['patience', () => new PatientPruner({ wrapped: null, patience: -1 })],
      ['patience', () => new PatientPruner({ wrapped: null, patience: 1.5 })],
      ['patience', () => new PatientPruner({ wrapped: null } as never)],
      ['minDelta', () => new PatientPruner({ wrapped: null, patience: 1, minDelta: -0.1 })],
      ['wrapped', () => new PatientPruner({ wrapped: {} as never, patience: 1 })],
      ['wrappedPruner', () => new PatientPruner({ wrappedPruner: null, patience: 1 } as never)],
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
