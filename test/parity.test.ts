/**
 * The backend-parity matrix for the foundation ops (elementwise, matmul, row ops,
 * cast) on every available device against the float64 references, plus seeded
 * random tensors, checks of the references themselves, and checks that the
 * harness fails when it should.
 */
import { describe, expect, test } from 'vitest';
import * as tessera from '../lib/index.js';
import type { DType } from '../lib/index.js';
import * as ref from './reference/index.js';
import { castCases } from './parity/cast.js';
import { elementwiseCases } from './parity/elementwise.js';
import { FLOAT_DTYPES, gen, parityMatrix, poisonValue, Rng, runCase, testDevices, withPoisonedAllocations, type ParityCase } from './parity/harness.js';
import { matmulCases } from './parity/matmul.js';
import { rowCases } from './parity/rows.js';

parityMatrix('elementwise', elementwiseCases());
parityMatrix('matmul', matmulCases());
parityMatrix('rows', rowCases());
parityMatrix('cast', castCases());

const devices = testDevices();

async function values(t: tessera.Tensor): Promise<Float64Array> {
  try {
    return ref.decodeArray(t.dtype, await t.data());
  } finally {
    t.dispose();
  }
}

// ---------------------------------------------------------------------------

describe.each(devices)('random tensors [%s]', (device) => {
  const N = 100_000;

  test.for(FLOAT_DTYPES)('%s: the same seed gives the same data, call after call', async (dtype) => {
    const a = await values(tessera.randn([7, 97], { seed: 42, dtype, device }));
    const b = await values(tessera.randn([7, 97], { seed: 42, dtype, device }));
    const c = await values(tessera.rand([7, 97], { seed: 42, dtype, device }));
    const d = await values(tessera.rand([7, 97], { seed: 42, dtype, device }));
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(d)).toEqual(Array.from(c));
  });

  test.for(['float16', 'bfloat16'] as const)('%s samples are the float32 samples of the same seed, rounded', async (dtype) => {
    const wide = await values(tessera.randn([1025], { seed: 7, device }));
    const narrow = await values(tessera.randn([1025], { seed: 7, dtype, device }));
    expect(Array.from(narrow)).toEqual(Array.from(wide, (v) => ref.roundTo(dtype, v)));
    // rand likewise, except that a sample rounding to 0 or 1 must stay inside (0, 1): within an ulp of the float32 sample.
    const u = await values(tessera.rand([1025], { seed: 7, device }));
    const uNarrow = await values(tessera.rand([1025], { seed: 7, dtype, device }));
    u.forEach((v, i) => {
      const r = ref.roundTo(dtype, v);
      if (r > 0 && r < 1) expect(uNarrow[i], `element ${i}`).toBe(r);
      else expect(Math.abs(uNarrow[i]! - v), `element ${i}`).toBeLessThanOrEqual(ref.ulp(dtype, v));
    });
  });

  test.for(FLOAT_DTYPES)('%s: different seeds give different data (including seeds that differ only above 2^32)', async (dtype) => {
    for (const make of [tessera.randn, tessera.rand]) {
      const base = await values(make([1025], { seed: 1, dtype, device }));
      for (const seed of [2, 2 ** 32 + 1]) {
        const other = await values(make([1025], { seed, dtype, device }));
        const equal = base.filter((v, i) => v === other[i]).length;
        // Independent samples collide only through the dtype's quantization (< 1% even for bf16).
        expect(equal / base.length, `seed ${seed}`).toBeLessThan(0.05);
      }
    }
  });

  test.for(FLOAT_DTYPES)('%s: randn has mean ≈ 0, std ≈ 1 and normal tails over 1e5 samples', async (dtype) => {
    const x = await values(tessera.randn([N], { seed: 2024, dtype, device }));
    let sum = 0;
    let inOneSigma = 0;
    for (const v of x) {
      sum += v;
      if (Math.abs(v) < 1) ++inOneSigma;
    }
    const mean = sum / N;
    let sq = 0;
    for (const v of x) sq += (v - mean) ** 2;
    const std = Math.sqrt(sq / (N - 1));
    // 5 standard errors: mean SE = 1/sqrt(N) = 0.0032; std SE ≈ 1/sqrt(2N) = 0.0022;
    // P(|x| < 1) = 0.682689 with SE sqrt(p(1-p)/N) = 0.0015. A false alarm is a
    // 1-in-a-million event, and the seed is fixed.
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(std - 1)).toBeLessThan(5 / Math.sqrt(2 * N));
    expect(Math.abs(inOneSigma / N - 0.682689)).toBeLessThan(5 * Math.sqrt((0.682689 * 0.317311) / N));
    expect(x.every(Number.isFinite)).toBe(true);
  });

  test.for(FLOAT_DTYPES)('%s: rand lies in (0, 1) with mean ≈ 1/2 over 1e5 samples', async (dtype) => {
    const x = await values(tessera.rand([N], { seed: 2025, dtype, device }));
    let sum = 0;
    let below = 0;
    let outside = 0;
    for (const v of x) {
      sum += v;
      if (v < 0.5) ++below;
      if (!(v > 0 && v < 1)) ++outside;
    }
    expect(outside, 'samples outside the open interval (0, 1)').toBe(0);
    // 5 standard errors: the mean's SE is sqrt(1/12/N) = 0.00091, P(x < 1/2)'s is 0.0016.
    expect(Math.abs(sum / N - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
    expect(Math.abs(below / N - 0.5)).toBeLessThan(5 * Math.sqrt(0.25 / N));
  });

  test('float32 rand never returns 1.0 (seed 1 draws its largest 24-bit value at index 2666051)', async () => {
    const x = await values(tessera.rand([2666052], { seed: 1, device }));
    expect(x[2666051]).toBeLessThan(1);
  });

  if (device !== 'cpu') {
    test.for(FLOAT_DTYPES)('%s: the same seed gives the same tensor as on cpu', async (dtype) => {
      for (const make of [tessera.randn, tessera.rand]) {
        const here = await values(make([1025], { seed: 3, dtype, device }));
        const cpu = await values(make([1025], { seed: 3, dtype, device: 'cpu' }));
        expect(Array.from(here)).toEqual(Array.from(cpu));
      }
    });
  }
});

describe.each(devices)('cast rounding [%s]', (device) => {
  test('int32 -> bfloat16 rounds once: 2^30 + 2^22 + 1 becomes 2^30 + 2^23, not 2^30 (no double rounding through float32)', async () => {
    const v = 2 ** 30 + 2 ** 22 + 1;
    const x = tessera.tensor(Int32Array.of(v, -v), { device });
    try {
      expect(Array.from(await values(tessera.cast(x, 'bfloat16')))).toEqual([2 ** 30 + 2 ** 23, -(2 ** 30 + 2 ** 23)]);
    } finally {
      x.dispose();
    }
  });
});

// ---------------------------------------------------------------------------

describe('references', () => {
  test('erf and erfc match 20-digit values (mpmath) to 1e-15', () => {
    const erf: Array<[number, number]> = [
      [0.1, 0.1124629160182848922], [0.5, 0.52049987781304653768], [1, 0.84270079294971486934],
      [2, 0.99532226501895273416], [-0.7, -0.67780119383741847298], [0, 0],
    ];
    for (const [x, v] of erf) expect(Math.abs(ref.erf(x) - v), `erf(${x})`).toBeLessThan(1e-15);
    const erfc: Array<[number, number]> = [
      [1.5, 0.033894853524689272933], [3, 0.000022090496998585441373], [5, 1.5374597944280348502e-12], [10, 2.088487583762544757e-45],
    ];
    for (const [x, v] of erfc) expect(Math.abs(ref.erfc(x) - v) / v, `erfc(${x})`).toBeLessThan(1e-14);
    expect(ref.erfc(-3)).toBeCloseTo(2 - 0.000022090496998585441373, 15);
  });

  test('float16 rounding: overflow, subnormals and ties to even', () => {
    const cases: Array<[number, number]> = [
      [65504, 65504], [65519.99, 65504], [65520, Infinity], [-65520, -Infinity], [1e10, Infinity],
      [2 ** -24, 2 ** -24], [2 ** -25, 0], [3 * 2 ** -26, 2 ** -24], [2 ** -25 + 2 ** -40, 2 ** -24],
      [1 + 2 ** -11, 1], [1 + 3 * 2 ** -11, 1 + 2 ** -9], [1 + 2 ** -11 + 2 ** -30, 1 + 2 ** -10],
      [-(1 + 2 ** -11), -1], [2 ** -14 - 2 ** -25, 2 ** -14], [0.1, 0.0999755859375],
    ];
    for (const [x, v] of cases) expect(ref.roundToFloat16(x), `roundToFloat16(${x})`).toBe(v);
    expect(Object.is(ref.roundToFloat16(-(2 ** -26)), -0)).toBe(true);
    expect(ref.roundToFloat16(NaN)).toBeNaN();
  });

  test('bfloat16 rounding: ties to even and overflow', () => {
    const max = (2 - 2 ** -7) * 2 ** 127;
    const cases: Array<[number, number]> = [
      [1 + 2 ** -8, 1], [1 + 3 * 2 ** -8, 1 + 2 ** -6], [1 + 2 ** -8 + 2 ** -30, 1 + 2 ** -7],
      [max, max], [(2 - 2 ** -8) * 2 ** 127, Infinity], [2 ** -133, 2 ** -133], [2 ** -134, 0], [0.1, 0.10009765625],
    ];
    for (const [x, v] of cases) expect(ref.roundToBFloat16(x), `roundToBFloat16(${x})`).toBe(v);
  });

  test.for(['float16', 'bfloat16'] as const)('%s rounding agrees with a nearest-value search over all bit patterns', (dtype) => {
    const decode = dtype === 'float16' ? ref.decodeFloat16 : ref.decodeBFloat16;
    // Non-negative finite values in increasing order, with their bit patterns (for ties to even).
    const grid: Array<[number, number]> = [];
    for (let bits = 0; bits < 0x8000; ++bits) {
      const v = decode(bits);
      if (Number.isFinite(v)) grid.push([v, bits]);
    }
    const max = grid[grid.length - 1]![0];
    const top = max + ref.ulp(dtype, max) / 2; // halfway to the next power of two: rounds to infinity
    const nearest = (a: number): number => {
      if (a >= top) return Infinity;
      let lo = 0;
      let hi = grid.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (grid[mid]![0] <= a) lo = mid;
        else hi = mid;
      }
      if (a >= max) return max;
      const [vl, bl] = grid[lo]!;
      const [vh] = grid[hi]!;
      if (a - vl < vh - a) return vl;
      if (a - vl > vh - a) return vh;
      return bl % 2 === 0 ? vl : vh;
    };
    const rng = new Rng(12345);
    const samples: number[] = [];
    for (let i = 0; i < 20000; ++i) samples.push(2 ** (-140 + 280 * rng.uniform()) * (1 + rng.uniform()));
    for (let i = 0; i + 1 < grid.length; i += 97) samples.push((grid[i]![0] + grid[i + 1]![0]) / 2); // exact ties
    for (const x of samples) {
      expect(ref.roundTo(dtype, x), `${dtype} ${x}`).toBe(nearest(x));
      expect(ref.roundTo(dtype, -x), `${dtype} ${-x}`).toBe(-nearest(x));
    }
  });

  test('encode/decode round-trip every non-NaN fp16 and bf16 bit pattern, and agree with tessera\'s decoders', () => {
    for (let bits = 0; bits < 0x10000; ++bits) {
      const h = ref.decodeFloat16(bits);
      const b = ref.decodeBFloat16(bits);
      if (!Number.isNaN(h)) expect(ref.encodeFloat16(h)).toBe(bits);
      if (!Number.isNaN(b)) expect(ref.encodeBFloat16(b)).toBe(bits);
      expect(Object.is(tessera.float16BitsToNumber(bits), h), `fp16 0x${bits.toString(16)}`).toBe(true);
      expect(Object.is(tessera.bfloat16BitsToNumber(bits), b), `bf16 0x${bits.toString(16)}`).toBe(true);
    }
  });

  test('float to integer: ties to even, saturation, NaN -> 0', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999].map((v) => ref.roundToInt(v, 'int32'))).toEqual([0, 2, 2, 0, -2, -2, 2]);
    expect([127.5, -128.5, 1e9, -Infinity, NaN].map((v) => ref.roundToInt(v, 'int8'))).toEqual([127, -128, 127, -128, 0]);
    expect([-0.6, 255.5, Infinity].map((v) => ref.roundToInt(v, 'uint8'))).toEqual([0, 255, 255]);
  });

  test('broadcasting, views and softmax conventions', () => {
    const a = ref.refTensor([1, 2, 3], [3, 1]);
    const b = ref.refTensor([10, 20], [2]);
    expect(Array.from(ref.binary('add', a, b).data)).toEqual([11, 21, 12, 22, 13, 23]);
    const m = ref.refTensor([0, 1, 2, 3, 4, 5], [2, 3]);
    expect(Array.from(ref.transpose(m, 0, 1).data)).toEqual([0, 3, 1, 4, 2, 5]);
    expect(Array.from(ref.slice(m, 1, 1, 3).data)).toEqual([1, 2, 4, 5]);
    const s = ref.softmax(ref.refTensor([-Infinity, -Infinity, 0, Math.log(3)], [2, 2]));
    expect(Array.from(s.data.slice(0, 2))).toEqual([0, 0]);
    expect(s.data[2]).toBeCloseTo(0.25, 15);
    expect(s.data[3]).toBeCloseTo(0.75, 15);
  });
});

// ---------------------------------------------------------------------------

describe('the parity harness fails when it should', () => {
  const device = 'cpu';
  const addCase = (overrides: Partial<ParityCase>): ParityCase => ({
    op: 'add',
    dtype: 'float32',
    name: '[7, 97] + [7, 97]',
    inputs: [{ shape: [7, 97] }, { shape: [7, 97] }],
    run: (t, [x, y]) => t.add(x!, y!),
    reference: ([x, y]) => ref.binary('add', x!, y!),
    ...overrides,
  });

  test('the unmodified case passes', async () => {
    await expect(runCase(addCase({}), device)).resolves.toEqual({ status: 'passed' });
  });

  test('every tensor allocated inside an op call starts out poisoned', async () => {
    for (const dtype of ['float32', 'float16', 'bfloat16', 'int8', 'uint8', 'int32'] as DType[]) {
      for (const run of [0, 1]) {
        const { result } = withPoisonedAllocations(run, () => tessera.empty([1025], { dtype, device }));
        const expected = ref.roundTo(dtype as ref.AnyDType, poisonValue(run, dtype));
        for (const v of await values(result)) expect(Object.is(v, expected) || (Number.isNaN(v) && Number.isNaN(expected))).toBe(true);
      }
    }
  });

  test('a wrong reference fails', async () => {
    await expect(runCase(addCase({ reference: ([x, y]) => ref.binary('sub', x!, y!) }), device)).rejects.toThrow(/out of tolerance/);
  });

  test('an output the op never writes fails', async () => {
    await expect(runCase(addCase({ run: (t, [x]) => t.empty(x!.shape, { dtype: x!.dtype, device }) }), device)).rejects.toThrow(/out of tolerance/);
  });

  test('an unwritten output fails even where the reference is NaN', async () => {
    const nanCase = addCase({
      inputs: [{ shape: [7], gen: gen.leading([NaN], gen.normal()) }, { shape: [7] }],
      run: (t, [x]) => t.empty(x!.shape, { dtype: x!.dtype, device }),
      reference: ([x]) => ref.map(x!, () => NaN),
    });
    await expect(runCase(nanCase, device)).rejects.toThrow(/run 2/);
  });

  test('an fp16 result 3 ulps off fails the plain rule', async () => {
    const c = addCase({
      op: 'scale', dtype: 'float16', name: '[1025]', inputs: [{ shape: [1025], gen: gen.uniform(1, 2) }],
      run: (t, [x]) => t.scale(x!, 1 + 3 * 2 ** -10),
      reference: ([x]) => ref.scale(x!, 1),
    });
    await expect(runCase(c, device)).rejects.toThrow(/E_plain/);
  });

  test('an fp32 matmul that drops one of K = 1025 terms fails', async () => {
    const [c] = matmulCases().filter((m) => m.dtype === 'float32' && m.name === '[1, 1025] @ [1025, 7]');
    const dropFirstTerm = (t: typeof tessera, [x, y]: tessera.Tensor[]): tessera.Tensor => {
      const a = x!.slice(1, 1);
      const b = y!.slice(0, 1);
      try {
        return t.matmul(a, b);
      } finally {
        a.dispose();
        b.dispose();
      }
    };
    const dropped = { ...c!, run: dropFirstTerm };
    await expect(runCase(dropped, device)).rejects.toThrow(/out of tolerance/);
  });

  test('E_UNSUPPORTED is reported as unsupported, never as passed', async () => {
    const c = addCase({
      run: () => {
        throw new tessera.TesseraError('E_UNSUPPORTED', 'Expected a dtype that add supports on cpu for a but received "float32"');
      },
    });
    await expect(runCase(c, device)).resolves.toMatchObject({ status: 'unsupported' });
  });
});
