/** Shape checks and shape math shared by tensors and ops. */
import { fail, failRaw } from './errors.js';

export const MAX_DIMS = 8;

/** Validates a user-given shape: up to 8 non-negative safe integers. */
export function checkShape(value: unknown, name: string): number[] {
  if (!Array.isArray(value)) fail('E_SHAPE', 'an array of non-negative integers', name, value);
  if (value.length > MAX_DIMS) fail('E_SHAPE', `at most ${MAX_DIMS} dimensions`, name, value);
  for (const d of value) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      fail('E_SHAPE', 'an array of non-negative integers', name, value);
    }
  }
  return [...(value as number[])];
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Bytes for a shape, refusing counts a double cannot hold exactly. */
export function byteSize(shape: readonly number[], elementSize: number, name: string): number {
  const bytes = numelOf(shape) * elementSize;
  if (!Number.isSafeInteger(bytes)) {
    failRaw('E_ARGUMENT', 'a byte size below 2^53', name, `shape [${shape.join(', ')}] (${bytes} bytes)`);
  }
  return bytes;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  // Nothing is read through an empty tensor's strides; keep them small for native code.
  if (shape.includes(0)) return shape.map(() => 0);
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** Normalizes a possibly negative axis; throws E_ARGUMENT when out of range. */
export function checkAxis(axis: unknown, ndim: number, name: string): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -ndim || axis >= ndim) {
    fail('E_ARGUMENT', `an integer axis in [${-ndim}, ${ndim - 1}]`, name, axis);
  }
  return axis < 0 ? axis + ndim : axis;
}

/** NumPy broadcasting of two shapes; throws E_SHAPE naming both. */
export function broadcastShapes(a: readonly number[], b: readonly number[], names: [string, string]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; ++i) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      failRaw('E_SHAPE', `a shape that broadcasts with ${names[0]} [${a.join(', ')}]`, names[1], `[${b.join(', ')}]`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read a tensor of `shape`/`strides` as if it had `target` shape. */
export function broadcastStrides(shape: readonly number[], strides: readonly number[], target: readonly number[]): number[] {
  const out = new Array<number>(target.length).fill(0);
  const lead = target.length - shape.length;
  for (let i = 0; i < shape.length; ++i) out[lead + i] = shape[i] === 1 ? 0 : strides[i]!;
  return out;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
