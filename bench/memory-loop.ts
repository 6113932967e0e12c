/**
 * Resident memory under a long create/op/dispose loop: 100,000 steps of
 * randn → silu/add/matmul → dispose, reading a result back every 100 steps.
 * Prints RSS after warm-up and at the end; flat means no leak.
 */
import * as tessera from '../dist/index.js';
import { progress } from './harness.js';

export interface MemoryResult {
  steps: number;
  rssAfterWarmupMiB: number;
  rssEndMiB: number;
  growthMiB: number;
  samplesMiB: number[];
}

export async function memoryLoop(steps = 100_000, warmup = 10_000): Promise<MemoryResult> {
  const mib = () => process.memoryUsage().rss / 2 ** 20;
  const w = tessera.randn([64, 64], { seed: 7 });
  let rssAfterWarmup = 0;
  const samples: number[] = [];
  for (let i = 0; i < steps; ++i) {
    const x = tessera.randn([8, 64], { seed: i });
    const h = tessera.silu(x);
    const y = tessera.add(h, x);
    const z = tessera.matmul(y, w, { transposeB: true });
    if (i % 100 === 99) await z.data();
    x.dispose();
    h.dispose();
    y.dispose();
    z.dispose();
    if (i + 1 === warmup) {
      if (global.gc) global.gc();
      rssAfterWarmup = mib();
    }
    if ((i + 1) % 10_000 === 0) {
      samples.push(Math.round(mib() * 10) / 10);
      progress(`memory loop ${i + 1}/${steps}: rss ${mib().toFixed(1)} MiB`);
    }
  }
  w.dispose();
  if (global.gc) global.gc();
  const end = mib();
  return { steps, rssAfterWarmupMiB: rssAfterWarmup, rssEndMiB: end, growthMiB: end - rssAfterWarmup, samplesMiB: samples };
}

if (require.main === module) {
  memoryLoop().then((r) => console.log(JSON.stringify(r, null, 2))).catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
