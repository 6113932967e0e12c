/**
 * tessera.attention and tessera.attentionBackward: validation, the mask buffers,
 * and the call into the addon. The scoring and visibility rule is DESIGN.md's
 * (native/core/attention_mask.h implements it once for every backend).
 */
import { tensor } from '../creation.js';
import { fail, failRaw } from '../errors.js';
import { native, type NativeAttentionArgs, type NativeView } from '../native.js';
import { formatShape } from '../shape.js';
import { checkTensor, Tensor } from '../tensor.js';
import { checkOperands, checkOpts, output, withContiguous } from '../ops/common.js';
import { alibiSlopes } from './alibi.js';

export interface BlockMask {
  /** A power of two ≥ 16. */
  blockSize: number;
  /** Row-major [ceil(Lq / blockSize)][ceil(Lk / blockSize)], rows by the query's own index; 0 hides a block. */
  mask: Uint8Array;
}

export interface AttentionOptions {
  /** Multiplies q·k; default 1 / sqrt(D). */
  scale?: number;
  /** Scores become softcap · tanh(score / softcap) (Gemma 2); positive. */
  softcap?: number;
  /** Query i' sees keys j ≤ i' (bottom-right aligned: i' = i + Lk − Lq). */
  causal?: boolean;
  /** [left, right]: query i' sees i' − left ≤ j ≤ i' + right; Infinity for an open side. */
  window?: readonly [number, number];
  /** Key positions (0 … Lk−1) that attend to all and are attended by all inside a window (Longformer). */
  globalTokens?: Int32Array | readonly number[];
  /** Block-sparse layout. */
  blockMask?: BlockMask;
  /** true: tessera.alibiSlopes(Hq); or one slope per query head. The bias −slope·|i' − j| is computed in the kernel. */
  alibi?: boolean | Float32Array | readonly number[];
  /** Also return the log-sum-exp of each row, fp32 [B, Hq, Lq] (−Infinity for a row with no visible key). */
  returnLse?: boolean;
}

export interface AttentionResult {
  out: Tensor;
  lse: Tensor;
}

export interface AttentionGradients {
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
}

/** @internal What the KV cache adds to a call. */
export interface CacheExtras {
  /** Keys appended to each sequence so far. */
  kvLengths: readonly number[];
  kvRing: boolean;
}

/** Validated q, k, v and options: everything a native call needs but the buffers. */
interface Plan {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  B: number;
  Hq: number;
  Hkv: number;
  Lq: number;
  Lk: number;
  D: number;
  scale: number;
  softcap: number;
  causal: boolean;
  window: [number, number] | null;
  globalTokens: Int32Array | null;
  blockMask: BlockMask | null;
  alibi: Float32Array | null;
  returnLse: boolean;
}

const MAX_HEAD_DIM = 256;

function checkWindowSide(value: unknown, name: string): number {
  if (value === Infinity) return Infinity;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail('E_ARGUMENT', 'a non-negative integer or Infinity', name, value);
  }
  return value;
}

function checkIntList(value: unknown, name: string): Int32Array {
  if (value instanceof Int32Array) return value;
  if (Array.isArray(value) && value.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) {
    return Int32Array.from(value as number[], (x) => Math.max(-1, Math.min(x, 2 ** 31 - 1)));
  }
  fail('E_ARGUMENT', 'an Int32Array or an array of integers', name, value);
}

/** Validates q, k, v (shapes, dtypes, device) and the options. */
function plan(op: 'attention' | 'attentionBackward', q: unknown, k: unknown, v: unknown, options: unknown): Plan {
  const opts = checkOpts<AttentionOptions>(options);
  const [tq, tk, tv] = checkOperands(op, [[q, 'q'], [k, 'k'], [v, 'v']]) as [Tensor, Tensor, Tensor];
  for (const [t, name, letters] of [[tq, 'q', 'Hq, Lq'], [tk, 'k', 'Hkv, Lk'], [tv, 'v', 'Hkv, Lk']] as const) {
    if (t.ndim !== 4) failRaw('E_SHAPE', `a 4-d tensor [B, ${letters}, D]`, name, formatShape(t.shape));
  }
  const [B, Hq, Lq, D] = tq.shape as [number, number, number, number];
  const [, Hkv, Lk] = tk.shape as [number, number, number, number];
  if (D % 8 !== 0 || D < 8 || D > MAX_HEAD_DIM) {
    failRaw('E_SHAPE', `a head dim D that is a multiple of 8 from 8 to ${MAX_HEAD_DIM}`, 'q', formatShape(tq.shape));
  }
  if (tk.shape[0] !== B || tk.shape[3] !== D) {
    failRaw('E_SHAPE', `[${B}, Hkv, Lk, ${D}] (batch and head dim of q)`, 'k', formatShape(tk.shape));
  }
  if (Hkv === 0 || Hq % Hkv !== 0) {
    failRaw('E_SHAPE', `a head count Hkv that divides Hq = ${Hq}`, 'k', formatShape(tk.shape));
  }
  if (tv.shape.some((d, i) => d !== tk.shape[i])) {
    failRaw('E_SHAPE', `the shape of k (${formatShape(tk.shape)})`, 'v', formatShape(tv.shape));
  }

  let scale = 1 / Math.sqrt(D);
  if (opts.scale !== undefined) {
    if (typeof opts.scale !== 'number' || !Number.isFinite(opts.scale)) fail('E_ARGUMENT', 'a finite number', 'options.scale', opts.scale);
    scale = opts.scale;
  }
  let softcap = 0;
  if (opts.softcap !== undefined) {
    if (typeof opts.softcap !== 'number' || !Number.isFinite(opts.softcap) || opts.softcap <= 0) {
      fail('E_ARGUMENT', 'a positive finite number', 'options.softcap', opts.softcap);
    }
    softcap = opts.softcap;
  }
  for (const key of ['causal', 'returnLse'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'boolean') fail('E_ARGUMENT', 'a boolean', `options.${key}`, opts[key]);
  }
  let window: [number, number] | null = null;
  if (opts.window !== undefined) {
    if (!Array.isArray(opts.window) || opts.window.length !== 2) fail('E_ARGUMENT', 'a pair [left, right]', 'options.window', opts.window);
    window = [checkWindowSide(opts.window[0], 'options.window[0]'), checkWindowSide(opts.window[1], 'options.window[1]')];
  }
  let globalTokens: Int32Array | null = null;
  if (opts.globalTokens !== undefined) {
    globalTokens = checkIntList(opts.globalTokens, 'options.globalTokens');
    const bad = globalTokens.findIndex((p) => p < 0 || p >= Lk);
    if (bad >= 0) {
      failRaw('E_ARGUMENT', `key positions in [0, ${Lk - 1}]`, `options.globalTokens[${bad}]`, String(globalTokens[bad]));
    }
  }
  let blockMask: BlockMask | null = null;
  if (opts.blockMask !== undefined) {
    const bm = opts.blockMask as unknown;
    if (bm === null || typeof bm !== 'object') fail('E_ARGUMENT', 'an object {blockSize, mask}', 'options.blockMask', bm);
    const { blockSize, mask } = bm as BlockMask;
    if (typeof blockSize !== 'number' || !Number.isSafeInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
      fail('E_ARGUMENT', 'a power of two ≥ 16', 'options.blockMask.blockSize', blockSize);
    }
    const rows = Math.ceil(Lq / blockSize), cols = Math.ceil(Lk / blockSize);
    if (!(mask instanceof Uint8Array) || mask.length !== rows * cols) {
      fail('E_ARGUMENT', `a Uint8Array of ${rows} × ${cols} = ${rows * cols} blocks (Lq = ${Lq}, Lk = ${Lk})`, 'options.blockMask.mask', mask);
    }
    blockMask = { blockSize, mask };
  }
  let alibi: Float32Array | null = null;
  if (opts.alibi === true) alibi = alibiSlopes(Hq);
  else if (opts.alibi !== undefined && opts.alibi !== false) {
    const a = opts.alibi as unknown;
    const ok = (a instanceof Float32Array || (Array.isArray(a) && a.every((x) => typeof x === 'number'))) &&
      (a as ArrayLike<number>).length === Hq;
    if (!ok) fail('E_ARGUMENT', `true or ${Hq} slopes (one per query head)`, 'options.alibi', a);
    alibi = Float32Array.from(a as ArrayLike<number>);
    const bad = alibi.findIndex((s) => !Number.isFinite(s));
    if (bad >= 0) failRaw('E_ARGUMENT', 'finite slopes', `options.alibi[${bad}]`, String(alibi[bad]));
  }
  return {
    q: tq, k: tk, v: tv, B, Hq, Hkv, Lq, Lk, D, scale, softcap,
    causal: opts.causal ?? false, window, globalTokens, blockMask, alibi, returnLse: opts.returnLse ?? false,
  };
}

/** The mask and bias buffers of a call, on the device; disposed once the kernel is queued. */
class AuxBuffers {
  readonly tensors: Tensor[] = [];

  upload(data: Float32Array | Int32Array | Uint8Array, like: Tensor): NativeView {
    const dtype = data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : 'uint8';
    const t = tensor(data, { dtype, device: like.device });
    this.tensors.push(t);
    return t.view();
  }

  dispose(): void {
    for (const t of this.tensors) t.dispose();
  }
}

/** A view whose last axis has stride 1 (what the kernels read), or a contiguous copy. */
function innerDense(t: Tensor, fn: (dense: Tensor) => void): void {
  if (t.strides[3] === 1 || t.shape[3] === 1) fn(t);
  else withContiguous(t, fn);
}

function nativeArgs(p: Plan, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor | null, aux: AuxBuffers,
  extras?: CacheExtras): NativeAttentionArgs {
  let globalPrefix: NativeView | null = null;
  if (p.globalTokens && p.globalTokens.length > 0) {
    const isGlobal = new Uint8Array(p.Lk);
    for (const pos of p.globalTokens) isGlobal[pos] = 1;
    const prefix = new Int32Array(p.Lk + 1);
    for (let j = 0; j < p.Lk; ++j) prefix[j + 1] = prefix[j]! + isGlobal[j]!;
    globalPrefix = aux.upload(prefix, q);
  }
  const bs = p.blockMask?.blockSize ?? 0;
  return {
    q: q.view('q'), k: k.view('k'), v: v.view('v'), out: out.view('out'), lse: lse ? lse.view('lse') : null,
    batch: p.B, qHeads: p.Hq, kvHeads: p.Hkv, qLen: p.Lq, kvLen: p.Lk, headDim: p.D,
    scale: p.scale, softcap: p.softcap,
    alibi: p.alibi ? aux.upload(p.alibi, q) : null,
    causal: p.causal, window: p.window, globalPrefix,
    blockMask: p.blockMask ? aux.upload(p.blockMask.mask, q) : null,
    blockSize: bs, blockRows: bs ? Math.ceil(p.Lq / bs) : 0, blockCols: bs ? Math.ceil(p.Lk / bs) : 0,
    kvLengths: extras ? aux.upload(Int32Array.from(extras.kvLengths), q) : null,
    kvRing: extras?.kvRing ?? false,
  };
}

/** @internal attention with the KV cache's extras (KVCache.attend). */
export function attentionWith(q: unknown, k: unknown, v: unknown, options: unknown, extras?: CacheExtras): Tensor | AttentionResult {
  const p = plan('attention', q, k, v, options);
  const out = output(p.q, p.q.shape);
  const lse = p.returnLse ? output(p.q, [p.B, p.Hq, p.Lq], 'float32') : null;
  const result = (): Tensor | AttentionResult => (lse ? { out, lse } : out);
  if (out.numel === 0) return result();
  const noKeys = extras ? extras.kvLengths.every((n) => n === 0) : p.Lk === 0;
  if (noKeys) {
    // No key at all: every row is empty (zeros, lse −∞) and there is nothing to launch.
    native.fill(out.view('out'), 0);
    if (lse) native.fill(lse.view('lse'), -Infinity);
    return result();
  }
  const aux = new AuxBuffers();
  try {
    innerDense(p.q, (dq) => innerDense(p.k, (dk) => innerDense(p.v, (dv) => {
      native.attention(nativeArgs(p, dq, dk, dv, out, lse, aux, extras));
    })));
  } finally {
    aux.dispose();
  }
  return result();
}

/**
 * Scaled dot-product attention, flash-style (the L×L score matrix is never stored):
 * q `[B, Hq, Lq, D]`, k and v `[B, Hkv, Lk, D]` with Hq a multiple of Hkv (GQA/MQA),
 * fp32/fp16/bf16, D a multiple of 8 up to 256. Returns `[B, Hq, Lq, D]` in q's dtype,
 * or `{out, lse}` with `returnLse`. Masks combine; tiles every entry of which is
 * masked are skipped, so a window costs O(L·W·D). A row with no visible key is zeros.
 * @example
 * const out = tessera.attention(q, k, v, { causal: true, alibi: true });
 * const local = tessera.attention(q, k, v, { causal: true, window: [255, 0], globalTokens: Int32Array.of(0) });
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions & { returnLse?: false }): Tensor;
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions & { returnLse: true }): AttentionResult;
export function attention(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Tensor | AttentionResult;
export function attention(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Tensor | AttentionResult {
  return attentionWith(q, k, v, options);
}

/**
 * Gradients of attention with respect to q, k and v, given the upstream gradient
 * `dout`, the forward's `out` and `lse` (from `attention(…, {returnLse: true})`) and
 * the same options. Probabilities are recomputed from lse (FlashAttention-2), so
 * memory stays O(L·D). Rows with no visible key get zero gradient.
 * @example
 * const { out, lse } = tessera.attention(q, k, v, { causal: true, returnLse: true });
 * const { dq, dk, dv } = tessera.attentionBackward(dout, q, k, v, out, lse, { causal: true });
 */
export function attentionBackward(dout: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor,
  options?: AttentionOptions): AttentionGradients {
  const p = plan('attentionBackward', q, k, v, options);
  const [tdout, tout] = checkOperands('attentionBackward', [[q, 'q'], [dout, 'dout'], [out, 'out']]).slice(1) as [Tensor, Tensor];
  for (const [t, name] of [[tdout, 'dout'], [tout, 'out']] as const) {
    if (t.shape.length !== 4 || t.shape.some((d, i) => d !== p.q.shape[i])) {
      failRaw('E_SHAPE', `the shape of q (${formatShape(p.q.shape)})`, name, formatShape(t.shape));
    }
  }
  const tlse = checkTensor(lse, 'lse');
  if (tlse.device !== p.q.device) failRaw('E_DEVICE', `a tensor on ${p.q.device} (the device of q)`, 'lse', tlse.describe());
  if (tlse.dtype !== 'float32') failRaw('E_DTYPE', 'a float32 tensor (from attention\'s returnLse)', 'lse', tlse.describe());
  if (tlse.ndim !== 3 || tlse.shape.some((d, i) => d !== [p.B, p.Hq, p.Lq][i])) {
    failRaw('E_SHAPE', `a float32 tensor [${p.B}, ${p.Hq}, ${p.Lq}] (from attention's returnLse)`, 'lse', tlse.describe());
  }
  const dq = output(p.q, p.q.shape);
  const dk = output(p.q, p.k.shape);
  const dv = output(p.q, p.k.shape);
  if (dq.numel === 0 && dk.numel === 0) return { dq, dk, dv };
  if (dq.numel === 0 || dk.numel === 0) {
    // No queries or no keys: nothing flows anywhere.
    for (const g of [dq, dk, dv]) if (g.numel > 0) native.fill(g.view(), 0);
    return { dq, dk, dv };
  }
  const aux = new AuxBuffers();
  try {
    withContiguous(p.q, (cq) => withContiguous(p.k, (ck) => withContiguous(p.v, (cv) =>
      withContiguous(tout, (co) => withContiguous(tlse, (cl) => withContiguous(tdout, (cd) => {
        const args = nativeArgs(p, cq, ck, cv, co, cl, aux);
        native.attentionBackward(args, cd.view('dout'), dq.view('dq'), dk.view('dk'), dv.view('dv'));
      }))))));
  } finally {
    aux.dispose();
  }
  return { dq, dk, dv };
}
