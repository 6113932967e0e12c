/**
 * KVCache: preallocated keys and values of one attention layer for decoding.
 *
 * Storage is k and v `[B, Hkv, capacity, D]`. Without a window, sequence b keeps its
 * tokens at rows 0 … length_b − 1. With `window: W` the cache is a ring of
 * `capacity` rows (token at absolute position p lives in row p % capacity), so
 * memory is O(capacity) however long the generation; `attend` then applies the
 * window [W − 1, 0], and the kernel reads the ring in place (no copy).
 */
import { parseDevice, defaultDevice } from '../device.js';
import { checkDType, isFloating, type DType } from '../dtype.js';
import { fail, failRaw, TesseraError } from '../errors.js';
import { native, type NativeView } from '../native.js';
import { formatShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { checkOperands, checkOpts } from '../ops/common.js';
import { attentionWith, type AttentionOptions, type AttentionResult } from './attention.js';
import { applyRope, planRope, type RopeConfig, type RopePlan } from './rope.js';

export interface KVCacheOptions {
  batch: number;
  kvHeads: number;
  /** A multiple of 8 up to 256. */
  headDim: number;
  /** Rows per sequence: the longest sequence without a window; the ring size with one (≥ window). */
  capacity: number;
  /** Keep only the last `window` keys per query (sliding-window attention, e.g. Mistral's 4096). */
  window?: number;
  dtype?: DType;
  device?: string;
  /** Rotate keys on append (positions are each sequence's absolute token positions). */
  rope?: RopeConfig;
}

export interface AppendOptions {
  /** Tokens of k / v to keep per sequence (≤ T; default T): sequences of different lengths in one batch. */
  lengths?: readonly number[];
}

/** attend's options: attention's, except that masking comes from the cache (causal, its window). */
export type AttendOptions = Pick<AttentionOptions, 'scale' | 'softcap' | 'alibi' | 'returnLse'>;

function checkCount(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > 2 ** 31 - 1) {
    fail('E_ARGUMENT', min === 0 ? 'a non-negative integer below 2^31' : `an integer from ${min} to 2^31 − 1`, name, value);
  }
  return value;
}

export class KVCache {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly capacity: number;
  readonly window: number | undefined;
  readonly dtype: DType;
  readonly device: string;
  #k: Tensor | null;
  #v: Tensor | null;
  #lengths: number[];
  #rope: RopePlan | null;

  /**
   * @example
   * const cache = new tessera.KVCache({ batch: 1, kvHeads: 8, headDim: 128, capacity: 4096, rope: {} });
   * cache.append(k, v);                               // [1, 8, T, 128], keys rotated on the way in
   * const out = cache.attend(tessera.rope(q, { offset: cache.length - T }));
   */
  constructor(options: KVCacheOptions) {
    const opts = checkOpts<KVCacheOptions>(options);
    this.batch = checkCount(opts.batch, 'options.batch', 1);
    this.kvHeads = checkCount(opts.kvHeads, 'options.kvHeads', 1);
    this.headDim = checkCount(opts.headDim, 'options.headDim', 8);
    if (this.headDim % 8 !== 0 || this.headDim > 256) fail('E_ARGUMENT', 'a multiple of 8 from 8 to 256', 'options.headDim', opts.headDim);
    this.capacity = checkCount(opts.capacity, 'options.capacity', 1);
    if (opts.window !== undefined) {
      this.window = checkCount(opts.window, 'options.window', 1);
      if (this.window > this.capacity) {
        failRaw('E_ARGUMENT', `a window of at most the capacity (${this.capacity})`, 'options.window', String(opts.window));
      }
    }
    this.dtype = opts.dtype === undefined ? 'float32' : checkDType(opts.dtype, 'options.dtype');
    if (!isFloating(this.dtype)) fail('E_DTYPE', 'float32, float16 or bfloat16', 'options.dtype', this.dtype);
    const device = parseDevice(opts.device ?? defaultDevice(), 'options.device');
    this.device = device.name;
    this.#rope = opts.rope === undefined ? null : planRope(opts.rope, this.headDim, 'options.rope');
    const shape = [this.batch, this.kvHeads, this.capacity, this.headDim];
    this.#k = Tensor.allocate(device, this.dtype, shape, 'options.capacity');
    try {
      this.#v = Tensor.allocate(device, this.dtype, shape, 'options.capacity');
    } catch (e) {
      this.#k.dispose();
      throw e;
    }
    this.#lengths = new Array<number>(this.batch).fill(0);
  }

  /** Tokens appended to the longest sequence. */
  get length(): number {
    return Math.max(...this.#lengths);
  }

  /** Tokens appended to each sequence. */
  get lengths(): readonly number[] {
    return [...this.#lengths];
  }

  get disposed(): boolean {
    return this.#k === null;
  }

  #tensors(): [Tensor, Tensor] {
    if (this.#k === null || this.#v === null) {
      throw new TesseraError('E_DISPOSED', 'Expected a live KVCache for cache but received a disposed KVCache');
    }
    return [this.#k, this.#v];
  }

  /**
   * Appends T tokens per sequence: k and v `[B, Hkv, T, D]` in the cache's dtype and
   * device. Keys are rotated first when the cache has `rope`.
   */
  append(k: Tensor, v: Tensor, options?: AppendOptions): void {
    const [ck, cv] = this.#tensors();
    const [tk, tv] = checkOperands('copy', [[k, 'k'], [v, 'v']]) as [Tensor, Tensor];
    const expect = [this.batch, this.kvHeads, tk.shape[2] ?? 0, this.headDim];
    for (const [t, name] of [[tk, 'k'], [tv, 'v']] as const) {
      if (t.device !== this.device) failRaw('E_DEVICE', `a tensor on ${this.device} (the cache's device)`, name, t.describe());
      if (t.dtype !== this.dtype) failRaw('E_DTYPE', `a ${this.dtype} tensor (the cache's dtype)`, name, t.describe());
      if (t.ndim !== 4 || t.shape.some((d, i) => d !== expect[i])) {
        failRaw('E_SHAPE', `[${this.batch}, ${this.kvHeads}, T, ${this.headDim}]`, name, formatShape(t.shape));
      }
    }
    const T = tk.shape[2]!;
    const opts = checkOpts<AppendOptions>(options);
    let counts = new Array<number>(this.batch).fill(T);
    if (opts.lengths !== undefined) {
      if (!Array.isArray(opts.lengths) || opts.lengths.length !== this.batch) {
        fail('E_ARGUMENT', `an array of ${this.batch} token counts`, 'options.lengths', opts.lengths);
      }
      counts = opts.lengths.map((n, b) => {
        if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > T) fail('E_ARGUMENT', `an integer from 0 to ${T}`, `options.lengths[${b}]`, n);
        return n;
      });
    }
    if (this.window === undefined) {
      const b = counts.findIndex((n, i) => this.#lengths[i]! + n > this.capacity);
      if (b >= 0) {
        failRaw('E_ARGUMENT', `at most ${this.capacity - this.#lengths[b]!} more tokens (capacity ${this.capacity})`,
          `k (sequence ${b})`, `${counts[b]} tokens`);
      }
    }
    if (this.#lengths.some((n, b) => n + counts[b]! > 2 ** 31 - 1)) fail('E_ARGUMENT', 'fewer than 2^31 tokens per sequence', 'k', T);
    if (T === 0) return;

    let keys = tk;
    if (this.#rope) {
      const positions = new Int32Array(this.batch * T);
      for (let b = 0; b < this.batch; ++b) for (let t = 0; t < T; ++t) positions[b * T + t] = this.#lengths[b]! + t;
      keys = applyRope(tk, this.#rope, positions, this.batch > 1, 0);
    }
    try {
      for (let b = 0; b < this.batch; ++b) {
        // The last `capacity` tokens of a chunk are all a ring can keep.
        const skip = Math.max(0, counts[b]! - this.capacity);
        for (const [src, dst] of [[keys, ck], [tv, cv]] as const) {
          this.#copyRows(src, dst, b, skip, counts[b]! - skip, this.#lengths[b]! + skip);
        }
      }
    } finally {
      if (keys !== tk) keys.dispose();
    }
    this.#lengths = this.#lengths.map((n, b) => n + counts[b]!);
  }

  /**
   * Copies rows [from, from + n) of sequence b of src to absolute positions start…
   * (ring-wrapped). The copy kernels write a contiguous destination, so each
   * (head, unwrapped run) is its own copy: rows of one head are contiguous in the cache.
   */
  #copyRows(src: Tensor, dst: Tensor, b: number, from: number, n: number, start: number): void {
    let done = 0;
    while (done < n) {
      const row = (start + done) % this.capacity;
      const rows = Math.min(n - done, this.capacity - row);
      for (let h = 0; h < this.kvHeads; ++h) {
        const srcView: NativeView = src.view('k', [rows, this.headDim], [src.strides[2]!, src.strides[3]!]);
        srcView.offset = src.offset + b * src.strides[0]! + h * src.strides[1]! + (from + done) * src.strides[2]!;
        const dstView: NativeView = dst.view('cache', [rows, this.headDim], [this.headDim, 1]);
        dstView.offset = dst.offset + b * dst.strides[0]! + h * dst.strides[1]! + row * this.headDim;
        native.copy(srcView, dstView);
      }
      done += rows;
    }
  }

  /**
   * Attention of q `[B, Hq, Lq, D]` (the last Lq positions of each sequence, RoPE
   * already applied by the caller) over the cache: causal, plus the window when the
   * cache has one. Hq must be a multiple of kvHeads.
   */
  attend(q: Tensor, options?: AttendOptions & { returnLse?: false }): Tensor;
  attend(q: Tensor, options: AttendOptions & { returnLse: true }): AttentionResult;
  attend(q: Tensor, options?: AttendOptions): Tensor | AttentionResult {
    const [ck, cv] = this.#tensors();
    const opts = checkOpts<AttentionOptions>(options);
    for (const key of ['causal', 'window', 'globalTokens', 'blockMask'] as const) {
      if (opts[key] !== undefined) fail('E_ARGUMENT', "no mask option (the cache applies causal and its own window)", `options.${key}`, opts[key]);
    }
    const [tq] = checkOperands('attention', [[q, 'q']]) as [Tensor];
    if (tq.ndim !== 4 || tq.shape[0] !== this.batch || tq.shape[1]! % this.kvHeads !== 0 || tq.shape[3] !== this.headDim) {
      failRaw('E_SHAPE', `[${this.batch}, Hq, Lq, ${this.headDim}] with Hq a multiple of kvHeads = ${this.kvHeads}`, 'q', formatShape(tq.shape));
    }
    const Lq = tq.shape[2]!;
    if (this.window !== undefined && Lq > this.capacity - this.window + 1) {
      failRaw('E_ARGUMENT', `at most ${this.capacity - this.window + 1} queries (capacity − window + 1) per call`,
        'q', formatShape(tq.shape));
    }
    const full: AttentionOptions = { ...opts, causal: true };
    if (this.window !== undefined) full.window = [this.window - 1, 0];
    return attentionWith(q, ck, cv, full, { kvLengths: this.#lengths, kvRing: this.window !== undefined });
  }

  /** Forgets every token (the memory stays allocated). */
  reset(): void {
    this.#tensors();
    this.#lengths.fill(0);
  }

  /** Frees the cache's memory now. Idempotent. */
  dispose(): void {
    this.#k?.dispose();
    this.#v?.dispose();
    this.#k = null;
    this.#v = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
