"""Engine guards found in review: no change to a network while it trains, metrics that match the targets'
layout, index and size checks on the low-level calls, and Keras's fans for 1-D (bias) initializers."""

import threading
import time

import numpy as np
import pytest

from fastnn import _core


def _net(n_in=8, hidden=32, n_out=1, loss="mse", metrics=(), seed=0):
    net = _core.Network("float32", seed)
    net.add_op("dense", n_in, hidden, {"activation": "relu"})
    net.add_op("dense", hidden, n_out, {"activation": "linear" if loss == "mse" else "softmax"})
    net.compile(loss, False, "adam", {}, list(metrics))
    return net


def test_network_cannot_be_changed_while_it_trains():
    net = _net()
    x = np.random.RandomState(0).rand(512, 8).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    errors = []

    def meddle():
        deadline = time.time() + 5
        while not net.training and time.time() < deadline:
            time.sleep(0.0005)
        for call in (lambda: net.compile("mse", False, "sgd", {}, []), lambda: net.add_op("dense", 1, 1),
                     lambda: net.set_rng_state(net.get_rng_state()), lambda: net._set_layout(0),
                     lambda: net.begin_epoch(512, True, 32)):
            try:
                call()
            except RuntimeError as e:
                errors.append(str(e))

    t = threading.Thread(target=meddle)
    t.start()
    status, logs, exc = net.train_epochs(x, y, None, 16, True, 400, False)
    t.join()
    assert status == 0 and exc is None and len(logs) == 400 and np.isfinite(logs[-1][0])
    assert len(errors) == 5 and all("being trained" in e for e in errors)
    assert net.n_ops == 2  # nothing was added


def test_metrics_must_match_the_target_layout():
    with pytest.raises(ValueError, match="metric 'mae'.*sparse_categorical_crossentropy"):
        _net(n_out=4, loss="sparse_categorical_crossentropy", metrics=["mae"])
    with pytest.raises(ValueError, match="metric 'sparse_categorical_accuracy'.*integer class labels"):
        _net(n_out=4, loss="categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    _net(n_out=4, loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])  # fine


def test_batch_range_is_checked():
    net = _net()
    x = np.zeros((64, 8), np.float32)
    y = np.zeros((64, 1), np.float32)
    net.begin_epoch(64, False, 16)
    with pytest.raises(ValueError, match="first batch"):
        net.train_batches(x, y, None, 16, -2, 4, False, False)


def test_empty_and_columnless_inputs_are_refused():
    net = _net()
    with pytest.raises(ValueError, match="at least one sample"):
        net.forward_backward(np.zeros((0, 8), np.float32), np.zeros((0, 1), np.float32))
    with pytest.raises(ValueError, match="at least one column"):
        _core.activation_forward("softmax", np.zeros((3, 0)))
    with pytest.raises(ValueError, match="at least one column"):
        _core.loss_forward("categorical_crossentropy", np.zeros((3, 0)), np.zeros((3, 0)), None, True)


def test_bias_initializers_use_keras_fans():
    # A 1-D shape (n,) has fan_in = fan_out = n: he_uniform's limit is sqrt(6 / n).
    net = _core.Network("float64", 3)
    net.add_op("dense", 5, 100, {"activation": "relu", "bias_initializer": ("he_uniform", 0, 0)})
    bias = net.get_weights(0)[1]
    assert np.abs(bias).max() <= np.sqrt(6 / 100)
    assert np.abs(bias).max() > 0.5 * np.sqrt(6 / 100)  # and it is that distribution, not a narrower one
