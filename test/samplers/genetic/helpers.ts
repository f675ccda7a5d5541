/**
 * Test helpers for the genetic sampler: a FakeStudy with chosen directions, a driver for
 * multi-objective trials, ZDT1 and an exact 2-D hypervolume.
 */
import type { Distribution, ParamValue } from '../../../src/space/types.js';
import type { Sampler } from '../../../src/samplers/sampler.js';
import { FrozenTrial } from '../../../src/trial/frozen-trial.js';
import type { StudyDirection, TrialState } from '../../../src/trial/types.js';
import { FakeStudy, ask, suggestAll } from '../fake-study.js';

/** A FakeStudy whose directions are given (FakeStudy is single-objective minimize). */
export class DirectedStudy extends FakeStudy {
  override readonly directions: readonly StudyDirection[];

  constructor(directions: readonly StudyDirection[]) {
    super();
    this.directions = directions;
  }
}

export type VectorObjective = (params: Readonly<Record<string, ParamValue>>) => readonly number[];

/** ask + suggestAll + tell with `objective(params)` values (or the given final state). */
export async function runVectorTrial(
  sampler: Sampler,
  study: FakeStudy,
  space: Readonly<Record<string, Distribution>>,
  objective: VectorObjective,
  state: TrialState = 'COMPLETE',
): Promise<FrozenTrial> {
  const asked = await ask(sampler, study);
  const params = suggestAll(sampler, study, asked, space);
  const values = state === 'COMPLETE' ? [...objective(params)] : null;
  const finished = new FrozenTrial({
    ...asked.trial.toJSON(),
    state,
    values,
    params,
    distributions: space,
    datetimeComplete: 1,
  });
  study.trials[asked.trial.number] = finished;
  if (sampler.afterTrial !== undefined) await sampler.afterTrial(study, finished, state, values);
  return finished;
}

/** ZDT1 (Zitzler, Deb & Thiele 2000) on x in [0, 1]^n; Pareto front f2 = 1 - sqrt(f1) at g = 1. */
export function zdt1(x: readonly number[]): [number, number] {
  const f1 = x[0];
  let sum = 0;
  for (let i = 1; i < x.length; i++) sum += x[i];
  const g = 1 + (9 * sum) / (x.length - 1);
  return [f1, g * (1 - Math.sqrt(f1 / g))];
}

/**
 * Exact hypervolume (area) dominated by `points` (both objectives minimized) and bounded by
 * `reference`: sort the points inside the box by f1, sweep, add one rectangle per new f2 minimum.
 */
export function hypervolume2d(points: readonly (readonly number[])[], reference: readonly [number, number]): number {
  const inside = points.filter((p) => p[0] < reference[0] && p[1] < reference[1]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let area = 0;
  let bestF2 = reference[1];
  for (const p of inside) {
    if (p[1] < bestF2) {
      area += (reference[0] - p[0]) * (bestF2 - p[1]);
      bestF2 = p[1];
    }
  }
  return area;
}
