/**
 * Parity cases for cast (Tensor.to(dtype)): every float pair, float → int (round
 * to nearest even, saturation, NaN → 0) and int → float, on contiguous inputs
 * (the bulk converters) and strided ones (the per-element path). Exact: a
 * conversion has one right answer.
 */
import type { DType } from '../../lib/index.js';
import * as ref from '../reference/index.js';
import { FLOAT_DTYPES, gen, type Generator, type InputSpec, type ParityCase, type ViewOp } from './harness.js';

const INT_DTYPES: readonly ref.IntDType[] = ['int8', 'uint8', 'int32'];

/**
 * Values that probe the float formats: signed zeros, infinities, NaN, fp16's
 * largest finite value and overflow threshold (65504, 65520), fp16 subnormals and
 * the tie below the smallest one (2^-25), ties between neighbours in fp16 (1 + 2^-11)
 * and bf16 (1 + 2^-8, 1 + 3·2^-8), fp32 subnormals, and the ends of fp32.
 */
const FLOAT_SPECIALS: readonly number[] = [
  -2.5, 1, 0.1, 0, -0, Infinity, -Infinity, NaN, -1,
  65504, 65519, 65520, -65536, 1e5,
  2 ** -14, 2 ** -24, 3 * 2 ** -26, 2 ** -25, 2 ** -26, -(2 ** -20),
  1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8 + 2 ** -20),
  1e-39, -1e-45, 3.4e38, -3.4e38, 1.17549435e-38,
];

/** Random floats over 2^-30 … 2^20 in magnitude, both signs: every exponent range fp16 and bf16 handle differently. */
const wideFloat: Generator = (rng) => (rng.uniform() < 0.5 ? -1 : 1) * 2 ** (-30 + 50 * rng.uniform()) * (1 + rng.uniform());

/** Halves (ties for rounding) and values around each integer range, plus the specials. */
function floatToIntGen(dtype: ref.IntDType): Generator {
  const [lo, hi] = ref.intRange(dtype);
  const INT_SPECIALS = [
    NaN, Infinity, -Infinity, 0, -0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, -0.50000006,
    lo - 1, lo - 0.5, lo, hi, hi + 0.5, hi + 1, 1e10, -1e10, 3e38, -3e38,
    2147483520, -2147483648, 2147483648, // the float32 values around int32's ends
  ];
  const span = hi - lo;
  const random: Generator = (rng) => {
    const v = lo - 0.1 * span + 1.2 * span * rng.uniform();
    // A quarter of the values are exact halves: the ties round-to-nearest-even decides.
    return rng.uniform() < 0.25 ? Math.floor(v) + 0.5 : v;
  };
  return gen.leading(INT_SPECIALS, random);
}

function intSourceGen(dtype: ref.IntDType): Generator {
  const [lo, hi] = ref.intRange(dtype);
  // int8, uint8: every value once (starting past lo, so that a one-element input is not 0), then random.
  if (dtype !== 'int32') return (rng, i) => (i <= hi - lo ? lo + ((i + 1) % (hi - lo + 1)) : rng.int(lo, hi));
  // int32: values that float32, fp16 and bf16 must round (2^24 + 1, 2049, 65520, …), then the full range.
  const specials = [hi, lo, 16777217, 16777219, -16777217, 2049, 2051, 65519, 65520, 65536, 1, -1, 0, 257, 259];
  return gen.leading(specials, (rng) => (rng.uniform() < 0.5 ? rng.int(lo, hi) : rng.int(-70000, 70000)));
}

interface Layout {
  label: string;
  shape: number[];
  views?: ViewOp[];
}

const LAYOUTS: readonly Layout[] = [
  { label: '[1]', shape: [1] },
  { label: '[7]', shape: [7] },
  { label: '[1025]', shape: [1025] },
  { label: '[1030][3:1028]', shape: [1030], views: [{ slice: [0, 3, 1028] }] }, // contiguous, at an offset
  { label: '[257, 7]^T', shape: [257, 7], views: [{ transpose: [0, 1] }] }, // strided: the per-element path
  { label: '[0]', shape: [0] },
];

function castCase(from: DType, to: DType, layout: Layout, generator: Generator): ParityCase {
  const spec: InputSpec = { shape: layout.shape, gen: generator, views: layout.views };
  return {
    op: 'cast',
    dtype: from,
    name: `to ${to} ${layout.label}`,
    inputs: [spec],
    run: (t, [x]) => t.cast(x!, to),
    reference: ([x]) => ref.cast(x!, to),
    tolerance: () => ({ kind: 'exact' }),
    // A cast to the same dtype of a contiguous tensor may return a new view of the same memory.
    outputIsView: from === to,
  };
}

export function castCases(): ParityCase[] {
  const cases: ParityCase[] = [];
  for (const layout of LAYOUTS) {
    for (const from of FLOAT_DTYPES) {
      for (const to of FLOAT_DTYPES) cases.push(castCase(from, to, layout, gen.leading(FLOAT_SPECIALS, wideFloat)));
      for (const to of INT_DTYPES) cases.push(castCase(from, to, layout, floatToIntGen(to)));
    }
    for (const from of INT_DTYPES) {
      for (const to of FLOAT_DTYPES) cases.push(castCase(from, to, layout, intSourceGen(from)));
    }
  }
  return cases;
}
