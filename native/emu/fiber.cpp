// Fibers: context switch, stacks with guard regions, the overflow report (fiber.h).
#include "fiber.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define TESSERA_EMU_ASAN 1
#endif

namespace tessera::simt {

namespace {

constexpr size_t kDefaultStackKiB = 64;
// Large enough that a frame without stack-clash probes rarely jumps over it; it
// costs address space only.
constexpr size_t kGuardBytes = 64 * 1024;

}  // namespace

// ---------------------------------------------------------------------------
// The switch itself.

#if defined(TESSERA_EMU_USE_UCONTEXT)

namespace {

// makecontext passes int arguments only: the Context pointer travels in halves.
void ucontextEntry(unsigned high, unsigned low) {
  Context* ctx = reinterpret_cast<Context*>(static_cast<uintptr_t>(high) << 32 | low);
  ctx->entry(ctx->arg);
}

}  // namespace

void makeContext(Context& ctx, const Stack& stack, void (*entry)(void*), void* arg) {
  getcontext(&ctx.uc);
  ctx.uc.uc_stack.ss_sp = stack.bottom();
  ctx.uc.uc_stack.ss_size = stack.usableBytes;
  ctx.uc.uc_link = nullptr;
  ctx.entry = entry;
  ctx.arg = arg;
  ctx.stackBottom = stack.bottom();
  ctx.stackSize = stack.usableBytes;
  const auto bits = reinterpret_cast<uintptr_t>(&ctx);
  makecontext(&ctx.uc, reinterpret_cast<void (*)()>(ucontextEntry), 2, static_cast<unsigned>(bits >> 32),
              static_cast<unsigned>(bits));
}

static void rawSwitch(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }

#else

// tesseraEmuSwitch(void** saveSp, void* newSp): pushes the callee-saved registers
// (the SysV ABI makes the caller save the rest), stores rsp, loads the other
// fiber's rsp and pops its registers; `ret` then resumes it. MXCSR and the x87
// control word are callee-saved too, but nothing here changes them, so all
// fibers share them. A new fiber's stack is laid out so that its first `ret`
// lands in tesseraEmuFiberStart with r12 = arg and r13 = entry.
extern "C" void tesseraEmuSwitch(void** saveSp, void* newSp) __attribute__((visibility("hidden")));
extern "C" void tesseraEmuFiberStart() __attribute__((visibility("hidden")));

asm(R"(
  .text
  .p2align 4
  .globl tesseraEmuSwitch
  .hidden tesseraEmuSwitch
  .type tesseraEmuSwitch, @function
tesseraEmuSwitch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size tesseraEmuSwitch, .-tesseraEmuSwitch

  .p2align 4
  .globl tesseraEmuFiberStart
  .hidden tesseraEmuFiberStart
  .type tesseraEmuFiberStart, @function
tesseraEmuFiberStart:
  .cfi_startproc
  .cfi_undefined rip
  movq %r12, %rdi
  callq *%r13
  ud2
  .cfi_endproc
  .size tesseraEmuFiberStart, .-tesseraEmuFiberStart
)");

void makeContext(Context& ctx, const Stack& stack, void (*entry)(void*), void* arg) {
  // From the 16-byte aligned top down: two spare words, the return address, then
  // rbp, rbx, r12, r13, r14, r15 as tesseraEmuSwitch pops them. After the `ret`
  // rsp is 16-byte aligned, so the `call` gives entry the ABI's alignment.
  auto* top = reinterpret_cast<uintptr_t*>(reinterpret_cast<uintptr_t>(stack.top()) & ~uintptr_t{15});
  uintptr_t* sp = top - 9;
  sp[0] = 0;                                       // r15
  sp[1] = 0;                                       // r14
  sp[2] = reinterpret_cast<uintptr_t>(entry);      // r13
  sp[3] = reinterpret_cast<uintptr_t>(arg);        // r12
  sp[4] = 0;                                       // rbx
  sp[5] = 0;                                       // rbp
  sp[6] = reinterpret_cast<uintptr_t>(&tesseraEmuFiberStart);
  sp[7] = 0;
  sp[8] = 0;
  ctx.sp = sp;
  ctx.stackBottom = stack.bottom();
  ctx.stackSize = stack.usableBytes;
}

static void rawSwitch(Context& from, Context& to) { tesseraEmuSwitch(&from.sp, to.sp); }

#endif

void switchContext(Context& from, Context& to) {
#if defined(TESSERA_EMU_ASAN)
  __sanitizer_start_switch_fiber(&from.fakeStack, to.stackBottom, to.stackSize);
#endif
  rawSwitch(from, to);
#if defined(TESSERA_EMU_ASAN)
  __sanitizer_finish_switch_fiber(from.fakeStack, nullptr, nullptr);
#endif
}

void fiberStarted(Context& caller) {
#if defined(TESSERA_EMU_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &caller.stackBottom, &caller.stackSize);
#else
  (void)caller;
#endif
}

void exitToContext(Context& from, Context& to) {
#if defined(TESSERA_EMU_ASAN)
  __sanitizer_start_switch_fiber(nullptr, to.stackBottom, to.stackSize);  // from's fake stack dies
#endif
  rawSwitch(from, to);
  std::abort();  // nothing resumes a finished fiber
}

// ---------------------------------------------------------------------------
// Stacks.

size_t stackBytes() {
  static const size_t bytes = [] {
    size_t kib = kDefaultStackKiB;
    if (const char* env = std::getenv("TESSERA_EMU_STACK_KB")) {
      const long v = std::strtol(env, nullptr, 10);
      if (v >= 16) kib = static_cast<size_t>(v);
    }
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return (kib * 1024 + page - 1) / page * page;
  }();
  return bytes;
}

void StackPool::reserve(size_t count) {
  while (stacks_.size() < count) {
    Stack s;
    s.guardBytes = kGuardBytes;
    s.usableBytes = stackBytes();
    void* p = mmap(nullptr, s.guardBytes + s.usableBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    s.base = static_cast<char*>(p);
    if (mprotect(s.base, s.guardBytes, PROT_NONE) != 0) {
      munmap(p, s.guardBytes + s.usableBytes);
      throw std::bad_alloc();
    }
    stacks_.push_back(s);
  }
}

const Stack& StackPool::get(size_t index) { return stacks_[index]; }

bool StackPool::isGuardAddress(const void* addr) const {
  const char* a = static_cast<const char*>(addr);
  for (const Stack& s : stacks_) {
    if (a >= s.base && a < s.base + s.guardBytes) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// The overflow report.

namespace {

const StackPool* gGuardedPool = nullptr;
const char* volatile gRunningKernel = "?";
struct sigaction gPreviousSegv;

void writeError(const char* s) {
  ssize_t ignored = write(STDERR_FILENO, s, std::strlen(s));
  (void)ignored;
}

void onSegv(int sig, siginfo_t* info, void* ucontext) {
  if (gGuardedPool != nullptr && gGuardedPool->isGuardAddress(info->si_addr)) {
    writeError("tessera emu: stack overflow in kernel ");
    writeError(gRunningKernel);
    writeError(" (raise TESSERA_EMU_STACK_KB)\n");
    std::abort();
  }
  // Not ours: hand the fault to whoever handled SIGSEGV before (V8, a sanitizer),
  // or restore the default action and let the faulting instruction run again.
  if (gPreviousSegv.sa_handler != SIG_DFL && gPreviousSegv.sa_handler != SIG_IGN) {
    if (gPreviousSegv.sa_flags & SA_SIGINFO) gPreviousSegv.sa_sigaction(sig, info, ucontext);
    else gPreviousSegv.sa_handler(sig);
    return;
  }
  sigaction(SIGSEGV, &gPreviousSegv, nullptr);
}

// The alternate signal stack of one OS thread (the handler cannot run on the
// fiber stack that overflowed). Removed when the thread ends.
struct AltStack {
  void* memory = nullptr;
  size_t size = 0;
  ~AltStack() {
    if (memory == nullptr) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
    munmap(memory, size);
  }
};

void ensureAltStack() {
  thread_local AltStack alt;
  if (alt.memory != nullptr) return;
  stack_t current{};
  if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;  // the thread has one
  alt.size = 64 * 1024;
  alt.memory = mmap(nullptr, alt.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (alt.memory == MAP_FAILED) {
    alt.memory = nullptr;
    return;
  }
  stack_t s{};
  s.ss_sp = alt.memory;
  s.ss_size = alt.size;
  sigaltstack(&s, nullptr);
}

}  // namespace

void installOverflowHandler(const StackPool* pool) {
  static std::once_flag once;
  std::call_once(once, [pool] {
    gGuardedPool = pool;
    struct sigaction action {};
    action.sa_sigaction = onSegv;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &gPreviousSegv);
  });
  ensureAltStack();
}

void setRunningKernel(const char* name) { gRunningKernel = name; }

}  // namespace tessera::simt
