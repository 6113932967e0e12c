// Warp collectives: __shfl*_sync (with width), __ballot_sync, __any_sync,
// __all_sync, __syncwarp, __activemask. Each is a per-warp barrier over the live
// lanes of its mask (scheduler.h), so code where some warps skip a collective, or
// only warp 0 does the last step of a reduction, works as on the GPU; a lane that
// never arrives is reported with the source line, not waited for.
//
// The CUDA names are macros that record the call site, then call these.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "scheduler.h"

namespace tessera::simt {

// Shuffle: in[0] = this lane's value, in[1] = the lane it reads. A source lane
// that does not take part gives back the reader's own value (CUDA leaves it
// undefined).
inline const char* shuffleOp(LaneSlot* lanes, uint32_t participants) {
  for (uint32_t rest = participants; rest != 0; rest &= rest - 1) {
    const int lane = __builtin_ctz(rest);
    const int src = static_cast<int>(lanes[lane].in[1]);
    lanes[lane].out[0] = (participants >> src & 1u) ? lanes[src].in[0] : lanes[lane].in[0];
  }
  return nullptr;
}

// Ballot: in[0] = predicate; every lane gets the mask of lanes whose is true.
inline const char* ballotOp(LaneSlot* lanes, uint32_t participants) {
  uint32_t ballot = 0;
  for (uint32_t rest = participants; rest != 0; rest &= rest - 1) {
    const int lane = __builtin_ctz(rest);
    if (lanes[lane].in[0] != 0) ballot |= 1u << lane;
  }
  for (uint32_t rest = participants; rest != 0; rest &= rest - 1) lanes[__builtin_ctz(rest)].out[0] = ballot;
  return nullptr;
}

inline const char* syncWarpOp(LaneSlot*, uint32_t) { return nullptr; }

template <typename T>
T shuffle(Site site, const char* what, unsigned mask, T var, int srcLane) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "a shuffled value is at most 8 bytes");
  LaneSlot& slot = laneSlot();
  slot.in[0] = 0;
  std::memcpy(&slot.in[0], &var, sizeof(T));
  slot.in[1] = static_cast<uint64_t>(srcLane);
  warpCollective(mask, shuffleOp, what, site);
  T result;
  std::memcpy(&result, &laneSlot().out[0], sizeof(T));
  return result;
}

// The width forms split the warp into groups of `width` lanes (a power of two).
template <typename T>
T shflIdx(Site site, unsigned mask, T var, int srcLane, int width = warpSize) {
  const int lane = laneId();
  return shuffle(site, "__shfl_sync", mask, var, (lane & ~(width - 1)) + (srcLane & (width - 1)));
}

template <typename T>
T shflUp(Site site, unsigned mask, T var, unsigned delta, int width = warpSize) {
  const int lane = laneId();
  const bool inside = (lane & (width - 1)) >= static_cast<int>(delta);
  return shuffle(site, "__shfl_up_sync", mask, var, inside ? lane - static_cast<int>(delta) : lane);
}

template <typename T>
T shflDown(Site site, unsigned mask, T var, unsigned delta, int width = warpSize) {
  const int lane = laneId();
  const bool inside = (lane & (width - 1)) + static_cast<int>(delta) < width;
  return shuffle(site, "__shfl_down_sync", mask, var, inside ? lane + static_cast<int>(delta) : lane);
}

// A lane may read from its own group and earlier ones; a later group gives back
// the reader's own value (CUDA Programming Guide, __shfl_xor_sync).
template <typename T>
T shflXor(Site site, unsigned mask, T var, int laneMask, int width = warpSize) {
  const int lane = laneId();
  const int src = lane ^ (laneMask & 31);
  const bool inside = src < ((lane / width) + 1) * width;
  return shuffle(site, "__shfl_xor_sync", mask, var, inside ? src : lane);
}

inline unsigned ballot(Site site, const char* what, unsigned mask, int predicate) {
  LaneSlot& slot = laneSlot();
  slot.in[0] = predicate != 0;
  warpCollective(mask, ballotOp, what, site);
  return static_cast<unsigned>(laneSlot().out[0]);
}

// Lanes may meet at different __syncwarp calls (Volta and later allow it).
inline void syncWarp(Site site, unsigned mask = 0xffffffffu) {
  warpCollective(mask, syncWarpOp, "__syncwarp", site, /*anySite=*/true);
}

}  // namespace tessera::simt

#define __shfl_sync(...) ::tessera::simt::shflIdx(TESSERA_EMU_SITE, __VA_ARGS__)
#define __shfl_up_sync(...) ::tessera::simt::shflUp(TESSERA_EMU_SITE, __VA_ARGS__)
#define __shfl_down_sync(...) ::tessera::simt::shflDown(TESSERA_EMU_SITE, __VA_ARGS__)
#define __shfl_xor_sync(...) ::tessera::simt::shflXor(TESSERA_EMU_SITE, __VA_ARGS__)
#define __ballot_sync(mask, predicate) \
  ::tessera::simt::ballot(TESSERA_EMU_SITE, "__ballot_sync", mask, predicate)
#define __any_sync(mask, predicate) \
  (::tessera::simt::ballot(TESSERA_EMU_SITE, "__any_sync", mask, predicate) != 0u)
#define __all_sync(mask, predicate) \
  (::tessera::simt::ballot(TESSERA_EMU_SITE, "__all_sync", mask, !(predicate)) == 0u)
#define __syncwarp(...) ::tessera::simt::syncWarp(TESSERA_EMU_SITE __VA_OPT__(, ) __VA_ARGS__)
// The lanes of the warp that have not exited (the emulator cannot see divergence).
#define __activemask() ::tessera::simt::liveLanes()
