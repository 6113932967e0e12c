# The SIMT emulator (native/emu) and the `emu` device: the CUDA backend's sources
# (native/cuda/*.cu) compiled by the host C++ compiler against the emulator, one
# native/emu/emu_<family>.cpp wrapper per .cu. CMakeLists.txt include()s this file.
#
#   TESSERA_EMU_SOURCES  add to the addon: the emulator, the wrappers and the
#                        factory tessera::emu::createEmuBackend() (emu_backend.h).
#                        Their definitions and options are set on the files here.
#   Targets              tessera_emu_tests, tessera_emu_tests_sanitize (ASan +
#                        UBSan, ucontext switch): C++ test executables of the
#                        emulator (test/emu), each exits nonzero on a failure.
#
# Why the options:
#   -fno-strict-aliasing   CUDA code reinterprets shared memory freely (a uint16_t
#                          tile written as uint4, read as uint32_t); nvcc allows it.
#   -ffp-contract=off      no fused multiply-add the source did not ask for.
#   -fstack-clash-protection  a large frame probes every page, so it hits the
#                          fiber stack's guard page instead of jumping over it.
#   -Wno-unknown-pragmas   `#pragma unroll` is nvcc's.

set(TESSERA_EMU_DIR ${CMAKE_CURRENT_LIST_DIR})
get_filename_component(TESSERA_EMU_ROOT "${TESSERA_EMU_DIR}/../.." ABSOLUTE)

set(TESSERA_EMU_CORE_SOURCES
  ${TESSERA_EMU_DIR}/fiber.cpp
  ${TESSERA_EMU_DIR}/scheduler.cpp
  ${TESSERA_EMU_DIR}/runtime.cpp
  ${TESSERA_EMU_DIR}/ptx.cpp)
set(TESSERA_EMU_BACKEND_SOURCES
  ${TESSERA_EMU_DIR}/emu_allocator.cpp
  ${TESSERA_EMU_DIR}/emu_attention.cpp
  ${TESSERA_EMU_DIR}/emu_attention_backward.cpp
  ${TESSERA_EMU_DIR}/emu_copy.cpp
  ${TESSERA_EMU_DIR}/emu_cuda_backend.cpp
  ${TESSERA_EMU_DIR}/emu_elementwise.cpp
  ${TESSERA_EMU_DIR}/emu_linear_attention.cpp
  ${TESSERA_EMU_DIR}/emu_matmul.cpp
  ${TESSERA_EMU_DIR}/emu_norm.cpp
  ${TESSERA_EMU_DIR}/emu_quant.cpp
  ${TESSERA_EMU_DIR}/emu_reduce.cpp
  ${TESSERA_EMU_DIR}/emu_rope.cpp
  ${TESSERA_EMU_DIR}/emu_softmax.cpp
  ${TESSERA_EMU_DIR}/emu_backend.cpp)
set(TESSERA_EMU_SOURCES ${TESSERA_EMU_CORE_SOURCES} ${TESSERA_EMU_BACKEND_SOURCES})
set(TESSERA_EMU_TEST_SOURCES ${TESSERA_EMU_ROOT}/test/emu/emu_tests.cpp)

set(TESSERA_EMU_DEFINITIONS TESSERA_EMU TESSERA_CUDA_NS=emu)
set(TESSERA_EMU_OPTIONS -fno-strict-aliasing -ffp-contract=off -fstack-clash-protection -Wno-unknown-pragmas)
set_source_files_properties(${TESSERA_EMU_SOURCES} ${TESSERA_EMU_TEST_SOURCES} PROPERTIES
  COMPILE_DEFINITIONS "${TESSERA_EMU_DEFINITIONS}"
  COMPILE_OPTIONS "${TESSERA_EMU_OPTIONS}")

find_package(Threads REQUIRED)

# EXCLUDE_FROM_ALL: `npm install` builds the addon only; the tests are built by
# name (cmake --build <dir> --target tessera_emu_tests).
add_executable(tessera_emu_tests EXCLUDE_FROM_ALL ${TESSERA_EMU_SOURCES} ${TESSERA_EMU_TEST_SOURCES})
target_compile_options(tessera_emu_tests PRIVATE -O2 -Wall -Wextra -Wno-unused-parameter)
target_link_libraries(tessera_emu_tests PRIVATE Threads::Threads)

add_executable(tessera_emu_tests_sanitize EXCLUDE_FROM_ALL ${TESSERA_EMU_SOURCES} ${TESSERA_EMU_TEST_SOURCES})
target_compile_definitions(tessera_emu_tests_sanitize PRIVATE TESSERA_EMU_UCONTEXT)
target_compile_options(tessera_emu_tests_sanitize PRIVATE
  -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all)
target_link_options(tessera_emu_tests_sanitize PRIVATE -fsanitize=address,undefined)
target_link_libraries(tessera_emu_tests_sanitize PRIVATE Threads::Threads)
