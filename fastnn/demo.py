"""The main job: `python -m fastnn.demo` trains two networks on the shipped Boston housing data and prints
what they learned.

1. One linear neuron (Dense(1), no bias) on the raw features, Adam, MSE: its weights read as an equation.
2. A hidden layer of 10 ReLU units (no biases, as the classic Keras walk-through): lower test error.
Pass --quick for a shorter run.
"""

import argparse
import time

import numpy as np

import fastnn
from fastnn import Sequential
from fastnn.datasets import boston_housing
from fastnn.layers import Dense

FEATURES = ["CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs (seconds instead of tens of seconds)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    epochs = 200 if args.quick else 1000

    fastnn.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data()
    print(f"Boston housing: {len(x_train)} training and {len(x_test)} test houses, 13 features, "
          "target: median value in $1000s")

    t0 = time.perf_counter()
    linear = Sequential([Dense(1, use_bias=False, input_shape=(13,))], name="linear_neuron")
    linear.compile(optimizer="adam", loss="mse")
    linear.fit(x_train, y_train, epochs=epochs, verbose=0)
    t_lin = time.perf_counter() - t0
    w = linear.get_weights()[0][:, 0]
    print(f"\n1. One linear neuron, no bias ({epochs} epochs, Adam, MSE): trained in {t_lin:.2f} s")
    print("   price = " + " ".join(f"{'+' if v >= 0 else '-'} {abs(v):.3f}*{n}" for v, n in zip(w, FEATURES)))
    contrib = np.abs(w) * x_train.std(axis=0)
    order = np.argsort(-contrib)
    print("   largest effects (weight x feature spread): " +
          ", ".join(f"{FEATURES[i]} ({w[i]:+.3f} per unit)" for i in order[:4]))
    mse_lin = linear.evaluate(x_test, y_test, verbose=0)
    print(f"   test MSE: {mse_lin:.1f}")

    t0 = time.perf_counter()
    mlp = Sequential([Dense(10, activation="relu", use_bias=False, input_shape=(13,)), Dense(1, use_bias=False)],
                     name="hidden_layer")
    mlp.compile(optimizer="adam", loss="mse", metrics=["mae"])
    mlp.fit(x_train, y_train, epochs=epochs, verbose=0)
    t_mlp = time.perf_counter() - t0
    mse_mlp, mae_mlp = mlp.evaluate(x_test, y_test, verbose=0)
    print(f"\n2. Dense(10, relu) + Dense(1), no biases ({epochs} epochs): trained in {t_mlp:.2f} s")
    print(f"   test MSE: {mse_mlp:.1f}, mean absolute error ${mae_mlp * 1000:,.0f}")
    pred = mlp.predict(x_test[:5], verbose=0)[:, 0]
    print("   first test houses, true vs predicted ($1000s): " +
          ", ".join(f"{t:.1f} vs {p:.1f}" for t, p in zip(y_test[:5], pred)))
    print(f"\nThe hidden layer changed the test MSE from {mse_lin:.1f} to {mse_mlp:.1f}.")

if __name__ == "__main__":
    main()
