// Linear attention launchers: features into fp32 workspaces, then chunked scans
// (linear_attention.cuh). Shape letters as there.
#include <algorithm>
#include <string>

#include "allocator.h"
#include "launch.h"
#include "linear_attention.cuh"

namespace tessera::TESSERA_CUDA_NS {

namespace {

// Carves one workspace allocation into fp32 arrays, each 16-byte aligned.
class FloatArena {
 public:
  int64_t reserve(int64_t floats) {
    const int64_t at = used_;
    used_ += ceilDiv(floats, 4) * 4;
    return at;
  }
  size_t bytes() const { return static_cast<size_t>(used_) * sizeof(float); }

 private:
  int64_t used_ = 0;
};

// The most dynamic shared memory any supported GPU gives a block (Hopper's 227 KiB;
// Ampere's is lower, which the opt-in call below reports).
constexpr size_t kMaxSharedBytes = 227 * 1024;

// Kernels past the default 48 KiB of dynamic shared memory must opt in; a request
// beyond the device's limit is an unsupported size, not a backend failure.
template <auto Kernel>
void allowSharedBytes(size_t bytes, const std::string& what) {
  if (bytes <= 48 * 1024) return;
  const cudaError_t err = bytes > kMaxSharedBytes ? cudaErrorInvalidValue
                          : cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                 static_cast<int>(bytes));
  if (err != cudaSuccess) {
    cudaGetLastError();
    fail(ErrorCode::kUnsupported, expected(what + " whose working set fits in shared memory", "linearAttention on CUDA",
                                           std::to_string(bytes) + " bytes"));
  }
}

// A segment is at least this many chunks: pass 1 repeats the state updates of the
// scan, so shorter segments would cost more than the parallelism they add.
constexpr int64_t kMinSegmentChunks = 2;
// Scan blocks to aim for per multiprocessor (two fit: 256 threads, ~60 KiB of
// shared memory at F = 128).
constexpr int64_t kScanBlocksPerSM = 2;

void launchScan(ScanArgs s, int64_t batch, const LaunchContext& ctx, CachingAllocator& allocator) {
  const size_t bytes = static_cast<size_t>(scanSharedFloats(s.width)) * sizeof(float);
  allowSharedBytes<linearScanKernel>(bytes, "a feature count (or value dim) of " + std::to_string(s.width));
  const int64_t heads = batch * s.kvHeads, splits = ceilDiv(s.valueWidth, kScanValueTile);
  const int64_t chunks = ceilDiv(s.len, kScanChunk);
  const int64_t wanted = ceilDiv(kScanBlocksPerSM * ctx.multiprocessors, splits * heads);
  int64_t segments = std::min(wanted, chunks / kMinSegmentChunks);
  if (segments < 2) {
    launchKernel<linearScanKernel>(dim3(static_cast<unsigned>(splits), static_cast<unsigned>(heads)), kScanThreads,
                                   bytes, ctx.stream, s);
    checkLaunch("linearScanKernel");
    return;
  }
  s.chunksPerSegment = ceilDiv(chunks, segments);
  segments = ceilDiv(chunks, s.chunksPerSegment);
  Workspace states(allocator, static_cast<size_t>(heads * segments * s.width * s.stateColumns()) * sizeof(float));
  s.segmentStates = states.as<float>();
  const dim3 grid(static_cast<unsigned>(splits), static_cast<unsigned>(heads), static_cast<unsigned>(segments));
  s.segmentStatesOnly = true;
  launchKernel<linearScanKernel>(grid, kScanThreads, bytes, ctx.stream, s);
  checkLaunch("linearScanKernel");
  launchKernel<segmentPrefixKernel>(
      dim3(static_cast<unsigned>(ceilDiv(s.width * s.stateColumns(), kElementwiseThreads)), static_cast<unsigned>(heads)),
      kElementwiseThreads, 0, ctx.stream, s, segments);
  checkLaunch("segmentPrefixKernel");
  s.segmentStatesOnly = false;
  launchKernel<linearScanKernel>(grid, kScanThreads, bytes, ctx.stream, s);
  checkLaunch("linearScanKernel");
}

unsigned rowBlocks(int64_t rows) { return static_cast<unsigned>(ceilDiv(rows, kFeatureRowsPerBlock)); }

// The sizes every launch below relies on: grid dims (y and z at most 65535, x 2^31 − 1).
void checkSizes(const LinearAttentionParams& p, const char* op) {
  if (p.batch * p.kvHeads > 65535) {
    fail(ErrorCode::kUnsupported, expected("batch · kvHeads of at most 65535", op,
                                           std::to_string(p.batch * p.kvHeads)));
  }
  if (ceilDiv(p.batch * p.qHeads * p.len, kFeatureRowsPerBlock) > INT32_MAX) {
    fail(ErrorCode::kUnsupported, expected("fewer than 2^34 rows", op, std::to_string(p.batch * p.qHeads * p.len)));
  }
  if (ceilDiv(p.features, kProjectionTile) > 65535) {
    fail(ErrorCode::kUnsupported, expected("at most 4194240 features", op, std::to_string(p.features)));
  }
}

// What the features need: fp32 φ(q) [B·Hq·L, F] and φ(k) [B·Hkv·L, F]; for FAVOR+
// keys also their stabilizer (and the state's rescaling, stateMax rewritten).
struct FeatureBuffers {
  float* phiQ;
  float* phiK;
  float* queryRowMax;  // FAVOR+ only: [B·Hq·L], c_q
  float* keyRowMax;   // FAVOR+ only: [B·Hkv·L]
  float* keyShift;    // FAVOR+ only: [B·Hkv]
  float* stateScale;  // FAVOR+ only: [B·Hkv]
};

FeatureArgs featureArgs(const LinearAttentionParams& p, int64_t rows) {
  FeatureArgs f;
  f.map = p.featureMap;
  f.rows = rows;
  f.keyDim = p.keyDim;
  f.features = p.features;
  f.favorW = p.favorW;
  f.inputScale = static_cast<float>(std::pow(static_cast<double>(p.keyDim), -0.25));
  return f;
}

template <typename T>
void computeFeatures(const LinearAttentionParams& p, const FeatureBuffers& buf, const LaunchContext& ctx) {
  const bool favor = p.featureMap == FeatureMap::kFavor;
  const int64_t rowsQ = p.batch * p.qHeads * p.len, rowsK = p.batch * p.kvHeads * p.len;
  FeatureArgs fq = featureArgs(p, rowsQ);
  FeatureArgs fk = featureArgs(p, rowsK);
  if (favor) {
    fq.rowMax = buf.queryRowMax;
    fk.rowMax = buf.keyRowMax;
    fk.keys = true;
    const unsigned featureBlocks = static_cast<unsigned>(ceilDiv(p.features, kProjectionTile));
    launchKernel<favorProjectionKernel<T>>(dim3(static_cast<unsigned>(ceilDiv(rowsQ, kProjectionTile)), featureBlocks),
                                           kFeatureThreads, 0, ctx.stream, static_cast<const T*>(p.q.data), buf.phiQ,
                                           fq);
    checkLaunch("favorProjectionKernel");
    launchKernel<favorProjectionKernel<T>>(dim3(static_cast<unsigned>(ceilDiv(rowsK, kProjectionTile)), featureBlocks),
                                           kFeatureThreads, 0, ctx.stream, static_cast<const T*>(p.k.data), buf.phiK,
                                           fk);
    checkLaunch("favorProjectionKernel");
  }
  launchKernel<featureKernel<T>>(rowBlocks(rowsQ), kFeatureThreads, 0, ctx.stream, static_cast<const T*>(p.q.data),
                                 buf.phiQ, fq);
  checkLaunch("featureKernel");
  launchKernel<featureKernel<T>>(rowBlocks(rowsK), kFeatureThreads, 0, ctx.stream, static_cast<const T*>(p.k.data),
                                 buf.phiK, fk);
  checkLaunch("featureKernel");
  if (!favor) return;

  const int64_t heads = p.batch * p.kvHeads;
  launchKernel<favorKeyStabilizerKernel>(static_cast<unsigned>(heads), kRowBlockThreads, 0, ctx.stream,
                                         static_cast<const float*>(buf.keyRowMax), p.len, buf.keyShift,
                                         buf.stateScale, p.stateMax);
  checkLaunch("favorKeyStabilizerKernel");
  const int64_t total = rowsK * p.features;
  const float norm = 1.0f / std::sqrt(static_cast<float>(p.features));
  launchKernel<keyFeaturesKernel>(elementwiseBlocks(total, ctx), kElementwiseThreads, 0, ctx.stream, buf.phiK,
                                  static_cast<const float*>(buf.keyShift), p.len * p.features, total, norm);
  checkLaunch("keyFeaturesKernel");
}

template <typename T>
void augmentValues(const LinearAttentionParams& p, float* vAug, const LaunchContext& ctx) {
  const int64_t rowsK = p.batch * p.kvHeads * p.len;
  launchKernel<augmentValuesKernel<T>>(elementwiseBlocks(rowsK * (p.valueDim + 1), ctx), kElementwiseThreads, 0,
                                       ctx.stream, static_cast<const T*>(p.v.data), vAug, rowsK, p.valueDim);
  checkLaunch("augmentValuesKernel");
}

// [num, den] [B·Hq·L, Dv + 1] = the scan of φ(q) against φ(k) and v, with the
// normalizer (v's implicit ones column).
void numeratorScan(const LinearAttentionParams& p, const FeatureBuffers& buf, const float* vAug, float* numDen,
                   bool withState, const LaunchContext& ctx, CachingAllocator& allocator) {
  ScanArgs s;
  s.a = {buf.phiQ, p.features, true};
  s.b = {buf.phiK, p.features, false};
  s.v = {vAug, p.valueDim + 1, false};
  s.out = numDen;
  s.outLd = p.valueDim + 1;
  s.width = p.features;
  s.valueWidth = p.valueDim;
  s.normalizer = true;
  s.len = p.len;
  s.groups = p.qHeads / p.kvHeads;
  s.kvHeads = p.kvHeads;
  s.order = p.causal ? ScanOrder::kCausal : ScanOrder::kFull;
  if (withState) {
    s.stateS = p.stateS;
    s.stateZ = p.stateZ;
    s.stateScale = p.featureMap == FeatureMap::kFavor ? buf.stateScale : nullptr;
    s.stateValueDim = p.valueDim;
  }
  launchScan(s, p.batch, ctx, allocator);
}

struct FeatureLayout {
  int64_t phiQ, phiK, queryRowMax, keyRowMax, keyShift, stateScale;
};

FeatureLayout reserveFeatures(const LinearAttentionParams& p, FloatArena& arena) {
  const int64_t rowsQ = p.batch * p.qHeads * p.len, rowsK = p.batch * p.kvHeads * p.len;
  const bool favor = p.featureMap == FeatureMap::kFavor;
  FeatureLayout l;
  l.phiQ = arena.reserve(rowsQ * p.features);
  l.phiK = arena.reserve(rowsK * p.features);
  l.queryRowMax = arena.reserve(favor ? rowsQ : 0);
  l.keyRowMax = arena.reserve(favor ? rowsK : 0);
  l.keyShift = arena.reserve(favor ? p.batch * p.kvHeads : 0);
  l.stateScale = arena.reserve(favor ? p.batch * p.kvHeads : 0);
  return l;
}

FeatureBuffers featureBuffers(const FeatureLayout& l, float* base) {
  return {base + l.phiQ, base + l.phiK, base + l.queryRowMax, base + l.keyRowMax, base + l.keyShift,
          base + l.stateScale};
}

DenominatorArgs denominatorArgs(const LinearAttentionParams& p, const FeatureBuffers& buf) {
  DenominatorArgs d;
  d.eps = p.eps;
  if (p.featureMap == FeatureMap::kFavor) {
    d.queryMax = buf.queryRowMax;
    d.keyShift = buf.keyShift;
  }
  d.len = p.len;
  d.qHeads = p.qHeads;
  d.groups = p.qHeads / p.kvHeads;
  d.kvHeads = p.kvHeads;
  return d;
}

}  // namespace

void launchLinearAttention(const LinearAttentionParams& p, const LaunchContext& ctx, CachingAllocator& allocator) {
  if (p.batch == 0 || p.len == 0) return;
  checkSizes(p, "linearAttention");
  const int64_t rowsQ = p.batch * p.qHeads * p.len, rowsK = p.batch * p.kvHeads * p.len;

  FloatArena arena;
  const FeatureLayout features = reserveFeatures(p, arena);
  const int64_t vAugAt = arena.reserve(rowsK * (p.valueDim + 1));
  const int64_t numDenAt = arena.reserve(rowsQ * (p.valueDim + 1));
  Workspace workspace(allocator, arena.bytes());
  float* base = workspace.as<float>();
  const FeatureBuffers buf = featureBuffers(features, base);

  dispatchFloating(p.q.dtype, "linearAttention", [&](auto tag) {
    using T = decltype(tag);
    computeFeatures<T>(p, buf, ctx);
    augmentValues<T>(p, base + vAugAt, ctx);
    numeratorScan(p, buf, base + vAugAt, base + numDenAt, p.stateS != nullptr, ctx, allocator);
    launchKernel<normalizeKernel<T>>(elementwiseBlocks(rowsQ * p.valueDim, ctx), kElementwiseThreads, 0, ctx.stream,
                                     static_cast<const float*>(base + numDenAt), static_cast<T*>(p.out.data), rowsQ,
                                     p.valueDim, denominatorArgs(p, buf));
    checkLaunch("normalizeKernel");
  });
}

// With D_i = [dnum_i, dden_i] (outputGradKernel), v̂_j = [v_j, 1] and the sums over
// j ≤ i (causal) or all j, and over i ≥ j or all i (and over the G query heads of a
// kv head):
//   dφ(q_i) = Σ_j φ(k_j) (v̂_j · D_i)      a scan of D against v̂ carrying φ(k)
//   dφ(k_j) = Σ_i φ(q_i) (D_i · v̂_j)      a reverse scan of v̂ against D carrying φ(q)
//   dv_j    = Σ_i dnum_i (φ(q_i) · φ(k_j)) a reverse scan of φ(k) against φ(q) carrying D
// after a forward scan that recomputes [num, den]. Each state is [F or Dv + 1, F or
// Dv] per block: O(F · Dv) memory per head beyond the fp32 copies of the operands.
void launchLinearAttentionBackward(const LinearAttentionBackwardParams& p, const LaunchContext& ctx,
                                   CachingAllocator& allocator) {
  const LinearAttentionParams& f = p.fwd;
  if (f.batch == 0 || f.len == 0) return;
  checkSizes(f, "linearAttentionBackward");
  const int64_t rowsQ = f.batch * f.qHeads * f.len, rowsK = f.batch * f.kvHeads * f.len;
  const int64_t F = f.features, Dv = f.valueDim;

  FloatArena arena;
  const FeatureLayout features = reserveFeatures(f, arena);
  const int64_t vAugAt = arena.reserve(rowsK * (Dv + 1));
  const int64_t gradAt = arena.reserve(rowsQ * (Dv + 1));
  const int64_t dPhiQAt = arena.reserve(rowsQ * F);
  const int64_t dPhiKAt = arena.reserve(rowsK * F);
  const int64_t dvAt = arena.reserve(rowsK * Dv);
  Workspace workspace(allocator, arena.bytes());
  float* base = workspace.as<float>();
  const FeatureBuffers buf = featureBuffers(features, base);
  float* vAug = base + vAugAt;
  float* grad = base + gradAt;

  dispatchFloating(f.q.dtype, "linearAttentionBackward", [&](auto tag) {
    using T = decltype(tag);
    computeFeatures<T>(f, buf, ctx);
    augmentValues<T>(f, vAug, ctx);
    numeratorScan(f, buf, vAug, grad, false, ctx, allocator);
    launchKernel<outputGradKernel<T>>(rowBlocks(rowsQ), kFeatureThreads, 0, ctx.stream, grad,
                                      static_cast<const T*>(p.dout.data), rowsQ, Dv, denominatorArgs(f, buf));
    checkLaunch("outputGradKernel");

    ScanArgs s;
    s.len = f.len;
    s.groups = f.qHeads / f.kvHeads;
    s.kvHeads = f.kvHeads;
    const ScanOrder forward = f.causal ? ScanOrder::kCausal : ScanOrder::kFull;
    const ScanOrder reverse = f.causal ? ScanOrder::kAntiCausal : ScanOrder::kFull;

    s.a = {grad, Dv + 1, true};
    s.b = {vAug, Dv + 1, false};
    s.v = {buf.phiK, F, false};
    s.out = base + dPhiQAt;
    s.outLd = F;
    s.width = Dv + 1;
    s.valueWidth = F;
    s.order = forward;
    launchScan(s, f.batch, ctx, allocator);

    s.a = {vAug, Dv + 1, false};
    s.b = {grad, Dv + 1, true};
    s.v = {buf.phiQ, F, true};
    s.out = base + dPhiKAt;
    s.order = reverse;
    launchScan(s, f.batch, ctx, allocator);

    s.a = {buf.phiK, F, false};
    s.b = {buf.phiQ, F, true};
    s.v = {grad, Dv + 1, true};
    s.out = base + dvAt;
    s.outLd = Dv;
    s.width = F;
    s.valueWidth = Dv;
    launchScan(s, f.batch, ctx, allocator);

    const bool favor = f.featureMap == FeatureMap::kFavor;
    const size_t shared = favor ? static_cast<size_t>(kFeatureRowsPerBlock * F) * sizeof(float) : 0;
    allowSharedBytes<featureGradKernel<T>>(shared, "a feature count of " + std::to_string(F));
    launchKernel<featureGradKernel<T>>(rowBlocks(rowsQ), kFeatureThreads, shared, ctx.stream,
                                       static_cast<const T*>(f.q.data), static_cast<const float*>(buf.phiQ),
                                       static_cast<const float*>(base + dPhiQAt), static_cast<T*>(p.dq.data),
                                       featureArgs(f, rowsQ));
    checkLaunch("featureGradKernel");
    launchKernel<featureGradKernel<T>>(rowBlocks(rowsK), kFeatureThreads, shared, ctx.stream,
                                       static_cast<const T*>(f.k.data), static_cast<const float*>(buf.phiK),
                                       static_cast<const float*>(base + dPhiKAt), static_cast<T*>(p.dk.data),
                                       featureArgs(f, rowsK));
    checkLaunch("featureGradKernel");
    launchKernel<castKernel<T>>(elementwiseBlocks(rowsK * Dv, ctx), kElementwiseThreads, 0, ctx.stream,
                                static_cast<const float*>(base + dvAt), static_cast<T*>(p.dv.data), rowsK * Dv);
    checkLaunch("castKernel");
  });
}

}  // namespace tessera::TESSERA_CUDA_NS
