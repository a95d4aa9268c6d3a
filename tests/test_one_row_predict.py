"""Predictions of one sample (the latency path of cpp/fastnn/dense.hpp and cpp/fastnn/bf16_infer.cpp) against
the batched path and tests/reference.py.

float32 and float64: every path sums each output over its inputs in order and then adds the bias, so one row
predicted alone equals the same row predicted in a batch, bit for bit, at any thread count.
mixed_bfloat16: one row is multiplied from the network's bfloat16 copy of its kernels, made once per weight
change; it must follow every change (set_weights, train_on_batch, fit, load) and agree with the reference's
bfloat16 products."""

import threading

import numpy as np
import pytest

import fastnn
import reference as ref
from conftest import assert_close
from fastnn import dtype_policies, layers

HAVE_BF16 = dtype_policies.bf16_available()
needs_bf16 = pytest.mark.skipif(not HAVE_BF16, reason="no bfloat16 products on this CPU (the fallback is tested in "
                                                       "test_bf16_kernels.py)")

# (inputs, hidden widths, outputs): widths with partial vectors and pieces (37, 237, 500, 1000), odd inputs (301:
# a zero-padded last pair), products above and below the engine's one-row threshold (64k multiply-adds).
SHAPES = [(784, (500,), 10), (301, (237, 1000), 37), (13, (10,), 1), (96, (64,), 3)]


@pytest.fixture
def threads():
    before = fastnn.get_num_threads()
    yield
    fastnn.set_num_threads(before)


def _model(n_in, hidden, n_out, policy=None, dtype="float32", seed=0, acts=("relu", None)):
    fastnn.utils.set_random_seed(seed)
    fastnn.config.set_floatx(dtype)
    try:
        model = fastnn.Sequential([layers.Input(shape=(n_in,))] +
                                  [layers.Dense(w, activation=acts[0], dtype=policy) for w in hidden] +
                                  [layers.Dense(n_out, activation=acts[1], dtype=policy)])
        model.compile(optimizer="adam", loss="mse")
        model.predict(np.zeros((1, n_in), dtype), verbose=0)
    finally:
        fastnn.config.set_floatx("float32")
    return model


def _reference(model, x, n_in, hidden, n_out):
    widths = (n_in,) + tuple(hidden) + (n_out,)
    refs = [ref.Dense(a, b, "relu") for a, b in zip(widths[:-2], widths[1:-1])] + [ref.Dense(widths[-2], widths[-1])]
    return ref.forward(refs, [w.astype(np.float64) for w in model.get_weights()], x.astype(np.float64))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_in,hidden,n_out", SHAPES)
def test_one_row_equals_its_row_of_a_batch_bitwise(threads, dtype, n_in, hidden, n_out):
    # (the batch goes through the blocked product with bias and activation as its epilogue, one row through the
    # register-blocked row product and a pass)
    model = _model(n_in, hidden, n_out, dtype=dtype)
    x = np.random.default_rng(n_in).standard_normal((40, n_in)).astype(dtype)
    for n in (1, 2):
        fastnn.set_num_threads(n)
        batch = model.predict(x, batch_size=40, verbose=0)
        for i in (0, 17, 39):
            np.testing.assert_array_equal(model.predict(x[i:i + 1], verbose=0), batch[i:i + 1])
    assert_close(batch, _reference(model, x, n_in, hidden, n_out), dtype, "forward")


@pytest.mark.parametrize("acts", [("tanh", "sigmoid"), ("gelu", "softmax"), ("selu", "softplus")])
def test_epilogue_activations_equal_the_one_row_path_bitwise(threads, acts):
    model = _model(301, (237, 1000), 37, acts=acts)
    x = np.random.default_rng(1).standard_normal((64, 301)).astype(np.float32)
    for n in (1, 2):
        fastnn.set_num_threads(n)
        batch = model.predict(x, batch_size=64, verbose=0)
        for i in (0, 63):
            np.testing.assert_array_equal(model.predict(x[i:i + 1], verbose=0), batch[i:i + 1])
    widths = (301, 237, 1000, 37)
    refs = [ref.Dense(a, b, acts[0]) for a, b in zip(widths[:-2], widths[1:-1])] + \
        [ref.Dense(widths[-2], widths[-1], acts[1])]
    expected = ref.forward(refs, [w.astype(np.float64) for w in model.get_weights()], x.astype(np.float64))
    assert_close(batch, expected, "float32", "forward")


def _one_row_reference(model, x):
    """Row by row as the engine predicts one sample under the policy: the products of at least 64k multiply-adds
    with bfloat16 operands (summed exactly here), the smaller ones in float32."""
    params = [w.astype(np.float64) for w in model.get_weights()]
    h = x.astype(np.float64)
    for i in range(0, len(params), 2):
        w, b = params[i], params[i + 1]
        z = (ref.matmul_bf16(h, w) if w.size >= 65536 else h @ w) + b
        h = np.maximum(z, 0) if i + 2 < len(params) else z
    return h


@needs_bf16
@pytest.mark.parametrize("n_in,hidden,n_out", SHAPES[:2])
def test_one_row_under_the_policy_matches_bfloat16_products(threads, n_in, hidden, n_out):
    model = _model(n_in, hidden, n_out, policy="mixed_bfloat16")
    x = np.random.default_rng(n_in).standard_normal((12, n_in)).astype(np.float32)
    expected = _one_row_reference(model, x)
    plain = _reference(model, x, n_in, hidden, n_out)
    rows = {}
    for n in (1, 2):
        fastnn.set_num_threads(n)
        rows[n] = np.concatenate([model.predict(x[i:i + 1], verbose=0) for i in range(len(x))])
        # against bfloat16 operands multiplied exactly: only float32 accumulation (and its order) differs
        np.testing.assert_allclose(rows[n], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(rows[1], rows[2])  # the same at any thread count
    # really bfloat16: farther from the unrounded product than float32 arithmetic would be
    assert np.abs(rows[1] - plain).max() > 1e-3
    assert_close(rows[1], plain, "bfloat16", "forward")
    # and the batched path (oneDNN, from the plain copy; it takes bfloat16 for more of the products) agrees
    assert_close(model.predict(x, verbose=0), rows[1], "bfloat16", "forward")


@needs_bf16
def test_the_bfloat16_copy_follows_every_weight_change(tmp_path):
    model = _model(784, (500,), 10, policy="mixed_bfloat16")
    rng = np.random.default_rng(5)
    x1 = rng.standard_normal((1, 784)).astype(np.float32)
    before = model.predict(x1, verbose=0)
    np.testing.assert_allclose(before, _one_row_reference(model, x1), rtol=1e-4, atol=1e-4)

    def check(what):
        got = model.predict(x1, verbose=0)
        assert not np.array_equal(got, before), f"{what}: the one-row prediction did not change"
        np.testing.assert_allclose(got, _one_row_reference(model, x1), rtol=1e-4, atol=1e-4, err_msg=what)
        return got

    weights = model.get_weights()
    model.set_weights([w * 1.5 for w in weights])
    before = check("set_weights")
    model.layers[0].set_weights([weights[0][::-1].copy(), weights[1]])
    before = check("layer.set_weights")
    xb = rng.standard_normal((64, 784)).astype(np.float32)
    model.train_on_batch(xb, rng.standard_normal((64, 10)).astype(np.float32))
    before = check("train_on_batch")
    model.fit(xb, rng.standard_normal((64, 10)).astype(np.float32), epochs=1, batch_size=16, verbose=0)
    before = check("fit")
    path = tmp_path / "m.keras"
    saved = model.get_weights()
    model.save(path)
    model.set_weights([w * 0.5 for w in saved])
    before = check("set_weights before load")
    model.load_weights(path)
    check("load_weights")
    loaded = fastnn.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x1, verbose=0), model.predict(x1, verbose=0))


@needs_bf16
def test_concurrent_one_row_predictions_agree(threads):
    model = _model(784, (500,), 10, policy="mixed_bfloat16")
    x = np.random.default_rng(9).standard_normal((8, 784)).astype(np.float32)
    expected = [model.predict(x[i:i + 1], verbose=0) for i in range(len(x))]
    model.set_weights(model.get_weights())  # a weight change: the threads below race to remake the copy
    got, errors = {}, []

    def work(t):
        try:
            for rep in range(20):
                i = (t + rep) % len(x)
                got.setdefault(i, []).append(model.predict(x[i:i + 1], verbose=0))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    for i, outs in got.items():
        for out in outs:
            np.testing.assert_array_equal(out, expected[i])
