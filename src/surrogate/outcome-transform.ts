/**
 * Outcome transforms: how observed objective values become GP targets (BoTorch's term for the
 * same step). Knows nothing of trials: numbers in, a monotone increasing map out, so the best
 * observation stays the best target.
 *
 * Notation: v the values (larger is better), n of them; mean and std their moments (std = 1
 * when they are numerically equal, max(1, 1e-12 |mean|) in general; see `moments`);
 * z = (v - mean) / std; psi(z; lambda) the Yeo-Johnson transform
 * (Yeo & Johnson 2000, "A new family of power transformations to improve normality or symmetry"):
 *   z >= 0: ((z + 1)^lambda - 1) / lambda   (lambda != 0),  log(z + 1)   (lambda = 0)
 *   z <  0: -((1 - z)^(2 - lambda) - 1) / (2 - lambda)   (lambda != 2),  -log(1 - z)   (lambda = 2)
 * psi(z; 1) = z.
 *
 * - 'standardize': target = z.
 * - 'power': lambda maximizes the Gaussian log-likelihood of psi(z; lambda) (Yeo & Johnson's
 *   profile likelihood, -n/2 log var(psi) + (lambda - 1) sum sign(z) log(|z| + 1), concave in
 *   lambda), by golden-section search on [LAMBDA_MIN, LAMBDA_MAX]; target = psi(z; lambda),
 *   standardized again. Objectives with a heavy tail of bad values (Rosenbrock's 1e6 beside
 *   optima near 0, a diverged training run beside good ones) otherwise leave the good region
 *   squeezed into a sliver of the standardized range, below the model's noise floor. HEBO
 *   (Cowen-Rivers et al. 2022) applies the same transform to its GP targets. Measured in
 *   bench/quality.md: lower regret at 100 evaluations on Branin, Hartmann-6, Rosenbrock-8 and
 *   Levy-10 (paired geometric mean x0.39-0.89 over 80 seeds), Ackley-10 unchanged.
 *
 * Prior mean (`PriorMeanKind`): the GP's prior mean is zero on its targets, so the targets are
 * finally shifted to put that zero where the prior mean belongs, which is where the model
 * predicts far from every observation:
 * - 'worst-observed': target - min(targets), so the prior mean is the worst observed value (the
 *   smallest target of the fitted values; rows appended later with the same transform may fall
 *   below it). De Ath, Fieldsend & Everson (2020, "What do you mean? The role of the mean function
 *   in Bayesian optimisation") found it the best constant mean on synthetic problems of 5 or more
 *   dims: with the mean of the observations, most of which are poor, every unexplored region
 *   (above all the corners of the cube, far from every observation) is predicted better than
 *   what was seen around it, and expected improvement spends evaluations there. Measured in
 *   bench/quality.md, section "The worst observation as the GP's prior mean".
 * - 'mean': no shift; the prior mean is the targets' mean, 0 (Optuna's GPSampler and BoTorch's
 *   standardized targets).
 */

export type OutcomeTransformKind = 'power' | 'standardize';

/** Where the GP's prior mean sits among the targets (see the file header). */
export type PriorMeanKind = 'worst-observed' | 'mean';

/** Bracket of the Yeo-Johnson exponent's maximum-likelihood search. */
export const LAMBDA_MIN = -2;
export const LAMBDA_MAX = 4;
const GOLDEN_ITERATIONS = 60;

/**
 * Largest |target| of a row appended to a model at a kept transform (GpSampler's model and its
 * per-column models between refits); a new value mapped beyond it makes the caller refit instead.
 * A fit's standardized targets lie within sqrt(n) of 0, so only a value absurdly far outside the
 * fitted ones gets there (1e306 beside values near 1 under a standardization); appended, its
 * target overflowed the model's solves (|alpha| up to |y| / MIN_NOISE) and the model predicted
 * NaN, which a failed trial's fantasy then carried into an append that threw InvalidOptionError
 * out of the ask. Far below that overflow, far above any target of ordinary data.
 */
export const MAX_APPENDED_TARGET = 1e150;

/** A fitted outcome transform: `apply` maps an observed value to its GP target. */
export interface OutcomeTransform {
  readonly kind: OutcomeTransformKind;
  /** Yeo-Johnson exponent (1 for 'standardize', and for 'power' on fewer than 3 values). */
  readonly lambda: number;
  readonly priorMean: PriorMeanKind;
  /** Subtracted last (the smallest transformed value for 'worst-observed', 0 for 'mean'). */
  readonly offset: number;
  apply(value: number): number;
}

/** A std below this is recomputed on scaled values (`moments`): squared deviations near 1e-300 lose digits, below 1e-324 vanish. */
const TINY_STD = 1e-100;

/**
 * Mean and standard deviation (population). Finite values of any magnitude (a loss of 1e300
 * beside one of 1e-3, sentinels of +-Number.MAX_VALUE, losses of 1e-300) give a finite mean and
 * std: when the deviations or their squares overflow, or their squares underflow (a std below
 * TINY_STD), they are taken of v / M, M = max |v| (which lie in [-1, 1], their deviations in
 * [-2, 2]), and scaled back (a population std never exceeds M).
 * When the values are numerically equal (std <= t = 1e-12 |mean|: differences at the level of
 * rounding, relative to their magnitude) std = max(1, t): 1 for values of ordinary magnitude (as
 * before), and t beyond |mean| = 1e12, so that their targets stay within about +-1 instead of
 * being the raw differences v - mean (up to 1e8 for values near 1e20, overflowing the GP's
 * likelihood past 1e160). The threshold was 1e-12 max(1, |mean|), absolute below |mean| = 1:
 * distinct losses spread over [0, 1e-12] were taken for equal ones, and the GP, left targets that
 * differed by 1e-13, asked the worst point.
 */
export function moments(values: ArrayLike<number>): { mean: number; std: number } {
  const n = values.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i] / n;
  if (!Number.isFinite(mean)) {
    // In exact arithmetic no partial sum of the v / n exceeds max |v|, but rounding can carry a
    // sum of values at +-Number.MAX_VALUE past it (the mean of three MAX_VALUEs came out Infinity,
    // and every target NaN). The true mean lies in [min v, max v]: clamp to it.
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      lo = Math.min(lo, values[i]);
      hi = Math.max(hi, values[i]);
    }
    mean = Math.min(hi, Math.max(lo, mean));
  }
  let variance = 0;
  for (let i = 0; i < n; i++) variance += ((values[i] - mean) * (values[i] - mean)) / n;
  let std = Math.sqrt(variance);
  if (!Number.isFinite(std) || std < TINY_STD) {
    let scale = 0;
    for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(values[i]));
    if (scale > 0) {
      const scaledMean = mean / scale;
      let scaled = 0;
      for (let i = 0; i < n; i++) scaled += (values[i] / scale - scaledMean) ** 2 / n;
      std = scale * Math.sqrt(scaled);
    }
  }
  const threshold = 1e-12 * Math.abs(mean);
  return { mean, std: std > threshold ? std : Math.max(1, threshold) };
}

/**
 * (v - mean) / std, also where v - mean overflows (v and mean near +-Number.MAX_VALUE with
 * opposite signs): then v / std - mean / std, finite whenever the result is representable.
 */
export function standardizeValue(v: number, mean: number, std: number): number {
  const z = (v - mean) / std;
  return Number.isFinite(z) ? z : v / std - mean / std;
}

/** psi(z; lambda), the Yeo-Johnson transform (see the notation block). */
export function yeoJohnson(z: number, lambda: number): number {
  return yeoJohnsonOfLog(Math.log1p(Math.abs(z)), z < 0, lambda);
}

/**
 * psi(z; lambda) from l = log(|z| + 1) and the sign of z: (|z| + 1)^p - 1 as expm1(p l), with
 * no cancellation as lambda -> 0 (or 2 - lambda -> 0).
 */
function yeoJohnsonOfLog(l: number, negative: boolean, lambda: number): number {
  if (!negative) return Math.abs(lambda) < 1e-12 ? l : Math.expm1(lambda * l) / lambda;
  const mu = 2 - lambda;
  return Math.abs(mu) < 1e-12 ? -l : -Math.expm1(mu * l) / mu;
}

/** The profile log-likelihood of lambda for standardized values z (see the notation block). */
export function yeoJohnsonLogLikelihood(z: ArrayLike<number>, lambda: number): number {
  return new LikelihoodTerms(z).at(lambda);
}

/**
 * What the likelihood needs of z, computed once for a search over lambda: log(|z| + 1) and the
 * sign per value, and the Jacobian sum (independent of lambda); psi(z; lambda) is then one
 * expm1 per value (yeoJohnsonOfLog, as yeoJohnson).
 */
class LikelihoodTerms {
  private readonly logs: Float64Array;
  private readonly negative: Uint8Array;
  private readonly t: Float64Array;
  private readonly jacobian: number;

  constructor(z: ArrayLike<number>) {
    const n = z.length;
    this.logs = new Float64Array(n);
    this.negative = new Uint8Array(n);
    this.t = new Float64Array(n);
    let jacobian = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.log1p(Math.abs(z[i]));
      this.logs[i] = l;
      this.negative[i] = z[i] < 0 ? 1 : 0;
      jacobian += z[i] < 0 ? -l : z[i] > 0 ? l : 0;
    }
    this.jacobian = jacobian;
  }

  at(lambda: number): number {
    const { logs, negative, t } = this;
    const n = logs.length;
    let mean = 0;
    for (let i = 0; i < n; i++) {
      t[i] = yeoJohnsonOfLog(logs[i], negative[i] === 1, lambda);
      mean += t[i] / n;
    }
    let variance = 0;
    for (let i = 0; i < n; i++) variance += ((t[i] - mean) * (t[i] - mean)) / n;
    return -0.5 * n * Math.log(Math.max(variance, Number.MIN_VALUE)) + (lambda - 1) * this.jacobian;
  }
}

/** The maximum-likelihood Yeo-Johnson exponent within [LAMBDA_MIN, LAMBDA_MAX] (1 for n < 3). */
export function yeoJohnsonLambda(z: ArrayLike<number>): number {
  if (z.length < 3) return 1;
  const terms = new LikelihoodTerms(z);
  const ratio = (Math.sqrt(5) - 1) / 2;
  let lo = LAMBDA_MIN;
  let hi = LAMBDA_MAX;
  let a = hi - ratio * (hi - lo);
  let b = lo + ratio * (hi - lo);
  let fa = terms.at(a);
  let fb = terms.at(b);
  for (let it = 0; it < GOLDEN_ITERATIONS; it++) {
    if (fa >= fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - ratio * (hi - lo);
      fa = terms.at(a);
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + ratio * (hi - lo);
      fb = terms.at(b);
    }
  }
  const lambda = (lo + hi) / 2;
  return Number.isFinite(lambda) ? lambda : 1;
}

/**
 * Fits the transform of `kind` to the observed values (larger is better), with the targets
 * shifted for `priorMean`.
 */
export function fitOutcomeTransform(
  values: ArrayLike<number>,
  kind: OutcomeTransformKind,
  priorMean: PriorMeanKind,
): OutcomeTransform {
  const { mean, std } = moments(values);
  let unshifted: (v: number) => number;
  let lambda = 1;
  if (kind === 'standardize') {
    unshifted = (v) => standardizeValue(v, mean, std);
  } else {
    const z = Array.from(values, (v) => standardizeValue(v, mean, std));
    lambda = yeoJohnsonLambda(z);
    const outer = moments(z.map((x) => yeoJohnson(x, lambda)));
    unshifted = (v) => standardizeValue(yeoJohnson(standardizeValue(v, mean, std), lambda), outer.mean, outer.std);
  }
  let offset = 0;
  if (priorMean === 'worst-observed' && values.length > 0) {
    offset = Number.POSITIVE_INFINITY;
    for (let i = 0; i < values.length; i++) offset = Math.min(offset, unshifted(values[i]));
  }
  return { kind, lambda, priorMean, offset, apply: (v) => unshifted(v) - offset };
}
