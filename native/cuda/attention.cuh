// Attention forward kernels (FlashAttention-2 style: one pass over the keys with
// an online softmax, nothing of size Lq × Lk in memory). Kernel bodies; the
// launcher, which picks one and sizes the split, is in attention.cu.
//
// Shape letters: B batch, Hq query heads, Hkv key/value heads, Lq queries, Lk keys,
// D head dim; n = keys a sequence sees (Lk, or min(kvLengths[b], Lk) for a cache).
// Index names: i a query row, j a logical key, d a head-dim column.
//
//   attentionMmaKernel — fp16/bf16 on sm_80+, tensor cores. A block owns kBlockM
//     query rows of one (b, h) and walks key tiles of kBlockN; 4 warps, each owning
//     kBlockM / 4 rows as m16 tiles. Q is loaded once into shared memory; K and V
//     tiles arrive by cp.async into two buffers that alternate: V_t is in flight
//     while S = Q·K_tᵀ is computed, K_{t+1} while O += P·V_t is. Fragments come
//     from shared memory through ldmatrix (.trans for V); S, the row max and sum
//     and O stay in fp32 registers. P is rounded to the input type for the second
//     mma, as FlashAttention does.
//   attentionSimtKernel — any dtype, any arch (fp32, and the fp16/bf16 fallback
//     before sm_80): SIMT FMA on 16 × 32 tiles staged through shared memory as fp32.
//   attentionCombineKernel — split-KV (flash-decoding): when one pass has too few
//     blocks to fill the GPU, each block takes a chunk of the key tiles and writes
//     its rows' partial (m, l, acc) in fp32; this kernel merges them.
//
// Both forward kernels walk only the key tiles in attn::keyRange, skip a tile
// that attn::tileVisible rules out (block-uniform, before any load), and test
// elements with attn::visible only in tiles attn::tileFullyVisible does not clear.
// The head dim is a template bucket (64, 128, 256) zero-filled beyond D.
//
// What a Hopper (sm_90a) version would change: wgmma.mma_async with both operands
// read straight from shared memory (no ldmatrix, a warpgroup of 4 warps per 64
// rows) instead of mma.sync; K/V tiles brought in by TMA (cp.async.bulk.tensor)
// against mbarriers instead of per-thread cp.async, in a deeper ring of stages;
// warp specialization: a producer warp issuing the TMA loads with few registers
// (setmaxnreg) and consumer warpgroups doing the math; and FA3's ping-pong, two
// consumer warpgroups alternating so that one's softmax (exp on the SFU) overlaps
// the other's GEMMs, plus intra-warpgroup overlap of softmax with the next
// Q·Kᵀ. This file is the mma.sync (sm_80+) design, which also runs on sm_90.
#pragma once

#include <cstdint>

#include "../core/attention_mask.h"
#include "../core/op_params.h"
#include "common.cuh"
#include "ptx.cuh"

namespace tessera::TESSERA_CUDA_NS {

constexpr int kAttentionThreads = 128;  // 4 warps in every forward kernel
constexpr float kLog2e = 1.4426950408889634f;

// What the launcher decides, beside AttentionParams.
struct AttentionLaunch {
  int64_t qTiles = 1;       // ceil(Lq / kBlockM)
  int splits = 1;           // key chunks per (b, h, query tile); 1 = no split
  bool vectorLoads = false; // q, k, v rows are 16-byte aligned 8-element chunks
  // Split-KV partials, fp32, row = (b·Hq + h)·Lq + i: acc [splits][rows][D] (the
  // unnormalized Σ p·v), rowMax and rowSum [splits][rows] (m in natural-log units).
  float* partialAcc = nullptr;
  float* partialMax = nullptr;
  float* partialSum = nullptr;
};

// ---------------------------------------------------------------------------
// What both forward kernels share.

// The (b, h, query tile, split) of this block and the key tiles it walks.
struct AttentionBlock {
  int64_t b, h, kvHead;
  int64_t i0, i1;    // query rows [i0, i1), clipped to Lq
  int64_t n;         // keys this sequence sees
  int64_t offset;    // n − Lq: query i sits at i' = i + offset
  int64_t tileBegin, tileEnd;  // key tiles [tileBegin, tileEnd) of kBlockN keys
  int split;
};

template <int kBlockM, int kBlockN>
__device__ __forceinline__ AttentionBlock attentionBlock(const AttentionParams& p, const AttentionLaunch& launch) {
  AttentionBlock blk;
  blk.split = static_cast<int>(blockIdx.x % launch.splits);
  const int64_t qTile = blockIdx.x / launch.splits;
  blk.h = blockIdx.y;
  blk.b = blockIdx.z;
  blk.kvHead = blk.h / (p.qHeads / p.kvHeads);
  blk.i0 = qTile * kBlockM;
  blk.i1 = blk.i0 + kBlockM < p.qLen ? blk.i0 + kBlockM : p.qLen;
  blk.n = attn::visibleKeys(p, blk.b);
  blk.offset = blk.n - p.qLen;
  const attn::KeyRange range = attn::keyRange(p.mask, blk.i0, blk.i1, blk.offset, blk.n);
  blk.tileBegin = blk.tileEnd = 0;
  if (range.first <= range.last) {
    const int64_t first = range.first / kBlockN, last = range.last / kBlockN;
    const int64_t perSplit = (last - first + launch.splits) / launch.splits;
    blk.tileBegin = first + blk.split * perSplit;
    blk.tileEnd = blk.tileBegin + perSplit < last + 1 ? blk.tileBegin + perSplit : last + 1;
    if (blk.tileBegin > blk.tileEnd) blk.tileBegin = blk.tileEnd;
  }
  return blk;
}

// Keys [j0, j1) of tile t, clipped to n.
template <int kBlockN>
__device__ __forceinline__ int64_t tileKeyEnd(const AttentionBlock& blk, int64_t t) {
  const int64_t j1 = (t + 1) * kBlockN;
  return j1 < blk.n ? j1 : blk.n;
}

// The first tile at or after t that holds a visible pair (tileEnd when none).
// Every thread computes the same answer, so the skip is block-uniform.
template <int kBlockN>
__device__ __forceinline__ int64_t nextVisibleTile(const AttentionParams& p, const AttentionBlock& blk, int64_t t) {
  while (t < blk.tileEnd &&
         !attn::tileVisible(p.mask, blk.i0, blk.i1, t * kBlockN, tileKeyEnd<kBlockN>(blk, t), blk.offset, blk.n)) {
    ++t;
  }
  return t;
}

// True when no element of tile t needs the mask test: every key exists and the
// layout clears the whole tile.
template <int kBlockN>
__device__ __forceinline__ bool tileNeedsNoMask(const AttentionParams& p, const AttentionBlock& blk, int64_t t) {
  return (t + 1) * kBlockN <= blk.n &&
         attn::tileFullyVisible(p.mask, blk.i0, blk.i1, t * kBlockN, (t + 1) * kBlockN, blk.offset);
}

// Whether key j is hidden from query i: past the ends or masked out.
__device__ __forceinline__ bool hiddenPair(const AttentionParams& p, const AttentionBlock& blk, int i, int j) {
  return i >= p.qLen || j >= blk.n || !attn::visible(p.mask, i, i + blk.offset, j, blk.n);
}

// The final score of a visible pair from its dot product: scale, softcap, ALiBi.
// Positions are int: the launcher keeps Lq and Lk below 2^31.
struct ScoreRule {
  float scale, softcap, slope;
  __device__ __forceinline__ float operator()(float dot, int ip, int j) const {
    float s = dot * scale;
    if (softcap > 0.0f) s = softcap * tanhf(s / softcap);
    return s - slope * static_cast<float>(ip > j ? ip - j : j - ip);
  }
};

__device__ __forceinline__ ScoreRule scoreRule(const AttentionParams& p, const AttentionBlock& blk) {
  return ScoreRule{p.scale, p.softcap, p.alibiSlopes != nullptr ? p.alibiSlopes[blk.h] : 0.0f};
}

// exp(s − ref) as exp2; ref = the running max, or 0 while it is −∞ so that a row
// with nothing visible yet gives exp(−∞) = 0 rather than NaN.
__device__ __forceinline__ float softmaxReference(float rowMax) { return rowMax == -INFINITY ? 0.0f : rowMax; }
__device__ __forceinline__ float expRelative(float s, float ref) { return exp2f((s - ref) * kLog2e); }

// Row i's result, given its running max m, its sum l and element d of Σ p·v:
// the output (acc / l, or 0 when nothing was visible) and lse, or, in split
// mode, the partial (m, l, acc) of this block's key chunk. Element writes with
// d < 0 only write the row statistics.
struct RowWriter {
  const AttentionParams& p;
  const AttentionLaunch& launch;
  const AttentionBlock& blk;

  __device__ __forceinline__ int64_t row(int64_t i) const { return (blk.b * p.qHeads + blk.h) * p.qLen + i; }
  __device__ __forceinline__ int64_t partialRow(int64_t i) const {
    return blk.split * (p.batch * p.qHeads * p.qLen) + row(i);
  }

  template <typename T>
  __device__ __forceinline__ void element(int64_t i, int64_t d, float acc, float l) const {
    if (launch.splits > 1) {
      launch.partialAcc[partialRow(i) * p.headDim + d] = acc;
    } else {
      static_cast<T*>(p.out.data)[row(i) * p.headDim + d] = fromFloat<T>(l > 0.0f ? acc / l : 0.0f);
    }
  }

  __device__ __forceinline__ void stats(int64_t i, float m, float l) const {
    if (launch.splits > 1) {
      launch.partialMax[partialRow(i)] = m;
      launch.partialSum[partialRow(i)] = l;
    } else if (p.lse.data != nullptr) {
      static_cast<float*>(p.lse.data)[row(i)] = l > 0.0f ? m + logf(l) : -INFINITY;
    }
  }
};

// ---------------------------------------------------------------------------
// Tensor-core kernel (T = Half or BF16; elements handled as raw 16-bit bits).

// Shared-memory tiles are rows of kD 16-bit elements, kD / 8 16-byte chunks,
// chunk c of row r stored at chunk c ^ (r % 8): the 8 rows one ldmatrix reads
// land in 8 different bank groups with no padding (which would not fit D = 256).
template <int kD>
__device__ __forceinline__ int swizzled(int r, int chunk) {
  static_assert(kD % 64 == 0, "swizzling needs at least 8 chunks a row");
  return r * kD + ((chunk ^ (r & 7)) * 8);
}

template <int kBlockM, int kBlockN, int kD>
constexpr size_t attentionMmaSharedBytes() {
  return static_cast<size_t>(kBlockM + 2 * kBlockN) * kD * sizeof(uint16_t);
}

// Copies rows [0, kRows) of a tile into shared memory (swizzled), rowSource(r)
// giving the global row or null for a row that does not exist (zero-filled), as
// are the columns from D to kD. vector: cp.async in 16-byte chunks (the caller
// commits); otherwise element by element, visible after the next barrier all
// the same. anyRow: a 16-byte aligned global address, the source operand of a
// chunk that reads nothing (cp.async still wants a valid global address).
template <int kRows, int kD, typename RowSource>
__device__ __forceinline__ void loadTile16(uint16_t* tile, int D, bool vector, const uint16_t* anyRow,
                                           RowSource rowSource) {
  constexpr int kChunks = kD / 8;
  static_assert(kRows * kChunks % kAttentionThreads == 0, "a tile splits evenly over the threads");
#pragma unroll
  for (int k = 0; k < kRows * kChunks / kAttentionThreads; ++k) {
    const int c = threadIdx.x + k * kAttentionThreads;
    const int r = c / kChunks, chunk = c % kChunks;
    const uint16_t* src = rowSource(r);
    int valid = src != nullptr ? D - chunk * 8 : 0;
    valid = valid < 0 ? 0 : (valid > 8 ? 8 : valid);
    uint16_t* dst = tile + swizzled<kD>(r, chunk);
    if (vector) {
      cpAsync<16>(dst, valid > 0 ? src + chunk * 8 : anyRow, valid * 2);
    } else {
      uint16_t v[8];
#pragma unroll
      for (int e = 0; e < 8; ++e) v[e] = e < valid ? src[chunk * 8 + e] : 0;
      *reinterpret_cast<uint4*>(dst) = make_uint4(v[0] | static_cast<uint32_t>(v[1]) << 16,
                                                  v[2] | static_cast<uint32_t>(v[3]) << 16,
                                                  v[4] | static_cast<uint32_t>(v[5]) << 16,
                                                  v[6] | static_cast<uint32_t>(v[7]) << 16);
    }
  }
}

// Two fp32 values rounded to T and packed as an mma register (lower index low).
template <typename T>
__device__ __forceinline__ uint32_t packRounded(float low, float high) {
  return fromFloat<T>(low).bits | static_cast<uint32_t>(fromFloat<T>(high).bits) << 16;
}

template <typename T, int kD, int kBlockM, int kBlockN>
__global__ void __launch_bounds__(kAttentionThreads) attentionMmaKernel(AttentionParams p, AttentionLaunch launch) {
  constexpr int kWarps = kAttentionThreads / kWarpSize;
  constexpr int kMTiles = kBlockM / (16 * kWarps);  // m16 tiles per warp
  constexpr int kNTiles = kBlockN / 8;              // n8 tiles of scores per row tile
  constexpr int kDTiles = kD / 8;                   // n8 tiles of output columns
  static_assert(kBlockM % (16 * kWarps) == 0 && kBlockN % 16 == 0, "whole mma tiles");

  TESSERA_DYNAMIC_SHARED(uint16_t, shared);
  uint16_t* qTile = shared;
  uint16_t* kTile = qTile + kBlockM * kD;
  uint16_t* vTile = kTile + kBlockN * kD;

  const AttentionBlock blk = attentionBlock<kBlockM, kBlockN>(p, launch);
  const RowWriter writer{p, launch, blk};
  const int D = static_cast<int>(p.headDim);
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int group = lane / 4, quad = lane % 4;  // g and q of the fragment layouts (ptx.cuh)
  const int matrix = lane / 8, matrixRow = lane % 8;  // the ldmatrix row this lane addresses
  const int warpRow = warp * kMTiles * 16;

  const uint16_t* q = static_cast<const uint16_t*>(p.q.data) + blk.b * p.q.strides[0] + blk.h * p.q.strides[1];
  const uint16_t* k = static_cast<const uint16_t*>(p.k.data) + blk.b * p.k.strides[0] + blk.kvHead * p.k.strides[1];
  const uint16_t* v = static_cast<const uint16_t*>(p.v.data) + blk.b * p.v.strides[0] + blk.kvHead * p.v.strides[1];
  auto loadKeys = [&](uint16_t* tile, const uint16_t* base, int64_t rowStride, int64_t t) {
    loadTile16<kBlockN, kD>(tile, D, launch.vectorLoads, base, [&](int r) -> const uint16_t* {
      const int64_t j = t * kBlockN + r;
      return j < blk.n ? base + attn::keyRow(p, blk.b, blk.n, j) * rowStride : nullptr;
    });
  };

  loadTile16<kBlockM, kD>(qTile, D, launch.vectorLoads, q, [&](int r) -> const uint16_t* {
    return blk.i0 + r < p.qLen ? q + (blk.i0 + r) * p.q.strides[2] : nullptr;
  });
  int64_t t = nextVisibleTile<kBlockN>(p, blk, blk.tileBegin);
  if (t < blk.tileEnd) loadKeys(kTile, k, p.k.strides[2], t);
  cpAsyncCommit();

  const ScoreRule score = scoreRule(p, blk);
  const int rowBase = static_cast<int>(blk.i0) + warpRow + group;  // this lane's row g of m tile 0
  const int offset = static_cast<int>(blk.offset);
  const int dSteps = (D + 15) / 16;  // k16 steps of Q·Kᵀ, and n16 pairs of output tiles
  float acc[kMTiles][kDTiles][4] = {};
  float rowMax[kMTiles][2], rowSum[kMTiles][2];  // rows g and g + 8 of each m tile
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
    rowMax[mt][0] = rowMax[mt][1] = -INFINITY;
    rowSum[mt][0] = rowSum[mt][1] = 0.0f;
  }

  while (t < blk.tileEnd) {
    cpAsyncWait<0>();
    __syncthreads();  // K_t (and Q) landed; every warp is done reading the previous V
    loadKeys(vTile, v, p.v.strides[2], t);
    cpAsyncCommit();
    // Tile tests here, while few registers are live (the layout loops and the
    // 64-bit divisions of a block mask need registers of their own).
    const int64_t next = nextVisibleTile<kBlockN>(p, blk, t + 1);

    // The mask of this lane's scores, one bit per (n8 tile, column) of each row,
    // worked out before the score registers are live.
    static_assert(kNTiles * 2 <= 32, "a row's mask bits fit in 32");
    uint32_t hiddenBits[kMTiles][2] = {};
    if (!tileNeedsNoMask<kBlockN>(p, blk, t)) {
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int i = rowBase + mt * 16 + 8 * half;
#pragma unroll
          for (int bit = 0; bit < 2 * kNTiles; ++bit) {
            const int j = static_cast<int>(t * kBlockN) + (bit / 2) * 8 + 2 * quad + bit % 2;
            if (hiddenPair(p, blk, i, j)) hiddenBits[mt][half] |= 1u << bit;
          }
        }
      }
    }

    float s[kMTiles][kNTiles][4] = {};
#pragma unroll
    for (int ks = 0; ks < kD / 16; ++ks) {
      if (ks >= dSteps) break;
      uint32_t a[kMTiles][4];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
        ldmatrix<4>(a[mt], qTile + swizzled<kD>(warpRow + mt * 16 + (matrix % 2) * 8 + matrixRow, ks * 2 + matrix / 2));
      }
#pragma unroll
      for (int np = 0; np < kNTiles / 2; ++np) {
        uint32_t b[4];
        ldmatrix<4>(b, kTile + swizzled<kD>(np * 16 + (matrix / 2) * 8 + matrixRow, ks * 2 + matrix % 2));
        const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          mmaM16N8K16<T>(s[mt][2 * np], a[mt], b0);
          mmaM16N8K16<T>(s[mt][2 * np + 1], a[mt], b1);
        }
      }
    }

    // Online softmax: scores, new row max (over the 4 lanes of a quad, which hold
    // one row), rescale of the running sum and output, probabilities.
    const int j0 = static_cast<int>(t * kBlockN);
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int i = rowBase + mt * 16 + 8 * half;
        float tileMax = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
          for (int e = 2 * half; e < 2 * half + 2; ++e) {
            const int j = j0 + nt * 8 + 2 * quad + e % 2;
            const bool hidden = (hiddenBits[mt][half] >> (2 * nt + e % 2)) & 1u;
            s[mt][nt][e] = hidden ? -INFINITY : score(s[mt][nt][e], i + offset, j);
            tileMax = fmaxf(tileMax, s[mt][nt][e]);
          }
        }
        tileMax = fmaxf(tileMax, __shfl_xor_sync(kFullWarpMask, tileMax, 1));
        tileMax = fmaxf(tileMax, __shfl_xor_sync(kFullWarpMask, tileMax, 2));
        const float newMax = fmaxf(rowMax[mt][half], tileMax);
        const float ref = softmaxReference(newMax);
        const float rescale = expRelative(rowMax[mt][half], ref);
        rowMax[mt][half] = newMax;
        float sum = 0.0f;
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
          for (int e = 2 * half; e < 2 * half + 2; ++e) {
            s[mt][nt][e] = expRelative(s[mt][nt][e], ref);
            sum += s[mt][nt][e];
          }
        }
        rowSum[mt][half] = rowSum[mt][half] * rescale + sum;  // this lane's share; the quad is summed at the end
#pragma unroll
        for (int dt = 0; dt < kDTiles; ++dt) {
          acc[mt][dt][2 * half] *= rescale;
          acc[mt][dt][2 * half + 1] *= rescale;
        }
      }
    }

    cpAsyncWait<0>();
    __syncthreads();  // V_t landed; every warp is done reading K_t
    if (next < blk.tileEnd) loadKeys(kTile, k, p.k.strides[2], next);
    cpAsyncCommit();

    // O += P·V: the score accumulators of two n8 tiles are, register for
    // register, the A fragment of one k16 step (ptx.cuh layouts).
#pragma unroll
    for (int ks = 0; ks < kBlockN / 16; ++ks) {
      uint32_t a[kMTiles][4];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
        a[mt][0] = packRounded<T>(s[mt][2 * ks][0], s[mt][2 * ks][1]);
        a[mt][1] = packRounded<T>(s[mt][2 * ks][2], s[mt][2 * ks][3]);
        a[mt][2] = packRounded<T>(s[mt][2 * ks + 1][0], s[mt][2 * ks + 1][1]);
        a[mt][3] = packRounded<T>(s[mt][2 * ks + 1][2], s[mt][2 * ks + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < kDTiles / 2; ++dp) {
        if (dp >= dSteps) break;
        uint32_t b[4];
        ldmatrix<4, true>(b, vTile + swizzled<kD>(ks * 16 + (matrix % 2) * 8 + matrixRow, dp * 2 + matrix / 2));
        const uint32_t b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          mmaM16N8K16<T>(acc[mt][2 * dp], a[mt], b0);
          mmaM16N8K16<T>(acc[mt][2 * dp + 1], a[mt], b1);
        }
      }
    }
    t = next;
  }
  cpAsyncWait<0>();  // nothing may be left in flight at exit (Q when no tile was visible)

#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float l = rowSum[mt][half];
      l += __shfl_xor_sync(kFullWarpMask, l, 1);
      l += __shfl_xor_sync(kFullWarpMask, l, 2);
      const int i = rowBase + mt * 16 + 8 * half;
      if (i >= p.qLen) continue;
#pragma unroll
      for (int dt = 0; dt < kDTiles; ++dt) {
        const int d = dt * 8 + 2 * quad;
        if (d < D) writer.element<T>(i, d, acc[mt][dt][2 * half], l);
        if (d + 1 < D) writer.element<T>(i, d + 1, acc[mt][dt][2 * half + 1], l);
      }
      if (quad == 0) writer.stats(i, rowMax[mt][half], l);
    }
  }
}

// ---------------------------------------------------------------------------
// SIMT kernel (any T; fp32 in shared memory).

constexpr int kSimtBlockM = 16, kSimtBlockN = 32;

template <int kD>
constexpr size_t attentionSimtSharedBytes() {
  // Q [16][kD], K [32][kD + 1] (padded: the score loop reads a column), V [32][kD],
  // P [16][32], and per row the max, sum and rescale factor.
  return (static_cast<size_t>(kSimtBlockM) * kD + kSimtBlockN * (kD + 1) + kSimtBlockN * kD +
          kSimtBlockM * kSimtBlockN + 3 * kSimtBlockM) * sizeof(float);
}

template <typename T, int kD>
__global__ void __launch_bounds__(kAttentionThreads) attentionSimtKernel(AttentionParams p, AttentionLaunch launch) {
  constexpr int BM = kSimtBlockM, BN = kSimtBlockN;
  constexpr int kRowsPerWarp = BM / (kAttentionThreads / kWarpSize);
  constexpr int kColumnThreads = kAttentionThreads / BM;  // threads sharing an output row
  constexpr int kOutPerThread = kD / kColumnThreads;
  static_assert(BN == kWarpSize && kD % kColumnThreads == 0, "a warp lane per key, whole output columns");

  TESSERA_DYNAMIC_SHARED(float, shared);
  float* qs = shared;                 // [BM][kD]
  float* ks = qs + BM * kD;           // [BN][kD + 1]
  float* vs = ks + BN * (kD + 1);     // [BN][kD]
  float* ps = vs + BN * kD;           // [BM][BN]
  float* rowMax = ps + BM * BN;
  float* rowSum = rowMax + BM;
  float* rowRescale = rowSum + BM;

  const AttentionBlock blk = attentionBlock<BM, BN>(p, launch);
  const RowWriter writer{p, launch, blk};
  const ScoreRule score = scoreRule(p, blk);
  const int D = static_cast<int>(p.headDim);
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;

  const T* q = static_cast<const T*>(p.q.data) + blk.b * p.q.strides[0] + blk.h * p.q.strides[1];
  const T* k = static_cast<const T*>(p.k.data) + blk.b * p.k.strides[0] + blk.kvHead * p.k.strides[1];
  const T* v = static_cast<const T*>(p.v.data) + blk.b * p.v.strides[0] + blk.kvHead * p.v.strides[1];

  for (int e = threadIdx.x; e < BM * kD; e += kAttentionThreads) {
    const int r = e / kD, d = e % kD;
    const int64_t i = blk.i0 + r;
    qs[e] = i < p.qLen && d < D ? toFloat(q[i * p.q.strides[2] + d]) : 0.0f;
  }
  if (threadIdx.x < BM) {
    rowMax[threadIdx.x] = -INFINITY;
    rowSum[threadIdx.x] = 0.0f;
  }

  // Output: thread owns row threadIdx.x / kColumnThreads, columns c, c + kColumnThreads, ...
  const int outRow = threadIdx.x / kColumnThreads, outColumn = threadIdx.x % kColumnThreads;
  float acc[kOutPerThread] = {};

  for (int64_t t = nextVisibleTile<BN>(p, blk, blk.tileBegin); t < blk.tileEnd;
       t = nextVisibleTile<BN>(p, blk, t + 1)) {
    const int64_t j0 = t * BN;
    __syncthreads();  // the previous tile's K, V and P are no longer read
    for (int e = threadIdx.x; e < BN * kD; e += kAttentionThreads) {
      const int r = e / kD, d = e % kD;
      const int64_t j = j0 + r;
      float kv = 0.0f, vv = 0.0f;
      if (j < blk.n && d < D) {
        const int64_t row = attn::keyRow(p, blk.b, blk.n, j);
        kv = toFloat(k[row * p.k.strides[2] + d]);
        vv = toFloat(v[row * p.v.strides[2] + d]);
      }
      ks[r * (kD + 1) + d] = kv;
      vs[e] = vv;
    }
    __syncthreads();

    // Scores: lane = key, each warp kRowsPerWarp rows, whose dot products share
    // each read of the key.
    const bool unmasked = tileNeedsNoMask<BN>(p, blk, t);
    const int warpRow = warp * kRowsPerWarp;
    float dots[kRowsPerWarp] = {};
    for (int d = 0; d < D; ++d) {
      const float kd = ks[lane * (kD + 1) + d];
#pragma unroll
      for (int rr = 0; rr < kRowsPerWarp; ++rr) dots[rr] = fmaf(qs[(warpRow + rr) * kD + d], kd, dots[rr]);
    }
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
      const int r = warpRow + rr;
      const int i = static_cast<int>(blk.i0) + r, j = static_cast<int>(j0) + lane;
      const bool hidden = !unmasked && hiddenPair(p, blk, i, j);
      const float s = hidden ? -INFINITY : score(dots[rr], i + static_cast<int>(blk.offset), j);
      const float newMax = fmaxf(rowMax[r], warpAllReduce(s, MaxOp{}));
      const float ref = softmaxReference(newMax);
      const float prob = expRelative(s, ref);
      ps[r * BN + lane] = prob;
      const float sum = warpAllReduce(prob, SumOp{});
      __syncwarp();  // every lane has read rowMax[r] before lane 0 changes it
      if (lane == 0) {
        const float rescale = expRelative(rowMax[r], ref);
        rowRescale[r] = rescale;
        rowSum[r] = rowSum[r] * rescale + sum;
        rowMax[r] = newMax;
      }
    }
    __syncthreads();

    const float rescale = rowRescale[outRow];
#pragma unroll
    for (int c = 0; c < kOutPerThread; ++c) {
      const int d = outColumn + c * kColumnThreads;
      float a = acc[c] * rescale;
      for (int jj = 0; jj < BN; ++jj) a = fmaf(ps[outRow * BN + jj], vs[jj * kD + d], a);
      acc[c] = a;
    }
  }
  __syncthreads();  // rowMax and rowSum as the last tile left them

  const int64_t i = blk.i0 + outRow;
  if (i >= p.qLen) return;
  const float l = rowSum[outRow];
#pragma unroll
  for (int c = 0; c < kOutPerThread; ++c) {
    const int d = outColumn + c * kColumnThreads;
    if (d < D) writer.element<T>(i, d, acc[c], l);
  }
  if (outColumn == 0) writer.stats(i, rowMax[outRow], l);
}

// ---------------------------------------------------------------------------
// Split-KV combine: one warp per row merges the splits' (m_s, l_s, acc_s):
// M = max m_s, w_s = exp(m_s − M), out = Σ w_s·acc_s / Σ w_s·l_s, lse = M + log Σ w_s·l_s.

constexpr int kCombineRowsPerBlock = kAttentionThreads / kWarpSize;

template <typename T>
__global__ void __launch_bounds__(kAttentionThreads) attentionCombineKernel(AttentionParams p, AttentionLaunch launch) {
  const int64_t rows = p.batch * p.qHeads * p.qLen;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kCombineRowsPerBlock + threadIdx.x / kWarpSize;
  if (row >= rows) return;
  const int lane = threadIdx.x % kWarpSize;
  const int64_t D = p.headDim;

  float maxAll = -INFINITY;
  for (int s = 0; s < launch.splits; ++s) maxAll = fmaxf(maxAll, launch.partialMax[s * rows + row]);
  const float ref = softmaxReference(maxAll);
  float sum = 0.0f;
  for (int s = 0; s < launch.splits; ++s) {
    sum += launch.partialSum[s * rows + row] * expRelative(launch.partialMax[s * rows + row], ref);
  }
  T* out = static_cast<T*>(p.out.data) + row * D;
  for (int64_t d = lane; d < D; d += kWarpSize) {
    float a = 0.0f;
    for (int s = 0; s < launch.splits; ++s) {
      a += launch.partialAcc[(s * rows + row) * D + d] * expRelative(launch.partialMax[s * rows + row], ref);
    }
    out[d] = fromFloat<T>(sum > 0.0f ? a / sum : 0.0f);
  }
  if (lane == 0 && p.lse.data != nullptr) {
    static_cast<float*>(p.lse.data)[row] = sum > 0.0f ? maxAll + logf(sum) : -INFINITY;
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
