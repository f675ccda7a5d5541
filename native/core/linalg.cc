#include "linalg.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "isa_kernels.h"

namespace kestrel {

namespace {
// Huge pages for an allocation of `bytes` at p (4 MB and up; a hint only).
void advise_huge_pages(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr size_t kMinBytes = size_t{4} << 20;
  if (bytes >= kMinBytes) {
    const uintptr_t page = 4096;
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
    const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(page - 1);
    if (end > begin) (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  }
#else
  (void)p;
  (void)bytes;
#endif
}
#if defined(__linux__)
constexpr size_t kHugePage = size_t{2} << 20;
#endif
#if defined(__linux__) && !defined(KESTREL_ASAN)

size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

// The system's page size: 4 KB on x86-64, 16 or 64 KB on some arm64 and ppc64le kernels. A
// mapping's length is rounded to it, so that the slack after it starts on a page boundary and
// munmap can give it back (rounded to 4 KB there, that munmap failed with EINVAL and up to 2 MB of
// address space stayed mapped per store). Read once (a constant of the process).
size_t small_page() {
  static const size_t page = [] {
    const long p = sysconf(_SC_PAGESIZE);
    return p > 0 && kHugePage % static_cast<size_t>(p) == 0 ? static_cast<size_t>(p) : size_t{4096};
  }();
  return page;
}

// The mapping length for a request of `bytes` >= kLargeMapMinBytes (see large_alloc_size).
size_t mapping_length(size_t bytes, LargeUse use) {
  const size_t len = round_up(bytes, small_page());
  const bool whole = use == LargeUse::kWorkspace || len % kHugePage >= kHugePage / 2;
  return whole ? round_up(len, kHugePage) : len;
}
#endif
}  // namespace

size_t large_alloc_size(size_t bytes, LargeUse use) {
#if defined(__linux__) && !defined(KESTREL_ASAN)
  if (bytes >= kLargeMapMinBytes) return mapping_length(bytes, use);
#endif
  (void)use;
  return bytes;
}

void* large_alloc(size_t bytes, LargeUse use) {
#if defined(__linux__) && defined(KESTREL_ASAN)
  if (bytes >= kLargeMapMinBytes) {
    // A heap block of exactly `bytes`, at the 2 MB boundary a mapping would have: ASan poisons
    // what lies past it. Past half the address space it is refused as on the mapping path; a
    // request over ASan's own limit is ASan's fatal allocation-size-too-big report unless
    // ASAN_OPTIONS has allocator_may_return_null=1 (then std::bad_alloc here).
    if (bytes > std::numeric_limits<size_t>::max() / 2) throw std::bad_alloc();
    void* p = nullptr;
    if (posix_memalign(&p, kHugePage, bytes) != 0 || p == nullptr) throw std::bad_alloc();
    if (use == LargeUse::kStore) std::memset(p, 0, bytes);
    return p;
  }
#elif defined(__linux__)
  if (bytes >= kLargeMapMinBytes) {
    // Past half the address space no mapping can succeed, and the rounding below (to pages and
    // 2 MB pages, plus a huge page of alignment slack) would wrap to a shorter mapping than asked.
    if (bytes > std::numeric_limits<size_t>::max() / 2) throw std::bad_alloc();
    // Over-map by one huge page and unmap the ends, leaving `len` bytes at a 2 MB boundary.
    const size_t len = mapping_length(bytes, use);
    void* raw = mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (begin + kHugePage - 1) & ~(kHugePage - 1);
    const uintptr_t end = begin + len + kHugePage;
    if (aligned > begin) (void)munmap(raw, aligned - begin);
    if (end > aligned + len) (void)munmap(reinterpret_cast<void*>(aligned + len), end - (aligned + len));
#if defined(MADV_HUGEPAGE)
    // A hint: EINVAL where the kernel has no THP, and then 4 KB pages as before.
    (void)madvise(reinterpret_cast<void*>(aligned), len, MADV_HUGEPAGE);
#endif
    return reinterpret_cast<void*>(aligned);  // anonymous pages read as zero
  }
#endif
  const size_t asked = bytes == 0 ? 1 : bytes;
  void* p = use == LargeUse::kStore ? std::calloc(asked, 1) : std::malloc(asked);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void large_free(void* p, size_t bytes, LargeUse use) noexcept {
  if (p == nullptr) return;
#if defined(__linux__) && !defined(KESTREL_ASAN)
  if (bytes >= kLargeMapMinBytes) {
    (void)munmap(p, mapping_length(bytes, use));
    return;
  }
#endif
  (void)use;
  std::free(p);
}

void reserve_large(std::vector<double>& v, size_t count) {
  if (v.capacity() >= count) return;
  std::vector<double> fresh;
  fresh.reserve(count);
  advise_huge_pages(fresh.data(), count * sizeof(double));
  v.swap(fresh);
}

LargeArray::LargeArray(size_t count) : bytes_(count * sizeof(double)) {
  // calloc refused a count whose bytes overflow; so does this (bytes_ would have wrapped).
  if (count > std::numeric_limits<size_t>::max() / sizeof(double)) throw std::bad_alloc();
  p_ = static_cast<double*>(large_alloc(bytes_, LargeUse::kStore));
}

LargeArray::~LargeArray() { large_free(p_, bytes_, LargeUse::kStore); }

namespace {
constexpr int kNb = 128;         // Cholesky / TRSM block size
constexpr int kTile = 256;       // trailing-update tile width
constexpr int kRowChunk = 512;   // rows per trailing-update task
constexpr int kPanelRows = 256;  // rows per panel-solve task
constexpr int kRhsChunk = 256;   // right-hand sides per TRSM task
constexpr int kInvTile = 128;
constexpr int kInvSolveCols = 128;  // identity columns per L^{-1} task
constexpr int kInvRowCols = 1024;   // columns per A^{-1} row-panel GEMM
constexpr int kTrsmNb = 64;      // diagonal blocks solved unblocked; the rest is GEMM
constexpr int kInnerNb = 32;     // blocks of a diagonal block's own Cholesky

// B(m, n) := B L^{-T} (the Cholesky panel solve), left-looking over kTrsmNb-column blocks so
// that most of the work is GEMM: B[:, q] -= B[:, :q] L[q, :q]^T, then the unblocked solve.
void trsm_right_lt_blocked(const IsaKernels& kern, int m, int n, const double* l, ptrdiff_t ldl, double* b,
                           ptrdiff_t ldb) {
  for (int q0 = 0; q0 < n; q0 += kTrsmNb) {
    const int qb = std::min(kTrsmNb, n - q0);
    if (q0 > 0) kern.gemm(m, qb, q0, -1.0, b, 1, ldb, l + q0, 1, ldl, b + q0 * ldb, ldb);
    kern.trsm_right_lt(m, qb, l + q0 + q0 * ldl, ldl, b + q0 * ldb, ldb);
  }
}

// Cholesky of a diagonal block (n <= kNb) in place: right-looking over kInnerNb-column blocks,
// so that most of its work is GEMM (the unblocked kernel streams one column per update: ~9
// GFLOP/s on a 128 block here, about half of that of this form). The GEMM also writes the strict
// upper triangle of the trailing block, which no caller reads.
int potrf_diagonal_block(const IsaKernels& kern, int n, double* a, ptrdiff_t lda) {
  for (int k = 0; k < n; k += kInnerNb) {
    const int b = std::min(kInnerNb, n - k);
    double* akk = a + k + k * lda;
    const int bad = kern.potrf_unblocked(b, akk, lda);
    if (bad >= 0) return k + bad;
    const int s = k + b;
    const int rest = n - s;
    if (rest <= 0) break;
    double* panel = a + s + k * lda;
    kern.trsm_right_lt(rest, b, akk, lda, panel, lda);
    kern.gemm(rest, rest, b, -1.0, panel, 1, lda, panel, 1, lda, a + s + s * lda, lda);
  }
  return -1;
}
}  // namespace

int cholesky_blocked(int n, double* a, ptrdiff_t lda, ThreadPool& pool) {
  const IsaKernels& kern = isa_kernels();
  for (int k = 0; k < n; k += kNb) {
    const int b = std::min(kNb, n - k);
    double* akk = a + k + k * lda;
    const int bad = potrf_diagonal_block(kern, b, akk, lda);
    if (bad >= 0) return k + bad;
    const int s = k + b;
    const int rest = n - s;
    if (rest <= 0) break;
    // Panel: A[s:n, k:s] := A[s:n, k:s] L11^{-T}.
    const int n_panel = (rest + kPanelRows - 1) / kPanelRows;
    pool.parallel_for(n_panel, [&](int t, int) {
      const int r0 = s + t * kPanelRows;
      const int rows = std::min(kPanelRows, n - r0);
      trsm_right_lt_blocked(kern, rows, b, akk, lda, a + r0 + k * lda, lda);
    });
    // Trailing update of the lower triangle: A[j0:n, j0:j1] -= P[j0:n] P[j0:j1]^T, P = A[:, k:s].
    struct Task {
      int j0, j1, r0, r1;
    };
    std::vector<Task> tasks;
    for (int j0 = s; j0 < n; j0 += kTile) {
      const int j1 = std::min(n, j0 + kTile);
      for (int r0 = j0; r0 < n; r0 += kRowChunk) tasks.push_back({j0, j1, r0, std::min(n, r0 + kRowChunk)});
    }
    const double* p = a + k * lda;
    pool.parallel_for(static_cast<int>(tasks.size()), [&](int t, int) {
      const Task& tk = tasks[static_cast<size_t>(t)];
      kern.gemm(tk.r1 - tk.r0, tk.j1 - tk.j0, b, -1.0, p + tk.r0, 1, lda, p + tk.j0, 1, lda,
                a + tk.r0 + tk.j0 * lda, lda);
    });
  }
  return -1;
}

// B(n, m) := L^{-1} B, blocked by kTrsmNb rows. `zero_prefix`: column j of B is zero in rows
// < j (the identity columns of an inverse), so in the row block [ib, ib + bs) every column from
// ib + bs on is zero and stays zero: the block's solve and update take only the columns before.
// The other columns get the same operations either way (each column's arithmetic is its own),
// and a zero column's would give +0 where it already holds +0: bit for bit the same B.
static void trsm_chunk(const IsaKernels& kern, int n, const double* l, ptrdiff_t ldl, int m, double* b,
                       ptrdiff_t ldb, bool zero_prefix = false) {
  for (int ib = 0; ib < n; ib += kTrsmNb) {
    const int bs = std::min(kTrsmNb, n - ib);
    const int cols = zero_prefix ? std::min(m, ib + bs) : m;
    kern.trsm_left_l(bs, cols, l + ib + ib * ldl, ldl, b + ib, ldb);
    const int below = n - ib - bs;
    if (below > 0) {
      kern.gemm(below, cols, bs, -1.0, l + (ib + bs) + ib * ldl, 1, ldl, b + ib, ldb, 1, b + ib + bs, ldb);
    }
  }
}

void trsm_left_lower(int n, const double* l, ptrdiff_t ldl, int m, double* b, ptrdiff_t ldb, ThreadPool* pool) {
  const IsaKernels& kern = isa_kernels();
  const int chunks = (m + kRhsChunk - 1) / kRhsChunk;
  auto task = [&](int t, int) {
    const int c0 = t * kRhsChunk;
    trsm_chunk(kern, n, l, ldl, std::min(kRhsChunk, m - c0), b + c0 * ldb, ldb);
  };
  if (pool == nullptr) {
    for (int t = 0; t < chunks; ++t) task(t, 0);
  } else {
    pool->parallel_for(chunks, task);
  }
}

void cholesky_inverse(int n, const double* l, ptrdiff_t ldl, std::vector<double>& inv, ThreadPool& pool) {
  const IsaKernels& kern = isa_kernels();
  std::vector<double> z(static_cast<size_t>(n) * n, 0.0);
  const int chunks = (n + kInvTile - 1) / kInvTile;
  // Z[:, c0:c1] = L^{-1} I[:, c0:c1]; rows above c0 stay zero, so solve with L[c0:, c0:] only.
  pool.parallel_for(chunks, [&](int t, int) {
    const int c0 = t * kInvTile;
    const int mc = std::min(kInvTile, n - c0);
    double* zc = z.data() + c0 + static_cast<ptrdiff_t>(c0) * n;
    for (int i = 0; i < mc; ++i) zc[i + static_cast<ptrdiff_t>(i) * n] = 1.0;
    trsm_chunk(kern, n - c0, l + c0 + c0 * ldl, ldl, mc, zc, n);
  });
  reserve_large(inv, static_cast<size_t>(n) * n);
  inv.assign(static_cast<size_t>(n) * n, 0.0);
  std::vector<std::pair<int, int>> tiles;
  for (int bi = 0; bi < chunks; ++bi) {
    for (int bj = 0; bj <= bi; ++bj) tiles.emplace_back(bi, bj);
  }
  // inv[I, J] = Z[I0:, I]^T Z[I0:, J] (Z is lower, so rows above I0 contribute nothing).
  pool.parallel_for(static_cast<int>(tiles.size()), [&](int t, int) {
    const int i0 = tiles[static_cast<size_t>(t)].first * kInvTile;
    const int j0 = tiles[static_cast<size_t>(t)].second * kInvTile;
    const int mi = std::min(kInvTile, n - i0);
    const int mj = std::min(kInvTile, n - j0);
    const double* zi = z.data() + i0 + static_cast<ptrdiff_t>(i0) * n;
    const double* zj = z.data() + i0 + static_cast<ptrdiff_t>(j0) * n;
    kern.gemm(mi, mj, n - i0, 1.0, zi, n, 1, zj, n, 1, inv.data() + i0 + static_cast<ptrdiff_t>(j0) * n, n);
  });
}

void cholesky_inverse_in_place(int n, double* a, LargeVector& z, ThreadPool& pool) {
  const IsaKernels& kern = isa_kernels();
  z.resize(static_cast<size_t>(n) * n);
  // Z[c0:, c0:c1] = L[c0:, c0:]^{-1} I (rows above c0 of these columns are zero and never read).
  // Wide column chunks: the L panels are packed once per chunk. The first chunk is the largest,
  // and tasks are handed out in order, so the big ones start first.
  const int chunks = (n + kInvSolveCols - 1) / kInvSolveCols;
  pool.parallel_for(chunks, [&](int t, int) {
    const int c0 = t * kInvSolveCols;
    const int mc = std::min(kInvSolveCols, n - c0);
    double* zc = z.data() + c0 + static_cast<ptrdiff_t>(c0) * n;
    for (int i = 0; i < mc; ++i) {
      double* col = zc + static_cast<ptrdiff_t>(i) * n;
      std::fill(col, col + (n - c0), 0.0);
      col[i] = 1.0;
    }
    trsm_chunk(kern, n - c0, a + c0 + static_cast<ptrdiff_t>(c0) * n, n, mc, zc, n, /*zero_prefix=*/true);
  });
  // a[I, 0:J1] = Z[I0:, I]^T Z[I0:, 0:J1] for block rows I of kInvTile rows, in column pieces of
  // at most kInvRowCols: one GEMM per piece packs Z[I0:, I] once (the factor in a is no longer
  // needed). Pieces are listed largest first (block rows from the bottom) for the dynamic pool.
  struct Piece {
    int i0, mi, j0, mj;
  };
  std::vector<Piece> pieces;
  const int rows = (n + kInvTile - 1) / kInvTile;
  for (int bi = 0; bi < rows; ++bi) {
    const int i0 = bi * kInvTile;
    const int mi = std::min(kInvTile, n - i0);
    for (int j0 = 0; j0 < i0 + mi; j0 += kInvRowCols) pieces.push_back({i0, mi, j0, std::min(kInvRowCols, i0 + mi - j0)});
  }
  std::stable_sort(pieces.begin(), pieces.end(), [n](const Piece& x, const Piece& y) {
    return static_cast<double>(n - x.i0) * x.mj > static_cast<double>(n - y.i0) * y.mj;
  });
  pool.parallel_for(static_cast<int>(pieces.size()), [&](int t, int) {
    const Piece& p = pieces[static_cast<size_t>(t)];
    double* c = a + p.i0 + static_cast<ptrdiff_t>(p.j0) * n;
    for (int j = 0; j < p.mj; ++j) std::fill(c + static_cast<ptrdiff_t>(j) * n, c + static_cast<ptrdiff_t>(j) * n + p.mi, 0.0);
    const double* zi = z.data() + p.i0 + static_cast<ptrdiff_t>(p.i0) * n;
    const double* zj = z.data() + p.i0 + static_cast<ptrdiff_t>(p.j0) * n;
    // Z[I0 + p, I0 + i] = 0 for p < i: gemm_lower skips those terms and the tiles above the
    // diagonal (bit for bit the same lower triangle as gemm; the test of cholesky_inverse).
    kern.gemm_lower(p.mi, p.mj, n - p.i0, 1.0, zi, n, 1, zj, n, 1, c, n, p.j0 - p.i0);
  });
}

void forward_solve(int n, const double* l, ptrdiff_t ldl, double* x) { isa_kernels().trsv_l(n, l, ldl, x); }

void backward_solve_t(int n, const double* l, ptrdiff_t ldl, double* x) { isa_kernels().trsv_lt(n, l, ldl, x); }

CholeskyStatus cholesky_with_jitter(int n, const double* a, ptrdiff_t lda, std::vector<double>& l, ThreadPool& pool,
                                    double jitter_start, int max_tries) {
  CholeskyStatus st;
  double diag_mean = 0.0;
  for (int j = 0; j < n; ++j) {
    for (int i = j; i < n; ++i) {
      if (!std::isfinite(a[i + j * lda])) {
        st.had_nan = true;
        st.index = j;
        return st;
      }
    }
    diag_mean += a[j + j * lda];
  }
  diag_mean = n > 0 ? diag_mean / n : 0.0;
  if (!std::isfinite(diag_mean)) {
    // The sum of finite diagonal entries overflowed (entries near 1e308): an infinite jitter would
    // make every pivot inf and "succeed" with L = diag(inf). Averaged term by term instead (only
    // here, so that normal inputs keep the summed mean's bits).
    diag_mean = 0.0;
    for (int j = 0; j < n; ++j) diag_mean += a[j + j * lda] / n;
  }
  reserve_large(l, static_cast<size_t>(n) * n);
  l.resize(static_cast<size_t>(n) * n);
  double jitter = 0.0;
  for (int attempt = 0; attempt <= max_tries; ++attempt) {
    for (int j = 0; j < n; ++j) {
      double* dst = l.data() + static_cast<ptrdiff_t>(j) * n;
      const double* src = a + j * lda;
      std::fill(dst, dst + j, 0.0);
      std::memcpy(dst + j, src + j, sizeof(double) * static_cast<size_t>(n - j));
      dst[j] += jitter;
    }
    const int bad = cholesky_blocked(n, l.data(), n, pool);
    if (bad < 0) {
      // The trailing updates may write the strict upper triangle; zero it for a clean factor.
      for (int j = 1; j < n; ++j) std::fill(l.data() + static_cast<ptrdiff_t>(j) * n, l.data() + static_cast<ptrdiff_t>(j) * n + j, 0.0);
      st.ok = true;
      st.jitter = jitter;
      st.index = -1;
      return st;
    }
    st.index = bad;
    jitter = jitter == 0.0 ? jitter_start * std::max(diag_mean, 1e-300) : jitter * 10.0;
  }
  return st;
}

bool cholesky_extension(int n, const double* l, ptrdiff_t ldl, int k, const double* cross, const double* corner,
                        std::vector<double>& l21t, std::vector<double>& l22, ThreadPool& pool) {
  const IsaKernels& kern = isa_kernels();
  // L21^T (n, k) = L^{-1} B^T; B row-major (k, n) is B^T column-major (n, k).
  l21t.assign(cross, cross + static_cast<size_t>(n) * k);
  if (n > 0) trsm_left_lower(n, l, ldl, k, l21t.data(), n, &pool);
  l22.assign(corner, corner + static_cast<size_t>(k) * k);
  if (n > 0) kern.gemm(k, k, n, -1.0, l21t.data(), n, 1, l21t.data(), n, 1, l22.data(), k);
  for (int j = 0; j < k; ++j) {
    for (int i = j; i < k; ++i) {
      if (!std::isfinite(l22[i + static_cast<size_t>(j) * k])) return false;
    }
  }
  return cholesky_blocked(k, l22.data(), k, pool) < 0;
}

}  // namespace kestrel
