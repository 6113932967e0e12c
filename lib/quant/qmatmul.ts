/** tessera.qmatmul: x · Wᵀ with quantized weights. */
import { fail, failRaw } from '../errors.js';
import { native, QuantActivationsId } from '../native.js';
import { formatShape, numelOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { checkOperands, checkOpts, output, withContiguous } from '../ops/common.js';
import { QuantizedTensor } from './quantized-tensor.js';

export interface QMatmulOptions {
  /** [N], the dtype and device of x. */
  bias?: Tensor;
  /**
   * 'float' (default): weight-only (W4A16 / W8A16), weights dequantized in registers,
   * fp32 accumulation; error against the dequantized-weight product is that of an
   * fp32 dot product.
   * 'int8': each row of x is quantized to int8 first (symmetric, s_x = max|x_row| / 127,
   * round to nearest even), products summed exactly in int32 per group, then scaled
   * (W8A8 / W4A8, like onnxruntime's accuracy level 4). Extra error: each x rounds by
   * up to s_x / 2, so an output moves by up to (s_x / 2) · Σ_k |ŵ_k| and typically by
   * about (s_x / √12) · ‖ŵ‖₂ — near 0.5% of |y| on Gaussian data at K = 4096.
   * The int32 group sums bound the group size (int8GroupLimit): 66,311 elements for
   * 8-bit weights (per channel: K), 1,127,288 for 4-bit.
   */
  activations?: 'float' | 'int8';
}

/**
 * The largest group activations 'int8' takes for `bits`-bit weights: a group's sum
 * Σ (q − z)·xq, with |q − z| ≤ 2^bits − 1 and |xq| ≤ 127, must stay exact in int32 on
 * every device (66,311 for 8 bits, 1,127,288 for 4).
 */
export function int8GroupLimit(bits: 4 | 8): number {
  return Math.floor((2 ** 31 - 1) / (127 * (2 ** bits - 1)));
}

/**
 * `y = x · Wᵀ (+ bias)` with W the weights q represents: x `[..., K]` (fp32, fp16 or
 * bf16) → `[..., N]` in x's dtype. Small batches (decode) stream the weights once;
 * larger ones run a tiled GEMM on dequantized panels: any M works.
 * @example
 * const q = tessera.quantize(w, { bits: 4 });                 // w [N, K]
 * const y = tessera.qmatmul(x, q, { bias });                  // x [B, T, K] → [B, T, N]
 * const y8 = tessera.qmatmul(x, q, { activations: 'int8' });  // W4A8
 */
export function qmatmul(x: Tensor, q: QuantizedTensor, options?: QMatmulOptions): Tensor {
  const opts = checkOpts<QMatmulOptions>(options);
  if (!(q instanceof QuantizedTensor)) fail('E_ARGUMENT', 'a QuantizedTensor', 'q', q);
  const activations = opts.activations ?? 'float';
  if (activations !== 'float' && activations !== 'int8') fail('E_ARGUMENT', "'float' or 'int8'", 'options.activations', activations);
  const operands: Array<[unknown, string]> = [[x, 'x']];
  if (opts.bias !== undefined) operands.push([opts.bias, 'options.bias']);
  const [input, bias] = checkOperands('qmatmul', operands) as [Tensor, Tensor | undefined];
  const nq = q.toNative('q');
  if (q.device !== input.device) failRaw('E_DEVICE', `a QuantizedTensor on ${input.device} (the device of x)`, 'q', q.describe());
  if (input.ndim < 1 || input.shape[input.ndim - 1] !== q.K) {
    failRaw('E_SHAPE', `[..., K] with K = ${q.K} (from q)`, 'x', formatShape(input.shape));
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== q.N)) {
    failRaw('E_SHAPE', `[N] with N = ${q.N} (from q)`, 'options.bias', formatShape(bias.shape));
  }
  const groupLimit = activations === 'int8' ? int8GroupLimit(q.bits) : Infinity;
  if (q.groupSize > groupLimit) {
    failRaw('E_ARGUMENT', `groups of at most ${groupLimit} elements with activations 'int8' and ${q.bits}-bit weights ` +
      "(each group's sum must stay exact in int32; use activations 'float', or quantize in groups)", 'q',
      `groupSize ${q.groupSize}${q.groupSize === q.K ? ' (per channel)' : ''}`);
  }
  const M = numelOf(input.shape) / q.K;
  const out = output(input, [...input.shape.slice(0, -1), q.N]);
  if (M === 0) return out;
  withContiguous(input, (dense) => withContiguous(bias, (denseBias) => {
    native.qmatmul(dense.view('x'), nq, denseBias ? denseBias.view('options.bias') : null, out.view('out'), M, QuantActivationsId[activations]);
  }));
  return out;
}
