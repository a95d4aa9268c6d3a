"""One test per error message users meet, in Keras's and scikit-learn's manner: the argument, what was expected,
what was received, and a hint when the fix is obvious. Data errors leave the weights untouched."""

import numpy as np
import pytest

import fastnn
from fastnn import Sequential
from fastnn.layers import Dense, Dropout

RNG = np.random.default_rng(0)
X = RNG.normal(size=(20, 3)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.float32)


def binary():
    fastnn.utils.set_random_seed(0)
    m = Sequential([Dense(4, input_shape=(3,), activation="relu"), Dense(1, activation="sigmoid")])
    m.compile(optimizer="sgd", loss="binary_crossentropy")
    return m


def three_classes():
    fastnn.utils.set_random_seed(0)
    m = Sequential([Dense(4, input_shape=(3,), activation="relu"), Dense(3, activation="softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return m


def unchanged(model, before):
    return all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_wrong_feature_count():
    with pytest.raises(ValueError, match=r"x: expected 3 features per sample \(shape \(N, 3\)\), got shape \(20, 2\)"):
        binary().fit(X[:, :2], Y, verbose=0)


def test_wrong_feature_count_in_predict():
    with pytest.raises(ValueError, match=r"x: expected 3 features per sample"):
        binary().predict(np.ones((2, 4)), verbose=0)


def test_wrong_rank():
    with pytest.raises(ValueError, match=r"x: expected a 2-D array of shape \(N, 3\), got shape \(20, 3, 1\); "
                                         r"reshape it to \(N, 3\) or start the model with Flatten"):
        binary().fit(X[:, :, None], Y, verbose=0)


def test_scalar_x():
    with pytest.raises(ValueError, match="x: expected a 2-D array .* got a scalar"):
        binary().predict(np.float32(1.0), verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x_is_refused_and_weights_stay(bad):
    m = binary()
    before = m.get_weights()
    x = X.copy()
    x[4, 2] = bad
    with pytest.raises(ValueError, match=r"x: expected finite numbers, got NaN or infinity \(first at index \(4, 2\)\)"):
        m.fit(x, Y, verbose=0)
    assert unchanged(m, before) and m.optimizer.iterations == 0


def test_non_finite_y_is_refused_and_weights_stay():
    m = binary()
    before = m.get_weights()
    y = Y.copy()
    y[7] = np.nan
    with pytest.raises(ValueError, match=r"y: expected finite numbers, got NaN or infinity \(first at index \(7, 0\)\)"):
        m.fit(X, y, verbose=0)
    with pytest.raises(ValueError, match="y: expected finite numbers"):
        m.train_on_batch(X, y)
    assert unchanged(m, before)


def test_non_finite_validation_data_is_refused_before_training():
    m = binary()
    before = m.get_weights()
    xv = X.copy()
    xv[0, 0] = np.nan
    with pytest.raises(ValueError, match="validation_data x: expected finite numbers"):
        m.fit(X, Y, validation_data=(xv, Y), verbose=0)
    assert unchanged(m, before)


def test_labels_out_of_range():
    m = three_classes()
    before = m.get_weights()
    with pytest.raises(ValueError, match=r"y: expected integer class labels in \[0, 3\) \(the model has 3 outputs\), "
                                         r"got 3"):
        m.fit(X, np.arange(20) % 4, verbose=0)
    with pytest.raises(ValueError, match=r"y: expected integer class labels in \[0, 3\).*got -1"):
        m.fit(X, -np.ones(20), verbose=0)
    assert unchanged(m, before)


def test_fractional_class_labels():
    with pytest.raises(ValueError, match=r"y: expected integer class labels in \[0, 3\), got 0.5"):
        three_classes().fit(X, np.full(20, 0.5), verbose=0)


def test_one_hot_targets_with_a_sparse_loss():
    with pytest.raises(ValueError, match="for one-hot targets use categorical_crossentropy"):
        three_classes().fit(X, np.eye(3)[np.arange(20) % 3], verbose=0)


def test_integer_labels_for_a_multi_output_model_with_a_one_hot_loss():
    m = three_classes()
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="for integer class labels use loss='sparse_categorical_crossentropy' or "
                                         r"fastnn.utils.to_categorical\(y\)"):
        m.fit(X, np.arange(20) % 3, verbose=0)


def test_target_width_mismatch():
    with pytest.raises(ValueError, match=r"y: expected targets of shape \(N, 1\) \(the model has 1 outputs\), "
                                         r"got shape \(20, 2\)"):
        binary().evaluate(X, np.stack([Y, Y], axis=1), verbose=0)


def test_x_and_y_of_different_lengths():
    with pytest.raises(ValueError, match=r"y: expected 20 targets \(as many as x has samples\), got 10"):
        binary().fit(X, Y[:10], verbose=0)


def test_sample_weight_length():
    with pytest.raises(ValueError, match=r"sample_weight: expected a 1-D array of 20 weights, got shape \(5,\)"):
        binary().fit(X, Y, sample_weight=np.ones(5), verbose=0)


def test_negative_sample_weight():
    with pytest.raises(ValueError, match="sample_weight: expected weights >= 0, got -1.0"):
        binary().fit(X, Y, sample_weight=-np.ones(20), verbose=0)


def test_bad_class_weight():
    with pytest.raises(ValueError, match=r"class_weight: expected a dict \{class index: weight\}, got list"):
        binary().fit(X, Y, class_weight=[1, 2], verbose=0)
    with pytest.raises(ValueError, match="class_weight: expected non-negative integer class indices as keys, got 'a'"):
        binary().fit(X, Y, class_weight={"a": 1.0}, verbose=0)
    with pytest.raises(ValueError, match="class_weight: expected finite weights >= 0, got -2 for class 1"):
        binary().fit(X, Y, class_weight={1: -2}, verbose=0)


@pytest.mark.parametrize("value, shown", [(0, "0"), (-4, "-4"), (2.5, r"2.5 \(float\)"), ("32", r"'32' \(str\)"),
                                          (True, r"True \(bool\)")])
def test_bad_batch_size(value, shown):
    with pytest.raises(ValueError, match=f"batch_size: expected an integer >= 1, got {shown}"):
        binary().fit(X, Y, batch_size=value, verbose=0)


@pytest.mark.parametrize("value, shown", [(-1, "-1"), (2.0, r"2.0 \(float\)"), ("3", r"'3' \(str\)")])
def test_bad_epochs(value, shown):
    with pytest.raises(ValueError, match=f"epochs: expected an integer >= 0, got {shown}"):
        binary().fit(X, Y, epochs=value, verbose=0)


def test_bad_validation_split():
    with pytest.raises(ValueError, match=r"validation_split: expected a number in \[0, 1\), got 1.0"):
        binary().fit(X, Y, validation_split=1.0, verbose=0)


def test_validation_split_leaving_no_validation_sample():
    with pytest.raises(ValueError, match="validation_split: 0.99 of 20 samples leaves an empty training or validation"):
        binary().fit(X, Y, validation_split=0.99, verbose=0)


def test_bad_validation_data():
    with pytest.raises(ValueError, match=r"validation_data: expected a tuple \(x_val, y_val\)"):
        binary().fit(X, Y, validation_data=X, verbose=0)


def test_bad_verbose():
    with pytest.raises(ValueError, match="Argument `verbose` must be one of 0, 1, 2 or 'auto'. Received: verbose=3"):
        binary().fit(X, Y, verbose=3)


def test_fit_before_compile():
    m = Sequential([Dense(1, input_shape=(3,))])
    with pytest.raises(ValueError, match=r"fit: the model must be compiled first: call model.compile\("):
        m.fit(X, Y, verbose=0)


def test_predict_before_the_model_can_be_built():
    with pytest.raises(ValueError, match="has no Dense layer: add one before building it"):
        Sequential().predict(X, verbose=0)
    with pytest.raises(ValueError, match="has no Dense layer"):
        Sequential([Dropout(0.5)]).predict(X, verbose=0)


def test_count_params_before_build():
    with pytest.raises(ValueError, match=r"count_params: model '.*' is not built yet; give its first layer an input "
                                         r"shape"):
        Sequential([Dense(2)]).count_params()


def test_layer_set_weights_before_build():
    with pytest.raises(ValueError, match="the layer has no weights yet; build the model"):
        Dense(2).set_weights([np.ones((3, 2)), np.ones(2)])


def test_set_weights_with_wrong_count_and_shape():
    m = binary()
    with pytest.raises(ValueError, match=r"expected 4 arrays with shapes \[\(3, 4\), \(4,\), \(4, 1\), \(1,\)\], "
                                         "got 1 arrays"):
        m.set_weights([np.zeros((3, 4))])
    with pytest.raises(ValueError, match=r"weights for layer '.*': expected shape \(3, 4\), got \(3, 3\)"):
        m.layers[0].set_weights([np.zeros((3, 3)), np.zeros(4)])


def test_input_shape_with_images_needs_flatten():
    with pytest.raises(ValueError, match=r"put Flatten\(input_shape=\(28, 28\)\) first"):
        Dense(3, input_shape=(28, 28))


def test_get_layer_unknown_name():
    with pytest.raises(ValueError, match=r"No such layer: 'dens'. Existing layers are: \["):
        binary().get_layer("dens")


@pytest.mark.parametrize("make, message", [
    (lambda: Dense(3, activation="rellu"), "Unknown activation: 'rellu'. Expected one of: .*relu.* Did you mean 'relu'"),
    (lambda: binary().compile(optimizer="adma", loss="mse"), "Unknown optimizer: 'adma'. .* Did you mean 'adam"),
    (lambda: binary().compile(loss="mean_sqared_error"), "Unknown loss: .* Did you mean 'mean_squared_error'"),
    (lambda: binary().compile(loss="mse", metrics=["acuracy"]), "Unknown metric: 'acuracy'.* Did you mean 'accuracy'"),
    (lambda: Dense(3, kernel_initializer="glorot_unifrm"), "Unknown initializer: .* Did you mean 'glorot_uniform'"),
    (lambda: Dense(3, kernel_regularizer="l3"), r"Unknown regularizer: 'l3'. Expected one of: l1, l1_l2, l2"),
])
def test_unknown_names_list_the_valid_ones_with_a_hint(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_compile_without_a_loss():
    with pytest.raises(ValueError, match=r"loss: expected a loss such as 'mse' .* got None"):
        binary().compile(optimizer="adam")


def test_custom_python_loss_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="custom Python loss functions cannot run inside fastnn's C.. engine"):
        binary().compile(loss=lambda y_true, y_pred: 0.0)


def test_keras_2_optimizer_argument_names():
    with pytest.raises(TypeError, match=r"Adam got unexpected argument\(s\) \['lr'\]; it takes learning_rate"):
        fastnn.optimizers.Adam(lr=0.1)


def test_non_numeric_data():
    with pytest.raises(TypeError, match=r"y: expected numbers \(bool, integer or float\), got an array of strings"):
        binary().fit(X, ["a"] * 20, verbose=0)


def test_ragged_lists():
    with pytest.raises(ValueError, match="x: expected a rectangular numeric array, got list"):
        binary().predict([[1.0, 2.0, 3.0], [1.0]], verbose=0)


def test_bad_callbacks_argument():
    with pytest.raises(TypeError, match="Argument `callbacks` must contain only Callback instances"):
        binary().fit(X, Y, callbacks=[print], verbose=0)


def test_bad_dense_units():
    with pytest.raises(ValueError, match=r"units: expected an integer >= 1, got 0"):
        Dense(0)
