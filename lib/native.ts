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
  cpu: { available: boolean; isa: string; features: string; threads: number; spinMicros: number };
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
  attention: 12, attentionBackward: 13, rope: 14, linearAttention: 15, linearAttentionBackward: 16,
} as const;
export const RopeLayoutId = { half: 0, interleaved: 1 } as const;
export const FeatureMapId = { elu: 0, relu: 1, favor: 2 } as const;
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

/** attention / attentionBackward arguments (native/napi/attention_ops.cpp, op_params.h). */
export interface NativeAttentionArgs {
  q: NativeView;
  k: NativeView;
  v: NativeView;
  /** The output (forward), or the forward's output (backward). */
  out: NativeView;
  /** fp32 [B, Hq, Lq]; required by the backward. */
  lse: NativeView | null;
  batch: number;
  qHeads: number;
  kvHeads: number;
  qLen: number;
  kvLen: number;
  headDim: number;
  scale: number;
  /** 0 = off. */
  softcap: number;
  /** fp32 [Hq]. */
  alibi: NativeView | null;
  causal: boolean;
  /** [left, right], Infinity for an unbounded side. */
  window: [number, number] | null;
  /** int32 [Lk + 1]: global positions below each key. */
  globalPrefix: NativeView | null;
  /** uint8 [blockRows, blockCols]. */
  blockMask: NativeView | null;
  blockSize: number;
  blockRows: number;
  blockCols: number;
  /** int32 [B]: keys appended per sequence (KV cache). */
  kvLengths: NativeView | null;
  kvRing: boolean;
}

export interface NativeRopeArgs {
  batch: number;
  heads: number;
  len: number;
  headDim: number;
  layout: number;
  base: number;
  positionScale: number;
  /** int32 [L] (positionsBatchStride 0) or [B, L] (stride L). */
  positions: NativeView | null;
  positionsBatchStride: number;
  offset: number;
}

/** linearAttention / linearAttentionBackward arguments (op_params.h). */
export interface NativeLinearAttentionArgs {
  q: NativeView;
  k: NativeView;
  v: NativeView;
  /** Forward only. */
  out: NativeView | null;
  batch: number;
  qHeads: number;
  kvHeads: number;
  len: number;
  keyDim: number;
  valueDim: number;
  featureMap: number;
  /** fp32 [F, Dk] for FAVOR+. */
  favorW: NativeView | null;
  features: number;
  causal: boolean;
  eps: number;
  /** fp32 [B, Hkv, F, Dv], [B, Hkv, F], [B, Hkv]: updated in place. Forward only. */
  stateS: NativeView | null;
  stateZ: NativeView | null;
  stateMax: NativeView | null;
}

export interface NativeAddon {
  StorageHandle: new () => StorageHandle;
  setErrorClass(ctor: typeof TesseraError): void;
  /** Bytes this environment has reported to V8 as external memory. */
  externalMemory(): number;
  info(): NativeInfo;
  /** The CPU kernel table for a feature list (as info().cpu.features) and a TESSERA_CPU_ISA value; for tests. */
  isaFor(features: string, want: string | null): string;
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
  attention(args: NativeAttentionArgs): void;
  attentionBackward(args: NativeAttentionArgs, dout: NativeView, dq: NativeView, dk: NativeView, dv: NativeView): void;
  rope(x: NativeView, out: NativeView, args: NativeRopeArgs): void;
  linearAttention(args: NativeLinearAttentionArgs): void;
  linearAttentionBackward(args: NativeLinearAttentionArgs, dout: NativeView, dq: NativeView, dk: NativeView, dv: NativeView): void;
}

function load(): NativeAddon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bindings = require('bindings') as (name: string) => NativeAddon;
  const addon = bindings('tessera');
  addon.setErrorClass(TesseraError);
  return addon;
}

export const native: NativeAddon = load();
