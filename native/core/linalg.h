// Dense linear algebra of the GP core: blocked, multi-threaded Cholesky, triangular solves with
// many right-hand sides, the inverse from a Cholesky factor (for the likelihood gradient only),
// and appending rows to a factor.
//
// Notation: A (n, n) symmetric positive definite, column-major with leading dim lda; only its
// lower triangle is read and the factor L (A = L L^T) overwrites it; the strict upper triangle
// is scratch. Blocked right-looking Cholesky (Golub & Van Loan 2013, "Matrix Computations", 4th
// ed., Alg. 4.2.4 in block form): factor the diagonal block, solve the panel below it, update
// the trailing lower triangle with one GEMM per tile column. Triangular solves: block forward
// substitution (GvL Alg. 3.1.3 blocked), the off-diagonal work as GEMM. Inverse from the factor
// (LAPACK dpotri: trtri then lauum): Z = L^{-1} by block forward substitution on the identity,
// then A^{-1} = Z^T Z on lower tiles. Append (GvL 4.2.9 / a bordered Cholesky): for
// A' = [[A, B^T], [B, C]], L21 = B L^{-T}, L22 = chol(C - L21 L21^T), O(n^2 k).
#ifndef KESTREL_CORE_LINALG_H_
#define KESTREL_CORE_LINALG_H_

#include <cstddef>
#include <limits>
#include <new>
#include <vector>

#include "thread_pool.h"

// KESTREL_ASAN: defined in an AddressSanitizer build (GCC's __SANITIZE_ADDRESS__, clang's
// __has_feature(address_sanitizer)); large_alloc then uses the heap (see below).
#if !defined(KESTREL_ASAN)
#if defined(__SANITIZE_ADDRESS__)
#define KESTREL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KESTREL_ASAN 1
#endif
#endif
#endif

namespace kestrel {

/// Large-buffer storage: the n^2 likelihood workspaces (kWorkspace) and factor stores (kStore).
/// On Linux a request of kLargeMapMinBytes (1 MB) or more is its own anonymous mapping,
/// 2 MB-aligned and advised MADV_HUGEPAGE, so that with transparent huge pages enabled (`always`
/// or `madvise`) each 2 MB of it faults in as one huge page: 0.14-0.27 ms, against 5.1-5.7 ms
/// for the 512 faults of 4 KB pages that a fresh 2 MB malloc'd buffer takes on the 2-vCPU hosts
/// of bench/surrogate.md (these buffers are made anew per fit, so the pages are fresh every
/// time). The length is rounded up to whole pages (sysconf: 4 KB on x86-64), then to whole 2 MB pages (each can then
/// be a huge page): always for a workspace (short-lived: it reserves less than 2 MB more than
/// asked), and for a store (it lives as long as its models) only when the last 2 MB page would
/// be at least half used (less than 1 MB more). large_alloc_size says what is reserved;
/// FactorStore::memory_bytes reports it. Where THP is off or absent the advice does nothing and
/// the pages past the request are never touched. Elsewhere (macOS, Windows) and below 1 MB:
/// malloc (a workspace) or calloc (a store), as before.
///
/// Under AddressSanitizer (KESTREL_ASAN) nothing is mapped on Linux either: a request of 1 MB or more is a heap
/// block of exactly `bytes` (posix_memalign at 2 MB, zero-filled for a store, as a mapping would
/// be), so that ASan poisons the bytes past the end and reports an overrun of a workspace or a
/// factor store, which inside a private mapping (and its rounded-up slack) it cannot see. Then
/// large_alloc_size is `bytes` (what is reserved) and kLargeAllocMaps is false.
enum class LargeUse { kWorkspace, kStore };
inline constexpr size_t kLargeMapMinBytes = size_t{1} << 20;
#if defined(__linux__) && !defined(KESTREL_ASAN)
inline constexpr bool kLargeAllocMaps = true;  // requests of kLargeMapMinBytes and up are mmap'd
#else
inline constexpr bool kLargeAllocMaps = false;
#endif
/// Bytes reserved for a large_alloc of `bytes` (the mapping's length, or `bytes`).
size_t large_alloc_size(size_t bytes, LargeUse use);
/// Storage for `bytes` (as above), zero-filled for a store; throws std::bad_alloc, also for a size
/// over half the address space (its rounded mapping length would not fit in size_t).
void* large_alloc(size_t bytes, LargeUse use);
/// Frees a large_alloc of the same `bytes` and use.
void large_free(void* p, size_t bytes, LargeUse use) noexcept;

/// std::allocator over large_alloc as a workspace (not zero-filled; a vector initializes what it holds).
template <class T>
struct LargeAllocator {
  using value_type = T;
  LargeAllocator() noexcept = default;
  template <class U>
  LargeAllocator(const LargeAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)
  T* allocate(size_t count) {
    // As std::allocator: a count whose bytes overflow is refused, not wrapped to a smaller buffer.
    if (count > std::numeric_limits<size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(large_alloc(count * sizeof(T), LargeUse::kWorkspace));
  }
  void deallocate(T* p, size_t count) noexcept { large_free(p, count * sizeof(T), LargeUse::kWorkspace); }
  template <class U>
  bool operator==(const LargeAllocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const LargeAllocator<U>&) const noexcept {
    return false;
  }
};
/// A vector of doubles on large_alloc storage (the likelihood's n^2 workspaces).
using LargeVector = std::vector<double, LargeAllocator<double>>;

/// In-place lower Cholesky. Returns -1, or the global index of the first non-positive pivot.
int cholesky_blocked(int n, double* a, ptrdiff_t lda, ThreadPool& pool);

/// B(n, m) := L^{-1} B (L lower (n, n)); columns of B split into tasks.
void trsm_left_lower(int n, const double* l, ptrdiff_t ldl, int m, double* b, ptrdiff_t ldb, ThreadPool* pool);

/// Lower triangle of A^{-1} = L^{-T} L^{-1} into `inv` (n, n), leading dim n; the strict upper
/// triangle is unspecified (zero except inside the diagonal tiles, which the tile multiply fills).
void cholesky_inverse(int n, const double* l, ptrdiff_t ldl, std::vector<double>& inv, ThreadPool& pool);

/// In place, as LAPACK dpotri: a (n, n, ld n) holds L on entry and the lower triangle of A^{-1}
/// on exit (the strict upper triangle is unspecified); z (n^2) is workspace. Z = L^{-1} and
/// Z^T Z skip the terms that the zeros above Z's diagonal make zero (gemm_lower, trsm_chunk's
/// zero_prefix): the lower triangle is bit for bit cholesky_inverse's, and a whole likelihood
/// evaluation takes about 3/4 (n = 128) to 4/5 (n = 200) of the CPU time it took with dense
/// kernels (bench/nlp-eval.cc; bench/surrogate.md, 2026-12-06).
void cholesky_inverse_in_place(int n, double* a, LargeVector& z, ThreadPool& pool);

/// Single right-hand side: x := L^{-1} x, and x := L^{-T} x.
void forward_solve(int n, const double* l, ptrdiff_t ldl, double* x);
void backward_solve_t(int n, const double* l, ptrdiff_t ldl, double* x);

struct CholeskyStatus {
  bool ok = false;
  bool had_nan = false;   // a non-finite entry in the input (never retried with jitter)
  int index = -1;         // failing pivot (not PD) or column of the non-finite entry
  double jitter = 0.0;    // added to the diagonal on success
};

/// Factors a copy of `a` (lower triangle read) into `l`, retrying with jitter
/// start * mean(diag) * 10^t for t < max_tries when a pivot fails. Keeps "input had NaN" apart.
CholeskyStatus cholesky_with_jitter(int n, const double* a, ptrdiff_t lda, std::vector<double>& l, ThreadPool& pool,
                                    double jitter_start = 1e-10, int max_tries = 6);

/// Makes `v` able to hold `count` doubles without reallocating. A new buffer of 4 MB or more is
/// advised for transparent huge pages (Linux madvise; a no-op elsewhere) before anything touches
/// it: an n^2 factor is written once right after allocation, and with 4 KB pages faulting it in
/// cost more than the arithmetic (appending one row at n = 10,000: ~85% of 2.3 s in page faults
/// and zeroing). The contents are discarded when a new buffer is made.
void reserve_large(std::vector<double>& v, size_t count);

/// A zero-initialized array of doubles for the n^2 factor stores: large_alloc'd as a store (fresh pages of a
/// large allocation come zeroed from the kernel and are not written again, unlike a vector's
/// serial fill, so they are first touched by whoever computes into them, in parallel), on 2 MB
/// huge pages from 1 MB up where the system has them. Throws std::bad_alloc.
class LargeArray {
 public:
  explicit LargeArray(size_t count);
  ~LargeArray();
  LargeArray(const LargeArray&) = delete;
  LargeArray& operator=(const LargeArray&) = delete;
  double* data() { return p_; }
  const double* data() const { return p_; }
  /// Bytes reserved (large_alloc_size of the request).
  size_t reserved_bytes() const { return large_alloc_size(bytes_, LargeUse::kStore); }

 private:
  double* p_ = nullptr;
  size_t bytes_ = 0;
};

/// The k rows that extend the factor L (n, n, leading dim ldl) of A to the factor of A bordered
/// by cross (k, n) row-major = B and corner (k, k) column-major = C (diagonal already including
/// noise and jitter): l21t (n, k) = L^{-1} B^T and l22 (k, k, lower) = chol(C - L21 L21^T). Reads
/// rows < n of L only. False when the Schur complement is not positive definite.
bool cholesky_extension(int n, const double* l, ptrdiff_t ldl, int k, const double* cross, const double* corner,
                        std::vector<double>& l21t, std::vector<double>& l22, ThreadPool& pool);

}  // namespace kestrel

#endif  // KESTREL_CORE_LINALG_H_
