/**
 * The CUDA attention backward and RoPE kernels, run on the `emu` device (the same
 * .cu sources compiled against the SIMT emulator), against float64 references
 * written here from the formulas in DESIGN.md / op_params.h. The gradient
 * reference is itself checked against central finite differences of
 * Σ dO ∘ attention(q, k, v) on a tiny case.
 *
 * The backward takes the forward's out and lse as inputs; until the CUDA forward
 * lands they come from the float64 forward below, rounded to the tensor dtype
 * (out) and fp32 (lse) exactly as a device would hand them over. The reference
 * gradient then reads those same rounded values, so the comparison measures the
 * kernel's own error: its fp32 arithmetic and the final rounding.
 *
 * Shape letters: B batch, Hq / Hkv query / kv heads, Lq / Lk lengths, D head dim.
 */
import { describe, expect, test } from 'vitest';
import * as tessera from '../lib/index.js';
import type { Tensor } from '../lib/index.js';
import { native } from '../lib/native.js';
import { Rng } from './parity/harness.js';
import { decodeArray, roundTo, ulp, type FloatDType } from './reference/index.js';

const hasEmu = tessera.availableDevices().includes('emu');
const DEVICE = 'emu';

interface MaskOptions {
  causal?: boolean;
  window?: [number, number];
  globalTokens?: number[];
  blockMask?: { blockSize: number; mask: Uint8Array };
  alibi?: Float64Array;
  softcap?: number;
  scale?: number;
}

interface Sizes {
  B: number;
  Hq: number;
  Hkv: number;
  Lq: number;
  Lk: number;
  D: number;
}

// ---------------------------------------------------------------------------
// float64 references

function visible(o: MaskOptions, s: Sizes, i: number, j: number): boolean {
  const ip = i + s.Lk - s.Lq;
  if (o.causal && j > ip) return false;
  if (o.blockMask) {
    const bs = o.blockMask.blockSize;
    const cols = Math.ceil(s.Lk / bs);
    if (o.blockMask.mask[Math.floor(i / bs) * cols + Math.floor(j / bs)] === 0) return false;
  }
  if (o.window) {
    const [left, right] = o.window;
    const inside = ip - left <= j && j <= ip + right;
    const globals = o.globalTokens ?? [];
    if (!inside && !globals.includes(ip) && !globals.includes(j)) return false;
  }
  return true;
}

/** Final score of (query i of head h, key j) and d score / d (q·k). */
function score(o: MaskOptions, s: Sizes, h: number, i: number, j: number, raw: number): [number, number] {
  const scale = o.scale ?? 1 / Math.sqrt(s.D);
  let value = scale * raw;
  let slope = scale;
  if (o.softcap) {
    const t = Math.tanh(value / o.softcap);
    value = o.softcap * t;
    slope = scale * (1 - t * t);
  }
  if (o.alibi) value -= o.alibi[h] * Math.abs(i + s.Lk - s.Lq - j);
  return [value, slope];
}

const idx = (s: Sizes, heads: number, len: number, b: number, h: number, l: number) => ((b * heads + h) * len + l) * s.D;

function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let acc = 0;
  for (let d = 0; d < n; ++d) acc += a[ao + d] * b[bo + d];
  return acc;
}

function forwardReference(o: MaskOptions, s: Sizes, q: Float64Array, k: Float64Array, v: Float64Array) {
  const out = new Float64Array(s.B * s.Hq * s.Lq * s.D);
  const lse = new Float64Array(s.B * s.Hq * s.Lq);
  const G = s.Hq / s.Hkv;
  for (let b = 0; b < s.B; ++b) {
    for (let h = 0; h < s.Hq; ++h) {
      const hk = Math.floor(h / G);
      for (let i = 0; i < s.Lq; ++i) {
        const qo = idx(s, s.Hq, s.Lq, b, h, i);
        const scores: [number, number][] = [];
        for (let j = 0; j < s.Lk; ++j) {
          if (!visible(o, s, i, j)) continue;
          scores.push([j, score(o, s, h, i, j, dot(q, qo, k, idx(s, s.Hkv, s.Lk, b, hk, j), s.D))[0]]);
        }
        const row = b * s.Hq * s.Lq + h * s.Lq + i;
        if (scores.length === 0) {
          lse[row] = -Infinity;
          continue;
        }
        const max = Math.max(...scores.map(([, x]) => x));
        let sum = 0;
        for (const [, x] of scores) sum += Math.exp(x - max);
        lse[row] = max + Math.log(sum);
        for (const [j, x] of scores) {
          const p = Math.exp(x - lse[row]);
          const vo = idx(s, s.Hkv, s.Lk, b, hk, j);
          for (let d = 0; d < s.D; ++d) out[qo + d] += p * v[vo + d];
        }
      }
    }
  }
  return { out, lse };
}

/** Gradients given the forward's out and lse (as the kernel gets them). */
function backwardReference(o: MaskOptions, s: Sizes, q: Float64Array, k: Float64Array, v: Float64Array,
  dout: Float64Array, out: Float64Array, lse: Float64Array) {
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const G = s.Hq / s.Hkv;
  for (let b = 0; b < s.B; ++b) {
    for (let h = 0; h < s.Hq; ++h) {
      const hk = Math.floor(h / G);
      for (let i = 0; i < s.Lq; ++i) {
        const row = b * s.Hq * s.Lq + h * s.Lq + i;
        if (lse[row] === -Infinity) continue;
        const qo = idx(s, s.Hq, s.Lq, b, h, i);
        const rowDot = dot(dout, qo, out, qo, s.D);
        for (let j = 0; j < s.Lk; ++j) {
          if (!visible(o, s, i, j)) continue;
          const ko = idx(s, s.Hkv, s.Lk, b, hk, j);
          const [x, slope] = score(o, s, h, i, j, dot(q, qo, k, ko, s.D));
          const p = Math.exp(x - lse[row]);
          const dRaw = p * (dot(dout, qo, v, ko, s.D) - rowDot) * slope;
          for (let d = 0; d < s.D; ++d) {
            dv[ko + d] += p * dout[qo + d];
            dq[qo + d] += dRaw * k[ko + d];
            dk[ko + d] += dRaw * q[qo + d];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

/**
 * A plain implementation in the tensor dtype (each product and elementwise op
 * rounded to it, products accumulated exactly then rounded once, as a framework's
 * unfused fp16 / bf16 backward with fp32 accumulation): the yardstick of the
 * FlashAttention tolerance rule (DESIGN.md, Testing).
 */
function plainBackward(dtype: FloatDType, o: MaskOptions, s: Sizes, q: Float64Array, k: Float64Array, v: Float64Array,
  dout: Float64Array, out: Float64Array, lse: Float64Array) {
  const r = (x: number) => roundTo(dtype, x);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const scale = o.scale ?? 1 / Math.sqrt(s.D);
  const G = s.Hq / s.Hkv;
  for (let b = 0; b < s.B; ++b) {
    for (let h = 0; h < s.Hq; ++h) {
      const hk = Math.floor(h / G);
      for (let i = 0; i < s.Lq; ++i) {
        const row = b * s.Hq * s.Lq + h * s.Lq + i;
        if (lse[row] === -Infinity) continue;
        const qo = idx(s, s.Hq, s.Lq, b, h, i);
        const rowDot = r(dot(dout, qo, out, qo, s.D));
        for (let j = 0; j < s.Lk; ++j) {
          if (!visible(o, s, i, j)) continue;
          const ko = idx(s, s.Hkv, s.Lk, b, hk, j);
          let x = r(scale * dot(q, qo, k, ko, s.D));
          let slope = scale;
          if (o.softcap) {
            const t = r(Math.tanh(r(x / o.softcap)));
            x = r(o.softcap * t);
            slope = r(scale * r(1 - r(t * t)));
          }
          if (o.alibi) x = r(x - r(o.alibi[h] * Math.abs(i + s.Lk - s.Lq - j)));
          const p = r(Math.exp(r(x - lse[row])));
          const dRaw = r(r(p * r(r(dot(dout, qo, v, ko, s.D)) - rowDot)) * slope);
          for (let d = 0; d < s.D; ++d) {
            dv[ko + d] += p * dout[qo + d];
            dq[qo + d] += dRaw * k[ko + d];
            dk[ko + d] += dRaw * q[qo + d];
          }
        }
      }
    }
  }
  for (const g of [dq, dk, dv]) for (let e = 0; e < g.length; ++e) g[e] = r(g[e]);
  return { dq, dk, dv };
}

// ---------------------------------------------------------------------------
// Device plumbing

function randomValues(rng: Rng, n: number, spread = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; ++i) a[i] = rng.normal() * spread;
  return a;
}

/** Uploads values in dtype and returns the tensor and the values it holds. */
function upload(values: Float64Array, shape: number[], dtype: FloatDType | 'float32', device = DEVICE): [Tensor, Float64Array] {
  const t = tessera.tensor(values, { shape, dtype, device });
  return [t, decodeArray(dtype, t.dataSync() as ArrayLike<number>)];
}

/**
 * A [B, H, L, D] operand stored as [B, L, H, D] and transposed back (the strides a
 * KV cache or a fused QKV projection hands over); values in [B, H, L, D] order.
 */
function uploadStrided(values: Float64Array, shape: number[], dtype: FloatDType): [Tensor, Float64Array] {
  const [B, H, L, D] = shape;
  const stored = new Float64Array(values.length);
  for (let b = 0; b < B; ++b) {
    for (let h = 0; h < H; ++h) {
      for (let l = 0; l < L; ++l) {
        for (let d = 0; d < D; ++d) stored[((b * L + l) * H + h) * D + d] = values[((b * H + h) * L + l) * D + d];
      }
    }
  }
  const base = tessera.tensor(stored, { shape: [B, L, H, D], dtype, device: DEVICE });
  const t = base.transpose(1, 2);
  base.dispose();
  return [t, decodeArray(dtype, t.dataSync() as ArrayLike<number>)];
}

/** A [B, H, L, D] operand whose rows are D + 1 apart (so not 16-byte aligned). */
function uploadPadded(values: Float64Array, shape: number[], dtype: FloatDType): [Tensor, Float64Array] {
  const D = shape[3];
  const rows = values.length / D;
  const stored = new Float64Array(rows * (D + 1));
  for (let r = 0; r < rows; ++r) {
    for (let d = 0; d < D; ++d) stored[r * (D + 1) + d] = values[r * D + d];
    stored[r * (D + 1) + D] = 1e4;  // never read
  }
  const base = tessera.tensor(stored, { shape: [...shape.slice(0, 3), D + 1], dtype, device: DEVICE });
  const t = base.slice(3, 0, D);
  base.dispose();
  return [t, decodeArray(dtype, t.dataSync() as ArrayLike<number>)];
}

function globalPrefix(globals: number[], Lk: number): Int32Array {
  const prefix = new Int32Array(Lk + 1);
  for (let j = 0; j < Lk; ++j) prefix[j + 1] = prefix[j] + (globals.includes(j) ? 1 : 0);
  return prefix;
}

interface Case {
  name: string;
  sizes: Sizes;
  dtype: FloatDType;
  opts: MaskOptions;
  /** q, k and v as transposed views (strided B, H, L axes) or with padded rows. */
  layout?: 'transposed' | 'padded';
}

function runBackward(c: Case) {
  const s = c.sizes;
  const rng = new Rng(0x5eed ^ c.name.length * 7919 ^ s.Lq * 31 ^ s.Lk);
  const qShape = [s.B, s.Hq, s.Lq, s.D];
  const kShape = [s.B, s.Hkv, s.Lk, s.D];
  const operand = c.layout === 'transposed' ? uploadStrided : c.layout === 'padded' ? uploadPadded : upload;
  const [q, qv] = operand(randomValues(rng, s.B * s.Hq * s.Lq * s.D), qShape, c.dtype);
  const [k, kv] = operand(randomValues(rng, s.B * s.Hkv * s.Lk * s.D), kShape, c.dtype);
  const [v, vv] = operand(randomValues(rng, s.B * s.Hkv * s.Lk * s.D), kShape, c.dtype);
  const [dout, doutv] = upload(randomValues(rng, s.B * s.Hq * s.Lq * s.D), qShape, c.dtype);
  const fwd = forwardReference(c.opts, s, qv, kv, vv);
  const [out, outv] = upload(fwd.out, qShape, c.dtype);
  const [lse, lsev] = upload(fwd.lse, [s.B, s.Hq, s.Lq], 'float32');
  const ref = backwardReference(c.opts, s, qv, kv, vv, doutv, outv, lsev);
  const plain = c.dtype === 'float32' ? ref : plainBackward(c.dtype, c.opts, s, qv, kv, vv, doutv, outv, lsev);

  const o = c.opts;
  const aux: Tensor[] = [];
  const auxView = (values: ArrayBufferView & { length: number }, dtype: 'float32' | 'int32' | 'uint8') => {
    const t = tessera.tensor(values, { shape: [values.length], dtype, device: DEVICE });
    aux.push(t);
    return t.view();
  };
  const bs = o.blockMask?.blockSize ?? 0;
  const args = {
    q: q.view(), k: k.view(), v: v.view(), out: out.view(), lse: lse.view(),
    batch: s.B, qHeads: s.Hq, kvHeads: s.Hkv, qLen: s.Lq, kvLen: s.Lk, headDim: s.D,
    scale: o.scale ?? 1 / Math.sqrt(s.D),
    softcap: o.softcap ?? 0,
    alibi: o.alibi ? auxView(Float32Array.from(o.alibi), 'float32') : null,
    causal: o.causal ?? false,
    window: o.window ?? null,
    globalPrefix: o.globalTokens ? auxView(globalPrefix(o.globalTokens, s.Lk), 'int32') : null,
    blockMask: o.blockMask ? auxView(o.blockMask.mask, 'uint8') : null,
    blockSize: bs,
    blockRows: bs ? Math.ceil(s.Lq / bs) : 0,
    blockCols: bs ? Math.ceil(s.Lk / bs) : 0,
    kvLengths: null,
    kvRing: false,
  };
  // Poisoned outputs: an element the kernels leave unwritten stays NaN.
  const dq = tessera.full(qShape, NaN, { dtype: c.dtype, device: DEVICE });
  const dk = tessera.full(kShape, NaN, { dtype: c.dtype, device: DEVICE });
  const dv = tessera.full(kShape, NaN, { dtype: c.dtype, device: DEVICE });
  native.attentionBackward(args, dout.view(), dq.view(), dk.view(), dv.view());
  const got = {
    dq: decodeArray(c.dtype, dq.dataSync() as ArrayLike<number>),
    dk: decodeArray(c.dtype, dk.dataSync() as ArrayLike<number>),
    dv: decodeArray(c.dtype, dv.dataSync() as ArrayLike<number>),
  };
  for (const t of [q, k, v, dout, out, lse, dq, dk, dv, ...aux]) t.dispose();
  return { got, ref, plain, maskedRows: Array.from(lsev).filter((x) => x === -Infinity).length };
}

/**
 * fp32: every element within a floor of fp32 arithmetic, relative to the largest
 * gradient (at least 0.1: with unit-normal inputs the terms summed are O(1) even
 * where a gradient cancels to 0). fp16 / bf16: the FlashAttention rule, the
 * largest error against float64 at most twice that of the plain same-dtype
 * implementation, plus that floor. Returns the largest error relative to the scale
 * (and, for 16-bit dtypes, relative to the plain implementation's), for the log.
 */
function expectClose(dtype: FloatDType, got: Float64Array, ref: Float64Array, plain: Float64Array, what: string): string {
  let scale = 0;
  for (const x of ref) scale = Math.max(scale, Math.abs(x));
  scale = Math.max(scale, 0.1);
  const floor = 2e-5 * scale;
  let worst = 0, worstPlain = 0;
  for (let e = 0; e < ref.length; ++e) {
    const err = Math.abs(got[e] - ref[e]);
    if (!(err <= (dtype === 'float32' ? floor : Infinity))) {
      throw new Error(`${what}[${e}]: got ${got[e]}, expected ${ref[e]} (allowed ${floor})`);
    }
    if (!Number.isFinite(got[e])) throw new Error(`${what}[${e}]: got ${got[e]}`);
    worst = Math.max(worst, err);
    worstPlain = Math.max(worstPlain, Math.abs(plain[e] - ref[e]));
  }
  if (dtype !== 'float32' && !(worst <= 2 * worstPlain + floor)) {
    throw new Error(`${what}: max error ${worst}, plain ${dtype} implementation ${worstPlain}`);
  }
  const relative = (worst / scale).toExponential(2);
  return dtype === 'float32' ? relative : `${relative} (${(worst / worstPlain).toFixed(2)}x plain)`;
}

// ---------------------------------------------------------------------------

describe('attention backward reference', () => {
  test('matches central finite differences of Σ dO ∘ attention', () => {
    const s: Sizes = { B: 1, Hq: 2, Hkv: 1, Lq: 3, Lk: 4, D: 8 };
    const rng = new Rng(12345);
    const q = randomValues(rng, s.Hq * s.Lq * s.D);
    const k = randomValues(rng, s.Hkv * s.Lk * s.D);
    const v = randomValues(rng, s.Hkv * s.Lk * s.D);
    const dout = randomValues(rng, s.Hq * s.Lq * s.D);
    const variants: MaskOptions[] = [
      {},
      { causal: true, softcap: 2.5, alibi: Float64Array.of(0.5, 0.25) },
      { window: [1, 0], globalTokens: [0] },
    ];
    for (const o of variants) {
      const loss = (qq: Float64Array, kk: Float64Array, vv: Float64Array) => {
        const { out } = forwardReference(o, s, qq, kk, vv);
        return dot(out, 0, dout, 0, out.length);
      };
      const { out, lse } = forwardReference(o, s, q, k, v);
      const grads = backwardReference(o, s, q, k, v, dout, out, lse);
      const h = 1e-6;
      for (const [x, g] of [[q, grads.dq], [k, grads.dk], [v, grads.dv]] as const) {
        for (let e = 0; e < x.length; ++e) {
          const keep = x[e];
          x[e] = keep + h;
          const up = loss(q, k, v);
          x[e] = keep - h;
          const down = loss(q, k, v);
          x[e] = keep;
          expect(Math.abs((up - down) / (2 * h) - g[e])).toBeLessThan(1e-6);
        }
      }
    }
  });
});

function blockMaskOf(Lq: number, Lk: number, bs: number, rng: Rng, hideRow = 0): Uint8Array {
  const rows = Math.ceil(Lq / bs), cols = Math.ceil(Lk / bs);
  const mask = new Uint8Array(rows * cols);
  for (let e = 0; e < mask.length; ++e) mask[e] = rng.uniform() < 0.6 ? 1 : 0;
  for (let c = 0; c < cols; ++c) mask[hideRow * cols + c] = 0;  // a block row of fully masked queries
  return mask;
}

const maskRng = new Rng(99);
const CASES: Case[] = [
  { name: 'plain GQA, Lq < Lk', dtype: 'float32', sizes: { B: 1, Hq: 4, Hkv: 2, Lq: 7, Lk: 97, D: 32 }, opts: {} },
  { name: 'causal, Lq > Lk (rows without keys)', dtype: 'float32',
    sizes: { B: 2, Hq: 2, Hkv: 1, Lq: 37, Lk: 20, D: 64 }, opts: { causal: true } },
  { name: 'window + global tokens', dtype: 'float32', sizes: { B: 1, Hq: 2, Hkv: 2, Lq: 70, Lk: 70, D: 80 },
    opts: { window: [5, 2], globalTokens: [3, 66] } },
  { name: 'block mask with a hidden block row', dtype: 'float32',
    sizes: { B: 1, Hq: 2, Hkv: 1, Lq: 40, Lk: 70, D: 32 },
    opts: { blockMask: { blockSize: 16, mask: blockMaskOf(40, 70, 16, maskRng, 1) } } },
  { name: 'softcap + ALiBi + causal', dtype: 'float32', sizes: { B: 1, Hq: 3, Hkv: 1, Lq: 25, Lk: 66, D: 64 },
    opts: { softcap: 3, alibi: Float64Array.of(0.5, 0.125, 0.03125), causal: true, scale: 0.3 } },
  { name: 'one query, one key', dtype: 'float32', sizes: { B: 1, Hq: 1, Hkv: 1, Lq: 1, Lk: 1, D: 8 }, opts: {} },
  { name: 'D = 256', dtype: 'float32', sizes: { B: 1, Hq: 1, Hkv: 1, Lq: 9, Lk: 11, D: 256 }, opts: { causal: true } },
  { name: 'causal window, one-sided', dtype: 'float16', sizes: { B: 1, Hq: 2, Hkv: 1, Lq: 33, Lk: 65, D: 64 },
    opts: { causal: true, window: [7, 0] } },
  { name: 'softcap + ALiBi + global tokens', dtype: 'bfloat16', sizes: { B: 1, Hq: 2, Hkv: 1, Lq: 30, Lk: 30, D: 80 },
    opts: { softcap: 4, alibi: Float64Array.of(0.25, 0.0625), window: [3, 3], globalTokens: [0] } },
  { name: 'block mask', dtype: 'bfloat16', sizes: { B: 2, Hq: 2, Hkv: 2, Lq: 33, Lk: 33, D: 32 },
    opts: { blockMask: { blockSize: 16, mask: blockMaskOf(33, 33, 16, maskRng, 2) } } },
  { name: 'GQA causal', dtype: 'float16', sizes: { B: 1, Hq: 4, Hkv: 1, Lq: 20, Lk: 20, D: 80 }, opts: { causal: true } },
  { name: 'strided q, k, v (transposed views), GQA 3', dtype: 'float32', layout: 'transposed',
    sizes: { B: 2, Hq: 3, Hkv: 1, Lq: 19, Lk: 70, D: 32 }, opts: { causal: true, alibi: Float64Array.of(0.5, 0.25, 0.125) } },
  { name: 'Lk 1025, window wider than the sequence', dtype: 'float32', sizes: { B: 1, Hq: 1, Hkv: 1, Lq: 97, Lk: 1025, D: 32 },
    opts: { window: [2000, Infinity] } },
  { name: 'unbounded left window, causal, fp16 strided', dtype: 'float16', layout: 'transposed',
    sizes: { B: 1, Hq: 2, Hkv: 2, Lq: 97, Lk: 97, D: 64 }, opts: { window: [Infinity, 0], causal: true, softcap: 8 } },
  // Tensor-core path edges: D not a multiple of 16 (zero-padded reduction), one
  // dim tile (half the warps idle for dK / dV / dQ), D = 128; D = 256 falls back.
  { name: 'D 40, causal, Lq > Lk', dtype: 'float16', sizes: { B: 1, Hq: 2, Hkv: 1, Lq: 70, Lk: 45, D: 40 },
    opts: { causal: true } },
  { name: 'D 8', dtype: 'bfloat16', sizes: { B: 1, Hq: 1, Hkv: 1, Lq: 17, Lk: 9, D: 8 }, opts: {} },
  { name: 'D 128, window', dtype: 'bfloat16', sizes: { B: 1, Hq: 2, Hkv: 1, Lq: 33, Lk: 129, D: 128 },
    opts: { window: [20, 5] } },
  { name: 'rows not 16-byte aligned', dtype: 'bfloat16', layout: 'padded',
    sizes: { B: 1, Hq: 2, Hkv: 1, Lq: 21, Lk: 70, D: 24 }, opts: { causal: true } },
  { name: 'D 256 (SIMT fallback)', dtype: 'float16', sizes: { B: 1, Hq: 1, Hkv: 1, Lq: 9, Lk: 70, D: 256 },
    opts: { alibi: Float64Array.of(0.1) } },
];

describe.skipIf(!hasEmu)('CUDA attention backward on emu', () => {
  for (const c of CASES) {
    test(`${c.dtype} ${c.name} [B ${c.sizes.B}, Hq ${c.sizes.Hq}, Hkv ${c.sizes.Hkv}, Lq ${c.sizes.Lq}, Lk ${c.sizes.Lk}, D ${c.sizes.D}]`, () => {
      const { got, ref, plain, maskedRows } = runBackward(c);
      const errors = (['dq', 'dk', 'dv'] as const).map((g) => expectClose(c.dtype, got[g], ref[g], plain[g], g));
      console.log(`${c.dtype} ${c.name}: max error / max |grad| dq ${errors[0]} ` +
        `dk ${errors[1]} dv ${errors[2]}; rows without keys ${maskedRows}`);
    });
  }

  test('tessera.attentionBackward on emu agrees with the cpu backend and the reference', () => {
    const s: Sizes = { B: 1, Hq: 4, Hkv: 2, Lq: 21, Lk: 45, D: 64 };
    const opts = { causal: true, window: [9, 2] as [number, number], globalTokens: Int32Array.of(1), alibi: true as const, softcap: 6 };
    const slopes = Float64Array.from(tessera.alibiSlopes(s.Hq));
    const ref: MaskOptions = { causal: true, window: [9, 2], globalTokens: [1], alibi: slopes, softcap: 6 };
    const rng = new Rng(4242);
    const qShape = [s.B, s.Hq, s.Lq, s.D], kShape = [s.B, s.Hkv, s.Lk, s.D];
    const inputs = [randomValues(rng, 21 * 4 * 64), randomValues(rng, 45 * 2 * 64), randomValues(rng, 45 * 2 * 64),
      randomValues(rng, 21 * 4 * 64)];
    const grads: Record<string, Float64Array[]> = {};
    let refGrads: ReturnType<typeof backwardReference> | undefined;
    let plainGrads: ReturnType<typeof backwardReference> | undefined;
    for (const device of ['cpu', 'emu']) {
      const [q, qv] = upload(inputs[0], qShape, 'float16', device);
      const [k, kv] = upload(inputs[1], kShape, 'float16', device);
      const [v, vv] = upload(inputs[2], kShape, 'float16', device);
      const [dout, doutv] = upload(inputs[3], qShape, 'float16', device);
      const fwd = forwardReference(ref, s, qv, kv, vv);
      const [out, outv] = upload(fwd.out, qShape, 'float16', device);
      const [lse, lsev] = upload(fwd.lse, [s.B, s.Hq, s.Lq], 'float32', device);
      refGrads ??= backwardReference(ref, s, qv, kv, vv, doutv, outv, lsev);
      plainGrads ??= plainBackward('float16', ref, s, qv, kv, vv, doutv, outv, lsev);
      const g = tessera.attentionBackward(dout, q, k, v, out, lse, opts);
      grads[device] = [g.dq, g.dk, g.dv].map((t) => decodeArray('float16', t.dataSync() as ArrayLike<number>));
      for (const t of [q, k, v, dout, out, lse, g.dq, g.dk, g.dv]) t.dispose();
    }
    const names = ['dq', 'dk', 'dv'] as const;
    names.forEach((name, n) => {
      for (const device of ['cpu', 'emu']) expectClose('float16', grads[device][n], refGrads![name], plainGrads![name], `${device} ${name}`);
    });
  });

  test('a head dim that is not a multiple of 8 is refused, not read out of bounds', () => {
    expect(() => runBackward({ name: 'D 12', dtype: 'float32', sizes: { B: 1, Hq: 1, Hkv: 1, Lq: 3, Lk: 3, D: 12 }, opts: {} }))
      .toThrow(/multiple of 8/);
  });
});

// ---------------------------------------------------------------------------
// RoPE

function ropeReference(x: Float64Array, shape: number[], layout: 'half' | 'interleaved', base: number,
  positionScale: number, position: (b: number, l: number) => number): Float64Array {
  const [B, H, L, D] = shape;
  const out = new Float64Array(x.length);
  for (let b = 0; b < B; ++b) {
    for (let h = 0; h < H; ++h) {
      for (let l = 0; l < L; ++l) {
        const row = ((b * H + h) * L + l) * D;
        for (let i = 0; i < D / 2; ++i) {
          const theta = position(b, l) * positionScale * Math.pow(base, (-2 * i) / D);
          const [first, second] = layout === 'half' ? [row + i, row + i + D / 2] : [row + 2 * i, row + 2 * i + 1];
          const a = x[first], c = x[second];
          out[first] = a * Math.cos(theta) - c * Math.sin(theta);
          out[second] = a * Math.sin(theta) + c * Math.cos(theta);
        }
      }
    }
  }
  return out;
}

describe.skipIf(!hasEmu)('CUDA RoPE on emu', () => {
  const ropeCases = [
    { dtype: 'float32', layout: 'half', shape: [2, 3, 7, 8], positions: 'offset' },
    { dtype: 'float32', layout: 'interleaved', shape: [1, 2, 97, 16], positions: 'shared' },
    { dtype: 'float16', layout: 'half', shape: [2, 1, 5, 64], positions: 'batch' },
    { dtype: 'bfloat16', layout: 'interleaved', shape: [1, 1, 9, 2], positions: 'offset' },
    { dtype: 'float32', layout: 'half', shape: [1, 2, 3, 128], positions: 'batch' },
  ] as const;
  for (const c of ropeCases) {
    test(`${c.dtype} ${c.layout} ${JSON.stringify(c.shape)} positions ${c.positions}`, () => {
      const [B, H, L, D] = c.shape;
      const rng = new Rng(L * 1009 + D);
      const [x, xv] = upload(randomValues(rng, B * H * L * D), [...c.shape], c.dtype);
      const base = c.positions === 'batch' ? 500000 : 10000;
      const positionScale = c.positions === 'shared' ? 0.25 : 1;
      const offset = 1000;
      const positions = new Int32Array(c.positions === 'batch' ? B * L : L);
      for (let e = 0; e < positions.length; ++e) positions[e] = rng.int(0, 200000);
      const position = (b: number, l: number) =>
        c.positions === 'offset' ? offset + l : positions[(c.positions === 'batch' ? b * L : 0) + l];
      const posTensor = c.positions === 'offset' ? null : tessera.tensor(positions, { shape: [positions.length], dtype: 'int32', device: DEVICE });
      const out = tessera.full([...c.shape], NaN, { dtype: c.dtype, device: DEVICE });
      native.rope(x.view(), out.view(), {
        batch: B, heads: H, len: L, headDim: D, layout: c.layout === 'half' ? 0 : 1, base, positionScale,
        positions: posTensor ? posTensor.view() : null, positionsBatchStride: c.positions === 'batch' ? L : 0, offset,
      });
      const got = decodeArray(c.dtype, out.dataSync() as ArrayLike<number>);
      const ref = ropeReference(xv, [...c.shape], c.layout, base, positionScale, position);
      let worst = 0;
      for (let e = 0; e < ref.length; ++e) {
        const err = Math.abs(got[e] - ref[e]);
        // One rounding to the dtype (fp32's ulp when the dtype is fp32).
        expect(err).toBeLessThanOrEqual(ulp(c.dtype, ref[e]) * 0.5 + 1e-12);
        worst = Math.max(worst, err);
      }
      console.log(`rope ${c.dtype} ${c.layout} ${c.positions}: max abs error ${worst.toExponential(2)}`);
      for (const t of [x, out, posTensor]) t?.dispose();
    });
  }
});
