/** tessera.quantize and tessera.dequantize. */
import { requireSupport } from '../device.js';
import { checkDType, isFloating, type DType } from '../dtype.js';
import { fail, failRaw } from '../errors.js';
import { native } from '../native.js';
import { formatShape } from '../shape.js';
import { checkTensor, Tensor } from '../tensor.js';
import { checkOpts, withContiguous } from '../ops/common.js';
import { codeBytesPerGroup, groupsOf, zeroPointBytesPerRow, type QuantBits, type ScaleDType } from './layout.js';
import { QuantizedTensor } from './quantized-tensor.js';

export interface QuantizeOptions {
  /** 8 (default) or 4. */
  bits?: QuantBits;
  /** 32, 64, 128 or K (one group per row: per output channel). Default: K for int8, 128 for int4. */
  groupSize?: number;
  /** No zero points (z = 2^(bits−1)). Default: true for int8, false for int4. */
  symmetric?: boolean;
  /** Default: 'float32'. */
  scaleDtype?: ScaleDType;
}

export interface DequantizeOptions {
  /** Default: 'float32'. */
  dtype?: DType;
}

/**
 * Quantizes weights w `[N, K]` (out × in) per row and group of `groupSize` along K,
 * rounding to nearest, ties to even. Symmetric: `s = max|w| / (2^(bits−1) − 1)`,
 * `z = 2^(bits−1)`; asymmetric: the range [min(w, 0), max(w, 0)] over `2^bits − 1`
 * steps, `z = round(−min / s)`. The scale is rounded to `scaleDtype` before the codes
 * are computed. K need not be a multiple of groupSize: the last group is partial.
 * NaN or ±Inf in a group gives that group a NaN scale (documented, not checked: the
 * weights stay on the device), so every output that reads it is NaN.
 * @example
 * const q8 = tessera.quantize(w);                                   // int8, per output channel
 * const q4 = tessera.quantize(w, { bits: 4, groupSize: 128 });      // int4, asymmetric
 */
export function quantize(w: Tensor, options?: QuantizeOptions): QuantizedTensor {
  const opts = checkOpts<QuantizeOptions>(options);
  const bits = opts.bits ?? 8;
  if (bits !== 8 && bits !== 4) {
    if (Number.isInteger(bits)) fail('E_UNSUPPORTED', 'bits 8 or 4', 'options.bits', bits);
    fail('E_ARGUMENT', 'bits 8 or 4', 'options.bits', bits);
  }
  const weight = checkTensor(w, 'w');
  if (!isFloating(weight.dtype)) failRaw('E_DTYPE', 'a float32, float16 or bfloat16 tensor', 'w', weight.describe());
  if (weight.ndim !== 2) failRaw('E_SHAPE', 'a 2-d weight [N, K]', 'w', formatShape(weight.shape));
  const [N, K] = weight.shape as [number, number];
  if (N === 0 || K === 0) failRaw('E_SHAPE', 'a weight with N >= 1 and K >= 1', 'w', formatShape(weight.shape));
  const groupSize = opts.groupSize ?? (bits === 8 ? K : 128);
  if (groupSize !== 32 && groupSize !== 64 && groupSize !== 128 && groupSize !== K) {
    fail('E_ARGUMENT', `a groupSize of 32, 64, 128 or K (${K})`, 'options.groupSize', groupSize);
  }
  if (bits === 4 && groupSize % 2 !== 0) {
    fail('E_ARGUMENT', 'an even groupSize for int4 (two codes a byte)', 'options.groupSize', groupSize);
  }
  const symmetric = opts.symmetric ?? bits === 8;
  if (typeof symmetric !== 'boolean') fail('E_ARGUMENT', 'a boolean', 'options.symmetric', symmetric);
  const scaleDtype = opts.scaleDtype ?? 'float32';
  if (scaleDtype !== 'float32' && scaleDtype !== 'float16') fail('E_ARGUMENT', "'float32' or 'float16'", 'options.scaleDtype', scaleDtype);
  requireSupport(weight.deviceSpec, 'quantize', weight.dtype, 'w');

  const layout = { bits, N, K, groupSize };
  const G = groupsOf(layout);
  const device = weight.deviceSpec;
  const codes = Tensor.allocate(device, 'uint8', bits === 4 ? [N, G, codeBytesPerGroup(layout)] : [N, G * groupSize]);
  const scales = Tensor.allocate(device, scaleDtype, [N, G]);
  const zeroPoints = symmetric ? null : Tensor.allocate(device, 'uint8', [N, zeroPointBytesPerRow(layout)]);
  const q = new QuantizedTensor({ bits, N, K, groupSize, codes, scales, zeroPoints });
  withContiguous(weight, (dense) => native.quantize(dense.view('w'), q.toNative()));
  return q;
}

/**
 * The weights a QuantizedTensor represents, `[N, K]`: `(q − z) · s` computed in fp32,
 * rounded once into `dtype`.
 * @example
 * const wHat = tessera.dequantize(q);                          // float32 [N, K]
 * const wHalf = tessera.dequantize(q, { dtype: 'float16' });
 */
export function dequantize(q: QuantizedTensor, options?: DequantizeOptions): Tensor {
  if (!(q instanceof QuantizedTensor)) fail('E_ARGUMENT', 'a QuantizedTensor', 'q', q);
  const opts = checkOpts<DequantizeOptions>(options);
  const dtype = checkDType(opts.dtype ?? 'float32', 'options.dtype');
  if (!isFloating(dtype)) fail('E_DTYPE', "'float32', 'float16' or 'bfloat16'", 'options.dtype', dtype);
  const nq = q.toNative('q');
  const device = q.codes.deviceSpec;
  requireSupport(device, 'dequantize', dtype, 'q');
  const out = Tensor.allocate(device, dtype, [q.N, q.K]);
  native.dequantize(nq, out.view('out'));
  return out;
}
