/**
 * Crossover operators of the genetic sampler, on encoded numeric coordinates.
 *
 * Notation:
 *   d         number of numeric (non-categorical) dimensions
 *   x0, x1    the two parents, Float64Array(d), coordinates in the unit interval [0, 1] (the
 *             `encode` space of src/space/encode.ts: log, step and int handled there)
 *   child     Float64Array(d); may leave [0, 1] for BLX-alpha (the caller retries, then clamps)
 *
 * Sources:
 * - Uniform crossover: G. Syswerda, "Uniform crossover in genetic algorithms", ICGA 1989; each gene
 *   comes from x1 with probability `swappingProb`, else from x0 (Optuna's `UniformCrossover`).
 * - BLX-alpha: L. J. Eshelman & J. D. Schaffer, "Real-coded genetic algorithms and
 *   interval-schemata", FOGA 1993: child_j ~ U[min_j - alpha I_j, max_j + alpha I_j] with
 *   I_j = |x0_j - x1_j| (Optuna's `BLXAlphaCrossover`, alpha = 0.5).
 * - SBX: K. Deb & R. B. Agrawal, "Simulated binary crossover for continuous search space", Complex
 *   Systems 9, 1995, in the bounded form of K. Deb & M. Goyal (1996) as written in M. M. Raghuwanshi
 *   & O. G. Kakde, "Simulated binary crossover with lognormal distribution", Section 2, eqs. (3)-(5),
 *   and implemented by Optuna's `SBXCrossover`: with beta1 = 1 + 2 (min_j - lo) / diff,
 *   beta2 = 1 + 2 (hi - max_j) / diff, alpha_i = 2 - beta_i^-(eta+1),
 *   betaq_i = (u alpha_i)^(1/(eta+1)) if u <= 1/alpha_i else (1 / (2 - u alpha_i))^(1/(eta+1)),
 *   c1 = (min + max - betaq1 diff) / 2, c2 = (min + max + betaq2 diff) / 2, both inside [lo, hi].
 *   Per gene, with probability 1/2 the pair (c1, c2) is used, else the parents' pair (x0, x1); each
 *   pair is swapped with probability 1/2; one of the two resulting children is returned.
 */
import type { Rng } from '../../util/prng.js';

/** The crossover operators NsgaIiSampler offers (Optuna's names, lower-cased). */
export type CrossoverKind = 'uniform' | 'blxalpha' | 'sbx';

export const CROSSOVER_KINDS: readonly CrossoverKind[] = ['uniform', 'blxalpha', 'sbx'];

export interface CrossoverSettings {
  readonly kind: CrossoverKind;
  /** Uniform crossover: probability that a gene comes from the second parent. */
  readonly swappingProb: number;
  /** BLX-alpha: the interval extension alpha. */
  readonly blxAlpha: number;
  /** SBX: distribution index eta (larger keeps children nearer their parents). */
  readonly sbxEta: number;
}

/** A child of `x0` and `x1` (same length) by `settings.kind`. */
export function crossover(settings: CrossoverSettings, x0: Float64Array, x1: Float64Array, rng: Rng): Float64Array {
  switch (settings.kind) {
    case 'uniform':
      return uniformCrossover(x0, x1, settings.swappingProb, rng);
    case 'blxalpha':
      return blxAlphaCrossover(x0, x1, settings.blxAlpha, rng);
    case 'sbx':
      return sbxCrossover(x0, x1, settings.sbxEta, rng);
  }
}

/** Uniform crossover: gene j from x1 with probability `swappingProb`, else from x0. */
export function uniformCrossover(x0: Float64Array, x1: Float64Array, swappingProb: number, rng: Rng): Float64Array {
  const child = new Float64Array(x0.length);
  for (let j = 0; j < x0.length; j++) child[j] = rng.nextFloat() < swappingProb ? x1[j] : x0[j];
  return child;
}

/** BLX-alpha: gene j uniform on [min_j - alpha I_j, max_j + alpha I_j]. */
export function blxAlphaCrossover(x0: Float64Array, x1: Float64Array, alpha: number, rng: Rng): Float64Array {
  const child = new Float64Array(x0.length);
  for (let j = 0; j < x0.length; j++) {
    const lo = Math.min(x0[j], x1[j]);
    const hi = Math.max(x0[j], x1[j]);
    const ext = alpha * (hi - lo);
    child[j] = lo - ext + rng.nextFloat() * (hi - lo + 2 * ext);
  }
  return child;
}

/** Bounded SBX on [0, 1] (see the file comment). */
export function sbxCrossover(x0: Float64Array, x1: Float64Array, eta: number, rng: Rng): Float64Array {
  const d = x0.length;
  const first = new Float64Array(d);
  const second = new Float64Array(d);
  const power = 1 / (eta + 1);
  for (let j = 0; j < d; j++) {
    const xMin = Math.min(x0[j], x1[j]);
    const xMax = Math.max(x0[j], x1[j]);
    const diff = Math.max(xMax - xMin, 1e-10);
    const beta1 = 1 + (2 * (xMin - 0)) / diff;
    const beta2 = 1 + (2 * (1 - xMax)) / diff;
    const alpha1 = 2 - Math.pow(beta1, -(eta + 1));
    const alpha2 = 2 - Math.pow(beta2, -(eta + 1));
    const u = rng.nextFloat();
    const betaq1 = u > 1 / alpha1 ? Math.pow(1 / (2 - u * alpha1), power) : Math.pow(u * alpha1, power);
    const betaq2 = u > 1 / alpha2 ? Math.pow(1 / (2 - u * alpha2), power) : Math.pow(u * alpha2, power);
    const c1 = 0.5 * (xMin + xMax - betaq1 * diff);
    const c2 = 0.5 * (xMin + xMax + betaq2 * diff);
    const useChild = rng.nextFloat() < 0.5;
    const swap = rng.nextFloat() < 0.5;
    const a = useChild ? c1 : x0[j];
    const b = useChild ? c2 : x1[j];
    first[j] = swap ? b : a;
    second[j] = swap ? a : b;
  }
  return rng.nextFloat() < 0.5 ? first : second;
}
