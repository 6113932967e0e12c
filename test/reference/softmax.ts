/** Softmax over the last axis in float64. */
import { rowsOf, type RefTensor } from './tensor.js';

/**
 * exp(x - max) / Σ exp(x - max) per row. A row whose entries are all -Infinity
 * (every key masked) gives zeros, the convention of attention with no visible key.
 */
export function softmax(x: RefTensor): RefTensor {
  const { rows, cols } = rowsOf(x.shape);
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < rows; ++r) {
    const base = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; ++c) max = Math.max(max, x.data[base + c]!);
    if (max === -Infinity) continue; // all masked: the zeros already there
    let sum = 0;
    for (let c = 0; c < cols; ++c) sum += Math.exp(x.data[base + c]! - max);
    for (let c = 0; c < cols; ++c) out[base + c] = Math.exp(x.data[base + c]! - max) / sum;
  }
  return { data: out, shape: [...x.shape] };
}
