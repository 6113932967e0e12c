#pragma once

#include <memory>

#include "../core/backend.h"

namespace tessera::cpu {

// numThreads <= 0: TESSERA_NUM_THREADS or the core count.
std::shared_ptr<Backend> createCpuBackend(int numThreads = 0);

// For tessera.info(): the kernel table in use and the host's vector units.
const char* selectedIsa();
std::string cpuFeatureList();
// The kernel table a host with these features (names as cpuFeatureList gives them,
// space-separated) would get, with TESSERA_CPU_ISA = want (null: unset); null for an
// unknown name. For tests of the selection.
const char* isaFor(const std::string& featureList, const char* want);
int defaultThreadCount();
int defaultSpinMicros();

}  // namespace tessera::cpu
