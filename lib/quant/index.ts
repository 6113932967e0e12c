/** Quantized weights and matmul: int8 / int4, MatMulNBits interop. */
export { QuantizedTensor, type MatMulNBitsWeights, type FromMatMulNBitsOptions } from './quantized-tensor.js';
export { quantize, dequantize, type QuantizeOptions, type DequantizeOptions } from './quantize.js';
export { qmatmul, type QMatmulOptions } from './qmatmul.js';
export type { QuantBits, ScaleDType } from './layout.js';
