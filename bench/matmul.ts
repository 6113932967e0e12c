/**
 * CPU fp32 matmul against onnxruntime-node's MatMul (MLAS), same process,
 * same inputs, both with every core. Both sides include handing the result
 * back to JS: tessera's `await c.data()`, onnxruntime's `session.run()`.
 */
import * as ort from 'onnxruntime-node';
import * as tessera from '../dist/index.js';
import { measurePair, progress, report, type Row } from './harness.js';
import { buildSingleNodeModel, ElemType } from './onnx-model.js';

const SHAPES: Array<[number, number, number]> = [
  [1024, 1024, 1024],
  [512, 4096, 4096],
  [1, 4096, 4096],
  [7, 4096, 11008],
];

async function peerSession(M: number, N: number, K: number): Promise<ort.InferenceSession> {
  const model = buildSingleNodeModel({
    opType: 'MatMul',
    inputs: [
      { name: 'A', elemType: ElemType.FLOAT, shape: [M, K] },
      { name: 'B', elemType: ElemType.FLOAT, shape: [K, N] },
    ],
    outputs: [{ name: 'Y', elemType: ElemType.FLOAT, shape: [M, N] }],
  });
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: tessera.info().cpu.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // onnxruntime's pool spin-waits after each run by default, which would steal
    // the cores from tessera's next (alternating) run; tessera's pool sleeps.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
}

export async function benchMatmul(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [M, N, K] of SHAPES) {
    const sizes = `M=${M} N=${N} K=${K}`;
    progress(`matmul fp32 ${sizes}`);
    const a = tessera.randn([M, K], { seed: 1 });
    const b = tessera.randn([K, N], { seed: 2 });
    const session = await peerSession(M, N, K);
    const feeds = {
      A: new ort.Tensor('float32', (await a.data()) as Float32Array, [M, K]),
      B: new ort.Tensor('float32', (await b.data()) as Float32Array, [K, N]),
    };
    const [ours, peer] = await measurePair(async () => {
      const c = tessera.matmul(a, b);
      await c.data();
      c.dispose();
    }, async () => {
      const out = await session.run(feeds);
      out.Y!.dispose();
    });
    await session.release();
    a.dispose();
    b.dispose();
    rows.push({ name: 'matmul fp32', sizes, work: { flop: 2 * M * N * K }, tessera: ours, peer: { name: 'onnxruntime-node MatMul', ...peer } });
    progress(`  tessera ${ours.medianMs.toFixed(2)} ms, onnxruntime ${peer.medianMs.toFixed(2)} ms`);
  }
  report('matmul-cpu', 'CPU fp32 matmul vs onnxruntime-node MatMul', rows, [
    'Median of 9 runs after 2 warm-up runs, tessera and the peer alternating; each side returns its result to JS.',
    'B is a graph input for onnxruntime (not a constant initializer), as it is an argument for tessera.',
    "onnxruntime runs with session.intra_op.allow_spinning=0, so its idle threads do not take the cores from tessera's alternating runs.",
  ]);
  return rows;
}

if (require.main === module) {
  benchMatmul().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
