// Built when CUDA is not compiled in (no nvcc, or KESTREL_CUDA=0).
#include "cuda_device.h"

namespace kestrel {
namespace cuda {

bool compiled() { return false; }
bool available() { return false; }
std::string describe() { return "built without CUDA"; }

}  // namespace cuda
}  // namespace kestrel
