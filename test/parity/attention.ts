/**
 * Parity cases for attention (forward and backward) and RoPE, in the harness's
 * pattern (test/parity/harness.ts): each case names its sizes and options, runs
 * tessera, and states its float64 reference (test/reference/attention.ts) and
 * tolerance.
 *
 * Shape letters: B batch, Hq / Hkv query / key-value heads, Lq / Lk queries / keys, D head dim.
 *
 * Tolerances (DESIGN, Testing), element by element:
 * - fp32 out: |out − ref| <= 1e-5·max|v| + 1e-5·|ref|. The absolute part is set by
 *   max|v| because an output is a convex combination of value rows: a score error
 *   δ moves it by about δ·|v|, and fp32 scores carry δ ≈ 1e-6. Rows with no visible
 *   key must be exactly 0 (atol 0 there).
 * - fp32 lse: |lse − ref| <= 1e-5 + 1e-5·|ref|; −∞ exactly for a row with no visible key.
 * - fp16/bf16 out and lse: the FlashAttention rule, |out − ref| <= 2·E + 1 ulp(ref)
 *   with E the largest error of a plain same-dtype implementation (the reference
 *   with `rounding`: scores, probabilities and output rounded at each step).
 * - gradients fp32: |g − ref| <= 5e-5·max|ref| + 2e-6·max|dout|·max|v| + 1e-4·|ref|
 *   per tensor (dq, dk, dv): a gradient sums Lq or Lk terms that cancel (dS sums to
 *   0 along a row), so its error scales with the largest gradient, not the
 *   element's own size; and the fp32 rounding of dP = dO·v and Δ = dO·O survives
 *   where the exact gradient cancels to 0 (a row that sees one key has dS = 0).
 * - gradients fp16/bf16: the FlashAttention rule against the plain rounded backward.
 */
import type { Tensor } from '../../lib/index.js';
import { attention as refAttention, attentionBackward as refBackward, rope as refRope,
  type AttentionOptions, type RopeOptions } from '../reference/attention.js';
import type { FloatDType, RefTensor } from '../reference/index.js';
import {
  defaultTolerance, maxAbs, Rng, seedOf, shapeName, type InputSpec, type ParityCase, type Tessera, type Tolerance,
} from './harness.js';

export interface AttentionSize {
  B: number;
  Hq: number;
  Hkv: number;
  Lq: number;
  Lk: number;
  D: number;
}

/** A named set of options, built for one problem size (global positions and block masks depend on it). */
export interface MaskSpec {
  name: string;
  options(s: AttentionSize): AttentionOptions;
}

export function sizeName(s: AttentionSize): string {
  return `B${s.B} Hq${s.Hq}/Hkv${s.Hkv} Lq${s.Lq} Lk${s.Lk} D${s.D}`;
}

// ---------------------------------------------------------------------------
// Option builders

/** Up to three distinct global key positions: the first, the middle and the last key. */
export function globalsFor(Lk: number): Int32Array {
  return Int32Array.from(new Set([0, Math.floor(Lk / 2), Lk - 1]));
}

/**
 * A seeded 0/1 block layout with about a third of the blocks hidden, and, when
 * there are at least two block rows, block row 1 hidden entirely so that those
 * queries have no visible key.
 */
export function blockMaskFor(Lq: number, Lk: number, blockSize: number, seedText: string): { blockSize: number; mask: Uint8Array } {
  const rows = Math.ceil(Lq / blockSize), cols = Math.ceil(Lk / blockSize);
  const rng = new Rng(seedOf(seedText));
  const mask = Uint8Array.from({ length: rows * cols }, () => (rng.uniform() < 0.35 ? 0 : 1));
  if (rows >= 2) mask.fill(0, cols, 2 * cols);
  if (rows >= 1 && cols >= 1) mask[0] = 1;
  return { blockSize, mask };
}

/** Seeded custom ALiBi slopes in [0.01, 1). */
export function customSlopes(Hq: number, seedText: string): Float32Array {
  const rng = new Rng(seedOf(seedText));
  return Float32Array.from({ length: Hq }, () => 0.01 + 0.99 * rng.uniform());
}

/** Window kinds: a point window, a small two-sided one, one-sided ones (finite and Infinity), and one wider than the sequence. */
export type WindowKind = 'none' | '0,0' | '4,3' | '6,0' | '0,inf' | 'inf,2' | 'wide';

export function windowOf(kind: WindowKind, s: AttentionSize): readonly [number, number] | undefined {
  switch (kind) {
    case 'none': return undefined;
    case '0,0': return [0, 0];
    case '4,3': return [4, 3];
    case '6,0': return [6, 0];
    case '0,inf': return [0, Infinity];
    case 'inf,2': return [Infinity, 2];
    case 'wide': return [2 * (s.Lq + s.Lk), 2 * (s.Lq + s.Lk)];
  }
}

export interface MaskAxes {
  causal: boolean;
  window: WindowKind;
  globals: boolean;
  block: boolean;
  alibi: 'none' | 'default' | 'custom';
  softcap: boolean;
}

export function maskFromAxes(a: MaskAxes): MaskSpec {
  const tags = [
    a.causal ? 'causal' : '', a.window !== 'none' ? `window ${a.window}` : '', a.globals ? 'globals' : '',
    a.block ? 'blockMask' : '', a.alibi !== 'none' ? `alibi ${a.alibi}` : '', a.softcap ? 'softcap' : '',
  ].filter(Boolean);
  const name = tags.length ? tags.join(' + ') : 'dense';
  return {
    name,
    options(s) {
      const o: AttentionOptions = {};
      if (a.causal) o.causal = true;
      const w = windowOf(a.window, s);
      if (w) o.window = w;
      if (a.globals) o.globalTokens = globalsFor(s.Lk);
      if (a.block) o.blockMask = blockMaskFor(s.Lq, s.Lk, 16, `${name} ${sizeName(s)}`);
      if (a.alibi === 'default') o.alibi = true;
      if (a.alibi === 'custom') o.alibi = customSlopes(s.Hq, `${name} ${sizeName(s)}`);
      if (a.softcap) o.softcap = 1.5;
      return o;
    },
  };
}

/** Every combination of the mask options (global tokens only with a window: without one they change nothing). */
export function allMaskCombinations(): MaskSpec[] {
  const out: MaskSpec[] = [];
  for (const causal of [false, true]) {
    for (const window of ['none', '0,0', '4,3', '6,0', '0,inf', 'inf,2', 'wide'] as const) {
      for (const globals of window === 'none' ? [false] : [false, true]) {
        for (const block of [false, true]) {
          for (const alibi of ['none', 'default', 'custom'] as const) {
            for (const softcap of [false, true]) out.push(maskFromAxes({ causal, window, globals, block, alibi, softcap }));
          }
        }
      }
    }
  }
  return out;
}

/** A fixed set of options, named by what they hold. */
export function fixedMask(options: (s: AttentionSize) => AttentionOptions, name: string): MaskSpec {
  return { name, options };
}

// ---------------------------------------------------------------------------
// Tolerances

/** The rows whose lse is −∞ (no visible key), as a per-element flag over [.., Lq, D]. */
function emptyRows(lse: Float64Array, D: number): Uint8Array {
  const flags = new Uint8Array(lse.length * D);
  lse.forEach((l, r) => {
    if (l === -Infinity) flags.fill(1, r * D, (r + 1) * D);
  });
  return flags;
}

function plainTolerance(plain: Float64Array): Tolerance {
  return { kind: 'plain', plain, floorUlps: 1 };
}

function forwardTolerance(dtype: FloatDType, output: number, inputs: readonly RefTensor[], exact: RefTensor[], plain: () => RefTensor[]): Tolerance {
  const [, , v] = inputs as [RefTensor, RefTensor, RefTensor];
  const lse = exact[1]!.data;
  if (dtype !== 'float32') return plainTolerance(plain()[output]!.data);
  if (output === 1) return { kind: 'close', rtol: 1e-5, atol: 1e-5 };
  const D = v.shape[3]!;
  const a = 1e-5 * maxAbs(v.data);
  const empty = emptyRows(lse, D);
  const atol = Float64Array.from(empty, (e) => (e ? 0 : a));
  return { kind: 'close', rtol: 1e-5, atol, note: '1e-5·max|v|, 0 on rows without a visible key' };
}

function gradientTolerance(dtype: FloatDType, inputs: readonly RefTensor[], expected: RefTensor, plain: () => RefTensor): Tolerance {
  if (dtype !== 'float32') return plainTolerance(plain().data);
  const [, , v, dout] = inputs as [RefTensor, RefTensor, RefTensor, RefTensor];
  const atol = 5e-5 * maxAbs(expected.data) + 2e-6 * maxAbs(dout.data) * maxAbs(v.data);
  return { kind: 'close', rtol: 1e-4, atol, note: '5e-5·max|ref| + 2e-6·max|dout|·max|v|' };
}

// ---------------------------------------------------------------------------
// Cases

export interface AttentionCaseSpec {
  size: AttentionSize;
  dtype: FloatDType;
  mask: MaskSpec;
  /** Default true: also compare lse (returnLse). */
  withLse?: boolean;
  /**
   * Inputs generated as [B, L, H, D] (the layout of a fused QKV projection) and
   * handed over as transpose(1, 2) views: strided heads and rows, stride-1 D.
   */
  transposed?: boolean;
  /**
   * Backward only: take out and lse from tessera's own forward on the device (as
   * autograd does) instead of the float64 forward's, rounded as the device stores them.
   */
  ownForward?: boolean;
}

/** A lazily computed value, so the plain baseline runs only for the dtypes that need it, once per case run. */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/** The forward: out (and lse unless withLse is false) against the float64 reference. */
export function attentionCase(spec: AttentionCaseSpec): ParityCase {
  const { size: s, dtype, mask } = spec;
  const withLse = spec.withLse ?? true;
  const options = mask.options(s);
  const name = `${sizeName(s)} ${mask.name}${withLse ? '' : ' (out only)'}${spec.transposed ? ' (strided views)' : ''}`;
  const input = (H: number, L: number): InputSpec => (spec.transposed
    ? { shape: [s.B, L, H, s.D], views: [{ transpose: [1, 2] }] }
    : { shape: [s.B, H, L, s.D] });
  let plain: () => RefTensor[] = () => [];
  let exact: RefTensor[] = [];
  return {
    op: 'attention',
    dtype,
    name,
    inputs: [input(s.Hq, s.Lq), input(s.Hkv, s.Lk), input(s.Hkv, s.Lk)],
    run(t: Tessera, [q, k, v]: Tensor[]) {
      if (!withLse) return t.attention(q!, k!, v!, { ...options, returnLse: false });
      const { out, lse } = t.attention(q!, k!, v!, { ...options, returnLse: true });
      return [out, lse];
    },
    reference([q, k, v]) {
      const r = refAttention(q!, k!, v!, options);
      exact = [r.out, r.lse];
      plain = lazy(() => {
        const p = refAttention(q!, k!, v!, options, dtype);
        return [p.out, p.lse];
      });
      return withLse ? [r.out, r.lse] : r.out;
    },
    tolerance: (ctx) => forwardTolerance(dtype, ctx.output, ctx.inputs, exact, plain),
  };
}

/**
 * The backward against the analytic float64 gradient; inputs q, k, v, dout. The
 * forward's out and lse it needs are the float64 forward's, uploaded (out in the
 * case dtype, lse in fp32), so the backward kernel is tested on its own, even on a
 * device whose forward is not there yet; with ownForward they come from tessera's
 * forward on the device instead. (The harness calls `reference` before `run`.)
 */
export function attentionBackwardCase(spec: AttentionCaseSpec): ParityCase {
  const { size: s, dtype, mask } = spec;
  const options = mask.options(s);
  let plain: () => RefTensor[] = () => [];
  let forward: { out: RefTensor; lse: RefTensor } | null = null;
  return {
    op: 'attentionBackward',
    dtype,
    name: `${sizeName(s)} ${mask.name}${spec.ownForward ? ' (own forward)' : ''}`,
    inputs: [
      { shape: [s.B, s.Hq, s.Lq, s.D] }, { shape: [s.B, s.Hkv, s.Lk, s.D] }, { shape: [s.B, s.Hkv, s.Lk, s.D] },
      { shape: [s.B, s.Hq, s.Lq, s.D] },
    ],
    run(t: Tessera, [q, k, v, dout]: Tensor[], device: string) {
      const uploaded = (): { out: Tensor; lse: Tensor } => {
        if (!forward) throw new Error('attentionBackward case: run before reference');
        return {
          out: t.tensor(Float32Array.from(forward.out.data), { shape: [...forward.out.shape], dtype, device }),
          lse: t.tensor(Float32Array.from(forward.lse.data), { shape: [...forward.lse.shape], dtype: 'float32', device }),
        };
      };
      const { out, lse } = spec.ownForward ? t.attention(q!, k!, v!, { ...options, returnLse: true }) : uploaded();
      try {
        const { dq, dk, dv } = t.attentionBackward(dout!, q!, k!, v!, out, lse, options);
        return [dq, dk, dv];
      } finally {
        out.dispose();
        lse.dispose();
      }
    },
    reference([q, k, v, dout]) {
      forward = refAttention(q!, k!, v!, options);
      const g = refBackward(dout!, q!, k!, v!, options);
      plain = lazy(() => {
        const p = refBackward(dout!, q!, k!, v!, options, dtype);
        return [p.dq, p.dk, p.dv];
      });
      return [g.dq, g.dk, g.dv];
    },
    tolerance: (ctx) => gradientTolerance(dtype, ctx.inputs, ctx.expected, () => plain()[ctx.output]!),
  };
}

export function ropeCase(shape: readonly [number, number, number, number], dtype: FloatDType, options: RopeOptions, label: string): ParityCase {
  return {
    op: 'rope',
    dtype,
    name: `${shapeName(shape)} ${label}`,
    inputs: [{ shape }],
    run: (t: Tessera, [x]: Tensor[]) => t.rope(x!, options),
    reference: ([x]) => refRope(x!, options),
    tolerance: defaultTolerance,
  };
}

// ---------------------------------------------------------------------------
// The case lists

const FLOATS: readonly FloatDType[] = ['float32', 'float16', 'bfloat16'];

/**
 * Small shapes the full mask cross product rotates through: GQA and MQA, Lq ≠ Lk
 * both ways (Lq > Lk leaves causal rows without a key), decode (Lq = 1), batch 3,
 * D 32, 64, 80 (a generic, untuned head dim).
 */
export const SMALL_SIZES: readonly AttentionSize[] = [
  { B: 1, Hq: 8, Hkv: 2, Lq: 7, Lk: 97, D: 32 },
  { B: 3, Hq: 6, Hkv: 1, Lq: 33, Lk: 33, D: 80 },
  { B: 1, Hq: 12, Hkv: 4, Lq: 97, Lk: 7, D: 32 },
  { B: 1, Hq: 8, Hkv: 8, Lq: 1, Lk: 97, D: 64 },
  { B: 3, Hq: 4, Hkv: 2, Lq: 40, Lk: 57, D: 64 },
];

/**
 * cpu: every mask combination once, the dtype and the small shape rotating. The
 * combination index m runs softcap fastest (period 2), then ALiBi (period 6), so
 * the dtype (m + floor(m / 6)) mod 3 gives each (ALiBi, softcap) pair every dtype,
 * and the shape m mod 5 (coprime to every axis length) every shape.
 */
export function cpuCrossProductSpecs(): AttentionCaseSpec[] {
  return allMaskCombinations().map((mask, m) => ({
    size: SMALL_SIZES[m % SMALL_SIZES.length]!,
    dtype: FLOATS[(m + Math.floor(m / 6)) % FLOATS.length]!,
    mask,
  }));
}

export function cpuCrossProductCases(): ParityCase[] {
  return cpuCrossProductSpecs().map(attentionCase);
}

/** Every 8th combination of the cross product: the sample the other devices run (every option is in it). */
export function crossProductSampleSpecs(): AttentionCaseSpec[] {
  return cpuCrossProductSpecs().filter((_, m) => m % 8 === 3);
}

export function crossProductSampleCases(): ParityCase[] {
  return crossProductSampleSpecs().map(attentionCase);
}

/**
 * cpu: the sizes too big for the cross product, each with a representative mask:
 * Lq, Lk in {1, 7, 97, 256, 1025}, D in {32, 64, 80, 128, 256}, every head pairing,
 * batch 1 and 3, and outputs without lse.
 */
export function cpuSizeCases(): ParityCase[] {
  return cpuSizeSpecs().map(attentionCase);
}

export function cpuSizeSpecs(): AttentionCaseSpec[] {
  const m = (name: string, o: (s: AttentionSize) => AttentionOptions): MaskSpec => fixedMask(o, name);
  const dense = m('dense', () => ({}));
  const causal = m('causal', () => ({ causal: true }));
  return [
    { size: { B: 1, Hq: 2, Hkv: 1, Lq: 1025, Lk: 1025, D: 64 }, dtype: 'float32', mask: causal },
    { size: { B: 1, Hq: 2, Hkv: 2, Lq: 1025, Lk: 1025, D: 128 }, dtype: 'bfloat16',
      mask: m('causal + window [127, 0] + globals + alibi', (s) => ({ causal: true, window: [127, 0], globalTokens: globalsFor(s.Lk), alibi: true })) },
    { size: { B: 1, Hq: 8, Hkv: 2, Lq: 1, Lk: 1025, D: 256 }, dtype: 'float16', mask: causal },
    { size: { B: 1, Hq: 6, Hkv: 1, Lq: 1, Lk: 1025, D: 128 }, dtype: 'float32', mask: m('window [255, 0] + alibi', () => ({ window: [255, 0], alibi: true })) },
    { size: { B: 1, Hq: 2, Hkv: 2, Lq: 256, Lk: 1025, D: 256 }, dtype: 'float32',
      mask: m('causal + blockMask 64', (s) => ({ causal: true, blockMask: blockMaskFor(s.Lq, s.Lk, 64, 'big block') })) },
    { size: { B: 1, Hq: 4, Hkv: 1, Lq: 1025, Lk: 256, D: 80 }, dtype: 'float32', mask: causal },
    { size: { B: 1, Hq: 12, Hkv: 4, Lq: 256, Lk: 256, D: 128 }, dtype: 'float16', mask: m('causal + softcap', () => ({ causal: true, softcap: 1.5 })) },
    { size: { B: 1, Hq: 4, Hkv: 4, Lq: 97, Lk: 256, D: 256 }, dtype: 'bfloat16', mask: m('alibi + softcap', () => ({ alibi: true, softcap: 1.5 })) },
    { size: { B: 1, Hq: 2, Hkv: 1, Lq: 1025, Lk: 1025, D: 32 }, dtype: 'float32',
      mask: m('window wide + blockMask 32', (s) => ({ window: [4096, 4096], blockMask: blockMaskFor(s.Lq, s.Lk, 32, 'big wide') })) },
    { size: { B: 3, Hq: 8, Hkv: 2, Lq: 256, Lk: 97, D: 64 }, dtype: 'float32', mask: m('causal + alibi custom', (s) => ({ causal: true, alibi: customSlopes(s.Hq, 'b3') })) },
    { size: { B: 3, Hq: 12, Hkv: 4, Lq: 7, Lk: 256, D: 128 }, dtype: 'bfloat16', mask: dense },
    { size: { B: 1, Hq: 1, Hkv: 1, Lq: 1, Lk: 1, D: 8 }, dtype: 'float32', mask: dense },
    { size: { B: 1, Hq: 8, Hkv: 2, Lq: 97, Lk: 97, D: 64 }, dtype: 'float32', mask: causal, withLse: false },
    { size: { B: 1, Hq: 8, Hkv: 2, Lq: 97, Lk: 97, D: 64 }, dtype: 'float16', mask: causal, withLse: false },
    { size: { B: 1, Hq: 4, Hkv: 2, Lq: 7, Lk: 97, D: 128 }, dtype: 'float32', mask: m('scale 0.3 + softcap 5', () => ({ scale: 0.3, softcap: 5 })) },
    { size: { B: 1, Hq: 2, Hkv: 1, Lq: 7, Lk: 0, D: 32 }, dtype: 'float32', mask: m('no keys', () => ({})) },
    { size: { B: 3, Hq: 8, Hkv: 2, Lq: 33, Lk: 97, D: 64 }, dtype: 'float32', mask: causal, transposed: true },
    { size: { B: 1, Hq: 8, Hkv: 2, Lq: 1, Lk: 130, D: 128 }, dtype: 'bfloat16', mask: m('window [31, 0] + alibi', () => ({ window: [31, 0], alibi: true })), transposed: true },
  ];
}

/**
 * emu (the CUDA kernels under the SIMT emulator, ~1000× slower than the CPU
 * backend): L ≤ 130 and few heads, yet every mask kind, every dtype, GQA, the
 * tuned head dims 64 and 128, a generic one (80), 32 and 256.
 */
export function emuForwardCases(): ParityCase[] {
  return emuForwardSpecs().map(attentionCase);
}

export function emuForwardSpecs(): AttentionCaseSpec[] {
  const m = (name: string, o: (s: AttentionSize) => AttentionOptions): MaskSpec => fixedMask(o, name);
  return [
    { size: { B: 1, Hq: 4, Hkv: 2, Lq: 7, Lk: 97, D: 64 }, dtype: 'float32', mask: m('dense', () => ({})) },
    { size: { B: 1, Hq: 2, Hkv: 1, Lq: 97, Lk: 97, D: 128 }, dtype: 'float16', mask: m('causal', () => ({ causal: true })) },
    { size: { B: 1, Hq: 2, Hkv: 2, Lq: 40, Lk: 97, D: 64 }, dtype: 'bfloat16',
      mask: m('causal + window [16, 0] + globals', (s) => ({ causal: true, window: [16, 0], globalTokens: globalsFor(s.Lk) })) },
    { size: { B: 1, Hq: 6, Hkv: 1, Lq: 33, Lk: 97, D: 64 }, dtype: 'float16',
      mask: m('blockMask 16 + alibi', (s) => ({ blockMask: blockMaskFor(s.Lq, s.Lk, 16, 'emu block'), alibi: true })) },
    { size: { B: 1, Hq: 8, Hkv: 2, Lq: 1, Lk: 97, D: 80 }, dtype: 'float32',
      mask: m('window [inf, 3] + alibi custom + softcap', (s) => ({ window: [Infinity, 3], alibi: customSlopes(s.Hq, 'emu'), softcap: 1.5 })) },
    { size: { B: 3, Hq: 2, Hkv: 1, Lq: 40, Lk: 7, D: 32 }, dtype: 'bfloat16', mask: m('causal (Lq > Lk)', () => ({ causal: true })) },
    { size: { B: 1, Hq: 1, Hkv: 1, Lq: 16, Lk: 16, D: 256 }, dtype: 'float16', mask: m('window [0, 0]', () => ({ window: [0, 0] })) },
    { size: { B: 1, Hq: 2, Hkv: 1, Lq: 100, Lk: 130, D: 128 }, dtype: 'float32',
      mask: m('causal + window wide + globals', (s) => ({ causal: true, window: [1000, 1000], globalTokens: globalsFor(s.Lk) })) },
    { size: { B: 2, Hq: 4, Hkv: 2, Lq: 7, Lk: 33, D: 64 }, dtype: 'float16', mask: m('causal', () => ({ causal: true })), transposed: true },
    // Decode against a long cache: the split-KV (flash-decoding) path and its merge.
    { size: { B: 1, Hq: 4, Hkv: 1, Lq: 1, Lk: 1025, D: 128 }, dtype: 'float16', mask: m('causal + alibi', () => ({ causal: true, alibi: true })) },
    { size: { B: 2, Hq: 2, Hkv: 2, Lq: 2, Lk: 700, D: 64 }, dtype: 'float32',
      mask: m('window [300, 0] + globals', (s) => ({ window: [300, 0], globalTokens: globalsFor(s.Lk) })) },
  ];
}

/** The backward on cpu: each mask kind, ALiBi, softcap, GQA, rows without a key, every dtype. */
export function cpuBackwardCases(): ParityCase[] {
  return cpuBackwardSpecs().map(attentionBackwardCase);
}

export function cpuBackwardSpecs(): AttentionCaseSpec[] {
  const kinds: MaskSpec[] = [
    maskFromAxes({ causal: false, window: 'none', globals: false, block: false, alibi: 'none', softcap: false }),
    maskFromAxes({ causal: true, window: 'none', globals: false, block: false, alibi: 'none', softcap: false }),
    maskFromAxes({ causal: false, window: '4,3', globals: false, block: false, alibi: 'none', softcap: false }),
    maskFromAxes({ causal: true, window: '6,0', globals: true, block: false, alibi: 'none', softcap: false }),
    maskFromAxes({ causal: false, window: '0,0', globals: false, block: false, alibi: 'none', softcap: false }),
    maskFromAxes({ causal: false, window: 'inf,2', globals: true, block: false, alibi: 'none', softcap: false }),
    maskFromAxes({ causal: false, window: 'none', globals: false, block: true, alibi: 'none', softcap: false }),
    maskFromAxes({ causal: false, window: 'none', globals: false, block: false, alibi: 'default', softcap: false }),
    maskFromAxes({ causal: true, window: 'none', globals: false, block: false, alibi: 'custom', softcap: false }),
    maskFromAxes({ causal: false, window: 'none', globals: false, block: false, alibi: 'none', softcap: true }),
    maskFromAxes({ causal: true, window: 'wide', globals: true, block: true, alibi: 'default', softcap: true }),
  ];
  const sizes: AttentionSize[] = [
    { B: 1, Hq: 8, Hkv: 2, Lq: 33, Lk: 57, D: 64 },
    { B: 3, Hq: 6, Hkv: 1, Lq: 40, Lk: 7, D: 32 },
    { B: 1, Hq: 12, Hkv: 4, Lq: 7, Lk: 97, D: 80 },
  ];
  const specs: AttentionCaseSpec[] = [];
  kinds.forEach((mask, m) => {
    FLOATS.forEach((dtype, d) => specs.push({ size: sizes[(m + d) % sizes.length]!, dtype, mask }));
  });
  const causal = fixedMask(() => ({ causal: true }), 'causal');
  specs.push({ size: { B: 1, Hq: 2, Hkv: 1, Lq: 256, Lk: 256, D: 128 }, dtype: 'float32', mask: causal });
  specs.push({ size: { B: 1, Hq: 2, Hkv: 2, Lq: 97, Lk: 256, D: 256 }, dtype: 'bfloat16',
    mask: fixedMask(() => ({ causal: true, window: [31, 0], alibi: true }), 'causal + window [31, 0] + alibi') });
  specs.push({ size: { B: 1, Hq: 8, Hkv: 8, Lq: 1, Lk: 97, D: 64 }, dtype: 'float16', mask: causal });
  specs.push({ size: { B: 1, Hq: 8, Hkv: 2, Lq: 33, Lk: 57, D: 64 }, dtype: 'float32', mask: kinds[kinds.length - 1]!, ownForward: true });
  specs.push({ size: { B: 3, Hq: 6, Hkv: 1, Lq: 40, Lk: 7, D: 32 }, dtype: 'bfloat16', mask: causal, ownForward: true });
  return specs;
}

/** The backward on emu: few, small, yet every mask kind and dtype once. */
export function emuBackwardCases(): ParityCase[] {
  return emuBackwardSpecs().map(attentionBackwardCase);
}

export function emuBackwardSpecs(): AttentionCaseSpec[] {
  const m = (name: string, o: (s: AttentionSize) => AttentionOptions): MaskSpec => fixedMask(o, name);
  return [
    { size: { B: 1, Hq: 4, Hkv: 2, Lq: 33, Lk: 57, D: 64 }, dtype: 'float32', mask: m('causal', () => ({ causal: true })) },
    { size: { B: 1, Hq: 2, Hkv: 1, Lq: 40, Lk: 40, D: 128 }, dtype: 'float16',
      mask: m('window [8, 2] + globals + alibi', (s) => ({ window: [8, 2], globalTokens: globalsFor(s.Lk), alibi: true })) },
    { size: { B: 1, Hq: 2, Hkv: 2, Lq: 40, Lk: 48, D: 64 }, dtype: 'bfloat16',
      mask: m('blockMask 16 + softcap', (s) => ({ blockMask: blockMaskFor(s.Lq, s.Lk, 16, 'emu bwd'), softcap: 1.5 })) },
    { size: { B: 2, Hq: 2, Hkv: 1, Lq: 20, Lk: 7, D: 32 }, dtype: 'float32',
      mask: m('causal (Lq > Lk) + alibi custom', (s) => ({ causal: true, alibi: customSlopes(s.Hq, 'emu bwd') })) },
  ];
}

/** RoPE: both layouts, offset / shared positions / per-sequence positions, base, linear and NTK scaling, every dtype. */
export function ropeCases(): ParityCase[] {
  const shapes: Array<readonly [number, number, number, number]> =
    [[2, 3, 7, 64], [1, 2, 97, 128], [3, 1, 1, 32], [1, 4, 33, 80], [1, 1, 5, 256], [2, 2, 16, 8]];
  const variants: Array<[string, (L: number, B: number) => RopeOptions]> = [
    ['defaults', () => ({})],
    ['offset 1000', () => ({ offset: 1000 })],
    ['positions [L]', (L) => ({ positions: Int32Array.from({ length: L }, (_, l) => (l * 37) % 4096) })],
    ['positions [B·L] base 500', (L, B) => ({ positions: Int32Array.from({ length: B * L }, (_, t) => 3 * t + 1), base: 500 })],
    ['linear ×4 offset 3000', () => ({ scaling: { type: 'linear', factor: 4 }, offset: 3000 })],
    ['ntk ×8 offset 5000 base 500000', () => ({ scaling: { type: 'ntk', factor: 8 }, offset: 5000, base: 500000 })],
  ];
  const cases: ParityCase[] = [];
  for (const [si, shape] of shapes.entries()) {
    for (const layout of ['half', 'interleaved'] as const) {
      for (const [vi, [label, make]] of variants.entries()) {
        const dtype = FLOATS[(si + vi) % FLOATS.length]!;
        cases.push(ropeCase(shape, dtype, { ...make(shape[2], shape[0]), layout }, `${layout} ${label}`));
        // The first shape in every dtype.
        if (si === 0) {
          for (const other of FLOATS.filter((f) => f !== dtype)) {
            cases.push(ropeCase(shape, other, { ...make(shape[2], shape[0]), layout }, `${layout} ${label}`));
          }
        }
      }
    }
  }
  return cases;
}
