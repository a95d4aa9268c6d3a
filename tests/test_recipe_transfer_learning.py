"""Recipe: "Transfer learning & fine-tuning" (the Keras guide), for a dense network, with only the imports changed:
a model trained on the ten Fashion-MNIST classes gives a frozen feature extractor
(`keras.Model(inputs=base_model.inputs, outputs=base_model.layers[-2].output)`, `trainable = False`), a new head is
trained on a new task (footwear or not) with `x = feature_extractor(inputs, training=False)`, and the base is then
unfrozen and fine-tuned at a low learning rate after recompiling."""

import numpy as np

import fastnn as keras  # the guide's `import keras`
from _recipe_data import fashion_mnist

FOOTWEAR = (5, 7, 9)  # Sandal, Sneaker, Ankle boot


def _summary_counts(model):
    lines = []
    model.summary(print_fn=lines.append)
    counts = {}
    for line in lines[0].splitlines():
        for key in ("Total", "Trainable", "Non-trainable"):
            if line.strip().startswith(f"{key} params:"):
                counts[key] = int(line.split(":")[1].split("(")[0].replace(",", ""))
    return counts


def test_frozen_feature_extractor_with_a_new_head_then_fine_tuning():
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = fashion_mnist(6000, 1000)
    x_train, x_test = x_train / 255.0, x_test / 255.0

    # A "pre-trained" base: the ten-class classifier.
    base_model = keras.Sequential([
        keras.Input(shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10),
    ])
    base_model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       metrics=["accuracy"])
    base_model.fit(x_train, y_train, epochs=3, batch_size=64, verbose=0)

    # Freeze the feature extractor and put a new head on top.
    feature_extractor = keras.Model(inputs=base_model.inputs, outputs=base_model.layers[-2].output)
    feature_extractor.trainable = False
    frozen = [w.copy() for w in feature_extractor.get_weights()]
    base_before = [w.copy() for w in base_model.get_weights()]

    inputs = keras.Input(shape=(28, 28))
    x = feature_extractor(inputs, training=False)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    counts = _summary_counts(model)
    extractor_params = 28 * 28 * 64 + 64
    assert counts == {"Total": extractor_params + 65, "Trainable": 65, "Non-trainable": extractor_params}
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2

    y_new = np.isin(y_train, FOOTWEAR).astype(np.float32)
    y_new_test = np.isin(y_test, FOOTWEAR).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy()])
    history = model.fit(x_train, y_new, epochs=3, batch_size=64, validation_data=(x_test, y_new_test), verbose=0)
    assert history.history["val_binary_accuracy"][-1] > 0.9

    # The frozen base is bitwise unchanged, seen from the extractor and from the model that built it.
    for got, want in zip(feature_extractor.get_weights(), frozen):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(base_model.get_weights()[:2], base_before[:2]):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(model.get_weights()[:2], frozen):
        np.testing.assert_array_equal(got, want)

    # Fine-tuning: unfreeze, recompile (the change takes effect at compile, as in Keras), a low learning rate.
    feature_extractor.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-5),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy()])
    assert _summary_counts(model)["Non-trainable"] == 0
    model.fit(x_train, y_new, epochs=1, batch_size=64, verbose=0)
    assert not np.array_equal(feature_extractor.get_weights()[0], frozen[0])
    np.testing.assert_array_equal(base_model.get_weights()[0], feature_extractor.get_weights()[0])
    assert model.evaluate(x_test, y_new_test, verbose=0)[1] > 0.9
