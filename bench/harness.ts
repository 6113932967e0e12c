/**
 * Benchmark harness: warm-up, median of several runs, progress on stderr, and
 * results as JSON + a Markdown table + an SVG chart under bench/results/.
 * Every row compares tessera with a peer measured in the same process.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tessera from '../dist/index.js';

export interface Timing {
  medianMs: number;
  minMs: number;
  runs: number;
}

export interface Row {
  name: string;
  sizes: string;
  /** Work per call, for the rate column: FLOPs or bytes moved. */
  work: { flop?: number; bytes?: number };
  tessera: Timing;
  peer?: Timing & { name: string };
}

export interface MeasureOptions {
  warmup?: number;
  runs?: number;
  /** Stop adding runs once this much time is spent (the minimum runs still happen). */
  budgetMs?: number;
}

/** Times an async call: `warmup` unmeasured calls, then the median of `runs`. */
export async function measure(fn: () => Promise<unknown>, options: MeasureOptions = {}): Promise<Timing> {
  const { warmup = 2, runs = 7, budgetMs = 20_000 } = options;
  for (let i = 0; i < warmup; ++i) await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < runs || (times.length < runs * 3 && performance.now() - start < budgetMs / 4)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
    if (times.length >= runs && performance.now() - start > budgetMs) break;
  }
  return summarize(times);
}

export async function measurePair(a: () => Promise<unknown>, b: () => Promise<unknown>,
  options: MeasureOptions = {}): Promise<[Timing, Timing]> {
  const { warmup = 2, runs = 9 } = options;
  for (let i = 0; i < warmup; ++i) {
    await a();
    await b();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < runs; ++i) {
    let t0 = performance.now();
    await a();
    ta.push(performance.now() - t0);
    t0 = performance.now();
    await b();
    tb.push(performance.now() - t0);
  }
  return [summarize(ta), summarize(tb)];
}

function summarize(times: number[]): Timing {
  const sorted = [...times].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { medianMs, minMs: sorted[0]!, runs: sorted.length };
}

export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

export function machine(): Record<string, string | number> {
  const cpus = os.cpus();
  const i = tessera.info();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    tessera: i.version,
    isa: i.cpu.isa,
    threads: i.cpu.threads,
    cuda: i.cuda.available ? i.cuda.devices.map((d) => d.name).join(', ') : `unavailable (${i.cuda.reason ?? ''})`,
    date: new Date().toISOString(),
  };
}

function rate(work: Row['work'], ms: number): string {
  if (work.flop) return `${(work.flop / ms / 1e6).toFixed(1)} GFLOP/s`;
  if (work.bytes) return `${(work.bytes / ms / 1e6).toFixed(1)} GB/s`;
  return '';
}

function svgChart(title: string, rows: Row[]): string {
  // Horizontal bars of throughput relative to the peer (1.0 = parity).
  const barH = 22;
  const left = 260;
  const width = 720;
  const height = 40 + rows.length * (barH * 2 + 10);
  const maxRatio = Math.max(1.2, ...rows.map((r) => (r.peer ? r.peer.medianMs / r.tessera.medianMs : 1)));
  const scale = (width - left - 60) / maxRatio;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${title}: speed relative to the peer (higher is better)</text>`,
  ];
  rows.forEach((r, i) => {
    const y = 34 + i * (barH * 2 + 10);
    const ratio = r.peer ? r.peer.medianMs / r.tessera.medianMs : 1;
    parts.push(`<text x="10" y="${y + 15}">${r.name} ${r.sizes}</text>`);
    parts.push(`<rect x="${left}" y="${y}" width="${(ratio * scale).toFixed(1)}" height="${barH - 4}" fill="#3b7dd8"/>`);
    parts.push(`<text x="${left + ratio * scale + 4}" y="${y + 14}">tessera ${ratio.toFixed(2)}×</text>`);
    if (r.peer) {
      parts.push(`<rect x="${left}" y="${y + barH}" width="${scale.toFixed(1)}" height="${barH - 4}" fill="#999"/>`);
      parts.push(`<text x="${left + scale + 4}" y="${y + barH + 14}">${r.peer.name} 1.00×</text>`);
    }
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Writes bench/results/<name>.json, .md and .svg, and prints the table. */
export function report(name: string, title: string, rows: Row[], notes: string[] = []): void {
  const dir = path.join(__dirname, '..', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const m = machine();
  writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ title, machine: m, rows, notes }, null, 2) + '\n');
  const lines = [
    `# ${title}`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Node ${m.node}; tessera ${m.tessera} (cpu isa ${m.isa}, ${m.threads} threads); ${m.date}`,
    '',
    '| op | sizes | tessera median | tessera rate | peer | peer median | peer rate | ratio (peer time / tessera time) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const ratio = r.peer ? (r.peer.medianMs / r.tessera.medianMs).toFixed(2) + '×' : 'n/a';
    lines.push(`| ${r.name} | ${r.sizes} | ${r.tessera.medianMs.toFixed(2)} ms | ${rate(r.work, r.tessera.medianMs)} | ` +
      `${r.peer?.name ?? 'none'} | ${r.peer ? r.peer.medianMs.toFixed(2) + ' ms' : ''} | ${r.peer ? rate(r.work, r.peer.medianMs) : ''} | ${ratio} |`);
  }
  if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`));
  const md = lines.join('\n') + '\n';
  writeFileSync(path.join(dir, `${name}.md`), md);
  writeFileSync(path.join(dir, `${name}.svg`), svgChart(title, rows));
  console.log(md);
}
