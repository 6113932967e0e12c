/** The float64 oracle: every reference the parity matrix compares tessera against. */
export * from './tensor.js';
export * from './dtype.js';
export { erf, erfc } from './erf.js';
export { binary, scale, silu, geluErf, geluTanh, type BinaryOp } from './elementwise.js';
export { matmul, matmulMagnitude, type MatmulOptions } from './matmul.js';
export { softmax } from './softmax.js';
export { rmsNorm, layerNorm } from './norm.js';
export { sum, mean, type ReduceOptions } from './reduce.js';
export { cast } from './cast.js';
export * as quant from './quant.js';
