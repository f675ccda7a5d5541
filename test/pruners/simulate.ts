import type { Pruner } from '../../src/pruners/pruner.js';
import type { StudyDirection } from '../../src/trial/types.js';
import { FakeStudy, makeTrial } from './fake-study.js';

/**
 * Runs trial `number` of `study`: it reports `reports` ([step, value], in order) and asks the
 * pruner after every report, as `trial.report` + `trial.shouldPrune` do on a Study; it stops at the
 * first prune. Returns 'C' for a trial that completed, or 'P@<step>'.
 */
export async function runTrial(
  pruner: Pruner,
  study: FakeStudy,
  number: number,
  reports: readonly (readonly [number, number])[],
): Promise<string> {
  const values: Record<number, number> = {};
  let outcome = 'C';
  for (const [step, value] of reports) {
    if (!(step in values)) values[step] = value; // a repeated step keeps its first value, as storage does
    const trial = study.put(makeTrial({ number, state: 'RUNNING', values: { ...values } }));
    if (await pruner.prune(study, trial)) {
      outcome = `P@${step}`;
      break;
    }
  }
  study.put(makeTrial({ number, state: outcome === 'C' ? 'COMPLETE' : 'PRUNED', values }));
  return outcome;
}

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
    const reports = Array.from({ length: nSteps }, (_, step) => [step, curves[i](step)] as const);
    outcomes.push(await runTrial(pruner, study, i, reports));
  }
  return outcomes;
}

/** Constant curves. */
export function constants(values: readonly number[]): ((step: number) => number)[] {
  return values.map((v) => () => v);
}
