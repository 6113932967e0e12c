/** RMS norm and layer norm over the last axis, in float64. C = the normalized (last) dimension. */
import { rowsOf, type RefTensor } from './tensor.js';

/** x / sqrt(mean(x²) + eps) · weight. */
export function rmsNorm(x: RefTensor, weight: RefTensor, eps = 1e-6): RefTensor {
  const { rows, cols: C } = rowsOf(x.shape);
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < rows; ++r) {
    const base = r * C;
    let sumSq = 0;
    for (let c = 0; c < C; ++c) sumSq += x.data[base + c]! ** 2;
    const inv = 1 / Math.sqrt(sumSq / C + eps);
    for (let c = 0; c < C; ++c) out[base + c] = x.data[base + c]! * inv * weight.data[c]!;
  }
  return { data: out, shape: [...x.shape] };
}

/**
 * (x − mean) / sqrt(var + eps) · weight + bias, with the biased variance
 * (divided by C, as PyTorch), computed in two passes; bias may be null.
 */
export function layerNorm(x: RefTensor, weight: RefTensor, bias: RefTensor | null, eps = 1e-5): RefTensor {
  const { rows, cols: C } = rowsOf(x.shape);
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < rows; ++r) {
    const base = r * C;
    let sum = 0;
    for (let c = 0; c < C; ++c) sum += x.data[base + c]!;
    const mean = sum / C;
    let sq = 0;
    for (let c = 0; c < C; ++c) sq += (x.data[base + c]! - mean) ** 2;
    const inv = 1 / Math.sqrt(sq / C + eps);
    for (let c = 0; c < C; ++c) {
      out[base + c] = (x.data[base + c]! - mean) * inv * weight.data[c]! + (bias ? bias.data[c]! : 0);
    }
  }
  return { data: out, shape: [...x.shape] };
}
