/** Batched matrix multiplication with fp32 accumulation. */
import { fail, failRaw } from '../errors.js';
import { native } from '../native.js';
import { broadcastShapes, formatShape, numelOf, sameShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { checkOperands, checkOpts, output, withContiguous } from './common.js';

export interface MatmulOptions {
  /** b is [..., N, K] (a Linear layer's weight) instead of [..., K, N]. */
  transposeB?: boolean;
}

/**
 * a [..., M, K] · b [..., K, N] → [..., M, N]; batch dimensions broadcast.
 * fp16/bf16 inputs accumulate in fp32 and round once into the output.
 * @example tessera.matmul(x, w, { transposeB: true }) // x [T, K], w [N, K]
 */
export function matmul(a: Tensor, b: Tensor, options?: MatmulOptions): Tensor {
  const opts = checkOpts<MatmulOptions>(options);
  const transposeB = opts.transposeB ?? false;
  if (typeof transposeB !== 'boolean') fail('E_ARGUMENT', 'a boolean', 'options.transposeB', transposeB);
  const [x, y] = checkOperands('matmul', [[a, 'a'], [b, 'b']]) as [Tensor, Tensor];
  if (x.ndim < 2) failRaw('E_SHAPE', 'a tensor of at least 2 dimensions', 'a', formatShape(x.shape));
  if (y.ndim < 2) failRaw('E_SHAPE', 'a tensor of at least 2 dimensions', 'b', formatShape(y.shape));
  const [M, K] = x.shape.slice(-2) as [number, number];
  const [bRows, bCols] = y.shape.slice(-2) as [number, number];
  const [kB, N] = transposeB ? [bCols, bRows] : [bRows, bCols];
  if (kB !== K) {
    failRaw('E_SHAPE', `${transposeB ? '[..., N, K]' : '[..., K, N]'} with K = ${K} (from a ${formatShape(x.shape)})`, 'b', formatShape(y.shape));
  }
  const batchShape = broadcastShapes(x.shape.slice(0, -2), y.shape.slice(0, -2), ['a batch', 'b batch']);
  const batch = numelOf(batchShape);

  // An operand whose batch is the whole batch, or is shared by all of it, is used in
  // place; any other broadcast becomes a broadcast view. withContiguous then copies
  // whichever is strided (a broadcast view always is) and hands the rest over as is.
  const prepare = (t: Tensor): { operand: Tensor; stride: number } => {
    const own = t.shape.slice(0, -2);
    const matrix = t.shape.slice(-2);
    const shared = numelOf(own) === 1;
    const inPlace = shared || sameShape(own, batchShape);
    return { operand: inPlace ? t : t.broadcastTo([...batchShape, ...matrix]), stride: shared ? 0 : numelOf(matrix) };
  };
  const pa = prepare(x);
  const pb = prepare(y);
  try {
    const out = output(x, [...batchShape, M, N]);
    if (numelOf(out.shape) === 0) return out;
    if (K === 0) {
      native.fill(out.view('out'), 0);
      return out;
    }
    withContiguous(pa.operand, (da) => withContiguous(pb.operand, (db) => {
      native.matmul(da.view('a'), db.view('b'), out.view('out'), batch, M, N, K, pa.stride, pb.stride, transposeB);
    }));
    return out;
  } finally {
    if (pa.operand !== x) pa.operand.dispose();
    if (pb.operand !== y) pb.operand.dispose();
  }
}
