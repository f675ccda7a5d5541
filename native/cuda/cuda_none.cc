// Built when CUDA is not compiled in (no nvcc, or KESTREL_CUDA unset/0): device discovery says
// "no CUDA", and every entry point of cuda_gp.h throws CudaError("built without CUDA"), so the
// addon links and loads the same way with or without a CUDA toolkit.
#include "cuda_device.h"
#include "cuda_gp.h"

namespace kestrel {
namespace cuda {

namespace {
[[noreturn]] void unavailable() {
  throw CudaError("built without CUDA (rebuild with KESTREL_CUDA=1 and nvcc on PATH)");
}
}  // namespace

bool compiled() { return false; }
bool available() { return false; }
std::string describe() { return "built without CUDA"; }
std::string kernel_image_problem() { return "built without CUDA"; }

CholeskyStatus cuda_cholesky(int, const double*, ptrdiff_t, std::vector<double>&, double, int) { unavailable(); }
void cuda_triangular_solve(int, const double*, int, double*, bool) { unavailable(); }

struct CudaGp::Impl {};
CudaGp::CudaGp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudaGp::~CudaGp() = default;
std::shared_ptr<const CudaGp> CudaGp::create(const GpModel&, KernelKind) { unavailable(); }
int CudaGp::n() const { unavailable(); }
int CudaGp::d() const { unavailable(); }
double CudaGp::jitter() const { unavailable(); }
size_t CudaGp::device_bytes() const { unavailable(); }
size_t CudaGp::memory_bytes() const { unavailable(); }
std::vector<double> CudaGp::factor() const { unavailable(); }
void CudaGp::predict(const double*, int, double*, double*) const { unavailable(); }
void CudaGp::acquisition(const double*, int, const AcqParams&, double*, double*) const { unavailable(); }

}  // namespace cuda
}  // namespace kestrel
