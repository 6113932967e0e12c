/** Tensor factories: from JS data, constant fills, and seeded random tensors. */
import { defaultDevice, parseDevice, type DeviceSpec } from './device.js';
import { type DType, checkDType, float16ArrayConstructor, isFloating } from './dtype.js';
import { fail, failRaw } from './errors.js';
import { native, RandomDistId } from './native.js';
import { checkShape, formatShape, MAX_DIMS, numelOf } from './shape.js';
import { Tensor } from './tensor.js';

export interface CreateOptions {
  dtype?: DType;
  device?: string;
}

export interface TensorOptions extends CreateOptions {
  shape?: readonly number[];
}

export interface RandomOptions extends CreateOptions {
  /** Any integer in [0, 2^53); the same seed gives the same tensor on every device. */
  seed?: number;
}

function resolveDevice(opts: CreateOptions | undefined, name: string): DeviceSpec {
  return parseDevice(opts?.device ?? defaultDevice(), `${name}.device`);
}

function checkOptions<T extends object>(opts: unknown, name: string): T | undefined {
  if (opts === undefined) return undefined;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) fail('E_ARGUMENT', 'an options object', name, opts);
  return opts as T;
}

/** Flattens nested number arrays, inferring the shape; rejects ragged input. */
function flatten(data: unknown[], name: string): { values: number[]; shape: number[] } {
  const shape: number[] = [];
  let level: unknown = data;
  while (Array.isArray(level)) {
    if (shape.length === MAX_DIMS) failRaw('E_SHAPE', `at most ${MAX_DIMS} dimensions`, name, `an array nested more than ${MAX_DIMS} deep`);
    shape.push(level.length);
    level = level[0];
  }
  const values: number[] = [];
  const walk = (node: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) failRaw('E_SHAPE', `a rectangular nested array of shape ${formatShape(shape)}`, name, 'a ragged array');
      if (typeof node !== 'number') fail('E_ARGUMENT', 'numbers', `${name} elements`, node);
      values.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      failRaw('E_SHAPE', `a rectangular nested array of shape ${formatShape(shape)}`, name, 'a ragged array');
    }
    for (const child of node) walk(child, depth + 1);
  };
  walk(data, 0);
  return { values, shape };
}

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int32: [-2147483648, 2147483647],
};

/** Packs plain numbers for upload; float16/bf16 travel as float32 and are converted natively. */
function packNumbers(values: ArrayLike<number>, dtype: DType, name: string): { bytes: ArrayBufferView; uploadDType: DType } {
  const range = INT_RANGE[dtype];
  if (range) {
    const out = dtype === 'int8' ? new Int8Array(values.length) : dtype === 'uint8' ? new Uint8Array(values.length) : new Int32Array(values.length);
    for (let i = 0; i < values.length; ++i) {
      const v = values[i]!;
      if (!Number.isInteger(v) || v < range[0] || v > range[1]) {
        fail('E_ARGUMENT', `integers in [${range[0]}, ${range[1]}] for dtype ${dtype}`, `${name}[${i}]`, v);
      }
      out[i] = v;
    }
    return { bytes: out, uploadDType: dtype };
  }
  return { bytes: values instanceof Float32Array ? values : Float32Array.from(values), uploadDType: 'float32' };
}

/** The dtype a typed array implies, when it implies one. */
function impliedDType(data: ArrayBufferView): DType | undefined {
  if (data instanceof Float32Array || data instanceof Float64Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  const F16 = float16ArrayConstructor();
  if (F16 && data instanceof F16) return 'float16';
  return undefined;
}

/**
 * A tensor from JS data: a typed array or (nested) number arrays.
 * fp16/bf16 bit patterns come as a Uint16Array with `dtype` set.
 * @example tessera.tensor([[1, 2], [3, 4]])                       // float32 [2, 2]
 * @example tessera.tensor(bits, { shape: [8], dtype: 'float16' }) // bits: Uint16Array
 */
export function tensor(data: ArrayBufferView | readonly unknown[] | number, options?: TensorOptions): Tensor {
  const opts = checkOptions<TensorOptions>(options, 'options');
  const device = resolveDevice(opts, 'options');
  let values: ArrayLike<number> | ArrayBufferView;
  let inferredShape: number[];
  let dtype: DType | undefined = opts?.dtype === undefined ? undefined : checkDType(opts.dtype, 'options.dtype');

  if (typeof data === 'number') {
    values = [data];
    inferredShape = [];
  } else if (Array.isArray(data)) {
    const flat = flatten(data as unknown[], 'data');
    values = flat.values;
    inferredShape = flat.shape;
  } else if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    values = data;
    inferredShape = [(data as unknown as { length: number }).length];
    const implied = impliedDType(data);
    if (data instanceof Uint16Array) {
      if (dtype !== 'float16' && dtype !== 'bfloat16') {
        fail('E_DTYPE', "dtype 'float16' or 'bfloat16' with a Uint16Array of bit patterns", 'options.dtype', dtype);
      }
    } else if (implied === undefined) {
      fail('E_ARGUMENT', 'a Float32Array, Float64Array, Int32Array, Int8Array, Uint8Array, Uint16Array or Float16Array', 'data', data);
    }
    dtype ??= implied;
  } else {
    return fail('E_ARGUMENT', 'a typed array, a (nested) number array or a number', 'data', data);
  }
  dtype ??= 'float32';

  const count = ArrayBuffer.isView(values) ? (values as unknown as { length: number }).length : (values as ArrayLike<number>).length;
  const shape = opts?.shape === undefined ? inferredShape : checkShape(opts.shape, 'options.shape');
  if (numelOf(shape) !== count) {
    failRaw('E_SHAPE', `a shape of ${count} elements`, 'options.shape', formatShape(shape));
  }

  // Bit patterns and typed arrays of the exact dtype upload as they are.
  const F16 = float16ArrayConstructor();
  const exact =
    (values instanceof Uint16Array && (dtype === 'float16' || dtype === 'bfloat16')) ||
    (F16 !== undefined && values instanceof F16 && dtype === 'float16') ||
    (values instanceof Float32Array && dtype === 'float32') ||
    (values instanceof Int32Array && dtype === 'int32') ||
    (values instanceof Int8Array && dtype === 'int8') ||
    (values instanceof Uint8Array && dtype === 'uint8');
  if (exact) {
    const out = Tensor.allocate(device, dtype, shape, 'options.shape');
    native.upload(out.handle(), 0, values as ArrayBufferView);
    return out;
  }
  const numbers = F16 !== undefined && values instanceof F16 ? Float32Array.from(values as unknown as ArrayLike<number>) : (values as ArrayLike<number>);
  const packed = packNumbers(numbers, dtype, 'data');
  const staged = Tensor.allocate(device, packed.uploadDType, shape, 'options.shape');
  native.upload(staged.handle(), 0, packed.bytes);
  if (packed.uploadDType === dtype) return staged;
  try {
    return staged.convert(dtype);
  } finally {
    staged.dispose();
  }
}

/** A tensor filled with `value` (converted to the dtype: rounded and saturated for integers). */
export function full(shape: readonly number[], value: number, options?: CreateOptions): Tensor {
  const s = checkShape(shape, 'shape');
  if (typeof value !== 'number') fail('E_ARGUMENT', 'a number', 'value', value);
  const opts = checkOptions<CreateOptions>(options, 'options');
  const dtype = opts?.dtype === undefined ? 'float32' : checkDType(opts.dtype, 'options.dtype');
  const out = Tensor.allocate(resolveDevice(opts, 'options'), dtype, s);
  native.fill(out.view('out'), value);
  return out;
}

export function zeros(shape: readonly number[], options?: CreateOptions): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: readonly number[], options?: CreateOptions): Tensor {
  return full(shape, 1, options);
}

/** Uninitialized memory: every element must be written before it is read. */
export function empty(shape: readonly number[], options?: CreateOptions): Tensor {
  const s = checkShape(shape, 'shape');
  const opts = checkOptions<CreateOptions>(options, 'options');
  const dtype = opts?.dtype === undefined ? 'float32' : checkDType(opts.dtype, 'options.dtype');
  return Tensor.allocate(resolveDevice(opts, 'options'), dtype, s);
}

function randomTensor(shape: readonly number[], options: RandomOptions | undefined, dist: number, a: number, b: number): Tensor {
  const s = checkShape(shape, 'shape');
  const opts = checkOptions<RandomOptions>(options, 'options');
  const dtype = opts?.dtype === undefined ? 'float32' : checkDType(opts.dtype, 'options.dtype');
  if (!isFloating(dtype)) fail('E_DTYPE', 'a floating dtype (float32, float16, bfloat16)', 'options.dtype', dtype);
  const seed = opts?.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    fail('E_ARGUMENT', 'an integer in [0, 2^53)', 'options.seed', seed);
  }
  const out = Tensor.allocate(resolveDevice(opts, 'options'), dtype, s);
  native.random(out.view('out'), dist, Math.floor(seed / 2 ** 32), seed % 2 ** 32, a, b);
  return out;
}

/**
 * Standard normal samples, reproducible from `seed` on every device.
 * @example tessera.randn([2, 64], { seed: 1 })
 */
export function randn(shape: readonly number[], options?: RandomOptions): Tensor {
  return randomTensor(shape, options, RandomDistId.normal, 0, 1);
}

/** Uniform samples in (0, 1), reproducible from `seed` on every device. */
export function rand(shape: readonly number[], options?: RandomOptions): Tensor {
  return randomTensor(shape, options, RandomDistId.uniform, 0, 1);
}
