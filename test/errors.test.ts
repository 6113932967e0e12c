// The error contract: every bad call throws a TesseraError with the right code and
// the exact message "Expected <what> for <name> but received <value>", at the call
// site, before native code sees it. Native failures (an allocation that cannot be
// made) come back as TesseraErrors too, and the process keeps working.
//
// Fixtures live on the CPU so that the messages read the same on a machine with a
// GPU, where the default device is cuda:0.
import { describe, expect, test } from 'vitest';
import * as tessera from '../lib/index.js';
import type { DType, ErrorCode, Tensor } from '../lib/index.js';

/** [what the call does wrong, the call, the code, the exact message] */
type Row = [string, () => unknown, ErrorCode, string];

const onCpu = { device: 'cpu' } as const;

function zeros(shape: number[], dtype: DType = 'float32'): Tensor {
  return tessera.zeros(shape, { dtype, device: 'cpu' });
}

/** [[1, 2], [3, 4]], float32 on the CPU. */
function x22(): Tensor {
  return tessera.tensor([[1, 2], [3, 4]], onCpu);
}

function disposed(shape: number[] = [2, 3]): Tensor {
  const t = zeros(shape);
  t.dispose();
  return t;
}

/** An array nested `depth` levels deep around a 1. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; ++i) value = [value];
  return value;
}

/** An array that contains itself. */
function cyclic(): unknown[] {
  const a: unknown[] = [];
  a.push(a);
  return a;
}

function withEnv<R>(name: string, value: string, call: () => R): R {
  const previous = process.env[name];
  process.env[name] = value;
  try {
    return call();
  } finally {
    if (previous === undefined) delete process.env[name];
    else process.env[name] = previous;
  }
}

/** The error `call` throws; fails the test when it returns. */
function caught(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw, but it returned');
}

function expectError(error: unknown, code: ErrorCode, message: string): void {
  expect(error).toBeInstanceOf(tessera.TesseraError);
  const { code: actualCode, message: actualMessage } = error as tessera.TesseraError;
  expect({ code: actualCode, message: actualMessage }).toEqual({ code, message });
}

function runTable(rows: Row[]): void {
  test.each(rows)('%s', (_what, call, code, message) => expectError(caught(call), code, message));
}

const cuda = tessera.info().cuda;

describe('E_SHAPE', () => {
  runTable([
    ['matmul with K of b unequal to K of a', () => tessera.matmul(zeros([2, 3]), zeros([4, 5])), 'E_SHAPE',
      'Expected [..., K, N] with K = 3 (from a [2, 3]) for b but received [4, 5]'],
    ['matmul transposeB with K of b unequal to K of a', () => tessera.matmul(zeros([2, 3]), zeros([4, 5]), { transposeB: true }), 'E_SHAPE',
      'Expected [..., N, K] with K = 3 (from a [2, 3]) for b but received [4, 5]'],
    ['matmul with batch dimensions that do not broadcast', () => tessera.matmul(zeros([2, 2, 3]), zeros([3, 3, 4])), 'E_SHAPE',
      'Expected a shape that broadcasts with a batch [2] for b batch but received [3]'],
    ['matmul of a 1-D a', () => tessera.matmul(zeros([3]), x22()), 'E_SHAPE',
      'Expected a tensor of at least 2 dimensions for a but received [3]'],
    ['matmul of a 0-D b', () => tessera.matmul(x22(), tessera.tensor(1, onCpu)), 'E_SHAPE',
      'Expected a tensor of at least 2 dimensions for b but received []'],
    ['add of shapes that do not broadcast', () => tessera.add(zeros([2, 3]), zeros([4])), 'E_SHAPE',
      'Expected a shape that broadcasts with a [2, 3] for b but received [4]'],
    ['rmsNorm with a weight of the wrong length', () => tessera.rmsNorm(zeros([2, 3]), zeros([4])), 'E_SHAPE',
      'Expected a 1-D tensor of length 3 for weight but received [4]'],
    ['layerNorm with a 2-D bias', () => tessera.layerNorm(zeros([2, 3]), zeros([3]), zeros([1, 3])), 'E_SHAPE',
      'Expected a 1-D tensor of length 3 for bias but received [1, 3]'],
    ['softmax of a 0-D tensor', () => tessera.softmax(tessera.tensor(3, onCpu)), 'E_SHAPE',
      'Expected a tensor of at least 1 dimension for x but received []'],
    ['reshape to another number of elements', () => x22().reshape([3]), 'E_SHAPE',
      'Expected a shape of 4 elements (from [2, 2]) for shape but received [3]'],
    ['reshape with two -1', () => x22().reshape([-1, -1]), 'E_SHAPE',
      'Expected an array of non-negative integers with at most one -1 for shape but received [-1, -1]'],
    ['reshape with a -1 that cannot be inferred', () => x22().reshape([3, -1]), 'E_SHAPE',
      'Expected a shape whose size divides 4 for shape but received [3, -1]'],
    ['reshape with a fractional size', () => x22().reshape([1.5, 2]), 'E_SHAPE',
      'Expected an array of non-negative integers with at most one -1 for shape but received [1.5, 2]'],
    ['reshape to 9 dimensions', () => zeros([1]).reshape([1, 1, 1, 1, 1, 1, 1, 1, 1]), 'E_SHAPE',
      'Expected at most 8 dimensions for shape but received [1, 1, 1, 1, 1, 1, 1, 1, …]'],
    ['reshape to a number', () => x22().reshape(4 as never), 'E_SHAPE',
      'Expected an array of integers for shape but received 4'],
    ['tensor() with data shorter than the shape', () => tessera.tensor([1, 2, 3], { shape: [2, 2] }), 'E_SHAPE',
      'Expected a shape of 3 elements for options.shape but received [2, 2]'],
    ['tensor() with a Float64Array longer than the shape', () => tessera.tensor(new Float64Array(3), { shape: [2] }), 'E_SHAPE',
      'Expected a shape of 3 elements for options.shape but received [2]'],
    ['tensor() with a fractional options.shape', () => tessera.tensor([1, 2], { shape: [2.5] }), 'E_SHAPE',
      'Expected an array of non-negative integers for options.shape but received [2.5]'],
    ['tensor() of rows of different lengths', () => tessera.tensor([[1, 2], [3]]), 'E_SHAPE',
      'Expected a rectangular nested array of shape [2, 2] for data but received a ragged array'],
    ['tensor() of a row and a number', () => tessera.tensor([[1, 2], 3] as never), 'E_SHAPE',
      'Expected a rectangular nested array of shape [2, 2] for data but received a ragged array'],
    ['tensor() of a number and a row', () => tessera.tensor([1, [2]] as never), 'E_SHAPE',
      'Expected a rectangular nested array of shape [2] for data but received a ragged array'],
    ['tensor() of arrays nested 9 deep', () => tessera.tensor(nested(9) as never), 'E_SHAPE',
      'Expected at most 8 dimensions for data but received an array nested more than 8 deep'],
    ['tensor() of arrays nested 100000 deep', () => tessera.tensor(nested(100_000) as never), 'E_SHAPE',
      'Expected at most 8 dimensions for data but received an array nested more than 8 deep'],
    ['tensor() of an array that contains itself', () => tessera.tensor(cyclic() as never), 'E_SHAPE',
      'Expected at most 8 dimensions for data but received an array nested more than 8 deep'],
    ['zeros with a fractional size', () => tessera.zeros([2.5]), 'E_SHAPE',
      'Expected an array of non-negative integers for shape but received [2.5]'],
    ['zeros with a negative size', () => tessera.zeros([-1]), 'E_SHAPE',
      'Expected an array of non-negative integers for shape but received [-1]'],
    ['zeros with a string for the shape', () => tessera.zeros('3' as never), 'E_SHAPE',
      'Expected an array of non-negative integers for shape but received "3"'],
    ['zeros with a string size', () => tessera.zeros([2, 'a'] as never), 'E_SHAPE',
      'Expected an array of non-negative integers for shape but received [2, "a"]'],
    ['zeros with a NaN size', () => tessera.zeros([NaN]), 'E_SHAPE',
      'Expected an array of non-negative integers for shape but received [NaN]'],
    ['ones with an infinite size', () => tessera.ones([Infinity]), 'E_SHAPE',
      'Expected an array of non-negative integers for shape but received [Infinity]'],
    ['empty with an object for the shape', () => tessera.empty({} as never), 'E_SHAPE',
      'Expected an array of non-negative integers for shape but received an object'],
    ['zeros with 9 dimensions', () => tessera.zeros([1, 1, 1, 1, 1, 1, 1, 1, 1]), 'E_SHAPE',
      'Expected at most 8 dimensions for shape but received [1, 1, 1, 1, 1, 1, 1, 1, …]'],
    ['zeros with a shape nested 100000 deep', () => tessera.zeros(nested(100_000) as never), 'E_SHAPE',
      'Expected an array of non-negative integers for shape but received [[[…]]]'],
    ['zeros with a shape that contains itself', () => tessera.zeros(cyclic() as never), 'E_SHAPE',
      'Expected an array of non-negative integers for shape but received [[[…]]]'],
  ]);
});

describe('E_DTYPE', () => {
  runTable([
    ['zeros with an unknown dtype', () => tessera.zeros([2], { dtype: 'float64' as never }), 'E_DTYPE',
      'Expected one of float32, float16, bfloat16, int8, uint8, int32 for options.dtype but received "float64"'],
    ['tensor() with a dtype nickname', () => tessera.tensor([1], { dtype: 'fp16' as never }), 'E_DTYPE',
      'Expected one of float32, float16, bfloat16, int8, uint8, int32 for options.dtype but received "fp16"'],
    ['cast to an unknown dtype', () => tessera.cast(x22(), 'float64' as never), 'E_DTYPE',
      'Expected one of float32, float16, bfloat16, int8, uint8, int32 for dtype but received "float64"'],
    ['to() an unknown dtype', () => x22().to({ dtype: 'x' as never }), 'E_DTYPE',
      'Expected one of float32, float16, bfloat16, int8, uint8, int32 for target.dtype but received "x"'],
    ['add of float32 and float16', () => tessera.add(zeros([2]), zeros([2], 'float16')), 'E_DTYPE',
      'Expected a float32 tensor (the dtype of a) for b but received Tensor(float16, [2], cpu)'],
    ['rmsNorm with a float16 weight for a float32 x', () => tessera.rmsNorm(x22(), zeros([2], 'float16')), 'E_DTYPE',
      'Expected a float32 tensor (the dtype of x) for weight but received Tensor(float16, [2], cpu)'],
    ['softmax of an int32 tensor', () => tessera.softmax(zeros([2], 'int32')), 'E_DTYPE',
      'Expected a float32, float16 or bfloat16 tensor for x of softmax but received Tensor(int32, [2], cpu)'],
    ['matmul of int32 tensors', () => tessera.matmul(zeros([2, 2], 'int32'), zeros([2, 2], 'int32')), 'E_DTYPE',
      'Expected a float32, float16 or bfloat16 tensor for a of matmul but received Tensor(int32, [2, 2], cpu)'],
    ['add of int32 tensors', () => tessera.add(zeros([2], 'int32'), zeros([2], 'int32')), 'E_DTYPE',
      'Expected a float32, float16 or bfloat16 tensor for a of add but received Tensor(int32, [2], cpu)'],
    ['rmsNorm of int8 tensors', () => tessera.rmsNorm(zeros([2], 'int8'), zeros([2], 'int8')), 'E_DTYPE',
      'Expected a float32, float16 or bfloat16 tensor for x of rmsNorm but received Tensor(int8, [2], cpu)'],
    ['tensor() of a Uint16Array without a dtype', () => tessera.tensor(new Uint16Array(2)), 'E_DTYPE',
      "Expected dtype 'float16' or 'bfloat16' with a Uint16Array of bit patterns for options.dtype but received undefined"],
    ['tensor() of a Uint16Array as float32', () => tessera.tensor(new Uint16Array(2), { dtype: 'float32' }), 'E_DTYPE',
      "Expected dtype 'float16' or 'bfloat16' with a Uint16Array of bit patterns for options.dtype but received \"float32\""],
    ['randn with an integer dtype', () => tessera.randn([2], { dtype: 'int8' }), 'E_DTYPE',
      'Expected a floating dtype (float32, float16, bfloat16) for options.dtype but received "int8"'],
    ['rand with an integer dtype', () => tessera.rand([2], { dtype: 'int32' }), 'E_DTYPE',
      'Expected a floating dtype (float32, float16, bfloat16) for options.dtype but received "int32"'],
  ]);
});

describe('E_DEVICE', () => {
  const deviceCount = cuda.devices.length;
  const cudaRows: Row[] = cuda.available
    ? [
        ['a CUDA index past the last device', () => tessera.zeros([2], { device: `cuda:${deviceCount}` }), 'E_DEVICE',
          `Expected a CUDA device index below ${deviceCount} for options.device but received "cuda:${deviceCount}"`],
        ['add of a cuda tensor and a cpu tensor', () => tessera.add(tessera.zeros([2], { device: 'cuda' }), zeros([2])), 'E_DEVICE',
          'Expected a tensor on cuda:0 (the device of a) for b but received Tensor(float32, [2], cpu)'],
        ['matmul of a cpu tensor and a cuda tensor', () => tessera.matmul(x22(), x22().to('cuda')), 'E_DEVICE',
          'Expected a tensor on cpu (the device of a) for b but received Tensor(float32, [2, 2], cuda:0)'],
      ]
    : [
        ['cuda where CUDA is unavailable, with the reason', () => tessera.zeros([2], { device: 'cuda' }), 'E_DEVICE',
          `Expected an available device for options.device but received "cuda" (CUDA is unavailable: ${cuda.reason})`],
        ['cuda:0 where CUDA is unavailable, with the reason', () => tessera.tensor([1], { device: 'cuda:0' }), 'E_DEVICE',
          `Expected an available device for options.device but received "cuda:0" (CUDA is unavailable: ${cuda.reason})`],
        ['to() cuda where CUDA is unavailable, with the reason', () => x22().to('cuda'), 'E_DEVICE',
          `Expected an available device for target but received "cuda" (CUDA is unavailable: ${cuda.reason})`],
      ];

  runTable([
    ['an unknown device', () => tessera.zeros([2], { device: 'tpu' }), 'E_DEVICE',
      `Expected 'cpu', 'emu', 'cuda' or 'cuda:N' for options.device but received "tpu"`],
    ['a CUDA index that is not a number', () => tessera.zeros([2], { device: 'cuda:abc' }), 'E_DEVICE',
      `Expected 'cpu', 'emu', 'cuda' or 'cuda:N' for options.device but received "cuda:abc"`],
    ['a negative CUDA index', () => tessera.randn([2], { device: 'cuda:-1' }), 'E_DEVICE',
      `Expected 'cpu', 'emu', 'cuda' or 'cuda:N' for options.device but received "cuda:-1"`],
    ['a device name in capitals', () => tessera.full([2], 1, { device: 'CPU' }), 'E_DEVICE',
      `Expected 'cpu', 'emu', 'cuda' or 'cuda:N' for options.device but received "CPU"`],
    ['a number for the device', () => tessera.tensor([1], { device: 3 as never }), 'E_DEVICE',
      `Expected 'cpu', 'emu', 'cuda' or 'cuda:N' for options.device but received 3`],
    ['to() an unknown device or dtype', () => x22().to('tpu'), 'E_ARGUMENT',
      `Expected a device ('cpu', 'emu', 'cuda', 'cuda:N') or a dtype (float32, float16, bfloat16, int8, uint8, int32) for target but received "tpu"`],
    ['to() an unknown target.device', () => x22().to({ device: 'tpu' }), 'E_DEVICE',
      `Expected 'cpu', 'emu', 'cuda' or 'cuda:N' for target.device but received "tpu"`],
    ['an unknown TESSERA_DEVICE', () => withEnv('TESSERA_DEVICE', 'tpu', () => tessera.zeros([1])), 'E_DEVICE',
      `Expected 'cpu', 'emu', 'cuda' or 'cuda:N' for TESSERA_DEVICE but received "tpu"`],
    ...cudaRows,
  ]);

  test.runIf(!cuda.available)('info() says why CUDA is unavailable', () => {
    expect(cuda.reason).toMatch(/\S/);
  });
});

describe('E_ARGUMENT', () => {
  runTable([
    ['zeros whose byte count overflows 2^53', () => tessera.zeros([2 ** 30, 2 ** 30, 16]), 'E_ARGUMENT',
      'Expected a byte size below 2^53 for shape but received shape [1073741824, 1073741824, 16] (73786976294838210000 bytes)'],
    ['int8 zeros of exactly 2^53 bytes', () => tessera.zeros([2 ** 26, 2 ** 27], { dtype: 'int8' }), 'E_ARGUMENT',
      'Expected a byte size below 2^53 for shape but received shape [67108864, 134217728] (9007199254740992 bytes)'],
    ['tensor() with a number for options', () => tessera.tensor([1], 5 as never), 'E_ARGUMENT',
      'Expected an options object for options but received 5'],
    ['zeros with null options', () => tessera.zeros([2], null as never), 'E_ARGUMENT',
      'Expected an options object for options but received null'],
    ['rand with an array for options', () => tessera.rand([2], [] as never), 'E_ARGUMENT',
      'Expected an options object for options but received []'],
    ['gelu with a string for options', () => tessera.gelu(x22(), 'tanh' as never), 'E_ARGUMENT',
      'Expected an options object for options but received "tanh"'],
    ['sum with null options', () => tessera.sum(x22(), null as never), 'E_ARGUMENT',
      'Expected an options object for options but received null'],
    ['rmsNorm with eps 0', () => tessera.rmsNorm(x22(), zeros([2]), { eps: 0 }), 'E_ARGUMENT',
      'Expected a positive finite number for options.eps but received 0'],
    ['rmsNorm with eps NaN', () => tessera.rmsNorm(x22(), zeros([2]), { eps: NaN }), 'E_ARGUMENT',
      'Expected a positive finite number for options.eps but received NaN'],
    ['rmsNorm with eps Infinity', () => tessera.rmsNorm(x22(), zeros([2]), { eps: Infinity }), 'E_ARGUMENT',
      'Expected a positive finite number for options.eps but received Infinity'],
    ['layerNorm with a negative eps', () => tessera.layerNorm(x22(), zeros([2]), null, { eps: -1 }), 'E_ARGUMENT',
      'Expected a positive finite number for options.eps but received -1'],
    ['layerNorm with a string eps', () => tessera.layerNorm(x22(), zeros([2]), null, { eps: '1e-5' as never }), 'E_ARGUMENT',
      'Expected a positive finite number for options.eps but received "1e-5"'],
    ["gelu with approximate 'fast'", () => tessera.gelu(x22(), { approximate: 'fast' as never }), 'E_ARGUMENT',
      `Expected 'none' or 'tanh' for options.approximate but received "fast"`],
    ['gelu with approximate true', () => tessera.gelu(x22(), { approximate: true as never }), 'E_ARGUMENT',
      `Expected 'none' or 'tanh' for options.approximate but received true`],
    ["matmul with transposeB 'yes'", () => tessera.matmul(x22(), x22(), { transposeB: 'yes' as never }), 'E_ARGUMENT',
      'Expected a boolean for options.transposeB but received "yes"'],
    ['matmul with transposeB 1', () => tessera.matmul(x22(), x22(), { transposeB: 1 as never }), 'E_ARGUMENT',
      'Expected a boolean for options.transposeB but received 1'],
    ["mean with keepDim 'yes'", () => tessera.mean(x22(), { keepDim: 'yes' as never }), 'E_ARGUMENT',
      'Expected a boolean for options.keepDim but received "yes"'],
    ['randn with seed -1', () => tessera.randn([2], { seed: -1 }), 'E_ARGUMENT',
      'Expected an integer in [0, 2^53) for options.seed but received -1'],
    ['randn with seed 1.5', () => tessera.randn([2], { seed: 1.5 }), 'E_ARGUMENT',
      'Expected an integer in [0, 2^53) for options.seed but received 1.5'],
    ['rand with seed 2^53', () => tessera.rand([2], { seed: 2 ** 53 }), 'E_ARGUMENT',
      'Expected an integer in [0, 2^53) for options.seed but received 9007199254740992'],
    ['randn with a string seed', () => tessera.randn([2], { seed: '1' as never }), 'E_ARGUMENT',
      'Expected an integer in [0, 2^53) for options.seed but received "1"'],
    ['transpose past the last axis', () => x22().transpose(0, 2), 'E_ARGUMENT',
      'Expected an integer axis in [-2, 1] for axisB but received 2'],
    ['transpose with a string axis', () => x22().transpose('0' as never, 1), 'E_ARGUMENT',
      'Expected an integer axis in [-2, 1] for axisA but received "0"'],
    ['slice before the first axis', () => x22().slice(-3, 0), 'E_ARGUMENT',
      'Expected an integer axis in [-2, 1] for axis but received -3'],
    ['slice with a fractional start', () => x22().slice(0, 0.5), 'E_ARGUMENT',
      'Expected an integer for start but received 0.5'],
    ['slice with a NaN end', () => x22().slice(0, 0, NaN), 'E_ARGUMENT',
      'Expected an integer for end but received NaN'],
    ['scale by NaN', () => tessera.scale(x22(), NaN), 'E_ARGUMENT',
      'Expected a finite number for alpha but received NaN'],
    ['full with a string value', () => tessera.full([2], 'a' as never), 'E_ARGUMENT',
      'Expected a number for value but received "a"'],
    ['to() a number', () => x22().to(3 as never), 'E_ARGUMENT',
      'Expected a device, a dtype or {device, dtype} for target but received 3'],
    ['matmul of null', () => tessera.matmul(null as never, x22()), 'E_ARGUMENT',
      'Expected a Tensor for a but received null'],
    ['matmul with b missing', () => (tessera.matmul as (a: Tensor) => Tensor)(x22()), 'E_ARGUMENT',
      'Expected a Tensor for b but received undefined'],
    ['add of a plain object', () => tessera.add({} as never, x22()), 'E_ARGUMENT',
      'Expected a Tensor for a but received an object'],
    ['add of a plain object and a number', () => tessera.add({} as never, 1), 'E_ARGUMENT',
      'Expected a Tensor for a but received an object'],
    ['add of a string', () => tessera.add(x22(), '1' as never), 'E_ARGUMENT',
      'Expected a Tensor for b but received "1"'],
    ['add of two numbers', () => tessera.add(1, 2), 'E_ARGUMENT',
      'Expected at least one Tensor for a, b but received [1, 2]'],
    ['softmax of a plain array', () => tessera.softmax([1, 2, 3] as never), 'E_ARGUMENT',
      'Expected a Tensor for x but received [1, 2, 3]'],
    ['rmsNorm with a null weight', () => tessera.rmsNorm(x22(), null as never), 'E_ARGUMENT',
      'Expected a Tensor for weight but received null'],
    ['layerNorm with a plain object for bias', () => tessera.layerNorm(x22(), zeros([2]), {} as never), 'E_ARGUMENT',
      'Expected a Tensor for bias but received an object'],
    ['cast of null', () => tessera.cast(null as never, 'float16'), 'E_ARGUMENT',
      'Expected a Tensor for x but received null'],
    ['tensor() of a string', () => tessera.tensor('abc' as never), 'E_ARGUMENT',
      'Expected a typed array, a (nested) number array or a number for data but received "abc"'],
    ['tensor() of undefined', () => tessera.tensor(undefined as never), 'E_ARGUMENT',
      'Expected a typed array, a (nested) number array or a number for data but received undefined'],
    ['tensor() of a DataView', () => tessera.tensor(new DataView(new ArrayBuffer(4))), 'E_ARGUMENT',
      'Expected a typed array, a (nested) number array or a number for data but received a DataView of length 4'],
    ['tensor() of a Map', () => tessera.tensor(new Map() as never), 'E_ARGUMENT',
      'Expected a typed array, a (nested) number array or a number for data but received a Map'],
    ['tensor() of a BigInt64Array', () => tessera.tensor(new BigInt64Array(2)), 'E_ARGUMENT',
      'Expected a Float32Array, Float64Array, Int32Array, Int8Array, Uint8Array, Uint16Array or Float16Array for data but received a BigInt64Array of length 2'],
    ['tensor() of nested arrays of strings', () => tessera.tensor([['a', 'b']]), 'E_ARGUMENT',
      'Expected numbers for data elements but received "a"'],
    ['tensor() of booleans', () => tessera.tensor([true]), 'E_ARGUMENT',
      'Expected numbers for data elements but received true'],
    ['tensor() of 300 as int8', () => tessera.tensor([300], { dtype: 'int8' }), 'E_ARGUMENT',
      'Expected integers in [-128, 127] for dtype int8 for data[0] but received 300'],
    ['tensor() of an Int32Array holding 300 as int8', () => tessera.tensor(new Int32Array([1, 300]), { dtype: 'int8' }), 'E_ARGUMENT',
      'Expected integers in [-128, 127] for dtype int8 for data[1] but received 300'],
    ['tensor() of NaN as uint8', () => tessera.tensor([NaN], { dtype: 'uint8' }), 'E_ARGUMENT',
      'Expected integers in [0, 255] for dtype uint8 for data[0] but received NaN'],
    ['tensor() of 1.5 as int32', () => tessera.tensor(new Float32Array([1.5]), { dtype: 'int32' }), 'E_ARGUMENT',
      'Expected integers in [-2147483648, 2147483647] for dtype int32 for data[0] but received 1.5'],
  ]);
});

describe('E_DISPOSED', () => {
  const gone = 'Tensor(float32, [2, 3], cpu, disposed)';
  runTable([
    ['softmax of a disposed tensor', () => tessera.softmax(disposed()), 'E_DISPOSED',
      `Expected a live tensor for x but received ${gone}`],
    ['matmul of a disposed a', () => tessera.matmul(disposed(), zeros([3, 2])), 'E_DISPOSED',
      `Expected a live tensor for a but received ${gone}`],
    ['add of a disposed b', () => tessera.add(zeros([2, 3]), disposed()), 'E_DISPOSED',
      `Expected a live tensor for b but received ${gone}`],
    ['add of a disposed tensor and a number', () => tessera.add(disposed(), 1), 'E_DISPOSED',
      `Expected a live tensor for a but received ${gone}`],
    ['add of a number and a disposed tensor', () => tessera.add(1, disposed()), 'E_DISPOSED',
      `Expected a live tensor for b but received ${gone}`],
    ['rmsNorm with a disposed weight', () => tessera.rmsNorm(zeros([2]), disposed([2])), 'E_DISPOSED',
      'Expected a live tensor for weight but received Tensor(float32, [2], cpu, disposed)'],
    ['cast of a disposed tensor', () => tessera.cast(disposed(), 'float16'), 'E_DISPOSED',
      `Expected a live tensor for x but received ${gone}`],
    ['reshape of a disposed tensor', () => disposed().reshape([6]), 'E_DISPOSED',
      `Expected a live tensor for tensor but received ${gone}`],
    ['transpose of a disposed tensor', () => disposed().transpose(0, 1), 'E_DISPOSED',
      `Expected a live tensor for tensor but received ${gone}`],
    ['slice of a disposed tensor', () => disposed().slice(0, 0, 1), 'E_DISPOSED',
      `Expected a live tensor for tensor but received ${gone}`],
    ['to() of a disposed tensor', () => disposed().to('float16'), 'E_DISPOSED',
      `Expected a live tensor for tensor but received ${gone}`],
    ['contiguous() of a disposed tensor', () => disposed().contiguous(), 'E_DISPOSED',
      `Expected a live tensor for tensor but received ${gone}`],
    ['dataSync() of a disposed tensor', () => disposed().dataSync(), 'E_DISPOSED',
      `Expected a live tensor for tensor but received ${gone}`],
  ]);

  test('data() of a disposed tensor does not throw: it returns a promise that rejects', async () => {
    const t = disposed();
    let read: Promise<unknown> | undefined;
    expect(() => { read = t.data(); }).not.toThrow();
    expect(read).toBeInstanceOf(Promise);
    const error = await read!.then(() => new Error('expected data() to reject, but it resolved'), (e: unknown) => e);
    expectError(error, 'E_DISPOSED', `Expected a live tensor for tensor but received ${gone}`);
  });

  test('disposing twice is fine, through dispose() and Symbol.dispose alike', () => {
    const t = zeros([2, 3]);
    expect(() => {
      t.dispose();
      t.dispose();
      t[Symbol.dispose]();
    }).not.toThrow();
    expect(t.disposed).toBe(true);
  });

  test('a view stays readable after its base is disposed (it holds its own reference)', () => {
    const base = zeros([4]);
    const view = base.reshape([2, 2]);
    base.dispose();
    expect(Array.from(view.dataSync())).toEqual([0, 0, 0, 0]);
    view.dispose();
  });
});

describe('E_OOM', () => {
  // 2^50 bytes (1 PiB) is past the 47-bit user address space, so the allocation
  // fails even where the kernel overcommits memory. A smaller impossible size (64 TiB)
  // can be granted there, and the fill that touches it would bring in the OOM killer.
  runTable([
    ['zeros of 1 PiB', () => tessera.zeros([2 ** 48], onCpu), 'E_OOM',
      'Expected 1125899906842624 bytes of free host memory for cpu but received an allocation failure'],
    ['empty of 1 PiB', () => tessera.empty([2 ** 47, 2], onCpu), 'E_OOM',
      'Expected 1125899906842624 bytes of free host memory for cpu but received an allocation failure'],
    ['randn of 1 PiB', () => tessera.randn([2 ** 49], { dtype: 'float16', device: 'cpu' }), 'E_OOM',
      'Expected 1125899906842624 bytes of free host memory for cpu but received an allocation failure'],
  ]);

  // No test reads a poisoned result (a kernel that fails after its op returned): the
  // CPU kernels do not fail, and the one allocation made on the stream (the read-back
  // buffer) can only be made to fail by exhausting the machine's real memory.

  test('after a failed allocation the process keeps computing', async () => {
    expect(() => tessera.zeros([2 ** 48], onCpu)).toThrow(tessera.TesseraError);
    const y = tessera.add(x22(), 1);
    expect(Array.from(await y.data())).toEqual([2, 3, 4, 5]);
    y.dispose();
  });
});

describe('valid calls at the edges are not errors', () => {
  test.each([
    ['leading', [0, 2 ** 30, 2 ** 30]],
    ['trailing', [2 ** 30, 2 ** 30, 0]],
  ])('an empty tensor with huge other dimensions (%s zero) takes 0 bytes', async (_where, shape) => {
    const t = tessera.zeros(shape, onCpu);
    expect(t.numel).toBe(0);
    expect(await t.data()).toHaveLength(0);
    t.dispose();
  });
});

describe('after all of the above', () => {
  test('the process still computes correctly', async () => {
    const x = x22();
    const y = tessera.matmul(x, x);
    expect(Array.from(await y.data())).toEqual([7, 10, 15, 22]);
    const p = tessera.softmax(tessera.tensor([0, 0], onCpu));
    expect(Array.from(p.dataSync())).toEqual([0.5, 0.5]);
    for (const t of [x, y, p]) t.dispose();
  });
});
