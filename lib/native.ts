/**
 * The compiled addon and the shape of what it exports. Only lib/ talks to it,
 * and only after validating every argument: the addon trusts its inputs.
 */
import { TesseraError } from './errors.js';

/** One reference to native device memory. */
export interface StorageHandle {
  readonly bytes: number;
  readonly disposed: boolean;
  dispose(): void;
  share(): StorageHandle;
}

/** A tensor as native code sees it: offset and strides in elements. */
export interface NativeView {
  handle: StorageHandle;
  dtype: number;
  offset: number;
  shape: number[];
  strides: number[];
}

export interface CudaDeviceInfo {
  index: number;
  name: string;
  computeCapability: string;
  totalMemory: number;
  multiprocessors: number;
}

export interface NativeInfo {
  version: string;
  build: { system: string; compiler: string; cuda: boolean; cudaArchs: string; cpuKernels: string };
  cpu: { available: boolean; isa: string; features: string; threads: number };
  cuda: {
    compiled: boolean;
    available: boolean;
    reason?: string;
    runtimeVersion?: number;
    driverVersion?: number;
    devices: CudaDeviceInfo[];
  };
  /** The SIMT emulator: the CUDA kernels run on the CPU (device 'emu'). */
  emu: { available: boolean; reason?: string };
}

/** Numeric ids shared with native/core (op_params.h, backend.h, device.h). */
export const BinaryOpId = { add: 0, sub: 1, mul: 2, div: 3 } as const;
export const UnaryOpId = { scale: 0, silu: 1, geluErf: 2, geluTanh: 3 } as const;
export const ReduceOpId = { sum: 0, mean: 1 } as const;
export const NormOpId = { rms: 0, layer: 1 } as const;
export const RandomDistId = { uniform: 0, normal: 1 } as const;
export const OpKindId = {
  fill: 0, random: 1, copy: 2, binary: 3, unary: 4, matmul: 5, softmax: 6, norm: 7, reduce: 8,
  quantize: 9, dequantize: 10, qmatmul: 11,
} as const;
export const QuantActivationsId = { float: 0, int8: 1 } as const;

/** A quantized weight as native code sees it (layout: native/core/op_params.h). */
export interface NativeQuantized {
  bits: 4 | 8;
  N: number;
  K: number;
  groupSize: number;
  groups: number;
  codes: NativeView;
  scales: NativeView;
  zeroPoints: NativeView | null;
}
export type OpKind = keyof typeof OpKindId;

export interface NativeAddon {
  StorageHandle: new () => StorageHandle;
  setErrorClass(ctor: typeof TesseraError): void;
  /** Bytes this environment has reported to V8 as external memory. */
  externalMemory(): number;
  info(): NativeInfo;
  supports(deviceKind: number, deviceIndex: number, op: number, dtype: number): boolean;
  alloc(deviceKind: number, deviceIndex: number, bytes: number): StorageHandle;
  upload(handle: StorageHandle, byteOffset: number, source: ArrayBufferView): void;
  read(handle: StorageHandle, byteOffset: number, nbytes: number): Promise<ArrayBuffer>;
  readSync(handle: StorageHandle, byteOffset: number, nbytes: number): ArrayBuffer;
  copy(src: NativeView, dst: NativeView): void;
  fill(out: NativeView, value: number): void;
  random(out: NativeView, dist: number, seedHi: number, seedLo: number, a: number, b: number): void;
  binary(op: number, a: NativeView, b: NativeView, out: NativeView): void;
  unary(op: number, alpha: number, x: NativeView, out: NativeView): void;
  matmul(a: NativeView, b: NativeView, out: NativeView, batch: number, M: number, N: number, K: number,
    batchStrideA: number, batchStrideB: number, transposeB: boolean): void;
  softmax(x: NativeView, out: NativeView, rows: number, cols: number): void;
  norm(op: number, x: NativeView, weight: NativeView, bias: NativeView | null, out: NativeView,
    rows: number, cols: number, eps: number): void;
  reduce(op: number, x: NativeView, out: NativeView, rows: number, cols: number): void;
  quantize(w: NativeView, q: NativeQuantized): void;
  dequantize(q: NativeQuantized, out: NativeView): void;
  qmatmul(x: NativeView, q: NativeQuantized, bias: NativeView | null, out: NativeView, M: number, activations: number): void;
}

function load(): NativeAddon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bindings = require('bindings') as (name: string) => NativeAddon;
  const addon = bindings('tessera');
  addon.setErrorClass(TesseraError);
  return addon;
}

export const native: NativeAddon = load();
