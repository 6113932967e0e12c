/**
 * Elementwise references in float64: binary arithmetic with NumPy broadcasting,
 * scale, SiLU and both GELU forms.
 */
import { erfc } from './erf.js';
import { broadcastShapes, broadcastTo, map, type RefTensor } from './tensor.js';

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';

const BINARY: Readonly<Record<BinaryOp, (a: number, b: number) => number>> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
};

/** a ∘ b over the broadcast shape of a and b. */
export function binary(op: BinaryOp, a: RefTensor, b: RefTensor): RefTensor {
  const shape = broadcastShapes(a.shape, b.shape);
  const x = broadcastTo(a, shape);
  const y = broadcastTo(b, shape);
  const f = BINARY[op];
  return map(x, (v, i) => f(v, y.data[i]!));
}

export function scale(x: RefTensor, alpha: number): RefTensor {
  return map(x, (v) => alpha * v);
}

/** x · sigmoid(x), with the sigmoid in the form that cannot overflow. */
export function silu(x: RefTensor): RefTensor {
  return map(x, (v) => {
    if (v >= 0) return v / (1 + Math.exp(-v));
    const e = Math.exp(v);
    return (v * e) / (1 + e);
  });
}

/**
 * Exact GELU: x · Φ(x) = x/2 · (1 + erf(x/√2)) = x/2 · erfc(-x/√2). The erfc form
 * keeps the left tail accurate, where 1 + erf would cancel.
 */
export function geluErf(x: RefTensor): RefTensor {
  return map(x, (v) => 0.5 * v * erfc(-v * Math.SQRT1_2));
}

/**
 * The tanh approximation: x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))), written with
 * the identity 1 + tanh(z) = 2 / (1 + exp(-2z)) so the left tail does not cancel.
 */
export function geluTanh(x: RefTensor): RefTensor {
  const k = Math.sqrt(2 / Math.PI);
  return map(x, (v) => v / (1 + Math.exp(-2 * k * (v + 0.044715 * v * v * v))));
}
