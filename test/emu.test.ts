// The SIMT emulator's own tests (test/emu/emu_tests.cpp), built as C++ programs
// by CMake: the emulated PTX twins bit-exact on integer-valued inputs, warp
// collectives, and the negative tests — a missing __syncthreads, a divergent
// barrier and (under ASan/UBSan) an out-of-range shared-memory index must each
// fail loudly. Each line a program prints becomes one test here.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';

const root = path.join(__dirname, '..');
const buildDir = path.join(root, 'build');
const cmakeBuild = existsSync(path.join(buildDir, 'CMakeCache.txt'));

interface Line { status: 'PASS' | 'FAIL' | 'SKIP'; name: string; detail: string }

function runProgram(target: string): { lines: Line[]; status: number | null; output: string } {
  execFileSync('cmake', ['--build', buildDir, '--target', target], { cwd: root, stdio: 'pipe' });
  const run = spawnSync(path.join(buildDir, target), { cwd: root, encoding: 'utf8', timeout: 300_000 });
  const output = `${run.stdout}${run.stderr}`;
  const lines: Line[] = [];
  for (const raw of run.stdout.split('\n')) {
    const m = /^(PASS|FAIL|SKIP) (.*)$/.exec(raw);
    if (!m) continue;
    const [name, ...rest] = m[2]!.split(': ');
    lines.push({ status: m[1] as Line['status'], name: name!, detail: rest.join(': ') });
  }
  return { lines, status: run.status, output };
}

// Negative tests the issue requires, by the program that must run them.
const REQUIRED: Record<string, RegExp[]> = {
  tessera_emu_tests: [
    /^mma\.m16n8k16 f16 16x8x16 bit-exact/, /^mma\.m16n8k16 bf16 16x8x16 bit-exact/,
    /^mma \+ ldmatrix GEMM f16 64x64x64 bit-exact/, /^mma \+ ldmatrix GEMM bf16 64x64x64 bit-exact/,
    /^SGEMM without its first __syncthreads gives wrong results/, /^divergent __syncthreads/,
  ],
  tessera_emu_tests_sanitize: [/^out-of-range shared-memory index/],
};

for (const target of ['tessera_emu_tests', 'tessera_emu_tests_sanitize']) {
  describe.skipIf(!cmakeBuild)(`${target} (C++)`, () => {
    const result = cmakeBuild ? runProgram(target) : { lines: [], status: 0, output: '' };

    test('the program ran to the end and every check passed', () => {
      expect(result.output).toContain('ALL PASSED');
      expect(result.status).toBe(0);
    });

    test('the required bit-exact and negative checks ran and passed', () => {
      for (const pattern of REQUIRED[target]!) {
        const line = result.lines.find((l) => pattern.test(l.name));
        expect(line, `no line matching ${pattern}`).toBeDefined();
        expect(line!.status, `${line!.name}: ${line!.detail}`).toBe('PASS');
      }
    });

    for (const line of result.lines) {
      test(line.name, (ctx) => {
        if (line.status === 'SKIP') ctx.skip(line.detail || 'skipped by the program');
        expect(line.status, line.detail).toBe('PASS');
      });
    }
  });
}
