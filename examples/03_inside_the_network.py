"""Example 3: inside the network, on the images of example 2 (MNIST, else Fashion-MNIST).

A single-layer classifier, 784 -> 10 softmax, computes one score per class as the dot product of
the image with that class's 784 weights: drawn as images, the weights are ten templates. Its
mistakes are read from the confusion matrix, drawn with counts and with the most confident example
of each cell. Then a hidden layer of only 10 relu units: its filters are images too, and each class
is a weighted vote of the filters (bars of the output weights).

    python examples/03_inside_the_network.py [--out DIR] [--quick] [--seed S] [--dataset ...]

--quick trains 3 epochs on 10,000 images instead of 20 epochs on all of them (scikit-learn's
8x8 digits, the fallback without image files, get 100 epochs).
"""

import numpy as np

from _common import Run, add_dataset_argument, load_images, section, subset

from fastnn import Sequential, viz
from fastnn.layers import Dense
from fastnn.utils import to_categorical


def train(model, data, epochs):
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(data.x_train, to_categorical(data.y_train, 10), batch_size=300, epochs=epochs, verbose=0)
    _, accuracy = model.evaluate(data.x_test, to_categorical(data.y_test, 10), verbose=0)
    return float(accuracy)


def print_confusion(truth, predicted, names):
    counts = np.zeros((10, 10), dtype=np.int64)
    np.add.at(counts, (truth, predicted), 1)
    short = [n[:5] for n in names]
    print("rows: true class, columns: predicted class")
    print(" " * 6 + "".join(f"{n:>6}" for n in short))
    for i in range(10):
        print(f"{short[i]:>6}" + "".join(f"{c:>6}" for c in counts[i]))
    off = counts.copy()
    np.fill_diagonal(off, 0)
    print("most frequent mistakes:")
    for flat in np.argsort(off, axis=None)[::-1][:3]:
        i, j = np.unravel_index(flat, off.shape)
        print(f"  {names[i]} taken for {names[j]}: {off[i, j]} times")
    return counts


def main(argv=None):
    run = Run("03_inside", __doc__.splitlines()[0], argv, add_dataset_argument)
    data = load_images(run.args.dataset, run.quick)
    small = data.x_train.shape[1] < 784
    epochs = 100 if small else (3 if run.quick else 20)  # 1400 small images: 5 batches an epoch
    if run.quick and not small:
        subset(data, 10000, 2000)
    if data.note:
        print(f"note: {data.note}")
    n_in = data.x_train.shape[1]
    names = data.class_names
    print(f"{data.name}: {len(data.x_train)} training and {len(data.x_test)} test images; {epochs} epochs, "
          "Adam, batch 300")

    section(f"1. A single layer, {n_in} -> 10 softmax: ten templates")
    linear = Sequential([Dense(10, activation="softmax", input_shape=(n_in,))])
    acc_linear = train(linear, data, epochs)
    print(f"single layer: test accuracy {acc_linear:.4f} ({linear.count_params()} parameters)")
    kernel, bias = linear.get_weights()
    x = data.x_test[0]
    scores = x @ kernel + bias
    print(f"first test image ({names[data.y_test[0]]}): score of each class = image . template + bias")
    print("  " + ", ".join(f"{n}: {s:.1f}" for n, s in zip(names, scores)))
    print(f"  highest: {names[int(np.argmax(scores))]}")
    run.save(viz.plot_weight_images(linear, data.image_shape, labels=names, per_row=5,
                                    title="the single layer's weights: one template per class").fig,
             "03_templates.png")

    section("2. Its confusion matrix")
    probabilities = linear.predict(data.x_test, verbose=0)
    predicted = np.argmax(probabilities, axis=1)
    counts = print_confusion(data.y_test, predicted, names)
    run.save(viz.plot_confusion_matrix(data.y_test, probabilities, labels=names,
                                       title=f"single layer, test accuracy {acc_linear:.3f}").ax.figure,
             "03_confusion_matrix.png")
    run.save(viz.plot_confusion_examples(linear, data.x_test, data.y_test, data.image_shape, labels=names).fig,
             "03_confusion_examples.png")

    section(f"3. A hidden layer of 10 relu units: {n_in} -> 10 -> 10 softmax")
    hidden = Sequential([Dense(10, activation="relu", input_shape=(n_in,)), Dense(10, activation="softmax")])
    acc_hidden = train(hidden, data, epochs)
    print(f"10 hidden units: test accuracy {acc_hidden:.4f} ({hidden.count_params()} parameters)")
    w_out = hidden.layers[1].get_weights()[0]
    for c in range(10):
        order = np.argsort(w_out[:, c])
        print(f"  {names[c]:<12} votes most for filter {order[-1]} ({w_out[order[-1], c]:+.2f}), "
              f"most against filter {order[0]} ({w_out[order[0], c]:+.2f})")
    run.save(viz.plot_hidden_filters(hidden, data.image_shape, labels=names, per_row=10,
                                     title="10 hidden filters (top) and each class's weights on them").fig,
             "03_hidden_filters.png")

    run.results.update(dataset=data.name, epochs=epochs, test_accuracy_single_layer=round(acc_linear, 4),
                       test_accuracy_hidden10=round(acc_hidden, 4), confusion=counts.tolist())
    run.finish()
    return run.results


if __name__ == "__main__":
    main()
