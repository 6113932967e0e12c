/**
 * tessera attention on cuda against PyTorch (bench/gpu/torch_attention.py, run just
 * before by scripts/gpu-check.sh; its JSON path is argv[2]), on the same sizes:
 * fp16 causal against SDPA's flash backend, a causal window + ALiBi against
 * FlexAttention, and decode (one query, 32k keys) in K/V GB/s against SDPA and the
 * device-to-device copy bandwidth torch measured.
 *
 * Timing matches the peer's: `reps` calls enqueued back to back, then a one-element
 * read of the last output; the median of several such batches divided by `reps`. So a
 * time holds one launch per call and one small device→host copy per batch, not the
 * host round trip of every call.
 */
import { readFileSync } from 'node:fs';
import * as tessera from '../dist/index.js';
import { measure, progress, report, type Row } from './harness.js';

interface TorchRow {
  kind: 'causal' | 'window-alibi' | 'decode';
  peer: string;
  batch: number;
  heads: number;
  kvHeads: number;
  queries: number;
  keys: number;
  headDim: number;
  window: number | null;
  alibi: boolean;
  reps: number;
  ms: number;
  flop?: number;
  bytes?: number;
  error?: string;
}

interface TorchResults {
  device: string;
  torch: string;
  copy: { ms: number; bytes: number };
  rows: TorchRow[];
}

async function timeTessera(t: TorchRow): Promise<ReturnType<typeof measure>> {
  const opts = { dtype: 'float16' as const, device: 'cuda' };
  const q = tessera.randn([t.batch, t.heads, t.queries, t.headDim], { seed: 1, ...opts });
  const k = tessera.randn([t.batch, t.kvHeads, t.keys, t.headDim], { seed: 2, ...opts });
  const v = tessera.randn([t.batch, t.kvHeads, t.keys, t.headDim], { seed: 3, ...opts });
  // Torch's window of W keys (q_idx − kv_idx < W) is tessera's window [W − 1, 0].
  const options = {
    causal: true,
    ...(t.window !== null ? { window: [t.window - 1, 0] as const } : {}),
    ...(t.alibi ? { alibi: true } : {}),
  };
  const batch = await measure(async () => {
    let last: tessera.Tensor | undefined;
    for (let i = 0; i < t.reps; ++i) {
      last?.dispose();
      last = tessera.attention(q, k, v, options);
    }
    const flat = last!.reshape([last!.numel]);
    const first = flat.slice(0, 0, 1);
    await first.data();
    first.dispose();
    flat.dispose();
    last!.dispose();
  }, { warmup: 2, runs: 7 });
  q.dispose();
  k.dispose();
  v.dispose();
  return { medianMs: batch.medianMs / t.reps, minMs: batch.minMs / t.reps, runs: batch.runs };
}

async function main(): Promise<void> {
  const torch = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as TorchResults;
  const copyRate = torch.copy.bytes / torch.copy.ms / 1e6;
  const rows: Row[] = [{
    name: 'device-to-device copy (torch, bandwidth reference)', sizes: `${(torch.copy.bytes / 2 / 2 ** 30).toFixed(0)} GiB, read + write`,
    work: { bytes: torch.copy.bytes }, tessera: { medianMs: torch.copy.ms, minMs: torch.copy.ms, runs: 7 },
  }];
  const notes: string[] = [];
  for (const t of torch.rows) {
    if (t.error !== undefined) {
      notes.push(`${t.peer} (${t.kind}) failed in torch, row skipped: ${t.error}`);
      continue;
    }
    const sizes = `B=${t.batch} H=${t.heads} Lq=${t.queries} Lk=${t.keys} D=${t.headDim}` + (t.window !== null ? ` window ${t.window}` : '');
    const name = t.kind === 'causal' ? 'attention fp16, causal'
      : t.kind === 'window-alibi' ? 'attention fp16, causal window + ALiBi' : 'decode attention fp16 (K and V bytes read)';
    progress(`cuda ${name} ${sizes}`);
    try {
      const ours = await timeTessera(t);
      const work = t.flop !== undefined ? { flop: t.flop } : { bytes: t.bytes! };
      rows.push({ name, sizes, work, tessera: ours, peer: { name: `torch ${torch.torch} ${t.peer}`, medianMs: t.ms, minMs: t.ms, runs: 7 } });
      progress(`  tessera ${ours.medianMs.toFixed(3)} ms, torch ${t.ms.toFixed(3)} ms`);
      if (t.flop !== undefined) {
        notes.push(`${name} ${sizes}: tessera ${(t.flop / ours.medianMs / 1e9).toFixed(1)} TFLOP/s, ` +
          `torch ${t.peer} ${(t.flop / t.ms / 1e9).toFixed(1)} TFLOP/s.`);
      }
      if (t.bytes !== undefined) {
        const rate = t.bytes / ours.medianMs / 1e6;
        notes.push(`Decode ${sizes}: tessera ${rate.toFixed(0)} GB/s of K and V = ${((100 * rate) / copyRate).toFixed(0)}% of the copy bandwidth ` +
          `(${copyRate.toFixed(0)} GB/s); torch ${(t.bytes / t.ms / 1e6).toFixed(0)} GB/s.`);
      }
    } catch (error) {
      // An unsupported configuration is a result to report, not a reason to lose the table.
      notes.push(`tessera ${name} ${sizes}: ${(error as Error).message}`);
      progress(`  tessera failed: ${(error as Error).message}`);
    }
  }
  report('attention-cuda', `CUDA attention vs PyTorch on ${torch.device}`, rows, [
    'Both sides: median over 7 batches of back-to-back calls, divided by the calls per batch; torch with CUDA events, ' +
      'tessera from enqueue to a one-element read of the last output (one launch per call, one small copy per batch).',
    'TFLOP/s count 4·D per visible query–key pair per head (causal: L(L+1)/2 pairs). The window row is tessera window ' +
      '[W − 1, 0] + alibi: true against FlexAttention with a block mask (q − k < W, causal) and an ALiBi score_mod.',
    ...notes,
  ]);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
