"""ONNX export: every layer and activation, run in onnxruntime against predict; names, dynamic batch, dtypes."""

import os
import warnings

import numpy as np
import pytest

from _extras import require

onnx = require("onnx")
ort = require("onnxruntime")

import fastnn  # noqa: E402
import fastnn.onnx  # noqa: E402
from fastnn import Input, Model, Sequential  # noqa: E402
from fastnn.layers import Activation, Dense, Dropout, Flatten  # noqa: E402

RNG = np.random.default_rng(0)
# Wide inputs reach both tails of every activation (softplus, sigmoid and elu saturate; relu-likes cross 0).
X = (RNG.normal(size=(64, 4)) * 6).astype(np.float32)


def run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    return session.run(None, {inp.name: x})[0], session


def assert_matches(model, path, x, atol):
    got, session = run(path, x.astype(model.dtype))
    want = model.predict(x, verbose=0)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=atol)
    return session


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", fastnn.activations.NAMES)
def test_every_activation_matches_predict(tmp_path, activation, dtype):
    fastnn.utils.set_random_seed(4)
    model = Sequential([Dense(8, activation=activation, input_shape=(4,)), Dropout(0.5), Activation(activation),
                        Dense(3, activation="linear")], dtype=dtype)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fastnn.onnx.export(model, tmp_path / "m.onnx")
    notes = [str(w.message) for w in caught if "ONNX export" in str(w.message)]
    # float64 keeps float64 everywhere except gelu's erf (onnxruntime has no double Erf), which says so.
    assert bool(notes) == (dtype == "float64" and activation == "gelu")
    atol = 1e-5 if dtype == "float32" or activation == "gelu" else 1e-12
    assert_matches(model, tmp_path / "m.onnx", X, atol)


def test_graph_is_checked_named_after_the_model_and_has_a_dynamic_batch(tmp_path):
    x = Input(shape=(4,), name="features")
    h = Dense(6, activation="relu", name="hidden")(x)
    model = Model(inputs=x, outputs=Dense(2, activation="softmax", name="probabilities")(h), name="clf")
    model.export(tmp_path / "clf.onnx", format="onnx")
    proto = onnx.load(tmp_path / "clf.onnx")
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["features"]
    assert [o.name for o in proto.graph.output] == ["probabilities"]
    assert proto.graph.name == "clf" and proto.producer_name == "fastnn"
    assert proto.opset_import[0].version == fastnn.onnx.DEFAULT_OPSET
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 4
    for n in (1, 7, 64):
        assert_matches(model, tmp_path / "clf.onnx", X[:n], 1e-5)


def test_dropout_exports_as_identity_and_flatten_keeps_the_sample_shape(tmp_path):
    model = Sequential([Flatten(input_shape=(2, 2)), Dense(5, activation="tanh", use_bias=False), Dropout(0.9),
                        Dense(1)])
    fastnn.onnx.export(model, tmp_path / "f.onnx")
    proto = onnx.load(tmp_path / "f.onnx")
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("Identity") == 2 and "Flatten" in ops and "MatMul" in ops  # dropout, output; no-bias Dense
    x = X.reshape(-1, 2, 2)
    assert_matches(model, tmp_path / "f.onnx", x, 1e-5)


def test_trained_model_and_opsets(tmp_path):
    model = Sequential([Dense(16, activation="selu", input_shape=(4,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(X, (X[:, 0] > 0).astype(np.float32), epochs=3, verbose=0)
    for opset in (13, 17, onnx.defs.onnx_opset_version()):
        path = tmp_path / f"m{opset}.onnx"
        fastnn.onnx.export(model, path, opset=opset)
        assert onnx.load(path).opset_import[0].version == opset
        assert_matches(model, path, X, 1e-5)


def test_bad_arguments_are_refused_and_nothing_is_written(tmp_path):
    model = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match=r"opset: expected an integer from 13"):
        fastnn.onnx.export(model, tmp_path / "a.onnx", opset=7)
    with pytest.raises(ValueError, match="format: fastnn exports format='onnx'"):
        model.export(tmp_path / "a", format="tf_saved_model")
    with pytest.raises(TypeError, match="model: expected a fastnn model"):
        fastnn.onnx.export("not a model", tmp_path / "a.onnx")
    unbuilt = Sequential([Dense(2)])
    with pytest.raises(ValueError, match="not built"):
        fastnn.onnx.export(unbuilt, tmp_path / "a.onnx")
    assert not os.listdir(tmp_path)
    (tmp_path / "keep.onnx").write_bytes(b"old")
    with pytest.raises(ValueError):
        fastnn.onnx.export(model, tmp_path / "keep.onnx", opset=99)
    assert (tmp_path / "keep.onnx").read_bytes() == b"old"
    model.export(tmp_path / "keep.onnx", opset_version=13)
    assert onnx.load(tmp_path / "keep.onnx").opset_import[0].version == 13



@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normalization_layers_match_predict(tmp_path, dtype):
    from fastnn import layers as L
    fastnn.utils.set_random_seed(7)
    norm = L.Normalization()
    norm.adapt(X * 3 + 1)
    model = Sequential([L.Input(shape=(4,)), norm, Dense(6, activation="tanh"), L.BatchNormalization(momentum=0.5),
                        L.LayerNormalization(epsilon=1e-2, center=False), L.Rescaling(0.5, offset=0.25),
                        L.UnitNormalization(), L.Normalization(mean=[0.1] * 6, variance=[2.0] * 6, invert=True),
                        L.BatchNormalization(scale=False), L.Normalization(axis=None, mean=0.5, variance=4.0),
                        Dense(2)], dtype=dtype)
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, X[:, :2], epochs=3, verbose=0)
    for opset in (13, 18):
        fastnn.onnx.export(model, tmp_path / f"n{opset}.onnx", opset=opset)
        assert_matches(model, tmp_path / f"n{opset}.onnx", X, 1e-5 if dtype == "float32" else 1e-12)


def test_layer_names_that_look_like_operator_names_do_not_collide(tmp_path):
    model = Sequential([Dense(5, activation="relu", name="relu", input_shape=(4,)), Activation("relu", name="relu_1"),
                        Dense(5, activation="gelu", name="mul"), Activation("softmax", name="softmax_1"),
                        Dense(2, activation="swish", name="input_layer_1")])
    fastnn.onnx.export(model, tmp_path / "n.onnx")  # checked: every tensor name assigned once
    assert_matches(model, tmp_path / "n.onnx", X, 1e-5)



@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_layer_kind_and_nested_models_match_predict(tmp_path, dtype):
    from fastnn import layers as L
    fastnn.utils.set_random_seed(5)
    inner = Sequential([Dense(6, activation="tanh", input_shape=(4,)), L.PReLU(alpha_initializer="ones")],
                       name="inner")
    model = Sequential([inner, L.ReLU(max_value=3.0, negative_slope=0.1, threshold=0.2), L.LeakyReLU(0.25),
                        L.ELU(alpha=0.7), L.GaussianNoise(0.1), L.GaussianDropout(0.2), L.AlphaDropout(0.1),
                        L.Identity(), L.ReLU(), Dense(3), L.Softmax()], name="every", dtype=dtype)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(X, np.eye(3)[np.argmax(X[:, :3], axis=1)], epochs=2, verbose=0)  # PReLU's alpha moves off 1
    assert not np.allclose(inner.layers[1].get_weights()[0], 1.0)
    fastnn.onnx.export(model, tmp_path / "every.onnx")
    assert_matches(model, tmp_path / "every.onnx", X, 1e-5 if dtype == "float32" else 1e-12)
