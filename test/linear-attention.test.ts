/**
 * Linear attention (issue 6) on every available device against the float64
 * references in test/reference/linear-attention.ts: the forward (elu, relu, FAVOR+;
 * causal and not; fp32/fp16/bf16; GQA; Dv ≠ Dk; L across chunk edges), the
 * backward, the recurrent state, FAVOR+'s approximation of softmax attention, fp16
 * at long L, and the argument checks.
 *
 * Shape letters: B batch, Hq / Hkv query / kv heads, L length, Dk key dim, Dv value
 * dim, F features.
 */
import { describe, expect, test } from 'vitest';
import * as tessera from '../lib/index.js';
import type { Tensor } from '../lib/index.js';
import { favorFeatures, FavorFeatures, linearAttention, linearAttentionBackward, LinearAttentionState } from '../lib/linear/index.js';
import { decodeArray, type RefTensor } from './reference/index.js';
import * as ref from './reference/linear-attention.js';
import {
  defaultTolerance, FLOAT_DTYPES, maxAbs, parityMatrix, Rng, type ParityCase, type Tolerance, type ToleranceContext,
} from './parity/harness.js';

type MapName = 'elu' | 'relu' | 'favor';

interface Config {
  B: number;
  Hq: number;
  Hkv: number;
  L: number;
  Dk: number;
  Dv: number;
  /** FAVOR+ features (default 2·Dk + 3: F ≠ Dk and not a multiple of the vector width). */
  F?: number;
}

const EPS = 1e-6;

/** One FavorFeatures per (Dk, F): W drawn once, seed fixed. */
const favorCache = new Map<string, FavorFeatures>();
function favorFor(Dk: number, F: number): FavorFeatures {
  const key = `${Dk}x${F}`;
  let f = favorCache.get(key);
  if (!f) favorCache.set(key, (f = favorFeatures(Dk, F, { seed: 17 })));
  return f;
}

function tesseraMap(map: MapName, c: Config): 'elu' | 'relu' | FavorFeatures {
  return map === 'favor' ? favorFor(c.Dk, c.F ?? 2 * c.Dk + 3) : map;
}

function refMap(map: MapName, c: Config): ref.RefFeatureMap {
  if (map !== 'favor') return map;
  const f = favorFor(c.Dk, c.F ?? 2 * c.Dk + 3);
  return { W: Float64Array.from(Float32Array.from(f.weights)), F: f.numFeatures };
}

function problem(c: Config, map: MapName, causal: boolean, [q, k, v]: RefTensor[]): ref.LinearProblem {
  return { q: q!.data, k: k!.data, v: v!.data, B: c.B, Hq: c.Hq, Hkv: c.Hkv, L: c.L, Dk: c.Dk, Dv: c.Dv, featureMap: refMap(map, c), causal, eps: EPS };
}

function configName(c: Config, map: MapName, causal: boolean): string {
  const heads = c.Hq === c.Hkv ? `H ${c.Hq}` : `Hq ${c.Hq} Hkv ${c.Hkv}`;
  const F = map === 'favor' ? ` F ${c.F ?? 2 * c.Dk + 3}` : '';
  return `${map}${causal ? ' causal' : ''} B ${c.B} ${heads} L ${c.L} Dk ${c.Dk} Dv ${c.Dv}${F}`;
}

/**
 * fp32: rtol 1e-5 plus, per element, 1e-5 × the magnitude of the terms it sums
 * (Σ_j w_ij |v_j| / den_i): outputs are averages of values of both signs, and an
 * fp32 sum's error scales with Σ|terms|, not with a result that cancels.
 * fp16/bf16: the plain rule (DESIGN): 2× the error of the exact result rounded once
 * to the dtype, plus one ulp.
 */
function forwardTolerance(magnitude: () => Float64Array) {
  return (ctx: ToleranceContext): Tolerance => {
    if (ctx.dtype !== 'float32') return defaultTolerance(ctx);
    const atol = magnitude().map((m) => 1e-5 * m + 1e-7);
    return { kind: 'close', rtol: 1e-5, atol, note: '1e-5 × Σ|terms| per element' };
  };
}

/**
 * Gradients cancel more (through the normalizer: for L = 1, out ≈ v whatever q and
 * k, so dq and dk are sums of O(1) terms that cancel to O(eps)). Per element the
 * floor is relative to the sum of the absolute values of the terms (the reference
 * with abs): fp32 rtol 1e-5 + 3e-5 × terms. fp16/bf16: the result rounded once (rtol
 * 2u) plus, as a plain same-dtype implementation would err, 2u × terms
 * (u = 2^-11 fp16, 2^-8 bf16).
 */
function gradientTolerance(terms: () => Float64Array[]) {
  return (ctx: ToleranceContext): Tolerance => {
    const u = ctx.dtype === 'float32' ? 2 ** -24 : ctx.dtype === 'float16' ? 2 ** -11 : 2 ** -8;
    const scale = terms()[ctx.output]!;
    if (ctx.dtype === 'float32') return { kind: 'close', rtol: 1e-5, atol: scale.map((t) => 3e-5 * t + 1e-9), note: 'gradient, 3e-5 × Σ|terms|' };
    return { kind: 'close', rtol: 2 * u, atol: scale.map((t) => 2 * u * t + 1e-9), note: `gradient, 2u × Σ|terms|` };
  };
}

function forwardCase(c: Config, map: MapName, causal: boolean, dtype: (typeof FLOAT_DTYPES)[number]): ParityCase {
  let magnitude: Float64Array = new Float64Array();
  return {
    op: 'linearAttention',
    dtype,
    name: configName(c, map, causal),
    inputs: [
      { shape: [c.B, c.Hq, c.L, c.Dk] },
      { shape: [c.B, c.Hkv, c.L, c.Dk] },
      { shape: [c.B, c.Hkv, c.L, c.Dv] },
    ],
    run: (_t, [q, k, v]) => linearAttention(q!, k!, v!, { featureMap: tesseraMap(map, c), causal, eps: EPS }),
    reference: (inputs) => {
      const r = ref.linearAttention(problem(c, map, causal, inputs));
      magnitude = r.magnitude;
      return { data: r.out, shape: [c.B, c.Hq, c.L, c.Dv] };
    },
    tolerance: forwardTolerance(() => magnitude),
  };
}

function backwardCase(c: Config, map: MapName, causal: boolean, dtype: (typeof FLOAT_DTYPES)[number]): ParityCase {
  let terms: Float64Array[] = [];
  return {
    op: 'linearAttentionBackward',
    dtype,
    name: configName(c, map, causal),
    inputs: [
      { shape: [c.B, c.Hq, c.L, c.Dk] },
      { shape: [c.B, c.Hkv, c.L, c.Dk] },
      { shape: [c.B, c.Hkv, c.L, c.Dv] },
      { shape: [c.B, c.Hq, c.L, c.Dv] },
    ],
    run: (_t, [q, k, v, dout]) => {
      const g = linearAttentionBackward(dout!, q!, k!, v!, { featureMap: tesseraMap(map, c), causal, eps: EPS });
      return [g.dq, g.dk, g.dv];
    },
    reference: (inputs) => {
      const p = problem(c, map, causal, inputs);
      const g = ref.linearAttentionBackward(p, inputs[3]!.data);
      const a = ref.linearAttentionBackward(p, inputs[3]!.data, ref.stabilizers(p), true);
      terms = [a.dq, a.dk, a.dv];
      return [
        { data: g.dq, shape: [c.B, c.Hq, c.L, c.Dk] },
        { data: g.dk, shape: [c.B, c.Hkv, c.L, c.Dk] },
        { data: g.dv, shape: [c.B, c.Hkv, c.L, c.Dv] },
      ];
    },
    tolerance: gradientTolerance(() => terms),
  };
}

const MAPS: readonly MapName[] = ['elu', 'relu', 'favor'];

function matrix(configs: readonly Config[], make: typeof forwardCase, dtypes = FLOAT_DTYPES): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const c of configs) {
    for (const map of MAPS) {
      for (const causal of [false, true]) for (const dtype of dtypes) cases.push(make(c, map, causal, dtype));
    }
  }
  return cases;
}

// Small sizes run on every device ('emu' runs a CUDA thread as a fiber).
const SMALL: readonly Config[] = [
  { B: 1, Hq: 2, Hkv: 1, L: 1, Dk: 16, Dv: 16 },
  { B: 2, Hq: 2, Hkv: 2, L: 7, Dk: 32, Dv: 16 },
  { B: 1, Hq: 4, Hkv: 2, L: 64, Dk: 16, Dv: 24 },
  { B: 1, Hq: 1, Hkv: 1, L: 65, Dk: 32, Dv: 32, F: 16 },
];
// Long and wide: the CPU and real GPUs only; fp32 and fp16 (bf16 takes the small
// sizes), to keep the float64 references quick.
const LARGE: readonly Config[] = [
  { B: 1, Hq: 1, Hkv: 1, L: 1000, Dk: 64, Dv: 40 },
  { B: 1, Hq: 1, Hkv: 1, L: 130, Dk: 128, Dv: 64, F: 256 },
];
const GRADIENT: readonly Config[] = [
  { B: 1, Hq: 1, Hkv: 1, L: 1, Dk: 16, Dv: 8 },
  { B: 2, Hq: 2, Hkv: 1, L: 7, Dk: 16, Dv: 24 },
  { B: 1, Hq: 2, Hkv: 2, L: 70, Dk: 32, Dv: 16, F: 40 },
];

const allDevices = tessera.availableDevices();
const fastDevices = allDevices.filter((d) => d !== 'emu');

parityMatrix('linear attention', matrix(SMALL, forwardCase));
parityMatrix('linear attention, long', matrix(LARGE, forwardCase, ['float32', 'float16']), { devices: fastDevices });
parityMatrix('linear attention backward', matrix(GRADIENT, backwardCase));

// ---------------------------------------------------------------------------
// Helpers for the direct tests.

function normals(rng: Rng, n: number, scale = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; ++i) a[i] = scale * rng.normal();
  return a;
}

function upload(data: Float64Array, shape: number[], device: string, dtype: tessera.DType = 'float32'): Tensor {
  return tessera.tensor(Float32Array.from(data), { shape, device, dtype });
}

async function read(t: Tensor): Promise<Float64Array> {
  try {
    return decodeArray(t.dtype, await t.data());
  } finally {
    t.dispose();
  }
}

function maxDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; ++i) m = Math.max(m, Number.isNaN(a[i]!) || Number.isNaN(b[i]!) ? Infinity : Math.abs(a[i]! - b[i]!));
  return m;
}

function isUnsupported(e: unknown): boolean {
  return e instanceof tessera.TesseraError && e.code === 'E_UNSUPPORTED';
}

/**
 * Runs body on a device; a device other than 'cpu' that reports E_UNSUPPORTED skips
 * the test visibly, with the reason.
 */
async function onDevice(device: string, ctx: { skip: (note?: string) => void }, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (device !== 'cpu' && isUnsupported(e)) {
      ctx.skip(`unsupported on ${device}: ${(e as Error).message}`);
      return;
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------

describe('reference self-checks', () => {
  test('the recurrence equals the direct O(L²) formula', () => {
    const rng = new Rng(1);
    const c: Config = { B: 1, Hq: 2, Hkv: 1, L: 9, Dk: 8, Dv: 5, F: 11 };
    for (const map of MAPS) {
      for (const causal of [false, true]) {
        const p = problem(c, map, causal, [c.B * c.Hq * c.L * c.Dk, c.B * c.Hkv * c.L * c.Dk, c.B * c.Hkv * c.L * c.Dv]
          .map((n) => ({ data: normals(rng, n), shape: [n] })));
        expect(maxDiff(ref.linearAttention(p).out, ref.linearAttentionDirect(p)), `${map} causal ${causal}`).toBeLessThan(1e-12);
      }
    }
  });

  test('the analytic backward matches central finite differences (stabilizers fixed)', () => {
    const rng = new Rng(2);
    const c: Config = { B: 1, Hq: 2, Hkv: 1, L: 6, Dk: 4, Dv: 3, F: 7 };
    for (const map of MAPS) {
      for (const causal of [false, true]) {
        const p = problem(c, map, causal, [c.B * c.Hq * c.L * c.Dk, c.B * c.Hkv * c.L * c.Dk, c.B * c.Hkv * c.L * c.Dv]
          .map((n) => ({ data: normals(rng, n), shape: [n] })));
        const dout = normals(rng, c.B * c.Hq * c.L * c.Dv);
        const st = ref.stabilizers(p);
        const grads = ref.linearAttentionBackward(p, dout, st);
        const loss = (): number => ref.linearAttentionDirect(p, st).reduce((s, o, i) => s + o * dout[i]!, 0);
        for (const [name, x, g] of [['q', p.q, grads.dq], ['k', p.k, grads.dk], ['v', p.v, grads.dv]] as const) {
          for (let i = 0; i < x.length; ++i) {
            const x0 = x[i]!;
            const h = 1e-6 * Math.max(1, Math.abs(x0));
            x[i] = x0 + h;
            const up = loss();
            x[i] = x0 - h;
            const down = loss();
            x[i] = x0;
            const fd = (up - down) / (2 * h);
            expect(Math.abs(fd - g[i]!), `${map} causal ${causal} d${name}[${i}]: fd ${fd}, analytic ${g[i]}`)
              .toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
          }
        }
      }
    }
  });
});

describe.each(allDevices)('recurrent state [%s]', (device) => {
  // L crosses chunk edges; steps of 1 and of a few tokens; GQA.
  const c: Config = device === 'emu'
    ? { B: 1, Hq: 2, Hkv: 1, L: 20, Dk: 16, Dv: 8, F: 24 }
    : { B: 2, Hq: 4, Hkv: 2, L: 150, Dk: 16, Dv: 12, F: 40 };
  const steps = device === 'emu' ? [1, 3, 16] : [1, 5, 64, 80];

  test.for(MAPS)('%s: chunked causal = step-by-step state = the plain prefix-sum formula', async (map, ctx) => {
    await onDevice(device, ctx, async () => {
      const rng = new Rng(100 + MAPS.indexOf(map));
      const qd = normals(rng, c.B * c.Hq * c.L * c.Dk);
      const kd = normals(rng, c.B * c.Hkv * c.L * c.Dk);
      const vd = normals(rng, c.B * c.Hkv * c.L * c.Dv);
      const plain = ref.linearAttentionDirect({ ...problem(c, map, true, [qd, kd, vd].map((data) => ({ data, shape: [] }))) });
      const q = upload(qd, [c.B, c.Hq, c.L, c.Dk], device);
      const k = upload(kd, [c.B, c.Hkv, c.L, c.Dk], device);
      const v = upload(vd, [c.B, c.Hkv, c.L, c.Dv], device);
      const featureMap = tesseraMap(map, c);
      const chunked = await read(linearAttention(q, k, v, { featureMap, causal: true, eps: EPS }));
      const scale = maxAbs(plain);
      expect(maxDiff(chunked, plain) / scale, 'chunked vs plain').toBeLessThan(2e-5);

      const state = new LinearAttentionState({ batch: c.B, kvHeads: c.Hkv, keyDim: c.Dk, valueDim: c.Dv, featureMap, eps: EPS, device });
      const stepped = new Float64Array(plain.length);
      let t0 = 0;
      for (let s = 0; t0 < c.L; ++s) {
        const n = Math.min(steps[s % steps.length]!, c.L - t0);
        const part = (x: Tensor): Tensor => x.slice(2, t0, t0 + n);
        const out = await read(state.step(part(q), part(k), part(v)));
        for (let bh = 0; bh < c.B * c.Hq; ++bh) {
          stepped.set(out.subarray(bh * n * c.Dv, (bh + 1) * n * c.Dv), (bh * c.L + t0) * c.Dv);
        }
        t0 += n;
      }
      expect(state.length).toBe(c.L);
      expect(maxDiff(stepped, plain) / scale, 'stepped vs plain').toBeLessThan(2e-5);
      expect(maxDiff(stepped, chunked) / scale, 'stepped vs chunked').toBeLessThan(2e-5);
      state.dispose();
      for (const t of [q, k, v]) t.dispose();
    });
  });
});

describe('FAVOR+ approximates softmax attention', () => {
  // Keys and queries of small norm (entries N(0, 0.3²)): the estimator's variance grows
  // as e^(‖q' + k'‖²), so at norm ~ √Dk it needs far more than 256 features to settle.
  const c: Config = { B: 1, Hq: 1, Hkv: 1, L: 48, Dk: 16, Dv: 8 };
  const rng = new Rng(7);
  const data = [c.L * c.Dk, c.L * c.Dk, c.L * c.Dv].map((n, i) => normals(rng, n, i < 2 ? 0.3 : 1));
  const exact = ref.softmaxAttention({ ...problem(c, 'elu', false, data.map((d) => ({ data: d, shape: [] }))) });
  const [q, k, v] = [
    upload(data[0]!, [1, 1, c.L, c.Dk], 'cpu'), upload(data[1]!, [1, 1, c.L, c.Dk], 'cpu'), upload(data[2]!, [1, 1, c.L, c.Dv], 'cpu'),
  ];
  async function error(F: number, seed: number, orthogonal: boolean): Promise<number> {
    const featureMap = favorFeatures(c.Dk, F, { seed, orthogonal });
    const out = await read(linearAttention(q, k, v, { featureMap }));
    featureMap.dispose();
    let s = 0;
    for (let i = 0; i < out.length; ++i) s += (out[i]! - exact[i]!) ** 2;
    return Math.sqrt(s / out.length);
  }
  const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

  test('the RMS error falls as numFeatures grows from 16 to 256 (every seed, and on average by ≥ 2.5×)', async () => {
    const e16: number[] = [];
    const e256: number[] = [];
    for (const seed of SEEDS) {
      e16.push(await error(16, seed, true));
      e256.push(await error(256, seed, true));
      expect(e256.at(-1)!, `seed ${seed}`).toBeLessThan(e16.at(-1)!);
    }
    // The estimator's error scales as 1/√F: 4× from 16 to 256 in expectation.
    expect(mean(e256) * 2.5).toBeLessThan(mean(e16));
  });

  test('orthogonal features beat i.i.d. ones on average over 8 seeds by ≥ 10%', async () => {
    const ortho: number[] = [];
    const iid: number[] = [];
    for (const seed of SEEDS) {
      ortho.push(await error(16, seed, true));
      iid.push(await error(16, seed, false));
    }
    expect(mean(ortho)).toBeLessThan(0.9 * mean(iid));
  });

  test('favorFeatures is deterministic per seed and differs across seeds; rows are orthogonal within a block', () => {
    const a = favorFeatures(8, 20, { seed: 5 });
    expect(Array.from(favorFeatures(8, 20, { seed: 5 }).weights)).toEqual(Array.from(a.weights));
    expect(Array.from(favorFeatures(8, 20, { seed: 6 }).weights)).not.toEqual(Array.from(a.weights));
    const W = a.weights;
    for (let i = 0; i < 8; ++i) {
      for (let j = 0; j < i; ++j) {
        let dot = 0;
        for (let d = 0; d < 8; ++d) dot += W[i * 8 + d]! * W[j * 8 + d]!;
        expect(Math.abs(dot)).toBeLessThan(1e-9);
      }
    }
    const sqrt = favorFeatures(8, 20, { seed: 5, normScaling: 'sqrt' }).weights;
    for (let f = 0; f < 20; ++f) expect(Math.hypot(...sqrt.subarray(f * 8, f * 8 + 8))).toBeCloseTo(Math.sqrt(8), 12);
  });
});

describe.each(allDevices)('long fp16 sequences with large-norm keys [%s]', (device) => {
  // The state stays fp32: with fp16 S or z, Σ φ(k) over 8192 keys of norm ~ 100 overflows.
  const L = device === 'emu' ? 256 : 8192;
  const D = 32;
  test.for(MAPS)('%s: finite outputs, each a convex combination of the values', async (map, ctx) => {
    await onDevice(device, ctx, async () => {
      const rng = new Rng(9);
      const q = upload(normals(rng, L * D, 4), [1, 1, L, D], device, 'float16');
      const k = upload(normals(rng, L * D, 20), [1, 1, L, D], device, 'float16');
      const vd = normals(rng, L * D);
      const v = upload(vd, [1, 1, L, D], device, 'float16');
      const featureMap = map === 'favor' ? favorFeatures(D, 64, { seed: 3 }) : map;
      const vmax = maxAbs(vd) * 1.001;
      for (const causal of [false, true]) {
        const out = await read(linearAttention(q, k, v, { featureMap, causal }));
        expect(out.every(Number.isFinite), `causal ${causal}`).toBe(true);
        // relu rows with no positive weight are 0; other weights are positive, so |out| ≤ max |v|.
        expect(maxAbs(out), `causal ${causal}`).toBeLessThanOrEqual(vmax);
      }
      for (const t of [q, k, v]) t.dispose();
    });
  });
});

describe('bad inputs', () => {
  const q = tessera.randn([1, 2, 5, 8], { seed: 1 });
  const k = tessera.randn([1, 1, 5, 8], { seed: 2 });
  const v = tessera.randn([1, 1, 5, 4], { seed: 3 });
  const err = (fn: () => unknown, code: string, message: string): void => {
    expect(fn).toThrow(expect.objectContaining({ name: 'TesseraError', code, message }));
  };

  test('shapes', () => {
    err(() => linearAttention(q, k, tessera.randn([1, 1, 6, 4])), 'E_SHAPE', 'Expected length 5 (from k) for v but received [1, 1, 6, 4]');
    err(() => linearAttention(q, tessera.randn([1, 1, 5, 7]), v), 'E_SHAPE', 'Expected key dim 8 (from q) for k but received [1, 1, 5, 7]');
    err(() => linearAttention(q, tessera.randn([1, 1, 4, 8]), v), 'E_SHAPE', 'Expected length 5 (from q) for k but received [1, 1, 4, 8]');
    err(() => linearAttention(q, tessera.randn([2, 1, 5, 8]), v), 'E_SHAPE', 'Expected batch 1 (from q) for k but received [2, 1, 5, 8]');
    err(() => linearAttention(q, tessera.randn([1, 3, 5, 8]), tessera.randn([1, 3, 5, 4])), 'E_SHAPE',
      'Expected a head count that divides 2 (the heads of q) for k but received [1, 3, 5, 8]');
    err(() => linearAttention(q, k, tessera.randn([1, 2, 5, 4])), 'E_SHAPE', 'Expected 1 heads (from k) for v but received [1, 2, 5, 4]');
    err(() => linearAttention(tessera.randn([2, 5, 8]), k, v), 'E_SHAPE', 'Expected a 4-d tensor [B, Hq, L, Dk] for q but received [2, 5, 8]');
    err(() => linearAttentionBackward(tessera.randn([1, 2, 5, 8]), q, k, v), 'E_SHAPE',
      'Expected [1, 2, 5, 4] ([B, Hq, L, Dv] from q and v) for dout but received [1, 2, 5, 8]');
  });

  test('options', () => {
    err(() => linearAttention(q, k, v, { eps: 0 }), 'E_ARGUMENT', 'Expected a positive finite number for options.eps but received 0');
    err(() => linearAttention(q, k, v, { eps: -1e-6 }), 'E_ARGUMENT', 'Expected a positive finite number for options.eps but received -0.000001');
    err(() => linearAttention(q, k, v, { featureMap: 'softmax' as never }), 'E_ARGUMENT',
      'Expected \'elu\', \'relu\' or a FavorFeatures for options.featureMap but received "softmax"');
    err(() => linearAttention(q, k, v, { causal: 1 as never }), 'E_ARGUMENT', 'Expected a boolean for options.causal but received 1');
    err(() => linearAttention(q, k, v, { featureMap: favorFeatures(16, 32) }), 'E_SHAPE',
      'Expected FavorFeatures with headDim 8 (the key dim of q) for options.featureMap but received FavorFeatures(headDim 16, numFeatures 32, seed 0, orthogonal, chi)');
  });

  test('operands', () => {
    err(() => linearAttention(q, k.to('float16'), v), 'E_DTYPE', 'Expected a float32 tensor (the dtype of q) for k but received Tensor(float16, [1, 1, 5, 8], cpu)');
    err(() => linearAttention(q, [1, 2] as never, v), 'E_ARGUMENT', 'Expected a Tensor for k but received [1, 2]');
  });

  test('favorFeatures', () => {
    err(() => favorFeatures(8, 0), 'E_ARGUMENT', 'Expected a positive integer for numFeatures but received 0');
    err(() => favorFeatures(8, 2.5), 'E_ARGUMENT', 'Expected a positive integer for numFeatures but received 2.5');
    err(() => favorFeatures(0, 8), 'E_ARGUMENT', 'Expected a positive integer for headDim but received 0');
    err(() => favorFeatures(8, 8, { seed: -1 }), 'E_ARGUMENT', 'Expected an integer in [0, 2^53) for options.seed but received -1');
    err(() => favorFeatures(8, 8, { normScaling: 'unit' as never }), 'E_ARGUMENT', 'Expected \'chi\' or \'sqrt\' for options.normScaling but received "unit"');
  });

  test('LinearAttentionState', () => {
    err(() => new LinearAttentionState({ batch: 1, kvHeads: 0, keyDim: 8, valueDim: 4 }), 'E_ARGUMENT',
      'Expected a positive integer for options.kvHeads but received 0');
    err(() => new LinearAttentionState({ batch: 1, kvHeads: 1, keyDim: 8, valueDim: 4, eps: 0 }), 'E_ARGUMENT',
      'Expected a positive finite number for options.eps but received 0');
    const state = new LinearAttentionState({ batch: 1, kvHeads: 1, keyDim: 8, valueDim: 4 });
    err(() => state.step(q, tessera.randn([1, 2, 5, 8]), tessera.randn([1, 2, 5, 4])), 'E_SHAPE',
      'Expected [1, 1, T, 8] (from the state) for k but received [1, 2, 5, 8]');
    err(() => state.step(q, k, tessera.randn([1, 1, 5, 3])), 'E_SHAPE', 'Expected value dim 4 (from the state) for v but received [1, 1, 5, 3]');
    state.dispose();
  });

  test('empty inputs give empty outputs without reaching the kernel', async () => {
    const out = linearAttention(tessera.randn([1, 2, 0, 8]), tessera.randn([1, 1, 0, 8]), tessera.randn([1, 1, 0, 4]), { causal: true });
    expect(out.shape).toEqual([1, 2, 0, 4]);
    out.dispose();
  });
});
