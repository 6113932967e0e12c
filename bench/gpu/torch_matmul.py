"""PyTorch peer for bench/gpu-matmul.ts: median time of torch.matmul on the GPU
for the same sizes and dtypes, CUDA events around each call, after warm-up."""
import json
import statistics

import torch

SHAPES = [(1024, 1024, 1024), (4096, 4096, 4096), (1, 4096, 4096), (512, 4096, 4096)]
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def median_ms(fn, warmup=3, runs=20):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main():
    torch.backends.cuda.matmul.allow_tf32 = False  # tessera's fp32 path is true fp32
    rows = []
    for name, dtype in DTYPES.items():
        for m, n, k in SHAPES:
            a = torch.randn(m, k, device="cuda", dtype=dtype)
            b = torch.randn(k, n, device="cuda", dtype=dtype)
            rows.append({"dtype": name, "M": m, "N": n, "K": k, "ms": median_ms(lambda: a @ b)})
    print(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
