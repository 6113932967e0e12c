/**
 * Parity cases for matmul: M, N, K over {1, 7, 97, 256, 1025}, transposeB,
 * batches that broadcast, attention-shaped rectangles (Lq ≠ Lk), strided views
 * and size-0 dimensions.
 * M = rows of a, K = the reduced dimension, N = columns of the result.
 */
import * as ref from '../reference/index.js';
import { defaultTolerance, FLOAT_DTYPES, shapeName, type ParityCase, type Tolerance, type ToleranceContext, type ViewOp } from './harness.js';

interface Operand {
  shape: readonly number[];
  views?: readonly ViewOp[];
  label?: string;
}

interface Layout {
  a: Operand;
  b: Operand;
  transposeB?: boolean;
}

const LAYOUTS: readonly Layout[] = [
  { a: { shape: [1, 1] }, b: { shape: [1, 1] } },
  { a: { shape: [1, 97] }, b: { shape: [97, 1] } },
  { a: { shape: [7, 97] }, b: { shape: [97, 7] } },
  { a: { shape: [1, 1025] }, b: { shape: [1025, 7] } }, // decode: M = 1, K = 1025
  { a: { shape: [97, 7] }, b: { shape: [7, 1025] } }, // N = 1025
  { a: { shape: [1025, 7] }, b: { shape: [7, 97] } }, // M = 1025
  { a: { shape: [97, 1025] }, b: { shape: [1025, 97] } },
  { a: { shape: [7, 256] }, b: { shape: [256, 97] } },
  { a: { shape: [256, 256] }, b: { shape: [256, 256] } },
  { a: { shape: [7, 97] }, b: { shape: [1025, 97] }, transposeB: true },
  { a: { shape: [1, 256] }, b: { shape: [7, 256] }, transposeB: true },
  { a: { shape: [256, 97] }, b: { shape: [256, 97] }, transposeB: true },
  { a: { shape: [3, 7, 97] }, b: { shape: [3, 97, 7] } },
  { a: { shape: [2, 1, 7, 97] }, b: { shape: [3, 97, 7] } }, // batch [2, 1] × [3] -> [2, 3]
  { a: { shape: [2, 1, 7, 33] }, b: { shape: [1, 3, 33, 97] } },
  { a: { shape: [5, 7, 97] }, b: { shape: [97, 7] } }, // one b shared by the batch
  { a: { shape: [7, 97] }, b: { shape: [4, 97, 7] } }, // one a shared by the batch
  { a: { shape: [2, 1, 7, 97] }, b: { shape: [3, 7, 97] }, transposeB: true },
  // Attention-shaped: scores q·kᵀ with Lq = 7 ≠ Lk = 97, then P·V.
  { a: { shape: [2, 4, 7, 64] }, b: { shape: [2, 4, 97, 64] }, transposeB: true },
  { a: { shape: [2, 4, 7, 97] }, b: { shape: [2, 4, 97, 64] } },
  // Strided operands.
  { a: { shape: [97, 7], views: [{ transpose: [0, 1] }], label: '[97, 7]^T' }, b: { shape: [97, 20], views: [{ slice: [1, 3, 10] }], label: '[97, 20][:, 3:10]' } },
  { a: { shape: [3, 97, 7], views: [{ transpose: [1, 2] }], label: '[3, 97, 7]^T(1,2)' }, b: { shape: [3, 97, 7] } },
  { a: { shape: [7, 97] }, b: { shape: [97, 7], views: [{ transpose: [0, 1] }], label: '[97, 7]^T' }, transposeB: true },
  // Contiguous views at an offset into their storage.
  { a: { shape: [9, 97], views: [{ slice: [0, 2, 9] }], label: '[9, 97][2:9]' }, b: { shape: [100, 7], views: [{ slice: [0, 3, 100] }], label: '[100, 7][3:]' } },
  // Size 0: no rows, no columns, nothing to reduce (zeros), an empty batch.
  { a: { shape: [0, 7] }, b: { shape: [7, 5] } },
  { a: { shape: [3, 7] }, b: { shape: [7, 0] } },
  { a: { shape: [3, 0] }, b: { shape: [0, 4] } },
  { a: { shape: [0, 3, 7] }, b: { shape: [7, 5] } },
];

/**
 * fp32: a K-term dot product evaluated in fp32, in any order, with or without FMA,
 * has error at most γ_K·Σ|a·b| ≈ K·u·Σ|a·b| (u = 2^-24; Higham, "Accuracy and Stability
 * of Numerical Algorithms", §3.1), and with overwhelming probability below
 * λ·√K·u·Σ|a·b| for small λ (Higham & Mary, "A New Approach to Probabilistic Rounding
 * Error Analysis", SISC 2019). The bound here is 4·√K·u·Σ_k|a_mk·b_kn| per element,
 * plus rtol 1e-5: still far below the error of one dropped or repeated term.
 * fp16/bf16: the default plain rule (the exact product rounded once into the dtype).
 */
function matmulTolerance(transposeB: boolean) {
  return (ctx: ToleranceContext): Tolerance => {
    if (ctx.dtype !== 'float32') return defaultTolerance(ctx);
    const [a, b] = ctx.inputs as [ref.RefTensor, ref.RefTensor];
    const K = a.shape[a.shape.length - 1]!;
    const magnitude = ref.matmulMagnitude(a, b, { transposeB });
    const factor = 4 * Math.sqrt(K) * 2 ** -24;
    return { kind: 'close', rtol: 1e-5, atol: magnitude.data.map((m) => factor * m), note: '4·sqrt(K)·2^-24·Σ|a·b| per element' };
  };
}

export function matmulCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const dtype of FLOAT_DTYPES) {
    for (const { a, b, transposeB = false } of LAYOUTS) {
      cases.push({
        op: 'matmul',
        dtype,
        name: `${a.label ?? shapeName(a.shape)} @ ${b.label ?? shapeName(b.shape)}${transposeB ? ' transposeB' : ''}`,
        inputs: [{ shape: a.shape, views: a.views }, { shape: b.shape, views: b.views }],
        run: (t, [x, y]) => t.matmul(x!, y!, { transposeB }),
        reference: ([x, y]) => ref.matmul(x!, y!, { transposeB }),
        tolerance: matmulTolerance(transposeB),
      });
    }
  }
  return cases;
}
