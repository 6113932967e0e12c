// Host feature detection and kernel-table selection.
#include <cstdlib>
#include <cstring>

#if defined(TESSERA_CPU_X86)
#include <cpuid.h>
#endif

#include "kernels.h"

namespace tessera::cpu {

const CpuFeatures& cpuFeatures() {
  static const CpuFeatures features = [] {
    CpuFeatures f;
#if defined(TESSERA_CPU_X86)
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
    f.f16c = __builtin_cpu_supports("f16c");
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512dq = __builtin_cpu_supports("avx512dq");
    f.avx512vnni = __builtin_cpu_supports("avx512vnni");
    f.avxvnni = __builtin_cpu_supports("avxvnni");
    f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
    // AMD family 17h and later (Zen): no penalty for subnormals in SSE/AVX arithmetic.
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__builtin_cpu_is("amd") && __get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
      const unsigned baseFamily = (eax >> 8) & 0xf;
      const unsigned family = baseFamily == 0xf ? baseFamily + ((eax >> 20) & 0xff) : baseFamily;
      f.fastDenormals = family >= 0x17;
    }
    const char* denormals = std::getenv("TESSERA_CPU_DENORMALS");
    if (denormals != nullptr && std::strcmp(denormals, "avoid") == 0) f.fastDenormals = false;
#endif
    return f;
  }();
  return features;
}

const KernelTable& kernelsFor(const CpuFeatures& f, const char* want) {
  const KernelTable* best = &generic::kTable;
#if defined(TESSERA_CPU_X86)
  const bool hasAvx2 = f.avx2 && f.fma && f.f16c;
  // The avx512 table is compiled with VNNI (kernels_avx512.cpp): a core with AVX-512
  // but no VNNI (Skylake-SP) would fault on its int8 kernels, so it takes avx2.
  const bool hasAvx512 = hasAvx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni;
  if (hasAvx512) best = &avx512::kTable;
  else if (hasAvx2) best = &avx2::kTable;
  if (want != nullptr) {
    // A request for an ISA the host lacks falls back to the best it has.
    if (std::strcmp(want, "generic") == 0) best = &generic::kTable;
    else if (std::strcmp(want, "avx2") == 0 && hasAvx2) best = &avx2::kTable;
  }
#else
  (void)f;
  (void)want;
#endif
  return *best;
}

const KernelTable& selectKernels() {
  static const KernelTable& table = kernelsFor(cpuFeatures(), std::getenv("TESSERA_CPU_ISA"));
  return table;
}

}  // namespace tessera::cpu
