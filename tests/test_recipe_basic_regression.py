"""Recipe: "Basic regression: Predict fuel efficiency" (the TensorFlow/Keras guide), with only the imports changed
and the shipped Boston housing table (fastnn.datasets) in place of Auto MPG: a `Normalization` layer adapted to the
training features (and a one-feature one, `axis=None`), a linear model and a DNN sharing that normalizer, trained
with mean absolute error; the guide's table of test results becomes assertions."""

import numpy as np
import pandas as pd

import fastnn as keras  # the guide's `from tensorflow import keras`
from fastnn import layers  # `from tensorflow.keras import layers`


def _datasets():
    (x_train, y_train), (x_test, y_test) = keras.datasets.boston_housing.load_data()
    names = list(keras.datasets.boston_housing.FEATURE_NAMES)
    train_dataset = pd.DataFrame(x_train, columns=names).assign(MEDV=y_train)
    test_dataset = pd.DataFrame(x_test, columns=names).assign(MEDV=y_test)
    return train_dataset, test_dataset


def build_and_compile_model(norm):
    model = keras.Sequential([
        norm,
        layers.Dense(64, activation='relu'),
        layers.Dense(64, activation='relu'),
        layers.Dense(1)
    ])
    model.compile(loss='mean_absolute_error', optimizer=keras.optimizers.Adam(0.001))
    return model


def test_basic_regression_with_a_normalization_layer():
    keras.utils.set_random_seed(0)
    train_dataset, test_dataset = _datasets()
    train_features = train_dataset.copy()
    test_features = test_dataset.copy()
    train_labels = train_features.pop('MEDV')
    test_labels = test_features.pop('MEDV')

    normalizer = layers.Normalization(axis=-1)
    normalizer.adapt(np.array(train_features))
    mean, variance = normalizer.get_weights()[:2]
    np.testing.assert_allclose(np.ravel(mean), train_features.mean().to_numpy(), rtol=1e-5)
    np.testing.assert_allclose(np.ravel(variance), train_features.var(ddof=0).to_numpy(), rtol=1e-4)

    test_results = {}

    # One feature: `axis=None`, as the guide's horsepower model.
    rooms = np.array(train_features['RM'])
    rooms_normalizer = layers.Normalization(input_shape=[1, ], axis=None)
    rooms_normalizer.adapt(rooms)
    rooms_model = keras.Sequential([rooms_normalizer, layers.Dense(units=1)])
    rooms_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.1), loss='mean_absolute_error')
    history = rooms_model.fit(train_features['RM'], train_labels, epochs=60, verbose=0, validation_split=0.2)
    assert history.history['loss'][-1] < history.history['loss'][0]
    test_results['rooms_model'] = rooms_model.evaluate(test_features['RM'], test_labels, verbose=0)

    linear_model = keras.Sequential([normalizer, layers.Dense(units=1)])
    assert linear_model.predict(train_features[:10]).shape == (10, 1)
    linear_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.1), loss='mean_absolute_error')
    linear_model.fit(train_features, train_labels, epochs=60, verbose=0, validation_split=0.2)
    test_results['linear_model'] = linear_model.evaluate(test_features, test_labels, verbose=0)

    dnn_model = build_and_compile_model(normalizer)  # the same adapted normalizer, shared
    history = dnn_model.fit(train_features, train_labels, validation_split=0.2, verbose=0, epochs=60)
    test_results['dnn_model'] = dnn_model.evaluate(test_features, test_labels, verbose=0)

    # The guide's conclusion: all features beat one, and the DNN beats the linear model.
    baseline = float(np.mean(np.abs(test_labels - train_labels.mean())))
    assert test_results['rooms_model'] < baseline
    assert test_results['linear_model'] < test_results['rooms_model']
    assert test_results['dnn_model'] < test_results['linear_model']
    assert test_results['dnn_model'] < 4.0  # dollars (thousands) of mean absolute error

    # The normalizer's statistics are non-trainable state: training left them as adapted.
    np.testing.assert_array_equal(normalizer.get_weights()[0], np.asarray(mean, np.float32))

    test_predictions = dnn_model.predict(test_features).flatten()
    assert test_predictions.shape == (len(test_labels),)
