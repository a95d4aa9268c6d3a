"""BackupAndRestore (Keras 3 semantics): resume after an exception and after a real SIGKILL of a training process,
ending bitwise equal to an uninterrupted run; backups are atomic and deleted when fit completes."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastnn
from fastnn.callbacks import BackupAndRestore, Callback


def make_model(seed=0):
    fastnn.utils.set_random_seed(seed)
    model = fastnn.Sequential([fastnn.layers.Input((4,)), fastnn.layers.Dense(8, activation="relu"),
                               fastnn.layers.Dropout(0.25), fastnn.layers.Dense(1)])
    model.compile(optimizer=fastnn.optimizers.Adam(0.01), loss="mse")
    return model


RNG = np.random.default_rng(1)
X = RNG.normal(size=(64, 4))
Y = X @ np.array([[1.0], [-2.0], [0.5], [3.0]])


class Interrupt(Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise RuntimeError("Interrupting!")


def test_an_interrupted_fit_resumes_from_its_last_epoch_and_ends_as_an_uninterrupted_one(tmp_path):
    backup = tmp_path / "backup"
    ref = make_model()
    ref.fit(X, Y, epochs=10, batch_size=8, verbose=0)  # shuffled, with dropout: the generators' states matter

    model = make_model()
    with pytest.raises(RuntimeError, match="Interrupting"):
        model.fit(X, Y, epochs=10, batch_size=8, verbose=0, callbacks=[BackupAndRestore(backup), Interrupt(4)])
    meta = json.loads((backup / "training_metadata.json").read_text())
    assert meta["epoch"] == 4
    model = make_model(seed=99)  # a new process would rebuild the model with other weights
    history = model.fit(X, Y, epochs=10, batch_size=8, verbose=0, callbacks=[BackupAndRestore(backup)])
    assert history.epoch == [4, 5, 6, 7, 8, 9]
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == ref.optimizer.iterations
    assert not backup.exists(), "delete_checkpoint=True removes the backup when fit completes"


def test_batch_backups_and_kept_checkpoints(tmp_path):
    backup = tmp_path / "b"
    model = make_model()
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0,
              callbacks=[BackupAndRestore(backup, save_freq=3, delete_checkpoint=False)])
    meta = json.loads((backup / "training_metadata.json").read_text())
    # 8 batches an epoch, a backup every 3: after batches 2, 5 of epoch 0 and 0, 3, 6 of epoch 1.
    assert meta["epoch"] == 1 and meta["batch"] == 6
    files = [f for f in os.listdir(backup) if f.endswith(".fnn")]
    assert files == [meta["file"]], "older backups are removed"
    restored = make_model(seed=5)
    restored.fit(X, Y, epochs=1, verbose=0, callbacks=[BackupAndRestore(backup, save_freq=False,
                                                                         delete_checkpoint=False)])
    assert restored.history.epoch == [], "the backup says epoch 1 of epochs=1 is reached: nothing left to run"


def test_a_damaged_backup_is_refused_or_falls_back_to_the_previous_one(tmp_path):
    backup = tmp_path / "b"
    model = make_model()
    model.fit(X, Y, epochs=3, batch_size=16, verbose=0,
              callbacks=[BackupAndRestore(backup, double_checkpoint=True, delete_checkpoint=False)])
    meta = json.loads((backup / "training_metadata.json").read_text())
    path = backup / meta["file"]
    path.write_bytes(path.read_bytes()[:-10])
    fresh = make_model(seed=3)
    history = fresh.fit(X, Y, epochs=4, batch_size=16, verbose=0,
                        callbacks=[BackupAndRestore(backup, double_checkpoint=True)])
    assert history.epoch == [2, 3], "the previous backup (2 epochs) is used when the last one is damaged"
    (backup_two := tmp_path / "c").mkdir()
    (backup_two / "training_metadata.json").write_text('{"epoch": 1, "file": "../../etc/passwd"}')
    with pytest.raises(ValueError, match="cannot restore the backup"):
        make_model().fit(X, Y, epochs=2, verbose=0, callbacks=[BackupAndRestore(backup_two)])


def test_bad_arguments():
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore("x", save_freq="batch")
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore("x", save_freq=0)
    with pytest.raises(TypeError, match="backup_dir"):
        BackupAndRestore(3)


SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    import fastnn
    backup, out, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
    fastnn.utils.set_random_seed(0)
    model = fastnn.Sequential([fastnn.layers.Input((4,)), fastnn.layers.Dense(16, activation="relu"),
                               fastnn.layers.Dropout(0.25), fastnn.layers.Dense(1)])
    model.compile(optimizer=fastnn.optimizers.Adam(0.01), loss="mse")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(256, 4)); y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]])
    slow = fastnn.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: time.sleep(pause))
    h = model.fit(x, y, epochs=12, batch_size=16, verbose=0,
                  callbacks=[fastnn.callbacks.BackupAndRestore(backup), slow])
    np.savez(out, *model.get_weights(), epochs=np.array(h.epoch))
""")


def run(args, timeout=120):
    # cwd outside the source tree: `python -c` puts the current folder first on sys.path
    return subprocess.run([sys.executable, "-c", SCRIPT, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd="/")


def test_a_sigkilled_training_process_resumes_and_ends_bitwise_equal(tmp_path):
    done = run([tmp_path / "ref_backup", tmp_path / "ref.npz", 0])
    assert done.returncode == 0, done.stderr
    backup = tmp_path / "backup"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(backup), str(tmp_path / "out.npz"), "0.3"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")
    meta = backup / "training_metadata.json"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if meta.exists() and json.loads(meta.read_text())["epoch"] >= 4:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the process ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed_at = json.loads(meta.read_text())["epoch"]
    assert 4 <= killed_at < 12
    resumed = run([backup, tmp_path / "out.npz", 0])
    assert resumed.returncode == 0, resumed.stderr
    ref, out = np.load(tmp_path / "ref.npz"), np.load(tmp_path / "out.npz")
    assert out["epochs"].tolist() == list(range(killed_at, 12))
    weights = [k for k in ref.files if k.startswith("arr_")]
    assert weights
    for k in weights:
        np.testing.assert_array_equal(out[k], ref[k])
    assert not backup.exists()
