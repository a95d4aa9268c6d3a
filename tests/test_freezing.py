"""Freezing (`trainable = False`) on layers, models and nested models, as Keras 3: frozen weights never change
(whatever the optimizer, weight decay, momentum or regularizer), the counts and weight lists follow the flags, the
flags a model trains with are those of its last compile (a change warns at fit and takes effect at the next
compile), and they survive save/load."""

import warnings

import numpy as np
import pytest

import fastnn
from fastnn import Dense, Dropout, Input, Model, Sequential, layers


def _data(n=64, d=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x, (x[:, :2].sum(axis=1, keepdims=True) > 0).astype(np.float32)


def _model(seed=0, **dense0):
    fastnn.utils.set_random_seed(seed)
    return Sequential([Dense(8, input_shape=(4,), **dense0), layers.PReLU(), Dense(1)])


@pytest.mark.parametrize("optimizer", [fastnn.optimizers.SGD(0.1, momentum=0.9), fastnn.optimizers.Adam(0.01),
                                       fastnn.optimizers.AdamW(0.01, weight_decay=0.1), "rmsprop",
                                       fastnn.optimizers.Adam(0.01, clipnorm=0.1)])
def test_a_frozen_layer_keeps_its_weights_bitwise(optimizer):
    model = _model(kernel_regularizer=fastnn.regularizers.l2(0.1))
    model.layers[0].trainable = False
    model.compile(optimizer, "binary_crossentropy")
    frozen = model.layers[0].get_weights()
    others = [layer.get_weights() for layer in model.layers[1:]]
    x, y = _data()
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    for a, b in zip(model.layers[0].get_weights(), frozen):
        np.testing.assert_array_equal(a, b)
    for layer, before in zip(model.layers[1:], others):
        assert not np.array_equal(layer.get_weights()[0], before[0])


def test_a_frozen_layers_regularizer_adds_no_loss():
    x, y = _data(seed=1)
    plain, reg = _model(seed=1), _model(seed=1, kernel_regularizer=fastnn.regularizers.l2(0.5))
    for m in (plain, reg):
        m.compile("sgd", "binary_crossentropy")
    assert reg.evaluate(x, y, verbose=0) > plain.evaluate(x, y, verbose=0) + 1e-3
    reg.layers[0].trainable = False  # as Keras: regularization losses come from the trainable weights only
    reg.compile("sgd", "binary_crossentropy")
    assert reg.evaluate(x, y, verbose=0) == pytest.approx(plain.evaluate(x, y, verbose=0), rel=1e-6)


def test_weight_lists_and_summary_counts_follow_the_flags():
    model = _model()
    model.layers[0].trainable = False
    assert [w.shape for w in model.trainable_weights] == [(8,), (8, 1), (1,)]
    assert [w.shape for w in model.non_trainable_weights] == [(4, 8), (8,)]
    assert [w.shape for w in model.weights] == [(4, 8), (8,), (8,), (8, 1), (1,)]
    assert model.layers[0].trainable_weights == [] and len(model.layers[0].non_trainable_weights) == 2
    lines = []
    model.summary(print_fn=lines.append, show_trainable=True, line_length=100)
    text = lines[0]
    assert "Total params: 57 (228.00 B)" in text
    assert "Trainable params: 17 (68.00 B)" in text and "Non-trainable params: 40 (160.00 B)" in text
    rows = [r.split("│")[4].strip() for r in text.splitlines() if r.startswith("│")]
    assert rows == ["N", "Y", "Y"]
    model.trainable = False  # a model's flag is set on all its layers (as Keras)
    assert all(not layer.trainable for layer in model.layers) and model.trainable_weights == []
    assert len(model.non_trainable_weights) == 5
    model.trainable = True
    assert all(layer.trainable for layer in model.layers) and len(model.trainable_weights) == 5


def test_a_trainable_change_takes_effect_at_the_next_compile_and_warns_once():
    model = _model(seed=2)
    x, y = _data(seed=2)
    model.compile("adam", "binary_crossentropy")
    model.layers[0].trainable = False  # after compile: not yet in effect
    before = model.layers[0].get_weights()
    with pytest.warns(UserWarning, match=r"`trainable` state has changed since the model was compiled.*dense"):
        model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(model.layers[0].get_weights()[0], before[0])  # still trained, as compiled
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, epochs=1, verbose=0)  # warned once per compile
    model.compile("adam", "binary_crossentropy")
    frozen = model.layers[0].get_weights()
    model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], frozen[0])


def test_a_frozen_nested_model_and_its_new_head():
    fastnn.utils.set_random_seed(3)
    base = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dropout(0.3), Dense(4, activation="relu")])
    base.trainable = False
    model = Sequential([base, Dense(1)])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    frozen = base.get_weights()
    head = model.layers[1].get_weights()
    x, y = _data(seed=3)
    model.fit(x, y, epochs=3, verbose=0)
    for a, b in zip(base.get_weights(), frozen):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.layers[1].get_weights()[0], head[0])
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 4
    # fine-tuning: unfreeze the base, recompile
    base.trainable = True
    model.compile(fastnn.optimizers.Adam(1e-3), "binary_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(base.get_weights()[0], frozen[0])


def test_a_frozen_model_trains_nothing_but_runs():
    model = _model(seed=4)
    model.trainable = False
    model.compile("sgd", "binary_crossentropy")
    before = model.get_weights()
    x, y = _data(seed=4)
    history = model.fit(x, y, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_frozen_flags_survive_save_and_load(tmp_path):
    fastnn.utils.set_random_seed(5)
    base = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(4)], name="base")
    base.layers[0].trainable = False
    inp = Input(shape=(4,))
    model = Model(inp, Dense(1)(base(inp, training=False)))
    model.compile("adam", "binary_crossentropy")
    model.save(tmp_path / "m.fnn")
    loaded = fastnn.models.load_model(tmp_path / "m.fnn")
    nested = loaded.layers[1]
    assert [layer.trainable for layer in nested.layers] == [False, True]
    frozen = nested.layers[0].get_weights()
    x, y = _data(seed=5)
    loaded.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(nested.layers[0].get_weights()[0], frozen[0])
    assert not np.array_equal(nested.layers[1].get_weights()[0], base.layers[1].get_weights()[0])
    whole = Sequential([Dense(2, input_shape=(3,))], trainable=False)
    whole.save(tmp_path / "w.fnn")
    assert fastnn.models.load_model(tmp_path / "w.fnn").trainable is False


def test_pickled_nested_frozen_model_keeps_its_structure_and_flags():
    import pickle
    fastnn.utils.set_random_seed(6)
    base = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(4)], name="base")
    base.trainable = False
    model = Sequential([base, layers.Softmax()])
    model.compile("adam", "categorical_crossentropy")
    copy = pickle.loads(pickle.dumps(model))
    assert [type(l).__name__ for l in copy.layers] == ["Sequential", "Softmax"]
    assert [l.trainable for l in copy.layers[0].layers] == [False, False]
    x, _ = _data(seed=6)
    np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_frozen_batch_normalization_runs_in_inference_mode_and_keeps_its_statistics():
    """Keras 3: a BatchNormalization layer with trainable=False uses (and keeps) its moving statistics, also while
    the model around it trains."""
    fastnn.utils.set_random_seed(7)
    base = Sequential([Dense(6, input_shape=(4,)), layers.BatchNormalization(), Dense(3, activation="relu")])
    x, y = _data(seed=7)
    base.compile("adam", "mse")
    base.fit(x, np.ones((len(x), 3), np.float32), epochs=2, verbose=0)  # moving statistics move
    base.trainable = False
    model = Sequential([base, Dense(1)])
    model.compile("sgd", "mse")
    bn = base.layers[1].get_weights()
    # training and inference agree batch by batch: the frozen BN normalizes with its moving statistics
    inference = model.test_on_batch(x, y)
    assert model.train_on_batch(x, y) == pytest.approx(inference, rel=1e-6)  # the loss before the step
    w = model.get_weights()
    base.trainable = True  # the control: a trainable BN normalizes with the batch statistics in training
    model.compile("sgd", "mse")
    inference = model.test_on_batch(x, y)
    assert model.train_on_batch(x, y) != pytest.approx(inference, rel=1e-3)
    model.set_weights(w)
    base.trainable = False
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(base.layers[1].get_weights(), bn):
        np.testing.assert_array_equal(a, b)


def test_training_false_keeps_batch_normalization_in_inference_mode_while_fine_tuning():
    """The Keras transfer-learning guide's `x = base_model(inputs, training=False)`: after unfreezing the base
    for fine-tuning, its BatchNormalization still normalizes with (and keeps) its moving statistics, while its
    gamma and beta train."""
    fastnn.utils.set_random_seed(8)
    base = Sequential([Dense(6, input_shape=(4,)), layers.BatchNormalization(), Dense(3, activation="relu")])
    x, y = _data(seed=8)
    base.compile("adam", "mse")
    base.fit(x, np.ones((len(x), 3), np.float32), epochs=2, verbose=0)
    inputs = Input(shape=(4,))
    model = Model(inputs, Dense(1)(base(inputs, training=False)))
    model.compile("sgd", "mse")
    gamma, beta, mean, var = base.layers[1].get_weights()
    inference = model.test_on_batch(x, y)
    assert model.train_on_batch(x, y) == pytest.approx(inference, rel=1e-6)
    model.fit(x, y, epochs=2, verbose=0)
    new = base.layers[1].get_weights()
    np.testing.assert_array_equal(new[2], mean)
    np.testing.assert_array_equal(new[3], var)
    assert not np.array_equal(new[0], gamma)  # trainable weights still train
