// CUDA device discovery and selection (the surrogate's kernels are in cuda_gp.cu). Every CUDA
// call is checked; failures become a message with the expression and file:line.
#include <cuda_runtime.h>

#include <string>

#include "cuda_device.h"
#include "cuda_gp.h"

namespace kestrel {
namespace cuda {

namespace {
std::string check(cudaError_t err, const char* expr, const char* file, int line) {
  if (err == cudaSuccess) return std::string();
  return std::string(expr) + " failed at " + file + ":" + std::to_string(line) + ": " + cudaGetErrorString(err);
}
#define KESTREL_CUDA_CHECK(expr) check((expr), #expr, __FILE__, __LINE__)
}  // namespace

bool compiled() { return true; }

/// kernel_image_problem() for device 0, probed once per process (thread-safe static init): the
/// fatbin and the card do not change while the process runs, and available() is asked per
/// backend creation.
const std::string& kernel_problem() {
  static const std::string problem = kernel_image_problem();
  return problem;
}

bool available() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" / "no device" state
    return false;
  }
  return count > 0 && kernel_problem().empty();
}

std::string describe() {
  int count = 0;
  const std::string err = KESTREL_CUDA_CHECK(cudaGetDeviceCount(&count));
  if (!err.empty()) {
    cudaGetLastError();
    return err;
  }
  if (count == 0) return "no CUDA device";
  cudaDeviceProp prop;
  const std::string err2 = KESTREL_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  if (!err2.empty()) return err2;
  const std::string name = std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")";
  const std::string& problem = kernel_problem();
  return problem.empty() ? name : name + ": " + problem;
}

}  // namespace cuda
}  // namespace kestrel
