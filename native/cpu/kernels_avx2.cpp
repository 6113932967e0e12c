// CPU kernels compiled for the avx2 instruction set (flags set in CMakeLists.txt
// and binding.gyp). The sources are shared: see kernels.h.
#define TESSERA_ISA avx2
#define TESSERA_ISA_NAME "avx2"
#include "kernels_all.inc"
