// Hot kernels compiled once per instruction set (portable x86-64 / AVX2+FMA / AVX-512) from
// isa_kernels.cc into distinct namespaces, and picked at run time from the CPU's features
// (isa_dispatch.cc). Layout (STYLE.md): square matrices column-major with a leading dim; the
// training inputs are kept transposed, Xt (d, n) with Xt[j * n + i] = X[i, j], so loops over
// training points are contiguous.
#ifndef KESTREL_CORE_ISA_KERNELS_H_
#define KESTREL_CORE_ISA_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "kestrel/kernels.h"

namespace kestrel {

struct IsaKernels {
  const char* name;
  /// C(M, N) += alpha * A(M, K) * B(N, K)^T with general strides for A and B: A(i, p) is
  /// a[i * rsa + p * csa], B(j, p) is b[j * rsb + p * csb]; C column-major with leading dim ldc.
  /// Packed, register-blocked (Goto & van de Geijn 2008, "Anatomy of high-performance matrix
  /// multiplication"); single-threaded (callers parallelize over tiles).
  void (*gemm)(int m, int n, int k, double alpha, const double* a, ptrdiff_t rsa, ptrdiff_t csa,
               const double* b, ptrdiff_t rsb, ptrdiff_t csb, double* c, ptrdiff_t ldc);
  /// gemm for A(i, p) = 0 whenever p < i (A a transposed lower-triangular matrix: the Z^T Z of
  /// cholesky_inverse_in_place) when only C(i, j) with j + shift <= i is wanted: a register tile
  /// wholly above that line is left as it was, and every other tile's sums skip the leading p
  /// below its first row. For finite inputs each computed entry is bit for bit gemm's (its
  /// accumulator starts at zero either way; the skipped terms are exact zeros). At n = 200 it does
  /// about 40% of gemm's multiply-adds for the inverse's product.
  void (*gemm_lower)(int m, int n, int k, double alpha, const double* a, ptrdiff_t rsa, ptrdiff_t csa,
                     const double* b, ptrdiff_t rsb, ptrdiff_t csb, double* c, ptrdiff_t ldc, int shift);
  /// Unblocked lower Cholesky of a (n, n) in place (left-looking, Golub & Van Loan 2013,
  /// Alg. 4.2.1). Returns -1, or the index of the first non-positive pivot.
  int (*potrf_unblocked)(int n, double* a, ptrdiff_t lda);
  /// B(m, n) := B L^{-T}, L (n, n) lower (the panel solve of a right-looking Cholesky).
  void (*trsm_right_lt)(int m, int n, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb);
  /// B(n, m) := L^{-1} B, L (n, n) lower (forward substitution, row-oriented on groups of
  /// 4 vectors of right-hand sides; for the diagonal blocks of a blocked TRSM).
  void (*trsm_left_l)(int n, int m, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb);
  /// B(n, m) := L^{-1} B (column axpy form) and B(n, m) := L^{-T} B (column dot form, four
  /// vector accumulators per column), L (n, n) lower, for a few right-hand sides (the batched
  /// evaluations of the acquisition search): each column of L is read once per group of four
  /// right-hand sides (two below AVX-512), and every column of B gets exactly the operations of a one-column call
  /// whatever m, so a batch and single calls give bit-identical results.
  void (*trsm_cols_l)(int n, int m, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb);
  void (*trsm_cols_lt)(int n, int m, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb);
  /// Single right-hand side, L (n, n) lower: x := L^{-1} x (column axpy form) and x := L^{-T} x
  /// (column dot form, several vector accumulators).
  void (*trsv_l)(int n, const double* l, ptrdiff_t ldl, double* x);
  void (*trsv_lt)(int n, const double* l, ptrdiff_t ldl, double* x);
  /// sum_i a[i] b[i] (fixed summation order for a given n: deterministic).
  double (*dot)(int n, const double* a, const double* b);
  /// One column of the cross covariance: out_k[i] = s2 f(r^2(x, X_i)) for i < n and, when
  /// out_dk is not null, out_dk[i] = s2 f'(r^2). X_i's dim j is xt[j * ldxt + i] (ldxt >= n: a
  /// row range of the transposed inputs may be passed as xt + offset). `r2` is scratch (n).
  void (*cross_column)(int n, int d, const double* xt, ptrdiff_t ldxt, const double* x, const double* w,
                       const uint8_t* is_cat, KernelKind kind, double s2, double* r2,
                       double* out_k, double* out_dk);
  /// Lengthscale-gradient contribution of training column j over rows i in [j + 1, n):
  /// g[p] += sum_i coef[i] * delta_p^2(X_i, X_j)  (coef indexed by i, rows <= j ignored).
  void (*lengthscale_column)(int n, int d, int j, const double* xt, const uint8_t* is_cat,
                             const double* coef, double* g);
};

namespace isa_base { extern const IsaKernels kKernels; }
#if defined(KESTREL_HAVE_X86_ISAS)
namespace isa_avx2 { extern const IsaKernels kKernels; }
namespace isa_avx512 { extern const IsaKernels kKernels; }
#endif

/// The kernels for this CPU: AVX-512 (F, DQ, VL) > AVX2+FMA > portable, chosen once. The
/// environment variable KESTREL_ISA (base, avx2, avx512) may select a lower set (for tests and
/// benchmarks); a set the CPU lacks is never chosen.
const IsaKernels& isa_kernels();
/// The named set when it is built and the CPU supports it, else nullptr.
const IsaKernels* isa_kernels_by_name(const char* name);

}  // namespace kestrel

#endif  // KESTREL_CORE_ISA_KERNELS_H_
