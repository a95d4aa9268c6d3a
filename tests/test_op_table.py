"""The engine's op table (cpp/fastnn/op_table.hpp) through its generic API: add_op, op_specs, param_specs,
set_trainable, get_weights/set_weights over parameter spans, and the gradient hook between backward and update."""

import numpy as np
import pytest

from fastnn import _core


def net3(dtype="float64", seed=0, **dense0):
    net = _core.Network(dtype, seed)
    net.add_op("dense", 3, 4, {"activation": "tanh", **dense0})
    net.add_op("dropout", 4, 4, {"rate": 0.0})
    net.add_op("dense", 4, 2, {"use_bias": False})
    net.add_op("activation", 2, 2, {"activation": "sigmoid"})
    return net


def data(n=12, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(n, 3), rng.rand(n, 2)


def test_op_kinds_and_specs_describe_the_network():
    assert {"dense", "activation", "dropout"} <= set(_core.op_kinds())
    net = net3()
    ops = net.op_specs()
    assert [o["kind"] for o in ops] == ["dense", "dropout", "dense", "activation"]
    assert [(o["n_in"], o["n_out"]) for o in ops] == [(3, 4), (4, 4), (4, 2), (2, 2)]
    assert ops[1]["training_differs"] and not ops[0]["training_differs"]
    assert ops[0]["args"]["activation"] == "tanh" and ops[1]["args"]["rate"] == 0.0
    specs = net.param_specs()
    assert [(p["op"], p["name"], p["shape"]) for p in specs] == [(0, "kernel", (3, 4)), (0, "bias", (4,)),
                                                                 (2, "kernel", (4, 2))]
    assert [o["params"] for o in ops] == [[0, 1], [], [2], []]
    # The spans tile the flat buffer in order.
    offsets = [p["offset"] for p in specs]
    assert offsets == [0, 12, 16] and sum(p["size"] for p in specs) == net.n_params == 24
    assert all(p["trainable"] and not p["state"] for p in specs)


def test_regularizers_are_recorded_per_tensor():
    net = net3(kernel_l2=0.01, bias_l1=0.5)
    k, b = net.param_specs()[:2]
    assert (k["l1"], k["l2"], b["l1"], b["l2"]) == (0.0, 0.01, 0.5, 0.0)


def test_weights_follow_the_spans():
    net = net3()
    w = [np.arange(12.0).reshape(3, 4), np.arange(4.0)]
    net.set_weights(0, w)
    got = net.get_weights(0)
    assert [g.shape for g in got] == [(3, 4), (4,)]
    np.testing.assert_array_equal(got[0], w[0])
    assert net.get_weights(1) == []
    with pytest.raises(ValueError, match=r"kernel: expected shape \(3, 4\), got shape \(4, 3\)"):
        net.set_weights(0, [np.zeros((4, 3)), np.zeros(4)])
    with pytest.raises(ValueError, match="weights: expected 1 arrays, got 2"):
        net.set_weights(2, [np.zeros((4, 2)), np.zeros(2)])
    np.testing.assert_array_equal(net.get_weights(0)[0], w[0])  # a refused call changes nothing


@pytest.mark.parametrize("kind, n_in, n_out, args, match", [
    ("conv2d", 3, 3, {}, r"op kind: expected one of dense, .*got 'conv2d'"),
    ("dense", 3, 4, {"activaton": "relu"}, r"argument of dense: expected one of .*activation.*got 'activaton'"),
    ("dense", 3, 0, {}, r"units: expected an integer >= 1, got 0"),
    ("dense", 3, 4, {"kernel_l2": -1.0}, r"kernel_l2 \(dense\): expected a finite number >= 0"),
    ("dense", 3, 4, {"kernel_initializer": ("nope", 0, 0)}, r"initializer"),
    ("dense", 3, 4, {"activation": 3j}, r"activation: expected a number, a bool, a str or an initializer"),
    ("activation", 3, 4, {"activation": "relu"}, r"output size of Activation: expected 3 \(its input size\), got 4"),
    ("dropout", 3, 3, {"rate": 1.0}, r"rate \(Dropout\): expected a number in \[0, 1\)"),
    ("dense", 5, 4, {}, r"input size of dense: expected 3 \(the previous layer's output\), got 5"),
])
def test_bad_ops_are_refused_and_change_nothing(kind, n_in, n_out, args, match):
    net = _core.Network("float64", 0)
    net.add_op("dense", 2, 3)
    before = (net.n_ops, net.n_params, [w.copy() for w in net.get_weights(0)])
    with pytest.raises(ValueError, match=match):
        net.add_op(kind, n_in, n_out, args)
    assert (net.n_ops, net.n_params) == before[:2]
    np.testing.assert_array_equal(net.get_weights(0)[0], before[2][0])


@pytest.mark.parametrize("optimizer, config", [
    ("adam", {"weight_decay": 0.1}), ("sgd", {"momentum": 0.9}), ("rmsprop", {"clipnorm": 0.1}),
    ("adamw", {"global_clipnorm": 0.5}), ("adagrad", {"clipvalue": 0.01}),
])
def test_a_frozen_op_keeps_its_weights_bitwise(optimizer, config):
    x, y = data()
    net = net3(kernel_l2=0.1, bias_l1=0.1)
    net.compile("mse", False, optimizer, config, [])
    net.set_trainable(0, False)
    assert [p["trainable"] for p in net.param_specs()] == [False, False, True]
    assert net.op_specs()[0]["trainable"] is False
    frozen = [w.copy() for w in net.get_weights(0)]
    head = net.get_weights(2)[0].copy()
    for _ in range(3):
        net.train_on_batch(x, y)
    for a, b in zip(net.get_weights(0), frozen):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(net.get_weights(2)[0], head)
    net.set_trainable(0, True)
    net.train_on_batch(x, y)
    assert not np.array_equal(net.get_weights(0)[0], frozen[0])


def test_frozen_tensors_add_no_regularization():
    x, y = data()
    plain, reg = net3(), net3(kernel_l2=0.5)
    reg.set_weights(0, plain.get_weights(0))
    reg.set_weights(2, plain.get_weights(2))
    for net in (plain, reg):
        net.compile("mse", False, "sgd", {}, [])
    assert reg.forward_backward(x, y)[0] > plain.forward_backward(x, y)[0] + 1e-3
    reg.set_trainable(0, False)
    assert reg.forward_backward(x, y)[0] == pytest.approx(plain.forward_backward(x, y)[0], rel=1e-12)


def test_the_gradient_hook_sees_the_flat_gradients_before_the_update():
    x, y = data()
    a, b = net3(), net3()
    for net in (a, b):
        net.compile("mse", False, "sgd", {"learning_rate": 0.1}, [])
    seen = []

    def double(g):
        seen.append(g.copy())
        g *= 2.0  # in place: what an allreduce of two equal processes' sums would do

    a._set_gradient_hook(double)
    _, grads = b.forward_backward(x, y)
    a.train_on_batch(x, y)
    assert len(seen) == 1 and seen[0].shape == (a.n_params,)
    np.testing.assert_allclose(seen[0], np.concatenate([g.ravel() for g in grads]), rtol=1e-12)
    # SGD with doubled gradients is SGD with twice the learning rate.
    b.compile("mse", False, "sgd", {"learning_rate": 0.2}, [])
    b.train_on_batch(x, y)
    for i in (0, 2):
        for wa, wb in zip(a.get_weights(i), b.get_weights(i)):
            np.testing.assert_allclose(wa, wb, rtol=1e-12, atol=1e-15)
    a._set_gradient_hook(None)
    a.train_on_batch(x, y)
    assert len(seen) == 1


def test_an_exception_in_the_gradient_hook_reaches_python_and_keeps_the_weights():
    x, y = data()
    net = net3()
    net.compile("mse", False, "sgd", {}, [])

    def boom(g):
        raise RuntimeError("hook failed")

    net._set_gradient_hook(boom)
    before = net.get_weights(0)[0].copy()
    with pytest.raises(RuntimeError, match="hook failed"):
        net.train_on_batch(x, y)
    np.testing.assert_array_equal(net.get_weights(0)[0], before)
    assert not net.training
