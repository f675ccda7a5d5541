// C++ tests of the core math, run without Node (ctest, scripts/run-native-tests.mjs, and
// test/native/cpp-tests.test.ts). A tiny runner: each CHECK prints file:line and the values on
// failure; the exit code is the number of failed checks (0 = pass).
//
// Checked: L L^T = A (blocked, multi-threaded, every ISA variant), TRSM residuals, A^{-1} A = I,
// incremental append = fresh factorization, jitter / NaN reporting, every ISA variant of the small
// kernels, the in-place inverse, the MAP fit's policies (split value/gradient objective, workspace
// reuse, warm starts, large-n acquisition budget), finite-difference gradients
// of the negative log posterior and of the acquisitions (w.r.t. x and w.r.t. mean / sd), log-EI
// against a direct formula where that is accurate and its asymptotics for very negative z,
// linear-space log EHVI (log_ehvi_indexed) against the log-space log_ehvi on random boxes, one
// box side's log and slopes out to z = -1e12 against a long-double continued fraction,
// the acquisition maximizer (the best observation as a local-search start, ordinal dims on cell
// centres, log-int dims on the coordinates of their integers, no single-coordinate improvement
// left on discrete dims), determinism across thread counts, the thread pool's exceptions (thrown
// on a worker or on the caller: rethrown after every running task ended) and limits (numThreads
// capped at the cores; refused threads degrade the pool), the kernels far away (0, not NaN), and
// large_alloc's storage (mapped in a normal Linux build; in an ASan build a heap block whose end
// ASan guards).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <new>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#define KESTREL_TEST_FORK 1
#endif
#if defined(__linux__)
#include <cerrno>
#include <sys/mman.h>
#endif

#include "gp.h"
#include "isa_kernels.h"
#include "kestrel/acquisition.h"
#include "kestrel/kernels.h"
#include "kestrel/log_int.h"
#include "lbfgsb.h"
#include "linalg.h"
#include "thread_pool.h"

#if defined(KESTREL_ASAN)  // defined by linalg.h in an AddressSanitizer build
#include <sanitizer/asan_interface.h>
#endif

using namespace kestrel;

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond, ...)                                            \
  do {                                                              \
    ++g_checks;                                                     \
    if (!(cond)) {                                                  \
      ++g_failures;                                                 \
      std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
      std::printf(__VA_ARGS__);                                     \
      std::printf("\n");                                            \
    }                                                               \
  } while (0)

static std::vector<double> random_spd(int n, uint32_t seed, double ridge) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> b(static_cast<size_t>(n) * n), a(static_cast<size_t>(n) * n, 0.0);
  for (auto& v : b) v = u(rng);
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < n; ++i) {
      double s = 0.0;
      for (int k = 0; k < n; ++k) s += b[i + static_cast<size_t>(k) * n] * b[j + static_cast<size_t>(k) * n];
      a[i + static_cast<size_t>(j) * n] = s / n + (i == j ? ridge : 0.0);
    }
  }
  return a;
}

static double llt_error(int n, const std::vector<double>& a, const std::vector<double>& l) {
  double err = 0.0, scale = 0.0;
  for (int j = 0; j < n; ++j) {
    for (int i = j; i < n; ++i) {
      double s = 0.0;
      for (int k = 0; k <= j; ++k) s += l[i + static_cast<size_t>(k) * n] * l[j + static_cast<size_t>(k) * n];
      err = std::max(err, std::fabs(s - a[i + static_cast<size_t>(j) * n]));
      scale = std::max(scale, std::fabs(a[i + static_cast<size_t>(j) * n]));
    }
  }
  return err / scale;
}

static GpData random_data(int n, int d, uint32_t seed, bool with_cat) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  GpData data;
  data.n = n;
  data.d = d;
  data.is_cat.assign(static_cast<size_t>(d), 0);
  if (with_cat) data.is_cat[static_cast<size_t>(d - 1)] = 1;
  data.x.resize(static_cast<size_t>(n) * d);
  data.y.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    double f = 0.0;
    for (int j = 0; j < d; ++j) {
      double v = u(rng);
      if (data.is_cat[static_cast<size_t>(j)]) v = std::floor(v * 3.0);
      data.x[static_cast<size_t>(i) * d + j] = v;
      f += std::sin(3.0 * v + j);
    }
    data.y[static_cast<size_t>(i)] = f + 0.05 * (u(rng) - 0.5);
  }
  double mean = 0.0, var = 0.0;
  for (double v : data.y) mean += v / n;
  for (double v : data.y) var += (v - mean) * (v - mean) / n;
  for (double& v : data.y) v = (v - mean) / std::sqrt(var);
  return data;
}

static void test_cholesky() {
  for (const char* name : {"base", "avx2", "avx512"}) {
    const IsaKernels* k = isa_kernels_by_name(name);
    if (k == nullptr) continue;
    // GEMM against a naive product with odd sizes and general strides.
    const int m = 37, n = 29, kk = 301;
    std::vector<double> a(static_cast<size_t>(m) * kk), b(static_cast<size_t>(kk) * n), c(static_cast<size_t>(m) * n, 1.0);
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(-1, 1);
    for (auto& v : a) v = u(rng);
    for (auto& v : b) v = u(rng);
    // A col-major (m, kk); B given as row-major (kk, n) i.e. B(j, p) = b[p * n + j].
    k->gemm(m, n, kk, -2.0, a.data(), 1, m, b.data(), 1, n, c.data(), m);
    double err = 0.0;
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < m; ++i) {
        double s = 1.0;
        for (int p = 0; p < kk; ++p) s -= 2.0 * a[i + static_cast<size_t>(p) * m] * b[static_cast<size_t>(p) * n + j];
        err = std::max(err, std::fabs(s - c[i + static_cast<size_t>(j) * m]));
      }
    }
    CHECK(err < 1e-12, "gemm[%s] max error %.3g", name, err);
  }
  for (int n : {1, 7, 128, 300, 517}) {
    const std::vector<double> a = random_spd(n, 11 + n, 0.5);
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      std::vector<double> l;
      const CholeskyStatus st = cholesky_with_jitter(n, a.data(), n, l, pool);
      CHECK(st.ok && st.jitter == 0.0, "n=%d threads=%d ok=%d jitter=%g", n, threads, st.ok, st.jitter);
      const double err = llt_error(n, a, l);
      CHECK(err < 1e-13, "L L^T = A: n=%d threads=%d rel err %.3g", n, threads, err);
      // TRSM residual with 300 right-hand sides: || L X - B || small.
      const int m = 300;
      std::vector<double> bm(static_cast<size_t>(n) * m), x;
      std::mt19937_64 rng(n);
      std::uniform_real_distribution<double> u(-1, 1);
      for (auto& v : bm) v = u(rng);
      x = bm;
      trsm_left_lower(n, l.data(), n, m, x.data(), n, &pool);
      double res = 0.0;
      for (int c = 0; c < m; ++c) {
        for (int i = 0; i < n; ++i) {
          double s = 0.0;
          for (int k = 0; k <= i; ++k) s += l[i + static_cast<size_t>(k) * n] * x[k + static_cast<size_t>(c) * n];
          res = std::max(res, std::fabs(s - bm[i + static_cast<size_t>(c) * n]));
        }
      }
      CHECK(res < 1e-11, "TRSM residual n=%d: %.3g", n, res);
      if (n <= 300 && threads == 2) {
        std::vector<double> inv;
        cholesky_inverse(n, l.data(), n, inv, pool);
        double e = 0.0;
        for (int j = 0; j < n; ++j) {
          for (int i = 0; i < n; ++i) {
            double s = 0.0;
            for (int k = 0; k < n; ++k) {
              const double ik = i >= k ? inv[i + static_cast<size_t>(k) * n] : inv[k + static_cast<size_t>(i) * n];
              s += ik * a[k + static_cast<size_t>(j) * n];
            }
            e = std::max(e, std::fabs(s - (i == j ? 1.0 : 0.0)));
          }
        }
        CHECK(e < 1e-10, "A^{-1} A = I: n=%d err %.3g", n, e);
      }
    }
  }
  // Determinism across thread counts (bitwise).
  {
    const int n = 700;
    const std::vector<double> a = random_spd(n, 5, 0.3);
    std::vector<double> l1, l2;
    ThreadPool p1(1), p3(3);
    cholesky_with_jitter(n, a.data(), n, l1, p1);
    cholesky_with_jitter(n, a.data(), n, l2, p3);
    CHECK(std::memcmp(l1.data(), l2.data(), l1.size() * sizeof(double)) == 0, "factor differs between 1 and 3 threads");
  }
  // Jitter escalation and failure index; NaN kept apart.
  {
    const int n = 4;
    std::vector<double> a(16, 1.0);  // rank one: needs jitter
    ThreadPool pool(1);
    std::vector<double> l;
    CholeskyStatus st = cholesky_with_jitter(n, a.data(), n, l, pool);
    CHECK(st.ok && st.jitter > 0.0, "rank-one matrix: ok=%d jitter=%g", st.ok, st.jitter);
    st = cholesky_with_jitter(n, a.data(), n, l, pool, 1e-10, 0);
    CHECK(!st.ok && !st.had_nan && st.index == 1, "no jitter allowed: ok=%d index=%d", st.ok, st.index);
    std::vector<double> neg = {1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    st = cholesky_with_jitter(n, neg.data(), n, l, pool);
    CHECK(!st.ok && !st.had_nan && st.index == 1, "indefinite: ok=%d index=%d", st.ok, st.index);
    a[2 + 1 * 4] = std::nan("");
    st = cholesky_with_jitter(n, a.data(), n, l, pool);
    CHECK(!st.ok && st.had_nan && st.index == 1, "NaN: ok=%d had_nan=%d index=%d", st.ok, st.had_nan, st.index);
    // A rank-one matrix of finite entries whose diagonal sum overflows (1e308 each): the jitter
    // must stay finite, and a success must be a finite factor of A + jitter I (an infinite
    // jitter used to give ok with L = diag(inf)).
    std::vector<double> big(16, 1e308);
    st = cholesky_with_jitter(n, big.data(), n, l, pool);
    bool finite_factor = true;
    for (int j = 0; j < n; ++j) {
      for (int i = j; i < n; ++i) finite_factor = finite_factor && std::isfinite(l[i + static_cast<size_t>(j) * n]);
    }
    CHECK(st.ok && std::isfinite(st.jitter) && st.jitter > 0.0 && finite_factor,
          "rank one at 1e308: ok=%d jitter=%g finite factor=%d", st.ok, st.jitter, finite_factor);
  }
}

// Minor page faults of this process so far.
static long minor_faults() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

// Whether transparent huge pages can back an madvised mapping here ("[always]" or "[madvise]").
static bool thp_available() {
  std::FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (f == nullptr) return false;
  char buf[128] = {0};
  const size_t got = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[got] = 0;
  return std::strstr(buf, "[always]") != nullptr || std::strstr(buf, "[madvise]") != nullptr;
}

static void test_large_alloc() {
  // Sizes: below the 1 MB threshold, the n = 500 workspace (2,000,000 bytes: its last 2 MB page
  // is over half used), a factor store's 536^2 doubles (2.3 MB: as a store, a 0.2 MB tail stays
  // on 4 KB pages) and the n = 800 workspace (5,120,000 bytes). Zero-filled as a store, writable
  // throughout, freed; a workspace reserves less than 2 MB more than asked, a store less than 1 MB.
  for (LargeUse use : {LargeUse::kWorkspace, LargeUse::kStore}) {
    for (size_t bytes : {size_t{1000} * 8, size_t{2000000}, size_t{536} * 536 * 8, size_t{5120000}}) {
      const size_t reserved = large_alloc_size(bytes, use);
      const size_t slack = use == LargeUse::kStore ? kLargeMapMinBytes : 2 * kLargeMapMinBytes;
      CHECK(reserved >= bytes && reserved < bytes + slack, "large_alloc_size(%zu, %d) = %zu", bytes, static_cast<int>(use),
            reserved);
      double* p = static_cast<double*>(large_alloc(bytes, use));
      const size_t count = bytes / sizeof(double);
      if (use == LargeUse::kStore) {
        bool zero = true;
        for (size_t i = 0; i < count; i += 97) zero = zero && p[i] == 0.0;
        CHECK(zero, "large_alloc(%zu, kStore) is not zero", bytes);
      }
      for (size_t i = 0; i < count; ++i) p[i] = static_cast<double>(i);
      CHECK(p[count - 1] == static_cast<double>(count - 1), "large_alloc(%zu) last element", bytes);
#if defined(__linux__)
      if (bytes >= kLargeMapMinBytes) {  // mapped, or (under ASan) a heap block at the same alignment
        CHECK(reinterpret_cast<uintptr_t>(p) % (size_t{2} << 20) == 0, "large_alloc(%zu) at %p is not 2 MB-aligned", bytes,
              static_cast<void*>(p));
      }
#endif
      large_free(p, bytes, use);
    }
  }
#if defined(__linux__)
  if (!kLargeAllocMaps) return;  // an ASan build: large_alloc_size is the request (test_large_alloc_visible_to_asan)
  constexpr size_t kMb2 = size_t{2} << 20;
  CHECK(large_alloc_size(2000000, LargeUse::kStore) == kMb2 && large_alloc_size(2000000, LargeUse::kWorkspace) == kMb2,
        "2,000,000 bytes reserve %zu / %zu", large_alloc_size(2000000, LargeUse::kStore),
        large_alloc_size(2000000, LargeUse::kWorkspace));
  // 2301952 bytes: a whole number of 4 KB pages, kept as is; rounded to whole 16 or 64 KB pages where those are the pages.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  CHECK(large_alloc_size(size_t{536} * 536 * 8, LargeUse::kStore) == (2301952 + page - 1) / page * page,
        "536^2 doubles reserve %zu as a store", large_alloc_size(size_t{536} * 536 * 8, LargeUse::kStore));
  CHECK(large_alloc_size(5120000, LargeUse::kWorkspace) == 3 * kMb2, "5,120,000 bytes reserve %zu as a workspace",
        large_alloc_size(5120000, LargeUse::kWorkspace));
  // The point of it (bench/surrogate.md, 2026-12-06): a fresh n = 500 or n = 800 workspace, as the
  // MAP fit makes per start, faults in as one huge page per 2 MB where THP is on, not as ~490 or
  // ~1250 pages of 4 KB. Reported, not checked: a kernel out of free huge pages (fragmented
  // memory, a busy CI host) falls back to 4 KB pages, which is correct behaviour, not a failure.
  if (thp_available()) {
    for (size_t count : {size_t{250000}, size_t{640000}}) {
      long best = -1;
      for (int rep = 0; rep < 3; ++rep) {
        const long before = minor_faults();
        {
          LargeVector ws(count, 1.0);
          CHECK(ws[count - 1] == 1.0, "LargeVector contents");
        }
        const long faults = minor_faults() - before;
        best = best < 0 ? faults : std::min(best, faults);
      }
      std::printf("large_alloc: a fresh LargeVector of %zu doubles took %ld minor faults (THP on; 4 KB pages would take %zu)\n",
                  count, best, count * 8 / 4096);
    }
  }
#endif
}

// A size whose byte count or mapping length does not fit in size_t is std::bad_alloc, as calloc
// refused it before: never a smaller buffer than asked, nor a pointer into memory already unmapped.
static void test_large_alloc_overflow() {
  const size_t max = std::numeric_limits<size_t>::max();
  for (LargeUse use : {LargeUse::kWorkspace, LargeUse::kStore}) {
    // max - 7 rounds up to 0 bytes of 4 KB pages; max - (3 << 20) rounds up fine but its mapping
    // plus the alignment slack of one huge page wraps.
    for (size_t bytes : {max - 7, max - (size_t{3} << 20), max / 2 + 1}) {
      bool refused = false;
      void* p = nullptr;
      try {
        p = large_alloc(bytes, use);
      } catch (const std::bad_alloc&) {
        refused = true;
      }
      CHECK(refused, "large_alloc(%zu, %d) returned %p instead of throwing std::bad_alloc", bytes, static_cast<int>(use), p);
    }
  }
  // count * sizeof(double) wraps to 8 bytes for this count.
  bool refused = false;
  try {
    LargeArray a(max / sizeof(double) + 2);
  } catch (const std::bad_alloc&) {
    refused = true;
  }
  CHECK(refused, "LargeArray(%zu doubles) did not throw std::bad_alloc", max / sizeof(double) + 2);
}

#if defined(__linux__)
// This process's virtual size (VmSize of /proc/self/status) in bytes; -1 if unreadable.
static long long virtual_bytes() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long long kb = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "VmSize: %lld kB", &kb) == 1) break;
  }
  std::fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}
#endif

// A large_alloc'd buffer gives back its whole mapping when freed, on any page size: the mapping
// length is rounded to the system's page (sysconf), not to 4 KB. Rounded to 4 KB where pages are
// 16 or 64 KB (arm64, ppc64le), a store whose length is not a whole 2 MB page could not unmap the
// alignment slack after it (munmap of an address that is not page-aligned is EINVAL), and each
// such store left up to 2 MB of address space and a mapping behind.
static void test_large_alloc_unmaps_everything() {
#if defined(__linux__)
  if (!kLargeAllocMaps) return;  // an ASan build: heap blocks, which ASan quarantines after the free
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (LargeUse use : {LargeUse::kWorkspace, LargeUse::kStore}) {
    for (size_t bytes : {size_t{536} * 536 * 8, size_t{1} << 20 | 8, size_t{5120000}, size_t{3} << 20}) {
      const size_t reserved = large_alloc_size(bytes, use);
      CHECK(reserved % page == 0, "large_alloc_size(%zu, %d) = %zu is not a whole number of %zu-byte pages", bytes,
            static_cast<int>(use), reserved, page);
    }
  }
  const long long before = virtual_bytes();
  for (int rep = 0; rep < 64; ++rep) {
    for (size_t bytes : {size_t{536} * 536 * 8, size_t{1} << 20 | 8, size_t{5120000}}) {
      for (LargeUse use : {LargeUse::kWorkspace, LargeUse::kStore}) {
        void* p = large_alloc(bytes, use);
        static_cast<char*>(p)[bytes - 1] = 1;
        large_free(p, bytes, use);
      }
    }
  }
  const long long grown = virtual_bytes() - before;
  CHECK(before >= 0 && grown < (8LL << 20), "384 large_alloc/large_free pairs left %lld bytes of address space mapped",
        grown);
#endif
}

// The byte past a large_alloc must be poisoned under AddressSanitizer, so that an overrun of an
// n^2 workspace or factor store is reported: inside an anonymous mapping (rounded up to whole
// pages, often to 2 MB) ASan sees only addressable memory, and such an overrun read or wrote the
// slack silently. So an ASan build makes these heap blocks of exactly the request, and reports
// that size as reserved. A normal Linux build still maps them: the whole reserved length is mapped
// while the buffer lives and unmapped once it is freed (mincore fails with ENOMEM there).
static void test_large_alloc_visible_to_asan() {
  for (LargeUse use : {LargeUse::kWorkspace, LargeUse::kStore}) {
    for (size_t bytes : {kLargeMapMinBytes, size_t{2000000}, size_t{536} * 536 * 8, size_t{1} << 20 | 8, size_t{5120000}}) {
      unsigned char* p = static_cast<unsigned char*>(large_alloc(bytes, use));
#if defined(KESTREL_ASAN)
      CHECK(!kLargeAllocMaps && large_alloc_size(bytes, use) == bytes, "ASan build: large_alloc_size(%zu, %d) = %zu",
            bytes, static_cast<int>(use), large_alloc_size(bytes, use));
      CHECK(__asan_region_is_poisoned(p, bytes) == nullptr, "ASan build: large_alloc(%zu, %d) is poisoned inside at %p",
            bytes, static_cast<int>(use), __asan_region_is_poisoned(p, bytes));
      CHECK(__asan_address_is_poisoned(p + bytes) == 1, "ASan build: the byte past large_alloc(%zu, %d) is not poisoned",
            bytes, static_cast<int>(use));
      large_free(p, bytes, use);
#elif defined(__linux__)
      const size_t reserved = large_alloc_size(bytes, use);
      const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
      std::vector<unsigned char> resident((reserved + page - 1) / page);
      const bool mapped = mincore(p, reserved, resident.data()) == 0;
      large_free(p, bytes, use);
      errno = 0;
      const bool unmapped = mincore(p, page, resident.data()) == -1 && errno == ENOMEM;
      CHECK(kLargeAllocMaps && mapped && unmapped,
            "large_alloc(%zu, %d): %zu reserved bytes mapped %d, unmapped after large_free %d", bytes,
            static_cast<int>(use), reserved, mapped, unmapped);
#else
      large_free(p, bytes, use);
#endif
    }
  }
}

static void test_reserve_large() {
  // Small and large (huge-page advised) buffers: capacity as asked, no reallocation when it
  // suffices, and a large buffer is fully usable (every page written and read back).
  for (size_t count : {size_t{1000}, size_t{1} << 20}) {
    std::vector<double> v(3, 1.5);
    reserve_large(v, count);
    CHECK(v.capacity() >= count && v.empty(), "reserve_large(%zu): capacity %zu size %zu", count, v.capacity(), v.size());
    const double* before = v.data();
    v.assign(count, 2.0);
    CHECK(v.data() == before, "assign within the reserved capacity reallocated (count %zu)", count);
    reserve_large(v, count / 2);
    CHECK(v.data() == before && v.size() == count, "a smaller reservation touched the buffer (count %zu)", count);
    double sum = 0.0;
    for (size_t i = 0; i < count; i += 512) sum += v[i];
    CHECK(sum == 2.0 * static_cast<double>((count + 511) / 512), "large buffer contents (count %zu)", count);
  }
}

static void test_acquisition_math() {
  // log_h against the direct formula where the direct formula is accurate.
  for (double z : {-0.9, -0.5, 0.0, 0.7, 2.5, 6.0}) {
    const double phi = std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
    const double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
    const double direct = std::log(phi + z * cdf);
    CHECK(std::fabs(log_h(z) - direct) < 1e-12, "log_h(%g) = %.17g vs %.17g", z, log_h(z), direct);
  }
  // erfcx's continued fraction (x >= 5, a number of terms that falls with x) against a
  // 400-term long-double evaluation (64-bit mantissa), on a geometric grid up to 1e5: within
  // 3 ulps of the double result (its own rounding), and continuous at the switch from the direct
  // formula at 5.
  double worst_erfcx = 0.0;
  for (double x = 5.0; x < 1e5; x *= 1.0007) {
    long double frac = x;
    for (int k = 400; k >= 1; --k) frac = static_cast<long double>(x) + 0.5L * k / frac;
    const long double ref = 1.0L / (std::sqrt(static_cast<long double>(M_PI)) * frac);
    worst_erfcx = std::max(worst_erfcx, static_cast<double>(std::fabs((erfcx_nonneg(x) - ref) / ref)));
  }
  CHECK(worst_erfcx < 6.7e-16, "erfcx_nonneg: worst relative error %.3g on [5, 1e5)", worst_erfcx);
  CHECK(std::fabs(erfcx_nonneg(5.0) / erfcx_nonneg(std::nextafter(5.0, 0.0)) - 1.0) < 1e-14, "erfcx_nonneg jumps at 5");
  CHECK(erfcx_nonneg(std::numeric_limits<double>::infinity()) == 0.0 && std::isnan(erfcx_nonneg(std::nan(""))), "erfcx_nonneg(inf / NaN)");
  // exp_or_zero / erfc_or_zero skip libm only where its result is +0: bit for bit the same.
  int flushed_mismatch = 0;
  for (double a = -750.0; a < -740.0; a += 1.0 / 1024.0) {
    const double e = std::exp(a), g = exp_or_zero(a);
    flushed_mismatch += std::memcmp(&e, &g, sizeof e) != 0;
  }
  for (double x = 26.0; x < 29.0; x += 1.0 / 4096.0) {
    const double e = std::erfc(x), g = erfc_or_zero(x);
    flushed_mismatch += std::memcmp(&e, &g, sizeof e) != 0;
  }
  CHECK(flushed_mismatch == 0 && exp_or_zero(-INFINITY) == 0.0 && std::isnan(exp_or_zero(std::nan(""))),
        "exp_or_zero / erfc_or_zero differ from exp / erfc at %d points", flushed_mismatch);
  // Continuity at the branch points and the asymptote log h(z) ~ -z^2/2 - c1 - 2 log|z|.
  CHECK(std::fabs(log_h(-1.0 - 1e-12) - log_h(-1.0 + 1e-12)) < 1e-9, "log_h discontinuous at -1");
  for (double z : {-5.0, -40.0, -1e3, -1e6, -1e9}) {
    const double v = log_h(z);
    const double asym = -0.5 * z * z - kHalfLog2Pi - 2.0 * std::log(-z);
    // Asymptotic series: log h = asym + log(1 - 3/z^2 + ...), so |v - asym| <= 4/z^2.
    CHECK(std::isfinite(v) && std::fabs(v - asym) < 4.0 / (z * z) + 1e-15 * std::fabs(asym), "log_h(%g) = %.17g (asym %.17g)", z, v, asym);
  }
  // Derivatives of every acquisition w.r.t. mean and sd by central differences.
  for (int kind = 0; kind < 3; ++kind) {
    for (double mean : {-3.0, -0.2, 0.4, 1.5}) {
      for (double sd : {0.05, 0.3, 1.2}) {
        double out[3], hi[3], lo[3];
        const double h = 1e-6;
        acquisition_from_moments(static_cast<AcquisitionKind>(kind), mean, sd, 0.8, 2.0, out);
        acquisition_from_moments(static_cast<AcquisitionKind>(kind), mean + h, sd, 0.8, 2.0, hi);
        acquisition_from_moments(static_cast<AcquisitionKind>(kind), mean - h, sd, 0.8, 2.0, lo);
        const double fd_mean = (hi[0] - lo[0]) / (2 * h);
        acquisition_from_moments(static_cast<AcquisitionKind>(kind), mean, sd + h, 0.8, 2.0, hi);
        acquisition_from_moments(static_cast<AcquisitionKind>(kind), mean, sd - h, 0.8, 2.0, lo);
        const double fd_sd = (hi[0] - lo[0]) / (2 * h);
        CHECK(std::fabs(fd_mean - out[1]) < 1e-5 * (1 + std::fabs(out[1])), "kind %d d/dmean %g vs fd %g", kind, out[1], fd_mean);
        CHECK(std::fabs(fd_sd - out[2]) < 1e-5 * (1 + std::fabs(out[2])), "kind %d d/dsd %g vs fd %g", kind, out[2], fd_sd);
      }
    }
  }
  // Slopes deep in the lower tail, z = -t, against the asymptotic series of the Mills ratio
  // R(t) = (1 - Phi(t)) / phi(t) = 1/t - 1/t^3 + 3/t^5 - 15/t^7 + ...: d log PI / d mu =
  // 1 / (sd R), d log EI / d mu = R / (sd (1 - t R)) with 1 - t R = 1/t^2 - 3/t^4 + 15/t^6 - ...
  // (nine terms of each: exact to rounding from t = 100 on). Taken as differences of two logs of
  // size t^2/2, they were wrong by orders of magnitude (at t = 1e9 log_pi's slope was 1, log_ei's
  // 6e27); eq. (9)'s middle branch of log_h, kept down to 1/sqrt(eps), lost log_ei's as eps t^2
  // (1e-9 at t = 1e3, 2e-2 at 1e7, ~1 just above 6.7e7).
  for (double t : {100.0, 150.0, 1e3, 1e5, 1e7, 5e7, 6.7e7, 1e8, 1e9, 1e12}) {
    const double w = 1.0 / (t * t);
    double mills = 0.0, gap = 0.0, term = 1.0;
    for (int k = 0; k < 9; ++k) {
      mills += term;
      if (k >= 1) gap -= term;
      term *= -(2.0 * k + 1.0) * w;
    }
    mills /= t;
    double pi[3], ei[3];
    log_pi(-t, 1.0, 0.0, pi);
    log_ei(-t, 1.0, 0.0, ei);
    CHECK(std::fabs(pi[1] * mills - 1.0) < 1e-12, "log_pi d/dmean at z = %g: %.17g vs %.17g", -t, pi[1], 1.0 / mills);
    CHECK(std::fabs(pi[2] - t * pi[1]) < 1e-12 * std::fabs(pi[2]), "log_pi d/dsd at z = %g: %.17g", -t, pi[2]);
    CHECK(std::fabs(ei[1] * gap / mills - 1.0) < 1e-12, "log_ei d/dmean at z = %g: %.17g vs %.17g", -t, ei[1], mills / gap);
    CHECK(std::fabs(ei[2] - (1.0 + t * ei[1])) < 1e-12 * std::fabs(ei[2]), "log_ei d/dsd at z = %g: %.17g", -t, ei[2]);
  }
  // log_h is continuous across its branches (z = -1, and the series' start at z = -100).
  for (double z : {-1.0, -100.0}) {
    const double below = log_h(z * (1.0 + 1e-13)), above = log_h(z * (1.0 - 1e-13));
    CHECK(std::fabs(below - above) < 1e-9 * std::fabs(above) + 1e-10, "log_h across z = %g: %.17g vs %.17g", z, below, above);
  }
}

// E[clamp(y - l, 0, u - l)] for y ~ N(mean, sd^2) by the trapezoid rule over mean +- 12 sd
// (the integrand is P(y > t) for t in [l, u]).
static double box_side_quadrature(double mean, double sd, double l, double u) {
  const double hi = std::min(u, mean + 12.0 * sd);
  if (hi <= l) return 0.0;
  const int steps = 200000;
  const double step = (hi - l) / steps;
  double sum = 0.0;
  for (int i = 0; i <= steps; ++i) {
    const double t = l + i * step;
    const double tail = 0.5 * std::erfc((t - mean) / (sd * std::sqrt(2.0)));
    sum += (i == 0 || i == steps ? 0.5 : 1.0) * tail;
  }
  return sum * step;
}

// log_ehvi_indexed (linear space over hypervolume_layout) against log_ehvi (log space), on random
// inputs: k = 2 (a staircase's boxes), 3 and 4 (random boxes, some uppers +inf, bounds drawn from
// a small grid so that several boxes share them), z from -40 to +10. Where EHVI is a normal
// number above kMinLinearEhvi: value within 1e-12 relative, slopes within 1e-9 relative to the
// largest slope; below it (the fallback) exactly log_ehvi's. Thin boxes (u - l = 1e-9 sd) lose
// digits to h(zl) - h(zu) in both forms alike: there the bound is eps h(zl) / (h(zl) - h(zu)).
static void test_log_ehvi_indexed() {
  const double inf = std::numeric_limits<double>::infinity();
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int fast = 0, fallback = 0;
  double err_v = 0.0, err_s = 0.0, err_thin = 0.0;
  for (int trial = 0; trial < 600; ++trial) {
    const int k = 2 + trial % 3;
    const bool thin = trial % 5 == 4;
    std::vector<double> boxes;
    if (k == 2) {
      // A staircase: front points (a_i, b_i), a decreasing, b increasing; boxes [a_{i+1}, a_i) x [b_i, inf)
      // plus the two outer ones.
      const int np = 1 + static_cast<int>(unit(rng) * 12);
      std::vector<double> a(np), bb(np);
      for (int i = 0; i < np; ++i) a[i] = std::floor(unit(rng) * 20) * 0.1, bb[i] = std::floor(unit(rng) * 20) * 0.1;
      std::sort(a.begin(), a.end(), std::greater<double>());
      a.erase(std::unique(a.begin(), a.end()), a.end());
      std::sort(bb.begin(), bb.end());
      bb.erase(std::unique(bb.begin(), bb.end()), bb.end());
      const int m = static_cast<int>(std::min(a.size(), bb.size()));
      const double ref = -0.5;
      boxes.insert(boxes.end(), {a[0], ref, inf, inf});
      for (int i = 0; i + 1 < m; ++i) boxes.insert(boxes.end(), {a[i + 1], bb[i], a[i], inf});
      boxes.insert(boxes.end(), {ref, bb[m - 1], a[m - 1], inf});
    } else {
      const int nb = 1 + static_cast<int>(unit(rng) * 20);
      for (int r = 0; r < nb; ++r) {
        std::vector<double> row(2 * k);
        for (int j = 0; j < k; ++j) {
          row[j] = std::floor(unit(rng) * 10) * 0.2 - 1.0;
          row[k + j] = unit(rng) < 0.3 ? inf : row[j] + 0.2 * (1 + std::floor(unit(rng) * 4));
        }
        boxes.insert(boxes.end(), row.begin(), row.end());
      }
    }
    const int n_boxes = static_cast<int>(boxes.size() / (2 * k));
    double mean[4], sd[4];
    for (int j = 0; j < k; ++j) {
      sd[j] = 0.05 + 2.0 * unit(rng);
      mean[j] = -0.5 + (-40.0 + 50.0 * unit(rng)) * sd[j];
    }
    if (thin) {
      // Every finite upper 1e-9 sd above its lower.
      for (int r = 0; r < n_boxes; ++r) {
        for (int j = 0; j < k; ++j) {
          double& u = boxes[static_cast<size_t>(r) * 2 * k + k + j];
          if (u < inf) u = boxes[static_cast<size_t>(r) * 2 * k + j] + 1e-9 * sd[j];
        }
      }
      for (int j = 0; j < k; ++j) mean[j] = boxes[j] + (-3.0 + 6.0 * unit(rng)) * sd[j];
    }
    std::vector<double> values(boxes.size()), work(std::max(4 * boxes.size(), boxes.size() * 2));
    std::vector<int> index(boxes.size());
    int value_end[4];
    hypervolume_layout(k, n_boxes, boxes.data(), values.data(), value_end, index.data());
    double dm_ref[4], ds_ref[4], dm[4], ds[4];
    const double ref = log_ehvi(k, n_boxes, boxes.data(), mean, sd, dm_ref, ds_ref, work.data());
    const double v = log_ehvi_indexed(k, n_boxes, boxes.data(), values.data(), value_end, index.data(), mean, sd, dm, ds,
                                      work.data());
    if (std::exp(ref) > 0.5 * kMinLinearEhvi && std::exp(ref) < 2 * kMinLinearEhvi) continue;  // either path
    if (!(std::exp(ref) >= 2 * kMinLinearEhvi)) {
      ++fallback;
      bool same = v == ref || (std::isnan(v) && std::isnan(ref));
      for (int j = 0; j < k; ++j) same = same && dm[j] == dm_ref[j] && ds[j] == ds_ref[j];
      CHECK(same, "log_ehvi_indexed fallback (k %d, trial %d): %.17g vs log_ehvi %.17g", k, trial, v, ref);
      continue;
    }
    ++fast;
    double scale = 0.0;
    for (int j = 0; j < k; ++j) scale = std::max({scale, std::fabs(dm_ref[j]), std::fabs(ds_ref[j])});
    double e_s = 0.0;
    for (int j = 0; j < k; ++j) e_s = std::max({e_s, std::fabs(dm[j] - dm_ref[j]), std::fabs(ds[j] - ds_ref[j])});
    if (thin) {
      // Worst conditioning over the boxes' sides: h(zl) / (h(zl) - h(zu)).
      double cond = 1.0;
      for (int r = 0; r < n_boxes; ++r) {
        for (int j = 0; j < k; ++j) {
          const double u = boxes[static_cast<size_t>(r) * 2 * k + k + j];
          if (!(u < inf)) continue;
          const double l = boxes[static_cast<size_t>(r) * 2 * k + j];
          const double hl = std::exp(log_h((mean[j] - l) / sd[j])), hu = std::exp(log_h((mean[j] - u) / sd[j]));
          cond = std::max(cond, hl / (hl - hu));
        }
      }
      err_thin = std::max(err_thin, std::max(std::fabs(v - ref), e_s / scale) / (cond * 1e-16));
      continue;
    }
    err_v = std::max(err_v, std::fabs(v - ref) / std::max(1.0, std::fabs(ref)));
    err_s = std::max(err_s, e_s / scale);
  }
  std::printf("log_ehvi_indexed: %d linear (value err %.3g, slope err %.3g, thin err %.3g eps x cond), %d fallback\n", fast,
              err_v, err_s, err_thin, fallback);
  CHECK(fast > 200 && fallback > 50, "log_ehvi_indexed: %d linear, %d fallback cases", fast, fallback);
  CHECK(err_v < 1e-12 && err_s < 1e-9, "log_ehvi_indexed vs log_ehvi: value err %.3g, slope err %.3g", err_v, err_s);
  CHECK(err_thin < 100, "log_ehvi_indexed vs log_ehvi on thin boxes: err %.3g x eps x conditioning", err_thin);
  // Far below every box: the log-space fallback, bit for bit.
  const double boxes[] = {1.0, -1.0, inf, inf, 0.0, 0.5, 1.0, inf};
  double values[8], work[16], dm[2], ds[2], dm_ref[2], ds_ref[2];
  int index[8], value_end[2];
  hypervolume_layout(2, 2, boxes, values, value_end, index);
  const double far_mean[] = {-60.0, -45.0}, sd[] = {1.0, 0.9};
  const double ref = log_ehvi(2, 2, boxes, far_mean, sd, dm_ref, ds_ref, work);
  const double v = log_ehvi_indexed(2, 2, boxes, values, value_end, index, far_mean, sd, dm, ds, work);
  CHECK(std::isfinite(v) && v == ref && dm[0] == dm_ref[0] && dm[1] == dm_ref[1] && ds[0] == ds_ref[0] && ds[1] == ds_ref[1],
        "far log_ehvi_indexed %.17g vs log_ehvi %.17g", v, ref);
  CHECK(value_end[0] == 2 && value_end[1] == 4 && values[0] == 0.0 && values[1] == 1.0 && values[2] == -1.0 &&
            values[3] == 0.5 && index[0] == 1 && index[1] == 2 && index[2] == -1 && index[3] == -1 && index[4] == 0 &&
            index[5] == 3 && index[6] == 1 && index[7] == -1,
        "hypervolume_layout: ends %d %d, indices %d %d %d %d", value_end[0], value_end[1], index[4], index[5], index[6], index[7]);
  // Linear h(z) against exp(log_h(z)) down to z = -30 (both lose ~log10(z^2) digits to 1 - ...).
  double err_h = 0.0;
  for (double z = -30.0; z <= 10.0; z += 0.013) {
    double terms[4];
    hv_bound_terms(z, terms);
    const double ref_h = std::exp(log_h(z));
    err_h = std::max(err_h, std::fabs(terms[0] - ref_h) / ref_h);
  }
  CHECK(err_h < 1e-12, "hv_bound_terms h vs exp(log_h): relative err %.3g", err_h);
}

// The Mills ratio R(x) = (1 - Phi(x)) / phi(x) and q(x) = h(-x) / phi(x) = 1 - x R(x) for x >= 30,
// in long double (64-bit mantissa), from Laplace's continued fraction (Abramowitz & Stegun
// 26.2.14) R = 1/(x + 1/(x + 2/(x + 3/(x + ...)))), 400 terms: with t = 1/(x + 2/(x + 3/(...))),
// R = 1/(x + t) and q = t/(x + t), so q keeps its relative accuracy (1 - x R would cancel ~x^2).
// Independent of acquisition.h's erfcx and asymptotic series.
static void mills_cf(long double x, long double* r, long double* q) {
  long double frac = x;
  for (int k = 400; k >= 2; --k) frac = x + k / frac;
  const long double t = 1.0L / frac;
  *r = 1.0L / (x + t);
  *q = t / (x + t);
}

// log psi of one box side and its slopes for zl <= -30 (zu < zl, or u = +inf), in long double
// with phi(zl) factored out: x = -z, E = phi(zu)/phi(zl) = exp(-(xu - xl)(xu + xl)/2) (0 for
// u = +inf), psi / (sd phi(zl)) = q_l - E q_u, (Phi(zl) - Phi(zu)) / phi(zl) = R_l - E R_u,
// (phi(zl) - phi(zu)) / phi(zl) = 1 - E; ref = {log psi, d/dmean, d/dsd}.
static void hv_side_reference(double zl, double zu, double sd, long double* ref) {
  const long double xl = -static_cast<long double>(zl);
  long double rl, ql, ru = 0.0L, qu = 0.0L, e = 0.0L;
  mills_cf(xl, &rl, &ql);
  if (zu > -std::numeric_limits<double>::infinity()) {
    const long double xu = -static_cast<long double>(zu);
    mills_cf(xu, &ru, &qu);
    e = std::exp(-0.5L * (xu - xl) * (xu + xl));
  }
  const long double g = ql - e * qu;
  const long double half_log_2pi = 0.5L * std::log(2.0L * static_cast<long double>(M_PI));
  ref[0] = std::log(static_cast<long double>(sd)) - 0.5L * xl * xl - half_log_2pi + std::log(g);
  ref[1] = (rl - e * ru) / g / sd;
  ref[2] = (1.0L - e) / g / sd;
}

// log_hv_side from z = -30 out to -1e12, unbounded and bounded (thin boxes of width 1e-3/|zl|,
// boxes of width 1/|zl| and 30/|zl|, of width 1 and 1e3, and zu = 1.5 zl), against
// hv_side_reference: value and both slopes within 1e-10 relative. The slopes were exps of
// differences of two logs of size z^2/2 (an ulp of z^2/2 is 1 at |z| = 1e8), wrong by orders of
// magnitude from |z| ~ 1e8 on; the value lost the bounded side's digits to log_h(zu) - log_h(zl)
// where the box is thin against sd / |zl|. From -30 to -100 (the realistic range, kept bit for bit)
// only widths of 1/|zl| and more: there thin boxes lose eps z^2 / (width |zl|) to that difference.
static void test_hv_side_far_tail() {
  const double inf = std::numeric_limits<double>::infinity();
  double worst[2][3] = {{0.0, 0.0, 0.0}, {0.0, 0.0, 0.0}};  // above z = -100, from -100 on
  int cases = 0;
  for (double zl : {-30.0, -45.0, -60.0, -99.5, -100.0, -150.0, -1e3, -1e4, -1e5, -1e6, -1e7, -1e8, -1e9, -1e10, -1e11, -1e12}) {
    const double x = -zl;
    for (double sd : {1.0, 0.25}) {
      std::vector<double> uppers = {inf};
      for (double width : {1e-3 / x, 1.0 / x, 30.0 / x, 1.0, 1e3, 0.5 * x}) {
        if (width < 1.0 / x && x < kLogHSeriesFrom) continue;
        const double zu = zl - width;
        if (zu < zl) uppers.push_back(-zu * sd);  // mean 0: zl, zu exact for sd a power of 2
      }
      for (double upper : uppers) {
        const double lower = -zl * sd;
        double out[3];
        long double ref[3];
        log_hv_side(0.0, sd, lower, upper, out);
        hv_side_reference(zl, upper < inf ? -upper / sd : -inf, sd, ref);
        ++cases;
        for (int i = 0; i < 3; ++i) {
          const double err = static_cast<double>(std::fabs((out[i] - ref[i]) / ref[i]));
          worst[x >= kLogHSeriesFrom][i] = std::max(worst[x >= kLogHSeriesFrom][i], err);
          CHECK(err < 1e-10, "log_hv_side(0, %g, [%.17g, %.17g]) out[%d] = %.17g vs reference %.17Lg (z = %g)", sd, lower,
                upper, i, out[i], ref[i], zl);
        }
      }
    }
  }
  std::printf("log_hv_side far tail: %d sides, worst relative error (value, d/dmean, d/dsd) above z = -100 %.3g %.3g %.3g, "
              "from -100 on %.3g %.3g %.3g\n", cases, worst[0][0], worst[0][1], worst[0][2], worst[1][0], worst[1][1], worst[1][2]);
}

static void test_hypervolume_math() {
  // One box side against quadrature, bounded and unbounded, and its slopes against differences.
  const double inf = std::numeric_limits<double>::infinity();
  struct Side { double mean, sd, l, u; };
  for (const Side& c : {Side{0.3, 0.5, -0.2, 0.9}, Side{-1.0, 0.2, 0.1, 0.4}, Side{2.0, 1.5, 0.0, inf},
                        Side{0.0, 0.3, -0.5, -0.45}, Side{-3.0, 0.4, 0.0, 2.0}}) {
    double out[3];
    log_hv_side(c.mean, c.sd, c.l, c.u, out);
    const double q = box_side_quadrature(c.mean, c.sd, c.l, c.u);
    CHECK(std::fabs(std::exp(out[0]) - q) < 1e-7 * (1 + q) + 1e-12, "log_hv_side(%g, %g, [%g, %g]) = %.10g vs quadrature %.10g",
          c.mean, c.sd, c.l, c.u, std::exp(out[0]), q);
    const double h = 1e-6;
    double hi[3], lo[3];
    log_hv_side(c.mean + h, c.sd, c.l, c.u, hi);
    log_hv_side(c.mean - h, c.sd, c.l, c.u, lo);
    const double fd_mean = (hi[0] - lo[0]) / (2 * h);
    log_hv_side(c.mean, c.sd + h, c.l, c.u, hi);
    log_hv_side(c.mean, c.sd - h, c.l, c.u, lo);
    const double fd_sd = (hi[0] - lo[0]) / (2 * h);
    CHECK(std::fabs(fd_mean - out[1]) < 1e-5 * (1 + std::fabs(out[1])), "log_hv_side d/dmean %g vs fd %g", out[1], fd_mean);
    CHECK(std::fabs(fd_sd - out[2]) < 1e-5 * (1 + std::fabs(out[2])), "log_hv_side d/dsd %g vs fd %g", out[2], fd_sd);
  }
  // An unbounded side is the EI over its lower bound.
  double side[3], ei[3];
  log_hv_side(0.4, 0.7, 1.1, inf, side);
  log_ei(0.4, 0.7, 1.1, ei);
  for (int i = 0; i < 3; ++i) CHECK(std::fabs(side[i] - ei[i]) < 1e-14 * (1 + std::fabs(ei[i])), "unbounded side %d: %g vs logEI %g", i, side[i], ei[i]);
  // Far in the tail the logarithm stays finite with finite slopes (the direct product underflows).
  log_hv_side(-60.0, 1.0, 0.0, 1.0, side);
  CHECK(std::isfinite(side[0]) && side[0] < -1700 && std::isfinite(side[1]) && std::isfinite(side[2]), "tail side: %g %g %g", side[0], side[1], side[2]);
  // log_ehvi of two objectives over three boxes: the log of sum_b prod_k of the sides, slopes by differences.
  const double boxes[] = {1.0, -0.5, inf, inf,  0.2, 0.3, 1.0, inf,  -1.0, 0.8, 0.2, inf};
  const double mean[] = {0.4, 0.1}, sd[] = {0.6, 0.9};
  double dmean[2], dsd[2], work[3 * 5];
  const double v = log_ehvi(2, 3, boxes, mean, sd, dmean, dsd, work);
  double direct = 0.0;
  for (int b = 0; b < 3; ++b) {
    double prod = 1.0;
    for (int j = 0; j < 2; ++j) prod *= box_side_quadrature(mean[j], sd[j], boxes[b * 4 + j], boxes[b * 4 + 2 + j]);
    direct += prod;
  }
  CHECK(std::fabs(std::exp(v) - direct) < 1e-7 * (1 + direct), "log_ehvi %.10g vs quadrature %.10g", std::exp(v), direct);
  for (int j = 0; j < 2; ++j) {
    const double h = 1e-6;
    double m2[2] = {mean[0], mean[1]}, s2[2] = {sd[0], sd[1]}, ignore[4];
    m2[j] += h;
    const double vp = log_ehvi(2, 3, boxes, m2, sd, ignore, ignore + 2, work);
    m2[j] -= 2 * h;
    const double vm = log_ehvi(2, 3, boxes, m2, sd, ignore, ignore + 2, work);
    CHECK(std::fabs((vp - vm) / (2 * h) - dmean[j]) < 1e-5 * (1 + std::fabs(dmean[j])), "log_ehvi d/dmean_%d %g vs fd %g", j, dmean[j], (vp - vm) / (2 * h));
    s2[j] += h;
    const double sp = log_ehvi(2, 3, boxes, mean, s2, ignore, ignore + 2, work);
    s2[j] -= 2 * h;
    const double sm = log_ehvi(2, 3, boxes, mean, s2, ignore, ignore + 2, work);
    CHECK(std::fabs((sp - sm) / (2 * h) - dsd[j]) < 1e-5 * (1 + std::fabs(dsd[j])), "log_ehvi d/dsd_%d %g vs fd %g", j, dsd[j], (sp - sm) / (2 * h));
  }
  // Far below every box: finite, and the slope pushes the mean up.
  const double far_mean[] = {-40.0, -35.0};
  const double far = log_ehvi(2, 3, boxes, far_mean, sd, dmean, dsd, work);
  CHECK(std::isfinite(far) && far < -1000 && dmean[0] > 0 && dmean[1] > 0, "far log_ehvi %g, slopes %g %g", far, dmean[0], dmean[1]);
  test_log_ehvi_indexed();
  test_hv_side_far_tail();
}

static void test_nlp_gradient() {
  for (int kernel = 0; kernel < 2; ++kernel) {
    for (bool det : {false, true}) {
      const GpData data = random_data(150, 4, 3 + kernel, true);
      std::vector<double> theta = {std::log(0.3), std::log(0.7), std::log(1.5), std::log(0.9), std::log(1.3), std::log(det ? 1e-6 : 0.02)};
      ThreadPool pool(2);
      const NlpResult r = neg_log_posterior(data, theta, static_cast<KernelKind>(kernel), det, true, pool);
      CHECK(r.ok, "nlp failed");
      for (size_t p = 0; p < theta.size(); ++p) {
        if (det && p == theta.size() - 1) continue;
        // Five-point central difference (truncation O(h^4)) with a step large enough that the
        // rounding noise of the ill-conditioned deterministic RBF case (A cond ~ 1e9) stays
        // below the tolerance; a plain h = 1e-5 central difference is noise-limited there.
        const double h = 1e-3;
        auto at = [&](double step) {
          std::vector<double> t = theta;
          t[p] += step;
          return neg_log_posterior(data, t, static_cast<KernelKind>(kernel), det, false, pool).value;
        };
        const double fd = (8.0 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12.0 * h);
        CHECK(std::fabs(fd - r.grad[p]) < 1e-5 * (1 + std::fabs(fd)), "kernel %d det %d grad[%zu] %.10g vs fd %.10g", kernel, det, p, r.grad[p], fd);
      }
      // Same value across thread counts.
      ThreadPool one(1);
      const NlpResult r1 = neg_log_posterior(data, theta, static_cast<KernelKind>(kernel), det, true, one);
      CHECK(r1.value == r.value && r1.grad == r.grad, "nlp differs across thread counts");
    }
  }
}

// neg_log_posterior_hessian: symmetric, equal to a second difference of the value, zero noise
// row when deterministic, and the same for any thread count.
// 30 points in 2-D whose targets have magnitude 1e152: the negative log posterior is finite at
// theta = (0, 0, 0, log 1e-3) but its gradient overflows (the fit's and the Hessian's tests).
static GpData overflowing_gradient_data() {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  GpData data;
  data.n = 30;
  data.d = 2;
  data.is_cat.assign(2, 0);
  for (int i = 0; i < data.n; ++i) {
    data.x.push_back(u(rng));
    data.x.push_back(u(rng));
    data.y.push_back(1e152 * (u(rng) - 0.5));
  }
  return data;
}

static void test_nlp_hessian() {
  for (int kernel = 0; kernel < 2; ++kernel) {
    for (bool det : {false, true}) {
      const GpData data = random_data(40, 3, 7 + kernel, true);
      const std::vector<double> theta = {std::log(0.4), std::log(0.8), std::log(1.2), std::log(1.1), std::log(det ? 1e-6 : 0.05)};
      const int q = 5;
      ThreadPool pool(2);
      const NlpHessianResult r = neg_log_posterior_hessian(data, theta, static_cast<KernelKind>(kernel), det, pool);
      CHECK(r.ok && static_cast<int>(r.hessian.size()) == q * q, "hessian failed");
      auto value = [&](int a, double ha, int b, double hb) {
        std::vector<double> t = theta;
        t[static_cast<size_t>(a)] += ha;
        t[static_cast<size_t>(b)] += hb;
        return neg_log_posterior(data, t, static_cast<KernelKind>(kernel), det, false, pool).value;
      };
      for (int a = 0; a < q; ++a) {
        for (int b = 0; b < q; ++b) {
          const double h_ab = r.hessian[static_cast<size_t>(a) * q + b];
          CHECK(h_ab == r.hessian[static_cast<size_t>(b) * q + a], "hessian not symmetric at %d,%d", a, b);
          if (det && (a == q - 1 || b == q - 1)) {
            CHECK(h_ab == 0.0, "deterministic noise entry %d,%d = %g", a, b, h_ab);
            continue;
          }
          // Second central difference of the value (truncation O(h^2)): 1e-3 relative.
          const double h = 1e-3;
          const double fd = (value(a, h, b, h) - value(a, h, b, -h) - value(a, -h, b, h) + value(a, -h, b, -h)) / (4 * h * h);
          CHECK(std::fabs(fd - h_ab) < 1e-3 * (1 + std::fabs(fd)), "kernel %d det %d H[%d][%d] %.8g vs fd %.8g", kernel, det, a, b, h_ab, fd);
        }
      }
      ThreadPool one(1);
      const NlpHessianResult r1 = neg_log_posterior_hessian(data, theta, static_cast<KernelKind>(kernel), det, one);
      CHECK(r1.ok && r1.hessian == r.hessian, "hessian differs across thread counts");
    }
  }
  // Targets of magnitude 1e152 (as test_lbfgsb_non_finite_gradient): the value is finite next to
  // theta but its gradient overflows, so there is no Hessian: ok = false with the factorization's
  // status ok, never a matrix of NaN reported as ok.
  {
    const GpData data = overflowing_gradient_data();
    const std::vector<double> theta = {0.0, 0.0, 0.0, std::log(1e-3)};
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      const NlpResult at = neg_log_posterior(data, theta, KernelKind::kMatern52, false, true, pool);
      bool grad_finite = true;
      for (double v : at.grad) grad_finite = grad_finite && std::isfinite(v);
      CHECK(at.ok && !grad_finite, "premise: finite value, non-finite gradient");
      const NlpHessianResult r = neg_log_posterior_hessian(data, theta, KernelKind::kMatern52, false, pool);
      CHECK(!r.ok && r.status.ok, "hessian of an overflowing gradient: ok %d status ok %d (want 0, 1)", r.ok, r.status.ok);
    }
  }
}

static void test_model() {
  GpData data = random_data(60, 3, 21, true);
  FitOptions fo;
  fo.n_restarts = 2;
  fo.seed = 5;
  ThreadPool pool(2);
  FitReport report;
  auto model = GpModel::fit(data, fo, pool, &report);
  CHECK(!report.fell_back, "fit fell back: %s", report.message.c_str());
  // The MAP point beats the default theta.
  const NlpResult at_default = neg_log_posterior(data, default_theta(3, false), fo.kernel, false, false, pool);
  CHECK(-model->log_posterior() <= at_default.value + 1e-9, "MAP %g worse than default %g", -model->log_posterior(), at_default.value);
  // Same seed, same result (and with another thread count).
  ThreadPool one(1);
  auto again = GpModel::fit(data, fo, one, nullptr);
  CHECK(again->theta() == model->theta(), "fit not reproducible");
  // best_row: the largest y, the first of ties (the centre of the local acquisition candidates).
  {
    int expect = 0;
    for (int i = 1; i < data.n; ++i) {
      if (data.y[static_cast<size_t>(i)] > data.y[static_cast<size_t>(expect)]) expect = i;
    }
    CHECK(model->best_row() == expect, "best_row %d, expected %d", model->best_row(), expect);
    GpData tied = data;
    tied.y.assign(static_cast<size_t>(tied.n), 0.5);
    tied.y[7] = tied.y[31] = 2.0;
    auto tied_model = GpModel::build(tied, model->theta(), fo.kernel, false, pool);
    CHECK(tied_model->best_row() == 7, "best_row of a tie %d, expected 7", tied_model->best_row());
  }
  // Posterior at training points ~ y (small noise), variance small.
  std::vector<double> mean(5), var(5);
  model->predict(data.x.data(), 5, mean.data(), var.data(), pool);
  for (int i = 0; i < 5; ++i) {
    CHECK(std::fabs(mean[static_cast<size_t>(i)] - data.y[static_cast<size_t>(i)]) < 0.3, "mean %g vs y %g", mean[static_cast<size_t>(i)], data.y[static_cast<size_t>(i)]);
  }
  // Batched predict equals the single-point path of the acquisition (UCB with beta 0 = mean).
  AcqParams ucb;
  ucb.kind = AcquisitionKind::kUcb;
  ucb.beta = 0.0;
  std::vector<double> cand = {0.2, 0.5, 1.0, 0.9, 0.1, 0.0, 0.33, 0.77, 2.0};
  std::vector<double> v(3), g(9), mean3(3), var3(3);
  model->acquisition(cand.data(), 3, ucb, v.data(), g.data(), pool);
  model->predict(cand.data(), 3, mean3.data(), var3.data(), pool);
  for (int c = 0; c < 3; ++c) CHECK(std::fabs(v[static_cast<size_t>(c)] - mean3[static_cast<size_t>(c)]) < 1e-12, "ucb(beta 0) %g vs mean %g", v[static_cast<size_t>(c)], mean3[static_cast<size_t>(c)]);
  // Acquisition gradients w.r.t. x by central differences (continuous dims).
  for (int kind = 0; kind < 3; ++kind) {
    AcqParams acq;
    acq.kind = static_cast<AcquisitionKind>(kind);
    acq.incumbent = 1.2;
    acq.beta = 2.0;
    model->acquisition(cand.data(), 3, acq, v.data(), g.data(), pool);
    for (int c = 0; c < 3; ++c) {
      for (int j = 0; j < 2; ++j) {
        const double h = 1e-6;
        std::vector<double> xp(cand.begin() + c * 3, cand.begin() + c * 3 + 3), xm = xp;
        xp[static_cast<size_t>(j)] += h;
        xm[static_cast<size_t>(j)] -= h;
        double vp, vm;
        model->acquisition(xp.data(), 1, acq, &vp, nullptr, pool);
        model->acquisition(xm.data(), 1, acq, &vm, nullptr, pool);
        const double fd = (vp - vm) / (2 * h);
        const double an = g[static_cast<size_t>(c) * 3 + j];
        CHECK(std::fabs(fd - an) < 1e-4 * (1 + std::fabs(fd)), "acq %d grad c=%d j=%d %g vs fd %g", kind, c, j, an, fd);
      }
    }
  }
  // Incremental append equals a fresh factorization at the same theta.
  GpData more = random_data(75, 3, 99, true);
  std::vector<double> xk(more.x.begin() + 60 * 3, more.x.end()), yk(more.y.begin() + 60, more.y.end());
  auto appended = model->append(xk.data(), yk.data(), 15, pool);
  GpData all = data;
  all.n = 75;
  all.x.insert(all.x.end(), xk.begin(), xk.end());
  all.y.insert(all.y.end(), yk.begin(), yk.end());
  auto fresh = GpModel::build(all, model->theta(), fo.kernel, false, pool);
  auto factor_diff = [](const GpModel& a, const GpModel& b) {
    const std::vector<double> fa = a.factor(), fb = b.factor();
    double e = fa.size() == fb.size() ? 0.0 : 1e300;
    for (size_t i = 0; i < fa.size() && i < fb.size(); ++i) e = std::max(e, std::fabs(fa[i] - fb[i]));
    return e;
  };
  double err = factor_diff(*fresh, *appended);
  CHECK(err < 1e-10 && appended->n() == 75, "append vs fresh factor max diff %.3g", err);
  CHECK(std::fabs(fresh->log_posterior() - appended->log_posterior()) < 1e-8, "append log posterior %g vs %g", appended->log_posterior(), fresh->log_posterior());
  {
    // A noiseless append (a believer's fantasy) at a new point, at the posterior mean there: the
    // variance there falls to about kNoiselessVariance s2 (a noisy one keeps about the noise),
    // and the posterior mean elsewhere does not move.
    const double xp[3] = {0.37, 0.61, 1.0};
    double mu = 0.0, var = 0.0;
    model->predict(xp, 1, &mu, &var, pool);
    auto quiet = model->append(xp, &mu, 1, pool, true);
    auto noisy = model->append(xp, &mu, 1, pool, false);
    double mq = 0.0, vq = 0.0, mn = 0.0, vn = 0.0;
    quiet->predict(xp, 1, &mq, &vq, pool);
    noisy->predict(xp, 1, &mn, &vn, pool);
    const double s2 = std::exp(model->theta()[3]);
    const double sn2 = std::exp(model->theta()[4]);
    CHECK(vq < 1e-6 * s2 && vn > 0.3 * std::min(sn2, var), "noiseless append: variance %g (noisy %g, noise %g, before %g)", vq, vn, sn2, var);
    double far_mean_before = 0.0, far_mean_after = 0.0, ignore = 0.0;
    const double xf[3] = {0.9, 0.1, 0.0};
    model->predict(xf, 1, &far_mean_before, &ignore, pool);
    quiet->predict(xf, 1, &far_mean_after, &ignore, pool);
    CHECK(std::fabs(mq - mu) < 1e-6 * (1 + std::fabs(mu)) && std::fabs(far_mean_after - far_mean_before) < 1e-6 * (1 + std::fabs(far_mean_before)),
          "noiseless believer moved the mean: %g -> %g, far %g -> %g", mu, mq, far_mean_before, far_mean_after);
  }
  // Appends share the factor's store while it has room (factor_capacity(60) = 96 rows); a second
  // append to the same model (a sibling: say kriging-believer fantasies beside real rows) copies,
  // and neither changes what the other, or the model they came from, sees.
  {
    CHECK(factor_capacity(60) == 96 && factor_capacity(10000) == 10632, "factor capacity %d %d", factor_capacity(60),
          factor_capacity(10000));
    CHECK(appended->shares_factor(*model), "an append within capacity should extend the store in place");
    // What the addon reports to the JS engine (each block once): the two models' one store, and
    // each model's own bytes, which hold none of the factor; the 15 appended rows add their
    // inputs (x and X^T), y and alpha: 2 d + 2 doubles a row.
    CHECK(&appended->factor_store() == &model->factor_store(), "models sharing a factor should share its store object");
    CHECK(model->factor_store().memory_bytes() >= sizeof(double) * 96 * 96, "store bytes %zu for 96 rows",
          model->factor_store().memory_bytes());
    CHECK(model->own_memory_bytes() < sizeof(double) * 60 * 60, "own bytes %zu include the factor", model->own_memory_bytes());
    CHECK(appended->own_memory_bytes() - model->own_memory_bytes() == 15 * (2 * 3 + 2) * sizeof(double),
          "own bytes %zu after 15 rows, %zu before", appended->own_memory_bytes(), model->own_memory_bytes());
    const std::vector<double> before = model->factor();
    GpData other = random_data(70, 3, 7, true);
    std::vector<double> xo(other.x.begin() + 60 * 3, other.x.end()), yo(other.y.begin() + 60, other.y.end());
    auto sibling = model->append(xo.data(), yo.data(), 10, pool);
    CHECK(!sibling->shares_factor(*model), "a second append to the same model must not reuse the claimed rows");
    CHECK(&sibling->factor_store() != &model->factor_store(), "a copied factor should be in a store of its own");
    GpData sib_all = data;
    sib_all.n = 70;
    sib_all.x.insert(sib_all.x.end(), xo.begin(), xo.end());
    sib_all.y.insert(sib_all.y.end(), yo.begin(), yo.end());
    auto sib_fresh = GpModel::build(sib_all, model->theta(), fo.kernel, false, pool);
    CHECK(factor_diff(*sib_fresh, *sibling) < 1e-10, "sibling append vs fresh factor %.3g", factor_diff(*sib_fresh, *sibling));
    CHECK(factor_diff(*fresh, *appended) == err && model->factor() == before, "an append changed another model's factor");
    // Appending to the in-place model keeps extending the same store; releasing both hands the
    // rows back, and the next append to `model` is in place again.
    std::vector<double> x1(xo.begin(), xo.begin() + 3), y1(yo.begin(), yo.begin() + 1);
    auto chained = appended->append(x1.data(), y1.data(), 1, pool);
    CHECK(chained->shares_factor(*model) && chained->n() == 76, "a chained append should stay in place");
    chained.reset();
    appended.reset();
    auto again = model->append(xo.data(), yo.data(), 10, pool);
    CHECK(again->shares_factor(*model), "rows released by destroyed models should be reusable");
    CHECK(factor_diff(*sib_fresh, *again) < 1e-10 && model->factor() == before, "reused rows: factor %.3g",
          factor_diff(*sib_fresh, *again));
    // Past the capacity an append copies into a new store.
    GpData big = random_data(130, 3, 5, true);
    std::vector<double> xb(big.x.begin() + 60 * 3, big.x.end()), yb(big.y.begin() + 60, big.y.end());
    again.reset();
    auto grown = model->append(xb.data(), yb.data(), 70, pool);
    GpData big_all = data;
    big_all.n = 130;
    big_all.x.insert(big_all.x.end(), xb.begin(), xb.end());
    big_all.y.insert(big_all.y.end(), yb.begin(), yb.end());
    auto big_fresh = GpModel::build(big_all, model->theta(), fo.kernel, false, pool);
    CHECK(!grown->shares_factor(*model) && factor_diff(*big_fresh, *grown) < 1e-10, "append past capacity: %.3g",
          factor_diff(*big_fresh, *grown));
    // An append of k = 0 rows to an in-place model is a second model of the same n; when the model
    // it came from is destroyed, that model's rows must not be handed back (and then overwritten by
    // the next in-place append to `model`) while the k = 0 copy still reads them.
    grown.reset();
    auto first = model->append(xo.data(), yo.data(), 10, pool);
    CHECK(first->shares_factor(*model), "rows released by the past-capacity test should be reusable");
    auto empty = first->append(nullptr, nullptr, 0, pool);
    const std::vector<double> empty_before = empty->factor();
    first.reset();
    auto overwrite = model->append(xb.data(), yb.data(), 10, pool);
    CHECK(empty->n() == 70 && empty->factor() == empty_before && factor_diff(*sib_fresh, *empty) < 1e-10,
          "an append of 0 rows lost its factor to a later append: %.3g", factor_diff(*sib_fresh, *empty));
  }
  // Acquisition optimization: feasible, at least as good as the best candidate.
  std::vector<double> grid = {0.0, 0.25, 3.0};
  std::vector<double> cands(512 * 3);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& c : cands) c = u(rng);
  AcqParams acq;
  acq.incumbent = 1.0;
  const AcqOptimum opt = model->optimize_acquisition(cands, 512, acq, 5, grid, pool);
  CHECK(opt.x[1] == 0.125 || opt.x[1] == 0.375 || opt.x[1] == 0.625 || opt.x[1] == 0.875, "ordinal dim not a cell centre: %g", opt.x[1]);
  CHECK(opt.x[2] == 0.0 || opt.x[2] == 1.0 || opt.x[2] == 2.0, "categorical dim infeasible: %g", opt.x[2]);
  CHECK(opt.x[0] >= 0.0 && opt.x[0] <= 1.0, "continuous dim out of bounds: %g", opt.x[0]);
  const AcqOptimum opt0 = model->optimize_acquisition(cands, 512, acq, 0, grid, pool);
  CHECK(opt.value >= opt0.value, "refinement %g worse than best candidate %g", opt.value, opt0.value);
  double check_v;
  model->acquisition(opt.x.data(), 1, acq, &check_v, nullptr, pool);
  CHECK(std::fabs(check_v - opt.value) < 1e-12, "reported value %g vs recomputed %g", opt.value, check_v);
  {
    // Additive terms (constraints): another model over the same inputs (its own n and y); the
    // value and gradient with terms are the sums of the separate calls, in both code paths
    // (candidate scoring without gradient, batched with), and the maximizer reports the sum.
    GpData other = random_data(45, 3, 17, true);
    for (double& y : other.y) y = -y;
    FitOptions ofo;
    auto term_model = GpModel::fit(other, ofo, pool, nullptr);
    AcqParams with_terms = acq;
    AcqTerm term;
    term.model = term_model;
    term.params.kind = AcquisitionKind::kPi;
    term.params.incumbent = 0.2;
    with_terms.terms.push_back(term);
    const int mt = 9;
    std::vector<double> own_v(mt), term_v(mt), sum_v(mt), own_g(mt * 3), term_g(mt * 3), sum_g(mt * 3), sum_nog(mt);
    model->acquisition(cands.data(), mt, acq, own_v.data(), own_g.data(), pool);
    term_model->acquisition(cands.data(), mt, term.params, term_v.data(), term_g.data(), pool);
    model->acquisition(cands.data(), mt, with_terms, sum_v.data(), sum_g.data(), pool);
    model->acquisition(cands.data(), mt, with_terms, sum_nog.data(), nullptr, pool);
    double err_v = 0.0, err_g = 0.0, err_nog = 0.0;
    for (int c = 0; c < mt; ++c) {
      err_v = std::max(err_v, std::fabs(sum_v[c] - (own_v[c] + term_v[c])));
      err_nog = std::max(err_nog, std::fabs(sum_nog[c] - (own_v[c] + term_v[c])));
      for (int j = 0; j < 3; ++j) err_g = std::max(err_g, std::fabs(sum_g[c * 3 + j] - (own_g[c * 3 + j] + term_g[c * 3 + j])));
    }
    CHECK(err_v < 1e-10 && err_nog < 1e-10 && err_g < 1e-9, "terms: value err %.3g (no grad %.3g), grad err %.3g", err_v, err_nog, err_g);
    const AcqOptimum topt = model->optimize_acquisition(cands, 512, with_terms, 5, grid, pool);
    double tv = 0.0;
    model->acquisition(topt.x.data(), 1, with_terms, &tv, nullptr, pool);
    CHECK(std::fabs(tv - topt.value) < 1e-10, "terms: reported value %g vs recomputed %g", topt.value, tv);
    // A term over other inputs, or with terms of its own, is refused.
    GpData narrow = random_data(20, 2, 5, false);
    AcqParams bad_terms = acq;
    bad_terms.terms.push_back(AcqTerm{GpModel::fit(narrow, ofo, pool, nullptr), AcqParams{}});
    bool refused = false;
    try {
      model->acquisition(cands.data(), 1, bad_terms, &tv, nullptr, pool);
    } catch (const Error& e) {
      refused = e.code() == Error::Code::kInvalid;
    }
    CHECK(refused, "a term over other inputs should be refused");
    AcqParams nested = acq;
    AcqTerm inner = term;
    inner.params.terms.push_back(term);
    nested.terms.push_back(inner);
    refused = false;
    try {
      model->optimize_acquisition(cands, 16, nested, 1, grid, pool);
    } catch (const Error& e) {
      refused = e.code() == Error::Code::kInvalid;
    }
    CHECK(refused, "a term with terms of its own should be refused");
    // log EHVI over this model (objective 0) and term_model (objective 1): the value is log_ehvi
    // of the two posteriors' moments, the gradient matches central differences, the no-gradient
    // path gives the same values, constraints (kPi terms) still add, and the maximizer reports
    // the value at the point it returns.
    const double inf = std::numeric_limits<double>::infinity();
    AcqParams ehvi;
    ehvi.kind = AcquisitionKind::kLogEhvi;
    AcqTerm second;
    second.model = term_model;
    second.params.kind = AcquisitionKind::kLogEhvi;
    ehvi.terms.push_back(second);
    ehvi.boxes = {1.2, -0.8, inf, inf, 0.3, 0.1, 1.2, inf, -0.9, 0.9, 0.3, inf};
    std::vector<double> ev(mt), eg(mt * 3), ev_nog(mt), mean0(mt), var0(mt), mean1(mt), var1(mt);
    model->acquisition(cands.data(), mt, ehvi, ev.data(), eg.data(), pool);
    model->acquisition(cands.data(), mt, ehvi, ev_nog.data(), nullptr, pool);
    model->predict(cands.data(), mt, mean0.data(), var0.data(), pool);
    term_model->predict(cands.data(), mt, mean1.data(), var1.data(), pool);
    double err_e = 0.0, err_nog_e = 0.0, err_fd = 0.0;
    for (int c = 0; c < mt; ++c) {
      const double mu[2] = {mean0[c], mean1[c]}, sdv[2] = {std::sqrt(var0[c]), std::sqrt(var1[c])};
      double dm[2], ds[2], work[3 * 5];
      const double expect = log_ehvi(2, 3, ehvi.boxes.data(), mu, sdv, dm, ds, work);
      err_e = std::max(err_e, std::fabs(ev[c] - expect) / (1 + std::fabs(expect)));
      err_nog_e = std::max(err_nog_e, std::fabs(ev_nog[c] - ev[c]));
      for (int j = 0; j < 3; ++j) {
        if (j == 2) continue;  // categorical: zero slope
        std::vector<double> xp(cands.begin() + c * 3, cands.begin() + c * 3 + 3), xm = xp;
        const double h = 1e-6;
        xp[j] += h;
        xm[j] -= h;
        double vp = 0.0, vm = 0.0;
        model->acquisition(xp.data(), 1, ehvi, &vp, nullptr, pool);
        model->acquisition(xm.data(), 1, ehvi, &vm, nullptr, pool);
        err_fd = std::max(err_fd, std::fabs((vp - vm) / (2 * h) - eg[c * 3 + j]) / (1 + std::fabs(eg[c * 3 + j])));
      }
      CHECK(eg[c * 3 + 2] == 0.0, "log EHVI: categorical slope %g", eg[c * 3 + 2]);
    }
    CHECK(err_e < 1e-9 && err_nog_e < 1e-10 && err_fd < 1e-4, "log EHVI: value err %.3g, no-grad err %.3g, fd err %.3g", err_e, err_nog_e, err_fd);
    AcqParams ehvi_constrained = ehvi;
    ehvi_constrained.terms.push_back(term);
    std::vector<double> ecv(mt), ecg(mt * 3);
    model->acquisition(cands.data(), mt, ehvi_constrained, ecv.data(), ecg.data(), pool);
    double err_c = 0.0;
    for (int c = 0; c < mt; ++c) {
      err_c = std::max(err_c, std::fabs(ecv[c] - (ev[c] + term_v[c])));
      for (int j = 0; j < 3; ++j) err_c = std::max(err_c, std::fabs(ecg[c * 3 + j] - (eg[c * 3 + j] + term_g[c * 3 + j])));
    }
    CHECK(err_c < 1e-9, "log EHVI + constraint term: err %.3g", err_c);
    const AcqOptimum eopt = model->optimize_acquisition(cands, 512, ehvi_constrained, 5, grid, pool);
    double eval_at = 0.0;
    model->acquisition(eopt.x.data(), 1, ehvi_constrained, &eval_at, nullptr, pool);
    CHECK(std::fabs(eval_at - eopt.value) < 1e-10, "log EHVI maximizer: reported %g vs recomputed %g", eopt.value, eval_at);
    // Refused: a logEHVI term under another kind, boxes of the wrong width, a lower bound above its upper.
    auto refuses = [&](const AcqParams& p) {
      try {
        double out = 0.0;
        model->acquisition(cands.data(), 1, p, &out, nullptr, pool);
      } catch (const Error& e) {
        return e.code() == Error::Code::kInvalid;
      }
      return false;
    };
    AcqParams stray = acq;
    stray.terms.push_back(second);
    AcqParams odd = ehvi;
    odd.boxes.pop_back();
    AcqParams inverted = ehvi;
    inverted.boxes[4] = 5.0;  // box 1: lower 5 above its upper 1.2
    CHECK(refuses(stray) && refuses(odd) && refuses(inverted), "log EHVI: bad terms or boxes should be refused");
  }
  // NaN in the inputs of build is reported as NaN, not as "not positive definite".
  GpData bad = data;
  bad.x[4] = std::nan("");
  bool nan_reported = false;
  try {
    GpModel::build(bad, model->theta(), fo.kernel, false, pool);
  } catch (const Error& e) {
    nan_reported = e.code() == Error::Code::kNaN;
  }
  CHECK(nan_reported, "NaN input not reported as NaN");
}

// A 2-D model (fixed theta, lengthscales 0.02, noise-free) whose best observation sits in a bump
// far narrower than the spacing of the 64 candidates, which are kept away from it; a lower bump
// (y = 1) among the candidates draws their local searches. With UCB at beta 0 (the posterior
// mean) no candidate scores above 0.5 while the narrow bump reaches y_best = 2.
using GpModelPtr = std::shared_ptr<const GpModel>;

static GpModelPtr narrow_basin_model(ThreadPool& pool, double* y_best, std::vector<double>* x_best) {
  GpData data;
  data.n = 10;
  data.d = 2;
  data.is_cat.assign(2, 0);
  for (int i = 0; i < 8; ++i) {
    data.x.push_back(0.05 + 0.12 * i);
    data.x.push_back(0.9 - 0.11 * i);
    data.y.push_back(-0.5 + 0.05 * i);
  }
  data.x.push_back(0.25);  // a lower decoy bump inside the candidates' region attracts their searches
  data.x.push_back(0.5);
  data.y.push_back(1.0);
  data.x.push_back(0.6137);
  data.x.push_back(0.2719);
  data.y.push_back(2.0);
  *y_best = 2.0;
  *x_best = {0.6137, 0.2719};
  std::vector<double> theta = {std::log(0.02), std::log(0.02), 0.0, std::log(kDeterministicNoise)};
  return GpModel::build(std::move(data), std::move(theta), KernelKind::kMatern52, true, pool);
}

static void test_acquisition_optimizer() {
  ThreadPool pool(2);
  // Cell centres: cells = round(1/g), centre (i + 1/2) / cells, index clamped.
  CHECK(ordinal_cell_center(0, 0.25) == 0.125 && ordinal_cell_center(3, 0.25) == 0.875, "cell centres of g = 1/4");
  CHECK(ordinal_cell_center(-2, 0.25) == 0.125 && ordinal_cell_center(4, 0.25) == 0.875, "cell index not clamped");
  CHECK(ordinal_cell_center(2, 1.0 / 3.0) == 2.5 / 3.0, "cell centre of g = 1/3: %.17g", ordinal_cell_center(2, 1.0 / 3.0));

  // 1. The best observation is a local-search start: the narrow bump the candidates miss is found.
  double y_best = 0.0;
  std::vector<double> x_best;
  GpModelPtr model = narrow_basin_model(pool, &y_best, &x_best);
  AcqParams mean_acq;
  mean_acq.kind = AcquisitionKind::kUcb;
  mean_acq.beta = 0.0;
  std::vector<double> cands;
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 8; ++j) {
      cands.push_back((i + 0.5) / 8.0 * 0.5);  // x0 in (0, 0.5): at least 0.05 from the bump
      cands.push_back((j + 0.5) / 8.0);
    }
  }
  const std::vector<double> continuous = {0.0, 0.0};
  double at_best = 0.0;
  model->acquisition(x_best.data(), 1, mean_acq, &at_best, nullptr, pool);
  const AcqOptimum best_candidate = model->optimize_acquisition(cands, 64, mean_acq, 0, continuous, pool);
  const AcqOptimum opt = model->optimize_acquisition(cands, 64, mean_acq, 5, continuous, pool);
  CHECK(best_candidate.value < 0.5 * y_best, "the candidates should miss the bump: best candidate %g", best_candidate.value);
  CHECK(opt.value >= at_best - 1e-9, "refined optimum %g below the best observation's value %g", opt.value, at_best);
  CHECK(std::hypot(opt.x[0] - x_best[0], opt.x[1] - x_best[1]) < 0.02, "optimum (%g, %g) not in the bump", opt.x[0], opt.x[1]);
  // The same holds for log-EI with the best observation as incumbent (its value there is the
  // floor; the local search around it must not do worse).
  AcqParams ei;
  ei.incumbent = y_best;
  double ei_at_best = 0.0;
  model->acquisition(x_best.data(), 1, ei, &ei_at_best, nullptr, pool);
  const AcqOptimum opt_ei = model->optimize_acquisition(cands, 64, ei, 5, continuous, pool);
  CHECK(opt_ei.value >= ei_at_best, "log-EI optimum %g below its value at the best observation %g", opt_ei.value, ei_at_best);
  // Batched acquisition values and gradients equal one-point calls bit for bit (the local
  // searches batch their evaluations; GpModel::acquisition_batch).
  {
    ThreadPool one_thread(1);
    const int mb = 21;
    std::vector<double> vb(mb), gb(static_cast<size_t>(mb) * 2);
    model->acquisition(cands.data(), mb, ei, vb.data(), gb.data(), pool);
    bool same = true;
    for (int c = 0; c < mb; ++c) {
      double v1 = 0.0;
      double g1[2];
      model->acquisition(cands.data() + 2 * c, 1, ei, &v1, g1, one_thread);
      same = same && v1 == vb[static_cast<size_t>(c)] && g1[0] == gb[2 * static_cast<size_t>(c)] &&
             g1[1] == gb[2 * static_cast<size_t>(c) + 1];
    }
    CHECK(same, "batched acquisition values or gradients differ from one-point calls");
  }
  // Deterministic across thread counts.
  ThreadPool one(1);
  const AcqOptimum opt1 = model->optimize_acquisition(cands, 64, mean_acq, 5, continuous, one);
  CHECK(opt1.x == opt.x && opt1.value == opt.value, "optimum depends on the thread count");

  // 2. Ordinal dims land on cell centres (small grid: exhausted; 100 cells: neighbour moves) and
  //    categorical dims on choice indices, for candidates anywhere in [0, 1] including the ends.
  GpData data = random_data(40, 4, 21, true);  // dim 3 categorical with 3 choices
  for (int i = 0; i < 40; ++i) {
    data.x[static_cast<size_t>(i) * 4 + 1] = ordinal_cell_center(std::floor(data.x[static_cast<size_t>(i) * 4 + 1] * 5), 0.2);
    data.x[static_cast<size_t>(i) * 4 + 2] = ordinal_cell_center(std::floor(data.x[static_cast<size_t>(i) * 4 + 2] * 100), 0.01);
  }
  FitOptions fo;
  fo.seed = 5;
  FitReport report;
  GpModelPtr mixed = GpModel::fit(data, fo, pool, &report);
  const std::vector<double> grid = {0.0, 0.2, 0.01, 3.0};
  std::vector<double> mc(256 * 4);
  std::mt19937_64 rng(8);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (auto& v : mc) v = u(rng);
  for (int j = 0; j < 3; ++j) mc[static_cast<size_t>(j)] = 1.0;  // a candidate on the upper faces
  for (int kind = 0; kind < 3; ++kind) {
    AcqParams acq;
    acq.kind = static_cast<AcquisitionKind>(kind);
    acq.incumbent = 1.5;
    acq.beta = 2.0;
    const AcqOptimum o = mixed->optimize_acquisition(mc, 256, acq, 4, grid, pool);
    ThreadPool serial(1);
    const AcqOptimum o1 = mixed->optimize_acquisition(mc, 256, acq, 4, grid, serial);
    CHECK(o1.x == o.x && o1.value == o.value, "kind %d: mixed-space optimum depends on the thread count", kind);
    const double c5 = std::floor(o.x[1] * 5);
    const double c100 = std::floor(o.x[2] * 100);
    CHECK(c5 >= 0 && c5 < 5 && o.x[1] == ordinal_cell_center(c5, 0.2), "kind %d: 5-cell dim %.17g not a centre", kind, o.x[1]);
    CHECK(c100 >= 0 && c100 < 100 && o.x[2] == ordinal_cell_center(c100, 0.01), "kind %d: 100-cell dim %.17g not a centre", kind, o.x[2]);
    CHECK(o.x[3] == 0.0 || o.x[3] == 1.0 || o.x[3] == 2.0, "kind %d: categorical %g", kind, o.x[3]);
    CHECK(o.x[0] >= 0.0 && o.x[0] <= 1.0, "kind %d: continuous %g", kind, o.x[0]);
    double v = 0.0;
    mixed->acquisition(o.x.data(), 1, acq, &v, nullptr, pool);
    CHECK(std::fabs(v - o.value) <= 1e-12 * (1 + std::fabs(v)), "kind %d: reported %.17g vs recomputed %.17g", kind, o.value, v);
    // The sweep leaves no single-coordinate improvement on the 5-cell dim or the categorical dim.
    for (int j : {1, 3}) {
      const int values = j == 1 ? 5 : 3;
      for (int c = 0; c < values; ++c) {
        std::vector<double> p = o.x;
        p[static_cast<size_t>(j)] = j == 1 ? ordinal_cell_center(c, 0.2) : c;
        double pv = 0.0;
        mixed->acquisition(p.data(), 1, acq, &pv, nullptr, pool);
        CHECK(pv <= o.value + 1e-9, "kind %d: dim %d value %d improves %g -> %g", kind, j, c, o.value, pv);
      }
    }
  }
}

/// Fixed features (AcqDomain::fixed; BoTorch's fixed_features): the held dims keep their value
/// (a continuous one verbatim, an ordinal one snapped to its cell centre, a categorical index),
/// and the free dims are maximized: the optimum is at least the best of a dense scan of them.
static void test_fixed_features() {
  ThreadPool pool(2);
  GpData data = random_data(30, 4, 33, true);  // dims 0-2 continuous (dim 2 used as 5 cells), dim 3 categorical
  for (int i = 0; i < 30; ++i) {
    data.x[static_cast<size_t>(i) * 4 + 2] = ordinal_cell_center(std::floor(data.x[static_cast<size_t>(i) * 4 + 2] * 5), 0.2);
  }
  FitOptions fo;
  fo.seed = 3;
  FitReport report;
  GpModelPtr model = GpModel::fit(data, fo, pool, &report);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Dim 0 held at 0.37, dim 2 at 0.5 (snapped to the centre 0.5 of cell 2), dim 3 at choice 2; dim 1 free.
  const AcqDomain domain({0.0, 0.0, 0.2, 3.0}, {}, {0.37, nan, 0.5, 2.0});
  std::vector<double> cands(128 * 4);
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (auto& v : cands) v = u(rng);
  for (int kind = 0; kind < 3; ++kind) {
    AcqParams acq;
    acq.kind = static_cast<AcquisitionKind>(kind);
    acq.incumbent = 1.0;
    acq.beta = 2.0;
    for (int restarts : {0, 4}) {
      const AcqOptimum o = model->optimize_acquisition(cands, 128, acq, restarts, domain, pool);
      CHECK(o.x[0] == 0.37 && o.x[2] == 0.5 && o.x[3] == 2.0, "kind %d restarts %d: held dims (%.17g, %.17g, %g)", kind, restarts,
            o.x[0], o.x[2], o.x[3]);
      CHECK(o.x[1] >= 0.0 && o.x[1] <= 1.0, "kind %d: free dim %g", kind, o.x[1]);
      double v = 0.0;
      model->acquisition(o.x.data(), 1, acq, &v, nullptr, pool);
      CHECK(std::fabs(v - o.value) <= 1e-12 * (1 + std::fabs(v)), "kind %d: reported %.17g vs recomputed %.17g", kind, o.value, v);
      if (restarts == 0) continue;
      std::vector<double> scan;
      for (int i = 0; i <= 2000; ++i) scan.insert(scan.end(), {0.37, i / 2000.0, 0.5, 2.0});
      std::vector<double> values(2001);
      model->acquisition(scan.data(), 2001, acq, values.data(), nullptr, pool);
      const double best = *std::max_element(values.begin(), values.end());
      CHECK(o.value >= best - 1e-9 * (1 + std::fabs(best)), "kind %d: optimum %.17g below the scan's %.17g", kind, o.value, best);
    }
  }
}

/// Whether u is exactly the coordinate of an integer of the log int [a, b] (its level k).
static bool on_log_int_level(double u, double a, double b, double* k) {
  *k = log_int_decode(u, a, b);
  return u == log_int_encode(*k, a, b);
}

static void test_log_int_acquisition() {
  ThreadPool pool(2);
  // 1. The scalar map (kestrel/log_int.h, the twin of src/space/encode.ts): every level round-trips,
  //    a level snaps to itself, and the ends of [0, 1] snap to the end levels, not to 0 and 1
  //    (u = 0 decodes to 1, whose coordinate is ln 2 / ln 2001 = 0.0912).
  bool round_trip = true;
  for (double k = 1; k <= 1000; k += 1) {
    const double u = log_int_encode(k, 1, 1000);
    round_trip = round_trip && log_int_decode(u, 1, 1000) == k && log_int_snap(u, 1, 1000) == u;
  }
  CHECK(round_trip, "a level of [1, 1000] does not round-trip");
  CHECK(log_int_snap(0.0, 1, 1000) == log_int_encode(1, 1, 1000), "u = 0 snaps to %.17g", log_int_snap(0.0, 1, 1000));
  CHECK(std::fabs(log_int_encode(1, 1, 1000) - std::log(2.0) / std::log(2001.0)) < 1e-15, "level 1 at %.17g",
        log_int_encode(1, 1, 1000));
  CHECK(log_int_snap(1.0, 1, 1000) == log_int_encode(1000, 1, 1000), "u = 1 snaps to %.17g", log_int_snap(1.0, 1, 1000));
  CHECK(log_int_snap(-3.0, 1, 1000) == log_int_encode(1, 1, 1000) && log_int_snap(7.0, 1, 1000) == log_int_encode(1000, 1, 1000),
        "u outside [0, 1] not clamped");
  CHECK(log_int_snap(std::nan(""), 3, 40) == log_int_encode(3, 3, 40), "NaN does not snap to the low level");
  // Rounding is in value space, half up: exp(...) = 2.5 -> 3 (the cell boundary of 2 and 3).
  const double half = (std::log(2.5) - std::log(0.5)) / (std::log(1000.5) - std::log(0.5));
  CHECK(log_int_decode(half - 1e-9, 1, 1000) == 2 && log_int_decode(half + 1e-9, 1, 1000) == 3, "rounding at 2.5");

  // 2. Acquisition optima on a log-int dim are levels. A 2-D model: dim 0 continuous, dim 1 a log int,
  //    observed at its levels; the large range [1, 1000] (neighbour moves), the small [2, 40]
  //    (39 levels, exhausted by the sweep), and every candidate snapped (no restarts).
  struct Range {
    double a, b;
  };
  for (const Range r : {Range{1, 1000}, Range{2, 40}}) {
    GpData data = random_data(24, 2, 31, false);
    for (int i = 0; i < data.n; ++i) {
      double& u = data.x[static_cast<size_t>(i) * 2 + 1];
      u = log_int_encode(log_int_decode(u, r.a, r.b), r.a, r.b);
    }
    FitOptions fo;
    fo.seed = 2;
    FitReport report;
    GpModelPtr model = GpModel::fit(data, fo, pool, &report);
    const AcqDomain domain({0.0, 0.0}, {0.0, 0.0, r.a, r.b});
    std::vector<double> cands(128 * 2);
    std::mt19937_64 rng(4);
    std::uniform_real_distribution<double> uni(0.0, 1.0);
    for (auto& v : cands) v = uni(rng);
    cands[1] = 0.0;  // the lower end (decodes to a, which lies above 0)
    cands[3] = 1.0;
    for (int kind = 0; kind < 3; ++kind) {
      AcqParams acq;
      acq.kind = static_cast<AcquisitionKind>(kind);
      acq.incumbent = *std::max_element(data.y.begin(), data.y.end());
      acq.beta = 2.0;
      double k = 0;
      const AcqOptimum best_candidate = model->optimize_acquisition(cands, 128, acq, 0, domain, pool);
      CHECK(on_log_int_level(best_candidate.x[1], r.a, r.b, &k), "[%g, %g] kind %d: snapped candidate %.17g not a level", r.a,
            r.b, kind, best_candidate.x[1]);
      const AcqOptimum o = model->optimize_acquisition(cands, 128, acq, 4, domain, pool);
      CHECK(on_log_int_level(o.x[1], r.a, r.b, &k), "[%g, %g] kind %d: optimum %.17g not a level", r.a, r.b, kind, o.x[1]);
      CHECK(k >= r.a && k <= r.b, "[%g, %g] kind %d: level %g", r.a, r.b, kind, k);
      CHECK(o.x[0] >= 0.0 && o.x[0] <= 1.0, "kind %d: continuous %g", kind, o.x[0]);
      CHECK(o.value >= best_candidate.value, "kind %d: refined %g below the best candidate %g", kind, o.value, best_candidate.value);
      double v = 0.0;
      model->acquisition(o.x.data(), 1, acq, &v, nullptr, pool);
      CHECK(std::fabs(v - o.value) <= 1e-12 * (1 + std::fabs(v)), "kind %d: reported %.17g vs recomputed %.17g", kind, o.value, v);
      ThreadPool serial(1);
      const AcqOptimum o1 = model->optimize_acquisition(cands, 128, acq, 4, domain, serial);
      CHECK(o1.x == o.x && o1.value == o.value, "kind %d: log-int optimum depends on the thread count", kind);
      // The sweep leaves no better level (every level of the small range; the neighbours of the large one).
      const double lo = r.b - r.a + 1 <= 64 ? r.a : std::max(r.a, k - 1);
      const double hi = r.b - r.a + 1 <= 64 ? r.b : std::min(r.b, k + 1);
      for (double level = lo; level <= hi; level += 1) {
        std::vector<double> p = o.x;
        p[1] = log_int_encode(level, r.a, r.b);
        double pv = 0.0;
        model->acquisition(p.data(), 1, acq, &pv, nullptr, pool);
        CHECK(pv <= o.value + 1e-9, "[%g, %g] kind %d: level %g improves %g -> %g", r.a, r.b, kind, level, o.value, pv);
      }
    }
  }

  // 3. The reported failure (a 1-D log int on [1, 1000] observed at n = 1 and n = 1000): searched as
  //    a continuous dim the optimum is u = 0, which decodes to the observed n = 1 but lies 0.09 from
  //    its observation, so observing it again never lowers the acquisition there. As a log int the
  //    optimum is a level, and not level 1 (observed: the search moves on).
  //    The data are those of the report after three trials: n = 1, 1, 1000 minimizing (n - 20)^2,
  //    standardized and negated.
  GpData obs;
  obs.n = 3;
  obs.d = 1;
  obs.is_cat.assign(1, 0);
  obs.x = {log_int_encode(1, 1, 1000), log_int_encode(1, 1, 1000), log_int_encode(1000, 1, 1000)};
  obs.y = {std::sqrt(0.5), std::sqrt(0.5), -std::sqrt(2.0)};
  FitOptions fo3;
  fo3.seed = 1;
  FitReport report3;
  GpModelPtr reported = GpModel::fit(obs, fo3, pool, &report3);
  std::vector<double> line(64);
  for (int c = 0; c < 64; ++c) line[static_cast<size_t>(c)] = (c + 0.5) / 64.0;
  AcqParams ei;
  ei.incumbent = std::sqrt(0.5);
  const AcqOptimum relaxed = reported->optimize_acquisition(line, 64, ei, 4, AcqDomain({0.0}), pool);
  CHECK(relaxed.x[0] == 0.0, "continuous search: optimum %.17g (expected the bound u = 0)", relaxed.x[0]);
  const AcqOptimum levels = reported->optimize_acquisition(line, 64, ei, 4, AcqDomain({0.0}, {1.0, 1000.0}), pool);
  double k = 0;
  CHECK(on_log_int_level(levels.x[0], 1, 1000, &k), "log-int search: optimum %.17g not a level", levels.x[0]);
  CHECK(k > 1 && k < 1000, "log-int search: optimum at the observed level %g", k);
  // A domain of the wrong size is an error, not a read past the end.
  bool invalid = false;
  try {
    reported->optimize_acquisition(line, 64, ei, 4, AcqDomain({0.0}, {1.0}), pool);
  } catch (const Error& e) {
    invalid = e.code() == Error::Code::kInvalid;
  }
  CHECK(invalid, "a log_int of length 1 for d = 1 was accepted");
  // Bounds past 2^53 (the addon refuses them; the core is called directly here): the sweep over
  // the 3 levels must end. It counted k += 1 up to b, and from 2^53 on k + 1 == k: it never did.
  const double big = 9007199254740992.0;  // 2^53
  const auto t0 = std::chrono::steady_clock::now();
  reported->optimize_acquisition(line, 64, ei, 1, AcqDomain({0.0}, {big, big + 2.0}), pool);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(secs < 10.0, "log-int sweep over [2^53, 2^53 + 2] took %.1f s", secs);
}

static void test_lbfgsb() {
  // Rosenbrock in a box whose optimum (1, 1) is outside: the solution sits on the bound.
  Objective f = [](const double* x, double* g) {
    const double a = 1 - x[0], b = x[1] - x[0] * x[0];
    g[0] = -2 * a - 400 * x[0] * b;
    g[1] = 200 * b;
    return a * a + 100 * b * b;
  };
  LbfgsbOptions o;
  o.max_iterations = 500;
  o.pgtol = 1e-8;
  o.ftol = 1e-15;
  LbfgsbResult r = minimize_lbfgsb(f, {-1.2, 1.0}, {-2, -2}, {2, 2}, o);
  CHECK(std::fabs(r.x[0] - 1) < 1e-4 && std::fabs(r.x[1] - 1) < 1e-4, "rosenbrock -> (%g, %g)", r.x[0], r.x[1]);
  r = minimize_lbfgsb(f, {-1.2, 1.0}, {-2, -2}, {0.5, 2}, o);
  CHECK(std::fabs(r.x[0] - 0.5) < 1e-6 && std::fabs(r.x[1] - 0.25) < 1e-4, "bounded rosenbrock -> (%g, %g)", r.x[0], r.x[1]);
  // Reverse communication: three solvers stepped in lockstep (as the acquisition search batches
  // its starts) follow exactly the trajectories of separate minimize_lbfgsb runs.
  const std::vector<std::vector<double>> x0s = {{-1.2, 1.0}, {1.9, -1.5}, {0.3, 0.3}};
  std::vector<LbfgsbSolver> solvers;
  for (const auto& x0 : x0s) solvers.emplace_back(x0, std::vector<double>{-2, -2}, std::vector<double>{2, 2}, o);
  std::vector<double> g(2);
  for (bool pending = true; pending;) {
    pending = false;
    for (LbfgsbSolver& s : solvers) {
      if (s.need() == LbfgsbSolver::Need::kDone) continue;
      pending = true;
      const double fx = f(s.point(), g.data());
      s.give_value(fx);
      if (s.need() == LbfgsbSolver::Need::kGradient) s.give_gradient(g.data());
    }
  }
  for (size_t i = 0; i < x0s.size(); ++i) {
    const LbfgsbResult alone = minimize_lbfgsb(f, x0s[i], {-2, -2}, {2, 2}, o);
    const LbfgsbResult stepped = solvers[i].result();
    CHECK(alone.x == stepped.x && alone.f == stepped.f && alone.evaluations == stepped.evaluations &&
              alone.iterations == stepped.iterations && alone.converged == stepped.converged,
          "lockstep solver %zu differs from its separate run", i);
  }
}

// A gradient with a NaN or infinite component (the value finite) stops the minimization cleanly:
// no false convergence (a NaN used to vanish from the max-norm test), no line search along a
// NaN / infinite direction (which used to spend all 40 halvings evaluating f at NaN or
// bound-clamped points), and the result is the finite accepted point where it was computed.
static void test_lbfgsb_non_finite_gradient() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  LbfgsbOptions o;
  for (double bad : {nan, inf, -inf}) {
    int bad_points = 0;
    auto finite_point = [&](const double* x) {
      if (!std::isfinite(x[0]) || !std::isfinite(x[1])) ++bad_points;
    };
    // At the start, the other component below pgtol (the old code reported convergence for NaN).
    Objective at_start = [&](const double* x, double* g) {
      finite_point(x);
      g[0] = 1e-9;
      g[1] = bad;
      return x[0] * x[0] + x[1] * x[1];
    };
    LbfgsbResult r = minimize_lbfgsb(at_start, {1e-5, 0.5}, {-2, -2}, {2, 2}, o);
    CHECK(r.stop == LbfgsbStop::kNonFiniteGradient && !r.converged && r.evaluations == 1 && r.gradients == 1,
          "bad gradient %g at the start: stop %s converged %d evaluations %d", bad, lbfgsb_stop_name(r.stop),
          r.converged, r.evaluations);
    CHECK(r.x == std::vector<double>({1e-5, 0.5}) && r.f == 1e-10 + 0.25, "bad gradient %g at the start: x (%g, %g) f %g",
          bad, r.x[0], r.x[1], r.f);
    // At a later iterate: the first accepted point with x0 < 0.9 has the bad gradient.
    Objective later = [&](const double* x, double* g) {
      finite_point(x);
      g[0] = 2 * (x[0] - 0.1);
      g[1] = x[0] < 0.9 ? bad : 2 * x[1];
      return (x[0] - 0.1) * (x[0] - 0.1) + x[1] * x[1];
    };
    r = minimize_lbfgsb(later, {1.5, 1.0}, {-2, -2}, {2, 2}, o);
    CHECK(r.stop == LbfgsbStop::kNonFiniteGradient && !r.converged && r.evaluations <= 3 && r.gradients == 2,
          "bad gradient %g later: stop %s evaluations %d gradients %d", bad, lbfgsb_stop_name(r.stop), r.evaluations,
          r.gradients);
    CHECK(std::isfinite(r.x[0]) && std::isfinite(r.x[1]) && r.x[0] < 0.9 && std::isfinite(r.f) && r.f < 1.96 + 1.0,
          "bad gradient %g later: x (%g, %g) f %g should be the accepted point", bad, r.x[0], r.x[1], r.f);
    CHECK(bad_points == 0, "bad gradient %g: the objective was evaluated at %d non-finite points", bad, bad_points);
    // The reverse-communication solver stops the same way.
    LbfgsbSolver solver({1.5, 1.0}, {-2, -2}, {2, 2}, o);
    std::vector<double> g(2);
    while (solver.need() != LbfgsbSolver::Need::kDone) {
      const double fx = later(solver.point(), g.data());
      solver.give_value(fx);
      if (solver.need() == LbfgsbSolver::Need::kGradient) solver.give_gradient(g.data());
    }
    const LbfgsbResult stepped = solver.result();
    CHECK(stepped.x == r.x && stepped.f == r.f && stepped.stop == r.stop && stepped.evaluations == r.evaluations,
          "bad gradient %g: the stepped solver differs from minimize_lbfgsb", bad);
  }
  // The other stop reasons are reported too.
  Objective quadratic = [](const double* x, double* g) {
    g[0] = 2 * x[0];
    g[1] = 2 * x[1];
    return x[0] * x[0] + x[1] * x[1];
  };
  LbfgsbResult r = minimize_lbfgsb(quadratic, {1.0, -0.5}, {-2, -2}, {2, 2}, o);
  CHECK(r.converged && (r.stop == LbfgsbStop::kProjectedGradient || r.stop == LbfgsbStop::kRelativeDecrease),
        "quadratic: converged %d stop %s", r.converged, lbfgsb_stop_name(r.stop));
  Objective infinite = [](const double*, double* g) {
    g[0] = g[1] = 0.0;
    return std::numeric_limits<double>::infinity();
  };
  r = minimize_lbfgsb(infinite, {1.0, -0.5}, {-2, -2}, {2, 2}, o);
  CHECK(r.stop == LbfgsbStop::kNonFiniteValue && !r.converged && r.evaluations == 1 && r.gradients == 0,
        "infinite value at the start: stop %s evaluations %d", lbfgsb_stop_name(r.stop), r.evaluations);
  LbfgsbOptions one = o;
  one.max_iterations = 1;
  r = minimize_lbfgsb(quadratic, {1.0, -0.5}, {-2, -2}, {2, 2}, one);
  CHECK(r.stop == LbfgsbStop::kMaxIterations || r.converged, "max_iterations 1: stop %s", lbfgsb_stop_name(r.stop));
  // The GP fit on observations of magnitude 1e152: the negative log posterior is finite (about
  // 5e306) at the default theta but its gradient overflows to inf and NaN. The fit must return
  // finite hyperparameters, say how many starts met the bad gradient, and not spend a full line
  // search on them (the old code used 95 evaluations on this data, 40 per affected start).
  {
    const GpData data = overflowing_gradient_data();
    ThreadPool pool(1);
    const NlpResult at_default = neg_log_posterior(data, {0.0, 0.0, 0.0, std::log(1e-3)}, KernelKind::kMatern52, false, true, pool);
    bool grad_finite = true;
    for (double v : at_default.grad) grad_finite = grad_finite && std::isfinite(v);
    CHECK(at_default.ok && std::isfinite(at_default.value) && !grad_finite,
          "premise: finite value (%g) with a non-finite gradient at theta = (0, 0, 0, log 1e-3)", at_default.value);
    FitOptions fo;
    fo.n_restarts = 2;
    fo.seed = 1;
    FitReport report;
    const auto model = GpModel::fit(data, fo, pool, &report);
    bool theta_finite = true;
    for (double v : model->theta()) theta_finite = theta_finite && std::isfinite(v);
    CHECK(theta_finite && std::isfinite(model->log_posterior()), "fit with overflowing gradients: non-finite theta");
    CHECK(report.non_finite_gradient_starts >= 1 && report.evaluations < 40,
          "fit with overflowing gradients: %d starts stopped on it, %d evaluations (want >= 1, < 40)",
          report.non_finite_gradient_starts, report.evaluations);
  }
}

// Every ISA variant of the small kernels against plain loops (odd sizes cover the vector tails).
static void test_isa_kernels() {
  for (const char* name : {"base", "avx2", "avx512"}) {
    const IsaKernels* k = isa_kernels_by_name(name);
    if (k == nullptr) continue;
    const int n = 83, m = 45;
    const std::vector<double> a = random_spd(n, 17, 0.5);
    std::vector<double> l;
    ThreadPool pool(1);
    CHECK(cholesky_with_jitter(n, a.data(), n, l, pool).ok, "[%s] factor", name);
    std::mt19937_64 rng(23);
    std::uniform_real_distribution<double> u(-1, 1);
    // trsm_left_l: L X = B.
    std::vector<double> b(static_cast<size_t>(n) * m);
    for (auto& v : b) v = u(rng);
    std::vector<double> x = b;
    k->trsm_left_l(n, m, l.data(), n, x.data(), n);
    double res = 0.0;
    for (int c = 0; c < m; ++c) {
      for (int i = 0; i < n; ++i) {
        double s = 0.0;
        for (int q = 0; q <= i; ++q) s += l[i + static_cast<size_t>(q) * n] * x[q + static_cast<size_t>(c) * n];
        res = std::max(res, std::fabs(s - b[i + static_cast<size_t>(c) * n]));
      }
    }
    CHECK(res < 1e-12, "[%s] trsm_left_l residual %.3g", name, res);
    // trsm_right_lt: X L^T = B with B (m, n).
    std::vector<double> br(static_cast<size_t>(m) * n);
    for (auto& v : br) v = u(rng);
    std::vector<double> xr = br;
    k->trsm_right_lt(m, n, l.data(), n, xr.data(), m);
    res = 0.0;
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < m; ++i) {
        double s = 0.0;
        for (int q = 0; q <= j; ++q) s += xr[i + static_cast<size_t>(q) * m] * l[j + static_cast<size_t>(q) * n];
        res = std::max(res, std::fabs(s - br[i + static_cast<size_t>(j) * m]));
      }
    }
    CHECK(res < 1e-12, "[%s] trsm_right_lt residual %.3g", name, res);
    // trsv_l and trsv_lt: L x = v, L^T z = v.
    std::vector<double> v(static_cast<size_t>(n));
    for (auto& t : v) t = u(rng);
    std::vector<double> xf = v, xb = v;
    k->trsv_l(n, l.data(), n, xf.data());
    k->trsv_lt(n, l.data(), n, xb.data());
    double rf = 0.0, rb = 0.0;
    for (int i = 0; i < n; ++i) {
      double sf = 0.0, sb = 0.0;
      for (int q = 0; q <= i; ++q) sf += l[i + static_cast<size_t>(q) * n] * xf[static_cast<size_t>(q)];
      for (int q = i; q < n; ++q) sb += l[q + static_cast<size_t>(i) * n] * xb[static_cast<size_t>(q)];
      rf = std::max(rf, std::fabs(sf - v[static_cast<size_t>(i)]));
      rb = std::max(rb, std::fabs(sb - v[static_cast<size_t>(i)]));
    }
    CHECK(rf < 1e-12 && rb < 1e-12, "[%s] trsv residuals %.3g %.3g", name, rf, rb);
    // trsm_cols_l / trsm_cols_lt: residuals, and every column of a 7-column batch (one group of
    // four and a remainder, or groups of two) bit-identical to a one-column call.
    const int mc = 7;
    std::vector<double> bc(static_cast<size_t>(n) * mc);
    for (auto& t : bc) t = u(rng);
    std::vector<double> fwd = bc, bwd = bc;
    k->trsm_cols_l(n, mc, l.data(), n, fwd.data(), n);
    k->trsm_cols_lt(n, mc, l.data(), n, bwd.data(), n);
    double rcf = 0.0, rcb = 0.0;
    bool same = true;
    for (int c = 0; c < mc; ++c) {
      const size_t off = static_cast<size_t>(c) * n;
      for (int i = 0; i < n; ++i) {
        double sf = 0.0, sb = 0.0;
        for (int q = 0; q <= i; ++q) sf += l[i + static_cast<size_t>(q) * n] * fwd[off + static_cast<size_t>(q)];
        for (int q = i; q < n; ++q) sb += l[q + static_cast<size_t>(i) * n] * bwd[off + static_cast<size_t>(q)];
        rcf = std::max(rcf, std::fabs(sf - bc[off + static_cast<size_t>(i)]));
        rcb = std::max(rcb, std::fabs(sb - bc[off + static_cast<size_t>(i)]));
      }
      std::vector<double> one_f(bc.begin() + static_cast<ptrdiff_t>(off), bc.begin() + static_cast<ptrdiff_t>(off + n));
      std::vector<double> one_b = one_f;
      k->trsm_cols_l(n, 1, l.data(), n, one_f.data(), n);
      k->trsm_cols_lt(n, 1, l.data(), n, one_b.data(), n);
      for (int i = 0; i < n; ++i) {
        same = same && one_f[static_cast<size_t>(i)] == fwd[off + static_cast<size_t>(i)] &&
               one_b[static_cast<size_t>(i)] == bwd[off + static_cast<size_t>(i)];
      }
    }
    CHECK(rcf < 1e-12 && rcb < 1e-12, "[%s] trsm_cols residuals %.3g %.3g", name, rcf, rcb);
    CHECK(same, "[%s] trsm_cols: a batched column differs from a one-column solve", name);
    // dot.
    double plain = 0.0;
    for (int i = 0; i < n; ++i) plain += v[static_cast<size_t>(i)] * xf[static_cast<size_t>(i)];
    const double dv = k->dot(n, v.data(), xf.data());
    CHECK(std::fabs(dv - plain) < 1e-12 * (1 + std::fabs(plain)), "[%s] dot %.17g vs %.17g", name, dv, plain);
    // cross_column on a row range (ldxt > n) and lengthscale_column against kernels.h.
    const GpData data = random_data(n, 4, 31, true);
    const std::vector<double> xt = transpose_inputs(data);
    const std::vector<double> w = {2.0, 0.5, 1.5, 0.8};
    const int off = 10, len = n - off;
    std::vector<double> r2(static_cast<size_t>(n)), kc(static_cast<size_t>(n)), dkc(static_cast<size_t>(n));
    const double* x0 = data.x.data();
    k->cross_column(len, 4, xt.data() + off, n, x0, w.data(), data.is_cat.data(), KernelKind::kMatern52, 1.7, r2.data(),
                    kc.data(), dkc.data());
    double ek = 0.0;
    for (int i = 0; i < len; ++i) {
      const double rr = scaled_distance2(data.x.data() + static_cast<size_t>(off + i) * 4, x0, w.data(), data.is_cat.data(), 4);
      ek = std::max(ek, std::fabs(kc[static_cast<size_t>(i)] - 1.7 * matern52_shape(rr)));
      ek = std::max(ek, std::fabs(dkc[static_cast<size_t>(i)] - 1.7 * matern52_shape_d(rr)));
    }
    CHECK(ek < 1e-13, "[%s] cross_column on a row range: max error %.3g", name, ek);
    std::vector<double> coef(static_cast<size_t>(n)), g(4, 0.0), gref(4, 0.0);
    for (auto& t : coef) t = u(rng);
    const int j = 7;
    k->lengthscale_column(n, 4, j, xt.data(), data.is_cat.data(), coef.data(), g.data());
    for (int p = 0; p < 4; ++p) {
      for (int i = j + 1; i < n; ++i) {
        gref[static_cast<size_t>(p)] += coef[static_cast<size_t>(i)] *
            dim_distance2(data.x[static_cast<size_t>(i) * 4 + p], data.x[static_cast<size_t>(j) * 4 + p], data.is_cat[static_cast<size_t>(p)] != 0);
      }
      CHECK(std::fabs(g[static_cast<size_t>(p)] - gref[static_cast<size_t>(p)]) < 1e-12 * (1 + std::fabs(gref[static_cast<size_t>(p)])),
            "[%s] lengthscale_column[%d] %.17g vs %.17g", name, p, g[static_cast<size_t>(p)], gref[static_cast<size_t>(p)]);
    }
  }
  // In-place inverse (the likelihood gradient's dpotri): A^{-1} A = I from the lower triangle,
  // bit-identical for 1 and 2 threads.
  for (int n : {5, 130, 301}) {
    const std::vector<double> a = random_spd(n, 41 + n, 0.5);
    std::vector<double> l;
    LargeVector z, z2;
    ThreadPool one(1), two(2);
    CHECK(cholesky_with_jitter(n, a.data(), n, l, one).ok, "factor n=%d", n);
    std::vector<double> inv = l, inv2 = l;
    cholesky_inverse_in_place(n, inv.data(), z, one);
    cholesky_inverse_in_place(n, inv2.data(), z2, two);
    double e = 0.0;
    bool same = true;
    for (int j = 0; j < n; ++j) {
      for (int i = j; i < n; ++i) same = same && inv[i + static_cast<size_t>(j) * n] == inv2[i + static_cast<size_t>(j) * n];
      for (int i = 0; i < n; ++i) {
        double s = 0.0;
        for (int q = 0; q < n; ++q) {
          const double iq = i >= q ? inv[i + static_cast<size_t>(q) * n] : inv[q + static_cast<size_t>(i) * n];
          s += iq * a[q + static_cast<size_t>(j) * n];
        }
        e = std::max(e, std::fabs(s - (i == j ? 1.0 : 0.0)));
      }
    }
    CHECK(e < 1e-10, "in-place A^{-1} A = I: n=%d err %.3g", n, e);
    CHECK(same, "in-place inverse differs between 1 and 2 threads (n=%d)", n);
  }
  // The in-place inverse's product skips the zero terms of Z = L^{-1} and the tiles above the
  // diagonal (gemm_lower): its lower triangle is bit for bit the full tile product's
  // (cholesky_inverse: Z^T Z by plain gemm), at sizes with several row blocks and K blocks.
  for (int n : {1, 17, 128, 200, 257, 300, 600}) {
    const std::vector<double> a = random_spd(n, 7 + n, 0.3);
    std::vector<double> l, ref;
    LargeVector z;
    ThreadPool two(2);
    CHECK(cholesky_with_jitter(n, a.data(), n, l, two).ok, "factor n=%d", n);
    cholesky_inverse(n, l.data(), n, ref, two);
    std::vector<double> inv = l;
    cholesky_inverse_in_place(n, inv.data(), z, two);
    int differ = 0;
    for (int j = 0; j < n; ++j) {
      for (int i = j; i < n; ++i) differ += inv[i + static_cast<size_t>(j) * n] != ref[i + static_cast<size_t>(j) * n];
    }
    CHECK(differ == 0, "[%s] in-place inverse: %d lower entries differ from the full product (n=%d)", isa_kernels().name, differ, n);
  }
}

// The MAP fit's policies: split value/gradient evaluations, workspace reuse, warm starts.
static void test_fit_policy() {
  // A reused workspace gives the same value and gradient as a fresh one, at several thetas.
  {
    const GpData data = random_data(90, 3, 51, true);
    ThreadPool pool(2);
    NlpWorkspace ws;
    for (double s : {0.3, 1.0, 2.5}) {
      std::vector<double> theta = {std::log(0.4 * s), std::log(0.8), std::log(1.1 * s), std::log(s), std::log(0.01)};
      const NlpResult reused = neg_log_posterior(data, theta, KernelKind::kMatern52, false, true, pool, ws);
      const NlpResult fresh = neg_log_posterior(data, theta, KernelKind::kMatern52, false, true, pool);
      CHECK(reused.ok && fresh.ok && reused.value == fresh.value && reused.grad == fresh.grad,
            "workspace reuse changes the result at scale %g", s);
    }
  }
  // Split objective: the gradient is requested only at accepted points, and the iterates are
  // the same as with the combined objective.
  {
    int value_calls = 0, grad_calls = 0;
    std::vector<double> last(2);
    auto rosen = [](const double* x, double* g) {
      const double a = 1 - x[0], b = x[1] - x[0] * x[0];
      g[0] = -2 * a - 400 * x[0] * b;
      g[1] = 200 * b;
      return a * a + 100 * b * b;
    };
    SplitObjective split;
    split.value = [&](const double* x) {
      ++value_calls;
      return rosen(x, last.data());
    };
    split.gradient = [&](double* g) {
      ++grad_calls;
      g[0] = last[0];
      g[1] = last[1];
    };
    LbfgsbOptions o;
    o.max_iterations = 500;
    o.pgtol = 1e-8;
    o.ftol = 1e-15;
    const LbfgsbResult rs = minimize_lbfgsb(split, {-1.2, 1.0}, {-2, -2}, {2, 2}, o);
    const LbfgsbResult rc = minimize_lbfgsb(Objective(rosen), {-1.2, 1.0}, {-2, -2}, {2, 2}, o);
    CHECK(rs.x == rc.x && rs.f == rc.f, "split vs combined objective: (%g, %g) vs (%g, %g)", rs.x[0], rs.x[1], rc.x[0], rc.x[1]);
    CHECK(grad_calls == rs.gradients && value_calls == rs.evaluations && grad_calls < value_calls,
          "gradients %d (reported %d) should be fewer than values %d", grad_calls, rs.gradients, value_calls);
    o.max_evaluations = 7;
    const LbfgsbResult capped = minimize_lbfgsb(split, {-1.2, 1.0}, {-2, -2}, {2, 2}, o);
    CHECK(capped.evaluations <= 7, "max_evaluations 7, used %d", capped.evaluations);
  }
  // Warm start from the MAP point: same optimum (within the fit's tolerance) with far fewer
  // evaluations; the result does not depend on the thread count, with and without probes.
  for (int n : {80, 300}) {
    const GpData data = random_data(n, 4, 61 + n, false);
    FitOptions cold;
    cold.n_restarts = 2;
    cold.seed = 9;
    ThreadPool pool(2), one(1);
    FitReport rc, rw;
    auto model = GpModel::fit(data, cold, pool, &rc);
    FitOptions warm = cold;
    warm.n_restarts = 1;
    warm.warm_start = model->theta();
    auto refit = GpModel::fit(data, warm, pool, &rw);
    CHECK(std::fabs(refit->log_posterior() - model->log_posterior()) < 1e-3 * (1 + std::fabs(model->log_posterior())),
          "n=%d warm refit log posterior %.8g vs cold %.8g", n, refit->log_posterior(), model->log_posterior());
    CHECK(rw.evaluations * 2 < rc.evaluations, "n=%d warm evaluations %d vs cold %d", n, rw.evaluations, rc.evaluations);
    auto refit1 = GpModel::fit(data, warm, one, nullptr);
    CHECK(refit1->theta() == refit->theta(), "n=%d warm fit differs between 1 and 2 threads", n);
    auto cold1 = GpModel::fit(data, cold, one, nullptr);
    CHECK(cold1->theta() == model->theta(), "n=%d cold fit differs between 1 and 2 threads", n);
  }
  // Large-n acquisition budget (gp.h): unchanged at small n, reduced at n = 10,000.
  {
    const AcquisitionBudget small = acquisition_budget(500, 2048, 10);
    CHECK(small.n_candidates == 2048 && small.n_restarts == 10 && small.max_iterations == 100,
          "budget at n=500: %d %d %d", small.n_candidates, small.n_restarts, small.max_iterations);
    const AcquisitionBudget big = acquisition_budget(10000, 2048, 10);
    CHECK(big.n_candidates == 512 && big.n_restarts == 2 && big.max_iterations == 16,
          "budget at n=10000: %d %d %d", big.n_candidates, big.n_restarts, big.max_iterations);
    const AcquisitionBudget edge = acquisition_budget(1600, 2048, 10);
    CHECK(edge.n_restarts == 10 && edge.max_iterations == 100, "full refinement up to n=1600: %d %d", edge.n_restarts,
          edge.max_iterations);
    const AcquisitionBudget mid = acquisition_budget(4096, 2048, 10);
    CHECK(mid.n_restarts == 3 && mid.max_iterations == 39, "budget at n=4096: %d %d", mid.n_restarts, mid.max_iterations);
    const AcquisitionBudget few = acquisition_budget(10000, 100, 1);
    CHECK(few.n_candidates == 100 && few.n_restarts == 1, "budget never raises counts: %d %d", few.n_candidates, few.n_restarts);
  }
}

// The pool under many short fork-joins (its workers spin between them) and rapid creation and
// destruction (a pool per operation): every task of every call runs exactly once, on a valid
// worker index, and a call returns only when all its tasks are done.
static void test_thread_pool() {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    std::vector<int> hits(7, 0);
    std::atomic<bool> bad_worker{false};
    bool ok = true;
    for (int call = 0; call < 5000; ++call) {
      const int count = 1 + call % 7;
      std::fill(hits.begin(), hits.end(), 0);
      pool.parallel_for(count, [&](int t, int worker) {
        if (worker < 0 || worker >= pool.size()) bad_worker = true;
        hits[static_cast<size_t>(t)] += 1;  // distinct tasks write distinct slots
      });
      for (int t = 0; t < 7; ++t) ok = ok && hits[static_cast<size_t>(t)] == (t < count ? 1 : 0);
    }
    CHECK(ok && !bad_worker, "threads=%d: a task ran twice, not at all, after parallel_for returned, or on a bad worker",
          threads);
  }
  int created = 0;
  for (int p = 0; p < 200; ++p) {
    ThreadPool pool(2 + p % 3);
    std::vector<double> out(16, 0.0);
    pool.parallel_for(16, [&](int t, int) { out[static_cast<size_t>(t)] = t; });
    created += out[15] == 15.0 ? 1 : 0;
  }
  CHECK(created == 200, "pools created and destroyed in a row: %d of 200 ran their tasks", created);
}


// Far away the kernel shapes are 0, also when r^2 overflows to inf (a finite but extreme
// lengthscale): the Matern formula would give inf * 0 = NaN, which Cholesky would report as
// "input had NaN". A NaN r^2 stays NaN. Every ISA variant's cross_column agrees.
static void test_kernel_far_field() {
  const double inf = std::numeric_limits<double>::infinity();
  for (KernelKind kind : {KernelKind::kMatern52, KernelKind::kRbf}) {
    const char* name = kind == KernelKind::kRbf ? "rbf" : "matern52";
    for (double r2 : {1e6 * 1.5, 1e300, std::numeric_limits<double>::max(), inf}) {
      double f = -1, df = -1;
      kernel_shape_both(kind, r2, &f, &df);
      CHECK(kernel_shape(kind, r2) == 0.0 && kernel_shape_d(kind, r2) == 0.0 && f == 0.0 && df == 0.0,
            "%s at r^2 = %g: f %g, f' %g, both %g %g", name, r2, kernel_shape(kind, r2), kernel_shape_d(kind, r2), f, df);
    }
    // Continuous across the cut-off: the formula is already exactly 0 just below it.
    CHECK(kernel_shape(kind, 0.999e6) == 0.0 && kernel_shape_d(kind, 0.999e6) == 0.0, "%s just below the cut-off", name);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK(std::isnan(kernel_shape(kind, nan)) && std::isnan(kernel_shape_d(kind, nan)), "%s: a NaN r^2 stays NaN", name);
  }
  for (const char* name : {"base", "avx2", "avx512"}) {
    const IsaKernels* k = isa_kernels_by_name(name);
    if (k == nullptr) continue;
    const std::vector<double> xt = {0.0, 0.5, 1.0};  // (d = 1, n = 3)
    const double x = 0.25, w = inf, s2 = 1.3;
    const uint8_t is_cat = 0;
    std::vector<double> r2(3), kc(3), dkc(3);
    k->cross_column(3, 1, xt.data(), 3, &x, &w, &is_cat, KernelKind::kMatern52, s2, r2.data(), kc.data(), dkc.data());
    bool zero = true;
    for (int i = 0; i < 3; ++i) zero = zero && kc[static_cast<size_t>(i)] == 0.0 && dkc[static_cast<size_t>(i)] == 0.0;
    CHECK(zero, "[%s] cross_column at w = inf: k %g %g %g", name, kc[0], kc[1], kc[2]);
  }
  // A model at an extreme but finite theta builds (the off-diagonal covariance is 0), on the
  // continuous dims, instead of failing with "input had NaN".
  const GpData data = random_data(12, 2, 41, false);
  ThreadPool pool(2);
  std::vector<double> theta = {-400.0, 0.0, 0.0, std::log(1e-3)};
  bool built = false;
  std::string what;
  try {
    built = GpModel::build(data, theta, KernelKind::kMatern52, false, pool) != nullptr;
  } catch (const std::exception& e) {
    what = e.what();
  }
  CHECK(built, "build at log l_0 = -400: %s", what.c_str());
}

// Spins (yielding) until flag is set or 10 s have passed; true when set.
static bool wait_for(const std::atomic<bool>& flag) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!flag.load()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// A task that throws, on a worker or on the calling thread: parallel_for rethrows it on the
// caller only after every claimed task has finished (workers use fn's captures, which live on the
// caller's stack), and the pool runs the next call normally. Before the fix a throw on a worker
// called std::terminate, and a throw on the caller left the workers running on its unwound frame.
static void test_thread_pool_exceptions() {
  ThreadPool pool(3);
  if (pool.size() < 2) {
    CHECK(false, "the pool started no worker thread");
    return;
  }
  {
    // The caller blocks in its first task until a worker has thrown, so a worker runs tasks.
    std::atomic<bool> worker_threw{false};
    std::atomic<int> running{0};
    std::string caught;
    bool waited = true;
    try {
      pool.parallel_for(64, [&](int, int worker) {
        running += 1;
        if (worker == 0) {
          waited = wait_for(worker_threw) && waited;
          running -= 1;
          return;
        }
        running -= 1;
        worker_threw = true;
        throw std::runtime_error("thrown on a worker");
      });
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
    CHECK(waited, "no worker ran a task within 10 s");
    CHECK(caught == "thrown on a worker", "a worker's exception is rethrown on the caller: got \"%s\"", caught.c_str());
    CHECK(running.load() == 0, "%d tasks still running after parallel_for threw", running.load());
  }
  {
    // The caller throws while a worker is inside a task; the worker finishes only after it has
    // seen the throw and spun a little longer, so a call that returned early would see it
    // unfinished.
    std::atomic<bool> worker_in_task{false}, caller_throwing{false}, worker_done{false};
    std::string caught;
    bool started = true;
    try {
      pool.parallel_for(64, [&](int, int worker) {
        if (worker == 0) {
          started = wait_for(worker_in_task);
          caller_throwing = true;
          throw std::logic_error("thrown on the caller");
        }
        // Every worker task waits for the caller's throw (so the caller surely claims a task);
        // the first one then keeps running a little longer.
        const bool holder = !worker_in_task.exchange(true);
        wait_for(caller_throwing);
        if (!holder) return;
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
        while (std::chrono::steady_clock::now() < until) std::this_thread::yield();
        worker_done = true;
      });
    } catch (const std::logic_error& e) {
      caught = e.what();
      CHECK(worker_done.load(), "parallel_for threw before a running task on a worker had finished");
    }
    CHECK(started, "no worker ran a task within 10 s");
    CHECK(caught == "thrown on the caller", "the caller's exception is rethrown: got \"%s\"", caught.c_str());
  }
  // The pool is still usable (busy_ released): the next call runs every task, on the workers too.
  std::vector<int> hits(256, 0);
  pool.parallel_for(256, [&](int t, int) { hits[static_cast<size_t>(t)] += 1; });
  CHECK(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }), "the pool after an exception: a task ran 0 or 2 times");
  // A throw in the serial path (count 1) propagates as well.
  bool serial = false;
  try {
    pool.parallel_for(1, [](int, int) { throw std::runtime_error("serial"); });
  } catch (const std::runtime_error&) {
    serial = true;
  }
  CHECK(serial, "an exception of a single-task call propagates");
}

// numThreads above the core count is capped (each native call starts its own pool), and a pool
// whose threads the system refuses degrades to fewer threads instead of calling std::terminate.
#if defined(__linux__)
// The threads of this process (Threads: in /proc/self/status); -1 if unreadable.
static int process_threads() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  int threads = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "Threads: %d", &threads) == 1) break;
  }
  std::fclose(f);
  return threads;
}
#endif

static void test_thread_pool_limits() {
  const unsigned hw = std::thread::hardware_concurrency();
  const int cores = hw == 0 ? 1 : static_cast<int>(hw);
  CHECK(resolve_threads(0) == cores, "resolve_threads(0) = %d, cores %d", resolve_threads(0), cores);
  CHECK(resolve_threads(4096) == cores, "resolve_threads(4096) = %d, capped at cores %d", resolve_threads(4096), cores);
  CHECK(resolve_threads(1) == 1, "resolve_threads(1) = %d", resolve_threads(1));
#if defined(KESTREL_TEST_FORK)
  // In a child process: limit this user's processes (RLIMIT_NPROC; root is exempt, so as root
  // become uid 65534 first), then ask for 16 threads. Exit 0 = the pool ran every task, 10 + k =
  // wrong results, 3 = the limit could not be applied (the check is then inconclusive).
  // The fork must come while this process has one thread: a pool's destructor detaches its
  // workers, and one still exiting at the fork can hold an allocator lock that the child then
  // inherits locked. glibc's malloc re-initializes its locks in the child, but AddressSanitizer's
  // allocator (GCC 12) does not: the child hung in its first malloc after such a fork. So this
  // test runs first in main(), before any pool exists.
#if defined(__linux__)
  const int threads_at_fork = process_threads();  // Threads: of /proc/self/status
  CHECK(threads_at_fork == 1, "fork with %d threads running (must be 1: test_thread_pool_limits runs before any pool)",
        threads_at_fork);
#endif
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    bool limited = true;
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) limited = false;
    struct rlimit lim = {3, 3};
    if (limited && setrlimit(RLIMIT_NPROC, &lim) != 0) limited = false;
    ThreadPool pool(16);
    std::vector<int> out(64, 0);
    pool.parallel_for(64, [&](int t, int) { out[static_cast<size_t>(t)] = t; });
    for (int t = 0; t < 64; ++t) {
      if (out[static_cast<size_t>(t)] != t) _exit(10 + t);
    }
    _exit(!limited ? 3 : (pool.size() < 16 ? 0 : 4));
  }
  int status = 0;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/waitpid failed");
  const bool exited = WIFEXITED(status);
  const int code = exited ? WEXITSTATUS(status) : -1;
  CHECK(exited && (code == 0 || code == 3), "a pool under RLIMIT_NPROC: child %s %d (0 = degraded and ran; 4 = the limit had no effect)",
        exited ? "exited with" : "killed by signal", exited ? code : WTERMSIG(status));
  if (code == 3) std::printf("note: RLIMIT_NPROC could not be applied; thread-creation failure not exercised\n");
#endif
}

int main() {
  std::printf("kestrel native tests (isa %s)\n", isa_kernels().name);
  test_thread_pool_limits();  // first: it forks, which needs a process of one thread (no pool's workers yet)
  test_thread_pool();
  test_thread_pool_exceptions();
  test_kernel_far_field();
  test_cholesky();
  test_reserve_large();
  test_large_alloc();
  test_large_alloc_overflow();
  test_large_alloc_unmaps_everything();
  test_large_alloc_visible_to_asan();
  test_acquisition_math();
  test_hypervolume_math();
  test_nlp_gradient();
  test_nlp_hessian();
  test_lbfgsb();
  test_lbfgsb_non_finite_gradient();
  test_isa_kernels();
  test_fit_policy();
  test_model();
  test_acquisition_optimizer();
  test_fixed_features();
  test_log_int_acquisition();
  std::printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
