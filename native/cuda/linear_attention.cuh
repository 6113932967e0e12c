// Linear attention kernels (Katharopoulos et al. 2020; FAVOR+, Choromanski et al.
// 2021); the math is in core/op_params.h (LinearAttentionParams).
//
// Shape letters: B batch, Hq query heads, Hkv key/value heads, G = Hq / Hkv query
// heads per kv head, L length, Dk key dim, Dv value dim, F features (the width of
// φ: Dk for elu/relu, numFeatures for FAVOR+), C the chunk length.
//
// Everything reduces to one fp32 primitive, the chunked scan:
//   out_i = Σ_{j ∈ J(i)} (a_i · b_j) v_j  (+ a_i · S0),   J(i) = {j ≤ i}, {j ≥ i} or all,
// run chunk by chunk with the state S = Σ b_j v_jᵀ [width, valueWidth] in shared
// memory: inside a chunk the sum is a small masked matmul, across chunks it goes
// through S. Appending a column of ones to v makes the last output column the
// normalizer (φ(q_i) · z_i) in the same pass, and the state's last column z.
// The backward is four such scans over fp32 copies of the features (see the
// launcher). The features themselves, and their gradients, are row kernels.
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/op_params.h"
#include "common.cuh"

namespace tessera::TESSERA_CUDA_NS {

// ---------------------------------------------------------------------------
// The chunked scan.

constexpr int kScanChunk = 64;     // C: positions per chunk
constexpr int kScanThreads = 256;  // 16 x 16 threads, each 4 rows of the chunk
constexpr int kScanTileWidth = 32;   // columns of a and b per shared tile
constexpr int kScanValueTile = 32;   // value columns per block (the Dv split)

enum class ScanOrder : int32_t {
  kCausal = 0,      // j ≤ i: chunks first to last
  kAntiCausal = 1,  // j ≥ i: chunks last to first (the backward's reverse scan)
  kFull = 2,        // every j: S over all chunks first, then the outputs
};

// An fp32 operand [B, heads, L, ld] (only the first width columns are read).
// perQueryHead: it has Hq heads (query head kvh·G + g), else Hkv.
struct ScanOperand {
  const float* data = nullptr;
  int64_t ld = 0;
  bool perQueryHead = false;
};

struct ScanArgs {
  ScanOperand a, b, v;  // b and v share their head kind
  float* out = nullptr;  // [B, heads of a, L, outLd], columns [0, valueWidth) (+ 1)
  int64_t outLd = 0;
  int64_t width = 0, valueWidth = 0;  // of a and b; of v and out
  int64_t len = 0, groups = 1, kvHeads = 1;
  ScanOrder order = ScanOrder::kCausal;
  // v with an implicit ones column at valueWidth: out column valueWidth is then the
  // normalizer Σ (a_i · b_j) and the state carries z = Σ b_j beside S. The blocks of
  // the first value split compute it, so it costs no split of its own.
  bool normalizer = false;
  // Optional starting state, read and rewritten in place: state columns <
  // stateValueDim come from stateS [B·Hkv, width, stateValueDim], the one after (the
  // normalizer's) from stateZ [B·Hkv, width]; all times stateScale[B·Hkv] (FAVOR+'s
  // rescaling to a new key stabilizer; null = 1).
  float* stateS = nullptr;
  float* stateZ = nullptr;
  const float* stateScale = nullptr;
  int64_t stateValueDim = 0;
  // Segments: with a long L and few (batch, head) pairs, blockIdx.z splits the
  // sequence into runs of chunksPerSegment chunks, each scanned by its own block
  // from a starting state in segmentStates [B·Hkv, segments, width, stateColumns]:
  // pass 1 (segmentStatesOnly) writes each segment's Σ b_jᵀ v_j there,
  // segmentPrefixKernel turns them into starting states, pass 2 scans. Without
  // segmentStates the one segment starts from stateS / zeros.
  int64_t chunksPerSegment = 0;
  float* segmentStates = nullptr;
  bool segmentStatesOnly = false;

  __host__ __device__ int64_t stateColumns() const { return valueWidth + (normalizer ? 1 : 0); }
};

// Floats of dynamic shared memory a scan block needs.
inline int64_t scanSharedFloats(int64_t width) {
  return width * (kScanValueTile + 1) + 2 * kScanChunk * (kScanTileWidth + 1) + kScanChunk * kScanValueTile +
         kScanChunk * (kScanChunk + 1);
}

__device__ __forceinline__ int64_t scanHeadOffset(const ScanOperand& x, int64_t b, int64_t kvh, int64_t g,
                                                  const ScanArgs& s) {
  const int64_t head = x.perQueryHead ? (b * s.kvHeads + kvh) * s.groups + g : b * s.kvHeads + kvh;
  return head * s.len * x.ld;
}

// Element (row, col) of the carried state, rescaled; col < stateColumns().
__device__ __forceinline__ float carriedState(const ScanArgs& s, int64_t bkv, int64_t row, int64_t col) {
  const float scale = s.stateScale ? s.stateScale[bkv] : 1.0f;
  const float x = col < s.stateValueDim ? s.stateS[(bkv * s.width + row) * s.stateValueDim + col]
                                        : s.stateZ[bkv * s.width + row];
  // A fresh FAVOR+ state (scale 0) contributes nothing, without a 0 · Inf.
  return scale == 0.0f ? 0.0f : x * scale;
}

__device__ __forceinline__ void storeCarriedState(const ScanArgs& s, int64_t bkv, int64_t row, int64_t col, float x) {
  if (col < s.stateValueDim) {
    s.stateS[(bkv * s.width + row) * s.stateValueDim + col] = x;
  } else {
    s.stateZ[bkv * s.width + row] = x;
  }
}

// tile [C][ldTile] = rows t0.. of x (at base), columns col0 .. col0 + tileCols, zero
// outside [0, len) x [0, cols): padded rows and columns then add nothing.
__device__ __forceinline__ void scanLoadTile(float* tile, int ldTile, int tileCols, const float* x, int64_t ld,
                                             int64_t t0, int64_t len, int64_t col0, int64_t cols) {
  for (int idx = threadIdx.x; idx < kScanChunk * tileCols; idx += kScanThreads) {
    const int r = idx / tileCols, c = idx % tileCols;
    const int64_t t = t0 + r, col = col0 + c;
    tile[r * ldTile + c] = (t < len && col < cols) ? x[t * ld + col] : 0.0f;
  }
}

// Grid (ceil(valueWidth / kScanValueTile), B·Hkv, segments), kScanThreads threads,
// scanSharedFloats(width) floats of dynamic shared memory. Each block owns
// kScanValueTile value columns of one (batch, kv head) and walks its G query heads.
__global__ void __launch_bounds__(kScanThreads) linearScanKernel(ScanArgs s) {
  constexpr int C = kScanChunk, TW = kScanTileWidth, VT = kScanValueTile;
  TESSERA_DYNAMIC_SHARED(float, shared);
  float* state = shared;                    // [width][VT]
  float* zState = state + s.width * VT;     // [width], the normalizer's column
  float* tileA = zState + s.width;          // [C][TW + 1]
  float* tileB = tileA + C * (TW + 1);      // [C][TW + 1]
  float* tileV = tileB + C * (TW + 1);      // [C][VT]
  float* scores = tileV + C * VT;           // [C][C + 1]

  const int64_t col0 = static_cast<int64_t>(blockIdx.x) * VT;
  const int64_t bkv = blockIdx.y, batch = bkv / s.kvHeads, kvh = bkv % s.kvHeads;
  const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
  const int64_t valueCols = s.valueWidth - col0 < VT ? s.valueWidth - col0 : VT;
  const int aHeads = s.a.perQueryHead ? static_cast<int>(s.groups) : 1;
  const int bHeads = s.b.perQueryHead ? static_cast<int>(s.groups) : 1;
  const bool ownsNormalizer = s.normalizer && blockIdx.x == 0;  // uniform per block
  const int64_t stateCols = s.stateColumns();

  const int64_t chunks = (s.len + C - 1) / C;
  const int64_t segments = gridDim.z, seg = blockIdx.z;
  const int64_t firstChunk = s.segmentStates ? seg * s.chunksPerSegment : 0;
  const int64_t endChunk = s.segmentStates && firstChunk + s.chunksPerSegment < chunks
                               ? firstChunk + s.chunksPerSegment
                               : chunks;
  float* segmentState = s.segmentStates ? s.segmentStates + (bkv * segments + seg) * s.width * stateCols : nullptr;
  const bool fromSegment = segmentState && !s.segmentStatesOnly;
  const bool fromCarried = !segmentState && s.stateS;

  for (int64_t idx = tid; idx < s.width * (VT + 1); idx += kScanThreads) {
    // idx < width · VT: S[row][col0 + c]; beyond: z[row], the normalizer column.
    const bool z = idx >= s.width * VT;
    const int64_t row = z ? idx - s.width * VT : idx / VT;
    const int64_t col = z ? s.valueWidth : col0 + idx % VT;
    const bool present = z ? ownsNormalizer : col < s.valueWidth;
    float x = 0.0f;
    if (present && fromSegment) x = segmentState[row * stateCols + col];
    if (present && fromCarried) x = carriedState(s, bkv, row, col);
    (z ? zState[row] : state[idx]) = x;
  }

  // S += Σ_{j in chunk} b_jᵀ v_j (and z += Σ b_j) over the b heads.
  auto accumulateState = [&](int64_t t0) {
    for (int gb = 0; gb < bHeads; ++gb) {
      const float* bBase = s.b.data + scanHeadOffset(s.b, batch, kvh, gb, s);
      const float* vBase = s.v.data + scanHeadOffset(s.v, batch, kvh, gb, s);
      __syncthreads();  // the previous readers of tileV are done
      scanLoadTile(tileV, VT, VT, vBase, s.v.ld, t0, s.len, col0, s.valueWidth);
      for (int64_t w0 = 0; w0 < s.width; w0 += TW) {
        __syncthreads();
        scanLoadTile(tileB, TW + 1, TW, bBase, s.b.ld, t0, s.len, w0, s.width);
        __syncthreads();
        // A warp's 32 lanes cover the 32 value columns of state rows warp + 8i, so
        // each tileV load serves 4 rows and the tileB loads are broadcasts.
        static_assert(VT == kWarpSize && TW == 4 * (kScanThreads / kWarpSize), "4 state rows per warp");
        const int col = tid % kWarpSize, warp = tid / kWarpSize;
        float acc[4] = {};
        for (int j = 0; j < C; ++j) {
          const float v = tileV[j * VT + col];
          for (int i = 0; i < 4; ++i) acc[i] += tileB[j * (TW + 1) + warp + 8 * i] * v;
        }
        for (int i = 0; i < 4; ++i) {
          if (w0 + warp + 8 * i < s.width) state[(w0 + warp + 8 * i) * VT + col] += acc[i];
        }
        if (ownsNormalizer) {
          // Column sums of the tile: 8 threads per column, 8 rows each.
          const int r = tid % TW, j0 = (tid / TW) * (C / 8);
          float acc = 0.0f;
          for (int j = j0; j < j0 + C / 8; ++j) acc += tileB[j * (TW + 1) + r];
          if (w0 + r < s.width) atomicAdd(&zState[w0 + r], acc);
        }
      }
    }
  };

  // out_i for the chunk's rows: a_i · S, plus the masked in-chunk products when
  // `inChunk` (causal orders).
  auto computeOutputs = [&](int64_t t0, bool inChunk) {
    const bool causal = s.order == ScanOrder::kCausal;
    for (int g = 0; g < aHeads; ++g) {
      const float* aBase = s.a.data + scanHeadOffset(s.a, batch, kvh, g, s);
      float o[4][2] = {};
      float den[4] = {};  // this thread's share of the normalizer: k ≡ tx (mod 16), its columns of P
      for (int gb = 0; gb < (inChunk ? bHeads : 1); ++gb) {
        const float* bBase = s.b.data + scanHeadOffset(s.b, batch, kvh, gb, s);
        float p[4][4] = {};
        for (int64_t w0 = 0; w0 < s.width; w0 += TW) {
          __syncthreads();
          scanLoadTile(tileA, TW + 1, TW, aBase, s.a.ld, t0, s.len, w0, s.width);
          if (inChunk) scanLoadTile(tileB, TW + 1, TW, bBase, s.b.ld, t0, s.len, w0, s.width);
          __syncthreads();
          const int kEnd = s.width - w0 < TW ? static_cast<int>(s.width - w0) : TW;
          if (gb == 0) {
            for (int k = 0; k < kEnd; ++k) {
              const float s0 = state[(w0 + k) * VT + tx], s1 = state[(w0 + k) * VT + tx + 16];
              for (int r = 0; r < 4; ++r) {
                const float x = tileA[(ty + 16 * r) * (TW + 1) + k];
                o[r][0] += x * s0;
                o[r][1] += x * s1;
              }
            }
            if (ownsNormalizer) {
              for (int k = tx; k < kEnd; k += 16) {
                for (int r = 0; r < 4; ++r) den[r] += tileA[(ty + 16 * r) * (TW + 1) + k] * zState[w0 + k];
              }
            }
          }
          if (inChunk) {
            for (int k = 0; k < kEnd; ++k) {
              float bk[4];
              for (int c = 0; c < 4; ++c) bk[c] = tileB[(tx + 16 * c) * (TW + 1) + k];
              for (int r = 0; r < 4; ++r) {
                const float x = tileA[(ty + 16 * r) * (TW + 1) + k];
                for (int c = 0; c < 4; ++c) p[r][c] += x * bk[c];
              }
            }
          }
        }
        if (inChunk) {
          // Rows and columns are positions in the same chunk, so the local indices
          // compare like the global ones.
          for (int r = 0; r < 4; ++r) {
            for (int c = 0; c < 4; ++c) {
              const int i = ty + 16 * r, j = tx + 16 * c;
              const bool visible = causal ? j <= i : j >= i;
              const float x = visible ? p[r][c] : 0.0f;
              scores[i * (C + 1) + j] = x;
              den[r] += x;
            }
          }
          const float* vBase = s.v.data + scanHeadOffset(s.v, batch, kvh, gb, s);
          scanLoadTile(tileV, VT, VT, vBase, s.v.ld, t0, s.len, col0, s.valueWidth);
          __syncthreads();
          for (int j = 0; j < C; ++j) {
            const float v0 = tileV[j * VT + tx], v1 = tileV[j * VT + tx + 16];
            for (int r = 0; r < 4; ++r) {
              const float x = scores[(ty + 16 * r) * (C + 1) + j];
              o[r][0] += x * v0;
              o[r][1] += x * v1;
            }
          }
        }
      }
      float* outBase = s.out + (((batch * s.kvHeads + kvh) * aHeads + g) * s.len) * s.outLd;
      if (ownsNormalizer) {
        // The 16 threads of a row are 16 neighbouring lanes of one warp.
        for (int r = 0; r < 4; ++r) {
          for (int offset = 8; offset > 0; offset /= 2) den[r] += __shfl_xor_sync(kFullWarpMask, den[r], offset);
        }
      }
      for (int r = 0; r < 4; ++r) {
        const int64_t t = t0 + ty + 16 * r;
        if (t >= s.len) continue;
        if (tx < valueCols) outBase[t * s.outLd + col0 + tx] = o[r][0];
        if (tx + 16 < valueCols) outBase[t * s.outLd + col0 + tx + 16] = o[r][1];
        if (ownsNormalizer && tx == 0) outBase[t * s.outLd + s.valueWidth] = den[r];
      }
    }
  };

  // Writes the block's share of the state (its columns, and z when it owns it).
  auto storeState = [&](auto store) {
    __syncthreads();
    for (int64_t idx = tid; idx < s.width * (VT + 1); idx += kScanThreads) {
      const bool z = idx >= s.width * VT;
      const int64_t row = z ? idx - s.width * VT : idx / VT;
      const int64_t col = z ? s.valueWidth : col0 + idx % VT;
      if (z ? ownsNormalizer : col < s.valueWidth) store(row, col, z ? zState[row] : state[idx]);
    }
  };

  if (s.segmentStatesOnly) {
    for (int64_t c = firstChunk; c < endChunk; ++c) accumulateState(c * C);
    storeState([&](int64_t row, int64_t col, float x) { segmentState[row * stateCols + col] = x; });
    return;
  }

  if (s.order == ScanOrder::kFull) {
    // A segment starts from the total over every segment already.
    if (!segmentState) {
      for (int64_t c = 0; c < chunks; ++c) accumulateState(c * C);
    }
    for (int64_t c = firstChunk; c < endChunk; ++c) computeOutputs(c * C, false);
  } else {
    const int64_t steps = endChunk - firstChunk;
    for (int64_t step = 0; step < steps; ++step) {
      const int64_t c = s.order == ScanOrder::kCausal ? firstChunk + step : endChunk - 1 - step;
      computeOutputs(c * C, true);
      // After the last chunk the state feeds only a carried state's write-back.
      if (step + 1 < steps || fromCarried) accumulateState(c * C);
    }
  }

  if (fromCarried) storeState([&](int64_t row, int64_t col, float x) { storeCarriedState(s, bkv, row, col, x); });
}

// Grid (ceil(width · stateColumns / kElementwiseThreads), B·Hkv): turns each
// segment's own sum in segmentStates into the state it starts from: the sum over
// the segments before it (kCausal), after it (kAntiCausal) or over all (kFull),
// plus the carried state, which then gets the sum over all, in place.
__global__ void segmentPrefixKernel(ScanArgs s, int64_t segments) {
  const int64_t bkv = blockIdx.y, perSegment = s.width * s.stateColumns();
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= perSegment) return;
  const int64_t row = idx / s.stateColumns(), col = idx % s.stateColumns();
  float* states = s.segmentStates + bkv * segments * perSegment + idx;
  const float carried = s.stateS ? carriedState(s, bkv, row, col) : 0.0f;
  float total = carried;
  for (int64_t seg = 0; seg < segments; ++seg) total += states[seg * perSegment];
  float run = carried;
  for (int64_t step = 0; step < segments; ++step) {
    const int64_t seg = s.order == ScanOrder::kAntiCausal ? segments - 1 - step : step;
    const float own = states[seg * perSegment];
    states[seg * perSegment] = s.order == ScanOrder::kFull ? total : run;
    run += own;
  }
  if (s.stateS) storeCarriedState(s, bkv, row, col, total);
}

// ---------------------------------------------------------------------------
// Feature maps, one warp per row of x [R, Dk] into φ [R, F] (fp32).

constexpr int kFeatureThreads = 256;
constexpr int kFeatureRowsPerBlock = kFeatureThreads / kWarpSize;

struct FeatureArgs {
  FeatureMap map = FeatureMap::kElu;
  int64_t rows = 0, keyDim = 0, features = 0;
  const float* favorW = nullptr;  // [F, Dk]
  float inputScale = 1.0f;        // Dk^(-1/4), FAVOR+'s x' = x · inputScale
  // FAVOR+: each row's largest exponent goes to rowMax. Queries: φ with that as
  // their stabilizer. Keys: the exponents h = W x' − ‖x'‖²/2 only, which
  // keyFeaturesKernel finishes once the max over the whole sequence is known.
  float* rowMax = nullptr;
  bool keys = false;
};

__device__ __forceinline__ float eluFeature(float x) { return x > 0.0f ? x + 1.0f : expf(x); }

constexpr int kProjectionTile = 64;       // rows and features per block
constexpr int kProjectionTileDepth = 32;  // Dk per shared tile

// FAVOR+'s projection W x' for every row: proj [R, F] = (x · inputScale) Wᵀ, a
// tiled GEMM (16 x 16 threads, 4 x 4 outputs each, fp32). Grid (ceil(R / 64),
// ceil(F / 64)), kFeatureThreads threads.
template <typename T>
__global__ void __launch_bounds__(kFeatureThreads) favorProjectionKernel(const T* x, float* proj, FeatureArgs f) {
  constexpr int R = kProjectionTile, K = kProjectionTileDepth;
  __shared__ float xTile[R][K + 1];
  __shared__ float wTile[R][K + 1];
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * R, feature0 = static_cast<int64_t>(blockIdx.y) * R;
  const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < f.keyDim; k0 += K) {
    __syncthreads();
    for (int idx = tid; idx < R * K; idx += kFeatureThreads) {
      const int r = idx / K, c = idx % K;
      const int64_t d = k0 + c, row = row0 + r, feature = feature0 + r;
      xTile[r][c] = row < f.rows && d < f.keyDim ? toFloat(x[row * f.keyDim + d]) * f.inputScale : 0.0f;
      wTile[r][c] = feature < f.features && d < f.keyDim ? f.favorW[feature * f.keyDim + d] : 0.0f;
    }
    __syncthreads();
    for (int k = 0; k < K; ++k) {
      float w[4];
      for (int c = 0; c < 4; ++c) w[c] = wTile[tx + 16 * c][k];
      for (int r = 0; r < 4; ++r) {
        const float xv = xTile[ty + 16 * r][k];
        for (int c = 0; c < 4; ++c) acc[r][c] += xv * w[c];
      }
    }
  }
  for (int r = 0; r < 4; ++r) {
    const int64_t row = row0 + ty + 16 * r;
    if (row >= f.rows) continue;
    for (int c = 0; c < 4; ++c) {
      const int64_t feature = feature0 + tx + 16 * c;
      if (feature < f.features) proj[row * f.features + feature] = acc[r][c];
    }
  }
}

// elu + 1 and relu straight from x; FAVOR+ from favorProjectionKernel's W x' in phi,
// in place: h = W x' − ‖x'‖²/2 and its row max c, then (queries) exp(h − c) / √F.
template <typename T>
__global__ void __launch_bounds__(kFeatureThreads) featureKernel(const T* x, float* phi, FeatureArgs f) {
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kFeatureRowsPerBlock + warp;
  if (row >= f.rows) return;
  const T* xRow = x + row * f.keyDim;
  float* phiRow = phi + row * f.features;
  if (f.map != FeatureMap::kFavor) {
    for (int64_t d = lane; d < f.keyDim; d += kWarpSize) {
      const float xv = toFloat(xRow[d]);
      phiRow[d] = f.map == FeatureMap::kElu ? eluFeature(xv) : (xv > 0.0f ? xv : 0.0f);
    }
    return;
  }
  float sq = 0.0f;
  for (int64_t d = lane; d < f.keyDim; d += kWarpSize) {
    const float xv = toFloat(xRow[d]) * f.inputScale;
    sq += xv * xv;
  }
  sq = warpAllReduce(sq, SumOp{});
  float maxLogit = -INFINITY;
  for (int64_t feature = lane; feature < f.features; feature += kWarpSize) {
    const float h = phiRow[feature] - 0.5f * sq;
    phiRow[feature] = h;
    maxLogit = MaxOp{}(maxLogit, h);
  }
  maxLogit = warpAllReduce(maxLogit, MaxOp{});
  if (lane == 0) f.rowMax[row] = maxLogit;
  if (f.keys) return;
  const float norm = 1.0f / sqrtf(static_cast<float>(f.features));
  for (int64_t feature = lane; feature < f.features; feature += kWarpSize) {
    phiRow[feature] = expf(phiRow[feature] - maxLogit) * norm;
  }
}

// One block per (batch, kv head): the keys' stabilizer c = the max of every logit
// over features and positions, raised to the state's stored c when a state is
// carried (the state is then rescaled by exp(old c − c), which is ≤ 1).
// keyShift[bkv] = c, stateScale[bkv] = that factor; stateMax is rewritten here,
// before the scan, which reads only stateScale.
__global__ void __launch_bounds__(kRowBlockThreads) favorKeyStabilizerKernel(const float* keyRowMax, int64_t len,
                                                                             float* keyShift, float* stateScale,
                                                                             float* stateMax) {
  const int64_t bkv = blockIdx.x;
  float m = -INFINITY;
  for (int64_t t = threadIdx.x; t < len; t += kRowBlockThreads) m = MaxOp{}(m, keyRowMax[bkv * len + t]);
  m = rowMax<kRowBlockThreads>(m);
  if (threadIdx.x != 0) return;
  float scale = 1.0f;
  if (stateMax) {
    const float old = stateMax[bkv];
    if (old > m) m = old;
    // A fresh state's −Inf (or any state whose S and z are 0) scales to 0.
    scale = old == -INFINITY ? 0.0f : expf(old - m);
    stateMax[bkv] = m;
  }
  keyShift[bkv] = m;
  stateScale[bkv] = scale;
}

// φ = exp(h − c) / √F over key logits h [B·Hkv, L, F], in place.
__global__ void keyFeaturesKernel(float* phi, const float* keyShift, int64_t perHead, int64_t total,
                                  float norm) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    phi[i] = expf(phi[i] - keyShift[i / perHead]) * norm;
  }
}

// ---------------------------------------------------------------------------
// Elementwise glue.

// vAug [R, Dv + 1] = [v, 1] in fp32: the ones column makes the scan carry z.
template <typename T>
__global__ void augmentValuesKernel(const T* v, float* vAug, int64_t rows, int64_t valueDim) {
  const int64_t ld = valueDim + 1, total = rows * ld;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = i / ld, col = i % ld;
    vAug[i] = col < valueDim ? toFloat(v[row * valueDim + col]) : 1.0f;
  }
}

// What the normalizer gets beside φ(q_i) · z_i: eps, or for FAVOR+ eps in the units
// of the unstabilized features, eps · e^(−c_q − c_k), so that the stabilizers cancel
// exactly (as the CPU backend: the result depends neither on them nor on how a
// state was fed, and the backward may hold them constant).
struct DenominatorArgs {
  float eps = 1e-6f;
  const float* queryMax = nullptr;  // FAVOR+: c_q [B·Hq·L]
  const float* keyShift = nullptr;  // FAVOR+: c_k [B·Hkv]
  int64_t len = 0, qHeads = 1, groups = 1, kvHeads = 1;
};

// 1 / (normalizer + eps term) for query row `row` of [B·Hq·L]; 0 where that is not
// positive (a FAVOR+ normalizer that underflowed: its numerator did too, and the
// row gets 0, as the CPU backend's).
__device__ __forceinline__ float inverseDenominator(const DenominatorArgs& d, int64_t row, float normalizer) {
  float den = normalizer;
  if (d.queryMax) {
    const int64_t bq = row / d.len, b = bq / d.qHeads, h = bq % d.qHeads;
    den += expf(logf(d.eps) - d.queryMax[row] - d.keyShift[b * d.kvHeads + h / d.groups]);
  } else {
    den += d.eps;
  }
  return den > 0.0f ? 1.0f / den : 0.0f;
}

// out [R, Dv] = num / den from the scan's [R, Dv + 1] = [num, normalizer].
template <typename T>
__global__ void normalizeKernel(const float* numDen, T* out, int64_t rows, int64_t valueDim, DenominatorArgs d) {
  const int64_t total = rows * valueDim;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = i / valueDim, col = i % valueDim;
    const float* r = numDen + row * (valueDim + 1);
    out[i] = fromFloat<T>(r[col] * inverseDenominator(d, row, r[valueDim]));
  }
}

template <typename T>
__global__ void castKernel(const float* x, T* out, int64_t total) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = fromFloat<T>(x[i]);
  }
}

// The gradients at the numerator and the normalizer, in place of [num, den], one
// warp per row: with a = 1 / den (inverseDenominator), out = num · a and dout = g,
//   dnum = g · a,   dden = −(g · num) · a².
template <typename T>
__global__ void __launch_bounds__(kFeatureThreads) outputGradKernel(float* numDen, const T* dout, int64_t rows,
                                                                     int64_t valueDim, DenominatorArgs den) {
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kFeatureRowsPerBlock + warp;
  if (row >= rows) return;
  float* r = numDen + row * (valueDim + 1);
  const T* g = dout + row * valueDim;
  const float a = inverseDenominator(den, row, r[valueDim]);
  float dot = 0.0f;
  for (int64_t d = lane; d < valueDim; d += kWarpSize) {
    const float gd = toFloat(g[d]);
    dot += gd * r[d];
    r[d] = gd * a;
  }
  dot = warpAllReduce(dot, SumOp{});
  __syncwarp();  // every lane has read den before lane 0 overwrites it
  if (lane == 0) r[valueDim] = -dot * a * a;
}

// dx [R, Dk] from dφ [R, F] through the feature map, one warp per row. FAVOR+ (c
// held constant, as it cancels): with u_f = dφ_f · φ_f,
//   dx = Dk^(−1/4) · (Wᵀ u − x' Σ_f u_f).
// Dynamic shared memory: kFeatureRowsPerBlock · F floats for FAVOR+, else 0.
template <typename T>
__global__ void __launch_bounds__(kFeatureThreads) featureGradKernel(const T* x, const float* phi,
                                                                      const float* dphi, T* dx, FeatureArgs f) {
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kFeatureRowsPerBlock + warp;
  if (row >= f.rows) return;
  const T* xRow = x + row * f.keyDim;
  const float* phiRow = phi + row * f.features;
  const float* dphiRow = dphi + row * f.features;
  T* dxRow = dx + row * f.keyDim;
  if (f.map != FeatureMap::kFavor) {
    for (int64_t d = lane; d < f.keyDim; d += kWarpSize) {
      const float xv = toFloat(xRow[d]);
      // elu + 1 below 0 is exp(x), its own derivative, which φ already holds.
      const float slope = xv > 0.0f ? 1.0f : (f.map == FeatureMap::kElu ? phiRow[d] : 0.0f);
      dxRow[d] = fromFloat<T>(dphiRow[d] * slope);
    }
    return;
  }
  TESSERA_DYNAMIC_SHARED(float, shared);
  float* u = shared + warp * f.features;
  float sum = 0.0f;
  for (int64_t feature = lane; feature < f.features; feature += kWarpSize) {
    const float uf = dphiRow[feature] * phiRow[feature];
    u[feature] = uf;
    sum += uf;
  }
  sum = warpAllReduce(sum, SumOp{});
  __syncwarp();  // a shuffle is no memory fence: the u stores must be visible to every lane
  for (int64_t d = lane; d < f.keyDim; d += kWarpSize) {
    float acc = 0.0f;
    for (int64_t feature = 0; feature < f.features; ++feature) acc += f.favorW[feature * f.keyDim + d] * u[feature];
    const float xPrime = toFloat(xRow[d]) * f.inputScale;
    dxRow[d] = fromFloat<T>(f.inputScale * (acc - xPrime * sum));
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
