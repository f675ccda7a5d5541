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
//   -1/sqrt(eps) < z <= -1:  log_h = -z^2/2 - c1 + log1mexp(log(erfcx(-z/sqrt2) |z|) + c2)
//   z <= -1/sqrt(eps):       log_h = -z^2/2 - c1 - 2 log|z|
//   c1 = log(2 pi)/2, c2 = log(pi/2)/2, erfcx(x) = exp(x^2) erfc(x),
//   log1mexp(a) = log(1 - e^a) (Maechler 2012, "Accurately computing log(1 - exp(-|a|))").
//   d log_h / dz = Phi(z) / h(z) = exp(log Phi(z) - log_h(z))   (since h'(z) = Phi(z)).
// UCB = mu + sqrt(beta) sd (Srinivas, Krause, Kakade & Seeger 2010).
// PI is returned as log PI = log Phi(z) (Kushner 1964), log Phi stable through erfcx;
//   d log Phi / dz = phi(z) / Phi(z).
// Every function writes out[0] = value, out[1] = d value/d mu, out[2] = d value/d sd.
#ifndef KESTREL_ACQUISITION_H_
#define KESTREL_ACQUISITION_H_

#include <cmath>

#include "kestrel/config.h"

namespace kestrel {

enum class AcquisitionKind : int { kLogEi = 0, kUcb = 1, kPi = 2 };

constexpr double kHalfLog2Pi = 0.91893853320467274178032973640562;   // log(2 pi)/2
constexpr double kHalfLogPiOver2 = 0.22579135264472743236309761494745;  // log(pi/2)/2
constexpr double kInvSqrtPi = 0.56418958354775628694807945156077;
constexpr double kSqrtHalf = 0.70710678118654752440084436210485;
constexpr double kInvSqrtEps = 67108864.0;  // 1/sqrt(2^-52)

/// erfcx(x) = exp(x^2) erfc(x) for x >= 0: direct below 5 (erfc has full relative accuracy
/// there), the Laplace continued fraction (Abramowitz & Stegun 7.1.14) from 5 on.
KESTREL_HD inline double erfcx_nonneg(double x) {
  if (x < 5.0) return exp(x * x) * erfc(x);
  double frac = x;
  for (int k = 40; k >= 1; --k) frac = x + 0.5 * k / frac;
  return kInvSqrtPi / frac;
}

/// log Phi(z), stable in both tails.
KESTREL_HD inline double log_ndtr(double z) {
  if (z <= 0.0) return log(0.5 * erfcx_nonneg(-z * kSqrtHalf)) - 0.5 * z * z;
  return log1p(-0.5 * erfcx_nonneg(z * kSqrtHalf) * exp(-0.5 * z * z));
}

KESTREL_HD inline double log1mexp(double a) {
  return a > -0.69314718055994530942 ? log(-expm1(a)) : log1p(-exp(a));
}

/// log h(z) = log(phi(z) + z Phi(z)), Ament et al. 2023 eq. (9).
KESTREL_HD inline double log_h(double z) {
  if (z > -1.0) {
    const double pdf = exp(-0.5 * z * z - kHalfLog2Pi);
    return log(pdf + z * exp(log_ndtr(z)));
  }
  if (z > -kInvSqrtEps) {
    const double az = -z;
    return -0.5 * z * z - kHalfLog2Pi + log1mexp(log(erfcx_nonneg(az * kSqrtHalf) * az) + kHalfLogPiOver2);
  }
  return -0.5 * z * z - kHalfLog2Pi - 2.0 * log(-z);
}

KESTREL_HD inline void log_ei(double mean, double sd, double incumbent, double* out) {
  const double z = (mean - incumbent) / sd;
  const double lh = log_h(z);
  const double r = exp(log_ndtr(z) - lh);
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
  const double ratio = exp(-0.5 * z * z - kHalfLog2Pi - lp);
  out[0] = lp;
  out[1] = ratio / sd;
  out[2] = -ratio * z / sd;
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
