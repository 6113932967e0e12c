// The CPU kernel table. The kernel sources (*.inc) are compiled once per
// instruction set (kernels_generic.cpp, kernels_avx2.cpp, kernels_avx512.cpp,
// each with its own compiler flags) and the widest one the host supports is
// picked at run time (TESSERA_CPU_ISA=generic|avx2|avx512 overrides, for tests).
#pragma once

#include "../core/op_params.h"
#include "thread_pool.h"

namespace tessera::cpu {

struct KernelTable {
  const char* isa;
  void (*fill)(const FillParams&, ThreadPool&);
  void (*random)(const RandomParams&, ThreadPool&);
  void (*copy)(const CopyParams&, ThreadPool&);
  void (*binary)(const BinaryParams&, ThreadPool&);
  void (*unary)(const UnaryParams&, ThreadPool&);
  void (*matmul)(const MatmulParams&, ThreadPool&);
  void (*softmax)(const SoftmaxParams&, ThreadPool&);
  void (*norm)(const NormParams&, ThreadPool&);
  void (*reduce)(const ReduceParams&, ThreadPool&);
  void (*quantize)(const QuantizeParams&, ThreadPool&);
  void (*dequantize)(const DequantizeParams&, ThreadPool&);
  void (*qmatmul)(const QMatmulParams&, ThreadPool&);
  void (*attention)(const AttentionParams&, ThreadPool&);
  void (*attentionBackward)(const AttentionBackwardParams&, ThreadPool&);
  void (*rope)(const RopeParams&, ThreadPool&);
  void (*linearAttention)(const LinearAttentionParams&, ThreadPool&);
  void (*linearAttentionBackward)(const LinearAttentionBackwardParams&, ThreadPool&);
};

namespace generic { extern const KernelTable kTable; }
#if defined(TESSERA_CPU_X86)
namespace avx2 { extern const KernelTable kTable; }
namespace avx512 { extern const KernelTable kTable; }
#endif

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avxvnni = false, avx512bf16 = false;
  // Subnormal operands and results cost no more than normal ones in the vector units
  // (AMD Zen; Intel cores of the same years take microcode assists on some of them).
  // TESSERA_CPU_DENORMALS=avoid turns it off, so that tests reach the other paths.
  bool fastDenormals = false;
};

const CpuFeatures& cpuFeatures();
// The table for features f, or for the narrower ISA `want` names ("generic", "avx2";
// null or anything else: the widest f supports).
const KernelTable& kernelsFor(const CpuFeatures& f, const char* want);
// The table for this host (or TESSERA_CPU_ISA).
const KernelTable& selectKernels();

}  // namespace tessera::cpu
