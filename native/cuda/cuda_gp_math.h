// The per-element bodies of the CUDA GP kernels, as KESTREL_HD inline functions: each kernel in
// cuda_gp.cu is a thin loop (thread index -> element) around one of these, and the host check
// (native/cuda/shared_math_check.cc, driven by test/native/cuda-shared-math.test.ts) compiles the
// same functions as plain C++ and compares them with the CPU core. They only compose the shared
// scalar math of native/include/kestrel (dim_distance2, kernel_shape_both,
// acquisition_from_moments); nothing here re-derives a formula. No cuda_runtime.h, no napi.h.
//
// Notation (native/core/gp.h): n observations, d dims, m candidates; Xt (d, n) the transposed
// training inputs (element (i, j) at xt[j * n + i], so threads over i read consecutive
// addresses); a candidate row x (d) contiguous; w_j = 1 / l_j^2; s2 output scale;
// k_i = s2 f(r_i^2), dk_i = s2 f'(r_i^2) (f' = df/d(r^2)); alpha = A^{-1} y; v = L^{-1} k_*;
// u = L^{-T} v = A^{-1} k_*. Posterior (Rasmussen & Williams 2006, Alg. 2.1):
//   mean = k_*^T alpha, var = s2 - v^T v, floored at 1e-12 s2 (as GpModel::predict).
// Acquisition gradient w.r.t. a continuous x_j (chain rule through kernels.h's dk/dx_j):
//   d mean/dx_j = sum_i alpha_i dk_i 2 w_j (x_j - X_ij)
//   d var /dx_j = -2 sum_i u_i dk_i 2 w_j (x_j - X_ij)
//   d acq /dx_j = dacq/dmean d mean/dx_j + dacq/dvar d var/dx_j, dacq/dvar = dacq/dsd / (2 sd)
//   (zero when the variance sits on its floor, and on categorical dims).
#ifndef KESTREL_CUDA_CUDA_GP_MATH_H_
#define KESTREL_CUDA_CUDA_GP_MATH_H_

#include <cstddef>
#include <cstdint>

#include "kestrel/acquisition.h"
#include "kestrel/config.h"
#include "kestrel/kernels.h"

namespace kestrel {
namespace cuda_math {

/// Variance floor relative to s2 (native/core/gp.cc kMinVariance).
constexpr double kMinVarianceRel = 1e-12;

/// r^2 between training row i (read from Xt with stride n) and a contiguous row x.
KESTREL_HD inline double distance2_t(const double* xt, int n, int i, const double* x, const double* w,
                                     const uint8_t* is_cat, int d) {
  double r2 = 0.0;
  for (int j = 0; j < d; ++j) r2 += w[j] * dim_distance2(xt[static_cast<ptrdiff_t>(j) * n + i], x[j], is_cat[j] != 0);
  return r2;
}

/// k(X_i, x) = s2 f(r^2); when dk is not null also dk = s2 f'(r^2).
KESTREL_HD inline double covariance_entry(const double* xt, int n, int i, const double* x, const double* w,
                                          const uint8_t* is_cat, int d, KernelKind kind, double s2, double* dk) {
  double f = 0.0, df = 0.0;
  kernel_shape_both(kind, distance2_t(xt, n, i, x, w, is_cat, d), &f, &df);
  if (dk != nullptr) *dk = s2 * df;
  return s2 * f;
}

/// Entry (i, j) of the training covariance A = K(X, X) + diag_add I (diag_add = sn2 + jitter).
/// x_j is row j of X, row-major (n, d).
KESTREL_HD inline double training_entry(const double* xt, const double* x, int n, int i, int j, const double* w,
                                        const uint8_t* is_cat, int d, KernelKind kind, double s2, double diag_add) {
  if (i == j) return s2 + diag_add;
  return covariance_entry(xt, n, i, x + static_cast<ptrdiff_t>(j) * d, w, is_cat, d, kind, s2, nullptr);
}

/// What the acquisition kernel writes for one candidate.
struct CandidateScore {
  double value;   // acquisition value
  double var;     // floored posterior variance
  double dmean;   // d value / d mean
  double dvar;    // d value / d var (0 on the floor)
};

/// From mean and raw variance s2 - v^T v to the floored variance, the acquisition and the
/// derivatives the gradient kernel needs (GpModel::acquisition_batch's per-point scalar part).
KESTREL_HD inline CandidateScore score_candidate(double mean, double raw_var, double s2, AcquisitionKind kind,
                                                 double incumbent, double beta) {
  const double floor = kMinVarianceRel * s2;
  CandidateScore s;
  s.var = raw_var > floor ? raw_var : floor;
  const double sd = sqrt(s.var);
  double out[3];
  acquisition_from_moments(kind, mean, sd, incumbent, beta, out);
  s.value = out[0];
  s.dmean = out[1];
  s.dvar = raw_var > floor ? out[2] / (2.0 * sd) : 0.0;
  return s;
}

/// One training row's term of d acq / d x_j, before the factor 2 w_j:
///   dk_i (x_j - X_ij) (dmean alpha_i - 2 dvar u_i).
KESTREL_HD inline double grad_term(double dk_i, double x_j, double xt_ij, double alpha_i, double u_i, double dmean,
                                   double dvar) {
  return dk_i * (x_j - xt_ij) * (dmean * alpha_i - 2.0 * dvar * u_i);
}

}  // namespace cuda_math
}  // namespace kestrel

#endif  // KESTREL_CUDA_CUDA_GP_MATH_H_
