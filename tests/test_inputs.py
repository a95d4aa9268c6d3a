"""What fit / evaluate / predict accept: NumPy arrays of any numeric dtype, order or strides (read-only too), lists,
pandas DataFrames and Series. The user's arrays are never modified, a C-contiguous array of the model's dtype is
used without a copy, and a 1-D x is a column of samples (one-input model) or one sample (as long as the width)."""

import numpy as np
import pandas as pd
import pytest

import fastnn
from fastnn import Sequential
from fastnn._validation import as_features, as_targets
from fastnn.layers import Dense

RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 3))
Y = (X[:, 0] + X[:, 2] > 0).astype(np.float64)


def model(dtype="float32", n_in=3):
    fastnn.utils.set_random_seed(0)
    m = Sequential([Dense(4, input_shape=(n_in,), activation="relu"), Dense(1, activation="sigmoid")], dtype=dtype)
    m.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    return m


def trained_weights(x, y, dtype="float32", **kw):
    m = model(dtype)
    m.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, **kw)
    return m.get_weights()


def assert_same(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p, q)


def test_pandas_dataframe_and_series_train_like_numpy():
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    series = pd.Series(Y, name="label")
    assert_same(trained_weights(frame, series), trained_weights(X, Y))
    m = model()
    np.testing.assert_array_equal(m.predict(frame, verbose=0), m.predict(X, verbose=0))
    assert m.evaluate(frame, series, verbose=0) == m.evaluate(X, Y, verbose=0)


def test_mixed_dtype_dataframe_and_integer_series():
    frame = pd.DataFrame({"a": X[:, 0], "b": (X[:, 1] > 0), "c": np.round(X[:, 2] * 10).astype(np.int16)})
    expected = np.column_stack([X[:, 0], X[:, 1] > 0, np.round(X[:, 2] * 10)]).astype(np.float64)
    assert_same(trained_weights(frame, pd.Series(Y.astype(np.int64)), "float64"), trained_weights(expected, Y, "float64"))


def test_nested_lists():
    assert_same(trained_weights(X.tolist(), Y.tolist()), trained_weights(X, Y))


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.int64, np.float16, np.float32, np.float64,
                                   np.bool_])
def test_any_numeric_dtype_is_converted_to_the_models_dtype(dtype):
    x = (X * 3).astype(dtype)
    m = model()
    np.testing.assert_array_equal(m.predict(x, verbose=0), m.predict(x.astype(np.float32), verbose=0))
    out = as_features(x, 3, np.float64)
    assert out.dtype == np.float64 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, x.astype(np.float64))


def test_fortran_order_and_strided_views():
    fortran = np.asfortranarray(X)
    wide = np.zeros((60, 7))
    wide[::2, 1:7:2] = X
    strided = wide[::2, 1:7:2]
    assert not strided.flags.c_contiguous and not fortran.flags.c_contiguous
    reference = trained_weights(X, Y)
    assert_same(trained_weights(fortran, Y), reference)
    assert_same(trained_weights(strided, Y[::-1][::-1]), reference)
    assert_same(trained_weights(X[::-1][::-1], np.asfortranarray(Y[:, None])), reference)


def test_read_only_arrays_are_accepted():
    x, y = X.copy(), Y.copy()
    x.flags.writeable = False
    y.flags.writeable = False
    assert_same(trained_weights(x, y, sample_weight=np.ones(30)), trained_weights(X, Y))
    m = model()
    m.predict(x, verbose=0)
    m.evaluate(x, y, verbose=0)


def test_user_arrays_are_never_modified():
    x32 = X.astype(np.float32)
    arrays = {"x": X.copy(), "x32": x32.copy(), "y": Y.copy(), "w": np.linspace(0.1, 2, 30),
              "xv": X[:5].copy(), "yv": Y[:5].copy()}
    before = {k: v.copy() for k, v in arrays.items()}
    for x in (arrays["x"], arrays["x32"]):
        m = model()
        m.fit(x, arrays["y"], sample_weight=arrays["w"], epochs=2, verbose=0,
              validation_data=(arrays["xv"], arrays["yv"]))
        m.fit(x, arrays["y"], epochs=1, verbose=0, validation_split=0.2, class_weight={0: 2.0})
        m.evaluate(x, arrays["y"], sample_weight=arrays["w"], verbose=0)
        m.predict(x, verbose=0)
        m.train_on_batch(x, arrays["y"])
        m.activations(x)
    for k in arrays:
        np.testing.assert_array_equal(arrays[k], before[k])


def test_c_contiguous_array_of_the_model_dtype_is_not_copied():
    x32 = np.ascontiguousarray(X, dtype=np.float32)
    assert np.shares_memory(as_features(x32, 3, np.float32), x32)
    assert np.shares_memory(as_features(X, 3, np.float64), X)
    assert not np.shares_memory(as_features(X, 3, np.float32), X)  # another dtype: converted
    fortran = np.asfortranarray(x32)
    assert not np.shares_memory(as_features(fortran, 3, np.float32), fortran)  # another order: copied
    y = np.ascontiguousarray(Y[:, None], dtype=np.float32)
    assert np.shares_memory(as_targets(y, 30, 1, np.float32, False), y)


def test_one_d_x_is_a_column_of_samples_for_a_one_input_model():
    m = model(n_in=1)
    column = np.linspace(-1, 1, 7)
    out = m.predict(column, verbose=0)
    assert out.shape == (7, 1)
    np.testing.assert_array_equal(out, m.predict(column[:, None], verbose=0))
    m.fit(column, (column > 0).astype(int), epochs=1, verbose=0)


def test_one_d_x_as_long_as_the_input_width_is_one_sample():
    m = model()
    out = m.predict(X[3], verbose=0)
    assert out.shape == (1, 1)
    np.testing.assert_array_equal(out, m.predict(X[3:4], verbose=0))
    np.testing.assert_array_equal(m.predict(pd.Series(X[3]), verbose=0), out)


def test_one_d_x_of_another_length_is_refused():
    with pytest.raises(ValueError, match=r"a 1-D array must have length 3 for one sample\), got a 1-D array of "
                                         r"length 5"):
        model().predict(np.ones(5), verbose=0)


def test_one_d_y_for_a_single_output_and_column_y_are_the_same():
    assert_same(trained_weights(X, Y[:, None]), trained_weights(X, Y))
