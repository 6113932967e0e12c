/** ALiBi slopes (Press et al., "Train Short, Test Long", 2022). */
import { fail } from '../errors.js';

/** The geometric sequence for a power-of-two head count n: 2^(-8/n), 2^(-16/n), … */
function powerOfTwoSlopes(n: number): number[] {
  const start = 2 ** -(2 ** -(Math.log2(n) - 3));
  return Array.from({ length: n }, (_, i) => start * start ** i);
}

function slopes(n: number): number[] {
  if (Number.isInteger(Math.log2(n))) return powerOfTwoSlopes(n);
  // Not a power of two: the slopes of the closest lower power of two, then every
  // other slope of the next power of two, as the paper's reference code does.
  const closest = 2 ** Math.floor(Math.log2(n));
  return [...powerOfTwoSlopes(closest), ...slopes(2 * closest).filter((_, i) => i % 2 === 0).slice(0, n - closest)];
}

/**
 * The ALiBi slope of each head, computed in float64 and rounded to fp32 once.
 * H = 8 gives 2^-1 … 2^-8; H = 12 gives 2^-1 … 2^-8, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5.
 * @example tessera.attention(q, k, v, { causal: true, alibi: tessera.alibiSlopes(12) })
 */
export function alibiSlopes(numHeads: number): Float32Array {
  if (typeof numHeads !== 'number' || !Number.isSafeInteger(numHeads) || numHeads < 1) {
    fail('E_ARGUMENT', 'a positive integer', 'numHeads', numHeads);
  }
  return Float32Array.from(slopes(numHeads));
}
