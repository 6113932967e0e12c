// Tests of the SIMT emulator (native/emu): each prints PASS or FAIL with its
// name; the exit status is nonzero when any fails. Built twice by emu.cmake:
// tessera_emu_tests (the fast x86-64 context switch) and
// tessera_emu_tests_sanitize (ucontext, ASan + UBSan), where the out-of-range
// shared-memory test runs too.
//
// The kernels are plain CUDA C++ against native/cuda/platform.h. Inputs of the
// mma and GEMM tests are small integers, so every product and sum is exact in
// fp32 and results are compared bit for bit.
//
// M, N, K = GEMM dims (A is M×K, B is K×N, C is M×N, row-major).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../../native/core/errors.h"
#include "../../native/cuda/ptx.cuh"
#include "../../native/emu/emu_backend.h"

namespace tessera::TESSERA_CUDA_NS {
namespace {

// ---------------------------------------------------------------------------
// Kernels.

// One mma.m16n8k16 tile: the fragments are gathered from global memory by the
// layouts in ptx.cuh. A is 16×16, B 16×8, C and D 16×8.
template <typename T>
__global__ void mmaTileKernel(const uint16_t* A, const uint16_t* B, const float* C, float* D) {
  const int lane = threadIdx.x, g = lane / 4, q = lane % 4;
  auto pack = [](uint16_t lo, uint16_t hi) { return static_cast<uint32_t>(lo) | static_cast<uint32_t>(hi) << 16; };
  const uint32_t a[4] = {pack(A[g * 16 + 2 * q], A[g * 16 + 2 * q + 1]),
                         pack(A[(g + 8) * 16 + 2 * q], A[(g + 8) * 16 + 2 * q + 1]),
                         pack(A[g * 16 + 2 * q + 8], A[g * 16 + 2 * q + 9]),
                         pack(A[(g + 8) * 16 + 2 * q + 8], A[(g + 8) * 16 + 2 * q + 9])};
  const uint32_t b[2] = {pack(B[2 * q * 8 + g], B[(2 * q + 1) * 8 + g]),
                         pack(B[(2 * q + 8) * 8 + g], B[(2 * q + 9) * 8 + g])};
  float d[4] = {C[g * 8 + 2 * q], C[g * 8 + 2 * q + 1], C[(g + 8) * 8 + 2 * q], C[(g + 8) * 8 + 2 * q + 1]};
  mmaM16N8K16<T>(d, a, b);
  D[g * 8 + 2 * q] = d[0];
  D[g * 8 + 2 * q + 1] = d[1];
  D[(g + 8) * 8 + 2 * q] = d[2];
  D[(g + 8) * 8 + 2 * q + 1] = d[3];
}

// A tiled GEMM on tensor cores: a 64×64 tile of C per block of 4 warps, each warp
// 16 rows × 64 columns; fragments come from shared memory through ldmatrix (A
// row-major, B k-major through .trans). M, N multiples of 64, K of 16.
template <typename T>
__global__ void mmaGemmKernel(const uint16_t* A, const uint16_t* B, float* C, int M, int N, int K) {
  // Rows padded to keep them 16-byte aligned (ldmatrix rows) while shifting banks.
  __shared__ __align__(16) uint16_t As[64][16 + 8];
  __shared__ __align__(16) uint16_t Bs[16][64 + 8];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int rowBase = blockIdx.x * 64, colBase = blockIdx.y * 64;
  const int matrix = lane / 8, row = lane % 8;  // the ldmatrix row this lane addresses
  float acc[8][4] = {};
  for (int k0 = 0; k0 < K; k0 += 16) {
    for (int e = threadIdx.x; e < 64 * 16; e += blockDim.x) As[e / 16][e % 16] = A[(rowBase + e / 16) * K + k0 + e % 16];
    for (int e = threadIdx.x; e < 16 * 64; e += blockDim.x) Bs[e / 64][e % 64] = B[(k0 + e / 64) * N + colBase + e % 64];
    __syncthreads();
    uint32_t a[4];
    ldmatrix<4>(a, &As[warp * 16 + row + 8 * (matrix % 2)][8 * (matrix / 2)]);
    for (int j = 0; j < 8; ++j) {
      uint32_t b[2];
      ldmatrix<2, true>(b, &Bs[row + 8 * (matrix % 2)][j * 8]);
      mmaM16N8K16<T>(acc[j], a, b);
    }
    __syncthreads();
  }
  const int g = lane / 4, q = lane % 4;
  for (int j = 0; j < 8; ++j) {
    for (int i = 0; i < 4; ++i) {
      C[(rowBase + warp * 16 + g + 8 * (i / 2)) * N + colBase + j * 8 + 2 * q + i % 2] = acc[j][i];
    }
  }
}

// One mma.m16n8k32 s8 tile: A 16×32 row-major, B 32×8 stored n-major ([n][k]),
// C and D 16×8 int32; fragments gathered by the layouts in ptx.cuh.
__global__ void mmaS8TileKernel(const int8_t* A, const int8_t* Bt, const int32_t* C, int32_t* D) {
  const int lane = threadIdx.x, g = lane / 4, q = lane % 4;
  auto word = [](const int8_t* p) { return *reinterpret_cast<const uint32_t*>(p); };
  const uint32_t a[4] = {word(A + g * 32 + 4 * q), word(A + (g + 8) * 32 + 4 * q), word(A + g * 32 + 4 * q + 16),
                         word(A + (g + 8) * 32 + 4 * q + 16)};
  const uint32_t b[2] = {word(Bt + g * 32 + 4 * q), word(Bt + g * 32 + 4 * q + 16)};
  int32_t d[4] = {C[g * 8 + 2 * q], C[g * 8 + 2 * q + 1], C[(g + 8) * 8 + 2 * q], C[(g + 8) * 8 + 2 * q + 1]};
  mmaM16N8K32S8(d, a, b);
  D[g * 8 + 2 * q] = d[0];
  D[g * 8 + 2 * q + 1] = d[1];
  D[(g + 8) * 8 + 2 * q] = d[2];
  D[(g + 8) * 8 + 2 * q + 1] = d[3];
}

// An int8 tiled GEMM on tensor cores: C (M×N int32) = A (M×K) · Btᵀ with Bt
// N×K, a 64×64 tile per block of 4 warps, each warp 16 rows × 64 columns,
// operands staged in shared memory. M, N multiples of 64, K of 32.
__global__ void mmaS8GemmKernel(const int8_t* A, const int8_t* Bt, int32_t* C, int M, int N, int K) {
  __shared__ __align__(16) int8_t As[64][32 + 16];
  __shared__ __align__(16) int8_t Bs[64][32 + 16];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q = lane % 4;
  const int rowBase = blockIdx.x * 64, colBase = blockIdx.y * 64;
  int32_t acc[8][4] = {};
  for (int k0 = 0; k0 < K; k0 += 32) {
    for (int e = threadIdx.x; e < 64 * 32; e += blockDim.x) {
      As[e / 32][e % 32] = A[(rowBase + e / 32) * K + k0 + e % 32];
      Bs[e / 32][e % 32] = Bt[(colBase + e / 32) * K + k0 + e % 32];
    }
    __syncthreads();
    auto word = [](const int8_t* p) { return *reinterpret_cast<const uint32_t*>(p); };
    const int r = warp * 16 + g;
    const uint32_t a[4] = {word(&As[r][4 * q]), word(&As[r + 8][4 * q]), word(&As[r][4 * q + 16]),
                           word(&As[r + 8][4 * q + 16])};
    for (int j = 0; j < 8; ++j) {
      const uint32_t b[2] = {word(&Bs[j * 8 + g][4 * q]), word(&Bs[j * 8 + g][4 * q + 16])};
      mmaM16N8K32S8(acc[j], a, b);
    }
    __syncthreads();
  }
  for (int j = 0; j < 8; ++j) {
    for (int i = 0; i < 4; ++i) {
      C[(rowBase + warp * 16 + g + 8 * (i / 2)) * N + colBase + j * 8 + 2 * q + i % 2] = acc[j][i];
    }
  }
}

// out[i]: __dp4a (signed and unsigned) and __byte_perm on fixed operands.
__global__ void intrinsicsKernel(const uint32_t* in, uint32_t* out) {
  out[0] = static_cast<uint32_t>(__dp4a(static_cast<int>(in[0]), static_cast<int>(in[1]), 1000));
  out[1] = __dp4a(in[0], in[1], 1000u);
  out[2] = __byte_perm(in[0], in[1], 0x5140);
  out[3] = __byte_perm(in[0], in[1], 0x7362);
  out[4] = __byte_perm(in[0], in[1], 0x0123);
}

// Four 8×8 matrices of 16-bit values m*64 + row*8 + col; each lane stores the
// registers ldmatrix gives it.
template <int kMatrices, bool kTrans>
__global__ void ldmatrixKernel(uint32_t* out) {
  __shared__ __align__(16) uint16_t S[32][8];
  const int lane = threadIdx.x;
  for (int c = 0; c < 8; ++c) S[lane][c] = static_cast<uint16_t>(lane * 8 + c);
  __syncwarp();
  uint32_t r[kMatrices];
  ldmatrix<kMatrices, kTrans>(r, &S[lane % (8 * kMatrices)][0]);
  for (int i = 0; i < kMatrices; ++i) out[lane * kMatrices + i] = r[i];
}

// Each lane's value is lane * 10; out[lane * 8 + i] holds the results of the
// shuffle forms in the order the host checks them.
__global__ void shuffleKernel(int* out) {
  const int lane = threadIdx.x % 32;
  const int v = static_cast<int>(threadIdx.x) * 10;
  int* o = out + threadIdx.x * 8;
  o[0] = __shfl_sync(0xffffffffu, v, 3, 8);
  o[1] = __shfl_up_sync(0xffffffffu, v, 2, 8);
  o[2] = __shfl_down_sync(0xffffffffu, v, 3, 16);
  o[3] = __shfl_xor_sync(0xffffffffu, v, 5, 8);
  o[4] = __shfl_xor_sync(0xffffffffu, v, 16, 16);
  o[5] = __shfl_sync(0xffffffffu, v, 31 - lane);
  o[6] = static_cast<int>(__shfl_down_sync(0xffffffffu, static_cast<double>(v) + 0.5, 1) * 2.0);
  o[7] = lane < 16 ? __shfl_xor_sync(0x0000ffffu, v, 1) : __shfl_xor_sync(0xffff0000u, v, 2);
}

// out[lane * 5 + i]: full ballot, half-warp ballot, any, all, and the active mask
// after half the lanes have exited.
__global__ void ballotKernel(unsigned* out) {
  const int lane = threadIdx.x;
  unsigned* o = out + lane * 5;
  o[0] = __ballot_sync(0xffffffffu, lane % 3 == 0);
  o[1] = lane < 16 ? __ballot_sync(0x0000ffffu, lane & 1) : 0u;
  o[2] = __any_sync(0xffffffffu, lane == 7) ? 1u : 0u;
  o[3] = __all_sync(0xffffffffu, lane < 31) ? 1u : 0u;
  if (lane >= 16) return;
  o[4] = __activemask();
}

// A block sum of 1..blockDim.x where only warp 0 takes the last step: the other
// warps have exited by the time it shuffles.
__global__ void warpZeroReduceKernel(int* out) {
  __shared__ int partial[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int v = static_cast<int>(threadIdx.x) + 1;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp != 0) return;
  v = lane < static_cast<int>(blockDim.x / 32) ? partial[lane] : 0;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  if (lane == 0) out[blockIdx.x] = v;
}

// SGEMM with 16×16 shared-memory tiles, one output per thread (block 16×16).
// kSkipFirstBarrier drops the barrier between the stores and the reads of a
// tile: the negative test.
template <bool kSkipFirstBarrier>
__global__ void sgemmKernel(const float* A, const float* B, float* C, int M, int N, int K) {
  __shared__ float As[16][16];
  __shared__ float Bs[16][16];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * 16 + ty, col = blockIdx.x * 16 + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += 16) {
    As[ty][tx] = (row < M && k0 + tx < K) ? A[row * K + k0 + tx] : 0.0f;
    Bs[ty][tx] = (col < N && k0 + ty < K) ? B[(k0 + ty) * N + col] : 0.0f;
    if (!kSkipFirstBarrier) __syncthreads();
    for (int k = 0; k < 16; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();
  }
  if (row < M && col < N) C[row * N + col] = acc;
}

// Dynamic shared memory: every word reads as the poison pattern at block start.
__global__ void dynamicSharedKernel(unsigned* out) {
  TESSERA_DYNAMIC_SHARED(unsigned, words);
  const unsigned before = words[threadIdx.x];
  __syncthreads();
  words[threadIdx.x] = threadIdx.x + blockIdx.x;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = (before == 0xffffffffu ? 1000u : 0u) + words[blockDim.x - 1 - threadIdx.x];
}

__global__ void atomicKernel(int* counter, float* sum) {
  atomicAdd(counter, 1);
  atomicAdd(sum, 0.5f);
}

// The negative tests: each launch must throw, naming the kernel and the line.
constexpr int kDivergentBarrierLine = __LINE__ + 4;
__global__ void divergentBarrierKernel(float* out) {
  if (threadIdx.x < 16) {
    out[threadIdx.x] = 1.0f;
    __syncthreads();
  }
}

constexpr int kTwoBarriersLine = __LINE__ + 4;
__global__ void twoBarriersKernel(float* out) {
  out[threadIdx.x] = 1.0f;
  if (threadIdx.x % 2 == 0) {
    __syncthreads();
  } else {
    __syncthreads();
  }
}

constexpr int kDivergentShuffleLine = __LINE__ + 3;
__global__ void divergentShuffleKernel(int* out) {
  const int lane = threadIdx.x;
  if (lane < 16) out[lane] = __shfl_xor_sync(0xffffffffu, lane, 1);
  else out[lane] = __shfl_xor_sync(0xffffffffu, lane, 2);
}

constexpr int kTrapLine = __LINE__ + 2;
__global__ void trapKernel(float* out) {
  if (threadIdx.x == 5 && blockIdx.x == 1) __trap();
  out[threadIdx.x] = 1.0f;
}

// Recursion deep enough to overrun any sensible fiber stack.
__device__ __attribute__((noinline)) int deepRecursion(int depth, volatile char* sink) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  if (depth == 0) return frame[0];
  return deepRecursion(depth - 1, sink) + frame[0];
}

__global__ void stackHogKernel(int* out) {
  volatile char sink = 0;
  out[threadIdx.x] = deepRecursion(100000, &sink);
}

// Writes one element past a static shared array (caught by the sanitizer build).
template <int kSize>
__global__ void sharedOutOfRangeKernel(float* out) {
  __shared__ float tile[kSize];
  tile[threadIdx.x + 1] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = tile[threadIdx.x];
}

// ---------------------------------------------------------------------------
// Host helpers.

template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t count = 0;
  explicit DeviceBuffer(size_t n) : count(n) { cudaMalloc(&ptr, n * sizeof(T)); }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    cudaMemcpy(ptr, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  std::vector<T> read() const {
    std::vector<T> host(count);
    cudaMemcpy(host.data(), ptr, count * sizeof(T), cudaMemcpyDeviceToHost);
    return host;
  }
};

int failures = 0;

void report(const std::string& name, bool pass, const std::string& detail = "") {
  std::printf("%s %s%s%s\n", pass ? "PASS" : "FAIL", name.c_str(), detail.empty() ? "" : ": ", detail.c_str());
  if (!pass) ++failures;
}

// Small integers in [-range, range], as 16-bit float bits and as floats.
struct IntMatrix {
  std::vector<float> values;
  std::vector<uint16_t> bits;
};

IntMatrix randomIntegers(size_t n, int range, bool bf16, std::mt19937& rng) {
  std::uniform_int_distribution<int> dist(-range, range);
  IntMatrix m;
  for (size_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(dist(rng));
    m.values.push_back(v);
    m.bits.push_back(bf16 ? floatToBf16(v) : floatToHalf(v));
  }
  return m;
}

std::vector<float> cpuGemm(const std::vector<float>& a, const std::vector<float>& b, int M, int N, int K) {
  std::vector<float> c(static_cast<size_t>(M) * N);
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      double acc = 0;
      for (int k = 0; k < K; ++k) acc += static_cast<double>(a[i * K + k]) * b[k * N + j];
      c[i * N + j] = static_cast<float>(acc);
    }
  }
  return c;
}

bool bitEqual(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

float maxAbsDiff(const std::vector<float>& x, const std::vector<float>& y) {
  float worst = 0.0f;
  for (size_t i = 0; i < x.size(); ++i) {
    const float d = std::fabs(x[i] - y[i]);
    if (!(d <= worst)) worst = d;  // NaN counts as the worst
  }
  return worst;
}

// Runs launch(), which must throw a kBackend TesseraException whose message
// contains every one of `needles`.
void expectLaunchError(const std::string& name, const std::function<void()>& launch,
                       const std::vector<std::string>& needles) {
  try {
    launch();
    report(name, false, "no error was raised");
  } catch (const TesseraException& e) {
    std::string missing;
    for (const std::string& n : needles) {
      if (std::string(e.what()).find(n) == std::string::npos) missing += " '" + n + "'";
    }
    const bool pass = e.code() == ErrorCode::kBackend && missing.empty();
    report(name, pass, pass ? e.what() : std::string(e.what()) + " -- missing" + missing);
  }
}

// Runs this executable again with `mode`; returns its exit status and stderr.
struct ChildResult {
  int status = 0;
  std::string stderrText;
};

ChildResult runChild(const char* self, const char* mode) {
  int pipeFds[2];
  ChildResult result;
  if (pipe(pipeFds) != 0) return result;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipeFds[1], STDERR_FILENO);
    close(pipeFds[0]);
    close(pipeFds[1]);
    execl(self, self, "--child", mode, static_cast<char*>(nullptr));
    _exit(127);
  }
  close(pipeFds[1]);
  char buf[4096];
  ssize_t got;
  while ((got = read(pipeFds[0], buf, sizeof buf)) > 0) result.stderrText.append(buf, static_cast<size_t>(got));
  close(pipeFds[0]);
  waitpid(pid, &result.status, 0);
  return result;
}

// ---------------------------------------------------------------------------
// Tests.

template <typename T>
void testMmaTile(const char* name, bool bf16) {
  std::mt19937 rng(1);
  const IntMatrix a = randomIntegers(16 * 16, 8, bf16, rng), b = randomIntegers(16 * 8, 8, bf16, rng);
  std::vector<float> c(16 * 8);
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<float>(static_cast<int>(i % 7) - 3);
  DeviceBuffer<uint16_t> dA(a.bits), dB(b.bits);
  DeviceBuffer<float> dC(c), dD(16 * 8);
  launchKernel<mmaTileKernel<T>>(1, 32, 0, nullptr, dA.ptr, dB.ptr, dC.ptr, dD.ptr);
  std::vector<float> expect = cpuGemm(a.values, b.values, 16, 8, 16);
  for (size_t i = 0; i < expect.size(); ++i) expect[i] += c[i];
  report(name, bitEqual(dD.read(), expect), "max |diff| " + std::to_string(maxAbsDiff(dD.read(), expect)));
}

template <typename T>
void testMmaGemm(const char* name, bool bf16) {
  constexpr int M = 64, N = 64, K = 64;
  std::mt19937 rng(2);
  const IntMatrix a = randomIntegers(M * K, 4, bf16, rng), b = randomIntegers(K * N, 4, bf16, rng);
  DeviceBuffer<uint16_t> dA(a.bits), dB(b.bits);
  DeviceBuffer<float> dC(M * N);
  launchKernel<mmaGemmKernel<T>>(dim3(M / 64, N / 64), 128, 0, nullptr, dA.ptr, dB.ptr, dC.ptr, M, N, K);
  const std::vector<float> expect = cpuGemm(a.values, b.values, M, N, K);
  report(name, bitEqual(dC.read(), expect), "max |diff| " + std::to_string(maxAbsDiff(dC.read(), expect)));
}

void testMmaS8Tile() {
  std::mt19937 rng(4);
  std::uniform_int_distribution<int> byte(-128, 127), small(-1000, 1000);
  std::vector<int8_t> a(16 * 32), bt(8 * 32);
  std::vector<int32_t> c(16 * 8);
  for (auto& v : a) v = static_cast<int8_t>(byte(rng));
  for (auto& v : bt) v = static_cast<int8_t>(byte(rng));
  for (auto& v : c) v = small(rng);
  DeviceBuffer<int8_t> dA(a), dB(bt);
  DeviceBuffer<int32_t> dC(c), dD(16 * 8);
  launchKernel<mmaS8TileKernel>(1, 32, 0, nullptr, dA.ptr, dB.ptr, dC.ptr, dD.ptr);
  std::vector<int32_t> expect(c);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 8; ++j)
      for (int k = 0; k < 32; ++k) expect[i * 8 + j] += a[i * 32 + k] * bt[j * 32 + k];
  report("mma.m16n8k32 s8 16x8x32 bit-exact", dD.read() == expect);
}

void testMmaS8Gemm() {
  constexpr int M = 64, N = 64, K = 64;
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> byte(-128, 127);
  std::vector<int8_t> a(M * K), bt(N * K);
  for (auto& v : a) v = static_cast<int8_t>(byte(rng));
  for (auto& v : bt) v = static_cast<int8_t>(byte(rng));
  DeviceBuffer<int8_t> dA(a), dB(bt);
  DeviceBuffer<int32_t> dC(M * N);
  launchKernel<mmaS8GemmKernel>(dim3(M / 64, N / 64), 128, 0, nullptr, dA.ptr, dB.ptr, dC.ptr, M, N, K);
  std::vector<int32_t> expect(M * N, 0);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j)
      for (int k = 0; k < K; ++k) expect[i * N + j] += a[i * K + k] * bt[j * K + k];
  report("mma.m16n8k32 s8 GEMM 64x64x64 bit-exact", dC.read() == expect);
}

void testIntIntrinsics() {
  // Bytes (low first) of in[0]: 0x80 (-128), 0x7f, 0xff (-1), 0x02; of in[1]: 0x03, 0x80, 0x10, 0xfe (-2).
  const std::vector<uint32_t> in = {0x02ff7f80u, 0xfe108003u};
  DeviceBuffer<uint32_t> dIn(in), dOut(5);
  launchKernel<intrinsicsKernel>(1, 1, 0, nullptr, dIn.ptr, dOut.ptr);
  const std::vector<uint32_t> got = dOut.read();
  const int signedDot = 1000 + (-128 * 3) + (127 * -128) + (-1 * 16) + (2 * -2);
  const unsigned unsignedDot = 1000u + 0x80u * 0x03u + 0x7fu * 0x80u + 0xffu * 0x10u + 0x02u * 0xfeu;
  const bool pass = got[0] == static_cast<uint32_t>(signedDot) && got[1] == unsignedDot && got[2] == 0x807f0380u &&
                    got[3] == 0xfe0210ffu && got[4] == 0x807fff02u;
  report("__dp4a and __byte_perm", pass);
}

// ---------------------------------------------------------------------------
// Quantized matmul through the emu backend: quantize and dequantize against a
// host transcription of op_params.h (bit-exact), qmatmul against the float64
// product with the dequantized weights (kFloat) or with the int8 activations
// the contract defines (kInt8).

float roundTo(DType dtype, float v) {
  if (dtype == DType::kFloat16) return halfToFloat(floatToHalf(v));
  if (dtype == DType::kBFloat16) return bf16ToFloat(floatToBf16(v));
  return v;
}

// The bytes of `values` (already representable) in `dtype`.
std::vector<uint8_t> encode(DType dtype, const std::vector<float>& values) {
  std::vector<uint8_t> bytes(values.size() * dtypeSize(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::kFloat32) {
      std::memcpy(&bytes[4 * i], &values[i], 4);
    } else {
      const uint16_t bits = dtype == DType::kFloat16 ? floatToHalf(values[i]) : floatToBf16(values[i]);
      std::memcpy(&bytes[2 * i], &bits, 2);
    }
  }
  return bytes;
}

std::vector<float> decode(DType dtype, const std::vector<uint8_t>& bytes) {
  std::vector<float> values(bytes.size() / dtypeSize(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::kFloat32) {
      std::memcpy(&values[i], &bytes[4 * i], 4);
    } else {
      uint16_t bits;
      std::memcpy(&bits, &bytes[2 * i], 2);
      values[i] = dtype == DType::kFloat16 ? halfToFloat(bits) : bf16ToFloat(bits);
    }
  }
  return values;
}

struct HostQuant {
  int bits = 4, N = 0, K = 0, groupSize = 0, groups = 0;
  int64_t groupBytes = 0, rowBytes = 0;
  bool symmetric = true, halfScales = false;
  std::vector<uint8_t> codes, zeroPoints, scaleBytes;
  std::vector<float> scales;  // as stored (fp16-rounded when halfScales)
  std::vector<int> z;         // [N, G]
  int code(int n, int k) const {
    const int g = k / groupSize, j = k % groupSize;
    const uint8_t b = codes[n * rowBytes + g * groupBytes + (bits == 8 ? j : j / 2)];
    return bits == 8 ? b : (j & 1) ? b >> 4 : b & 15;
  }
  double weight(int n, int k) const {
    const int g = k / groupSize;
    return static_cast<double>(code(n, k) - z[n * groups + g]) * scales[n * groups + g];
  }
};

HostQuant hostQuantize(const std::vector<float>& w, int N, int K, int bits, int groupSize, bool symmetric,
                       bool halfScales) {
  HostQuant h;
  h.bits = bits, h.N = N, h.K = K, h.groupSize = groupSize, h.groups = (K + groupSize - 1) / groupSize;
  h.symmetric = symmetric, h.halfScales = halfScales;
  h.groupBytes = bits == 8 ? groupSize : groupSize / 2;
  h.rowBytes = h.groupBytes * h.groups;
  h.codes.assign(static_cast<size_t>(N * h.rowBytes), 0);
  h.zeroPoints.assign(symmetric ? 0 : static_cast<size_t>(N) * (bits == 8 ? h.groups : (h.groups + 1) / 2), 0);
  h.scales.resize(static_cast<size_t>(N) * h.groups);
  h.z.resize(h.scales.size());
  const int maxCode = (1 << bits) - 1;
  auto clampCode = [&](float v) { return v < 0 ? 0 : v > maxCode ? maxCode : static_cast<int>(v); };
  for (int n = 0; n < N; ++n) {
    for (int g = 0; g < h.groups; ++g) {
      const int k0 = g * groupSize, k1 = std::min(K, k0 + groupSize);
      float lo = 0.0f, hi = 0.0f;  // the range includes 0
      for (int k = k0; k < k1; ++k) lo = std::min(lo, w[n * K + k]), hi = std::max(hi, w[n * K + k]);
      int z = 1 << (bits - 1);
      float s = symmetric ? std::max(-lo, hi) / static_cast<float>(z - 1) : (hi - lo) / static_cast<float>(maxCode);
      if (halfScales) s = halfToFloat(floatToHalf(s));  // codes use the stored scale
      if (!symmetric && s > 0.0f) z = clampCode(std::rint(-lo / s));
      const size_t at = static_cast<size_t>(n) * h.groups + g;
      h.scales[at] = s;
      h.z[at] = z;
      if (!symmetric) {
        if (bits == 8) h.zeroPoints[at] = static_cast<uint8_t>(z);
        else h.zeroPoints[n * ((h.groups + 1) / 2) + g / 2] |= static_cast<uint8_t>(z << (4 * (g & 1)));
      }
      for (int j = 0; j < static_cast<int>(h.groupBytes) * (bits == 8 ? 1 : 2); ++j) {
        const int k = k0 + j;
        const int q = (j < groupSize && k < K && s != 0.0f) ? clampCode(static_cast<float>(z) + std::rint(w[n * K + k] / s)) : z;
        uint8_t& b = h.codes[n * h.rowBytes + g * h.groupBytes + (bits == 8 ? j : j / 2)];
        b |= static_cast<uint8_t>(bits == 8 ? q : q << (4 * (j & 1)));
      }
    }
  }
  h.scaleBytes.resize(h.scales.size() * (halfScales ? 2 : 4));
  for (size_t i = 0; i < h.scales.size(); ++i) {
    if (halfScales) {
      const uint16_t bits16 = floatToHalf(h.scales[i]);
      std::memcpy(&h.scaleBytes[2 * i], &bits16, 2);
    } else {
      std::memcpy(&h.scaleBytes[4 * i], &h.scales[i], 4);
    }
  }
  return h;
}

// A device allocation of the emu backend, freed on scope exit.
struct EmuBuffer {
  Backend& backend;
  void* ptr;
  size_t bytes;
  EmuBuffer(Backend& b, size_t n) : backend(b), ptr(b.allocate(n ? n : 1)), bytes(n) {}
  EmuBuffer(Backend& b, const std::vector<uint8_t>& host) : EmuBuffer(b, host.size()) {
    backend.copyFromHost(ptr, host.data(), host.size());
  }
  ~EmuBuffer() { backend.deallocate(ptr, bytes); }
  std::vector<uint8_t> read() const {
    std::vector<uint8_t> host(bytes);
    backend.copyToHost(host.data(), ptr, bytes);
    return host;
  }
};

TensorView view(void* data, DType dtype, int64_t rows, int64_t cols) {
  TensorView v;
  v.data = data;
  v.dtype = dtype;
  v.ndim = 2;
  v.shape[0] = rows, v.shape[1] = cols;
  v.strides[0] = cols, v.strides[1] = 1;
  return v;
}

// One weight configuration: quantize (weights in wDtype), dequantize, then
// qmatmul for M in {1, 2, 7, 33, 128} × float/int8 activations × the three
// activation dtypes (all of them at M = 1 and 33), bias on and off in turn.
// groupSize 0 = per channel.
void testQuantConfig(int bits, int groupSize, bool symmetric, bool halfScales, int N, int K, DType wDtype) {
  const int gs = groupSize == 0 ? K : groupSize;
  std::unique_ptr<Backend> backend = emu::createEmuBackend();
  std::mt19937 rng(static_cast<unsigned>(bits * 1000 + gs * 10 + N + K + symmetric));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(N) * K);
  for (auto& v : w) v = roundTo(wDtype, normal(rng) + (symmetric ? 0.0f : 0.3f));
  const HostQuant h = hostQuantize(w, N, K, bits, gs, symmetric, halfScales);

  char name[200];
  std::snprintf(name, sizeof name, "quant int%d %s %s%s N=%d K=%d w %s", bits,
                groupSize == 0 ? "per-channel" : ("g" + std::to_string(groupSize)).c_str(),
                symmetric ? "sym" : "asym", halfScales ? " fp16-scales" : "", N, K, dtypeName(wDtype));
  std::string problems;

  EmuBuffer dW(*backend, encode(wDtype, w));
  EmuBuffer dCodes(*backend, h.codes.size()), dScales(*backend, h.scaleBytes.size());
  EmuBuffer dZeros(*backend, std::max<size_t>(h.zeroPoints.size(), 1));
  QuantizedWeight q;
  q.bits = bits, q.N = N, q.K = K, q.groupSize = gs, q.groups = h.groups;
  q.codes = static_cast<uint8_t*>(dCodes.ptr);
  q.scales = dScales.ptr;
  q.scaleDtype = halfScales ? DType::kFloat16 : DType::kFloat32;
  q.zeroPoints = symmetric ? nullptr : static_cast<uint8_t*>(dZeros.ptr);
  QuantizeParams qp;
  qp.w = view(dW.ptr, wDtype, N, K);
  qp.out = q;
  backend->quantize(qp);
  if (dCodes.read() != h.codes) problems += " codes differ;";
  if (dScales.read() != h.scaleBytes) problems += " scales differ;";
  if (!symmetric && dZeros.read() != h.zeroPoints) problems += " zero points differ;";

  EmuBuffer dDeq(*backend, static_cast<size_t>(N) * K * 4);
  DequantizeParams dp;
  dp.q = q;
  dp.out = view(dDeq.ptr, DType::kFloat32, N, K);
  backend->dequantize(dp);
  const std::vector<float> deq = decode(DType::kFloat32, dDeq.read());
  for (int n = 0; n < N && problems.find("dequantize") == std::string::npos; ++n) {
    for (int k = 0; k < K; ++k) {
      if (deq[n * K + k] != static_cast<float>(h.weight(n, k))) {
        problems += " dequantize differs;";
        break;
      }
    }
  }

  const DType dtypes[3] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16};
  double worst = 0;  // the largest error / tolerance over every qmatmul
  int run = 0;
  for (int M : {1, 2, 7, 33, 128}) {
    // Every dtype for one GEMV (M = 1) and one GEMM (M = 33) shape; one dtype in
    // turn for the others (the sanitizer build runs this too, ~50× slower).
    const bool everyDtype = M == 1 || M == 33;
    for (int combo = 0; combo < (everyDtype ? 6 : 2); ++combo) {
      const int int8 = everyDtype ? combo / 3 : combo;
      const DType dtype = dtypes[everyDtype ? combo % 3 : run % 3];
      const bool withBias = run % 2 == 0;
      ++run;
      std::vector<float> x(static_cast<size_t>(M) * K), bias(N);
      for (auto& v : x) v = roundTo(dtype, normal(rng));
      for (auto& v : bias) v = roundTo(dtype, normal(rng));
      EmuBuffer dX(*backend, encode(dtype, x)), dBias(*backend, encode(dtype, bias));
      EmuBuffer dOut(*backend, static_cast<size_t>(M) * N * dtypeSize(dtype));
      std::vector<uint8_t> poison(dOut.bytes, 0xff);  // NaN in every float dtype
      backend->copyFromHost(dOut.ptr, poison.data(), poison.size());
      QMatmulParams mp;
      mp.x = view(dX.ptr, dtype, M, K);
      mp.bias = view(withBias ? dBias.ptr : nullptr, dtype, 1, N);
      mp.out = view(dOut.ptr, dtype, M, N);
      mp.w = q;
      mp.M = M;
      mp.activations = int8 ? QuantActivations::kInt8 : QuantActivations::kFloat;
      backend->qmatmul(mp);
      const std::vector<float> got = decode(dtype, dOut.read());
      const double outEps = dtype == DType::kFloat32 ? 0 : dtype == DType::kFloat16 ? 1.0 / 1024 : 1.0 / 128;
      for (int m = 0; m < M; ++m) {
        // The activations the kernel multiplies, and their scale (1 for kFloat).
        std::vector<double> xa(K);
        double xScale = 1;
        if (int8) {
          float amax = 0;
          for (int k = 0; k < K; ++k) amax = std::max(amax, std::fabs(x[m * K + k]));
          const float s = amax / 127.0f;
          xScale = s;
          for (int k = 0; k < K; ++k) {
            xa[k] = s == 0.0f ? 0.0 : std::min(127.0f, std::max(-127.0f, std::rint(x[m * K + k] / s)));
          }
        } else {
          for (int k = 0; k < K; ++k) xa[k] = x[m * K + k];
        }
        for (int n = 0; n < N; ++n) {
          double y = 0, magnitude = 0;
          for (int k = 0; k < K; ++k) {
            const double t = xa[k] * h.weight(n, k);
            y += t;
            magnitude += std::fabs(t);
          }
          y *= xScale;
          magnitude *= xScale;
          if (withBias) y += bias[n], magnitude += std::fabs(bias[n]);
          // The bounds of test/quant.test.ts: int8 sums are exact, leaving G + 4 fp32
          // roundings; weight-only adds a probabilistic 4·sqrt(K) for the dot products.
          const double u = std::ldexp(1.0, -24);
          const double factor = int8 ? h.groups + 4 : 4 * std::sqrt(K) + h.groups + 4;
          const double tolerance = factor * u * magnitude + outEps * std::fabs(y) + 1e-30;
          const double err = std::fabs(got[m * N + n] - y);
          const double ratio = std::isnan(err) ? 1e9 : err / tolerance;
          worst = std::max(worst, ratio);
        }
      }
      if (worst > 1) {
        problems += " qmatmul M=" + std::to_string(M) + (int8 ? " int8" : " float") + " " + dtypeName(dtype) +
                    " error/tolerance " + std::to_string(worst) + ";";
        worst = 0;
      }
    }
  }
  report(name, problems.empty(), problems.empty() ? "worst error/tolerance " + std::to_string(worst) : problems);
}

void testQuant() {
  struct Shape { int N, K; };
  const Shape shapes[3] = {{33, 97}, {7, 33}, {97, 256}};
  int i = 0;
  for (int bits : {4, 8}) {
    for (int groupSize : {32, 64, 128, 0}) {
      for (int symmetric = 0; symmetric < 2; ++symmetric) {
        Shape s = shapes[i % 3];
        if (bits == 4 && groupSize == 0) s.K += s.K % 2;  // int4 groups are whole bytes
        const DType wDtype = i % 4 == 3 ? DType::kBFloat16 : (i % 4 == 1 ? DType::kFloat16 : DType::kFloat32);
        testQuantConfig(bits, groupSize, symmetric != 0, i % 5 == 2, s.N, s.K, wDtype);
        ++i;
      }
    }
  }
}

// The library's own matmul (matmulMmaKernel for fp16, the SIMT tiled kernel for
// fp32) through the emu backend, on sizes that are not multiples of the tiles.
void testBackendMatmul(DType dtype, int M, int N, int K, bool transposeB) {
  const bool half = dtype == DType::kFloat16;
  std::mt19937 rng(3);
  const IntMatrix a = randomIntegers(static_cast<size_t>(M) * K, 4, false, rng);
  const IntMatrix b = randomIntegers(static_cast<size_t>(K) * N, 4, false, rng);
  std::unique_ptr<Backend> backend = emu::createEmuBackend();
  const size_t elem = half ? 2 : 4;
  void* pa = backend->allocate(a.values.size() * elem);
  void* pb = backend->allocate(b.values.size() * elem);
  void* pc = backend->allocate(static_cast<size_t>(M) * N * elem);
  // b is stored [K, N], or [N, K] when transposeB.
  std::vector<float> bStored(b.values.size());
  std::vector<uint16_t> bStoredBits(b.values.size());
  for (int k = 0; k < K; ++k) {
    for (int n = 0; n < N; ++n) {
      const size_t at = transposeB ? static_cast<size_t>(n) * K + k : static_cast<size_t>(k) * N + n;
      bStored[at] = b.values[k * N + n];
      bStoredBits[at] = b.bits[k * N + n];
    }
  }
  backend->copyFromHost(pa, half ? static_cast<const void*>(a.bits.data()) : a.values.data(), a.values.size() * elem);
  backend->copyFromHost(pb, half ? static_cast<const void*>(bStoredBits.data()) : bStored.data(), b.values.size() * elem);
  MatmulParams p;
  p.a.data = pa;
  p.b.data = pb;
  p.out.data = pc;
  p.a.dtype = p.b.dtype = p.out.dtype = dtype;
  p.M = M;
  p.N = N;
  p.K = K;
  p.transposeB = transposeB;
  const auto start = std::chrono::steady_clock::now();
  backend->matmul(p);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<float> got(static_cast<size_t>(M) * N);
  if (half) {
    std::vector<uint16_t> bits(got.size());
    backend->copyToHost(bits.data(), pc, bits.size() * 2);
    for (size_t i = 0; i < got.size(); ++i) got[i] = halfToFloat(bits[i]);
  } else {
    backend->copyToHost(got.data(), pc, got.size() * 4);
  }
  std::vector<float> expect = cpuGemm(a.values, b.values, M, N, K);
  if (half) {
    for (float& v : expect) v = halfToFloat(floatToHalf(v));
  }
  backend->deallocate(pa, 0);
  backend->deallocate(pb, 0);
  backend->deallocate(pc, 0);
  char name[160];
  std::snprintf(name, sizeof name, "backend matmul %s %dx%dx%d%s (%.3f s)", dtypeName(dtype), M, N, K,
                transposeB ? " transposeB" : "", seconds);
  report(name, bitEqual(got, expect), "max |diff| " + std::to_string(maxAbsDiff(got, expect)));
}

template <int kMatrices, bool kTrans>
void testLdmatrix() {
  DeviceBuffer<uint32_t> out(32 * kMatrices);
  launchKernel<ldmatrixKernel<kMatrices, kTrans>>(1, 32, 0, nullptr, out.ptr);
  const std::vector<uint32_t> got = out.read();
  bool ok = true;
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, q = lane % 4;
    for (int m = 0; m < kMatrices; ++m) {
      // Row g, columns 2q and 2q+1; transposed: column g, rows 2q and 2q+1.
      const uint32_t lo = kTrans ? m * 64 + 2 * q * 8 + g : m * 64 + g * 8 + 2 * q;
      const uint32_t hi = kTrans ? lo + 8 : lo + 1;
      ok = ok && got[lane * kMatrices + m] == (lo | hi << 16);
    }
  }
  report("ldmatrix x" + std::to_string(kMatrices) + (kTrans ? ".trans" : ""), ok);
}

void testShuffles() {
  DeviceBuffer<int> out(64 * 8);
  launchKernel<shuffleKernel>(1, 64, 0, nullptr, out.ptr);
  const std::vector<int> got = out.read();
  bool ok = true;
  std::string first;
  for (int t = 0; t < 64; ++t) {
    const int lane = t % 32, base = t - lane;
    auto value = [&](int l) { return (base + l) * 10; };
    const int expect[8] = {
        value((lane / 8) * 8 + 3),
        value(lane % 8 >= 2 ? lane - 2 : lane),
        value(lane % 16 + 3 < 16 ? lane + 3 : lane),
        value(lane ^ 5),
        value(lane >= 16 ? lane ^ 16 : lane),
        value(31 - lane),
        2 * value(lane < 31 ? lane + 1 : lane) + 1,
        value(lane < 16 ? lane ^ 1 : lane ^ 2),
    };
    for (int i = 0; i < 8; ++i) {
      if (got[t * 8 + i] != expect[i] && first.empty()) {
        first = "thread " + std::to_string(t) + " form " + std::to_string(i) + ": " + std::to_string(got[t * 8 + i]) +
                " instead of " + std::to_string(expect[i]);
        ok = false;
      }
    }
  }
  report("shuffles with width (idx, up, down, xor, double, sub-warp masks)", ok, first);
}

void testBallot() {
  DeviceBuffer<unsigned> out(32 * 5);
  cudaMemset(out.ptr, 0, 32 * 5 * sizeof(unsigned));
  launchKernel<ballotKernel>(1, 32, 0, nullptr, out.ptr);
  const std::vector<unsigned> got = out.read();
  bool ok = true;
  for (int lane = 0; lane < 32; ++lane) {
    const unsigned* o = &got[lane * 5];
    ok = ok && o[0] == 0x49249249u && o[1] == (lane < 16 ? 0xaaaau : 0u) && o[2] == 1u && o[3] == 0u;
    // __activemask is the lanes that have not exited; lanes run in turn, so
    // which others have is up to the schedule. A lane's own bit is certain.
    ok = ok && (lane >= 16 || (o[4] >> lane & 1u) == 1u);
  }
  report("ballot, any, all, activemask", ok);
}

void testWarpZeroReduce() {
  DeviceBuffer<int> out(3);
  launchKernel<warpZeroReduceKernel>(3, 256, 0, nullptr, out.ptr);
  const std::vector<int> got = out.read();
  report("block reduction finished by warp 0 alone", got[0] == 32896 && got[1] == 32896 && got[2] == 32896,
         std::to_string(got[0]));
}

// C = A·B on the CPU and by sgemmKernel; returns max |diff| and the seconds taken.
template <bool kSkipFirstBarrier>
std::pair<float, double> runSgemm(int M, int N, int K) {
  std::mt19937 rng(4);
  std::uniform_int_distribution<int> dist(-4, 4);
  std::vector<float> a(static_cast<size_t>(M) * K), b(static_cast<size_t>(K) * N);
  for (float& v : a) v = static_cast<float>(dist(rng));
  for (float& v : b) v = static_cast<float>(dist(rng));
  DeviceBuffer<float> dA(a), dB(b), dC(static_cast<size_t>(M) * N);
  const auto start = std::chrono::steady_clock::now();
  launchKernel<sgemmKernel<kSkipFirstBarrier>>(dim3((N + 15) / 16, (M + 15) / 16), dim3(16, 16), 0, nullptr, dA.ptr,
                                              dB.ptr, dC.ptr, M, N, K);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {maxAbsDiff(dC.read(), cpuGemm(a, b, M, N, K)), seconds};
}

void testSgemm() {
  const auto [err, seconds] = runSgemm<false>(97, 61, 45);
  report("tiled SGEMM 97x61x45 with shared memory", err == 0.0f, "max |diff| " + std::to_string(err));
  const auto [err256, seconds256] = runSgemm<false>(256, 256, 256);
  char detail[96];
  std::snprintf(detail, sizeof detail, "max |diff| %g, %.3f s", err256, seconds256);
  report("tiled SGEMM 256x256x256", err256 == 0.0f, detail);
  (void)seconds;
}

void testDynamicShared() {
  constexpr int kThreads = 64, kBlocks = 3;
  DeviceBuffer<unsigned> out(kThreads * kBlocks);
  launchKernel<dynamicSharedKernel>(kBlocks, kThreads, kThreads * sizeof(unsigned), nullptr, out.ptr);
  const std::vector<unsigned> got = out.read();
  bool ok = true;
  for (int b = 0; b < kBlocks; ++b) {
    for (int t = 0; t < kThreads; ++t) ok = ok && got[b * kThreads + t] == 1000u + (kThreads - 1 - t) + b;
  }
  report("dynamic shared memory, poisoned at every block start", ok);
}

void testAtomics() {
  DeviceBuffer<int> counter(std::vector<int>{0});
  DeviceBuffer<float> sum(std::vector<float>{0.0f});
  launchKernel<atomicKernel>(7, 96, 0, nullptr, counter.ptr, sum.ptr);
  report("atomics", counter.read()[0] == 7 * 96 && sum.read()[0] == 7 * 96 * 0.5f);
}

void testLaunchConfiguration() {
  DeviceBuffer<int> out(1);
  cudaGetLastError();
  launchKernel<warpZeroReduceKernel>(1, 2048, 0, nullptr, out.ptr);
  const cudaError_t err = cudaGetLastError();
  report("a block of 2048 threads is a launch error", err == cudaErrorInvalidConfiguration, cudaGetErrorName(err));
}

// --- negative tests

void testMissingBarrier() {
  const auto [err, seconds] = runSgemm<true>(64, 64, 64);
  (void)seconds;
  report("SGEMM without its first __syncthreads gives wrong results", err > 0.0f,
         "max |diff| " + std::to_string(err));
}

void testDivergence() {
  const std::string file = "test/emu/emu_tests.cpp:";
  DeviceBuffer<float> f(256);
  DeviceBuffer<int> i(64);
  expectLaunchError(
      "divergent __syncthreads (threads exited) is reported",
      [&] { launchKernel<divergentBarrierKernel>(2, 64, 0, nullptr, f.ptr); },
      {"tessera emu: divergent barrier in kernel divergentBarrierKernel at " + file +
           std::to_string(kDivergentBarrierLine),
       "16 of 64 threads arrived, 48 exited"});
  expectLaunchError(
      "__syncthreads on two different lines is reported",
      [&] { launchKernel<twoBarriersKernel>(1, 64, 0, nullptr, f.ptr); },
      {"divergent barrier in kernel twoBarriersKernel at " + file, std::to_string(kTwoBarriersLine)});
  expectLaunchError(
      "divergent warp shuffle is reported",
      [&] { launchKernel<divergentShuffleKernel>(1, 32, 0, nullptr, i.ptr); },
      {"divergent barrier in kernel divergentShuffleKernel at " + file + std::to_string(kDivergentShuffleLine),
       "__shfl_xor_sync"});
  expectLaunchError(
      "__trap() is reported", [&] { launchKernel<trapKernel>(2, 32, 0, nullptr, f.ptr); },
      {"tessera emu: __trap() in kernel trapKernel at " + file + std::to_string(kTrapLine), "thread 5,0,0 of block 1"});
  // The fibers of the failed launches were unwound: launches work as before.
  testWarpZeroReduce();
}

#if !defined(__SANITIZE_ADDRESS__)
void testStackOverflow(const char* self) {
  const ChildResult r = runChild(self, "stack");
  const bool pass = WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT &&
                    r.stderrText.find("tessera emu: stack overflow in kernel stackHogKernel (raise "
                                      "TESSERA_EMU_STACK_KB)") != std::string::npos;
  report("stack overflow is reported with the kernel's name", pass, pass ? "" : r.stderrText.substr(0, 300));
}

#else
void testSharedOutOfRange(const char* self) {
  const ChildResult r = runChild(self, "shared-oob");
  const bool reported = r.stderrText.find("runtime error: index 64 out of bounds") != std::string::npos ||
                        r.stderrText.find("ERROR: AddressSanitizer") != std::string::npos;
  const bool pass = !(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) && reported;
  report("out-of-range shared-memory index is caught by the sanitizers", pass,
         pass ? "" : r.stderrText.substr(0, 300));
}
#endif

int child(const char* mode) {
  DeviceBuffer<int> i(64);
  DeviceBuffer<float> f(64);
  if (std::strcmp(mode, "stack") == 0) launchKernel<stackHogKernel>(1, 32, 0, nullptr, i.ptr);
  if (std::strcmp(mode, "shared-oob") == 0) launchKernel<sharedOutOfRangeKernel<64>>(1, 64, 0, nullptr, f.ptr);
  return 0;
}

}  // namespace
}  // namespace tessera::TESSERA_CUDA_NS

int main(int argc, char** argv) {
  using namespace tessera::TESSERA_CUDA_NS;
  if (argc == 3 && std::strcmp(argv[1], "--child") == 0) return child(argv[2]);
  const auto start = std::chrono::steady_clock::now();
  testMmaTile<Half>("mma.m16n8k16 f16 16x8x16 bit-exact", false);
  testMmaTile<BF16>("mma.m16n8k16 bf16 16x8x16 bit-exact", true);
  testMmaGemm<Half>("mma + ldmatrix GEMM f16 64x64x64 bit-exact", false);
  testMmaGemm<BF16>("mma + ldmatrix GEMM bf16 64x64x64 bit-exact", true);
  testMmaS8Tile();
  testMmaS8Gemm();
  testIntIntrinsics();
  testLdmatrix<1, false>();
  testLdmatrix<2, false>();
  testLdmatrix<4, false>();
  testLdmatrix<1, true>();
  testLdmatrix<2, true>();
  testLdmatrix<4, true>();
  testShuffles();
  testBallot();
  testWarpZeroReduce();
  testSgemm();
  testDynamicShared();
  testAtomics();
  testLaunchConfiguration();
  testBackendMatmul(tessera::DType::kFloat32, 256, 256, 256, false);
  testBackendMatmul(tessera::DType::kFloat32, 97, 61, 45, true);
  testBackendMatmul(tessera::DType::kFloat16, 130, 70, 100, false);
  testBackendMatmul(tessera::DType::kFloat16, 64, 64, 64, true);
  testQuant();
  testMissingBarrier();
  testDivergence();
#if defined(__SANITIZE_ADDRESS__)
  std::printf("SKIP stack overflow report (the sanitizer build has ASan's own SIGSEGV handling)\n");
  testSharedOutOfRange(argv[0]);
#else
  testStackOverflow(argv[0]);
  std::printf("SKIP out-of-range shared-memory index (needs tessera_emu_tests_sanitize)\n");
#endif
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %d failed (%.2f s)\n", failures == 0 ? "ALL PASSED" : "FAILED", failures, seconds);
  return failures == 0 ? 0 : 1;
}
