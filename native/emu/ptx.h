// Emulated twins of the inline-PTX wrappers in native/cuda/ptx.cuh, written from
// the fragment layouts of the PTX ISA. ptx.cuh calls these under TESSERA_EMU.
//
// mma.sync and ldmatrix are warp collectives (".sync.aligned": all 32 lanes
// execute them together): every lane hands in its registers, the last to arrive
// computes the whole warp's result, and each lane takes its own registers back.
// With g = lane / 4 and q = lane % 4 (PTX ISA, "Matrix Fragments for
// mma.m16n8k16 with floating point type"; "Warp-level matrix load instruction:
// ldmatrix"):
//   mma.m16n8k16 A (16x16, row-major), four 32-bit registers of two 16-bit
//     elements, the lower k in the low half:
//       a0 = A[g][2q, 2q+1]   a1 = A[g+8][2q, 2q+1]   a2 = A[g][2q+8, 2q+9]   a3 = A[g+8][2q+8, 2q+9]
//   B (16x8, "col": indexed [k][n]):  b0 = B[2q, 2q+1][g]   b1 = B[2q+8, 2q+9][g]
//   C and D (16x8 fp32):  c0, c1 = C[g][2q, 2q+1]   c2, c3 = C[g+8][2q, 2q+1]
//   ldmatrix .m8n8 .b16: lanes 8i..8i+7 give the addresses of rows 0..7 of matrix
//     i (only lanes 0..7 for .x1, 0..15 for .x2); register i of every lane
//     receives row g, columns 2q and 2q+1 of matrix i, the fragment layout of
//     mma's A, B and C. With .trans it receives column g, rows 2q and 2q+1.
#pragma once

#include <cstdint>
#include <cstring>

#include "scheduler.h"

namespace tessera::simt {

enum class MmaInput { kF16, kBF16 };

// d = a · b + d on one warp, 16-bit inputs, fp32 accumulation. Each product of
// two 16-bit floats is exact in fp32; the 16 products of an output are added to
// it in ascending k, each sum rounded to fp32 (the hardware's order is
// unspecified; on integer-valued inputs every order gives the same bits).
void mmaM16N8K16(MmaInput input, float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], Site site);

// d = a · b + d on one warp, int8 inputs, int32 accumulation (mma.m16n8k32
// .s32.s8.s8.s32): four int8 elements a register, the lowest k in the low byte;
// with g and q as above,
//   a0 = A[g][4q..4q+3]   a1 = A[g+8][4q..4q+3]   a2 = A[g][4q+16..4q+19]   a3 = A[g+8][4q+16..4q+19]
//   b0 = B[4q..4q+3][g]   b1 = B[4q+16..4q+19][g]
//   c0, c1 = C[g][2q, 2q+1]   c2, c3 = C[g+8][2q, 2q+1]
// Integer sums are exact in any order; they wrap modulo 2^32 like the hardware's
// (no .satfinite).
void mmaM16N8K32S8(int32_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], Site site);

template <int kMatrices, bool kTrans>
const char* ldmatrixOp(LaneSlot* lanes, uint32_t participants) {
  if (participants != 0xffffffffu) return "ldmatrix needs all 32 lanes of the warp";
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, q = lane % 4;
    for (int m = 0; m < kMatrices; ++m) {
      uint16_t lo, hi;
      if (kTrans) {
        const auto* row0 = reinterpret_cast<const uint16_t*>(lanes[8 * m + 2 * q].in[0]);
        const auto* row1 = reinterpret_cast<const uint16_t*>(lanes[8 * m + 2 * q + 1].in[0]);
        lo = row0[g];
        hi = row1[g];
      } else {
        const auto* row = reinterpret_cast<const uint16_t*>(lanes[8 * m + g].in[0]);
        lo = row[2 * q];
        hi = row[2 * q + 1];
      }
      lanes[lane].out[m] = static_cast<uint32_t>(lo) | static_cast<uint32_t>(hi) << 16;
    }
  }
  return nullptr;
}

// r[i] = this lane's fragment of matrix i; rowAddress = the row this lane points
// at (ignored on lanes beyond 8 * kMatrices).
template <int kMatrices, bool kTrans>
void ldmatrix(uint32_t (&r)[kMatrices], const void* rowAddress, Site site) {
  static_assert(kMatrices == 1 || kMatrices == 2 || kMatrices == 4, "ldmatrix loads 1, 2 or 4 matrices");
  laneSlot().in[0] = reinterpret_cast<uintptr_t>(rowAddress);
  warpCollective(0xffffffffu, ldmatrixOp<kMatrices, kTrans>, kTrans ? "ldmatrix.trans" : "ldmatrix", site);
  const LaneSlot& slot = laneSlot();
  for (int m = 0; m < kMatrices; ++m) r[m] = static_cast<uint32_t>(slot.out[m]);
}

// cp.async as a synchronous copy: bytes from src, of which only srcBytes are
// read and the rest of dst is zero-filled. Commit and wait have nothing to wait for.
inline void cpAsync(void* dst, const void* src, int bytes, int srcBytes) {
  std::memcpy(dst, src, static_cast<size_t>(srcBytes));
  std::memset(static_cast<char*>(dst) + srcBytes, 0, static_cast<size_t>(bytes - srcBytes));
}

}  // namespace tessera::simt
