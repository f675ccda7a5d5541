// The CUDA side of the GP surrogate: the same operations as the CPU core (native/core/gp.h,
// linalg.h) as device kernels, behind a host API free of CUDA types, so that the addon and
// cuda_none.cc (the build without nvcc) share this header.
//
// Notation and layout are the core's: X (n, d) row-major; square matrices column-major, lower
// triangle, leading dim n; theta = [log l_1..d, log s2, log sn2]; A = K(X, X) + (sn2 + jitter) I
// = L L^T; alpha = A^{-1} y; candidates x (m, d) row-major.
//
// What runs where: the MAP hyperparameter fit stays on the CPU (GpModel::fit); CudaGp then
// assembles A on the device from the fitted theta, factors it there (blocked right-looking
// Cholesky), solves for alpha there, and answers predict / acquisition (with gradient) for m
// candidates on the device. The kernels are written here (no cuBLAS / cuSOLVER, which the CUDA 13
// runtime-only toolchain of CI does not ship); their per-element math is cuda_gp_math.h, which
// composes the KESTREL_HD functions of native/include/kestrel.
//
// Errors: a failing CUDA call throws CudaError ("<expression> failed at <file>:<line>: <name>:
// <message>"); a failed factorization throws kestrel::Error (kNaN or kNumerical, as the CPU core);
// a build without CUDA throws CudaError("built without CUDA") from every entry point.
#ifndef KESTREL_CUDA_CUDA_GP_H_
#define KESTREL_CUDA_CUDA_GP_H_

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gp.h"
#include "kestrel/acquisition.h"
#include "kestrel/kernels.h"
#include "linalg.h"

namespace kestrel {
namespace cuda {

/// A CUDA runtime call failed (or CUDA is not compiled in / no device is present).
class CudaError : public std::runtime_error {
 public:
  explicit CudaError(const std::string& message) : std::runtime_error(message) {}
};

/// Why this build's kernels cannot run on device 0, or "" when they can: checks that a kernel
/// of ours is loadable there (cudaFuncGetAttributes), which fails when the fatbin has neither
/// SASS nor PTX for the card's compute capability (cudaErrorNoKernelImageForDevice /
/// cudaErrorInvalidDeviceFunction, which every launch would otherwise hit). For such a card the
/// reason reads "no kernel image for compute capability <major>.<minor> (...)". Not cached (the
/// caller, cuda_device.cu, probes once per process); clears the non-sticky error it causes.
/// Never throws. Precondition: at least one device (cudaGetDeviceCount > 0).
std::string kernel_image_problem();

/// Device mirror of cholesky_with_jitter: factors a copy of the host matrix a (n, n, lda; lower
/// triangle read) on the device into l (n, n, ld n, strict upper zero), retrying with jitter
/// jitter_start * mean(diag) * 10^t for t < max_tries. Keeps "input had NaN" apart. Throws
/// CudaError only for CUDA failures.
CholeskyStatus cuda_cholesky(int n, const double* a, ptrdiff_t lda, std::vector<double>& l,
                             double jitter_start = 1e-10, int max_tries = 6);

/// Device triangular solve with m right-hand sides: b (n, m, ld n) := L^{-1} b, or L^{-T} b when
/// transpose. l is (n, n, ld n) lower. Host in, host out.
void cuda_triangular_solve(int n, const double* l, int m, double* b, bool transpose);

/// One fitted GP resident on the device. Immutable; every method may run concurrently with the
/// others (each call uses its own stream and scratch memory). Device memory is freed with it;
/// device_bytes() / memory_bytes() say how much it holds meanwhile.
class CudaGp {
 public:
  /// Uploads X, y and theta of a CPU-fitted model, assembles and factors A on the device
  /// (starting from the CPU's jitter, escalating the same way when a pivot fails), solves alpha.
  /// kernel must be the kernel the model was fitted with.
  static std::shared_ptr<const CudaGp> create(const GpModel& model, KernelKind kernel);
  ~CudaGp();
  CudaGp(const CudaGp&) = delete;
  CudaGp& operator=(const CudaGp&) = delete;

  int n() const;
  int d() const;
  /// Jitter the device factorization ended with.
  double jitter() const;
  /// Device bytes this copy holds for its whole life, as requested from cudaMalloc: L (n, n),
  /// X^T (d, n), alpha (n) and w (d) doubles, and the categorical flags (d bytes); at n = 10,000
  /// about 800 MB, nearly all L. Not the buffers that live for one call only (create's A and
  /// inputs, the candidate chunks of predict / acquisition, at most 128 MiB each), nor the
  /// driver's rounding of each allocation to its page size.
  size_t device_bytes() const;
  /// Bytes this copy holds for its whole life, on the device and on the host: device_bytes() plus
  /// the host side it keeps between calls (itself, its state and its copy of w; no pinned or
  /// staging host buffers: calls copy from and to the caller's memory). The addon reports this as
  /// external memory to the JS engine, once per CudaGp however many handles hold it
  /// (native/addon/addon.cc, "Memory").
  size_t memory_bytes() const;
  /// The device factor L, downloaded (n, n, ld n).
  std::vector<double> factor() const;
  /// Posterior mean and floored variance (m each) for x (m, d).
  void predict(const double* x, int m, double* mean, double* variance) const;
  /// Acquisition values (m) and, when grad is not null, d value / dx (m, d), zero on
  /// categorical dims (GpModel::acquisition's contract).
  void acquisition(const double* x, int m, const AcqParams& acq, double* value, double* grad) const;

  struct Impl;

 private:
  explicit CudaGp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cuda
}  // namespace kestrel

#endif  // KESTREL_CUDA_CUDA_GP_H_
