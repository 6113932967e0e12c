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
});
