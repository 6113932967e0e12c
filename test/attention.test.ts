/**
 * tessera.attention (forward) and tessera.alibiSlopes on every available device,
 * against the float64 reference (test/reference/attention.ts), through the parity
 * harness (seeded inputs, poisoned outputs, E_UNSUPPORTED reported as a skip).
 *
 * What runs where (CI budget: all attention files together well under 3 minutes
 * on 2 cores):
 * - 'attention masks': cpu only, every combination of causal × window kinds ×
 *   global tokens × block mask × ALiBi (none, default, custom) × softcap, each
 *   once, the dtype (fp32, fp16, bf16) and the small shape rotating (GQA, MQA,
 *   Lq ≠ Lk both ways, decode, batch 3, D 32 / 64 / 80);
 * - 'attention sizes': cpu (and cuda when present): L up to 1025, D up to 256,
 *   each with a representative mask;
 * - 'attention': every device, emu included: small cases that still cover every
 *   mask kind, every dtype, GQA and the tuned head dims;
 * - 'attention masks sample': the devices other than cpu, every 8th combination
 *   of the cross product (a sample that holds every option; see
 *   attention-tolerance.test.ts for the bugs it catches).
 */
import { describe, expect, test } from 'vitest';
import * as tessera from '../lib/index.js';
import * as ref from './reference/index.js';
import * as attn from './reference/attention.js';
import { FLOAT_DTYPES, parityMatrix, Rng, withPoisonedAllocations } from './parity/harness.js';
import { blockMaskFor, cpuCrossProductCases, cpuSizeCases, crossProductSampleCases, emuForwardCases } from './parity/attention.js';

const devices = tessera.availableDevices();
/** Devices fast enough for the large cases: the CPU backend and real GPUs (not the emulator). */
const fastDevices = devices.filter((d) => d === 'cpu' || d.startsWith('cuda'));

parityMatrix('attention masks', cpuCrossProductCases(), { devices: ['cpu'] });
const otherDevices = devices.filter((d) => d !== 'cpu');
if (otherDevices.length > 0) parityMatrix('attention masks sample', crossProductSampleCases(), { devices: otherDevices });
parityMatrix('attention sizes', cpuSizeCases(), { devices: fastDevices });
parityMatrix('attention', emuForwardCases());

function randomTensor(shape: number[], seed: number, dtype: tessera.DType, device: string): tessera.Tensor {
  const rng = new Rng(seed);
  return tessera.tensor(Float32Array.from({ length: ref.numelOf(shape) }, () => rng.normal()), { shape, dtype, device });
}

async function values(t: tessera.Tensor): Promise<Float64Array> {
  return ref.decodeArray(t.dtype, await t.data());
}

/** Runs fn; an E_UNSUPPORTED from a device other than cpu becomes a visible skip. */
async function orSkip(device: string, ctx: { skip: (note?: string) => void }, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (device !== 'cpu' && e instanceof tessera.TesseraError && e.code === 'E_UNSUPPORTED') {
      ctx.skip(`unsupported on ${device}: ${e.message}`);
      return;
    }
    throw e;
  }
}

describe.each(devices)('rows without a visible key [%s]', (device) => {
  test.for(FLOAT_DTYPES)('%s: exactly zero output and lse −Infinity, whatever the poison', async (dtype, ctx) => {
    await orSkip(device, ctx, async () => {
      // Causal with Lq > Lk hides rows 0 … 8 (i' < 0); the block mask hides block row 1
      // (queries 16 … 31) too; rows 32 … 40 see keys.
      const [B, Hq, Hkv, Lq, Lk, D] = [2, 4, 2, 41, 32, 64];
      const q = randomTensor([B, Hq, Lq, D], 1, dtype, device);
      const k = randomTensor([B, Hkv, Lk, D], 2, dtype, device);
      const v = randomTensor([B, Hkv, Lk, D], 3, dtype, device);
      const blockMask = blockMaskFor(Lq, Lk, 16, 'empty rows');
      try {
        for (const run of [0, 1]) {
          const { result } = withPoisonedAllocations(run, () => tessera.attention(q, k, v, { causal: true, blockMask, returnLse: true }));
          const out = await values(result.out);
          const lse = await values(result.lse);
          result.out.dispose();
          result.lse.dispose();
          const m = attn.resolveMask({ causal: true, blockMask }, Lq, Lk);
          let empty = 0;
          for (let r = 0; r < B * Hq * Lq; ++r) {
            const i = r % Lq;
            let any = false;
            for (let j = 0; j < Lk; ++j) any ||= attn.isVisible(m, i, i + Lk - Lq, j);
            if (any) {
              expect(Number.isFinite(lse[r]), `row ${r}`).toBe(true);
              continue;
            }
            ++empty;
            expect(lse[r], `lse of row ${r}`).toBe(-Infinity);
            for (let d = 0; d < D; ++d) if (out[r * D + d] !== 0) expect.fail(`out[row ${r}][${d}] = ${out[r * D + d]}, expected 0`);
          }
          expect(empty).toBeGreaterThanOrEqual(B * Hq * 9);
        }
      } finally {
        q.dispose();
        k.dispose();
        v.dispose();
      }
    });
  });
});

describe('alibiSlopes', () => {
  test.for([1, 2, 6, 8, 12, 16, 20, 32, 40, 64, 100])('H = %i: the reference recurrence, rounded to fp32 once', (H) => {
    const slopes = tessera.alibiSlopes(H);
    expect(slopes).toBeInstanceOf(Float32Array);
    const expected = attn.alibiSlopes(H);
    expect(slopes.length).toBe(H);
    slopes.forEach((s, h) => expect(s, `head ${h}`).toBe(Math.fround(expected[h]!)));
  });

  test('H = 12 is 2^-1 … 2^-8, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5 (issue 4)', () => {
    const exponents = [1, 2, 3, 4, 5, 6, 7, 8, 0.5, 1.5, 2.5, 3.5];
    expect(Array.from(tessera.alibiSlopes(12))).toEqual(exponents.map((e) => Math.fround(2 ** -e)));
  });

  test.for(devices)('alibi: true means alibiSlopes(Hq) [%s]', async (device, ctx) => {
    await orSkip(device, ctx, async () => {
      const q = randomTensor([1, 12, 9, 32], 4, 'float32', device);
      const k = randomTensor([1, 4, 17, 32], 5, 'float32', device);
      try {
        const a = tessera.attention(q, k, k, { causal: true, alibi: true });
        const b = tessera.attention(q, k, k, { causal: true, alibi: tessera.alibiSlopes(12) });
        const c = tessera.attention(q, k, k, { causal: true, alibi: Array.from(tessera.alibiSlopes(12)) });
        const [va, vb, vc] = [await values(a), await values(b), await values(c)];
        for (const t of [a, b, c]) t.dispose();
        expect(Array.from(va)).toEqual(Array.from(vb));
        expect(Array.from(va)).toEqual(Array.from(vc));
      } finally {
        q.dispose();
        k.dispose();
      }
    });
  });
});

describe.each(devices)('attention returns [%s]', (device) => {
  test('a Tensor without returnLse, {out, lse} with it, the same out either way', async (ctx) => {
    await orSkip(device, ctx, async () => {
      const q = randomTensor([1, 2, 7, 16], 6, 'float16', device);
      const k = randomTensor([1, 1, 9, 16], 7, 'float16', device);
      try {
        const plain = tessera.attention(q, k, k, { causal: true });
        expect(plain).toBeInstanceOf(tessera.Tensor);
        expect(plain.shape).toEqual([1, 2, 7, 16]);
        expect(plain.dtype).toBe('float16');
        const both = tessera.attention(q, k, k, { causal: true, returnLse: true });
        expect(both.lse.shape).toEqual([1, 2, 7]);
        expect(both.lse.dtype).toBe('float32');
        expect(Array.from(await values(both.out))).toEqual(Array.from(await values(plain)));
        for (const t of [plain, both.out, both.lse]) t.dispose();
      } finally {
        q.dispose();
        k.dispose();
      }
    });
  });
});
