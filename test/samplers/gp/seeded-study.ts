/** A 2-D test problem and a study pre-filled with a deterministic design of it (refit-policy and stored-fit tests). */
import { floatDistribution } from '../../../src/space/distributions.js';
import type { ParamValue, SearchSpace } from '../../../src/space/types.js';
import { FakeStudy } from './fake-study.js';

export const SPACE: SearchSpace = { a: floatDistribution('a', 0, 1), b: floatDistribution('b', 0, 1) };

export const objective = (p: Record<string, ParamValue>): number =>
  ((p.a as number) - 0.3) ** 2 + ((p.b as number) - 0.6) ** 2 + 0.1 * Math.sin(9 * (p.a as number));

/** A study holding `nInitial` completed trials on a seeded grid-like design. */
export function seededStudy(nInitial: number): FakeStudy {
  const study = new FakeStudy(['minimize']);
  for (let i = 0; i < nInitial; i++) {
    const params = { a: ((i * 0.618034) % 1 + 0.01) % 1, b: ((i * 0.414214) % 1 + 0.02) % 1 };
    study.add(params, { ...SPACE }, 'COMPLETE', objective(params));
  }
  return study;
}
