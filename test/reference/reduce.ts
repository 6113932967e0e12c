/** Sum and mean over the last axis, in float64. */
import { rowsOf, type RefTensor } from './tensor.js';

export interface ReduceOptions {
  /** Keep the reduced axis as size 1. */
  keepDim?: boolean;
}

function reduceRows(x: RefTensor, divide: boolean, options: ReduceOptions): RefTensor {
  const { rows, cols } = rowsOf(x.shape);
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; ++r) {
    let sum = 0;
    for (let c = 0; c < cols; ++c) sum += x.data[r * cols + c]!;
    out[r] = divide ? sum / cols : sum; // the mean of an empty row is 0/0 = NaN
  }
  const lead = x.shape.slice(0, -1);
  return { data: out, shape: options.keepDim ? [...lead, 1] : lead };
}

export function sum(x: RefTensor, options: ReduceOptions = {}): RefTensor {
  return reduceRows(x, false, options);
}

export function mean(x: RefTensor, options: ReduceOptions = {}): RefTensor {
  return reduceRows(x, true, options);
}
