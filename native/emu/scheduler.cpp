// The SIMT scheduler (scheduler.h).
#include "scheduler.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "../core/errors.h"
#include "fiber.h"

namespace tessera::simt {

namespace {

enum class State : uint8_t { kRunnable, kAtBarrier, kInWarpOp, kExited };

struct Thread {
  uint3 index{};
  int lane = 0, warp = 0;
  State state = State::kRunnable;
  bool started = false;
  // Where and how it waits (kAtBarrier, kInWarpOp).
  Site site{};
  const char* what = nullptr;
  uint32_t waitMask = 0;
  WarpOp op = nullptr;
  bool anySite = false;
  Context context;
};

struct Warp {
  uint32_t live = 0;     // lanes that exist and have not exited
  uint32_t waiting = 0;  // lanes waiting in a collective
  LaneSlot slots[32];
};

// Thrown at the wait point of every suspended fiber when a launch fails, so that
// its frames unwind and the fiber finishes before its stack is reused.
struct FiberAbort {};

struct AlignedDelete {
  void operator()(unsigned char* p) const { ::operator delete[](p, std::align_val_t{16}); }
};

// The process-wide emulator: one launch at a time, under `mutex`.
struct Emulator {
  std::mutex mutex;
  StackPool stacks;
  Context scheduler;  // the launching OS thread's own context

  const char* kernel = "";
  void (*body)(void*) = nullptr;
  void* closure = nullptr;
  std::vector<Thread> threads;
  std::vector<Warp> warps;
  std::unique_ptr<unsigned char[], AlignedDelete> dynamicShared;
  size_t dynamicSharedBytes = 0;

  // The running block.
  Thread* current = nullptr;
  int exited = 0;
  int barrierArrived = 0;
  Site barrierSite{};
  Site barrierOtherSite{};
  bool barrierMixed = false;
  bool aborting = false;
  std::exception_ptr error;
};

Emulator E;

bool sameSite(const Site& a, const Site& b) {
  return a.line == b.line && (a.file == b.file || std::strcmp(a.file, b.file) == 0);
}

// The path from "native/" or "test/" on: short, and still unambiguous.
std::string shortPath(const char* file) {
  const std::string f = file;
  for (const char* root : {"/native/", "/test/"}) {
    const size_t at = f.rfind(root);
    if (at != std::string::npos) return f.substr(at + 1);
  }
  return f;
}

std::string where(const Site& site) { return shortPath(site.file) + ":" + std::to_string(site.line); }

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

[[noreturn]] void fail(const std::string& what, const Site& site, const std::string& detail) {
  tessera::fail(ErrorCode::kBackend,
                "tessera emu: " + what + " in kernel " + E.kernel + " at " + where(site) + " (" + detail + ")");
}

Thread& threadOf(int warp, int lane) { return E.threads[static_cast<size_t>(warp) * 32 + lane]; }

void resume(Thread& t) {
  E.current = &t;
  threadIdx = t.index;
  t.started = true;
  switchContext(E.scheduler, t.context);
}

// Suspends the running thread until the scheduler resumes it.
void suspend(Thread& t) {
  switchContext(t.context, E.scheduler);
  if (E.aborting) throw FiberAbort{};
}

// Completes the collective of the lanes waiting with `mask` if every live lane
// of it has arrived.
void tryCompleteWarp(int warpIndex, uint32_t mask) {
  Warp& w = E.warps[warpIndex];
  const uint32_t participants = mask & w.live;
  if (participants == 0 || (participants & ~w.waiting) != 0) return;
  const Thread& first = threadOf(warpIndex, __builtin_ctz(participants));
  for (uint32_t rest = participants; rest != 0; rest &= rest - 1) {
    const Thread& t = threadOf(warpIndex, __builtin_ctz(rest));
    if (t.waitMask != mask || t.op != first.op || (!first.anySite && !sameSite(t.site, first.site))) {
      fail("divergent barrier", first.site,
           std::string(first.what) + " in warp " + std::to_string(warpIndex) + ": lane " + std::to_string(first.lane) +
               " waits here with mask " + hex(first.waitMask) + ", lane " + std::to_string(t.lane) + " in " + t.what +
               " at " + where(t.site) + " with mask " + hex(t.waitMask));
    }
  }
  if (const char* err = first.op(w.slots, participants)) {
    fail(first.what, first.site, "warp " + std::to_string(warpIndex) + ": " + err);
  }
  w.waiting &= ~participants;
  for (uint32_t rest = participants; rest != 0; rest &= rest - 1) {
    threadOf(warpIndex, __builtin_ctz(rest)).state = State::kRunnable;
  }
}

// A lane that exits no longer holds up its warp's collectives.
void threadExited(Thread& t) {
  t.state = State::kExited;
  ++E.exited;
  Warp& w = E.warps[t.warp];
  w.live &= ~(1u << t.lane);
  while (w.waiting != 0) {
    const uint32_t before = w.waiting;
    for (uint32_t rest = w.waiting; rest != 0; rest &= rest - 1) {
      const Thread& waiter = threadOf(t.warp, __builtin_ctz(rest));
      if (waiter.state == State::kInWarpOp) tryCompleteWarp(t.warp, waiter.waitMask);
    }
    if (w.waiting == before) break;
  }
}

void threadMain(void* arg) {
  Thread& t = *static_cast<Thread*>(arg);
  fiberStarted(E.scheduler);
  try {
    E.body(E.closure);
    threadExited(t);
  } catch (const FiberAbort&) {
  } catch (...) {
    if (!E.error) E.error = std::current_exception();
  }
  if (t.state != State::kExited) {
    t.state = State::kExited;
    ++E.exited;
  }
  exitToContext(t.context, E.scheduler);
}

// Why no thread can run: the first waiting thread's barrier, and who is missing.
std::string diagnoseDeadlock() {
  const int n = static_cast<int>(E.threads.size());
  int atBarrier = 0, inWarpOp = 0;
  const Thread* firstBarrier = nullptr;
  const Thread* firstWarpOp = nullptr;
  for (const Thread& t : E.threads) {
    if (t.state == State::kAtBarrier) {
      ++atBarrier;
      if (firstBarrier == nullptr) firstBarrier = &t;
    } else if (t.state == State::kInWarpOp) {
      ++inWarpOp;
      if (firstWarpOp == nullptr) firstWarpOp = &t;
    }
  }
  const std::string base = "tessera emu: divergent barrier in kernel " + std::string(E.kernel) + " at ";
  if (firstBarrier != nullptr) {
    std::string detail = "__syncthreads: " + std::to_string(atBarrier) + " of " + std::to_string(n) +
                         " threads arrived, " + std::to_string(E.exited) + " exited";
    if (firstWarpOp != nullptr) {
      detail += ", " + std::to_string(inWarpOp) + " wait in " + firstWarpOp->what + " at " + where(firstWarpOp->site);
    }
    return base + where(firstBarrier->site) + " (" + detail + ")";
  }
  const Thread& t = *firstWarpOp;
  const Warp& w = E.warps[t.warp];
  uint32_t here = 0;
  for (uint32_t rest = w.waiting; rest != 0; rest &= rest - 1) {
    const Thread& other = threadOf(t.warp, __builtin_ctz(rest));
    if (other.waitMask == t.waitMask && sameSite(other.site, t.site)) here |= 1u << other.lane;
  }
  return base + where(t.site) + " (" + t.what + " in warp " + std::to_string(t.warp) + " with mask " +
         hex(t.waitMask) + ": lanes " + hex(here) + " wait here, live lanes " + hex(w.live) + ")";
}

// Unwinds every suspended fiber of the block (see FiberAbort).
void abortBlock() {
  E.aborting = true;
  for (Thread& t : E.threads) {
    if (t.started && t.state != State::kExited) resume(t);
  }
  E.aborting = false;
  E.current = nullptr;
}

void runBlock(uint3 block) {
  blockIdx = block;
  if (E.dynamicSharedBytes != 0) std::memset(E.dynamicShared.get(), 0xff, E.dynamicSharedBytes);
  const int n = static_cast<int>(E.threads.size());
  for (int i = 0; i < n; ++i) {
    Thread& t = E.threads[i];
    t.state = State::kRunnable;
    t.started = false;
    makeContext(t.context, E.stacks.get(i), threadMain, &t);
  }
  for (size_t w = 0; w < E.warps.size(); ++w) {
    const int lanes = n - static_cast<int>(w) * 32;
    E.warps[w].live = lanes >= 32 ? 0xffffffffu : (1u << lanes) - 1u;
    E.warps[w].waiting = 0;
  }
  E.exited = 0;
  E.barrierArrived = 0;
  E.barrierMixed = false;

  bool ascending = true;
  while (E.exited < n) {
    bool ran = false;
    for (int k = 0; k < n; ++k) {
      Thread& t = E.threads[ascending ? k : n - 1 - k];
      if (t.state != State::kRunnable) continue;
      resume(t);
      ran = true;
      if (E.error) {
        std::exception_ptr error = E.error;
        E.error = nullptr;
        abortBlock();
        std::rethrow_exception(error);
      }
    }
    if (!ran) {
      const std::string message = diagnoseDeadlock();
      abortBlock();
      tessera::fail(ErrorCode::kBackend, message);
    }
    ascending = !ascending;
  }
}

bool validConfiguration(dim3 grid, dim3 block, size_t dynamicSharedBytes) {
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  return threads >= 1 && threads <= 1024 && block.z <= 64 && grid.x >= 1 && grid.x <= 0x7fffffffu && grid.y >= 1 &&
         grid.y <= 65535 && grid.z >= 1 && grid.z <= 65535 && dynamicSharedBytes <= 227 * 1024;
}

}  // namespace

int laneId() { return E.current->lane; }
LaneSlot& laneSlot() { return E.warps[E.current->warp].slots[E.current->lane]; }
uint32_t liveLanes() { return E.warps[E.current->warp].live; }
unsigned char* dynamicShared() { return E.dynamicShared.get(); }

void syncThreads(Site site) {
  Thread& t = *E.current;
  if (E.barrierArrived == 0) {
    E.barrierSite = site;
  } else if (!sameSite(site, E.barrierSite)) {
    E.barrierMixed = true;
    E.barrierOtherSite = site;
  }
  t.state = State::kAtBarrier;
  t.site = site;
  if (++E.barrierArrived == static_cast<int>(E.threads.size())) {
    E.barrierArrived = 0;
    if (E.barrierMixed) {
      fail("divergent barrier", E.barrierSite,
           "__syncthreads: threads wait here and at " + where(E.barrierOtherSite));
    }
    for (Thread& other : E.threads) {
      if (other.state == State::kAtBarrier) other.state = State::kRunnable;
    }
    return;  // the last to arrive goes on at once
  }
  suspend(t);
}

void warpCollective(uint32_t mask, WarpOp op, const char* what, Site site, bool anySite) {
  Thread& t = *E.current;
  const uint32_t bit = 1u << t.lane;
  if ((mask & bit) == 0) {
    fail(what, site, "lane " + std::to_string(t.lane) + " calls it with mask " + hex(mask) + ", which leaves it out");
  }
  t.state = State::kInWarpOp;
  t.site = site;
  t.what = what;
  t.waitMask = mask;
  t.op = op;
  t.anySite = anySite;
  E.warps[t.warp].waiting |= bit;
  tryCompleteWarp(t.warp, mask);
  if (t.state == State::kInWarpOp) suspend(t);
}

void trap(Site site) {
  fail("__trap()", site, "thread " + std::to_string(threadIdx.x) + "," + std::to_string(threadIdx.y) + "," +
                             std::to_string(threadIdx.z) + " of block " + std::to_string(blockIdx.x) + "," +
                             std::to_string(blockIdx.y) + "," + std::to_string(blockIdx.z));
}

bool launch(const char* kernelName, dim3 grid, dim3 block, size_t dynamicSharedBytes, void (*body)(void*),
            void* closure) {
  if (!validConfiguration(grid, block, dynamicSharedBytes)) return false;
  std::lock_guard<std::mutex> lock(E.mutex);
  const size_t n = size_t{block.x} * block.y * block.z;
  installOverflowHandler(&E.stacks);
  setRunningKernel(kernelName);
  E.stacks.reserve(n);
  E.kernel = kernelName;
  E.body = body;
  E.closure = closure;
  E.threads.resize(n);
  E.warps.resize((n + 31) / 32);
  for (size_t i = 0; i < n; ++i) {
    Thread& t = E.threads[i];
    t.index = uint3{static_cast<unsigned>(i % block.x), static_cast<unsigned>(i / block.x % block.y),
                    static_cast<unsigned>(i / (size_t{block.x} * block.y))};
    t.lane = static_cast<int>(i % 32);
    t.warp = static_cast<int>(i / 32);
  }
  // Exactly the size asked for, so the sanitizer build sees an overrun.
  if (dynamicSharedBytes != E.dynamicSharedBytes || !E.dynamicShared) {
    E.dynamicShared.reset(static_cast<unsigned char*>(::operator new[](dynamicSharedBytes, std::align_val_t{16})));
  }
  E.dynamicSharedBytes = dynamicSharedBytes;
  blockDim = block;
  gridDim = grid;
  for (unsigned z = 0; z < grid.z; ++z) {
    for (unsigned y = 0; y < grid.y; ++y) {
      for (unsigned x = 0; x < grid.x; ++x) runBlock(uint3{x, y, z});
    }
  }
  E.current = nullptr;
  return true;
}

const char* kernelNameFromSignature(const char* prettyFunction) {
  const std::string s = prettyFunction;
  const size_t start = s.find("Kernel = ");
  if (start == std::string::npos) return "kernel";
  size_t end = start + 9;
  for (int depth = 0; end < s.size(); ++end) {
    const char c = s[end];
    if (c == '<' || c == '(') ++depth;
    if (c == '>' || c == ')') --depth;
    if (depth == 0 && (c == ';' || c == ']')) break;
    if (depth < 0) break;
  }
  std::string name = s.substr(start + 9, end - start - 9);
  const size_t open = name.find('<');
  const size_t qualifier = name.rfind("::", open);
  if (qualifier != std::string::npos) name = name.substr(qualifier + 2);
  return strdup(name.c_str());  // one per kernel instantiation, kept for the process
}

}  // namespace tessera::simt
