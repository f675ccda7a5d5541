import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { adaptivePlan, adaptivePruner } from '../../src/pruners/adaptive.js';
import { HyperbandPruner } from '../../src/pruners/hyperband.js';
import { SuccessiveHalvingPruner } from '../../src/pruners/successive-halving.js';
import { FakeStudy } from './fake-study.js';
import { constants, runSequential, runTrial } from './simulate.js';

describe('adaptivePlan (Determined adaptive_asha)', () => {
  it('maps the modes onto bracket rung counts as Determined does', () => {
    // maxLength 256, divisor 4: floor(log4 256) + 1 = 5 = the default maxRungs
    expect(adaptivePlan({ mode: 'aggressive', maxLength: 256 }).bracketRungs).toEqual([5]);
    // Determined standardMode(5): rungs (5-1)/2+1 = 3 .. 5
    expect(adaptivePlan({ mode: 'standard', maxLength: 256 }).bracketRungs).toEqual([5, 4, 3]);
    expect(adaptivePlan({ mode: 'conservative', maxLength: 256 }).bracketRungs).toEqual([5, 4, 3, 2, 1]);
    expect(adaptivePlan({ maxLength: 256 }).nBrackets).toBe(3); // standard is the default
    expect(adaptivePlan({ maxLength: 256 }).minResource).toBe(1);
  });

  it('caps the rungs by maxRungs, log(maxLength) and log(maxTrials)', () => {
    // 100 epochs, divisor 4: floor(log4 100) + 1 = 4 rungs; r = 100 / 4^3
    const plan = adaptivePlan({ mode: 'standard', maxLength: 100 });
    expect(plan.maxRungs).toBe(4);
    expect(plan.minResource).toBeCloseTo(1.5625, 12);
    expect(plan.bracketRungs).toEqual([4, 3, 2]); // Determined standardMode(4): 2 .. 4
    expect(adaptivePlan({ mode: 'conservative', maxLength: 100, maxRungs: 2 }).bracketRungs).toEqual([2, 1]);
    expect(adaptivePlan({ mode: 'conservative', maxLength: 100, maxTrials: 10 }).maxRungs).toBe(2); // log4 10
    expect(adaptivePlan({ mode: 'aggressive', maxLength: 1 }).bracketRungs).toEqual([1]);
  });

  it('builds a HyperbandPruner whose top rung is maxLength', () => {
    const p = adaptivePruner({ mode: 'conservative', maxLength: 81, reductionFactor: 3 });
    expect(p).toBeInstanceOf(HyperbandPruner);
    expect(p.bracketCount).toBe(5);
    expect(p.minResource).toBe(1);
    expect(p.maxResource).toBe(81);
    expect(adaptivePruner({ mode: 'aggressive', maxLength: 81, reductionFactor: 3 }).bracketCount).toBe(1);
  });

  it('aggressive mode decides as a single ASHA from the smallest rung', async () => {
    const values = [5, 3, 4, 1, 2, 2.5, 3.5, 0.5, 6, 2.2];
    const preset = adaptivePruner({ mode: 'aggressive', maxLength: 16, reductionFactor: 2 }); // r = 1
    const sha = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
    const a = await runSequential(preset, constants(values), 16);
    expect(a).toEqual(await runSequential(sha, constants(values), 16));
    expect(a.filter((o) => o !== 'C').length).toBeGreaterThan(2);
  });

  it('never judges a trial at maxLength: reaching the top rung completes it, as in Determined', async () => {
    // Steps 1..maxLength, as fitWithPruning reports epochs. The top rung of every bracket is
    // maxLength; judging it there pruned trials that had finished training, and the one-rung bracket
    // of conservative mode (no early stopping in Determined) pruned most of its trials.
    const maxLength = 4;
    const p = adaptivePruner({ mode: 'conservative', maxLength, reductionFactor: 2 }); // rungs [3, 2, 1]
    const study = new FakeStudy([], ['maximize']);
    const outcomes: string[] = [];
    for (let n = 0; n < 40; n++) {
      const q = (n * 7919) % 40;
      const reports = Array.from({ length: maxLength }, (_, i) => [i + 1, q + i] as const);
      outcomes.push(await runTrial(p, study, n, reports));
    }
    expect(outcomes.filter((o) => o === `P@${maxLength}`)).toEqual([]);
    for (let n = 0; n < 40; n++) if (p.bracketId('study', n) === 2) expect(outcomes[n], `trial ${n}`).toBe('C');
    // the lower rungs still stop trials
    expect(outcomes.filter((o) => o.startsWith('P@')).length).toBeGreaterThan(5);
  });

  it('rejects bad options', () => {
    const bad: [string, () => unknown][] = [
      ['mode', () => adaptivePruner({ mode: 'wild' as never, maxLength: 10 })],
      ['maxLength', () => adaptivePruner({} as never)],
      ['maxLength', () => adaptivePruner({ maxLength: 0 })],
      ['reductionFactor', () => adaptivePruner({ maxLength: 10, reductionFactor: 1 })],
      ['maxRungs', () => adaptivePruner({ maxLength: 10, maxRungs: 0 })],
      ['maxTrials', () => adaptivePruner({ maxLength: 10, maxTrials: -3 })],
      ['divisor', () => adaptivePruner({ maxLength: 10, divisor: 4 } as never)],
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

describe('adaptivePruner rung steps', () => {
  it('judges a rung at maxLength / divisor^j even where r * divisor^k rounds above it', async () => {
    // maxLength 87, divisor 3: 5 rungs, r = 87 / 81, and rung 3 is Determined's 87 / 3 = 29. In
    // doubles (87 / 81) * 27 is 29.000000000000004, so step 29 was not judged there but step 30 was.
    const p = adaptivePruner({ mode: 'aggressive', maxLength: 87, reductionFactor: 3 });
    const study = new FakeStudy([], ['minimize']);
    const steps = (n: number, y: (step: number) => number) => Array.from({ length: n }, (_, s) => [s, y(s)] as const);
    expect(await runTrial(p, study, 0, steps(87, () => 1))).toBe('C');
    // Better than trial 0 at rungs 0-2 (steps 2, 4, 10), worse from step 29 on.
    expect(await runTrial(p, study, 1, steps(87, (s) => (s < 29 ? 0.5 : 5)))).toBe('P@29');
  });
});

describe('adaptivePruner rung steps, as Determined truncates them', () => {
  it('puts rung j at floor(maxLength / divisor^(rungs - 1 - j)), at least 1', async () => {
    // Determined's asyncHalvingSearch: unitsNeeded = max(int(maxLength / divisor^(numRungs - id - 1)), 1).
    // maxLength 100, divisor 4, 4 rungs: 1, 6, 25 (and 100, completion). r = 100 / 64 put them at
    // 1.5625, 6.25 and 25, judged at steps 2, 7 and 25: an epoch later than Determined.
    const p = adaptivePruner({ mode: 'aggressive', maxLength: 100 });
    const study = new FakeStudy([], ['minimize']);
    const steps = (y: (step: number) => number) => Array.from({ length: 100 }, (_, i) => [i + 1, y(i + 1)] as const);
    expect(await runTrial(p, study, 0, steps(() => 1))).toBe('C');
    expect(await runTrial(p, study, 1, steps((s) => (s < 6 ? 0.5 : 5)))).toBe('P@6');
    expect(await runTrial(p, study, 2, steps(() => 3))).toBe('P@1');
  });

  it('truncates the quotient, not a product that rounds just below it', async () => {
    // maxLength 145, divisor 5: r = 145 / 125 and (145 / 125) * 25 is 28.999999999999996, which
    // truncated alone gives 28; Determined's int(145 / 5) is 29.
    const p = adaptivePruner({ mode: 'aggressive', maxLength: 145, reductionFactor: 5 });
    const study = new FakeStudy([], ['minimize']);
    const steps = (y: (step: number) => number) => Array.from({ length: 145 }, (_, i) => [i + 1, y(i + 1)] as const);
    expect(await runTrial(p, study, 0, steps(() => 1))).toBe('C');
    expect(await runTrial(p, study, 1, steps((s) => (s < 29 ? 0.5 : 5)))).toBe('P@29');
  });
});
