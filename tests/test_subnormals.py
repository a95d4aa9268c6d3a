"""Subnormal floats (issue 12): the engine's threads flush them to zero while it runs, the caller's floating-point
state (MXCSR) is restored after every call, fastnn.config.set_flush_denormals(False) turns it off, and subnormal
inputs, weights and optimizer states give results within the reference tolerances (tests/conftest.py).

MXCSR bits: 15 flush-to-zero (FTZ), 6 denormals-are-zero (DAZ). Read through test-only probes of fastnn._core.
"""

import numpy as np
import pytest

import fastnn
import reference as ref
from conftest import assert_close

_core = fastnn._core
FTZ_DAZ = 0x8040
TINY = 1e-40  # subnormal in float32 (the smallest normal is 1.18e-38)
on_x86 = pytest.mark.skipif(_core._mxcsr() == 0, reason="no MXCSR on this CPU")


@pytest.fixture
def two_threads():
    before, flush = fastnn.get_num_threads(), fastnn.config.flush_denormals()
    fastnn.set_num_threads(2)
    yield
    fastnn.set_num_threads(before)
    fastnn.config.set_flush_denormals(flush)


def sprinkle(a, rng, fraction=0.2):
    """A copy of `a` with a fraction of its entries replaced by +-TINY (exact in float32)."""
    a = np.array(a, dtype=np.float32)
    hit = rng.random(a.shape) < fraction
    a[hit] = np.float32(TINY) * np.sign(rng.normal(size=int(hit.sum()))).astype(np.float32)
    assert np.all(np.abs(a[hit]) < np.finfo(np.float32).tiny)  # really subnormal
    return a


def engine_net(layers, params, optimizer="adam", opt_config=None):
    net = _core.Network(dtype="float32", seed=0)
    for layer in layers:
        net.add_op("dense", layer.n_in, layer.n_out, {"activation": layer.activation})
    net.compile(loss="categorical_crossentropy", from_logits=False, optimizer=optimizer,
                opt_config=opt_config or {}, metrics=[])
    for i in range(len(layers)):
        net.set_weights(i, [np.asarray(params[2 * i], np.float32), np.asarray(params[2 * i + 1], np.float32)])
    return net


def engine_params(net, layers):
    out = []
    for i in range(len(layers)):
        out += [np.asarray(w, np.float64) for w in net.get_weights(i)]
    return out


# a GEMM-path network (threaded products) and a small one (the feature-major path)
NETS = {"gemm": [ref.Dense(300, 64, "relu"), ref.Dense(64, 10, "softmax")],
        "small": [ref.Dense(6, 8, "tanh"), ref.Dense(8, 3, "softmax")]}


@pytest.mark.parametrize("arch", sorted(NETS))
@pytest.mark.parametrize("where", ["inputs", "weights"])
def test_subnormal_inputs_and_weights_match_the_reference(two_threads, arch, where):
    layers = NETS[arch]
    rng = np.random.default_rng(4)
    params = [rng.normal(scale=0.3, size=s).astype(np.float32) for s in ref.param_shapes(layers)]
    x = rng.normal(size=(96, layers[0].n_in)).astype(np.float32)
    if where == "inputs":
        x = sprinkle(x, rng)
        x[:, 0] = np.float32(TINY)  # and a feature that is subnormal in every sample
    else:
        params = [sprinkle(p, rng) for p in params]
    params = [p.astype(np.float64) for p in params]
    y = ref.example_targets("categorical_crossentropy", rng, len(x), layers[-1].n_out).astype(np.float32)
    net = engine_net(layers, params)
    assert_close(net.predict(x, batch_size=40), ref.forward(layers, params, x), "float32", "forward")
    value, grads = net.forward_backward(x, y)
    expected_value, expected_grads = ref.loss_and_grads(layers, params, x, y, "categorical_crossentropy")
    assert_close(value, expected_value, "float32", "forward")
    for g, e in zip(grads, expected_grads):
        assert_close(g, e, "float32", "backward")
    weights, _ = ref.train(layers, params, [(x, y)] * 3, "categorical_crossentropy", "adam")
    for _ in range(3):
        net.train_on_batch(x, y)
    for g, e in zip(engine_params(net, layers), weights[-1]):
        assert_close(g, e, "float32", "trajectory")


@pytest.mark.parametrize("arch", sorted(NETS))
def test_subnormal_adam_moments_match_the_reference(two_threads, arch):
    # Adam's moments of weights whose gradient stays zero decay into the subnormal range: start from there.
    layers = NETS[arch]
    rng = np.random.default_rng(5)
    params = [rng.normal(scale=0.3, size=s).astype(np.float32).astype(np.float64) for s in ref.param_shapes(layers)]
    x = rng.normal(size=(64, layers[0].n_in)).astype(np.float32)
    x[:, :3] = 0  # these inputs' weights get zero gradients: their moments only decay
    y = ref.example_targets("categorical_crossentropy", rng, len(x), layers[-1].n_out).astype(np.float32)
    net = engine_net(layers, params)
    n = sum(p.size for p in params)
    m = rng.normal(scale=1e-3, size=n).astype(np.float32)
    v = (10 * m.astype(np.float64) ** 2).astype(np.float32)
    tiny = rng.random(n) < 0.5  # both moments decayed into the subnormal range
    m[tiny] = np.float32(TINY) * np.sign(m[tiny])
    v[tiny] = np.float32(TINY)
    net.set_optimizer_state({"iterations": 50, "u_product": 1.0, "slots": [m, v, np.zeros(n, np.float32)]})
    opt = ref.make_optimizer("adam")
    opt.iterations = 50
    opt.state, k = [], 0
    for p in params:
        opt.state.append({"m": m[k:k + p.size].astype(np.float64).reshape(p.shape),
                          "v": v[k:k + p.size].astype(np.float64).reshape(p.shape), "vhat": np.zeros(p.shape)})
        k += p.size
    expected = [p.copy() for p in params]
    for _ in range(3):
        _, grads = ref.loss_and_grads(layers, expected, x, y, "categorical_crossentropy")
        opt.step(expected, grads)
        net.train_on_batch(x, y)
    for g, e in zip(engine_params(net, layers), expected):
        assert_close(g, e, "float32", "trajectory")


def linear_model():
    # 512 x 256 @ 256 x 64: a product split across the threads
    model = fastnn.Sequential([fastnn.layers.Dense(64, use_bias=False, kernel_initializer="ones", input_shape=(256,))])
    model.compile(optimizer="adam", loss="mse")
    return model


@on_x86
def test_engine_threads_flush_subnormals_and_the_switch_turns_it_off(two_threads):
    model = linear_model()
    x = np.full((512, 256), 1e-39, np.float32)  # subnormal
    fastnn.config.set_flush_denormals(True)
    assert fastnn.config.flush_denormals()
    # DAZ in every thread of the split product: every row, whichever thread computed it, is exactly 0
    assert np.all(model.predict(x, batch_size=512, verbose=0) == 0)
    fastnn.config.set_flush_denormals(False)
    assert not fastnn.config.flush_denormals()
    out = model.predict(x, batch_size=512, verbose=0)
    np.testing.assert_allclose(out, 256 * np.float64(np.float32(1e-39)), rtol=1e-5)


@on_x86
def test_the_callers_floating_point_state_is_unchanged(two_threads):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 300)).astype(np.float32)
    y = rng.integers(0, 10, size=600)
    model = fastnn.Sequential([fastnn.layers.Dense(64, activation="relu", input_shape=(300,)),
                               fastnn.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = _core._mxcsr()
    assert before & FTZ_DAZ == 0  # Python's default: IEEE gradual underflow
    workers_before = _core._team_mxcsr()
    for flush_state in (before, before | FTZ_DAZ):  # a caller without and with FTZ/DAZ of its own
        _core._set_mxcsr(flush_state)
        try:
            model.fit(x, y, epochs=1, batch_size=100, verbose=0)
            model.train_on_batch(x[:100], y[:100])
            model.evaluate(x, y, verbose=0)
            model.predict(x, verbose=0)
            model.predict(x[:1], verbose=0)
            after = _core._mxcsr()
        finally:
            _core._set_mxcsr(before)
        assert after == flush_state, (hex(after), hex(flush_state))
    # and the OpenMP workers are back to the state they had
    assert _core._team_mxcsr() == workers_before
