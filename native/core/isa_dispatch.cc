// Run-time choice of the instruction-set variant of the hot kernels (see isa_kernels.h).
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "isa_kernels.h"

namespace kestrel {

namespace {

bool cpu_supports(const char* name) {
#if defined(KESTREL_HAVE_X86_ISAS)
  __builtin_cpu_init();
  if (std::strcmp(name, "avx512") == 0) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
  }
  if (std::strcmp(name, "avx2") == 0) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
#endif
  return std::strcmp(name, "base") == 0;
}

const IsaKernels* choose() {
  const char* forced = std::getenv("KESTREL_ISA");
  if (forced != nullptr) {
    const IsaKernels* k = isa_kernels_by_name(forced);
    if (k != nullptr) return k;
  }
  for (const char* name : {"avx512", "avx2", "base"}) {
    const IsaKernels* k = isa_kernels_by_name(name);
    if (k != nullptr) return k;
  }
  return &isa_base::kKernels;
}

}  // namespace

const IsaKernels* isa_kernels_by_name(const char* name) {
  if (!cpu_supports(name)) return nullptr;
  if (std::strcmp(name, "base") == 0) return &isa_base::kKernels;
#if defined(KESTREL_HAVE_X86_ISAS)
  if (std::strcmp(name, "avx2") == 0) return &isa_avx2::kKernels;
  if (std::strcmp(name, "avx512") == 0) return &isa_avx512::kKernels;
#endif
  return nullptr;
}

const IsaKernels& isa_kernels() {
  static const IsaKernels* chosen = choose();  // immutable after the first call
  return *chosen;
}

}  // namespace kestrel
