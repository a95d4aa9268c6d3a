"""Data-parallel training under mpiexec (R >= 2 ranks): equivalence with one process, weights equal on every rank
after every step, decisions taken together, rank 0 alone writing files, Horovod's helpers and callbacks."""

import os

import numpy as np
import pytest

import fastnn
import fastnn.distributed as fd
from conftest import assert_close

fd.init(timeout=60)
COMM = fd._world.comm
R, RANK = fd.size(), fd.rank()
if R < 2:
    pytest.skip("tests/mpi runs under an MPI launcher with 2 ranks or more: mpiexec -n 2 pytest tests/mpi",
                allow_module_level=True)


def make_model(dtype, seed=3, dropout=0.0):
    fastnn.utils.set_random_seed(seed)
    layers = [fastnn.layers.Input((6,)), fastnn.layers.Dense(12, activation="tanh")]
    if dropout:
        layers.append(fastnn.layers.Dropout(dropout))
    layers.append(fastnn.layers.Dense(3, activation="softmax"))
    return fastnn.Sequential(layers, dtype=dtype)


def data(n=100, seed=0):
    rng = np.random.default_rng(seed)  # the same on every rank: each takes its shard
    x = rng.normal(size=(n, 6))
    y = fastnn.utils.to_categorical(rng.integers(0, 3, size=n), 3)
    return x, y


def same_on_every_rank(arrays):
    """True when every rank holds bitwise the same arrays."""
    mine = [np.ascontiguousarray(a) for a in arrays]
    all_ = COMM.allgather(mine)
    return all(len(o) == len(mine) and all(np.array_equal(a, b) for a, b in zip(o, mine)) for o in all_)


class StepCheck(fastnn.callbacks.Callback):
    """After every step: the weights are the same on every rank (a per-batch Python hook, so the engine runs one
    batch per call: the allreduce must still happen inside each step)."""

    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        assert same_on_every_rank(self.model.get_weights()), f"weights differ across ranks after step {self.steps}"
        self.steps += 1


OPTIMIZERS = {"sgd": lambda: fastnn.optimizers.SGD(0.1, momentum=0.9),
              "adam": lambda: fastnn.optimizers.Adam(0.01)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("per_batch", [False, True], ids=["engine-loop", "python-per-batch"])
def test_r_ranks_of_batch_b_equal_one_process_of_batch_rb(dtype, opt, per_batch):
    b, epochs = 8, 3
    x, y = data(n=100)  # 100 = 2 ranks * 50 rows: 6 full global batches of 16 and a last partial one of 4
    n_used = len(x) - len(x) % R
    ref = make_model(dtype)
    ref.compile(optimizer=OPTIMIZERS[opt](), loss="categorical_crossentropy")
    h_ref = ref.fit(x[:n_used], y[:n_used], batch_size=R * b, epochs=epochs, shuffle=False, verbose=0)

    model = make_model(dtype)
    model.compile(optimizer=fd.DistributedOptimizer(OPTIMIZERS[opt]()), loss="categorical_crossentropy")
    xs, ys = fd.shard(x, y)
    assert not same_on_every_rank([xs]), "every rank must train on different rows"
    check = StepCheck()
    h = model.fit(xs, ys, batch_size=b, epochs=epochs, shuffle=False, verbose=0,
                  callbacks=[check] if per_batch else None)
    if per_batch:
        assert check.steps == epochs * -(-len(xs) // b)
    assert same_on_every_rank(model.get_weights())
    for w, w_ref in zip(model.get_weights(), ref.get_weights()):
        assert_close(w, w_ref, dtype, "trajectory")
    assert_close(h.history["loss"], h_ref.history["loss"], dtype, "trajectory")
    assert same_on_every_rank([np.array(h.history["loss"])])


def test_shuffled_training_keeps_ranks_in_step():
    x, y = data(n=96)
    model = make_model("float32", dropout=0.2)
    model.compile(optimizer=fd.DistributedOptimizer("adam"), loss="categorical_crossentropy", metrics=["accuracy"])
    xs, ys = fd.shard(x, y)
    h = model.fit(xs, ys, batch_size=7, epochs=2, shuffle=True, verbose=0, callbacks=[StepCheck()])
    assert same_on_every_rank(model.get_weights())
    assert same_on_every_rank([np.array(h.history["loss"]), np.array(h.history["accuracy"])])


@pytest.mark.parametrize("per_batch", [False, True], ids=["engine-loop", "python-per-batch"])
def test_a_non_finite_loss_on_one_rank_stops_every_rank_at_the_same_step(per_batch):
    x, y = data(n=80)
    xs, ys = fd.shard(x, y)
    ys = ys.copy()
    if RANK == R - 1:
        ys[13] = np.nan  # this rank's loss is NaN at its batch 3 (rows 12..15) of epoch 0
    model = make_model("float32")
    model.compile(optimizer=fd.DistributedOptimizer(fastnn.optimizers.SGD(0.05)), loss="mse")
    before = None

    class Keep(fastnn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            nonlocal before
            if batch == 2:
                before = self.model.get_weights()

    cbs = [fastnn.callbacks.TerminateOnNaN()] + ([Keep()] if per_batch else [])
    fastnn.config.set_check_finite(False)
    try:
        h = model.fit(xs, ys, batch_size=4, epochs=5, shuffle=False, verbose=0, callbacks=cbs)
    finally:
        fastnn.config.set_check_finite(True)
    assert same_on_every_rank(model.get_weights())
    assert all(np.isfinite(w).all() for w in model.get_weights())
    lengths = COMM.allgather(len(h.history["loss"]))
    assert lengths == [1] * R, f"every rank must stop in epoch 0, got history lengths {lengths}"
    if per_batch:  # the step of batch 3 was not applied on any rank
        for w, w0 in zip(model.get_weights(), before):
            np.testing.assert_array_equal(w, w0)


def test_callbacks_see_global_metrics_and_decide_together():
    x, y = data(n=120, seed=5)
    xs, ys = fd.shard(x, y)
    xv, yv = data(n=40, seed=6)
    xvs, yvs = fd.shard(xv, yv)
    seen = []
    model = make_model("float64")
    model.compile(optimizer=fd.DistributedOptimizer(fastnn.optimizers.Adam(0.05)), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    es = fastnn.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=1e-3)
    plateau = fastnn.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=0, factor=0.5, min_delta=1e-3)
    record = fastnn.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(dict(logs)))
    h = model.fit(xs, ys, batch_size=6, epochs=40, verbose=0, validation_data=(xvs, yvs),
                  callbacks=[record, es, plateau])
    # Every rank saw the same logs, the average of the ranks' local values.
    all_seen = COMM.allgather(seen)
    assert all(s == seen for s in all_seen)
    local = model.evaluate(xvs, yvs, verbose=0, return_dict=True)
    assert_close(seen[-1]["val_loss"], fd.allreduce(local["loss"]), "float64", "forward")
    assert len(h.history["loss"]) < 40, "EarlyStopping should have stopped this run"
    assert COMM.allgather(es.stopped_epoch) == [es.stopped_epoch] * R
    assert COMM.allgather(model.optimizer.learning_rate) == [model.optimizer.learning_rate] * R
    assert model.optimizer.learning_rate < 0.05
    assert same_on_every_rank([np.array(h.history["val_loss"])])


def test_rank_0_alone_writes_checkpoints_and_logs(tmp_path_factory):
    base = tmp_path_factory.mktemp(f"rank{RANK}")
    x, y = data(n=40)
    xs, ys = fd.shard(x, y)
    model = make_model("float32")
    model.compile(optimizer=fd.DistributedOptimizer("sgd"), loss="categorical_crossentropy")
    model.fit(xs, ys, batch_size=5, epochs=2, verbose=0,
              callbacks=[fastnn.callbacks.ModelCheckpoint(str(base / "ckpt.fnn"), monitor="loss"),
                         fastnn.callbacks.CSVLogger(str(base / "log.csv"))])
    assert (base / "ckpt.fnn").exists() == (RANK == 0)
    assert (base / "log.csv").exists() == (RANK == 0)
    if RANK == 0:
        restored = fastnn.models.load_model(str(base / "ckpt.fnn"))
        for a, b in zip(restored.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_broadcast_global_variables_starts_every_rank_from_rank_0():
    x, y = data(n=40)
    xs, ys = fd.shard(x, y)
    pre = make_model("float32", seed=100 + RANK)  # different initial weights on each rank
    pre.compile(optimizer="adam", loss="categorical_crossentropy")
    assert not same_on_every_rank(pre.get_weights())
    if RANK == 0:
        pre.fit(x, y, epochs=1, verbose=0)  # rank 0 alone has optimizer state
    model = make_model("float32", seed=100 + RANK)
    model.set_weights(pre.get_weights())
    model.compile(optimizer=fd.DistributedOptimizer(fastnn.optimizers.Adam(1e-3 * (1 + RANK))),
                  loss="categorical_crossentropy")
    model._net.set_optimizer_state(pre._net.get_optimizer_state())
    cb = fd.callbacks.BroadcastGlobalVariablesCallback(0)
    model.fit(xs, ys, batch_size=5, epochs=1, verbose=0, callbacks=[cb, StepCheck()])
    assert cb.broadcast_done
    assert same_on_every_rank(model.get_weights())
    state = model._net.get_optimizer_state()
    assert same_on_every_rank(state["slots"])
    assert COMM.allgather(state["iterations"]) == [state["iterations"]] * R
    assert COMM.allgather(model.optimizer.learning_rate) == [model.optimizer.learning_rate] * R


def test_helpers():
    assert 0 <= fd.local_rank() < fd.local_size() <= R
    assert fd.allreduce(float(RANK), average=False) == sum(range(R))
    assert fd.allreduce(np.float32(RANK + 1)) == pytest.approx((R + 1) / 2)
    v = fd.allreduce(np.arange(3) * (RANK + 1), average=False)
    np.testing.assert_array_equal(v, np.arange(3) * sum(range(1, R + 1)))
    a = fd.broadcast(np.full((2, 3), RANK, dtype=np.float32), root_rank=R - 1)
    assert a.dtype == np.float32 and (a == R - 1).all()
    assert fd.broadcast({"rank": RANK}, root_rank=0) == {"rank": 0}
    np.testing.assert_array_equal(fd.allgather(np.array([RANK, RANK])), np.repeat(np.arange(R), 2))
    assert fd.cross_size() * fd.local_size() == R and 0 <= fd.cross_rank() < fd.cross_size()
    x = np.arange(11)
    parts = COMM.allgather(fd.shard(x))
    assert [len(p) for p in parts] == [11 // R] * R
    assert sorted(np.concatenate(parts).tolist()) == list(range(11 - 11 % R))


def test_unequal_shards_are_refused_on_every_rank():
    x, y = data(n=41)
    n = 20 if RANK == 0 else 21
    model = make_model("float32")
    model.compile(optimizer=fd.DistributedOptimizer("sgd"), loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit(x[:n], y[:n], batch_size=5, verbose=0)


def test_the_engine_allreduce_averages_a_buffer():
    spec = fd.mpi_spec("float64")
    buf = np.full(1000, float(RANK + 1))
    fastnn._core.mpi_average(spec, buf)
    np.testing.assert_array_equal(buf, np.full(1000, (R + 1) / 2))
    buf32 = np.full(7, float(RANK), dtype=np.float32)
    fastnn._core.mpi_average(fd.mpi_spec("float32"), buf32)
    assert_close(buf32, np.full(7, (R - 1) / 2), "float32", "forward")


def test_op_sum_adds_the_ranks_gradients():
    # Summed gradients with SGD(lr) are averaged gradients with SGD(R * lr).
    x, y = data(n=40)
    xs, ys = fd.shard(x, y)
    a, b = make_model("float64"), make_model("float64")
    a.compile(optimizer=fd.DistributedOptimizer(fastnn.optimizers.SGD(0.01), op=fd.Sum), loss="mse")
    b.compile(optimizer=fd.DistributedOptimizer(fastnn.optimizers.SGD(0.01 * R)), loss="mse")
    a.fit(xs, ys, batch_size=5, epochs=2, shuffle=False, verbose=0)
    b.fit(xs, ys, batch_size=5, epochs=2, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert_close(wa, wb, "float64", "trajectory")
    with pytest.raises(ValueError, match="op: expected"):
        fd.DistributedOptimizer("sgd", op="max")


def test_rank_0_alone_draws_the_progress_bar_and_the_ranks_stay_in_step(capsys):
    # Rank 0 runs chunks of batches between progress updates, the others whole epochs: the same steps.
    x, y = data(n=64)
    xs, ys = fd.shard(x, y)
    ref = make_model("float64")
    ref.compile(optimizer=fastnn.optimizers.Adam(0.01), loss="categorical_crossentropy")
    ref.fit(x, y, batch_size=4 * R, epochs=2, shuffle=False, verbose=0)
    model = make_model("float64")
    model.compile(optimizer=fd.DistributedOptimizer(fastnn.optimizers.Adam(0.01)), loss="categorical_crossentropy")
    model.fit(xs, ys, batch_size=4, epochs=2, shuffle=False, verbose=1)
    out = capsys.readouterr().out
    assert ("Epoch 2/2" in out) == (RANK == 0) and (out == "") == (RANK != 0)
    assert same_on_every_rank(model.get_weights())
    for w, w_ref in zip(model.get_weights(), ref.get_weights()):
        assert_close(w, w_ref, "float64", "trajectory")


def test_training_metrics_come_from_the_merged_states_of_every_rank():
    # Learning rate 0: the weights stay put, so the epoch's metrics are those of the fixed model on all the data.
    # AUC, precision and recall are not means of per-rank values: they must come from summed states.
    rng = np.random.default_rng(7)
    x = rng.normal(size=(256, 6))
    y = (x[:, 0] + 0.5 * rng.normal(size=256) > 0).astype(np.float64)
    metrics = ["auc", fastnn.metrics.Precision(name="precision"), fastnn.metrics.Recall(name="recall")]

    def model():
        fastnn.utils.set_random_seed(5)
        m = fastnn.Sequential([fastnn.layers.Input((6,)), fastnn.layers.Dense(1, activation="sigmoid")])
        return m

    whole = model()
    whole.compile(fastnn.optimizers.SGD(0.0), "binary_crossentropy", metrics=metrics)
    expected = whole.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    dist_model = model()
    dist_model.compile(fd.DistributedOptimizer(fastnn.optimizers.SGD(0.0)), "binary_crossentropy", metrics=metrics)
    xs, ys = fd.shard(x, y)
    logs = dist_model.fit(xs, ys, batch_size=32 // R, epochs=1, shuffle=False, verbose=0).history
    for name in ("auc", "precision", "recall", "loss"):
        assert abs(logs[name][0] - expected[name]) < 1e-6, (name, logs[name][0], expected[name])
    # the per-rank values differ from the whole data's: averaging them would not give these numbers
    mine = model()
    mine.compile(fastnn.optimizers.SGD(0.0), "binary_crossentropy", metrics=metrics)
    local = mine.evaluate(xs, ys, batch_size=16, verbose=0, return_dict=True)
    spread = COMM.allgather(local["auc"])
    assert max(spread) - min(spread) > 1e-4
