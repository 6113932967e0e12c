// Op bindings: unpack the views lib/ passes, copy everything into the op's
// params struct here on the JS thread, and queue the kernel on the device's
// stream. No math happens in this file.
#include "args.h"
#include "bindings.h"
#include "runtime.h"

namespace tessera::napi {

namespace {

template <typename Params>
void enqueueOp(Napi::Env env, std::initializer_list<const ViewArg*> inputs, const ViewArg& out, Params params,
               void (Backend::*method)(const Params&)) {
  std::vector<const ViewArg*> all(inputs);
  all.push_back(&out);
  Device d = out.storage->device();
  for (const ViewArg* v : all) {
    if (!(v->storage->device() == d)) {
      throwJs(env, ErrorCode::kInternal, "tessera internal error: operands on different devices");
    }
  }
  std::vector<StoragePtr> in;
  for (const ViewArg* v : inputs) in.push_back(v->storage);
  Runtime::get(env).submit(d, std::move(in), {out.storage},
                           [params, method](Backend& b) { (b.*method)(params); });
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

}  // namespace tessera::napi
