import type { Pruner } from '../../src/pruners/pruner.js';
import type { StudyDirection } from '../../src/trial/types.js';
import { FakeStudy, makeTrial } from './fake-study.js';

/**
 * Runs trials one after another: trial i reports `curves[i](step)` at steps 0..nSteps-1 and asks
 * the pruner after every report. Returns 'C' for a trial that completed, or 'P@<step>'.
 */
export async function runSequential(
  pruner: Pruner,
  curves: readonly ((step: number) => number)[],
  nSteps: number,
  direction: StudyDirection = 'minimize',
  studyName = 'study',
): Promise<string[]> {
  const study = new FakeStudy([], [direction], studyName);
  const outcomes: string[] = [];
  for (let i = 0; i < curves.length; i++) {
    const values: Record<number, number> = {};
    let outcome = 'C';
    for (let step = 0; step < nSteps; step++) {
      values[step] = curves[i](step);
      const trial = makeTrial({ number: i, state: 'RUNNING', values });
      study.trials = [...study.trials.filter((t) => t.number !== i), trial];
      if (await pruner.prune(study, trial)) {
        outcome = `P@${step}`;
        break;
      }
    }
    const state = outcome === 'C' ? 'COMPLETE' : 'PRUNED';
    study.trials = [...study.trials.filter((t) => t.number !== i), makeTrial({ number: i, state, values })];
    outcomes.push(outcome);
  }
  return outcomes;
}

/** Constant curves. */
export function constants(values: readonly number[]): ((step: number) => number)[] {
  return values.map((v) => () => v);
}
