/**
 * Hyperparameter space of the GP: bounds, defaults and priors, in log space. Shared by every
 * backend that wants the same MAP objective as the TypeScript reference.
 *
 * Notation (see backend.ts): theta = [log l_1 .. log l_d, log s2, log sn2], length d + 2.
 *
 * Priors (densities on the natural parameters, as GPyTorch registers them, so the Jacobian term
 * of the log transform is part of the log density below):
 *   l_j  ~ LogNormal(mu_d, sigma^2), mu_d = sqrt(2) + log(d) / 2, sigma = sqrt(3)
 *          the dimension-scaled lengthscale prior of Hvarfner, Hellsten & Nardi 2024, "Vanilla
 *          Bayesian Optimization Performs Great in High Dimensions" (ICML), BoTorch >= 0.12 default.
 *          -log p(l) = log l + (log l - mu_d)^2 / (2 sigma^2) + const.
 *   s2   ~ Gamma(2, 1) (shape 2, rate 1; Optuna 4.x GPSampler's kernel-scale prior, weak, mode 1
 *          for standardized y): -log p(s2) = -log s2 + s2 + const.
 *   sn2  ~ LogNormal(-4, 1) (BoTorch >= 0.12 SingleTaskGP noise prior, weak):
 *          -log p(sn2) = log sn2 + (log sn2 + 4)^2 / 2 + const.
 * Constants of the priors are dropped (they do not move the MAP point).
 *
 * Bounds (inputs live in [0, 1]^d, y is standardized):
 *   l in [1e-2, 1e3], s2 in [1e-2, 1e2], sn2 in [1e-6, 1]; `deterministic` pins sn2 = 1e-6.
 */

export const LENGTHSCALE_PRIOR_SIGMA = Math.sqrt(3);
export const NOISE_PRIOR_LOC = -4;
export const NOISE_PRIOR_SCALE = 1;
export const OUTPUT_SCALE_PRIOR_SHAPE = 2;
export const OUTPUT_SCALE_PRIOR_RATE = 1;

export const LOG_LENGTHSCALE_BOUNDS: readonly [number, number] = [Math.log(1e-2), Math.log(1e3)];
export const LOG_OUTPUT_SCALE_BOUNDS: readonly [number, number] = [Math.log(1e-2), Math.log(1e2)];
export const LOG_NOISE_BOUNDS: readonly [number, number] = [Math.log(1e-6), Math.log(1)];
/** Noise variance used when the objective is declared deterministic (y standardized: ~1e-6 relative). */
export const DETERMINISTIC_NOISE = 1e-6;
/** Starting noise variance of a learned-noise fit. */
export const DEFAULT_NOISE = 1e-3;

/** mu_d of the lengthscale prior. */
export function lengthscalePriorLoc(d: number): number {
  return Math.SQRT2 + Math.log(Math.max(d, 1)) / 2;
}

/** Default theta: lengthscales at the mode of the LogNormal prior (exp(mu_d - sigma^2)), s2 = 1. */
export function defaultTheta(d: number, deterministic: boolean): Float64Array {
  const theta = new Float64Array(d + 2);
  const logL = lengthscalePriorLoc(d) - LENGTHSCALE_PRIOR_SIGMA * LENGTHSCALE_PRIOR_SIGMA;
  for (let j = 0; j < d; j++) theta[j] = clamp(logL, LOG_LENGTHSCALE_BOUNDS);
  theta[d] = 0;
  theta[d + 1] = Math.log(deterministic ? DETERMINISTIC_NOISE : DEFAULT_NOISE);
  return theta;
}

/** Lower and upper bounds of theta; the noise entry is pinned when deterministic. */
export function thetaBounds(d: number, deterministic: boolean): { lower: Float64Array; upper: Float64Array } {
  const lower = new Float64Array(d + 2);
  const upper = new Float64Array(d + 2);
  for (let j = 0; j < d; j++) {
    lower[j] = LOG_LENGTHSCALE_BOUNDS[0];
    upper[j] = LOG_LENGTHSCALE_BOUNDS[1];
  }
  lower[d] = LOG_OUTPUT_SCALE_BOUNDS[0];
  upper[d] = LOG_OUTPUT_SCALE_BOUNDS[1];
  if (deterministic) {
    lower[d + 1] = Math.log(DETERMINISTIC_NOISE);
    upper[d + 1] = Math.log(DETERMINISTIC_NOISE);
  } else {
    lower[d + 1] = LOG_NOISE_BOUNDS[0];
    upper[d + 1] = LOG_NOISE_BOUNDS[1];
  }
  return { lower, upper };
}

/**
 * Adds -log prior(theta) to `value` and its gradient to `grad` (both in theta space). Returns the
 * new value. The noise prior is skipped when `deterministic` (noise is fixed).
 */
export function addNegLogPrior(theta: Float64Array, d: number, deterministic: boolean, grad: Float64Array): number {
  let value = 0;
  const mu = lengthscalePriorLoc(d);
  const s2 = LENGTHSCALE_PRIOR_SIGMA * LENGTHSCALE_PRIOR_SIGMA;
  for (let j = 0; j < d; j++) {
    const t = theta[j];
    value += t + ((t - mu) * (t - mu)) / (2 * s2);
    grad[j] += 1 + (t - mu) / s2;
  }
  const ts = theta[d];
  const scale = Math.exp(ts);
  value += -(OUTPUT_SCALE_PRIOR_SHAPE - 1) * ts + OUTPUT_SCALE_PRIOR_RATE * scale;
  grad[d] += -(OUTPUT_SCALE_PRIOR_SHAPE - 1) + OUTPUT_SCALE_PRIOR_RATE * scale;
  if (!deterministic) {
    const tn = theta[d + 1];
    const z = (tn - NOISE_PRIOR_LOC) / NOISE_PRIOR_SCALE;
    value += tn + (z * z) / 2;
    grad[d + 1] += 1 + z / NOISE_PRIOR_SCALE;
  }
  return value;
}

export function clamp(v: number, bounds: readonly [number, number]): number {
  return v < bounds[0] ? bounds[0] : v > bounds[1] ? bounds[1] : v;
}
