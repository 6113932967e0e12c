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

// Uniform in (0, 1): 24 random bits, offset by half a step so 0 never occurs.
TESSERA_HOST_DEVICE inline float uniformBits(uint32_t bits24) {
  return (static_cast<float>(bits24) + 0.5f) * (1.0f / 16777216.0f);
}

TESSERA_HOST_DEVICE inline float uniformAt(uint64_t seed, uint64_t i) {
  const uint64_t h = splitmix64(splitmix64(seed) ^ i);
  return uniformBits(static_cast<uint32_t>(h >> 40));
}

// Standard normal by Box-Muller on two independent 24-bit uniforms of one hash.
TESSERA_HOST_DEVICE inline float normalAt(uint64_t seed, uint64_t i) {
  const uint64_t h = splitmix64(splitmix64(seed) ^ i);
  const float u1 = uniformBits(static_cast<uint32_t>(h >> 40));
  const float u2 = uniformBits(static_cast<uint32_t>(h >> 8) & 0xffffffu);
  return sqrtf(-2.0f * logf(u1)) * cosf(6.283185307179586f * u2);
}

}  // namespace tessera
