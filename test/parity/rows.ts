/**
 * Parity cases for the ops over the last axis: softmax (with masked entries and
 * fully masked rows), rmsNorm, layerNorm (with and without bias), sum and mean
 * (with keepDim). C = the length of the last axis.
 */
import * as ref from '../reference/index.js';
import { FLOAT_DTYPES, gen, shapeName, type InputSpec, type ParityCase } from './harness.js';

interface RowInput {
  label: string;
  spec: InputSpec;
}

const plain = (shape: number[]): RowInput => ({ label: shapeName(shape), spec: { shape } });
const transposed = (shape: [number, number]): RowInput => ({
  label: `${shapeName(shape)}^T`,
  spec: { shape, views: [{ transpose: [0, 1] }] },
});
/** Rows 2… of a [rows + 2, C] tensor: contiguous, at an offset into its storage. */
const offset = (rows: number, C: number): RowInput => ({
  label: `${shapeName([rows + 2, C])}[2:]`,
  spec: { shape: [rows + 2, C], views: [{ slice: [0, 2, rows + 2] }] },
});

/** Element i of a [rows, C] input lies in row floor(i / C). */
const inRow = (C: number, rows: readonly number[]) => (i: number): boolean => rows.includes(Math.floor(i / C));

const SOFTMAX_INPUTS: readonly RowInput[] = [
  plain([1, 1]),
  plain([7]),
  plain([97, 97]),
  plain([1025]),
  plain([3, 1025]),
  plain([2, 3, 97]),
  // Scores with a wide range: most probabilities underflow towards 0.
  { label: '[7, 1025] N(0, 8²)', spec: { shape: [7, 1025], gen: gen.normal(8) } },
  // Masked keys: -Infinity entries, and whole rows masked (rows 2 and 5), as attention produces.
  {
    label: '[7, 97] with -inf entries and all -inf rows 2, 5',
    spec: { shape: [7, 97], gen: gen.where(inRow(97, [2, 5]), -Infinity, gen.sprinkle(-Infinity, 0.3, gen.normal())) },
  },
  { label: '[3, 1025] all -inf row 1', spec: { shape: [3, 1025], gen: gen.where(inRow(1025, [1]), -Infinity, gen.normal()) } },
  { label: '[1, 7] one finite entry', spec: { shape: [1, 7], gen: gen.where((i) => i !== 3, -Infinity, gen.normal()) } },
  transposed([97, 7]),
  offset(7, 97),
  plain([0, 7]),
  plain([3, 0]),
];

const NORM_INPUTS: readonly RowInput[] = [
  plain([1, 1]),
  plain([7, 7]),
  plain([3, 97]),
  plain([1025]),
  plain([5, 1025]),
  plain([2, 3, 97]),
  // Offset activations: the mean matters (layerNorm subtracts it, rmsNorm does not).
  { label: '[7, 97] N(3, 1)', spec: { shape: [7, 97], gen: gen.normal(1, 3) } },
  // Small activations: mean(x²) ≈ 1e-6 is comparable to eps, so eps is visible in the result.
  { label: '[7, 97] N(0, 1e-3²)', spec: { shape: [7, 97], gen: gen.normal(1e-3) } },
  transposed([97, 7]),
  offset(7, 97),
  plain([0, 97]),
];

const REDUCE_INPUTS: readonly RowInput[] = [
  plain([1]),
  plain([7]),
  plain([97]),
  plain([1025]),
  plain([7, 97]),
  plain([3, 1025]),
  plain([2, 3, 7]),
  { label: '[7, 1025] N(10, 1)', spec: { shape: [7, 1025], gen: gen.normal(1, 10) } },
  transposed([97, 7]),
  offset(7, 97),
  plain([3, 0]), // empty rows: sum 0, mean NaN
  plain([0, 5]),
];

/** Weights near 1 and biases near 0, as trained norms have; never all zero. */
const weightSpec = (C: number): InputSpec => ({ shape: [C], gen: gen.normal(0.2, 1) });
const biasSpec = (C: number): InputSpec => ({ shape: [C], gen: gen.normal(0.5) });

function lastDim(spec: InputSpec): number {
  const shape = [...spec.shape];
  for (const v of spec.views ?? []) {
    if ('transpose' in v) {
      const [a, b] = v.transpose;
      [shape[a], shape[b]] = [shape[b]!, shape[a]!];
    } else if (v.slice[0] === shape.length - 1 || v.slice[0] === -1) {
      throw new Error('rows cases: slice the rows, not the normalized axis');
    }
  }
  return shape[shape.length - 1]!;
}

export function rowCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const dtype of FLOAT_DTYPES) {
    for (const { label, spec } of SOFTMAX_INPUTS) {
      cases.push({ op: 'softmax', dtype, name: label, inputs: [spec], run: (t, [x]) => t.softmax(x!), reference: ([x]) => ref.softmax(x!) });
    }

    for (const { label, spec } of NORM_INPUTS) {
      const C = lastDim(spec);
      cases.push({
        op: 'rmsNorm', dtype, name: label,
        inputs: [spec, weightSpec(C)],
        run: (t, [x, w]) => t.rmsNorm(x!, w!),
        reference: ([x, w]) => ref.rmsNorm(x!, w!, 1e-6),
      });
      cases.push({
        op: 'layerNorm', dtype, name: `${label} with bias`,
        inputs: [spec, weightSpec(C), biasSpec(C)],
        run: (t, [x, w, b]) => t.layerNorm(x!, w!, b!),
        reference: ([x, w, b]) => ref.layerNorm(x!, w!, b!, 1e-5),
      });
      cases.push({
        op: 'layerNorm', dtype, name: `${label} no bias`,
        inputs: [spec, weightSpec(C)],
        run: (t, [x, w]) => t.layerNorm(x!, w!, null),
        reference: ([x, w]) => ref.layerNorm(x!, w!, null, 1e-5),
      });
    }
    // Weight and bias as views at an offset into a larger storage.
    const at3 = (C: number, g: InputSpec): InputSpec => ({ shape: [C + 5], gen: g.gen, views: [{ slice: [0, 3, 3 + C] }] });
    cases.push({
      op: 'rmsNorm', dtype, name: '[7, 97] weight [102][3:100]',
      inputs: [{ shape: [7, 97] }, at3(97, weightSpec(97))],
      run: (t, [x, w]) => t.rmsNorm(x!, w!),
      reference: ([x, w]) => ref.rmsNorm(x!, w!, 1e-6),
    });
    cases.push({
      op: 'layerNorm', dtype, name: '[7, 97] weight [102][3:100] bias [102][3:100]',
      inputs: [{ shape: [7, 97] }, at3(97, weightSpec(97)), at3(97, biasSpec(97))],
      run: (t, [x, w, b]) => t.layerNorm(x!, w!, b!),
      reference: ([x, w, b]) => ref.layerNorm(x!, w!, b!, 1e-5),
    });
    // A non-default eps must reach the kernel: with mean(x²) ≈ 1e-6 it changes the result by orders of magnitude.
    const small: InputSpec = { shape: [7, 97], gen: gen.normal(1e-3) };
    cases.push({
      op: 'rmsNorm', dtype, name: '[7, 97] N(0, 1e-3²) eps 1e-2',
      inputs: [small, weightSpec(97)],
      run: (t, [x, w]) => t.rmsNorm(x!, w!, { eps: 1e-2 }),
      reference: ([x, w]) => ref.rmsNorm(x!, w!, 1e-2),
    });
    cases.push({
      op: 'layerNorm', dtype, name: '[7, 97] N(0, 1e-3²) eps 1e-2 with bias',
      inputs: [small, weightSpec(97), biasSpec(97)],
      run: (t, [x, w, b]) => t.layerNorm(x!, w!, b!, { eps: 1e-2 }),
      reference: ([x, w, b]) => ref.layerNorm(x!, w!, b!, 1e-2),
    });

    for (const { label, spec } of REDUCE_INPUTS) {
      for (const op of ['sum', 'mean'] as const) {
        for (const keepDim of [false, true]) {
          cases.push({
            op, dtype, name: `${label}${keepDim ? ' keepDim' : ''}`,
            inputs: [spec],
            run: (t, [x]) => t[op](x!, keepDim ? { keepDim } : undefined),
            reference: ([x]) => ref[op](x!, { keepDim }),
          });
        }
      }
    }
  }
  return cases;
}
