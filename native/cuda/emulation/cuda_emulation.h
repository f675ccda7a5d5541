// A host emulation of the small part of CUDA that native/cuda/cuda_gp.cu uses, so that its
// kernels and host drivers run WITHOUT a GPU (test/native/cuda-emulated.test.ts). Used only when
// cuda_gp.cu is compiled by a host compiler with -DKESTREL_CUDA_EMULATE; never in the addon.
//
// Model: a launch runs its blocks one after another; a block runs blockDim.x std::threads, so
// __syncthreads is a real barrier (std::barrier) and `__shared__` (mapped to `static`) is one
// copy shared by the threads of the running block. __shfl_down_sync exchanges through a
// per-warp buffer between two warp barriers. Memory is host memory; streams are no-ops (every
// call completes before it returns). Failing calls set the per-thread "last error" that
// cudaGetLastError returns and clears, cudaMalloc can be made to fail (failing_mallocs, or the
// k-th next one: mallocs_before_failure), live allocations are counted (live_bytes), and the
// device can be given a compute capability the "fatbin" has no image for (no_kernel_image), so
// error paths run as on a device. This checks indexing, bounds and synchronization logic of the
// kernels, not timing or the memory model of a real device.
#ifndef KESTREL_CUDA_EMULATION_H_
#define KESTREL_CUDA_EMULATION_H_

#include <math.h>

#include <atomic>
#include <barrier>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __launch_bounds__(...)
#define __syncthreads() ::kestrel_emu::sync_block()

using std::isfinite;

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}  // NOLINT
};

inline thread_local dim3 threadIdx;
inline thread_local dim3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

namespace kestrel_emu {

struct BlockState {
  explicit BlockState(int threads) : block(threads) {
    const int warps = (threads + 31) / 32;
    for (int w = 0; w < warps; ++w) warp_barriers.push_back(std::make_unique<std::barrier<>>(std::min(32, threads - 32 * w)));
    shuffle.assign(static_cast<size_t>(warps) * 32, 0.0);
  }
  std::barrier<> block;
  std::vector<std::unique_ptr<std::barrier<>>> warp_barriers;
  std::vector<double> shuffle;
};

inline thread_local BlockState* current_block = nullptr;
inline std::mutex atomic_mutex;

/// Persistent host threads that play the threads of one block at a time (spawning a thread per
/// CUDA thread per block costs more than the kernels).
class Workers {
 public:
  ~Workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      ++generation_;
    }
    start_.notify_all();
    for (auto& t : threads_) t.join();
  }
  /// Runs job(t) for t in [0, count) concurrently, one host thread each; returns when all finish.
  void run(int count, const std::function<void(int)>& job) {
    while (static_cast<int>(threads_.size()) < count) {
      const int id = static_cast<int>(threads_.size());
      // Only this (launching) thread changes generation_, so reading it here is race-free; the
      // new worker then waits for the increment below instead of possibly missing it.
      const uint64_t seen = generation_;
      threads_.emplace_back([this, id, seen] { loop(id, seen); });
    }
    std::unique_lock<std::mutex> lock(mu_);
    job_ = &job;
    active_ = count;
    remaining_ = count;
    ++generation_;
    start_.notify_all();
    done_.wait(lock, [this] { return remaining_ == 0; });
    job_ = nullptr;
  }

 private:
  void loop(int id, uint64_t seen) {
    for (;;) {
      const std::function<void(int)>* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        start_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
        if (id >= active_) continue;
        job = job_;
      }
      (*job)(id);
      std::lock_guard<std::mutex> lock(mu_);
      if (--remaining_ == 0) done_.notify_all();
    }
  }
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable start_, done_;
  uint64_t generation_ = 0;
  int active_ = 0;
  int remaining_ = 0;
  bool stop_ = false;
  const std::function<void(int)>* job_ = nullptr;
};

inline Workers& workers() {
  static Workers w;
  return w;
}

inline void sync_block() { current_block->block.arrive_and_wait(); }

template <typename Kernel>
struct Launch {
  dim3 grid, block;
  Kernel kernel;
  Launch(dim3 g, dim3 b, Kernel k) : grid(g), block(b), kernel(k) {}
  template <typename... Args>
  void operator()(Args... args) const;
};

}  // namespace kestrel_emu

inline double __shfl_down_sync(unsigned /*mask*/, double v, int offset) {
  kestrel_emu::BlockState* b = kestrel_emu::current_block;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  double* buf = b->shuffle.data() + static_cast<size_t>(warp) * 32;
  buf[lane] = v;
  b->warp_barriers[static_cast<size_t>(warp)]->arrive_and_wait();
  const double out = lane + offset < 32 ? buf[lane + offset] : v;
  b->warp_barriers[static_cast<size_t>(warp)]->arrive_and_wait();
  return out;
}

inline int atomicMin(int* address, int value) {
  std::lock_guard<std::mutex> lock(kestrel_emu::atomic_mutex);
  const int old = *address;
  if (value < old) *address = value;
  return old;
}

// ---- runtime API -------------------------------------------------------------------------------
// The runtime's values for the errors the emulator produces.
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorNoKernelImageForDevice = 209,
};
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
using cudaStream_t = struct KestrelEmuStream*;
constexpr unsigned cudaStreamNonBlocking = 1;

inline const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDeviceFunction: return "cudaErrorInvalidDeviceFunction";
    case cudaErrorNoKernelImageForDevice: return "cudaErrorNoKernelImageForDevice";
  }
  return "cudaErrorUnknown";
}
inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorNoKernelImageForDevice: return "no kernel image is available for execution on the device";
  }
  return "unknown error";
}

namespace kestrel_emu {
/// The runtime's per-thread "last error": every failing call records its error there, and
/// cudaGetLastError returns and resets it (as the CUDA runtime does for non-sticky errors such
/// as cudaErrorMemoryAllocation).
inline thread_local cudaError_t last_error = cudaSuccess;
inline cudaError_t record(cudaError_t e) {
  if (e != cudaSuccess) last_error = e;
  return e;
}
/// Fault injection for tests: this many of the next cudaMalloc calls fail with
/// cudaErrorMemoryAllocation (a device out of memory, e.g. shared with another process).
inline std::atomic<int> failing_mallocs{0};
/// Fault injection for tests: when >= 0, this many more cudaMalloc calls succeed and the one
/// after them fails with cudaErrorMemoryAllocation (then back to -1), so that a test can make each
/// allocation of an operation fail in turn.
inline std::atomic<int> mallocs_before_failure{-1};
/// The largest cudaMalloc request so far, in bytes (tests of the chunking's memory bound).
inline std::atomic<size_t> largest_malloc{0};
/// The live device allocations (cudaMalloc'd, not yet cudaFree'd): their requested sizes, and
/// the sum of those (tests of what CudaGp reports it holds). Guarded by live_mutex.
inline std::mutex live_mutex;
inline std::unordered_map<const void*, size_t> live_allocations;
inline size_t live_bytes_total = 0;
/// Bytes of device memory allocated and not yet freed, as requested from cudaMalloc.
inline size_t live_bytes() {
  std::lock_guard<std::mutex> lock(live_mutex);
  return live_bytes_total;
}
/// Number of device allocations not yet freed.
inline size_t live_count() {
  std::lock_guard<std::mutex> lock(live_mutex);
  return live_allocations.size();
}
/// The emulated device's compute capability (cudaGetDeviceProperties).
inline std::atomic<int> device_major{8};
inline std::atomic<int> device_minor{0};
/// Fault injection for tests: the fatbin has no image (SASS or PTX) for the device, as when the
/// addon was built for other architectures than the card's: cudaFuncGetAttributes fails and every
/// launch records cudaErrorNoKernelImageForDevice instead of running (non-sticky, as on a device).
inline std::atomic<bool> no_kernel_image{false};
}  // namespace kestrel_emu

struct cudaFuncAttributes {
  int binaryVersion;
  int ptxVersion;
  int maxThreadsPerBlock;
};
struct cudaDeviceProp {
  char name[256];
  int major;
  int minor;
};
template <typename Kernel>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, Kernel*) {
  if (kestrel_emu::no_kernel_image) return kestrel_emu::record(cudaErrorNoKernelImageForDevice);
  const int cc = 10 * kestrel_emu::device_major + kestrel_emu::device_minor;
  *attributes = cudaFuncAttributes{cc, cc, 1024};
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int) {
  std::memset(prop, 0, sizeof(*prop));
  std::strcpy(prop->name, "Kestrel host emulator");  // NOLINT: fixed literal, fits
  prop->major = kestrel_emu::device_major;
  prop->minor = kestrel_emu::device_minor;
  return cudaSuccess;
}

namespace kestrel_emu {
template <typename Kernel>
template <typename... Args>
void Launch<Kernel>::operator()(Args... args) const {
  // A fatbin without an image for the device: the launch does not run, and the error waits in
  // the thread's last error for the launch check, as on a device.
  if (no_kernel_image) {
    record(cudaErrorNoKernelImageForDevice);
    return;
  }
  const int threads = static_cast<int>(block.x);
  for (unsigned by = 0; by < grid.y; ++by) {
    for (unsigned bx = 0; bx < grid.x; ++bx) {
      BlockState state(threads);
      const std::function<void(int)> job = [&](int t) {
        threadIdx = dim3(static_cast<unsigned>(t));
        blockIdx = dim3(bx, by);
        blockDim = block;
        gridDim = grid;
        current_block = &state;
        kernel(args...);
      };
      workers().run(threads, job);
    }
  }
}
}  // namespace kestrel_emu

inline cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaGetLastError() {
  const cudaError_t e = kestrel_emu::last_error;
  kestrel_emu::last_error = cudaSuccess;
  return e;
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = reinterpret_cast<cudaStream_t>(0x1);
  return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaMalloc(void** p, size_t bytes) {
  // Poison fresh memory so reads of never-written device memory show up as NaN.
  int failing = kestrel_emu::failing_mallocs.load();
  while (failing > 0 && !kestrel_emu::failing_mallocs.compare_exchange_weak(failing, failing - 1)) {
  }
  int before = failing > 0 ? -1 : kestrel_emu::mallocs_before_failure.load();
  while (before >= 0 && !kestrel_emu::mallocs_before_failure.compare_exchange_weak(before, before - 1)) {
  }
  if (failing > 0 || before == 0) {
    *p = nullptr;
    return kestrel_emu::record(cudaErrorMemoryAllocation);
  }
  for (size_t seen = kestrel_emu::largest_malloc.load();
       bytes > seen && !kestrel_emu::largest_malloc.compare_exchange_weak(seen, bytes);) {
  }
  *p = std::malloc(bytes);
  if (*p == nullptr) return kestrel_emu::record(cudaErrorMemoryAllocation);
  std::memset(*p, 0xff, bytes);
  {
    std::lock_guard<std::mutex> lock(kestrel_emu::live_mutex);
    kestrel_emu::live_allocations[*p] = bytes;
    kestrel_emu::live_bytes_total += bytes;
  }
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* p) {
  if (p != nullptr) {
    std::lock_guard<std::mutex> lock(kestrel_emu::live_mutex);
    const auto it = kestrel_emu::live_allocations.find(p);
    if (it != kestrel_emu::live_allocations.end()) {
      kestrel_emu::live_bytes_total -= it->second;
      kestrel_emu::live_allocations.erase(it);
    }
  }
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t) {
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                                     size_t height, cudaMemcpyKind, cudaStream_t) {
  for (size_t r = 0; r < height; ++r) {
    std::memcpy(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
  }
  return cudaSuccess;
}

#endif  // KESTREL_CUDA_EMULATION_H_
