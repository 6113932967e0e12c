/**
 * The backend-parity matrix: every op, on every available device, against the
 * float64 references in test/reference/ (the idea of ggml's test-backend-ops).
 *
 * Adding an op means adding cases: a ParityCase names the op, the dtype and the
 * input shapes, says how to run it with tessera (`run`) and what it computes
 * (`reference`, float64). For each device × case the harness
 *   1. generates seeded inputs (never all zeros), uploads them in the case dtype,
 *      and reads them back, so the reference sees exactly the values the device
 *      holds (fp16/bf16 rounding included); views (transpose, slice) are then
 *      applied to both sides, to reach the strided code paths;
 *   2. runs the op twice, each time with every tensor tessera allocates inside
 *      the call poisoned first: NaN on the first run, a finite sentinel on the
 *      second (integers: the two ends of their range). An element the kernel
 *      fails to write therefore fails the comparison on at least one of the runs,
 *      even where the reference itself is NaN;
 *   3. compares every element of every output to the reference (see Tolerance);
 *   4. reports a backend that throws TesseraError E_UNSUPPORTED as unsupported:
 *      the test is skipped with the reason (never passed) and listed in the
 *      summary printed after the file. 'cpu' is the reference backend and must
 *      support every case: there, E_UNSUPPORTED is a failure.
 *
 * Devices come from tessera.availableDevices(), so 'emu' and 'cuda:N' join the
 * matrix as soon as the build offers them.
 */
import { afterAll, describe, test } from 'vitest';
import * as tessera from '../../lib/index.js';
import type { DType, Tensor } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import {
  decodeArray, intRange, isFloatDType, numelOf, roundTo, slice, transpose, ulp,
  type FloatDType, type IntDType, type RefTensor,
} from '../reference/index.js';

export type Tessera = typeof tessera;

/** The dtypes every floating-point op is tested in. */
export const FLOAT_DTYPES: readonly FloatDType[] = ['float32', 'float16', 'bfloat16'];

/** "[7, 1, 97]": how case names show shapes. */
export function shapeName(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * The devices the matrix runs on: tessera.availableDevices(), or the subset named in
 * TESSERA_TEST_DEVICES (comma-separated), which `npm run test:generic` uses to run
 * the CPU cases again with the portable kernels without repeating the emulator.
 */
export function testDevices(): string[] {
  const all = tessera.availableDevices();
  const only = process.env.TESSERA_TEST_DEVICES;
  return only ? all.filter((d) => only.split(',').includes(d)) : all;
}

// ---------------------------------------------------------------------------
// Seeded inputs

/** mulberry32 (Tommy Ettinger): a small, fast 32-bit PRNG, good enough for test data. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1), 32 random bits. */
  uniform(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box-Muller; 1 - u keeps the logarithm finite). */
  normal(): number {
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }
}

/** FNV-1a: a case's seed comes from its name, so it does not depend on test order or device. */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; ++i) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Value i of n of an input. */
export type Generator = (rng: Rng, index: number, count: number) => number;

export const gen = {
  /** N(offset, scale²): the default. */
  normal: (scale = 1, offset = 0): Generator => (rng) => offset + scale * rng.normal(),
  uniform: (lo: number, hi: number): Generator => (rng) => lo + (hi - lo) * rng.uniform(),
  /** Random sign times min + |N(0, 1)|: denominators that keep quotients in range. */
  awayFromZero: (min = 0.25): Generator => (rng) => (rng.uniform() < 0.5 ? -1 : 1) * (min + Math.abs(rng.normal())),
  /** Uniform integers in [lo, hi]. */
  ints: (lo: number, hi: number): Generator => (rng) => rng.int(lo, hi),
  /** `values` first (in order), then `rest`. */
  leading: (values: readonly number[], rest: Generator): Generator =>
    (rng, i, n) => (i < values.length ? values[i]! : rest(rng, i, n)),
  /** `value` with probability p, else `rest` (e.g. -Infinity entries for softmax). */
  sprinkle: (value: number, p: number, rest: Generator): Generator =>
    (rng, i, n) => { const u = rng.uniform(); const v = rest(rng, i, n); return u < p ? value : v; },
  /** `rest`, except that element i is `value` where pick(i) holds. */
  where: (pick: (i: number) => boolean, value: number, rest: Generator): Generator =>
    (rng, i, n) => { const v = rest(rng, i, n); return pick(i) ? value : v; },
};

/** A view applied after upload, to reach a kernel's strided paths. */
export type ViewOp = { transpose: [number, number] } | { slice: [axis: number, start: number, end: number] };

export interface InputSpec {
  /** The shape generated and uploaded; `views` may then change what the op sees. */
  shape: readonly number[];
  /** Default: the case dtype. */
  dtype?: DType;
  /** Default: gen.normal(). */
  gen?: Generator;
  views?: readonly ViewOp[];
  /** A deliberate all-zero input (an edge case); otherwise the harness refuses one. */
  allowZeros?: boolean;
}

// ---------------------------------------------------------------------------
// Cases and tolerances

/**
 * How close an output must be to the float64 reference, element by element.
 * - exact: equal values (NaN equals NaN); conversions and integer outputs.
 * - close: |out − ref| <= atol + rtol·|ref|; atol is a number or one bound per element.
 * - plain: the FlashAttention rule for fp16/bf16 (DESIGN, Testing). `plain` is what a
 *   plain implementation in the output dtype returns; with E = max |plain − ref| over
 *   the tensor, every element must satisfy |out − ref| <= 2·E + floorUlps·ulp(ref).
 * Non-finite references must be matched exactly (same infinity, or NaN) under every rule.
 */
export type Tolerance =
  | { kind: 'exact' }
  | { kind: 'close'; rtol: number; atol: number | Float64Array; note?: string }
  | { kind: 'plain'; plain: Float64Array; floorUlps: number };

export interface ToleranceContext {
  /** The reference inputs (after rounding to the device's dtype and applying views). */
  inputs: readonly RefTensor[];
  expected: RefTensor;
  /** The dtype of this output. */
  dtype: DType;
  /** Which output of the op. */
  output: number;
}

export interface ParityCase {
  op: string;
  dtype: DType;
  /** Shapes and options, readable: "[7, 1, 97] + [1, 33, 1]". Unique per op and dtype. */
  name: string;
  inputs: readonly InputSpec[];
  /** Calls tessera; inputs are on `device`, in their dtypes, with the views applied. */
  run(t: Tessera, inputs: Tensor[], device: string): Tensor | Tensor[];
  /** The float64 result(s) for the reference inputs. */
  reference(inputs: RefTensor[]): RefTensor | RefTensor[];
  /** Default: defaultTolerance. */
  tolerance?(ctx: ToleranceContext): Tolerance;
  /** The op may return a view of an input (no allocation to poison), e.g. a cast to the same dtype. */
  outputIsView?: boolean;
}

export function caseId(c: ParityCase): string {
  return `${c.op} ${c.dtype} ${c.name}`;
}

/**
 * fp32: rtol 1e-5 (DESIGN), with an absolute floor of 1e-6 · max(1, max|ref|) for
 * elements near zero whose error is set by the larger terms that produced them
 * (e.g. GELU's 0.5·x·(1 + erf) cancels in fp32 in the left tail, leaving an error
 * of about |x|·2^-24 on a tiny result). fp16/bf16: the plain rule with the output
 * rounded once as the plain implementation, floor one ulp. Integers: exact.
 */
export function defaultTolerance(ctx: ToleranceContext): Tolerance {
  if (ctx.dtype === 'float32') return { kind: 'close', rtol: 1e-5, atol: 1e-6 * Math.max(1, maxAbs(ctx.expected.data)) };
  if (isFloatDType(ctx.dtype)) return plainRounded(ctx.dtype, ctx.expected.data);
  return { kind: 'exact' };
}

/** The plain rule with the best possible plain implementation: the exact result rounded once into the dtype. */
export function plainRounded(dtype: FloatDType, expected: Float64Array, floorUlps = 1): Tolerance {
  const plain = new Float64Array(expected.length);
  for (let i = 0; i < plain.length; ++i) plain[i] = roundTo(dtype, expected[i]!);
  return { kind: 'plain', plain, floorUlps };
}

export function maxAbs(values: Float64Array): number {
  let m = 0;
  for (const v of values) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m;
}

// ---------------------------------------------------------------------------
// Poisoned outputs

/**
 * The value allocations are poisoned with on run `run` (0 or 1). Two different
 * values, so that an unwritten element is caught even where the reference
 * happens to equal one of them (or is NaN).
 */
export function poisonValue(run: number, dtype: DType): number {
  if (isFloatDType(dtype)) return run === 0 ? NaN : 7777;
  const [lo, hi] = intRange(dtype as IntDType);
  return run === 0 ? lo : hi;
}

/**
 * Runs fn with every tensor that tessera allocates poisoned right after its
 * allocation: the fill is queued on the device's stream before the kernel that
 * writes the tensor, so the kernel sees poisoned memory. (Reusing freed
 * garbage would be weaker: the allocator rarely hands the same block back.)
 * Returns the tensors that were poisoned.
 */
export function withPoisonedAllocations<T>(run: number, fn: () => T): { result: T; poisoned: Set<Tensor> } {
  const TensorClass = tessera.Tensor;
  const original = TensorClass.allocate;
  if (typeof original !== 'function') throw new Error('parity harness: Tensor.allocate is gone; the poisoning hook needs a new home');
  const poisoned = new Set<Tensor>();
  TensorClass.allocate = (...args: Parameters<typeof original>): Tensor => {
    const t = original.apply(TensorClass, args);
    if (t.numel > 0) native.fill(t.view('out'), poisonValue(run, t.dtype));
    poisoned.add(t);
    return t;
  };
  try {
    return { result: fn(), poisoned };
  } finally {
    TensorClass.allocate = original;
  }
}

// ---------------------------------------------------------------------------
// Comparison

export interface Mismatch {
  failures: number;
  first: number;
  bound: number;
  maxAbs: { index: number; error: number };
  maxRel: { index: number; error: number };
  plainError?: number;
}

function sameSpecial(out: number, ref: number): boolean {
  return Number.isNaN(ref) ? Number.isNaN(out) : out === ref;
}

/** Checks every element; null when all pass. */
export function compare(out: Float64Array, expected: Float64Array, tol: Tolerance, dtype: DType): Mismatch | null {
  let plainError = 0;
  if (tol.kind === 'plain') {
    for (let i = 0; i < expected.length; ++i) {
      const p = tol.plain[i]!;
      const r = expected[i]!;
      if (Number.isFinite(p) && Number.isFinite(r)) plainError = Math.max(plainError, Math.abs(p - r));
    }
  }
  let failures = 0;
  let first = -1;
  let firstBound = 0;
  const maxAbsErr = { index: -1, error: 0 };
  const maxRelErr = { index: -1, error: 0 };
  for (let i = 0; i < expected.length; ++i) {
    const o = out[i]!;
    const r = expected[i]!;
    let ok: boolean;
    let bound = 0;
    if (!Number.isFinite(r)) {
      ok = sameSpecial(o, r);
    } else if (tol.kind === 'exact') {
      ok = Object.is(o, r); // bitwise for floats: -0 must stay -0
    } else {
      const err = Math.abs(o - r);
      if (tol.kind === 'close') {
        bound = (typeof tol.atol === 'number' ? tol.atol : tol.atol[i]!) + tol.rtol * Math.abs(r);
      } else {
        bound = 2 * plainError + tol.floorUlps * ulp(dtype as FloatDType, r);
      }
      // A result that overflows the dtype may be the plain implementation's infinity.
      ok = err <= bound || (tol.kind === 'plain' && !Number.isFinite(tol.plain[i]!) && o === tol.plain[i]);
    }
    if (Number.isFinite(r)) {
      const err = Number.isNaN(o) ? Infinity : Math.abs(o - r);
      if (err > maxAbsErr.error || maxAbsErr.index < 0) Object.assign(maxAbsErr, { index: i, error: err });
      if (r !== 0) {
        const rel = err / Math.abs(r);
        if (rel > maxRelErr.error || maxRelErr.index < 0) Object.assign(maxRelErr, { index: i, error: rel });
      }
    }
    if (!ok) {
      if (first < 0) {
        first = i;
        firstBound = bound;
      }
      ++failures;
    }
  }
  if (failures === 0) return null;
  return { failures, first, bound: firstBound, maxAbs: maxAbsErr, maxRel: maxRelErr, plainError: tol.kind === 'plain' ? plainError : undefined };
}

function multiIndex(flat: number, shape: readonly number[]): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; --d) {
    idx.unshift(flat % shape[d]!);
    flat = Math.floor(flat / shape[d]!);
  }
  return `[${idx.join(', ')}]`;
}

function describeTolerance(tol: Tolerance): string {
  switch (tol.kind) {
    case 'exact': return 'exact';
    case 'close': return `|out - ref| <= atol + rtol·|ref| with rtol ${tol.rtol}, atol ${typeof tol.atol === 'number' ? tol.atol.toExponential(3) : 'per element'}${tol.note ? ` (${tol.note})` : ''}`;
    case 'plain': return `|out - ref| <= 2·E_plain + ${tol.floorUlps} ulp(ref)`;
  }
}

function formatMismatch(m: Mismatch, out: Float64Array, expected: RefTensor, tol: Tolerance): string {
  const at = (i: number): string =>
    i < 0 ? '-' : `${multiIndex(i, expected.shape)} (out ${out[i]}, ref ${expected.data[i]})`;
  const lines = [
    `${m.failures} of ${expected.data.length} elements out of tolerance: ${describeTolerance(tol)}`,
    `  first failure at ${at(m.first)}, |diff| ${Math.abs(out[m.first]! - expected.data[m.first]!)}, bound ${m.bound}`,
    `  max abs error ${m.maxAbs.error} at ${at(m.maxAbs.index)}`,
    `  max rel error ${m.maxRel.error} at ${at(m.maxRel.index)}`,
  ];
  if (m.plainError !== undefined) lines.push(`  plain same-dtype error E_plain ${m.plainError}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Running one case on one device

export type CaseResult = { status: 'passed' } | { status: 'unsupported'; reason: string };

function isUnsupported(e: unknown): e is tessera.TesseraError {
  return e instanceof tessera.TesseraError && e.code === 'E_UNSUPPORTED';
}

function toList<T>(x: T | T[]): T[] {
  return Array.isArray(x) ? x : [x];
}

function upload(spec: InputSpec, dtype: DType, device: string, values: Float64Array): Tensor {
  const options = { shape: [...spec.shape], dtype, device };
  if (isFloatDType(dtype)) return tessera.tensor(Float32Array.from(values), options);
  const [lo, hi] = intRange(dtype as IntDType);
  for (const v of values) {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`parity harness: ${v} is not a ${dtype} value`);
  }
  const typed = dtype === 'int8' ? Int8Array.from(values) : dtype === 'uint8' ? Uint8Array.from(values) : Int32Array.from(values);
  return tessera.tensor(typed, options);
}

function applyViews(t: Tensor, r: RefTensor, views: readonly ViewOp[]): { tensor: Tensor; ref: RefTensor; created: Tensor[] } {
  const created: Tensor[] = [];
  let tensor = t;
  let ref = r;
  for (const v of views) {
    if ('transpose' in v) {
      tensor = tensor.transpose(...v.transpose);
      ref = transpose(ref, ...v.transpose);
    } else {
      tensor = tensor.slice(...v.slice);
      ref = slice(ref, ...v.slice);
    }
    created.push(tensor);
  }
  return { tensor, ref, created };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Runs one case on one device; throws with a diagnostic when an output is out of tolerance. */
export async function runCase(c: ParityCase, device: string): Promise<CaseResult> {
  const owned: Tensor[] = [];
  const id = caseId(c);
  try {
    const tensors: Tensor[] = [];
    const refs: RefTensor[] = [];
    for (const [k, spec] of c.inputs.entries()) {
      const dtype = spec.dtype ?? c.dtype;
      const rng = new Rng(seedOf(`${id}|input ${k}`));
      const n = numelOf(spec.shape);
      const generate = spec.gen ?? gen.normal();
      const values = new Float64Array(n);
      for (let i = 0; i < n; ++i) values[i] = generate(rng, i, n);
      const base = upload(spec, dtype, device, values);
      owned.push(base);
      // What the device holds, not what was generated: fp16/bf16 rounding included.
      const held: RefTensor = { data: decodeArray(dtype, await base.data()), shape: [...spec.shape] };
      if (n > 0 && !spec.allowZeros && held.data.every((v) => v === 0)) {
        throw new Error(`parity harness: input ${k} of "${id}" is all zeros; use allowZeros for a deliberate zero input`);
      }
      const { tensor, ref, created } = applyViews(base, held, spec.views ?? []);
      owned.push(...created);
      tensors.push(tensor);
      refs.push(ref);
    }
    const expected = toList(c.reference(refs));

    for (const run of [0, 1]) {
      const { result, poisoned } = withPoisonedAllocations(run, () => c.run(tessera, tensors, device));
      const outs = toList(result);
      owned.push(...outs);
      if (outs.length !== expected.length) throw new Error(`${id}: ${outs.length} outputs, the reference has ${expected.length}`);
      for (const [k, out] of outs.entries()) {
        const exp = expected[k]!;
        const label = `${id} on ${device}, output ${k}, run ${run + 1} (allocations poisoned with ${poisonValue(run, out.dtype)})`;
        if (!sameShape(out.shape, exp.shape)) {
          throw new Error(`${label}: shape [${out.shape.join(', ')}], the reference has [${exp.shape.join(', ')}]`);
        }
        if (!c.outputIsView && out.numel > 0 && !poisoned.has(out)) {
          throw new Error(`${label}: the output was not allocated through Tensor.allocate, so it was not poisoned`);
        }
        const data = decodeArray(out.dtype, await out.data());
        const tol = (c.tolerance ?? defaultTolerance)({ inputs: refs, expected: exp, dtype: out.dtype, output: k });
        const mismatch = compare(data, exp.data, tol, out.dtype);
        if (mismatch) throw new Error(`${label}:\n${formatMismatch(mismatch, data, exp, tol)}`);
      }
    }
    return { status: 'passed' };
  } catch (e) {
    if (isUnsupported(e)) return { status: 'unsupported', reason: e.message };
    throw e;
  } finally {
    for (const t of owned) t.dispose();
  }
}

// ---------------------------------------------------------------------------
// The vitest matrix

interface Outcome {
  matrix: string;
  device: string;
  id: string;
  result: CaseResult;
  /** E_UNSUPPORTED on a device that must support the case: a failure, not a skip. */
  required: boolean;
}

const outcomes: Outcome[] = [];
let summaryRegistered = false;

export function summaryLines(): string[] {
  const passed = outcomes.filter((o) => o.result.status === 'passed').length;
  const unsupported = outcomes.filter((o) => o.result.status === 'unsupported');
  const lines = [
    `parity matrix (cpu kernels: ${tessera.info().cpu.isa}): ${passed} passed, ${unsupported.length} unsupported`,
  ];
  for (const o of unsupported) {
    const reason = (o.result as { reason: string }).reason;
    lines.push(`  unsupported${o.required ? ' (FAILED: required)' : ''}: ${o.matrix} [${o.device}] ${o.id}: ${reason}`);
  }
  return lines;
}

export interface MatrixOptions {
  /** Default: tessera.availableDevices(). */
  devices?: readonly string[];
  /** Devices that must run every case (E_UNSUPPORTED fails there). Default: the reference backend, 'cpu'. */
  required?: (device: string) => boolean;
}

/**
 * Registers one vitest test per device × case, named by caseId under
 * describe(`${title} [device]`), and (once per file) an afterAll that prints the
 * summary, unsupported combinations listed.
 */
export function parityMatrix(title: string, cases: readonly ParityCase[], options: MatrixOptions = {}): void {
  const devices = options.devices ?? testDevices();
  const required = options.required ?? ((d: string) => d === 'cpu');
  const byId = new Map<string, ParityCase>();
  for (const c of cases) {
    const id = caseId(c);
    if (byId.has(id)) throw new Error(`parity harness: duplicate case "${id}" in ${title}`);
    byId.set(id, c);
  }
  if (!summaryRegistered) {
    summaryRegistered = true;
    afterAll(() => console.log(summaryLines().join('\n')));
  }
  describe.each([...devices])(`${title} [%s]`, (device) => {
    test.for([...byId.keys()])('%s', async (id, ctx) => {
      const result = await runCase(byId.get(id)!, device);
      const mustRun = required(device);
      outcomes.push({ matrix: title, device, id, result, required: mustRun && result.status === 'unsupported' });
      if (result.status === 'unsupported') {
        if (mustRun) throw new Error(`${id}: ${device} must support every case, but reported: ${result.reason}`);
        ctx.skip(`unsupported on ${device}: ${result.reason}`);
      }
    });
  });
}
