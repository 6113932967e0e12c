// Attention backward, FlashAttention-2 style: the probabilities are recomputed
// from the forward's saved lse instead of being stored. Kernel bodies; the
// launcher is attention_backward.cu. The math (op_params.h, AttentionParams):
//
//   raw = q_i·k_j,  u = scale·raw,  s = softcap·tanh(u / softcap) (or u),
//   s -= slope_h·|i' − j| (ALiBi),  P = exp(s − lse_i) on visible keys, else 0
//   dV_j = Σ_i P_ij dO_i          dP_ij = dO_i·v_j        D_i = dO_i·out_i
//   dS_ij = P_ij (dP_ij − D_i)    dRaw_ij = dS_ij · ds/draw
//   ds/draw = scale·(1 − tanh²) with softcap, scale without; ALiBi adds a constant
//   dQ_i = Σ_j dRaw_ij k_j        dK_j = Σ_i dRaw_ij q_i
// A row with lse = −∞ saw no key: its P is 0 (not exp(+∞)), so its gradients are 0.
//
// Shape letters: B batch, Hq query heads, Hkv key/value heads (G = Hq / Hkv query
// heads share one), Lq queries, Lk keys, D head dim; Br × Bc the query × key tile.
//
// Three kernels:
//   1. attnBwdRowDotKernel: D_i = rowsum(dO ∘ out) into an fp32 workspace (a warp a row).
//   2. attnBwdKernel: one block per (key tile of Bc = 64, kv head, batch). It keeps
//      its K and V tile in shared memory (fp32, whatever the input dtype) and
//      dK, dV in registers, and walks the query heads of its GQA group and their
//      query tiles, skipping tiles the mask hides entirely (attn::tileVisible).
//      dK and dV are owned by the block, so they need no atomics; dQ gets
//      contributions from every key tile and is summed with fp32 atomicAdd into
//      a zeroed workspace.
//   3. attnBwdStoreDqKernel: the fp32 dQ workspace rounded to the output dtype.
// dQ's atomics make its last bits depend on the order blocks finish in (on a GPU;
// the emulator runs blocks in order).
//
// attnBwdKernel is the fp32 SIMT path, exact to fp32 arithmetic for every dtype:
// fp32 always, and fp16 / bf16 where the tensor-core twin (attnBwdMmaKernel,
// attention_backward_mma.cuh: sm_80+, D <= 128) does not apply. Its shared rows
// are padded to D + 1 floats so that threads of a warp reading the same column of
// different keys hit different banks.
#pragma once

// common.cuh first: under the emulator it defines the __host__ __device__ that
// attention_mask.h's functions are declared with.
#include "common.cuh"
#include "../core/attention_mask.h"
#include "../core/op_params.h"

namespace tessera::TESSERA_CUDA_NS {

constexpr int kAttnBwdThreads = 256;
constexpr int kAttnBwdKeyTile = 64;  // Bc
// Threads of a block share a query row in groups of Bc: 256 / 64 = 4 row lanes.
constexpr int kAttnBwdRowLanes = kAttnBwdThreads / kAttnBwdKeyTile;

// Query tile rows for a head-dim bucket: smaller for D = 256 so that K, V, Q and
// dO tiles in fp32 fit the 163 KiB of shared memory an sm_80 block may opt into.
template <int kMaxD>
constexpr int attnBwdQueryTile() { return kMaxD > 128 ? 8 : 16; }

// Bytes of dynamic shared memory attnBwdKernel needs for head dim D.
inline constexpr int64_t attnBwdSharedBytes(int64_t headDim, int queryTile) {
  const int64_t stride = headDim + 1;
  return 4 * (2 * kAttnBwdKeyTile * stride      // K, V
              + 2 * queryTile * stride          // Q, dO
              + 2 * queryTile * kAttnBwdKeyTile  // P, dRaw
              + 2 * queryTile);                 // lse, D_i
}

// Element strides of a [B, H, L, D] operand along B, H, L (D has stride 1).
struct HeadStrides {
  int64_t batch = 0, head = 0, row = 0;
};

template <typename T>
struct AttnBwdArgs {
  const T *q, *k, *v, *dout;  // dout and the gradients are contiguous
  HeadStrides qStrides, kStrides, vStrides;
  const float* lse;     // [B, Hq, Lq]
  const float* rowDot;  // D_i, [B, Hq, Lq]
  float* dqAccum;       // [B, Hq, Lq, D] fp32, zeroed before the launch
  T *dk, *dv;           // [B, Hkv, Lk, D]
  int batch, qHeads, kvHeads, qLen, kvLen, headDim;
  float scale, softcap;        // softcap 0 = off
  const float* alibiSlopes;    // [Hq] or null
  AttentionMask mask;
  // Every row of q, k, v and dout starts 16-byte aligned (the tensor-core kernel
  // then loads 8 16-bit elements at a time).
  bool vectorLoads;
};

// D_i = Σ_d dO[i][d] · out[i][d] for every row of [B·Hq·Lq, D]; a warp per row.
template <typename T>
__global__ void __launch_bounds__(kRowBlockThreads)
attnBwdRowDotKernel(const T* dout, const T* out, float* rowDot, int64_t rows, int headDim) {
  const int64_t row = rowOfThread<kWarpSize>();
  if (row >= rows) return;  // whole warps only: rows are per warp
  const int lane = threadIdx.x % kWarpSize;
  const T* doRow = dout + row * headDim;
  const T* outRow = out + row * headDim;
  float partial = 0.0f;
  for (int d = lane; d < headDim; d += kWarpSize) partial += toFloat(doRow[d]) * toFloat(outRow[d]);
  const float total = warpAllReduce(partial, SumOp{});
  if (lane == 0) rowDot[row] = total;
}

// dq = the fp32 accumulator rounded to T, grid-stride.
template <typename T>
__global__ void attnBwdStoreDqKernel(const float* dqAccum, T* dq, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < n; idx += stride) {
    dq[idx] = fromFloat<T>(dqAccum[idx]);
  }
}

// Copies rows [row0, row0 + rows) of one head of a [.., L, D] operand into a
// shared tile of `rows` × (D + 1) floats; rows past `len` become zeros.
template <typename T>
__device__ __forceinline__ void attnBwdLoadTile(float* tile, const T* head, int64_t rowStride, int row0, int rows,
                                                int len, int headDim) {
  const int stride = headDim + 1;
  for (int idx = threadIdx.x; idx < rows * headDim; idx += kAttnBwdThreads) {
    const int r = idx / headDim, d = idx % headDim;
    const int row = row0 + r;
    tile[r * stride + d] = row < len ? toFloat(head[row * rowStride + d]) : 0.0f;
  }
}

// Grid: (ceil(Lk / Bc), Hkv, B); kAttnBwdThreads threads; attnBwdSharedBytes(D, Br)
// of dynamic shared memory. D ≤ kMaxD.
template <typename T, int kMaxD>
__global__ void __launch_bounds__(kAttnBwdThreads)
attnBwdKernel(AttnBwdArgs<T> a) {
  constexpr int Br = attnBwdQueryTile<kMaxD>();
  constexpr int Bc = kAttnBwdKeyTile;
  constexpr int kRowsPerThread = Br / kAttnBwdRowLanes;  // score elements a thread owns
  constexpr int kDimsPerThread = kMaxD / kAttnBwdRowLanes;  // dK / dV elements per thread (and key)

  const int D = a.headDim;
  const int stride = D + 1;
  const int j0 = blockIdx.x * Bc;
  const int kvHead = blockIdx.y;
  const int b = blockIdx.z;
  // A thread owns key column c of the tile, for scores rows rowLane, rowLane + 4, …
  // and for dK / dV the dims rowLane, rowLane + 4, …
  const int c = threadIdx.x % Bc;
  const int rowLane = threadIdx.x / Bc;
  const int j = j0 + c;
  const int64_t offset = static_cast<int64_t>(a.kvLen) - a.qLen;  // i' = i + offset
  const int group = a.qHeads / a.kvHeads;

  TESSERA_DYNAMIC_SHARED(float, shared);
  float* kTile = shared;                 // [Bc][D + 1]
  float* vTile = kTile + Bc * stride;    // [Bc][D + 1]
  float* qTile = vTile + Bc * stride;    // [Br][D + 1]
  float* doTile = qTile + Br * stride;   // [Br][D + 1]
  float* pTile = doTile + Br * stride;   // [Br][Bc]
  float* dsTile = pTile + Br * Bc;       // [Br][Bc], dRaw
  float* lseTile = dsTile + Br * Bc;     // [Br]
  float* rowDotTile = lseTile + Br;      // [Br]

  const int keysHere = min(Bc, a.kvLen - j0);
  attnBwdLoadTile(kTile, a.k + b * a.kStrides.batch + kvHead * a.kStrides.head, a.kStrides.row, j0, Bc, a.kvLen, D);
  attnBwdLoadTile(vTile, a.v + b * a.vStrides.batch + kvHead * a.vStrides.head, a.vStrides.row, j0, Bc, a.kvLen, D);

  float dkAcc[kDimsPerThread];
  float dvAcc[kDimsPerThread];
#pragma unroll
  for (int e = 0; e < kDimsPerThread; ++e) dkAcc[e] = dvAcc[e] = 0.0f;

  for (int h = kvHead * group; h < (kvHead + 1) * group; ++h) {
    const int64_t headRow0 = (static_cast<int64_t>(b) * a.qHeads + h) * a.qLen;  // first row of [B, Hq, Lq]
    const T* qHead = a.q + b * a.qStrides.batch + h * a.qStrides.head;
    const T* doHead = a.dout + headRow0 * D;
    const float slope = a.alibiSlopes != nullptr ? a.alibiSlopes[h] : 0.0f;

    for (int i0 = 0; i0 < a.qLen; i0 += Br) {
      const int i1 = min(i0 + Br, a.qLen);
      // The same answer for every thread, so the barriers below are uniform.
      if (!attn::tileVisible(a.mask, i0, i1, j0, j0 + keysHere, offset, a.kvLen)) continue;
      const bool allVisible = attn::tileFullyVisible(a.mask, i0, i1, j0, j0 + keysHere, offset);

      __syncthreads();  // the previous tile's readers are done with Q, dO, P, dRaw
      attnBwdLoadTile(qTile, qHead, a.qStrides.row, i0, Br, a.qLen, D);
      attnBwdLoadTile(doTile, doHead, D, i0, Br, a.qLen, D);
      if (threadIdx.x < Br) {
        const int i = i0 + threadIdx.x;
        lseTile[threadIdx.x] = i < a.qLen ? a.lse[headRow0 + i] : -INFINITY;
        rowDotTile[threadIdx.x] = i < a.qLen ? a.rowDot[headRow0 + i] : 0.0f;
      }
      __syncthreads();

      // Scores q_r·k_c and dP = dO_r·v_c of this thread's (r, c) elements: d outer,
      // so each k and v element read from shared memory serves every row.
      float raw[kRowsPerThread], dp[kRowsPerThread];
#pragma unroll
      for (int e = 0; e < kRowsPerThread; ++e) raw[e] = dp[e] = 0.0f;
      if (j < a.kvLen) {
        const float* kRow = kTile + c * stride;
        const float* vRow = vTile + c * stride;
        for (int d = 0; d < D; ++d) {
          const float kd = kRow[d], vd = vRow[d];
#pragma unroll
          for (int e = 0; e < kRowsPerThread; ++e) {
            const int r = rowLane + e * kAttnBwdRowLanes;
            raw[e] += qTile[r * stride + d] * kd;
            dp[e] += doTile[r * stride + d] * vd;
          }
        }
      }

      // Probabilities and dRaw.
#pragma unroll
      for (int e = 0; e < kRowsPerThread; ++e) {
        const int r = rowLane + e * kAttnBwdRowLanes;
        const int i = i0 + r;
        const float lse = lseTile[r];
        float p = 0.0f, dRaw = 0.0f;
        // lse = −∞ also covers rows past Lq (and rows that see no key at all).
        if (j < a.kvLen && lse != -INFINITY &&
            (allVisible || attn::visible(a.mask, i, i + offset, j, a.kvLen))) {
          float s = a.scale * raw[e];
          float slopeOfRaw = a.scale;  // ds / draw
          if (a.softcap > 0.0f) {
            const float t = tanhf(s / a.softcap);
            s = a.softcap * t;
            slopeOfRaw = a.scale * (1.0f - t * t);
          }
          if (a.alibiSlopes != nullptr) s -= slope * fabsf(static_cast<float>(i + offset - j));
          p = expf(s - lse);
          dRaw = p * (dp[e] - rowDotTile[r]) * slopeOfRaw;
        }
        pTile[r * Bc + c] = p;
        dsTile[r * Bc + c] = dRaw;
      }
      __syncthreads();

      // dV_c += Σ_r P[r][c] dO_r and dK_c += Σ_r dRaw[r][c] q_r, on this thread's dims.
      for (int r = 0; r < Br; ++r) {
        const float p = pTile[r * Bc + c];
        const float dRaw = dsTile[r * Bc + c];
        const float* qRow = qTile + r * stride;
        const float* doRow = doTile + r * stride;
#pragma unroll
        for (int e = 0; e < kDimsPerThread; ++e) {
          const int d = rowLane + e * kAttnBwdRowLanes;
          if (d < D) {
            dvAcc[e] += p * doRow[d];
            dkAcc[e] += dRaw * qRow[d];
          }
        }
      }

      // dQ_r += Σ_c dRaw[r][c] k_c; other key tiles add to the same rows.
      for (int idx = threadIdx.x; idx < Br * D; idx += kAttnBwdThreads) {
        const int r = idx / D, d = idx % D;
        if (i0 + r >= a.qLen) continue;
        const float* dsRow = dsTile + r * Bc;
        float acc = 0.0f;
        for (int cc = 0; cc < keysHere; ++cc) acc += dsRow[cc] * kTile[cc * stride + d];
        atomicAdd(a.dqAccum + (headRow0 + i0 + r) * D + d, acc);
      }
    }
  }

  if (j >= a.kvLen) return;
  const int64_t outRow = ((static_cast<int64_t>(b) * a.kvHeads + kvHead) * a.kvLen + j) * D;
#pragma unroll
  for (int e = 0; e < kDimsPerThread; ++e) {
    const int d = rowLane + e * kAttnBwdRowLanes;
    if (d < D) {
      a.dk[outRow + d] = fromFloat<T>(dkAcc[e]);
      a.dv[outRow + d] = fromFloat<T>(dvAcc[e]);
    }
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
