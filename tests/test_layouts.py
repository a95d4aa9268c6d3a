"""The engine trains small networks in a feature-major layout (cpp/fastnn/small.hpp) and larger ones row-major
around GEMM calls; both must compute the same training run. Each case trains two copies of one network, one
forced into each layout, in float64, and compares every weight after several shuffled epochs."""

import numpy as np
import pytest

from fastnn import _core

CASES = [
    # (layers as (units, activation), loss, metrics, batch size)
    ([(4, "relu"), (1, "sigmoid")], "binary_crossentropy", ["binary_accuracy"], 7),
    ([(5, "tanh"), (3, "softmax")], "categorical_crossentropy", ["categorical_accuracy"], 16),
    ([(5, "elu"), (3, "softmax")], "sparse_categorical_crossentropy", ["sparse_categorical_accuracy"], 10),
    ([(6, "swish"), (2, "linear")], "mse", ["mae", "mse"], 9),
    ([(3, "softplus"), (2, "sigmoid")], "binary_crossentropy", [], 64),  # one full batch: unshuffled
    ([(4, "relu"), (2, "linear")], "huber", [], 5),
    ([(4, "leaky_relu"), (1, "linear")], "hinge", [], 8),
    ([(4, "tanh"), (2, "linear")], "log_cosh", [{"kind": "root_mean_squared_error"}], 9),
    ([(4, "relu"), (3, "softmax")], "kl_divergence", [], 10),
    ([(4, "relu"), (2, "softplus")], "poisson", [], 7),
    ([(4, "relu"), (2, "linear")], "mean_absolute_percentage_error", [], 7),
    ([(4, "relu"), (2, "softplus")], "mean_squared_logarithmic_error", [], 7),
    ([(4, "elu"), (3, "linear")], "categorical_hinge", [{"kind": "top_k_categorical_accuracy", "k": 2}], 6),
    ([(4, "elu"), (3, "linear")], "cosine_similarity", [], 6),
    ([(4, "relu"), (1, "sigmoid")], ("binary_crossentropy", {"label_smoothing": 0.1}),
     [{"kind": "auc"}, {"kind": "auc", "pr": True}, {"kind": "precision", "weighted": True}], 7),
    ([(5, "tanh"), (3, "softmax")], ("categorical_crossentropy", {"label_smoothing": 0.2}),
     [{"kind": "fbeta_score", "average": 2}], 16),
    ([(4, "swish"), (2, "linear")], ("huber", {"delta": 0.3}), [{"kind": "r2_score"}], 9),
    ([(4, "linear"), ("activation", "tanh"), (3, "linear"), ("activation", "softmax")], "categorical_crossentropy",
     ["categorical_accuracy"], 16),  # Activation ops, the last one fused with the loss
]


def make(layout, layers, loss, metrics, n_in=3, seed=11):
    net = _core.Network("float64", seed)
    width = n_in
    for units, act in layers:
        if units == "activation":
            net.add_op("activation", width, width, {"activation": act})
            continue
        net.add_op("dense", width, units, {"activation": act})
        width = units
    loss, loss_config = loss if isinstance(loss, tuple) else (loss, {})
    net.compile(loss, False, "adam", {"learning_rate": 0.01}, metrics, loss_config)
    net._set_layout(layout)
    return net


def data(loss, n_out, n=64, seed=0):
    loss = loss[0] if isinstance(loss, tuple) else loss
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 3)
    if loss == "kl_divergence":
        y = rng.rand(n, n_out) + 0.1
        y /= y.sum(axis=1, keepdims=True)
    elif loss in ("poisson", "mean_squared_logarithmic_error"):
        y = rng.poisson(2.0, size=(n, n_out)).astype(np.float64)
    elif loss == "categorical_hinge":
        y = np.eye(n_out)[rng.randint(0, n_out, size=n)]
    elif loss == "sparse_categorical_crossentropy":
        y = rng.randint(0, n_out, size=(n, 1)).astype(np.float64)
    elif loss in ("binary_crossentropy", "hinge"):
        y = (rng.rand(n, n_out) > 0.5).astype(np.float64)
    elif loss == "categorical_crossentropy":
        y = np.eye(n_out)[rng.randint(0, n_out, size=n)]
    else:
        y = rng.randn(n, n_out)
    return x, y


@pytest.mark.parametrize("layers, loss, metrics, batch", CASES)
def test_feature_major_and_row_major_train_alike(layers, loss, metrics, batch):
    rows = make(0, layers, loss, metrics)
    feats = make(1, layers, loss, metrics)
    assert not rows.feature_major and feats.feature_major
    x, y = data(loss, [u for u, _ in layers if u != "activation"][-1])
    w = np.linspace(0.5, 1.5, len(x))
    for epoch in range(4):
        logs_r = rows.fit_epoch(x, y, w, batch, True)
        logs_f = feats.fit_epoch(x, y, w, batch, True)
        np.testing.assert_allclose(logs_f, logs_r, rtol=1e-9, atol=1e-12)
    for i in range(len(layers)):
        for a, b in zip(feats.get_weights(i), rows.get_weights(i)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_small_networks_choose_the_feature_major_layout():
    small = make(-1, [(64, "relu"), (1, "linear")], "mse", [])
    large = make(-1, [(65, "relu"), (1, "linear")], "mse", [])
    assert small.feature_major and not large.feature_major
