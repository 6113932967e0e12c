// Bindings of attention, its backward, RoPE and linear attention. lib/attention
// and lib/linear pass one plain object per call (the ops have many options);
// this file copies it into the params struct and re-checks that every buffer
// holds what the shape says, the last guard between a bug in lib/ and a kernel
// reading outside a buffer.
#include <cmath>
#include <string>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "enqueue.h"

namespace tessera::napi {

namespace {

[[noreturn]] void internal(Napi::Env env, const std::string& what) {
  throwJs(env, ErrorCode::kInternal, "tessera internal error: " + what);
}

Napi::Object objectArg(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!value.IsObject()) internal(env, std::string(name) + " is not an object");
  return value.As<Napi::Object>();
}

// A view-valued field, or nothing for null / undefined.
struct OptionalView {
  ViewArg arg;
  bool present = false;
};

OptionalView optionalView(Napi::Env env, const Napi::Object& o, const char* key) {
  OptionalView v;
  Napi::Value value = o.Get(key);
  if (value.IsNull() || value.IsUndefined()) return v;
  v.arg = unpackView(env, value, key);
  v.present = true;
  return v;
}

int64_t intField(Napi::Env env, const Napi::Object& o, const char* key) { return intArg(env, o.Get(key), key); }
double numberField(Napi::Env env, const Napi::Object& o, const char* key) { return numberArg(env, o.Get(key), key); }

// A window side: a non-negative integer, or Infinity for an unbounded one.
int64_t windowSide(Napi::Env env, const Napi::Value& value, const char* name) {
  const double d = numberArg(env, value, name);
  if (d == INFINITY) return kUnboundedWindow;
  if (!(d >= 0) || d != std::floor(d)) internal(env, std::string(name) + " is not a window side");
  return d >= static_cast<double>(kUnboundedWindow) ? kUnboundedWindow : static_cast<int64_t>(d);
}

void requireShape(Napi::Env env, const TensorView& v, std::initializer_list<int64_t> shape, const char* name) {
  bool ok = v.ndim == static_cast<int>(shape.size());
  int d = 0;
  for (int64_t s : shape) {
    ok = ok && v.shape[d] == s;
    ++d;
  }
  if (!ok) internal(env, std::string(name) + " disagrees with the op's shape");
}

void requireInnerContiguous(Napi::Env env, const TensorView& v, const char* name) {
  if (v.ndim == 0 || (v.shape[v.ndim - 1] > 1 && v.strides[v.ndim - 1] != 1)) {
    internal(env, std::string(name) + " has a strided last axis");
  }
}

void requireDense(Napi::Env env, const TensorView& v, DType dtype, const char* name) {
  if (!v.isContiguous() || v.dtype != dtype) internal(env, std::string(name) + " is not a dense buffer of its dtype");
}

void requireNumel(Napi::Env env, const OptionalView& v, int64_t numel, DType dtype, const char* name) {
  if (!v.present) return;
  requireDense(env, v.arg.view, dtype, name);
  if (v.arg.view.numel() != numel) internal(env, std::string(name) + " has the wrong length");
}

// The forward arguments, shared by attention and attentionBackward.
struct AttentionArgs {
  AttentionParams p;
  ViewArg q, k, v, out;
  OptionalView lse, alibi, globalPrefix, blockMask, kvLengths;

  std::vector<const ViewArg*> auxInputs() const {
    std::vector<const ViewArg*> in{&q, &k, &v};
    for (const OptionalView* o : {&alibi, &globalPrefix, &blockMask, &kvLengths}) {
      if (o->present) in.push_back(&o->arg);
    }
    return in;
  }
};

AttentionArgs unpackAttention(Napi::Env env, const Napi::Value& value) {
  Napi::Object o = objectArg(env, value, "attention arguments");
  AttentionArgs a;
  AttentionParams& p = a.p;
  a.q = unpackView(env, o.Get("q"), "q");
  a.k = unpackView(env, o.Get("k"), "k");
  a.v = unpackView(env, o.Get("v"), "v");
  a.out = unpackView(env, o.Get("out"), "out");
  a.lse = optionalView(env, o, "lse");
  a.alibi = optionalView(env, o, "alibi");
  a.globalPrefix = optionalView(env, o, "globalPrefix");
  a.blockMask = optionalView(env, o, "blockMask");
  a.kvLengths = optionalView(env, o, "kvLengths");
  p.batch = intField(env, o, "batch");
  p.qHeads = intField(env, o, "qHeads");
  p.kvHeads = intField(env, o, "kvHeads");
  p.qLen = intField(env, o, "qLen");
  p.kvLen = intField(env, o, "kvLen");
  p.headDim = intField(env, o, "headDim");
  p.scale = static_cast<float>(numberField(env, o, "scale"));
  p.softcap = static_cast<float>(numberField(env, o, "softcap"));
  p.mask.causal = o.Get("causal").ToBoolean();
  Napi::Value window = o.Get("window");
  if (!window.IsNull() && !window.IsUndefined()) {
    Napi::Object w = objectArg(env, window, "window");
    p.mask.hasWindow = true;
    p.mask.windowLeft = windowSide(env, w.Get(uint32_t{0}), "window[0]");
    p.mask.windowRight = windowSide(env, w.Get(uint32_t{1}), "window[1]");
  }
  p.kvRing = o.Get("kvRing").ToBoolean();

  const int64_t B = p.batch, Hq = p.qHeads, Hkv = p.kvHeads, Lq = p.qLen, Lk = p.kvLen, D = p.headDim;
  if (B < 0 || Hq <= 0 || Hkv <= 0 || Hq % Hkv != 0 || Lq < 0 || Lk < 0 || D <= 0) internal(env, "attention sizes");
  requireShape(env, a.q.view, {B, Hq, Lq, D}, "q");
  requireShape(env, a.k.view, {B, Hkv, Lk, D}, "k");
  requireShape(env, a.v.view, {B, Hkv, Lk, D}, "v");
  requireShape(env, a.out.view, {B, Hq, Lq, D}, "out");
  for (const ViewArg* t : {&a.q, &a.k, &a.v}) requireInnerContiguous(env, t->view, "q, k or v");
  requireDense(env, a.out.view, a.q.view.dtype, "out");
  if (a.k.view.dtype != a.q.view.dtype || a.v.view.dtype != a.q.view.dtype) internal(env, "attention dtypes differ");
  requireNumel(env, a.lse, B * Hq * Lq, DType::kFloat32, "lse");
  requireNumel(env, a.alibi, Hq, DType::kFloat32, "alibi");
  requireNumel(env, a.globalPrefix, Lk + 1, DType::kInt32, "globalPrefix");
  requireNumel(env, a.kvLengths, B, DType::kInt32, "kvLengths");
  if (p.kvRing && !a.kvLengths.present) internal(env, "kvRing without kvLengths");
  if (a.kvLengths.present && (a.globalPrefix.present || a.blockMask.present)) {
    internal(env, "kvLengths with global tokens or a block mask");
  }
  if (a.blockMask.present) {
    p.mask.blockSize = intField(env, o, "blockSize");
    p.mask.blockRows = intField(env, o, "blockRows");
    p.mask.blockCols = intField(env, o, "blockCols");
    const int64_t bs = p.mask.blockSize;
    if (bs <= 0 || p.mask.blockRows != (Lq + bs - 1) / bs || p.mask.blockCols != (Lk + bs - 1) / bs) {
      internal(env, "block mask layout");
    }
    requireNumel(env, a.blockMask, p.mask.blockRows * p.mask.blockCols, DType::kUInt8, "blockMask");
  }

  p.q = a.q.view;
  p.k = a.k.view;
  p.v = a.v.view;
  p.out = a.out.view;
  if (a.lse.present) p.lse = a.lse.arg.view;
  if (a.alibi.present) p.alibiSlopes = a.alibi.arg.view.as<float>();
  if (a.globalPrefix.present) p.mask.globalPrefix = a.globalPrefix.arg.view.as<int32_t>();
  if (a.blockMask.present) p.mask.blockMask = a.blockMask.arg.view.as<uint8_t>();
  if (a.kvLengths.present) p.kvLengths = a.kvLengths.arg.view.as<int32_t>();
  return a;
}

struct LinearArgs {
  LinearAttentionParams p;
  ViewArg q, k, v;
  OptionalView out, favorW, stateS, stateZ, stateMax;  // out: absent for the backward
};

LinearArgs unpackLinear(Napi::Env env, const Napi::Value& value) {
  Napi::Object o = objectArg(env, value, "linear attention arguments");
  LinearArgs a;
  LinearAttentionParams& p = a.p;
  a.q = unpackView(env, o.Get("q"), "q");
  a.k = unpackView(env, o.Get("k"), "k");
  a.v = unpackView(env, o.Get("v"), "v");
  a.out = optionalView(env, o, "out");
  a.favorW = optionalView(env, o, "favorW");
  a.stateS = optionalView(env, o, "stateS");
  a.stateZ = optionalView(env, o, "stateZ");
  a.stateMax = optionalView(env, o, "stateMax");
  p.batch = intField(env, o, "batch");
  p.qHeads = intField(env, o, "qHeads");
  p.kvHeads = intField(env, o, "kvHeads");
  p.len = intField(env, o, "len");
  p.keyDim = intField(env, o, "keyDim");
  p.valueDim = intField(env, o, "valueDim");
  p.featureMap = static_cast<FeatureMap>(intField(env, o, "featureMap"));
  p.features = intField(env, o, "features");
  p.causal = o.Get("causal").ToBoolean();
  p.eps = static_cast<float>(numberField(env, o, "eps"));

  const int64_t B = p.batch, Hq = p.qHeads, Hkv = p.kvHeads, L = p.len, Dk = p.keyDim, Dv = p.valueDim;
  const int64_t F = p.features;
  if (B < 0 || Hq <= 0 || Hkv <= 0 || Hq % Hkv != 0 || L < 0 || Dk <= 0 || Dv <= 0 || F <= 0) {
    internal(env, "linear attention sizes");
  }
  const bool favor = p.featureMap == FeatureMap::kFavor;
  if ((p.featureMap != FeatureMap::kElu && p.featureMap != FeatureMap::kRelu && !favor) || favor != a.favorW.present ||
      (!favor && F != Dk)) {
    internal(env, "linear attention feature map");
  }
  const DType dt = a.q.view.dtype;
  requireShape(env, a.q.view, {B, Hq, L, Dk}, "q");
  requireShape(env, a.k.view, {B, Hkv, L, Dk}, "k");
  requireShape(env, a.v.view, {B, Hkv, L, Dv}, "v");
  for (const ViewArg* t : {&a.q, &a.k, &a.v}) requireDense(env, t->view, dt, "q, k or v");
  if (a.out.present) {
    requireShape(env, a.out.arg.view, {B, Hq, L, Dv}, "out");
    requireDense(env, a.out.arg.view, dt, "out");
  }
  requireNumel(env, a.favorW, F * Dk, DType::kFloat32, "favorW");
  const bool state = a.stateS.present;
  if (state != a.stateZ.present || state != a.stateMax.present) internal(env, "partial linear attention state");
  requireNumel(env, a.stateS, B * Hkv * F * Dv, DType::kFloat32, "stateS");
  requireNumel(env, a.stateZ, B * Hkv * F, DType::kFloat32, "stateZ");
  requireNumel(env, a.stateMax, B * Hkv, DType::kFloat32, "stateMax");

  p.q = a.q.view;
  p.k = a.k.view;
  p.v = a.v.view;
  if (a.out.present) p.out = a.out.arg.view;
  if (favor) p.favorW = a.favorW.arg.view.as<float>();
  if (state) {
    p.stateS = a.stateS.arg.view.as<float>();
    p.stateZ = a.stateZ.arg.view.as<float>();
    p.stateMax = a.stateMax.arg.view.as<float>();
  }
  return a;
}

// dout, dq, dk, dv of a backward call, checked against the forward's shapes.
struct GradArgs {
  ViewArg dout, dq, dk, dv;
};

// doutShape: [B, Hq, Lq, D] (attention) or [B, Hq, L, Dv] (linear attention).
GradArgs unpackGrads(Napi::Env env, const Napi::CallbackInfo& info, const TensorView& q, const TensorView& k,
                     const TensorView& v, std::initializer_list<int64_t> doutShape) {
  GradArgs g{unpackView(env, info[1], "dout"), unpackView(env, info[2], "dq"), unpackView(env, info[3], "dk"),
             unpackView(env, info[4], "dv")};
  requireShape(env, g.dout.view, doutShape, "dout");
  requireDense(env, g.dout.view, q.dtype, "dout");
  const std::pair<const ViewArg*, const TensorView*> pairs[] = {{&g.dq, &q}, {&g.dk, &k}, {&g.dv, &v}};
  for (const auto& [grad, like] : pairs) {
    requireDense(env, grad->view, q.dtype, "gradient");
    bool same = grad->view.ndim == like->ndim;
    for (int d = 0; same && d < like->ndim; ++d) same = grad->view.shape[d] == like->shape[d];
    if (!same) internal(env, "gradient shape");
  }
  return g;
}

}  // namespace

// attention(args): writes args.out (and args.lse when given).
Napi::Value attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    AttentionArgs a = unpackAttention(env, info[0]);
    std::vector<const ViewArg*> outputs{&a.out};
    if (a.lse.present) outputs.push_back(&a.lse.arg);
    enqueueOps(env, a.auxInputs(), outputs, a.p, &Backend::attention);
    return env.Undefined();
  });
}

// attentionBackward(args, dout, dq, dk, dv): args as attention's, with args.out the
// forward output and args.lse its log-sum-exp (both read here).
Napi::Value attentionBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    AttentionArgs a = unpackAttention(env, info[0]);
    if (!a.lse.present || a.kvLengths.present) internal(env, "attentionBackward needs lse and no KV cache");
    const AttentionParams& f = a.p;
    GradArgs g = unpackGrads(env, info, a.q.view, a.k.view, a.v.view, {f.batch, f.qHeads, f.qLen, f.headDim});
    AttentionBackwardParams p;
    p.fwd = a.p;
    p.dout = g.dout.view;
    p.dq = g.dq.view;
    p.dk = g.dk.view;
    p.dv = g.dv.view;
    std::vector<const ViewArg*> inputs = a.auxInputs();
    inputs.push_back(&a.out);
    inputs.push_back(&a.lse.arg);
    inputs.push_back(&g.dout);
    enqueueOps(env, inputs, {&g.dq, &g.dk, &g.dv}, p, &Backend::attentionBackward);
    return env.Undefined();
  });
}

// rope(x, out, {batch, heads, len, headDim, layout, base, positionScale,
//               positions | null, positionsBatchStride, offset})
Napi::Value rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ViewArg x = unpackView(env, info[0], "x");
    ViewArg out = unpackView(env, info[1], "out");
    Napi::Object o = objectArg(env, info[2], "rope arguments");
    OptionalView positions = optionalView(env, o, "positions");
    RopeParams p;
    p.batch = intField(env, o, "batch");
    p.heads = intField(env, o, "heads");
    p.len = intField(env, o, "len");
    p.headDim = intField(env, o, "headDim");
    p.layout = static_cast<RopeLayout>(intField(env, o, "layout"));
    p.base = numberField(env, o, "base");
    p.positionScale = numberField(env, o, "positionScale");
    p.positionsBatchStride = intField(env, o, "positionsBatchStride");
    p.offset = intField(env, o, "offset");
    if (p.headDim <= 0 || p.headDim % 2 != 0 || (p.layout != RopeLayout::kHalf && p.layout != RopeLayout::kInterleaved)) {
      internal(env, "rope head dim or layout");
    }
    requireShape(env, x.view, {p.batch, p.heads, p.len, p.headDim}, "x");
    requireDense(env, x.view, x.view.dtype, "x");
    requireShape(env, out.view, {p.batch, p.heads, p.len, p.headDim}, "out");
    requireDense(env, out.view, x.view.dtype, "out");
    if (positions.present) {
      const int64_t rows = p.positionsBatchStride == 0 ? 1 : p.batch;
      if (p.positionsBatchStride != 0 && p.positionsBatchStride != p.len) internal(env, "rope positions stride");
      requireNumel(env, positions, rows * p.len, DType::kInt32, "positions");
      p.positions = positions.arg.view.as<int32_t>();
    }
    p.x = x.view;
    p.out = out.view;
    if (positions.present) enqueueOp(env, {&x, &positions.arg}, out, p, &Backend::rope);
    else enqueueOp(env, {&x}, out, p, &Backend::rope);
    return env.Undefined();
  });
}

// linearAttention(args): writes args.out, and the state in place when given.
Napi::Value linearAttention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    LinearArgs a = unpackLinear(env, info[0]);
    if (!a.out.present) internal(env, "linearAttention without out");
    std::vector<const ViewArg*> inputs{&a.q, &a.k, &a.v};
    if (a.favorW.present) inputs.push_back(&a.favorW.arg);
    std::vector<const ViewArg*> outputs{&a.out.arg};
    if (a.stateS.present) {
      for (const OptionalView* s : {&a.stateS, &a.stateZ, &a.stateMax}) outputs.push_back(&s->arg);
    }
    enqueueOps(env, inputs, outputs, a.p, &Backend::linearAttention);
    return env.Undefined();
  });
}

// linearAttentionBackward(args, dout, dq, dk, dv): args as linearAttention's,
// without out or a state.
Napi::Value linearAttentionBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    LinearArgs a = unpackLinear(env, info[0]);
    if (a.stateS.present || a.out.present) internal(env, "linearAttentionBackward with a state or an out");
    const LinearAttentionParams& f = a.p;
    GradArgs g = unpackGrads(env, info, a.q.view, a.k.view, a.v.view, {f.batch, f.qHeads, f.len, f.valueDim});
    LinearAttentionBackwardParams p;
    p.fwd = a.p;
    p.dout = g.dout.view;
    p.dq = g.dq.view;
    p.dk = g.dk.view;
    p.dv = g.dv.view;
    std::vector<const ViewArg*> inputs{&a.q, &a.k, &a.v, &g.dout};
    if (a.favorW.present) inputs.push_back(&a.favorW.arg);
    enqueueOps(env, inputs, {&g.dq, &g.dk, &g.dv}, p, &Backend::linearAttentionBackward);
    return env.Undefined();
  });
}

}  // namespace tessera::napi
