// Covariance kernels of the GP surrogate, as KESTREL_HD scalar functions.
//
// Notation (shared with src/surrogate/backend.ts):
//   x, x'  points of the unit cube, d dims; theta = [log l_1..d, log s2, log sn2]
//   w_j = 1 / l_j^2 (inverse squared lengthscale)
//   delta_j = x_j - x'_j for a continuous/ordinal dim; for a categorical dim the Hamming term
//             delta_j^2 = [x_j != x'_j] (1 if the choices differ, else 0)
//   r^2 = sum_j w_j delta_j^2  (the ARD-scaled squared distance)
//   k(x, x') = s2 * f(r^2)
// Kernel shapes (Rasmussen & Williams 2006, "Gaussian Processes for Machine Learning", eq. 4.9
// (squared exponential) and eq. 4.17 (Matern nu = 5/2)):
//   RBF:        f(r^2) = exp(-r^2 / 2),                           df/d(r^2) = -f / 2
//   Matern-5/2: f(r^2) = (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r),   df/d(r^2) = -5/6 (1 + sqrt5 r) exp(-sqrt5 r)
// The Matern derivative is finite at r = 0, so no special case is needed there. Far away
// (r^2 > kMaternZeroR2, r > 1000) exp(-sqrt5 r) is 0 in double precision, so f and f' are exactly
// 0 there (and -0); they are returned as such, because evaluating the formula would give
// inf * 0 = NaN once r^2 overflows (a finite but extreme lengthscale, w_j = inf). RBF needs no
// case: exp(-inf) = 0. A NaN r^2 still gives NaN (Cholesky reports it as "input had NaN").
// Derivatives used by the marginal-likelihood gradient and the acquisition gradient:
//   dk/d(log l_j) = s2 f'(r^2) * (-2 w_j delta_j^2)
//   dk/dx_j       = s2 f'(r^2) * 2 w_j (x_j - x'_j)     (continuous dims only)
#ifndef KESTREL_KERNELS_H_
#define KESTREL_KERNELS_H_

#include <cmath>
#include <cstdint>

#include "kestrel/config.h"

namespace kestrel {

enum class KernelKind : int { kMatern52 = 0, kRbf = 1 };

constexpr double kSqrt5 = 2.23606797749978969640917366873128;

KESTREL_HD inline double rbf_shape(double r2) { return exp(-0.5 * r2); }
KESTREL_HD inline double rbf_shape_d(double r2) { return -0.5 * exp(-0.5 * r2); }

/// Beyond this r^2 the Matern-5/2 shape and its derivative are exactly 0 in double precision
/// (exp(-sqrt5 r) underflows for r > ~333); the kernels return 0 there without evaluating them.
constexpr double kMaternZeroR2 = 1e6;

KESTREL_HD inline double matern52_shape(double r2) {
  if (r2 > kMaternZeroR2) return 0.0;
  const double r = sqrt(r2);
  return (1.0 + kSqrt5 * r + (5.0 / 3.0) * r2) * exp(-kSqrt5 * r);
}
KESTREL_HD inline double matern52_shape_d(double r2) {
  if (r2 > kMaternZeroR2) return -0.0;
  const double r = sqrt(r2);
  return (-5.0 / 6.0) * (1.0 + kSqrt5 * r) * exp(-kSqrt5 * r);
}

/// f(r^2) for the kernel kind.
KESTREL_HD inline double kernel_shape(KernelKind kind, double r2) {
  return kind == KernelKind::kRbf ? rbf_shape(r2) : matern52_shape(r2);
}
/// df/d(r^2) for the kernel kind.
KESTREL_HD inline double kernel_shape_d(KernelKind kind, double r2) {
  return kind == KernelKind::kRbf ? rbf_shape_d(r2) : matern52_shape_d(r2);
}
/// f and df/d(r^2) together (one exp).
KESTREL_HD inline void kernel_shape_both(KernelKind kind, double r2, double* f, double* df) {
  if (kind == KernelKind::kRbf) {
    const double e = exp(-0.5 * r2);
    *f = e;
    *df = -0.5 * e;
  } else if (r2 > kMaternZeroR2) {
    *f = 0.0;
    *df = -0.0;
  } else {
    const double r = sqrt(r2);
    const double e = exp(-kSqrt5 * r);
    *f = (1.0 + kSqrt5 * r + (5.0 / 3.0) * r2) * e;
    *df = (-5.0 / 6.0) * (1.0 + kSqrt5 * r) * e;
  }
}

/// delta_j^2 for one dim: squared difference, or the Hamming indicator for a categorical dim.
KESTREL_HD inline double dim_distance2(double a, double b, bool categorical) {
  if (categorical) return a != b ? 1.0 : 0.0;
  const double t = a - b;
  return t * t;
}

/// r^2 between two rows of length d (w = inverse squared lengthscales).
KESTREL_HD inline double scaled_distance2(const double* a, const double* b, const double* w,
                                          const uint8_t* is_cat, int d) {
  double r2 = 0.0;
  for (int j = 0; j < d; ++j) r2 += w[j] * dim_distance2(a[j], b[j], is_cat[j] != 0);
  return r2;
}

}  // namespace kestrel

#endif  // KESTREL_KERNELS_H_
