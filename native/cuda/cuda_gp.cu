// CUDA kernels of the GP surrogate and their host drivers. See cuda_gp.h for the API and
// cuda_gp_math.h for the notation and the per-element math (shared with the CPU core).
//
// Algorithms (all fp64, column-major, lower triangle):
// - Blocked right-looking Cholesky (Golub & Van Loan 2013, "Matrix Computations", 4th ed.,
//   Alg. 4.2.4 in block form, as native/core/linalg.cc): for each diagonal block of kNb columns,
//   (1) potrf of the block in shared memory by one thread block (unblocked right-looking,
//   GvL Alg. 4.2.2), (2) TRSM of the panel below it, P := P L11^{-T}, one thread per row,
//   (3) SYRK update of the trailing lower triangle, A22 -= P P^T, with the tiled GEMM kernel.
//   A failing pivot (not > 0, which includes NaN) is recorded in a device int `info` as its global
//   index; every later kernel of the factorization reads `info` and returns, and the host reads
//   it once at the end.
// - Triangular solves with m right-hand sides (GvL Alg. 3.1.3 blocked): per diagonal block a
//   small solve (one thread per right-hand side, L11 in shared memory), then the off-diagonal
//   update as GEMM (forward: B2 -= L21 X1; transposed/backward: B1 -= L21^T X2).
// - Tiled GEMM C -= op(A) op(B): 64x64 tiles of C per 256-thread block, 4x4 outputs per thread,
//   k-slabs of 16 staged through shared memory (loads coalesced along the contiguous index of
//   each operand's layout), optional "lower only" mode for SYRK.
// - Posterior and acquisition (R&W 2006, Alg. 2.1): Kc = K(X, X*) (n, mc) by one thread per
//   entry; mean = Kc^T alpha by one block per column; V = L^{-1} Kc in place; var = s2 - colsum(V^2)
//   and the acquisition by one block per column; for the gradient U = L^{-T} V in place and one
//   block per (candidate, dim) reducing over the n training rows.
#if defined(KESTREL_CUDA_EMULATE)
// Host emulation for test/native/cuda-emulated.test.ts (no GPU needed); never in the addon.
#include "emulation/cuda_emulation.h"
#define KESTREL_LAUNCH(grid, block, stream, ...) \
  (static_cast<void>(stream), ::kestrel_emu::Launch(dim3(grid), dim3(block), __VA_ARGS__))
#else
#include <cuda_runtime.h>
// KESTREL_LAUNCH(grid, block, stream, kernel)(args...): the kernel last so template commas pass.
#define KESTREL_LAUNCH(grid, block, stream, ...) __VA_ARGS__<<<grid, block, 0, stream>>>
#endif

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "cuda_gp.h"
#include "cuda_gp_math.h"

namespace kestrel {
namespace cuda {

namespace {

[[noreturn]] void raise(cudaError_t err, const char* expr, const char* file, int line) {
  throw CudaError(std::string(expr) + " failed at " + file + ":" + std::to_string(line) + ": " +
                  cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
}

#define KESTREL_CUDA_TRY(expr)                                                 \
  do {                                                                         \
    const cudaError_t kestrel_cuda_err_ = (expr);                              \
    if (kestrel_cuda_err_ != cudaSuccess) raise(kestrel_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)
// Checks the launch configuration of the kernel just queued (execution errors surface at the
// next synchronizing call, which is checked too).
#define KESTREL_CUDA_LAUNCHED(name) KESTREL_CUDA_TRY((static_cast<void>(name), cudaGetLastError()))

constexpr int kNb = 64;         // Cholesky / solve diagonal block
constexpr int kTileM = 64;      // GEMM tile rows
constexpr int kTileN = 64;      // GEMM tile columns
constexpr int kTileK = 16;      // GEMM k-slab
constexpr int kGemmThreads = 256;
constexpr int kRowThreads = 128;
constexpr int kReduceThreads = 128;
constexpr int kEntryThreads = 256;
constexpr int kMaxGridY = 65535;
constexpr size_t kChunkElements = size_t{1} << 24;  // max(n, d) * candidates per chunk (128 MiB per buffer)
constexpr int kMaxChunk = 16384;

// ---- RAII ------------------------------------------------------------------------------------

class Stream {
 public:
  Stream() { KESTREL_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Stream() {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);  // destructor: nothing to report to
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }
  void sync() const { KESTREL_CUDA_TRY(cudaStreamSynchronize(stream_)); }

 private:
  cudaStream_t stream_ = nullptr;
};

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) { allocate(count); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept : ptr_(other.ptr_), count_(other.count_) {
    other.ptr_ = nullptr;
    other.count_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      ptr_ = other.ptr_;
      count_ = other.count_;
      other.ptr_ = nullptr;
      other.count_ = 0;
    }
    return *this;
  }

  void allocate(size_t count) {
    release();
    if (count > 0) KESTREL_CUDA_TRY(cudaMalloc(reinterpret_cast<void**>(&ptr_), count * sizeof(T)));
    count_ = count;
  }
  T* get() const { return ptr_; }
  size_t size() const { return count_; }
  /// Bytes allocated on the device (requested from cudaMalloc).
  size_t bytes() const { return count_ * sizeof(T); }
  void upload(const T* host, size_t count, const Stream& s) {
    if (count > 0) KESTREL_CUDA_TRY(cudaMemcpyAsync(ptr_, host, count * sizeof(T), cudaMemcpyHostToDevice, s.get()));
  }
  void download(T* host, size_t count, const Stream& s) const {
    if (count > 0) KESTREL_CUDA_TRY(cudaMemcpyAsync(host, ptr_, count * sizeof(T), cudaMemcpyDeviceToHost, s.get()));
  }

 private:
  void release() {
    if (ptr_ != nullptr) cudaFree(ptr_);  // destructor path: an error here has no one to go to
    ptr_ = nullptr;
    count_ = 0;
  }
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

/// Makes device 0 current on this (worker) thread and fails clearly without a device. Every
/// entry point calls it first.
void use_device() {
  // A failed runtime call also stays behind as this thread's "last error" (until
  // cudaGetLastError reads it): an earlier call that threw on a non-sticky error (a cudaMalloc
  // out of memory) or a destructor's ignored cudaFree would otherwise fail the next launch check
  // on this pool thread, in an unrelated call. Sticky errors are not cleared by this and still
  // surface at the next checked call.
  static_cast<void>(cudaGetLastError());
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    raise(err, "cudaGetDeviceCount(&count)", __FILE__, __LINE__);
  }
  if (count == 0) throw CudaError("no CUDA device");
  KESTREL_CUDA_TRY(cudaSetDevice(0));
}

int blocks_for(long long count, int threads) { return static_cast<int>((count + threads - 1) / threads); }

// ---- kernels -----------------------------------------------------------------------------------

/// Sum over the block (blockDim.x a multiple of 32, at most 1024); the result is valid in thread 0.
/// Call at most once per kernel (its shared scratch is not re-synchronized).
__device__ double block_sum(double v) {
  __shared__ double warp_sums[32];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  const int n_warps = static_cast<int>(blockDim.x) >> 5;
  v = static_cast<int>(threadIdx.x) < n_warps ? warp_sums[threadIdx.x] : 0.0;
  if (warp == 0) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  }
  return v;
}

/// A (n, n, ld n): lower triangle = K(X, X) + diag_add I, strict upper = 0.
__global__ void training_kernel(int n, int d, const double* xt, const double* x, const double* w,
                                const uint8_t* is_cat, int kind, double s2, double diag_add, double* a) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  for (int j = blockIdx.y; j < n; j += gridDim.y) {
    a[i + static_cast<ptrdiff_t>(j) * n] =
        i >= j ? cuda_math::training_entry(xt, x, n, i, j, w, is_cat, d, static_cast<KernelKind>(kind), s2, diag_add)
               : 0.0;
  }
}

/// kc (n, mc, ld n) = K(X, X*); dk (same shape, optional) = s2 f'(r^2).
__global__ void cross_kernel(int n, int mc, int d, const double* xt, const double* xc, const double* w,
                             const uint8_t* is_cat, int kind, double s2, double* kc, double* dk) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  for (int c = blockIdx.y; c < mc; c += gridDim.y) {
    const ptrdiff_t at = i + static_cast<ptrdiff_t>(c) * n;
    double dki = 0.0;
    kc[at] = cuda_math::covariance_entry(xt, n, i, xc + static_cast<ptrdiff_t>(c) * d, w, is_cat, d,
                                         static_cast<KernelKind>(kind), s2, dk == nullptr ? nullptr : &dki);
    if (dk != nullptr) dk[at] = dki;
  }
}

/// first_bad = min column j holding a non-finite entry in the lower triangle (n when none).
__global__ void nonfinite_kernel(int n, const double* a, ptrdiff_t lda, int* first_bad) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  for (int j = blockIdx.y; j <= i && j < n; j += gridDim.y) {
    if (!isfinite(a[i + j * lda])) atomicMin(first_bad, j);
  }
}

__global__ void add_diagonal_kernel(int n, double* a, ptrdiff_t lda, double value) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) a[i + i * lda] += value;
}

/// Copies the lower triangle of the kb x kb block at a (ld lda) into s[c][r] (upper = 0).
__device__ void load_lower_block(int kb, const double* a, ptrdiff_t lda, double (*s)[kNb + 1]) {
  for (int e = threadIdx.x; e < kb * kb; e += blockDim.x) {
    const int r = e % kb;
    const int c = e / kb;
    s[c][r] = r >= c ? a[r + c * lda] : 0.0;
  }
}

/// Unblocked Cholesky of the diagonal block at a (kb <= kNb) in shared memory, one block.
/// On a pivot that is not > 0 writes info = k + local index and leaves a untouched.
__global__ void potrf_block_kernel(int kb, double* a, ptrdiff_t lda, int k, int* info) {
  if (*info >= 0) return;
  __shared__ double s[kNb][kNb + 1];  // s[c][r] = A(r, c)
  __shared__ int bad;
  load_lower_block(kb, a, lda, s);
  if (threadIdx.x == 0) bad = -1;
  __syncthreads();
  for (int j = 0; j < kb; ++j) {
    if (threadIdx.x == 0) {
      const double pivot = s[j][j];
      if (!(pivot > 0.0)) {
        bad = j;
      } else {
        s[j][j] = sqrt(pivot);
      }
    }
    __syncthreads();
    if (bad >= 0) break;  // block-uniform: read after the barrier
    const double djj = s[j][j];
    for (int r = j + 1 + static_cast<int>(threadIdx.x); r < kb; r += blockDim.x) s[j][r] /= djj;
    __syncthreads();
    const int t = kb - j - 1;
    for (int e = threadIdx.x; e < t * t; e += blockDim.x) {
      const int r = j + 1 + e % t;
      const int c = j + 1 + e / t;
      if (r >= c) s[c][r] -= s[j][r] * s[j][c];
    }
    __syncthreads();
  }
  if (bad >= 0) {
    if (threadIdx.x == 0) *info = k + bad;
    return;
  }
  for (int e = threadIdx.x; e < kb * kb; e += blockDim.x) {
    const int r = e % kb;
    const int c = e / kb;
    if (r >= c) a[r + c * lda] = s[c][r];
  }
}

/// Panel solve P := P L11^{-T}: P (rows, kb, ld lda), L11 the factored diagonal block. One
/// thread per row: x_j = (p_j - sum_{q<j} x_q L11(j, q)) / L11(j, j).
__global__ void panel_trsm_kernel(int rows, int kb, const double* l11, double* p, ptrdiff_t lda, const int* info) {
  if (*info >= 0) return;
  __shared__ double s[kNb][kNb + 1];
  load_lower_block(kb, l11, lda, s);
  __syncthreads();
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  double x[kNb];
  for (int j = 0; j < kb; ++j) {
    double v = p[r + j * lda];
    for (int q = 0; q < j; ++q) v -= x[q] * s[q][j];
    x[j] = v / s[j][j];
    p[r + j * lda] = x[j];
  }
}

/// Diagonal-block solve for m right-hand sides: b rows [0, kb) of each column (ld ldb) :=
/// L11^{-1} b, or L11^{-T} b when kTrans. One thread per right-hand side.
template <bool kTrans>
__global__ void diag_solve_kernel(int kb, const double* l11, ptrdiff_t ldl, double* b, ptrdiff_t ldb, int m) {
  __shared__ double s[kNb][kNb + 1];  // s[c][r] = L11(r, c)
  load_lower_block(kb, l11, ldl, s);
  __syncthreads();
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= m) return;
  double* col = b + c * ldb;
  double x[kNb];
  if (!kTrans) {
    for (int i = 0; i < kb; ++i) {
      double v = col[i];
      for (int q = 0; q < i; ++q) v -= s[q][i] * x[q];
      x[i] = v / s[i][i];
    }
  } else {
    for (int i = kb - 1; i >= 0; --i) {
      double v = col[i];
      for (int q = i + 1; q < kb; ++q) v -= s[i][q] * x[q];
      x[i] = v / s[i][i];
    }
  }
  for (int i = 0; i < kb; ++i) col[i] = x[i];
}

/// C (M, N, ld ldc) -= op(A) op(B), op(A) (M, K), op(B) (K, N).
///   op(A)(i, p) = kTransA ? A[p + i lda] : A[i + p lda]
///   op(B)(p, j) = kTransB ? B[j + p ldb] : B[p + j ldb]
/// kLower: only entries with i >= j (C is a diagonal block; tiles above the diagonal exit).
/// info (nullable): skip when a factorization already failed.
template <bool kTransA, bool kTransB, bool kLower>
__global__ void __launch_bounds__(kGemmThreads)
    gemm_sub_kernel(int M, int N, int K, const double* __restrict__ A, ptrdiff_t lda, const double* __restrict__ B,
                    ptrdiff_t ldb, double* C, ptrdiff_t ldc, const int* info) {
  if (info != nullptr && *info >= 0) return;
  const int bm = blockIdx.x;
  const int bn = blockIdx.y;
  if (kLower && bn > bm) return;
  __shared__ double as[kTileK][kTileM + 1];
  __shared__ double bs[kTileK][kTileN + 1];
  const int tid = threadIdx.x;
  const int tx = tid % 16;
  const int ty = tid / 16;
  const int row0 = bm * kTileM;
  const int col0 = bn * kTileN;
  double acc[4][4];
  for (int u = 0; u < 4; ++u) {
    for (int v = 0; v < 4; ++v) acc[u][v] = 0.0;
  }
  for (int p0 = 0; p0 < K; p0 += kTileK) {
    for (int l = 0; l < 4; ++l) {
      const int i = kTransA ? tid / 16 + 16 * l : tid % 64;
      const int p = kTransA ? tid % 16 : tid / 64 + 4 * l;
      const int gi = row0 + i;
      const int gp = p0 + p;
      double v = 0.0;
      if (gi < M && gp < K) v = kTransA ? A[gp + gi * lda] : A[gi + gp * lda];
      as[p][i] = v;
    }
    for (int l = 0; l < 4; ++l) {
      const int j = kTransB ? tid % 64 : tid / 16 + 16 * l;
      const int p = kTransB ? tid / 64 + 4 * l : tid % 16;
      const int gj = col0 + j;
      const int gp = p0 + p;
      double v = 0.0;
      if (gj < N && gp < K) v = kTransB ? B[gj + gp * ldb] : B[gp + gj * ldb];
      bs[p][j] = v;
    }
    __syncthreads();
#pragma unroll
    for (int p = 0; p < kTileK; ++p) {
      double av[4], bv[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) av[u] = as[p][tx + 16 * u];
#pragma unroll
      for (int v = 0; v < 4; ++v) bv[v] = bs[p][ty + 16 * v];
#pragma unroll
      for (int u = 0; u < 4; ++u) {
#pragma unroll
        for (int v = 0; v < 4; ++v) acc[u][v] = fma(av[u], bv[v], acc[u][v]);
      }
    }
    __syncthreads();
  }
  for (int v = 0; v < 4; ++v) {
    const int gj = col0 + ty + 16 * v;
    for (int u = 0; u < 4; ++u) {
      const int gi = row0 + tx + 16 * u;
      if (gi < M && gj < N && (!kLower || gi >= gj)) C[gi + gj * ldc] -= acc[u][v];
    }
  }
}

/// mean[c] = sum_i kc(i, c) alpha_i; one block per column.
__global__ void mean_kernel(int n, const double* kc, const double* alpha, double* mean) {
  const int c = blockIdx.x;
  const double* col = kc + static_cast<ptrdiff_t>(c) * n;
  double s = 0.0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += col[i] * alpha[i];
  s = block_sum(s);
  if (threadIdx.x == 0) mean[c] = s;
}

/// From V = L^{-1} Kc: var (floored) and, when value is not null, the acquisition and its
/// derivatives w.r.t. mean and var. One block per column.
__global__ void score_kernel(int n, const double* v, const double* mean, double s2, int kind, double incumbent,
                             double beta, double* var, double* value, double* dmean, double* dvar) {
  const int c = blockIdx.x;
  const double* col = v + static_cast<ptrdiff_t>(c) * n;
  double s = 0.0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += col[i] * col[i];
  s = block_sum(s);
  if (threadIdx.x != 0) return;
  const double raw = s2 - s;
  if (value == nullptr) {
    const double floor = cuda_math::kMinVarianceRel * s2;
    var[c] = raw > floor ? raw : floor;
    return;
  }
  const cuda_math::CandidateScore sc =
      cuda_math::score_candidate(mean[c], raw, s2, static_cast<AcquisitionKind>(kind), incumbent, beta);
  var[c] = sc.var;
  value[c] = sc.value;
  dmean[c] = sc.dmean;
  dvar[c] = sc.dvar;
}

/// grad(c, j) = 2 w_j sum_i grad_term(...) for continuous j, 0 for categorical; one block per
/// (candidate, dim). u = L^{-T} V = A^{-1} Kc; dk = s2 f'(r^2), both (n, mc).
__global__ void grad_kernel(int n, int d, const double* xt, const double* xc, const double* w, const uint8_t* is_cat,
                            const double* alpha, const double* dk, const double* u, const double* dmean,
                            const double* dvar, double* grad) {
  const int c = blockIdx.x;
  const int j = blockIdx.y;
  double* out = grad + static_cast<ptrdiff_t>(c) * d + j;
  if (is_cat[j] != 0) {  // block-uniform
    if (threadIdx.x == 0) *out = 0.0;
    return;
  }
  const double xj = xc[static_cast<ptrdiff_t>(c) * d + j];
  const double* dkc = dk + static_cast<ptrdiff_t>(c) * n;
  const double* uc = u + static_cast<ptrdiff_t>(c) * n;
  const double* xtj = xt + static_cast<ptrdiff_t>(j) * n;
  const double dm = dmean[c];
  const double dv = dvar[c];
  double s = 0.0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += cuda_math::grad_term(dkc[i], xj, xtj[i], alpha[i], uc[i], dm, dv);
  s = block_sum(s);
  if (threadIdx.x == 0) *out = 2.0 * w[j] * s;
}

// ---- host drivers ------------------------------------------------------------------------------

dim3 entry_grid(int rows, int cols) {
  return dim3(static_cast<unsigned>(blocks_for(rows, kEntryThreads)),
              static_cast<unsigned>(std::max(1, std::min(cols, kMaxGridY))));
}

/// In-place blocked Cholesky of a (n, n, ld lda) on stream s; failures go to info (device).
void device_cholesky(int n, double* a, ptrdiff_t lda, int* info, const Stream& s) {
  for (int k = 0; k < n; k += kNb) {
    const int kb = std::min(kNb, n - k);
    double* akk = a + k + k * lda;
    KESTREL_LAUNCH(1, kGemmThreads, s.get(), potrf_block_kernel)(kb, akk, lda, k, info);
    KESTREL_CUDA_LAUNCHED("potrf_block_kernel");
    const int rest = n - k - kb;
    if (rest <= 0) break;
    double* panel = a + (k + kb) + k * lda;
    KESTREL_LAUNCH(blocks_for(rest, kRowThreads), kRowThreads, s.get(), panel_trsm_kernel)(rest, kb, akk, panel, lda, info);
    KESTREL_CUDA_LAUNCHED("panel_trsm_kernel");
    const dim3 grid(static_cast<unsigned>(blocks_for(rest, kTileM)), static_cast<unsigned>(blocks_for(rest, kTileN)));
    KESTREL_LAUNCH(grid, kGemmThreads, s.get(), gemm_sub_kernel<false, true, true>)(
        rest, rest, kb, panel, lda, panel, lda, a + (k + kb) + (k + kb) * lda, lda, info);
    KESTREL_CUDA_LAUNCHED("gemm_sub_kernel<syrk>");
  }
}

/// b (n, m, ld ldb) := L^{-1} b (forward) or L^{-T} b (transpose), on stream s.
void device_solve(int n, const double* l, ptrdiff_t ldl, int m, double* b, ptrdiff_t ldb, bool transpose,
                  const Stream& s) {
  if (n <= 0 || m <= 0) return;
  const int solve_blocks = blocks_for(m, kRowThreads);
  if (!transpose) {
    for (int k = 0; k < n; k += kNb) {
      const int kb = std::min(kNb, n - k);
      KESTREL_LAUNCH(solve_blocks, kRowThreads, s.get(), diag_solve_kernel<false>)(kb, l + k + k * ldl, ldl, b + k, ldb, m);
      KESTREL_CUDA_LAUNCHED("diag_solve_kernel<forward>");
      const int rest = n - k - kb;
      if (rest <= 0) break;
      const dim3 grid(static_cast<unsigned>(blocks_for(rest, kTileM)), static_cast<unsigned>(blocks_for(m, kTileN)));
      KESTREL_LAUNCH(grid, kGemmThreads, s.get(), gemm_sub_kernel<false, false, false>)(
          rest, m, kb, l + (k + kb) + k * ldl, ldl, b + k, ldb, b + k + kb, ldb, nullptr);
      KESTREL_CUDA_LAUNCHED("gemm_sub_kernel<forward>");
    }
    return;
  }
  for (int k = ((n - 1) / kNb) * kNb; k >= 0; k -= kNb) {
    const int kb = std::min(kNb, n - k);
    KESTREL_LAUNCH(solve_blocks, kRowThreads, s.get(), diag_solve_kernel<true>)(kb, l + k + k * ldl, ldl, b + k, ldb, m);
    KESTREL_CUDA_LAUNCHED("diag_solve_kernel<backward>");
    if (k == 0) break;
    // B[0:k] -= L[k:k+kb, 0:k]^T B[k:k+kb]: op(A)(i, p) = L(k + p, i) = (L + k)[p + i ldl].
    const dim3 grid(static_cast<unsigned>(blocks_for(k, kTileM)), static_cast<unsigned>(blocks_for(m, kTileN)));
    KESTREL_LAUNCH(grid, kGemmThreads, s.get(), gemm_sub_kernel<true, false, false>)(k, m, kb, l + k, ldl, b + k, ldb, b, ldb,
                                                                           nullptr);
    KESTREL_CUDA_LAUNCHED("gemm_sub_kernel<backward>");
  }
}

/// Mean of the diagonal of a device matrix (downloaded with a strided copy).
double device_diag_mean(int n, const double* a, ptrdiff_t lda, const Stream& s) {
  std::vector<double> diag(static_cast<size_t>(n));
  KESTREL_CUDA_TRY(cudaMemcpy2DAsync(diag.data(), sizeof(double), a, static_cast<size_t>(lda + 1) * sizeof(double),
                                     sizeof(double), static_cast<size_t>(n), cudaMemcpyDeviceToHost, s.get()));
  s.sync();
  double sum = 0.0;
  for (double v : diag) sum += v;
  double mean = n > 0 ? sum / n : 0.0;
  if (!std::isfinite(mean)) {
    // The sum of finite entries overflowed (near 1e308): averaged term by term instead, as
    // cholesky_with_jitter does, so that the jitter stays finite.
    mean = 0.0;
    for (double v : diag) mean += v / n;
  }
  return mean;
}

/// cholesky_with_jitter on the device: a0 (n, n, ld n, strict upper zero) stays untouched; l gets
/// the factor. First attempt with `jitter` (0 for a plain factorization), then escalation.
CholeskyStatus device_factor_with_jitter(int n, const DeviceBuffer<double>& a0, DeviceBuffer<double>& l,
                                         double jitter, double jitter_start, int max_tries, const Stream& s) {
  CholeskyStatus st;
  DeviceBuffer<int> flag(1);
  const int none = INT_MAX;
  flag.upload(&none, 1, s);
  if (n > 0) {
    KESTREL_LAUNCH(entry_grid(n, n), kEntryThreads, s.get(), nonfinite_kernel)(n, a0.get(), n, flag.get());
    KESTREL_CUDA_LAUNCHED("nonfinite_kernel");
  }
  int first_bad = none;
  flag.download(&first_bad, 1, s);
  s.sync();
  if (first_bad != none) {
    st.had_nan = true;
    st.index = first_bad;
    return st;
  }
  const double diag_mean = device_diag_mean(n, a0.get(), n, s);
  const size_t bytes = static_cast<size_t>(n) * n * sizeof(double);
  l.allocate(static_cast<size_t>(n) * n);
  for (int attempt = 0; attempt <= max_tries; ++attempt) {
    KESTREL_CUDA_TRY(cudaMemcpyAsync(l.get(), a0.get(), bytes, cudaMemcpyDeviceToDevice, s.get()));
    if (jitter != 0.0) {
      KESTREL_LAUNCH(blocks_for(n, kEntryThreads), kEntryThreads, s.get(), add_diagonal_kernel)(n, l.get(), n, jitter);
      KESTREL_CUDA_LAUNCHED("add_diagonal_kernel");
    }
    const int ok = -1;
    flag.upload(&ok, 1, s);
    device_cholesky(n, l.get(), n, flag.get(), s);
    int info = -1;
    flag.download(&info, 1, s);
    s.sync();
    if (info < 0) {
      st.ok = true;
      st.jitter = jitter;
      st.index = -1;
      return st;
    }
    st.index = info;
    jitter = jitter == 0.0 ? jitter_start * std::max(diag_mean, 1e-300) : jitter * 10.0;
  }
  return st;
}

}  // namespace

// ---- public API ----------------------------------------------------------------------------------

CholeskyStatus cuda_cholesky(int n, const double* a, ptrdiff_t lda, std::vector<double>& l, double jitter_start,
                             int max_tries) {
  use_device();
  Stream s;
  std::vector<double> lower(static_cast<size_t>(n) * n, 0.0);
  for (int j = 0; j < n; ++j) {
    for (int i = j; i < n; ++i) lower[static_cast<size_t>(j) * n + i] = a[i + j * lda];
  }
  DeviceBuffer<double> a0(lower.size());
  a0.upload(lower.data(), lower.size(), s);
  DeviceBuffer<double> dl;
  CholeskyStatus st = device_factor_with_jitter(n, a0, dl, 0.0, jitter_start, max_tries, s);
  if (st.ok) {
    l.resize(lower.size());
    dl.download(l.data(), l.size(), s);
    s.sync();
  }
  return st;
}

void cuda_triangular_solve(int n, const double* l, int m, double* b, bool transpose) {
  use_device();
  Stream s;
  const size_t nn = static_cast<size_t>(n) * n;
  const size_t nm = static_cast<size_t>(n) * m;
  DeviceBuffer<double> dl(nn), db(nm);
  dl.upload(l, nn, s);
  db.upload(b, nm, s);
  device_solve(n, dl.get(), n, m, db.get(), n, transpose, s);
  db.download(b, nm, s);
  s.sync();
}

struct CudaGp::Impl {
  int n = 0;
  int d = 0;
  KernelKind kernel = KernelKind::kMatern52;
  double s2 = 1.0;
  double jitter = 0.0;
  std::vector<double> w_host;
  DeviceBuffer<double> xt;     // (d, n)
  DeviceBuffer<double> w;      // (d)
  DeviceBuffer<uint8_t> is_cat;  // (d)
  DeviceBuffer<double> l;      // (n, n)
  DeviceBuffer<double> alpha;  // (n)

  /// The device buffers above (CudaGp::device_bytes).
  size_t device_bytes() const { return xt.bytes() + w.bytes() + is_cat.bytes() + l.bytes() + alpha.bytes(); }

  /// Moments (and acquisition / gradient) of candidates [c0, c0 + mc).
  void chunk(const double* x, int mc, const AcqParams* acq, double* mean, double* var, double* value, double* grad,
             const Stream& s) const;
};

CudaGp::CudaGp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudaGp::~CudaGp() = default;

std::shared_ptr<const CudaGp> CudaGp::create(const GpModel& model, KernelKind kernel) {
  use_device();
  auto impl = std::make_unique<Impl>();
  const GpData& data = model.data();
  const int n = data.n;
  const int d = data.d;
  const std::vector<double>& theta = model.theta();
  impl->n = n;
  impl->d = d;
  impl->kernel = kernel;
  impl->s2 = std::exp(theta[static_cast<size_t>(d)]);
  const double sn2 = std::exp(theta[static_cast<size_t>(d) + 1]);
  impl->w_host.resize(static_cast<size_t>(d));
  for (int j = 0; j < d; ++j) impl->w_host[static_cast<size_t>(j)] = std::exp(-2.0 * theta[static_cast<size_t>(j)]);
  std::vector<double> xt(static_cast<size_t>(n) * d);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j) xt[static_cast<size_t>(j) * n + i] = data.x[static_cast<size_t>(i) * d + j];
  }
  Stream s;
  impl->xt.allocate(xt.size());
  impl->xt.upload(xt.data(), xt.size(), s);
  impl->w.allocate(static_cast<size_t>(d));
  impl->w.upload(impl->w_host.data(), static_cast<size_t>(d), s);
  impl->is_cat.allocate(static_cast<size_t>(d));
  impl->is_cat.upload(data.is_cat.data(), static_cast<size_t>(d), s);
  DeviceBuffer<double> x(data.x.size());
  x.upload(data.x.data(), data.x.size(), s);
  DeviceBuffer<double> a0(static_cast<size_t>(n) * n);
  KESTREL_LAUNCH(entry_grid(n, n), kEntryThreads, s.get(), training_kernel)(n, d, impl->xt.get(), x.get(), impl->w.get(),
                                                                    impl->is_cat.get(), static_cast<int>(kernel),
                                                                    impl->s2, sn2, a0.get());
  KESTREL_CUDA_LAUNCHED("training_kernel");
  const CholeskyStatus st = device_factor_with_jitter(n, a0, impl->l, model.jitter(), 1e-10, 6, s);
  if (!st.ok) {
    if (st.had_nan) {
      throw Error(Error::Code::kNaN, "the GP covariance (device) had a non-finite entry in column " + std::to_string(st.index));
    }
    throw Error(Error::Code::kNumerical, "the GP covariance (device) is not positive definite (pivot " +
                                             std::to_string(st.index) + ") even after jitter");
  }
  impl->jitter = st.jitter;
  impl->alpha.allocate(static_cast<size_t>(n));
  impl->alpha.upload(data.y.data(), static_cast<size_t>(n), s);
  device_solve(n, impl->l.get(), n, 1, impl->alpha.get(), n, false, s);
  device_solve(n, impl->l.get(), n, 1, impl->alpha.get(), n, true, s);
  s.sync();
  return std::shared_ptr<const CudaGp>(new CudaGp(std::move(impl)));
}

int CudaGp::n() const { return impl_->n; }
int CudaGp::d() const { return impl_->d; }
double CudaGp::jitter() const { return impl_->jitter; }
size_t CudaGp::device_bytes() const { return impl_->device_bytes(); }
size_t CudaGp::memory_bytes() const {
  return impl_->device_bytes() + sizeof(CudaGp) + sizeof(Impl) + impl_->w_host.capacity() * sizeof(double);
}

std::vector<double> CudaGp::factor() const {
  use_device();
  Stream s;
  std::vector<double> out(static_cast<size_t>(impl_->n) * impl_->n);
  impl_->l.download(out.data(), out.size(), s);
  s.sync();
  return out;
}

void CudaGp::Impl::chunk(const double* x, int mc, const AcqParams* acq, double* mean, double* var, double* value,
                         double* grad, const Stream& s) const {
  const size_t nm = static_cast<size_t>(n) * mc;
  DeviceBuffer<double> xc(static_cast<size_t>(mc) * d), kc(nm), dk(grad != nullptr ? nm : 0);
  DeviceBuffer<double> mean_d(static_cast<size_t>(mc)), var_d(static_cast<size_t>(mc));
  const size_t acq_count = acq != nullptr ? static_cast<size_t>(mc) : 0;
  DeviceBuffer<double> value_d(acq_count), dmean_d(acq_count), dvar_d(acq_count);
  DeviceBuffer<double> grad_d(grad != nullptr ? static_cast<size_t>(mc) * d : 0);
  xc.upload(x, static_cast<size_t>(mc) * d, s);
  KESTREL_LAUNCH(entry_grid(n, mc), kEntryThreads, s.get(), cross_kernel)(n, mc, d, xt.get(), xc.get(), w.get(), is_cat.get(),
                                                                  static_cast<int>(kernel), s2, kc.get(),
                                                                  grad != nullptr ? dk.get() : nullptr);
  KESTREL_CUDA_LAUNCHED("cross_kernel");
  KESTREL_LAUNCH(mc, kReduceThreads, s.get(), mean_kernel)(n, kc.get(), alpha.get(), mean_d.get());
  KESTREL_CUDA_LAUNCHED("mean_kernel");
  device_solve(n, l.get(), n, mc, kc.get(), n, false, s);  // kc := V = L^{-1} Kc
  KESTREL_LAUNCH(mc, kReduceThreads, s.get(), score_kernel)(
      n, kc.get(), mean_d.get(), s2, acq != nullptr ? static_cast<int>(acq->kind) : 0,
      acq != nullptr ? acq->incumbent : 0.0, acq != nullptr ? acq->beta : 0.0, var_d.get(),
      acq != nullptr ? value_d.get() : nullptr, acq != nullptr ? dmean_d.get() : nullptr,
      acq != nullptr ? dvar_d.get() : nullptr);
  KESTREL_CUDA_LAUNCHED("score_kernel");
  if (grad != nullptr) {
    device_solve(n, l.get(), n, mc, kc.get(), n, true, s);  // kc := U = L^{-T} V
    KESTREL_LAUNCH(dim3(static_cast<unsigned>(mc), static_cast<unsigned>(d)), kReduceThreads, s.get(), grad_kernel)(
        n, d, xt.get(), xc.get(), w.get(), is_cat.get(), alpha.get(), dk.get(), kc.get(), dmean_d.get(), dvar_d.get(),
        grad_d.get());
    KESTREL_CUDA_LAUNCHED("grad_kernel");
    grad_d.download(grad, static_cast<size_t>(mc) * d, s);
  }
  if (mean != nullptr) mean_d.download(mean, static_cast<size_t>(mc), s);
  if (var != nullptr) var_d.download(var, static_cast<size_t>(mc), s);
  if (value != nullptr) value_d.download(value, static_cast<size_t>(mc), s);
  s.sync();
}

namespace {
/// Candidates per chunk: each device buffer of a chunk (Kc and dk (n, mc), the candidates and
/// their gradient (mc, d)) holds at most kChunkElements doubles.
int chunk_size(int n, int d, int m) {
  const size_t by_memory = std::max<size_t>(1, kChunkElements / static_cast<size_t>(std::max({n, d, 1})));
  return static_cast<int>(std::min<size_t>({static_cast<size_t>(std::max(m, 1)), by_memory, static_cast<size_t>(kMaxChunk)}));
}
}  // namespace

void CudaGp::predict(const double* x, int m, double* mean, double* variance) const {
  if (m <= 0) return;
  use_device();
  Stream s;
  const int step = chunk_size(impl_->n, impl_->d, m);
  for (int c0 = 0; c0 < m; c0 += step) {
    const int mc = std::min(step, m - c0);
    impl_->chunk(x + static_cast<ptrdiff_t>(c0) * impl_->d, mc, nullptr, mean + c0, variance + c0, nullptr, nullptr, s);
  }
}

void CudaGp::acquisition(const double* x, int m, const AcqParams& acq, double* value, double* grad) const {
  // The device computes one model's logEI / UCB / PI only: log EHVI and additive terms (constraints,
  // other objectives) run on the CPU model. The addon routes them there; refused here too, since
  // acquisition_from_moments would otherwise compute log PI for kLogEhvi and drop the terms.
  if (acq.kind == AcquisitionKind::kLogEhvi || !acq.terms.empty()) {
    throw Error(Error::Code::kInvalid, "the CUDA model scores logEI, UCB or PI of itself only (no log EHVI, no terms)");
  }
  if (m <= 0) return;
  use_device();
  Stream s;
  const int step = chunk_size(impl_->n, impl_->d, m);
  for (int c0 = 0; c0 < m; c0 += step) {
    const int mc = std::min(step, m - c0);
    impl_->chunk(x + static_cast<ptrdiff_t>(c0) * impl_->d, mc, &acq, nullptr, nullptr, value + c0,
                 grad == nullptr ? nullptr : grad + static_cast<ptrdiff_t>(c0) * impl_->d, s);
  }
}

std::string kernel_image_problem() {
  static_cast<void>(cudaGetLastError());
  cudaError_t err = cudaSetDevice(0);
  const char* expr = "cudaSetDevice(0)";
  cudaFuncAttributes attributes;
  if (err == cudaSuccess) {
    // Any of our kernels would do: they are all in this translation unit's one fatbin.
    err = cudaFuncGetAttributes(&attributes, training_kernel);
    expr = "cudaFuncGetAttributes(&attributes, training_kernel)";
  }
  if (err == cudaSuccess) return std::string();
  static_cast<void>(cudaGetLastError());  // non-sticky: must not fail the next launch check
  const std::string detail = std::string(expr) + ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
  if (err != cudaErrorNoKernelImageForDevice && err != cudaErrorInvalidDeviceFunction) return detail;
  cudaDeviceProp prop;
  const cudaError_t perr = cudaGetDeviceProperties(&prop, 0);
  if (perr != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return "no kernel image for this device (" + detail + ")";
  }
  return "no kernel image for compute capability " + std::to_string(prop.major) + "." + std::to_string(prop.minor) +
         " (" + detail + "; rebuild with it in KESTREL_CUDA_ARCHITECTURES)";
}

}  // namespace cuda
}  // namespace kestrel
