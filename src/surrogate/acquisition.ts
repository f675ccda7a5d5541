/**
 * Acquisition functions on the posterior of a maximized, standardized objective.
 *
 * Notation: mu, sd the posterior mean and standard deviation at a candidate, f* the incumbent,
 *   z = (mu - f*) / sd, phi / Phi the standard normal pdf / cdf,
 *   h(z) = phi(z) + z Phi(z)  (so EI = sd * h(z); Jones, Schonlau & Welch 1998, eq. 15).
 *
 * logEI = log sd + log_h(z), with the numerically stable log_h of Ament, Daulton, Eriksson,
 * Balandat & Bakshy 2023, "Unexpected Improvements to Expected Improvement for Bayesian
 * Optimization" (NeurIPS), eq. (9):
 *   z > -1:                 log_h = log(phi(z) + z Phi(z))
 *   -100 < z <= -1:         log_h = -z^2/2 - c1 + log1mexp(log(erfcx(-z/sqrt2) |z|) + c2)
 *   z <= -100:              log_h = -z^2/2 - c1 - 2 log|z| + log1p(-tail(w)),  w = 1/z^2,
 *                           tail = 3w - 15w^2 + 105w^3 - ... (h/phi = w (1 - tail), the asymptotic
 *                           series of 1 - |z| R(|z|), R the Mills ratio)
 * with c1 = log(2 pi)/2, c2 = log(pi/2)/2, erfcx(x) = exp(x^2) erfc(x), log1mexp(a) = log(1 - e^a)
 * (Maechler 2012, "Accurately computing log(1 - exp(-|a|))").
 * Eq. (9) itself keeps the middle form down to z = -1/sqrt(eps) and then only the series' first
 * term; there log1mexp takes an argument within ~1/z^2 of 0, so h lost digits as eps z^2 (2e-10 at
 * z = -1e3, 2e-2 at -1e7, all of them near -1/sqrt(eps)); the series is exact to rounding from
 * z = -100 on, where the middle form is still good to 2e-12.
 * d log_h / dz = Phi(z) / h(z) = exp(log Phi(z) - log_h(z)), since h'(z) = Phi(z); from z = -100
 * on as R(|z|) z^2 / (1 - tail), without the common -z^2/2 of the two logs (cdfOverH).
 *
 * UCB = mu + sqrt(beta) sd (Srinivas et al. 2010).
 * PI is returned as log PI = log Phi(z) (Kushner 1964), d log Phi / dz = phi(z) / Phi(z), below
 * z = -1 sqrt(2/pi) / erfcx(-z/sqrt2) (pdfOverCdf); erfcx and the tail-stable log Phi come from
 * src/util/math.ts.
 *
 * Each function writes [value, d value / d mu, d value / d sd] into `out`.
 *
 * log EHVI (several maximized objectives with independent posteriors): the expected hypervolume
 * improvement over the region a Pareto front leaves undominated, as disjoint boxes [l_b, u_b]
 * (u_b may be +Infinity). The improvement of y is sum_b prod_k clamp(y_k - l_bk, 0, u_bk - l_bk),
 * and its expectation is exact (Emmerich, Giannakoglou & Naujoks 2006; BoTorch's analytic
 * ExpectedHypervolumeImprovement, Yang et al. 2019):
 *   psi_bk = sd (h(zl) - h(zu)),  zl = (mu - l) / sd,  zu = (mu - u) / sd  (u = +inf: sd h(zl), the EI over l)
 *   log psi = log sd + log_h(zl) + log1mexp(log_h(zu) - log_h(zl))
 *   d psi / d mu = Phi(zl) - Phi(zu),  d psi / d sd = phi(zl) - phi(zu)
 *   log EHVI = logsumexp_b sum_k log psi_bk; its slopes are the softmax-weighted sums of the boxes'.
 *   From zl = -100 on (logHypervolumeSideTail) the slopes and log(h(zu)/h(zl)) are ratios with
 *   phi(zl) factored out (D = (zu^2 - zl^2)/2 = (zl - zu)(|zl| + |zu|)/2, h/phi and Phi/phi from the
 *   series and erfcx), not differences of logs of size z^2/2, which lost them as eps z^2.
 * native/include/kestrel/acquisition.h (log_hv_side, log_ehvi) is the same arithmetic.
 */
import { erfcx, normalCdf, normalLogCdf as logNormalCdf, normalLogPdf as logNormalPdf } from '../util/math.js';
import type { AcquisitionKind } from './backend.js';

const C1 = 0.5 * Math.log(2 * Math.PI);
const C2 = 0.5 * Math.log(Math.PI / 2);
const SQRT_HALF = Math.SQRT1_2;
const SQRT_HALF_PI = Math.sqrt(Math.PI / 2);
/** logH's series branch starts at z = -LOG_H_SERIES_FROM (see the file comment). */
const LOG_H_SERIES_FROM = 100;

/** log(1 - exp(a)) for a < 0 (Maechler 2012). */
export function log1mexp(a: number): number {
  return a > -Math.LN2 ? Math.log(-Math.expm1(a)) : Math.log1p(-Math.exp(a));
}

/** log h(z) = log(phi(z) + z Phi(z)) (Ament et al. 2023, eq. 9). */
export function logH(z: number): number {
  if (z > -1) return Math.log(Math.exp(logNormalPdf(z)) + z * normalCdf(z));
  if (z > -LOG_H_SERIES_FROM) {
    const az = -z;
    return -0.5 * z * z - C1 + log1mexp(Math.log(erfcx(az * SQRT_HALF) * az) + C2);
  }
  return -0.5 * z * z - C1 - 2 * Math.log(-z) + Math.log1p(-logHSeriesTail(z));
}

/**
 * For z <= -LOG_H_SERIES_FROM: tail = 3w - 15w^2 + 105w^3 - ... (w = 1/z^2, coefficients (2k+1)!!
 * with alternating signs), so that h(z) = phi(z) w (1 - tail). Seven terms: the first omitted one
 * is below 4e-25 relative at z = -100. native/include/kestrel/acquisition.h log_h_series_tail.
 */
function logHSeriesTail(z: number): number {
  const w = 1 / (z * z);
  return 3 * w * (1 - 5 * w * (1 - 7 * w * (1 - 9 * w * (1 - 11 * w * (1 - 13 * w * (1 - 15 * w))))));
}

/**
 * Phi(z) / h(z) = d log_h / dz, given lh = logH(z). In logH's series branch (z <= -100) as
 * R(|z|) z^2 / (1 - tail), R(|z|) = Phi(z) / phi(z) = sqrt(pi/2) erfcx(-z/sqrt2), without the common
 * -z^2/2 of log Phi(z) and log_h: their difference cancels two numbers of size z^2/2, whose rounding
 * (an ulp of z^2/2 is 1 at |z| = 1e8) made the slope wrong by orders of magnitude far out (6e27
 * instead of 1e9 at z = -1e9). Above z = -100 the difference loses at most ~1e-12.
 * native/include/kestrel/acquisition.h ndtr_over_h is the same arithmetic.
 */
function cdfOverH(z: number, lh: number): number {
  if (z > -LOG_H_SERIES_FROM) return Math.exp(logNormalCdf(z) - lh);
  const az = -z;
  return (SQRT_HALF_PI * erfcx(az * SQRT_HALF) * az * az) / (1 - logHSeriesTail(z));
}

/**
 * phi(z) / Phi(z) = d log Phi / dz (the inverse Mills ratio), given lp = log Phi(z); below z = -1
 * sqrt(2/pi) / erfcx(-z/sqrt2), without the cancellation of log phi(z) - lp (wrong from |z| ~ 1e7
 * on: 1 instead of 1e9 at z = -1e9; native pdf_over_ndtr).
 */
function pdfOverCdf(z: number, lp: number): number {
  if (z > -1) return Math.exp(logNormalPdf(z) - lp);
  return Math.exp(-C1 - Math.log(0.5 * erfcx(-z * SQRT_HALF)));
}

/** Writes [logEI, d/dmu, d/dsd] into out. */
export function logExpectedImprovement(mean: number, sd: number, incumbent: number, out: Float64Array): void {
  const z = (mean - incumbent) / sd;
  const lh = logH(z);
  const r = cdfOverH(z, lh);
  out[0] = lh + Math.log(sd);
  out[1] = r / sd;
  out[2] = (1 - r * z) / sd;
}

/** Writes [mu + sqrt(beta) sd, 1, sqrt(beta)] into out. */
export function upperConfidenceBound(mean: number, sd: number, beta: number, out: Float64Array): void {
  const k = Math.sqrt(beta);
  out[0] = mean + k * sd;
  out[1] = 1;
  out[2] = k;
}

/** Writes [log PI, d/dmu, d/dsd] into out. */
export function logProbabilityOfImprovement(mean: number, sd: number, incumbent: number, out: Float64Array): void {
  const z = (mean - incumbent) / sd;
  const lp = logNormalCdf(z);
  const ratio = pdfOverCdf(z, lp);
  out[0] = lp;
  out[1] = ratio / sd;
  out[2] = (-ratio * z) / sd;
}

/**
 * One box side's out = [log psi, d/dmu, d/dsd] from lg = log(h(zl) - h(zu)) and lg's slopes in
 * standardized units (logHypervolumeSide, logHypervolumeSideTail): -Infinity with zero slopes
 * where psi rounds to 0.
 */
function writeHypervolumeSide(lg: number, dmu: number, dsd: number, sd: number, out: Float64Array): void {
  if (!(lg > Number.NEGATIVE_INFINITY)) {
    out[0] = Number.NEGATIVE_INFINITY;
    out[1] = 0;
    out[2] = 0;
    return;
  }
  out[0] = lg + Math.log(sd);
  out[1] = dmu / sd;
  out[2] = dsd / sd;
}

/**
 * logHypervolumeSide where zl <= -LOG_H_SERIES_FROM (so zu < zl is there too; zu = -Infinity for an
 * unbounded side), given lhl = logH(zl): the slopes and the bounded side's log1mexp argument as
 * ratios with phi(zl) factored out, without the common -z^2/2 of two logs. With x = -z,
 * d = xu - xl, D = (zu^2 - zl^2)/2 = d (xl + xu)/2, q = h/phi = w (1 - tail), R(x) = Phi(z)/phi(z) = (1 - q)/x:
 *   a = log(h(zu)/h(zl)) = -D - 2 log1p(d/xl) + log1p(-tail_u) - log1p(-tail_l)
 *   b = log(Phi(zu)/Phi(zl)) = -D - log1p(d/xl) + log1p(-q_u) - log1p(-q_l)
 *   log psi = log sd + lhl + log1mexp(a)
 *   d log psi/d mu = Phi(zl)/h(zl) expm1(b)/expm1(a),  d log psi/d sd = phi(zl)/h(zl) expm1(-D)/expm1(a)
 * (Phi/h from cdfOverH, phi/h = z^2/(1 - tail)). Each term of a and b keeps its relative accuracy,
 * so a box thin against sd/|zl| keeps ~1e-13 down to D = 1e-6. native/include/kestrel/acquisition.h
 * log_hv_side_tail is the same arithmetic.
 */
function logHypervolumeSideTail(zl: number, zu: number, lhl: number, sd: number, out: Float64Array): void {
  const tl = logHSeriesTail(zl);
  let lg = lhl;
  let dmu = cdfOverH(zl, lhl);
  let dsd = (zl * zl) / (1 - tl);
  if (zu > Number.NEGATIVE_INFINITY) {
    const xl = -zl;
    const xu = -zu;
    const d = xu - xl;
    const bigD = 0.5 * d * (xl + xu);
    const logRatio = Math.log1p(d / xl);
    const tu = logHSeriesTail(zu);
    const wl = 1 / (zl * zl);
    const wu = 1 / (zu * zu);
    const a = -bigD - 2 * logRatio + (Math.log1p(-tu) - Math.log1p(-tl));
    const b = -bigD - logRatio + (Math.log1p(-wu * (1 - tu)) - Math.log1p(-wl * (1 - tl)));
    lg = lhl + log1mexp(a);
    const gap = Math.expm1(a);
    dmu *= Math.expm1(b) / gap;
    dsd *= Math.expm1(-bigD) / gap;
  }
  writeHypervolumeSide(lg, dmu, dsd, sd, out);
}

/**
 * Writes [log psi, d/dmu, d/dsd] of one box side [lower, upper] (upper may be +Infinity) into out;
 * a side whose psi rounds to 0 gives -Infinity with zero slopes. From zl = -LOG_H_SERIES_FROM down,
 * logHypervolumeSideTail: there the slopes, taken below as exps of differences of logs of size
 * z^2/2, lost relative accuracy as eps z^2 (1e-8 at z = -1e4, orders of magnitude from |z| ~ 1e8
 * on); above it (-100 < zl) they are good to ~1e-12.
 */
export function logHypervolumeSide(mean: number, sd: number, lower: number, upper: number, out: Float64Array): void {
  const zl = (mean - lower) / sd;
  const lhl = logH(zl);
  if (zl <= -LOG_H_SERIES_FROM) {
    logHypervolumeSideTail(zl, upper < Number.POSITIVE_INFINITY ? (mean - upper) / sd : Number.NEGATIVE_INFINITY, lhl, sd, out);
    return;
  }
  const lnl = logNormalCdf(zl);
  const lpl = logNormalPdf(zl);
  let lg = lhl;
  let dmu = Math.exp(lnl - lhl);
  let dsd = Math.exp(lpl - lhl);
  if (upper < Number.POSITIVE_INFINITY) {
    const zu = (mean - upper) / sd;
    lg = lhl + log1mexp(logH(zu) - lhl);
    if (lg > Number.NEGATIVE_INFINITY) {
      dmu = Math.exp(lnl - lg) * -Math.expm1(logNormalCdf(zu) - lnl);
      dsd = Math.exp(lpl - lg) - Math.exp(logNormalPdf(zu) - lg);
    }
  }
  writeHypervolumeSide(lg, dmu, dsd, sd, out);
}

/**
 * log EHVI at one point from the k objectives' posterior moments (see the file header); boxes:
 * rows of 2k values [lower x k, upper x k]. Writes d value / d mean_j into dMean and d value / d
 * sd_j into dSd; returns the value (-Infinity with zero slopes when every box's improvement
 * rounds to 0).
 */
export function logExpectedHypervolumeImprovement(
  boxes: Float64Array,
  mean: Float64Array,
  sd: Float64Array,
  dMean: Float64Array,
  dSd: Float64Array,
): number {
  const k = mean.length;
  const nBoxes = boxes.length / (2 * k);
  const total = new Float64Array(nBoxes);
  const slope = new Float64Array(nBoxes * k * 2);
  const out = new Float64Array(3);
  let top = Number.NEGATIVE_INFINITY;
  for (let b = 0; b < nBoxes; b++) {
    let sum = 0;
    for (let j = 0; j < k && sum > Number.NEGATIVE_INFINITY; j++) {
      logHypervolumeSide(mean[j], sd[j], boxes[b * 2 * k + j], boxes[b * 2 * k + k + j], out);
      sum += out[0];
      slope[(b * k + j) * 2] = out[1];
      slope[(b * k + j) * 2 + 1] = out[2];
    }
    total[b] = sum;
    if (sum > top) top = sum;
  }
  dMean.fill(0);
  dSd.fill(0);
  if (!(top > Number.NEGATIVE_INFINITY)) return Number.NEGATIVE_INFINITY;
  let z = 0;
  for (let b = 0; b < nBoxes; b++) z += Math.exp(total[b] - top);
  const value = top + Math.log(z);
  for (let b = 0; b < nBoxes; b++) {
    if (!(total[b] > Number.NEGATIVE_INFINITY)) continue;
    const p = Math.exp(total[b] - value);
    for (let j = 0; j < k; j++) {
      dMean[j] += p * slope[(b * k + j) * 2];
      dSd[j] += p * slope[(b * k + j) * 2 + 1];
    }
  }
  return value;
}

/** Dispatch over the acquisition kind; writes [value, d/dmu, d/dsd]. */
export function acquisitionFromMoments(
  kind: AcquisitionKind,
  mean: number,
  sd: number,
  incumbent: number,
  beta: number,
  out: Float64Array,
): void {
  if (kind === 'logei') logExpectedImprovement(mean, sd, incumbent, out);
  else if (kind === 'ucb') upperConfidenceBound(mean, sd, beta, out);
  else logProbabilityOfImprovement(mean, sd, incumbent, out);
}
