/**
 * Optuna's default `gamma` and `weights` functions of the TPE sampler
 * (optuna/samplers/_tpe/sampler.py, v4).
 */

/** Number of "good" trials among n finished ones: min(ceil(0.1 n), 25) (Optuna's `default_gamma`). */
export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** min(ceil(0.25 sqrt(n)), 25): the rule of hyperopt (Optuna's `hyperopt_default_gamma`). */
export function hyperoptDefaultGamma(n: number): number {
  return Math.min(Math.ceil(0.25 * Math.sqrt(n)), 25);
}

/**
 * Weights of n observations in trial-number order (Optuna's `default_weights`): all 1 below 25;
 * from 25 on, the oldest n - 25 ramp linearly from 1/n up to 1 and the newest 25 weigh 1.
 */
export function defaultWeights(n: number): Float64Array {
  const out = new Float64Array(Math.max(0, n));
  if (n <= 0) return out;
  if (n < 25) return out.fill(1);
  const nRamp = n - 25;
  // numpy.linspace(1/n, 1, num = n - 25): endpoints included; a single point is 1/n.
  for (let i = 0; i < nRamp; i++) out[i] = nRamp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (nRamp - 1);
  for (let i = nRamp; i < n; i++) out[i] = 1;
  return out;
}
