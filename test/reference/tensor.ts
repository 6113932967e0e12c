/**
 * The float64 tensor the references compute on: row-major values and a shape,
 * plus the layout helpers (broadcasting, transpose, slice) the parity harness
 * uses to mirror tessera's views. Nothing here touches tessera.
 */

export interface RefTensor {
  readonly data: Float64Array;
  readonly shape: readonly number[];
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function refTensor(data: ArrayLike<number>, shape: readonly number[]): RefTensor {
  if (data.length !== numelOf(shape)) throw new Error(`reference: ${data.length} values for shape [${shape.join(', ')}]`);
  return { data: Float64Array.from(data), shape: [...shape] };
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** NumPy broadcasting: dimensions align from the right; each pair is equal or one of them is 1. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; ++i) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`reference: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/**
 * Reads `t` as if it had shape `target` (broadcasting) through an arbitrary
 * strided view: element `flat` of the result is `t.data[source(flat)]`.
 */
function gather(t: RefTensor, target: readonly number[], strides: readonly number[], offset: number): RefTensor {
  const n = numelOf(target);
  const out = new Float64Array(n);
  const index = new Array<number>(target.length).fill(0);
  for (let flat = 0; flat < n; ++flat) {
    let src = offset;
    for (let d = 0; d < target.length; ++d) src += index[d]! * strides[d]!;
    out[flat] = t.data[src]!;
    for (let d = target.length - 1; d >= 0; --d) {
      if (++index[d]! < target[d]!) break;
      index[d] = 0;
    }
  }
  return { data: out, shape: [...target] };
}

/** A dense copy of `t` broadcast to `target`. */
export function broadcastTo(t: RefTensor, target: readonly number[]): RefTensor {
  const own = contiguousStrides(t.shape);
  const lead = target.length - t.shape.length;
  const strides = target.map((_, i) => (i < lead || t.shape[i - lead] === 1 ? 0 : own[i - lead]!));
  return gather(t, target, strides, 0);
}

/** A dense copy of `t` with axes a and b swapped. */
export function transpose(t: RefTensor, axisA: number, axisB: number): RefTensor {
  const nd = t.shape.length;
  const a = axisA < 0 ? axisA + nd : axisA;
  const b = axisB < 0 ? axisB + nd : axisB;
  const shape = [...t.shape];
  const strides = contiguousStrides(t.shape);
  [shape[a], shape[b]] = [shape[b]!, shape[a]!];
  [strides[a], strides[b]] = [strides[b]!, strides[a]!];
  return gather(t, shape, strides, 0);
}

/** A dense copy of elements [start, end) along one axis (negative values count from the end, clamped). */
export function slice(t: RefTensor, axis: number, start: number, end = Number.MAX_SAFE_INTEGER): RefTensor {
  const nd = t.shape.length;
  const ax = axis < 0 ? axis + nd : axis;
  const size = t.shape[ax]!;
  const norm = (v: number): number => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
  const s = norm(start);
  const e = Math.max(norm(end), s);
  const shape = [...t.shape];
  shape[ax] = e - s;
  const strides = contiguousStrides(t.shape);
  return gather(t, shape, strides, s * strides[ax]!);
}

export function map(t: RefTensor, fn: (v: number, i: number) => number): RefTensor {
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < out.length; ++i) out[i] = fn(t.data[i]!, i);
  return { data: out, shape: [...t.shape] };
}

/** The rows of the last axis: `rows` rows of `cols` values each. */
export function rowsOf(shape: readonly number[]): { rows: number; cols: number } {
  if (shape.length === 0) throw new Error('reference: a row op needs at least one dimension');
  const cols = shape[shape.length - 1]!;
  return { rows: numelOf(shape.slice(0, -1)), cols };
}
