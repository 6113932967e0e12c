/** QuantizedTensor: int8/int4 weights [N, K] with per-group scales and zero points. */
import { parseDevice } from '../device.js';
import { fail, failRaw } from '../errors.js';
import { tensor } from '../creation.js';
import type { NativeQuantized } from '../native.js';
import type { Tensor } from '../tensor.js';
import { checkOpts } from '../ops/common.js';
import { codeBytesPerGroup, groupsOf, zeroPointBytesPerRow, type QuantBits, type ScaleDType } from './layout.js';

/**
 * onnxruntime's MatMulNBits weight inputs (com.microsoft domain): B is
 * `[N, ceil(K / blockSize), blockSize / 2]` uint8, two 4-bit codes a byte with the
 * lower k in the low nibble; scales `[N, ceil(K / blockSize)]` (fp32, or fp16 bits in
 * a Uint16Array); zeroPoints `[N, ceil(ceil(K / blockSize) / 2)]` packed the same way,
 * absent meaning 8 everywhere (symmetric).
 */
export interface MatMulNBitsWeights {
  B: Uint8Array;
  scales: Float32Array | Uint16Array;
  zeroPoints?: Uint8Array;
  K: number;
  N: number;
  bits: 4;
  blockSize: number;
}

export interface FromMatMulNBitsOptions {
  /** Default: 'cpu'. */
  device?: string;
}

/** @internal What the factories hand the constructor. */
export interface QuantizedParts {
  bits: QuantBits;
  N: number;
  K: number;
  groupSize: number;
  codes: Tensor;
  scales: Tensor;
  zeroPoints: Tensor | null;
}

/**
 * Weights `[N, K]` (out × in, a Linear layer's) stored as unsigned codes q with a
 * scale s and zero point z per row n and group of `groupSize` along K:
 * `w = (q − z) · s`. Layout (README, "Quantized matmul"): int4 codes
 * `[N, G, groupSize / 2]` low nibble first (MatMulNBits' B), int8 codes
 * `[N, G · groupSize]`; scales `[N, G]`; zero points `[N, ceil(G / 2)]` (int4) or
 * `[N, G]` (int8), none when symmetric (then z = 8 or 128). Codes past K in the last
 * group are padding equal to z.
 * @example
 * const q = tessera.quantize(w, { bits: 4 });   // w: float32 [N, K]
 * const y = tessera.qmatmul(x, q);              // x [..., K] → [..., N]
 * q.dispose();
 */
export class QuantizedTensor {
  readonly bits: QuantBits;
  readonly N: number;
  readonly K: number;
  readonly groupSize: number;
  /** ceil(K / groupSize). */
  readonly groups: number;
  readonly symmetric: boolean;
  readonly scaleDtype: ScaleDType;
  readonly #codes: Tensor;
  readonly #scales: Tensor;
  readonly #zeroPoints: Tensor | null;

  /** @internal Use tessera.quantize or QuantizedTensor.fromMatMulNBits. */
  constructor(parts: QuantizedParts) {
    this.bits = parts.bits;
    this.N = parts.N;
    this.K = parts.K;
    this.groupSize = parts.groupSize;
    this.groups = groupsOf(parts);
    this.symmetric = parts.zeroPoints === null;
    this.scaleDtype = parts.scales.dtype === 'float16' ? 'float16' : 'float32';
    this.#codes = parts.codes;
    this.#scales = parts.scales;
    this.#zeroPoints = parts.zeroPoints;
  }

  get device(): string {
    return this.#codes.device;
  }

  /** The weight shape [N, K]. */
  get shape(): readonly [number, number] {
    return [this.N, this.K];
  }

  get disposed(): boolean {
    return this.#codes.disposed;
  }

  /** The packed codes, uint8 (a view owned by this tensor: do not dispose it). */
  get codes(): Tensor {
    this.toNative();
    return this.#codes;
  }

  /** The scales [N, G], float32 or float16 (owned by this tensor). */
  get scales(): Tensor {
    this.toNative();
    return this.#scales;
  }

  /** The packed zero points, uint8, or null when symmetric (owned by this tensor). */
  get zeroPoints(): Tensor | null {
    this.toNative();
    return this.#zeroPoints;
  }

  /** "QuantizedTensor(int4, [N, K], g128, asymmetric, cpu)". */
  describe(): string {
    return `QuantizedTensor(int${this.bits}, [${this.N}, ${this.K}], g${this.groupSize}, ${this.symmetric ? 'symmetric' : 'asymmetric'}, ${this.device}${this.disposed ? ', disposed' : ''})`;
  }

  toString(): string {
    return this.describe();
  }

  /** @internal What native code sees; throws E_DISPOSED after dispose(). */
  toNative(name = 'q'): NativeQuantized {
    if (this.disposed) failRaw('E_DISPOSED', 'a live QuantizedTensor', name, this.describe());
    return {
      bits: this.bits, N: this.N, K: this.K, groupSize: this.groupSize, groups: this.groups,
      codes: this.#codes.view(`${name}.codes`),
      scales: this.#scales.view(`${name}.scales`),
      zeroPoints: this.#zeroPoints ? this.#zeroPoints.view(`${name}.zeroPoints`) : null,
    };
  }

  /** Frees the three buffers now. Idempotent; a queued kernel keeps its inputs alive. */
  dispose(): void {
    this.#codes.dispose();
    this.#scales.dispose();
    this.#zeroPoints?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * The weights as onnxruntime's MatMulNBits inputs, bit-exact (int4 only). Reads the
   * buffers back from the device.
   * @example
   * const { B, scales, zeroPoints, K, N, blockSize } = q.toMatMulNBits();
   */
  toMatMulNBits(): MatMulNBitsWeights {
    if (this.bits !== 4) failRaw('E_UNSUPPORTED', 'an int4 QuantizedTensor (MatMulNBits holds 4-bit weights)', 'q', this.describe());
    const out: MatMulNBitsWeights = {
      B: this.codes.dataSync() as Uint8Array,
      scales: this.scales.dataSync() as Float32Array | Uint16Array,
      K: this.K, N: this.N, bits: 4, blockSize: this.groupSize,
    };
    if (this.#zeroPoints) out.zeroPoints = this.#zeroPoints.dataSync() as Uint8Array;
    return out;
  }

  /**
   * Imports onnxruntime MatMulNBits weights (bits 4, blockSize a power of two >= 16),
   * byte for byte: `fromMatMulNBits(w).toMatMulNBits()` equals `w`.
   * @example
   * const q = tessera.QuantizedTensor.fromMatMulNBits({ B, scales, zeroPoints, K: 4096, N: 4096, bits: 4, blockSize: 128 });
   */
  static fromMatMulNBits(weights: MatMulNBitsWeights, options?: FromMatMulNBitsOptions): QuantizedTensor {
    const w = checkOpts<MatMulNBitsWeights>(weights, 'weights');
    const opts = checkOpts<FromMatMulNBitsOptions>(options);
    const device = parseDevice(opts.device ?? 'cpu', 'options.device');
    if (w.bits !== 4) {
      if (Number.isInteger(w.bits)) fail('E_UNSUPPORTED', 'bits 4 (tessera imports 4-bit MatMulNBits weights)', 'weights.bits', w.bits);
      fail('E_ARGUMENT', 'bits 4', 'weights.bits', w.bits);
    }
    const positive = (v: unknown, name: string): number => {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail('E_ARGUMENT', 'a positive integer', name, v);
      return v;
    };
    const K = positive(w.K, 'weights.K');
    const N = positive(w.N, 'weights.N');
    const blockSize = positive(w.blockSize, 'weights.blockSize');
    if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) fail('E_ARGUMENT', 'a power of two >= 16', 'weights.blockSize', blockSize);
    const layout = { bits: 4 as const, N, K, groupSize: blockSize };
    const G = groupsOf(layout);
    const bytes = N * G * codeBytesPerGroup(layout);
    if (!(w.B instanceof Uint8Array)) fail('E_ARGUMENT', 'a Uint8Array', 'weights.B', w.B);
    if (w.B.length !== bytes) fail('E_SHAPE', `${bytes} bytes ([N, ceil(K / blockSize), blockSize / 2] = [${N}, ${G}, ${blockSize / 2}])`, 'weights.B', w.B);
    const scaleData = w.scales;
    if (!(scaleData instanceof Float32Array) && !(scaleData instanceof Uint16Array)) {
      fail('E_ARGUMENT', 'a Float32Array, or a Uint16Array of fp16 bits', 'weights.scales', scaleData);
    }
    const scaleDtype = scaleData instanceof Float32Array ? 'float32' : 'float16';
    if (scaleData.length !== N * G) fail('E_SHAPE', `${N * G} scales ([N, ceil(K / blockSize)] = [${N}, ${G}])`, 'weights.scales', scaleData);
    const zpBytes = N * zeroPointBytesPerRow(layout);
    if (w.zeroPoints !== undefined && w.zeroPoints !== null) {
      if (!(w.zeroPoints instanceof Uint8Array)) fail('E_ARGUMENT', 'a Uint8Array of packed 4-bit zero points', 'weights.zeroPoints', w.zeroPoints);
      if (w.zeroPoints.length !== zpBytes) fail('E_SHAPE', `${zpBytes} bytes ([N, ceil(G / 2)] = [${N}, ${Math.ceil(G / 2)}])`, 'weights.zeroPoints', w.zeroPoints);
    }
    const codes = tensor(w.B, { dtype: 'uint8', shape: [N, G, blockSize / 2], device: device.name });
    const scales = tensor(scaleData, { dtype: scaleDtype, shape: [N, G], device: device.name });
    const zeroPoints = w.zeroPoints ? tensor(w.zeroPoints, { dtype: 'uint8', shape: [N, Math.ceil(G / 2)], device: device.name }) : null;
    return new QuantizedTensor({ bits: 4, N, K, groupSize: blockSize, codes, scales, zeroPoints });
  }
}
