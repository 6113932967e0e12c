// Emulated mma.sync.aligned.m16n8k16 (f16, bf16) and m16n8k32 (s8) (ptx.h has
// the fragment layouts).
#include "ptx.h"

#include "../core/dtype.h"

namespace tessera::simt {

namespace {

// Slot layout: in[0..3] = a0..a3, in[4..5] = b0..b1, in[6..9] = the bits of d0..d3.
template <MmaInput kInput>
float element(uint32_t reg, int half) {
  const auto bits = static_cast<uint16_t>(reg >> (16 * half));
  return kInput == MmaInput::kF16 ? halfToFloat(bits) : bf16ToFloat(bits);
}

template <MmaInput kInput>
const char* mmaOp(LaneSlot* lanes, uint32_t participants) {
  if (participants != 0xffffffffu) return "mma.sync needs all 32 lanes of the warp";
  float A[16][16], B[16][8], C[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, q = lane % 4;
    const uint64_t* in = lanes[lane].in;
    for (int h = 0; h < 2; ++h) {
      A[g][2 * q + h] = element<kInput>(static_cast<uint32_t>(in[0]), h);
      A[g + 8][2 * q + h] = element<kInput>(static_cast<uint32_t>(in[1]), h);
      A[g][2 * q + 8 + h] = element<kInput>(static_cast<uint32_t>(in[2]), h);
      A[g + 8][2 * q + 8 + h] = element<kInput>(static_cast<uint32_t>(in[3]), h);
      B[2 * q + h][g] = element<kInput>(static_cast<uint32_t>(in[4]), h);
      B[2 * q + 8 + h][g] = element<kInput>(static_cast<uint32_t>(in[5]), h);
      C[g][2 * q + h] = bitsFloat(static_cast<uint32_t>(in[6 + h]));
      C[g + 8][2 * q + h] = bitsFloat(static_cast<uint32_t>(in[8 + h]));
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, q = lane % 4;
    for (int r = 0; r < 4; ++r) {
      const int row = g + 8 * (r / 2), col = 2 * q + r % 2;
      float acc = C[row][col];
      for (int k = 0; k < 16; ++k) acc += A[row][k] * B[k][col];
      lanes[lane].out[r] = floatBits(acc);
    }
  }
  return nullptr;
}

// Slot layout: in[0..3] = a0..a3, in[4..5] = b0..b1, in[6..9] = c0..c3.
const char* mmaS8Op(LaneSlot* lanes, uint32_t participants) {
  if (participants != 0xffffffffu) return "mma.sync needs all 32 lanes of the warp";
  int32_t A[16][32], B[32][8], C[16][8];
  auto byte = [](uint64_t reg, int i) { return static_cast<int32_t>(static_cast<int8_t>(reg >> (8 * i))); };
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, q = lane % 4;
    const uint64_t* in = lanes[lane].in;
    for (int i = 0; i < 4; ++i) {
      A[g][4 * q + i] = byte(in[0], i);
      A[g + 8][4 * q + i] = byte(in[1], i);
      A[g][4 * q + 16 + i] = byte(in[2], i);
      A[g + 8][4 * q + 16 + i] = byte(in[3], i);
      B[4 * q + i][g] = byte(in[4], i);
      B[4 * q + 16 + i][g] = byte(in[5], i);
    }
    for (int h = 0; h < 2; ++h) {
      C[g][2 * q + h] = static_cast<int32_t>(in[6 + h]);
      C[g + 8][2 * q + h] = static_cast<int32_t>(in[8 + h]);
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, q = lane % 4;
    for (int r = 0; r < 4; ++r) {
      const int row = g + 8 * (r / 2), col = 2 * q + r % 2;
      uint32_t acc = static_cast<uint32_t>(C[row][col]);  // unsigned: wraps like the hardware
      for (int k = 0; k < 32; ++k) acc += static_cast<uint32_t>(A[row][k] * B[k][col]);
      lanes[lane].out[r] = acc;
    }
  }
  return nullptr;
}

}  // namespace

void mmaM16N8K16(MmaInput input, float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], Site site) {
  LaneSlot& slot = laneSlot();
  for (int i = 0; i < 4; ++i) slot.in[i] = a[i];
  for (int i = 0; i < 2; ++i) slot.in[4 + i] = b[i];
  for (int i = 0; i < 4; ++i) slot.in[6 + i] = floatBits(d[i]);
  if (input == MmaInput::kF16) warpCollective(0xffffffffu, mmaOp<MmaInput::kF16>, "mma.sync f16", site);
  else warpCollective(0xffffffffu, mmaOp<MmaInput::kBF16>, "mma.sync bf16", site);
  const LaneSlot& done = laneSlot();
  for (int i = 0; i < 4; ++i) d[i] = bitsFloat(static_cast<uint32_t>(done.out[i]));
}

void mmaM16N8K32S8(int32_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], Site site) {
  LaneSlot& slot = laneSlot();
  for (int i = 0; i < 4; ++i) slot.in[i] = a[i];
  for (int i = 0; i < 2; ++i) slot.in[4 + i] = b[i];
  for (int i = 0; i < 4; ++i) slot.in[6 + i] = static_cast<uint32_t>(d[i]);
  warpCollective(0xffffffffu, mmaS8Op, "mma.sync s8", site);
  const LaneSlot& done = laneSlot();
  for (int i = 0; i < 4; ++i) d[i] = static_cast<int32_t>(static_cast<uint32_t>(done.out[i]));
}

}  // namespace tessera::simt
