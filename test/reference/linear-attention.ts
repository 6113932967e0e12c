/**
 * Float64 references for linear attention (native/core/op_params.h,
 * LinearAttentionParams), written plainly: the feature maps, the forward as the
 * prefix-sum recurrence and as the direct O(L²) sum, the analytic backward, and
 * exact softmax attention (what FAVOR+ approximates).
 *
 * Shape letters: B batch, Hq / Hkv query / kv heads (query head h reads kv head
 * floor(h / (Hq / Hkv))), L length, Dk key dim, Dv value dim, F feature width.
 * Tensors are flat row-major Float64Arrays: q [B, Hq, L, Dk], k [B, Hkv, L, Dk],
 * v [B, Hkv, L, Dv], out [B, Hq, L, Dv].
 */

/** 'elu', 'relu', or FAVOR+ with W [F, Dk] (the values the kernel sees, i.e. rounded to fp32). */
export type RefFeatureMap = 'elu' | 'relu' | { W: Float64Array; F: number };

export interface LinearProblem {
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  B: number;
  Hq: number;
  Hkv: number;
  L: number;
  Dk: number;
  Dv: number;
  featureMap: RefFeatureMap;
  causal: boolean;
  eps: number;
}

/**
 * FAVOR+ stabilizers: per query row c_q = max_f u_f, per (batch, kv head) one key
 * c_k = max over features and positions; u = W x' − ‖x'‖²/2 with x' = x · Dk^(−1/4).
 * eps is added as eps · e^(−c_q − c_k), so they cancel exactly (any values give the
 * same result); the kernels use these, which keep every exponent ≤ 0.
 */
export interface Stabilizers {
  queryMax: Float64Array; // [B, Hq, L]
  keyMax: Float64Array; // [B, Hkv]
}

export function featureWidth(map: RefFeatureMap, Dk: number): number {
  return typeof map === 'string' ? Dk : map.F;
}

/** FAVOR+ exponents u [F] of one row x [Dk]. */
export function favorExponents(W: Float64Array, F: number, x: Float64Array): Float64Array {
  const Dk = x.length;
  const s = Dk ** -0.25;
  let half = 0;
  for (let d = 0; d < Dk; ++d) half += (s * x[d]!) ** 2;
  half /= 2;
  const u = new Float64Array(F);
  for (let f = 0; f < F; ++f) {
    let dot = 0;
    for (let d = 0; d < Dk; ++d) dot += W[f * Dk + d]! * s * x[d]!;
    u[f] = dot - half;
  }
  return u;
}

/** φ(x) [F] for one row, with stabilizer c (FAVOR+ only). */
export function features(map: RefFeatureMap, x: Float64Array, c = 0): Float64Array {
  if (map === 'elu') return x.map((t) => (t > 0 ? t + 1 : Math.exp(t)));
  if (map === 'relu') return x.map((t) => Math.max(t, 0));
  const u = favorExponents(map.W, map.F, x);
  return u.map((t) => Math.exp(t - c) / Math.sqrt(map.F));
}

function row(a: Float64Array, index: number, width: number): Float64Array {
  return a.subarray(index * width, (index + 1) * width);
}

/** The stabilizers the kernels use for these inputs. */
export function stabilizers(p: LinearProblem): Stabilizers {
  const { B, Hq, Hkv, L } = p;
  const queryMax = new Float64Array(B * Hq * L);
  const keyMax = new Float64Array(B * Hkv).fill(-Infinity);
  if (typeof p.featureMap === 'string') return { queryMax, keyMax: keyMax.fill(0) };
  const { W, F } = p.featureMap;
  for (let r = 0; r < B * Hq * L; ++r) queryMax[r] = Math.max(...favorExponents(W, F, row(p.q, r, p.Dk)));
  for (let bh = 0; bh < B * Hkv; ++bh) {
    for (let t = 0; t < L; ++t) keyMax[bh] = Math.max(keyMax[bh]!, ...favorExponents(W, F, row(p.k, bh * L + t, p.Dk)));
  }
  return { queryMax, keyMax };
}

/** φ of every query row [B·Hq·L, F] and key row [B·Hkv·L, F]. */
export function allFeatures(p: LinearProblem, st: Stabilizers = stabilizers(p)): { a: Float64Array[]; b: Float64Array[] } {
  const a: Float64Array[] = [];
  const b: Float64Array[] = [];
  for (let r = 0; r < p.B * p.Hq * p.L; ++r) a.push(features(p.featureMap, row(p.q, r, p.Dk), st.queryMax[r]));
  for (let r = 0; r < p.B * p.Hkv * p.L; ++r) b.push(features(p.featureMap, row(p.k, r, p.Dk), st.keyMax[Math.floor(r / p.L)]));
  return { a, b };
}

/** eps in the units of the stabilized features of query row r and kv head kv. */
function scaledEps(p: LinearProblem, st: Stabilizers, r: number, kv: number): number {
  return typeof p.featureMap === 'string' ? p.eps : p.eps * Math.exp(-st.queryMax[r]! - st.keyMax[kv]!);
}

function dot(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; ++i) s += x[i]! * y[i]!;
  return s;
}

export interface LinearResult {
  out: Float64Array;
  /**
   * Σ_j w_ij |v_j| / den_i per output element: the size of the terms an output sums,
   * which sets the rounding error of an fp32 implementation when they cancel.
   */
  magnitude: Float64Array;
}

/**
 * The recurrence: running S [F, Dv] and z [F] (prefix sums when causal, totals
 * otherwise), out_i = φ(q_i)ᵀ S / (φ(q_i)ᵀ z + eps). O(L·F·Dv).
 */
export function linearAttention(p: LinearProblem, st: Stabilizers = stabilizers(p)): LinearResult {
  const { B, Hq, Hkv, L, Dv } = p;
  const F = featureWidth(p.featureMap, p.Dk);
  const G = Hq / Hkv;
  const { a, b } = allFeatures(p, st);
  const out = new Float64Array(B * Hq * L * Dv);
  const magnitude = new Float64Array(out.length);
  for (let bi = 0; bi < B; ++bi) {
    for (let hk = 0; hk < Hkv; ++hk) {
      const S = new Float64Array(F * Dv);
      const Sabs = new Float64Array(F * Dv);
      const z = new Float64Array(F);
      const absorb = (t: number): void => {
        const bj = b[(bi * Hkv + hk) * L + t]!;
        const vj = row(p.v, (bi * Hkv + hk) * L + t, Dv);
        for (let f = 0; f < F; ++f) {
          z[f]! += bj[f]!;
          for (let d = 0; d < Dv; ++d) {
            S[f * Dv + d]! += bj[f]! * vj[d]!;
            Sabs[f * Dv + d]! += bj[f]! * Math.abs(vj[d]!);
          }
        }
      };
      if (!p.causal) for (let t = 0; t < L; ++t) absorb(t);
      for (let t = 0; t < L; ++t) {
        if (p.causal) absorb(t);
        for (let g = 0; g < G; ++g) {
          const r = (bi * Hq + hk * G + g) * L + t;
          const ai = a[r]!;
          const den = dot(ai, z) + scaledEps(p, st, r, bi * Hkv + hk);
          for (let d = 0; d < Dv; ++d) {
            let num = 0;
            let mag = 0;
            for (let f = 0; f < F; ++f) {
              num += ai[f]! * S[f * Dv + d]!;
              mag += ai[f]! * Sabs[f * Dv + d]!;
            }
            out[r * Dv + d] = num / den;
            magnitude[r * Dv + d] = mag / den;
          }
        }
      }
    }
  }
  return { out, magnitude };
}

/** The direct formula: out_i = Σ_{j visible} (a_i·b_j) v_j / (Σ_j a_i·b_j + eps). O(L²·(F + Dv)). */
export function linearAttentionDirect(p: LinearProblem, st: Stabilizers = stabilizers(p)): Float64Array {
  const { B, Hq, Hkv, L, Dv } = p;
  const G = Hq / Hkv;
  const { a, b } = allFeatures(p, st);
  const out = new Float64Array(B * Hq * L * Dv);
  for (let bi = 0; bi < B; ++bi) {
    for (let h = 0; h < Hq; ++h) {
      const kv = bi * Hkv + Math.floor(h / G);
      for (let i = 0; i < L; ++i) {
        const r = (bi * Hq + h) * L + i;
        let den = scaledEps(p, st, r, kv);
        const num = new Float64Array(Dv);
        for (let j = 0; j < (p.causal ? i + 1 : L); ++j) {
          const w = dot(a[r]!, b[kv * L + j]!);
          den += w;
          const vj = row(p.v, kv * L + j, Dv);
          for (let d = 0; d < Dv; ++d) num[d]! += w * vj[d]!;
        }
        for (let d = 0; d < Dv; ++d) out[r * Dv + d] = num[d]! / den;
      }
    }
  }
  return out;
}

/**
 * dx [Dk] from dφ [F] for one row (stabilizer held constant). abs: the same sums
 * over absolute values of their terms (see linearAttentionBackward).
 */
function featureBackward(map: RefFeatureMap, x: Float64Array, phi: Float64Array, dphi: Float64Array, abs = false): Float64Array {
  const Dk = x.length;
  const m = abs ? Math.abs : (t: number): number => t;
  if (map === 'elu') return x.map((t, d) => m(dphi[d]!) * (t > 0 ? 1 : Math.exp(t)));
  if (map === 'relu') return x.map((t, d) => (t > 0 ? m(dphi[d]!) : 0));
  const s = Dk ** -0.25;
  const dx = new Float64Array(Dk);
  let total = 0;
  for (let f = 0; f < map.F; ++f) {
    const e = m(dphi[f]!) * phi[f]!;
    total += e;
    for (let d = 0; d < Dk; ++d) dx[d]! += s * e * m(map.W[f * Dk + d]!);
  }
  for (let d = 0; d < Dk; ++d) dx[d] = abs ? dx[d]! + s * s * Math.abs(x[d]!) * total : dx[d]! - s * s * x[d]! * total;
  return dx;
}

/**
 * Analytic gradients of Σ dout ∘ out, directly over pairs: with w_ij = a_i·b_j,
 * d_i = Σ_j w_ij + eps, dn_i = g_i / d_i and dd_i = −(g_i·out_i) / d_i,
 * ∂/∂a_i = Σ_j b_j (v_j·dn_i + dd_i), ∂/∂b_j = Σ_i a_i (v_j·dn_i + dd_i),
 * dv_j = Σ_i w_ij dn_i (sums over visible pairs), then through φ.
 * abs: every sum taken over the absolute values of its terms (v_j·dn_i and dd_i
 * counted apart), the scale that sets an fp32 implementation's rounding error where
 * the terms cancel (as they do for L = 1, where out ≈ v whatever q and k).
 */
export function linearAttentionBackward(p: LinearProblem, dout: Float64Array, st: Stabilizers = stabilizers(p), abs = false):
  { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const m = abs ? Math.abs : (t: number): number => t;
  const { B, Hq, Hkv, L, Dk, Dv } = p;
  const F = featureWidth(p.featureMap, Dk);
  const G = Hq / Hkv;
  const { a, b } = allFeatures(p, st);
  const out = linearAttentionDirect(p, st);
  const da = a.map(() => new Float64Array(F));
  const db = b.map(() => new Float64Array(F));
  const dv = new Float64Array(p.v.length);
  for (let bi = 0; bi < B; ++bi) {
    for (let h = 0; h < Hq; ++h) {
      const kv = bi * Hkv + Math.floor(h / G);
      for (let i = 0; i < L; ++i) {
        const r = (bi * Hq + h) * L + i;
        const visible = p.causal ? i + 1 : L;
        let den = scaledEps(p, st, r, kv);
        for (let j = 0; j < visible; ++j) den += dot(a[r]!, b[kv * L + j]!);
        const gi = row(dout, r, Dv);
        const dn = gi.map((x) => x / den);
        const dd = -dot(gi, row(out, r, Dv)) / den;
        for (let j = 0; j < visible; ++j) {
          const c = kv * L + j;
          const vj = row(p.v, c, Dv);
          const coef = abs ? Math.abs(dot(vj, dn)) + Math.abs(dd) : dot(vj, dn) + dd;
          const w = dot(a[r]!, b[c]!);
          for (let f = 0; f < F; ++f) {
            da[r]![f]! += b[c]![f]! * coef;
            db[c]![f]! += a[r]![f]! * coef;
          }
          for (let d = 0; d < Dv; ++d) dv[c * Dv + d]! += w * m(dn[d]!);
        }
      }
    }
  }
  const dq = new Float64Array(p.q.length);
  const dk = new Float64Array(p.k.length);
  a.forEach((ai, r) => dq.set(featureBackward(p.featureMap, row(p.q, r, Dk), ai, da[r]!, abs), r * Dk));
  b.forEach((bj, c) => dk.set(featureBackward(p.featureMap, row(p.k, c, Dk), bj, db[c]!, abs), c * Dk));
  return { dq, dk, dv };
}

/** Exact softmax attention with scale 1/√Dk (FAVOR+'s target), causal or not. */
export function softmaxAttention(p: LinearProblem): Float64Array {
  const { B, Hq, Hkv, L, Dk, Dv } = p;
  const G = Hq / Hkv;
  const out = new Float64Array(B * Hq * L * Dv);
  for (let bi = 0; bi < B; ++bi) {
    for (let h = 0; h < Hq; ++h) {
      const kv = bi * Hkv + Math.floor(h / G);
      for (let i = 0; i < L; ++i) {
        const r = (bi * Hq + h) * L + i;
        const visible = p.causal ? i + 1 : L;
        const scores = new Float64Array(visible);
        for (let j = 0; j < visible; ++j) scores[j] = dot(row(p.q, r, Dk), row(p.k, kv * L + j, Dk)) / Math.sqrt(Dk);
        const m = Math.max(...scores);
        let sum = 0;
        for (let j = 0; j < visible; ++j) sum += (scores[j] = Math.exp(scores[j]! - m));
        for (let j = 0; j < visible; ++j) {
          for (let d = 0; d < Dv; ++d) out[r * Dv + d]! += (scores[j]! / sum) * p.v[(kv * L + j) * Dv + d]!;
        }
      }
    }
  }
  return out;
}
