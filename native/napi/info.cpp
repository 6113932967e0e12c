// What this build and this machine offer: tessera.info() and the capability query.
#include "args.h"
#include "bindings.h"
#include "runtime.h"
#include "../cpu/cpu_backend.h"
#if defined(TESSERA_WITH_CUDA)
#include "../cuda/cuda_backend.h"
#endif

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif
#ifndef TESSERA_BUILD_SYSTEM
#define TESSERA_BUILD_SYSTEM "unknown"
#endif
#ifndef TESSERA_CUDA_ARCHS
#define TESSERA_CUDA_ARCHS ""
#endif

namespace tessera::napi {

namespace {

const char* compilerName() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

Napi::Object cudaInfo(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
#if defined(TESSERA_WITH_CUDA)
  const cuda::CudaStatus s = cuda::queryCuda();
  o.Set("compiled", true);
  o.Set("available", s.available);
  if (!s.available) o.Set("reason", s.reason);
  o.Set("runtimeVersion", s.runtimeVersion);
  o.Set("driverVersion", s.driverVersion);
  Napi::Array devices = Napi::Array::New(env, s.devices.size());
  for (size_t i = 0; i < s.devices.size(); ++i) {
    const cuda::CudaDeviceInfo& d = s.devices[i];
    Napi::Object dev = Napi::Object::New(env);
    dev.Set("index", d.index);
    dev.Set("name", d.name);
    dev.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    dev.Set("totalMemory", static_cast<double>(d.totalMemory));
    dev.Set("multiprocessors", d.multiprocessors);
    devices.Set(static_cast<uint32_t>(i), dev);
  }
  o.Set("devices", devices);
#else
  o.Set("compiled", false);
  o.Set("available", false);
  o.Set("reason", "this build has no CUDA backend (built without nvcc, or with TESSERA_CUDA=off)");
  o.Set("devices", Napi::Array::New(env));
#endif
  return o;
}

}  // namespace

Napi::Value info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("version", TESSERA_VERSION);

  Napi::Object build = Napi::Object::New(env);
  build.Set("system", TESSERA_BUILD_SYSTEM);
  build.Set("compiler", compilerName());
#if defined(TESSERA_WITH_CUDA)
  build.Set("cuda", true);
  build.Set("cudaArchs", TESSERA_CUDA_ARCHS);
#else
  build.Set("cuda", false);
  build.Set("cudaArchs", "");
#endif
#if defined(TESSERA_CPU_X86)
  build.Set("cpuKernels", "generic avx2 avx512");
#else
  build.Set("cpuKernels", "generic");
#endif
  out.Set("build", build);

  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("available", true);
  cpu.Set("isa", cpu::selectedIsa());
  cpu.Set("features", cpu::cpuFeatureList());
  cpu.Set("threads", cpu::defaultThreadCount());
  cpu.Set("spinMicros", cpu::defaultSpinMicros());
  out.Set("cpu", cpu);
  out.Set("cuda", cudaInfo(env));

  Napi::Object emu = Napi::Object::New(env);
#if defined(TESSERA_WITH_EMU)
  emu.Set("available", true);
#else
  emu.Set("available", false);
  emu.Set("reason", "this build has no SIMT emulator");
#endif
  out.Set("emu", emu);
  return out;
}

// isaFor(features, want | null) -> the CPU kernel table a host with these features
// (space-separated, as info().cpu.features) would get; for tests of the selection.
Napi::Value isaFor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsString() || !(info[1].IsString() || info[1].IsNull())) {
      throwJs(env, ErrorCode::kInternal, "tessera internal error: isaFor(features, want | null)");
    }
    const std::string want = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string();
    const char* isa = cpu::isaFor(info[0].As<Napi::String>().Utf8Value(), info[1].IsString() ? want.c_str() : nullptr);
    if (isa == nullptr) throwJs(env, ErrorCode::kArgument, "an unknown CPU feature name in isaFor");
    return Napi::String::New(env, isa);
  });
}

// supports(deviceKind, deviceIndex, opKind, dtype) -> boolean; opens the device.
Napi::Value supports(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const Device d = deviceArg(env, info[0], info[1]);
    const auto op = static_cast<OpKind>(intArg(env, info[2], "op"));
    const int64_t dtype = intArg(env, info[3], "dtype");
    if (dtype < 0 || dtype >= kNumDTypes) throwJs(env, ErrorCode::kInternal, "tessera internal error: bad dtype");
    return Napi::Boolean::New(env, Runtime::get(env).device(d).backend->supports(op, static_cast<DType>(dtype)));
  });
}

// externalMemory() -> the bytes this environment has reported to V8 (after
// folding in releases made off the JS thread). For tests of the accounting.
Napi::Value externalMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, static_cast<double>(Runtime::get(env).reportReleases(env)));
}

Napi::Value setErrorClass(const Napi::CallbackInfo& info) {
  Runtime::get(info.Env()).errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace tessera::napi
