import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { SuccessiveHalvingPruner, isPromotable } from '../../src/pruners/successive-halving.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import type { StudyDirection } from '../../src/trial/types.js';
import { FakeStudy, curve, makeTrial, rungs } from './fake-study.js';
import { constants, runSequential, runTrial } from './simulate.js';

/** Asks about trial 99 (with `values` and rung records `systemAttrs`) among `others`. */
async function ask(
  pruner: SuccessiveHalvingPruner,
  others: FrozenTrial[],
  values: Record<number, number>,
  direction: StudyDirection = 'minimize',
  systemAttrs: Record<string, number> = {},
): Promise<boolean> {
  const trial = makeTrial({ number: 99, state: 'RUNNING', values, systemAttrs });
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

  it('judges a rung once: a second call, a repeated step or a smaller step later judges nothing', async () => {
    // eta 2, r 1: rungs at steps 1, 2, 4, 8 (Optuna 5.0.0 gives the same answers)
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    let study = new FakeStudy([]);
    const at = async (number: number, values: Record<number, number>) =>
      p.prune(study, study.put(makeTrial({ number, state: 'RUNNING', values })));
    expect(await at(0, { 1: 5 })).toBe(false); // alone at rung 0
    expect(await at(1, { 1: 1 })).toBe(false);
    expect(await at(2, { 1: 2 })).toBe(true); // [5, 1, 2]: only the best passes
    expect(study.trial(0).systemAttrs).toEqual(rungs(5));
    // trial 0 again at step 1 (a second shouldPrune, or step 1 reported again): rung 1 is at step 2
    expect(await at(0, { 1: 5 })).toBe(false);
    expect(await at(0, { 1: 5 })).toBe(false);
    expect(study.trial(0).systemAttrs).toEqual(rungs(5));

    // in a new study, trial 3 jumps to step 4 and passes rungs 0, 1, 2 alone; then 2 better trials reach step 4
    study = new FakeStudy([]);
    expect(await at(3, { 4: 5 })).toBe(false);
    expect(study.trial(3).systemAttrs).toEqual(rungs(5, 5, 5));
    expect(await at(4, { 4: 1 })).toBe(false);
    expect(await at(5, { 4: 0.5 })).toBe(false);
    // a later report at the smaller step 2: the largest step is still 4, whose rungs are judged
    expect(await at(3, { 4: 5, 2: 5 })).toBe(false);
    expect(study.writes.filter((w) => w.trialId === 103)).toHaveLength(1);
  });

  it('does not judge again the rungs recorded on the trial', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    const others = [0, 1, 2].map((n) => makeTrial({ number: n, values: curve(8, () => 1), systemAttrs: rungs(1, 1, 1) }));
    // rungs at 1, 2, 4; the worst trial, already judged at rungs 0 and 1, is next judged at step 4
    const judged = rungs(9, 9);
    const trial = (n: number) => makeTrial({ number: 99, state: 'RUNNING', values: curve(n, () => 9), systemAttrs: judged });
    expect(await p.prune(new FakeStudy([...others, trial(4)]), trial(4))).toBe(false);
    expect(await p.prune(new FakeStudy([...others, trial(5)]), trial(5))).toBe(true);
  });

  it('judges every rung a sparse report crosses, in order, and records each', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    // rungs 1, 2, 4; the other trials are better only at rung 2 (step 4)
    const others = [0, 1].map((n) => makeTrial({ number: n, values: { 0: 9, 1: 9, 2: 9, 4: 1 }, systemAttrs: rungs(9, 9, 1) }));
    const study = new FakeStudy(others);
    const crossing3 = study.put(makeTrial({ number: 99, state: 'RUNNING', values: { 0: 5, 5: 5 } }));
    expect(await p.prune(study, crossing3)).toBe(true); // crosses rungs 0, 1, 2; fails at 2
    expect(study.trial(99).systemAttrs).toEqual(rungs(5, 5, 5)); // recorded at the rung it failed too
    expect(study.writes).toHaveLength(1); // one write per call
    const crossing2 = makeTrial({ number: 98, state: 'RUNNING', values: { 0: 5, 3: 5 } });
    expect(await p.prune(new FakeStudy([...others, crossing2]), crossing2)).toBe(false); // rungs 0, 1 only
  });

  it('a trial pruned at a later rung of one report competes at every rung it was judged at', async () => {
    // eta 2, r 1: rungs at steps 1, 2. Optuna 5.0.0: P is recorded at rungs 0 and 1, so Q meets
    // n = 4 at rung 1 (0.5, 0.4, 0.6, 0.45: the top 2 pass) and completes.
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    const study = new FakeStudy([]);
    expect(await runTrial(p, study, 0, [[2, 0.5]])).toBe('C');
    expect(await runTrial(p, study, 1, [[2, 0.4]])).toBe('C');
    for (const [n, v] of [[2, 0.9], [3, 0.95], [4, 0.97]]) expect(await runTrial(p, study, n, [[1, v]])).toBe('P@1');
    expect(await runTrial(p, study, 5, [[2, 0.6]])).toBe('P@2'); // passes rung 0, fails rung 1
    expect(study.trial(5).systemAttrs).toEqual(rungs(0.6, 0.6));
    expect(await runTrial(p, study, 6, [[2, 0.45]])).toBe('C');
  });

  it('competitors are the recorded values, in any state; trials without records do not compete', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    // T0 reported 0 at steps 0 and 5 but was judged (and recorded) at rung 0 only, with 3
    const t0 = makeTrial({ number: 0, state: 'PRUNED', values: { 0: 0, 5: 0 }, systemAttrs: rungs(3) });
    expect(await ask(p, [t0], { 0: 1, 1: 4 })).toBe(true); // rung 0: [3, 4]
    expect(await ask(p, [t0], { 0: 1, 1: 2 })).toBe(false);
    expect(await ask(p, [t0], { 0: 1, 1: 2, 2: 1 }, 'minimize', rungs(2))).toBe(false); // alone at rung 1
    // the same reports with no records (never judged): no competitor anywhere
    const bare = makeTrial({ number: 0, state: 'RUNNING', values: { 0: 0, 5: 0 } });
    expect(await ask(p, [bare], { 0: 1, 1: 4 })).toBe(false);
  });

  it('records +/-Infinity as strings and reads them back', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    const study = new FakeStudy([]);
    expect(await runTrial(p, study, 0, [[1, Infinity]])).toBe('C');
    expect(study.trial(0).systemAttrs).toEqual({ completed_rung_0: 'Infinity' });
    expect(await runTrial(p, study, 1, [[1, 5]])).toBe('C'); // 5 < Infinity
    expect(await runTrial(p, study, 2, [[1, -Infinity]])).toBe('C');
    expect(study.trial(2).systemAttrs).toEqual({ completed_rung_0: '-Infinity' });
    expect(await runTrial(p, study, 3, [[1, 6]])).toBe('P@1'); // [Inf, 5, -Inf, 6]: top 2 are -Inf, 5
  });

  it('keeps the records in memory, per study object, on a view without setTrialSystemAttrs', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    const study = new FakeStudy([], ['minimize'], 'study', { writable: false });
    expect(study.setTrialSystemAttrs).toBeUndefined();
    expect(await runTrial(p, study, 0, [[1, 5]])).toBe('C');
    expect(await runTrial(p, study, 1, [[1, 1]])).toBe('C');
    expect(await runTrial(p, study, 2, [[1, 2], [1, 2]])).toBe('P@1'); // [5, 1, 2]
    expect(study.trial(0).systemAttrs).toEqual({});
    // trial 0 asked again: rung 0 is remembered, so it is not judged again
    const again = makeTrial({ number: 0, state: 'RUNNING', values: { 1: 5 } });
    expect(await p.prune(study, again)).toBe(false);
    // another study object with the same trial ids has its own (empty) records
    const other = new FakeStudy([again, makeTrial({ number: 1, values: { 1: 1 } })], ['minimize'], 'study', { writable: false });
    expect(await p.prune(other, again)).toBe(false); // alone at rung 0: trial 1 has no record there
    expect(await p.prune(other, again)).toBe(false);
  });

  it('prunes NaN at a rung without recording it, not between rungs', async () => {
    const p = new SuccessiveHalvingPruner({ minResource: 2, reductionFactor: 2 }); // rungs 2, 4
    expect(await ask(p, [], { 0: 1, 1: NaN })).toBe(false);
    expect(await ask(p, [], { 0: 1, 1: 1, 2: NaN })).toBe(true);
    const study = new FakeStudy([]);
    expect(await runTrial(p, study, 0, [[1, 1], [2, NaN]])).toBe('P@2');
    expect(study.trial(0).systemAttrs).toEqual({});
    expect(study.writes).toHaveLength(0);
  });

  it("minResource 'auto': nothing is pruned before a trial completes, then r = lastStep / 100", async () => {
    const p = new SuccessiveHalvingPruner({ reductionFactor: 2 });
    const running = [0, 1].map((n) => makeTrial({ number: n, state: 'RUNNING', values: curve(500, () => 0), systemAttrs: rungs(0) }));
    expect(await ask(p, running, curve(6, () => 9))).toBe(false);
    expect(p.resolvedMinResource()).toBeNull();
    // the first COMPLETE trial (by completion time) ran 0..399: r = floor(399 / 100) = 3
    const first = makeTrial({ number: 2, values: curve(400, () => 0), datetimeComplete: 10, systemAttrs: rungs(0) });
    const later = makeTrial({ number: 3, values: curve(1000, () => 0), datetimeComplete: 20, systemAttrs: rungs(0) });
    expect(await ask(p, [...running, later, first], curve(3, () => 9))).toBe(false); // step 2 < 3
    expect(p.resolvedMinResource()).toBe(3);
    expect(await ask(p, [...running, later, first], curve(4, () => 9))).toBe(true); // rung 0 at step 3
    // a trial already past rungs 0 and 1 (steps 3, 6) is judged at both at its next call
    const study = new FakeStudy([...running, later, first]);
    const past = study.put(makeTrial({ number: 4, state: 'RUNNING', values: curve(7, () => -1) }));
    expect(await p.prune(study, past)).toBe(false);
    expect(study.trial(4).systemAttrs).toEqual(rungs(-1, -1));
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

describe('SuccessiveHalvingPruner.rungStep', () => {
  it('snaps a rung step that rounds next to an integer onto it, and leaves the others', () => {
    const r = 87 / 81; // (87 / 81) * 27 is 29.000000000000004 in doubles
    const p = new SuccessiveHalvingPruner({ minResource: r, reductionFactor: 3 });
    expect(p.rungStep(3, r)).toBe(29);
    expect(p.rungStep(0, r)).toBe(r); // 1.074..., not near an integer
    const q = new SuccessiveHalvingPruner({ minResource: 145 / 125, reductionFactor: 5 }); // * 25 = 28.999999999999996
    expect(q.rungStep(2, 145 / 125)).toBe(29);
    expect(new SuccessiveHalvingPruner({ minResource: 3, reductionFactor: 4, minEarlyStoppingRate: 2 }).rungStep(1, 3)).toBe(192);
  });
});
