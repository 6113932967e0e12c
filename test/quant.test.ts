/**
 * Quantized matmul: quantize, dequantize and qmatmul in the backend-parity matrix
 * (every device, against test/reference/quant.ts), round-trip error bounds from the
 * math, MatMulNBits interop (bit-exact round trip, onnxruntime-node agreement) and
 * bad inputs with pinned messages.
 * Shape letters: M = rows of x, N = output features, K = input features,
 * G = groups per row, gs = groupSize, u = 2^-24 (fp32 unit roundoff).
 */
import { describe, expect, test } from 'vitest';
import * as tessera from '../lib/index.js';
import type { Tensor } from '../lib/index.js';
import * as ref from './reference/index.js';
import type { QuantizedRef, QuantLayoutRef } from './reference/quant.js';
import { FLOAT_DTYPES, gen, parityMatrix, Rng, testDevices, type InputSpec, type ParityCase, type Tolerance, type ToleranceContext } from './parity/harness.js';

const { quant } = ref;
const U = 2 ** -24;

interface Config {
  bits: 4 | 8;
  /** 0: per output channel (gs = K). */
  groupSize: number;
  symmetric: boolean;
  scaleDtype: 'float32' | 'float16';
}

const CONFIGS: readonly Config[] = [
  { bits: 8, groupSize: 0, symmetric: true, scaleDtype: 'float32' },
  { bits: 8, groupSize: 0, symmetric: false, scaleDtype: 'float32' },
  { bits: 8, groupSize: 32, symmetric: true, scaleDtype: 'float16' },
  { bits: 8, groupSize: 128, symmetric: false, scaleDtype: 'float32' },
  { bits: 4, groupSize: 32, symmetric: true, scaleDtype: 'float32' },
  { bits: 4, groupSize: 64, symmetric: false, scaleDtype: 'float32' },
  { bits: 4, groupSize: 128, symmetric: false, scaleDtype: 'float32' },
  { bits: 4, groupSize: 128, symmetric: true, scaleDtype: 'float16' },
];

const configName = (c: Config): string =>
  `int${c.bits} ${c.groupSize === 0 ? 'per-channel' : `g${c.groupSize}`} ${c.symmetric ? 'sym' : 'asym'}${c.scaleDtype === 'float16' ? ' fp16-scales' : ''}`;

function layoutOf(c: Config, N: number, K: number): QuantLayoutRef {
  const groupSize = c.groupSize === 0 ? K : c.groupSize;
  return { bits: c.bits, N, K, groupSize };
}

/** Inputs of a stored quantized weight: codes, scales and (asymmetric) zero points, random. */
function weightInputs(c: Config, l: QuantLayoutRef): InputSpec[] {
  const G = quant.groupsOf(l);
  const specs: InputSpec[] = [
    { shape: [quant.codeBytes(l)], dtype: 'uint8', gen: gen.ints(0, 255) },
    { shape: [l.N, G], dtype: c.scaleDtype, gen: gen.uniform(0.002, 0.05) },
  ];
  if (!c.symmetric) specs.push({ shape: [quant.zeroPointBytes(l)], dtype: 'uint8', gen: gen.ints(0, 255) });
  return specs;
}

function weightFrom(c: Config, l: QuantLayoutRef, t: Tensor[]): tessera.QuantizedTensor {
  return new tessera.QuantizedTensor({
    bits: l.bits, N: l.N, K: l.K, groupSize: l.groupSize,
    codes: t[0]!, scales: t[1]!, zeroPoints: c.symmetric ? null : t[2]!,
  });
}

function weightRef(c: Config, l: QuantLayoutRef, r: ref.RefTensor[]): QuantizedRef {
  return { ...l, codes: Uint8Array.from(r[0]!.data), scales: r[1]!.data, zeroPoints: c.symmetric ? null : Uint8Array.from(r[2]!.data) };
}

/**
 * Per-element bound |out − ref| <= factor·u·Σ|terms| (+ one ulp of a 16-bit output,
 * whose single rounding comes on top of the fp32 result).
 */
function boundTolerance(magnitude: Float64Array, factor: number, note: string) {
  return (ctx: ToleranceContext): Tolerance => {
    const atol = magnitude.map((m, i) => factor * U * m + (ctx.dtype === 'float32' ? 0 : ref.ulp(ctx.dtype as ref.FloatDType, ctx.expected.data[i]!)));
    return { kind: 'close', rtol: 0, atol, note };
  };
}

// [M, N, K]: decode and prefill rows, odd and even N and K, K past a group edge;
// [1, 7, 4097] is the GEMV split over K (too few rows of W for the threads).
// int8 activations take the packed GEMM from M = 48, per channel from M = 16
// (native/cpu/quant_int8_gemm.inc, int8GemmPays): [50, 50, 4097] has partial
// micro-tiles in M and N and a group (per channel: an odd one) over several K
// blocks; [600, 20, 64] more than one tile of rows.
const SHAPES: ReadonlyArray<[number, number, number]> = [
  [1, 7, 7], [2, 33, 33], [7, 33, 4097], [1, 7, 4097], [1, 256, 4096], [33, 64, 4096], [128, 97, 256], [128, 7, 33],
  [50, 50, 4097], [600, 20, 64],
];
// Pairs outside the CONFIGS × SHAPES product, each aimed at a decode or GEMM path
// (native/cpu/quant.inc) the product misses:
// - int4 per channel: an even K, one group over several of the int8 GEMM's K blocks,
//   with an unaligned tail; one row of x with K = 4096 (the nibble-plane GEMV with a
//   runtime group size) and K = 96 (the even/odd one: a multiple of 32, not of 64);
// - M = 5, 6 and 8: the even/odd decode dot over blocks of four rows of x and the
//   rest (M = 8 is the most the GEMV takes; one row of x at g64/g128 takes the
//   nibble-plane dot instead);
// - int8 and int4 per channel with K = 48: the flat loop's last 16 codes of a group.
const EXTRA_QMATMUL: ReadonlyArray<[Config, [number, number, number]]> = [
  [{ bits: 4, groupSize: 0, symmetric: false, scaleDtype: 'float32' }, [50, 20, 1030]],
  [{ bits: 4, groupSize: 0, symmetric: true, scaleDtype: 'float16' }, [1, 9, 4096]],
  [{ bits: 4, groupSize: 0, symmetric: false, scaleDtype: 'float32' }, [1, 9, 96]],
  [{ bits: 4, groupSize: 128, symmetric: false, scaleDtype: 'float32' }, [5, 9, 1024]],
  [{ bits: 4, groupSize: 64, symmetric: true, scaleDtype: 'float16' }, [5, 9, 320]],
  [{ bits: 4, groupSize: 128, symmetric: false, scaleDtype: 'float16' }, [6, 5, 384]],
  [{ bits: 4, groupSize: 32, symmetric: true, scaleDtype: 'float32' }, [8, 9, 256]],
  [{ bits: 8, groupSize: 0, symmetric: false, scaleDtype: 'float32' }, [3, 5, 48]],
  [{ bits: 4, groupSize: 0, symmetric: true, scaleDtype: 'float32' }, [2, 5, 48]],
];

function qmatmulCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  let i = 0;
  const pairs = [...CONFIGS.flatMap((c) => SHAPES.map((shape) => [c, shape] as const)), ...EXTRA_QMATMUL];
  for (const [c, [M, N, K]] of pairs) {
    for (const activations of ['float', 'int8'] as const) {
      // Every dtype and bias on/off, spread over the matrix rather than multiplied into it.
      const dtype = FLOAT_DTYPES[i % 3]!;
      const withBias = i % 2 === 1;
      ++i;
      const l = layoutOf(c, N, K);
      const G = quant.groupsOf(l);
      const xShape = M === 128 ? [2, 64, K] : [M, K];
      const inputs: InputSpec[] = [{ shape: xShape }, ...weightInputs(c, l)];
      const biasIndex = inputs.length;
      if (withBias) inputs.push({ shape: [N] });
      let magnitude: Float64Array<ArrayBufferLike> = new Float64Array(0);
      cases.push({
        op: 'qmatmul',
        dtype,
        name: `${configName(c)} x [${xShape.join(', ')}] N=${N}${withBias ? ' +bias' : ''} ${activations}`,
        inputs,
        run: (t, ts) => t.qmatmul(ts[0]!, weightFrom(c, l, ts.slice(1)), { bias: withBias ? ts[biasIndex] : undefined, activations }),
        reference: (rs) => {
          const q = weightRef(c, l, rs.slice(1));
          const bias = withBias ? rs[biasIndex]!.data : null;
          const outShape = [...xShape.slice(0, -1), N];
          if (activations === 'int8') {
            const r = quant.int8Linear(rs[0]!.data, q, bias, M);
            magnitude = r.magnitude;
            return { data: r.y, shape: outShape };
          }
          const r = quant.linear(rs[0]!.data, quant.dequantize(q), bias, M, N, K);
          // The CPU applies z through Σx per group (int4; int8 in groups of a multiple
          // of 16): its rounding scales with Σ|x|·(q + z)·s, which bounds the direct
          // form's Σ|x·w| too.
          magnitude = c.bits === 4 || l.groupSize % 16 === 0 ? quant.foldedMagnitude(rs[0]!.data, q, bias, M) : r.magnitude;
          return { data: r.y, shape: outShape };
        },
        // Weight-only: an fp32 dot product of (q − z)·x per group (probabilistic bound
        // 4·√K·u, as for matmul), scaled and summed over G groups (G·u), plus bias.
        // int8: the int32 group sums are exact, so only the fp32 scaling remains: G + 4
        // roundings (float(d), s_g·d, the sum over groups, ·s_x, + bias). One unit of
        // any group sum moves y by s_x·s_g, far above this bound, so the sums must match.
        tolerance: (ctx) => activations === 'int8'
          ? boundTolerance(magnitude, G + 4, '(G + 4)·u·s_x·Σ_g|s_g·d_g|: exact int32 sums')(ctx)
          : boundTolerance(magnitude, 4 * Math.sqrt(K) + G + 4, '(4·sqrt(K) + G + 4)·u·Σ|x·w|')(ctx),
      });
    }
  }
  return cases;
}

function quantizeCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const dtype of FLOAT_DTYPES) {
    for (const c of CONFIGS) {
      for (const [N, K] of [[7, 33], [33, 4097], [3, 7], [64, 256]] as const) {
        if (c.bits === 4 && c.groupSize === 0) continue;
        const l = layoutOf(c, N, K);
        cases.push({
          op: 'quantize',
          dtype,
          name: `${configName(c)} [${N}, ${K}]`,
          // A zero row and an all-negative row: s = 0 and the range's zero end.
          inputs: [{ shape: [N, K], gen: (rng, i) => (Math.floor(i / K) === 1 ? 0 : Math.floor(i / K) === 2 ? -0.1 - Math.abs(rng.normal()) : rng.normal()) }],
          run: (t, [w]) => {
            const q = t.quantize(w!, { bits: c.bits, groupSize: c.groupSize === 0 ? K : c.groupSize, symmetric: c.symmetric, scaleDtype: c.scaleDtype });
            return q.zeroPoints ? [q.codes, q.scales, q.zeroPoints] : [q.codes, q.scales];
          },
          reference: ([w]) => {
            const q = quant.quantize(w!.data, l, c.symmetric, c.scaleDtype);
            const G = quant.groupsOf(l);
            const out: ref.RefTensor[] = [
              { data: Float64Array.from(q.codes), shape: c.bits === 4 ? [N, G, l.groupSize / 2] : [N, G * l.groupSize] },
              { data: q.scales, shape: [N, G] },
            ];
            if (q.zeroPoints) out.push({ data: Float64Array.from(q.zeroPoints), shape: [N, q.zeroPoints.length / N] });
            return out;
          },
          tolerance: () => ({ kind: 'exact' }),
        });
      }
    }
  }
  return cases;
}

function dequantizeCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const dtype of FLOAT_DTYPES) {
    for (const c of CONFIGS) {
      for (const [N, K] of [[7, 33], [33, 4097], [5, 256]] as const) {
        const l = layoutOf(c, N, K);
        cases.push({
          op: 'dequantize',
          dtype,
          name: `${configName(c)} [${N}, ${K}]`,
          inputs: weightInputs(c, l),
          run: (t, ts) => t.dequantize(weightFrom(c, l, ts), { dtype }),
          reference: (rs) => ({ data: quant.dequantize(weightRef(c, l, rs)), shape: [N, K] }),
        });
      }
    }
  }
  return cases;
}

parityMatrix('quantize', quantizeCases());
parityMatrix('dequantize', dequantizeCases());
parityMatrix('qmatmul', qmatmulCases());

// ---------------------------------------------------------------------------

function gaussian(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

describe('quantization error on Gaussian data (cpu)', () => {
  // Rounding moves each weight by e ∈ [−s/2, s/2], uniform for Gaussian data, so
  // Var e = s²/12 and an output y = Σ_k x_k·w_k moves by Σ_k x_k·e_k with variance
  // Σ_k x_k²·s²/12. Relative RMS error: sqrt(Σ_n s_n²/12·‖x‖² / Σ y²) ≈ s/(σ·√12):
  //   int8 per channel: s = max|w_row|/127 ≈ 4σ/127 (K = 4096)   → ≈ 0.9%;
  //   int4 g128 asymmetric: s = range/15 ≈ 5.2σ/15 (128 samples) → ≈ 10%.
  // The test predicts the error from the actual scales and asserts the measured one
  // within 15% of it (1024 outputs: the estimate's own spread is ~3%), and the
  // prediction under the quoted bounds.
  const N = 256, K = 4096, M = 4;
  const w = tessera.tensor(gaussian(N * K, 1), { shape: [N, K] });
  const x = tessera.tensor(gaussian(M * K, 2), { shape: [M, K] });
  const wData = w.dataSync() as Float32Array;
  const xData = x.dataSync() as Float32Array;
  const exact = quant.linear(Float64Array.from(xData), Float64Array.from(wData), null, M, N, K).y;

  test.for([
    { bits: 8 as const, groupSize: K, bound: 0.011, symmetric: true },
    { bits: 4 as const, groupSize: 128, bound: 0.11, symmetric: false },
  ])('int$bits groupSize $groupSize: relative output error as the step size predicts', async ({ bits, groupSize, bound, symmetric }) => {
    const q = tessera.quantize(w, { bits, groupSize });
    expect(q.symmetric).toBe(symmetric);
    const y = (await tessera.qmatmul(x, q).data()) as Float32Array;
    const scales = (await q.scales.data()) as Float32Array;
    let errSq = 0, ySq = 0, predicted = 0;
    for (let i = 0; i < exact.length; ++i) {
      errSq += (y[i]! - exact[i]!) ** 2;
      ySq += exact[i]! ** 2;
    }
    const G = K / groupSize;
    for (let m = 0; m < M; ++m) {
      for (let n = 0; n < N; ++n) {
        for (let g = 0; g < G; ++g) {
          let xx = 0;
          for (let k = g * groupSize; k < (g + 1) * groupSize; ++k) xx += xData[m * K + k]! ** 2;
          predicted += (scales[n * G + g]! ** 2 / 12) * xx;
        }
      }
    }
    const measuredRel = Math.sqrt(errSq / ySq);
    const predictedRel = Math.sqrt(predicted / ySq);
    expect(predictedRel).toBeLessThan(bound);
    expect(measuredRel).toBeLessThan(1.15 * predictedRel);
    expect(measuredRel).toBeGreaterThan(0.85 * predictedRel);
    q.dispose();
  });

  test('int8 activations add the error of rounding x to int8 steps of max|x|/127', async () => {
    const q = tessera.quantize(w, { bits: 4 });
    const wHat = (await tessera.dequantize(q).data()) as Float32Array;
    const yFloat = (await tessera.qmatmul(x, q).data()) as Float32Array;
    const yInt8 = (await tessera.qmatmul(x, q, { activations: 'int8' }).data()) as Float32Array;
    // Var of the extra error: Σ_k ŵ_k²·s_x²/12 per output.
    let errSq = 0, predicted = 0;
    for (let m = 0; m < M; ++m) {
      let amax = 0;
      for (let k = 0; k < K; ++k) amax = Math.max(amax, Math.abs(xData[m * K + k]!));
      const sx = amax / 127;
      for (let n = 0; n < N; ++n) {
        errSq += (yInt8[m * N + n]! - yFloat[m * N + n]!) ** 2;
        let ww = 0;
        for (let k = 0; k < K; ++k) ww += wHat[n * K + k]! ** 2;
        predicted += (sx * sx / 12) * ww;
      }
    }
    expect(Math.sqrt(errSq / predicted)).toBeGreaterThan(0.85);
    expect(Math.sqrt(errSq / predicted)).toBeLessThan(1.15);
    q.dispose();
  });
});

describe('NaN and Inf weights (documented: a NaN scale for their group)', () => {
  test('the group with a NaN or Inf gets a NaN scale, the others are untouched', async () => {
    const data = gaussian(2 * 64, 3);
    data[5] = NaN;
    data[64 + 40] = Infinity;
    const w = tessera.tensor(data, { shape: [2, 64] });
    const q = tessera.quantize(w, { bits: 4, groupSize: 32 });
    const scales = (await q.scales.data()) as Float32Array;
    expect(Array.from(scales, Number.isNaN)).toEqual([true, false, false, true]);
    const y = (await tessera.qmatmul(tessera.ones([1, 64]), q).data()) as Float32Array;
    expect(Number.isNaN(y[0]!) && Number.isNaN(y[1]!)).toBe(true);
  });
});

// ---------------------------------------------------------------------------

describe('MatMulNBits interop (cpu)', () => {
  test.for([
    { K: 300, N: 33, blockSize: 32, symmetric: false },
    { K: 4096, N: 64, blockSize: 128, symmetric: false },
    { K: 256, N: 7, blockSize: 64, symmetric: true },
  ])('K=$K N=$N blockSize $blockSize: round trip bit-exact, and onnxruntime-node agrees', async ({ K, N, blockSize, symmetric }) => {
    const w = tessera.tensor(gaussian(N * K, 4), { shape: [N, K] });
    const q = tessera.quantize(w, { bits: 4, groupSize: blockSize, symmetric });
    const packed = q.toMatMulNBits();
    expect(packed.zeroPoints === undefined).toBe(symmetric);
    const back = tessera.QuantizedTensor.fromMatMulNBits(packed);
    expect(back.toMatMulNBits()).toEqual(packed);

    const M = 3;
    const x = tessera.tensor(gaussian(M * K, 5), { shape: [M, K] });
    const ours = (await tessera.qmatmul(x, back).data()) as Float32Array;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
    const { buildMatMulNBitsModel } = await import('../bench/onnx-model.js');
    const model = buildMatMulNBitsModel(packed, M, 0);
    const session = await ort.InferenceSession.create(model);
    const result = await session.run({ A: new ort.Tensor('float32', (await x.data()) as Float32Array, [M, K]) });
    const theirs = result.Y!.data as Float32Array;
    const G = Math.ceil(K / blockSize);
    const xRef = Float64Array.from((await x.data()) as Float32Array);
    const exact = quant.linear(xRef, Float64Array.from((await tessera.dequantize(back).data()) as Float32Array), null, M, N, K);
    const weights: QuantizedRef = {
      bits: 4, N, K, groupSize: blockSize, codes: packed.B, scales: Float64Array.from(packed.scales as Float32Array),
      zeroPoints: packed.zeroPoints ?? null,
    };
    const folded = quant.foldedMagnitude(xRef, weights, null, M);
    for (let i = 0; i < M * N; ++i) {
      // Both are fp32 products of the same dequantized weights: onnxruntime's within
      // (4·√K + G + 4)·u·Σ|x·ŵ| of the exact one, ours within the same factor of
      // Σ|x|·(q + z)·s (the zero point applied through Σx per group).
      const bound = (4 * Math.sqrt(K) + G + 4) * U * (exact.magnitude[i]! + folded[i]!);
      expect(Math.abs(ours[i]! - theirs[i]!)).toBeLessThanOrEqual(bound);
    }
    await session.release();
  });

  test('fp16 scales come back as the same Uint16Array', () => {
    const w = tessera.tensor(gaussian(4 * 64, 6), { shape: [4, 64] });
    const packed = tessera.quantize(w, { bits: 4, groupSize: 32, scaleDtype: 'float16' }).toMatMulNBits();
    expect(packed.scales).toBeInstanceOf(Uint16Array);
    expect(tessera.QuantizedTensor.fromMatMulNBits(packed).toMatMulNBits()).toEqual(packed);
  });
});

// ---------------------------------------------------------------------------

describe('bad inputs', () => {
  const w = tessera.randn([8, 100], { seed: 1 });
  const q = tessera.quantize(tessera.randn([8, 64], { seed: 2 }), { bits: 4, groupSize: 32 });
  const cases: Array<[string, () => unknown, string, string]> = [
    ['bits 2', () => tessera.quantize(w, { bits: 2 as 4 }), 'E_UNSUPPORTED', 'Expected bits 8 or 4 for options.bits but received 2'],
    ['bits "4"', () => tessera.quantize(w, { bits: '4' as unknown as 4 }), 'E_ARGUMENT', 'Expected bits 8 or 4 for options.bits but received "4"'],
    ['1-d weight', () => tessera.quantize(tessera.randn([8]), {}), 'E_SHAPE', 'Expected a 2-d weight [N, K] for w but received [8]'],
    ['int8 weight', () => tessera.quantize(tessera.zeros([2, 2], { dtype: 'int8' })), 'E_DTYPE', 'Expected a float32, float16 or bfloat16 tensor for w but received Tensor(int8, [2, 2], cpu)'],
    ['groupSize 48', () => tessera.quantize(w, { groupSize: 48 }), 'E_ARGUMENT', 'Expected a groupSize of 32, 64, 128 or K (100) for options.groupSize but received 48'],
    ['scaleDtype', () => tessera.quantize(w, { scaleDtype: 'bfloat16' as 'float16' }), 'E_ARGUMENT', "Expected 'float32' or 'float16' for options.scaleDtype but received \"bfloat16\""],
    ['x with the wrong K', () => tessera.qmatmul(tessera.randn([2, 63]), q), 'E_SHAPE', 'Expected [..., K] with K = 64 (from q) for x but received [2, 63]'],
    ['bias of the wrong length', () => tessera.qmatmul(tessera.randn([2, 64]), q, { bias: tessera.randn([7]) }), 'E_SHAPE', 'Expected [N] with N = 8 (from q) for options.bias but received [7]'],
    ['bias of another dtype', () => tessera.qmatmul(tessera.randn([2, 64]), q, { bias: tessera.randn([8], { dtype: 'float16' }) }), 'E_DTYPE', 'Expected a float32 tensor (the dtype of x) for options.bias but received Tensor(float16, [8], cpu)'],
    ['activations', () => tessera.qmatmul(tessera.randn([2, 64]), q, { activations: 'int4' as 'int8' }), 'E_ARGUMENT', "Expected 'float' or 'int8' for options.activations but received \"int4\""],
    ['q not quantized', () => tessera.qmatmul(tessera.randn([2, 64]), w as unknown as tessera.QuantizedTensor), 'E_ARGUMENT', 'Expected a QuantizedTensor for q but received Tensor(float32, [8, 100], cpu)'],
    ['int8 to MatMulNBits', () => tessera.quantize(w).toMatMulNBits(), 'E_UNSUPPORTED', 'Expected an int4 QuantizedTensor (MatMulNBits holds 4-bit weights) for q but received QuantizedTensor(int8, [8, 100], g100, symmetric, cpu)'],
    ['MatMulNBits bits 8', () => tessera.QuantizedTensor.fromMatMulNBits({ ...q.toMatMulNBits(), bits: 8 as 4 }), 'E_UNSUPPORTED', 'Expected bits 4 (tessera imports 4-bit MatMulNBits weights) for weights.bits but received 8'],
    ['MatMulNBits short B', () => tessera.QuantizedTensor.fromMatMulNBits({ ...q.toMatMulNBits(), B: new Uint8Array(10) }), 'E_SHAPE', 'Expected 256 bytes ([N, ceil(K / blockSize), blockSize / 2] = [8, 2, 16]) for weights.B but received a Uint8Array of length 10'],
    ['MatMulNBits blockSize 24', () => tessera.QuantizedTensor.fromMatMulNBits({ ...q.toMatMulNBits(), blockSize: 24 }), 'E_ARGUMENT', 'Expected a power of two >= 16 for weights.blockSize but received 24'],
  ];
  test.for(cases)('%s', ([, fn, code, message]) => {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(tessera.TesseraError);
    expect((error as tessera.TesseraError).code).toBe(code);
    expect((error as Error).message).toBe(message);
  });

  test('a disposed QuantizedTensor', () => {
    const d = tessera.quantize(w);
    d.dispose();
    expect(() => tessera.dequantize(d)).toThrow('Expected a live QuantizedTensor for q but received QuantizedTensor(int8, [8, 100], g100, symmetric, cpu, disposed)');
  });
});

describe('non-finite activations', () => {
  // M = 50 takes the int8 GEMM (its own quantization pass over x).
  const cases = [['float', 2], ['int8', 2], ['int8', 50]] as const;
  test.for(cases)("activations '%s', M = %i: a row of x holding NaN or Inf gives NaN or Inf outputs in that row only", async ([activations, M]) => {
    const q = tessera.quantize(tessera.tensor(gaussian(4 * 64, 8), { shape: [4, 64] }), { bits: 4, groupSize: 32 });
    const data = gaussian(M * 64, 9);
    data[3] = NaN;
    data[(M - 1) * 64 + 7] = Infinity;
    const y = (await tessera.qmatmul(tessera.tensor(data, { shape: [M, 64] }), q, { activations }).data()) as Float32Array;
    const nonFinite = (v: number): boolean => !Number.isFinite(v);
    expect(Array.from(y.subarray(0, 4), Number.isNaN)).toEqual([true, true, true, true]);
    expect(Array.from(y.subarray(4, 4 * (M - 1)), Number.isFinite).every(Boolean)).toBe(true);
    expect(Array.from(y.subarray(4 * (M - 1)), nonFinite)).toEqual([true, true, true, true]);
  });
});

describe('int8 activations where every pair of xq is large', () => {
  // |xq_k| + |xq_k+1| > 128 for every pair: a u8 × s8 int16 pair sum (vpmaddubsw)
  // could saturate on codes above 128, so the per-channel int8 GEMM must take its
  // exact route for all of them; the sums must still match the integer reference.
  test('per channel, M = 50: qmatmul equals int8Linear', async () => {
    const [M, N, K] = [50, 20, 1024];
    const q = tessera.quantize(tessera.tensor(gaussian(N * K, 21), { shape: [N, K] }), { bits: 8, symmetric: false });
    const xData = Float32Array.from({ length: M * K }, (_, i) => (i % 3 === 0 ? -1 : 1) * (1 + (i % 7) / 64));
    const y = (await tessera.qmatmul(tessera.tensor(xData, { shape: [M, K] }), q, { activations: 'int8' }).data()) as Float32Array;
    const r = quant.int8Linear(Float64Array.from(xData), {
      bits: 8, N, K, groupSize: K,
      codes: (await q.codes.data()) as Uint8Array,
      scales: Float64Array.from((await q.scales.data()) as Float32Array),
      zeroPoints: (await q.zeroPoints!.data()) as Uint8Array,
    }, null, M);
    for (let i = 0; i < M * N; ++i) expect(Math.abs(y[i]! - r.y[i]!)).toBeLessThanOrEqual(5 * U * r.magnitude[i]!);
    q.dispose();
  });
});

describe('the one-row int4 GEMV across the range of x', () => {
  // M = 1 with groups of 64 or more reads x in nibble-plane order, scaled per row
  // (nibblePlanes: by 2^(−4i), or with subnormal codes by 2^(149 − 4i − S), S from
  // max|x|). Rows of x far from 1, and rows mixing magnitudes, must keep the GEMV's
  // fp32 bound. Terms below max|x|·2^−100 may lose low bits in the subnormal range: at
  // most max|x|·2^−124 per code, K·max|x|·2^−124·max s in all (the floor below).
  const [N, K] = [8, 256];
  const rows: Array<[string, (i: number, g: number) => number]> = [
    ['x ~ 2^-120', (_, g) => g * 2 ** -120],
    ['x ~ 2^-60', (_, g) => g * 2 ** -60],
    ['x ~ 1', (_, g) => g],
    ['x ~ 2^100', (_, g) => g * 2 ** 100],
    ['x alternating 2^40 and 2^-40', (i, g) => g * 2 ** (i % 2 === 0 ? 40 : -40)],
    ['x ~ 2^-112 with one 1', (i, g) => (i === 77 ? 1 : g * 2 ** -112)],
  ];
  const cases = testDevices().flatMap((d) => rows.map(([name, f]) => [d, name, f] as const));
  test.for(cases)('%s: %s', async ([device, , f]) => {
    const q = tessera.quantize(tessera.tensor(gaussian(N * K, 31), { shape: [N, K], device }), { bits: 4, groupSize: 128 });
    const g = gaussian(K, 32);
    const xData = Float32Array.from({ length: K }, (_, i) => f(i, g[i]!));
    const y = (await tessera.qmatmul(tessera.tensor(xData, { shape: [1, K], device }), q).data()) as Float32Array;
    const ref_: QuantizedRef = {
      bits: 4, N, K, groupSize: 128,
      codes: (await q.codes.data()) as Uint8Array,
      scales: Float64Array.from((await q.scales.data()) as Float32Array),
      zeroPoints: (await q.zeroPoints!.data()) as Uint8Array,
    };
    const x64 = Float64Array.from(xData);
    const r = quant.linear(x64, quant.dequantize(ref_), null, 1, N, K);
    const magnitude = quant.foldedMagnitude(x64, ref_, null, 1);
    const maxX = x64.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const maxS = ref_.scales.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const G = K / 128;
    for (let n = 0; n < N; ++n) {
      const bound = (4 * Math.sqrt(K) + G + 4) * U * magnitude[n]! + K * 2 ** -124 * maxX * maxS;
      expect(Math.abs(y[n]! - r.y[n]!)).toBeLessThanOrEqual(bound);
      expect(r.y[n]).not.toBe(0);
    }
    q.dispose();
  });
});

describe('int8 activations at the int32 limit of a group', () => {
  // Every product at its largest: x all ones (xq = 127 each) and weights of ones with a
  // single 0 per row (asymmetric: s = 1/255, z = 0, q − z = 255 or, for int4, s = 1/15,
  // q − z = 15), so a per-channel group sum is (K − 1)·127·(2^bits − 1). The largest K
  // keeping it below 2^31 must come out exact; one more element is refused, not wrapped.
  const limitOf = (bits: 4 | 8): number => Math.floor((2 ** 31 - 1) / (127 * (2 ** bits - 1)));
  const weights = (K: number, device: string): tessera.Tensor => {
    const w = new Float32Array(2 * K).fill(1);
    w[0] = 0;
    w[K + K - 1] = 0;
    return tessera.tensor(w, { shape: [2, K], device });
  };
  const rows: Array<[string, 4 | 8, number]> = testDevices().flatMap((d) => [[d, 8, 1], [d, 8, 9], [d, 4, 1]] as Array<[string, 4 | 8, number]>);
  test.for(rows)('%s: int%i per channel at K = the limit, M = %i, is exact', async ([device, bits, M]) => {
    const K = limitOf(bits);
    const q = tessera.quantize(weights(K, device), { bits, groupSize: K, symmetric: false });
    const y = (await tessera.qmatmul(tessera.ones([M, K], { device }), q, { activations: 'int8' }).data()) as Float32Array;
    // y = s_x · s · d in fp32 with d exact: a few roundings of (K − 1).
    const sx = Math.fround(1 / 127), s = Math.fround(1 / (2 ** bits - 1));
    const expected = sx * s * (K - 1) * 127 * (2 ** bits - 1);
    for (const v of y) expect(Math.abs(v - expected)).toBeLessThanOrEqual(4 * U * expected);
    q.dispose();
  });
  test.for([8, 4] as const)('int%i per channel past the limit is refused', (bits) => {
    const K = limitOf(bits) + (bits === 4 ? 2 : 1); // int4 groups are even
    const q = tessera.quantize(weights(K, 'cpu'), { bits, groupSize: K, symmetric: false });
    const x = tessera.ones([1, K]);
    expect(() => tessera.qmatmul(x, q, { activations: 'int8' })).toThrow(expect.objectContaining({
      code: 'E_ARGUMENT',
      message: `Expected groups of at most ${limitOf(bits)} elements with activations 'int8' and ${bits}-bit weights (each group's sum must stay exact in int32; use activations 'float', or quantize in groups) for q but received groupSize ${K} (per channel)`,
    }));
    // The float path has no such limit.
    const y = tessera.qmatmul(x, q);
    expect(y.shape).toEqual([1, 2]);
    for (const t of [q, x, y]) t.dispose();
  });
});

describe('int4 groups that are not whole 16-code blocks', () => {
  // groupSize = K = 50: three whole blocks of 16 codes (the vector path reads x in
  // even/odd order inside a block) and a tail of 2 codes read in place.
  // M = 3 takes the GEMV path, M = 12 the tiled GEMM.
  const cases = tessera.availableDevices().flatMap((device) => [3, 12].map((M) => [device, M] as const));
  test.for(cases)('qmatmul equals x · dequantize(q)ᵀ in float64 [%s, M = %i]', async ([device, M]) => {
    const [N, K] = [9, 50];
    const w = tessera.tensor(gaussian(N * K, 11), { shape: [N, K], device });
    const x = tessera.tensor(gaussian(M * K, 12), { shape: [M, K], device });
    const q = tessera.quantize(w, { bits: 4, groupSize: K });
    const wq = (await tessera.dequantize(q).data()) as Float32Array;
    const xv = (await x.data()) as Float32Array;
    const y = (await tessera.qmatmul(x, q).data()) as Float32Array;
    for (let m = 0; m < M; ++m) {
      for (let n = 0; n < N; ++n) {
        let ref = 0, scale = 0;
        for (let k = 0; k < K; ++k) {
          ref += xv[m * K + k]! * wq[n * K + k]!;
          scale += Math.abs(xv[m * K + k]! * wq[n * K + k]!);
        }
        expect(Math.abs(y[m * N + n]! - ref)).toBeLessThanOrEqual(1e-6 * scale + 1e-7);
      }
    }
  });
});
