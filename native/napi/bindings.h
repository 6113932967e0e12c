// The functions the addon exports, grouped by file.
#pragma once

#include <napi.h>

namespace tessera::napi {

// transfer.cpp
Napi::Value alloc(const Napi::CallbackInfo& info);
Napi::Value upload(const Napi::CallbackInfo& info);
Napi::Value read(const Napi::CallbackInfo& info);
Napi::Value readSync(const Napi::CallbackInfo& info);
Napi::Value copy(const Napi::CallbackInfo& info);

// ops.cpp
Napi::Value fill(const Napi::CallbackInfo& info);
Napi::Value random(const Napi::CallbackInfo& info);
Napi::Value binary(const Napi::CallbackInfo& info);
Napi::Value unary(const Napi::CallbackInfo& info);
Napi::Value matmul(const Napi::CallbackInfo& info);
Napi::Value softmax(const Napi::CallbackInfo& info);
Napi::Value norm(const Napi::CallbackInfo& info);
Napi::Value reduce(const Napi::CallbackInfo& info);
Napi::Value quantize(const Napi::CallbackInfo& info);
Napi::Value dequantize(const Napi::CallbackInfo& info);
Napi::Value qmatmul(const Napi::CallbackInfo& info);

// attention_ops.cpp
Napi::Value attention(const Napi::CallbackInfo& info);
Napi::Value attentionBackward(const Napi::CallbackInfo& info);
Napi::Value rope(const Napi::CallbackInfo& info);
Napi::Value linearAttention(const Napi::CallbackInfo& info);
Napi::Value linearAttentionBackward(const Napi::CallbackInfo& info);

// info.cpp
Napi::Value info(const Napi::CallbackInfo& info);
Napi::Value supports(const Napi::CallbackInfo& info);
Napi::Value isaFor(const Napi::CallbackInfo& info);
Napi::Value setErrorClass(const Napi::CallbackInfo& info);
Napi::Value externalMemory(const Napi::CallbackInfo& info);

}  // namespace tessera::napi
