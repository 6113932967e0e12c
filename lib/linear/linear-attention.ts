/**
 * tessera.linearAttention, its backward, and LinearAttentionState for decoding
 * (Katharopoulos et al. 2020, "Transformers are RNNs"). Shape letters: B batch,
 * Hq query heads, Hkv key/value heads (GQA as attention), L length, Dk key dim,
 * Dv value dim, F feature width (Dk for 'elu' / 'relu', numFeatures for FAVOR+).
 * The exact math is in native/core/op_params.h (LinearAttentionParams).
 */
import { fail, failRaw } from '../errors.js';
import { FeatureMapId, native, type NativeLinearAttentionArgs } from '../native.js';
import { formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { zeros, full } from '../creation.js';
import { parseDevice } from '../device.js';
import { checkOperands, checkOpts, checkPositiveNumber, output } from '../ops/common.js';
import { FavorFeatures } from './favor.js';

export interface LinearAttentionOptions {
  /**
   * φ: 'elu' (default) φ(x) = elu(x) + 1; 'relu' φ(x) = max(x, 0); or a
   * FavorFeatures (tessera.favorFeatures) for FAVOR+ random features, which
   * approximate softmax attention.
   */
  featureMap?: 'elu' | 'relu' | FavorFeatures;
  /** Position i sees only keys j ≤ i (prefix sums of the state). Default false. */
  causal?: boolean;
  /**
   * Added to the normalizer φ(q)·z, which can approach 0 (with 'relu' it is 0 when
   * no feature of q meets a feature of the keys seen: then the output is 0).
   * Default 1e-6; must be positive. FAVOR+ computes with stabilized features
   * exp(… − c) (c per query row, and one for the keys) and adds eps in the units of
   * the unstabilized ones, eps · e^(−c_q − c_k), so the result does not depend on
   * the stabilizers: the chunked, recurrent and non-causal forms agree exactly.
   */
  eps?: number;
}

interface Resolved {
  featureMap: 'elu' | 'relu' | FavorFeatures;
  causal: boolean;
  eps: number;
}

function resolveOptions(options: unknown): Resolved {
  const opts = checkOpts<LinearAttentionOptions>(options);
  const featureMap = opts.featureMap ?? 'elu';
  if (featureMap !== 'elu' && featureMap !== 'relu' && !(featureMap instanceof FavorFeatures)) {
    fail('E_ARGUMENT', "'elu', 'relu' or a FavorFeatures", 'options.featureMap', featureMap);
  }
  const causal = opts.causal ?? false;
  if (typeof causal !== 'boolean') fail('E_ARGUMENT', 'a boolean', 'options.causal', causal);
  const eps = opts.eps === undefined ? 1e-6 : checkPositiveNumber(opts.eps, 'options.eps');
  return { featureMap, causal, eps };
}

interface Dims {
  B: number;
  Hq: number;
  Hkv: number;
  L: number;
  Dk: number;
  Dv: number;
}

function require4d(t: Tensor, name: string, letters: string): void {
  if (t.ndim !== 4) failRaw('E_SHAPE', `a 4-d tensor ${letters}`, name, formatShape(t.shape));
}

/** Shapes of q [B, Hq, L, Dk], k [B, Hkv, L, Dk], v [B, Hkv, L, Dv]. */
function checkShapes(q: Tensor, k: Tensor, v: Tensor): Dims {
  require4d(q, 'q', '[B, Hq, L, Dk]');
  require4d(k, 'k', '[B, Hkv, L, Dk]');
  require4d(v, 'v', '[B, Hkv, L, Dv]');
  const [B, Hq, L, Dk] = q.shape as [number, number, number, number];
  const [, Hkv] = k.shape as [number, number];
  const ks = formatShape(k.shape);
  const vs = formatShape(v.shape);
  if (k.shape[0] !== B) failRaw('E_SHAPE', `batch ${B} (from q)`, 'k', ks);
  if (k.shape[2] !== L) failRaw('E_SHAPE', `length ${L} (from q)`, 'k', ks);
  if (k.shape[3] !== Dk) failRaw('E_SHAPE', `key dim ${Dk} (from q)`, 'k', ks);
  if (Hkv < 1 || Hq % Hkv !== 0) failRaw('E_SHAPE', `a head count that divides ${Hq} (the heads of q)`, 'k', ks);
  if (v.shape[0] !== B) failRaw('E_SHAPE', `batch ${B} (from q)`, 'v', vs);
  if (v.shape[1] !== Hkv) failRaw('E_SHAPE', `${Hkv} heads (from k)`, 'v', vs);
  if (v.shape[2] !== L) failRaw('E_SHAPE', `length ${L} (from k)`, 'v', vs);
  if (Dk < 1) failRaw('E_SHAPE', 'a key dim of at least 1', 'q', formatShape(q.shape));
  if (v.shape[3]! < 1) failRaw('E_SHAPE', 'a value dim of at least 1', 'v', vs);
  return { B, Hq, Hkv, L, Dk, Dv: v.shape[3]! };
}

function featureWidth(featureMap: Resolved['featureMap'], Dk: number): number {
  if (!(featureMap instanceof FavorFeatures)) return Dk;
  if (featureMap.headDim !== Dk) failRaw('E_SHAPE', `FavorFeatures with headDim ${Dk} (the key dim of q)`, 'options.featureMap', featureMap.describe());
  return featureMap.numFeatures;
}

function nativeArgs(q: Tensor, k: Tensor, v: Tensor, d: Dims, r: Resolved, F: number): NativeLinearAttentionArgs {
  const favor = r.featureMap instanceof FavorFeatures;
  return {
    q: q.view('q'), k: k.view('k'), v: v.view('v'), out: null,
    batch: d.B, qHeads: d.Hq, kvHeads: d.Hkv, len: d.L, keyDim: d.Dk, valueDim: d.Dv,
    featureMap: favor ? FeatureMapId.favor : FeatureMapId[r.featureMap as 'elu' | 'relu'],
    favorW: favor ? (r.featureMap as FavorFeatures).matrixOn(q.device).view('options.featureMap') : null,
    features: F, causal: r.causal, eps: r.eps,
    stateS: null, stateZ: null, stateMax: null,
  };
}

/** Runs fn on contiguous versions of the tensors, disposing the temporaries afterwards. */
function withDense<R>(tensors: Tensor[], fn: (dense: Tensor[]) => R): R {
  const dense = tensors.map((t) => t.contiguous());
  try {
    return fn(dense);
  } finally {
    for (const t of dense) t.dispose();
  }
}

/**
 * Linear attention: `out_i = φ(q_i)ᵀ S / (φ(q_i)ᵀ z + eps)` with `S = Σ_j φ(k_j) v_jᵀ`
 * and `z = Σ_j φ(k_j)` over all j, or over j ≤ i when causal. O(L · F · Dv) time and
 * O(F · Dv) state per head: the causal form runs in chunks of 64 positions (a small
 * masked product inside a chunk, the running fp32 state between chunks). q, k
 * `[B, Hq|Hkv, L, Dk]`, v `[B, Hkv, L, Dv]` in fp32, fp16 or bf16 (Hq % Hkv == 0,
 * query head h reads kv head floor(h / (Hq / Hkv))); S and z are fp32 whatever the
 * input dtype. Returns `[B, Hq, L, Dv]` in q's dtype.
 * @example
 * const out = tessera.linearAttention(q, k, v, { causal: true });
 * const favor = tessera.linearAttention(q, k, v, { featureMap: tessera.favorFeatures(64, 256, { seed: 1 }) });
 */
export function linearAttention(q: Tensor, k: Tensor, v: Tensor, options?: LinearAttentionOptions): Tensor {
  const [tq, tk, tv] = checkOperands('linearAttention', [[q, 'q'], [k, 'k'], [v, 'v']]) as [Tensor, Tensor, Tensor];
  const dims = checkShapes(tq, tk, tv);
  const resolved = resolveOptions(options);
  const F = featureWidth(resolved.featureMap, dims.Dk);
  const out = output(tq, [dims.B, dims.Hq, dims.L, dims.Dv]);
  if (out.numel === 0) return out;
  withDense([tq, tk, tv], ([dq, dk, dv]) => {
    native.linearAttention({ ...nativeArgs(dq!, dk!, dv!, dims, resolved, F), out: out.view('out') });
  });
  return out;
}

/**
 * Gradients of linearAttention with respect to q, k and v for the upstream gradient
 * `dout` `[B, Hq, L, Dv]` (same options as the forward). Two scans over the sequence
 * (forward for dq, reverse for dk and dv) with O(F · Dv) extra memory per head.
 * FAVOR+ treats its stabilizing constants as constants (they cancel in the ratio up
 * to eps). dk and dv have Hkv heads (summed over the query heads that share them).
 * @example
 * const { dq, dk, dv } = tessera.linearAttentionBackward(dout, q, k, v, { causal: true });
 */
export function linearAttentionBackward(dout: Tensor, q: Tensor, k: Tensor, v: Tensor,
  options?: LinearAttentionOptions): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const [tq, tk, tv, tg] = checkOperands('linearAttentionBackward',
    [[q, 'q'], [k, 'k'], [v, 'v'], [dout, 'dout']]) as [Tensor, Tensor, Tensor, Tensor];
  const dims = checkShapes(tq, tk, tv);
  const expectDout = [dims.B, dims.Hq, dims.L, dims.Dv];
  if (tg.ndim !== 4 || tg.shape.some((s, i) => s !== expectDout[i])) {
    failRaw('E_SHAPE', `${formatShape(expectDout)} ([B, Hq, L, Dv] from q and v)`, 'dout', formatShape(tg.shape));
  }
  const resolved = resolveOptions(options);
  const F = featureWidth(resolved.featureMap, dims.Dk);
  const grads = { dq: output(tq, tq.shape), dk: output(tq, tk.shape), dv: output(tq, tv.shape) };
  if (dims.B === 0 || dims.L === 0) {
    for (const g of Object.values(grads)) if (g.numel > 0) native.fill(g.view('out'), 0);
    return grads;
  }
  withDense([tq, tk, tv, tg], ([dq, dk, dv, dg]) => {
    native.linearAttentionBackward(nativeArgs(dq!, dk!, dv!, dims, resolved, F), dg!.view('dout'),
      grads.dq.view('dq'), grads.dk.view('dk'), grads.dv.view('dv'));
  });
  return grads;
}

export interface LinearAttentionStateOptions extends LinearAttentionOptions {
  batch: number;
  /** Key/value heads (Hkv); queries passed to step may have any multiple of it. */
  kvHeads: number;
  keyDim: number;
  valueDim: number;
  /** Default 'cpu'. */
  device?: string;
}

function checkCount(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail('E_ARGUMENT', min === 0 ? 'a non-negative integer' : 'a positive integer', name, value);
  }
  return value;
}

/**
 * The recurrent form of causal linear attention, for decoding: holds S
 * `[B, Hkv, F, Dv]` and z `[B, Hkv, F]` in fp32 (plus, for FAVOR+, the key
 * stabilizer they are scaled by), and `step(q, k, v)` appends T new tokens
 * (T ≥ 1, usually 1) in O(T) time whatever the length so far, returning their
 * outputs. Equal to `linearAttention(..., { causal: true })` over the whole prefix.
 * @example
 * const state = new tessera.LinearAttentionState({ batch: 1, kvHeads: 8, keyDim: 64, valueDim: 64 });
 * for (const [q, k, v] of tokens) outputs.push(state.step(q, k, v));  // each [1, 8, 1, 64]
 */
export class LinearAttentionState {
  readonly batch: number;
  readonly kvHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly features: number;
  readonly device: string;
  readonly featureMap: 'elu' | 'relu' | FavorFeatures;
  readonly eps: number;
  #length = 0;
  #S: Tensor;
  #z: Tensor;
  #max: Tensor;

  constructor(options: LinearAttentionStateOptions) {
    const opts = checkOpts<LinearAttentionStateOptions>(options);
    this.batch = checkCount(opts.batch, 'options.batch', 1);
    this.kvHeads = checkCount(opts.kvHeads, 'options.kvHeads', 1);
    this.keyDim = checkCount(opts.keyDim, 'options.keyDim', 1);
    this.valueDim = checkCount(opts.valueDim, 'options.valueDim', 1);
    if (opts.causal === false) fail('E_ARGUMENT', 'true or undefined (the state is causal)', 'options.causal', opts.causal);
    const resolved = resolveOptions({ featureMap: opts.featureMap, eps: opts.eps });
    this.featureMap = resolved.featureMap;
    this.eps = resolved.eps;
    this.features = featureWidth(this.featureMap, this.keyDim);
    this.device = parseDevice(opts.device ?? 'cpu', 'options.device').name;
    const { batch: B, kvHeads: H, features: F, valueDim: Dv } = this;
    this.#S = zeros([B, H, F, Dv], { device: this.device });
    this.#z = zeros([B, H, F], { device: this.device });
    this.#max = full([B, H], -Infinity, { device: this.device });
  }

  /** Tokens consumed so far. */
  get length(): number {
    return this.#length;
  }

  /** S [B, Hkv, F, Dv], fp32 (for FAVOR+ scaled by exp(−stabilizer); a view, do not dispose). */
  get S(): Tensor {
    return this.#S;
  }

  /** z [B, Hkv, F], fp32 (scaled like S). */
  get z(): Tensor {
    return this.#z;
  }

  /** "LinearAttentionState(batch 1, kvHeads 8, keyDim 64, valueDim 64, length 3, cpu)". */
  describe(): string {
    return `LinearAttentionState(batch ${this.batch}, kvHeads ${this.kvHeads}, keyDim ${this.keyDim}, valueDim ${this.valueDim}, length ${this.#length}, ${this.device})`;
  }

  /**
   * Consumes T new tokens: q `[B, Hq, T, Dk]`, k `[B, Hkv, T, Dk]`, v `[B, Hkv, T, Dv]`
   * on the state's device; returns their causal outputs `[B, Hq, T, Dv]`.
   */
  step(q: Tensor, k: Tensor, v: Tensor): Tensor {
    const [tq, tk, tv] = checkOperands('linearAttention', [[q, 'q'], [k, 'k'], [v, 'v']]) as [Tensor, Tensor, Tensor];
    if (tq.device !== this.device) failRaw('E_DEVICE', `a tensor on ${this.device} (the device of the state)`, 'q', tq.describe());
    const dims = checkShapes(tq, tk, tv);
    const want = `[${this.batch}, ${this.kvHeads}, T, ${this.keyDim}] (from the state)`;
    if (dims.B !== this.batch || dims.Hkv !== this.kvHeads || dims.Dk !== this.keyDim) failRaw('E_SHAPE', want, 'k', formatShape(tk.shape));
    if (dims.Dv !== this.valueDim) failRaw('E_SHAPE', `value dim ${this.valueDim} (from the state)`, 'v', formatShape(tv.shape));
    const out = output(tq, [dims.B, dims.Hq, dims.L, dims.Dv]);
    if (dims.L === 0) return out;
    const resolved: Resolved = { featureMap: this.featureMap, causal: true, eps: this.eps };
    withDense([tq, tk, tv], ([dq, dk, dv]) => {
      native.linearAttention({
        ...nativeArgs(dq!, dk!, dv!, dims, resolved, this.features), out: out.view('out'),
        stateS: this.#S.view('state'), stateZ: this.#z.view('state'), stateMax: this.#max.view('state'),
      });
    });
    this.#length += dims.L;
    return out;
  }

  /** Back to the empty prefix. */
  reset(): void {
    native.fill(this.#S.view('state'), 0);
    native.fill(this.#z.view('state'), 0);
    native.fill(this.#max.view('state'), -Infinity);
    this.#length = 0;
  }

  dispose(): void {
    this.#S.dispose();
    this.#z.dispose();
    this.#max.dispose();
  }
}

