/**
 * The CUDA attention backward and RoPE kernels on the `emu` device (the same .cu
 * sources compiled against the SIMT emulator), through the parity harness, against
 * the shared float64 references (test/reference/attention.ts, whose gradients are
 * checked against finite differences in attention-reference.test.ts) with the
 * shared tolerances (test/parity/attention.ts: fp32 scaled by the largest
 * gradient; fp16/bf16 the FlashAttention rule, 2× the error of the plain
 * same-dtype backward plus one ulp).
 *
 * These are the kernel edges the small emu subset in attention-backward.test.ts
 * does not reach: the tensor-core (mma) path for fp16/bf16 at D 8, 40 (not a
 * multiple of 16), 64, 80 and 128, the SIMT fallback at D 256, q/k/v handed to the
 * kernel as strided or misaligned views, Lk 1025, GQA, softcap, ALiBi, windows
 * (one-sided, unbounded, wider than the sequence), global tokens, block masks, and
 * rows without a visible key. The forward's out and lse come from the float64
 * forward (out in the case dtype, lse in fp32), so the backward is tested alone.
 * A backend reporting E_UNSUPPORTED is a skip with the reason, never a pass.
 *
 * Shape letters: B batch, Hq / Hkv query / kv heads, Lq / Lk lengths, D head dim.
 */
import { describe, expect, test } from 'vitest';
import * as tessera from '../lib/index.js';
import type { Tensor } from '../lib/index.js';
import { native, type NativeAttentionArgs, type NativeView } from '../lib/native.js';
import { attention as refAttention, type AttentionOptions, type AttentionResult } from './reference/attention.js';
import type { FloatDType } from './reference/index.js';
import { gen, parityMatrix, Rng, seedOf, type InputSpec, type ParityCase, type Tessera } from './parity/harness.js';
import {
  attentionBackwardCase, blockMaskFor, fixedMask, ropeCase, type AttentionSize,
} from './parity/attention.js';

const hasEmu = tessera.availableDevices().includes('emu');
const EMU: readonly string[] = hasEmu ? ['emu'] : [];

// ---------------------------------------------------------------------------
// Local adapters: what the shared helpers do not offer

/**
 * How q, k and v reach the kernel. 'contiguous' goes through tessera.attentionBackward
 * (the shared attentionBackwardCase). The public call makes its operands
 * contiguous, so the strided layouts call the addon directly with the views:
 * - 'transposed': generated as [B, L, H, D] and handed over as transpose(1, 2)
 *   (the strides of a KV cache or a fused QKV projection);
 * - 'padded': rows D + 1 apart (slice of [B, H, L, D + 1]), so not 16-byte aligned;
 *   the padding column holds 1e4, which must never be read.
 */
type Layout = 'contiguous' | 'transposed' | 'padded';

interface EmuCase {
  /** What the case is for, and its options. */
  what: string;
  size: AttentionSize;
  dtype: FloatDType;
  options: (s: AttentionSize) => AttentionOptions;
  layout?: Layout;
}

/** The addon's argument block for q, k, v, out, lse as given (views kept as they are). */
function nativeArgs(s: AttentionSize, o: AttentionOptions, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor,
  aux: Tensor[]): NativeAttentionArgs {
  const device = q.device;
  const upload = (data: Float32Array | Int32Array | Uint8Array): NativeView => {
    const dtype = data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : 'uint8';
    const t = tessera.tensor(data, { shape: [data.length], dtype, device });
    aux.push(t);
    return t.view();
  };
  let globalPrefix: NativeView | null = null;
  if (o.globalTokens !== undefined) {
    const isGlobal = new Uint8Array(s.Lk);
    for (const pos of o.globalTokens) isGlobal[pos] = 1;
    const prefix = new Int32Array(s.Lk + 1);
    for (let j = 0; j < s.Lk; ++j) prefix[j + 1] = prefix[j]! + isGlobal[j]!;
    globalPrefix = upload(prefix);
  }
  let alibi: Float32Array | null = null;
  if (o.alibi === true) alibi = tessera.alibiSlopes(s.Hq);
  else if (o.alibi !== undefined && o.alibi !== false) alibi = Float32Array.from(o.alibi);
  const bs = o.blockMask?.blockSize ?? 0;
  return {
    q: q.view('q'), k: k.view('k'), v: v.view('v'), out: out.view('out'), lse: lse.view('lse'),
    batch: s.B, qHeads: s.Hq, kvHeads: s.Hkv, qLen: s.Lq, kvLen: s.Lk, headDim: s.D,
    scale: o.scale ?? 1 / Math.sqrt(s.D),
    softcap: o.softcap ?? 0,
    alibi: alibi ? upload(alibi) : null,
    causal: o.causal ?? false,
    window: o.window ? [o.window[0], o.window[1]] : null,
    globalPrefix,
    blockMask: o.blockMask ? upload(o.blockMask.mask) : null,
    blockSize: bs,
    blockRows: bs ? Math.ceil(s.Lq / bs) : 0,
    blockCols: bs ? Math.ceil(s.Lk / bs) : 0,
    kvLengths: null,
    kvRing: false,
  };
}

/**
 * The shared backward case with q, k and v handed to the kernel as strided views:
 * same reference (computed on the values the views show) and tolerance, but the
 * inputs carry views and `run` calls the addon directly so the views survive.
 */
function stridedBackwardCase(base: ParityCase, s: AttentionSize, dtype: FloatDType, options: AttentionOptions,
  layout: 'transposed' | 'padded'): ParityCase {
  const operand = (H: number, L: number): InputSpec => (layout === 'transposed'
    ? { shape: [s.B, L, H, s.D], views: [{ transpose: [1, 2] }] }
    : {
      shape: [s.B, H, L, s.D + 1],
      gen: gen.where((i) => i % (s.D + 1) === s.D, 1e4, gen.normal()),
      views: [{ slice: [3, 0, s.D] }],
    });
  let forward: AttentionResult | null = null;
  return {
    ...base,
    name: `${base.name} (${layout === 'transposed' ? 'q, k, v transposed views' : 'q, k, v rows D + 1 apart'})`,
    inputs: [operand(s.Hq, s.Lq), operand(s.Hkv, s.Lk), operand(s.Hkv, s.Lk), { shape: [s.B, s.Hq, s.Lq, s.D] }],
    reference(refs) {
      const [q, k, v] = refs;
      forward = refAttention(q!, k!, v!, options);
      return base.reference(refs);
    },
    run(t: Tessera, [q, k, v, dout]: Tensor[], device: string) {
      if (!forward) throw new Error('strided backward case: run before reference');
      // (A transposed [B, L, 1, D] is contiguous: with one kv head only q is strided.)
      for (const [x, name, H] of [[q!, 'q', s.Hq], [k!, 'k', s.Hkv], [v!, 'v', s.Hkv]] as const) {
        if (x.isContiguous && !(layout === 'transposed' && H === 1)) {
          throw new Error(`strided backward case: ${name} is contiguous, the strided path is not reached`);
        }
      }
      const qShape = [s.B, s.Hq, s.Lq, s.D], kShape = [s.B, s.Hkv, s.Lk, s.D];
      const out = t.tensor(Float32Array.from(forward.out.data), { shape: qShape, dtype, device });
      const lse = t.tensor(Float32Array.from(forward.lse.data), { shape: [s.B, s.Hq, s.Lq], dtype: 'float32', device });
      const aux: Tensor[] = [out, lse];
      // Allocated through Tensor.allocate, so the harness poisons them.
      const grads = [t.empty(qShape, { dtype, device }), t.empty(kShape, { dtype, device }), t.empty(kShape, { dtype, device })];
      const [dq, dk, dv] = grads as [Tensor, Tensor, Tensor];
      try {
        native.attentionBackward(nativeArgs(s, options, q!, k!, v!, out, lse, aux), dout!.view('dout'),
          dq.view('dq'), dk.view('dk'), dv.view('dv'));
      } catch (e) {
        for (const g of grads) g.dispose();
        throw e;
      } finally {
        for (const a of aux) a.dispose();
      }
      return grads;
    },
  };
}

function emuCase(c: EmuCase): ParityCase {
  const spec = { size: c.size, dtype: c.dtype, mask: fixedMask(c.options, c.what) };
  const base = attentionBackwardCase(spec);
  const layout = c.layout ?? 'contiguous';
  return layout === 'contiguous' ? base : stridedBackwardCase(base, c.size, c.dtype, c.options(c.size), layout);
}

/** blockMaskFor's layout (block row 1 hidden) with block row `row` hidden too. */
function hidingRow(m: { blockSize: number; mask: Uint8Array }, Lk: number, row: number) {
  const cols = Math.ceil(Lk / m.blockSize);
  m.mask.fill(0, row * cols, (row + 1) * cols);
  return m;
}

// ---------------------------------------------------------------------------
// Cases

const size = (B: number, Hq: number, Hkv: number, Lq: number, Lk: number, D: number): AttentionSize => ({ B, Hq, Hkv, Lq, Lk, D });

const CASES: EmuCase[] = [
  { what: 'dense, GQA, Lq < Lk', dtype: 'float32', size: size(1, 4, 2, 7, 97, 32), options: () => ({}) },
  { what: 'causal, Lq > Lk (rows without keys)', dtype: 'float32', size: size(2, 2, 1, 37, 20, 64),
    options: () => ({ causal: true }) },
  { what: 'window [5, 2] + globals [3, 66]', dtype: 'float32', size: size(1, 2, 2, 70, 70, 80),
    options: () => ({ window: [5, 2], globalTokens: [3, 66] }) },
  { what: 'blockMask 16, a hidden block row', dtype: 'float32', size: size(1, 2, 1, 40, 70, 32),
    options: (s) => ({ blockMask: blockMaskFor(s.Lq, s.Lk, 16, 'emu bwd hidden row') }) },
  { what: 'softcap 3 + alibi custom + causal + scale 0.3', dtype: 'float32', size: size(1, 3, 1, 25, 66, 64),
    options: () => ({ softcap: 3, alibi: Float32Array.of(0.5, 0.125, 0.03125), causal: true, scale: 0.3 }) },
  { what: 'one query, one key', dtype: 'float32', size: size(1, 1, 1, 1, 1, 8), options: () => ({}) },
  { what: 'causal, D 256', dtype: 'float32', size: size(1, 1, 1, 9, 11, 256), options: () => ({ causal: true }) },
  { what: 'causal + window [7, 0]', dtype: 'float16', size: size(1, 2, 1, 33, 65, 64),
    options: () => ({ causal: true, window: [7, 0] }) },
  { what: 'softcap 4 + alibi custom + window [3, 3] + globals [0]', dtype: 'bfloat16', size: size(1, 2, 1, 30, 30, 80),
    options: () => ({ softcap: 4, alibi: Float32Array.of(0.25, 0.0625), window: [3, 3], globalTokens: [0] }) },
  { what: 'blockMask 16, the partial last block row hidden', dtype: 'bfloat16', size: size(2, 2, 2, 33, 33, 32),
    options: (s) => ({ blockMask: hidingRow(blockMaskFor(s.Lq, s.Lk, 16, 'emu bwd partial row'), s.Lk, 2) }) },
  { what: 'causal, GQA 4', dtype: 'float16', size: size(1, 4, 1, 20, 20, 80), options: () => ({ causal: true }) },
  { what: 'causal + alibi custom, GQA 3', dtype: 'float32', size: size(2, 3, 1, 19, 70, 32), layout: 'transposed',
    options: () => ({ causal: true, alibi: Float32Array.of(0.5, 0.25, 0.125) }) },
  { what: 'window [2000, inf] (wider than the sequence), Lk 1025', dtype: 'float32', size: size(1, 1, 1, 97, 1025, 32),
    options: () => ({ window: [2000, Infinity] }) },
  { what: 'window [inf, 0] + causal + softcap 8', dtype: 'float16', size: size(1, 2, 2, 97, 97, 64), layout: 'transposed',
    options: () => ({ window: [Infinity, 0], causal: true, softcap: 8 }) },
  // Tensor-core path edges: D not a multiple of 16 (zero-padded reduction), one
  // dim tile (half the warps idle for dK / dV / dQ), D 128; D 256 falls back to SIMT.
  { what: 'causal, D 40, Lq > Lk', dtype: 'float16', size: size(1, 2, 1, 70, 45, 40), options: () => ({ causal: true }) },
  { what: 'dense, D 8', dtype: 'bfloat16', size: size(1, 1, 1, 17, 9, 8), options: () => ({}) },
  { what: 'window [20, 5], D 128', dtype: 'bfloat16', size: size(1, 2, 1, 33, 129, 128), options: () => ({ window: [20, 5] }) },
  { what: 'causal, D 24', dtype: 'bfloat16', size: size(1, 2, 1, 21, 70, 24), layout: 'padded', options: () => ({ causal: true }) },
  { what: 'alibi custom, D 256 (SIMT fallback)', dtype: 'float16', size: size(1, 1, 1, 9, 70, 256),
    options: () => ({ alibi: Float32Array.of(0.1) }) },
];

parityMatrix('attentionBackward emu kernel edges', CASES.map(emuCase), { devices: EMU });

// The public call with every option at once, on cpu and emu against the same reference.
parityMatrix('attentionBackward cpu and emu', [emuCase({
  what: 'causal + window [9, 2] + globals [1] + alibi + softcap 6', dtype: 'float16', size: size(1, 4, 2, 21, 45, 64),
  options: () => ({ causal: true, window: [9, 2], globalTokens: Int32Array.of(1), alibi: true, softcap: 6 }),
})], { devices: ['cpu', ...EMU] });

describe.skipIf(!hasEmu)('CUDA attention backward on emu: the addon guards', () => {
  test('a head dim that is not a multiple of 8 is refused by the addon, not read out of bounds', () => {
    const s = size(1, 1, 1, 3, 3, 12);
    const shape = [s.B, s.Hq, s.Lq, s.D];
    const device = 'emu';
    const make = () => tessera.randn(shape, { dtype: 'float32', device });
    const [q, k, v, out, dout, dq, dk, dv] = [make(), make(), make(), make(), make(), make(), make(), make()];
    const lse = tessera.zeros([s.B, s.Hq, s.Lq], { dtype: 'float32', device });
    const aux: Tensor[] = [];
    try {
      // The call is queued on the device's stream; its error surfaces at the next sync.
      expect(() => {
        native.attentionBackward(nativeArgs(s, {}, q, k, v, out, lse, aux), dout.view(), dq.view(), dk.view(), dv.view());
        dq.dataSync();
      }).toThrow(/multiple of 8/);
    } finally {
      for (const t of [q, k, v, out, dout, dq, dk, dv, lse, ...aux]) t.dispose();
    }
  });
});

// ---------------------------------------------------------------------------
// RoPE on emu: positions far from the origin (offset 1000, up to 200000), both
// layouts, per-sequence positions with base 500000, linear scaling, D 2 to 128.

function randomPositions(n: number, label: string): Int32Array {
  const rng = new Rng(seedOf(label));
  return Int32Array.from({ length: n }, () => rng.int(0, 200000));
}

parityMatrix('rope emu', [
  ropeCase([2, 3, 7, 8], 'float32', { layout: 'half', offset: 1000 }, 'half offset 1000'),
  ropeCase([1, 2, 97, 16], 'float32',
    { layout: 'interleaved', positions: randomPositions(97, 'rope [L]'), scaling: { type: 'linear', factor: 4 } },
    'interleaved positions [L] up to 200000, linear ×4'),
  ropeCase([2, 1, 5, 64], 'float16', { layout: 'half', positions: randomPositions(2 * 5, 'rope [B·L] 64'), base: 500000 },
    'half positions [B·L] up to 200000, base 500000'),
  ropeCase([1, 1, 9, 2], 'bfloat16', { layout: 'interleaved', offset: 1000 }, 'interleaved offset 1000'),
  ropeCase([1, 2, 3, 128], 'float32', { layout: 'half', positions: randomPositions(3, 'rope [B·L] 128'), base: 500000 },
    'half positions [B·L] up to 200000, base 500000'),
], { devices: EMU });
