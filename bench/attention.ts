/**
 * CPU attention against onnxruntime-node's com.microsoft GroupQueryAttention, same
 * process, same inputs, alternating runs; fp32, layout [B, H, L, D] for tessera and
 * onnxruntime's own [B, L, H·D] for the peer (the same numbers, transposed once
 * before timing). Both sides hand their output back to JS on every call.
 *
 *   - dense causal, ALiBi (a full [1, H, L, L] attention_bias for onnxruntime, the
 *     fused slopes for tessera) and a causal window of 512 keys at L = 2048;
 *   - a causal window of 256 keys from L = 2k to 32k: T(32k) / T(2k) and the peak
 *     resident memory at 32k, measured in a child process that loads tessera only;
 *   - decode, one query against 32k keys (D = 128): K and V bytes read per second
 *     against this machine's memcpy bandwidth measured in the same run.
 *
 * Before timing, onnxruntime and tessera are both checked against a float64
 * reference on a small case of every configuration, so the peer is known to compute
 * the same thing (onnxruntime's window convention in particular: see
 * buildGroupQueryAttentionModel).
 *
 * Shape letters: B batch, H heads (Hq query, Hkv key/value), Lq queries, Lk keys,
 * D head dim; i' = i + Lk − Lq is query i's position among the keys.
 */
import { fork } from 'node:child_process';
import os from 'node:os';
import type * as Ort from 'onnxruntime-node';
import * as tessera from '../dist/index.js';
import { measure, measurePair, progress, report, type Row, type Timing } from './harness.js';
import { buildGroupQueryAttentionModel, type GroupQueryAttentionSpec } from './onnx-model.js';

const B = 1;
const H = 8;
const D = 64;
const L = 2048;
const WINDOW = 512;
const SCALING_WINDOW = 256;
const SCALING_LENGTHS = [2048, 4096, 8192, 16384, 32768];
const DECODE_KEYS = 32768;
const DECODE_HEAD_DIM = 128;
/** onnxruntime-node's session options, as the issue asks: 2 intra-op threads, no spinning. */
const PEER_THREADS = 2;

/**
 * A masking configuration, as both sides spell it. `windowKeys` W counts the keys a
 * query sees, itself included: tessera's window [W − 1, 0], onnxruntime's
 * local_window_size W.
 */
interface Config {
  name: string;
  windowKeys?: number;
  alibi?: boolean;
}

const DENSE: Config = { name: 'causal' };
const ALIBI: Config = { name: 'causal + ALiBi', alibi: true };
const WINDOWED = (keys: number): Config => ({ name: `causal window ${keys}`, windowKeys: keys });

// onnxruntime-node is loaded only by the parent process, so that the RSS child below
// measures tessera alone.
let ortModule: typeof Ort | undefined;
function ort(): typeof Ort {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ortModule ??= require('onnxruntime-node') as typeof Ort;
  return ortModule;
}

/** Forward options without returnLse, so attention() returns a Tensor. */
type ForwardOptions = tessera.AttentionOptions & { returnLse?: false };

function tesseraOptions(config: Config): ForwardOptions {
  return {
    causal: true,
    ...(config.windowKeys !== undefined ? { window: [config.windowKeys - 1, 0] as const } : {}),
    ...(config.alibi ? { alibi: true } : {}),
  };
}

/** Query–key pairs a causal (optionally windowed) mask leaves visible: the work of one head. */
function visiblePairs(Lq: number, Lk: number, windowKeys = Infinity): number {
  let pairs = 0;
  for (let i = 0; i < Lq; ++i) pairs += Math.min(i + Lk - Lq + 1, windowKeys);
  return pairs;
}

/** Attention FLOPs: 2·D for q·k and 2·D for p·v per visible pair, per query head. */
function attentionFlop(batch: number, heads: number, Lq: number, Lk: number, dim: number, windowKeys?: number): number {
  return 4 * batch * heads * visiblePairs(Lq, Lk, windowKeys) * dim;
}

/** [B, H, L, D] → [B, L, H·D] (onnxruntime's BSH layout). */
function toSequenceMajor(x: Float32Array, batch: number, heads: number, len: number, dim: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let b = 0; b < batch; ++b) {
    for (let h = 0; h < heads; ++h) {
      for (let l = 0; l < len; ++l) {
        const from = ((b * heads + h) * len + l) * dim;
        y.set(x.subarray(from, from + dim), ((b * len + l) * heads + h) * dim);
      }
    }
  }
  return y;
}

/** ALiBi as the full bias tensor onnxruntime needs: [1, Hq, Lq, Lk] of −slope_h·|i' − j|. */
function alibiBias(slopes: Float32Array, Lq: number, Lk: number): Float32Array {
  const bias = new Float32Array(slopes.length * Lq * Lk);
  for (let h = 0; h < slopes.length; ++h) {
    for (let i = 0; i < Lq; ++i) {
      const row = (h * Lq + i) * Lk;
      const position = i + Lk - Lq;
      for (let j = 0; j < Lk; ++j) bias[row + j] = -slopes[h]! * Math.abs(position - j);
    }
  }
  return bias;
}

function sessionOptions(): Ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: PEER_THREADS,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Its shape inference takes past and present to share one buffer and warns on every
    // decode run that they do not; the results are right (checked below).
    logSeverityLevel: 3,
    // onnxruntime's pool spin-waits after each run by default, which would steal the
    // cores from tessera's next (alternating) run; tessera's pool sleeps.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  } as Ort.InferenceSession.SessionOptions;
}

/** One problem: tessera's tensors and the matching onnxruntime session and feeds. */
interface Problem {
  q: tessera.Tensor;
  k: tessera.Tensor;
  v: tessera.Tensor;
  options: ForwardOptions;
  session: Ort.InferenceSession;
  feeds: Record<string, Ort.Tensor>;
}

interface ProblemSize {
  batch: number;
  qHeads: number;
  kvHeads: number;
  Lq: number;
  Lk: number;
  dim: number;
}

async function makeProblem(size: ProblemSize, config: Config, seed: number): Promise<Problem> {
  const { batch, qHeads, kvHeads, Lq, Lk, dim } = size;
  const q = tessera.randn([batch, qHeads, Lq, dim], { seed });
  const k = tessera.randn([batch, kvHeads, Lk, dim], { seed: seed + 1 });
  const v = tessera.randn([batch, kvHeads, Lk, dim], { seed: seed + 2 });
  const qData = (await q.data()) as Float32Array;
  const kData = (await k.data()) as Float32Array;
  const vData = (await v.data()) as Float32Array;
  const { Tensor } = ort();
  const past = Lk - Lq;
  const spec: GroupQueryAttentionSpec = {
    batch, qHeads, kvHeads, queryLength: Lq, pastLength: past, headDim: dim,
    localWindowSize: config.windowKeys, attentionBias: config.alibi,
  };
  // The last Lq keys are the new tokens (key, value, BSH); the ones before them the
  // cache (past_key, past_value, BNSH: tessera's layout, cut to `past` rows).
  const newRows = (x: Float32Array) => {
    const rows = new Float32Array(batch * kvHeads * Lq * dim);
    for (let bh = 0; bh < batch * kvHeads; ++bh) rows.set(x.subarray((bh * Lk + past) * dim, (bh * Lk + Lk) * dim), bh * Lq * dim);
    return toSequenceMajor(rows, batch, kvHeads, Lq, dim);
  };
  const pastRows = (x: Float32Array) => {
    const rows = new Float32Array(batch * kvHeads * past * dim);
    for (let bh = 0; bh < batch * kvHeads; ++bh) rows.set(x.subarray(bh * Lk * dim, (bh * Lk + past) * dim), bh * past * dim);
    return rows;
  };
  const feeds: Record<string, Ort.Tensor> = {
    query: new Tensor('float32', toSequenceMajor(qData, batch, qHeads, Lq, dim), [batch, Lq, qHeads * dim]),
    key: new Tensor('float32', newRows(kData), [batch, Lq, kvHeads * dim]),
    value: new Tensor('float32', newRows(vData), [batch, Lq, kvHeads * dim]),
    seqlens_k: new Tensor('int32', new Int32Array(batch).fill(Lk - 1), [batch]),
    total_sequence_length: new Tensor('int32', Int32Array.of(Lk), []),
  };
  if (past > 0) {
    feeds.past_key = new Tensor('float32', pastRows(kData), [batch, kvHeads, past, dim]);
    feeds.past_value = new Tensor('float32', pastRows(vData), [batch, kvHeads, past, dim]);
  }
  if (config.alibi) feeds.attention_bias = new Tensor('float32', alibiBias(tessera.alibiSlopes(qHeads), Lq, Lk), [1, qHeads, Lq, Lk]);
  const session = await ort().InferenceSession.create(buildGroupQueryAttentionModel(spec), sessionOptions());
  return { q, k, v, options: tesseraOptions(config), session, feeds };
}

async function releaseProblem(p: Problem): Promise<void> {
  p.q.dispose();
  p.k.dispose();
  p.v.dispose();
  await p.session.release();
}

async function runTessera(p: Problem): Promise<Float32Array> {
  const out = tessera.attention(p.q, p.k, p.v, p.options);
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}

async function runPeer(p: Problem): Promise<Float32Array> {
  const result = await p.session.run(p.feeds);
  const data = result.output!.data as Float32Array;
  for (const t of Object.values(result)) t.dispose();
  return data;
}

/** Largest |a − b| over tessera's output ([B, Hq, Lq, D]) and onnxruntime's ([B, Lq, Hq·D]). */
function maxDifference(ours: Float32Array, peer: Float32Array, size: ProblemSize): number {
  const transposed = toSequenceMajor(ours, size.batch, size.qHeads, size.Lq, size.dim);
  let worst = 0;
  for (let i = 0; i < transposed.length; ++i) worst = Math.max(worst, Math.abs(transposed[i]! - peer[i]!));
  return worst;
}

/** Plain float64 attention in the BSH layout, straight from DESIGN's rule (causal, window, ALiBi). */
function referenceAttention(feeds: Record<string, Ort.Tensor>, size: ProblemSize, config: Config): Float64Array {
  const { batch, qHeads, kvHeads, Lq, Lk, dim } = size;
  const q = feeds.query!.data as Float32Array;
  const past = Lk - Lq;
  // Key/value row j of kv head hk of sequence b, from past_* (BNSH) or key/value (BSH).
  const row = (name: 'key' | 'value', b: number, hk: number, j: number): Float32Array => {
    if (j < past) {
      const cache = feeds[name === 'key' ? 'past_key' : 'past_value']!.data as Float32Array;
      const at = ((b * kvHeads + hk) * past + j) * dim;
      return cache.subarray(at, at + dim);
    }
    const fresh = feeds[name]!.data as Float32Array;
    const at = ((b * Lq + (j - past)) * kvHeads + hk) * dim;
    return fresh.subarray(at, at + dim);
  };
  const slopes = config.alibi ? tessera.alibiSlopes(qHeads) : null;
  const scale = 1 / Math.sqrt(dim);
  const windowKeys = config.windowKeys ?? Infinity;
  const out = new Float64Array(batch * Lq * qHeads * dim);
  const scores = new Float64Array(Lk);
  for (let b = 0; b < batch; ++b) {
    for (let h = 0; h < qHeads; ++h) {
      const hk = Math.floor(h / (qHeads / kvHeads));
      for (let i = 0; i < Lq; ++i) {
        const position = i + past;
        const first = Math.max(0, position - windowKeys + 1);
        const qRow = q.subarray(((b * Lq + i) * qHeads + h) * dim, ((b * Lq + i) * qHeads + h + 1) * dim);
        let max = -Infinity;
        for (let j = first; j <= position; ++j) {
          const kRow = row('key', b, hk, j);
          let dot = 0;
          for (let d = 0; d < dim; ++d) dot += qRow[d]! * kRow[d]!;
          scores[j] = scale * dot - (slopes ? slopes[h]! * Math.abs(position - j) : 0);
          max = Math.max(max, scores[j]!);
        }
        let sum = 0;
        for (let j = first; j <= position; ++j) sum += (scores[j] = Math.exp(scores[j]! - max));
        const o = ((b * Lq + i) * qHeads + h) * dim;
        for (let j = first; j <= position; ++j) {
          const vRow = row('value', b, hk, j);
          const p = scores[j]! / sum;
          for (let d = 0; d < dim; ++d) out[o + d] = out[o + d]! + p * vRow[d]!;
        }
      }
    }
  }
  return out;
}

/**
 * Both sides against the float64 reference on small, odd sizes of every configuration
 * the benchmark times (prefill with Lq = Lk, and decode over a cache with Lq < Lk;
 * GQA heads), so a fast wrong answer cannot pass for a result.
 */
async function checkAgainstReference(): Promise<string> {
  const cases: Array<[ProblemSize, Config]> = [
    [{ batch: 1, qHeads: 4, kvHeads: 2, Lq: 97, Lk: 97, dim: 16 }, DENSE],
    [{ batch: 1, qHeads: 4, kvHeads: 2, Lq: 97, Lk: 97, dim: 16 }, ALIBI],
    [{ batch: 1, qHeads: 4, kvHeads: 2, Lq: 97, Lk: 97, dim: 16 }, WINDOWED(7)],
    [{ batch: 2, qHeads: 6, kvHeads: 3, Lq: 1, Lk: 203, dim: 32 }, DENSE],
  ];
  let worstPeer = 0;
  let worstOurs = 0;
  for (const [size, config] of cases) {
    const p = await makeProblem(size, config, 31);
    const expected = referenceAttention(p.feeds, size, config);
    const peer = await runPeer(p);
    const ours = toSequenceMajor(await runTessera(p), size.batch, size.qHeads, size.Lq, size.dim);
    let peerError = 0;
    let ourError = 0;
    for (let i = 0; i < expected.length; ++i) {
      peerError = Math.max(peerError, Math.abs(peer[i]! - expected[i]!));
      ourError = Math.max(ourError, Math.abs(ours[i]! - expected[i]!));
    }
    const what = `${config.name}, Hq=${size.qHeads} Hkv=${size.kvHeads} Lq=${size.Lq} Lk=${size.Lk} D=${size.dim}`;
    if (!(peerError < 1e-4)) throw new Error(`onnxruntime GroupQueryAttention disagrees with the float64 reference (${what}): max error ${peerError}`);
    if (!(ourError < 1e-4)) throw new Error(`tessera.attention disagrees with the float64 reference (${what}): max error ${ourError}`);
    worstPeer = Math.max(worstPeer, peerError);
    worstOurs = Math.max(worstOurs, ourError);
    await releaseProblem(p);
  }
  return `Checked first on small cases (Lq=Lk=97 causal, ALiBi, window 7, GQA 4/2 heads; decode Lq=1 Lk=203, 6/3 heads, B=2) against a float64 reference: ` +
    `max abs error tessera ${worstOurs.toExponential(1)}, onnxruntime ${worstPeer.toExponential(1)}.`;
}

const SIZE_2K: ProblemSize = { batch: B, qHeads: H, kvHeads: H, Lq: L, Lk: L, dim: D };

/** tessera and onnxruntime on one problem, alternating; also their largest output difference. */
async function pair(size: ProblemSize, config: Config, runs = 9): Promise<{ row: Row; difference: number }> {
  const sizes = `B=${size.batch} H=${size.qHeads} Lq=${size.Lq} Lk=${size.Lk} D=${size.dim}`;
  progress(`${config.name} ${sizes}`);
  const p = await makeProblem(size, config, 1);
  const difference = maxDifference(await runTessera(p), await runPeer(p), size);
  const [ours, peer] = await measurePair(() => runTessera(p), () => runPeer(p), { warmup: 1, runs });
  await releaseProblem(p);
  progress(`  tessera ${ours.medianMs.toFixed(2)} ms, onnxruntime ${peer.medianMs.toFixed(2)} ms (time ratio ${(ours.medianMs / peer.medianMs).toFixed(2)}), max |difference| ${difference.toExponential(1)}`);
  return {
    row: {
      name: `attention fp32, ${config.name}`, sizes,
      work: { flop: attentionFlop(size.batch, size.qHeads, size.Lq, size.Lk, size.dim, config.windowKeys) },
      tessera: ours, peer: { name: 'onnxruntime GroupQueryAttention', ...peer },
    },
    difference,
  };
}

/** tessera alone, for the lengths where onnxruntime's L × L scratch does not fit. */
async function alone(size: ProblemSize, config: Config): Promise<Row> {
  const sizes = `B=${size.batch} H=${size.qHeads} Lq=${size.Lq} Lk=${size.Lk} D=${size.dim}`;
  progress(`${config.name} ${sizes} (tessera only)`);
  const q = tessera.randn([size.batch, size.qHeads, size.Lq, size.dim], { seed: 1 });
  const k = tessera.randn([size.batch, size.kvHeads, size.Lk, size.dim], { seed: 2 });
  const v = tessera.randn([size.batch, size.kvHeads, size.Lk, size.dim], { seed: 3 });
  const options = tesseraOptions(config);
  const ours = await measure(async () => {
    const out = tessera.attention(q, k, v, options);
    await out.data();
    out.dispose();
  }, { warmup: 1, runs: 5, budgetMs: 30_000 });
  q.dispose();
  k.dispose();
  v.dispose();
  progress(`  tessera ${ours.medianMs.toFixed(2)} ms`);
  return {
    name: `attention fp32, ${config.name}`, sizes,
    work: { flop: attentionFlop(size.batch, size.qHeads, size.Lq, size.Lk, size.dim, config.windowKeys) },
    tessera: ours,
  };
}

/**
 * onnxruntime's CPU GroupQueryAttention materializes B·Hq·Lq·Lk fp32 probabilities
 * whatever the window (2.3 GiB of RSS and ~12 s a call at L = 8192 on 2 cores):
 * run it up to 512 MiB of those, and only while that is a small part of free memory.
 */
function peerAffordable(size: ProblemSize): boolean {
  const scratch = size.batch * size.qHeads * size.Lq * size.Lk * 4;
  return scratch <= 2 ** 29 && scratch * 4 < os.freemem();
}

/**
 * T(longest) / T(shortest) of the window scaling from the two lengths run alternately,
 * so that a change of machine load between the rows above does not bend the ratio.
 */
async function scalingRatio(shortest: number, longest: number): Promise<number> {
  progress(`window ${SCALING_WINDOW}: L=${shortest} and L=${longest} alternating, for T(${longest})/T(${shortest})`);
  const make = (len: number) => [1, 2, 3].map((seed) => tessera.randn([B, H, len, D], { seed }));
  const [short, long] = [make(shortest), make(longest)];
  const run = (t: tessera.Tensor[]) => async () => {
    const out = tessera.attention(t[0]!, t[1]!, t[2]!, tesseraOptions(WINDOWED(SCALING_WINDOW)));
    await out.data();
    out.dispose();
  };
  const [a, b] = await measurePair(run(short), run(long), { warmup: 1, runs: 5 });
  [...short, ...long].forEach((t) => t.dispose());
  progress(`  ${b.medianMs.toFixed(1)} ms / ${a.medianMs.toFixed(1)} ms = ${(b.medianMs / a.medianMs).toFixed(1)}`);
  return b.medianMs / a.medianMs;
}

interface RssReport {
  baselineBytes: number;
  peakBytes: number;
}

/** The child's side: one windowed attention at length `len`, twice; peak RSS to the parent. */
async function rssChild(len: number): Promise<void> {
  const baselineBytes = process.memoryUsage().rss;
  const q = tessera.randn([B, H, len, D], { seed: 1 });
  const k = tessera.randn([B, H, len, D], { seed: 2 });
  const v = tessera.randn([B, H, len, D], { seed: 3 });
  for (let i = 0; i < 2; ++i) {
    const out = tessera.attention(q, k, v, tesseraOptions(WINDOWED(SCALING_WINDOW)));
    await out.data();
    out.dispose();
  }
  // maxRSS is in KiB on Linux and macOS.
  const report: RssReport = { baselineBytes, peakBytes: process.resourceUsage().maxRSS * 1024 };
  // The IPC channel would keep the child alive: close it once the report is out.
  process.send!(report, () => process.disconnect());
}

/** Peak resident memory of a fresh process (tessera loaded, no onnxruntime) running the window at `len`. */
function measureRss(len: number): Promise<RssReport> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--rss-child', String(len)], { execArgv: [] });
    let result: RssReport | undefined;
    child.on('message', (m) => (result = m as RssReport));
    child.on('error', reject);
    child.on('exit', (code) => (result && code === 0 ? resolve(result) : reject(new Error(`RSS child exited with ${code}`))));
  });
}

/**
 * Copy bandwidth, the ceiling of a stream through memory: a 256 MiB TypedArray.set
 * (memcpy, one thread) between buffers already paged in, counting bytes read plus
 * bytes written.
 */
async function copyBandwidth(): Promise<Timing> {
  const count = 64 << 20;
  const src = new Float32Array(count).fill(1);
  const dst = new Float32Array(count).fill(2);
  return measure(async () => dst.set(src), { warmup: 1, runs: 7 });
}

/** The same decode step through the KV cache API: the keys appended once, then one query attends. */
async function decodeThroughCache(p: Problem): Promise<Timing> {
  const [batch, kvHeads, capacity, headDim] = p.k.shape as [number, number, number, number];
  const cache = new tessera.KVCache({ batch, kvHeads, headDim, capacity });
  cache.append(p.k, p.v);
  const direct = await runTessera(p);
  const viaCache = cache.attend(p.q);
  const viaCacheData = (await viaCache.data()) as Float32Array;
  viaCache.dispose();
  const difference = direct.reduce((worst, x, i) => Math.max(worst, Math.abs(x - viaCacheData[i]!)), 0);
  if (!(difference < 1e-5)) throw new Error(`KVCache.attend disagrees with attention over the same keys: max difference ${difference}`);
  const timing = await measure(async () => {
    const out = cache.attend(p.q);
    await out.data();
    out.dispose();
  }, { warmup: 2, runs: 11 });
  cache.dispose();
  progress(`  through KVCache.attend ${timing.medianMs.toFixed(2)} ms`);
  return timing;
}

async function decode(): Promise<{ rows: Row[]; notes: string[] }> {
  progress('copy bandwidth (256 MiB memcpy)');
  const copy = await copyBandwidth();
  const copyBytes = 2 * (256 << 20);
  const copyRate = copyBytes / (copy.medianMs / 1e3);
  progress(`  ${(copyRate / 1e9).toFixed(2)} GB/s`);
  const size: ProblemSize = { batch: 1, qHeads: H, kvHeads: H, Lq: 1, Lk: DECODE_KEYS, dim: DECODE_HEAD_DIM };
  const sizes = `B=1 H=${H} Lq=1 Lk=${DECODE_KEYS} D=${DECODE_HEAD_DIM}`;
  progress(`decode ${sizes}`);
  const p = await makeProblem(size, DENSE, 5);
  const difference = maxDifference(await runTessera(p), await runPeer(p), size);
  const [ours, peer] = await measurePair(() => runTessera(p), () => runPeer(p), { warmup: 2, runs: 11 });
  const cached = await decodeThroughCache(p);
  await releaseProblem(p);
  const kvBytes = 2 * H * DECODE_KEYS * DECODE_HEAD_DIM * 4;
  const rate = kvBytes / (ours.medianMs / 1e3);
  progress(`  tessera ${ours.medianMs.toFixed(2)} ms = ${(rate / 1e9).toFixed(2)} GB/s of K and V (${((100 * rate) / copyRate).toFixed(0)}% of memcpy), onnxruntime ${peer.medianMs.toFixed(2)} ms`);
  return {
    rows: [
      { name: 'memcpy (bandwidth reference, not tessera)', sizes: '256 MiB, read + write', work: { bytes: copyBytes }, tessera: copy },
      {
        name: 'decode attention fp32 (K and V bytes read)', sizes, work: { bytes: kvBytes }, tessera: ours,
        peer: { name: 'onnxruntime GroupQueryAttention (past + 1 token)', ...peer },
      },
      { name: 'decode through tessera.KVCache.attend (K and V bytes read)', sizes, work: { bytes: kvBytes }, tessera: cached },
    ],
    notes: [
      `Decode (${sizes}): tessera reads ${(kvBytes / 2 ** 20).toFixed(0)} MiB of K and V in ${ours.medianMs.toFixed(2)} ms = ` +
        `${(rate / 1e9).toFixed(2)} GB/s, ${((100 * rate) / copyRate).toFixed(0)}% of this machine's memcpy bandwidth ` +
        `(${(copyRate / 1e9).toFixed(2)} GB/s read + write, one thread, same run). onnxruntime's time includes copying the ` +
        `past K/V into its present outputs (no shared buffer from onnxruntime-node). Max |tessera − onnxruntime| ${difference.toExponential(1)}. ` +
        `Through KVCache (the 32k keys appended once, then attend(q), checked equal to attention within 1e-5): ` +
        `${(kvBytes / (cached.medianMs / 1e3) / 1e9).toFixed(2)} GB/s.`,
    ],
  };
}

export async function benchAttention(): Promise<Row[]> {
  const loadBefore = os.loadavg()[0]!;
  const info = tessera.info();
  progress(`checking tessera and onnxruntime against a float64 reference (load ${loadBefore.toFixed(2)})`);
  const checked = await checkAgainstReference();
  progress(`  ${checked}`);

  const rows: Row[] = [];
  const differences: string[] = [];
  const targets: string[] = [];
  for (const [config, target] of [[DENSE, 1.0], [ALIBI, 0.8], [WINDOWED(WINDOW), 0.4]] as const) {
    const { row, difference } = await pair(SIZE_2K, config);
    rows.push(row);
    differences.push(`${config.name} ${difference.toExponential(1)}`);
    const ratio = row.tessera.medianMs / row.peer!.medianMs;
    targets.push(`${config.name}: tessera/onnxruntime time ${ratio.toFixed(2)} (target ≤ ${target.toFixed(1)}: ${ratio <= target ? 'met' : 'missed'})`);
  }

  const scaling: Row[] = [];
  for (const len of SCALING_LENGTHS) {
    const size: ProblemSize = { batch: B, qHeads: H, kvHeads: H, Lq: len, Lk: len, dim: D };
    if (peerAffordable(size)) {
      const { row, difference } = await pair(size, WINDOWED(SCALING_WINDOW), len <= 4096 ? 7 : 5);
      scaling.push(row);
      differences.push(`window ${SCALING_WINDOW} L=${len} ${difference.toExponential(1)}`);
    } else {
      scaling.push(await alone(size, WINDOWED(SCALING_WINDOW)));
    }
  }
  rows.push(...scaling);
  const growth = scaling[scaling.length - 1]!.tessera.medianMs / scaling[0]!.tessera.medianMs;
  const longest = SCALING_LENGTHS[SCALING_LENGTHS.length - 1]!;
  const alternatingGrowth = await scalingRatio(SCALING_LENGTHS[0]!, longest);
  progress(`peak RSS of a fresh process at L=${longest}, window ${SCALING_WINDOW}`);
  const rss = await measureRss(longest);
  const peakMiB = rss.peakBytes / 2 ** 20;
  progress(`  ${peakMiB.toFixed(0)} MiB (baseline ${(rss.baselineBytes / 2 ** 20).toFixed(0)} MiB)`);

  const dec = await decode();
  rows.push(...dec.rows);
  const loadAfter = os.loadavg()[0]!;

  report('attention-cpu', 'CPU fp32 attention vs onnxruntime-node GroupQueryAttention', rows, [
    `Median after warm-up, tessera and onnxruntime alternating (9 runs at L=2048); each side returns its output to JS. ` +
      `onnxruntime-node ${ort().env.versions.common}: ${PEER_THREADS} intra-op threads, allow_spinning=0; tessera ${info.cpu.threads} threads (${info.cpu.isa}).`,
    'The ratio column is peer time / tessera time (above 1: tessera faster); the targets below are tessera time / peer time.',
    ...targets,
    `Window ${SCALING_WINDOW} scaling: T(${longest})/T(${SCALING_LENGTHS[0]}) = ${alternatingGrowth.toFixed(1)} with the two lengths run alternately ` +
      `(${growth.toFixed(1)} from the rows above; target ≤ 18, linear is ${longest / SCALING_LENGTHS[0]!}: ${alternatingGrowth <= 18 ? 'met' : 'missed'}); ` +
      `onnxruntime runs only where its B·H·L·L fp32 probabilities fit (it computes every causal score, then masks the window).`,
    `Peak RSS of a fresh process (tessera only) running window ${SCALING_WINDOW} at L=${longest}: ${peakMiB.toFixed(0)} MiB, ` +
      `baseline ${(rss.baselineBytes / 2 ** 20).toFixed(0)} MiB (target < 1024 MiB: ${peakMiB < 1024 ? 'met' : 'missed'}); q, k, v and the output are ${((4 * B * H * longest * D * 4) / 2 ** 20).toFixed(0)} MiB, plus the output copied to JS.`,
    ...dec.notes,
    'GFLOP/s count 4·D per visible query–key pair per head (causal and window pairs only). ALiBi reaches onnxruntime as a full [1, H, L, L] attention_bias input ' +
      '(GroupQueryAttention input 10, accepted by onnxruntime-node 1.30 on the CPU); tessera computes −slope·|i − j| in the kernel. ' +
      "A window of W keys is tessera's window [W − 1, 0] and onnxruntime's local_window_size W.",
    `Max |tessera − onnxruntime| at the timed sizes: ${differences.join('; ')}.`,
    checked,
    `Load average (1 min) ${loadBefore.toFixed(2)} at the start, ${loadAfter.toFixed(2)} at the end, on ${os.cpus().length} cores.`,
  ]);
  return rows;
}

if (require.main === module) {
  const childAt = process.argv.indexOf('--rss-child');
  const run = childAt >= 0 ? rssChild(Number(process.argv[childAt + 1])) : benchAttention();
  run.catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
