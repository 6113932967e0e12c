/**
 * Quantized weights in float64 (layout: native/core/op_params.h, README "Quantized
 * matmul"). N = output features, K = input features, G = groups per row, gs = groupSize.
 * What the kernels compute in fp32 is emulated with Math.fround where the result must
 * match bit for bit (scales, codes, the int8 quantization of activations).
 */
import { roundTo } from './dtype.js';

export interface QuantLayoutRef {
  bits: 4 | 8;
  N: number;
  K: number;
  groupSize: number;
}

export interface QuantizedRef extends QuantLayoutRef {
  codes: Uint8Array;
  /** Stored scale values (fp32, or fp16 values when scaleDtype is float16). */
  scales: Float64Array;
  zeroPoints: Uint8Array | null;
}

export const groupsOf = (l: QuantLayoutRef): number => Math.ceil(l.K / l.groupSize);
export const codeBytes = (l: QuantLayoutRef): number => l.N * groupsOf(l) * (l.bits === 4 ? l.groupSize / 2 : l.groupSize);
export const zeroPointBytes = (l: QuantLayoutRef): number => l.N * (l.bits === 4 ? Math.ceil(groupsOf(l) / 2) : groupsOf(l));

/** Round to nearest, ties to even. */
export function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Code of weight (n, k), k < G·gs. */
export function codeAt(q: QuantizedRef, n: number, k: number): number {
  const G = groupsOf(q);
  if (q.bits === 8) return q.codes[n * G * q.groupSize + k]!;
  const byte = q.codes[(n * G * q.groupSize + k) >> 1]!;
  return k % 2 === 0 ? byte & 15 : byte >> 4;
}

export function zeroAt(q: QuantizedRef, n: number, g: number): number {
  if (q.zeroPoints === null) return 1 << (q.bits - 1);
  const G = groupsOf(q);
  if (q.bits === 8) return q.zeroPoints[n * G + g]!;
  const byte = q.zeroPoints[n * Math.ceil(G / 2) + (g >> 1)]!;
  return g % 2 === 0 ? byte & 15 : byte >> 4;
}

/** The weights [N, K] that q represents, exactly: (q − z)·s. */
export function dequantize(q: QuantizedRef): Float64Array {
  const G = groupsOf(q);
  const out = new Float64Array(q.N * q.K);
  for (let n = 0; n < q.N; ++n) {
    for (let k = 0; k < q.K; ++k) {
      const g = Math.floor(k / q.groupSize);
      out[n * q.K + k] = (codeAt(q, n, k) - zeroAt(q, n, g)) * q.scales[n * G + g]!;
    }
  }
  return out;
}

/**
 * quantize, step for step as the kernel does it in fp32 (quant.inc quantizeRow): the
 * range includes 0; symmetric s = max|w| / (2^(b−1) − 1), asymmetric s = (max − min) /
 * (2^b − 1) and z = round(−min / s); s rounded to the scale dtype; q = clamp(z +
 * round(w / s)); a zero group gets s = 0 and q = z. Padding codes are z.
 */
export function quantize(w: Float64Array, l: QuantLayoutRef, symmetric: boolean, scaleDtype: 'float32' | 'float16'): QuantizedRef {
  const G = groupsOf(l);
  const f = Math.fround;
  const qmax = (1 << l.bits) - 1;
  const q: QuantizedRef = {
    ...l, codes: new Uint8Array(codeBytes(l)), scales: new Float64Array(l.N * G),
    zeroPoints: symmetric ? null : new Uint8Array(zeroPointBytes(l)),
  };
  for (let n = 0; n < l.N; ++n) {
    for (let g = 0; g < G; ++g) {
      const k0 = g * l.groupSize, k1 = Math.min(l.K, k0 + l.groupSize);
      let lo = 0, hi = 0;
      for (let k = k0; k < k1; ++k) {
        lo = Math.min(lo, w[n * l.K + k]!);
        hi = Math.max(hi, w[n * l.K + k]!);
      }
      let z = 1 << (l.bits - 1);
      let s = symmetric ? f(Math.max(hi, -lo) / (z - 1)) : f(f(hi - lo) / qmax);
      if (scaleDtype === 'float16') s = roundTo('float16', s);
      if (!symmetric && s > 0) z = Math.min(qmax, Math.max(0, roundEven(f(-lo / s))));
      q.scales[n * G + g] = s;
      for (let j = 0; j < l.groupSize; ++j) {
        const k = k0 + j;
        const c = k >= k1 || !(s > 0) ? z : Math.min(qmax, Math.max(0, z + roundEven(f(w[n * l.K + k]! / s))));
        const idx = n * G * l.groupSize + k;
        if (l.bits === 8) q.codes[idx] = c;
        else q.codes[idx >> 1]! |= k % 2 === 0 ? c : c << 4;
      }
      if (q.zeroPoints) {
        if (l.bits === 8) q.zeroPoints[n * G + g] = z;
        else q.zeroPoints[n * Math.ceil(G / 2) + (g >> 1)]! |= g % 2 === 0 ? z : z << 4;
      }
    }
  }
  return q;
}

/** y [M, N] = x [M, K] · wᵀ (+ bias), float64, with Σ|x·w| per element for error bounds. */
export function linear(x: Float64Array, w: Float64Array, bias: Float64Array | null, M: number, N: number, K: number): { y: Float64Array; magnitude: Float64Array } {
  const y = new Float64Array(M * N);
  const magnitude = new Float64Array(M * N);
  for (let m = 0; m < M; ++m) {
    for (let n = 0; n < N; ++n) {
      let s = 0, a = 0;
      for (let k = 0; k < K; ++k) {
        const p = x[m * K + k]! * w[n * K + k]!;
        s += p;
        a += Math.abs(p);
      }
      y[m * N + n] = s + (bias ? bias[n]! : 0);
      magnitude[m * N + n] = a + (bias ? Math.abs(bias[n]!) : 0);
    }
  }
  return { y, magnitude };
}

/**
 * Σ_k |x_k|·(q_k + z_g)·s_g (+ |bias|) per output: the scale of the fp32 rounding of
 * the int4 weight-only GEMV, which applies each zero point once per group through the
 * group sum of x (Σ (q − z)·x = Σ q·x − z·Σ x; native/cpu/quant.inc, kFoldInt4Zero).
 * Never below linear()'s Σ|x·w|, since q + z ≥ |q − z|.
 */
export function foldedMagnitude(x: Float64Array, q: QuantizedRef, bias: Float64Array | null, M: number): Float64Array {
  const { N, K, groupSize: gs } = q;
  const G = groupsOf(q);
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; ++m) {
    for (let n = 0; n < N; ++n) {
      let a = 0;
      for (let k = 0; k < K; ++k) {
        const g = Math.floor(k / gs);
        a += Math.abs(x[m * K + k]!) * (codeAt(q, n, k) + zeroAt(q, n, g)) * Math.abs(q.scales[n * G + g]!);
      }
      out[m * N + n] = a + (bias ? Math.abs(bias[n]!) : 0);
    }
  }
  return out;
}

/**
 * The int8-activation path (W8A8 / W4A8), exactly: per row, s_x = fp32(max|x| / 127),
 * xq = clamp(round_even(fp32(x / s_x)), ±127); per group, the int32 sum
 * d = Σ q·xq − z·Σ xq (exact integers here); y = s_x · Σ_g s_g·d_g (+ bias).
 * `sums` are the int32 group sums [M, N, G] (what must match exactly); `magnitude` is
 * s_x · Σ_g |s_g·d_g| + |bias|, the scale of the fp32 rounding in the final scaling.
 */
export function int8Linear(x: Float64Array, q: QuantizedRef, bias: Float64Array | null, M: number): { y: Float64Array; magnitude: Float64Array; sums: Int32Array } {
  const { N, K, groupSize: gs } = q;
  const G = groupsOf(q);
  const y = new Float64Array(M * N);
  const magnitude = new Float64Array(M * N);
  const sums = new Int32Array(M * N * G);
  const xq = new Int32Array(K);
  for (let m = 0; m < M; ++m) {
    let amax = 0;
    for (let k = 0; k < K; ++k) amax = Math.max(amax, Math.abs(x[m * K + k]!));
    const sx = Math.fround(amax / 127);
    for (let k = 0; k < K; ++k) xq[k] = sx > 0 ? Math.max(-127, Math.min(127, roundEven(Math.fround(x[m * K + k]! / sx)))) : 0;
    for (let n = 0; n < N; ++n) {
      let acc = 0, mag = 0;
      for (let g = 0; g < G; ++g) {
        let d = 0, xs = 0;
        for (let k = g * gs; k < Math.min(K, (g + 1) * gs); ++k) {
          d += codeAt(q, n, k) * xq[k]!;
          xs += xq[k]!;
        }
        d -= zeroAt(q, n, g) * xs;
        sums[(m * N + n) * G + g] = d;
        acc += q.scales[n * G + g]! * d;
        mag += Math.abs(q.scales[n * G + g]! * d);
      }
      y[m * N + n] = sx * acc + (bias ? bias[n]! : 0);
      magnitude[m * N + n] = sx * mag + (bias ? Math.abs(bias[n]!) : 0);
    }
  }
  return { y, magnitude, sums };
}
