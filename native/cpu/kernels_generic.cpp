// CPU kernels compiled for the generic instruction set (flags set in CMakeLists.txt
// and binding.gyp). The sources are shared: see kernels.h.
#define TESSERA_ISA generic
#define TESSERA_ISA_NAME "generic"
#include "kernels_all.inc"
