"""Example 1: what a network learns, on Boston housing prices.

A single linear unit without bias, Dense(1, use_bias=False), trained with Adam on the mean squared
error for 1000 epochs on the raw features, is a linear regression: its 13 weights read as an
equation, price = -0.096*CRIM + 0.096*ZN + ... Then a hidden layer, Dense(10, relu, no bias) +
Dense(1, no bias), lowers the test error; one test house is followed through its layers by hand
with get_weights() and NumPy, and the result matches predict(). Figures: truth against prediction
for both models, the linear weights, the training curves, the network.

    python examples/01_boston_what_a_network_learns.py [--out DIR] [--quick] [--seed S]

Training on 404 houses takes well under a second, so --quick trains the same 1000 epochs (it is
accepted so that every example runs with the same options). The classic Keras versions of these
two models report a test MSE of 31.9 and 27.4.
"""

import numpy as np

from _common import Run, section

from fastnn import Sequential, viz
from fastnn.datasets import boston_housing
from fastnn.layers import Dense

KERAS_TEST_MSE = {"linear": 31.9, "hidden": 27.4}


def main(argv=None):
    run = Run("01_boston", __doc__.splitlines()[0], argv)
    epochs = 1000
    import matplotlib.pyplot as plt

    (x_train, y_train), (x_test, y_test) = boston_housing.load_data()
    names = boston_housing.FEATURE_NAMES
    print(f"Boston housing: {len(x_train)} training and {len(x_test)} test houses, {x_train.shape[1]} features, "
          f"prices in k$ from {y_train.min():.0f} to {y_train.max():.0f}")

    section(f"1. One linear unit, no bias: Dense(1, use_bias=False), Adam, MSE, {epochs} epochs")
    linear = Sequential([Dense(1, use_bias=False, input_shape=(13,))])
    linear.compile(optimizer="adam", loss="mse")
    h_linear = linear.fit(x_train, y_train, epochs=epochs, verbose=0)
    mse_linear = linear.evaluate(x_test, y_test, verbose=0)
    print(f"training MSE {h_linear.history['loss'][-1]:.2f}")
    print(f"linear model: test MSE {mse_linear:.2f} (classic Keras: {KERAS_TEST_MSE['linear']})")
    print("The model is an equation; each weight is what one unit of that feature adds to the price (k$):")
    explanation = viz.explain_linear(linear, names, target_name="price", decimals=3)
    print("  " + explanation.equation.replace(" + ", "\n      + ").replace(" - ", "\n      - "))
    print("(The features have different scales: NOX is 0.4-0.9, TAX 190-710, so a weight's size alone does not "
          "say how much a feature matters.)")

    section(f"2. A hidden layer: Dense(10, relu, no bias) + Dense(1, no bias), {epochs} epochs")
    hidden = Sequential([Dense(10, activation="relu", use_bias=False, input_shape=(13,)),
                         Dense(1, use_bias=False)])
    hidden.compile(optimizer="adam", loss="mse")
    h_hidden = hidden.fit(x_train, y_train, epochs=epochs, verbose=0)
    mse_hidden = hidden.evaluate(x_test, y_test, verbose=0)
    print(f"training MSE {h_hidden.history['loss'][-1]:.2f}")
    print(f"hidden-layer model: test MSE {mse_hidden:.2f} (classic Keras: {KERAS_TEST_MSE['hidden']})")
    hidden.summary()

    section("3. One test house followed through the layers by hand")
    x = x_test[0]
    (w1,) = hidden.layers[0].get_weights()  # (13, 10): no bias, so the kernel alone
    (w2,) = hidden.layers[1].get_weights()  # (10, 1)
    z = x @ w1                               # what each hidden unit sums
    a = np.maximum(z, 0.0)                   # relu
    by_hand = float(a @ w2[:, 0])            # the output unit sums the hidden activations
    predicted = float(hidden.predict(x_test[:1], verbose=0)[0, 0])
    print("features: " + ", ".join(f"{n}={v:g}" for n, v in zip(names, x)))
    print(f"{'unit':>4} {'sum x.w1':>10} {'relu':>9} {'w2':>8} {'relu*w2':>9}")
    for i in range(len(z)):
        print(f"{i:>4} {z[i]:>10.3f} {a[i]:>9.3f} {w2[i, 0]:>8.3f} {a[i] * w2[i, 0] + 0.0:>9.3f}")
    print(f"by hand: {by_hand:.4f}   predict: {predicted:.4f}   true price: {y_test[0]:.1f}")
    agree = abs(by_hand - predicted) <= 1e-4 * max(1.0, abs(predicted))
    print("by hand and predict agree" if agree else "by hand and predict DISAGREE")
    print(f"{int((a == 0).sum())} of 10 hidden units are silent (relu of a negative sum) for this house")

    section("Figures")
    pred_linear = linear.predict(x_test, verbose=0)
    pred_hidden = hidden.predict(x_test, verbose=0)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained", sharey=True)
    viz.plot_regression_fit(y_test, pred_linear, ax=axes[0],
                            title=f"linear: test MSE {mse_linear:.1f}")
    viz.plot_regression_fit(y_test, pred_hidden, ax=axes[1],
                            title=f"10 relu hidden units: test MSE {mse_hidden:.1f}")
    axes[0].set_ylabel("price (k$)")
    axes[1].set_ylabel("")
    run.save(fig, "01_truth_vs_prediction.png")

    fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    lim = float(max(y_test.max(), pred_linear.max(), pred_hidden.max())) + 2
    ax.plot([0, lim], [0, lim], color="grey", linewidth=1, label="perfect")
    ax.scatter(y_test, pred_linear[:, 0], s=14, label="linear")
    ax.scatter(y_test, pred_hidden[:, 0], s=14, label="hidden layer")
    ax.set(xlabel="true price (k$)", ylabel="predicted price (k$)", title="test houses: prediction against truth")
    ax.set_aspect("equal")
    ax.legend()
    run.save(fig, "01_scatter.png")

    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    weights = linear.get_weights()[0][:, 0]
    ax.barh(names[::-1], weights[::-1], color=np.where(weights[::-1] < 0, "tab:red", "tab:blue"))
    ax.axvline(0, color="k", linewidth=0.8)
    ax.set(xlabel="weight (k$ per unit of the feature)", title="the linear model's equation")
    run.save(fig, "01_linear_weights.png")

    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    ax.plot(np.arange(1, epochs + 1), h_linear.history["loss"], label="linear")
    ax.plot(np.arange(1, epochs + 1), h_hidden.history["loss"], label="hidden layer")
    ax.set(yscale="log", xlabel="epoch", ylabel="training MSE", title="training curves")
    ax.legend()
    run.save(fig, "01_training.png")

    run.save(viz.plot_model(hidden, title="13 -> 10 relu -> 1").ax.figure, "01_network.png")

    run.results.update(epochs=epochs, test_mse_linear=round(float(mse_linear), 3),
                       test_mse_hidden=round(float(mse_hidden), 3), keras_test_mse=KERAS_TEST_MSE,
                       equation=explanation.equation, by_hand=by_hand, predict=predicted, agree=bool(agree))
    run.finish()
    return run.results


if __name__ == "__main__":
    main()
