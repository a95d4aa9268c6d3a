"""fit / evaluate / predict / train_on_batch as Keras 3 defines them: History contents, validation (Keras splits off
the LAST fraction), initial_epoch, shuffle, sample and class weights, return types, verbose output, edge cases."""

import re

import numpy as np
import pytest

import fastnn
from fastnn import Sequential
from fastnn.callbacks import LambdaCallback
from fastnn.layers import Dense


def data(n=40, n_in=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in))
    y = x @ np.arange(1.0, n_in + 1) + 0.5 + 0.1 * rng.normal(size=n)
    return x, y


def linear_model(n_in=3, optimizer="sgd", metrics=("mae",), dtype="float64", seed=0):
    fastnn.utils.set_random_seed(seed)
    model = Sequential([Dense(1, input_shape=(n_in,))], dtype=dtype)
    model.compile(optimizer=optimizer, loss="mse", metrics=list(metrics))
    return model


def mlp(seed=0):
    fastnn.utils.set_random_seed(seed)
    model = Sequential([Dense(6, input_shape=(3,), activation="tanh"), Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a, b)) and len(a) == len(b)


def numpy_sgd_epoch(kernel, bias, x, y, lr, batch_size, w=None):
    """Keras's SGD on mse for a linear model, batches in order; loss = sum(w * err^2) / batch size."""
    w = np.ones(len(x)) if w is None else w
    for start in range(0, len(x), batch_size):
        xb, yb, wb = x[start:start + batch_size], y[start:start + batch_size], w[start:start + batch_size]
        err = xb @ kernel[:, 0] + bias[0] - yb
        g = 2 * wb * err / len(xb)
        kernel = kernel - lr * (xb.T @ g)[:, None]
        bias = bias - lr * np.array([g.sum()])
    return kernel, bias


def test_history_contents_with_validation_split():
    x, y = data()
    model = mlp()
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    assert history is model.history
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(v) == 3 and all(isinstance(f, float) for f in v) for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 4}  # 30 training samples, batches of 8


def test_validation_split_holds_out_the_last_fraction_as_keras():
    x, y = data(n=41)
    model = mlp()
    history = model.fit(x, y, epochs=1, batch_size=8, validation_split=0.2, shuffle=False, verbose=0)
    split_at = int(np.floor(41 * 0.8))  # Keras: floor(n * (1 - validation_split)) = 32
    val_loss, val_mae = model.evaluate(x[split_at:], y[split_at:], batch_size=8, verbose=0)
    assert history.history["val_loss"] == [val_loss]
    assert history.history["val_mae"] == [val_mae]
    reference = mlp()
    reference.fit(x[:split_at], y[:split_at], epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert same_weights(model.get_weights(), reference.get_weights())


def test_validation_data_takes_precedence_and_gives_val_keys():
    x, y = data()
    xv, yv = data(n=10, seed=1)
    model = mlp()
    history = model.fit(x, y, epochs=2, validation_data=(xv, yv), validation_split=0.5, verbose=0)
    assert history.params["steps"] == 2  # all 40 samples trained on: validation_split ignored
    assert history.history["val_loss"][-1] == model.evaluate(xv, yv, verbose=0)[0]
    weighted = mlp().fit(x, y, epochs=1, validation_data=(xv, yv, np.full(10, 2.0)), verbose=0)
    plain = mlp().fit(x, y, epochs=1, validation_data=(xv, yv), verbose=0)
    assert weighted.history["val_loss"][0] == pytest.approx(2 * plain.history["val_loss"][0], rel=1e-12)


def test_initial_epoch_runs_the_remaining_epochs():
    x, y = data()
    model = mlp()
    history = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert history.epoch == [3, 4] and len(history.history["loss"]) == 2
    seen = []
    model.fit(x, y, epochs=3, initial_epoch=1, verbose=0,
              callbacks=[LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))])
    assert seen == [1, 2]


def test_shuffle_false_trains_batches_in_order_like_numpy():
    x, y = data()
    model = linear_model()
    kernel, bias = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    want_k, want_b = numpy_sgd_epoch(kernel, bias, x, y, 0.01, 8)
    np.testing.assert_allclose(model.get_weights()[0], want_k, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.get_weights()[1], want_b, rtol=1e-12, atol=1e-14)
    again = linear_model()
    again.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert same_weights(model.get_weights(), again.get_weights())


def test_shuffle_true_visits_batches_in_another_order():
    x, y = data()
    ordered, shuffled = linear_model(), linear_model()
    ordered.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    shuffled.fit(x, y, epochs=1, batch_size=8, shuffle=True, verbose=0)
    assert not same_weights(ordered.get_weights(), shuffled.get_weights())


def test_sample_weight_scales_each_sample_as_keras():
    x, y = data()
    w = np.random.default_rng(3).uniform(0, 2, size=len(x))
    model = linear_model()
    kernel, bias = model.get_weights()
    err = x @ kernel[:, 0] + bias[0] - y
    loss, mae = model.evaluate(x, y, sample_weight=w, batch_size=7, verbose=0)
    assert loss == pytest.approx(np.sum(w * err ** 2) / len(x), rel=1e-12)  # Keras: sum_over_batch_size
    assert mae == pytest.approx(np.mean(np.abs(err)), rel=1e-12)  # metrics=: unweighted (Keras 3)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"], weighted_metrics=["mae"])
    logs = model.evaluate(x, y, sample_weight=w, batch_size=7, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "mae", "weighted_mae"]  # Keras's name for a repeated weighted metric
    assert logs["mae"] == pytest.approx(np.mean(np.abs(err)), rel=1e-12)
    assert logs["weighted_mae"] == pytest.approx(np.sum(w * np.abs(err)) / np.sum(w), rel=1e-12)
    model.fit(x, y, sample_weight=w, epochs=1, batch_size=8, shuffle=False, verbose=0)
    want_k, want_b = numpy_sgd_epoch(kernel, bias, x, y, 0.01, 8, w)
    np.testing.assert_allclose(model.get_weights()[0], want_k, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.get_weights()[1], want_b, rtol=1e-12, atol=1e-14)


def test_class_weight_equals_the_matching_sample_weights():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(30, 2))
    labels = (x[:, 0] > 0.3).astype(int)

    def trained(**weights):
        fastnn.utils.set_random_seed(4)
        model = Sequential([Dense(3, input_shape=(2,), activation="relu"), Dense(2, activation="softmax")],
                           dtype="float64")
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x, labels, epochs=2, batch_size=8, shuffle=False, verbose=0, **weights)
        return model.get_weights()

    by_class = trained(class_weight={0: 1.0, 1: 5.0})
    assert same_weights(by_class, trained(sample_weight=np.where(labels == 1, 5.0, 1.0)))
    assert not same_weights(by_class, trained())
    assert same_weights(trained(class_weight={0: 1.0, 7: 3.0}), trained())  # absent classes change nothing


def test_class_weight_with_one_hot_and_binary_targets():
    model = linear_model(n_in=2, metrics=())
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([0.0, 1.0, 1.0])
    k, b = model.get_weights()
    err = x @ k[:, 0] + b[0] - y
    cw = np.array([1.0, 4.0, 4.0])
    model.train_on_batch(x, y, class_weight={1: 4.0})
    np.testing.assert_allclose(model.get_weights()[0][:, 0], k[:, 0] - 0.01 * x.T @ (2 * cw * err / 3), rtol=1e-12)


def test_evaluate_returns_scalar_list_or_dict():
    x, y = data()
    plain = linear_model(metrics=())
    loss = plain.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    model = linear_model(metrics=("mae", "mse"))
    values = model.evaluate(x, y, verbose=0)
    assert isinstance(values, list) and len(values) == 3
    assert values[0] == pytest.approx(loss, rel=1e-12) and values[2] == pytest.approx(loss, rel=1e-12)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs == dict(zip(["loss", "mae", "mse"], values))
    assert model.metrics_names == ["loss", "mae", "mse"]


def test_predict_is_always_two_dimensional():
    model = linear_model()
    x, _ = data(n=5)
    assert model.predict(x, verbose=0).shape == (5, 1)
    assert model.predict(x[0], verbose=0).shape == (1, 1)  # a 1-D x as long as the input width: one sample
    assert model.predict(x.tolist(), verbose=0).shape == (5, 1)
    assert model.predict(x, batch_size=2, verbose=0).shape == (5, 1)
    np.testing.assert_array_equal(model(x), model.predict(x, verbose=0))


def test_train_on_batch_and_predict_on_batch():
    x, y = data(n=8)
    model = linear_model()
    kernel, bias = model.get_weights()
    err = x @ kernel[:, 0] + bias[0] - y
    loss, mae = model.train_on_batch(x, y)
    assert loss == pytest.approx(np.mean(err ** 2), rel=1e-12)  # measured before the step, as in Keras
    assert mae == pytest.approx(np.mean(np.abs(err)), rel=1e-12)
    want_k, want_b = numpy_sgd_epoch(kernel, bias, x, y, 0.01, 8)
    np.testing.assert_allclose(model.get_weights()[0], want_k, rtol=1e-12)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "mae"}
    out = model.predict_on_batch(x)
    k, b = model.get_weights()
    np.testing.assert_allclose(out, x @ k + b, rtol=1e-12)


def test_verbose_zero_prints_nothing(capsys):
    x, y = data()
    model = mlp()
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.2)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_verbose_two_prints_one_line_per_epoch(capsys):
    x, y = data()
    mlp().fit(x, y, epochs=3, batch_size=8, verbose=2, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    pattern = r"^4/4 - \d+s - \d+(us|ms|s)/step - loss: [\d.e+-]+ - mae: [\d.e+-]+ - val_loss: [\d.e+-]+ - " \
              r"val_mae: [\d.e+-]+$"
    assert all(re.match(pattern, line) for line in lines[1::2]), lines
    assert "\r" not in "".join(lines)


def test_verbose_one_draws_a_bar(capsys):
    x, y = data()
    mlp().fit(x, y, epochs=2, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    assert out.startswith("Epoch 1/2\n")
    assert "\r5/5 ━━━━━━━━━━━━━━━━━━━━ " in out
    assert re.search(r"5/5 ━{20} \d+s \d+(us|ms|s)/step - loss: [\d.]+ - mae: [\d.]+", out)
    assert out.count("Epoch ") == 2


def test_verbose_auto_is_two_when_not_a_terminal(capsys):
    x, y = data()
    mlp().fit(x, y, epochs=1, batch_size=8)
    out = capsys.readouterr().out
    assert "\r" not in out and re.search(r"^5/5 - \d+s - ", out, re.M)


def test_epochs_zero_returns_an_empty_history_and_changes_nothing():
    x, y = data()
    model = mlp()
    before = model.get_weights()
    history = model.fit(x, y, epochs=0, verbose=0)
    assert history.history == {} and history.epoch == []
    assert same_weights(before, model.get_weights())
    assert model.optimizer.iterations == 0


def test_batch_size_larger_than_the_data_runs_one_batch():
    x, y = data(n=10)
    big, exact = linear_model(), linear_model()
    history = big.fit(x, y, epochs=2, batch_size=1000, shuffle=False, verbose=0, validation_data=(x, y))
    exact.fit(x, y, epochs=2, batch_size=10, shuffle=False, verbose=0)
    assert history.params["steps"] == 1
    assert big.optimizer.iterations == 2
    assert same_weights(big.get_weights(), exact.get_weights())


def test_default_batch_size_is_32():
    x, y = data(n=70)
    model = mlp()
    assert model.fit(x, y, epochs=1, verbose=0, validation_split=0.0, validation_data=(x, y)).params["steps"] == 3
    assert model.optimizer.iterations == 3


def test_learning_rate_changed_between_epochs_takes_effect():
    x, y = data()
    model = linear_model()
    model.fit(x, y, epochs=1, verbose=0)
    after_one = model.get_weights()
    model.optimizer.learning_rate = 0.0
    assert model.optimizer.learning_rate == 0.0
    model.fit(x, y, epochs=2, verbose=0)
    assert same_weights(after_one, model.get_weights())

    frozen_from_epoch_1 = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: setattr(model.optimizer, "learning_rate", 0.05 if epoch == 0 else 0.0))
    model = linear_model()
    kernel, bias = model.get_weights()
    model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=[frozen_from_epoch_1])
    want_k, want_b = numpy_sgd_epoch(kernel, bias, x, y, 0.05, 8)
    np.testing.assert_allclose(model.get_weights()[0], want_k, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.get_weights()[1], want_b, rtol=1e-12, atol=1e-14)


def test_fit_accepts_keras_optimizer_objects_and_strings():
    x, y = data()
    for opt in ("sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamw", "adamax", "nadam",
                fastnn.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
                fastnn.optimizers.RMSprop(learning_rate=0.01, rho=0.8)):
        model = linear_model(optimizer=opt)
        first = model.fit(x, y, epochs=5, verbose=0).history["loss"]
        assert first[-1] < first[0], opt
