// Host/device annotation shared by the CPU core and the CUDA kernels (MAGMA/PyTorch style):
// scalar math is written once as KESTREL_HD inline functions.
#ifndef KESTREL_CONFIG_H_
#define KESTREL_CONFIG_H_

#if defined(__CUDACC__)
#define KESTREL_HD __host__ __device__
#else
#define KESTREL_HD
#endif

#define KESTREL_VERSION "0.1.0"

#endif  // KESTREL_CONFIG_H_
