"""fastnn.sklearn.MLPClassifier against scikit-learn's MLPClassifier: same parameters, same data, wall time.

    python benchmarks/sklearn_mlp.py [--samples 20000] [--epochs 20] [--batch-size 64]

Both follow the same algorithm from the same random_state (fastnn's weights match scikit-learn's to float64
rounding when the batch size divides the sample count); the difference is where the batches run: one engine call
per epoch in fastnn, NumPy per batch in scikit-learn. Prints seconds, final training loss and accuracy.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SKMLPClassifier

from fastnn.sklearn import MLPClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = make_classification(n_samples=args.samples, n_features=20, n_informative=10, n_classes=3, random_state=0)
    print(f"{args.samples} x 20, 3 classes, hidden (100,), adam, batch {args.batch_size}, {args.epochs} epochs")
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        times = {}
        for name, cls in (("scikit-learn", SKMLPClassifier), ("fastnn.sklearn", MLPClassifier)):
            start = time.perf_counter()
            est = cls(max_iter=args.epochs, batch_size=args.batch_size, random_state=0).fit(Xd, y)
            times[name] = time.perf_counter() - start
            print(f"  {dtype.__name__:8s} {name:15s} {times[name]:6.2f} s  loss {est.loss_curve_[-1]:.5f}  "
                  f"accuracy {est.score(Xd, y):.4f}")
        print(f"  {dtype.__name__:8s} speed-up x{times['scikit-learn'] / times['fastnn.sklearn']:.1f}")


if __name__ == "__main__":
    main()
