/**
 * CPU quantized matmul against onnxruntime-node, same process, same packed weights:
 *   - int4 GEMV (M = 1, K = N = 4096, group 128, asymmetric) over a chain of 16
 *     distinct layers (136 MB of weights: they come from memory, not cache), against
 *     MatMulNBits at accuracy level 0 (fp32) and level 4 (int8 activations), with
 *     weight bytes/s against this machine's copy and read bandwidth measured in the same
 *     run, and against a read stream of the same bytes measured alternately;
 *   - int4, M = 32, the same chain, against MatMulNBits level 0;
 *   - W8A8 512 × 4096 × 4096 (int8 per-channel weights, activations quantized on the
 *     fly) against MatMulInteger u8 × s8.
 * Both sides hand their result back to JS at the end of each call.
 */
import * as ort from 'onnxruntime-node';
import * as tessera from '../dist/index.js';
import { measure, measurePair, progress, report, type Row } from './harness.js';
import { buildMatMulNBitsModel, buildSingleNodeModel, ElemType } from './onnx-model.js';

const LAYERS = 16;
const K = 4096;
const N = 4096;
const GROUP = 128;

function sessionOptions(): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: tessera.info().cpu.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  } as ort.InferenceSession.SessionOptions;
}

async function matMulNBitsSession(q: tessera.QuantizedTensor, M: number, accuracyLevel: number): Promise<ort.InferenceSession> {
  const model = buildMatMulNBitsModel(q.toMatMulNBits(), M, accuracyLevel);
  return ort.InferenceSession.create(model, sessionOptions());
}

/**
 * Copy bandwidth, the ceiling of a weight stream: a 256 MiB TypedArray.set (memcpy)
 * between two buffers already paged in, counting bytes read plus bytes written. One
 * thread; a tessera op on a fresh 256 MiB output would time page faults instead.
 */
async function copyBandwidth(): Promise<{ bytesPerSecond: number; timing: Awaited<ReturnType<typeof measure>> }> {
  const count = 64 << 20;
  const src = new Float32Array(count).fill(1);
  const dst = new Float32Array(count).fill(2);
  const timing = await measure(async () => dst.set(src), { warmup: 1, runs: 7 });
  return { bytesPerSecond: (2 * count * 4) / (timing.medianMs / 1e3), timing };
}

/**
 * Read bandwidth, the ceiling of a weight stream proper: tessera.sum over a 256 MiB fp32
 * tensor [2048, 32768] on all of tessera's threads (vector loads into double
 * accumulators: far more arithmetic headroom than a sum needs), bytes read only.
 */
async function readBandwidth(): Promise<{ bytesPerSecond: number; timing: Awaited<ReturnType<typeof measure>> }> {
  const x = tessera.randn([2048, 32768], { seed: 3 });
  const timing = await measure(sumPass(x), { warmup: 2, runs: 9 });
  x.dispose();
  return { bytesPerSecond: (256 << 20) / (timing.medianMs / 1e3), timing };
}

/** One read of every byte of x: tessera.sum, the result read back to JS. */
function sumPass(x: tessera.Tensor) {
  return async (): Promise<void> => {
    const s = tessera.sum(x);
    await s.data();
    s.dispose();
  };
}

function weightBytesOf(layers: tessera.QuantizedTensor[]): number {
  return layers.reduce((s, q) => s + q.codes.numel + q.scales.numel * 4 + (q.zeroPoints?.numel ?? 0), 0);
}

/** One pass of x through every layer in turn, the result read back to JS. */
function chainPass(x: tessera.Tensor, layers: tessera.QuantizedTensor[], activations: 'float' | 'int8') {
  return async (): Promise<void> => {
    let y = x;
    for (const q of layers) {
      const next = tessera.qmatmul(y, q, { activations });
      if (y !== x) y.dispose();
      y = next;
    }
    await y.data();
    y.dispose();
  };
}

/**
 * The M = 1 weight stream as a share of the read stream, the two measured alternately
 * (a chain pass, then tessera.sum over a buffer of the same bytes): on this shared host
 * either can drift by ±20% between minutes, so the share of two medians taken apart
 * moved by as much again.
 */
async function streamShare(layers: tessera.QuantizedTensor[], activations: 'float' | 'int8'): Promise<string> {
  const x = tessera.randn([1, K], { seed: 7 });
  const weightBytes = weightBytesOf(layers);
  const probe = tessera.randn([Math.ceil(weightBytes / 4 / 32768), 32768], { seed: 5 });
  const probeBytes = probe.numel * 4;
  const [c, r] = await measurePair(chainPass(x, layers, activations), sumPass(probe), { warmup: 2, runs: 15 });
  x.dispose();
  probe.dispose();
  const stream = weightBytes / (c.medianMs / 1e3), read = probeBytes / (r.medianMs / 1e3);
  progress(`  activations ${activations}: ${(stream / 1e9).toFixed(2)} GB/s against ${(read / 1e9).toFixed(2)} GB/s`);
  return `activations ${activations}: ${(stream / 1e9).toFixed(2)} GB/s against ${(read / 1e9).toFixed(2)} GB/s = ${(100 * stream / read).toFixed(0)}%`;
}

async function chain(M: number, layers: tessera.QuantizedTensor[], levels: number[]): Promise<Row[]> {
  const x = tessera.randn([M, K], { seed: 7 });
  const xData = (await x.data()) as Float32Array;
  const weightBytes = weightBytesOf(layers);
  const rows: Row[] = [];
  for (const level of levels) {
    progress(`  MatMulNBits level ${level}: building ${LAYERS} sessions`);
    const sessions = await Promise.all(layers.map((q) => matMulNBitsSession(q, M, level)));
    const peer = async (): Promise<void> => {
      let a: ort.Tensor = new ort.Tensor('float32', xData, [M, K]);
      for (const s of sessions) {
        const out = await s.run({ A: a });
        a = out.Y as ort.Tensor;
      }
      a.getData();
    };
    // Level 4 quantizes activations to int8: tessera's counterpart is activations 'int8'.
    const activations = level === 4 ? 'int8' : 'float';
    const [t, p] = await measurePair(chainPass(x, layers, activations), peer, { warmup: 2, runs: 9 });
    progress(`  tessera ${(t.medianMs / LAYERS).toFixed(3)} ms/layer, MatMulNBits level ${level} ${(p.medianMs / LAYERS).toFixed(3)} ms/layer`);
    rows.push({
      name: `int4 g${GROUP} qmatmul (activations ${activations}), ${LAYERS}-layer chain`,
      sizes: `M=${M} N=${N} K=${K} ×${LAYERS}`,
      work: M <= 8 ? { bytes: weightBytes } : { flop: 2 * M * N * K * LAYERS },
      tessera: t,
      peer: { name: `onnxruntime MatMulNBits accuracy_level ${level}`, ...p },
    });
    await Promise.all(sessions.map((s) => s.release()));
  }
  x.dispose();
  return rows;
}

async function w8a8(): Promise<Row> {
  const M = 512;
  progress(`W8A8 M=${M} N=${N} K=${K}`);
  const w = tessera.randn([N, K], { seed: 11 });
  const q = tessera.quantize(w, { bits: 8 });
  const x = tessera.randn([M, K], { seed: 12 });
  // MatMulInteger: A uint8 [M, K] (zero point 128), B int8 [K, N].
  const codes = (await q.codes.data()) as Uint8Array;
  const bT = new Int8Array(K * N);
  for (let n = 0; n < N; ++n) for (let k = 0; k < K; ++k) bT[k * N + n] = codes[n * K + k]! - 128;
  const aU8 = new Uint8Array(M * K);
  for (let i = 0; i < aU8.length; ++i) aU8[i] = (i * 2654435761) >>> 24;
  const model = buildSingleNodeModel({
    opType: 'MatMulInteger', opsetVersion: 13,
    inputs: [{ name: 'A', elemType: ElemType.UINT8, shape: [M, K] }],
    outputs: [{ name: 'Y', elemType: ElemType.INT32, shape: [M, N] }],
    initializers: [
      { name: 'B', elemType: ElemType.INT8, dims: [K, N], data: bT },
      { name: 'a_zero_point', elemType: ElemType.UINT8, dims: [], data: Uint8Array.of(128) },
    ],
  });
  const session = await ort.InferenceSession.create(model, sessionOptions());
  const feeds = { A: new ort.Tensor('uint8', aU8, [M, K]) };
  const [t, p] = await measurePair(async () => {
    const y = tessera.qmatmul(x, q, { activations: 'int8' });
    await y.data();
    y.dispose();
  }, async () => {
    const out = await session.run(feeds);
    out.Y!.dispose();
  }, { warmup: 2, runs: 7 });
  progress(`  tessera ${t.medianMs.toFixed(2)} ms, MatMulInteger ${p.medianMs.toFixed(2)} ms`);
  await session.release();
  w.dispose();
  q.dispose();
  x.dispose();
  return { name: 'W8A8 qmatmul (int8 per-channel, activations int8)', sizes: `M=${M} N=${N} K=${K}`, work: { flop: 2 * M * N * K }, tessera: t, peer: { name: 'onnxruntime MatMulInteger u8s8', ...p } };
}

export async function benchQMatmul(): Promise<Row[]> {
  progress(`quantizing ${LAYERS} int4 layers ${N}×${K}`);
  const layers: tessera.QuantizedTensor[] = [];
  for (let i = 0; i < LAYERS; ++i) {
    const w = tessera.randn([N, K], { seed: 100 + i });
    layers.push(tessera.quantize(w, { bits: 4, groupSize: GROUP }));
    w.dispose();
  }
  progress('int4 GEMV M=1');
  const gemv = await chain(1, layers, [0, 4]);
  progress('int4 GEMV M=1 weight stream against a read stream of the same size, alternating');
  const shares = [await streamShare(layers, 'float'), await streamShare(layers, 'int8')];
  progress('int4 GEMV M=4');
  const m4 = await chain(4, layers, [0]);
  progress('int4 M=32');
  const m32 = await chain(32, layers, [0]);
  layers.forEach((q) => q.dispose());
  const int8 = await w8a8();
  // The bandwidth references last, so that their 256 MiB buffers come and go after
  // the timed chains rather than before them.
  progress('copy bandwidth (256 MiB memcpy)');
  const bw = await copyBandwidth();
  progress(`  ${(bw.bytesPerSecond / 1e9).toFixed(2)} GB/s`);
  progress('read bandwidth (tessera.sum over 256 MiB)');
  const read = await readBandwidth();
  progress(`  ${(read.bytesPerSecond / 1e9).toFixed(2)} GB/s`);
  const rows: Row[] = [
    { name: 'memcpy (bandwidth reference, not tessera)', sizes: '256 MiB, read + write', work: { bytes: 2 * (256 << 20) }, tessera: bw.timing },
    { name: 'read stream: tessera.sum (bandwidth reference)', sizes: '256 MiB fp32 [2048, 32768], read', work: { bytes: 256 << 20 }, tessera: read.timing },
    ...gemv, ...m4, ...m32, int8,
  ];
  const stream = (row: Row): string => {
    const bytesPerSecond = row.work.bytes! / (row.tessera.medianMs / 1e3);
    return `${(bytesPerSecond / 1e9).toFixed(2)} GB/s = ${(100 * bytesPerSecond / read.bytesPerSecond).toFixed(0)}% of the read stream, ${(100 * bytesPerSecond / bw.bytesPerSecond).toFixed(0)}% of the copy`;
  };
  report('qmatmul', 'CPU quantized matmul vs onnxruntime-node MatMulNBits / MatMulInteger', rows, [
    `Bandwidth in this run: read stream ${(read.bytesPerSecond / 1e9).toFixed(2)} GB/s (tessera.sum, ${tessera.info().cpu.threads} threads); copy ${(bw.bytesPerSecond / 1e9).toFixed(2)} GB/s (one-thread memcpy, read + write).`,
    `int4 GEMV weight stream, activations float: ${stream(gemv[0]!)}; activations int8: ${stream(gemv[1]!)}.`,
    `int4 GEMV weight stream against tessera.sum over the same bytes, the two alternating (median of 15 each): ${shares.join('; ')}.`,
    `The chain runs the ${LAYERS} layers one after another (136 MB of int4 codes + fp32 scales + zero points, beyond any cache); times are per chain. onnxruntime runs one session per layer.`,
    'Level 0 is onnxruntime\'s fp32 path (tessera: activations \'float\', W4A16-style); level 4 its int8-activation path (tessera: activations \'int8\', W4A8).',
    'W8A8: tessera includes quantizing x per row and scaling to fp32; MatMulInteger returns raw int32 sums from pre-quantized uint8 activations.',
    'Median of 9 runs (7 for W8A8) after 2 warm-up runs, tessera and the peer alternating; onnxruntime with allow_spinning=0.',
  ]);
  return rows;
}

if (require.main === module) {
  benchQMatmul().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
