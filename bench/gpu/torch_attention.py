"""PyTorch peers for bench/gpu-attention.ts, on the GPU, layout [B, H, L, D] as tessera's:

  - fp16 causal attention, D = 128, L = 4k, 8k, 16k: SDPA pinned to the flash backend;
  - fp16 causal sliding window of 1024 keys (window [1023, 0]) + ALiBi: FlexAttention,
    the window as a block mask, ALiBi as a score_mod (−slope_h·|i − j| added to the
    scaled score, slopes of Press et al. for a power-of-two head count);
  - fp16 decode, one query against 32k keys (D = 128): SDPA, and the device-to-device
    copy bandwidth (torch.Tensor.copy_ of 1 GiB, bytes read + written) as the ceiling.

Each time is the median over several CUDA-event-timed batches of `reps` back-to-back
calls, divided by `reps`, after warm-up; bench/gpu-attention.ts times tessera the same
way. FlexAttention is checked against a dense masked SDPA (math backend, float32) at
the first length, so its mask and score_mod compute what tessera computes.
Prints one JSON object on stdout; progress goes to stderr.
"""
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

HEADS = 16
HEAD_DIM = 128
LENGTHS = [4096, 8192, 16384]
WINDOW = 1024
DECODE_KEYS = 32768
DECODE_HEADS = 8
DECODE_BATCHES = [1, 16]


def progress(message):
    print(f"[torch] {message}", file=sys.stderr, flush=True)


def median_ms(fn, reps, warmup=2, batches=7):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(batches):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / reps)
    return statistics.median(times)


def visible_pairs(lq, lk, window_keys=None):
    """Causal (optionally windowed) query-key pairs, bottom-right aligned: the work of one head."""
    total = 0
    for i in range(lq):
        seen = i + lk - lq + 1
        total += min(seen, window_keys) if window_keys else seen
    return total


def alibi_slopes(heads):
    """Press et al. for a power of two: 2^(-8/H), 2^(-16/H), ... (HEADS is 16 here)."""
    assert heads & (heads - 1) == 0
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / heads) for h in range(heads)], dtype=torch.float32)


def causal_flash(rows):
    for length in LENGTHS:
        q, k, v = (torch.randn(1, HEADS, length, HEAD_DIM, device="cuda", dtype=torch.float16) for _ in range(3))
        reps = max(1, 16384 // length * 4)
        # The backend choice outside the timed loop: only the kernels are timed.
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            ms = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), reps)
        flop = 4 * HEADS * visible_pairs(length, length) * HEAD_DIM
        progress(f"SDPA flash causal L={length}: {ms:.3f} ms, {flop / ms / 1e9:.1f} TFLOP/s")
        rows.append({"kind": "causal", "peer": "SDPA flash", "batch": 1, "heads": HEADS, "kvHeads": HEADS,
                     "queries": length, "keys": length, "headDim": HEAD_DIM, "window": None, "alibi": False,
                     "reps": reps, "ms": ms, "flop": flop})


def window_alibi_flex(rows):
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    flex = torch.compile(flex_attention, dynamic=False)
    slopes = alibi_slopes(HEADS).cuda()

    def window_mask(b, h, q_idx, kv_idx):
        return (kv_idx <= q_idx) & (q_idx - kv_idx < WINDOW)

    def alibi(score, b, h, q_idx, kv_idx):
        return score - slopes[h] * (q_idx - kv_idx).abs()

    def check(q, k, v, got):
        """The peer against a dense masked SDPA in float32 (math backend), same inputs."""
        n = q.shape[2]
        i = torch.arange(n, device="cuda")
        distance = (i[:, None] - i[None, :]).float()
        bias = -slopes[:, None, None] * distance.abs()
        bias = bias.masked_fill(~((distance >= 0) & (distance < WINDOW)), float("-inf"))
        with sdpa_kernel(SDPBackend.MATH):
            want = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=bias[None])
        error = (got.float() - want).abs().max().item()
        progress(f"FlexAttention window {WINDOW} + ALiBi vs dense float32 reference (L={n}): max abs error {error:.2e}")
        if not error < 2e-2:
            raise RuntimeError(f"FlexAttention disagrees with the dense reference: max abs error {error}")
        return error

    # One compile per length (dynamic=False): the check reuses the first length's.
    error = None
    for length in LENGTHS:
        q, k, v = (torch.randn(1, HEADS, length, HEAD_DIM, device="cuda", dtype=torch.float16) for _ in range(3))
        mask = create_block_mask(window_mask, None, None, length, length, device="cuda")
        if error is None:
            error = check(q, k, v, flex(q, k, v, score_mod=alibi, block_mask=mask))
        reps = max(1, 16384 // length * 4)
        ms = median_ms(lambda: flex(q, k, v, score_mod=alibi, block_mask=mask), reps)
        flop = 4 * HEADS * visible_pairs(length, length, WINDOW) * HEAD_DIM
        progress(f"FlexAttention window {WINDOW} + ALiBi L={length}: {ms:.3f} ms, {flop / ms / 1e9:.1f} TFLOP/s")
        rows.append({"kind": "window-alibi", "peer": "FlexAttention", "batch": 1, "heads": HEADS, "kvHeads": HEADS,
                     "queries": length, "keys": length, "headDim": HEAD_DIM, "window": WINDOW, "alibi": True,
                     "reps": reps, "ms": ms, "flop": flop, "checkError": error})


def copy_bandwidth():
    src = torch.empty(1 << 29, device="cuda", dtype=torch.float16).normal_()
    dst = torch.empty_like(src)
    ms = median_ms(lambda: dst.copy_(src), reps=10)
    moved = 2 * src.numel() * src.element_size()
    progress(f"device-to-device copy 1 GiB: {ms:.3f} ms, {moved / ms / 1e6:.0f} GB/s (read + write)")
    return {"ms": ms, "bytes": moved}


def decode(rows):
    for batch in DECODE_BATCHES:
        q = torch.randn(batch, DECODE_HEADS, 1, HEAD_DIM, device="cuda", dtype=torch.float16)
        k, v = (torch.randn(batch, DECODE_HEADS, DECODE_KEYS, HEAD_DIM, device="cuda", dtype=torch.float16) for _ in range(2))
        reps = 50
        try:
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                ms = median_ms(lambda: F.scaled_dot_product_attention(q, k, v), reps)
            backend = "SDPA flash"
        except RuntimeError:
            ms = median_ms(lambda: F.scaled_dot_product_attention(q, k, v), reps)
            backend = "SDPA (default backend)"
        kv_bytes = 2 * k.numel() * k.element_size()
        progress(f"{backend} decode B={batch} Lk={DECODE_KEYS}: {ms:.4f} ms, {kv_bytes / ms / 1e6:.0f} GB/s of K and V")
        rows.append({"kind": "decode", "peer": backend, "batch": batch, "heads": DECODE_HEADS, "kvHeads": DECODE_HEADS,
                     "queries": 1, "keys": DECODE_KEYS, "headDim": HEAD_DIM, "window": None, "alibi": False,
                     "reps": reps, "ms": ms, "bytes": kv_bytes})


def main():
    started = time.time()
    torch.manual_seed(0)
    rows = []
    copy = copy_bandwidth()
    # A peer that fails becomes an error row (the table notes it) instead of costing the
    # others. FlexAttention last: it compiles its kernels (tens of seconds).
    for kind, peer, run in [("causal", "SDPA flash", causal_flash), ("decode", "SDPA", decode),
                            ("window-alibi", "FlexAttention", window_alibi_flex)]:
        try:
            run(rows)
        except Exception as error:  # noqa: BLE001 - reported in the JSON
            progress(f"{peer} ({kind}) failed: {error!r}")
            rows.append({"kind": kind, "peer": peer, "error": repr(error)})
    progress(f"done in {time.time() - started:.0f} s")
    print(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "copy": copy, "rows": rows}))


if __name__ == "__main__":
    main()
