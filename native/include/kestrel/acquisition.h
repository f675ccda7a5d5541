// Acquisition functions on the GP posterior of a MAXIMIZED, standardized objective, as
// KESTREL_HD scalar functions returning the value and its derivatives w.r.t. mean and sd.
//
// Notation: mu, sd the posterior mean and standard deviation at a candidate, f* the incumbent,
//   z = (mu - f*) / sd; phi / Phi the standard normal pdf / cdf;
//   h(z) = phi(z) + z Phi(z)  (EI = sd h(z); Jones, Schonlau & Welch 1998, eq. 15).
// log-EI = log sd + log_h(z), with the stable log_h of Ament, Daulton, Eriksson, Balandat &
// Bakshy 2023, "Unexpected Improvements to Expected Improvement for Bayesian Optimization"
// (NeurIPS), eq. (9):
//   z > -1:                  log_h = log(phi(z) + z Phi(z))
//   -100 < z <= -1:          log_h = -z^2/2 - c1 + log1mexp(log(erfcx(-z/sqrt2) |z|) + c2)
//   z <= -100:               log_h = -z^2/2 - c1 - 2 log|z| + log1p(-tail(w)),  w = 1/z^2,
//                            tail = 3w - 15w^2 + 105w^3 - ... (h/phi = w (1 - tail), the
//                            asymptotic series of 1 - |z| R(|z|), R the Mills ratio)
//   c1 = log(2 pi)/2, c2 = log(pi/2)/2, erfcx(x) = exp(x^2) erfc(x),
//   log1mexp(a) = log(1 - e^a) (Maechler 2012, "Accurately computing log(1 - exp(-|a|))").
//   Eq. (9) itself keeps the middle form down to z = -1/sqrt(eps) and then only the series' first
//   term; there log1mexp takes an argument within ~1/z^2 of 0, so h lost digits as eps z^2 (2e-10
//   at z = -1e3, 2e-2 at -1e7, all of them near -1/sqrt(eps)); the series is exact to rounding
//   from z = -100 on, where the middle form is still good to 2e-12.
//   d log_h / dz = Phi(z) / h(z) = exp(log Phi(z) - log_h(z))   (since h'(z) = Phi(z)); from
//   z = -100 on as R(|z|) z^2 / (1 - tail), without the common -z^2/2 of the two logs (ndtr_over_h).
// UCB = mu + sqrt(beta) sd (Srinivas, Krause, Kakade & Seeger 2010).
// PI is returned as log PI = log Phi(z) (Kushner 1964), log Phi stable through erfcx;
//   d log Phi / dz = phi(z) / Phi(z), below z = -1 sqrt(2/pi) / erfcx(-z/sqrt2) (pdf_over_ndtr).
// Every function writes out[0] = value, out[1] = d value/d mu, out[2] = d value/d sd.
//
// log EHVI (several objectives, each maximized, with independent posteriors): the expected
// hypervolume improvement over the region a Pareto front does not dominate, given as disjoint
// boxes [l_b, u_b] (u_b may be +inf). The improvement of y is sum_b prod_k clamp(y_k - l_bk, 0,
// u_bk - l_bk), and with independent y_k its expectation is exact (Emmerich, Giannakoglou &
// Naujoks 2006; BoTorch's analytic ExpectedHypervolumeImprovement, Yang et al. 2019):
//   psi_bk = E[clamp(y_k - l, 0, u - l)] = sd (h(zl) - h(zu)),  zl = (mu - l)/sd, zu = (mu - u)/sd
//   (E[(y - c)+] = sd h((mu - c)/sd)); u = +inf leaves sd h(zl), the EI over l.
//   log psi = log sd + log_h(zl) + log1mexp(log_h(zu) - log_h(zl));
//   d psi/d mu = Phi(zl) - Phi(zu),  d psi/d sd = phi(zl) - phi(zu);
//   log EHVI = logsumexp_b sum_k log psi_bk, its derivative the softmax-weighted sum of the boxes'.
//   From zl = -100 on (log_hv_side_tail) the slopes and log(h(zu)/h(zl)) are ratios with phi(zl)
//   factored out (D = (zu^2 - zl^2)/2 = (zl - zu)(|zl| + |zu|)/2, h/phi and Phi/phi from the
//   series and erfcx), not differences of logs of size z^2/2, which lost them as eps z^2.
// log_ehvi_indexed computes the same in linear space, once per distinct bound value c of each
// objective rather than twice per box: z = (mu - c)/sd, h(z), phi(z) and the smaller tail of
// Phi (Phi(z) for z < 0, Q(z) = 1 - Phi(z) otherwise, so Phi differences keep their relative
// accuracy in both tails); for z <= -1, h = phi(z) (1 - |z| sqrt(pi/2) erfcx(|z|/sqrt2)), the
// linear form of eq. (9)'s middle branch. EHVI = sum_b prod_k psi_bk, d EHVI/d mu_j =
// sum_b (prod_{i != j} psi_bi) d psi_bj/d mu_j by prefix and suffix products, and the slopes of
// log EHVI are those over EHVI. Where EHVI is not a normal number above kMinLinearEhvi (far
// tails) or anything is not finite, it falls back to log_ehvi, so the far tails are unchanged.
#ifndef KESTREL_ACQUISITION_H_
#define KESTREL_ACQUISITION_H_

#include <cmath>
#include <cstddef>

#include "kestrel/config.h"

namespace kestrel {

enum class AcquisitionKind : int { kLogEi = 0, kUcb = 1, kPi = 2, kLogEhvi = 3 };

constexpr double kHalfLog2Pi = 0.91893853320467274178032973640562;   // log(2 pi)/2
constexpr double kHalfLogPiOver2 = 0.22579135264472743236309761494745;  // log(pi/2)/2
constexpr double kInvSqrtPi = 0.56418958354775628694807945156077;
constexpr double kSqrtHalf = 0.70710678118654752440084436210485;
constexpr double kSqrtHalfPi = 1.2533141373155002512078826424055;  // sqrt(pi/2)
/// log_h's series branch starts at z = -kLogHSeriesFrom (see the notation block).
constexpr double kLogHSeriesFrom = 100.0;
/// Most objectives a kLogEhvi acquisition takes (its boxes grow fast with the count, and
/// log_ehvi_indexed keeps per-box arrays of this size on the stack).
constexpr int kMaxHypervolumeObjectives = 16;

/// erfcx(x) = exp(x^2) erfc(x) for x >= 0: direct below 5 (erfc has full relative accuracy
/// there), the Laplace continued fraction (Abramowitz & Stegun 7.1.14) from 5 on, with
/// 4 + floor(80 / x) terms (20 at x = 5, 8 at 20, 4 from 80 on): its truncation error stays
/// below 1e-18 relative for every x >= 5 (checked against a 3,000-term quad-precision evaluation
/// on a geometric grid of x in [5, 1e5); native_tests checks the result against a long-double
/// evaluation). A fixed 40 terms cost 2-10x more where logEI and log EHVI score most candidates,
/// deep in the tail, for the same doubles up to the last bit's rounding.
KESTREL_HD inline double erfcx_nonneg(double x) {
  if (x < 5.0) return exp(x * x) * erfc(x);
  const int terms = x < 80.0 ? 4 + static_cast<int>(80.0 / x) : 4;  // NaN: 4 (the result is NaN)
  double frac = x;
  for (int k = terms; k >= 1; --k) frac = x + 0.5 * k / frac;
  return kInvSqrtPi / frac;
}

/// exp(a), with the result of libm's exp bit for bit, but without calling it where that result
/// is +0 (every a below -745.14, half the smallest subnormal): there glibc's exp takes its
/// underflow path (errno, a slow out-of-line call), which was 7% of a two-objective suggestion's
/// profile, because most candidates' box terms underflow deep in the dominated region.
KESTREL_HD inline double exp_or_zero(double a) { return a < -745.25 ? 0.0 : exp(a); }
/// erfc(x) the same way: +0 from x = 27.3 on (erfc(27.3) < 1e-325).
KESTREL_HD inline double erfc_or_zero(double x) { return x > 27.3 ? 0.0 : erfc(x); }

/// log Phi(z), stable in both tails.
KESTREL_HD inline double log_ndtr(double z) {
  if (z <= 0.0) return log(0.5 * erfcx_nonneg(-z * kSqrtHalf)) - 0.5 * z * z;
  return log1p(-0.5 * erfcx_nonneg(z * kSqrtHalf) * exp_or_zero(-0.5 * z * z));
}

KESTREL_HD inline double log1mexp(double a) {
  return a > -0.69314718055994530942 ? log(-expm1(a)) : log1p(-exp_or_zero(a));
}

/// For z <= -kLogHSeriesFrom: tail = 3w - 15w^2 + 105w^3 - ... (w = 1/z^2, coefficients (2k+1)!!
/// with alternating signs), so that h(z) = phi(z) w (1 - tail). Seven terms: the first omitted
/// one is below 4e-25 relative at z = -100, smaller further out.
KESTREL_HD inline double log_h_series_tail(double z) {
  const double w = 1.0 / (z * z);
  return 3.0 * w * (1.0 - 5.0 * w * (1.0 - 7.0 * w * (1.0 - 9.0 * w * (1.0 - 11.0 * w * (1.0 - 13.0 * w * (1.0 - 15.0 * w))))));
}

/// log h(z) = log(phi(z) + z Phi(z)), Ament et al. 2023 eq. (9).
KESTREL_HD inline double log_h(double z) {
  if (z > -1.0) {
    const double pdf = exp(-0.5 * z * z - kHalfLog2Pi);
    return log(pdf + z * exp(log_ndtr(z)));
  }
  if (z > -kLogHSeriesFrom) {
    const double az = -z;
    return -0.5 * z * z - kHalfLog2Pi + log1mexp(log(erfcx_nonneg(az * kSqrtHalf) * az) + kHalfLogPiOver2);
  }
  return -0.5 * z * z - kHalfLog2Pi - 2.0 * log(-z) + log1p(-log_h_series_tail(z));
}

/// Phi(z) / h(z) = d log_h / dz, given lh = log_h(z). In log_h's series branch (z <= -100) as
/// R(|z|) z^2 / (1 - tail), R(|z|) = Phi(z) / phi(z) = sqrt(pi/2) erfcx(-z/sqrt2), without the
/// common -z^2/2 of log Phi(z) and log_h: their difference cancels two numbers of size z^2/2, whose
/// rounding (an ulp of z^2/2 is 1 at |z| = 1e8) made the slope wrong by orders of magnitude far out
/// (6e27 instead of 1e9 at z = -1e9). Above z = -100 the difference loses at most ~1e-12.
KESTREL_HD inline double ndtr_over_h(double z, double lh) {
  if (z > -kLogHSeriesFrom) return exp(log_ndtr(z) - lh);
  const double az = -z;
  return kSqrtHalfPi * erfcx_nonneg(az * kSqrtHalf) * az * az / (1.0 - log_h_series_tail(z));
}

/// phi(z) / Phi(z) = d log Phi / dz (the inverse Mills ratio), given lp = log_ndtr(z); below z = -1
/// sqrt(2/pi) / erfcx(-z/sqrt2), without the cancellation of -z^2/2 - c1 - lp (wrong from
/// |z| ~ 1e7 on: 1 instead of 1e9 at z = -1e9).
KESTREL_HD inline double pdf_over_ndtr(double z, double lp) {
  if (z > -1.0) return exp_or_zero(-0.5 * z * z - kHalfLog2Pi - lp);
  return exp(-kHalfLog2Pi - log(0.5 * erfcx_nonneg(-z * kSqrtHalf)));
}

KESTREL_HD inline void log_ei(double mean, double sd, double incumbent, double* out) {
  const double z = (mean - incumbent) / sd;
  const double lh = log_h(z);
  const double r = ndtr_over_h(z, lh);
  out[0] = lh + log(sd);
  out[1] = r / sd;
  out[2] = (1.0 - r * z) / sd;
}

KESTREL_HD inline void ucb(double mean, double sd, double beta, double* out) {
  const double k = sqrt(beta);
  out[0] = mean + k * sd;
  out[1] = 1.0;
  out[2] = k;
}

KESTREL_HD inline void log_pi(double mean, double sd, double incumbent, double* out) {
  const double z = (mean - incumbent) / sd;
  const double lp = log_ndtr(z);
  const double ratio = pdf_over_ndtr(z, lp);
  out[0] = lp;
  out[1] = ratio / sd;
  out[2] = -ratio * z / sd;
}

/// One box side's out = [log psi, d/d mu, d/d sd] from lg = log(h(zl) - h(zu)) and lg's slopes in
/// standardized units (log_hv_side, log_hv_side_tail): -inf with zero slopes where psi rounds to 0.
KESTREL_HD inline void write_hv_side(double lg, double dmu, double dsd, double sd, double* out) {
  if (!(lg > -INFINITY)) {
    out[0] = -INFINITY;
    out[1] = 0.0;
    out[2] = 0.0;
    return;
  }
  out[0] = lg + log(sd);
  out[1] = dmu / sd;
  out[2] = dsd / sd;
}

/// log_hv_side where zl <= -kLogHSeriesFrom (so zu < zl is there too; zu = -inf for u = +inf),
/// given lhl = log_h(zl): the slopes and the bounded side's log1mexp argument as ratios with
/// phi(zl) factored out, without the common -z^2/2 of two logs (see log_hv_side). With
/// x = -z, d = xu - xl, D = (zu^2 - zl^2)/2 = d (xl + xu)/2, q = h/phi = w (1 - tail),
/// R(x) = Phi(z)/phi(z) = (1 - q)/x:
///   a = log(h(zu)/h(zl)) = -D - 2 log1p(d/xl) + log1p(-tail_u) - log1p(-tail_l)
///   b = log(Phi(zu)/Phi(zl)) = -D - log1p(d/xl) + log1p(-q_u) - log1p(-q_l)
///   log psi = log sd + lhl + log1mexp(a)
///   d log psi/d mu = Phi(zl)/h(zl) expm1(b)/expm1(a),  d log psi/d sd = phi(zl)/h(zl) expm1(-D)/expm1(a)
/// (Phi/h from ndtr_over_h, phi/h = z^2/(1 - tail)). Each term of a and b keeps its relative
/// accuracy, so a box thin against sd/|zl| keeps ~1e-13 down to D = 1e-6.
KESTREL_HD inline void log_hv_side_tail(double zl, double zu, double lhl, double sd, double* out) {
  const double tl = log_h_series_tail(zl);
  double lg = lhl;  // log(h(zl) - h(zu))
  double dmu = ndtr_over_h(zl, lhl);
  double dsd = zl * zl / (1.0 - tl);
  if (zu > -INFINITY) {
    const double xl = -zl, xu = -zu;
    const double d = xu - xl;
    const double big_d = 0.5 * d * (xl + xu);
    const double log_ratio = log1p(d / xl);
    const double tu = log_h_series_tail(zu);
    const double wl = 1.0 / (zl * zl), wu = 1.0 / (zu * zu);
    const double a = -big_d - 2.0 * log_ratio + (log1p(-tu) - log1p(-tl));
    const double b = -big_d - log_ratio + (log1p(-wu * (1.0 - tu)) - log1p(-wl * (1.0 - tl)));
    lg = lhl + log1mexp(a);
    const double gap = expm1(a);  // -(h(zl) - h(zu))/h(zl)
    dmu *= expm1(b) / gap;
    dsd *= expm1(-big_d) / gap;
  }
  write_hv_side(lg, dmu, dsd, sd, out);
}

/// log psi of one box side [lower, upper] (upper may be +inf) for one objective (see the header);
/// out[0] = log psi, out[1] = d log psi/d mu, out[2] = d log psi/d sd. A side whose psi rounds
/// to 0 (a box far thinner than sd, or |z| beyond the double range) gives -inf and zero slopes.
/// From zl = -kLogHSeriesFrom down, log_hv_side_tail: there the slopes, taken below as exps of
/// differences of logs of size z^2/2, lost relative accuracy as eps z^2 (1e-8 at z = -1e4,
/// orders of magnitude from |z| ~ 1e8 on); above it (-100 < zl) they are good to ~1e-12.
KESTREL_HD inline void log_hv_side(double mean, double sd, double lower, double upper, double* out) {
  const double zl = (mean - lower) / sd;
  const double lhl = log_h(zl);
  if (zl <= -kLogHSeriesFrom) {
    log_hv_side_tail(zl, upper < INFINITY ? (mean - upper) / sd : -INFINITY, lhl, sd, out);
    return;
  }
  const double lnl = log_ndtr(zl);
  const double lpl = -0.5 * zl * zl - kHalfLog2Pi;
  double lg = lhl;  // log(h(zl) - h(zu))
  double dmu = exp_or_zero(lnl - lhl);
  double dsd = exp_or_zero(lpl - lhl);
  if (upper < INFINITY) {
    const double zu = (mean - upper) / sd;
    lg = lhl + log1mexp(log_h(zu) - lhl);
    if (lg > -INFINITY) {
      dmu = exp_or_zero(lnl - lg) * -expm1(log_ndtr(zu) - lnl);
      dsd = exp_or_zero(lpl - lg) - exp_or_zero(-0.5 * zu * zu - kHalfLog2Pi - lg);
    }
  }
  write_hv_side(lg, dmu, dsd, sd, out);
}

/// log EHVI at one point from the k objectives' posterior moments (see the header). boxes:
/// n_boxes rows of 2k values [l_0 .. l_{k-1}, u_0 .. u_{k-1}]; work: at least n_boxes (1 + 2k)
/// doubles. Writes d value/d mean_j and d value/d sd_j (k each); returns the value (-inf, with
/// zero slopes, when every box's improvement rounds to 0).
KESTREL_HD inline double log_ehvi(int k, int n_boxes, const double* boxes, const double* mean, const double* sd,
                                  double* dmean, double* dsd, double* work) {
  double* total = work;              // per box: sum_j log psi_bj
  double* slope = work + n_boxes;    // per box and objective: d log psi/d mean, d log psi/d sd
  double top = -INFINITY;
  for (int b = 0; b < n_boxes; ++b) {
    const double* box = boxes + static_cast<ptrdiff_t>(b) * 2 * k;
    double sum = 0.0;
    for (int j = 0; j < k && sum > -INFINITY; ++j) {
      double out[3];
      log_hv_side(mean[j], sd[j], box[j], box[k + j], out);
      sum += out[0];
      slope[(static_cast<ptrdiff_t>(b) * k + j) * 2] = out[1];
      slope[(static_cast<ptrdiff_t>(b) * k + j) * 2 + 1] = out[2];
    }
    total[b] = sum;
    if (sum > top) top = sum;
  }
  for (int j = 0; j < k; ++j) dmean[j] = dsd[j] = 0.0;
  if (!(top > -INFINITY)) return -INFINITY;
  double z = 0.0;
  for (int b = 0; b < n_boxes; ++b) z += exp_or_zero(total[b] - top);
  const double value = top + log(z);
  for (int b = 0; b < n_boxes; ++b) {
    if (!(total[b] > -INFINITY)) continue;
    const double p = exp_or_zero(total[b] - value);
    for (int j = 0; j < k; ++j) {
      dmean[j] += p * slope[(static_cast<ptrdiff_t>(b) * k + j) * 2];
      dsd[j] += p * slope[(static_cast<ptrdiff_t>(b) * k + j) * 2 + 1];
    }
  }
  return value;
}

/// Smallest EHVI log_ehvi_indexed keeps in linear space; below it, log_ehvi.
constexpr double kMinLinearEhvi = 1e-280;

/// The per-bound terms of log_ehvi_indexed at z = (mu - c)/sd: out[0] = h(z), out[1] = phi(z),
/// out[2] = Phi(z) if z < 0 else Q(z) = 1 - Phi(z), out[3] = z.
KESTREL_HD inline void hv_bound_terms(double z, double* out) {
  const double pdf = exp_or_zero(-0.5 * z * z - kHalfLog2Pi);
  double h;
  if (z > -1.0) {
    const double cdf = 0.5 * erfc(-z * kSqrtHalf);
    h = pdf + z * cdf;
    out[2] = z < 0.0 ? cdf : 0.5 * erfc_or_zero(z * kSqrtHalf);
  } else {
    const double az = -z;
    const double ex = erfcx_nonneg(az * kSqrtHalf);
    // sqrt(pi/2) = exp(kHalfLogPiOver2); 1 - |z| sqrt(pi/2) erfcx ~ 1/z^2 for large |z|.
    h = pdf * (1.0 - az * 1.2533141373155002512078826424055 * ex);
    out[2] = 0.5 * ex * exp_or_zero(-0.5 * z * z);  // Phi(z) = erfc(|z|/sqrt2)/2
  }
  out[0] = h;
  out[1] = pdf;
  out[3] = z;
}

/// Phi(zl) - Phi(zu) from two hv_bound_terms rows (zl > zu; u == nullptr for u = +inf).
KESTREL_HD inline double hv_cdf_gap(const double* l, const double* u) {
  if (u == nullptr) return l[3] < 0.0 ? l[2] : 1.0 - l[2];
  if (u[3] >= 0.0) return u[2] - l[2];
  if (l[3] < 0.0) return l[2] - u[2];
  return (1.0 - l[2]) - u[2];
}

/// log EHVI at one point, as log_ehvi (same arguments and results up to rounding), from a layout
/// of the boxes' bounds: `values` the sorted distinct finite bounds of objective 0, then of
/// objective 1, ... (value_end[j] = one past objective j's last), `bound_index` n_boxes rows of
/// 2k ints laid out as `boxes`, each the index in `values` of that bound (-1 for +inf). work: at
/// least max(4 value_end[k-1], n_boxes (1 + 2k)) doubles. Linear space (see the header), with
/// log_ehvi as the fallback where EHVI is not a normal number above kMinLinearEhvi.
KESTREL_HD inline double log_ehvi_indexed(int k, int n_boxes, const double* boxes, const double* values,
                                          const int* value_end, const int* bound_index, const double* mean,
                                          const double* sd, double* dmean, double* dsd, double* work) {
  for (int j = 0, g = 0; j < k; ++j) {
    for (; g < value_end[j]; ++g) hv_bound_terms((mean[j] - values[g]) / sd[j], work + 4 * static_cast<ptrdiff_t>(g));
  }
  double total = 0.0;
  double gm[kMaxHypervolumeObjectives], gs[kMaxHypervolumeObjectives];
  for (int j = 0; j < k; ++j) gm[j] = gs[j] = 0.0;
  for (int b = 0; b < n_boxes; ++b) {
    const int* index = bound_index + static_cast<ptrdiff_t>(b) * 2 * k;
    double psi[kMaxHypervolumeObjectives], dpm[kMaxHypervolumeObjectives], dps[kMaxHypervolumeObjectives], prefix[kMaxHypervolumeObjectives + 1];
    prefix[0] = 1.0;
    for (int j = 0; j < k; ++j) {
      const double* l = work + 4 * static_cast<ptrdiff_t>(index[j]);
      const double* u = index[k + j] < 0 ? nullptr : work + 4 * static_cast<ptrdiff_t>(index[k + j]);
      psi[j] = sd[j] * (u == nullptr ? l[0] : l[0] - u[0]);
      dpm[j] = hv_cdf_gap(l, u);
      dps[j] = u == nullptr ? l[1] : l[1] - u[1];
      prefix[j + 1] = prefix[j] * psi[j];
    }
    total += prefix[k];
    double suffix = 1.0;  // prod_{i > j} psi_bi
    for (int j = k - 1; j >= 0; --j) {
      const double others = prefix[j] * suffix;
      gm[j] += others * dpm[j];
      gs[j] += others * dps[j];
      suffix *= psi[j];
    }
  }
  bool normal = total >= kMinLinearEhvi && total < INFINITY;
  for (int j = 0; j < k && normal; ++j) {
    dmean[j] = gm[j] / total;
    dsd[j] = gs[j] / total;
    normal = dmean[j] - dmean[j] == 0.0 && dsd[j] - dsd[j] == 0.0;  // finite
  }
  if (!normal) return log_ehvi(k, n_boxes, boxes, mean, sd, dmean, dsd, work);
  return log(total);
}

KESTREL_HD inline void acquisition_from_moments(AcquisitionKind kind, double mean, double sd,
                                                double incumbent, double beta, double* out) {
  if (kind == AcquisitionKind::kLogEi) {
    log_ei(mean, sd, incumbent, out);
  } else if (kind == AcquisitionKind::kUcb) {
    ucb(mean, sd, beta, out);
  } else {
    log_pi(mean, sd, incumbent, out);
  }
}

}  // namespace kestrel

#endif  // KESTREL_ACQUISITION_H_
