"""Example 6: data-parallel training over MPI, Horovod's way, on one machine.

Launch it with two processes (ranks):

    mpiexec -n 2 python examples/06_distributed_mpi.py [--out DIR] [--quick] [--seed S]

Each rank trains on its own half of the data (fastnn.distributed.shard); at every step the engine averages the
ranks' gradients in one allreduce of the flat gradient buffer, between backward and update, so the ranks apply the
same update and keep the same weights. The walk-through shows:

1. the ranks and what each one holds (local_rank, local_size: the processes on this machine);
2. a fit with Horovod's callbacks: BroadcastGlobalVariablesCallback(0) starts every rank from rank 0's weights,
   MetricAverageCallback and fit give callbacks the metrics of the whole data, BackupAndRestore and
   ModelCheckpoint write their files from rank 0 only, and EarlyStopping stops every rank at the same epoch;
3. the check that the weights are bitwise the same on every rank;
4. the equivalence: with R ranks of batch b, the weights equal those of one process trained with batch R*b on
   the whole data (same seed, no shuffling), to float rounding (shown in float64 over a few epochs).

`mpiexec` comes with the mpich wheel: pip install "fastnn-cpp[mpi]" (mpich + mpi4py). Run without mpiexec, the
script trains on one rank and the comparison is trivially exact.
"""

import os

import numpy as np

from _common import Run, section

import fastnn
import fastnn.distributed as fd
from fastnn.layers import Dense, Input


def spirals(n, seed):
    """Two interleaved spirals in the plane (labels 0/1), the same arrays on every rank (seeded)."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.random(n)) * 2 * np.pi
    label = rng.integers(0, 2, n)
    sign = np.where(label == 1, 1.0, -1.0)
    x = np.stack([sign * t * np.cos(t), sign * t * np.sin(t)], axis=1) / 7 + 0.02 * rng.normal(size=(n, 2))
    return x.astype(np.float32), label.astype(np.float32).reshape(-1, 1)


def build(seed, dtype="float32"):
    fastnn.utils.set_random_seed(seed)
    return fastnn.Sequential([Input((2,)), Dense(32, activation="tanh"), Dense(32, activation="tanh"),
                              Dense(1, activation="sigmoid")], dtype=dtype)


def main(argv=None):
    fd.init(timeout=120)
    rank, size = fd.rank(), fd.size()
    chief = rank == 0
    run = Run("06_distributed_mpi", __doc__.splitlines()[0], argv) if chief else None
    args_seed = run.args.seed if chief else 0
    args_seed = fd.broadcast(args_seed, 0)
    quick = fd.broadcast(run.quick if chief else None, 0)
    out = fd.broadcast(run.out if chief else None, 0)
    say = print if chief else (lambda *a, **k: None)

    section_ = section if chief else (lambda title: None)
    section_(f"1. {size} ranks")
    here = fd._world.comm.gather((rank, fd.local_rank(), fd.local_size(), os.getpid()), root=0)
    for r, lr, ls, pid in here or []:
        say(f"rank {r}: local rank {lr} of {ls} on this machine, pid {pid}")

    n = 1200 if quick else 4000
    x, y = spirals(n, seed=args_seed)
    xs, ys = fd.shard(x, y)
    say(f"{n} samples, {len(xs)} per rank (rows rank, rank+{size}, ...): each rank trains on different rows")

    section_("2. fit with Horovod's callbacks")
    b = 16
    epochs = 30 if quick else 120
    model = build(seed=args_seed + rank)  # different initial weights on each rank: the broadcast fixes that
    model.compile(optimizer=fd.DistributedOptimizer(fastnn.optimizers.Adam(0.05)), loss="binary_crossentropy",
                  metrics=["accuracy"])
    backup = os.path.join(out, "06_backup")
    callbacks = [fd.callbacks.BroadcastGlobalVariablesCallback(0), fd.callbacks.MetricAverageCallback(),
                 fastnn.callbacks.EarlyStopping(monitor="loss", patience=10, min_delta=1e-4),
                 fastnn.callbacks.ModelCheckpoint(os.path.join(out, "06_model.fnn"), monitor="loss",
                                                  save_best_only=True),
                 fastnn.callbacks.BackupAndRestore(backup)]
    history = model.fit(xs, ys, batch_size=b, epochs=epochs, shuffle=False, callbacks=callbacks,
                        verbose=2 if chief else 0)
    say(f"epochs run: {len(history.epoch)}; last loss {history.history['loss'][-1]:.4f}, "
        f"accuracy {history.history['accuracy'][-1]:.3f} (averaged over the ranks, the same on each)")

    section_("3. the same weights on every rank")
    weights = model.get_weights()
    gathered = fd._world.comm.gather([w.tobytes() for w in weights], root=0)
    same = fd.broadcast(all(g == gathered[0] for g in gathered) if chief else None, 0)
    say(f"weights bitwise equal on all {size} ranks: {same}")

    section_(f"4. {size} ranks of batch {b} = one process of batch {size * b}")
    # A short float64 run from the same start: the two differ only by the order of the sums. (Over hundreds of
    # steps such rounding differences grow, as between any two builds of one program: training is chaotic.)
    steps = 3
    dist = build(seed=args_seed, dtype="float64")
    dist.compile(optimizer=fd.DistributedOptimizer(fastnn.optimizers.Adam(0.05)), loss="binary_crossentropy")
    dist_history = dist.fit(xs, ys, batch_size=b, epochs=steps, shuffle=False, verbose=0)
    ref = build(seed=args_seed, dtype="float64")
    ref.compile(optimizer=fastnn.optimizers.Adam(0.05), loss="binary_crossentropy")
    n_used = n - n % size
    ref_history = ref.fit(x[:n_used], y[:n_used], batch_size=size * b, epochs=steps, shuffle=False, verbose=0)
    diff = max(float(np.max(np.abs(a - r))) for a, r in zip(dist.get_weights(), ref.get_weights()))
    say(f"after {steps} epochs ({steps * (len(xs) // b + (len(xs) % b > 0))} steps), float64: largest weight "
        f"difference {diff:.1e}; epoch losses {np.round(dist_history.history['loss'], 6).tolist()} and "
        f"{np.round(ref_history.history['loss'], 6).tolist()}")

    if chief:
        import matplotlib.pyplot as plt

        run.results.update(ranks=size, epochs=len(history.epoch), loss=history.history["loss"][-1],
                           accuracy=history.history["accuracy"][-1], same_weights=bool(same),
                           max_weight_difference=diff, checkpoint=os.path.exists(os.path.join(out, "06_model.fnn")),
                           backup_deleted=not os.path.exists(backup))
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(history.history["loss"], label=f"{size} ranks, batch {b} each (averaged over the ranks)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("binary cross-entropy")
        ax.set_yscale("log")
        ax.set_title("Data-parallel training on two spirals")
        ax.legend()
        run.save(fig, "06_loss.png")
        run.finish()


if __name__ == "__main__":
    main()
