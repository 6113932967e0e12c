/** Checks every op shares: operands on one device, one dtype, supported there. */
import { requireSupport } from '../device.js';
import { isFloating, type DType } from '../dtype.js';
import { fail, failRaw } from '../errors.js';
import { native } from '../native.js';
import type { OpKind } from '../native.js';
import { checkTensor, Tensor } from '../tensor.js';

/** Validates tensors for one op: live, same device as the first, same dtype, supported. */
export function checkOperands(op: OpKind, operands: Array<[unknown, string]>, opName: string = op): Tensor[] {
  const tensors = operands.map(([value, name]) => checkTensor(value, name));
  const first = tensors[0]!;
  tensors.forEach((t, i) => {
    const name = operands[i]![1];
    if (t.device !== first.device) {
      failRaw('E_DEVICE', `a tensor on ${first.device} (the device of ${operands[0]![1]})`, name, t.describe());
    }
    if (t.dtype !== first.dtype) {
      failRaw('E_DTYPE', `a ${first.dtype} tensor (the dtype of ${operands[0]![1]})`, name, t.describe());
    }
  });
  if (!isFloating(first.dtype)) {
    failRaw('E_DTYPE', 'a float32, float16 or bfloat16 tensor', `${operands[0]![1]} of ${opName}`, first.describe());
  }
  requireSupport(first.deviceSpec, op, first.dtype, operands[0]![1]);
  return tensors;
}

/** Options objects: undefined or a plain object. */
export function checkOpts<T extends object>(value: unknown, name = 'options'): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('E_ARGUMENT', 'an options object', name, value);
  return value as Partial<T>;
}

export function checkFiniteNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail('E_ARGUMENT', 'a finite number', name, value);
  return value;
}

export function checkPositiveNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail('E_ARGUMENT', 'a positive finite number', name, value);
  return value;
}

/** A scalar operand as a 0-d tensor on the other operand's device and dtype. */
export function scalarLike(value: number, like: Tensor): Tensor {
  const out = Tensor.allocate(like.deviceSpec, like.dtype, []);
  native.fill(out.view('out'), value);
  return out;
}

/** Allocates the contiguous output of an op. */
export function output(like: Tensor, shape: readonly number[], dtype: DType = like.dtype): Tensor {
  return Tensor.allocate(like.deviceSpec, dtype, shape);
}

/**
 * Runs fn on a contiguous version of t (undefined stays undefined): t itself when it
 * is contiguous — the queued kernel holds its own native reference, and a second JS
 * handle per operand (made, disposed, then finalized by the GC) was about a fifth of
 * a small qmatmul's call cost (median 27.8 → 21.0 µs, five alternating runs) — else a
 * contiguous copy, disposed once the kernel is queued.
 */
export function withContiguous<T extends Tensor | undefined, R>(t: T, fn: (dense: T) => R): R {
  if (t == null || t.isContiguous) return fn(t);
  const dense = t.contiguous() as T & Tensor;
  try {
    return fn(dense);
  } finally {
    dense.dispose();
  }
}
