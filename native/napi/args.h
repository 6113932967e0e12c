// Unpacking of the plain values lib/ passes down. lib/ has already validated
// them for the user; the checks here are the last line that keeps a bug in
// lib/ from reading or writing outside a buffer, and fail as E_INTERNAL.
#pragma once

#include <napi.h>

#include "../core/tensor_view.h"
#include "storage_handle.h"

namespace tessera::napi {

struct ViewArg {
  StoragePtr storage;
  TensorView view;
};

// A view is {handle, dtype, offset, shape, strides} (offset and strides in elements).
ViewArg unpackView(Napi::Env env, const Napi::Value& value, const char* name);

// Every view must live on one device; returns it.
Device commonDevice(Napi::Env env, std::initializer_list<const ViewArg*> views);

int64_t intArg(Napi::Env env, const Napi::Value& value, const char* name);
double numberArg(Napi::Env env, const Napi::Value& value, const char* name);
Device deviceArg(Napi::Env env, const Napi::Value& kind, const Napi::Value& index);

}  // namespace tessera::napi
