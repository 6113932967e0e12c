// The runtime model: ops return at once, reads never block the event loop,
// the stream keeps inputs alive, and the addon works in worker_threads.
import { once } from 'node:events';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import * as tessera from '../lib/index.js';

describe('execution model', () => {
  test('a queued large matmul leaves the JS thread free: setImmediate runs before data() resolves', async () => {
    const a = tessera.randn([768, 768], { seed: 1 });
    const b = tessera.randn([768, 768], { seed: 2 });
    // A chain of matmuls keeps the CPU stream busy for a while.
    let c = tessera.matmul(a, b);
    for (let i = 0; i < 4; ++i) {
      const next = tessera.matmul(c, b);
      c.dispose();
      c = next;
    }
    const events: string[] = [];
    const immediate = new Promise<void>((resolve) => setImmediate(() => { events.push('immediate'); resolve(); }));
    const read = c.data().then(() => { events.push('data'); });
    events.push('queued');
    await Promise.all([immediate, read]);
    expect(events).toEqual(['queued', 'immediate', 'data']);
    for (const t of [a, b, c]) t.dispose();
  });

  test('disposing inputs right after an op is safe: the queued kernel keeps them alive', async () => {
    const a = tessera.tensor([[1, 2], [3, 4]]);
    const b = tessera.tensor([[5, 6], [7, 8]]);
    const c = tessera.matmul(a, b);
    a.dispose();
    b.dispose();
    expect(Array.from(await c.data())).toEqual([19, 22, 43, 50]);
    c.dispose();
  });

  test('results are read in the order the stream computes them', async () => {
    const x = tessera.tensor([1, 2, 3]);
    const ys = Array.from({ length: 20 }, (_, i) => tessera.scale(x, i));
    const values = await Promise.all(ys.map((y) => y.data()));
    values.forEach((v, i) => expect(Array.from(v)).toEqual([i, 2 * i, 3 * i]));
    for (const y of ys) y.dispose();
    x.dispose();
  });

  test('a view outlives the tensor it was taken from', () => {
    const x = tessera.tensor([[1, 2, 3], [4, 5, 6]]);
    const t = x.transpose(0, 1);
    const s = x.slice(1, 1, 3);
    x.dispose();
    expect(Array.from(t.dataSync())).toEqual([1, 4, 2, 5, 3, 6]);
    expect(Array.from(s.dataSync())).toEqual([2, 3, 5, 6]);
    t.dispose();
    s.dispose();
  });

  test('using disposes at the end of the block', () => {
    let escaped: tessera.Tensor | undefined;
    {
      using t = tessera.ones([4]);
      escaped = t;
      expect(t.disposed).toBe(false);
    }
    expect(escaped.disposed).toBe(true);
  });
});

describe('worker_threads', () => {
  test('four workers running ops at once get correct results and exit cleanly', async () => {
    const script = path.join(__dirname, 'fixtures', 'worker-ops.cjs');
    const workers = Array.from({ length: 4 }, (_, i) => new Worker(script, { workerData: { seed: 100 + i } }));
    // Both listeners go on before either event can fire: a worker's last message and
    // its 'exit' can be emitted in the same macrotask, so awaiting the message first
    // and only then listening for 'exit' can miss the exit and hang.
    const results = await Promise.all(workers.map(async (w) => {
      const [[message], [code]] = (await Promise.all([once(w, 'message'), once(w, 'exit')])) as [
        [{ ok: boolean; detail: string }],
        [number],
      ];
      return { ...message, code };
    }));
    for (const r of results) {
      expect(r.detail).toBe('');
      expect(r.ok).toBe(true);
      expect(r.code).toBe(0);
    }
  });
});
