#!/usr/bin/env node
// Builds the native addon: cmake-js when CMake is on the PATH (CPU + CUDA when
// nvcc is found), else node-gyp with binding.gyp (CPU only). Run by `npm install`.
//   TESSERA_CUDA=auto|on|off   TESSERA_CUDA_ARCHS="80;90"   TESSERA_BUILD=cmake|gyp
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function run(command, args) {
  console.log(`tessera: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function has(command) {
  const result = spawnSync(command, ['--version'], { stdio: 'ignore' });
  return !result.error && result.status === 0;
}

const cuda = (process.env.TESSERA_CUDA ?? 'auto').toLowerCase();
if (!['auto', 'on', 'off'].includes(cuda)) {
  console.error(`tessera: Expected auto, on or off for TESSERA_CUDA but received ${cuda}`);
  process.exit(1);
}
const wanted = process.env.TESSERA_BUILD ?? (has('cmake') ? 'cmake' : 'gyp');

let status;
if (wanted === 'cmake') {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const args = [cmakeJs, 'compile', `--CDTESSERA_CUDA=${cuda}`];
  if (process.env.TESSERA_CUDA_ARCHS) args.push(`--CDTESSERA_CUDA_ARCHS=${process.env.TESSERA_CUDA_ARCHS}`);
  status = run(process.execPath, args);
  if (status === 0) {
    const backends = path.join(root, 'build', 'tessera-backends.txt');
    const built = existsSync(backends) ? readFileSync(backends, 'utf8').trim() : 'cpu';
    console.log(`tessera: built backends: ${built}`);
  }
} else {
  if (cuda === 'on') {
    console.error('tessera: TESSERA_CUDA=on needs CMake (the node-gyp build is CPU only)');
    process.exit(1);
  }
  // npm sets npm_config_node_gyp to its bundled node-gyp inside lifecycle scripts;
  // outside them, use the copy npm ships next to this Node, else one on the PATH.
  const bundled = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const gyp = process.env.npm_config_node_gyp ?? (existsSync(bundled) ? bundled : undefined);
  // Build against this Node's own headers when it has them (nothing to download).
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const nodedir = process.env.npm_config_nodedir ??
    (existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
  const args = ['rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  status = gyp ? run(process.execPath, [gyp, ...args]) : run('node-gyp', args);
  if (status === 0) console.log('tessera: built backends: cpu (node-gyp)');
}
process.exit(status);
