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
/// True when compiled, at least one device is present, and our kernels can run on device 0 (the
/// one every entry point uses): a fatbin without SASS or PTX for its compute capability makes it
/// unavailable here rather than failing the first launch (see kernel_image_problem, cuda_gp.h).
bool available();
/// A one-line description: the device name and compute capability, or why none is usable; for a
/// device our kernels cannot run on, "<name> (sm_XY): no kernel image for compute capability X.Y (...)".
std::string describe();

}  // namespace cuda
}  // namespace kestrel

#endif  // KESTREL_CUDA_CUDA_DEVICE_H_
