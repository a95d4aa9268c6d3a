"""Example 4: the geometry of neurons, on small synthetic sets (fastnn.datasets.toy).

1. A perceptron draws a line; its weight vector w is normal to it.
2. A sigmoid neuron draws the same kind of line, w . x + b = 0, and its accuracy climbs to 1.
3. With three features the line becomes a plane.
4. Softmax over three classes: three scores, and boundaries where two scores tie.
5. The L-shaped set: no line separates it. A single neuron fails; a hidden layer of 3 relu units
   succeeds (in its hidden space the classes are separated by a plane); the same hidden layer
   without activation fails, since two linear maps compose into one.
6. Regression of y = -(x - 0.5)^2 + 0.25 on x in [0, 1] (the models read x - 0.5): a linear unit
   fails; 10 relu units fit, the curve being a sum of hinges; 400 relu units fit closer.

    python examples/04_geometry_of_neurons.py [--out DIR] [--quick] [--seed S]

--quick trains each model for a quarter of the epochs.
"""

import numpy as np

from _common import Run, section

from fastnn import Perceptron, Sequential, viz
from fastnn.datasets import toy
from fastnn.layers import Dense
from fastnn.optimizers import Adam


def fit(layers, X, y, loss, epochs, learning_rate):
    """A Sequential of ``layers`` trained with Adam; returns the model, its History and the
    training-set [loss, accuracy] (or the loss alone for regression)."""
    model = Sequential(layers)
    metrics = [] if loss == "mse" else ["accuracy"]
    model.compile(optimizer=Adam(learning_rate=learning_rate), loss=loss, metrics=metrics)
    history = model.fit(X, y, epochs=epochs, verbose=0)
    return model, history, model.evaluate(X, y, verbose=0)


def line_equation(w, b):
    return f"{w[0]:+.3f}*x1 {w[1]:+.3f}*x2 {b:+.3f} = 0"


def main(argv=None):
    run = Run("04_geometry", __doc__.splitlines()[0], argv)
    seed = run.args.seed
    scale = 0.25 if run.quick else 1.0
    ep = lambda n: max(5, int(n * scale))  # noqa: E731  epochs, shortened by --quick
    import matplotlib.pyplot as plt

    results = run.results

    section("1. The perceptron: a line and its weight vector")
    X, y = toy.make_linear_2d(100, seed)
    perceptron = Perceptron(eta=0.1, epochs=10, seed=1).fit(X, y)
    b, w = perceptron.w_[0], perceptron.w_[1:]
    acc = float(np.mean(perceptron.predict(X) == y))
    print(f"updates per epoch: {perceptron.errors_}")
    print(f"boundary {line_equation(w, b)}; w = ({w[0]:.3f}, {w[1]:.3f}) is normal to it")
    print(f"perceptron: training accuracy {acc:.3f}")
    results["perceptron_accuracy"] = acc
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    viz.plot_decision_boundary(perceptron, X, y, ax=axes[0], title="perceptron: the line and w")
    axes[1].plot(np.arange(1, len(perceptron.errors_) + 1), perceptron.errors_, marker="o")
    axes[1].set(xlabel="epoch", ylabel="updates (misclassified samples)", title="the perceptron rule converges")
    run.save(fig, "04_perceptron.png")

    section("2. A sigmoid neuron: Dense(1, sigmoid), binary cross-entropy")
    X, y = toy.make_linear_2d(200, seed)
    neuron, history, (_, acc) = fit([Dense(1, activation="sigmoid", input_shape=(2,))], X, y,
                                    "binary_crossentropy", ep(100), 0.05)
    kernel, bias = neuron.get_weights()
    print(f"boundary {line_equation(kernel[:, 0], bias[0])} (where sigmoid(w . x + b) = 0.5)")
    print(f"accuracy after epoch 1: {history.history['accuracy'][0]:.3f}, after the last: "
          f"{history.history['accuracy'][-1]:.3f}")
    print(f"sigmoid neuron: training accuracy {acc:.3f}")
    results["sigmoid_accuracy"] = acc
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    viz.plot_decision_boundary(neuron, X, y, ax=axes[0], title="sigmoid neuron")
    viz.plot_history(history, keys=["accuracy"], ax=axes[1], title="accuracy during training")
    run.save(fig, "04_sigmoid_neuron.png")

    section("3. Three features: the line becomes a plane")
    X, y = toy.make_linear_3d(300, seed)
    neuron3, _, (_, acc) = fit([Dense(1, activation="sigmoid", input_shape=(3,))], X, y,
                               "binary_crossentropy", ep(150), 0.05)
    kernel, bias = neuron3.get_weights()
    w = kernel[:, 0]
    print(f"plane {w[0]:+.3f}*x1 {w[1]:+.3f}*x2 {w[2]:+.3f}*x3 {bias[0]:+.3f} = 0 "
          "(the data's true plane is x1 + x2 + x3 = 1.5)")
    print(f"3-feature neuron: training accuracy {acc:.3f}")
    results["plane_accuracy"] = acc
    run.save(viz.plot_decision_plane_3d(neuron3, X, y, title="a neuron with 3 inputs: a plane").ax.figure,
             "04_plane_3d.png")

    section("4. Softmax over three classes: Dense(3, softmax)")
    X, y = toy.make_blobs3(300, seed)
    softmax, _, (_, acc) = fit([Dense(3, activation="softmax", input_shape=(2,))], X, y,
                               "sparse_categorical_crossentropy", ep(100), 0.05)
    kernel, bias = softmax.get_weights()
    for i, j in ((0, 1), (0, 2), (1, 2)):
        print(f"classes {i} and {j} tie on the line {line_equation(kernel[:, i] - kernel[:, j], bias[i] - bias[j])}")
    print(f"softmax: training accuracy {acc:.3f}")
    results["softmax_accuracy"] = acc
    run.save(viz.plot_decision_boundary(softmax, X, y, title="softmax: three lines meet").ax.figure,
             "04_softmax_lines.png")

    section("5. The L-shaped set: no line separates it")
    X, y = toy.make_l_shape(300, seed)
    single, _, (_, acc_single) = fit([Dense(1, activation="sigmoid", input_shape=(2,))], X, y,
                                     "binary_crossentropy", ep(400), 0.05)
    relu3, _, (_, acc_relu3) = fit([Dense(3, activation="relu", input_shape=(2,)),
                                    Dense(1, activation="sigmoid")], X, y, "binary_crossentropy", ep(400), 0.05)
    linear3, _, (_, acc_linear3) = fit([Dense(3, input_shape=(2,)), Dense(1, activation="sigmoid")], X, y,
                                       "binary_crossentropy", ep(400), 0.05)
    share = max(np.mean(y), 1 - np.mean(y))
    print(f"(always answering the larger class scores {share:.3f})")
    print(f"single neuron: training accuracy {acc_single:.3f}")
    print(f"3 relu hidden units: training accuracy {acc_relu3:.3f}")
    k1, c1 = relu3.layers[0].get_weights()
    active = int(np.sum(np.maximum(X @ k1 + c1, 0.0).max(axis=0) > 0))
    print(f"  {active} of the 3 relu units are active on some sample (a unit that is 0 everywhere is dead)")
    print(f"3 linear hidden units: training accuracy {acc_linear3:.3f}")
    w1, b1, w2, b2 = linear3.get_weights()
    w, b = (w1 @ w2)[:, 0], float(b1 @ w2[:, 0] + b2[0])
    print(f"  the linear hidden layer composes into one line: {line_equation(w, b)}")
    results.update(l_single_accuracy=acc_single, l_relu3_accuracy=acc_relu3, l_linear3_accuracy=acc_linear3)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained")
    viz.plot_decision_boundary(single, X, y, ax=axes[0], title=f"single neuron: {acc_single:.2f}")
    viz.plot_decision_boundary(relu3, X, y, ax=axes[1], title=f"3 relu hidden units: {acc_relu3:.2f}")
    viz.plot_decision_boundary(linear3, X, y, ax=axes[2], title=f"3 linear hidden units: {acc_linear3:.2f}")
    run.save(fig, "04_l_shape.png")
    fig = plt.figure(figsize=(7, 5.5))
    ax = fig.add_subplot(projection="3d")
    viz.plot_hidden_space(relu3, X, y, ax=ax, title="the 3 relu units' space: a plane separates the classes")
    run.save(fig, "04_hidden_space.png")

    section("6. Regression of y = -(x - 0.5)^2 + 0.25 on [0, 1]")
    x, t = toy.make_parabola(100, seed)
    # The models read u = x - 0.5, centred on 0. With x in [0, 1] and biases starting at 0, a relu
    # unit whose initial weight is negative would output 0 for every sample and never learn.
    u = x - 0.5
    print("input u = x - 0.5 (centred, so that no relu unit starts dead)")
    print(f"(predicting the mean everywhere gives MSE {np.var(t):.2e})")
    lin, _, mse_lin = fit([Dense(1, input_shape=(1,))], u, t, "mse", ep(500), 0.01)
    r10, _, mse_10 = fit([Dense(10, activation="relu", input_shape=(1,)), Dense(1)], u, t, "mse", ep(500), 0.01)
    r400, _, mse_400 = fit([Dense(400, activation="relu", input_shape=(1,)), Dense(1)], u, t, "mse", ep(500), 0.001)
    print(f"linear unit: MSE {mse_lin:.2e}")
    print(f"10 relu units: MSE {mse_10:.2e}")
    print(f"400 relu units: MSE {mse_400:.2e}")
    results.update(parabola_mse_linear=mse_lin, parabola_mse_relu10=mse_10, parabola_mse_relu400=mse_400)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained", sharey=True)
    for ax, model, label, mse in ((axes[0], lin, "linear unit", mse_lin), (axes[1], r10, "10 relu units", mse_10),
                                  (axes[2], r400, "400 relu units", mse_400)):
        viz.plot_function_fit(model, u, t, ax=ax, title=f"{label}: MSE {mse:.2g}")
        ax.set_xlabel("u = x - 0.5")
    run.save(fig, "04_regression.png")
    decomposition = viz.plot_relu_decomposition(r10, u, t, title="10 relu units: the fit is a sum of hinges")
    for ax in decomposition.axes:
        ax.set_xlabel("u = x - 0.5")
    kinks = np.sort(decomposition.kinks[np.isfinite(decomposition.kinks)])
    inside = kinks[(kinks > -0.5) & (kinks < 0.5)]
    print(f"the 10 units switch on/off at u = {np.round(kinks, 2).tolist()} ({len(inside)} inside the data)")
    run.save(decomposition.fig, "04_relu_decomposition.png")

    for key, value in results.items():
        if isinstance(value, float):
            results[key] = float(f"{value:.4g}")
    run.finish()
    return results


if __name__ == "__main__":
    main()
