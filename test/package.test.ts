// The package as users meet it: require and import, the CLI, both build files.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import * as tessera from '../lib/index.js';
import { native } from '../lib/native.js';

const root = path.join(__dirname, '..');
const node = (args: string[]): string => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });

describe('package', () => {
  test('require and import load the same API', () => {
    const cjs = node(['-e', "const t = require('tessera'); console.log(typeof t.tensor, typeof t.matmul, t.defaultDevice())"]);
    const esm = node(['--input-type=module', '-e',
      "import { tensor, matmul, qmatmul, QuantizedTensor, defaultDevice } from 'tessera'; import t from 'tessera'; console.log(typeof tensor, typeof matmul, defaultDevice(), t.tensor === tensor && t.qmatmul === qmatmul && typeof QuantizedTensor === 'function')"]);
    expect(cjs.trim()).toBe(`function function ${tessera.defaultDevice()}`);
    expect(esm.trim()).toBe(`function function ${tessera.defaultDevice()} true`);
  });

  test('the ESM entry exports every name the CommonJS build does', () => {
    const missing = node(['--input-type=module', '-e',
      "import * as ns from 'tessera'; import { createRequire } from 'node:module'; const cjs = createRequire(process.cwd() + '/')('tessera'); console.log(JSON.stringify(Object.keys(cjs).filter((k) => !(k in ns))))"]);
    expect(JSON.parse(missing)).toEqual([]);
  });

  test('`tessera info` lists cpu as available and cuda with a reason when unusable', () => {
    const out = node(['dist/cli.js', 'info']);
    expect(out).toMatch(/^\s+cpu\s+available\s+isa=\w+/m);
    const cuda = tessera.info().cuda;
    if (cuda.available) expect(out).toMatch(/^\s+cuda\s+available/m);
    else expect(out).toContain(`cuda  unavailable: ${cuda.reason}`);
    const json = JSON.parse(node(['dist/cli.js', 'info', '--json'])) as tessera.Info;
    expect(json.cpu.available).toBe(true);
    expect(json.version).toBe(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version);
  });

  test('info() reports why CUDA is unavailable instead of falling back silently', () => {
    const i = tessera.info();
    if (!i.cuda.available) {
      expect(typeof i.cuda.reason).toBe('string');
      expect(i.cuda.reason!.length).toBeGreaterThan(10);
      expect(tessera.defaultDevice()).toBe('cpu');
    }
    expect(['generic', 'avx2', 'avx512']).toContain(i.cpu.isa);
  });

  test('binding.gyp compiles every C++ source of the CPU build', () => {
    const gyp = readFileSync(path.join(root, 'binding.gyp'), 'utf8');
    for (const dir of ['core', 'cpu', 'napi']) {
      for (const file of readdirSync(path.join(root, 'native', dir)).filter((f) => f.endsWith('.cpp'))) {
        expect(gyp, `binding.gyp is missing native/${dir}/${file}`).toContain(`native/${dir}/${file}`);
      }
    }
  });

  // The selection itself, for hosts this machine is not: feature lists as
  // info().cpu.features gives them. A build off x86 has the generic table alone.
  const x86 = tessera.info().build.cpuKernels !== 'generic';
  test.skipIf(!x86).each([
    ['Zen 3 / Haswell', 'avx2 fma f16c', null, 'avx2'],
    ['Skylake-SP: AVX-512 without VNNI (the avx512 table uses VNNI)', 'avx2 fma f16c avx512f avx512bw avx512vl avx512dq', null, 'avx2'],
    ['Ice Lake / Zen 4', 'avx2 fma f16c avx512f avx512bw avx512vl avx512dq avx512vnni avx512bf16', null, 'avx512'],
    ['Alder Lake: AVX-VNNI, no AVX-512', 'avx2 fma f16c avxvnni', null, 'avx2'],
    ['AVX2 without FMA', 'avx2 f16c', null, 'generic'],
    ['no vector extensions', '', null, 'generic'],
    ['TESSERA_CPU_ISA=generic', 'avx2 fma f16c avx512f avx512bw avx512vl avx512dq avx512vnni', 'generic', 'generic'],
    ['TESSERA_CPU_ISA=avx2 on an AVX-512 host', 'avx2 fma f16c avx512f avx512bw avx512vl avx512dq avx512vnni', 'avx2', 'avx2'],
    ['TESSERA_CPU_ISA=avx2 on a host without it', 'f16c', 'avx2', 'generic'],
    ['TESSERA_CPU_ISA=avx512 never widens', 'avx2 fma f16c', 'avx512', 'avx2'],
  ])('the CPU kernel table for %s', (_host, features, want, isa) => {
    expect(native.isaFor(features, want)).toBe(isa);
  });

  test('the selection rejects a feature name it does not know', () => {
    expect(() => native.isaFor('avx2 sse9', null)).toThrow(/unknown CPU feature/);
  });

  test.skipIf(process.env.TESSERA_CPU_ISA !== undefined)('this host gets the table its own features select', () => {
    const cpu = tessera.info().cpu;
    expect(native.isaFor(cpu.features, null)).toBe(cpu.isa);
  });
});
