"""The mixed_bfloat16 dtype policy (Keras 3's API): names and refusals, per-layer dtype=, summary and files, and
models trained under it against the float64 reference with bfloat16's tolerances."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastnn
import reference as ref
from conftest import assert_close
from fastnn import dtype_policies, layers, mixed_precision

HAVE_BF16 = dtype_policies.bf16_available()


@pytest.fixture(autouse=True)
def _restore_policy():
    before = dtype_policies._GLOBAL
    yield
    dtype_policies._GLOBAL = before


def test_policy_names_and_properties():
    p = fastnn.DTypePolicy("mixed_bfloat16")
    assert (p.name, p.compute_dtype, p.variable_dtype) == ("mixed_bfloat16", "bfloat16", "float32")
    assert mixed_precision.Policy("float64").compute_dtype == "float64"
    assert fastnn.DTypePolicy().name == "float32"
    assert p == dtype_policies.DTypePolicy.from_config(p.get_config())


@pytest.mark.parametrize("bad", ["mixed_float16", "float16", "bfloat16", "int32", "", 3])
def test_unknown_policies_are_refused_naming_the_choices(bad):
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        mixed_precision.set_global_policy(bad)
    with pytest.raises(ValueError, match="float32"):
        layers.Dense(3, dtype=bad)
    assert mixed_precision.global_policy().name == "float32"


def test_global_policy_is_taken_by_new_layers():
    mixed_precision.set_global_policy("mixed_bfloat16")
    assert mixed_precision.global_policy().name == "mixed_bfloat16"
    assert fastnn.config.dtype_policy().name == "mixed_bfloat16"
    d = layers.Dense(4)
    out = layers.Dense(2, dtype="float32")
    fastnn.config.set_dtype_policy("float32")
    later = layers.Dense(4)
    assert (d.dtype_policy.name, d.compute_dtype, d.variable_dtype, d.dtype) == \
        ("mixed_bfloat16", "bfloat16", "float32", "float32")
    assert out.dtype_policy.name == "float32" and later.dtype_policy.name == "float32"


def _model(policy, seed=3, widths=(784, 256, 10)):
    fastnn.utils.set_random_seed(seed)
    model = fastnn.Sequential([layers.Input(shape=(widths[0],))])
    for w in widths[1:-1]:
        model.add(layers.Dense(w, activation="relu", dtype=policy))
    model.add(layers.Dense(widths[-1], dtype=policy))
    model.add(layers.Activation("softmax", dtype="float32"))
    return model


def _reference_layers(widths):
    hidden = [ref.Dense(a, b, "relu") for a, b in zip(widths[:-2], widths[1:-1])]
    return hidden + [ref.Dense(widths[-2], widths[-1]), ref.Activation(widths[-1], "softmax")]


@pytest.mark.skipif(not HAVE_BF16, reason="no bfloat16 products on this machine (fallback tested below)")
def test_forward_matches_the_reference_within_bfloat16_tolerance():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 784)).astype(np.float32)
    mb, m32 = _model("mixed_bfloat16"), _model("float32")
    params = [w.astype(np.float64) for w in mb.get_weights()]
    widths = (784, 256, 10)
    expected = ref.forward(_reference_layers(widths), params, x.astype(np.float64))
    got_b, got_32 = mb.predict(x, verbose=0), m32.predict(x, verbose=0)
    assert_close(got_b, expected, "bfloat16", "forward")
    assert_close(got_32, expected, "float32", "forward")
    # the bfloat16 model really rounds its operands: farther from the reference than float32 arithmetic is
    assert np.abs(got_b - expected).max() > 20 * np.abs(got_32 - expected).max()


@pytest.mark.skipif(not HAVE_BF16, reason="no bfloat16 products on this machine (fallback tested below)")
def test_training_steps_follow_the_reference_within_bfloat16_tolerance():
    rng = np.random.default_rng(1)
    widths = (300, 200, 10)
    x = rng.standard_normal((256, 300)).astype(np.float32)
    y = np.eye(10)[rng.integers(0, 10, 256)].astype(np.float32)
    model = _model("mixed_bfloat16", widths=widths)
    model.compile(optimizer=fastnn.optimizers.SGD(0.1), loss="categorical_crossentropy")
    params = [w.astype(np.float64) for w in model.get_weights()]
    for _ in range(5):
        model.train_on_batch(x, y)
    batches = [(x.astype(np.float64), y.astype(np.float64))] * 5
    with ref.bf16_products():
        mirrored, _ = ref.train(_reference_layers(widths), params, batches, "categorical_crossentropy", "sgd",
                                {"learning_rate": 0.1})
    exact, _ = ref.train(_reference_layers(widths), params, batches, "categorical_crossentropy", "sgd",
                         {"learning_rate": 0.1})
    # The updates (what training added to the initial weights), each scaled to its largest element. Against a
    # reference whose products take bfloat16 operands too, what differs is float32 accumulation and the odd operand
    # that rounds to the neighbouring bfloat16 (measured: 0.15%); against the exact reference, bfloat16 gradients
    # (sums of many rounded terms that cancel) differ by up to ~11%: the first check tells the two apart.
    for got, want, full, w0 in zip(model.get_weights(), mirrored[-1], exact[-1], params):
        scale = np.abs(want - w0).max()
        assert_close((got - w0) / scale, (want - w0) / scale, "bfloat16", "forward")
        assert np.abs((got - w0) - (full - w0)).max() / scale < 0.25


def test_summary_files_and_config_keep_the_policy(tmp_path):
    model = _model("mixed_bfloat16", widths=(20, 16, 3))
    lines = []
    model.summary(print_fn=lines.append)
    assert "mixed_bfloat16" in "\n".join(lines)
    assert model.layers[0].get_config()["dtype"] == "mixed_bfloat16"
    path = tmp_path / "m.fastnn"
    model.save(path)
    loaded = fastnn.models.load_model(path)
    assert [l.dtype_policy.name for l in loaded.layers] == [l.dtype_policy.name for l in model.layers]
    x = np.random.default_rng(2).standard_normal((8, 20)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_frozen_layers_stay_bitwise_under_the_policy():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((600, 200)).astype(np.float32)
    y = rng.integers(0, 5, 600)
    fastnn.utils.set_random_seed(0)
    base = layers.Dense(300, activation="relu", dtype="mixed_bfloat16", input_shape=(200,))
    head = layers.Dense(5, activation="softmax", dtype="mixed_bfloat16")
    model = fastnn.Sequential([base, head])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.build((None, 200))
    frozen = [w.copy() for w in base.get_weights()]
    base.trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")
    before_head = [w.copy() for w in head.get_weights()]
    model.fit(x, y, epochs=2, batch_size=100, verbose=0)
    for a, b in zip(base.get_weights(), frozen):
        np.testing.assert_array_equal(a, b)
    assert any(np.abs(a - b).max() > 0 for a, b in zip(head.get_weights(), before_head))


FALLBACK_FIT = """
import json, warnings, numpy as np, fastnn
from fastnn import layers
def run(policy):
    fastnn.utils.set_random_seed(0)
    m = fastnn.Sequential([layers.Dense(128, activation="relu", input_shape=(100,), dtype=policy), layers.Dense(3, dtype=policy)])
    m.compile("adam", "mse")
    rng = np.random.default_rng(0)
    m.fit(rng.standard_normal((500, 100)).astype(np.float32), rng.standard_normal((500, 3)).astype(np.float32),
          epochs=2, batch_size=100, verbose=0)
    return [w.tolist() for w in m.get_weights()]
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    mixed = run("mixed_bfloat16")
    mixed_again = run("mixed_bfloat16")
plain = run("float32")
print(json.dumps({"same": mixed == plain and mixed_again == plain, "warnings": [str(x.message) for x in w]}))
"""


def test_without_bfloat16_the_policy_trains_in_float32_with_one_warning():
    out = subprocess.run([sys.executable, "-c", FALLBACK_FIT], capture_output=True, text=True, timeout=120, cwd="/",
                         env={**os.environ, "FASTNN_DISABLE_AVX512_BF16": "1"})
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["same"], "the float32 fallback must compute exactly what the float32 policy computes"
    assert len(res["warnings"]) == 1 and "float32" in res["warnings"][0]


FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


@pytest.mark.skipif(not os.path.exists(FASHION), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_walkthrough_matches_float32_accuracy():
    # The 784-500-10 walk-through (examples/02), 5 epochs, same seed: under mixed_bfloat16 the test accuracy ends
    # within half a point of float32's.
    from fastnn.datasets import fashion_mnist
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train = x_train.reshape(len(x_train), -1).astype(np.float32) / 255.0
    x_test = x_test.reshape(len(x_test), -1).astype(np.float32) / 255.0
    accuracy = {}
    for policy in ("float32", "mixed_bfloat16"):
        fastnn.utils.set_random_seed(0)
        model = fastnn.Sequential([layers.Dense(500, activation="relu", input_shape=(784,), dtype=policy),
                                   layers.Dense(10, activation="softmax", dtype=policy)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, batch_size=300, epochs=5, verbose=0)
        accuracy[policy] = model.evaluate(x_test, y_test, verbose=0)[1]
    assert accuracy["float32"] > 0.85
    assert abs(accuracy["mixed_bfloat16"] - accuracy["float32"]) <= 0.005, accuracy
    if HAVE_BF16:
        assert accuracy["mixed_bfloat16"] != accuracy["float32"]  # really computed differently


@pytest.mark.skipif(not HAVE_BF16, reason="no bfloat16 products on this machine (fallback tested above)")
def test_a_normalized_model_trains_under_the_policy():
    # As in Keras, normalization runs in float32 under mixed_bfloat16 (it has no products); the Dense layers around
    # it use bfloat16 operands. Same weights: the two policies' predictions agree within bfloat16's tolerance.
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((512, 256)) * 3 + 1).astype(np.float32)
    y = rng.integers(0, 4, 512)
    models = {}
    for policy in ("float32", "mixed_bfloat16"):
        fastnn.utils.set_random_seed(2)
        m = fastnn.Sequential([layers.Input(shape=(256,)), layers.Dense(128, dtype=policy),
                               layers.BatchNormalization(dtype=policy), layers.Activation("relu"),
                               layers.Dense(4, activation="softmax", dtype=policy)])
        m.compile("adam", "sparse_categorical_crossentropy")
        models[policy] = m
    models["mixed_bfloat16"].set_weights(models["float32"].get_weights())
    p32 = models["float32"].predict(x, verbose=0)
    pb = models["mixed_bfloat16"].predict(x, verbose=0)
    assert_close(pb, p32, "bfloat16", "forward")
    assert np.abs(pb - p32).max() > 1e-5
    bn = models["mixed_bfloat16"].layers[1]
    before = [w.copy() for w in bn.get_weights()]
    history = models["mixed_bfloat16"].fit(x, y, epochs=3, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    moving_mean = bn.get_weights()[2]
    assert np.abs(moving_mean - before[2]).max() > 1e-3  # the moving statistics moved
