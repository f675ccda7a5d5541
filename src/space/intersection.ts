/**
 * The intersection search space (Optuna's `IntersectionSearchSpace`): the parameters that every
 * considered trial has, with the same distribution in all of them. Relative samplers (Sobol, GP)
 * model exactly these jointly and sample the rest independently.
 */
import { distributionsEqual } from './distributions.js';
import type { Distribution, SearchSpace } from './types.js';
import { getOwn, setOwn } from '../util/own-keys.js';

/** The part of a trial the intersection needs (a `FrozenTrial` fits; space/ cannot import trial/). */
export interface TrialDistributions {
  readonly state: string;
  readonly distributions: Readonly<Record<string, Distribution>>;
}

export interface IntersectionOptions {
  /** Also intersect over PRUNED trials (default false: COMPLETE trials only). */
  readonly includePruned?: boolean;
}

/**
 * Intersection of the distributions of all COMPLETE trials (and PRUNED ones when `includePruned`).
 * No such trial: the empty space. Keys are returned in sorted order, so a dimension order derived
 * from the result does not depend on the order in which an objective suggested its parameters.
 */
export function intersectionSearchSpace(
  trials: readonly TrialDistributions[],
  options: IntersectionOptions = {},
): SearchSpace {
  const includePruned = options.includePruned === true;
  let space: Map<string, Distribution> | null = null;
  for (const trial of trials) {
    if (trial.state !== 'COMPLETE' && !(includePruned && trial.state === 'PRUNED')) continue;
    if (space === null) {
      space = new Map(Object.entries(trial.distributions));
      continue;
    }
    for (const [name, dist] of space) {
      const other = getOwn(trial.distributions, name);
      if (other === undefined || !distributionsEqual(dist, other)) space.delete(name);
    }
    if (space.size === 0) break;
  }
  const result: Record<string, Distribution> = {};
  if (space !== null) for (const name of [...space.keys()].sort()) setOwn(result, name, space.get(name) as Distribution);
  return Object.freeze(result);
}
