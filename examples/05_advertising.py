"""Example 5: Advertising, the smallest complete regression network.

Sales (thousands of units) of a product in 200 markets from the TV, radio and newspaper
advertising budgets (thousands of dollars): 3 -> Dense(10, relu) -> Dense(1), mean squared error,
Adam, 100 epochs. The summary counts 3*10 + 10 = 40 plus 10*1 + 1 = 11, so 51 parameters; the
predictions for the first ten markets are printed beside the true sales.

    python examples/05_advertising.py [--out DIR] [--quick] [--seed S]

Training takes a fraction of a second, so --quick trains the same 100 epochs (it is accepted so
that every example runs with the same options).
"""

import numpy as np

from _common import Run, section

from fastnn import Sequential, viz
from fastnn.datasets import advertising
from fastnn.layers import Dense


def main(argv=None):
    run = Run("05_advertising", __doc__.splitlines()[0], argv)
    epochs = 100
    import matplotlib.pyplot as plt

    (x, y), _ = advertising.load_data()
    names = advertising.FEATURE_NAMES
    print(f"Advertising: {len(x)} markets; budgets {', '.join(names)} (k$) -> {advertising.TARGET_NAME} "
          f"(k units, {y.min():.1f} to {y.max():.1f})")

    section("The network: 3 -> Dense(10, relu) -> Dense(1)")
    model = Sequential([Dense(10, activation="relu", input_shape=(3,)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.summary()
    counts = [layer.count_params() for layer in model.layers]
    print(f"parameters: {counts[0]} (3*10 weights + 10 biases) + {counts[1]} (10*1 weights + 1 bias) "
          f"= {model.count_params()}")

    section(f"Training: Adam, MSE, {epochs} epochs, batch 32")
    history = model.fit(x, y, epochs=epochs, verbose=0)
    loss = history.history["loss"]
    print(f"MSE after epoch 1: {loss[0]:.2f}, after epoch {epochs}: {loss[-1]:.2f}")
    mse = model.evaluate(x, y, verbose=0)
    print(f"training MSE {mse:.3f} (RMSE {np.sqrt(mse):.2f} k units; sales vary with standard deviation "
          f"{y.std():.2f})")

    section("Predictions for the first ten markets")
    predicted = model.predict(x[:10], verbose=0)[:, 0]
    print(f"{'TV':>7} {'radio':>6} {'news':>6} {'sales':>7} {'predicted':>10}")
    for row, truth, pred in zip(x[:10], y[:10], predicted):
        print(f"{row[0]:>7.1f} {row[1]:>6.1f} {row[2]:>6.1f} {truth:>7.1f} {pred:>10.2f}")

    section("Figures")
    all_predicted = model.predict(x, verbose=0)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
    viz.plot_regression_fit(y, all_predicted, ax=axes[0], title=f"sales: truth and prediction (MSE {mse:.2f})")
    axes[0].set_ylabel("sales (k units)")
    viz.plot_history(history, ax=axes[1], title="training MSE")
    axes[1].set_yscale("log")
    run.save(fig, "05_advertising_fit.png")
    run.save(viz.plot_model(model, title="3 -> 10 relu -> 1: 51 parameters").ax.figure, "05_network.png")

    run.results.update(epochs=epochs, params=int(model.count_params()), layer_params=counts,
                       train_mse=round(float(mse), 4), first_ten=[round(float(p), 3) for p in predicted],
                       first_ten_true=[float(t) for t in y[:10]])
    run.finish()
    return run.results


if __name__ == "__main__":
    main()
