/** `npm run bench`: every CPU benchmark, results under bench/results/. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { progress } from './harness.js';
import { benchAttention } from './attention.js';
import { benchLinearAttention } from './linear-attention.js';
import { benchMatmul } from './matmul.js';
import { memoryLoop } from './memory-loop.js';
import { benchQMatmul } from './qmatmul.js';

async function main(): Promise<void> {
  await benchMatmul();
  await benchQMatmul();
  await benchAttention();
  await benchLinearAttention();
  progress('memory loop (100,000 create/op/dispose steps)');
  const mem = await memoryLoop();
  writeFileSync(path.join(__dirname, '..', 'bench', 'results', 'memory-loop.json'), JSON.stringify(mem, null, 2) + '\n');
  console.log(`memory loop: rss ${mem.rssAfterWarmupMiB.toFixed(1)} MiB after warm-up, ${mem.rssEndMiB.toFixed(1)} MiB after ${mem.steps} steps (growth ${mem.growthMiB.toFixed(1)} MiB)`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
