// Counter-based random numbers: value i is a pure function of (seed, i), so a
// seeded tensor is identical on every device, thread count and chunking.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define TESSERA_HOST_DEVICE __host__ __device__
#else
#define TESSERA_HOST_DEVICE
#endif

namespace tessera {

TESSERA_HOST_DEVICE inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform in (0, 1): 23 random bits, offset by half a step. Exact in fp32
// (24 significant bits), so the extremes are 2^-24 and 1 - 2^-24, never 0 or 1.
TESSERA_HOST_DEVICE inline float uniformBits(uint32_t bits23) {
  return (static_cast<float>(bits23) + 0.5f) * (1.0f / 8388608.0f);
}

TESSERA_HOST_DEVICE inline float uniformAt(uint64_t seed, uint64_t i) {
  const uint64_t h = splitmix64(splitmix64(seed) ^ i);
  return uniformBits(static_cast<uint32_t>(h >> 41));
}

// Standard normal by Box-Muller on two independent 23-bit uniforms of one hash.
TESSERA_HOST_DEVICE inline float normalAt(uint64_t seed, uint64_t i) {
  const uint64_t h = splitmix64(splitmix64(seed) ^ i);
  const float u1 = uniformBits(static_cast<uint32_t>(h >> 41));
  const float u2 = uniformBits(static_cast<uint32_t>(h >> 8) & 0x7fffffu);
  return sqrtf(-2.0f * logf(u1)) * cosf(6.283185307179586f * u2);
}

}  // namespace tessera
