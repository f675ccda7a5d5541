// Hot kernels, compiled once per instruction set. The build defines KESTREL_ISA_NS (isa_base,
// isa_avx2, isa_avx512), KESTREL_ISA_NAME, KESTREL_VW (doubles per vector register: 2, 4, 8) and
// KESTREL_NR (micro-kernel columns) and passes the matching -m flags; nothing here uses
// intrinsics: GCC/Clang vector extensions map onto whatever the flags allow.
//
// GEMM: Goto & van de Geijn 2008, "Anatomy of high-performance matrix multiplication" (ACM TOMS
// 34(3)): B packed into KC x NC panels, A into MC x KC blocks, an MR x NR register-blocked
// micro-kernel (MR = 2 vectors) accumulating in registers.
// exp: Cody & Waite range reduction x = k ln2 + r, |r| <= ln2/2, and a degree-13 Taylor
// polynomial of e^r (truncation error < 2e-17 relative), scaled by 2^k through the exponent
// bits; branch-free so the compiler vectorizes the loops that call it.
#include <cmath>
#include <cstring>
#include <vector>

#include "isa_kernels.h"

#ifndef KESTREL_ISA_NS
#define KESTREL_ISA_NS isa_base
#define KESTREL_ISA_NAME "base"
#define KESTREL_VW 2
#define KESTREL_NR 4
#endif

namespace kestrel {
namespace KESTREL_ISA_NS {

namespace {

constexpr int kVw = KESTREL_VW;
constexpr int kMr = 2 * kVw;
constexpr int kNr = KESTREL_NR;
constexpr int kKc = 256;
constexpr int kMc = 144;   // multiple of every kMr (4, 8, 16)
constexpr int kNc = 3072;  // multiple of every kNr (4, 6, 8)

typedef double Vec __attribute__((vector_size(KESTREL_VW * 8)));

inline Vec load(const double* p) {
  Vec v;
  std::memcpy(&v, p, sizeof(Vec));
  return v;
}
inline void store(double* p, Vec v) { std::memcpy(p, &v, sizeof(Vec)); }

double* aligned_buffer(std::vector<double>& storage, size_t count) {
  if (storage.size() < count + 8) storage.resize(count + 8);
  uintptr_t p = reinterpret_cast<uintptr_t>(storage.data());
  p = (p + 63) & ~static_cast<uintptr_t>(63);
  return reinterpret_cast<double*>(p);
}

// a: kc x kMr packed (p-major), b: kc x kNr packed. C += alpha * a * b^T on an mr x nr corner.
inline void micro_kernel(int kc, const double* __restrict a, const double* __restrict b, double* __restrict c,
                         ptrdiff_t ldc, double alpha, int mr, int nr) {
  Vec acc0[kNr];
  Vec acc1[kNr];
#pragma GCC unroll 8
  for (int j = 0; j < kNr; ++j) {
    acc0[j] = Vec{};
    acc1[j] = Vec{};
  }
  for (int p = 0; p < kc; ++p) {
    const Vec a0 = load(a + p * kMr);
    const Vec a1 = load(a + p * kMr + kVw);
    const double* bp = b + p * kNr;
#pragma GCC unroll 8
    for (int j = 0; j < kNr; ++j) {
      acc0[j] += a0 * bp[j];
      acc1[j] += a1 * bp[j];
    }
  }
  if (mr == kMr && nr == kNr) {
#pragma GCC unroll 8
    for (int j = 0; j < kNr; ++j) {
      double* cj = c + j * ldc;
      store(cj, load(cj) + acc0[j] * alpha);
      store(cj + kVw, load(cj + kVw) + acc1[j] * alpha);
    }
    return;
  }
  alignas(64) double tmp[kNr][kMr];
  for (int j = 0; j < kNr; ++j) {
    store(&tmp[j][0], acc0[j]);
    store(&tmp[j][kVw], acc1[j]);
  }
  for (int j = 0; j < nr; ++j) {
    for (int i = 0; i < mr; ++i) c[i + j * ldc] += alpha * tmp[j][i];
  }
}

// Packs the mc x kc block A(i, p) = a[i * rs + p * cs] into kMr-row micro-panels, zero-padded.
void pack_a(int mc, int kc, const double* a, ptrdiff_t rs, ptrdiff_t cs, double* out) {
  for (int i0 = 0; i0 < mc; i0 += kMr) {
    const int rows = mc - i0 < kMr ? mc - i0 : kMr;
    double* dst = out + static_cast<ptrdiff_t>(i0) * kc;
    if (rs == 1) {
      for (int p = 0; p < kc; ++p) {
        const double* src = a + i0 + p * cs;
        int i = 0;
        for (; i < rows; ++i) dst[p * kMr + i] = src[i];
        for (; i < kMr; ++i) dst[p * kMr + i] = 0.0;
      }
    } else if (cs == 1 && rows == kMr) {
      // Transposed source: kMr row streams read in step, contiguous writes.
      const double* src[kMr];
      for (int i = 0; i < kMr; ++i) src[i] = a + (i0 + i) * rs;
      for (int p = 0; p < kc; ++p) {
#pragma GCC unroll 16
        for (int i = 0; i < kMr; ++i) dst[p * kMr + i] = src[i][p];
      }
    } else {
      for (int i = 0; i < kMr; ++i) {
        if (i < rows) {
          const double* src = a + (i0 + i) * rs;
          for (int p = 0; p < kc; ++p) dst[p * kMr + i] = src[p * cs];
        } else {
          for (int p = 0; p < kc; ++p) dst[p * kMr + i] = 0.0;
        }
      }
    }
  }
}

// Packs the nc x kc block B(j, p) = b[j * rs + p * cs] into kNr-column micro-panels, zero-padded.
void pack_b(int nc, int kc, const double* b, ptrdiff_t rs, ptrdiff_t cs, double* out) {
  for (int j0 = 0; j0 < nc; j0 += kNr) {
    const int cols = nc - j0 < kNr ? nc - j0 : kNr;
    double* dst = out + static_cast<ptrdiff_t>(j0) * kc;
    if (rs == 1) {
      for (int p = 0; p < kc; ++p) {
        const double* src = b + j0 + p * cs;
        int j = 0;
        for (; j < cols; ++j) dst[p * kNr + j] = src[j];
        for (; j < kNr; ++j) dst[p * kNr + j] = 0.0;
      }
    } else if (cs == 1 && cols == kNr) {
      const double* src[kNr];
      for (int j = 0; j < kNr; ++j) src[j] = b + (j0 + j) * rs;
      for (int p = 0; p < kc; ++p) {
#pragma GCC unroll 16
        for (int j = 0; j < kNr; ++j) dst[p * kNr + j] = src[j][p];
      }
    } else {
      for (int j = 0; j < kNr; ++j) {
        if (j < cols) {
          const double* src = b + (j0 + j) * rs;
          for (int p = 0; p < kc; ++p) dst[p * kNr + j] = src[p * cs];
        } else {
          for (int p = 0; p < kc; ++p) dst[p * kNr + j] = 0.0;
        }
      }
    }
  }
}

// kLower: A(i, p) = 0 for p < i, and only C(i, j) with j + shift <= i is wanted (IsaKernels::gemm_lower).
// A micro tile wholly above that line is not computed; every other tile's sums start at its first
// row, before which each of its rows' A terms are zero. The accumulators start at zero either way
// and the skipped terms are exact zeros, so a computed entry gets gemm's value bit for bit.
template <bool kLower>
void gemm_impl(int m, int n, int k, double alpha, const double* a, ptrdiff_t rsa, ptrdiff_t csa, const double* b,
               ptrdiff_t rsb, ptrdiff_t csb, double* c, ptrdiff_t ldc, int shift) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  thread_local std::vector<double> a_store;
  thread_local std::vector<double> b_store;
  const int nc_max = n < kNc ? n : kNc;
  const int mc_max = m < kMc ? m : kMc;
  double* pb = aligned_buffer(b_store, static_cast<size_t>((nc_max + kNr) * kKc));
  double* pa = aligned_buffer(a_store, static_cast<size_t>((mc_max + kMr) * kKc));
  for (int jc = 0; jc < n; jc += kNc) {
    const int nc = n - jc < kNc ? n - jc : kNc;
    for (int pc = 0; pc < k; pc += kKc) {
      const int kc = k - pc < kKc ? k - pc : kKc;
      pack_b(nc, kc, b + jc * rsb + pc * csb, rsb, csb, pb);
      for (int ic = 0; ic < m; ic += kMc) {
        const int mc = m - ic < kMc ? m - ic : kMc;
        if (kLower && ic >= pc + kc) continue;  // every A term of these rows in this block is zero
        pack_a(mc, kc, a + ic * rsa + pc * csa, rsa, csa, pa);
        for (int jr = 0; jr < nc; jr += kNr) {
          const int nr = nc - jr < kNr ? nc - jr : kNr;
          for (int ir = 0; ir < mc; ir += kMr) {
            const int mr = mc - ir < kMr ? mc - ir : kMr;
            int skip = 0;
            if (kLower) {
              const int row = ic + ir;
              if (jc + jr + shift > row + mr - 1) continue;
              skip = row - pc;
              if (skip >= kc) continue;
              if (skip < 0) skip = 0;
            }
            micro_kernel(kc - skip, pa + static_cast<ptrdiff_t>(ir) * kc + static_cast<ptrdiff_t>(skip) * kMr,
                         pb + static_cast<ptrdiff_t>(jr) * kc + static_cast<ptrdiff_t>(skip) * kNr,
                         c + (ic + ir) + (jc + jr) * ldc, ldc, alpha, mr, nr);
          }
        }
      }
    }
  }
}

void gemm(int m, int n, int k, double alpha, const double* a, ptrdiff_t rsa, ptrdiff_t csa, const double* b,
          ptrdiff_t rsb, ptrdiff_t csb, double* c, ptrdiff_t ldc) {
  gemm_impl<false>(m, n, k, alpha, a, rsa, csa, b, rsb, csb, c, ldc, 0);
}

void gemm_lower(int m, int n, int k, double alpha, const double* a, ptrdiff_t rsa, ptrdiff_t csa, const double* b,
                ptrdiff_t rsb, ptrdiff_t csb, double* c, ptrdiff_t ldc, int shift) {
  gemm_impl<true>(m, n, k, alpha, a, rsa, csa, b, rsb, csb, c, ldc, shift);
}

int potrf_unblocked(int n, double* a, ptrdiff_t lda) {
  for (int j = 0; j < n; ++j) {
    double* aj = a + j * lda;
    for (int q = 0; q < j; ++q) {
      const double ljq = a[j + q * lda];
      if (ljq == 0.0) continue;
      const double* aq = a + q * lda;
      for (int i = j; i < n; ++i) aj[i] -= aq[i] * ljq;
    }
    const double pivot = aj[j];
    if (!(pivot > 0.0)) return j;
    const double djj = std::sqrt(pivot);
    aj[j] = djj;
    const double inv = 1.0 / djj;
    for (int i = j + 1; i < n; ++i) aj[i] *= inv;
  }
  return -1;
}

// Rows r0 .. r0 + rows of B L^{-T}, one row at a time (the tail of trsm_right_lt).
void trsm_right_lt_rows(int r0, int rows, int n, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb) {
  for (int q = 0; q < n; ++q) {
    double* bq = b + q * ldb;
    for (int p = 0; p < q; ++p) {
      const double lqp = l[q + p * ldl];
      const double* bp = b + p * ldb;
      for (int i = r0; i < r0 + rows; ++i) bq[i] -= bp[i] * lqp;
    }
    const double inv = 1.0 / l[q + q * ldl];
    for (int i = r0; i < r0 + rows; ++i) bq[i] *= inv;
  }
}

// B(m, n) := B L^{-T} (the panel solve of the blocked Cholesky). Register-blocked on 4 vectors
// of rows: x_q = (b_q - sum_{p<q} L_qp x_p) / L_qq is formed in accumulators (one broadcast of
// L_qp per 4 FMAs, x_p read back from B where it was just solved), instead of streaming a
// column of B through memory per (q, p) pair. Each element gets the operations of the
// column-axpy form in the same order, so the results are the same.
void trsm_right_lt(int m, int n, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb) {
  constexpr int kRows = 4 * kVw;
  if (m < kRows) {
    trsm_right_lt_rows(0, m, n, l, ldl, b, ldb);
    return;
  }
  // L's rows packed contiguously (row q at lt + q * n): read along a row, L's leading dimension
  // puts every L_qp of a row in the same cache set when it is a multiple of a large power of two
  // (n = 2048: 16 KB apart).
  thread_local std::vector<double> packed;
  if (packed.size() < static_cast<size_t>(n) * n) packed.resize(static_cast<size_t>(n) * n);
  double* lt = packed.data();
  for (int p = 0; p < n; ++p) {
    for (int q = p; q < n; ++q) lt[q * n + p] = l[q + p * ldl];
  }
  // The row block of B is solved in a contiguous copy (column p at x + p * kRows) for the same
  // reason: B's columns sit ldb apart.
  thread_local std::vector<double> block;
  if (block.size() < static_cast<size_t>(n) * kRows) block.resize(static_cast<size_t>(n) * kRows);
  double* x = block.data();
  int r0 = 0;
  for (; r0 + kRows <= m; r0 += kRows) {
    double* br = b + r0;
    for (int q = 0; q < n; ++q) std::memcpy(x + q * kRows, br + q * ldb, sizeof(double) * kRows);
    for (int q = 0; q < n; ++q) {
      Vec acc[4];
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) acc[v] = load(x + q * kRows + v * kVw);
      const double* lq = lt + q * n;
      for (int p = 0; p < q; ++p) {
        const double lqp = lq[p];
        const double* xp = x + p * kRows;
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v) acc[v] -= load(xp + v * kVw) * lqp;
      }
      const double inv = 1.0 / lq[q];
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) store(x + q * kRows + v * kVw, acc[v] * inv);
    }
    for (int q = 0; q < n; ++q) std::memcpy(br + q * ldb, x + q * kRows, sizeof(double) * kRows);
  }
  if (r0 < m) trsm_right_lt_rows(r0, m - r0, n, l, ldl, b, ldb);
}

// Row-oriented forward substitution on groups of kTw right-hand sides: the group is copied into
// a row-major scratch T (n, kTw), each row x_q = (t_q - sum_{p<q} L_qp x_p) / L_qq is formed in
// kTw / kVw vector accumulators (one broadcast of L_qp per kTw FMAs), then copied back.
void trsm_left_l(int n, int m, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb) {
  constexpr int kAcc = 4;
  constexpr int kTw = kAcc * kVw;
  thread_local std::vector<double> scratch;
  double* t = aligned_buffer(scratch, static_cast<size_t>(n) * kTw + static_cast<size_t>(n) + 8);
  double* inv_diag = t + static_cast<ptrdiff_t>(n) * kTw;
  for (int q = 0; q < n; ++q) inv_diag[q] = 1.0 / l[q + q * ldl];
  for (int c0 = 0; c0 < m; c0 += kTw) {
    const int cw = m - c0 < kTw ? m - c0 : kTw;
    for (int c = 0; c < kTw; ++c) {
      if (c < cw) {
        const double* src = b + (c0 + c) * ldb;
        for (int q = 0; q < n; ++q) t[q * kTw + c] = src[q];
      } else {
        for (int q = 0; q < n; ++q) t[q * kTw + c] = 0.0;
      }
    }
    for (int q = 0; q < n; ++q) {
      Vec acc[kAcc];
#pragma GCC unroll 4
      for (int v = 0; v < kAcc; ++v) acc[v] = load(t + q * kTw + v * kVw);
      const double* lq = l + q;
      for (int p = 0; p < q; ++p) {
        const double lqp = lq[p * ldl];
        const double* tp = t + p * kTw;
#pragma GCC unroll 4
        for (int v = 0; v < kAcc; ++v) acc[v] -= lqp * load(tp + v * kVw);
      }
      const double dq = inv_diag[q];
#pragma GCC unroll 4
      for (int v = 0; v < kAcc; ++v) store(t + q * kTw + v * kVw, acc[v] * dq);
    }
    for (int c = 0; c < cw; ++c) {
      double* dst = b + (c0 + c) * ldb;
      for (int q = 0; q < n; ++q) dst[q] = t[q * kTw + c];
    }
  }
}

// Few right-hand sides, column forms (trsm_cols_l / trsm_cols_lt): G columns share each read
// of an L column; every column gets the same operations whatever G (see isa_kernels.h).
template <int G>
void cols_l_group(int n, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb) {
  double* x[G];
  for (int g = 0; g < G; ++g) x[g] = b + g * ldb;
  for (int q = 0; q < n; ++q) {
    const double* lq = l + q * ldl;
    double xq[G];
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
      xq[g] = x[g][q] / lq[q];
      x[g][q] = xq[g];
    }
    int i = q + 1;
    for (; i + kVw <= n; i += kVw) {
      const Vec lv = load(lq + i);
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g) store(x[g] + i, load(x[g] + i) - lv * xq[g]);
    }
    for (; i < n; ++i) {
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g) x[g][i] -= lq[i] * xq[g];
    }
  }
}

template <int G>
void cols_lt_group(int n, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb) {
  double* x[G];
  for (int g = 0; g < G; ++g) x[g] = b + g * ldb;
  for (int q = n - 1; q >= 0; --q) {
    const double* lq = l + q * ldl;
    Vec acc[G][4];
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) acc[g][v] = Vec{};
    }
    int i = q + 1;
    for (; i + 4 * kVw <= n; i += 4 * kVw) {
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) {
        const Vec lv = load(lq + i + v * kVw);
#pragma GCC unroll 4
        for (int g = 0; g < G; ++g) acc[g][v] += lv * load(x[g] + i + v * kVw);
      }
    }
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
      const Vec sum = (acc[g][0] + acc[g][1]) + (acc[g][2] + acc[g][3]);
      double s = 0.0;
      for (int v = 0; v < kVw; ++v) s += sum[v];
      for (int r = i; r < n; ++r) s += lq[r] * x[g][r];
      x[g][q] = (x[g][q] - s) / lq[q];
    }
  }
}

// Columns per group: four vector accumulators per column must fit the register file (AVX-512's
// 32 registers hold four columns' 16, AVX2's and SSE2's 16 two columns' 8).
constexpr int kColsGroup = kVw >= 8 ? 4 : 2;

template <template <int> class Op>
void cols_dispatch(int n, int m, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb) {
  int c = 0;
  for (; c + kColsGroup <= m; c += kColsGroup) Op<kColsGroup>::run(n, l, ldl, b + c * ldb, ldb);
  switch (m - c) {
    case 3: Op<3>::run(n, l, ldl, b + c * ldb, ldb); break;
    case 2: Op<2>::run(n, l, ldl, b + c * ldb, ldb); break;
    case 1: Op<1>::run(n, l, ldl, b + c * ldb, ldb); break;
    default: break;
  }
}
template <int G>
struct ColsL {
  static void run(int n, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb) { cols_l_group<G>(n, l, ldl, b, ldb); }
};
template <int G>
struct ColsLt {
  static void run(int n, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb) { cols_lt_group<G>(n, l, ldl, b, ldb); }
};
void trsm_cols_l(int n, int m, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb) {
  cols_dispatch<ColsL>(n, m, l, ldl, b, ldb);
}
void trsm_cols_lt(int n, int m, const double* l, ptrdiff_t ldl, double* b, ptrdiff_t ldb) {
  cols_dispatch<ColsLt>(n, m, l, ldl, b, ldb);
}

void trsv_l(int n, const double* l, ptrdiff_t ldl, double* x) {
  for (int q = 0; q < n; ++q) {
    const double xq = x[q] / l[q + q * ldl];
    x[q] = xq;
    const double* lq = l + q * ldl;
    for (int i = q + 1; i < n; ++i) x[i] -= lq[i] * xq;
  }
}

void trsv_lt(int n, const double* l, ptrdiff_t ldl, double* x) {
  for (int q = n - 1; q >= 0; --q) {
    const double* lq = l + q * ldl;
    Vec acc[4] = {Vec{}, Vec{}, Vec{}, Vec{}};
    int i = q + 1;
    for (; i + 4 * kVw <= n; i += 4 * kVw) {
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) acc[v] += load(lq + i + v * kVw) * load(x + i + v * kVw);
    }
    Vec sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    double s = 0.0;
    for (int v = 0; v < kVw; ++v) s += sum[v];
    for (; i < n; ++i) s += lq[i] * x[i];
    x[q] = (x[q] - s) / lq[q];
  }
}

double dot(int n, const double* a, const double* b) {
  Vec acc[4] = {Vec{}, Vec{}, Vec{}, Vec{}};
  int i = 0;
  for (; i + 4 * kVw <= n; i += 4 * kVw) {
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) acc[v] += load(a + i + v * kVw) * load(b + i + v * kVw);
  }
  const Vec sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  double s = 0.0;
  for (int v = 0; v < kVw; ++v) s += sum[v];
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline double fast_exp(double x) {
  // Clamp keeps 2^k representable; exp(-745) underflows to 0 anyway.
  x = x < -708.0 ? -708.0 : (x > 708.0 ? 708.0 : x);
  const double kLog2e = 1.4426950408889634;
  const double kLn2Hi = 6.93147180369123816490e-01;
  const double kLn2Lo = 1.90821492927058770002e-10;
  const double kShift = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double t = x * kLog2e + kShift;
  const double kf = t - kShift;
  const double r = (x - kf * kLn2Hi) - kf * kLn2Lo;
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  int64_t bits;
  std::memcpy(&bits, &t, sizeof(bits));
  int64_t shift_bits;
  std::memcpy(&shift_bits, &kShift, sizeof(shift_bits));
  const int64_t kint = bits - shift_bits;
  // Shifted as unsigned: for a NaN x (r^2 = inf * 0 on a coordinate an infinite weight leaves
  // equal), kint + 1023 is garbage and may be negative, a signed left shift of which is undefined
  // in C++17. The result is NaN either way (p is NaN).
  const uint64_t scale_bits = static_cast<uint64_t>(kint + 1023) << 52;
  double scale;
  std::memcpy(&scale, &scale_bits, sizeof(scale));
  return p * scale;
}

void cross_column(int n, int d, const double* xt, ptrdiff_t ldxt, const double* x, const double* w,
                  const uint8_t* is_cat, KernelKind kind, double s2, double* r2, double* out_k, double* out_dk) {
  for (int i = 0; i < n; ++i) r2[i] = 0.0;
  for (int j = 0; j < d; ++j) {
    const double* col = xt + static_cast<ptrdiff_t>(j) * ldxt;
    const double xj = x[j];
    const double wj = w[j];
    if (is_cat[j] != 0) {
      for (int i = 0; i < n; ++i) r2[i] += col[i] != xj ? wj : 0.0;
    } else {
      for (int i = 0; i < n; ++i) {
        const double t = col[i] - xj;
        r2[i] += wj * t * t;
      }
    }
  }
  if (kind == KernelKind::kRbf) {
    for (int i = 0; i < n; ++i) {
      const double e = s2 * fast_exp(-0.5 * r2[i]);
      out_k[i] = e;
      if (out_dk != nullptr) out_dk[i] = -0.5 * e;
    }
  } else {
    // Beyond kMaternZeroR2 the shape is 0 (kestrel/kernels.h); fast_exp's clamp would leave
    // ~1e-308 there, and inf * that = inf once r^2 overflows.
    for (int i = 0; i < n; ++i) {
      const double r = __builtin_sqrt(r2[i]);
      const double e = s2 * fast_exp(-kSqrt5 * r);
      const bool far = r2[i] > kMaternZeroR2;
      out_k[i] = far ? 0.0 : (1.0 + kSqrt5 * r + (5.0 / 3.0) * r2[i]) * e;
      if (out_dk != nullptr) out_dk[i] = far ? -0.0 : (-5.0 / 6.0) * (1.0 + kSqrt5 * r) * e;
    }
  }
}

void lengthscale_column(int n, int d, int j, const double* xt, const uint8_t* is_cat, const double* coef, double* g) {
  for (int p = 0; p < d; ++p) {
    const double* col = xt + static_cast<ptrdiff_t>(p) * n;
    const double xj = col[j];
    double s = 0.0;
    if (is_cat[p] != 0) {
      for (int i = j + 1; i < n; ++i) s += col[i] != xj ? coef[i] : 0.0;
    } else {
      // Two vector accumulators (the compiler does not reassociate a scalar FP reduction).
      Vec acc0 = Vec{}, acc1 = Vec{};
      int i = j + 1;
      for (; i + 2 * kVw <= n; i += 2 * kVw) {
        const Vec t0 = load(col + i) - xj;
        const Vec t1 = load(col + i + kVw) - xj;
        acc0 += load(coef + i) * t0 * t0;
        acc1 += load(coef + i + kVw) * t1 * t1;
      }
      const Vec sum = acc0 + acc1;
      for (int v = 0; v < kVw; ++v) s += sum[v];
      for (; i < n; ++i) {
        const double t = col[i] - xj;
        s += coef[i] * t * t;
      }
    }
    g[p] += s;
  }
}

}  // namespace

extern const IsaKernels kKernels;
const IsaKernels kKernels = {KESTREL_ISA_NAME, gemm,         gemm_lower,    potrf_unblocked, trsm_right_lt,
                             trsm_left_l,      trsm_cols_l,  trsm_cols_lt,  trsv_l,          trsv_lt,
                             dot,              cross_column, lengthscale_column};

}  // namespace KESTREL_ISA_NS
}  // namespace kestrel
