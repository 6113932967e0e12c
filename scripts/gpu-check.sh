#!/usr/bin/env bash
# The one prepared command for a lent GPU (npm run gpu:check, or bash scripts/gpu-check.sh
# where the machine has no Node): build for the card, run the parity matrix on cuda
# against the float64 references, benchmark against PyTorch, print a short table last.
#
# The GPU machine may lack Node. Pack what it needs here first:
#   bash scripts/gpu-check.sh --pack   # writes .gpu-carry/ (git-ignored, ~40 MiB)
# then run with the device tool: command "bash scripts/gpu-check.sh", carry [".gpu-carry"].
set -euo pipefail
cd "$(dirname "$0")/.."
carry=.gpu-carry

if [ "${1:-}" = "--pack" ]; then
  mkdir -p "$carry"
  tar -C "$(dirname "$(command -v node)")/.." -cJf "$carry/node.tar.xz" bin/node
  # Only what building and testing need: no onnxruntime, no TypeScript compiler
  # (dist/ and dist-bench/ are compiled here and travel in the carry).
  npm run --silent build:ts && npx --no-install tsc -p tsconfig.bench.json
  tar -cJf "$carry/build.tar.xz" dist dist-bench
  tar -cJf "$carry/node_modules.tar.xz" --exclude='node_modules/onnxruntime-node' \
    --exclude='node_modules/typescript' --exclude='node_modules/onnxruntime-common' node_modules
  du -sh "$carry"
  exit 0
fi

out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
if ! command -v node >/dev/null 2>&1; then
  [ -f "$carry/node.tar.xz" ] || { echo "gpu-check: no node here and no $carry (run --pack first)"; exit 1; }
  mkdir -p /tmp/node && tar -C /tmp/node -xJf "$carry/node.tar.xz" && export PATH=/tmp/node/bin:$PATH
fi
[ -d node_modules ] || tar -xJf "$carry/node_modules.tar.xz"
[ -d dist ] || tar -xJf "$carry/build.tar.xz"
nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

# Hopper gets sm_90a (wgmma/TMA paths); everything else its own compute capability.
cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d '.')
archs=${TESSERA_CUDA_ARCHS:-$cap}
[ "$cap" = "90" ] && archs=${TESSERA_CUDA_ARCHS:-90a}
start=$(date +%s)
TESSERA_CUDA=on TESSERA_CUDA_ARCHS="$archs" node scripts/build-native.mjs 2>&1 | tail -n 3
echo "gpu-check: build for sm_$archs took $(( $(date +%s) - start )) s"
node dist/cli.js info | tee "$out/info.txt"

# Parity matrix: every available device (cuda included) against float64 references.
set +e
node node_modules/vitest/vitest.mjs run test/parity.test.ts --reporter=dot 2>&1 | tee "$out/parity.txt" | tail -n 15
parity=${PIPESTATUS[0]}
set -e

# compute-sanitizer (memcheck) over a small run of every op family on cuda.
if command -v compute-sanitizer >/dev/null 2>&1; then
  compute-sanitizer --tool memcheck --error-exitcode 3 node -e "
    const t = require('./dist/index.js');
    for (const dtype of ['float32', 'float16', 'bfloat16']) {
      const a = t.randn([37, 70], { seed: 1, dtype, device: 'cuda' });
      const b = t.randn([70, 45], { seed: 2, dtype, device: 'cuda' });
      const w = t.ones([45], { dtype, device: 'cuda' });
      const y = t.layerNorm(t.rmsNorm(t.softmax(t.gelu(t.add(t.matmul(a, b), 1))), w), w, w);
      t.sum(y.transpose(0, 1)).to('float32').dataSync();
    }" 2>&1 | tail -n 5 | tee "$out/sanitizer.txt"
fi

# Benchmarks: tessera on cuda and PyTorch on the same sizes, in one table.
python3 bench/gpu/torch_matmul.py > "$out/torch.json"
node dist-bench/gpu-matmul.js "$out/torch.json" | tee "$out/table.md"
echo "gpu-check: parity exit code $parity"
exit "$parity"
