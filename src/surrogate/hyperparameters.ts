/**
 * Hyperparameter space of the GP: bounds, defaults and priors, in log space. Shared by every
 * backend that wants the same MAP objective as the TypeScript reference.
 *
 * Notation (see backend.ts): theta = [log l_1 .. log l_d, log s2, log sn2], length d + 2.
 *
 * Priors (log densities as functions of the natural parameters, added to the log marginal
 * likelihood of the log-space parameters as GPyTorch and Optuna do):
 *   l_j  Optuna 4.x GPSampler's prior on the inverse squared lengthscale w = l^-2:
 *          -log p = 0.1 (w + 1/w) = 0.1 (l^2 + l^-2) + const, mode l = 1; it keeps every
 *          lengthscale within about [0.2, 5] unless the data insist. It replaced BoTorch's
 *          dimension-scaled LogNormal(sqrt(2) + log(d) / 2, 3) (Hvarfner et al. 2024) in 2026-12:
 *          with GpSampler's default incumbent, over 40 seeds at 100 evaluations, it halves
 *          Rosenbrock-8's regret and cuts Levy-10's by a third, is level on Hartmann-6 and
 *          Ackley-10, and costs Branin 1.6x (still ~1e-5; bench/quality.md).
 *   s2   ~ Gamma(2, 1) (shape 2, rate 1; Optuna 4.x GPSampler's kernel-scale prior, weak, mode 1
 *          for standardized y): -log p(s2) = -log s2 + s2 + const.
 *   sn2  ~ Gamma(1.1, 30) (shape 1.1, rate 30; Optuna 4.x GPSampler's noise prior):
 *          -log p(sn2) = -0.1 log sn2 + 30 sn2 + const. It penalizes a large noise and hardly
 *          resists a small one. BoTorch's LogNormal(-4, 1), the default until 2026-12-05 (evening),
 *          pulled the noise towards 0.018 with a force that grows as the noise falls, which kept
 *          a smooth objective's model blurred until late.
 * Constants of the priors are dropped (they do not move the MAP point).
 *
 * Bounds (inputs live in [0, 1]^d, y is standardized):
 *   l in [1e-2, 1e3], s2 in [1e-2, 1e2], sn2 in [MIN_NOISE = 1e-8, 1]; `deterministic` pins
 *   sn2 = MIN_NOISE.
 *
 * Why this prior and a noise floor of 1e-8 (it was 1e-6, Optuna's): on a smooth noise-free
 * objective the fitted noise sits at the floor, and late in a run the values near the optimum
 * differ by less than its standard deviation (at 1e-6: 1e-3 of the targets' spread), so the model
 * cannot tell them apart and the search creeps next to the incumbent (a Branin run: 56 of
 * evaluations 41-97 inside one box 1e-3 wide, 5e-3 from it, none better). A lower floor only helps
 * once the prior lets the noise go there. Together, over 80 seeds at 60 / 100 evaluations, against
 * the 1e-6 floor and the LogNormal prior: Branin x0.02-0.05 / x0.05-0.13 (median at 100: 6.2e-6 ->
 * 7.4e-7), Hartmann-6 x0.12-0.27 / x0.08-0.23 (2.2e-4 -> 1.1e-5), Rosenbrock-8 and Levy-10
 * x0.66-0.95, Ackley-10 unchanged, noisy versions of all five neutral (x1.03 overall;
 * bench/quality.md, section "Optuna's noise prior and a 1e-8 noise floor"). A floor of 1e-10
 * resolves smooth objectives further (Branin 2e-8 at 100) but makes the likelihood numerically
 * rough where the noise reaches it (noise over output scale ~1e-11): warm refits on Rosenbrock-8
 * at n = 500 took 4-7x the evaluations, and a suggestion refitting every trial went over the
 * 123 ms target. The covariance's smallest eigenvalue stays >= 1e-8 s2, duplicate inputs included;
 * where rounding still defeats the Cholesky, its bounded jitter escalation takes over.
 */

/** Weight of the lengthscale prior: -log p(l) = LENGTHSCALE_PRIOR_WEIGHT (l^2 + l^-2). */
export const LENGTHSCALE_PRIOR_WEIGHT = 0.1;
export const NOISE_PRIOR_SHAPE = 1.1;
export const NOISE_PRIOR_RATE = 30;
export const OUTPUT_SCALE_PRIOR_SHAPE = 2;
export const OUTPUT_SCALE_PRIOR_RATE = 1;

export const LOG_LENGTHSCALE_BOUNDS: readonly [number, number] = [Math.log(1e-2), Math.log(1e3)];
export const LOG_OUTPUT_SCALE_BOUNDS: readonly [number, number] = [Math.log(1e-2), Math.log(1e2)];
/** Lower bound of the learned noise variance (y standardized). */
export const MIN_NOISE = 1e-8;
export const LOG_NOISE_BOUNDS: readonly [number, number] = [Math.log(MIN_NOISE), Math.log(1)];
/** Noise variance used when the objective is declared deterministic: the floor. */
export const DETERMINISTIC_NOISE = MIN_NOISE;
/** Starting noise variance of a learned-noise fit. */
export const DEFAULT_NOISE = 1e-3;

/** Default theta: every lengthscale 1 (the prior's mode), s2 = 1. */
export function defaultTheta(d: number, deterministic: boolean): Float64Array {
  const theta = new Float64Array(d + 2);
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
  for (let j = 0; j < d; j++) {
    const l2 = Math.exp(2 * theta[j]);
    const invL2 = 1 / l2;
    value += LENGTHSCALE_PRIOR_WEIGHT * (l2 + invL2);
    grad[j] += 2 * LENGTHSCALE_PRIOR_WEIGHT * (l2 - invL2);
  }
  const ts = theta[d];
  const scale = Math.exp(ts);
  value += -(OUTPUT_SCALE_PRIOR_SHAPE - 1) * ts + OUTPUT_SCALE_PRIOR_RATE * scale;
  grad[d] += -(OUTPUT_SCALE_PRIOR_SHAPE - 1) + OUTPUT_SCALE_PRIOR_RATE * scale;
  if (!deterministic) {
    const tn = theta[d + 1];
    const noise = Math.exp(tn);
    value += -(NOISE_PRIOR_SHAPE - 1) * tn + NOISE_PRIOR_RATE * noise;
    grad[d + 1] += -(NOISE_PRIOR_SHAPE - 1) + NOISE_PRIOR_RATE * noise;
  }
  return value;
}

export function clamp(v: number, bounds: readonly [number, number]): number {
  return v < bounds[0] ? bounds[0] : v > bounds[1] ? bounds[1] : v;
}
