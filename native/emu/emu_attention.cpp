// native/cuda/attention.cu compiled by the host compiler against the SIMT emulator
// (TESSERA_EMU and TESSERA_CUDA_NS=emu come from emu.cmake).
#include "../cuda/attention.cu"
