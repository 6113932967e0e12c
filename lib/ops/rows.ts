/** Ops over the last axis: softmax, RMS/layer norm, sum and mean. */
import { fail, failRaw } from '../errors.js';
import { native, NormOpId, ReduceOpId } from '../native.js';
import { formatShape, numelOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { checkOperands, checkOpts, checkPositiveNumber, output, withContiguous } from './common.js';

function rowsOf(t: Tensor, name: string): { rows: number; cols: number } {
  if (t.ndim < 1) failRaw('E_SHAPE', 'a tensor of at least 1 dimension', name, formatShape(t.shape));
  const cols = t.shape[t.ndim - 1]!;
  return { rows: numelOf(t.shape.slice(0, -1)), cols };
}

/** Softmax over the last axis, computed in fp32. A row of all −∞ gives zeros. */
export function softmax(x: Tensor): Tensor {
  const [t] = checkOperands('softmax', [[x, 'x']]) as [Tensor];
  const { rows, cols } = rowsOf(t, 'x');
  return withContiguous(t, (dense) => {
    const out = output(dense, dense.shape);
    if (rows > 0 && cols > 0) native.softmax(dense.view('x'), out.view('out'), rows, cols);
    return out;
  });
}

export interface NormOptions {
  eps?: number;
}

function checkWeight(w: Tensor, cols: number, name: string): void {
  if (w.ndim !== 1 || w.shape[0] !== cols) failRaw('E_SHAPE', `a 1-D tensor of length ${cols}`, name, formatShape(w.shape));
}

/**
 * x / sqrt(mean(x²) + eps) · weight over the last axis (eps default 1e-6).
 * @example tessera.rmsNorm(h, gamma)
 */
export function rmsNorm(x: Tensor, weight: Tensor, options?: NormOptions): Tensor {
  const opts = checkOpts<NormOptions>(options);
  const eps = checkPositiveNumber(opts.eps ?? 1e-6, 'options.eps');
  const [t, w] = checkOperands('norm', [[x, 'x'], [weight, 'weight']], 'rmsNorm') as [Tensor, Tensor];
  const { rows, cols } = rowsOf(t, 'x');
  checkWeight(w, cols, 'weight');
  return withContiguous(t, (dense) => withContiguous(w, (wd) => {
    const out = output(dense, dense.shape);
    if (rows > 0 && cols > 0) native.norm(NormOpId.rms, dense.view('x'), wd.view('weight'), null, out.view('out'), rows, cols, eps);
    return out;
  }));
}

/**
 * (x − mean) / sqrt(var + eps) · weight + bias over the last axis (eps default 1e-5,
 * biased variance, as PyTorch). `bias` may be null.
 */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor | null, options?: NormOptions): Tensor {
  const opts = checkOpts<NormOptions>(options);
  const eps = checkPositiveNumber(opts.eps ?? 1e-5, 'options.eps');
  const operands: Array<[unknown, string]> = [[x, 'x'], [weight, 'weight']];
  if (bias !== null && bias !== undefined) operands.push([bias, 'bias']);
  const [t, w, b] = checkOperands('norm', operands, 'layerNorm') as [Tensor, Tensor, Tensor | undefined];
  const { rows, cols } = rowsOf(t, 'x');
  checkWeight(w, cols, 'weight');
  if (b) checkWeight(b, cols, 'bias');
  return withContiguous(t, (dense) => withContiguous(w, (wd) => withContiguous(b, (bd) => {
    const out = output(dense, dense.shape);
    if (rows > 0 && cols > 0) {
      native.norm(NormOpId.layer, dense.view('x'), wd.view('weight'), bd ? bd.view('bias') : null, out.view('out'), rows, cols, eps);
    }
    return out;
  })));
}

export interface ReduceOptions {
  /** Keep the reduced axis as size 1 (default false). */
  keepDim?: boolean;
}

function reduce(op: keyof typeof ReduceOpId, x: Tensor, options?: ReduceOptions): Tensor {
  const opts = checkOpts<ReduceOptions>(options);
  if (opts.keepDim !== undefined && typeof opts.keepDim !== 'boolean') fail('E_ARGUMENT', 'a boolean', 'options.keepDim', opts.keepDim);
  const [t] = checkOperands('reduce', [[x, 'x']], op) as [Tensor];
  const { rows, cols } = rowsOf(t, 'x');
  const shape = opts.keepDim ? [...t.shape.slice(0, -1), 1] : t.shape.slice(0, -1);
  return withContiguous(t, (dense) => {
    const out = output(dense, shape);
    if (rows === 0) return out;
    if (cols === 0) native.fill(out.view('out'), op === 'sum' ? 0 : NaN);
    else native.reduce(ReduceOpId[op], dense.view('x'), out.view('out'), rows, cols);
    return out;
  });
}

/** Sum over the last axis, accumulated in double precision. */
export function sum(x: Tensor, options?: ReduceOptions): Tensor { return reduce('sum', x, options); }
/** Mean over the last axis. */
export function mean(x: Tensor, options?: ReduceOptions): Tensor { return reduce('mean', x, options); }
