/**
 * Bad inputs to the attention API throw TesseraError at the call site, with a code
 * and the exact message "Expected <what> for <name> but received <value>" (pinned
 * here, as sharp's tests pin theirs). Validation runs before any kernel, so these
 * hold whether or not a device implements the op; they run on 'cpu', plus the
 * device-mismatch cases against each other device.
 */
import { describe, expect, test } from 'vitest';
import * as tessera from '../lib/index.js';
import type { Tensor } from '../lib/index.js';

const device = 'cpu';
const others = tessera.availableDevices().filter((d) => d !== device);

const live: Tensor[] = [];
function t(shape: number[], dtype: tessera.DType = 'float32', on = device): Tensor {
  const x = tessera.randn(shape, { seed: shape.reduce((a, b) => a * 31 + b, 7), dtype, device: on });
  live.push(x);
  return x;
}

function expectError(fn: () => unknown, code: tessera.ErrorCode, message: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'no error was thrown').toBeInstanceOf(tessera.TesseraError);
  const e = thrown as tessera.TesseraError;
  expect({ code: e.code, message: e.message }).toEqual({ code, message });
}

describe('attention: bad inputs', () => {
  const q = t([1, 6, 7, 32]);
  const k = t([1, 2, 9, 32]);
  const v = t([1, 2, 9, 32]);

  const cases: Array<[string, () => unknown, tessera.ErrorCode, string]> = [
    ['query heads not a multiple of kv heads', () => tessera.attention(q, t([1, 4, 9, 32]), t([1, 4, 9, 32])),
      'E_SHAPE', 'Expected a head count Hkv that divides Hq = 6 for k but received [1, 4, 9, 32]'],
    ['D not a multiple of 8', () => tessera.attention(t([1, 2, 7, 12]), t([1, 2, 9, 12]), t([1, 2, 9, 12])),
      'E_SHAPE', 'Expected a head dim D that is a multiple of 8 from 8 to 256 for q but received [1, 2, 7, 12]'],
    ['D above 256', () => tessera.attention(t([1, 1, 2, 264]), t([1, 1, 2, 264]), t([1, 1, 2, 264])),
      'E_SHAPE', 'Expected a head dim D that is a multiple of 8 from 8 to 256 for q but received [1, 1, 2, 264]'],
    ['k with another head dim', () => tessera.attention(q, t([1, 2, 9, 40]), t([1, 2, 9, 40])),
      'E_SHAPE', 'Expected [1, Hkv, Lk, 32] (batch and head dim of q) for k but received [1, 2, 9, 40]'],
    ['v not shaped like k', () => tessera.attention(q, k, t([1, 2, 8, 32])),
      'E_SHAPE', 'Expected the shape of k ([1, 2, 9, 32]) for v but received [1, 2, 8, 32]'],
    ['q not 4-d', () => tessera.attention(t([6, 7, 32]), k, v),
      'E_SHAPE', 'Expected a 4-d tensor [B, Hq, Lq, D] for q but received [6, 7, 32]'],
    ['k in another dtype', () => tessera.attention(q, t([1, 2, 9, 32], 'float16'), v),
      'E_DTYPE', 'Expected a float32 tensor (the dtype of q) for k but received Tensor(float16, [1, 2, 9, 32], cpu)'],
    ['v in another dtype', () => tessera.attention(q, k, t([1, 2, 9, 32], 'bfloat16')),
      'E_DTYPE', 'Expected a float32 tensor (the dtype of q) for v but received Tensor(bfloat16, [1, 2, 9, 32], cpu)'],
    ['integer inputs', () => tessera.attention(tessera.zeros([1, 1, 2, 8], { dtype: 'int32' }), tessera.zeros([1, 1, 2, 8], { dtype: 'int32' }), tessera.zeros([1, 1, 2, 8], { dtype: 'int32' })),
      'E_DTYPE', 'Expected a float32, float16 or bfloat16 tensor for q of attention but received Tensor(int32, [1, 1, 2, 8], cpu)'],
    ['negative window side', () => tessera.attention(q, k, v, { window: [-1, 0] }),
      'E_ARGUMENT', 'Expected a non-negative integer or Infinity for options.window[0] but received -1'],
    ['negative right window side', () => tessera.attention(q, k, v, { window: [3, -2] }),
      'E_ARGUMENT', 'Expected a non-negative integer or Infinity for options.window[1] but received -2'],
    ['fractional window side', () => tessera.attention(q, k, v, { window: [1.5, 0] }),
      'E_ARGUMENT', 'Expected a non-negative integer or Infinity for options.window[0] but received 1.5'],
    ['-Infinity window side', () => tessera.attention(q, k, v, { window: [0, -Infinity] }),
      'E_ARGUMENT', 'Expected a non-negative integer or Infinity for options.window[1] but received -Infinity'],
    ['window not a pair', () => tessera.attention(q, k, v, { window: [3] as unknown as [number, number] }),
      'E_ARGUMENT', 'Expected a pair [left, right] for options.window but received [3]'],
    ['global token past the last key', () => tessera.attention(q, k, v, { window: [1, 1], globalTokens: Int32Array.of(0, 9) }),
      'E_ARGUMENT', 'Expected key positions in [0, 8] for options.globalTokens[1] but received 9'],
    ['negative global token', () => tessera.attention(q, k, v, { window: [1, 1], globalTokens: [3, -1] }),
      'E_ARGUMENT', 'Expected key positions in [0, 8] for options.globalTokens[1] but received -1'],
    ['block mask of the wrong size', () => tessera.attention(q, k, v, { blockMask: { blockSize: 16, mask: Uint8Array.of(1, 1) } }),
      'E_ARGUMENT', 'Expected a Uint8Array of 1 × 1 = 1 blocks (Lq = 7, Lk = 9) for options.blockMask.mask but received a Uint8Array of length 2'],
    ['block size not a power of two', () => tessera.attention(q, k, v, { blockMask: { blockSize: 24, mask: Uint8Array.of(1) } }),
      'E_ARGUMENT', 'Expected a power of two ≥ 16 for options.blockMask.blockSize but received 24'],
    ['block size below 16', () => tessera.attention(q, k, v, { blockMask: { blockSize: 8, mask: Uint8Array.of(1, 1) } }),
      'E_ARGUMENT', 'Expected a power of two ≥ 16 for options.blockMask.blockSize but received 8'],
    ['slopes of the wrong length', () => tessera.attention(q, k, v, { alibi: Float32Array.of(0.5, 0.25, 0.125, 0.0625) }),
      'E_ARGUMENT', 'Expected true or 6 slopes (one per query head) for options.alibi but received a Float32Array of length 4'],
    ['a non-finite slope', () => tessera.attention(q, k, v, { alibi: [0.5, 0.25, NaN, 0.1, 0.1, 0.1] }),
      'E_ARGUMENT', 'Expected finite slopes for options.alibi[2] but received NaN'],
    ['non-positive softcap', () => tessera.attention(q, k, v, { softcap: 0 }),
      'E_ARGUMENT', 'Expected a positive finite number for options.softcap but received 0'],
    ['non-finite scale', () => tessera.attention(q, k, v, { scale: Infinity }),
      'E_ARGUMENT', 'Expected a finite number for options.scale but received Infinity'],
    ['causal not a boolean', () => tessera.attention(q, k, v, { causal: 1 as unknown as boolean }),
      'E_ARGUMENT', 'Expected a boolean for options.causal but received 1'],
    ['alibiSlopes(0)', () => tessera.alibiSlopes(0),
      'E_ARGUMENT', 'Expected a positive integer for numHeads but received 0'],
    ['alibiSlopes(2.5)', () => tessera.alibiSlopes(2.5),
      'E_ARGUMENT', 'Expected a positive integer for numHeads but received 2.5'],
  ];
  test.for(cases.map(([name]) => name))('%s', (name) => {
    const [, fn, code, message] = cases.find(([n]) => n === name)!;
    expectError(fn, code, message);
  });

  test('a disposed input', () => {
    const gone = t([1, 2, 9, 32]);
    gone.dispose();
    expectError(() => tessera.attention(q, gone, v), 'E_DISPOSED', 'Expected a live tensor for k but received Tensor(float32, [1, 2, 9, 32], cpu, disposed)');
  });
});

describe.each(others)('attention: inputs on cpu and %s', (other) => {
  test('k on another device than q', () => {
    const k = t([1, 2, 9, 32], 'float32', other);
    expectError(() => tessera.attention(t([1, 6, 7, 32]), k, t([1, 2, 9, 32])),
      'E_DEVICE', `Expected a tensor on cpu (the device of q) for k but received Tensor(float32, [1, 2, 9, 32], ${other})`);
  });
});

describe('attentionBackward: bad inputs', () => {
  const q = t([1, 4, 7, 16]);
  const k = t([1, 2, 9, 16]);
  const out = t([1, 4, 7, 16]);
  const lse = t([1, 4, 7]);
  const cases: Array<[string, () => unknown, tessera.ErrorCode, string]> = [
    ['dout of another shape', () => tessera.attentionBackward(t([1, 4, 6, 16]), q, k, k, out, lse),
      'E_SHAPE', 'Expected the shape of q ([1, 4, 7, 16]) for dout but received [1, 4, 6, 16]'],
    ['out of another shape', () => tessera.attentionBackward(out, q, k, k, t([1, 4, 7, 8]), lse),
      'E_SHAPE', 'Expected the shape of q ([1, 4, 7, 16]) for out but received [1, 4, 7, 8]'],
    ['lse of another shape', () => tessera.attentionBackward(out, q, k, k, out, t([1, 4, 8])),
      'E_SHAPE', 'Expected a float32 tensor [1, 4, 7] (from attention\'s returnLse) for lse but received Tensor(float32, [1, 4, 8], cpu)'],
    ['lse in another dtype', () => tessera.attentionBackward(out, q, k, k, out, t([1, 4, 7], 'float16')),
      'E_DTYPE', 'Expected a float32 tensor (from attention\'s returnLse) for lse but received Tensor(float16, [1, 4, 7], cpu)'],
    ['dout in another dtype', () => tessera.attentionBackward(t([1, 4, 7, 16], 'float16'), q, k, k, out, lse),
      'E_DTYPE', 'Expected a float32 tensor (the dtype of q) for dout but received Tensor(float16, [1, 4, 7, 16], cpu)'],
    ['the forward\'s options checked too', () => tessera.attentionBackward(out, q, k, k, out, lse, { window: [-3, 0] }),
      'E_ARGUMENT', 'Expected a non-negative integer or Infinity for options.window[0] but received -3'],
  ];
  test.for(cases.map(([name]) => name))('%s', (name) => {
    const [, fn, code, message] = cases.find(([n]) => n === name)!;
    expectError(fn, code, message);
  });
});

describe('rope: bad inputs', () => {
  const x = t([1, 2, 5, 16]);
  const cases: Array<[string, () => unknown, tessera.ErrorCode, string]> = [
    ['odd head dim', () => tessera.rope(t([1, 2, 5, 15])),
      'E_SHAPE', 'Expected a 4-d tensor [B, H, L, D] with D even for x but received [1, 2, 5, 15]'],
    ['positions of the wrong length', () => tessera.rope(x, { positions: Int32Array.of(0, 1, 2) }),
      'E_ARGUMENT', 'Expected 5 positions (one per token) for options.positions but received an Int32Array of length 3'],
    ['a negative position', () => tessera.rope(x, { positions: [0, 1, -2, 3, 4] }),
      'E_ARGUMENT', 'Expected non-negative positions for options.positions[2] but received -2'],
    ['both positions and offset', () => tessera.rope(x, { positions: [0, 1, 2, 3, 4], offset: 3 }),
      'E_ARGUMENT', 'Expected either positions or offset, not both for options.offset but received 3'],
    ['an unknown layout', () => tessera.rope(x, { layout: 'pairs' as 'half' }),
      'E_ARGUMENT', 'Expected \'half\' or \'interleaved\' for options.layout but received "pairs"'],
    ['an unknown scaling', () => tessera.rope(x, { scaling: { type: 'yarn' as 'ntk', factor: 2 } }),
      'E_ARGUMENT', 'Expected \'linear\' or \'ntk\' for options.scaling.type but received "yarn"'],
    ['a scaling factor below 1', () => tessera.rope(x, { scaling: { type: 'linear', factor: 0.5 } }),
      'E_ARGUMENT', 'Expected a finite number ≥ 1 for options.scaling.factor but received 0.5'],
    ['base 1', () => tessera.rope(x, { base: 1 }),
      'E_ARGUMENT', 'Expected a finite number above 1 for options.base but received 1'],
  ];
  test.for(cases.map(([name]) => name))('%s', (name) => {
    const [, fn, code, message] = cases.find(([n]) => n === name)!;
    expectError(fn, code, message);
  });
});

describe('KVCache: bad inputs', () => {
  const make = (over: Partial<tessera.KVCacheOptions> = {}): tessera.KVCache =>
    new tessera.KVCache({ batch: 2, kvHeads: 2, headDim: 16, capacity: 8, device, ...over });
  const cases: Array<[string, () => unknown, tessera.ErrorCode, string]> = [
    ['head dim not a multiple of 8', () => make({ headDim: 20 }),
      'E_ARGUMENT', 'Expected a multiple of 8 from 8 to 256 for options.headDim but received 20'],
    ['window above the capacity', () => make({ window: 9 }),
      'E_ARGUMENT', 'Expected a window of at most the capacity (8) for options.window but received 9'],
    ['append in another dtype', () => make().append(t([2, 2, 3, 16], 'float16'), t([2, 2, 3, 16], 'float16')),
      'E_DTYPE', 'Expected a float32 tensor (the cache\'s dtype) for k but received Tensor(float16, [2, 2, 3, 16], cpu)'],
    ['append with the wrong kv heads', () => make().append(t([2, 1, 3, 16]), t([2, 1, 3, 16])),
      'E_SHAPE', 'Expected [2, 2, T, 16] for k but received [2, 1, 3, 16]'],
    ['append past the capacity', () => make().append(t([2, 2, 9, 16]), t([2, 2, 9, 16])),
      'E_ARGUMENT', 'Expected at most 8 more tokens (capacity 8) for k (sequence 0) but received 9 tokens'],
    ['attend with a mask option', () => make().attend(t([2, 4, 1, 16]), { causal: false } as never),
      'E_ARGUMENT', 'Expected no mask option (the cache applies causal and its own window) for options.causal but received false'],
    ['attend with heads not divisible', () => { const c = make(); c.append(t([2, 2, 1, 16]), t([2, 2, 1, 16])); return c.attend(t([2, 3, 1, 16])); },
      'E_SHAPE', 'Expected [2, Hq, Lq, 16] with Hq a multiple of kvHeads = 2 for q but received [2, 3, 1, 16]'],
  ];
  test.for(cases.map(([name]) => name))('%s', (name) => {
    const [, fn, code, message] = cases.find(([n]) => n === name)!;
    expectError(fn, code, message);
  });
});
