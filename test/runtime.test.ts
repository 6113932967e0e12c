// The runtime model: ops return at once, reads never block the event loop,
// the stream keeps inputs alive, and the addon works in worker_threads.
import { execFileSync } from 'node:child_process';
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

describe('strided operands', () => {
  // Ops take any view. qmatmul (like the unary, row and attention ops) hands a strided
  // operand to its kernel through a contiguous copy (withContiguous) and a contiguous
  // one as it is; matmul packs its own; add reads strides. Checked against float64.
  test('qmatmul, matmul and add read transposed and sliced views correctly', async () => {
    const [M, K, N] = [5, 64, 9];
    const xt = tessera.randn([K, M], { seed: 21 });
    const x = xt.transpose(0, 1);  // [M, K], strides [1, M]
    const w = tessera.randn([N, K], { seed: 22 });
    const q = tessera.quantize(w, { bits: 4, groupSize: 32 });
    const deq = tessera.dequantize(q);
    const wide = tessera.randn([M, 2 * N], { seed: 23 });
    const half = wide.slice(1, 0, N);  // [M, N], strides [2N, 1]
    expect(x.isContiguous).toBe(false);
    expect(half.isContiguous).toBe(false);
    const y = tessera.qmatmul(x, q);
    const deqT = deq.transpose(0, 1);  // [K, N], strides [1, K]
    const z = tessera.matmul(x, deqT);
    const s = tessera.add(y, half);
    const xc = x.contiguous(), hc = half.contiguous();
    type F6 = [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    const [xv, dv, hv, yv, zv, sv] = (await Promise.all([xc, deq, hc, y, z, s].map((t) => t.data()))) as F6;
    for (let m = 0; m < M; ++m) {
      for (let n = 0; n < N; ++n) {
        let ref = 0, mag = 0;
        for (let k = 0; k < K; ++k) {
          ref += xv[m * K + k]! * dv[n * K + k]!;
          mag += Math.abs(xv[m * K + k]! * dv[n * K + k]!);
        }
        const bound = K * 2 ** -24 * mag + 1e-30;
        expect(Math.abs(yv[m * N + n]! - ref)).toBeLessThanOrEqual(bound);
        expect(Math.abs(zv[m * N + n]! - ref)).toBeLessThanOrEqual(bound);
        expect(Math.abs(sv[m * N + n]! - (yv[m * N + n]! + hv[m * N + n]!))).toBeLessThanOrEqual(2 ** -23 * (Math.abs(yv[m * N + n]!) + Math.abs(hv[m * N + n]!)));
      }
    }
    for (const t of [xt, x, xc, w, q, deq, deqT, wide, half, hc, y, z, s]) t.dispose();
  });
});

describe('strided operands through withContiguous', () => {
  test('silu, softmax and quantize of transposed views match the same ops on contiguous copies', async () => {
    const base = tessera.randn([40, 24], { seed: 31 });
    const t = base.transpose(0, 1);  // [24, 40], strides [1, 24]
    const dense = t.contiguous();
    expect(t.isContiguous).toBe(false);
    const pairs = [
      [tessera.silu(t), tessera.silu(dense)],
      [tessera.softmax(t), tessera.softmax(dense)],
      [tessera.dequantize(tessera.quantize(t, { bits: 4, groupSize: 32 })), tessera.dequantize(tessera.quantize(dense, { bits: 4, groupSize: 32 }))],
    ] as const;
    for (const [strided, contiguous] of pairs) {
      // The same kernel on the same values: bit-identical.
      expect(Array.from(await strided.data())).toEqual(Array.from(await contiguous.data()));
    }
    // And against float64 for silu and softmax (rows of 40).
    const tv = (await dense.data()) as Float32Array;
    const [sv, mv] = [await pairs[0][0].data(), await pairs[1][0].data()] as [Float32Array, Float32Array];
    for (let i = 0; i < 24; ++i) {
      let max = -Infinity;
      for (let j = 0; j < 40; ++j) max = Math.max(max, tv[i * 40 + j]!);
      let sum = 0;
      for (let j = 0; j < 40; ++j) sum += Math.exp(tv[i * 40 + j]! - max);
      for (let j = 0; j < 40; ++j) {
        const v = tv[i * 40 + j]!;
        expect(Math.abs(sv[i * 40 + j]! - v / (1 + Math.exp(-v)))).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v)));
        expect(Math.abs(mv[i * 40 + j]! - Math.exp(v - max) / sum)).toBeLessThanOrEqual(1e-6);
      }
    }
    for (const [a, b] of pairs) {
      a.dispose();
      b.dispose();
    }
    for (const x of [base, t, dense]) x.dispose();
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

describe('CPU thread pool', () => {
  // Each case runs in its own process: the pool reads its settings once, at start-up.
  // The CPU device whatever the default, and a timeout, so that a pool that hangs fails
  // the case instead of the run (execFileSync blocks vitest's own timer).
  const runPoolOps = (env: Record<string, string>) => JSON.parse(execFileSync(process.execPath,
    [path.join(__dirname, 'fixtures', 'pool-ops.cjs')],
    { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TESSERA_DEVICE: 'cpu', ...env } })) as {
    threads: number; spinMicros: number; matmul: number; qmatmul: number;
  };

  test.each([
    ['0', 0, 'blocks at once'],
    ['250', 250, 'as given'],
    ['99999', 10000, 'capped at 10 ms'],
    ['-5', 100, 'negative: the default'],
    ['fast', 100, 'not a number: the default'],
  ])('TESSERA_SPIN_US=%s gives a %i µs spin (%s) and correct results on three threads', (value, spin) => {
    const r = runPoolOps({ TESSERA_SPIN_US: value, TESSERA_NUM_THREADS: '3' });
    expect(r.threads).toBe(3);
    expect(r.spinMicros).toBe(spin);
    // Relative to 1 + |reference| (matmul, K = 129) and to Σ|x·w| (qmatmul, K = 256):
    // K·2^−24 bounds fp32 summation error either way.
    expect(r.matmul).toBeLessThan(129 * 2 ** -24);
    expect(r.qmatmul).toBeLessThan(256 * 2 ** -24);
  });

  test('the default spin is reported when TESSERA_SPIN_US is unset', () => {
    const env = { ...process.env };
    delete env.TESSERA_SPIN_US;
    env.TESSERA_NUM_THREADS = '2';
    const out = execFileSync(process.execPath, ['-e', "console.log(require('./dist/index.js').info().cpu.spinMicros)"],
      { cwd: path.join(__dirname, '..'), encoding: 'utf8', timeout: 60_000, env });
    expect(Number(out.trim())).toBe(100);
  });

  test('a one-thread pool reports no spin: it never waits for another thread', () => {
    const out = execFileSync(process.execPath, ['-e', "const c = require('./dist/index.js').info().cpu; console.log(c.threads, c.spinMicros)"],
      { cwd: path.join(__dirname, '..'), encoding: 'utf8', timeout: 60_000, env: { ...process.env, TESSERA_NUM_THREADS: '1', TESSERA_SPIN_US: '300' } });
    expect(out.trim()).toBe('1 0');
  });
});
