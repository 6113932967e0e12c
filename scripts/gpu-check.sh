#!/usr/bin/env bash
# The one prepared command for a lent GPU (npm run gpu:check, or bash scripts/gpu-check.sh
# where the machine has no Node): build for the card, run the parity matrix and the
# attention tests on cuda against the float64 references, benchmark matmul and attention
# against PyTorch, print a short table last.
#
# Time-boxed for a 15-minute device budget: every step after the build has its own
# timeout, and the attention steps are skipped once the whole run passes
# GPU_CHECK_BUDGET_S (default 450 s), so the check ends in about 8 minutes at most.
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
check_start=$(date +%s)
budget=${GPU_CHECK_BUDGET_S:-450}
# Seconds left of the budget, never below 0.
left() { local l=$(( budget - ($(date +%s) - check_start) )); echo $(( l > 0 ? l : 0 )); }
# Runs "$@" for at most min($1, what is left of the budget) seconds; 124 when cut short.
boxed() {
  local limit=$1; shift
  local l; l=$(left)
  (( l < limit )) && limit=$l
  (( limit < 10 )) && { echo "gpu-check: skipped (budget spent): $*"; return 124; }
  timeout --kill-after=10 "$limit" "$@"
}
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

# Attention tests (test/attention*.test.ts: forward, backward, KV cache, errors) on every
# device, cuda included.
attention_tests=$(ls test/attention*.test.ts 2>/dev/null | tr '\n' ' ')
attention_parity=0
if [ -n "$attention_tests" ]; then
  # shellcheck disable=SC2086
  boxed 150 node node_modules/vitest/vitest.mjs run $attention_tests --reporter=dot 2>&1 \
    | tee "$out/attention-tests.txt" | tail -n 25
  attention_parity=${PIPESTATUS[0]}
else
  echo "gpu-check: no test/attention*.test.ts here"
fi
set -e

# compute-sanitizer (memcheck) over a small run of every op family on cuda; attention on
# odd sizes (GQA, a decode row, every mask kind, ALiBi) forward and backward. A memcheck
# error is reported and the check goes on to the benchmarks.
if command -v compute-sanitizer >/dev/null 2>&1; then
  set +e
  boxed 90 compute-sanitizer --tool memcheck --error-exitcode 3 node -e "
    const t = require('./dist/index.js');
    for (const dtype of ['float32', 'float16', 'bfloat16']) {
      const a = t.randn([37, 70], { seed: 1, dtype, device: 'cuda' });
      const b = t.randn([70, 45], { seed: 2, dtype, device: 'cuda' });
      const w = t.ones([45], { dtype, device: 'cuda' });
      const y = t.layerNorm(t.rmsNorm(t.softmax(t.gelu(t.add(t.matmul(a, b), 1))), w), w, w);
      t.sum(y.transpose(0, 1)).to('float32').dataSync();
    }
    for (const dtype of ['float32', 'float16']) {
      for (const [Lq, Lk] of [[97, 97], [1, 203]]) {
        const device = 'cuda';
        const q = t.randn([2, 6, Lq, 72], { seed: 3, dtype, device });
        const k = t.randn([2, 2, Lk, 72], { seed: 4, dtype, device });
        const v = t.randn([2, 2, Lk, 72], { seed: 5, dtype, device });
        const opts = { causal: true, window: [40, 3], globalTokens: Int32Array.of(0, Lk - 1), alibi: true,
          softcap: 30, blockMask: { blockSize: 16, mask: new Uint8Array(Math.ceil(Lq / 16) * Math.ceil(Lk / 16)).fill(1) } };
        try {
          const { out, lse } = t.attention(q, k, v, { ...opts, returnLse: true });
          const g = t.attentionBackward(t.randn(out.shape, { seed: 6, dtype, device }), q, k, v, out, lse, opts);
          for (const x of [out, lse, g.dq, g.dk, g.dv]) t.sum(x.reshape([x.numel]).to('float32')).dataSync();
        } catch (e) { console.log('attention ' + dtype + ' Lq=' + Lq + ': ' + e.message); }
      }
    }" 2>&1 | tail -n 8 | tee "$out/sanitizer.txt"
  echo "gpu-check: compute-sanitizer exit code ${PIPESTATUS[0]}"
  set -e
fi

# Benchmarks: tessera on cuda and PyTorch on the same sizes, in one table per op family.
python3 bench/gpu/torch_matmul.py > "$out/torch.json"
node dist-bench/gpu-matmul.js "$out/torch.json" > "$out/table.md"

# Attention: SDPA flash (causal fp16, D=128, L=4k-16k), FlexAttention (window 1024 + ALiBi),
# decode GB/s against the device-to-device copy. Torch first: tessera times the rows torch ran.
set +e
echo "gpu-check: attention benchmarks ($(left) s of the budget left)"
if boxed 170 python3 bench/gpu/torch_attention.py > "$out/torch-attention.json" 2> "$out/torch-attention.log"; then
  boxed 100 node dist-bench/gpu-attention.js "$out/torch-attention.json" > "$out/attention-table.md" 2> "$out/attention-bench.log"
  echo "gpu-check: tessera attention benchmark exit code $?"
else
  echo "gpu-check: torch attention benchmark failed or timed out; see $out/torch-attention.log"
  tail -n 5 "$out/torch-attention.log"
fi
set -e

echo "gpu-check: took $(( $(date +%s) - check_start )) s"
echo "gpu-check: parity exit code $parity, attention tests exit code $attention_parity"
# The short tables, last.
cat "$out/table.md"
[ -s "$out/attention-table.md" ] && cat "$out/attention-table.md"
(( parity != 0 )) && exit "$parity"
exit "$attention_parity"
