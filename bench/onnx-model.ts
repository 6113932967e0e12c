// Builds one-operator ONNX models in memory, so the benchmarks can run a peer
// (onnxruntime-node) on exactly the op and sizes tessera runs, without the `onnx`
// Python package or model files on disk.
//
// Only the handful of protobuf messages a single-node graph needs are encoded, by
// hand, following onnx/onnx.proto (proto2): ModelProto, OperatorSetIdProto,
// GraphProto, NodeProto, AttributeProto, ValueInfoProto, TypeProto.Tensor,
// TensorShapeProto and TensorProto. Field numbers below are onnx.proto's.
//
// Example (a MatMulNBits layer, weights as initializers):
//   const model = buildSingleNodeModel({
//     opType: 'MatMulNBits', domain: 'com.microsoft', opsetVersion: 1,
//     inputs: [{name: 'A', elemType: ElemType.FLOAT, shape: [1, K]}],
//     outputs: [{name: 'Y', elemType: ElemType.FLOAT, shape: [1, N]}],
//     attributes: {K: attr.int(K), N: attr.int(N), bits: attr.int(4), block_size: attr.int(32)},
//     initializers: [
//       {name: 'B', elemType: ElemType.UINT8, dims: [N, K / 32, 16], data: packed},
//       {name: 'scales', elemType: ElemType.FLOAT, dims: [N * K / 32], data: scales},
//     ],
//   });
//   const session = await ort.InferenceSession.create(model);

/** TensorProto.DataType values (the `elem_type` of a tensor). */
export const ElemType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
  UINT4: 21,
  INT4: 22,
} as const;
export type ElemType = (typeof ElemType)[keyof typeof ElemType];

/** A graph input or output. A string dimension is symbolic (dim_param), e.g. 'batch'. */
export interface ValueInfo {
  name: string;
  elemType: ElemType;
  shape: readonly (number | string)[];
}

/**
 * A constant input stored in the model. `data` holds the elements in little-endian
 * order (a Float32Array for FLOAT, Uint16Array of bit patterns for FLOAT16/BFLOAT16,
 * Uint8Array for UINT8 or packed 4-bit data, ...); it is written as raw_data.
 */
export interface Initializer {
  name: string;
  elemType: ElemType;
  dims: readonly number[];
  data: ArrayBufferView;
}

/** A node attribute; build one with `attr`. Integers may be bigint beyond 2^53. */
export type Attribute =
  | { kind: 'int'; value: number | bigint }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: readonly (number | bigint)[] }
  | { kind: 'floats'; value: readonly number[] };

/** Attribute constructors: ONNX tells ints from floats, JavaScript numbers do not. */
export const attr = {
  int: (value: number | bigint): Attribute => ({ kind: 'int', value }),
  float: (value: number): Attribute => ({ kind: 'float', value }),
  string: (value: string): Attribute => ({ kind: 'string', value }),
  ints: (value: readonly (number | bigint)[]): Attribute => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): Attribute => ({ kind: 'floats', value }),
};

export interface SingleNodeModel {
  opType: string;
  /** Operator domain: '' (default) for standard ONNX, 'com.microsoft' for contrib ops. */
  domain?: string;
  /** Opset of `domain`; default 17 for '' and 1 for any other domain. */
  opsetVersion?: number;
  /** Graph inputs fed at run time. */
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  attributes?: Readonly<Record<string, Attribute>>;
  initializers?: readonly Initializer[];
  /**
   * The node's input names in operator order; '' skips an optional input. Default:
   * the graph inputs, then the initializers, in the order given.
   */
  nodeInputs?: readonly string[];
}

// AttributeProto.AttributeType values.
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

// IR version 8 (ONNX 1.10+): understood by every onnxruntime release we compare with.
const IR_VERSION = 8;

/** Serialises a model with one node computing `outputs` from `inputs`; returns ModelProto bytes. */
export function buildSingleNodeModel(spec: SingleNodeModel): Uint8Array {
  const domain = spec.domain ?? '';
  const initializers = spec.initializers ?? [];
  const nodeInputs = spec.nodeInputs ?? [
    ...spec.inputs.map((v) => v.name),
    ...initializers.map((t) => t.name),
  ];

  const node = new ProtoWriter();
  for (const name of nodeInputs) node.string(1, name);
  for (const output of spec.outputs) node.string(2, output.name);
  node.string(3, `${spec.opType}_0`);
  node.string(4, spec.opType);
  for (const [name, attribute] of Object.entries(spec.attributes ?? {})) {
    node.message(5, encodeAttribute(name, attribute));
  }
  if (domain !== '') node.string(7, domain);

  const graph = new ProtoWriter();
  graph.message(1, node);
  graph.string(2, `${spec.opType}_graph`);
  for (const tensor of initializers) graph.message(5, encodeTensor(tensor));
  for (const input of spec.inputs) graph.message(11, encodeValueInfo(input));
  for (const output of spec.outputs) graph.message(12, encodeValueInfo(output));

  const model = new ProtoWriter();
  model.varint(1, IR_VERSION);
  model.string(2, 'tessera-bench');
  model.message(7, graph);
  // The default domain is always imported; a contrib op also needs its own domain.
  model.message(8, encodeOpset('', domain === '' ? (spec.opsetVersion ?? 17) : 17));
  if (domain !== '') model.message(8, encodeOpset(domain, spec.opsetVersion ?? 1));
  return model.finish();
}

function encodeOpset(domain: string, version: number): ProtoWriter {
  const w = new ProtoWriter();
  w.string(1, domain);
  w.varint(2, version);
  return w;
}

function encodeAttribute(name: string, attribute: Attribute): ProtoWriter {
  const w = new ProtoWriter();
  w.string(1, name);
  switch (attribute.kind) {
    case 'float':
      w.float(2, attribute.value);
      w.varint(20, AttributeType.FLOAT);
      break;
    case 'int':
      w.varint(3, attribute.value);
      w.varint(20, AttributeType.INT);
      break;
    case 'string':
      w.string(4, attribute.value);
      w.varint(20, AttributeType.STRING);
      break;
    case 'floats':
      for (const v of attribute.value) w.float(7, v);
      w.varint(20, AttributeType.FLOATS);
      break;
    case 'ints':
      for (const v of attribute.value) w.varint(8, v);
      w.varint(20, AttributeType.INTS);
      break;
  }
  return w;
}

function encodeValueInfo(info: ValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of info.shape) {
    const dim = new ProtoWriter();
    if (typeof d === 'string') dim.string(2, d);
    else dim.varint(1, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter();
  tensorType.varint(1, info.elemType);
  tensorType.message(2, shape);
  const type = new ProtoWriter();
  type.message(1, tensorType);
  const w = new ProtoWriter();
  w.string(1, info.name);
  w.message(2, type);
  return w;
}

// Bits per element, to check that an initializer's data matches its dims.
const ELEM_BITS: Record<ElemType, number> = {
  [ElemType.FLOAT]: 32, [ElemType.UINT8]: 8, [ElemType.INT8]: 8, [ElemType.UINT16]: 16,
  [ElemType.INT16]: 16, [ElemType.INT32]: 32, [ElemType.INT64]: 64, [ElemType.BOOL]: 8,
  [ElemType.FLOAT16]: 16, [ElemType.DOUBLE]: 64, [ElemType.UINT32]: 32,
  [ElemType.UINT64]: 64, [ElemType.BFLOAT16]: 16, [ElemType.UINT4]: 4, [ElemType.INT4]: 4,
};

function encodeTensor(tensor: Initializer): ProtoWriter {
  const count = tensor.dims.reduce((a, b) => a * b, 1);
  const expectedBytes = Math.ceil((count * ELEM_BITS[tensor.elemType]) / 8);
  if (tensor.data.byteLength !== expectedBytes) {
    throw new RangeError(
      `Expected ${expectedBytes} bytes of data for initializer ${tensor.name} ` +
        `(dims [${tensor.dims.join(', ')}]) but received ${tensor.data.byteLength}`,
    );
  }
  const w = new ProtoWriter();
  for (const d of tensor.dims) w.varint(1, d);
  w.varint(2, tensor.elemType);
  w.string(8, tensor.name);
  w.bytes(9, new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  return w;
}

// Protobuf wire types.
const VARINT = 0;
const FIXED32 = 5;
const LENGTH_DELIMITED = 2;

/** Appends protobuf fields to a growing byte buffer. */
class ProtoWriter {
  private buf = new Uint8Array(64);
  private len = 0;
  private static readonly utf8 = new TextEncoder();

  /** int32/int64/enum field. Negative values take 10 bytes (two's complement), as protobuf's. */
  varint(field: number, value: number | bigint): void {
    this.tag(field, VARINT);
    this.rawVarint(BigInt.asUintN(64, BigInt(value)));
  }

  float(field: number, value: number): void {
    this.tag(field, FIXED32);
    this.reserve(4);
    new DataView(this.buf.buffer).setFloat32(this.len, value, true);
    this.len += 4;
  }

  string(field: number, value: string): void {
    this.bytes(field, ProtoWriter.utf8.encode(value));
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, LENGTH_DELIMITED);
    this.rawVarint(BigInt(value.length));
    this.reserve(value.length);
    this.buf.set(value, this.len);
    this.len += value.length;
  }

  /** An embedded message: length-prefixed bytes of another writer. */
  message(field: number, value: ProtoWriter): void {
    this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  private tag(field: number, wireType: number): void {
    this.rawVarint(BigInt((field << 3) | wireType));
  }

  private rawVarint(value: bigint): void {
    this.reserve(10);
    let v = value;
    while (v >= 0x80n) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
  }

  private reserve(bytes: number): void {
    if (this.len + bytes <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.len + bytes));
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }
}

/** MatMulNBits weights in onnxruntime's packed layout (what QuantizedTensor.toMatMulNBits gives). */
export interface MatMulNBitsInitializers {
  B: Uint8Array;
  scales: Float32Array | Uint16Array;
  zeroPoints?: Uint8Array;
  K: number;
  N: number;
  blockSize: number;
}

/**
 * A one-node com.microsoft MatMulNBits model (4-bit) computing Y [M, N] = A [M, K] · Wᵀ
 * with the weights as initializers. fp16 scales travel as FLOAT16 bit patterns.
 */
export function buildMatMulNBitsModel(w: MatMulNBitsInitializers, M: number, accuracyLevel = 0): Uint8Array {
  const G = Math.ceil(w.K / w.blockSize);
  const initializers: Initializer[] = [
    { name: 'B', elemType: ElemType.UINT8, dims: [w.N, G, w.blockSize / 2], data: w.B },
    { name: 'scales', elemType: w.scales instanceof Uint16Array ? ElemType.FLOAT16 : ElemType.FLOAT, dims: [w.N * G], data: w.scales },
  ];
  if (w.zeroPoints) initializers.push({ name: 'zero_points', elemType: ElemType.UINT8, dims: [w.zeroPoints.length], data: w.zeroPoints });
  return buildSingleNodeModel({
    opType: 'MatMulNBits', domain: 'com.microsoft', opsetVersion: 1,
    inputs: [{ name: 'A', elemType: ElemType.FLOAT, shape: [M, w.K] }],
    outputs: [{ name: 'Y', elemType: ElemType.FLOAT, shape: [M, w.N] }],
    attributes: {
      K: attr.int(w.K), N: attr.int(w.N), bits: attr.int(4), block_size: attr.int(w.blockSize),
      accuracy_level: attr.int(accuracyLevel),
    },
    initializers,
  });
}

/**
 * A one-node com.microsoft GroupQueryAttention model, fp32, for B sequences of
 * `queryLength` new tokens attending (causally, bottom-right aligned) to
 * `pastLength` cached tokens plus themselves.
 *
 * Graph inputs, in onnxruntime's layouts: query [B, Lq, Hq·D], key and value
 * [B, Lq, Hkv·D] (BSH: heads packed into the last axis, not tessera's [B, H, L, D]),
 * past_key and past_value [B, Hkv, pastLength, D] (BNSH) when pastLength > 0,
 * seqlens_k int32 [B] (= total length − 1), total_sequence_length an int32 scalar,
 * and attention_bias [1, Hq, Lq, total length] when `attentionBias` is set.
 * Output: output [B, Lq, Hq·D]; with a past also present_key and present_value
 * [B, Hkv, total length, D]: onnxruntime-node 1.30's CPU kernel gives a wrong output
 * for a decode step whose present outputs are not requested (checked against a
 * float64 reference), so they are always requested there.
 *
 * `localWindowSize` W: query i' sees the W keys i' − W + 1 … i' (itself included),
 * which is tessera's window [W − 1, 0]. Checked against a float64 reference with
 * onnxruntime-node 1.30's CPU kernel (the schema text reads "left window size",
 * which would be one key more).
 * Inputs 7–9 (cos_cache, sin_cache, position_ids) are skipped; attention_bias is
 * input 10 of the operator schema.
 */
export interface GroupQueryAttentionSpec {
  batch: number;
  qHeads: number;
  kvHeads: number;
  queryLength: number;
  pastLength?: number;
  headDim: number;
  scale?: number;
  softcap?: number;
  localWindowSize?: number;
  attentionBias?: boolean;
}

export function buildGroupQueryAttentionModel(spec: GroupQueryAttentionSpec): Uint8Array {
  const { batch: B, qHeads, kvHeads, queryLength: Lq, headDim: D } = spec;
  const past = spec.pastLength ?? 0;
  const total = past + Lq;
  const inputs: ValueInfo[] = [
    { name: 'query', elemType: ElemType.FLOAT, shape: [B, Lq, qHeads * D] },
    { name: 'key', elemType: ElemType.FLOAT, shape: [B, Lq, kvHeads * D] },
    { name: 'value', elemType: ElemType.FLOAT, shape: [B, Lq, kvHeads * D] },
  ];
  if (past > 0) {
    inputs.push({ name: 'past_key', elemType: ElemType.FLOAT, shape: [B, kvHeads, past, D] });
    inputs.push({ name: 'past_value', elemType: ElemType.FLOAT, shape: [B, kvHeads, past, D] });
  }
  inputs.push({ name: 'seqlens_k', elemType: ElemType.INT32, shape: [B] });
  inputs.push({ name: 'total_sequence_length', elemType: ElemType.INT32, shape: [] });
  if (spec.attentionBias) inputs.push({ name: 'attention_bias', elemType: ElemType.FLOAT, shape: [1, qHeads, Lq, total] });
  const nodeInputs = [
    'query', 'key', 'value',
    past > 0 ? 'past_key' : '', past > 0 ? 'past_value' : '',
    'seqlens_k', 'total_sequence_length',
  ];
  if (spec.attentionBias) nodeInputs.push('', '', '', 'attention_bias');
  const attributes: Record<string, Attribute> = {
    num_heads: attr.int(qHeads),
    kv_num_heads: attr.int(kvHeads),
  };
  if (spec.scale !== undefined) attributes.scale = attr.float(spec.scale);
  if (spec.softcap !== undefined) attributes.softcap = attr.float(spec.softcap);
  if (spec.localWindowSize !== undefined) attributes.local_window_size = attr.int(spec.localWindowSize);
  const outputs: ValueInfo[] = [{ name: 'output', elemType: ElemType.FLOAT, shape: [B, Lq, qHeads * D] }];
  if (past > 0) {
    // Symbolic length: onnxruntime's shape inference assumes a shared past/present buffer.
    outputs.push({ name: 'present_key', elemType: ElemType.FLOAT, shape: [B, kvHeads, 'present_length', D] });
    outputs.push({ name: 'present_value', elemType: ElemType.FLOAT, shape: [B, kvHeads, 'present_length', D] });
  }
  return buildSingleNodeModel({
    opType: 'GroupQueryAttention', domain: 'com.microsoft', opsetVersion: 1,
    inputs,
    outputs,
    attributes,
    nodeInputs,
  });
}
