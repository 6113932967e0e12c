// Attention backward on tensor cores (mma.sync m16n8k16, fp16/bf16 inputs, fp32
// accumulators), sm_80+, head dims up to 128. Same math, grid, mask handling and
// workspaces as the fp32 SIMT kernel in attention_backward.cuh (read that first);
// what differs is that the five products of a (query tile × key tile) step run as
// warp-wide MMAs on 16-bit shared tiles:
//   S = Q Kᵀ, dP = dO Vᵀ          (Br × Bc, reduced over D)
//   dV += Pᵀ dO, dK += dRawᵀ Q    (Bc × D, reduced over Br; registers, per block)
//   dQ += dRaw K                  (Br × D, reduced over Bc; fp32 atomics)
// P and dRaw are rounded to the input dtype to feed the MMAs, as FlashAttention-2
// does; that rounding is this path's extra error over the fp32 one.
//
// Work split, 8 warps: warp w takes query rows 16·(w % 4) and keys 32·(w / 4) of
// the 64 × 64 score tile; for dK / dV keys 16·(w % 4) and half the head dim
// (w / 4); for dQ query rows 16·(w % 4) and half the head dim.
//
// Fragment layouts (ptx.cuh; g = lane / 4, q = lane % 4): a 32-bit register holds
// two k-consecutive 16-bit elements, so an operand stored with k contiguous
// (row-major A, n-major B) loads a register at once, and one stored with k
// strided (k-major B) is packed from two 16-bit loads.
#pragma once

#include "attention_backward.cuh"
#include "ptx.cuh"

namespace tessera::TESSERA_CUDA_NS {

constexpr int kAttnBwdMmaThreads = 256;
constexpr int kAttnBwdMmaWarps = kAttnBwdMmaThreads / kWarpSize;
constexpr int kAttnBwdMmaQueryTile = 64;  // Br
constexpr int kAttnBwdMmaMaxHeadDim = 128;

// Shared tiles hold 16-bit elements; rows padded by 8 elements (16 bytes) so the
// 8 rows a fragment load touches start in different banks.
inline constexpr int attnBwdMmaPaddedDim(int headDim) { return (headDim + 15) / 16 * 16; }
inline constexpr int64_t attnBwdMmaSharedBytes(int headDim) {
  const int64_t dStride = attnBwdMmaPaddedDim(headDim) + 8;
  const int64_t tStride = kAttnBwdKeyTile + 8;  // Br = Bc = 64
  return 2 * (2 * kAttnBwdKeyTile * dStride            // K, V
              + 2 * kAttnBwdMmaQueryTile * dStride     // Q, dO
              + 3 * kAttnBwdMmaQueryTile * tStride)    // Pᵀ, dRaw, dRawᵀ
         + 4 * 2 * kAttnBwdMmaQueryTile;               // lse, D_i
}

namespace mma_tile {

__device__ __forceinline__ uint32_t pack(uint16_t lo, uint16_t hi) {
  return static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16);
}
__device__ __forceinline__ uint32_t load32(const uint16_t* p) { return *reinterpret_cast<const uint32_t*>(p); }

// A[m][k] = tile[row0 + m][k0 + k], 16 × 16, k contiguous.
__device__ __forceinline__ void loadA(uint32_t (&a)[4], const uint16_t* tile, int stride, int row0, int k0,
                                      int g, int q) {
  const uint16_t* top = tile + (row0 + g) * stride + k0 + 2 * q;
  const uint16_t* bottom = top + 8 * stride;
  a[0] = load32(top);
  a[1] = load32(bottom);
  a[2] = load32(top + 8);
  a[3] = load32(bottom + 8);
}

// B[k][n] = tile[n0 + n][k0 + k], 16 × 8: the tile stores n-major rows (Kᵀ from K).
__device__ __forceinline__ void loadBnMajor(uint32_t (&b)[2], const uint16_t* tile, int stride, int n0, int k0,
                                            int g, int q) {
  const uint16_t* row = tile + (n0 + g) * stride + k0 + 2 * q;
  b[0] = load32(row);
  b[1] = load32(row + 8);
}

// B[k][n] = tile[k0 + k][n0 + n], 16 × 8: the tile stores k-major rows.
__device__ __forceinline__ void loadBkMajor(uint32_t (&b)[2], const uint16_t* tile, int stride, int k0, int n0,
                                            int g, int q) {
  const uint16_t* p = tile + (k0 + 2 * q) * stride + n0 + g;
  b[0] = pack(p[0], p[stride]);
  b[1] = pack(p[8 * stride], p[9 * stride]);
}

}  // namespace mma_tile

// Copies rows [row0, row0 + rows) of one head into a 16-bit shared tile; rows past
// `len` and columns D … paddedDim − 1 become zeros (so they add nothing to a
// product reduced over D). With vectorLoads (every row start 16-byte aligned, which
// the launcher checks) 8 elements move as one 16-byte access: D is a multiple of 8,
// so a group of 8 columns is either all inside D or all padding.
template <typename T>
__device__ __forceinline__ void attnBwdMmaLoadTile(uint16_t* tile, int stride, const T* head, int64_t rowStride,
                                                   int row0, int rows, int len, int headDim, int paddedDim,
                                                   bool vectorLoads) {
  if (vectorLoads) {
    const int groups = paddedDim / 8;
    for (int idx = threadIdx.x; idx < rows * groups; idx += kAttnBwdMmaThreads) {
      const int r = idx / groups, d = idx % groups * 8;
      const int row = row0 + r;
      uint4 v = make_uint4(0u, 0u, 0u, 0u);
      if (row < len && d < headDim) v = *reinterpret_cast<const uint4*>(head + row * rowStride + d);
      *reinterpret_cast<uint4*>(tile + r * stride + d) = v;
    }
    return;
  }
  for (int idx = threadIdx.x; idx < rows * paddedDim; idx += kAttnBwdMmaThreads) {
    const int r = idx / paddedDim, d = idx % paddedDim;
    const int row = row0 + r;
    tile[r * stride + d] = row < len && d < headDim ? head[row * rowStride + d].bits : uint16_t{0};
  }
}

// Grid: (ceil(Lk / 64), Hkv, B); kAttnBwdMmaThreads threads;
// attnBwdMmaSharedBytes(D) of dynamic shared memory. T is Half or BF16, D ≤ kMaxD ≤ 128.
template <typename T, int kMaxD>
__global__ void __launch_bounds__(kAttnBwdMmaThreads)
attnBwdMmaKernel(AttnBwdArgs<T> a) {
  constexpr int Br = kAttnBwdMmaQueryTile;
  constexpr int Bc = kAttnBwdKeyTile;
  constexpr int tStride = Bc + 8;
  constexpr int kHalfTiles = kMaxD / 16;  // n-tiles of 8 dims in half the head dim, at most

  const int D = a.headDim;
  const int paddedDim = attnBwdMmaPaddedDim(D);
  const int dStride = paddedDim + 8;
  const int j0 = blockIdx.x * Bc;
  const int kvHead = blockIdx.y;
  const int b = blockIdx.z;
  const int warp = threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  const int g = lane / 4, q = lane % 4;
  const int block16 = 16 * (warp % 4);  // query rows (scores, dQ) or keys (dK, dV) of this warp
  const int half = warp / 4;            // which 32 keys of the scores, which half of the head dim
  // This warp's n-tiles of 8 dims for dK, dV and dQ: [tileBegin, tileEnd).
  const int dimTiles = D / 8;
  const int tileBegin = half == 0 ? 0 : (dimTiles + 1) / 2;
  const int tileEnd = half == 0 ? (dimTiles + 1) / 2 : dimTiles;
  const int64_t offset = static_cast<int64_t>(a.kvLen) - a.qLen;
  const int group = a.qHeads / a.kvHeads;

  TESSERA_DYNAMIC_SHARED(uint16_t, shared);
  uint16_t* kTile = shared;                   // [Bc][dStride]
  uint16_t* vTile = kTile + Bc * dStride;     // [Bc][dStride]
  uint16_t* qTile = vTile + Bc * dStride;     // [Br][dStride]
  uint16_t* doTile = qTile + Br * dStride;    // [Br][dStride]
  uint16_t* pT = doTile + Br * dStride;       // [Bc][tStride]: Pᵀ
  uint16_t* dsTile = pT + Bc * tStride;       // [Br][tStride]: dRaw
  uint16_t* dsT = dsTile + Br * tStride;      // [Bc][tStride]: dRawᵀ
  float* lseTile = reinterpret_cast<float*>(dsT + Bc * tStride);  // [Br]
  float* rowDotTile = lseTile + Br;                                // [Br]

  const int keysHere = min(Bc, a.kvLen - j0);
  attnBwdMmaLoadTile(kTile, dStride, a.k + b * a.kStrides.batch + kvHead * a.kStrides.head, a.kStrides.row, j0, Bc,
                     a.kvLen, D, paddedDim, a.vectorLoads);
  attnBwdMmaLoadTile(vTile, dStride, a.v + b * a.vStrides.batch + kvHead * a.vStrides.head, a.vStrides.row, j0, Bc,
                     a.kvLen, D, paddedDim, a.vectorLoads);

  float dkAcc[kHalfTiles][4], dvAcc[kHalfTiles][4];
#pragma unroll
  for (int t = 0; t < kHalfTiles; ++t) {
#pragma unroll
    for (int e = 0; e < 4; ++e) dkAcc[t][e] = dvAcc[t][e] = 0.0f;
  }

  for (int h = kvHead * group; h < (kvHead + 1) * group; ++h) {
    const int64_t headRow0 = (static_cast<int64_t>(b) * a.qHeads + h) * a.qLen;
    const T* qHead = a.q + b * a.qStrides.batch + h * a.qStrides.head;
    const T* doHead = a.dout + headRow0 * D;
    const float slope = a.alibiSlopes != nullptr ? a.alibiSlopes[h] : 0.0f;

    for (int i0 = 0; i0 < a.qLen; i0 += Br) {
      const int i1 = min(i0 + Br, a.qLen);
      if (!attn::tileVisible(a.mask, i0, i1, j0, j0 + keysHere, offset, a.kvLen)) continue;
      const bool allVisible = attn::tileFullyVisible(a.mask, i0, i1, j0, j0 + keysHere, offset);

      __syncthreads();  // the previous tile's readers are done
      attnBwdMmaLoadTile(qTile, dStride, qHead, a.qStrides.row, i0, Br, a.qLen, D, paddedDim, a.vectorLoads);
      attnBwdMmaLoadTile(doTile, dStride, doHead, D, i0, Br, a.qLen, D, paddedDim, a.vectorLoads);
      if (threadIdx.x < Br) {
        const int i = i0 + threadIdx.x;
        lseTile[threadIdx.x] = i < a.qLen ? a.lse[headRow0 + i] : -INFINITY;
        rowDotTile[threadIdx.x] = i < a.qLen ? a.rowDot[headRow0 + i] : 0.0f;
      }
      __syncthreads();

      // S and dP for query rows block16 + {g, g + 8}, keys 32·half + 8·t + {2q, 2q + 1}.
      float sAcc[4][4], dpAcc[4][4];
#pragma unroll
      for (int t = 0; t < 4; ++t) {
#pragma unroll
        for (int e = 0; e < 4; ++e) sAcc[t][e] = dpAcc[t][e] = 0.0f;
      }
      for (int k0 = 0; k0 < paddedDim; k0 += 16) {
        uint32_t qFrag[4], doFrag[4];
        mma_tile::loadA(qFrag, qTile, dStride, block16, k0, g, q);
        mma_tile::loadA(doFrag, doTile, dStride, block16, k0, g, q);
#pragma unroll
        for (int t = 0; t < 4; ++t) {
          uint32_t kFrag[2], vFrag[2];
          mma_tile::loadBnMajor(kFrag, kTile, dStride, 32 * half + 8 * t, k0, g, q);
          mma_tile::loadBnMajor(vFrag, vTile, dStride, 32 * half + 8 * t, k0, g, q);
          mmaM16N8K16<T>(sAcc[t], qFrag, kFrag);
          mmaM16N8K16<T>(dpAcc[t], doFrag, vFrag);
        }
      }

      // P and dRaw per element (as the SIMT kernel), stored 16-bit as dRaw, Pᵀ, dRawᵀ.
#pragma unroll
      for (int t = 0; t < 4; ++t) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = block16 + g + (e >= 2 ? 8 : 0);
          const int c = 32 * half + 8 * t + 2 * q + (e & 1);
          const int i = i0 + r, j = j0 + c;
          const float lse = lseTile[r];
          float p = 0.0f, dRaw = 0.0f;
          if (j < a.kvLen && lse != -INFINITY &&
              (allVisible || attn::visible(a.mask, i, i + offset, j, a.kvLen))) {
            float s = a.scale * sAcc[t][e];
            float slopeOfRaw = a.scale;
            if (a.softcap > 0.0f) {
              const float th = tanhf(s / a.softcap);
              s = a.softcap * th;
              slopeOfRaw = a.scale * (1.0f - th * th);
            }
            if (a.alibiSlopes != nullptr) s -= slope * fabsf(static_cast<float>(i + offset - j));
            p = expf(s - lse);
            dRaw = p * (dpAcc[t][e] - rowDotTile[r]) * slopeOfRaw;
          }
          const uint16_t pBits = fromFloat<T>(p).bits, dsBits = fromFloat<T>(dRaw).bits;
          pT[c * tStride + r] = pBits;
          dsTile[r * tStride + c] = dsBits;
          dsT[c * tStride + r] = dsBits;
        }
      }
      __syncthreads();

      // dV += Pᵀ dO and dK += dRawᵀ Q for keys block16 + {g, g + 8}, this warp's dim tiles.
      for (int k0 = 0; k0 < Br; k0 += 16) {
        uint32_t pFrag[4], dsFrag[4];
        mma_tile::loadA(pFrag, pT, tStride, block16, k0, g, q);
        mma_tile::loadA(dsFrag, dsT, tStride, block16, k0, g, q);
#pragma unroll
        for (int t = 0; t < kHalfTiles; ++t) {
          if (tileBegin + t >= tileEnd) break;  // warp-uniform
          uint32_t doFrag[2], qFrag[2];
          mma_tile::loadBkMajor(doFrag, doTile, dStride, k0, 8 * (tileBegin + t), g, q);
          mma_tile::loadBkMajor(qFrag, qTile, dStride, k0, 8 * (tileBegin + t), g, q);
          mmaM16N8K16<T>(dvAcc[t], pFrag, doFrag);
          mmaM16N8K16<T>(dkAcc[t], dsFrag, qFrag);
        }
      }

      // dQ += dRaw K for query rows block16 + {g, g + 8}, one dim tile at a time.
      for (int t = tileBegin; t < tileEnd; ++t) {
        float dqAcc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int k0 = 0; k0 < Bc; k0 += 16) {
          uint32_t dsFrag[4], kFrag[2];
          mma_tile::loadA(dsFrag, dsTile, tStride, block16, k0, g, q);
          mma_tile::loadBkMajor(kFrag, kTile, dStride, k0, 8 * t, g, q);
          mmaM16N8K16<T>(dqAcc, dsFrag, kFrag);
        }
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int i = i0 + block16 + g + (e >= 2 ? 8 : 0);
          const int d = 8 * t + 2 * q + (e & 1);
          if (i < a.qLen) atomicAdd(a.dqAccum + (headRow0 + i) * D + d, dqAcc[e]);
        }
      }
    }
  }

#pragma unroll
  for (int t = 0; t < kHalfTiles; ++t) {
    if (tileBegin + t >= tileEnd) break;
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int j = j0 + block16 + g + (e >= 2 ? 8 : 0);
      const int d = 8 * (tileBegin + t) + 2 * q + (e & 1);
      if (j < a.kvLen) {
        const int64_t at = ((static_cast<int64_t>(b) * a.kvHeads + kvHead) * a.kvLen + j) * D + d;
        a.dk[at] = fromFloat<T>(dkAcc[t][e]);
        a.dv[at] = fromFloat<T>(dvAcc[t][e]);
      }
    }
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
