"""Side-by-side comparison of fastnn, a float32 NumPy MLP and PyTorch on issue 6's workloads W1-W5 and issue 12's rows.

    python benchmarks/compare.py                 # the full run (a few minutes on 2 cores)
    python benchmarks/compare.py --quick         # tiny sizes, seconds (the CI smoke run)
    python benchmarks/compare.py --only W1,W3 --threads 2 --json out.json

PyTorch appears twice: `torch` (optim.Adam's default, foreach) and `torch fused` (optim.Adam(fused=True), its
fastest CPU Adam). Issue 12's rows: W3r trains W3's model on Fashion-MNIST's raw pixels (0..255 as float32, as a
user who forgets to scale passes them; Debian's dataset-fashion-mnist) for 6 epochs, where subnormal floats appear;
W3t is W3 run inside `threadpoolctl.threadpool_limits(2)` (how scikit-learn users limit threads): its target is
fastnn within 5% of its own W3 time with nothing printed on the process's stderr (file descriptor 2, captured
during fastnn's runs). These two rows run fastnn and PyTorch only, and W3r checks no result against the oracle
(it is W3's model and code, checked there; its pixel scale saturates the float32-vs-float64 comparison).

Every library gets the same thread limit (fastnn.set_num_threads, torch.set_num_threads, threadpoolctl for
NumPy's BLAS). Each implementation is first checked against the float64 oracle (tests/reference.py), then
warmed up, then timed: the figure is the median of the repeats, and the spread (max-min)/median shows the
noise. Also printed: W3's GFLOP/s against this machine's float32 GEMM rate (NumPy sgemm, measured in a
subprocess; --gemm-clean-env drops OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE there only) and the peak RSS of
W3's fit beside the size of its data (one subprocess per implementation).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import peers  # noqa: E402

WORKLOADS = ("W1", "W2", "W3", "W4", "W3r", "W3t", "W5a", "W5b")
# target: (kind, value, peer) -- "speedup": fastnn at least value x the peer; "max_us": latency at most value us;
# "vs_w3": fastnn's time at most value x its own W3 time (and nothing printed)
TARGETS = {"W1": ("speedup", 50.0, "torch"), "W2": ("speedup", 50.0, "torch"),
           "W3": ("speedup", 1.3, "torch_fused"), "W4": ("speedup", 1.15, "torch_fused"),
           "W3r": ("speedup", 1.3, "torch_fused"), "W3t": ("vs_w3", 1.05, None),
           "W5a": ("max_us", 12.0, None), "W5b": ("speedup", 1.2, "torch")}
PEER_NAMES = {"torch": "torch", "torch_fused": "torch fused"}
W3_GEMM_FRACTION = 0.75


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------

def timed_runs(setup, run, repeats, warmup=1):
    """Wall times of `run(state)` with a fresh `setup()` state each time (setup not timed)."""
    times = []
    for k in range(warmup + repeats):
        state = setup()
        t0 = time.perf_counter()
        run(state)
        dt = time.perf_counter() - t0
        if k >= warmup:
            times.append(dt)
    return times


def summary(times):
    med = statistics.median(times)
    return {"median": med, "min": min(times), "max": max(times), "spread": (max(times) - min(times)) / med,
            "repeats": len(times)}


def measure_fit(impl, spec, params, x, y, repeats, warm_n, warm_epochs):
    """Median wall time of fit(spec.epochs) from the same initial weights, after a warm-up fit of
    `warm_epochs` epochs on the first `warm_n` samples."""
    def setup():
        return peers.make_runner(impl, spec, params)

    if impl.startswith("torch"):
        targets = peers.TorchMLP(spec, params).targets(y)

        def run(r):
            r.fit(x, y, targets=targets)
    else:
        def run(r):
            r.fit(x, y)

    setup().fit(x[:warm_n], y[:warm_n], epochs=warm_epochs)
    res = summary(timed_runs(setup, run, repeats, warmup=0))
    res["samples_per_s"] = spec.n_samples * spec.epochs / res["median"]
    return res


def measure_latency(impl, runner, x1, calls):
    """Median latency of predicting one sample (seconds), over `calls` calls after 10% warm-up calls.

    Its spread is (p90 - p10) / median of the single calls."""
    for _ in range(max(10, calls // 10)):
        runner.predict(x1, 1)
    ts = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        t0 = clock()
        runner.predict(x1, 1)
        ts.append(clock() - t0)
    ts = np.asarray(ts, dtype=np.float64) * 1e-9
    med = float(np.median(ts))
    p10, p90 = np.percentile(ts, [10, 90])
    return {"median": med, "min": float(ts.min()), "max": float(ts.max()), "p10": float(p10), "p90": float(p90),
            "spread": float((p90 - p10) / med), "repeats": calls, "samples_per_s": 1.0 / med}


def measure_batch_predict(runner, x, batch_size, repeats):
    runner.predict(x, batch_size)
    res = summary(timed_runs(lambda: runner, lambda r: r.predict(x, batch_size), repeats, warmup=0))
    res["samples_per_s"] = x.shape[0] / res["median"]
    return res


# ---------------------------------------------------------------------------------------------
# Subprocess workers: GEMM rate and peak RSS
# ---------------------------------------------------------------------------------------------

def gemm_worker(threads, quick):
    """Best float32 GEMM rate of NumPy's BLAS on n^2 matrices, and the BLAS kernel threadpoolctl reports."""
    import threadpoolctl

    with threadpoolctl.threadpool_limits(limits=threads, user_api="blas"):
        info = [{"lib": os.path.basename(d["filepath"]), "kernel": d.get("architecture"), "version": d.get("version"),
                 "num_threads": d["num_threads"]} for d in threadpoolctl.threadpool_info() if d["user_api"] == "blas"]
        rng = np.random.default_rng(0)
        rates = {}
        for n in ((256, 512) if quick else (1024, 2048)):
            a = rng.random((n, n), dtype=np.float32)
            b = rng.random((n, n), dtype=np.float32)
            c = np.empty((n, n), dtype=np.float32)
            np.matmul(a, b, out=c)
            best = float("inf")
            for _ in range(3 if quick else 7):
                t0 = time.perf_counter()
                np.matmul(a, b, out=c)
                best = min(best, time.perf_counter() - t0)
            rates[str(n)] = 2.0 * n ** 3 / best / 1e9
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return {"gflops": rates, "best_gflops": max(rates.values()), "blas": info, "env": env}


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


def rss_worker(impl, threads, quick):
    """Peak RSS while fitting W3 for one epoch, beside the size of its data (all in bytes)."""
    peers.apply_thread_limit(threads)
    spec = peers.workload_specs(quick)["W3"]
    x, y = peers.make_data(spec)
    runner = peers.make_runner(impl, spec, peers.glorot_params(spec))
    warm_x, warm_y = x[:spec.batch_size].copy(), y[:spec.batch_size].copy()
    runner.fit(warm_x, warm_y, epochs=1)  # loads lazily imported code before the peak is reset
    before = _status_kb("VmRSS") * 1024
    reset = True
    try:
        with open("/proc/self/clear_refs", "w") as f:  # "5" resets VmHWM (the peak) to the current RSS
            f.write("5")
    except OSError:
        reset = False
    runner.fit(x, y, epochs=1)
    return {"impl": impl, "data_bytes": int(x.nbytes + y.nbytes), "rss_before_fit": before,
            "peak_rss": _status_kb("VmHWM") * 1024, "peak_reset": reset}


def run_worker(args, env=None, torch_needed=False):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker"] + args
    env = dict(os.environ if env is None else env)
    if not torch_needed:
        env["FASTNN_BENCH_NO_TORCH"] = "1"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------------

class StderrCapture:
    """Captures what anything in the process (C libraries included) writes to file descriptor 2."""

    def __enter__(self):
        import tempfile
        sys.stderr.flush()
        self.file = tempfile.TemporaryFile()
        self.saved = os.dup(2)
        os.dup2(self.file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.file.seek(0)
        self.text = self.file.read().decode(errors="replace")
        self.file.close()
        return False


def fashion_mnist_raw(n, log):
    """Fashion-MNIST's first n training images as raw float32 pixels 0..255, one-hot labels; None without it."""
    try:
        from fastnn.datasets import fashion_mnist
        (x, y), _ = fashion_mnist.load_data()
    except Exception as e:  # noqa: BLE001 - no local copy and no network: the row is left out
        log(f"  W3r skipped: Fashion-MNIST not available ({type(e).__name__}: {e}); apt-get install dataset-fashion-mnist")
        return None
    x = np.ascontiguousarray(x[:n].reshape(-1, 784).astype(np.float32))
    onehot = np.zeros((len(x), 10), dtype=np.float32)
    onehot[np.arange(len(x)), y[:n]] = 1.0
    return x, onehot


def run_workloads(selected, impls, quick, repeats, log):
    import threadpoolctl

    specs = peers.workload_specs(quick)
    results = {}
    for wid in ("W1", "W2", "W3", "W4", "W3r", "W3t"):
        if wid not in selected:
            continue
        spec = specs["W3" if wid == "W3t" else wid]
        if wid == "W3r":
            data = fashion_mnist_raw(spec.n_samples, log)
            if data is None:
                continue
            x, y = data
        else:
            x, y = peers.make_data(spec)
        params = peers.glorot_params(spec)
        b = min(spec.batch_size, 256)
        res, printed = {}, {}
        row_impls = [i for i in impls if i != "numpy"] if wid in ("W3r", "W3t") else impls
        for impl in row_impls:
            if wid != "W3r":
                peers.check_train_step(impl, spec, params, x[:b], y[:b])
            if wid in ("W1", "W2"):  # warm-up: a twentieth of the run
                warm_n, warm_epochs = spec.n_samples, max(1, spec.epochs // 20)
            else:  # a few batches of one epoch
                warm_n, warm_epochs = min(spec.n_samples, 4 * spec.batch_size), 1
            if wid == "W3t":
                with StderrCapture() as cap, threadpoolctl.threadpool_limits(2):
                    res[impl] = measure_fit(impl, spec, params, x, y, repeats[wid], warm_n, warm_epochs)
                printed[impl] = cap.text
            else:
                res[impl] = measure_fit(impl, spec, params, x, y, repeats[wid], warm_n, warm_epochs)
            log(f"  {wid} {impl:11s} {res[impl]['median']:.4f} s (spread {100 * res[impl]['spread']:.0f}%)"
                + (f"; printed {len(printed[impl])} characters on stderr" if impl in printed else ""))
        results[wid] = {"spec": spec, "results": res}
        if wid == "W3t":
            results[wid]["stderr"] = printed
    if "W5a" in selected or "W5b" in selected:
        spec = specs["W5"]
        x, _ = peers.make_data(spec)
        params = peers.glorot_params(spec)
        impls = [i for i in impls if i != "torch_fused"]  # no optimizer in predict: the same as torch
        for impl in impls:
            peers.check_predict(impl, spec, params, x[:1000])
            peers.check_predict(impl, spec, params, x[:1])
        calls = 200 if quick else 5000
        for wid in ("W5a", "W5b"):
            if wid not in selected:
                continue
            res = {}
            for impl in impls:
                runner = peers.make_runner(impl, spec, params)
                if wid == "W5a":
                    res[impl] = measure_latency(impl, runner, np.ascontiguousarray(x[:1]), calls)
                else:
                    res[impl] = measure_batch_predict(runner, x, spec.batch_size, repeats[wid])
                log(f"  {wid} {impl:11s} {res[impl]['median'] * (1e6 if wid == 'W5a' else 1):.4g} "
                    f"{'us' if wid == 'W5a' else 's'} (spread {100 * res[impl]['spread']:.0f}%)")
            results[wid] = {"spec": spec, "results": res}
    return results


# mixed_bfloat16 rows (issue 13): fastnn under the policy against PyTorch float32 (fused Adam) and PyTorch under
# torch.autocast("cpu", dtype=torch.bfloat16) (fused Adam); W5am is W5a's one-sample latency under the policy.
MIXED = {"W3m": "W3", "W4m": "W4", "W5am": "W5"}
MIXED_TARGETS = {"W3m": (("torch_fused", 2.0), ("torch_bf16", 1.2)), "W4m": (("torch_fused", 3.0), ("torch_bf16", 1.2)),
                 "W5am": 8.0}


def run_mixed(quick, repeats, log):
    from fastnn import dtype_policies

    if not dtype_policies.bf16_available():
        log(f"  mixed_bfloat16 rows skipped: {dtype_policies._STATE['why']}")
        return {}
    specs = peers.workload_specs(quick)
    impls = peers.available_impls(mixed=True)
    results = {}
    for wid, base in MIXED.items():
        spec = specs[base]
        x, y = peers.make_data(spec)
        params = peers.glorot_params(spec)
        res = {}
        row_impls = [i for i in impls if i != "torch_fused"] if wid == "W5am" else impls
        for impl in row_impls:
            peers.check_predict(impl, spec, params, x[:min(1000, len(x))])
            if wid == "W5am":
                runner = peers.make_runner(impl, spec, params)
                res[impl] = measure_latency(impl, runner, np.ascontiguousarray(x[:1]), 200 if quick else 5000)
                log(f"  {wid} {impl:11s} {res[impl]['median'] * 1e6:.4g} us")
            else:
                warm_n = min(spec.n_samples, 4 * spec.batch_size)
                res[impl] = measure_fit(impl, spec, params, x, y, repeats, warm_n, 1)
                log(f"  {wid} {impl:11s} {res[impl]['median']:.4f} s ({res[impl]['samples_per_s']:,.0f} samples/s)")
        results[wid] = {"spec": spec, "results": res}
    return results


def mixed_table(results):
    from fastnn import dtype_policies

    head = ["id", "workload (mixed_bfloat16 on " + dtype_policies.bf16_isa() + ")", "fastnn mixed", "torch fused f32",
            "torch autocast bf16", "vs torch f32", "vs torch bf16", "target", "met"]
    rows = [head]
    for wid, r in results.items():
        res = r["results"]
        f = res.get("fastnn_bf16")
        if wid == "W5am":
            cells = [fmt_value("W5a", res[i]) if i in res else "-" for i in ("fastnn_bf16", "torch_fused", "torch_bf16")]
            vs = ["-", "-"]
            target = f"<= {MIXED_TARGETS[wid]:g} us"
            met = f is not None and f["median"] * 1e6 <= MIXED_TARGETS[wid]
        else:
            cells = [f"{res[i]['samples_per_s'] / 1e3:.1f}k/s" if i in res else "-"
                     for i in ("fastnn_bf16", "torch_fused", "torch_bf16")]
            ratios = [None if p not in res else f["samples_per_s"] / res[p]["samples_per_s"]
                      for p, _ in MIXED_TARGETS[wid]]
            vs = ["-" if v is None else f"{v:.2f}x" for v in ratios]
            target = ", ".join(f">= {t:g}x {PEER_NAMES.get(p, 'torch autocast')}" for p, t in MIXED_TARGETS[wid])
            met = all(v is not None and v >= t for v, (_, t) in zip(ratios, MIXED_TARGETS[wid]))
        rows.append([wid, describe(MIXED[wid] if wid != "W5am" else "W5a", r["spec"])] + cells + vs
                    + [target, "yes" if met else "NO"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def describe(wid, spec):
    if wid == "W3r":
        return f"W3 model, raw Fashion-MNIST pixels, {spec.n_samples} x {spec.epochs} ep, batch {spec.batch_size}"
    if wid == "W3t":
        return "W3 inside threadpool_limits(2)"
    if wid == "W5a":
        return "W3 model, predict 1 sample"
    if wid == "W5b":
        return f"W3 model, predict {spec.n_samples} in batches of {spec.batch_size}"
    return (f"{spec.describe()} {spec.loss}, {spec.n_samples} x {spec.epochs} ep, batch {spec.batch_size}"
            + ("" if spec.shuffle else " (no shuffle)"))


def fmt_value(wid, r):
    if r is None:
        return "not installed"
    if wid == "W5a":
        return f"{r['median'] * 1e6:.2f} us"
    if wid in ("W1", "W2"):
        return f"{r['median']:.3f} s"
    return f"{r['samples_per_s'] / 1e3:.1f}k/s"


def speedup(wid, res, impl="fastnn", peer="torch"):
    """How many times faster `impl` is than `peer` (None when either is missing)."""
    t = res.get(peer)
    if t is None or impl not in res:
        return None
    return t["median"] / res[impl]["median"]


def target_status(wid, res, results=None):
    kind, value, peer = TARGETS[wid]
    if kind == "max_us":
        got = res["fastnn"]["median"] * 1e6
        return f"<= {value:g} us", got <= value
    if kind == "vs_w3":
        r = vs_w3(results)
        quiet = not any((results or {}).get("W3t", {}).get("stderr", {}).values())
        return f"<= {value:g}x own W3, silent", None if r is None else (r <= value and quiet)
    s = speedup(wid, res, peer=peer)
    return f">= {value:g}x {PEER_NAMES[peer]}", None if s is None else s >= value


def vs_w3(results):
    """fastnn's W3t time over its W3 time (None unless both ran)."""
    if not results or "W3" not in results or "W3t" not in results:
        return None
    return results["W3t"]["results"]["fastnn"]["median"] / results["W3"]["results"]["fastnn"]["median"]


def table(results, spreads=True):
    head = ["id", "workload", "fastnn", "numpy", "torch", "torch fused", "fastnn/torch", "fastnn/fused",
            "numpy/torch", "target", "met", "spread f/n/t/tf"]
    rows = [head]
    ratio = lambda v: "-" if v is None else f"{v:.2f}x"  # noqa: E731
    for wid in WORKLOADS:
        if wid not in results:
            continue
        spec, res = results[wid]["spec"], results[wid]["results"]
        target, met = target_status(wid, res, results)
        spread = "/".join("-" if res.get(i) is None else f"{100 * res[i]['spread']:.0f}%"
                          for i in ("fastnn", "numpy", "torch", "torch_fused"))
        def cell(impl):
            if impl in res:
                return fmt_value(wid, res[impl])
            return "not installed" if impl.startswith("torch") and peers.torch is None else "-"

        if wid == "W3t":
            r = vs_w3(results)
            target += "" if r is None else f" (got {r:.2f}x)"
        rows.append([wid, describe(wid, spec), cell("fastnn"), cell("numpy"), cell("torch"), cell("torch_fused"),
                     ratio(speedup(wid, res)), ratio(speedup(wid, res, peer="torch_fused")),
                     ratio(speedup(wid, res, "numpy")), target, "n/a" if met is None else ("yes" if met else "NO"),
                     spread])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes: a few seconds, for the CI smoke run")
    p.add_argument("--only", default=None, help="comma-separated workload ids, e.g. W1,W3 (W5 means W5a,W5b)")
    p.add_argument("--threads", type=int, default=2, help="thread limit applied to every library (default 2)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per measurement (median reported)")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even when it is installed")
    p.add_argument("--mixed", action="store_true",
                   help="also the mixed_bfloat16 rows (W3m, W4m, W5am) beside PyTorch float32 and autocast bfloat16")
    p.add_argument("--no-gemm", action="store_true", help="skip the GEMM-rate measurement")
    p.add_argument("--no-rss", action="store_true", help="skip the peak-RSS measurement of W3's fit")
    p.add_argument("--gemm-clean-env", action="store_true",
                   help="measure the GEMM rate with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed (that subprocess only)")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error(f"--threads: expected an integer >= 1, got {args.threads}")

    if args.worker:
        kind = args.worker[0]
        if kind == "gemm":
            out = gemm_worker(args.threads, args.quick)
        elif kind == "rss":
            out = rss_worker(args.worker[1], args.threads, args.quick)
        else:
            p.error(f"--worker: expected gemm or rss, got {kind}")
        print(json.dumps(out))
        return 0

    selected = list(WORKLOADS)
    if args.only:
        selected = []
        for w in args.only.upper().split(","):
            w = w.strip()
            if w == "MIXED":  # --only mixed: the mixed_bfloat16 rows alone
                args.mixed = True
                continue
            names = ["W5a", "W5b"] if w == "W5" else [x for x in WORKLOADS if x.upper() == w]
            if not names:
                p.error(f"--only: expected ids among {', '.join(WORKLOADS)}, got {w!r}")
            selected += names
    rep = args.repeats
    repeats = {w: rep or (2 if args.quick else 3) for w in WORKLOADS}
    if not args.quick and rep is None:
        repeats.update({"W1": 11, "W5b": 7})  # W1 takes ~15 ms: one late repeat moves a median of five
    if "W3t" in selected and "W3" not in selected:
        selected.insert(selected.index("W3t"), "W3")  # W3t's target is relative to W3

    impls = [i for i in peers.available_impls() if not (args.no_torch and i.startswith("torch"))]
    threads = peers.apply_thread_limit(args.threads)
    import fastnn

    log = lambda s: print(s, flush=True)  # noqa: E731
    log(f"fastnn {fastnn.__version__} | numpy {np.__version__} | torch "
        f"{peers.torch.__version__ if 'torch' in impls else 'not installed'} | python {platform.python_version()}")
    log(f"threads: limit {args.threads}; fastnn {threads['fastnn']}, torch {threads.get('torch', '-')}, BLAS "
        + ", ".join(f"{b['lib']} {b['num_threads']} ({b['kernel']})" for b in threads["blas"]))
    log(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} cores"
        + ("   [quick: tiny sizes, numbers not meaningful]" if args.quick else ""))

    t_start = time.perf_counter()
    results = run_workloads(selected, impls, args.quick, repeats, log)
    out = {"threads": {k: v for k, v in threads.items() if not k.startswith("_")}, "quick": args.quick,
           "loadavg_start": os.getloadavg(), "workloads": {}}

    print()
    print(table(results))
    if args.mixed:
        log("\nmixed_bfloat16 rows:")
        mixed = run_mixed(args.quick, rep or (2 if args.quick else 3), log)
        if mixed:
            print()
            print(mixed_table(mixed))
            out["mixed_bfloat16"] = {w: {"results": r["results"]} for w, r in mixed.items()}
    for wid, r in results.items():
        out["workloads"][wid] = {"description": describe(wid, r["spec"]),
                                 "target": target_status(wid, r["results"], results)[0],
                                 "met": target_status(wid, r["results"], results)[1],
                                 "speedup_vs_torch": speedup(wid, r["results"]),
                                 "speedup_vs_torch_fused": speedup(wid, r["results"], peer="torch_fused"),
                                 "results": r["results"]}
        if wid == "W3t":
            out["workloads"][wid]["stderr"] = r["stderr"]
            out["workloads"][wid]["vs_w3"] = vs_w3(results)

    if "W3" in results:
        spec, res = results["W3"]["spec"], results["W3"]["results"]
        flops = spec.flops_per_sample()
        gf = {impl: flops * r["samples_per_s"] / 1e9 for impl, r in res.items()}
        print()
        print(f"W3 training rate (6*B*sum(n_in*n_out) per step = {flops / 1e6:.2f} MFLOP per sample): "
              + ", ".join(f"{impl} {v:.1f} GFLOP/s" for impl, v in gf.items()))
        out["w3_gflops"] = gf
        if not args.no_gemm:
            env = None
            if args.gemm_clean_env:
                env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
            g = run_worker(["gemm"] + (["--quick"] if args.quick else []) + ["--threads", str(args.threads)], env)
            out["gemm"] = g
            frac = gf["fastnn"] / g["best_gflops"]
            kernels = ", ".join(f"{b['lib']} {b['version']} kernel {b['kernel']} x{b['num_threads']}" for b in g["blas"])
            print(f"float32 GEMM rate (NumPy sgemm, best of several, {args.threads} threads): "
                  + ", ".join(f"{n}^2 {v:.1f} GFLOP/s" for n, v in g["gflops"].items())
                  + f"  [{kernels}; OPENBLAS_CORETYPE={g['env']['OPENBLAS_CORETYPE']}, "
                  f"OPENBLAS_L2_SIZE={g['env']['OPENBLAS_L2_SIZE']}]")
            print(f"fastnn W3 = {100 * frac:.1f}% of the GEMM rate (target >= {100 * W3_GEMM_FRACTION:.0f}%: "
                  f"{'yes' if frac >= W3_GEMM_FRACTION else 'NO'})")
            out["w3_gemm_fraction"] = frac
        if not args.no_rss:
            print()
            out["rss"] = {}
            for impl in (["fastnn"] if args.quick else impls):
                r = run_worker(["rss", impl, "--threads", str(args.threads)] + (["--quick"] if args.quick else []),
                               torch_needed=impl.startswith("torch"))
                out["rss"][impl] = r
                mb = 1024 * 1024
                print(f"W3 fit peak RSS {impl:6s}: {r['peak_rss'] / mb:7.1f} MiB (before fit {r['rss_before_fit'] / mb:.1f}"
                      f" MiB, +{(r['peak_rss'] - r['rss_before_fit']) / mb:.1f} MiB during fit); data "
                      f"{r['data_bytes'] / mb:.1f} MiB" + ("" if r["peak_reset"] else " (peak not reset: whole process)"))
    out["loadavg_end"] = os.getloadavg()
    print(f"\nload average at end: {' '.join(f'{v:.2f}' for v in out['loadavg_end'])}; "
          f"total {time.perf_counter() - t_start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
