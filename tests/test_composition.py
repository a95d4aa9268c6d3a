"""Models used as layers of other models (Keras's nesting): `Sequential([model, ...])` and `outputs = base(inputs)`
share the nested model's weights both ways, nest in files, print in summaries; width mismatches and cycles are
refused with nothing changed; a view of a model's engine can be trained (its weights move, still shared)."""

import warnings

import numpy as np
import pytest

import fastnn
from fastnn import Activation, Dense, Dropout, Flatten, Input, Model, Sequential
from conftest import assert_close


def _data(n=64, d=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    return x, np.minimum(y, classes - 1)


def _base(seed=0, d=4, classes=3):
    fastnn.utils.set_random_seed(seed)
    return Sequential([Dense(8, activation="relu", input_shape=(d,)), Dense(classes)], name="base")


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _relu(z):
    return np.maximum(z, 0.0)


def test_sequential_of_a_model_predicts_through_it_and_shares_its_weights():
    base = _base()
    x, y = _data()
    probs = Sequential([base, Activation("softmax")])
    assert [type(l).__name__ for l in probs.layers] == ["Sequential", "Activation"]
    assert probs.count_params() == base.count_params() == 4 * 8 + 8 + 8 * 3 + 3
    for a, b in zip(probs.get_weights(), base.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert_close(probs.predict(x, verbose=0), _softmax(base.predict(x, verbose=0).astype(np.float64)), "float32",
                 "forward")
    before = base.get_weights()
    probs.compile("adam", "sparse_categorical_crossentropy")
    probs.fit(x, y, epochs=3, verbose=0)
    after = base.get_weights()  # training the outer model trained the nested one's weights
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))
    for a, b in zip(probs.get_weights(), after):
        np.testing.assert_array_equal(a, b)
    k1, b1, k2, b2 = after
    assert_close(base.predict(x, verbose=0), _relu(x @ k1 + b1) @ k2 + b2, "float32", "forward")
    # ... and the other way: training the nested model alone is seen by the outer one
    base.compile("sgd", "mse")
    base.fit(x, np.zeros((len(x), 3), np.float32), epochs=2, verbose=0)
    assert_close(probs.predict(x, verbose=0), _softmax(base.predict(x, verbose=0).astype(np.float64)), "float32",
                 "forward")
    np.testing.assert_array_equal(probs.layers[0].layers[1].get_weights()[0], base.get_weights()[2])


def test_functional_call_of_a_model_on_a_tensor():
    base = _base(1)
    x, _ = _data(seed=1)
    inp = Input(shape=(4,))
    features = base(inp)
    assert features.shape == (None, 3)
    out = Dense(2, activation="sigmoid")(features)
    model = Model(inputs=inp, outputs=out)
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "Sequential", "Dense"]
    assert model.output is out and model.output_shape == (None, 2)
    k1, b1, k2, b2, k3, b3 = model.get_weights()
    np.testing.assert_array_equal(k1, base.get_weights()[0])
    expected = 1 / (1 + np.exp(-((_relu(x @ k1 + b1) @ k2 + b2) @ k3 + b3)))
    assert_close(model.predict(x, verbose=0), expected, "float32", "forward")
    # activations: one entry per layer of model.layers after the InputLayer, the nested model's being its output
    outs = model.activations(x)
    assert [o.shape for o in outs] == [(64, 3), (64, 2)]
    assert_close(outs[0], base.predict(x, verbose=0), "float32", "forward")


def test_a_functional_model_nested_in_a_functional_model():
    fastnn.utils.set_random_seed(2)
    inner_in = Input(shape=(3,))
    inner = Model(inner_in, Dense(5, activation="tanh")(inner_in), name="inner")
    x = Input(shape=(3,))
    outer = Model(x, Dense(1)(inner(x)), name="outer")
    data = np.random.default_rng(2).normal(size=(10, 3)).astype(np.float32)
    k1, b1, k2, b2 = outer.get_weights()
    assert_close(outer.predict(data, verbose=0), np.tanh(data @ k1 + b1) @ k2 + b2, "float32", "forward")
    twice = Sequential([outer, Activation("sigmoid")])  # two levels of nesting
    assert_close(twice.predict(data, verbose=0), 1 / (1 + np.exp(-(np.tanh(data @ k1 + b1) @ k2 + b2))), "float32",
                 "forward")


def test_probability_model_of_an_image_classifier_keeps_the_flatten():
    fastnn.utils.set_random_seed(3)
    model = Sequential([Flatten(input_shape=(4, 3)), Dense(6, activation="relu"), Dense(5)])
    images = np.random.default_rng(3).random((7, 4, 3)).astype(np.float32)
    probs = Sequential([model, fastnn.layers.Activation("softmax")])
    p = probs.predict(images, verbose=0)
    assert p.shape == (7, 5)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert np.array_equal(p.argmax(axis=1), model.predict(images, verbose=0).argmax(axis=1))


def test_nested_model_with_the_wrong_input_width_is_refused_and_nothing_changes():
    base = _base(4)
    weights = base.get_weights()
    with pytest.raises(ValueError, match=r"model 'base'.*expects an input of 4 features.*'dense_first'.*gives 3"):
        Sequential([Dense(3, input_shape=(2,), name="dense_first"), base])
    with pytest.raises(ValueError, match=r"model 'base'.*expects an input of 4 features.*gives 6"):
        base(Input(shape=(6,)))
    head = Sequential([Dense(5, input_shape=(2,))])
    with pytest.raises(ValueError, match="expected an input of 4 features"):
        head.add(base)
    assert len(head.layers) == 1 and head.predict(np.zeros((1, 2)), verbose=0).shape == (1, 5)
    for a, b in zip(base.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert base.predict(np.zeros((2, 4)), verbose=0).shape == (2, 3)


def test_a_model_cannot_contain_itself():
    base = _base(5)
    outer = Sequential([base, Dense(2)])
    with pytest.raises(ValueError, match="nested in itself"):
        base.add(outer)
    with pytest.raises(ValueError, match="nested in itself"):
        outer.add(outer)
    assert len(base.layers) == 2 and len(outer.layers) == 2


def test_nested_models_save_and_load(tmp_path):
    base = _base(6)
    x, y = _data(seed=6)
    inp = Input(shape=(4,))
    model = Model(inp, Dense(3, activation="softmax")(Dropout(0.2)(base(inp))))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "nested.fnn")
    loaded = fastnn.models.load_model(tmp_path / "nested.fnn")
    assert [type(l).__name__ for l in loaded.layers] == ["InputLayer", "Sequential", "Dropout", "Dense"]
    assert loaded.layers[1].name == "base"
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # training continues from the saved optimizer state exactly as the original does
    loaded.fit(x, y, epochs=1, verbose=0, shuffle=False)
    model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    seq = Sequential([base, Activation("softmax")])
    seq.save(tmp_path / "seq.fnn")
    np.testing.assert_array_equal(fastnn.models.load_model(tmp_path / "seq.fnn").predict(x, verbose=0),
                                  seq.predict(x, verbose=0))


def test_nested_file_limits():
    from fastnn.errors import ModelFileError
    from fastnn.models import model_from_config
    base = _base(7)
    cfg = Sequential([base, Activation("softmax")]).get_config()
    deep = cfg
    for _ in range(20):
        deep = {"class_name": "Sequential", "name": "s", "dtype": "float32",
                "layers": [{"class_name": "Sequential", "config": {k: v for k, v in deep.items() if k != "class_name"}}]}
    with pytest.raises(ModelFileError, match="nest at most"):
        model_from_config(deep)
    bad = {**cfg, "layers": [{"class_name": "Sequential", "config": {**cfg["layers"][0]["config"], "code": "x"}}]}
    with pytest.raises(ModelFileError, match="unexpected settings for a nested Sequential"):
        model_from_config(bad)
    wide = {"class_name": "Sequential", "name": "w", "dtype": "float32",
            "layers": [{"class_name": "Sequential", "config": {"name": f"s{i}", "dtype": "float32", "layers": [
                {"class_name": "Dropout", "config": {"name": f"d{i}_{j}", "rate": 0.1}} for j in range(600)]}}
                for i in range(2)]}
    with pytest.raises(ModelFileError, match="1 to 1000 layers"):
        model_from_config(wide)


def test_summary_shows_nested_models_and_their_layers():
    base = _base(8)
    probs = Sequential([base, Activation("softmax")], name="probs")
    lines = []
    probs.summary(print_fn=lines.append, line_length=100)
    text = lines[0]
    assert "base (Sequential)" in text and "(None, 3)" in text and " 67 " in text
    assert "dense" not in text  # collapsed by default, as Keras
    assert "Total params: 67 (268.00 B)" in text and "Trainable params: 67 (268.00 B)" in text
    assert "Non-trainable params: 0 (0.00 B)" in text
    lines = []
    probs.summary(print_fn=lines.append, line_length=100, expand_nested=True, show_trainable=True)
    rows = [line for line in lines[0].splitlines() if line.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == [
        "base (Sequential)", f"└ {base.layers[0].name} (Dense)", f"└ {base.layers[1].name} (Dense)",
        f"{probs.layers[1].name} (Activation)"]
    assert [r.split("│")[4].strip() for r in rows] == ["Y", "Y", "Y", "-"]
    inp = Input(shape=(4,))
    functional = Model(inp, Dense(1)(base(inp)))
    nested = Sequential([functional])
    lines = []
    nested.summary(print_fn=lines.append, line_length=100)
    assert f"{functional.name} (Functional)" in lines[0]


def test_weights_properties_on_layers_and_models():
    base = _base(9)
    probs = Sequential([base, Activation("softmax")])
    assert [w.shape for w in probs.weights] == [(4, 8), (8,), (8, 3), (3,)]
    assert [w.shape for w in probs.trainable_weights] == [(4, 8), (8,), (8, 3), (3,)]
    assert probs.non_trainable_weights == []
    assert [w.shape for w in base.layers[0].weights] == [(4, 8), (8,)]
    assert probs.layers[1].weights == []


def test_a_view_trains_in_an_engine_of_its_own_and_the_weights_stay_shared():
    base = _base(10)
    x, y = _data(seed=10)
    base.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    hidden = Model(inputs=base.input, outputs=base.layers[0].output)
    assert hidden._is_view()
    hidden.compile("sgd", "mse")
    assert not hidden._is_view()
    hidden.fit(x, np.ones((len(x), 8), np.float32), epochs=2, verbose=0)
    k1, b1 = base.layers[0].get_weights()
    assert_close(hidden.predict(x, verbose=0), _relu(x @ k1 + b1), "float32", "forward")
    np.testing.assert_array_equal(base.get_weights()[0], k1)  # the owner sees the view's training
    assert base.metrics_names == ["loss", "accuracy"]  # and keeps its compile settings
    base.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(hidden.get_weights()[0], base.get_weights()[0])


def test_layers_reused_in_a_new_model_share_their_weights():
    base = _base(11)
    x, y = _data(seed=11)
    again = Sequential([base.layers[0], Dense(3)])  # a built layer in a second model: the same weights
    again.compile("adam", "sparse_categorical_crossentropy")
    again.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(base.get_weights()[0], again.get_weights()[0])
    np.testing.assert_array_equal(base.layers[0].get_weights()[0], again.get_weights()[0])


def test_trainable_change_after_compile_warns_once_at_fit():
    base = _base(12)
    x, y = _data(seed=12)
    base.compile("adam", "sparse_categorical_crossentropy")
    base.fit(x, y, verbose=0)
    base.trainable = True  # no change: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        base.fit(x, y, verbose=0)


def test_plot_model_draws_a_nested_model_in_place():
    import matplotlib
    matplotlib.use("Agg")
    from fastnn import viz
    base = _base(13)
    inp = Input(shape=(4,))
    model = Model(inp, Dense(2, name="head")(base(inp)))
    d = viz.plot_model(model)
    assert d.sizes == [4, 8, 3, 2]
    text = " ".join(t.get_text() for t in d.texts)
    assert f"base/{base.layers[0].name}" in text and "head" in text
    assert [len(e.get_segments()) for e in d.edges] == [32, 24, 6]


def test_training_false_keeps_a_nested_models_dropout_in_inference_mode(tmp_path):
    fastnn.utils.set_random_seed(14)
    base = Sequential([Dense(6, input_shape=(4,)), Dropout(0.9)])
    x, _ = _data(seed=14)
    for training, dropped in ((False, False), (None, True)):
        k, b = base.get_weights()
        inp = Input(shape=(4,))
        model = Model(inp, Dense(1, kernel_initializer="ones", use_bias=False)(base(inp, training=training)))
        model.compile("sgd", "mse")
        # the loss of one training batch: with Dropout(0.9) active, it is far from the inference one
        train_loss = model.train_on_batch(x, np.zeros((len(x), 1), np.float32))
        expected = float(np.mean(((x @ k + b).sum(axis=1)) ** 2))
        assert (abs(train_loss - expected) > 0.05 * expected) == dropped, (training, train_loss, expected)
        if training is False:
            model.save(tmp_path / "m.fnn")
            loaded = fastnn.models.load_model(tmp_path / "m.fnn")
            assert loaded._op_inference == [True, True, False]
    with pytest.raises(ValueError, match="training: expected None, True or False"):
        base(Input(shape=(4,)), training="no")


def test_a_nested_model_used_inside_the_outer_models_fit_reads_a_snapshot():
    """A callback of the outer model's fit predicting with the nested model sees the current weights and takes
    nothing away from the training; training the nested model meanwhile is refused."""
    base = _base(15)
    x, y = _data(seed=15)
    probs = Sequential([base, Activation("softmax")])
    probs.compile("adam", "sparse_categorical_crossentropy")
    seen, refused = [], []

    def on_epoch_end(epoch, logs):
        seen.append((base.predict(x, verbose=0), [w.copy() for w in probs.get_weights()]))
        try:
            base.set_weights(base.get_weights())
        except RuntimeError as e:
            refused.append(str(e))

    probs.fit(x, y, epochs=3, verbose=0, callbacks=[fastnn.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)])
    assert len(seen) == 3 and len(refused) == 3 and "is being trained by model" in refused[0]
    for out, (k1, b1, k2, b2) in seen:
        assert_close(out, _relu(x @ k1 + b1) @ k2 + b2, "float32", "forward")
    assert not np.array_equal(seen[0][0], seen[-1][0])
    for a, b in zip(base.get_weights(), probs.get_weights()):  # the trained weights reached the nested model
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(probs.get_weights()[0], seen[-1][1][0])
