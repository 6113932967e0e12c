// The SIMT scheduler: runs a kernel one block at a time, each CUDA thread a fiber
// (fiber.h), and implements the points where threads wait for each other: the
// block barrier (__syncthreads) and the warp collectives (warp.h, ptx.h).
//
// Scheduling: a block's threads are run in turn, each until it blocks at a
// barrier or exits, alternating between ascending and descending thread order.
// One thread thus runs far ahead of the others, so a missing __syncthreads shows
// up as a read of data not yet written (or already overwritten), not as a race
// that happens to work.
//
// When no thread can run and some have not finished, the barriers cannot
// complete: the launch throws TesseraException(kBackend, "tessera emu: divergent
// barrier in kernel <name> at <file>:<line> (...)"). So does a __syncthreads
// reached from two different lines, a warp collective whose lanes disagree on
// the mask or the operation, and __trap(). The waiting fibers are unwound first,
// so the next launch starts clean.
#pragma once

#include <cstddef>
#include <cstdint>

#include "types.h"

namespace tessera::simt {

// A source location, recorded by the macros that stand for CUDA's barriers.
struct Site {
  const char* file;
  int line;
};
#define TESSERA_EMU_SITE (::tessera::simt::Site{__FILE__, __LINE__})

// The built-in index variables. The scheduler rewrites threadIdx before it
// resumes a thread; the others are per block. Kernel code only reads them.
inline uint3 threadIdx;
inline uint3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;

// ---------------------------------------------------------------------------
// Warp collectives. Each lane writes its operands to its slot and arrives; the
// last lane to arrive runs the operation for all participants (the live lanes of
// the mask) and wakes them, each then reads its results from its slot. Results
// and operands are separate, so a fast lane's next collective cannot clobber a
// value a slow lane has yet to read.

struct LaneSlot {
  uint64_t in[10];
  uint64_t out[4];
};

// Fills out for every participating lane (bit i of `participants` = lane i).
// Returns an error description, or nullptr.
using WarpOp = const char* (*)(LaneSlot* lanes, uint32_t participants);

// The calling lane and its slot.
int laneId();
LaneSlot& laneSlot();
// Lanes of the calling warp that exist and have not exited.
uint32_t liveLanes();

// Waits until every live lane of mask has arrived with the same mask and op (and,
// unless syncwarp, from the same site); `what` names the intrinsic in messages.
void warpCollective(uint32_t mask, WarpOp op, const char* what, Site site, bool anySite = false);

void syncThreads(Site site);
[[noreturn]] void trap(Site site);

// The dynamic shared memory of the running launch (16-byte aligned, poisoned
// with 0xFF bytes, a NaN in every float type, at each block start).
unsigned char* dynamicShared();

// Runs body(closure) as every thread of every block. Returns false (and runs
// nothing) for a configuration CUDA would reject; throws TesseraException for
// the errors above. Thread-safe: launches from several OS threads run one at a
// time (static shared memory is process-global).
bool launch(const char* kernelName, dim3 grid, dim3 block, size_t dynamicSharedBytes, void (*body)(void*),
            void* closure);

// "matmulKernel<float, 64>" from the __PRETTY_FUNCTION__ of launchKernel<K>.
const char* kernelNameFromSignature(const char* prettyFunction);

}  // namespace tessera::simt

#define __syncthreads() ::tessera::simt::syncThreads(TESSERA_EMU_SITE)
#define __trap() ::tessera::simt::trap(TESSERA_EMU_SITE)
