#include "args.h"

#include <cmath>

#include "runtime.h"

namespace tessera::napi {

namespace {
[[noreturn]] void internal(Napi::Env env, const std::string& what) {
  throwJs(env, ErrorCode::kInternal, "tessera internal error: " + what);
}
}  // namespace

int64_t intArg(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!value.IsNumber()) internal(env, std::string(name) + " is not a number");
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9007199254740992.0) {
    internal(env, std::string(name) + " is not a safe integer");
  }
  return static_cast<int64_t>(d);
}

double numberArg(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!value.IsNumber()) internal(env, std::string(name) + " is not a number");
  return value.As<Napi::Number>().DoubleValue();
}

Device deviceArg(Napi::Env env, const Napi::Value& kind, const Napi::Value& index) {
  const int64_t k = intArg(env, kind, "device kind");
  const int64_t i = intArg(env, index, "device index");
  if (k < 0 || k > 2 || i < 0 || i > 1024) internal(env, "bad device");
  return Device{static_cast<DeviceKind>(k), static_cast<int>(i)};
}

ViewArg unpackView(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!value.IsObject()) internal(env, std::string(name) + " is not a view");
  Napi::Object obj = value.As<Napi::Object>();
  ViewArg arg;
  arg.storage = StorageHandle::unwrap(env, obj.Get("handle"), name);
  TensorView& v = arg.view;
  const int64_t dtype = intArg(env, obj.Get("dtype"), "dtype");
  if (dtype < 0 || dtype >= kNumDTypes) internal(env, "bad dtype");
  v.dtype = static_cast<DType>(dtype);
  const int64_t offset = intArg(env, obj.Get("offset"), "offset");
  Napi::Value shapeValue = obj.Get("shape");
  Napi::Value stridesValue = obj.Get("strides");
  if (!shapeValue.IsArray() || !stridesValue.IsArray()) internal(env, "shape/strides are not arrays");
  Napi::Array shape = shapeValue.As<Napi::Array>();
  Napi::Array strides = stridesValue.As<Napi::Array>();
  if (shape.Length() > static_cast<uint32_t>(kMaxDims) || strides.Length() != shape.Length()) {
    internal(env, "bad rank");
  }
  v.ndim = static_cast<int>(shape.Length());

  // The furthest element the view can touch must lie inside the storage.
  const int64_t capacity = static_cast<int64_t>(arg.storage->bytes() / dtypeSize(v.dtype));
  int64_t lastOffset = offset;
  bool empty = false;
  for (int i = 0; i < v.ndim; ++i) {
    v.shape[i] = intArg(env, shape.Get(i), "shape");
    v.strides[i] = intArg(env, strides.Get(i), "strides");
    if (v.shape[i] < 0 || v.strides[i] < 0) internal(env, "negative shape or stride");
    if (v.shape[i] == 0) empty = true;
    else lastOffset += (v.shape[i] - 1) * v.strides[i];
  }
  if (offset < 0 || (!empty && lastOffset >= capacity)) {
    internal(env, std::string(name) + " reaches outside its storage");
  }
  v.data = static_cast<char*>(arg.storage->data()) + offset * static_cast<int64_t>(dtypeSize(v.dtype));
  return arg;
}

Device commonDevice(Napi::Env env, std::initializer_list<const ViewArg*> views) {
  const Device d = (*views.begin())->storage->device();
  for (const ViewArg* v : views) {
    if (!(v->storage->device() == d)) internal(env, "operands on different devices");
  }
  return d;
}

}  // namespace tessera::napi
