/**
 * tessera matmul on cuda against PyTorch (bench/gpu/torch_matmul.py, run just
 * before by scripts/gpu-check.sh; its JSON path is argv[2]). tessera is timed
 * from enqueue to the stream reaching a 4-byte read of the result, so each
 * time includes one launch and one small device→host copy.
 */
import { readFileSync } from 'node:fs';
import * as tessera from '../dist/index.js';
import { measure, progress, report, type Row } from './harness.js';

interface TorchRow { dtype: string; M: number; N: number; K: number; ms: number }

async function main(): Promise<void> {
  const torch = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { device: string; torch: string; rows: TorchRow[] };
  const rows: Row[] = [];
  for (const t of torch.rows) {
    progress(`cuda matmul ${t.dtype} ${t.M}x${t.N}x${t.K}`);
    const dtype = t.dtype as tessera.DType;
    const a = tessera.randn([t.M, t.K], { seed: 1, dtype, device: 'cuda' });
    const b = tessera.randn([t.K, t.N], { seed: 2, dtype, device: 'cuda' });
    const ours = await measure(async () => {
      const c = tessera.matmul(a, b);
      const first = c.slice(0, 0, 1).slice(1, 0, 1);
      await first.data();
      first.dispose();
      c.dispose();
    }, { warmup: 3, runs: 15 });
    rows.push({
      name: `matmul ${t.dtype}`, sizes: `M=${t.M} N=${t.N} K=${t.K}`, work: { flop: 2 * t.M * t.N * t.K },
      tessera: ours, peer: { name: `torch ${torch.torch}`, medianMs: t.ms, minMs: t.ms, runs: 20 },
    });
    a.dispose();
    b.dispose();
  }
  report('matmul-cuda', `CUDA matmul vs PyTorch on ${torch.device}`, rows, [
    'tessera: enqueue to result read (includes a launch and a 4-byte copy back); torch: CUDA events around the matmul.',
  ]);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
