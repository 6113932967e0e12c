#pragma once

#include <memory>

#include "../core/backend.h"

namespace tessera::cpu {

// numThreads <= 0: TESSERA_NUM_THREADS or the core count.
std::shared_ptr<Backend> createCpuBackend(int numThreads = 0);

// For tessera.info(): the kernel table in use and the host's vector units.
const char* selectedIsa();
std::string cpuFeatureList();
int defaultThreadCount();
int defaultSpinMicros();

}  // namespace tessera::cpu
