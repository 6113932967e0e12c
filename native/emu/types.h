// The CUDA C++ language as g++ sees it under the emulator: qualifiers, built-in
// vector types, __half/__nv_bfloat16, the math and bit intrinsics, and atomics.
// Everything here is plain host code; what needs the scheduler (thread indices,
// barriers, warp collectives) is in scheduler.h and warp.h.
//
// Names CUDA puts in the global namespace live in tessera::simt, so that the
// emulated backend links into the same addon as the real CUDA runtime; the
// CUDA sources reach them through a using-directive (native/cuda/platform.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../core/dtype.h"

// Qualifiers. __shared__ variables become function statics: valid because the
// emulator runs one block at a time (and one kernel at a time per process).
// They keep the previous block's values (zero before the first) instead of being
// poisoned: g++ offers no way to enumerate the statics of template kernels (it
// ignores a section attribute on them). The schedule (scheduler.h) still turns a
// missing barrier into a read of data not yet written. Dynamic shared memory
// is poisoned at every block start.
#define __global__
#define __device__
#define __host__
#define __constant__
#define __shared__ static
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

namespace tessera::simt {

constexpr int warpSize = 32;

// ---------------------------------------------------------------------------
// Built-in vector types, with CUDA's alignments (a float4 load is one 16-byte
// access, and kernels rely on that alignment for their shared-memory layouts).

struct uint3 { unsigned x, y, z; };
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};
struct __align__(8) float2 { float x, y; };
struct __align__(16) float4 { float x, y, z, w; };
struct __align__(8) int2 { int x, y; };
struct __align__(16) int4 { int x, y, z, w; };
struct __align__(8) uint2 { unsigned x, y; };
struct __align__(16) uint4 { unsigned x, y, z, w; };

inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

// ---------------------------------------------------------------------------
// 16-bit floats: storage plus the conversions (round to nearest even, exactly as
// the hardware's _rn forms and the CPU backend's core/dtype.h).

struct __align__(2) __half { uint16_t __x; };
struct __align__(2) __nv_bfloat16 { uint16_t __x; };
struct __align__(4) __half2 { __half x, y; };
struct __align__(4) __nv_bfloat162 { __nv_bfloat16 x, y; };

inline float __half2float(__half h) { return halfToFloat(h.__x); }
inline __half __float2half_rn(float f) { return __half{floatToHalf(f)}; }
inline __half __float2half(float f) { return __float2half_rn(f); }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __ushort_as_half(unsigned short u) { return __half{u}; }
inline __half2 __floats2half2_rn(float lo, float hi) { return {__float2half_rn(lo), __float2half_rn(hi)}; }
inline float __bfloat162float(__nv_bfloat16 b) { return bf16ToFloat(b.__x); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16{floatToBf16(f)}; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.__x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { return __nv_bfloat16{u}; }
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) {
  return {__float2bfloat16_rn(lo), __float2bfloat16_rn(hi)};
}

// ---------------------------------------------------------------------------
// Math intrinsics. The _rn forms are exact IEEE operations, which C++ float
// arithmetic already is (the emulated sources build with -ffp-contract=off). The
// fast approximations (__expf, ...) are computed exactly: a kernel must not
// depend on their error, so the accurate value is a valid emulation.

inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float a) { return std::exp(a); }
inline float __exp10f(float a) { return std::pow(10.0f, a); }
inline float __logf(float a) { return std::log(a); }
inline float __log2f(float a) { return std::log2(a); }
inline float __sinf(float a) { return std::sin(a); }
inline float __cosf(float a) { return std::cos(a); }
inline float __tanf(float a) { return std::tan(a); }
inline float __powf(float a, float b) { return std::pow(a, b); }
inline float rsqrtf(float a) { return 1.0f / std::sqrt(a); }
inline float __saturatef(float a) { return a != a ? 0.0f : (a < 0.0f ? 0.0f : (a > 1.0f ? 1.0f : a)); }
inline float exp10f(float a) { return std::pow(10.0f, a); }

// CUDA's device min/max overloads (host C++ has only std::min/max and fminf).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }

// Bit reinterpretation and integer intrinsics.
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline long long __double_as_longlong(double d) { long long l; std::memcpy(&l, &d, 8); return l; }
inline double __longlong_as_double(long long l) { double d; std::memcpy(&d, &l, 8); return d; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
inline int __mul24(int a, int b) { return (a << 8 >> 8) * (b << 8 >> 8); }
inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32);
}
// Four int8 products summed into c (the int8 GEMM building block, sm_61+).
inline int __dp4a(int a, int b, int c) {
  for (int i = 0; i < 4; ++i) {
    c += static_cast<int8_t>(static_cast<unsigned>(a) >> (8 * i)) * static_cast<int8_t>(static_cast<unsigned>(b) >> (8 * i));
  }
  return c;
}
inline unsigned __dp4a(unsigned a, unsigned b, unsigned c) {
  for (int i = 0; i < 4; ++i) c += ((a >> (8 * i)) & 0xffu) * ((b >> (8 * i)) & 0xffu);
  return c;
}

// Byte i of the result is byte (s >> 4i) & 7 of the eight bytes y:x (x the low
// four). The selector's fourth bit (prmt's sign-replicate) is not emulated.
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
  const unsigned long long bytes = static_cast<unsigned long long>(y) << 32 | x;
  unsigned r = 0;
  for (int i = 0; i < 4; ++i) r |= static_cast<unsigned>((bytes >> (8 * ((s >> (4 * i)) & 7))) & 0xffu) << (8 * i);
  return r;
}

template <typename T> inline T __ldg(const T* p) { return *p; }

// Memory fences order nothing: only one CUDA thread runs at a time, and a switch
// between threads is an opaque call the compiler cannot move memory across.
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __threadfence_system() {}
inline void __nanosleep(unsigned) {}

// ---------------------------------------------------------------------------
// Atomics: plain read-modify-write, atomic because no other CUDA thread runs until
// this one reaches a barrier. Each returns the old value, as CUDA's do.

template <typename T> inline T atomicAdd(T* p, T v) { const T old = *p; *p = old + v; return old; }
template <typename T> inline T atomicSub(T* p, T v) { const T old = *p; *p = old - v; return old; }
template <typename T> inline T atomicExch(T* p, T v) { const T old = *p; *p = v; return old; }
template <typename T> inline T atomicMin(T* p, T v) { const T old = *p; *p = v < old ? v : old; return old; }
template <typename T> inline T atomicMax(T* p, T v) { const T old = *p; *p = v > old ? v : old; return old; }
template <typename T> inline T atomicAnd(T* p, T v) { const T old = *p; *p = old & v; return old; }
template <typename T> inline T atomicOr(T* p, T v) { const T old = *p; *p = old | v; return old; }
template <typename T> inline T atomicXor(T* p, T v) { const T old = *p; *p = old ^ v; return old; }
template <typename T> inline T atomicCAS(T* p, T compare, T v) {
  const T old = *p;
  if (old == compare) *p = v;
  return old;
}
inline unsigned atomicInc(unsigned* p, unsigned limit) {
  const unsigned old = *p;
  *p = old >= limit ? 0u : old + 1u;
  return old;
}
inline unsigned atomicDec(unsigned* p, unsigned limit) {
  const unsigned old = *p;
  *p = (old == 0u || old > limit) ? limit : old - 1u;
  return old;
}

}  // namespace tessera::simt
