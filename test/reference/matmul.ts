/**
 * Batched matrix multiplication in float64.
 * B = the broadcast batch shape, M = rows of a, K = the reduced dimension, N = columns of the result.
 */
import { broadcastShapes, broadcastTo, map, numelOf, type RefTensor } from './tensor.js';

export interface MatmulOptions {
  /** b is [..., N, K] instead of [..., K, N]. */
  transposeB?: boolean;
}

/** a [..., M, K] · b [..., K, N] (or b [..., N, K] with transposeB) -> [...B, M, N]; batch dims broadcast. */
export function matmul(a: RefTensor, b: RefTensor, options: MatmulOptions = {}): RefTensor {
  const transposeB = options.transposeB ?? false;
  if (a.shape.length < 2 || b.shape.length < 2) throw new Error('reference matmul: operands need 2 dimensions');
  const [M, K] = a.shape.slice(-2) as [number, number];
  const [bRows, bCols] = b.shape.slice(-2) as [number, number];
  const [kB, N] = transposeB ? [bCols, bRows] : [bRows, bCols];
  if (kB !== K) throw new Error(`reference matmul: K mismatch ${K} vs ${kB}`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const A = broadcastTo(a, [...batch, M, K]).data;
  const Bm = broadcastTo(b, [...batch, bRows, bCols]).data;
  const count = numelOf(batch);
  const out = new Float64Array(count * M * N);
  for (let bi = 0; bi < count; ++bi) {
    const aBase = bi * M * K;
    const bBase = bi * K * N;
    for (let m = 0; m < M; ++m) {
      for (let n = 0; n < N; ++n) {
        let acc = 0;
        for (let k = 0; k < K; ++k) {
          const bv = transposeB ? Bm[bBase + n * K + k]! : Bm[bBase + k * N + n]!;
          acc += A[aBase + m * K + k]! * bv;
        }
        out[(bi * M + m) * N + n] = acc;
      }
    }
  }
  return { data: out, shape: [...batch, M, N] };
}

/**
 * Σ_k |a_mk · b_kn| for each output element: the scale of the rounding error of any
 * floating-point evaluation of the dot product (Higham, "Accuracy and Stability of
 * Numerical Algorithms", 2nd ed., §3.1).
 */
export function matmulMagnitude(a: RefTensor, b: RefTensor, options: MatmulOptions = {}): RefTensor {
  return matmul(map(a, Math.abs), map(b, Math.abs), options);
}
