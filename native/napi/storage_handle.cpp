#include "storage_handle.h"

#include "runtime.h"

namespace tessera::napi {

Napi::Function StorageHandle::define(Napi::Env env) {
  Napi::Function fn = DefineClass(env, "StorageHandle",
                                  {
                                      InstanceMethod<&StorageHandle::dispose>("dispose"),
                                      InstanceMethod<&StorageHandle::share>("share"),
                                      InstanceAccessor<&StorageHandle::bytes>("bytes"),
                                      InstanceAccessor<&StorageHandle::disposed>("disposed"),
                                  });
  Runtime::get(env).handleConstructor = Napi::Persistent(fn);
  return fn;
}

StorageHandle::StorageHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StorageHandle>(info) {}

Napi::Object StorageHandle::wrap(Napi::Env env, StoragePtr storage) {
  Napi::Object obj = Runtime::get(env).handleConstructor.New({});
  Unwrap(obj)->storage_ = std::move(storage);
  return obj;
}

StoragePtr StorageHandle::unwrap(Napi::Env env, const Napi::Value& value, const char* name) {
  Runtime& rt = Runtime::get(env);
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(rt.handleConstructor.Value())) {
    throwJs(env, ErrorCode::kArgument, expected("a storage handle", name, "another value"));
  }
  StorageHandle* handle = Unwrap(value.As<Napi::Object>());
  if (!handle->storage_) {
    throwJs(env, ErrorCode::kDisposed, expected("a live tensor", name, "a disposed tensor"));
  }
  return handle->storage_;
}

Napi::Value StorageHandle::dispose(const Napi::CallbackInfo& info) {
  storage_.reset();
  return info.Env().Undefined();
}

Napi::Value StorageHandle::share(const Napi::CallbackInfo& info) {
  if (!storage_) throwJs(info.Env(), ErrorCode::kDisposed, expected("a live tensor", "this", "a disposed tensor"));
  return wrap(info.Env(), storage_);
}

Napi::Value StorageHandle::bytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), storage_ ? static_cast<double>(storage_->bytes()) : 0.0);
}

Napi::Value StorageHandle::disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !storage_);
}

}  // namespace tessera::napi
