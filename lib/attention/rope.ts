/** tessera.rope: rotary position embedding (Su et al., RoFormer). */
import { tensor } from '../creation.js';
import { fail, failRaw } from '../errors.js';
import { native, RopeLayoutId, type NativeRopeArgs } from '../native.js';
import { formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { checkOperands, checkOpts, output, withContiguous } from '../ops/common.js';

export interface RopeScaling {
  /** 'linear': positions divided by factor (position interpolation); 'ntk': base · factor^(D / (D − 2)). */
  type: 'linear' | 'ntk';
  /** ≥ 1. */
  factor: number;
}

export interface RopeOptions {
  /** The position of each token: [L] shared by the batch, or [B · L] per sequence. */
  positions?: Int32Array | readonly number[];
  /** Without positions: token l is at offset + l (default 0). */
  offset?: number;
  /** Default 10000. */
  base?: number;
  /** 'half' (default): pairs (i, i + D/2), GPT-NeoX / Llama. 'interleaved': pairs (2i, 2i+1), GPT-J / RoFormer. */
  layout?: 'half' | 'interleaved';
  scaling?: RopeScaling;
}

/** The rotation options without the positions: what a KVCache applies on append. */
export type RopeConfig = Omit<RopeOptions, 'positions' | 'offset'>;

/** @internal Validated base / layout / scaling, shared with KVCache. */
export interface RopePlan {
  base: number;
  positionScale: number;
  layout: 'half' | 'interleaved';
}

/** @internal */
export function planRope(options: unknown, headDim: number, name = 'options'): RopePlan {
  const opts = checkOpts<RopeOptions>(options, name);
  let base = 10000;
  if (opts.base !== undefined) {
    if (typeof opts.base !== 'number' || !Number.isFinite(opts.base) || opts.base <= 1) fail('E_ARGUMENT', 'a finite number above 1', `${name}.base`, opts.base);
    base = opts.base;
  }
  const layout = opts.layout ?? 'half';
  if (layout !== 'half' && layout !== 'interleaved') fail('E_ARGUMENT', "'half' or 'interleaved'", `${name}.layout`, layout);
  let positionScale = 1;
  if (opts.scaling !== undefined) {
    const s = opts.scaling as unknown;
    if (s === null || typeof s !== 'object') fail('E_ARGUMENT', "an object {type: 'linear' | 'ntk', factor}", `${name}.scaling`, s);
    const { type, factor } = s as RopeScaling;
    if (type !== 'linear' && type !== 'ntk') fail('E_ARGUMENT', "'linear' or 'ntk'", `${name}.scaling.type`, type);
    if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) fail('E_ARGUMENT', 'a finite number ≥ 1', `${name}.scaling.factor`, factor);
    if (type === 'linear') positionScale = 1 / factor;
    // NTK-aware scaling (bloc97): stretch the base so the lowest frequency is
    // interpolated by `factor` while the highest is left alone.
    else if (headDim > 2) base *= factor ** (headDim / (headDim - 2));
  }
  return { base, positionScale, layout };
}

/** @internal Runs the rope kernel on a contiguous x [B, H, L, D]. */
export function applyRope(x: Tensor, plan: RopePlan, positions: Int32Array | null, perBatch: boolean, offset: number): Tensor {
  const [B, H, L, D] = x.shape as [number, number, number, number];
  const out = output(x, x.shape);
  if (out.numel === 0) return out;
  const pos = positions ? tensor(positions, { dtype: 'int32', device: x.device }) : null;
  try {
    withContiguous(x, (dense) => {
      const args: NativeRopeArgs = {
        batch: B, heads: H, len: L, headDim: D, layout: RopeLayoutId[plan.layout], base: plan.base,
        positionScale: plan.positionScale, positions: pos ? pos.view('positions') : null,
        positionsBatchStride: perBatch ? L : 0, offset,
      };
      native.rope(dense.view('x'), out.view('out'), args);
    });
  } finally {
    pos?.dispose();
  }
  return out;
}

/**
 * Rotates pairs of x `[B, H, L, D]` (D even) by position-dependent angles
 * θ = position · base^(−2i / D) (angles in fp64). Returns a new tensor.
 * @example
 * const qr = tessera.rope(q, { offset: cache.length });            // Llama layout
 * const kr = tessera.rope(k, { layout: 'interleaved', base: 500000, scaling: { type: 'ntk', factor: 4 } });
 */
export function rope(x: Tensor, options?: RopeOptions): Tensor {
  const [t] = checkOperands('rope', [[x, 'x']]);
  if (t!.ndim !== 4 || t!.shape[3]! % 2 !== 0) failRaw('E_SHAPE', 'a 4-d tensor [B, H, L, D] with D even', 'x', formatShape(t!.shape));
  const [B, , L, D] = t!.shape as [number, number, number, number];
  const opts = checkOpts<RopeOptions>(options);
  const plan = planRope(opts, D);
  let positions: Int32Array | null = null;
  let perBatch = false;
  let offset = 0;
  if (opts.positions !== undefined) {
    if (opts.offset !== undefined) fail('E_ARGUMENT', 'either positions or offset, not both', 'options.offset', opts.offset);
    const p = opts.positions as unknown;
    const ok = p instanceof Int32Array || (Array.isArray(p) && p.every((v) => typeof v === 'number' && Number.isSafeInteger(v)));
    if (!ok) fail('E_ARGUMENT', 'an Int32Array or an array of integers', 'options.positions', p);
    positions = Int32Array.from(p as ArrayLike<number>);
    if (positions.length !== L && positions.length !== B * L) {
      fail('E_ARGUMENT', B === 1 ? `${L} positions (one per token)` : `${L} positions (one per token) or ${B * L} (B × L, one per token of each sequence)`,
        'options.positions', p);
    }
    perBatch = positions.length !== L;
    const bad = positions.findIndex((v) => v < 0);
    if (bad >= 0) failRaw('E_ARGUMENT', 'non-negative positions', `options.positions[${bad}]`, String(positions[bad]));
  } else if (opts.offset !== undefined) {
    if (typeof opts.offset !== 'number' || !Number.isSafeInteger(opts.offset) || opts.offset < 0 || opts.offset > 2 ** 31 - 1) {
      fail('E_ARGUMENT', 'a non-negative integer below 2^31', 'options.offset', opts.offset);
    }
    offset = opts.offset;
  }
  return applyRope(t!, plan, positions, perBatch, offset);
}
