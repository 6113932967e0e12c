// CPU kernels compiled for the avx512 instruction set (flags set in CMakeLists.txt
// and binding.gyp). The sources are shared: see kernels.h.
#define TESSERA_ISA avx512
#define TESSERA_ISA_NAME "avx512"
#include "kernels_all.inc"
