// Memory: native bytes are reported to V8 and given back on dispose, and a
// long create/op/dispose loop keeps resident memory flat.
import { describe, expect, test } from 'vitest';
import * as tessera from '../lib/index.js';
import { native } from '../lib/native.js';

const MiB = 2 ** 20;

describe('memory', () => {
  test('native allocations are reported to V8 as external memory and released on dispose', () => {
    const before = native.externalMemory();
    const big = tessera.empty([16 * MiB / 4]); // 16 MiB of float32
    const during = native.externalMemory();
    expect(during - before).toBe(16 * MiB);
    big.dispose();
    expect(during - native.externalMemory()).toBe(16 * MiB);
  });

  test('buffers of 2 MiB and more (huge-page aligned) hold what is written, at odd lengths too', async () => {
    for (const bytes of [2 * MiB - 4, 2 * MiB, 2 * MiB + 4, 6 * MiB + 12]) {
      const n = bytes / 4;
      const values = new Float32Array(n);
      let state = bytes;
      for (let i = 0; i < n; ++i) {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        values[i] = state / 2 ** 32 - 0.5;
      }
      const x = tessera.tensor(values);
      const doubled = tessera.add(x, x);
      const back = (await doubled.data()) as Float32Array;
      expect(back.length).toBe(n);
      let wrong = 0;
      for (let i = 0; i < n; ++i) if (back[i] !== 2 * values[i]!) ++wrong;
      expect(wrong).toBe(0);
      x.dispose();
      doubled.dispose();
    }
  });

  test('400 create/op/dispose steps of 6 MiB buffers keep resident memory flat', async () => {
    const rssAt = (): number => process.memoryUsage().rss / MiB;
    let baseline = 0;
    for (let i = 0; i < 400; ++i) {
      const x = tessera.full([3 * MiB / 2 + 3], i / 7);
      const y = tessera.silu(x);
      // Reading back every few steps bounds what is in flight (and so the allocator's
      // high-water mark) to a few buffers.
      if (i % 4 === 3) await y.data();
      x.dispose();
      y.dispose();
      if (i === 99) baseline = rssAt();
    }
    // 300 steps after warm-up allocate ~3.5 GiB; one buffer kept per step would add
    // 1.8 GiB. The bound leaves room for the allocator's reuse of freed buffers.
    expect(rssAt() - baseline).toBeLessThan(128);
  });

  test('30,000 create/op/dispose steps keep resident memory flat', async () => {
    const w = tessera.randn([64, 64], { seed: 7 });
    const rssAt = (): number => process.memoryUsage().rss / MiB;
    let baseline = 0;
    for (let i = 0; i < 30_000; ++i) {
      const x = tessera.randn([8, 64], { seed: i });
      const h = tessera.silu(x);
      const z = tessera.matmul(h, w, { transposeB: true });
      if (i % 100 === 99) await z.data();
      x.dispose();
      h.dispose();
      z.dispose();
      if (i === 4_999) baseline = rssAt();
    }
    w.dispose();
    // 25,000 steps after warm-up allocate ~1.3 GiB in total; a leak of even one
    // small buffer per step would add >10 MiB. The bound leaves room for heap noise.
    expect(rssAt() - baseline).toBeLessThan(24);
  });

  test('KV caches and linear attention states hand their memory back on dispose', async () => {
    // Deltas around synchronous calls: frees of earlier tests' tensors may still land
    // off the JS thread at any moment, so absolute values are not compared.
    const bytes = 2 * 2 * 4 * 1024 * 64 * 4; // k and v: 2 · 4 · 1024 · 64 fp32 each
    const before = native.externalMemory();
    const cache = new tessera.KVCache({ batch: 2, kvHeads: 4, headDim: 64, capacity: 1024, window: 512 });
    const during = native.externalMemory();
    expect(during - before).toBe(bytes);
    cache.dispose();
    expect(during - native.externalMemory()).toBe(bytes);
    cache.dispose();
    const k = tessera.empty([2, 4, 1, 64]);
    expect(() => cache.append(k, k)).toThrow(/disposed KVCache/);
    k.dispose();
    const beforeState = native.externalMemory();
    const state = new tessera.LinearAttentionState({ batch: 2, kvHeads: 4, keyDim: 64, valueDim: 32 });
    // S [2, 4, 64, 32], z [2, 4, 64] and the stabilizers [2, 4], fp32.
    expect(native.externalMemory() - beforeState).toBe((2 * 4 * 64 * 32 + 2 * 4 * 64 + 2 * 4) * 4);
    state.dispose();
    // The state's zero fills are queued on the stream, which holds the storage until
    // they have run: the bytes come back shortly after dispose, off the JS thread.
    // Other small bookkeeping may come and go meanwhile; the state's 66 KiB must not stay.
    const settled = (): boolean => native.externalMemory() - beforeState < 4096;
    for (let i = 0; i < 200 && !settled(); ++i) await new Promise((r) => setTimeout(r, 5));
    expect(native.externalMemory() - beforeState).toBeLessThan(4096);
  });

  test('2,000 decode steps through a ring-buffer KVCache keep resident memory flat', async () => {
    const cache = new tessera.KVCache({ batch: 1, kvHeads: 2, headDim: 32, capacity: 64, window: 48 });
    const rssAt = (): number => process.memoryUsage().rss / MiB;
    let baseline = 0;
    for (let i = 0; i < 2_000; ++i) {
      const k = tessera.randn([1, 2, 1, 32], { seed: i });
      const q = tessera.randn([1, 4, 1, 32], { seed: i + 1 });
      cache.append(k, k);
      const out = cache.attend(q, { alibi: true });
      if (i % 100 === 99) await out.data();
      for (const t of [k, q, out]) t.dispose();
      if (i === 499) baseline = rssAt();
    }
    expect(cache.length).toBe(2_000);
    cache.dispose();
    expect(rssAt() - baseline).toBeLessThan(24);
  });
});
