"""fastnn's normalization layers against Keras 3 itself (not a test: Keras and PyTorch are not test dependencies).

    KERAS_BACKEND=torch <python with keras+torch> benchmarks/keras_parity_normalization.py --keras out.npz
    <python with fastnn> benchmarks/keras_parity_normalization.py --check out.npz

The Keras side builds Normalization (adapted) -> Dense -> BatchNormalization -> LayerNormalization -> Rescaling ->
UnitNormalization -> Dense, sets seeded weights, trains 3 epochs of SGD and saves predictions, losses and weights;
the fastnn side repeats it from the same weights and prints the largest differences (float32: ~1e-7 expected).
"""

import argparse
import os

import numpy as np


def build(keras, layers, x):
    norm = layers.Normalization()
    norm.adapt(x)
    return keras.Sequential([keras.Input(shape=(4,)), norm, layers.Dense(5), layers.BatchNormalization(momentum=0.9),
                             layers.LayerNormalization(), layers.Rescaling(0.5, offset=0.1),
                             layers.UnitNormalization(), layers.Dense(1)])


def run(keras, layers, sgd, x, y, w0):
    model = build(keras, layers, x)
    model.set_weights(w0)
    model.compile(optimizer=sgd(0.1), loss="mse")
    p0 = model.predict(x, verbose=0)
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    return p0, np.array(history.history["loss"]), model.get_weights(), model.predict(x, verbose=0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--keras", metavar="OUT", help="run the Keras side and write OUT (.npz)")
    g.add_argument("--check", metavar="IN", help="run fastnn on the Keras side's data and compare")
    args = p.parse_args()
    if args.keras:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras
        rng = np.random.RandomState(0)
        x = (rng.randn(32, 4) * [1, 10, 100, 0.1] + [0, 5, -50, 1]).astype("float32")
        y = rng.randn(32, 1).astype("float32")
        template = build(keras, keras.layers, x).get_weights()
        w0 = [rng.randn(*w.shape).astype("float32") * 0.5 if w.ndim == 2 else w for w in template]
        p0, loss, w1, p1 = run(keras, keras.layers, keras.optimizers.SGD, x, y, w0)
        np.savez(args.keras, x=x, y=y, p0=p0, p1=p1, loss=loss, n=len(w0),
                 **{f"w0_{i}": w for i, w in enumerate(w0)}, **{f"w1_{i}": w for i, w in enumerate(w1)})
        return
    import fastnn
    k = np.load(args.check)
    w0 = [k[f"w0_{i}"] for i in range(int(k["n"]))]
    p0, loss, w1, p1 = run(fastnn, fastnn.layers, fastnn.optimizers.SGD, k["x"], k["y"], w0)
    print("predict before training: max |fastnn - keras| =", float(np.abs(p0 - k["p0"]).max()))
    print("epoch losses: fastnn", loss, "keras", k["loss"])
    print("weights after training (gamma, beta, moving statistics included): max |diff| =",
          max(float(np.abs(a - k[f"w1_{i}"]).max()) for i, a in enumerate(w1)))
    print("predict after training: max |diff| =", float(np.abs(p1 - k["p1"]).max()))


if __name__ == "__main__":
    main()
