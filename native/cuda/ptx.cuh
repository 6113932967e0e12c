// Inline-PTX wrappers: the only place a kernel leaves plain CUDA C++. Under nvcc
// they are the real instructions; the SIMT emulator (native/emu) supplies a twin
// of each with the same signature, written from the fragment layouts in the PTX
// ISA, so this file is compiled by nvcc only.
#pragma once

#include <cstdint>

#include "common.cuh"

namespace tessera::cuda {

#if defined(__CUDACC__)

// d = a · b + d on one warp: mma.sync.aligned.m16n8k16.row.col, 16-bit inputs
// (T = Half or BF16), fp32 accumulators. Every 32-bit register holds two
// consecutive-k elements, the lower k in the low half. With g = lane / 4 and
// q = lane % 4 (PTX ISA, "Matrix Fragments for mma.m16n8k16"):
//   a[0] = A[g][2q, 2q+1]     a[1] = A[g+8][2q, 2q+1]
//   a[2] = A[g][2q+8, 2q+9]   a[3] = A[g+8][2q+8, 2q+9]
//   b[0] = B[2q, 2q+1][g]     b[1] = B[2q+8, 2q+9][g]
//   d[0], d[1] = D[g][2q, 2q+1]   d[2], d[3] = D[g+8][2q, 2q+1]
// The instruction exists from sm_80; the launcher never runs it on older devices,
// so an older target (if one is ever built) gets a trap instead.
template <typename T>
__device__ void mmaM16N8K16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);

template <>
__device__ __forceinline__ void mmaM16N8K16<Half>(float (&d)[4], const uint32_t (&a)[4],
                                                  const uint32_t (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}

template <>
__device__ __forceinline__ void mmaM16N8K16<BF16>(float (&d)[4], const uint32_t (&a)[4],
                                                  const uint32_t (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}

#endif  // __CUDACC__

}  // namespace tessera::cuda
