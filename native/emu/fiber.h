// Fibers: execution contexts on their own stacks, switched cooperatively. Each
// emulated CUDA thread is one; the scheduler (scheduler.cpp) switches between
// them at barriers.
//
// Two implementations of the switch, picked at compile time:
//   - x86-64: a hand-written register switch (callee-saved registers and rsp,
//     about 10 instructions), ~10x faster than swapcontext, which makes a
//     sigprocmask syscall on every switch;
//   - ucontext (TESSERA_EMU_UCONTEXT, and every other architecture): portable,
//     and the one AddressSanitizer understands, so the sanitizer build uses it.
//
// Stacks are mmap'd with a PROT_NONE guard region below them. A frame that runs
// into it is reported as a stack overflow with the kernel's name (the stack size
// comes from TESSERA_EMU_STACK_KB); -fstack-clash-protection keeps a large frame
// from jumping over the guard.
#pragma once

#include <cstddef>
#include <vector>

#if defined(TESSERA_EMU_UCONTEXT) || !defined(__x86_64__)
#define TESSERA_EMU_USE_UCONTEXT 1
#include <ucontext.h>
#endif

namespace tessera::simt {

struct Context {
#if defined(TESSERA_EMU_USE_UCONTEXT)
  ucontext_t uc;
  void (*entry)(void*) = nullptr;
  void* arg = nullptr;
#else
  void* sp = nullptr;  // the saved stack pointer; everything else is on the stack
#endif
  // The stack this context runs on, for AddressSanitizer's fiber annotations
  // (a thread's own stack is learnt on the first switch away from it).
  const void* stackBottom = nullptr;
  size_t stackSize = 0;
  void* fakeStack = nullptr;
};

struct Stack {
  char* base = nullptr;  // lowest address: the guard region starts here
  size_t guardBytes = 0;
  size_t usableBytes = 0;
  char* bottom() const { return base + guardBytes; }
  char* top() const { return base + guardBytes + usableBytes; }
};

// Prepares ctx to run entry(arg) on stack when first switched to. entry must
// never return: it ends with exitToContext().
void makeContext(Context& ctx, const Stack& stack, void (*entry)(void*), void* arg);
// Saves the running context into from and resumes to; returns when something
// switches back to from.
void switchContext(Context& from, Context& to);
// The first thing a fiber's entry does: tells the sanitizer the switch landed.
void fiberStarted(Context& caller);
// The last switch away from a finished fiber.
[[noreturn]] void exitToContext(Context& from, Context& to);

// The fiber stacks, reused across launches (mapping them is far slower than
// running a small kernel). Not thread-safe: the caller holds the emulator lock.
class StackPool {
 public:
  // Stacks 0..count-1 of TESSERA_EMU_STACK_KB each.
  const Stack& get(size_t index);
  void reserve(size_t count);
  // True when addr is inside one of the guard regions (async-signal-safe).
  bool isGuardAddress(const void* addr) const;

 private:
  std::vector<Stack> stacks_;
};

// The stack size, from TESSERA_EMU_STACK_KB (read once).
size_t stackBytes();

// Installs (once per process) the SIGSEGV handler that reports a guard-page hit
// as "tessera emu: stack overflow in kernel <name>", and gives the calling OS
// thread an alternate signal stack to run it on. Other faults go to the handler
// that was installed before.
void installOverflowHandler(const StackPool* pool);
// The kernel the overflow message names.
void setRunningKernel(const char* name);

}  // namespace tessera::simt
