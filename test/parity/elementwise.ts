/**
 * Parity cases for the elementwise family: add, sub, mul, div with NumPy
 * broadcasting (scalar tensors, JS numbers, strided views, size-0 dims), and the
 * unary ops scale, silu, gelu (erf and tanh forms).
 */
import * as ref from '../reference/index.js';
import type { RefTensor } from '../reference/index.js';
import { FLOAT_DTYPES, gen, shapeName, type InputSpec, type ParityCase, type ViewOp } from './harness.js';

const SYMBOL: Readonly<Record<ref.BinaryOp, string>> = { add: '+', sub: '-', mul: '*', div: '/' };

interface Operand {
  shape: readonly number[];
  views?: readonly ViewOp[];
  /** How the case name shows the operand when it is a view. */
  label?: string;
}

/** Binary layouts: both operands are tensors. */
const TENSOR_LAYOUTS: ReadonlyArray<[Operand, Operand]> = [
  [{ shape: [1] }, { shape: [1] }],
  [{ shape: [7] }, { shape: [7] }],
  [{ shape: [97] }, { shape: [97] }],
  // 1025 columns: past the kernels' 1024-element row chunk.
  [{ shape: [97, 1025] }, { shape: [97, 1025] }],
  [{ shape: [7, 1, 97] }, { shape: [1, 33, 1] }],
  [{ shape: [3, 4] }, { shape: [4] }],
  [{ shape: [4] }, { shape: [3, 4] }],
  [{ shape: [1025] }, { shape: [1] }],
  [{ shape: [2, 1, 1025] }, { shape: [3, 1] }],
  [{ shape: [3, 4] }, { shape: [] }],
  [{ shape: [] }, { shape: [7] }],
  [{ shape: [] }, { shape: [] }],
  [{ shape: [97, 7], views: [{ transpose: [0, 1] }], label: '[97, 7]^T' }, { shape: [7, 97] }],
  [{ shape: [7, 200], views: [{ slice: [1, 3, 100] }], label: '[7, 200][:, 3:100]' }, { shape: [97] }],
  // A contiguous view that starts at an offset into its storage.
  [{ shape: [9, 97], views: [{ slice: [0, 2, 9] }], label: '[9, 97][2:9]' }, { shape: [97] }],
  // An inner stride of 3 in b, broadcast over a leading dim.
  [{ shape: [2, 3, 1025] }, { shape: [1025, 3], views: [{ transpose: [0, 1] }], label: '[1025, 3]^T' }],
  [{ shape: [0, 7] }, { shape: [7] }],
  [{ shape: [7, 0] }, { shape: [7, 1] }],
];

function operandName(o: Operand): string {
  return o.label ?? shapeName(o.shape);
}

function binaryCase(op: ref.BinaryOp, dtype: ParityCase['dtype'], a: Operand, b: Operand): ParityCase {
  const input = (o: Operand, isDivisor: boolean): InputSpec => ({
    shape: o.shape,
    views: o.views,
    // Divisors stay away from zero so that quotients stay in fp16's range.
    gen: isDivisor ? gen.awayFromZero() : gen.normal(),
  });
  return {
    op,
    dtype,
    name: `${operandName(a)} ${SYMBOL[op]} ${operandName(b)}`,
    inputs: [input(a, false), input(b, op === 'div')],
    run: (t, [x, y]) => t[op](x!, y!),
    reference: ([x, y]) => ref.binary(op, x!, y!),
  };
}

/** A JS number operand becomes a 0-d tensor of the other operand's dtype: rounded to it. */
function numberCase(op: ref.BinaryOp, dtype: ParityCase['dtype'], value: number, numberFirst: boolean): ParityCase {
  const shape = [7, 97];
  const scalar = (): RefTensor => ({ data: Float64Array.of(ref.roundTo(dtype as ref.FloatDType, value)), shape: [] });
  return {
    op,
    dtype,
    name: numberFirst ? `${value} ${SYMBOL[op]} ${shapeName(shape)}` : `${shapeName(shape)} ${SYMBOL[op]} ${value}`,
    inputs: [{ shape, gen: numberFirst && op === 'div' ? gen.awayFromZero() : gen.normal() }],
    run: (t, [x]) => (numberFirst ? t[op](value, x!) : t[op](x!, value)),
    reference: ([x]) => (numberFirst ? ref.binary(op, scalar(), x!) : ref.binary(op, x!, scalar())),
  };
}

const UNARY: ReadonlyArray<{ op: string; variant: string; run: ParityCase['run']; reference: (x: RefTensor) => RefTensor }> = [
  { op: 'scale', variant: 'alpha 0.125', run: (t, [x]) => t.scale(x!, 0.125), reference: (x) => ref.scale(x, 0.125) },
  // alpha is not a float32 value: the kernel's fp32 alpha differs from it by 2^-25 relative.
  { op: 'scale', variant: 'alpha -1.7', run: (t, [x]) => t.scale(x!, -1.7), reference: (x) => ref.scale(x, -1.7) },
  { op: 'silu', variant: '', run: (t, [x]) => t.silu(x!), reference: ref.silu },
  { op: 'gelu', variant: "approximate 'none'", run: (t, [x]) => t.gelu(x!), reference: ref.geluErf },
  { op: 'gelu', variant: "approximate 'tanh'", run: (t, [x]) => t.gelu(x!, { approximate: 'tanh' }), reference: ref.geluTanh },
];

const UNARY_INPUTS: ReadonlyArray<{ label: string; spec: InputSpec }> = [
  { label: '[1]', spec: { shape: [1] } },
  { label: '[7]', spec: { shape: [7] } },
  { label: '[97]', spec: { shape: [97] } },
  { label: '[1025]', spec: { shape: [1025] } },
  { label: '[3, 1025]', spec: { shape: [3, 1025] } },
  { label: '[]', spec: { shape: [] } },
  // Wide values reach the tails: |x| up to ~20, where GELU and SiLU saturate or underflow.
  { label: '[1025] wide (N(0, 5²))', spec: { shape: [1025], gen: gen.normal(5) } },
  { label: '[97, 7]^T', spec: { shape: [97, 7], views: [{ transpose: [0, 1] }] } },
  { label: '[9, 97][2:9]', spec: { shape: [9, 97], views: [{ slice: [0, 2, 9] }] } },
  { label: '[0, 5]', spec: { shape: [0, 5] } },
];

export function elementwiseCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const dtype of FLOAT_DTYPES) {
    for (const op of ['add', 'sub', 'mul', 'div'] as const) {
      for (const [a, b] of TENSOR_LAYOUTS) cases.push(binaryCase(op, dtype, a, b));
      cases.push(numberCase(op, dtype, 0.37, false));
      cases.push(numberCase(op, dtype, 1.7, true));
    }
    // The ends of the fp16 range: products that overflow to ±Infinity, and products
    // in the subnormal range (below 2^-14), where the output rounding is coarsest.
    for (const [label, scale] of [['N(0, 300²)', 300], ['N(0, 0.01²)', 0.01]] as const) {
      cases.push({
        op: 'mul', dtype,
        name: `[1025] * [1025] ${label}`,
        inputs: [{ shape: [1025], gen: gen.normal(scale) }, { shape: [1025], gen: gen.normal(scale) }],
        run: (t, [x, y]) => t.mul(x!, y!),
        reference: ([x, y]) => ref.binary('mul', x!, y!),
      });
    }
    for (const u of UNARY) {
      for (const { label, spec } of UNARY_INPUTS) {
        cases.push({
          op: u.op,
          dtype,
          name: u.variant ? `${u.variant} ${label}` : label,
          inputs: [spec],
          run: u.run,
          reference: ([x]) => u.reference(x!),
        });
      }
    }
  }
  return cases;
}
