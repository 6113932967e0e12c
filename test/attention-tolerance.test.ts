/**
 * Checks of the attention tolerances themselves (test/parity/attention.ts), with a
 * model kernel in JS: a flash-style forward (key tiles of 64, online softmax with
 * running max and sum, every operation rounded to fp32, P rounded to the input
 * dtype before P·V as tensor-core kernels do) and a FlashAttention-2 style backward
 * (P recomputed from lse, fp32 accumulators, P and dS rounded to the input dtype).
 *
 * 1. A correct kernel of that kind passes every case's tolerance: the tolerances
 *    are reachable by an honest fp32 / fp16 / bf16 implementation.
 * 2. Each typical bug (top-left instead of bottom-right alignment, a window one key
 *    too wide, global queries by their row instead of their position, block rows by
 *    position, the wrong GQA head mapping, a skipped softcap, ALiBi distances off by
 *    one, a dropped last key tile; in the backward, a skipped softcap derivative and
 *    dK/dV from one query head of a group) fails at least one case of the emulator's
 *    short list and of a sample of the cpu cross product: the short lists still
 *    cover every mask kind.
 */
import { describe, expect, test } from 'vitest';
import * as ref from './reference/index.js';
import * as attn from './reference/attention.js';
import { compare, Rng, seedOf, type ParityCase } from './parity/harness.js';
import {
  attentionBackwardCase, attentionCase, crossProductSampleSpecs, emuBackwardSpecs, emuForwardSpecs, type AttentionCaseSpec,
} from './parity/attention.js';

const fr = Math.fround;

type Mutation = 'none' | 'top-left alignment' | 'window one key wider' | 'global query by row' | 'block rows by position'
  | 'GQA h mod Hkv' | 'softcap skipped' | 'ALiBi distance + 1' | 'last key tile dropped';

const FORWARD_MUTATIONS: Mutation[] = [
  'top-left alignment', 'window one key wider', 'global query by row', 'block rows by position', 'GQA h mod Hkv',
  'softcap skipped', 'ALiBi distance + 1', 'last key tile dropped',
];

interface Problem {
  q: ref.RefTensor;
  k: ref.RefTensor;
  v: ref.RefTensor;
  dout: ref.RefTensor;
  opts: attn.AttentionOptions;
  dtype: ref.FloatDType;
}

function problemOf(spec: AttentionCaseSpec): Problem {
  const s = spec.size;
  const rng = new Rng(seedOf(`tolerance ${spec.dtype} ${spec.mask.name}`));
  const make = (shape: number[]): ref.RefTensor => {
    const data = new Float64Array(ref.numelOf(shape));
    for (let i = 0; i < data.length; ++i) data[i] = ref.roundTo(spec.dtype, rng.normal());
    return { data, shape };
  };
  return {
    q: make([s.B, s.Hq, s.Lq, s.D]), k: make([s.B, s.Hkv, s.Lk, s.D]), v: make([s.B, s.Hkv, s.Lk, s.D]),
    dout: make([s.B, s.Hq, s.Lq, s.D]), opts: spec.mask.options(s), dtype: spec.dtype,
  };
}

/** The visibility test, with the mutations that change it. */
function visibility(p: Problem, mutation: Mutation): (i: number, ip: number, j: number) => boolean {
  const { Lq, Lk } = attn.attentionShape(p.q, p.k, p.v);
  let o = p.opts;
  if (mutation === 'window one key wider' && o.window) o = { ...o, window: [o.window[0] + 1, o.window[1]] };
  const m = attn.resolveMask(o, Lq, Lk);
  switch (mutation) {
    case 'top-left alignment': return (i, _ip, j) => attn.isVisible(m, i, i, j);
    case 'block rows by position': return (_i, ip, j) => attn.isVisible(m, Math.max(0, ip), ip, j);
    case 'global query by row':
      // DESIGN's rule with "i ∈ G" where it says "i' ∈ G".
      return (i, ip, j) => {
        if (m.causal && j > ip) return false;
        if (m.block !== null && m.block[Math.floor(i / m.blockSize) * m.blockCols + Math.floor(j / m.blockSize)] === 0) return false;
        if (m.hasWindow && !(ip - m.left <= j && j <= ip + m.right)) return m.global !== null && (m.global[i] === 1 || m.global[j] === 1);
        return true;
      };
    default: return (i, ip, j) => attn.isVisible(m, i, ip, j);
  }
}

/** The fp32 score of (query row r at ip, key row kb at j) and the softcap derivative. */
function scorer(p: Problem, mutation: Mutation): (qo: number, ko: number, h: number, ip: number, j: number) => [number, number] {
  const { Hq, D } = attn.attentionShape(p.q, p.k, p.v);
  const slopes = p.opts.alibi === true ? Array.from(attn.alibiSlopes(Hq), fr) : p.opts.alibi ? Array.from(p.opts.alibi) : null;
  const scale = fr(p.opts.scale ?? 1 / Math.sqrt(D));
  const cap = mutation === 'softcap skipped' ? 0 : fr(p.opts.softcap ?? 0);
  const extra = mutation === 'ALiBi distance + 1' ? 1 : 0;
  return (qo, ko, h, ip, j) => {
    let dot = 0;
    for (let d = 0; d < D; ++d) dot = fr(dot + fr(p.q.data[qo + d]! * p.k.data[ko + d]!));
    let x = fr(dot * scale);
    let dcap = 1;
    if (cap > 0) {
      const t = fr(Math.tanh(fr(x / cap)));
      dcap = fr(1 - fr(t * t));
      x = fr(cap * t);
    }
    if (slopes) x = fr(x - fr(slopes[h]! * (Math.abs(ip - j) + extra)));
    return [x, dcap];
  };
}

function kvHeadOf(h: number, Hq: number, Hkv: number, mutation: Mutation): number {
  return mutation === 'GQA h mod Hkv' ? h % Hkv : Math.floor(h / (Hq / Hkv));
}

const TILE = 64;

function modelForward(p: Problem, mutation: Mutation = 'none'): { out: Float64Array; lse: Float64Array } {
  const { B, Hq, Hkv, Lq, Lk, D } = attn.attentionShape(p.q, p.k, p.v);
  const visible = visibility(p, mutation);
  const score = scorer(p, mutation);
  const toDtype = attn.rounder(p.dtype);
  const keys = mutation === 'last key tile dropped' && Lk > TILE ? Math.floor((Lk - 1) / TILE) * TILE : Lk;
  const out = new Float64Array(B * Hq * Lq * D);
  const lse = new Float64Array(B * Hq * Lq);
  const acc = new Float64Array(D);
  const tile = new Float64Array(TILE);
  for (let b = 0; b < B; ++b) {
    for (let h = 0; h < Hq; ++h) {
      const kvBase = (b * Hkv + kvHeadOf(h, Hq, Hkv, mutation)) * Lk * D;
      for (let i = 0; i < Lq; ++i) {
        const r = (b * Hq + h) * Lq + i;
        const ip = i + Lk - Lq;
        let max = -Infinity;
        let sum = 0;
        acc.fill(0);
        for (let j0 = 0; j0 < keys; j0 += TILE) {
          const j1 = Math.min(keys, j0 + TILE);
          let tileMax = -Infinity;
          for (let j = j0; j < j1; ++j) {
            tile[j - j0] = visible(i, ip, j) ? score(r * D, kvBase + j * D, h, ip, j)[0] : -Infinity;
            tileMax = Math.max(tileMax, tile[j - j0]!);
          }
          if (tileMax === -Infinity) continue;
          const next = Math.max(max, tileMax);
          const correction = fr(Math.exp(fr(max - next)));
          sum = fr(sum * correction);
          for (let d = 0; d < D; ++d) acc[d] = fr(acc[d]! * correction);
          for (let j = j0; j < j1; ++j) {
            if (tile[j - j0] === -Infinity) continue;
            const e = fr(Math.exp(fr(tile[j - j0]! - next)));
            sum = fr(sum + e);
            const pe = toDtype(e);
            for (let d = 0; d < D; ++d) acc[d] = fr(acc[d]! + fr(pe * p.v.data[kvBase + j * D + d]!));
          }
          max = next;
        }
        if (max === -Infinity) {
          lse[r] = -Infinity;
          continue;
        }
        lse[r] = fr(max + fr(Math.log(sum)));
        for (let d = 0; d < D; ++d) out[r * D + d] = ref.roundTo(p.dtype, fr(acc[d]! / sum));
      }
    }
  }
  return { out, lse };
}

type BackwardMutation = 'none' | 'softcap derivative skipped' | 'dK and dV from one head of a group';

function modelBackward(p: Problem, mutation: BackwardMutation = 'none'): Float64Array[] {
  const { B, Hq, Hkv, Lq, Lk, D } = attn.attentionShape(p.q, p.k, p.v);
  const { out, lse } = modelForward(p);
  const visible = visibility(p, 'none');
  const score = scorer(p, 'none');
  const toDtype = attn.rounder(p.dtype);
  const scale = fr(p.opts.scale ?? 1 / Math.sqrt(D));
  const group = Hq / Hkv;
  const dq = new Float64Array(p.q.data.length);
  const dk = new Float64Array(p.k.data.length);
  const dv = new Float64Array(p.v.data.length);
  for (let b = 0; b < B; ++b) {
    for (let h = 0; h < Hq; ++h) {
      const kvBase = (b * Hkv + Math.floor(h / group)) * Lk * D;
      const keepKv = mutation !== 'dK and dV from one head of a group' || h % group === 0;
      for (let i = 0; i < Lq; ++i) {
        const r = (b * Hq + h) * Lq + i;
        if (lse[r] === -Infinity) continue;
        const ip = i + Lk - Lq;
        let delta = 0;
        for (let d = 0; d < D; ++d) delta = fr(delta + fr(p.dout.data[r * D + d]! * out[r * D + d]!));
        for (let j = 0; j < Lk; ++j) {
          if (!visible(i, ip, j)) continue;
          const ko = kvBase + j * D;
          const [x, dcap] = score(r * D, ko, h, ip, j);
          const prob = fr(Math.exp(fr(x - lse[r]!)));
          let dp = 0;
          for (let d = 0; d < D; ++d) dp = fr(dp + fr(p.dout.data[r * D + d]! * p.v.data[ko + d]!));
          const ds = toDtype(fr(fr(prob * fr(dp - delta)) * (mutation === 'softcap derivative skipped' ? 1 : dcap)));
          const pr = toDtype(prob);
          for (let d = 0; d < D; ++d) {
            dq[r * D + d] = fr(dq[r * D + d]! + fr(ds * p.k.data[ko + d]!));
            if (!keepKv) continue;
            dv[ko + d] = fr(dv[ko + d]! + fr(pr * p.dout.data[r * D + d]!));
            dk[ko + d] = fr(dk[ko + d]! + fr(ds * p.q.data[r * D + d]!));
          }
        }
      }
    }
  }
  const finish = (g: Float64Array, factor: number): Float64Array => g.map((x) => ref.roundTo(p.dtype, fr(x * factor)));
  return [finish(dq, scale), finish(dk, scale), finish(dv, 1)];
}

/** Whether outputs pass the case's tolerance (null) or why not. */
function verdict(c: ParityCase, p: Problem, outputs: Float64Array[]): string | null {
  const inputs = c.op === 'attention' ? [p.q, p.k, p.v] : [p.q, p.k, p.v, p.dout];
  const expected = c.reference(inputs);
  const list = Array.isArray(expected) ? expected : [expected];
  for (const [k, e] of list.entries()) {
    const dtype = c.op === 'attention' && k === 1 ? 'float32' : p.dtype;
    const tol = c.tolerance!({ inputs, expected: e, dtype, output: k });
    const m = compare(outputs[k]!, e.data, tol, dtype);
    if (m) return `output ${k}: ${m.failures} elements out, max abs error ${m.maxAbs.error}`;
  }
  return null;
}

function forwardOutputs(spec: AttentionCaseSpec, r: { out: Float64Array; lse: Float64Array }): Float64Array[] {
  return spec.withLse === false ? [r.out] : [r.out, r.lse];
}

// The cross-product sample the devices other than cpu run.
const crossSample = crossProductSampleSpecs();

describe.each([['emu list', emuForwardSpecs()], ['cpu cross-product sample', crossSample]] as const)('forward tolerances, %s', (_, specs) => {
  const problems = specs.map((spec) => ({ spec, c: attentionCase(spec), p: problemOf(spec) }));

  test('a correct fp32 flash-style kernel passes every case', () => {
    for (const { spec, c, p } of problems) {
      expect(verdict(c, p, forwardOutputs(spec, modelForward(p))), `${spec.dtype} ${c.name}`).toBeNull();
    }
  });

  test.for(FORWARD_MUTATIONS)('a kernel with "%s" fails at least one case', (mutation) => {
    const caught = problems.filter(({ spec, c, p }) => verdict(c, p, forwardOutputs(spec, modelForward(p, mutation))) !== null);
    expect(caught.length).toBeGreaterThan(0);
  });
});

describe('backward tolerances, emu list', () => {
  const problems = emuBackwardSpecs().map((spec) => ({ spec, c: attentionBackwardCase(spec), p: problemOf(spec) }));

  test('a correct FlashAttention-2 style kernel passes every case', () => {
    for (const { spec, c, p } of problems) expect(verdict(c, p, modelBackward(p)), `${spec.dtype} ${c.name}`).toBeNull();
  });

  test.for(['softcap derivative skipped', 'dK and dV from one head of a group'] as const)('a kernel with "%s" fails at least one case', (mutation) => {
    const caught = problems.filter(({ c, p }) => verdict(c, p, modelBackward(p, mutation)) !== null);
    expect(caught.length).toBeGreaterThan(0);
  });
});
