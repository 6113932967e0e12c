/** Elementwise arithmetic with NumPy broadcasting, and activations. */
import { fail } from '../errors.js';
import { BinaryOpId, native, UnaryOpId } from '../native.js';
import { broadcastShapes, broadcastStrides } from '../shape.js';
import { checkTensor, Tensor } from '../tensor.js';
import { checkFiniteNumber, checkOperands, checkOpts, output, scalarLike, withContiguous } from './common.js';

type Operand = Tensor | number;

function binary(op: keyof typeof BinaryOpId, a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number') fail('E_ARGUMENT', 'at least one Tensor', 'a, b', [a, b]);
  // A number operand becomes a 0-d tensor of the other's dtype and device.
  const ta = typeof a === 'number' ? scalarLike(a, checkTensor(b, 'b')) : a;
  const tb = typeof b === 'number' ? scalarLike(b, checkTensor(a, 'a')) : b;
  try {
    const [x, y] = checkOperands('binary', [[ta, 'a'], [tb, 'b']], op);
    const shape = broadcastShapes(x!.shape, y!.shape, ['a', 'b']);
    const out = output(x!, shape);
    native.binary(BinaryOpId[op],
      x!.view('a', shape, broadcastStrides(x!.shape, x!.strides, shape)),
      y!.view('b', shape, broadcastStrides(y!.shape, y!.strides, shape)),
      out.view('out'));
    return out;
  } finally {
    if (ta !== a) ta.dispose();
    if (tb !== b) tb.dispose();
  }
}

/** a + b, broadcasting. @example tessera.add(x, bias) */
export function add(a: Operand, b: Operand): Tensor { return binary('add', a, b); }
/** a − b, broadcasting. */
export function sub(a: Operand, b: Operand): Tensor { return binary('sub', a, b); }
/** a · b elementwise, broadcasting. */
export function mul(a: Operand, b: Operand): Tensor { return binary('mul', a, b); }
/** a / b elementwise, broadcasting. */
export function div(a: Operand, b: Operand): Tensor { return binary('div', a, b); }

function unary(op: keyof typeof UnaryOpId, opName: string, x: unknown, alpha = 1): Tensor {
  const [t] = checkOperands('unary', [[x, 'x']], opName);
  return withContiguous(t!, (dense) => {
    const out = output(dense, dense.shape);
    native.unary(UnaryOpId[op], alpha, dense.view('x'), out.view('out'));
    return out;
  });
}

/** alpha · x. @example tessera.scale(x, 0.125) */
export function scale(x: Tensor, alpha: number): Tensor {
  return unary('scale', 'scale', x, checkFiniteNumber(alpha, 'alpha'));
}

/** x · sigmoid(x). */
export function silu(x: Tensor): Tensor { return unary('silu', 'silu', x); }

export interface GeluOptions {
  /** 'none' (default): the exact erf form; 'tanh': the tanh approximation. */
  approximate?: 'none' | 'tanh';
}

/** GELU, exact (erf) by default. @example tessera.gelu(x, { approximate: 'tanh' }) */
export function gelu(x: Tensor, options?: GeluOptions): Tensor {
  const opts = checkOpts<GeluOptions>(options);
  const approximate = opts.approximate ?? 'none';
  if (approximate !== 'none' && approximate !== 'tanh') fail('E_ARGUMENT', "'none' or 'tanh'", 'options.approximate', approximate);
  return unary(approximate === 'tanh' ? 'geluTanh' : 'geluErf', 'gelu', x);
}
