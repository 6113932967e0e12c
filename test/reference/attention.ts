/**
 * Float64 references for attention, its gradients, ALiBi slopes and RoPE, written
 * from DESIGN.md (Public API, Attention) and the papers, not from tessera's code.
 *
 * Shape letters: B batch, Hq query heads, Hkv key/value heads (query head h reads
 * kv head floor(h / (Hq / Hkv))), Lq queries, Lk keys, D head dim. Layout [B, H, L, D].
 *
 * The scoring and visibility rule, exactly as DESIGN states it: query i sits at
 * i' = i + Lk − Lq (bottom-right alignment) and, with G the global key positions,
 *   s = scale·(q_i·k_j);  s = softcap·tanh(s / softcap) if softcap;  s −= slope_h·|i' − j| if alibi;
 *   key j is visible when (!causal || j <= i') and blockMask[i / bs][j / bs] (if given) and,
 *   with a window, (i' − left <= j <= i' + right || i' ∈ G || j ∈ G).
 * Softmax runs over the visible keys; a row with none gives zeros and lse −∞.
 *
 * Every function takes an optional `rounding` dtype. Without it the arithmetic is
 * float64 (the oracle). With it, each intermediate a plain same-dtype implementation
 * would store (scores, probabilities, outputs, gradients) is rounded to that dtype,
 * as PyTorch's `softmax(q @ kᵀ · scale) @ v` in fp16 does: the baseline of the
 * FlashAttention tolerance rule (DESIGN, Testing). Sums themselves run in float64
 * there too, as a plain kernel accumulates in fp32 and rounds once on the store.
 *
 * The loops work on typed arrays with no per-element allocation, so a reference for
 * Lq = Lk = 1025 costs about a second.
 */
import type { FloatDType } from './dtype.js';
import type { RefTensor } from './tensor.js';

export interface AttentionOptions {
  /** Default 1/sqrt(D). */
  scale?: number;
  /** 0 or absent: off. */
  softcap?: number;
  causal?: boolean;
  /** [left, right], non-negative integers or Infinity. */
  window?: readonly [number, number];
  /** Absolute key positions 0 … Lk−1. */
  globalTokens?: Int32Array | readonly number[];
  /** mask row-major [ceil(Lq / blockSize)][ceil(Lk / blockSize)], rows by the query's own index i. */
  blockMask?: { blockSize: number; mask: Uint8Array };
  /** true: alibiSlopes(Hq) rounded to fp32 (the kernels read fp32 slopes); or one slope per query head. */
  alibi?: boolean | Float32Array | readonly number[];
}

export interface AttentionShape {
  B: number;
  Hq: number;
  Hkv: number;
  Lq: number;
  Lk: number;
  D: number;
}

export function attentionShape(q: RefTensor, k: RefTensor, v: RefTensor): AttentionShape {
  const [B, Hq, Lq, D] = q.shape as [number, number, number, number];
  const [Bk, Hkv, Lk, Dk] = k.shape as [number, number, number, number];
  if (q.shape.length !== 4 || k.shape.length !== 4 || Bk !== B || Dk !== D || Hq % Hkv !== 0) {
    throw new Error(`attention reference: q [${q.shape.join(', ')}] and k [${k.shape.join(', ')}] do not fit`);
  }
  if (v.shape.join() !== k.shape.join()) throw new Error('attention reference: v must have the shape of k');
  return { B, Hq, Hkv, Lq, Lk, D };
}

// ---------------------------------------------------------------------------
// ALiBi slopes (Press, Smith and Lewis 2022, "Train Short, Test Long", and their
// get_slopes): for a power of two n the slopes are the geometric sequence
// start^1 … start^n with start = 2^(−8/n); for any other H, the n = 2^floor(log2 H)
// slopes, then every other slope of the 2n sequence (indices 0, 2, 4, …) until H.

function powerOfTwoSlopes(n: number): number[] {
  const start = 2 ** (-8 / n);
  const slopes: number[] = [];
  for (let i = 0; i < n; ++i) slopes.push(start ** (i + 1));
  return slopes;
}

export function alibiSlopes(numHeads: number): Float64Array {
  if (!Number.isInteger(numHeads) || numHeads < 1) throw new Error(`alibiSlopes reference: ${numHeads} heads`);
  let n = 1;
  while (n * 2 <= numHeads) n *= 2;
  const slopes = powerOfTwoSlopes(n);
  const extra = powerOfTwoSlopes(2 * n);
  for (let i = 0; slopes.length < numHeads; i += 2) slopes.push(extra[i]!);
  return Float64Array.from(slopes);
}

// ---------------------------------------------------------------------------
// Visibility

/** The mask part of the options, resolved for one problem size. */
export interface ResolvedMask {
  causal: boolean;
  left: number;
  right: number;
  hasWindow: boolean;
  /** [Lk]: 1 where the key position is global. */
  global: Uint8Array | null;
  blockSize: number;
  blockCols: number;
  block: ArrayLike<number> | null;
}

export function resolveMask(opts: AttentionOptions, Lq: number, Lk: number): ResolvedMask {
  let global: Uint8Array | null = null;
  if (opts.globalTokens !== undefined) {
    global = new Uint8Array(Lk);
    for (let t = 0; t < opts.globalTokens.length; ++t) {
      const pos = opts.globalTokens[t]!;
      if (!(pos >= 0 && pos < Lk)) throw new Error(`attention reference: global token ${pos} outside 0 … ${Lk - 1}`);
      global[pos] = 1;
    }
  }
  const bs = opts.blockMask?.blockSize ?? 0;
  const blockCols = bs > 0 ? Math.ceil(Lk / bs) : 0;
  if (opts.blockMask && opts.blockMask.mask.length !== Math.ceil(Lq / bs) * blockCols) {
    throw new Error(`attention reference: block mask of ${opts.blockMask.mask.length} entries`);
  }
  return {
    causal: opts.causal ?? false,
    hasWindow: opts.window !== undefined,
    left: opts.window?.[0] ?? Infinity,
    right: opts.window?.[1] ?? Infinity,
    global,
    blockSize: bs,
    blockCols,
    block: opts.blockMask?.mask ?? null,
  };
}

/** Whether query i (at i' = ip) sees key j, DESIGN's rule word for word. */
export function isVisible(m: ResolvedMask, i: number, ip: number, j: number): boolean {
  if (m.causal && j > ip) return false;
  if (m.block !== null && m.block[Math.floor(i / m.blockSize) * m.blockCols + Math.floor(j / m.blockSize)] === 0) return false;
  if (m.hasWindow && !(ip - m.left <= j && j <= ip + m.right)) {
    const queryGlobal = m.global !== null && ip >= 0 && ip < m.global.length && m.global[ip] === 1;
    const keyGlobal = m.global !== null && m.global[j] === 1;
    return queryGlobal || keyGlobal;
  }
  return true;
}

function slopesFor(opts: AttentionOptions, Hq: number): Float64Array | null {
  if (opts.alibi === undefined || opts.alibi === false) return null;
  if (opts.alibi === true) return Float64Array.from(alibiSlopes(Hq), Math.fround);
  if (opts.alibi.length !== Hq) throw new Error(`attention reference: ${opts.alibi.length} slopes for ${Hq} heads`);
  return Float64Array.from(opts.alibi);
}

const identity = (x: number): number => x;

// The plain baseline rounds every intermediate: millions of roundings per case,
// so they work on float32 bit patterns rather than through dtype.ts's exact
// float64 rounding. A plain kernel computes in fp32 and rounds that to fp16/bf16,
// so rounding through fp32 first is what it does too.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** fp32 → bf16, round to nearest even on the top 16 bits (overflow carries into infinity). */
function roundViaFloat32ToBFloat16(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  if ((u & 0x7f800000) === 0x7f800000) return f32[0]!; // infinity or NaN
  u32[0] = (u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000;
  return f32[0]!;
}

/** fp32 → fp16: ties to even, subnormals below 2^-14, infinity from 65520 up. */
function roundViaFloat32ToFloat16(x: number): number {
  const v = Math.fround(x);
  const a = Math.abs(v);
  if (Number.isNaN(a)) return NaN;
  if (a >= 65520) return v < 0 ? -Infinity : Infinity;
  if (a < 2 ** -14) {
    const scaled = a * 2 ** 24; // exact: a is a float32 below 2^-14
    const f = Math.floor(scaled);
    const d = scaled - f;
    const r = d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
    return Math.sign(v) * r * 2 ** -24;
  }
  f32[0] = v;
  const u = u32[0]!;
  u32[0] = (u + 0xfff + ((u >>> 13) & 1)) & 0xffffe000;
  return f32[0]!;
}

/** The rounding a plain implementation in `dtype` applies to a value it stores (identity for float64). */
export function rounder(dtype: FloatDType | undefined): (x: number) => number {
  switch (dtype) {
    case undefined: return identity;
    case 'float32': return Math.fround;
    case 'float16': return roundViaFloat32ToFloat16;
    case 'bfloat16': return roundViaFloat32ToBFloat16;
  }
}

// ---------------------------------------------------------------------------
// Forward

/**
 * The scores and probabilities of one (b, h): for query i, row i of `prob` holds
 * the softmax over visible keys (0 elsewhere), `lse[i]` the log-sum-exp of the
 * final scores over them (−∞ when none), `dcap[i·Lk + j]` the derivative of the
 * softcap at the raw score (1 without a softcap), for the backward.
 */
interface HeadScores {
  prob: Float64Array;
  lse: Float64Array;
  dcap: Float64Array;
}

function headScores(
  q: RefTensor, k: RefTensor, s: AttentionShape, b: number, h: number, opts: AttentionOptions,
  m: ResolvedMask, slopes: Float64Array | null, round: (x: number) => number,
): HeadScores {
  const { Hq, Hkv, Lq, Lk, D } = s;
  const kvh = Math.floor(h / (Hq / Hkv));
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const cap = opts.softcap ?? 0;
  const slope = slopes ? slopes[h]! : 0;
  const qBase = (b * Hq + h) * Lq * D;
  const kBase = (b * Hkv + kvh) * Lk * D;
  const prob = new Float64Array(Lq * Lk);
  const lse = new Float64Array(Lq);
  const dcap = new Float64Array(Lq * Lk).fill(1);
  const row = new Float64Array(Lk);
  const seen = new Uint8Array(Lk);
  for (let i = 0; i < Lq; ++i) {
    const ip = i + Lk - Lq;
    let max = -Infinity;
    for (let j = 0; j < Lk; ++j) {
      seen[j] = isVisible(m, i, ip, j) ? 1 : 0;
      if (!seen[j]) continue;
      let dot = 0;
      const qo = qBase + i * D;
      const ko = kBase + j * D;
      for (let d = 0; d < D; ++d) dot += q.data[qo + d]! * k.data[ko + d]!;
      let score = round(round(dot) * scale);
      if (cap > 0) {
        const t = Math.tanh(score / cap);
        dcap[i * Lk + j] = 1 - t * t;
        score = round(cap * t);
      }
      if (slopes) score = round(score - round(slope * Math.abs(ip - j)));
      row[j] = score;
      if (score > max) max = score;
    }
    if (max === -Infinity) {
      lse[i] = -Infinity;
      continue;
    }
    let sum = 0;
    for (let j = 0; j < Lk; ++j) if (seen[j]) sum += Math.exp(row[j]! - max);
    lse[i] = max + Math.log(sum);
    for (let j = 0; j < Lk; ++j) if (seen[j]) prob[i * Lk + j] = round(Math.exp(row[j]! - max) / sum);
  }
  return { prob, lse, dcap };
}

export interface AttentionResult {
  /** [B, Hq, Lq, D] */
  out: RefTensor;
  /** [B, Hq, Lq], natural log; −∞ for a row with no visible key. */
  lse: RefTensor;
}

/** tessera.attention in float64 (or, with `rounding`, a plain implementation in that dtype). */
export function attention(q: RefTensor, k: RefTensor, v: RefTensor, opts: AttentionOptions = {}, rounding?: FloatDType): AttentionResult {
  const s = attentionShape(q, k, v);
  const { B, Hq, Hkv, Lq, Lk, D } = s;
  const m = resolveMask(opts, Lq, Lk);
  const slopes = slopesFor(opts, Hq);
  const round = rounder(rounding);
  const out = new Float64Array(B * Hq * Lq * D);
  const lse = new Float64Array(B * Hq * Lq);
  const acc = new Float64Array(D);
  for (let b = 0; b < B; ++b) {
    for (let h = 0; h < Hq; ++h) {
      const { prob, lse: rowLse } = headScores(q, k, s, b, h, opts, m, slopes, round);
      const kvh = Math.floor(h / (Hq / Hkv));
      const vBase = (b * Hkv + kvh) * Lk * D;
      const oBase = (b * Hq + h) * Lq * D;
      for (let i = 0; i < Lq; ++i) {
        lse[(b * Hq + h) * Lq + i] = rowLse[i]!;
        acc.fill(0);
        for (let j = 0; j < Lk; ++j) {
          const p = prob[i * Lk + j]!;
          if (p === 0) continue;
          const vo = vBase + j * D;
          for (let d = 0; d < D; ++d) acc[d]! += p * v.data[vo + d]!;
        }
        for (let d = 0; d < D; ++d) out[oBase + i * D + d] = round(acc[d]!);
      }
    }
  }
  return { out: { data: out, shape: [B, Hq, Lq, D] }, lse: { data: lse, shape: [B, Hq, Lq] } };
}

// ---------------------------------------------------------------------------
// Backward

export interface AttentionGradients {
  dq: RefTensor;
  dk: RefTensor;
  dv: RefTensor;
}

/**
 * Gradients of sum(dout ∘ attention(q, k, v)) with respect to q, k and v,
 * analytically (FlashAttention-2's equations): with P the probabilities and O the
 * output, dV_j = Σ_i P_ij dO_i; dP_ij = dO_i·v_j; Δ_i = dO_i·O_i;
 * dS_ij = P_ij (dP_ij − Δ_i); through the softcap dS_ij ·= 1 − tanh²(s_ij / softcap)
 * (ALiBi is a constant shift); dQ_i = scale Σ_j dS_ij k_j; dK_j = scale Σ_i dS_ij q_i.
 * GQA sums dK and dV over the query heads that share a kv head. A row with no
 * visible key has P = 0, so it contributes nothing and gets dQ = 0.
 *
 * With `rounding`, every stored intermediate is rounded (P, dP, dS, each head's dK
 * and dV before the group sum, and the results), and Δ uses the rounded output.
 */
export function attentionBackward(
  dout: RefTensor, q: RefTensor, k: RefTensor, v: RefTensor, opts: AttentionOptions = {}, rounding?: FloatDType,
): AttentionGradients {
  const s = attentionShape(q, k, v);
  const { B, Hq, Hkv, Lq, Lk, D } = s;
  const m = resolveMask(opts, Lq, Lk);
  const slopes = slopesFor(opts, Hq);
  const round = rounder(rounding);
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const group = Hq / Hkv;
  const dq = new Float64Array(q.data.length);
  const dk = new Float64Array(k.data.length);
  const dv = new Float64Array(v.data.length);
  const headDk = new Float64Array(Lk * D);
  const headDv = new Float64Array(Lk * D);
  const o = new Float64Array(D);
  const ds = new Float64Array(Lk);
  for (let b = 0; b < B; ++b) {
    for (let h = 0; h < Hq; ++h) {
      const { prob, dcap } = headScores(q, k, s, b, h, opts, m, slopes, round);
      const kvh = Math.floor(h / group);
      const qBase = (b * Hq + h) * Lq * D;
      const kvBase = (b * Hkv + kvh) * Lk * D;
      headDk.fill(0);
      headDv.fill(0);
      for (let i = 0; i < Lq; ++i) {
        const qo = qBase + i * D;
        // The output row, recomputed (rounded like the plain forward's), for Δ_i.
        o.fill(0);
        for (let j = 0; j < Lk; ++j) {
          const p = prob[i * Lk + j]!;
          if (p === 0) continue;
          for (let d = 0; d < D; ++d) o[d]! += p * v.data[kvBase + j * D + d]!;
        }
        let delta = 0;
        for (let d = 0; d < D; ++d) delta += dout.data[qo + d]! * round(o[d]!);
        for (let j = 0; j < Lk; ++j) {
          const p = prob[i * Lk + j]!;
          ds[j] = 0;
          if (p === 0) continue;
          const ko = kvBase + j * D;
          let dp = 0;
          for (let d = 0; d < D; ++d) {
            dp += dout.data[qo + d]! * v.data[ko + d]!;
            headDv[j * D + d]! += p * dout.data[qo + d]!;
          }
          ds[j] = round(round(p * (round(dp) - delta)) * dcap[i * Lk + j]!);
        }
        for (let d = 0; d < D; ++d) {
          let acc = 0;
          for (let j = 0; j < Lk; ++j) if (ds[j] !== 0) acc += ds[j]! * k.data[kvBase + j * D + d]!;
          dq[qo + d] = round(round(acc) * scale);
        }
        for (let j = 0; j < Lk; ++j) {
          const g = ds[j]!;
          if (g === 0) continue;
          for (let d = 0; d < D; ++d) headDk[j * D + d]! += g * q.data[qo + d]!;
        }
      }
      for (let e = 0; e < Lk * D; ++e) {
        dk[kvBase + e]! += round(round(headDk[e]!) * scale);
        dv[kvBase + e]! += round(headDv[e]!);
      }
    }
  }
  if (rounding !== undefined) {
    for (let e = 0; e < dk.length; ++e) {
      dk[e] = round(dk[e]!);
      dv[e] = round(dv[e]!);
    }
  }
  return {
    dq: { data: dq, shape: [...q.shape] },
    dk: { data: dk, shape: [...k.shape] },
    dv: { data: dv, shape: [...v.shape] },
  };
}

// ---------------------------------------------------------------------------
// RoPE (Su et al. 2021, RoFormer): pair i of a D-vector at position p turns by
// θ_i = p · base^(−2i / D):  (a, b) → (a cos θ − b sin θ, a sin θ + b cos θ).
// 'half' pairs (i, i + D/2) (GPT-NeoX, Llama); 'interleaved' pairs (2i, 2i + 1)
// (GPT-J, RoFormer). Linear scaling (position interpolation, Chen et al. 2023)
// divides the position by the factor; NTK-aware scaling (bloc97, 2023) keeps the
// positions and raises the base to base · factor^(D / (D − 2)), so the lowest
// frequency is interpolated by the factor and the highest left alone.

export interface RopeOptions {
  /** [L] shared by every sequence, or [B·L]; otherwise offset + l. */
  positions?: Int32Array | readonly number[];
  offset?: number;
  base?: number;
  layout?: 'half' | 'interleaved';
  scaling?: { type: 'linear' | 'ntk'; factor: number };
}

/** The angle of pair i (0 … D/2 − 1) at position p. */
export function ropeAngle(p: number, i: number, D: number, opts: RopeOptions = {}): number {
  let base = opts.base ?? 10000;
  let position = p;
  if (opts.scaling?.type === 'linear') position = p / opts.scaling.factor;
  if (opts.scaling?.type === 'ntk') base = base * opts.scaling.factor ** (D / (D - 2));
  return position * base ** ((-2 * i) / D);
}

/** The position of token l of sequence b. */
export function ropePosition(opts: RopeOptions, b: number, l: number, L: number): number {
  if (opts.positions === undefined) return (opts.offset ?? 0) + l;
  return opts.positions.length === L ? opts.positions[l]! : opts.positions[b * L + l]!;
}

/** tessera.rope on x [B, H, L, D] in float64. */
export function rope(x: RefTensor, opts: RopeOptions = {}): RefTensor {
  const [B, H, L, D] = x.shape as [number, number, number, number];
  if (x.shape.length !== 4 || D % 2 !== 0) throw new Error(`rope reference: x [${x.shape.join(', ')}]`);
  const half = D / 2;
  const interleaved = opts.layout === 'interleaved';
  const out = new Float64Array(x.data.length);
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let b = 0; b < B; ++b) {
    for (let l = 0; l < L; ++l) {
      const p = ropePosition(opts, b, l, L);
      for (let i = 0; i < half; ++i) {
        const theta = ropeAngle(p, i, D, opts);
        cos[i] = Math.cos(theta);
        sin[i] = Math.sin(theta);
      }
      for (let h = 0; h < H; ++h) {
        const base = ((b * H + h) * L + l) * D;
        for (let i = 0; i < half; ++i) {
          const ia = base + (interleaved ? 2 * i : i);
          const ib = base + (interleaved ? 2 * i + 1 : i + half);
          const a = x.data[ia]!;
          const c = x.data[ib]!;
          out[ia] = a * cos[i]! - c * sin[i]!;
          out[ib] = a * sin[i]! + c * cos[i]!;
        }
      }
    }
  }
  return { data: out, shape: [...x.shape] };
}
