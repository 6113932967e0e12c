/**
 * tessera: transformer inference kernels for Node.js, on the CPU and on CUDA.
 * @example
 * const tessera = require('tessera');
 * const x = tessera.randn([4, 64], { seed: 1 });
 * const y = tessera.softmax(tessera.matmul(x, x, { transposeB: true }));
 * console.log(await y.data());
 */
import type { DType } from './dtype.js';
import { checkDType } from './dtype.js';
import { checkTensor, Tensor } from './tensor.js';

export { TesseraError, type ErrorCode } from './errors.js';
export { type DType, DTYPES, float16BitsToNumber, bfloat16BitsToNumber } from './dtype.js';
export { Tensor, type ToOptions } from './tensor.js';
export { info, defaultDevice, availableDevices } from './device.js';
export type { NativeInfo as Info } from './native.js';
export { tensor, zeros, ones, full, empty, randn, rand, type CreateOptions, type TensorOptions, type RandomOptions } from './creation.js';
export { add, sub, mul, div, scale, silu, gelu, type GeluOptions } from './ops/elementwise.js';
export { matmul, type MatmulOptions } from './ops/matmul.js';
export { softmax, rmsNorm, layerNorm, sum, mean, type NormOptions, type ReduceOptions } from './ops/rows.js';
export {
  QuantizedTensor, quantize, dequantize, qmatmul,
  type MatMulNBitsWeights, type FromMatMulNBitsOptions, type QuantizeOptions, type DequantizeOptions,
  type QMatmulOptions, type QuantBits, type ScaleDType,
} from './quant/index.js';
export {
  attention, attentionBackward, alibiSlopes, rope, KVCache,
  type AttentionOptions, type AttentionResult, type AttentionGradients, type BlockMask,
  type RopeOptions, type RopeScaling, type RopeConfig, type KVCacheOptions, type AppendOptions, type AttendOptions,
} from './attention/index.js';
export {
  linearAttention, linearAttentionBackward, favorFeatures, FavorFeatures, LinearAttentionState,
  type LinearAttentionOptions, type FavorOptions,
} from './linear/index.js';

/** Converts to another dtype on the same device (round to nearest even; ints saturate). */
export function cast(x: Tensor, dtype: DType): Tensor {
  return checkTensor(x, 'x').to({ dtype: checkDType(dtype, 'dtype') });
}
