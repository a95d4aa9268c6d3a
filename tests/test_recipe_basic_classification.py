"""Recipe: "Basic classification: Classify images of clothing" (the TensorFlow/Keras guide), with only the imports
changed: a Flatten + Dense network on Fashion-MNIST trained from logits, evaluated, then wrapped with a Softmax
layer into a probability model (`keras.Sequential([model, keras.layers.Softmax()])`) that shares its
weights. A subset of the data keeps the test short."""

import numpy as np

import fastnn as keras  # the guide's `from tensorflow import keras`
from _recipe_data import fashion_mnist

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


def test_basic_classification_with_a_probability_model():
    keras.utils.set_random_seed(0)
    (train_images, train_labels), (test_images, test_labels) = fashion_mnist(6000, 1000)
    assert train_images.shape == (6000, 28, 28) and len(CLASS_NAMES) == 10

    train_images = train_images / 255.0
    test_images = test_images / 255.0

    model = keras.Sequential([
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(128, activation='relu'),
        keras.layers.Dense(10)
    ])
    model.compile(optimizer='adam',
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=['accuracy'])
    history = model.fit(train_images, train_labels, epochs=5, verbose=0)
    assert history.history['accuracy'][-1] > history.history['accuracy'][0]

    test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)
    assert test_acc > 0.75  # the guide reaches about 0.88 on the full set

    probability_model = keras.Sequential([model, keras.layers.Softmax()])
    predictions = probability_model.predict(test_images)
    assert predictions.shape == (1000, 10)
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(predictions >= 0)
    # The probability model shares the trained weights: same ranking as the logits, same accuracy.
    logits = model.predict(test_images, verbose=0)
    np.testing.assert_array_equal(np.argmax(predictions, axis=1), np.argmax(logits, axis=1))
    assert np.mean(np.argmax(predictions, axis=1) == test_labels) == test_acc

    # "Use the trained model": one image, as a batch of one.
    img = test_images[1]
    img = (np.expand_dims(img, 0))
    assert img.shape == (1, 28, 28)
    predictions_single = probability_model.predict(img)
    assert predictions_single.shape == (1, 10)
    np.testing.assert_allclose(predictions_single[0], predictions[1], rtol=1e-5, atol=1e-7)
    assert CLASS_NAMES[np.argmax(predictions_single[0])] in CLASS_NAMES
