// The package as users meet it: require and import, the CLI, both build files.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import * as tessera from '../lib/index.js';

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
});
