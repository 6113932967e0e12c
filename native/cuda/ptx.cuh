// Inline-PTX wrappers: the only place a kernel leaves plain CUDA C++. Under nvcc
// they are the real instructions; under the SIMT emulator (TESSERA_EMU) each
// calls its twin in native/emu/ptx.h, written from the same PTX ISA fragment
// layouts. A wrapper whose instruction the target lacks traps.
//
// Fragment layouts, with g = lane / 4 and q = lane % 4 (PTX ISA, "Matrix
// Fragments for mma.m16n8k16 with floating point type"). Every 32-bit register
// holds two consecutive-k (or consecutive-column) 16-bit elements, the lower
// index in the low half:
//   a[0] = A[g][2q, 2q+1]     a[1] = A[g+8][2q, 2q+1]
//   a[2] = A[g][2q+8, 2q+9]   a[3] = A[g+8][2q+8, 2q+9]
//   b[0] = B[2q, 2q+1][g]     b[1] = B[2q+8, 2q+9][g]
//   d[0], d[1] = D[g][2q, 2q+1]   d[2], d[3] = D[g+8][2q, 2q+1]
#pragma once

#include <cstdint>

#include "common.cuh"

namespace tessera::TESSERA_CUDA_NS {

// d = a · b + d on one warp: mma.sync.aligned.m16n8k16.row.col, 16-bit inputs
// (T = Half or BF16), fp32 accumulators. sm_80+.
template <typename T>
__device__ void mmaM16N8K16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);

template <>
__device__ __forceinline__ void mmaM16N8K16<Half>(float (&d)[4], const uint32_t (&a)[4],
                                                  const uint32_t (&b)[2]) {
#if defined(TESSERA_EMU)
  simt::mmaM16N8K16(simt::MmaInput::kF16, d, a, b, TESSERA_EMU_SITE);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
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
#if defined(TESSERA_EMU)
  simt::mmaM16N8K16(simt::MmaInput::kBF16, d, a, b, TESSERA_EMU_SITE);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}

// d = a · b + d on one warp: mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32,
// int8 inputs, int32 accumulators (exact; no saturation). sm_80+. Each 32-bit
// register holds four consecutive-k int8 elements, the lowest k in the low byte
// (PTX ISA, "Matrix Fragments for mma.m16n8k32"):
//   a[0] = A[g][4q..4q+3]      a[1] = A[g+8][4q..4q+3]
//   a[2] = A[g][4q+16..4q+19]  a[3] = A[g+8][4q+16..4q+19]
//   b[0] = B[4q..4q+3][g]      b[1] = B[4q+16..4q+19][g]
//   d[0], d[1] = D[g][2q, 2q+1]   d[2], d[3] = D[g+8][2q, 2q+1]   (as the f16 form)
// So a row-major A tile and an n-major B tile (a weight row per n) give every
// register as one aligned 32-bit load.
__device__ __forceinline__ void mmaM16N8K32S8(int32_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
#if defined(TESSERA_EMU)
  simt::mmaM16N8K32S8(d, a, b, TESSERA_EMU_SITE);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}

// ldmatrix.sync.aligned.m8n8.x{kMatrices}[.trans].shared.b16: kMatrices 8x8
// matrices of 16-bit elements from shared memory, one warp. Lanes 8i..8i+7 pass
// the addresses of rows 0..7 of matrix i (16-byte aligned; lanes past
// 8 * kMatrices pass anything); r[i] receives this lane's fragment of matrix i:
// row g, columns 2q and 2q+1, i.e. the layout of a[], b[] and d[] above. With
// kTrans the matrix is transposed on the way: column g, rows 2q and 2q+1 (so a
// k-major B tile loads straight into b[]). sm_75+.
template <int kMatrices, bool kTrans = false>
__device__ __forceinline__ void ldmatrix(uint32_t (&r)[kMatrices], const void* rowAddress) {
  static_assert(kMatrices == 1 || kMatrices == 2 || kMatrices == 4, "ldmatrix loads 1, 2 or 4 matrices");
#if defined(TESSERA_EMU)
  simt::ldmatrix<kMatrices, kTrans>(r, rowAddress, TESSERA_EMU_SITE);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 750
  const auto address = static_cast<uint32_t>(__cvta_generic_to_shared(rowAddress));
  if constexpr (kMatrices == 1 && !kTrans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(address));
  } else if constexpr (kMatrices == 1) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(address));
  } else if constexpr (kMatrices == 2 && !kTrans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1]) : "r"(address));
  } else if constexpr (kMatrices == 2) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1]) : "r"(address));
  } else if constexpr (!kTrans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
  }
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}

// cp.async: copies kBytes (4, 8 or 16, aligned to that) from global to shared
// memory without passing through registers; only the first srcBytes are read and
// the rest of the destination is zero-filled (the edge of a tile). The copy is
// complete after cpAsyncCommit() and a cpAsyncWait<n>() that leaves at most n
// newer groups pending; other threads see it after the next __syncthreads. The
// emulator copies at once. Before sm_80 it is a plain copy.
template <int kBytes>
__device__ __forceinline__ void cpAsync(void* sharedDst, const void* globalSrc, int srcBytes = kBytes) {
  static_assert(kBytes == 4 || kBytes == 8 || kBytes == 16, "cp.async copies 4, 8 or 16 bytes");
#if defined(TESSERA_EMU)
  simt::cpAsync(sharedDst, globalSrc, kBytes, srcBytes);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const auto address = static_cast<uint32_t>(__cvta_generic_to_shared(sharedDst));
  if constexpr (kBytes == 16) {  // .cg: bypass L1, the data is used once from shared memory
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address), "l"(globalSrc), "r"(srcBytes));
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(address), "l"(globalSrc), "n"(kBytes),
                 "r"(srcBytes));
  }
#elif defined(__CUDA_ARCH__)
  auto* dst = static_cast<unsigned char*>(sharedDst);
  const auto* src = static_cast<const unsigned char*>(globalSrc);
  for (int i = 0; i < kBytes; ++i) dst[i] = i < srcBytes ? src[i] : 0;
#endif
}

__device__ __forceinline__ void cpAsyncCommit() {
#if !defined(TESSERA_EMU) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}

template <int kPendingGroups>
__device__ __forceinline__ void cpAsyncWait() {
#if !defined(TESSERA_EMU) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPendingGroups));
#endif
}

}  // namespace tessera::TESSERA_CUDA_NS
