/**
 * KVCache on every available device: decoding over the cache equals full attention
 * over the same keys (the float64 reference over every token appended so far),
 * step after step: prefill chunks, one-token decode steps, sequences of different
 * lengths in one batch, a ring buffer (window) before and after it wraps, a chunk
 * longer than the ring, and RoPE applied to keys on append (both layouts, linear and
 * NTK scaling) with the queries rotated by the caller.
 *
 * The cache's storage is poisoned with NaN when it is created: a kernel that reads
 * a row no token was written to (beyond a sequence's length, or a ring slot not
 * yet filled) turns the output into NaN, as uninitialized memory could in use.
 */
import { describe, expect, test } from 'vitest';
import * as tessera from '../lib/index.js';
import type { AttendOptions, RopeConfig } from '../lib/index.js';
import * as ref from './reference/index.js';
import * as attn from './reference/attention.js';
import { compare, maxAbs, Rng, seedOf, withPoisonedAllocations, type Tolerance } from './parity/harness.js';

type FloatDType = ref.FloatDType;

interface Step {
  /** Tokens in the appended chunk (0: attend only). */
  T: number;
  /** Tokens kept per sequence (default T for every one). */
  lengths?: number[];
  /** Queries per sequence in the following attend. */
  Lq: number;
}

interface Scenario {
  name: string;
  dtype: FloatDType;
  B: number;
  Hq: number;
  Hkv: number;
  D: number;
  capacity: number;
  window?: number;
  rope?: RopeConfig;
  attend?: Omit<AttendOptions, 'returnLse'>;
  steps: Step[];
}

const decode = (n: number, Lq = 1): Step[] => Array.from({ length: n }, () => ({ T: 1, Lq }));

const SCENARIOS: Scenario[] = [
  {
    name: 'no window, fp32, sequences of different lengths (prefill 7 / 3, decode, a chunk for one sequence only)',
    dtype: 'float32', B: 2, Hq: 4, Hkv: 2, D: 64, capacity: 40,
    steps: [{ T: 7, lengths: [7, 3], Lq: 7 }, ...decode(4), { T: 4, lengths: [4, 0], Lq: 4 }, { T: 0, Lq: 2 }],
  },
  {
    name: 'window 8 in a ring of 12, fp32, RoPE half on append, ALiBi + softcap: wraps during decode, then a chunk across the wrap and one longer than the ring',
    dtype: 'float32', B: 1, Hq: 2, Hkv: 1, D: 32, capacity: 12, window: 8,
    rope: {}, attend: { alibi: true, softcap: 2 },
    steps: [{ T: 10, Lq: 5 }, ...decode(9), { T: 5, Lq: 5 }, { T: 20, Lq: 1 }, ...decode(2)],
  },
  {
    name: 'window 5 in a ring of 7, fp16, no RoPE, GQA, two sequences: wraps during decode, then a chunk across the wrap',
    dtype: 'float16', B: 2, Hq: 4, Hkv: 2, D: 64, capacity: 7, window: 5,
    steps: [{ T: 6, lengths: [6, 2], Lq: 3 }, ...decode(8), { T: 3, Lq: 3 }],
  },
  {
    name: 'window 6 in a ring of 6, bf16, RoPE interleaved NTK ×4, two sequences of different lengths',
    dtype: 'bfloat16', B: 2, Hq: 4, Hkv: 2, D: 64, capacity: 6, window: 6,
    rope: { layout: 'interleaved', scaling: { type: 'ntk', factor: 4 }, base: 500 },
    steps: [{ T: 4, lengths: [4, 1], Lq: 1 }, ...decode(8), { T: 1, lengths: [0, 1], Lq: 1 }],
  },
  {
    name: 'no window, fp16, D 128, RoPE half linear ×2, custom slopes',
    dtype: 'float16', B: 1, Hq: 8, Hkv: 2, D: 128, capacity: 48,
    rope: { scaling: { type: 'linear', factor: 2 } }, attend: { alibi: Float32Array.of(0.5, 0.25, 0.1, 0.05, 0.3, 0.2, 0.7, 0.01) },
    steps: [{ T: 33, Lq: 33 }, ...decode(3), { T: 2, Lq: 2 }],
  },
];

/** Every token appended to each sequence, per kv head: the keys before RoPE, and the values. */
class History {
  readonly k: number[][][][];
  readonly v: number[][][][];

  constructor(readonly B: number, readonly Hkv: number, readonly D: number) {
    this.k = Array.from({ length: B }, () => Array.from({ length: Hkv }, () => []));
    this.v = Array.from({ length: B }, () => Array.from({ length: Hkv }, () => []));
  }

  length(b: number): number {
    return this.k[b]![0]!.length;
  }

  /** Appends the first counts[b] tokens of chunks k and v ([B, Hkv, T, D] values). */
  append(k: Float64Array, v: Float64Array, T: number, counts: number[]): void {
    const D = this.D;
    for (let b = 0; b < this.B; ++b) {
      for (let h = 0; h < this.Hkv; ++h) {
        for (let t = 0; t < counts[b]!; ++t) {
          const at = ((b * this.Hkv + h) * T + t) * D;
          this.k[b]![h]!.push(Array.from(k.subarray(at, at + D)));
          this.v[b]![h]!.push(Array.from(v.subarray(at, at + D)));
        }
      }
    }
  }

  /** Sequence b's keys or values as [1, Hkv, len, D]. */
  tensor(which: 'k' | 'v', b: number): ref.RefTensor {
    const rows = this[which][b]!;
    const len = this.length(b);
    return { data: Float64Array.from(rows.flat(2)), shape: [1, this.Hkv, len, this.D] };
  }
}

function sliceBatch(t: ref.RefTensor, b: number): ref.RefTensor {
  const per = t.data.length / t.shape[0]!;
  return { data: t.data.slice(b * per, (b + 1) * per), shape: [1, ...t.shape.slice(1)] };
}

/** The expected attend: per sequence, causal (plus the window) attention over every token so far. */
function expectedAttend(s: Scenario, hist: History, q: ref.RefTensor, rounding?: FloatDType): { out: Float64Array; lse: Float64Array } {
  const Lq = q.shape[2]!;
  const out = new Float64Array(q.data.length);
  const lse = new Float64Array(s.B * s.Hq * Lq);
  const opts: attn.AttentionOptions = { ...s.attend, causal: true };
  if (s.window !== undefined) opts.window = [s.window - 1, 0];
  for (let b = 0; b < s.B; ++b) {
    let k = hist.tensor('k', b);
    if (s.rope) k = attn.rope(k, { ...s.rope, offset: 0 });
    let v = hist.tensor('v', b);
    if (rounding) {
      // A plain implementation stores the rotated keys in its dtype.
      k = ref.map(k, (x) => ref.roundTo(rounding, x));
      v = ref.map(v, (x) => ref.roundTo(rounding, x));
    }
    const r = attn.attention(sliceBatch(q, b), k, v, opts, rounding);
    out.set(r.out.data, b * r.out.data.length);
    lse.set(r.lse.data, b * r.lse.data.length);
  }
  return { out, lse };
}

function randomValues(n: number, seed: string): Float32Array {
  const rng = new Rng(seedOf(seed));
  return Float32Array.from({ length: n }, () => rng.normal());
}

async function held(t: tessera.Tensor): Promise<Float64Array> {
  return ref.decodeArray(t.dtype, await t.data());
}

function check(label: string, out: Float64Array, expected: Float64Array, tol: Tolerance, dtype: tessera.DType): void {
  const m = compare(out, expected, tol, dtype);
  if (m) {
    const i = m.first;
    expect.fail(`${label}: ${m.failures} of ${expected.length} elements out of tolerance; first at ${i}: out ${out[i]}, ref ${expected[i]}, bound ${m.bound}; max abs error ${m.maxAbs.error}${m.plainError !== undefined ? `, E_plain ${m.plainError}` : ''}`);
  }
}

async function runScenario(s: Scenario, device: string): Promise<void> {
  const { result: cache } = withPoisonedAllocations(0, () => new tessera.KVCache({
    batch: s.B, kvHeads: s.Hkv, headDim: s.D, capacity: s.capacity, window: s.window, dtype: s.dtype, device, rope: s.rope,
  }));
  const hist = new History(s.B, s.Hkv, s.D);
  try {
    for (const [n, step] of s.steps.entries()) {
      if (step.T > 0) {
        const shape = [s.B, s.Hkv, step.T, s.D];
        const k = tessera.tensor(randomValues(ref.numelOf(shape), `${s.name} k ${n}`), { shape, dtype: s.dtype, device });
        const v = tessera.tensor(randomValues(ref.numelOf(shape), `${s.name} v ${n}`), { shape, dtype: s.dtype, device });
        const counts = step.lengths ?? new Array<number>(s.B).fill(step.T);
        hist.append(await held(k), await held(v), step.T, counts);
        cache.append(k, v, step.lengths ? { lengths: step.lengths } : undefined);
        k.dispose();
        v.dispose();
      }
      expect(cache.lengths).toEqual(Array.from({ length: s.B }, (_, b) => hist.length(b)));
      expect(cache.length).toBe(Math.max(...cache.lengths));

      const qShape = [s.B, s.Hq, step.Lq, s.D];
      const qRaw = tessera.tensor(randomValues(ref.numelOf(qShape), `${s.name} q ${n}`), { shape: qShape, dtype: s.dtype, device });
      // The caller rotates the queries: the last Lq positions of each sequence.
      const positions = Int32Array.from({ length: s.B * step.Lq }, (_, t) => {
        const b = Math.floor(t / step.Lq);
        return Math.max(0, hist.length(b) - step.Lq + (t % step.Lq));
      });
      const q = s.rope ? tessera.rope(qRaw, { ...s.rope, positions }) : qRaw;
      const qHeld: ref.RefTensor = { data: await held(q), shape: qShape };
      const { result } = withPoisonedAllocations(n % 2, () => cache.attend(q, { ...s.attend, returnLse: true }));
      const out = await held(result.out);
      const lse = await held(result.lse);
      for (const t of new Set([qRaw, q, result.out, result.lse])) t.dispose();

      const exact = expectedAttend(s, hist, qHeld);
      const label = `${s.name} on ${device}, step ${n} (lengths ${cache.lengths.join('/')}, Lq ${step.Lq})`;
      if (s.dtype === 'float32') {
        let vMax = 0;
        for (let b = 0; b < s.B; ++b) vMax = Math.max(vMax, maxAbs(hist.tensor('v', b).data));
        const D = s.D;
        const atol = Float64Array.from({ length: out.length }, (_, e) => (exact.lse[Math.floor(e / D)] === -Infinity ? 0 : 1e-5 * vMax));
        check(`${label}, out`, out, exact.out, { kind: 'close', rtol: 1e-5, atol }, 'float32');
        check(`${label}, lse`, lse, exact.lse, { kind: 'close', rtol: 1e-5, atol: 1e-5 }, 'float32');
      } else {
        const plain = expectedAttend(s, hist, qHeld, s.dtype);
        check(`${label}, out`, out, exact.out, { kind: 'plain', plain: plain.out, floorUlps: 1 }, s.dtype);
        check(`${label}, lse`, lse, exact.lse, { kind: 'plain', plain: plain.lse, floorUlps: 1 }, 'float32');
      }
    }
  } finally {
    cache.dispose();
  }
}

describe.each(tessera.availableDevices())('KVCache decode equals full attention over the same keys [%s]', (device) => {
  test.for(SCENARIOS.map((s) => s.name))('%s', async (name, ctx) => {
    try {
      await runScenario(SCENARIOS.find((s) => s.name === name)!, device);
    } catch (e) {
      if (device !== 'cpu' && e instanceof tessera.TesseraError && e.code === 'E_UNSUPPORTED') {
        ctx.skip(`unsupported on ${device}: ${e.message}`);
        return;
      }
      throw e;
    }
  });

  test('attend over the cache equals tessera.attention over the same keys handed over explicitly', async (ctx) => {
    try {
      const [B, Hq, Hkv, D, T] = [1, 4, 2, 32, 19];
      const cache = new tessera.KVCache({ batch: B, kvHeads: Hkv, headDim: D, capacity: 32, device });
      const k = tessera.tensor(randomValues(B * Hkv * T * D, 'explicit k'), { shape: [B, Hkv, T, D], device });
      const v = tessera.tensor(randomValues(B * Hkv * T * D, 'explicit v'), { shape: [B, Hkv, T, D], device });
      const q = tessera.tensor(randomValues(B * Hq * 3 * D, 'explicit q'), { shape: [B, Hq, 3, D], device });
      try {
        cache.append(k, v);
        const a = cache.attend(q, { alibi: true });
        const b = tessera.attention(q, k, v, { causal: true, alibi: true });
        const [va, vb] = [await held(a), await held(b)];
        a.dispose();
        b.dispose();
        check(`${device}`, va, vb, { kind: 'close', rtol: 1e-5, atol: 1e-5 * maxAbs(await held(v)) }, 'float32');
      } finally {
        for (const t of [k, v, q]) t.dispose();
        cache.dispose();
      }
    } catch (e) {
      if (device !== 'cpu' && e instanceof tessera.TesseraError && e.code === 'E_UNSUPPORTED') {
        ctx.skip(`unsupported on ${device}: ${e.message}`);
        return;
      }
      throw e;
    }
  });
});
