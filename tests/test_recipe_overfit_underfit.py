"""Recipe: "Overfit and underfit" (the TensorFlow/Keras guide), with only the imports changed and a smaller
generated stand-in for its Higgs data (28 features, noisy labels, few training samples, so that a large model
overfits): an InverseTimeDecay schedule, `binary_crossentropy` as a named loss-metric watched by EarlyStopping
(`monitor='val_binary_crossentropy'`), and a large model against the same model with L2 weight regularization
and with Dropout. The guide's plots become assertions on the histories."""

import numpy as np

import fastnn as keras  # the guide's `from tensorflow import keras`
from fastnn import layers, regularizers  # `from tensorflow.keras import layers, regularizers`

FEATURES = 28
N_TRAIN, N_VALIDATION = 500, 1000
BATCH_SIZE = 100
STEPS_PER_EPOCH = N_TRAIN // BATCH_SIZE


def _higgs_like(n, rng, w):
    x = rng.normal(size=(n, FEATURES)).astype(np.float32)
    logits = x @ w + 0.5 * np.sin(3 * x[:, 0]) * x[:, 1]
    y = (logits + rng.normal(scale=1.0, size=n) > 0).astype(np.float32)
    return x, y


def _data():
    rng = np.random.default_rng(0)
    w = rng.normal(size=FEATURES) / np.sqrt(FEATURES)
    return _higgs_like(N_TRAIN, rng, w), _higgs_like(N_VALIDATION, rng, w)


def get_optimizer():
    lr_schedule = keras.optimizers.schedules.InverseTimeDecay(
        0.001, decay_steps=STEPS_PER_EPOCH * 1000, decay_rate=1, staircase=False)
    return keras.optimizers.Adam(lr_schedule)


def get_callbacks():
    return [keras.callbacks.EarlyStopping(monitor='val_binary_crossentropy', patience=20)]


def compile_and_fit(model, train, validate, optimizer=None, max_epochs=150):
    if optimizer is None:
        optimizer = get_optimizer()
    model.compile(optimizer=optimizer,
                  loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryCrossentropy(from_logits=True, name='binary_crossentropy'),
                           'accuracy'])
    history = model.fit(train[0], train[1], batch_size=BATCH_SIZE, epochs=max_epochs, validation_data=validate,
                        callbacks=get_callbacks(), verbose=0)
    return history


def _gap(history):
    """Validation minus training binary crossentropy at the last epoch (how far the model overfits when early
    stopping ends it: the distance between the guide's two curves)."""
    h = history.history
    return h['val_binary_crossentropy'][-1] - h['binary_crossentropy'][-1]


def test_regularization_and_dropout_reduce_overfitting():
    train, validate = _data()

    keras.utils.set_random_seed(1)
    tiny_model = keras.Sequential([
        layers.Dense(16, activation='elu', input_shape=(FEATURES,)),
        layers.Dense(1)
    ])
    tiny = compile_and_fit(tiny_model, train, validate)

    keras.utils.set_random_seed(1)
    large_model = keras.Sequential([
        layers.Dense(128, activation='elu', input_shape=(FEATURES,)),
        layers.Dense(128, activation='elu'),
        layers.Dense(128, activation='elu'),
        layers.Dense(1)
    ])
    large = compile_and_fit(large_model, train, validate)

    keras.utils.set_random_seed(1)
    l2_model = keras.Sequential([
        layers.Dense(128, activation='elu', kernel_regularizer=regularizers.l2(0.001), input_shape=(FEATURES,)),
        layers.Dense(128, activation='elu', kernel_regularizer=regularizers.l2(0.001)),
        layers.Dense(128, activation='elu', kernel_regularizer=regularizers.l2(0.001)),
        layers.Dense(1)
    ])
    l2 = compile_and_fit(l2_model, train, validate)

    keras.utils.set_random_seed(1)
    dropout_model = keras.Sequential([
        layers.Dense(128, activation='elu', input_shape=(FEATURES,)),
        layers.Dropout(0.5),
        layers.Dense(128, activation='elu'),
        layers.Dropout(0.5),
        layers.Dense(128, activation='elu'),
        layers.Dropout(0.5),
        layers.Dense(1)
    ])
    dropout = compile_and_fit(dropout_model, train, validate)

    # EarlyStopping watched the named loss-metric: the large model overfits and stops well before max_epochs,
    # patience epochs after its best validation loss.
    h = large.history
    assert 'val_binary_crossentropy' in h and 'val_accuracy' in h
    assert len(large.epoch) < 150
    assert len(h['val_binary_crossentropy']) - 1 - int(np.argmin(h['val_binary_crossentropy'])) == 20
    # The large model fits its training set far better than the tiny one, and overfits more.
    assert min(h['binary_crossentropy']) < min(tiny.history['binary_crossentropy'])
    assert _gap(large) > _gap(tiny) + 0.2
    # Weight regularization and dropout both reduce the gap between validation and training loss.
    assert _gap(l2) < _gap(large) - 0.05
    assert _gap(dropout) < _gap(large) - 0.2
    # With L2, the reported loss is the crossentropy plus the penalty: larger than the metric alone.
    assert l2.history['loss'][-1] > l2.history['binary_crossentropy'][-1]
    assert large.history['loss'][-1] == large.history['binary_crossentropy'][-1] or \
        abs(large.history['loss'][-1] - large.history['binary_crossentropy'][-1]) < 1e-5
