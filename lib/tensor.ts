/**
 * Tensor: a typed, shaped view of reference-counted device memory.
 *
 * Ops validate on the calling thread, queue their kernel on the device's stream
 * and return a new Tensor at once; `await t.data()` resolves when the stream
 * has run that far. Every Tensor (views included) owns one reference to its
 * storage: dispose() drops it at once, and the native handle's GC finalizer is
 * only the backstop for tensors that are never disposed.
 */
import { type DeviceSpec, parseDevice } from './device.js';
import { DTYPE_ID, DTYPE_SIZE, DTYPES, type AnyTypedArray, type DType, checkDType, viewBytes } from './dtype.js';
import { fail, failRaw, TesseraError } from './errors.js';
import { native, type NativeView, type StorageHandle } from './native.js';
import { byteSize, checkAxis, checkShape, contiguousStrides, formatShape, numelOf } from './shape.js';

export interface ToOptions {
  device?: string;
  dtype?: DType;
}

export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Element strides of this view into its storage. */
  readonly strides: readonly number[];
  /** Element offset of this view into its storage. */
  readonly offset: number;
  /** @internal */
  readonly deviceSpec: DeviceSpec;
  #handle: StorageHandle | null;

  /** @internal Tensors come from tessera's factories and ops, not from `new`. */
  constructor(handle: StorageHandle, device: DeviceSpec, dtype: DType, shape: readonly number[],
    strides: readonly number[] = contiguousStrides(shape), offset = 0) {
    this.#handle = handle;
    this.deviceSpec = device;
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
  }

  /** @internal Allocates an uninitialized contiguous tensor. */
  static allocate(device: DeviceSpec, dtype: DType, shape: readonly number[], name = 'shape'): Tensor {
    const bytes = byteSize(shape, DTYPE_SIZE[dtype], name);
    return new Tensor(native.alloc(device.kind, device.index, bytes), device, dtype, shape);
  }

  get device(): string {
    return this.deviceSpec.name;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get numel(): number {
    return numelOf(this.shape);
  }

  get disposed(): boolean {
    return this.#handle === null || this.#handle.disposed;
  }

  get isContiguous(): boolean {
    if (this.numel === 0) return true;
    let expect = 1;
    for (let i = this.shape.length - 1; i >= 0; --i) {
      if (this.shape[i] !== 1 && this.strides[i] !== expect) return false;
      expect *= this.shape[i]!;
    }
    return true;
  }

  /** "Tensor(float32, [2, 3], cpu)": how error messages show a tensor. */
  describe(): string {
    return `Tensor(${this.dtype}, ${formatShape(this.shape)}, ${this.device}${this.disposed ? ', disposed' : ''})`;
  }

  toString(): string {
    return this.describe();
  }

  /** @internal The storage handle; throws E_DISPOSED after dispose(). */
  handle(name = 'tensor'): StorageHandle {
    if (this.#handle === null || this.#handle.disposed) {
      throw new TesseraError('E_DISPOSED', `Expected a live tensor for ${name} but received ${this.describe()}`);
    }
    return this.#handle;
  }

  /** @internal What native code sees of this tensor. */
  view(name = 'tensor', shape: readonly number[] = this.shape, strides: readonly number[] = this.strides): NativeView {
    return { handle: this.handle(name), dtype: DTYPE_ID[this.dtype], offset: this.offset, shape: [...shape], strides: [...strides] };
  }

  /** @internal A new view of the same storage (its own reference). */
  viewAs(shape: readonly number[], strides: readonly number[], offset: number): Tensor {
    return new Tensor(this.handle().share(), this.deviceSpec, this.dtype, shape, strides, offset);
  }

  /** Frees this tensor's reference to its memory now. Idempotent. */
  dispose(): void {
    this.#handle?.dispose();
    this.#handle = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * Same data, another shape; one dimension may be -1. A view when the tensor
   * is contiguous, else a copy.
   * @example x.reshape([2, -1])
   */
  reshape(shape: readonly number[]): Tensor {
    this.handle();
    if (!Array.isArray(shape)) fail('E_SHAPE', 'an array of integers', 'shape', shape);
    let inferAt = -1;
    let known = 1;
    shape.forEach((d, i) => {
      if (d === -1 && inferAt < 0) inferAt = i;
      else if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
        fail('E_SHAPE', 'an array of non-negative integers with at most one -1', 'shape', shape);
      } else known *= d;
    });
    const target = [...shape];
    if (inferAt >= 0) {
      if (known === 0 || this.numel % known !== 0) {
        failRaw('E_SHAPE', `a shape whose size divides ${this.numel}`, 'shape', formatShape(shape));
      }
      target[inferAt] = this.numel / known;
    }
    checkShape(target, 'shape');
    if (numelOf(target) !== this.numel) {
      failRaw('E_SHAPE', `a shape of ${this.numel} elements (from ${formatShape(this.shape)})`, 'shape', formatShape(shape));
    }
    if (!this.isContiguous) {
      const c = this.contiguous();
      try {
        return c.reshape(target);
      } finally {
        c.dispose();
      }
    }
    return this.viewAs(target, contiguousStrides(target), this.offset);
  }

  /** Swaps two axes (negative axes count from the end); a view. */
  transpose(axisA: number, axisB: number): Tensor {
    this.handle();
    const a = checkAxis(axisA, this.ndim, 'axisA');
    const b = checkAxis(axisB, this.ndim, 'axisB');
    const shape = [...this.shape];
    const strides = [...this.strides];
    [shape[a], shape[b]] = [shape[b]!, shape[a]!];
    [strides[a], strides[b]] = [strides[b]!, strides[a]!];
    return this.viewAs(shape, strides, this.offset);
  }

  /**
   * Elements [start, end) along one axis; a view. Negative indices count from the end.
   * @example x.slice(-1, 0, 64) // the first 64 columns
   */
  slice(axis: number, start: number, end: number = Number.MAX_SAFE_INTEGER): Tensor {
    this.handle();
    const ax = checkAxis(axis, this.ndim, 'axis');
    const size = this.shape[ax]!;
    const norm = (v: unknown, name: string): number => {
      if (typeof v !== 'number' || !Number.isInteger(v)) fail('E_ARGUMENT', 'an integer', name, v);
      return Math.min(Math.max(v < 0 ? v + size : v, 0), size);
    };
    const s = norm(start, 'start');
    const e = Math.max(norm(end, 'end'), s);
    const shape = [...this.shape];
    shape[ax] = e - s;
    return this.viewAs(shape, this.strides, this.offset + s * this.strides[ax]!);
  }

  /** @internal A view reading this tensor as `shape` (NumPy broadcasting, stride 0). */
  broadcastTo(shape: readonly number[]): Tensor {
    const lead = shape.length - this.ndim;
    const strides = shape.map((d, i) => {
      const own = i - lead;
      if (own < 0) return 0;
      return this.shape[own] === 1 && d !== 1 ? 0 : this.strides[own]!;
    });
    return this.viewAs(shape, strides, this.offset);
  }

  /** A tensor with the same data laid out densely (a new reference, copied only when needed). */
  contiguous(): Tensor {
    this.handle();
    if (this.isContiguous) return this.viewAs(this.shape, this.strides, this.offset);
    return this.convert(this.dtype);
  }

  /** @internal Copies into a new contiguous tensor of `dtype` on this device. */
  convert(dtype: DType): Tensor {
    const out = Tensor.allocate(this.deviceSpec, dtype, this.shape);
    native.copy(this.view('tensor'), out.view('out'));
    return out;
  }

  /**
   * Moves and/or converts: `t.to('cuda')`, `t.to('float16')`, `t.to({device, dtype})`.
   * Conversions run natively (F16C/AVX2 on the CPU, a kernel on CUDA). Always a new tensor.
   */
  to(target: string | ToOptions): Tensor {
    this.handle();
    let device = this.deviceSpec;
    let dtype = this.dtype;
    if (typeof target === 'string') {
      if ((DTYPES as readonly string[]).includes(target)) dtype = target as DType;
      else if (/^(cpu|emu|cuda(:.*)?)$/.test(target)) device = parseDevice(target, 'target');
      else fail('E_ARGUMENT', `a device ('cpu', 'emu', 'cuda', 'cuda:N') or a dtype (${DTYPES.join(', ')})`, 'target', target);
    } else if (target !== null && typeof target === 'object') {
      if (target.device !== undefined) device = parseDevice(target.device, 'target.device');
      if (target.dtype !== undefined) dtype = checkDType(target.dtype, 'target.dtype');
    } else {
      fail('E_ARGUMENT', 'a device, a dtype or {device, dtype}', 'target', target);
    }
    if (device.name === this.device) {
      return dtype === this.dtype ? this.contiguous() : this.convert(dtype);
    }
    // Convert (or compact) on the source device, then move the dense bytes.
    const dense = dtype === this.dtype ? this.contiguous() : this.convert(dtype);
    try {
      const out = Tensor.allocate(device, dtype, this.shape);
      native.copy(dense.view('tensor'), out.view('out'));
      return out;
    } finally {
      dense.dispose();
    }
  }

  /**
   * The values, once the device's stream has computed them. Never blocks the
   * event loop. fp16/bf16 come back as Uint16Array bit patterns.
   */
  async data(): Promise<AnyTypedArray> {
    const dense = this.contiguous();
    try {
      const bytes = numelOf(this.shape) * DTYPE_SIZE[this.dtype];
      const buffer = await native.read(dense.handle(), dense.offset * DTYPE_SIZE[this.dtype], bytes);
      return viewBytes(this.dtype, buffer);
    } finally {
      dense.dispose();
    }
  }

  /** Like data(), but waits on the calling thread: for scripts, not for servers. */
  dataSync(): AnyTypedArray {
    const dense = this.contiguous();
    try {
      const bytes = numelOf(this.shape) * DTYPE_SIZE[this.dtype];
      return viewBytes(this.dtype, native.readSync(dense.handle(), dense.offset * DTYPE_SIZE[this.dtype], bytes));
    } finally {
      dense.dispose();
    }
  }
}

/** Throws unless `value` is a live Tensor; names the argument. */
export function checkTensor(value: unknown, name: string): Tensor {
  if (!(value instanceof Tensor)) fail('E_ARGUMENT', 'a Tensor', name, value);
  value.handle(name);
  return value;
}
