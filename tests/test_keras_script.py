"""A Keras 3 script (the shape of the classic "simple MLP" tutorial, plus the functional API, callbacks and saving)
run end to end in a fresh interpreter with only its imports changed to fastnn; its printed results are checked."""

import re
import subprocess
import sys
import textwrap

KERAS_SCRIPT = textwrap.dedent('''
    import numpy as np
    import fastnn as keras          # was: import keras
    from fastnn import layers       # was: from keras import layers

    keras.utils.set_random_seed(42)

    # The data: three Gaussian blobs in 8 dimensions (in place of MNIST, to stay offline).
    num_classes = 3
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=3.0, size=(num_classes, 8))
    labels = rng.integers(0, num_classes, size=1200)
    x = (centers[labels] + rng.normal(size=(1200, 8))).astype("float32")
    x_train, x_test = x[:1000], x[1000:]
    y_train = keras.utils.to_categorical(labels[:1000], num_classes)
    y_test = keras.utils.to_categorical(labels[1000:], num_classes)
    print("x_train shape:", x_train.shape)
    print("y_train shape:", y_train.shape)

    model = keras.Sequential(
        [
            keras.Input(shape=(8,)),
            layers.Dense(32, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(32, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )
    model.summary()

    batch_size = 64
    epochs = 15
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)]
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1,
                        callbacks=callbacks, verbose=2)
    print("history keys:", sorted(history.history.keys()))

    score = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])

    model.save("mlp.keras")
    restored = keras.models.load_model("mlp.keras")
    same = np.array_equal(restored.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
    print("Reloaded predictions identical:", same)

    # The functional API, a hidden-layer model and sparse labels.
    inputs = keras.Input(shape=(8,), name="features")
    h = layers.Dense(16, activation="relu", name="hidden")(inputs)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(h)
    func = keras.Model(inputs=inputs, outputs=outputs, name="functional_mlp")
    func.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-2),
                 loss=keras.losses.SparseCategoricalCrossentropy(),
                 metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")])
    func.fit(x_train, labels[:1000], batch_size=32, epochs=5, verbose=0)
    results = func.evaluate(x_test, labels[1000:], verbose=0, return_dict=True)
    print("Functional accuracy:", results["acc"])
    features = keras.Model(inputs=func.input, outputs=func.get_layer("hidden").output)
    print("Hidden features shape:", features.predict(x_test, verbose=0).shape)
    print("First layer:", func.layers[1].name, [w.shape for w in func.layers[1].get_weights()])
''')


def test_keras_style_script_runs_end_to_end(tmp_path):
    script = tmp_path / "mlp.py"
    script.write_text(KERAS_SCRIPT)
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "x_train shape: (1000, 8)" in out and "y_train shape: (1000, 3)" in out
    assert 'Model: "sequential"' in out
    assert re.search(r"│ dense \(Dense\) +│ \(None, 32\) +│ +288 │", out)
    assert re.search(r"│ dropout \(Dropout\) +│ \(None, 32\) +│ +0 │", out)
    assert re.search(r"│ dense_2 \(Dense\) +│ \(None, 3\) +│ +99 │", out)
    assert " Total params: 1,443 (5.64 KB)" in out
    epochs_run = re.findall(r"^Epoch (\d+)/15$", out, re.M)
    assert epochs_run[0] == "1" and 4 <= len(epochs_run) <= 15
    epoch_lines = re.findall(r"^15/15 - \d+s - \d+(?:us|ms|s)/step - accuracy: [\d.]+ - loss: [\d.]+ - "
                             r"val_accuracy: [\d.]+ - val_loss: [\d.]+$", out, re.M)
    assert len(epoch_lines) == len(epochs_run)  # 900 training samples in batches of 64: 15 steps
    assert "history keys: ['accuracy', 'loss', 'val_accuracy', 'val_loss']" in out
    assert float(re.search(r"^Test accuracy: ([\d.]+)$", out, re.M).group(1)) >= 0.95
    assert float(re.search(r"^Test loss: ([\d.]+)$", out, re.M).group(1)) < 0.3
    assert "Reloaded predictions identical: True" in out
    assert float(re.search(r"^Functional accuracy: ([\d.]+)$", out, re.M).group(1)) >= 0.95
    assert "Hidden features shape: (200, 16)" in out
    assert "First layer: hidden [(8, 16), (16,)]" in out
    assert (tmp_path / "mlp.keras").is_file()
