/**
 * Checks of the attention references themselves (test/reference/attention.ts),
 * before anything is compared against them: the forward against a naive
 * materialized softmax(QKᵀ)V built differently (score matrix, mask matrix from set
 * operations), the analytic gradients against central finite differences, the
 * ALiBi slopes against values written out from Press et al., and RoPE against
 * properties a rotation must have. No device is involved.
 */
import { describe, expect, test } from 'vitest';
import * as ref from './reference/index.js';
import * as attn from './reference/attention.js';
import { Rng } from './parity/harness.js';

function randomTensor(shape: number[], seed: number): ref.RefTensor {
  const rng = new Rng(seed);
  const data = new Float64Array(ref.numelOf(shape));
  for (let i = 0; i < data.length; ++i) data[i] = rng.normal();
  return { data, shape };
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; ++i) {
    if (a[i] === b[i]) continue; // equal infinities included
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
  }
  return m;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (const v of a) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m;
}

/**
 * softmax(mask(bias(cap(scale·Q Kᵀ)))) V with every step a whole matrix: K and V
 * repeated to Hq heads, the mask built as a boolean matrix by set operations
 * (causal triangle, cleared blocks, a band widened by global rows and columns).
 */
function naiveAttention(q: ref.RefTensor, k: ref.RefTensor, v: ref.RefTensor, opts: attn.AttentionOptions): attn.AttentionResult {
  const [B, Hq, Lq, D] = q.shape as [number, number, number, number];
  const [, Hkv, Lk] = k.shape as [number, number, number, number];
  const repeat = (t: ref.RefTensor): ref.RefTensor => {
    const out = new Float64Array(B * Hq * Lk * D);
    for (let b = 0; b < B; ++b) {
      for (let h = 0; h < Hq; ++h) {
        const src = (b * Hkv + Math.floor((h * Hkv) / Hq)) * Lk * D;
        out.set(t.data.subarray(src, src + Lk * D), (b * Hq + h) * Lk * D);
      }
    }
    return { data: out, shape: [B, Hq, Lk, D] };
  };
  const offset = Lk - Lq;
  const allowed: boolean[][] = Array.from({ length: Lq }, () => new Array<boolean>(Lk).fill(true));
  if (opts.causal) {
    for (let i = 0; i < Lq; ++i) for (let j = i + offset + 1; j < Lk; ++j) if (j >= 0) allowed[i]![j] = false;
  }
  if (opts.blockMask) {
    const { blockSize: bs, mask } = opts.blockMask;
    const cols = Math.ceil(Lk / bs);
    for (let r = 0; r * bs < Lq; ++r) {
      for (let c = 0; c < cols; ++c) {
        if (mask[r * cols + c] !== 0) continue;
        for (let i = r * bs; i < Math.min(Lq, (r + 1) * bs); ++i) for (let j = c * bs; j < Math.min(Lk, (c + 1) * bs); ++j) allowed[i]![j] = false;
      }
    }
  }
  if (opts.window) {
    const [left, right] = opts.window;
    const band = Array.from({ length: Lq }, (_, i) => Array.from({ length: Lk }, (_, j) => j - (i + offset) >= -left && j - (i + offset) <= right));
    for (const g of Array.from(opts.globalTokens ?? [])) {
      for (let j = 0; j < Lk; ++j) if (g - offset >= 0 && g - offset < Lq) band[g - offset]![j] = true;
      for (let i = 0; i < Lq; ++i) band[i]![g] = true;
    }
    for (let i = 0; i < Lq; ++i) for (let j = 0; j < Lk; ++j) allowed[i]![j] = allowed[i]![j]! && band[i]![j]!;
  }
  const slopes = opts.alibi === true ? Array.from(attn.alibiSlopes(Hq), Math.fround) : opts.alibi ? Array.from(opts.alibi) : null;
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const raw = ref.matmul(q, repeat(k), { transposeB: true });
  const scores = ref.map(raw, (x, flat) => {
    const j = flat % Lk;
    const i = Math.floor(flat / Lk) % Lq;
    const h = Math.floor(flat / (Lk * Lq)) % Hq;
    let s = x * scale;
    if (opts.softcap) s = opts.softcap * Math.tanh(s / opts.softcap);
    if (slopes) s -= slopes[h]! * Math.abs(i + offset - j);
    return allowed[i]![j] ? s : -Infinity;
  });
  const out = ref.matmul(ref.softmax(scores), repeat(v));
  const lse = new Float64Array(B * Hq * Lq);
  for (let r = 0; r < lse.length; ++r) {
    let sum = 0;
    for (let j = 0; j < Lk; ++j) sum += Math.exp(scores.data[r * Lk + j]!);
    lse[r] = Math.log(sum);
  }
  return { out, lse: { data: lse, shape: [B, Hq, Lq] } };
}

describe('attention reference', () => {
  const B = 2, Hq = 6, Hkv = 2, D = 8;
  const sizes: Array<[number, number]> = [[7, 7], [5, 19], [19, 5], [1, 13], [33, 40]];
  const optionSets: Array<[string, (Lq: number, Lk: number) => attn.AttentionOptions]> = [
    ['dense', () => ({})],
    ['causal', () => ({ causal: true })],
    ['window [2, 1] + globals', (_, Lk) => ({ window: [2, 1], globalTokens: Int32Array.of(0, Lk - 1) })],
    ['causal window [3, 0] + a global', () => ({ causal: true, window: [3, 0], globalTokens: Int32Array.of(2) })],
    ['window [0, 0]', () => ({ window: [0, 0] })],
    ['window [Infinity, 2]', () => ({ window: [Infinity, 2] })],
    ['block mask', (Lq, Lk) => {
      const bs = 4;
      const n = Math.ceil(Lq / bs) * Math.ceil(Lk / bs);
      return { blockMask: { blockSize: bs, mask: Uint8Array.from({ length: n }, (_, t) => (t * 7) % 3 === 0 ? 0 : 1) } };
    }],
    ['alibi + softcap + scale', () => ({ alibi: true, softcap: 3, scale: 0.7 })],
    ['custom slopes + causal + window', () => ({ alibi: Float32Array.from({ length: Hq }, (_, h) => 0.1 * (h + 1)), causal: true, window: [4, 4] })],
  ];
  for (const [Lq, Lk] of sizes) {
    for (const [name, make] of optionSets) {
      test(`equals a naive materialized softmax(QKᵀ)V: Lq ${Lq}, Lk ${Lk}, ${name}`, () => {
        const q = randomTensor([B, Hq, Lq, D], 1 + Lq);
        const k = randomTensor([B, Hkv, Lk, D], 2 + Lk);
        const v = randomTensor([B, Hkv, Lk, D], 3 + Lk);
        const opts = make(Lq, Lk);
        const fast = attn.attention(q, k, v, opts);
        const slow = naiveAttention(q, k, v, opts);
        expect(maxAbsDiff(fast.out.data, slow.out.data)).toBeLessThan(1e-12);
        expect(maxAbsDiff(fast.lse.data, slow.lse.data)).toBeLessThan(1e-12);
        // Rows with no visible key: zeros and −∞, in both.
        fast.lse.data.forEach((l, r) => {
          if (l === -Infinity) expect(Array.from(fast.out.data.subarray(r * D, (r + 1) * D)).every((x) => x === 0)).toBe(true);
        });
      });
    }
  }

  test('causal with Lq > Lk leaves the first Lq − Lk rows without a visible key', () => {
    const q = randomTensor([1, 2, 9, 8], 11);
    const k = randomTensor([1, 2, 4, 8], 12);
    const { out, lse } = attn.attention(q, k, k, { causal: true });
    for (let h = 0; h < 2; ++h) {
      for (let i = 0; i < 9; ++i) {
        const l = lse.data[h * 9 + i]!;
        if (i < 5) {
          expect(l).toBe(-Infinity);
          expect(Array.from(out.data.subarray((h * 9 + i) * 8, (h * 9 + i + 1) * 8))).toEqual(new Array(8).fill(0));
        } else {
          expect(Number.isFinite(l)).toBe(true);
        }
      }
    }
  });

  test('a global query (i\' listed) sees every key through the window; a global key is seen by every query', () => {
    const Lq = 6, Lk = 10; // i' = i + 4
    const m = attn.resolveMask({ window: [1, 1], globalTokens: Int32Array.of(7, 1) }, Lq, Lk);
    for (let j = 0; j < Lk; ++j) expect(attn.isVisible(m, 3, 7, j)).toBe(true);
    for (let i = 0; i < Lq; ++i) expect(attn.isVisible(m, i, i + 4, 1)).toBe(true);
    expect(attn.isVisible(m, 0, 4, 8)).toBe(false);
    // Causality still applies to global tokens.
    const mc = attn.resolveMask({ window: [1, 1], causal: true, globalTokens: Int32Array.of(7) }, Lq, Lk);
    expect(attn.isVisible(mc, 3, 7, 9)).toBe(false);
    expect(attn.isVisible(mc, 3, 7, 0)).toBe(true);
  });

  test.for(['float16', 'bfloat16'] as const)('the plain baseline\'s fast %s rounding is fp32 rounding followed by exact rounding', (dtype) => {
    const round = attn.rounder(dtype);
    const rng = new Rng(77);
    const samples = [0, -0, 65504, 65519.99, 65520, -70000, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 3.4e38, 1e-40, Infinity, -Infinity];
    for (let i = 0; i < 200000; ++i) samples.push((rng.uniform() < 0.5 ? -1 : 1) * 2 ** (-30 + 50 * rng.uniform()) * (1 + rng.uniform()));
    for (const x of samples) expect(Object.is(round(x), ref.roundTo(dtype, Math.fround(x))), `${dtype} ${x}`).toBe(true);
    expect(round(NaN)).toBeNaN();
  });

  test('a plain fp16 implementation lands within a few fp16 ulps of the float64 result, and is not exact', () => {
    const round = (t: ref.RefTensor): ref.RefTensor => ref.map(t, (x) => ref.roundTo('float16', x));
    const q = round(randomTensor([1, 4, 33, 64], 5));
    const k = round(randomTensor([1, 2, 65, 64], 6));
    const v = round(randomTensor([1, 2, 65, 64], 7));
    const exact = attn.attention(q, k, v, { causal: true, alibi: true });
    const plain = attn.attention(q, k, v, { causal: true, alibi: true }, 'float16');
    const err = maxAbsDiff(exact.out.data, plain.out.data);
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(16 * 2 ** -11 * maxAbs(exact.out.data));
    expect(plain.out.data.every((x) => ref.roundTo('float16', x) === x)).toBe(true);
  });
});

describe('attention gradient reference', () => {
  // loss = Σ dout ∘ out; its gradient by central differences, h = 1e-5: the
  // truncation error is O(h²·f''') ≈ 1e-10 and the cancellation error ≈ 1e-16/h ≈ 1e-11.
  function finiteDifferences(q: ref.RefTensor, k: ref.RefTensor, v: ref.RefTensor, dout: ref.RefTensor, opts: attn.AttentionOptions): Float64Array[] {
    const loss = (): number => {
      const { out } = attn.attention(q, k, v, opts);
      let s = 0;
      for (let e = 0; e < out.data.length; ++e) s += out.data[e]! * dout.data[e]!;
      return s;
    };
    const h = 1e-5;
    return [q, k, v].map((t) => {
      const g = new Float64Array(t.data.length);
      const data = t.data as Float64Array;
      for (let e = 0; e < data.length; ++e) {
        const x = data[e]!;
        data[e] = x + h;
        const up = loss();
        data[e] = x - h;
        const down = loss();
        data[e] = x;
        g[e] = (up - down) / (2 * h);
      }
      return g;
    });
  }

  const cases: Array<[string, number, number, attn.AttentionOptions]> = [
    ['dense', 5, 7, {}],
    ['causal + window [2, 1] + global 0 + ALiBi + softcap, GQA', 5, 7, { causal: true, window: [2, 1], globalTokens: Int32Array.of(0), alibi: true, softcap: 1.5 }],
    ['block mask (blockSize 2) + custom slopes + scale', 6, 6, { blockMask: { blockSize: 2, mask: Uint8Array.of(1, 0, 1, 1, 1, 0, 0, 0, 1) }, alibi: Float32Array.of(0.3, 0.05, 0.2, 0.6), scale: 0.9 }],
    ['causal, Lq > Lk (rows without a key)', 8, 5, { causal: true }],
  ];
  for (const [name, Lq, Lk, opts] of cases) {
    test(`analytic gradients equal central finite differences: ${name}`, () => {
      const q = randomTensor([1, 4, Lq, 8], 21);
      const k = randomTensor([1, 2, Lk, 8], 22);
      const v = randomTensor([1, 2, Lk, 8], 23);
      const dout = randomTensor([1, 4, Lq, 8], 24);
      const analytic = attn.attentionBackward(dout, q, k, v, opts);
      const numeric = finiteDifferences(q, k, v, dout, opts);
      for (const [t, g] of [analytic.dq, analytic.dk, analytic.dv].entries()) {
        expect(maxAbs(g.data)).toBeGreaterThan(0.01);
        expect(maxAbsDiff(g.data, numeric[t]!), ['dq', 'dk', 'dv'][t]).toBeLessThan(1e-8 * Math.max(1, maxAbs(g.data)));
      }
      if (Lq > Lk) {
        // Rows 0 … Lq − Lk − 1 see no key: zero gradient for their queries.
        for (let h = 0; h < 4; ++h) {
          expect(maxAbs(analytic.dq.data.subarray(h * Lq * 8, (h * Lq + Lq - Lk) * 8))).toBe(0);
        }
      }
    });
  }

  test('the plain fp16 backward stores fp16 values and stays near the float64 gradient', () => {
    const round = (t: ref.RefTensor): ref.RefTensor => ref.map(t, (x) => ref.roundTo('float16', x));
    const q = round(randomTensor([1, 4, 17, 32], 31));
    const k = round(randomTensor([1, 2, 23, 32], 32));
    const v = round(randomTensor([1, 2, 23, 32], 33));
    const dout = round(randomTensor([1, 4, 17, 32], 34));
    const exact = attn.attentionBackward(dout, q, k, v, { causal: true });
    const plain = attn.attentionBackward(dout, q, k, v, { causal: true }, 'float16');
    for (const key of ['dq', 'dk', 'dv'] as const) {
      const err = maxAbsDiff(exact[key].data, plain[key].data);
      expect(err, key).toBeGreaterThan(0);
      expect(err, key).toBeLessThan(0.02 * maxAbs(exact[key].data));
      expect(plain[key].data.every((x) => ref.roundTo('float16', x) === x), key).toBe(true);
    }
  });
});

describe('alibiSlopes reference', () => {
  test('powers of two: the geometric sequence 2^(−8/H), 2^(−16/H), …, 2^−8', () => {
    expect(Array.from(attn.alibiSlopes(8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((e) => 2 ** -e));
    const s16 = attn.alibiSlopes(16);
    for (let i = 0; i < 16; ++i) expect(s16[i]).toBeCloseTo(2 ** (-(i + 1) / 2), 15);
    expect(Array.from(attn.alibiSlopes(1))).toEqual([2 ** -8]);
    expect(Array.from(attn.alibiSlopes(2))).toEqual([2 ** -4, 2 ** -8]);
  });

  test('non-powers of two: the nearest lower power\'s slopes, then every other slope of the next power (Press et al.)', () => {
    const expected: Record<number, number[]> = {
      // issue 4's example: 2^-1 … 2^-8, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5
      12: [1, 2, 3, 4, 5, 6, 7, 8, 0.5, 1.5, 2.5, 3.5],
      6: [2, 4, 6, 8, 1, 3],
      20: [...Array.from({ length: 16 }, (_, i) => (i + 1) / 2), 0.25, 0.75, 1.25, 1.75],
      40: [...Array.from({ length: 32 }, (_, i) => (i + 1) / 4), ...Array.from({ length: 8 }, (_, i) => (2 * i + 1) / 8)],
    };
    for (const [H, exponents] of Object.entries(expected)) {
      const s = attn.alibiSlopes(Number(H));
      expect(s.length).toBe(Number(H));
      exponents.forEach((e, i) => expect(Math.abs(s[i]! - 2 ** -e) / 2 ** -e, `H ${H} slope ${i}`).toBeLessThan(1e-14));
    }
  });
});

describe('RoPE reference', () => {
  test('a hand-computed rotation in both layouts', () => {
    // D = 4: pair 0 turns by p, pair 1 by p / 100 (base 10000).
    const x = ref.refTensor([1, 2, 3, 4], [1, 1, 1, 4]);
    const p = 3;
    const [c0, s0, c1, s1] = [Math.cos(3), Math.sin(3), Math.cos(0.03), Math.sin(0.03)];
    const half = attn.rope(x, { offset: p });
    // half: pairs (x0, x2) and (x1, x3)
    const expHalf = [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 1 * s0 + 3 * c0, 2 * s1 + 4 * c1];
    expHalf.forEach((e, i) => expect(half.data[i]).toBeCloseTo(e, 14));
    const inter = attn.rope(x, { offset: p, layout: 'interleaved' });
    const expInter = [1 * c0 - 2 * s0, 1 * s0 + 2 * c0, 3 * c1 - 4 * s1, 3 * s1 + 4 * c1];
    expInter.forEach((e, i) => expect(inter.data[i]).toBeCloseTo(e, 14));
  });

  test('the two layouts are the same rotation up to the permutation of the pairs', () => {
    const D = 16;
    const x = randomTensor([2, 3, 5, D], 41);
    const toInterleaved = (t: ref.RefTensor): ref.RefTensor => ref.map(t, (_, e) => {
      const d = e % D;
      const src = d % 2 === 0 ? d / 2 : (d - 1) / 2 + D / 2;
      return t.data[e - d + src]!;
    });
    const opts = { positions: Int32Array.from({ length: 10 }, (_, i) => 3 * i + 1), base: 500 };
    const a = toInterleaved(attn.rope(x, opts));
    const b = attn.rope(toInterleaved(x), { ...opts, layout: 'interleaved' });
    expect(maxAbsDiff(a.data, b.data)).toBeLessThan(1e-14);
  });

  test('rotations keep norms and make q·k depend only on the position difference', () => {
    const D = 32;
    const q = randomTensor([1, 1, 1, D], 51);
    const k = randomTensor([1, 1, 1, D], 52);
    const dot = (a: ref.RefTensor, b: ref.RefTensor): number => a.data.reduce((s, x, i) => s + x * b.data[i]!, 0);
    for (const layout of ['half', 'interleaved'] as const) {
      for (const scaling of [undefined, { type: 'linear', factor: 4 }, { type: 'ntk', factor: 8 }] as const) {
        const o = { layout, scaling };
        const base = dot(attn.rope(q, { ...o, offset: 7 }), attn.rope(k, { ...o, offset: 2 }));
        expect(dot(attn.rope(q, { ...o, offset: 1005 }), attn.rope(k, { ...o, offset: 1000 }))).toBeCloseTo(base, 10);
        expect(dot(attn.rope(q, { ...o, offset: 5 }), k)).toBeCloseTo(base, 10);
        expect(dot(attn.rope(q, { ...o, offset: 123 }), attn.rope(q, { ...o, offset: 123 }))).toBeCloseTo(dot(q, q), 10);
      }
    }
  });

  test('linear scaling divides every angle by the factor; NTK leaves pair 0 and divides the last pair\'s angle by the factor', () => {
    const D = 64;
    for (let i = 0; i < D / 2; ++i) {
      expect(attn.ropeAngle(100, i, D, { scaling: { type: 'linear', factor: 4 } })).toBeCloseTo(attn.ropeAngle(25, i, D), 12);
    }
    expect(attn.ropeAngle(100, 0, D, { scaling: { type: 'ntk', factor: 4 } })).toBe(100);
    const last = D / 2 - 1;
    expect(attn.ropeAngle(100, last, D, { scaling: { type: 'ntk', factor: 4 } }) * 4).toBeCloseTo(attn.ropeAngle(100, last, D), 12);
  });

  test('positions: one list for every sequence, or one per sequence', () => {
    const x = randomTensor([2, 1, 3, 8], 61);
    const shared = attn.rope(x, { positions: Int32Array.of(5, 9, 2) });
    const perSeq = attn.rope(x, { positions: Int32Array.of(5, 9, 2, 5, 9, 2) });
    const offset = attn.rope(x, { offset: 4 });
    const explicit = attn.rope(x, { positions: Int32Array.of(4, 5, 6) });
    expect(Array.from(perSeq.data)).toEqual(Array.from(shared.data));
    expect(Array.from(offset.data)).toEqual(Array.from(explicit.data));
    const differ = attn.rope(x, { positions: Int32Array.of(5, 9, 2, 0, 1, 2) });
    expect(Array.from(differ.data.subarray(0, 24))).toEqual(Array.from(shared.data.subarray(0, 24)));
    expect(Array.from(differ.data.subarray(24))).not.toEqual(Array.from(shared.data.subarray(24)));
  });
});
