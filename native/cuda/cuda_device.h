// CUDA device discovery for the addon. Built from cuda_device.cu when nvcc is found
// (KESTREL_WITH_CUDA), else from cuda_none.cc. The CUDA runtime is linked statically, so the
// addon loads on machines without a driver or GPU: that is `available() == false`, not an error.
#ifndef KESTREL_CUDA_CUDA_DEVICE_H_
#define KESTREL_CUDA_CUDA_DEVICE_H_

#include <string>

namespace kestrel {
namespace cuda {

/// True when the addon was compiled with CUDA support.
bool compiled();
/// True when compiled and at least one usable device is present.
bool available();
/// A one-line description: the device name and compute capability, or why none is usable.
std::string describe();

}  // namespace cuda
}  // namespace kestrel

#endif  // KESTREL_CUDA_CUDA_DEVICE_H_
