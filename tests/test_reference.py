"""Checks of the NumPy oracle itself (tests/reference.py); runs without fastnn._core.

Gradients are checked against central differences (eps 1e-6, float64) at points kept away from
non-differentiable places; losses against the values printed in the Keras 3 documentation;
optimizers against hand-derived steps and textbook forms.
"""

import math

import numpy as np
import pytest

import reference as ref

EPS = 1e-6
GRAD_ACTIVATIONS = [a for a in ref.ACTIVATIONS if a != "step"]
CROSSENTROPIES = ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy")


def numeric_grad(f, x):
    """Central differences of the scalar function f at x (float64 array), same shape as x."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + EPS
        up = f(x)
        x[i] = old - EPS
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * EPS)
    return g


# ------------------------------------------------------------------------------ activations

@pytest.mark.parametrize("name", GRAD_ACTIVATIONS)
def test_activation_backward_matches_central_differences(name):
    rng = np.random.default_rng(1)
    z = ref.example_preactivations(name, rng, (4, 5))
    dout = rng.normal(size=z.shape)
    numeric = numeric_grad(lambda v: (dout * ref.activation_forward(name, v)).sum(), z)
    np.testing.assert_allclose(ref.activation_backward(name, z, dout), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name, z, expected", [
    ("relu", [-2.0, 0.0, 3.0], [0.0, 0.0, 3.0]),
    ("leaky_relu", [-2.0, 0.0, 3.0], [-0.4, 0.0, 3.0]),
    ("elu", [-1.0, 2.0], [math.exp(-1) - 1, 2.0]),
    ("selu", [-1.0, 2.0], [1.0507009873554805 * 1.6732632423543772 * (math.exp(-1) - 1), 2.0 * 1.0507009873554805]),
    ("gelu", [-1.0, 1.0], [-0.15865525393145707, 0.8413447460685429]),
    ("swish", [1.0], [1.0 / (1.0 + math.exp(-1.0))]),
    ("hard_sigmoid", [-4.0, 0.0, 1.5, 4.0], [0.0, 0.5, 0.75, 1.0]),
    ("softplus", [0.0, 1000.0, -1000.0], [math.log(2.0), 1000.0, 0.0]),
    ("softsign", [-3.0, 1.0], [-0.75, 0.5]),
    ("sigmoid", [-1000.0, 0.0, 1000.0], [0.0, 0.5, 1.0]),
    ("step", [-1e-9, 0.0, 2.0], [0.0, 1.0, 1.0]),
])
def test_activation_forward_known_values(name, z, expected):
    np.testing.assert_allclose(ref.activation_forward(name, [z])[0], expected, rtol=1e-12, atol=1e-15)


def test_softmax_is_shift_invariant_and_stable():
    z = np.array([[1000.0, 999.0, -1000.0], [0.0, 1.0, 2.0]])
    s = ref.activation_forward("softmax", z)
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    np.testing.assert_allclose(s[0], ref.activation_forward("softmax", z[:1] - 1000.0)[0])
    assert np.all(np.isfinite(s))


def test_silu_is_swish():
    z = np.linspace(-5, 5, 11)[None, :]
    np.testing.assert_array_equal(ref.activation_forward("silu", z), ref.activation_forward("swish", z))


def test_step_has_no_backward():
    with pytest.raises(ValueError, match="step"):
        ref.activation_backward("step", [[1.0]], [[1.0]])


def test_unknown_activation_is_rejected():
    with pytest.raises(ValueError, match="'bogus'"):
        ref.activation_forward("bogus", [[1.0]])


# ------------------------------------------------------------------------------ losses

def loss_cases():
    for name in ref.LOSSES:
        for from_logits in ((False, True) if name in CROSSENTROPIES else (False,)):
            for weighted in (False, True):
                yield pytest.param(name, from_logits, weighted,
                                   id=f"{name}-{'logits' if from_logits else 'probs'}-{'w' if weighted else 'now'}")


@pytest.mark.parametrize("name, from_logits, weighted", list(loss_cases()))
def test_loss_backward_matches_central_differences(name, from_logits, weighted):
    rng = np.random.default_rng(2)
    y = ref.example_targets(name, rng, 6, 3)
    p = ref.example_predictions(name, y, rng, from_logits)
    w = rng.uniform(0.2, 2.0, size=6) if weighted else None
    numeric = numeric_grad(lambda v: ref.loss_forward(name, y, v, w, from_logits), p)
    np.testing.assert_allclose(ref.loss_backward(name, y, p, w, from_logits), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name, y_true, y_pred, expected", [
    # the examples of the Keras 3 loss docstrings
    ("mse", [[0, 1], [0, 0]], [[1, 1], [1, 0]], 0.5),
    ("mae", [[0, 1], [0, 0]], [[1, 1], [1, 0]], 0.5),
    ("huber", [[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]], 0.155),
    ("binary_crossentropy", [[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]], 0.8149245),
    ("categorical_crossentropy", [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]], 1.1769392),
    ("sparse_categorical_crossentropy", [[1], [2]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]], 1.1769392),
    ("hinge", [[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]], 1.3),
    ("squared_hinge", [[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]], 1.86),
])
def test_loss_matches_keras_documented_values(name, y_true, y_pred, expected):
    assert ref.loss_forward(name, y_true, y_pred) == pytest.approx(expected, abs=1e-6)


def test_sample_weight_reduction_divides_by_batch_size():
    y, p = [[0.0], [0.0], [0.0]], [[1.0], [2.0], [3.0]]
    # sum_i w_i L_i / N with L = 1, 4, 9
    assert ref.loss_forward("mse", y, p, sample_weight=[1.0, 0.0, 2.0]) == pytest.approx((1 + 18) / 3)


def test_crossentropy_from_logits_equals_probabilities_path():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(5, 4))
    y = ref.example_targets("categorical_crossentropy", rng, 5, 4)
    probs = ref.activation_forward("softmax", z)
    assert ref.loss_forward("categorical_crossentropy", y, z, from_logits=True) == pytest.approx(
        ref.loss_forward("categorical_crossentropy", y, probs))
    yb = ref.example_targets("binary_crossentropy", rng, 5, 4)
    assert ref.loss_forward("binary_crossentropy", yb, z, from_logits=True) == pytest.approx(
        ref.loss_forward("binary_crossentropy", yb, ref.activation_forward("sigmoid", z)))


@pytest.mark.parametrize("name", CROSSENTROPIES)
def test_extreme_logits_give_finite_loss_and_gradient(name):
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 5.0]])
    y = [[0.0], [2.0]] if name.startswith("sparse") else [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
    if name == "categorical_crossentropy":
        y = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    value = ref.loss_forward(name, y, z, from_logits=True)
    grad = ref.loss_backward(name, y, z, from_logits=True)
    assert np.isfinite(value) and value > 100.0  # the wrong class has a logit 2000 above the right one
    assert np.all(np.isfinite(grad))


def test_clipped_probabilities_give_finite_loss_and_zero_gradient():
    y, p = [[1.0, 0.0, 1.0]], [[0.0, 1.0, 0.5]]
    assert ref.loss_forward("binary_crossentropy", y, p) == pytest.approx(
        -(2 * math.log(1e-7) + math.log(0.5)) / 3)
    grad = ref.loss_backward("binary_crossentropy", y, p)
    assert grad[0, 0] == 0.0 and grad[0, 1] == 0.0 and grad[0, 2] != 0.0


def test_hinge_converts_binary_labels_only():
    p = [[0.3, -0.2]]
    assert ref.loss_forward("hinge", [[1.0, 0.0]], p) == ref.loss_forward("hinge", [[1.0, -1.0]], p)
    # a label outside {0, 1} keeps every label as given: 0 stays 0, giving max(1 - 0, 0) = 1
    assert ref.loss_forward("hinge", [[0.5, 0.0]], p) == pytest.approx((max(1 - 0.15, 0) + 1.0) / 2)


def test_sparse_labels_out_of_range_are_rejected():
    with pytest.raises(ValueError, match="class indices"):
        ref.loss_forward("sparse_categorical_crossentropy", [[3.0]], [[0.2, 0.3, 0.5]])


def test_metrics_are_weighted_means_over_samples():
    y = [[1.0], [0.0], [1.0]]
    p = [[0.9], [0.7], [0.2]]
    assert ref.metric("binary_accuracy", y, p) == pytest.approx(1 / 3)
    assert ref.metric("binary_accuracy", y, p, sample_weight=[3.0, 1.0, 0.0]) == pytest.approx(3 / 4)
    assert ref.metric("sparse_categorical_accuracy", [[1.0], [0.0]], [[0.2, 0.8], [0.4, 0.6]]) == 0.5


# ------------------------------------------------------------------------------ optimizers

def test_sgd_matches_hand_computed_steps():
    # loss w^2/2, so g = w; Keras docs: SGD(0.1) from 1.0 gives 0.9; with momentum 0.9 then 0.72
    opt = ref.SGD(learning_rate=0.1, momentum=0.9)
    w = np.array([1.0])
    opt.step([w], [w.copy()])
    assert w[0] == pytest.approx(0.9)
    opt.step([w], [w.copy()])
    assert w[0] == pytest.approx(0.72)


def test_nesterov_differs_from_plain_momentum():
    g = np.random.default_rng(4).normal(size=(5, 3))
    plain = ref.optimizer_trajectory("sgd", dict(momentum=0.9), np.zeros(3), g)
    nest = ref.optimizer_trajectory("sgd", dict(momentum=0.9, nesterov=True), np.zeros(3), g)
    # first step: nesterov moves by momentum*m - lr*g = (1 + momentum) * (-lr g)
    np.testing.assert_allclose(nest[0], 1.9 * plain[0])
    assert not np.allclose(nest[-1], plain[-1])


def textbook_adam(w0, grads, lr, b1, b2):
    """Adam of Kingma & Ba (Algorithm 1) without epsilon."""
    w, m, v = np.array(w0, dtype=float), 0.0, 0.0
    out = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1 ** t)) / np.sqrt(v / (1 - b2 ** t))
        out.append(w)
    return np.array(out)


def test_adam_without_epsilon_is_textbook_adam():
    g = np.random.default_rng(5).normal(size=(10, 4))
    ours = ref.optimizer_trajectory("adam", dict(learning_rate=0.01, epsilon=0.0), np.ones(4), g)
    np.testing.assert_allclose(ours, textbook_adam(np.ones(4), g, 0.01, 0.9, 0.999), rtol=1e-12)


def test_adam_first_step_moves_by_learning_rate():
    # bias correction makes the first step lr * g / (|g| + eps / sqrt(1 - beta_2)), about lr * sign(g)
    g = np.array([[3.0, -0.5, 50.0]])
    w = ref.optimizer_trajectory("adam", {}, np.zeros(3), g)[0]
    np.testing.assert_allclose(w, -0.001 * g[0] / (np.abs(g[0]) + 1e-7 / math.sqrt(0.001)), rtol=1e-12)
    np.testing.assert_allclose(w, -0.001 * np.sign(g[0]), rtol=1e-4)


def test_amsgrad_changes_the_trajectory_when_gradients_shrink():
    g = np.random.default_rng(6).normal(size=(10, 3)) * np.geomspace(3, 0.01, 10)[:, None]
    plain = ref.optimizer_trajectory("adam", dict(learning_rate=0.1), np.zeros(3), g)
    ams = ref.optimizer_trajectory("adam", dict(learning_rate=0.1, amsgrad=True), np.zeros(3), g)
    np.testing.assert_array_equal(ams[0], plain[0])
    assert np.abs(ams[-1] - plain[-1]).max() > 1e-4


def test_adamw_is_adam_with_weight_decay_0_004():
    g = np.random.default_rng(7).normal(size=(10, 3))
    np.testing.assert_allclose(ref.optimizer_trajectory("adamw", {}, np.ones(3), g),
                               ref.optimizer_trajectory("adam", dict(weight_decay=0.004), np.ones(3), g))


def test_weight_decay_with_zero_gradient_shrinks_geometrically():
    w = ref.optimizer_trajectory("sgd", dict(learning_rate=0.1, weight_decay=0.5), np.ones(2), np.zeros((3, 2)))
    np.testing.assert_allclose(w[:, 0], [0.95, 0.95 ** 2, 0.95 ** 3])


def test_clipping_rescales_or_clips_before_the_update():
    g = np.array([[3.0, 4.0]])  # norm 5
    w = ref.optimizer_trajectory("sgd", dict(learning_rate=1.0, clipnorm=1.0), np.zeros(2), g)
    np.testing.assert_allclose(w[0], [-0.6, -0.8])
    w = ref.optimizer_trajectory("sgd", dict(learning_rate=1.0, clipvalue=3.5), np.zeros(2), g)
    np.testing.assert_allclose(w[0], [-3.0, -3.5])
    w = ref.optimizer_trajectory("sgd", dict(learning_rate=1.0, clipnorm=10.0), np.zeros(2), g)
    np.testing.assert_allclose(w[0], [-3.0, -4.0])


def test_global_clipnorm_uses_the_norm_over_all_tensors():
    opt = ref.SGD(learning_rate=1.0, global_clipnorm=1.0)
    a, b = np.zeros(1), np.zeros(1)
    opt.step([a, b], [np.array([3.0]), np.array([4.0])])
    np.testing.assert_allclose([a[0], b[0]], [-0.6, -0.8])
    opt = ref.SGD(learning_rate=1.0, clipnorm=1.0)  # per tensor: each is clipped to norm 1
    a, b = np.zeros(1), np.zeros(1)
    opt.step([a, b], [np.array([3.0]), np.array([4.0])])
    np.testing.assert_allclose([a[0], b[0]], [-1.0, -1.0])


def test_only_one_clipping_option_is_allowed():
    with pytest.raises(ValueError, match="clipnorm"):
        ref.SGD(clipnorm=1.0, clipvalue=1.0)


def test_nadam_u_product_is_shared_by_all_tensors():
    # one optimizer over two tensors must equal two optimizers over one tensor each
    g = np.random.default_rng(8).normal(size=(10, 2))
    joint = ref.Nadam(learning_rate=0.01)
    a, b = np.ones(1), np.ones(1)
    for k in range(10):
        joint.step([a, b], [g[k, :1], g[k, 1:]])
    alone = ref.optimizer_trajectory("nadam", dict(learning_rate=0.01), np.ones(2), g)[-1]
    np.testing.assert_allclose([a[0], b[0]], alone, rtol=1e-14)


def test_nadam_first_step_by_hand():
    b1, b2, lr, eps, g = 0.9, 0.999, 0.001, 1e-7, 2.0
    u1 = b1 * (1 - 0.5 * 0.96 ** 1)  # Keras 3: u_t = beta_1 * (1 - 0.5 * 0.96^t)
    u2 = b1 * (1 - 0.5 * 0.96 ** 2)
    m, v = (1 - b1) * g, (1 - b2) * g * g
    m_hat = u2 * m / (1 - u1 * u2) + (1 - u1) * g / (1 - u1)
    expected = -lr * m_hat / (math.sqrt(v / (1 - b2)) + eps)
    assert ref.optimizer_trajectory("nadam", {}, [0.0], [[g]])[0, 0] == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("name, config, g, expected", [
    # one step from w = 0 with gradient g, written out from the formulas
    ("rmsprop", {}, 2.0, -0.001 * 2.0 / math.sqrt(0.1 * 4.0 + 1e-7)),
    ("rmsprop", dict(centered=True), 2.0, -0.001 * 2.0 / math.sqrt(0.4 - 0.04 + 1e-7)),
    ("adagrad", {}, 2.0, -0.001 * 2.0 / math.sqrt(0.1 + 4.0 + 1e-7)),
    ("adadelta", {}, 2.0, -0.001 * math.sqrt(1e-7) / math.sqrt(0.05 * 4.0 + 1e-7) * 2.0),
    ("adamax", {}, 2.0, -0.001 * 0.2 / (0.1 * (2.0 + 1e-7))),
])
def test_first_step_by_hand(name, config, g, expected):
    assert ref.optimizer_trajectory(name, config, [0.0], [[g]])[0, 0] == pytest.approx(expected, rel=1e-12)


def test_unknown_optimizer_and_option_are_rejected():
    with pytest.raises(ValueError, match="'bogus'"):
        ref.make_optimizer("bogus")
    with pytest.raises(TypeError):
        ref.make_optimizer("adam", dict(momentum=0.9))


# ------------------------------------------------------------------------------ dense network

NETWORKS = {
    "relu-softmax-cce": ([ref.Dense(3, 5, "relu", kernel_l2=0.01), ref.Dense(5, 4, "softmax")],
                         "categorical_crossentropy", False),
    "tanh-softmax-sparse": ([ref.Dense(3, 5, "tanh"), ref.Dense(5, 4, "softmax", bias_l1=0.01)],
                            "sparse_categorical_crossentropy", False),
    "elu-sigmoid-bce": ([ref.Dense(3, 5, "elu", kernel_l1=0.01), ref.Dense(5, 2, "sigmoid")],
                        "binary_crossentropy", False),
    "gelu-act-linear-mse": ([ref.Dense(3, 5, "gelu", bias_l2=0.1), ref.Activation(5, "softsign"),
                             ref.Dense(5, 2, "linear", use_bias=False, kernel_l2=0.05)], "mse", False),
    "swish-logits-cce": ([ref.Dense(3, 4, "swish"), ref.Dense(4, 4, "selu"), ref.Dense(4, 3, "linear")],
                         "categorical_crossentropy", True),
    "softplus-hardsig-bce": ([ref.Dense(3, 4, "softplus"), ref.Dense(4, 2, "hard_sigmoid")],
                             "binary_crossentropy", False),
    "leaky-huber": ([ref.Dense(3, 6, "leaky_relu"), ref.Dense(6, 2, "tanh")], "huber", False),
    "softmax-mse": ([ref.Dense(3, 4, "sigmoid"), ref.Dense(4, 3, "softmax")], "mse", False),
}


def random_params(layers, rng):
    return [rng.normal(scale=0.7, size=shape) for shape in ref.param_shapes(layers)]


def network_data(layers, loss, rng, n=6):
    out_width = layers[-1].n_out if isinstance(layers[-1], ref.Dense) else layers[-1].n
    x = rng.normal(size=(n, layers[0].n_in))
    return x, ref.example_targets(loss, rng, n, out_width)


@pytest.mark.parametrize("key", sorted(NETWORKS))
def test_dense_backward_matches_central_differences(key):
    layers, loss, from_logits = NETWORKS[key]
    rng = np.random.default_rng(9)
    params = random_params(layers, rng)
    x, y = network_data(layers, loss, rng)
    w = rng.uniform(0.5, 1.5, size=x.shape[0])
    value, grads = ref.loss_and_grads(layers, params, x, y, loss, from_logits, w)
    for k, p in enumerate(params):
        def f(v, k=k):
            trial = list(params)
            trial[k] = v
            return ref.loss_and_grads(layers, trial, x, y, loss, from_logits, w)[0]
        np.testing.assert_allclose(grads[k], numeric_grad(f, p), rtol=1e-6, atol=1e-8, err_msg=f"param {k}")
    assert value == pytest.approx(ref.evaluate(layers, params, x, y, loss, from_logits, w)[0])


def test_fused_loss_equals_loss_of_the_activated_output_away_from_clipping():
    layers, loss, _ = NETWORKS["relu-softmax-cce"]
    rng = np.random.default_rng(10)
    params = random_params(layers, rng)
    x, y = network_data(layers, loss, rng)
    fused = ref.loss_and_grads(layers, params, x, y, loss)[0] - ref.regularization_loss(layers, params)
    assert fused == pytest.approx(ref.loss_forward(loss, y, ref.forward(layers, params, x)), rel=1e-12)


def test_regularization_loss_is_keras_l1l2():
    layers = [ref.Dense(2, 1, kernel_l1=0.1, kernel_l2=0.2, bias_l1=0.3, bias_l2=0.4)]
    params = [np.array([[1.0], [-2.0]]), np.array([3.0])]
    assert ref.regularization_loss(layers, params) == pytest.approx(0.1 * 3 + 0.2 * 5 + 0.3 * 3 + 0.4 * 9)


def test_train_applies_the_optimizer_to_the_gradients_in_batch_order():
    layers, loss, from_logits = NETWORKS["leaky-huber"]
    rng = np.random.default_rng(11)
    params = random_params(layers, rng)
    batches = [network_data(layers, loss, rng, n=4) for _ in range(3)]
    weights, losses = ref.train(layers, params, batches, loss, "sgd", dict(learning_rate=0.5))
    current = [p.copy() for p in params]
    for k, (x, y) in enumerate(batches):
        value, grads = ref.loss_and_grads(layers, current, x, y, loss)
        assert losses[k] == value
        current = [p - 0.5 * g for p, g in zip(current, grads)]
        for got, want in zip(weights[k], current):
            np.testing.assert_allclose(got, want, rtol=1e-14)
    assert all(np.array_equal(a, b) for a, b in zip(params, random_params(layers, np.random.default_rng(11))))


def test_training_reduces_the_loss():
    layers = [ref.Dense(2, 8, "tanh"), ref.Dense(8, 1, "sigmoid")]
    rng = np.random.default_rng(12)
    x = rng.normal(size=(64, 2))
    y = (x[:, :1] * x[:, 1:] > 0).astype(float)  # XOR of the signs
    params = random_params(layers, rng)
    _, losses = ref.train(layers, params, [(x, y)] * 300, "binary_crossentropy", "adam", dict(learning_rate=0.05))
    assert losses[-1] < 0.5 * losses[0]
