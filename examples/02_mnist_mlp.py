"""Example 2: the MNIST-style multi-layer perceptron, 784 -> 500 relu -> 10 softmax.

Categorical cross-entropy, Adam, batches of 300, 20 epochs, on MNIST when its files are on disk
and on Fashion-MNIST otherwise (Debian: `apt-get install dataset-fashion-mnist`). Prints the test
accuracy and per-class accuracy; draws sample images, the training curves and the misclassified
test images, most confident mistakes first.

    python examples/02_mnist_mlp.py [--out DIR] [--quick] [--seed S] [--dataset auto|mnist|fashion_mnist|digits]

--quick trains 3 epochs on 10,000 images (or, with no image files on disk, on scikit-learn's 8x8
digits). The classic Keras version of this network reports 97.3% test accuracy on MNIST.
"""

import time

import numpy as np

from _common import Run, add_dataset_argument, load_images, section, subset

from fastnn import Sequential, viz
from fastnn.layers import Dense
from fastnn.utils import to_categorical

KERAS_MNIST_ACCURACY = 0.973


def main(argv=None):
    run = Run("02_mnist_mlp", __doc__.splitlines()[0], argv, add_dataset_argument)
    data = load_images(run.args.dataset, run.quick)
    small = data.x_train.shape[1] < 784  # the 8x8 digits: everything is cheap
    epochs = 20 if (small or not run.quick) else 3
    if run.quick and not small:
        subset(data, 10000, 2000)
    if data.note:
        print(f"note: {data.note}")
    n_in = data.x_train.shape[1]
    print(f"{data.name}: {len(data.x_train)} training and {len(data.x_test)} test images of "
          f"{'x'.join(map(str, data.image_shape))} pixels, {len(data.class_names)} classes")

    section(f"{n_in} -> 500 relu -> 10 softmax, Adam, categorical cross-entropy, batch 300, {epochs} epochs")
    y_train = to_categorical(data.y_train, 10)
    y_test = to_categorical(data.y_test, 10)
    model = Sequential([Dense(500, activation="relu", input_shape=(n_in,)), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.summary()
    start = time.perf_counter()
    history = model.fit(data.x_train, y_train, batch_size=300, epochs=epochs, verbose=2)
    train_seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(data.x_test, y_test, verbose=0)
    print(f"training: {train_seconds:.1f} s")
    print(f"test loss {loss:.4f}")
    print(f"test accuracy {accuracy:.4f} on {data.name}"
          + (f" (classic Keras on MNIST: {KERAS_MNIST_ACCURACY})" if data.name == "MNIST" else ""))

    predicted = np.argmax(model.predict(data.x_test, verbose=0), axis=1)
    wrong = int(np.sum(predicted != data.y_test))
    print(f"{wrong} of {len(data.y_test)} test images misclassified")
    print("accuracy per class:")
    for k, name in enumerate(data.class_names):
        mask = data.y_test == k
        print(f"  {name:<12} {np.mean(predicted[mask] == k):.3f}  ({int(mask.sum())} images)")

    section("Figures")
    run.save(viz.plot_images(data.x_test[:20], data.image_shape, labels=data.y_test[:20],
                             class_names=data.class_names, title=f"{data.name}: the first test images").fig,
             "02_test_images.png")
    run.save(viz.plot_history(history, title=f"{data.name}: training").fig, "02_training.png")
    run.save(viz.plot_misclassified(model, data.x_test, data.y_test, data.image_shape, class_names=data.class_names,
                                    max_images=30, title=f"{wrong} mistakes, most confident first").fig,
             "02_misclassified.png")

    run.results.update(dataset=data.name, epochs=epochs, n_train=len(data.x_train), n_test=len(data.x_test),
                       test_accuracy=round(float(accuracy), 4), test_loss=round(float(loss), 4),
                       misclassified=wrong, train_seconds=round(train_seconds, 2),
                       keras_mnist_accuracy=KERAS_MNIST_ACCURACY)
    run.finish()
    return run.results


if __name__ == "__main__":
    main()
