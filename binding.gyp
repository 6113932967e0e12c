# CPU-only build through node-gyp, for machines without CMake (scripts/build-native.mjs
# picks it). The CPU kernels are compiled once per ISA, as in CMakeLists.txt (which
# says why the AVX-512 unit silences GCC's uninitialized warnings).
{
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fno-math-errno", "-ffp-contract=off"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "conditions": [
      ["target_arch=='x64'", {"defines": ["TESSERA_CPU_X86"]}]
    ]
  },
  "targets": [
    {
      "target_name": "tessera",
      "sources": [
        "native/core/stream.cpp",
        "native/cpu/cpu_backend.cpp",
        "native/cpu/isa.cpp",
        "native/cpu/thread_pool.cpp",
        "native/cpu/kernels_generic.cpp",
        "native/napi/addon.cpp",
        "native/napi/args.cpp",
        "native/napi/attention_ops.cpp",
        "native/napi/info.cpp",
        "native/napi/ops.cpp",
        "native/napi/runtime.cpp",
        "native/napi/storage_handle.cpp",
        "native/napi/transfer.cpp"
      ],
      "defines": [
        "TESSERA_VERSION=\"<!(node -p \"require('./package.json').version\")\"",
        "TESSERA_BUILD_SYSTEM=\"node-gyp\""
      ],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["tessera_avx2", "tessera_avx512"]}]
      ]
    },
    {
      "target_name": "tessera_avx2",
      "type": "static_library",
      "sources": ["native/cpu/kernels_avx2.cpp"],
      "cflags_cc": ["-fPIC", "-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "tessera_avx512",
      "type": "static_library",
      "sources": ["native/cpu/kernels_avx512.cpp"],
      "cflags_cc": ["-fPIC", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl",
                    "-mavx512dq", "-mavx512vnni", "-Wno-maybe-uninitialized", "-Wno-uninitialized"]
    }
  ]
}
