/**
 * Conversion between dtypes: the exact value of each input rounded once into the
 * target (floats: nearest even, overflow to ±Infinity; integers: nearest even,
 * saturated, NaN -> 0).
 */
import { roundTo, type AnyDType } from './dtype.js';
import { map, type RefTensor } from './tensor.js';

export function cast(x: RefTensor, dtype: AnyDType): RefTensor {
  return map(x, (v) => roundTo(dtype, v));
}
