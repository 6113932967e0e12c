/**
 * The packed layout of quantized weights (native/core/op_params.h), shared by the
 * QuantizedTensor, quantize and the MatMulNBits interop.
 * Shape letters: N = output features, K = input features, G = groups per row.
 */

export type QuantBits = 4 | 8;
export type ScaleDType = 'float32' | 'float16';

export interface QuantLayout {
  bits: QuantBits;
  N: number;
  K: number;
  groupSize: number;
}

/** G = ceil(K / groupSize). */
export function groupsOf(l: QuantLayout): number {
  return Math.ceil(l.K / l.groupSize);
}

/** Bytes of codes per group: two int4 codes a byte, low nibble first. */
export function codeBytesPerGroup(l: QuantLayout): number {
  return l.bits === 4 ? l.groupSize / 2 : l.groupSize;
}

/** Bytes of zero points per row: int4 ones packed two a byte, like the codes. */
export function zeroPointBytesPerRow(l: QuantLayout): number {
  const G = groupsOf(l);
  return l.bits === 4 ? Math.ceil(G / 2) : G;
}
