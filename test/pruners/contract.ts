/**
 * The contract every pruner satisfies. Call `runPrunerContract(name, makePruner)` from a test file;
 * `makePruner` returns a fresh pruner on every call.
 */
import { describe, expect, it } from 'vitest';
import type { Pruner } from '../../src/pruners/pruner.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import type { StudyDirection } from '../../src/trial/types.js';
import { FakeStudy, curve, makeTrial } from './fake-study.js';

const N_STEPS = 30;

/**
 * 14 COMPLETE trials, 4 PRUNED (stopped at step 3) and 2 RUNNING (at step 10), with decreasing
 * curves (minimize; `sign = -1` mirrors them for maximize). Every value is >= 1 in magnitude.
 */
function population(sign: 1 | -1): FrozenTrial[] {
  const trials: FrozenTrial[] = [];
  for (let i = 0; i < 20; i++) {
    const base = 1 + ((i * 7) % 13);
    const state = i < 14 ? 'COMPLETE' : i < 18 ? 'PRUNED' : 'RUNNING';
    const n = state === 'COMPLETE' ? N_STEPS : state === 'PRUNED' ? 4 : 11;
    trials.push(makeTrial({ number: i, state, values: curve(n, (s) => sign * base * (1 + 3 / (s + 1))) }));
  }
  return trials;
}

/**
 * A study holding `trials` as if `pruner` had run them: each one, in order, reported its steps and
 * asked the pruner after each report (its answers ignored), then took its final state. So pruners
 * that record state on trials (successive halving's rung records) find it there.
 */
async function studyOf(
  pruner: Pruner,
  trials: readonly FrozenTrial[],
  directions: readonly StudyDirection[] = ['minimize'],
): Promise<FakeStudy> {
  const study = new FakeStudy([], directions);
  for (const final of trials) {
    const values: Record<number, number> = {};
    for (const step of Object.keys(final.intermediateValues).map(Number).sort((a, b) => a - b)) {
      values[step] = final.intermediateValues[step];
      await pruner.prune(study, study.put(makeTrial({ number: final.number, state: 'RUNNING', values: { ...values } })));
    }
    study.put(final);
  }
  study.getTrialsCalls = 0;
  return study;
}

/** The running trial number 20 with its first `n` values from `y`. */
function current(n: number, y: (step: number) => number): FrozenTrial {
  return makeTrial({ number: 20, state: 'RUNNING', values: curve(n, y) });
}

/** Stores `trial` (a new report of it) and asks the pruner about it. */
async function decide(pruner: Pruner, study: FakeStudy, trial: FrozenTrial): Promise<boolean> {
  return pruner.prune(study, study.put(trial));
}

export function runPrunerContract(name: string, makePruner: () => Pruner): void {
  describe(`${name}: pruner contract`, () => {
    it('has a non-empty name', () => {
      expect(makePruner().name.length).toBeGreaterThan(0);
    });

    it('never prunes a trial without intermediate values', async () => {
      for (const direction of ['minimize', 'maximize'] as const) {
        const pruner = makePruner();
        const study = await studyOf(pruner, population(direction === 'minimize' ? 1 : -1), [direction]);
        const empty = makeTrial({ number: 20, state: 'RUNNING', values: {} });
        expect(await decide(pruner, study, empty)).toBe(false);
      }
    });

    it('is deterministic: the same trials give the same answers, from one instance or a fresh one', async () => {
      const y = (s: number) => 6 * (1 + 3 / (s + 1)) + (s % 3) * 0.5;
      const answers: boolean[][] = [];
      for (let run = 0; run < 2; run++) {
        const pruner = makePruner();
        const study = await studyOf(pruner, population(1));
        const row: boolean[] = [];
        const snapshots: FrozenTrial[][] = [];
        for (let n = 1; n <= N_STEPS; n++) {
          snapshots.push(study.trials);
          row.push(await decide(pruner, study, current(n, y)));
        }
        // asking again about the same snapshot of the storage gives the same answer
        const last = study.trials;
        for (let n = 1; n <= N_STEPS; n += 7) {
          study.trials = snapshots[n - 1];
          expect(await decide(pruner, study, current(n, y))).toBe(row[n - 1]);
        }
        study.trials = last;
        answers.push(row);
      }
      expect(answers[1]).toEqual(answers[0]);
    });

    it('does not throw on NaN values, in the trial or in the others', async () => {
      const pruner = makePruner();
      const others = population(1);
      others.push(makeTrial({ number: 21, values: curve(N_STEPS, () => NaN) }));
      const study = await studyOf(pruner, others);
      for (let n = 1; n <= 12; n++) {
        const answer = await decide(pruner, study, current(n, (s) => (s % 2 === 0 ? NaN : 5)));
        expect(typeof answer).toBe('boolean');
      }
      const allNaN = await decide(pruner, study, current(5, () => NaN));
      expect(typeof allNaN).toBe('boolean');
    });

    for (const direction of ['minimize', 'maximize'] as const) {
      it(`never prunes a trial that is the best at every step and improving (${direction})`, async () => {
        const sign = direction === 'minimize' ? 1 : -1;
        const pruner = makePruner();
        const study = await studyOf(pruner, population(sign), [direction]);
        for (let n = 1; n <= N_STEPS; n++) {
          const trial = current(n, (s) => sign * 0.5 / (s + 1));
          expect(await decide(pruner, study, trial), `step ${n - 1}`).toBe(false);
        }
      });
    }

    it('reads the trials at most once per call', async () => {
      const pruner = makePruner();
      const study = await studyOf(pruner, population(1));
      for (let n = 1; n <= 12; n++) {
        const before = study.getTrialsCalls;
        await decide(pruner, study, current(n, () => 50));
        expect(study.getTrialsCalls - before).toBeLessThanOrEqual(1);
      }
    });
  });
}
