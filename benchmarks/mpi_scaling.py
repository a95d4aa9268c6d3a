"""Data-parallel training on paper: a step's allreduce time against its compute, measured here, then a ring-
allreduce model of the speed-up on real networks.

    mpiexec -n 2 python benchmarks/mpi_scaling.py [--json out.json]

Measured with 2 ranks on this machine (one engine thread per rank): for W3 (784-500-10, batch 300) and W4
(784-1024x3-10, batch 256), float32, Adam:
  compute  the time of a training step with a plain optimizer (each rank on its own, at the same time)
  allreduce  the engine's average of the flat gradient buffer over the 2 ranks (fastnn._core.mpi_average, the
           call the gradient hook makes), median of repeats, each after a barrier
  step     the time of a distributed step (DistributedOptimizer): compute + allreduce + waiting
Then, for R ranks, with the ring allreduce T(R) = 2(R-1)/R * bytes / bandwidth + 2(R-1) * latency, the expected
speed-up of R ranks each with the workload's batch (weak scaling, global batch R*B) over one rank:
R * t_compute / (t_compute + T(R)), and the per-rank batch below which the allreduce takes longer than the
compute (b* = T(R) / t_sample). Every check before timing: the distributed weights are the same on both ranks.
"""

import argparse
import json
import statistics
import time

import numpy as np

import fastnn
import fastnn.distributed as fd

WORKLOADS = {"W3": ((500, "relu"), (10, "softmax"), 300), "W4": ((1024, "relu"),) * 3 + ((10, "softmax"), 256)}
# Published figures (line rate; one-way small-message MPI latency), see the README's table notes.
NETWORKS = {"25 Gb/s Ethernet (TCP)": (25e9 / 8, 10e-6), "100 Gb/s InfiniBand EDR": (100e9 / 8, 1e-6)}
RANKS = (2, 8, 32, 128)


def build(layers, distributed):
    fastnn.utils.set_random_seed(0)
    model = fastnn.Sequential([fastnn.layers.Input((784,))] +
                              [fastnn.layers.Dense(u, activation=a) for u, a in layers])
    opt = fastnn.optimizers.Adam(1e-3)
    model.compile(optimizer=fd.DistributedOptimizer(opt) if distributed else opt, loss="categorical_crossentropy")
    return model


def time_steps(model, x, y, batch, repeats):
    model.fit(x[:batch * 2], y[:batch * 2], batch_size=batch, epochs=1, shuffle=False, verbose=0)  # warm-up
    times = []
    for _ in range(repeats):
        fd._world.comm.Barrier()
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        times.append((time.perf_counter() - t0) / (len(x) // batch))
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    fd.init(timeout=600)
    fastnn.set_num_threads(1)
    comm, rank = fd._world.comm, fd.rank()
    results = {}
    for name, spec in WORKLOADS.items():
        *layers, batch = spec
        rng = np.random.default_rng(rank)
        n = batch * args.steps
        x = rng.random((n, 784), dtype=np.float32)
        y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
        local = build(layers, False)
        t_compute = time_steps(local, x, y, batch, args.repeats)
        dist = build(layers, True)
        t_step = time_steps(dist, x, y, batch, args.repeats)
        same = comm.allgather([w.tobytes() for w in dist.get_weights()])
        assert all(s == same[0] for s in same), "the ranks' weights differ"
        buf = np.ones(dist.count_params(), dtype=np.float32)
        spec_f32 = fd.mpi_spec("float32")
        ar = []
        for _ in range(20 * args.repeats):
            comm.Barrier()
            t0 = time.perf_counter()
            fastnn._core.mpi_average(spec_f32, buf)
            ar.append(time.perf_counter() - t0)
        t_allreduce = statistics.median(ar)
        results[name] = {"params": dist.count_params(), "bytes": 4 * dist.count_params(), "batch": batch,
                         "compute_s": comm.allreduce(t_compute) / fd.size(),
                         "step_s": comm.allreduce(t_step) / fd.size(),
                         "allreduce_s": comm.allreduce(t_allreduce) / fd.size()}
    if rank != 0:
        return
    print(f"measured with {fd.size()} ranks, 1 engine thread each (float32, Adam)")
    for name, r in results.items():
        r["ratio"] = r["allreduce_s"] / r["compute_s"]
        print(f"{name}: {r['params']} parameters ({r['bytes'] / 1e6:.2f} MB), batch {r['batch']}: compute "
              f"{1e3 * r['compute_s']:.2f} ms/step, allreduce {1e3 * r['allreduce_s']:.3f} ms "
              f"({100 * r['ratio']:.1f}% of compute), distributed step {1e3 * r['step_s']:.2f} ms")
    table = {}
    for net, (bw, lat) in NETWORKS.items():
        for name, r in results.items():
            t_sample = r["compute_s"] / r["batch"]
            row = {}
            for R in RANKS:
                t_ar = 2 * (R - 1) / R * r["bytes"] / bw + 2 * (R - 1) * lat
                row[R] = {"allreduce_ms": 1e3 * t_ar, "speedup": R * r["compute_s"] / (r["compute_s"] + t_ar),
                          "crossover_batch": t_ar / t_sample}
            table[f"{net} / {name}"] = row
            print(f"{net:26s} {name}: " + "  ".join(
                f"R={R}: x{v['speedup']:.1f} (allreduce {v['allreduce_ms']:.2f} ms, b*={v['crossover_batch']:.0f})"
                for R, v in row.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"measured": results, "model": table}, f, indent=1)


if __name__ == "__main__":
    main()
