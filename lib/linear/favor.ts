/**
 * FAVOR+ positive random features (Choromanski et al. 2021, "Rethinking Attention
 * with Performers"): φ(x) = exp(W x' − ‖x'‖²/2 − c) / √F with x' = x · Dk^(−1/4),
 * an unbiased estimate of exp(q·k / √Dk) as φ(q)·φ(k) (the stabilizer c cancels in
 * the ratio; native/core/op_params.h says which c the kernels use).
 *
 * W [F, Dk] is drawn here, in float64, from a seeded generator of our own, so a
 * FavorFeatures is the same on every device and in every run; the kernels receive
 * it as an fp32 tensor. Redrawing features means making a new FavorFeatures with
 * another seed.
 */
import { fail } from '../errors.js';
import { tensor } from '../creation.js';
import type { Tensor } from '../tensor.js';
import { checkOpts } from '../ops/common.js';

export interface FavorOptions {
  /** Any integer in [0, 2^53); default 0. */
  seed?: number;
  /**
   * true (default): rows orthogonal within each block of Dk rows (the rows of Q from
   * a QR factorization of a Gaussian block), which lowers the estimator's variance;
   * false: i.i.d. Gaussian rows.
   */
  orthogonal?: boolean;
  /**
   * Row norms. 'chi' (default): each row's norm is drawn from χ(Dk), the norm of a
   * Gaussian vector, so rows are marginally Gaussian and the estimate stays unbiased;
   * 'sqrt': every row has norm √Dk (lower variance, slightly biased).
   */
  normScaling?: 'chi' | 'sqrt';
}

/** A 53-bit seed stirred into two 32-bit states (splitmix32 finalizer). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** xorshift128-style generator with Box-Muller normals; deterministic across platforms. */
class FeatureRng {
  #s: Uint32Array;

  constructor(seed: number) {
    const hi = Math.floor(seed / 2 ** 32);
    const lo = seed % 2 ** 32;
    this.#s = new Uint32Array([mix32(lo ^ 0x9e3779b9), mix32(hi ^ 0x7f4a7c15), mix32(lo + 0x632be5ab), mix32(hi + 0x2545f491)]);
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
  }

  /** Uniform in (0, 1]. */
  uniform(): number {
    const s = this.#s;
    let t = s[3]!;
    t ^= t << 11;
    t ^= t >>> 8;
    s[3] = s[2]!;
    s[2] = s[1]!;
    s[1] = s[0]!;
    t ^= s[0]! ^ (s[0]! >>> 19);
    s[0] = t >>> 0;
    return (s[0]! + 1) / 4294967296;
  }

  normal(): number {
    return Math.sqrt(-2 * Math.log(this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }
}

/** Orthonormal rows from a square Gaussian block by modified Gram-Schmidt (the Q of its QR). */
function orthonormalBlock(rng: FeatureRng, D: number): Float64Array[] {
  const rows: Float64Array[] = [];
  while (rows.length < D) {
    const r = new Float64Array(D);
    for (let d = 0; d < D; ++d) r[d] = rng.normal();
    for (const q of rows) {
      let dot = 0;
      for (let d = 0; d < D; ++d) dot += r[d]! * q[d]!;
      for (let d = 0; d < D; ++d) r[d]! -= dot * q[d]!;
    }
    let norm = 0;
    for (let d = 0; d < D; ++d) norm += r[d]! * r[d]!;
    norm = Math.sqrt(norm);
    // A Gaussian row lies in the span of the others with probability 0; redraw if so.
    if (!(norm > 1e-8)) continue;
    for (let d = 0; d < D; ++d) r[d]! /= norm;
    rows.push(r);
  }
  return rows;
}

function gaussianNorm(rng: FeatureRng, D: number): number {
  let s = 0;
  for (let d = 0; d < D; ++d) {
    const g = rng.normal();
    s += g * g;
  }
  return Math.sqrt(s);
}

function checkPositiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) fail('E_ARGUMENT', 'a positive integer', name, value);
  return value;
}

/**
 * A FAVOR+ feature map: W [numFeatures, headDim], usable as `featureMap` of
 * `linearAttention` and `LinearAttentionState` on any device (the fp32 copy per
 * device is made on first use and kept until `dispose()`).
 */
export class FavorFeatures {
  readonly headDim: number;
  readonly numFeatures: number;
  readonly seed: number;
  readonly orthogonal: boolean;
  readonly normScaling: 'chi' | 'sqrt';
  /** W row-major [numFeatures, headDim], float64 as drawn; the kernels use it rounded to fp32. */
  readonly weights: Float64Array;
  #onDevice = new Map<string, Tensor>();

  /** @internal Use tessera.favorFeatures. */
  constructor(headDim: number, numFeatures: number, seed: number, orthogonal: boolean, normScaling: 'chi' | 'sqrt') {
    this.headDim = headDim;
    this.numFeatures = numFeatures;
    this.seed = seed;
    this.orthogonal = orthogonal;
    this.normScaling = normScaling;
    const D = headDim;
    const W = new Float64Array(numFeatures * D);
    const rng = new FeatureRng(seed);
    for (let f0 = 0; f0 < numFeatures; f0 += D) {
      const block = orthogonal ? orthonormalBlock(rng, D) : null;
      for (let f = f0; f < Math.min(f0 + D, numFeatures); ++f) {
        const row = W.subarray(f * D, (f + 1) * D);
        if (block) {
          row.set(block[f - f0]!);
        } else {
          for (let d = 0; d < D; ++d) row[d] = rng.normal();
          const n = Math.hypot(...row);
          for (let d = 0; d < D; ++d) row[d]! /= n;
        }
        const norm = normScaling === 'sqrt' ? Math.sqrt(D) : gaussianNorm(rng, D);
        for (let d = 0; d < D; ++d) row[d]! *= norm;
      }
    }
    this.weights = W;
  }

  /** "FavorFeatures(headDim 64, numFeatures 256, seed 0, orthogonal, chi)": how error messages show it. */
  describe(): string {
    return `FavorFeatures(headDim ${this.headDim}, numFeatures ${this.numFeatures}, seed ${this.seed}, ${this.orthogonal ? 'orthogonal' : 'iid'}, ${this.normScaling})`;
  }

  /** @internal W as an fp32 tensor on `device` (cached). */
  matrixOn(device: string): Tensor {
    let w = this.#onDevice.get(device);
    if (w === undefined || w.disposed) {
      w = tensor(Float32Array.from(this.weights), { shape: [this.numFeatures, this.headDim], device });
      this.#onDevice.set(device, w);
    }
    return w;
  }

  /** Frees the device copies of W (they are made again on next use). */
  dispose(): void {
    for (const w of this.#onDevice.values()) w.dispose();
    this.#onDevice.clear();
  }
}

/**
 * Draws a FAVOR+ feature map for keys and queries of `headDim`, with `numFeatures`
 * random features (more features: a closer estimate of softmax attention, at
 * O(numFeatures) cost per token).
 * @example
 * const features = tessera.favorFeatures(64, 256, { seed: 1 });
 * const out = tessera.linearAttention(q, k, v, { featureMap: features, causal: true });
 */
export function favorFeatures(headDim: number, numFeatures: number, options?: FavorOptions): FavorFeatures {
  checkPositiveInteger(headDim, 'headDim');
  checkPositiveInteger(numFeatures, 'numFeatures');
  const opts = checkOpts<FavorOptions>(options);
  const seed = opts.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) fail('E_ARGUMENT', 'an integer in [0, 2^53)', 'options.seed', seed);
  const orthogonal = opts.orthogonal ?? true;
  if (typeof orthogonal !== 'boolean') fail('E_ARGUMENT', 'a boolean', 'options.orthogonal', orthogonal);
  const normScaling = opts.normScaling ?? 'chi';
  if (normScaling !== 'chi' && normScaling !== 'sqrt') fail('E_ARGUMENT', "'chi' or 'sqrt'", 'options.normScaling', normScaling);
  return new FavorFeatures(headDim, numFeatures, seed, orthogonal, normScaling);
}
