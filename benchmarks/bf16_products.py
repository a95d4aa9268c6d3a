"""GFLOP/s of the bfloat16 products (the mixed_bfloat16 policy) against this machine's measured ceiling.

    python benchmarks/bf16_products.py [--threads 2] [--quick]

The ceiling is the best rate of a large square product: fastnn's own bfloat16 product (oneDNN's kernel through
`fastnn._core.gemm_bf16`, operands converted from float32 on each call as the engine does for activations) and, when
PyTorch is installed, `torch.matmul` on tensors already in bfloat16 (no conversion: the most the hardware gives
through oneDNN here). Then each product of the W3m and W4m training steps (forward Z = X W, dW = X^T dZ,
dX = dZ W^T) alone, with its rate and its fraction of the ceiling. Float32 products (fastnn's own kernel) for
comparison. Prints one table; figures are medians of repeats after a warm-up.
"""

import argparse
import statistics
import time

import numpy as np

import fastnn
from fastnn import _core, dtype_policies

try:
    import torch
except ImportError:  # the PyTorch column is optional
    torch = None

# (workload, product, M, K, N, trans_a, trans_b) of one training step, batch as in benchmarks/peers.py.
STEPS = {
    "W3m": (300, [(784, 500), (500, 10)]),
    "W4m": (256, [(784, 1024), (1024, 1024), (1024, 1024), (1024, 10)]),
}


def products(batch, layers):
    out = []
    for i, (n_in, n_out) in enumerate(layers):
        out.append((f"forward {n_in}x{n_out}", batch, n_in, n_out, False, False))
        out.append((f"dW {n_in}x{n_out}", n_in, batch, n_out, True, False))
        if i > 0:
            out.append((f"dX {n_in}x{n_out}", batch, n_out, n_in, False, True))
    return out


def rate(fn, flops, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return flops / statistics.median(times) / 1e9


def operands(m, k, n, ta, tb, rng):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    return a, b


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="fewer repeats and smaller ceiling products")
    args = p.parse_args()
    fastnn.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    if not dtype_policies.bf16_available():
        print(f"no bfloat16 products here: {dtype_policies._STATE['why']}")
        return
    reps = 3 if args.quick else 15
    rng = np.random.default_rng(0)
    print(f"bfloat16 kernel: {dtype_policies.bf16_isa()} (oneDNN {_core.bf16_kernel_name(1024, 1024, 1024)}), "
          f"{args.threads} threads")

    ceiling = {}
    for n in ((512, 1024) if args.quick else (1024, 2048, 4096)):
        a, b = operands(n, n, n, False, False, rng)
        ceiling[f"fastnn bf16 {n}^3"] = rate(lambda: _core.gemm_bf16(a, b), 2.0 * n ** 3, max(3, reps // 3))
        if torch is not None:
            ta, tb = torch.from_numpy(a).bfloat16(), torch.from_numpy(b).bfloat16()
            ceiling[f"torch bf16 {n}^3"] = rate(lambda: torch.matmul(ta, tb), 2.0 * n ** 3, max(3, reps // 3))
    best = max(ceiling.values())
    print("ceiling (GFLOP/s): " + ", ".join(f"{k} {v:.0f}" for k, v in ceiling.items()) + f"; best {best:.0f}")

    rows = [("workload", "product (M x K x N)", "bf16 GFLOP/s", "of ceiling", "f32 GFLOP/s")]
    for wid, (batch, layers) in STEPS.items():
        total_flops, total_time = 0.0, 0.0
        for name, m, k, n, ta, tb in products(batch, layers):
            a, b = operands(m, k, n, ta, tb, rng)
            flops = 2.0 * m * k * n
            g16 = rate(lambda: _core.gemm_bf16(a, b, ta, tb), flops, reps)
            g32 = rate(lambda: _core.gemm_f32(a, b, ta, tb), flops, reps) if hasattr(_core, "gemm_f32") else None
            total_flops += flops
            total_time += flops / (g16 * 1e9)
            rows.append((wid, f"{name}: {m} x {k} x {n}", f"{g16:.0f}", f"{g16 / best:.0%}",
                         "-" if g32 is None else f"{g32:.0f}"))
        g = total_flops / total_time / 1e9
        rows.append((wid, "all products of a step", f"{g:.0f}", f"{g / best:.0%}", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    main()
