"""Render every fastnn.viz figure to PNG files, training the small models they need with fastnn.

    python -m fastnn.viz.gallery OUTDIR [--quick] [--seed S]

Data is synthetic (fastnn.datasets.toy when present, else made here with NumPy) or shipped with
fastnn (the Advertising table), so nothing is downloaded. The digit images are seven-segment
glyphs drawn with jitter and noise; the colour images are simple scenes (sky over sea, field,
sunset). ``--quick`` trains for fewer epochs on fewer samples (a smoke test of the figures).
"""

import argparse
import os
import sys

import numpy as np

FIGURES = (
    "history.png",
    "decision_boundary_neuron.png",
    "decision_boundary_softmax.png",
    "decision_boundary_perceptron.png",
    "decision_boundary_mlp.png",
    "decision_plane_3d.png",
    "hidden_space_2d.png",
    "hidden_space_3d.png",
    "weight_images.png",
    "weight_images_colour.png",
    "hidden_filters.png",
    "images.png",
    "misclassified.png",
    "confusion_matrix.png",
    "confusion_examples.png",
    "regression_fit.png",
    "function_fit.png",
    "relu_decomposition.png",
    "activations.png",
    "model.png",
    "explain_linear.png",
)

# ---------------------------------------------------------------------------------------------
# Data

# segments a (top), b (top right), c (bottom right), d (bottom), e (bottom left), f (top left), g (middle)
_SEGMENTS = {0: "abcdef", 1: "bc", 2: "abged", 3: "abgcd", 4: "fgbc", 5: "afgcd", 6: "afgedc", 7: "abc",
             8: "abcdefg", 9: "abcdfg"}
DIGIT_SHAPE = (16, 12)


def make_digits(n, seed=0, noise=0.25, drop=0.06):
    """Seven-segment digits 0-9 as (n, 16*12) float images in [0, 1] and labels (n,).

    Each glyph is shifted by up to one pixel, a segment goes missing with probability ``drop``
    and Gaussian noise of std ``noise`` is added, so that a linear model makes a few mistakes.
    """
    rng = np.random.default_rng(seed)
    h, w = DIGIT_SHAPE
    y = rng.integers(0, 10, n)
    X = np.zeros((n, h, w))
    top, mid, bot, left, right = 2, 7, 12, 3, 8
    for k in range(n):
        img = X[k]
        dr, dc = rng.integers(-1, 2, 2)
        for s in _SEGMENTS[int(y[k])]:
            if rng.random() < drop:
                continue
            r0, c0 = top + dr, left + dc
            if s == "a":
                img[r0, c0:right + dc + 1] = 1
            elif s == "g":
                img[mid + dr, c0:right + dc + 1] = 1
            elif s == "d":
                img[bot + dr, c0:right + dc + 1] = 1
            elif s == "f":
                img[r0:mid + dr + 1, c0] = 1
            elif s == "b":
                img[r0:mid + dr + 1, right + dc] = 1
            elif s == "e":
                img[mid + dr:bot + dr + 1, c0] = 1
            elif s == "c":
                img[mid + dr:bot + dr + 1, right + dc] = 1
    X = np.clip(X + noise * rng.standard_normal(X.shape), 0.0, 1.0)
    return X.reshape(n, -1), y


SCENE_NAMES = ("sea", "field", "sunset")
SCENE_SHAPE = (12, 12, 3)


def make_scenes(n, seed=0):
    """Colour images (n, 12*12*3) of three scenes: blue sky over dark-blue sea, blue sky over
    a green field, orange sky over a dark ground; the horizon height varies."""
    rng = np.random.default_rng(seed)
    h, w, _ = SCENE_SHAPE
    y = rng.integers(0, 3, n)
    skies = np.array([[0.55, 0.75, 0.95], [0.55, 0.75, 0.95], [0.95, 0.55, 0.2]])
    grounds = np.array([[0.05, 0.2, 0.55], [0.2, 0.6, 0.15], [0.2, 0.12, 0.1]])
    X = np.empty((n, h, w, 3))
    for k in range(n):
        horizon = rng.integers(4, 9)
        X[k, :horizon] = skies[y[k]]
        X[k, horizon:] = grounds[y[k]]
    X = np.clip(X + 0.12 * rng.standard_normal(X.shape), 0.0, 1.0)
    return X.reshape(n, -1), y


def _toy_set(name, n, seed):
    """A teaching set of fastnn.datasets.toy, with integer labels for the plots."""
    from fastnn.datasets import toy

    X, y = getattr(toy, name)(n, seed)
    return X, y.astype(int)


def linear_2d(n, seed):
    return _toy_set("make_linear_2d", n, seed)


def linear_3d(n, seed):
    return _toy_set("make_linear_3d", n, seed)


def blobs3(n, seed):
    return _toy_set("make_blobs3", n, seed)


def l_shape(n, seed):
    """Two classes no line separates: a corner square inside an L (standardized)."""
    return _toy_set("make_l_shape", n, seed)


def advertising():
    """(X, y, feature names): the Advertising table shipped with fastnn, standardized."""
    from fastnn.datasets import advertising as adv

    (X, y), _ = adv.load_data()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, y, list(adv.FEATURE_NAMES)


# ---------------------------------------------------------------------------------------------
# Models


def _fit(model, X, y, epochs, lr, loss, batch_size=32, metrics=("accuracy",), **kw):
    import fastnn

    model.compile(optimizer=fastnn.optimizers.Adam(learning_rate=lr), loss=loss, metrics=list(metrics))
    return model.fit(np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.float32), epochs=epochs,
                     batch_size=batch_size, verbose=0, **kw)


def _sequential(*layers):
    import fastnn

    return fastnn.Sequential(list(layers))


def _dense(units, activation=None, **kw):
    import fastnn

    return fastnn.layers.Dense(units, activation=activation, **kw)


def render(outdir, quick=False, seed=0, log=print):
    """Train the models, draw every figure into ``outdir``; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import fastnn
    from fastnn import viz

    os.makedirs(outdir, exist_ok=True)
    fastnn.utils.set_random_seed(seed)
    scale = 0.25 if quick else 1.0
    ep = lambda n: max(2, int(n * scale))  # noqa: E731 - epochs, shortened by --quick
    written = []

    def save(name, fig):
        path = os.path.join(outdir, name)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(path)
        log(f"wrote {path}")

    # single neuron on a linearly separable set
    X, y = linear_2d(120 if quick else 200, seed)
    neuron = _sequential(_dense(1, "sigmoid", input_shape=(2,)))
    _fit(neuron, X, y, ep(200), 0.05, "binary_crossentropy")
    save("decision_boundary_neuron.png",
         viz.plot_decision_boundary(neuron, X, y, title="one sigmoid neuron: w is normal to its line").ax.figure)

    # softmax regression on three blobs
    X, y = blobs3(150 if quick else 300, seed)
    softmax = _sequential(_dense(3, "softmax", input_shape=(2,)))
    _fit(softmax, X, y, ep(150), 0.05, "sparse_categorical_crossentropy")
    save("decision_boundary_softmax.png",
         viz.plot_decision_boundary(softmax, X, y, title="softmax: boundaries where w_i - w_j meet").ax.figure)

    # the Perceptron rule
    if hasattr(fastnn, "Perceptron"):
        X, y = linear_2d(100, seed + 1)
        labels = np.where(y == 1, 1, -1)
        perceptron = fastnn.Perceptron()
        perceptron.fit(X, labels)
        save("decision_boundary_perceptron.png",
             viz.plot_decision_boundary(perceptron, X, labels, class_names=["-1", "1"],
                                        title="Perceptron").ax.figure)
    else:
        log("skipped decision_boundary_perceptron.png: fastnn.Perceptron is not available")

    # a three-input neuron and its plane
    X, y = linear_3d(150 if quick else 300, seed)
    neuron3 = _sequential(_dense(1, "sigmoid", input_shape=(3,)))
    _fit(neuron3, X, y, ep(200), 0.05, "binary_crossentropy")
    save("decision_plane_3d.png", viz.plot_decision_plane_3d(neuron3, X, y, title="separating plane").ax.figure)

    # a non-separable set: the hidden layer makes it separable
    X, y = l_shape(200 if quick else 400, seed)
    inp = fastnn.layers.Input(shape=(2,))
    hidden = _dense(2, "sigmoid", name="hidden")(inp)
    mlp = fastnn.Model(inputs=inp, outputs=_dense(1, "sigmoid", name="output")(hidden))
    history = _fit(mlp, X, y, ep(300), 0.05, "binary_crossentropy", validation_split=0.2)
    save("history.png", viz.plot_history(history, title="L-shape, 2 sigmoid hidden units").fig)
    save("decision_boundary_mlp.png",
         viz.plot_decision_boundary(mlp, X, y, title="2-2-1 network: a bent boundary").ax.figure)
    save("hidden_space_2d.png", viz.plot_hidden_space(mlp, X, y, layer="hidden").ax.figure)
    mlp3 = _sequential(_dense(3, "tanh", input_shape=(2,), name="hidden3"), _dense(1, "sigmoid"))
    _fit(mlp3, X, y, ep(300), 0.05, "binary_crossentropy")
    save("hidden_space_3d.png", viz.plot_hidden_space(mlp3, X, y).ax.figure)

    # digits: linear templates, filters, mistakes
    names = [str(d) for d in range(10)]
    Xd, yd = make_digits(600 if quick else 2000, seed)
    Xt, yt = make_digits(300 if quick else 1000, seed + 1)
    linear = _sequential(_dense(10, "softmax", input_shape=(Xd.shape[1],)))
    _fit(linear, Xd, yd, ep(40), 0.01, "sparse_categorical_crossentropy")
    save("weight_images.png", viz.plot_weight_images(linear, DIGIT_SHAPE, labels=names, per_row=5,
                                                     title="softmax weights as templates").fig)
    save("images.png", viz.plot_images(Xt[:20], DIGIT_SHAPE, labels=yt[:20], title="test digits").fig)
    save("misclassified.png", viz.plot_misclassified(linear, Xt, yt, DIGIT_SHAPE, max_images=20).fig)
    proba = linear.predict(Xt.astype(np.float32), verbose=0)
    save("confusion_matrix.png", viz.plot_confusion_matrix(yt, proba, labels=names, title="linear model").ax.figure)
    save("confusion_examples.png", viz.plot_confusion_examples(linear, Xt, yt, DIGIT_SHAPE, labels=names).fig)
    filters = _sequential(_dense(8, "relu", input_shape=(Xd.shape[1],)), _dense(10, "softmax"))
    _fit(filters, Xd, yd, ep(60), 0.01, "sparse_categorical_crossentropy")
    save("hidden_filters.png", viz.plot_hidden_filters(filters, DIGIT_SHAPE, labels=names, per_row=8).fig)
    save("model.png", viz.plot_model(filters, title="digits: 192-8-10").ax.figure)

    # colour templates
    Xs, ys = make_scenes(300 if quick else 900, seed)
    scenes = _sequential(_dense(3, "softmax", input_shape=(Xs.shape[1],)))
    _fit(scenes, Xs, ys, ep(40), 0.01, "sparse_categorical_crossentropy")
    save("weight_images_colour.png", viz.plot_weight_images(scenes, SCENE_SHAPE, labels=SCENE_NAMES,
                                                            title="colour templates").fig)

    # regression: a linear model read as an equation
    Xa, ya, features = advertising()
    linreg = _sequential(_dense(1, input_shape=(3,)))
    _fit(linreg, Xa, ya, ep(300), 0.1, "mse", metrics=())
    explanation = viz.explain_linear(linreg, features, target_name="sales", print_table=not quick)
    fig = plt.figure(figsize=(8, 3.2))
    ax_eq, ax_bars = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=[1, 1]))
    ax_eq.axis("off")
    ax_eq.text(0.0, 0.5, explanation.equation.replace(" + ", "\n    + ").replace(" - ", "\n    - "),
               family="monospace", va="center", fontsize=9)
    ax_eq.set_title("standardized inputs")
    table = explanation.table[::-1]
    ax_bars.barh([n for n, _ in table], [v for _, v in table], color="tab:blue")
    ax_bars.set_xlabel("weight")
    ax_bars.set_title("weights sorted by size")
    save("explain_linear.png", fig)
    save("regression_fit.png", viz.plot_regression_fit(ya, linreg.predict(Xa.astype(np.float32), verbose=0),
                                                       title=None).ax.figure)

    # 1-D curve and its ReLU pieces
    x = np.linspace(-3, 3, 120 if quick else 240)
    target = np.sin(x) + 0.3 * x + 0.08 * np.random.default_rng(seed).standard_normal(len(x))
    curve = _sequential(_dense(6, "relu", input_shape=(1,)), _dense(1))
    _fit(curve, x[:, None], target, ep(800), 0.02, "mse", metrics=())
    save("function_fit.png", viz.plot_function_fit(curve, x, target, title="6 ReLU units").ax.figure)
    save("relu_decomposition.png", viz.plot_relu_decomposition(curve, x, target).fig)

    save("activations.png", viz.plot_activation(["sigmoid", "tanh", "relu", "step", "elu", "softplus"],
                                                title="activation functions").ax.figure)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastnn.viz.gallery", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", help="folder for the PNG files (created if missing)")
    parser.add_argument("--quick", action="store_true", help="fewer samples and epochs")
    parser.add_argument("--seed", type=int, default=0, help="random seed (data and weights)")
    args = parser.parse_args(argv)
    return render(args.outdir, quick=args.quick, seed=args.seed)


if __name__ == "__main__":
    main(sys.argv[1:])
