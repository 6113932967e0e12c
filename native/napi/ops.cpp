// Op bindings: unpack the views lib/ passes, copy everything into the op's
// params struct here on the JS thread, and queue the kernel on the device's
// stream. No math happens in this file.
#include "args.h"
#include "bindings.h"
#include "enqueue.h"

namespace tessera::napi {

namespace {

// A QuantizedTensor as lib/quant passes it: {bits, N, K, groupSize, groups,
// codes, scales, zeroPoints | null}, each buffer a view.
struct QuantArg {
  QuantizedWeight w;
  ViewArg codes, scales, zeroPoints;
  bool hasZeroPoints = false;

  std::vector<const ViewArg*> views() const {
    std::vector<const ViewArg*> v{&codes, &scales};
    if (hasZeroPoints) v.push_back(&zeroPoints);
    return v;
  }
};

QuantArg unpackQuant(Napi::Env env, const Napi::Value& value) {
  if (!value.IsObject()) throwJs(env, ErrorCode::kInternal, "tessera internal error: quantized weight");
  Napi::Object o = value.As<Napi::Object>();
  QuantArg q;
  q.w.bits = static_cast<int32_t>(intArg(env, o.Get("bits"), "bits"));
  q.w.N = intArg(env, o.Get("N"), "N");
  q.w.K = intArg(env, o.Get("K"), "K");
  q.w.groupSize = intArg(env, o.Get("groupSize"), "groupSize");
  q.w.groups = intArg(env, o.Get("groups"), "groups");
  q.codes = unpackView(env, o.Get("codes"), "codes");
  q.scales = unpackView(env, o.Get("scales"), "scales");
  q.w.codes = static_cast<uint8_t*>(q.codes.view.data);
  q.w.scales = q.scales.view.data;
  q.w.scaleDtype = q.scales.view.dtype;
  Napi::Value zp = o.Get("zeroPoints");
  q.hasZeroPoints = !zp.IsNull() && !zp.IsUndefined();
  if (q.hasZeroPoints) {
    q.zeroPoints = unpackView(env, zp, "zeroPoints");
    q.w.zeroPoints = static_cast<uint8_t*>(q.zeroPoints.view.data);
  }
  // The buffers must hold what the layout says (op_params.h): the last check
  // between a bug in lib/ and an out-of-bounds kernel.
  const int64_t codeBytes = q.w.bits == 4 ? q.w.N * q.w.groups * (q.w.groupSize / 2) : q.w.N * q.w.groups * q.w.groupSize;
  const int64_t zpBytes = q.w.bits == 4 ? q.w.N * ((q.w.groups + 1) / 2) : q.w.N * q.w.groups;
  const bool ok = (q.w.bits == 4 || q.w.bits == 8) && q.w.groupSize > 0 && q.w.groups * q.w.groupSize >= q.w.K &&
                  q.codes.view.numel() == codeBytes && q.scales.view.numel() == q.w.N * q.w.groups &&
                  (!q.hasZeroPoints || q.zeroPoints.view.numel() == zpBytes);
  if (!ok) throwJs(env, ErrorCode::kInternal, "tessera internal error: quantized weight buffers disagree with the layout");
  return q;
}

}  // namespace

// fill(out, value)
Napi::Value fill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ViewArg out = unpackView(env, info[0], "out");
    FillParams p{out.view, numberArg(env, info[1], "value")};
    enqueueOp(env, {}, out, p, &Backend::fill);
    return env.Undefined();
  });
}

// random(out, dist, seedHi, seedLo, a, b): the 64-bit seed arrives as two
// 32-bit halves because JS numbers hold only 53 bits.
Napi::Value random(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ViewArg out = unpackView(env, info[0], "out");
    RandomParams p;
    p.out = out.view;
    p.dist = static_cast<RandomDist>(intArg(env, info[1], "dist"));
    p.seed = (static_cast<uint64_t>(intArg(env, info[2], "seedHi")) << 32) |
             static_cast<uint64_t>(intArg(env, info[3], "seedLo"));
    p.a = numberArg(env, info[4], "a");
    p.b = numberArg(env, info[5], "b");
    enqueueOp(env, {}, out, p, &Backend::random);
    return env.Undefined();
  });
}

// binary(op, a, b, out)
Napi::Value binary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ViewArg a = unpackView(env, info[1], "a");
    ViewArg b = unpackView(env, info[2], "b");
    ViewArg out = unpackView(env, info[3], "out");
    BinaryParams p{static_cast<BinaryOp>(intArg(env, info[0], "op")), a.view, b.view, out.view};
    enqueueOp(env, {&a, &b}, out, p, &Backend::binary);
    return env.Undefined();
  });
}

// unary(op, alpha, x, out)
Napi::Value unary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ViewArg x = unpackView(env, info[2], "x");
    ViewArg out = unpackView(env, info[3], "out");
    UnaryParams p{static_cast<UnaryOp>(intArg(env, info[0], "op")),
                  static_cast<float>(numberArg(env, info[1], "alpha")), x.view, out.view};
    enqueueOp(env, {&x}, out, p, &Backend::unary);
    return env.Undefined();
  });
}

// matmul(a, b, out, batch, M, N, K, batchStrideA, batchStrideB, transposeB)
Napi::Value matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ViewArg a = unpackView(env, info[0], "a");
    ViewArg b = unpackView(env, info[1], "b");
    ViewArg out = unpackView(env, info[2], "out");
    MatmulParams p;
    p.a = a.view;
    p.b = b.view;
    p.out = out.view;
    p.batch = intArg(env, info[3], "batch");
    p.M = intArg(env, info[4], "M");
    p.N = intArg(env, info[5], "N");
    p.K = intArg(env, info[6], "K");
    p.batchStrideA = intArg(env, info[7], "batchStrideA");
    p.batchStrideB = intArg(env, info[8], "batchStrideB");
    p.transposeB = info[9].ToBoolean();
    enqueueOp(env, {&a, &b}, out, p, &Backend::matmul);
    return env.Undefined();
  });
}

// softmax(x, out, rows, cols)
Napi::Value softmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ViewArg x = unpackView(env, info[0], "x");
    ViewArg out = unpackView(env, info[1], "out");
    SoftmaxParams p{x.view, out.view, intArg(env, info[2], "rows"), intArg(env, info[3], "cols")};
    enqueueOp(env, {&x}, out, p, &Backend::softmax);
    return env.Undefined();
  });
}

// norm(op, x, weight, bias | null, out, rows, cols, eps)
Napi::Value norm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ViewArg x = unpackView(env, info[1], "x");
    ViewArg w = unpackView(env, info[2], "weight");
    ViewArg bias;
    const bool hasBias = !info[3].IsNull() && !info[3].IsUndefined();
    if (hasBias) bias = unpackView(env, info[3], "bias");
    ViewArg out = unpackView(env, info[4], "out");
    NormParams p;
    p.op = static_cast<NormOp>(intArg(env, info[0], "op"));
    p.x = x.view;
    p.weight = w.view;
    if (hasBias) p.bias = bias.view;
    p.out = out.view;
    p.rows = intArg(env, info[5], "rows");
    p.cols = intArg(env, info[6], "cols");
    p.eps = static_cast<float>(numberArg(env, info[7], "eps"));
    if (hasBias) enqueueOp(env, {&x, &w, &bias}, out, p, &Backend::norm);
    else enqueueOp(env, {&x, &w}, out, p, &Backend::norm);
    return env.Undefined();
  });
}

// reduce(op, x, out, rows, cols)
Napi::Value reduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ViewArg x = unpackView(env, info[1], "x");
    ViewArg out = unpackView(env, info[2], "out");
    ReduceParams p{static_cast<ReduceOp>(intArg(env, info[0], "op")), x.view, out.view,
                   intArg(env, info[3], "rows"), intArg(env, info[4], "cols")};
    enqueueOp(env, {&x}, out, p, &Backend::reduce);
    return env.Undefined();
  });
}

// quantize(w, q): fills q's buffers (freshly allocated by lib/) from w [N, K].
Napi::Value quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ViewArg w = unpackView(env, info[0], "w");
    QuantArg q = unpackQuant(env, info[1]);
    enqueueOps(env, {&w}, q.views(), QuantizeParams{w.view, q.w}, &Backend::quantize);
    return env.Undefined();
  });
}

// dequantize(q, out)
Napi::Value dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    QuantArg q = unpackQuant(env, info[0]);
    ViewArg out = unpackView(env, info[1], "out");
    enqueueOps(env, q.views(), {&out}, DequantizeParams{q.w, out.view}, &Backend::dequantize);
    return env.Undefined();
  });
}

// qmatmul(x, q, bias | null, out, M, activations)
Napi::Value qmatmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ViewArg x = unpackView(env, info[0], "x");
    QuantArg q = unpackQuant(env, info[1]);
    ViewArg bias;
    const bool hasBias = !info[2].IsNull() && !info[2].IsUndefined();
    if (hasBias) bias = unpackView(env, info[2], "bias");
    ViewArg out = unpackView(env, info[3], "out");
    QMatmulParams p;
    p.x = x.view;
    p.w = q.w;
    if (hasBias) p.bias = bias.view;
    p.out = out.view;
    p.M = intArg(env, info[4], "M");
    p.activations = static_cast<QuantActivations>(intArg(env, info[5], "activations"));
    std::vector<const ViewArg*> inputs = q.views();
    inputs.push_back(&x);
    if (hasBias) inputs.push_back(&bias);
    enqueueOps(env, inputs, {&out}, p, &Backend::qmatmul);
    return env.Undefined();
  });
}

}  // namespace tessera::napi
