/** Element types, their sizes, and the typed arrays that carry them in JS. */
import { fail } from './errors.js';

export type DType = 'float32' | 'float16' | 'bfloat16' | 'int8' | 'uint8' | 'int32';

export const DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16', 'int8', 'uint8', 'int32'];

/** Ids shared with native/core/dtype.h. */
export const DTYPE_ID: Readonly<Record<DType, number>> = {
  float32: 0,
  float16: 1,
  bfloat16: 2,
  int8: 3,
  uint8: 4,
  int32: 5,
};

export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int8: 1,
  uint8: 1,
  int32: 4,
};

/** What data() returns per dtype: fp16 and bf16 come back as raw bit patterns. */
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float16' | 'bfloat16'
    ? Uint16Array
    : D extends 'int8'
      ? Int8Array
      : D extends 'uint8'
        ? Uint8Array
        : Int32Array;

export type AnyTypedArray = Float32Array | Uint16Array | Int8Array | Uint8Array | Int32Array;

export function isFloating(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16';
}

export function checkDType(value: unknown, name: string): DType {
  if (typeof value !== 'string' || !(DTYPES as readonly string[]).includes(value)) {
    fail('E_DTYPE', `one of ${DTYPES.join(', ')}`, name, value);
  }
  return value as DType;
}

/** Views raw bytes read back from a device as the dtype's typed array. */
export function viewBytes(dtype: DType, buffer: ArrayBuffer): AnyTypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buffer);
    case 'int8':
      return new Int8Array(buffer);
    case 'uint8':
      return new Uint8Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
  }
}

/** The runtime's Float16Array constructor, where it has one (Node 24+, or a flag). */
export function float16ArrayConstructor(): (new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => ArrayBufferView) | undefined {
  return (globalThis as { Float16Array?: new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => ArrayBufferView }).Float16Array;
}

// Scalar conversions for tests and small host-side helpers. The bulk
// conversions of tensor data run natively (see Tensor.to).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** fp16 bit pattern -> number (exact). */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** bf16 bit pattern -> number (exact). */
export function bfloat16BitsToNumber(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0]!;
}
