// Launcher for attention backward (kernels and math in attention_backward.cuh).
// Shape letters as there: B, Hq, Hkv, Lq, Lk, D.
//
// fp16 / bf16 with D <= 128 on sm_80+ take the tensor-core kernel
// (attention_backward_mma.cuh); everything else the fp32 SIMT kernel.
#include <cstdint>
#include <string>
#include <type_traits>

#include "allocator.h"
#include "attention_backward.cuh"
#include "attention_backward_mma.cuh"
#include "launch.h"

namespace tessera::TESSERA_CUDA_NS {

namespace {

constexpr int64_t kMaxHeadDim = 256;
constexpr int64_t kMaxGridYZ = 65535;
// Rows and keys are int inside the kernels; element offsets are int64.
constexpr int64_t kMaxLength = int64_t{1} << 30;

HeadStrides headStrides(const TensorView& t) { return HeadStrides{t.strides[0], t.strides[1], t.strides[2]}; }

// Whether every [.., D] row of t starts on a 16-byte boundary (for 16-bit elements:
// the base is aligned and every stride but D's is a multiple of 8 elements).
bool rowsAligned16(const TensorView& t) {
  if (reinterpret_cast<uintptr_t>(t.data) % 16 != 0) return false;
  const int64_t elementsPer16 = 16 / static_cast<int64_t>(dtypeSize(t.dtype));
  for (int d = 0; d + 1 < t.ndim; ++d) {
    if (t.shape[d] > 1 && t.strides[d] % elementsPer16 != 0) return false;
  }
  return true;
}

// Above 48 KiB of dynamic shared memory a kernel must opt in. The largest block
// (fp32 tiles for D = 256) needs about 150 KiB: within what sm_80 and sm_90 allow,
// beyond the 99 KiB of sm_86 / sm_89, where that head dim is then unsupported.
template <typename Kernel>
void allowSharedBytes(Kernel kernel, int64_t sharedBytes, int64_t headDim, const char* what) {
  const cudaError_t err =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(sharedBytes));
  if (err == cudaErrorInvalidValue) {
    cudaGetLastError();
    fail(ErrorCode::kUnsupported,
         expected("a head dim whose tiles fit this GPU's shared memory (" + std::to_string(sharedBytes) +
                      " bytes per block)",
                  "attentionBackward", std::to_string(headDim)));
  }
  checkCuda(err, what);
}

template <typename T, int kMaxD>
void launchMain(const AttnBwdArgs<T>& args, const LaunchContext& ctx) {
  const int64_t sharedBytes = attnBwdSharedBytes(args.headDim, attnBwdQueryTile<kMaxD>());
  allowSharedBytes(attnBwdKernel<T, kMaxD>, sharedBytes, args.headDim, "cudaFuncSetAttribute (attnBwdKernel)");
  const dim3 grid(static_cast<unsigned>(ceilDiv(args.kvLen, kAttnBwdKeyTile)), static_cast<unsigned>(args.kvHeads),
                  static_cast<unsigned>(args.batch));
  launchKernel<attnBwdKernel<T, kMaxD>>(grid, kAttnBwdThreads, static_cast<size_t>(sharedBytes), ctx.stream, args);
  checkLaunch("attnBwdKernel");
}

template <typename T, int kMaxD>
void launchMma(const AttnBwdArgs<T>& args, const LaunchContext& ctx) {
  const int64_t sharedBytes = attnBwdMmaSharedBytes(args.headDim);
  allowSharedBytes(attnBwdMmaKernel<T, kMaxD>, sharedBytes, args.headDim, "cudaFuncSetAttribute (attnBwdMmaKernel)");
  const dim3 grid(static_cast<unsigned>(ceilDiv(args.kvLen, kAttnBwdKeyTile)), static_cast<unsigned>(args.kvHeads),
                  static_cast<unsigned>(args.batch));
  launchKernel<attnBwdMmaKernel<T, kMaxD>>(grid, kAttnBwdMmaThreads, static_cast<size_t>(sharedBytes), ctx.stream,
                                           args);
  checkLaunch("attnBwdMmaKernel");
}

}  // namespace

void launchAttentionBackward(const AttentionBackwardParams& p, const LaunchContext& ctx, CachingAllocator& allocator) {
  const AttentionParams& f = p.fwd;
  const char* op = "attentionBackward";
  for (const TensorView* t : {&f.k, &f.v, &f.out, &p.dout, &p.dq, &p.dk, &p.dv}) requireSameDType(f.q, *t, op, "operand");
  if (f.headDim % 8 != 0 || f.headDim > kMaxHeadDim) {
    fail(ErrorCode::kUnsupported,
         expected("a head dim that is a multiple of 8 and at most 256 on CUDA", op, std::to_string(f.headDim)));
  }
  if (f.lse.data == nullptr || f.kvLengths != nullptr) {
    fail(ErrorCode::kArgument, expected("the forward's lse and no KV cache", op, "other arguments"));
  }
  if (f.qHeads % f.kvHeads != 0 || f.kvHeads > kMaxGridYZ || f.batch > kMaxGridYZ || f.qLen > kMaxLength ||
      f.kvLen > kMaxLength || f.qHeads > kMaxLength) {
    fail(ErrorCode::kUnsupported,
         expected("at most 65535 batches and kv heads and at most 2^30 queries, keys and heads", op,
                  std::to_string(f.batch) + " x " + std::to_string(f.kvHeads) + " x " + std::to_string(f.kvLen)));
  }

  const int64_t qRows = f.batch * f.qHeads * f.qLen;
  const int64_t dqElements = qRows * f.headDim;
  const bool anyKeys = f.batch > 0 && f.kvLen > 0;
  if (qRows == 0 && !anyKeys) return;

  // One scratch block: D_i for every query row, then the fp32 dQ accumulator.
  Workspace workspace(allocator, static_cast<size_t>(qRows + dqElements) * sizeof(float));
  float* rowDot = workspace.as<float>();
  float* dqAccum = rowDot + qRows;
  if (dqElements > 0) {
    checkCuda(cudaMemsetAsync(dqAccum, 0, static_cast<size_t>(dqElements) * sizeof(float), ctx.stream),
              "cudaMemsetAsync (attention backward dQ)");
  }

  dispatchFloating(f.q.dtype, "attentionBackward q", [&](auto tag) {
    using T = decltype(tag);
    if (qRows > 0) {
      const auto blocks = static_cast<unsigned>(ceilDiv(qRows, kRowBlockThreads / kWarpSize));
      launchKernel<attnBwdRowDotKernel<T>>(blocks, kRowBlockThreads, 0, ctx.stream, p.dout.as<T>(), f.out.as<T>(),
                                           rowDot, qRows, static_cast<int>(f.headDim));
      checkLaunch("attnBwdRowDotKernel");
    }

    if (anyKeys) {
      AttnBwdArgs<T> args;
      args.q = f.q.as<T>();
      args.k = f.k.as<T>();
      args.v = f.v.as<T>();
      args.dout = p.dout.as<T>();
      args.qStrides = headStrides(f.q);
      args.kStrides = headStrides(f.k);
      args.vStrides = headStrides(f.v);
      args.lse = f.lse.as<float>();
      args.rowDot = rowDot;
      args.dqAccum = dqAccum;
      args.dk = p.dk.as<T>();
      args.dv = p.dv.as<T>();
      args.batch = static_cast<int>(f.batch);
      args.qHeads = static_cast<int>(f.qHeads);
      args.kvHeads = static_cast<int>(f.kvHeads);
      args.qLen = static_cast<int>(f.qLen);
      args.kvLen = static_cast<int>(f.kvLen);
      args.headDim = static_cast<int>(f.headDim);
      args.scale = f.scale;
      args.softcap = f.softcap;
      args.alibiSlopes = f.alibiSlopes;
      args.mask = f.mask;
      args.vectorLoads = rowsAligned16(f.q) && rowsAligned16(f.k) && rowsAligned16(f.v) && rowsAligned16(p.dout);
      bool done = false;
      if constexpr (!std::is_same_v<T, float>) {
        if (ctx.computeMajor >= 8 && f.headDim <= kAttnBwdMmaMaxHeadDim) {
          if (f.headDim <= 64) launchMma<T, 64>(args, ctx);
          else launchMma<T, 128>(args, ctx);
          done = true;
        }
      }
      if (!done) {
        if (f.headDim <= 64) launchMain<T, 64>(args, ctx);
        else if (f.headDim <= 128) launchMain<T, 128>(args, ctx);
        else launchMain<T, 256>(args, ctx);
      }
    }

    if (dqElements > 0) {
      launchKernel<attnBwdStoreDqKernel<T>>(elementwiseBlocks(dqElements, ctx), kElementwiseThreads, 0, ctx.stream,
                                            static_cast<const float*>(dqAccum), p.dq.as<T>(), dqElements);
      checkLaunch("attnBwdStoreDqKernel");
    }
  });
}

}  // namespace tessera::TESSERA_CUDA_NS
