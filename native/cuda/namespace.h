// The namespace of the CUDA backend: tessera::cuda when nvcc builds it for the
// GPU, tessera::emu when g++ builds the same sources against the SIMT emulator
// (native/emu sets TESSERA_CUDA_NS=emu), so both link into one addon.
#pragma once

#ifndef TESSERA_CUDA_NS
#define TESSERA_CUDA_NS cuda
#endif
