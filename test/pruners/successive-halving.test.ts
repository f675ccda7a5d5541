import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { SuccessiveHalvingPruner, isPromotable } from '../../src/pruners/successive-halving.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import type { StudyDirection } from '../../src/trial/types.js';
import { FakeStudy, curve, makeTrial } from './fake-study.js';
import { constants, runSequential } from './simulate.js';

async function ask(
  pruner: SuccessiveHalvingPruner,
  others: FrozenTrial[],
  values: Record<number, number>,
  direction: StudyDirection = 'minimize',
): Promise<boolean> {
  const trial = makeTrial({ number: 99, state: 'RUNNING', values });
  return pruner.prune(new FakeStudy([...others, trial], [direction]), trial);
}

describe('isPromotable (Optuna _is_trial_promotable_to_next_rung)', () => {
  it('keeps the top floor(n / eta), or only the best while n < eta', () => {
    // eta 2, n 4: idx 1 -> the 2 best
    expect(isPromotable(2, [1, 2, 2.5, 3], 2, 'minimize')).toBe(true);
    expect(isPromotable(2.5, [1, 2, 2.5, 3], 2, 'minimize')).toBe(false);
    // eta 3, n 5: idx 0 -> only the best; n 6: idx 1
    expect(isPromotable(1.5, [1, 1.5, 2, 3, 4], 3, 'minimize')).toBe(false);
    expect(isPromotable(1.5, [1, 1.5, 2, 3, 4, 5], 3, 'minimize')).toBe(true);
    // n < eta: the best only (ties promote)
    expect(isPromotable(3, [3, 5], 3, 'minimize')).toBe(true);
    expect(isPromotable(5, [3, 5], 3, 'minimize')).toBe(false);
    // maximize mirrors
    expect(isPromotable(3, [1, 2, 2.5, 3], 2, 'maximize')).toBe(true);
    expect(isPromotable(2.5, [1, 2, 2.5, 3], 2, 'maximize')).toBe(true);
    expect(isPromotable(2, [1, 2, 2.5, 3], 2, 'maximize')).toBe(false);
  });
});

describe('SuccessiveHalvingPruner rung promotion (hand-checked sequences)', () => {
  // eta 2, r 1: rungs at steps 1, 2, 4 (8 is never reached with steps 0..7)
  //  T0 5   : alone at every rung                                      -> C
  //  T1 3   : rung0 [5,3] idx0 best; rung1 [5,3]; rung2 [5,3]          -> C
  //  T2 4   : rung0 [5,3,4] idx0, 4 > 3                                -> P@1
  //  T3 1   : rung0 [5,3,4,1] idx1 ok; rung1 [5,3,1]; rung2 [5,3,1]    -> C
  //  T4 2   : rung0 n5 idx1 sorted [1,2,..] ok; rung1 [5,3,1,2] idx1 ok -> C
  //  T5 2.5 : rung0 n6 idx2 [1,2,2.5,..] ok; rung1 [5,3,1,2,2.5] idx1 2.5 > 2 -> P@2
  //  T6 3.5 : rung0 n7 idx2 (T5 counts: it passed rung0) 3.5 > 2.5    -> P@1
  const eta2 = [5, 3, 4, 1, 2, 2.5, 3.5];
  const expected2 = ['C', 'C', 'P@1', 'C', 'C', 'P@2', 'P@1'];

  it('eta = 2, minimize', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    expect(await runSequential(p, constants(eta2), 8)).toEqual(expected2);
  });

  it('eta = 2, maximize (negated values give the same decisions)', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    expect(await runSequential(p, constants(eta2.map((v) => -v)), 8, 'maximize')).toEqual(expected2);
  });

  // eta 3, r 1: rungs at 1, 3 (9 never reached with steps 0..8)
  //  T0 4 -> C; T1 2: rung0 [4,2] best -> C; T2 3: rung0 [4,2,3] idx0 -> P@1
  //  T3 1: rung0 [4,2,3,1] idx0 best; rung1 [4,2,1] best -> C
  //  T4 5: rung0 n5 idx0 -> P@1
  //  T5 2: rung0 [4,2,3,1,5,2] n6 idx1 sorted [1,2,..] ok; rung1 [4,2,1,2] idx0 2 > 1 -> P@3
  it('eta = 3, minimize', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 3 });
    expect(await runSequential(p, constants([4, 2, 3, 1, 5, 2]), 9)).toEqual(['C', 'C', 'P@1', 'C', 'P@1', 'P@3']);
  });

  it('minEarlyStoppingRate moves the first rung to r * eta^s', async () => {
    // r 1, eta 2, s 1: rungs at 2, 4; T1 (worse) is judged first at step 2
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2, minEarlyStoppingRate: 1 });
    expect(await runSequential(p, constants([1, 2]), 8)).toEqual(['C', 'P@2']);
    // r 3, eta 2, s 0: rungs at 3, 6
    const q = new SuccessiveHalvingPruner({ minResource: 3, reductionFactor: 2 });
    expect(await runSequential(q, constants([1, 2]), 8)).toEqual(['C', 'P@3']);
  });

  it('bootstrapCount prunes at a rung until more than that many trials reached it', async () => {
    // rung0 at step 1: T0 sees 1 <= 2 competitors, T1 sees 2 <= 2 -> both pruned; T2 sees 3
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2, bootstrapCount: 2 });
    expect(await runSequential(p, constants([3, 2, 1, 4]), 2)).toEqual(['P@1', 'P@1', 'C', 'P@1']);
  });

  it('does not judge again a rung passed at an earlier report', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    const others = [0, 1, 2].map((n) => makeTrial({ number: n, values: curve(8, () => 1) }));
    // rungs 1, 2, 4: at step 3 no rung is new, so even the worst trial keeps running
    expect(await ask(p, others, { 0: 9, 1: 9, 2: 9, 3: 9 })).toBe(false);
    expect(await ask(p, others, { 0: 9, 1: 9, 2: 9, 3: 9, 4: 9 })).toBe(true);
  });

  it('judges every rung a sparse report crosses, in order', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    // rungs 1, 2, 4; the other trials are better only at rung 2 (step 4)
    const others = [0, 1].map((n) => makeTrial({ number: n, values: { 0: 9, 1: 9, 2: 9, 4: 1 } }));
    expect(await ask(p, others, { 0: 5, 5: 5 })).toBe(true); // crosses rungs 0, 1, 2; fails at 2
    expect(await ask(p, others, { 0: 5, 3: 5 })).toBe(false); // crosses rungs 0, 1 only
  });

  it('a PRUNED trial competes only at the rungs it was judged at', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    // T0 jumped from step 0 to step 5 and was pruned there: judged at rung 0 (step 1) only
    const t0 = makeTrial({ number: 0, state: 'PRUNED', values: { 0: 0, 5: 0 } });
    // at rung 0, T0's 0 beats us (n = 2, idx 0)
    expect(await ask(p, [t0], { 0: 1, 1: 1 })).toBe(true);
    // at rung 1 (step 2) and rung 2 (step 4) T0 does not count: we are alone
    expect(await ask(p, [t0], { 0: 1, 1: 1, 2: 1 })).toBe(false);
    expect(await ask(p, [t0], { 0: 1, 1: 1, 2: 1, 3: 1, 4: 1 })).toBe(false);
    // the same curve as RUNNING counts at every rung it reached
    const r0 = makeTrial({ number: 0, state: 'RUNNING', values: { 0: 0, 5: 0 } });
    expect(await ask(p, [r0], { 0: 1, 1: 1, 2: 1 })).toBe(true);
  });

  it('remembers rung values of finished trials only, per study', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    const me = makeTrial({ number: 99, state: 'RUNNING', values: { 0: 1, 1: 1, 2: 1 } });
    // T0 still running with a report at step 5: it counts at rung 1 (step 2) and beats us there
    const study = new FakeStudy([makeTrial({ number: 0, state: 'RUNNING', values: { 0: 0, 5: 0 } }), me]);
    expect(await p.prune(study, me)).toBe(true);
    // the same trial then pruned at step 5: now it counts at rung 0 only, and the same pruner sees it
    study.trials = [makeTrial({ number: 0, state: 'PRUNED', values: { 0: 0, 5: 0 } }), me];
    expect(await p.prune(study, me)).toBe(false);
    expect(await p.prune(study, me)).toBe(false);
    // another study whose trial has the same id but other values is judged on its own values
    const other = new FakeStudy([makeTrial({ number: 0, state: 'COMPLETE', values: { 0: 0, 1: 0, 2: 0 } }), me]);
    expect(await p.prune(other, me)).toBe(true);
    expect(await p.prune(study, me)).toBe(false);
  });

  it('prunes NaN at a rung, not between rungs, and ignores NaN competitors', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 2, reductionFactor: 2 }); // rungs 2, 4
    expect(await ask(p, [], { 0: 1, 1: NaN })).toBe(false);
    expect(await ask(p, [], { 0: 1, 1: 1, 2: NaN })).toBe(true);
    const nanOthers = [0, 1].map((n) => makeTrial({ number: n, state: 'PRUNED', values: { 0: 1, 1: 1, 2: NaN } }));
    expect(await ask(p, nanOthers, { 0: 5, 1: 5, 2: 5 })).toBe(false); // alone once NaN is ignored
  });

  it("minResource 'auto': nothing is pruned before a trial completes, then r = lastStep / 100", async () => {
    const p = new SuccessiveHalvingPruner({ reductionFactor: 2 });
    const running = [0, 1].map((n) => makeTrial({ number: n, state: 'RUNNING', values: curve(500, () => 0) }));
    expect(await ask(p, running, curve(6, () => 9))).toBe(false);
    expect(p.resolvedMinResource()).toBeNull();
    // the first COMPLETE trial (by completion time) ran 0..399: r = floor(399 / 100) = 3
    const first = makeTrial({ number: 2, values: curve(400, () => 0), datetimeComplete: 10 });
    const later = makeTrial({ number: 3, values: curve(1000, () => 0), datetimeComplete: 20 });
    expect(await ask(p, [...running, later, first], curve(3, () => 9))).toBe(false); // step 2 < 3
    expect(p.resolvedMinResource()).toBe(3);
    expect(await ask(p, [...running, later, first], curve(4, () => 9))).toBe(true); // rung 0 at step 3
    // a short first trial gives r = 1
    const q = new SuccessiveHalvingPruner();
    await ask(q, [makeTrial({ number: 0, values: curve(50, () => 0) })], { 0: 1 });
    expect(q.resolvedMinResource()).toBe(1);
  });

  it('reads the trials at most once per call', async () => {
    const p = new SuccessiveHalvingPruner();
    const trial = makeTrial({ number: 5, state: 'RUNNING', values: curve(3, () => 1) });
    const study = new FakeStudy([makeTrial({ number: 0, values: curve(120, () => 0) }), trial]);
    await p.prune(study, trial);
    expect(study.getTrialsCalls).toBe(1);
  });

  it('rejects bad options', () => {
    const bad: [string, () => unknown][] = [
      ['minResource', () => new SuccessiveHalvingPruner({ minResource: 0 })],
      ['minResource', () => new SuccessiveHalvingPruner({ minResource: 'max' as never })],
      ['reductionFactor', () => new SuccessiveHalvingPruner({ reductionFactor: 1 })],
      ['reductionFactor', () => new SuccessiveHalvingPruner({ reductionFactor: 2.5 })],
      ['minEarlyStoppingRate', () => new SuccessiveHalvingPruner({ minEarlyStoppingRate: -1 })],
      ['bootstrapCount', () => new SuccessiveHalvingPruner({ minResource: 1, bootstrapCount: -1 })],
      ['bootstrapCount', () => new SuccessiveHalvingPruner({ bootstrapCount: 2 })], // with 'auto'
      ['eta', () => new SuccessiveHalvingPruner({ eta: 3 } as never)],
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
