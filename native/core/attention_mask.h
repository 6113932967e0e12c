// The attention scoring and visibility rule (DESIGN.md, Public API, Attention),
// written once for every backend: the CPU kernels, the CUDA kernels (as
// __host__ __device__ functions) and the emulator all call these, so a mask means
// the same thing everywhere.
//
// Index names: i is the query's own row (0 … Lq−1); ip = i' = i + n − Lq its
// bottom-right-aligned position against n visible keys; j a logical key (0 … n−1).
#pragma once

#include <cstdint>

#include "op_params.h"

// nvcc compiles these for host and device; the emulator and the CPU kernels
// compile them as plain host functions.
#if defined(__CUDACC__)
#define TESSERA_HD __host__ __device__
#else
#define TESSERA_HD
#endif

namespace tessera::attn {

// Keys sequence b sees: Lk, or min(kvLengths[b], Lk) for a KV cache.
TESSERA_HD inline int64_t visibleKeys(const AttentionParams& p, int64_t b) {
  if (p.kvLengths == nullptr) return p.kvLen;
  const int64_t n = p.kvLengths[b];
  return n < p.kvLen ? n : p.kvLen;
}

// The row of K/V (along the L axis) that holds logical key j of sequence b.
TESSERA_HD inline int64_t keyRow(const AttentionParams& p, int64_t b, int64_t n, int64_t j) {
  if (!p.kvRing) return j;
  return (p.kvLengths[b] - n + j) % p.kvLen;
}

TESSERA_HD inline bool isGlobal(const AttentionMask& m, int64_t pos, int64_t n) {
  return m.globalPrefix != nullptr && pos >= 0 && pos < n && m.globalPrefix[pos + 1] != m.globalPrefix[pos];
}

// Whether query i (at ip) sees key j; n = visible keys.
TESSERA_HD inline bool visible(const AttentionMask& m, int64_t i, int64_t ip, int64_t j, int64_t n) {
  if (m.causal && j > ip) return false;
  if (m.blockMask != nullptr && m.blockMask[(i / m.blockSize) * m.blockCols + j / m.blockSize] == 0) return false;
  if (m.hasWindow && (j < ip - m.windowLeft || j > ip + m.windowRight)) {
    return isGlobal(m, ip, n) || isGlobal(m, j, n);
  }
  return true;
}

// Any global position in [lo, hi) (clipped to [0, n))?
TESSERA_HD inline bool anyGlobal(const AttentionMask& m, int64_t lo, int64_t hi, int64_t n) {
  if (m.globalPrefix == nullptr) return false;
  lo = lo < 0 ? 0 : lo;
  hi = hi > n ? n : hi;
  return lo < hi && m.globalPrefix[hi] != m.globalPrefix[lo];
}

// Tile test for queries [i0, i1) × keys [j0, j1) (non-empty ranges), with
// offset = n − Lq (so ip = i + offset). False only when every pair is hidden:
// such a tile is skipped before any load or multiply, which is what makes a
// window cost O(L·W·D) instead of O(L²·D).
TESSERA_HD inline bool tileVisible(const AttentionMask& m, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
                                   int64_t offset, int64_t n) {
  const int64_t ipFirst = i0 + offset, ipLast = i1 - 1 + offset;
  if (m.causal && j0 > ipLast) return false;
  if (m.hasWindow && (j1 - 1 < ipFirst - m.windowLeft || j0 > ipLast + m.windowRight) &&
      !anyGlobal(m, j0, j1, n) && !anyGlobal(m, ipFirst, ipLast + 1, n)) {
    return false;
  }
  if (m.blockMask != nullptr) {
    const int64_t r0 = i0 / m.blockSize, r1 = (i1 - 1) / m.blockSize;
    const int64_t c0 = j0 / m.blockSize, c1 = (j1 - 1) / m.blockSize;
    for (int64_t r = r0; r <= r1; ++r) {
      for (int64_t c = c0; c <= c1; ++c) {
        if (m.blockMask[r * m.blockCols + c] != 0) return true;
      }
    }
    return false;
  }
  return true;
}

// Tile test the other way: true when every pair is visible, so a kernel may skip
// the per-element mask inside the tile (the common interior tile of a causal or
// windowed layout). Conservative: false does not mean anything is hidden.
TESSERA_HD inline bool tileFullyVisible(const AttentionMask& m, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
                                        int64_t offset) {
  const int64_t ipFirst = i0 + offset, ipLast = i1 - 1 + offset;
  if (m.causal && j1 - 1 > ipFirst) return false;
  if (m.hasWindow && (j0 < ipLast - m.windowLeft || j1 - 1 > ipFirst + m.windowRight)) return false;
  if (m.blockMask != nullptr) {
    const int64_t r0 = i0 / m.blockSize, r1 = (i1 - 1) / m.blockSize;
    const int64_t c0 = j0 / m.blockSize, c1 = (j1 - 1) / m.blockSize;
    for (int64_t r = r0; r <= r1; ++r) {
      for (int64_t c = c0; c <= c1; ++c) {
        if (m.blockMask[r * m.blockCols + c] == 0) return false;
      }
    }
  }
  return true;
}

// The range of keys a query row can see at all, before the element test: keys
// outside [first, last] are hidden for every query in [i0, i1) unless a global
// token reopens them (then the full range). Kernels loop over key tiles in this
// range only.
struct KeyRange {
  int64_t first, last;  // inclusive; first > last when empty
};
TESSERA_HD inline KeyRange keyRange(const AttentionMask& m, int64_t i0, int64_t i1, int64_t offset, int64_t n) {
  KeyRange r{0, n - 1};
  const int64_t ipFirst = i0 + offset, ipLast = i1 - 1 + offset;
  if (m.causal && ipLast < r.last) r.last = ipLast;
  if (m.hasWindow && m.globalPrefix == nullptr) {
    if (ipFirst - m.windowLeft > r.first) r.first = ipFirst - m.windowLeft;
    if (m.windowRight < kUnboundedWindow && ipLast + m.windowRight < r.last) r.last = ipLast + m.windowRight;
  }
  return r;
}

}  // namespace tessera::attn
