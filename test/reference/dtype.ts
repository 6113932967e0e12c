/**
 * Rounding a float64 to the floating formats tessera stores, and decoding their
 * bit patterns, written from the IEEE 754 definitions (not from tessera's code):
 * round to nearest, ties to even, gradual underflow through the subnormals, and
 * overflow to ±Infinity. Integer formats round to nearest even and saturate;
 * NaN becomes 0 (tessera's documented choice, as C++ leaves it undefined).
 *
 * p = significand bits including the implicit one, emin/emax the exponent range
 * of the normal numbers.
 */

export type FloatDType = 'float32' | 'float16' | 'bfloat16';
export type IntDType = 'int8' | 'uint8' | 'int32';
export type AnyDType = FloatDType | IntDType;

interface BinaryFormat {
  p: number;
  emin: number;
  emax: number;
}

const FORMATS: Readonly<Record<FloatDType, BinaryFormat>> = {
  float32: { p: 24, emin: -126, emax: 127 },
  float16: { p: 11, emin: -14, emax: 15 },
  bfloat16: { p: 8, emin: -126, emax: 127 },
};

export function isFloatDType(dtype: string): dtype is FloatDType {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16';
}

const f64 = new Float64Array(1);
const u32of64 = new Uint32Array(f64.buffer);
// Little-endian hosts (x86, ARM as Node runs it): word 1 holds sign, exponent and the top mantissa bits.
const HI = 1;

/** floor(log2 |x|) for a finite nonzero double, exactly (Math.log2 can be off by one near powers of two). */
function exponentOf(x: number): number {
  f64[0] = x;
  const biased = (u32of64[HI]! >>> 20) & 0x7ff;
  if (biased !== 0) return biased - 1023;
  // A subnormal double: scale into the normal range first.
  return exponentOf(x * 2 ** 64) - 64;
}

/** Rounds v >= 0 to an integer, ties to even. v - floor(v) is exact for the magnitudes used here. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function roundToFormat(x: number, fmt: BinaryFormat): number {
  if (Number.isNaN(x) || !Number.isFinite(x) || x === 0) return x;
  const neg = x < 0;
  const a = Math.abs(x);
  // The spacing of representable values at |x|: 2^(e - (p - 1)), with e clamped
  // at emin so that values below the normal range fall on the subnormal grid.
  const q = Math.max(exponentOf(a), fmt.emin) - (fmt.p - 1);
  // a * 2^-q < 2^p + 1, so the scaling and the rounding below are exact in a double.
  const r = roundHalfEven(a * 2 ** -q) * 2 ** q;
  const maxFinite = (2 - 2 ** (1 - fmt.p)) * 2 ** fmt.emax;
  const out = r > maxFinite ? Infinity : r;
  return neg ? -out : out;
}

/** Rounds a float64 to the nearest float32 (the engine's own conversion). */
export function roundToFloat32(x: number): number {
  return Math.fround(x);
}

/** Rounds a float64 to the nearest IEEE binary16 value, ties to even; |x| >= 65520 becomes ±Infinity. */
export function roundToFloat16(x: number): number {
  return roundToFormat(x, FORMATS.float16);
}

/** Rounds a float64 to the nearest bfloat16 value, ties to even. */
export function roundToBFloat16(x: number): number {
  return roundToFormat(x, FORMATS.bfloat16);
}

const INT_RANGE: Readonly<Record<IntDType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int32: [-2147483648, 2147483647],
};

export function intRange(dtype: IntDType): [number, number] {
  return INT_RANGE[dtype];
}

/** Float to integer conversion: round to nearest even, saturate to the range, NaN to 0. */
export function roundToInt(x: number, dtype: IntDType): number {
  if (Number.isNaN(x)) return 0;
  const [lo, hi] = INT_RANGE[dtype];
  if (x <= lo) return lo;
  if (x >= hi) return hi;
  const r = x < 0 ? -roundHalfEven(-x) : roundHalfEven(x);
  return r === 0 ? 0 : r; // no -0 in an integer
}

/** The value `x` becomes when stored as `dtype`. */
export function roundTo(dtype: AnyDType, x: number): number {
  switch (dtype) {
    case 'float32': return roundToFloat32(x);
    case 'float16': return roundToFloat16(x);
    case 'bfloat16': return roundToBFloat16(x);
    default: return roundToInt(x, dtype);
  }
}

export function roundArray(dtype: AnyDType, values: ArrayLike<number>): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < out.length; ++i) out[i] = roundTo(dtype, values[i]!);
  return out;
}

/** The distance between adjacent `dtype` values at magnitude |x| (the subnormal spacing below the normal range). */
export function ulp(dtype: FloatDType, x: number): number {
  const fmt = FORMATS[dtype];
  const a = Math.abs(x);
  const e = a === 0 || !Number.isFinite(a) ? fmt.emin : Math.max(exponentOf(a), fmt.emin);
  return 2 ** (Math.min(e, fmt.emax) - (fmt.p - 1));
}

/** IEEE binary16 bit pattern -> value (exact). */
export function decodeFloat16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** bfloat16 bit pattern -> value (exact): the top half of a float32. */
export function decodeBFloat16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 7) & 0xff;
  const mant = bits & 0x7f;
  if (exp === 0xff) return mant === 0 ? sign * Infinity : NaN;
  if (exp === 0) return sign * mant * 2 ** -133;
  return sign * (128 + mant) * 2 ** (exp - 134);
}

/** The binary16 bit pattern of roundToFloat16(x) (NaN as the quiet NaN 0x7e00). */
export function encodeFloat16(x: number): number {
  const v = roundToFloat16(x);
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | (a * 2 ** 24);
  const e = exponentOf(a);
  return sign | ((e + 15) << 10) | (a * 2 ** (10 - e) - 1024);
}

/** The bfloat16 bit pattern of roundToBFloat16(x) (NaN as the quiet NaN 0x7fc0). */
export function encodeBFloat16(x: number): number {
  const v = roundToBFloat16(x);
  if (Number.isNaN(v)) return 0x7fc0;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7f80;
  if (a < 2 ** -126) return sign | (a * 2 ** 133);
  const e = exponentOf(a);
  return sign | ((e + 127) << 7) | (a * 2 ** (7 - e) - 128);
}

/** Values of a tensor read back from tessera (fp16/bf16 arrive as bit patterns), as float64. */
export function decodeArray(dtype: AnyDType, data: ArrayLike<number>): Float64Array {
  const out = new Float64Array(data.length);
  if (dtype === 'float16') for (let i = 0; i < out.length; ++i) out[i] = decodeFloat16(data[i]!);
  else if (dtype === 'bfloat16') for (let i = 0; i < out.length; ++i) out[i] = decodeBFloat16(data[i]!);
  else for (let i = 0; i < out.length; ++i) out[i] = data[i]!;
  return out;
}
