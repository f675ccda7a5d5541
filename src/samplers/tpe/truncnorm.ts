/**
 * Truncated-normal math for the Parzen estimators of the TPE sampler.
 *
 * Notation: phi / Phi are the standard normal pdf / cdf, Phi^-1 its quantile function. A kernel
 * N(mu, sigma^2) truncated to [lo, hi] has standardized bounds a = (lo - mu) / sigma and
 * b = (hi - mu) / sigma, mass Z = Phi(b) - Phi(a), and density
 *     p(x) = phi((x - mu) / sigma) / (sigma Z)          for x in [lo, hi].
 *
 * - `logGaussMass(a, b)` = log(Phi(b) - Phi(a)) without cancellation, as Optuna's
 *   `_truncnorm._log_gauss_mass`: both bounds in the left tail use
 *   log Phi(b) + log(1 - exp(log Phi(a) - log Phi(b))); both in the right tail mirror to the left
 *   (Phi(b) - Phi(a) = Phi(-a) - Phi(-b)); otherwise log1p(-Phi(a) - Phi(-b)).
 *   log(1 - exp(x)) is evaluated by Maechler's rule ("Accurately computing log(1 - exp(-|a|))",
 *   Rmpfr vignette, 2012): log(-expm1(x)) for x > -ln 2, else log1p(-exp(x)).
 * - `normalQuantile(p)` = Phi^-1(p): Acklam's rational approximation (P. J. Acklam, "An algorithm
 *   for computing the inverse normal cumulative distribution function", 2003; relative error
 *   1.15e-9) followed by one Halley step on Phi(x) - p, which brings it to about machine precision.
 * - `sampleStandardTruncatedNormal(a, b, u)`: inversion, x = Phi^-1(Phi(a) + u (Phi(b) - Phi(a)))
 *   (Devroye, "Non-Uniform Random Variate Generation", 1986, sec. II.2), computed on the side of
 *   zero where the cdf keeps its relative precision (bounds both above zero are mirrored).
 */
import { erfc, normalCdf, normalLogCdf, normalLogPdf } from '../../util/math.js';

const LN2 = Math.LN2;
const SQRT_2PI = Math.sqrt(2 * Math.PI);

/** log(1 - exp(x)) for x <= 0 (Maechler 2012). */
function log1mexp(x: number): number {
  if (x >= 0) return -Infinity;
  return x > -LN2 ? Math.log(-Math.expm1(x)) : Math.log1p(-Math.exp(x));
}

/** log(Phi(b) - Phi(a)) for a <= b, accurate in both tails; -Infinity when a >= b. */
export function logGaussMass(a: number, b: number): number {
  if (!(a < b)) return -Infinity;
  const lm = logGaussMassByCdf(a, b);
  // An interval so narrow that Phi(a) and Phi(b) (or their logs) round to the same double: the
  // difference is 0 and its log -Infinity, though the mass is positive. It is (b - a) phi(xi) for
  // some xi in [a, b] (mean value theorem), and phi hardly varies over such an interval.
  if (lm === -Infinity && Number.isFinite(a) && Number.isFinite(b)) return Math.log(b - a) + normalLogPdf(a / 2 + b / 2);
  return lm;
}

function logGaussMassByCdf(a: number, b: number): number {
  if (b <= 0) {
    const lb = normalLogCdf(b);
    // Both log cdfs -Infinity (b below about -1.3e154, where b^2 overflows): no mass left; their difference is NaN.
    if (lb === -Infinity) return -Infinity;
    return lb + log1mexp(normalLogCdf(a) - lb);
  }
  if (a >= 0) return logGaussMassByCdf(-b, -a);
  // a < 0 < b: the mass is at least Phi(min(b, -a)) - 1/2, so 1 - Phi(a) - Phi(-b) does not cancel.
  return Math.log1p(-normalCdf(a) - normalCdf(-b));
}

const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
const P_LOW = 0.02425;

/** The standard normal quantile Phi^-1(p); -Infinity at 0, +Infinity at 1, NaN outside [0, 1]. */
export function normalQuantile(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  let x: number;
  if (p < P_LOW) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  } else if (p <= 1 - P_LOW) {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) /
      (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log1p(-p));
    x = -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  }
  // One Halley step on f(x) = Phi(x) - p (Acklam 2003, "refinement").
  const e = 0.5 * erfc(-x / Math.SQRT2) - p;
  const u = e * SQRT_2PI * Math.exp(0.5 * x * x);
  if (Number.isFinite(u)) x -= u / (1 + 0.5 * x * u);
  return x;
}

/**
 * A draw of the standard normal truncated to [a, b] (a <= b) by inversion of the uniform `u` in
 * [0, 1). Always returns a value in [a, b].
 */
export function sampleStandardTruncatedNormal(a: number, b: number, u: number): number {
  if (!(a < b)) return a;
  if (a > 0) return -sampleStandardTruncatedNormal(-b, -a, 1 - u);
  // a <= 0: Phi(a) keeps its relative precision; Phi(b) is at least as precise as 1/2 ulp of 1.
  const pa = normalCdf(a);
  const pb = normalCdf(b);
  let x: number;
  if (pb - pa > 0) {
    x = normalQuantile(pa + u * (pb - pa));
  } else {
    // Both bounds so deep in the left tail that Phi underflows: the mass sits at the upper end.
    x = b;
  }
  return x < a ? a : x > b ? b : x;
}
