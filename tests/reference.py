"""NumPy float64 oracle for the fastnn core: activations, losses, metrics, optimizers and a dense network.

Written for clarity, not speed; names mirror fastnn._core. Every function converts its inputs to
float64 and returns float64. Conventions (see DESIGN.md section 3):
- arrays are 2-D row-major (batch, features); a Dense kernel is (n_in, n_out), its bias (n_out,);
- a loss is reduced as Keras 3 does: per-sample loss (mean over the output axis, or sum for the
  categorical crossentropies), then sum_i w_i L_i / N over the N rows;
- optimizers follow Keras 3's update_step formulas (keras/src/optimizers/*.py) with t starting at 1;
- parameters of a network are one flat list [W0, b0, W1, b1, ...] in layer order, the order of
  fastnn._core.Network.forward_backward's gradients.
"""

import math
from dataclasses import dataclass

import contextlib

import numpy as np

EPSILON = 1e-7  # Keras backend.epsilon(): probability clipping of the non-logit crossentropies

LEAKY_RELU_SLOPE = 0.2
ELU_ALPHA = 1.0
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
HUBER_DELTA = 1.0

ACTIVATIONS = (
    "linear", "relu", "leaky_relu", "elu", "selu", "gelu", "swish", "silu", "sigmoid",
    "hard_sigmoid", "tanh", "softplus", "softsign", "softmax", "step",
)
LOSSES = (
    "mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "hinge", "squared_hinge", "log_cosh", "kl_divergence", "poisson",
    "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "categorical_hinge", "cosine_similarity",
)
METRICS = ("binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "mae", "mse")

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _as2d(a, name):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (batch, features); received shape {a.shape}")
    return a


def _sigmoid(z):
    # exp of a non-positive number only, so no overflow for |z| large
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(z):
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z):
    s = z - z.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


# ---------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------

def activation_forward(name, z):
    """a = act(z), elementwise except softmax (over the last axis)."""
    z = _as2d(z, "z")
    if name == "linear":
        return z.copy()
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z >= 0, z, LEAKY_RELU_SLOPE * z)
    if name == "elu":
        return np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0.0)))
    if name == "selu":
        return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0.0)))
    if name == "gelu":
        return 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0)))
    if name in ("swish", "silu"):
        return z * _sigmoid(z)
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "hard_sigmoid":
        return np.clip(z / 6.0 + 0.5, 0.0, 1.0)
    if name == "tanh":
        return np.tanh(z)
    if name == "softplus":
        return _softplus(z)
    if name == "softsign":
        return z / (1.0 + np.abs(z))
    if name == "softmax":
        return _softmax(z)
    if name == "step":
        return (z >= 0).astype(np.float64)
    raise ValueError(f"activation must be one of {ACTIVATIONS}; received {name!r}")


def activation_backward(name, z, dout):
    """dz = dL/dz given dout = dL/da where a = act(z)."""
    z = _as2d(z, "z")
    dout = _as2d(dout, "dout")
    if z.shape != dout.shape:
        raise ValueError(f"dout must have the shape of z {z.shape}; received {dout.shape}")
    if name == "linear":
        return dout.copy()
    if name == "relu":
        return dout * (z > 0)
    if name == "leaky_relu":
        return dout * np.where(z >= 0, 1.0, LEAKY_RELU_SLOPE)
    if name == "elu":
        return dout * np.where(z > 0, 1.0, ELU_ALPHA * np.exp(np.minimum(z, 0.0)))
    if name == "selu":
        return dout * SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0.0)))
    if name == "gelu":
        # d/dz [z Phi(z)] = Phi(z) + z phi(z)
        cdf = 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))
        pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        return dout * (cdf + z * pdf)
    if name in ("swish", "silu"):
        s = _sigmoid(z)
        return dout * (s + z * s * (1.0 - s))
    if name == "sigmoid":
        s = _sigmoid(z)
        return dout * s * (1.0 - s)
    if name == "hard_sigmoid":
        return dout * np.where((z > -3.0) & (z < 3.0), 1.0 / 6.0, 0.0)
    if name == "tanh":
        return dout * (1.0 - np.tanh(z) ** 2)
    if name == "softplus":
        return dout * _sigmoid(z)
    if name == "softsign":
        return dout / (1.0 + np.abs(z)) ** 2
    if name == "softmax":
        # dz_j = sum_k dout_k * s_k (delta_jk - s_j) = s_j (dout_j - sum_k dout_k s_k)
        s = _softmax(z)
        return s * (dout - (dout * s).sum(axis=-1, keepdims=True))
    if name == "step":
        raise ValueError("activation 'step' has no gradient; it cannot be used where a backward pass is needed")
    raise ValueError(f"activation must be one of {ACTIVATIONS}; received {name!r}")


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------

def _sample_weight(sample_weight, n):
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must hold one weight per row ({n}); received shape "
                         f"{np.shape(sample_weight)}")
    return w


def _one_hot(y_true, n_classes):
    idx = np.asarray(y_true, dtype=np.float64).reshape(-1)
    if np.any(idx != np.round(idx)) or np.any(idx < 0) or np.any(idx >= n_classes):
        raise ValueError(f"y_true for sparse_categorical_crossentropy must hold class indices in "
                         f"[0, {n_classes}); received {idx}")
    out = np.zeros((idx.size, n_classes))
    out[np.arange(idx.size), idx.astype(int)] = 1.0
    return out


def _hinge_labels(y_true):
    # keras.losses: labels given as 0/1 (all of them) become -1/1
    if np.all((y_true == 0) | (y_true == 1)):
        return 2.0 * y_true - 1.0
    return y_true


def _check_loss_inputs(name, y_true, y_pred):
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}; received {name!r}")
    y_pred = _as2d(y_pred, "y_pred")
    y_true = _as2d(y_true, "y_true")
    if name == "sparse_categorical_crossentropy":
        if y_true.shape != (y_pred.shape[0], 1):
            raise ValueError(f"y_true must have shape ({y_pred.shape[0]}, 1) of class indices; "
                             f"received {y_true.shape}")
        y_true = _one_hot(y_true, y_pred.shape[1])
    elif y_true.shape != y_pred.shape:
        raise ValueError(f"y_true must have the shape of y_pred {y_pred.shape}; received {y_true.shape}")
    return y_true, y_pred


def _smooth(name, y, label_smoothing):
    # keras.losses: binary targets move towards 1/2, categorical ones towards 1/k
    if not label_smoothing:
        return y
    if name == "binary_crossentropy":
        return y * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return y * (1.0 - label_smoothing) + label_smoothing / y.shape[1]


def _l2_normalize(v):
    # keras.ops.normalize(order=2): v / sqrt(max(sum v^2, eps^2))
    return v / np.sqrt(np.maximum((v * v).sum(axis=-1, keepdims=True), EPSILON ** 2))


def per_sample_loss(name, y_true, y_pred, from_logits=False, delta=HUBER_DELTA, label_smoothing=0.0):
    """L_i for each row i (shape (N,)), before weighting and batch reduction."""
    y, p = _check_loss_inputs(name, y_true, y_pred)
    y = _smooth(name, y, label_smoothing)
    if name == "mse":
        return ((p - y) ** 2).mean(axis=-1)
    if name == "mae":
        return np.abs(p - y).mean(axis=-1)
    if name == "huber":
        e = np.abs(p - y)
        return np.where(e <= delta, 0.5 * e * e, delta * (e - 0.5 * delta)).mean(axis=-1)
    if name == "binary_crossentropy":
        if from_logits:
            # -(y log s(z) + (1-y) log(1-s(z))) = softplus(z) - y z
            return (_softplus(p) - y * p).mean(axis=-1)
        q = np.clip(p, EPSILON, 1.0 - EPSILON)
        return (-(y * np.log(q) + (1.0 - y) * np.log(1.0 - q))).mean(axis=-1)
    if name in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        if from_logits:
            return -(y * _log_softmax(p)).sum(axis=-1)
        q = np.clip(p / p.sum(axis=-1, keepdims=True), EPSILON, 1.0 - EPSILON)
        return -(y * np.log(q)).sum(axis=-1)
    if name == "hinge":
        y = _hinge_labels(y)
        return np.maximum(1.0 - y * p, 0.0).mean(axis=-1)
    if name == "squared_hinge":
        y = _hinge_labels(y)
        return (np.maximum(1.0 - y * p, 0.0) ** 2).mean(axis=-1)
    if name == "log_cosh":  # log(cosh(e)), computed directly
        return np.log(np.cosh(p - y)).mean(axis=-1)
    if name == "kl_divergence":
        t, q = np.clip(y, EPSILON, 1.0), np.clip(p, EPSILON, 1.0)
        return (t * np.log(t / q)).sum(axis=-1)
    if name == "poisson":
        return (p - y * np.log(p + EPSILON)).mean(axis=-1)
    if name == "mean_absolute_percentage_error":
        return 100.0 * (np.abs(y - p) / np.maximum(np.abs(y), EPSILON)).mean(axis=-1)
    if name == "mean_squared_logarithmic_error":
        return ((np.log(np.maximum(p, EPSILON) + 1.0) - np.log(np.maximum(y, EPSILON) + 1.0)) ** 2).mean(axis=-1)
    if name == "categorical_hinge":
        pos = (y * p).sum(axis=-1)
        neg = ((1.0 - y) * p).max(axis=-1)
        return np.maximum(neg - pos + 1.0, 0.0)
    # cosine_similarity
    return -(_l2_normalize(y) * _l2_normalize(p)).sum(axis=-1)


def loss_forward(name, y_true, y_pred, sample_weight=None, from_logits=False, **config):
    """Reduced batch loss sum_i w_i L_i / N (a Python float); config: delta, label_smoothing."""
    per_sample = per_sample_loss(name, y_true, y_pred, from_logits, **config)
    w = _sample_weight(sample_weight, per_sample.shape[0])
    return float((w * per_sample).sum() / per_sample.shape[0])


def loss_backward(name, y_true, y_pred, sample_weight=None, from_logits=False, delta=HUBER_DELTA,
                  label_smoothing=0.0):
    """d(reduced loss)/d y_pred, shape of y_pred."""
    y, p = _check_loss_inputs(name, y_true, y_pred)
    y = _smooth(name, y, label_smoothing)
    n, d = p.shape
    # factor of row i: w_i / N, and 1/D for the losses averaged over the output axis
    scale = (_sample_weight(sample_weight, n) / n)[:, None]
    if name == "mse":
        return scale * 2.0 * (p - y) / d
    if name == "mae":
        return scale * np.sign(p - y) / d
    if name == "huber":
        e = p - y
        return scale * np.where(np.abs(e) <= delta, e, delta * np.sign(e)) / d
    if name == "binary_crossentropy":
        if from_logits:
            return scale * (_sigmoid(p) - y) / d
        q = np.clip(p, EPSILON, 1.0 - EPSILON)
        inside = (p >= EPSILON) & (p <= 1.0 - EPSILON)  # d clip / dp is 0 outside the range
        return scale * inside * (-y / q + (1.0 - y) / (1.0 - q)) / d
    if name in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        if from_logits:
            # L = sum(y) * logsumexp(z) - sum(y z)
            return scale * (_softmax(p) * y.sum(axis=-1, keepdims=True) - y)
        # q = p / s (s = row sum), r = clip(q), L = -sum y log r.
        # g_j = dL/dq_j = -y_j / r_j inside the clip range, 0 outside; dL/dp_k = (g_k - sum_j g_j q_j) / s
        s = p.sum(axis=-1, keepdims=True)
        q = p / s
        r = np.clip(q, EPSILON, 1.0 - EPSILON)
        inside = (q >= EPSILON) & (q <= 1.0 - EPSILON)
        g = inside * (-y / r)
        return scale * (g - (g * q).sum(axis=-1, keepdims=True)) / s
    if name in ("hinge", "squared_hinge"):
        y = _hinge_labels(y)
        margin = 1.0 - y * p
        if name == "hinge":
            return scale * np.where(margin > 0, -y, 0.0) / d
        return scale * -2.0 * y * np.maximum(margin, 0.0) / d
    if name == "log_cosh":  # d log cosh(e) / de = tanh(e)
        return scale * np.tanh(p - y) / d
    if name == "kl_divergence":
        t, q = np.clip(y, EPSILON, 1.0), np.clip(p, EPSILON, 1.0)
        return scale * np.where((p > EPSILON) & (p < 1.0), -t / q, 0.0)
    if name == "poisson":
        return scale * (1.0 - y / (p + EPSILON)) / d
    if name == "mean_absolute_percentage_error":
        return scale * 100.0 * np.sign(p - y) / np.maximum(np.abs(y), EPSILON) / d
    if name == "mean_squared_logarithmic_error":
        a = np.log(np.maximum(p, EPSILON) + 1.0) - np.log(np.maximum(y, EPSILON) + 1.0)
        return scale * np.where(p > EPSILON, 2.0 * a / (np.maximum(p, EPSILON) + 1.0), 0.0) / d
    if name == "categorical_hinge":  # L = max(neg - pos + 1, 0), neg = max_j (1 - y_j) p_j at j*
        pos = (y * p).sum(axis=-1)
        negs = (1.0 - y) * p
        j = negs.argmax(axis=-1)
        active = (negs.max(axis=-1) - pos + 1.0 > 0)[:, None]
        g = -y.copy()
        g[np.arange(n), j] += 1.0 - y[np.arange(n), j]
        return scale * active * g
    # cosine_similarity: L = -y_n . p / |p|;  dL/dp = -(y_n - (y_n . p_n) p_n) / |p|
    yn, pn = _l2_normalize(y), _l2_normalize(p)
    norm = np.linalg.norm(p, axis=-1, keepdims=True)
    return scale * -(yn - (yn * pn).sum(axis=-1, keepdims=True) * pn) / norm


# ---------------------------------------------------------------------------------------------
# Metrics (Keras MeanMetricWrapper: sample-weighted mean over rows, sum(w v) / sum(w))
# ---------------------------------------------------------------------------------------------

def metric_values(name, y_true, y_pred):
    """Per-row metric value, shape (N,)."""
    y_pred = _as2d(y_pred, "y_pred")
    y_true = _as2d(y_true, "y_true")
    if name == "binary_accuracy":
        return ((y_pred > 0.5).astype(np.float64) == y_true).mean(axis=-1)
    if name == "categorical_accuracy":
        return (y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)).astype(np.float64)
    if name == "sparse_categorical_accuracy":
        return (y_pred.argmax(axis=-1) == y_true[:, 0]).astype(np.float64)
    if name == "mae":
        return np.abs(y_pred - y_true).mean(axis=-1)
    if name == "mse":
        return ((y_pred - y_true) ** 2).mean(axis=-1)
    raise ValueError(f"metric must be one of {METRICS}; received {name!r}")


def metric(name, y_true, y_pred, sample_weight=None):
    v = metric_values(name, y_true, y_pred)
    w = _sample_weight(sample_weight, v.shape[0])
    return float((w * v).sum() / w.sum())


# ---------------------------------------------------------------------------------------------
# Optimizers (Keras 3). step(params, grads) updates the arrays of `params` in place.
# ---------------------------------------------------------------------------------------------

class Optimizer:
    """Shared part of every Keras 3 optimizer: iteration count, gradient clipping, weight decay."""

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None):
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("only one of clipnorm, clipvalue and global_clipnorm can be set")
        self.learning_rate = float(learning_rate)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.iterations = 0  # steps done so far; the step being taken is t = iterations + 1
        self.state = None

    def _clip(self, grads):
        if self.clipnorm is not None and self.clipnorm > 0:
            # per tensor: g * c / max(||g||, c)
            return [g * self.clipnorm / max(np.sqrt((g * g).sum()), self.clipnorm) for g in grads]
        if self.global_clipnorm is not None and self.global_clipnorm > 0:
            norm = np.sqrt(sum((g * g).sum() for g in grads))
            return [g * self.global_clipnorm / max(norm, self.global_clipnorm) for g in grads]
        if self.clipvalue is not None and self.clipvalue > 0:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def build(self, params):
        """Per-parameter state: a list (one entry per tensor) of dicts of arrays."""
        return [{} for _ in params]

    def begin_step(self, t):
        """Hook for state shared by all tensors (Nadam's u_product)."""

    def update(self, w, g, s, t):
        raise NotImplementedError

    def step(self, params, grads):
        if len(params) != len(grads):
            raise ValueError(f"grads must hold one array per parameter ({len(params)}); received {len(grads)}")
        grads = [np.asarray(g, dtype=np.float64) for g in grads]
        if self.state is None:
            self.state = self.build(params)
        grads = self._clip(grads)
        if self.weight_decay:
            for w in params:
                w -= w * self.weight_decay * self.learning_rate
        t = self.iterations + 1
        self.begin_step(t)
        for w, g, s in zip(params, grads, self.state):
            self.update(w, g, s, t)
        self.iterations += 1
        return params


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kw):
        super().__init__(learning_rate, **kw)
        self.momentum = momentum
        self.nesterov = nesterov

    def build(self, params):
        return [{"m": np.zeros_like(w)} for w in params]

    def update(self, w, g, s, t):
        lr = self.learning_rate
        if self.momentum != 0:
            s["m"] = self.momentum * s["m"] - lr * g
            if self.nesterov:
                w += self.momentum * s["m"] - lr * g
            else:
                w += s["m"]
        else:
            w -= lr * g


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kw):
        super().__init__(learning_rate, **kw)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def build(self, params):
        return [{"v": np.zeros_like(w), "m": np.zeros_like(w), "mg": np.zeros_like(w)} for w in params]

    def update(self, w, g, s, t):
        rho = self.rho
        s["v"] = rho * s["v"] + (1 - rho) * g * g
        if self.centered:
            s["mg"] = rho * s["mg"] + (1 - rho) * g
            denominator = s["v"] - s["mg"] ** 2 + self.epsilon
        else:
            denominator = s["v"] + self.epsilon
        increment = self.learning_rate * g / np.sqrt(denominator)
        if self.momentum > 0:
            s["m"] = self.momentum * s["m"] + increment
            w -= s["m"]
        else:
            w -= increment


class Adagrad(Optimizer):
    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kw):
        super().__init__(learning_rate, **kw)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def build(self, params):
        return [{"acc": np.full_like(w, self.initial_accumulator_value)} for w in params]

    def update(self, w, g, s, t):
        s["acc"] = s["acc"] + g * g
        w -= self.learning_rate * g / np.sqrt(s["acc"] + self.epsilon)


class Adadelta(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kw):
        super().__init__(learning_rate, **kw)
        self.rho, self.epsilon = rho, epsilon

    def build(self, params):
        return [{"eg": np.zeros_like(w), "ed": np.zeros_like(w)} for w in params]

    def update(self, w, g, s, t):
        rho, eps = self.rho, self.epsilon
        s["eg"] = rho * s["eg"] + (1 - rho) * g * g
        delta = -np.sqrt(s["ed"] + eps) / np.sqrt(s["eg"] + eps) * g
        s["ed"] = rho * s["ed"] + (1 - rho) * delta * delta
        w += self.learning_rate * delta


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kw):
        super().__init__(learning_rate, **kw)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def build(self, params):
        return [{"m": np.zeros_like(w), "v": np.zeros_like(w), "vhat": np.zeros_like(w)} for w in params]

    def update(self, w, g, s, t):
        b1, b2 = self.beta_1, self.beta_2
        alpha = self.learning_rate * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        s["m"] = s["m"] + (g - s["m"]) * (1 - b1)
        s["v"] = s["v"] + (g * g - s["v"]) * (1 - b2)
        v = s["v"]
        if self.amsgrad:
            s["vhat"] = np.maximum(s["vhat"], s["v"])
            v = s["vhat"]
        w -= alpha * s["m"] / (np.sqrt(v) + self.epsilon)


class AdamW(Adam):
    def __init__(self, learning_rate=0.001, weight_decay=0.004, **kw):
        super().__init__(learning_rate, weight_decay=weight_decay, **kw)


class Adamax(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kw):
        super().__init__(learning_rate, **kw)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, params):
        return [{"m": np.zeros_like(w), "u": np.zeros_like(w)} for w in params]

    def update(self, w, g, s, t):
        b1 = self.beta_1
        s["m"] = s["m"] + (g - s["m"]) * (1 - b1)
        s["u"] = np.maximum(self.beta_2 * s["u"], np.abs(g))
        w -= self.learning_rate * s["m"] / ((1 - b1 ** t) * (s["u"] + self.epsilon))


class Nadam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kw):
        super().__init__(learning_rate, **kw)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.u_product = 1.0  # shared by all tensors, advanced once per step

    def build(self, params):
        return [{"m": np.zeros_like(w), "v": np.zeros_like(w)} for w in params]

    def _u(self, t):
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)  # Keras 3 (keras/src/optimizers/nadam.py)

    def begin_step(self, t):
        self.u_product *= self._u(t)

    def update(self, w, g, s, t):
        b1, b2 = self.beta_1, self.beta_2
        u_t, u_t1 = self._u(t), self._u(t + 1)
        u_prod_t = self.u_product
        u_prod_t1 = u_prod_t * u_t1
        s["m"] = s["m"] + (g - s["m"]) * (1 - b1)
        s["v"] = s["v"] + (g * g - s["v"]) * (1 - b2)
        m_hat = u_t1 * s["m"] / (1 - u_prod_t1) + (1 - u_t) * g / (1 - u_prod_t)
        v_hat = s["v"] / (1 - b2 ** t)
        w -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.epsilon)


OPTIMIZERS = {
    "sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adadelta": Adadelta,
    "adam": Adam, "adamw": AdamW, "adamax": Adamax, "nadam": Nadam,
}


def make_optimizer(name, config=None):
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}; received {name!r}")
    return OPTIMIZERS[name](**(config or {}))


def optimizer_trajectory(name, config, w0, grads):
    """Mirror of _core.optimizer_trajectory: parameter values after each of the steps, shape (steps, n)."""
    opt = make_optimizer(name, config)
    w = np.array(w0, dtype=np.float64).reshape(-1)
    grads = np.asarray(grads, dtype=np.float64)
    out = np.empty((grads.shape[0], w.size))
    for k in range(grads.shape[0]):
        opt.step([w], [grads[k]])
        out[k] = w
    return out


# ---------------------------------------------------------------------------------------------
# Dense network (a sequential stack of Dense and Activation ops, no dropout)
# ---------------------------------------------------------------------------------------------

@dataclass
class Dense:
    n_in: int
    n_out: int
    activation: str = "linear"
    use_bias: bool = True
    kernel_l1: float = 0.0
    kernel_l2: float = 0.0
    bias_l1: float = 0.0
    bias_l2: float = 0.0


@dataclass
class Activation:
    n: int
    activation: str


def param_shapes(layers):
    """Shapes of the flat parameter list [W0, b0, W1, ...] (a bias only where use_bias)."""
    shapes = []
    for layer in layers:
        if isinstance(layer, Dense):
            shapes.append((layer.n_in, layer.n_out))
            if layer.use_bias:
                shapes.append((layer.n_out,))
    return shapes


def _split_params(layers, params):
    """Per-op (W, b) pairs (None for Activation ops; b None without bias)."""
    shapes = param_shapes(layers)
    if len(params) != len(shapes):
        raise ValueError(f"params must hold {len(shapes)} arrays; received {len(params)}")
    for p, shape in zip(params, shapes):
        if np.shape(p) != shape:
            raise ValueError(f"parameter shapes must be {shapes}; received {[np.shape(q) for q in params]}")
    out, k = [], 0
    for layer in layers:
        if isinstance(layer, Dense):
            W = np.asarray(params[k], dtype=np.float64)
            k += 1
            b = None
            if layer.use_bias:
                b = np.asarray(params[k], dtype=np.float64)
                k += 1
            out.append((W, b))
        else:
            out.append(None)
    return out


def _fused(layers, loss, from_logits):
    """True when the last op's activation is computed together with the loss, from logits."""
    if from_logits or not layers:
        return False
    act = layers[-1].activation
    return (act == "sigmoid" and loss == "binary_crossentropy") or (
        act == "softmax" and loss in ("categorical_crossentropy", "sparse_categorical_crossentropy"))


def forward(layers, params, x):
    """Network output for input x (what predict returns)."""
    return _forward(layers, params, x)[0]


def _forward(layers, params, x):
    """Output and per-op cache of (input, pre-activation z)."""
    a = _as2d(x, "x")
    cache = []
    for layer, wb in zip(layers, _split_params(layers, params)):
        inp = a
        if isinstance(layer, Dense):
            W, b = wb
            z = _matmul(inp, W) + (b if b is not None else 0.0)
        else:
            z = inp
        a = activation_forward(layer.activation, z)
        cache.append((inp, z))
    return a, cache


def regularization_loss(layers, params):
    """Keras 3 L1L2: l1 * sum|w| + l2 * sum(w^2), summed over the regularized tensors."""
    total = 0.0
    for layer, wb in zip(layers, _split_params(layers, params)):
        if isinstance(layer, Dense):
            W, b = wb
            total += layer.kernel_l1 * np.abs(W).sum() + layer.kernel_l2 * (W * W).sum()
            if b is not None:
                total += layer.bias_l1 * np.abs(b).sum() + layer.bias_l2 * (b * b).sum()
    return float(total)


def loss_and_grads(layers, params, x, y, loss, from_logits=False, sample_weight=None):
    """(loss, grads): reduced data loss + regularization, and its gradient per parameter tensor.

    Mirrors _core.Network.forward_backward: a sigmoid + binary_crossentropy or softmax +
    (sparse_)categorical_crossentropy last op is fused (loss computed from the logits z).
    """
    out, cache = _forward(layers, params, x)
    fused = _fused(layers, loss, from_logits)
    z_last = cache[-1][1]
    if fused:
        data_loss = loss_forward(loss, y, z_last, sample_weight, from_logits=True)
        dz = loss_backward(loss, y, z_last, sample_weight, from_logits=True)
    else:
        data_loss = loss_forward(loss, y, out, sample_weight, from_logits)
        dout = loss_backward(loss, y, out, sample_weight, from_logits)
    per_op = _split_params(layers, params)
    grads_per_op = [None] * len(layers)
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        inp, z = cache[i]
        if not (fused and i == len(layers) - 1):
            dz = activation_backward(layer.activation, z, dout)
        if isinstance(layer, Dense):
            W, b = per_op[i]
            dW = _matmul(inp.T, dz) + layer.kernel_l1 * np.sign(W) + 2.0 * layer.kernel_l2 * W
            db = None
            if b is not None:
                db = dz.sum(axis=0) + layer.bias_l1 * np.sign(b) + 2.0 * layer.bias_l2 * b
            grads_per_op[i] = (dW, db)
            dout = _matmul(dz, W.T)
        else:
            dout = dz
    grads = []
    for g in grads_per_op:
        if g is not None:
            grads.append(g[0])
            if g[1] is not None:
                grads.append(g[1])
    return data_loss + regularization_loss(layers, params), grads


def evaluate(layers, params, x, y, loss, from_logits=False, sample_weight=None, metrics=(), weighted_metrics=True):
    """[loss, metric values...] on the whole data (batch size does not change these); the metrics get the sample
    weights when weighted_metrics (Keras's weighted_metrics=), else not (metrics=)."""
    out, cache = _forward(layers, params, x)
    if _fused(layers, loss, from_logits):
        data_loss = loss_forward(loss, y, cache[-1][1], sample_weight, from_logits=True)
    else:
        data_loss = loss_forward(loss, y, out, sample_weight, from_logits)
    result = [data_loss + regularization_loss(layers, params)]
    result += [metric(m, y, out, sample_weight if weighted_metrics else None) for m in metrics]
    return result


def train(layers, params, batches, loss, optimizer, opt_config=None, from_logits=False):
    """Plain mini-batch loop: one step per (x, y, sample_weight) batch, in the given order.

    Returns (weights, losses): weights[k] is a copy of the parameter list after step k,
    losses[k] the loss of batch k computed before its update (what train_on_batch returns).
    """
    params = [np.array(p, dtype=np.float64) for p in params]
    opt = make_optimizer(optimizer, opt_config)
    weights, losses = [], []
    for batch in batches:
        x, y = batch[0], batch[1]
        sample_weight = batch[2] if len(batch) > 2 else None
        value, grads = loss_and_grads(layers, params, x, y, loss, from_logits, sample_weight)
        opt.step(params, grads)
        weights.append([p.copy() for p in params])
        losses.append(value)
    return weights, losses


# ---------------------------------------------------------------------------------------------
# Example data: valid targets and predictions for each loss, away from non-differentiable points
# ---------------------------------------------------------------------------------------------

def example_targets(loss, rng, n, d):
    """y_true of shape (n, d) ((n, 1) class indices for sparse) in the domain of `loss`."""
    if loss in ("mse", "mae", "huber"):
        return rng.normal(size=(n, d))
    if loss == "binary_crossentropy":
        return (rng.uniform(size=(n, d)) < 0.5).astype(np.float64)
    if loss == "categorical_crossentropy":
        return np.eye(d)[rng.integers(0, d, size=n)]
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, d, size=(n, 1)).astype(np.float64)
    if loss in ("hinge", "squared_hinge"):
        return (rng.uniform(size=(n, d)) < 0.5).astype(np.float64)  # 0/1, converted to -1/1
    if loss in ("log_cosh", "cosine_similarity"):
        return rng.normal(size=(n, d))
    if loss == "kl_divergence":  # probability rows
        e = rng.uniform(0.1, 1.0, size=(n, d))
        return e / e.sum(axis=-1, keepdims=True)
    if loss == "poisson":
        return rng.poisson(2.0, size=(n, d)).astype(np.float64)
    if loss == "mean_absolute_percentage_error":  # away from 0
        y = rng.normal(size=(n, d))
        return y + np.where(y < 0, -0.5, 0.5)
    if loss == "mean_squared_logarithmic_error":
        return rng.uniform(0.0, 3.0, size=(n, d))
    if loss == "categorical_hinge":
        return np.eye(d)[rng.integers(0, d, size=n)]
    raise ValueError(f"loss must be one of {LOSSES}; received {loss!r}")


def example_predictions(loss, y_true, rng, from_logits=False, margin=0.05):
    """y_pred for `loss` and `y_true`, at least `margin` away from the loss's kinks and clip bounds."""
    y_true = np.asarray(y_true, dtype=np.float64)
    n = y_true.shape[0]
    if loss in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        d = y_true.shape[1] if loss == "categorical_crossentropy" else int(y_true.max()) + 2
        if from_logits:
            return 2.0 * rng.normal(size=(n, d))
        return rng.uniform(0.05, 1.0, size=(n, d))  # rows not normalized: exercises the division by the sum
    d = y_true.shape[1]
    if loss == "binary_crossentropy":
        return 2.0 * rng.normal(size=(n, d)) if from_logits else rng.uniform(0.05, 0.95, size=(n, d))
    if loss in ("kl_divergence", "poisson", "mean_squared_logarithmic_error"):
        return rng.uniform(0.1, 0.9, size=(n, d)) * (3.0 if loss != "kl_divergence" else 1.0)
    if loss == "categorical_hinge":  # L_i at least `margin` away from its kink at 0, one largest wrong score
        p = rng.normal(size=(n, d))
        pos = (y_true * p).sum(axis=-1)
        neg = ((1.0 - y_true) * p).max(axis=-1)
        L = neg - pos + 1.0
        p = p + y_true * np.where(np.abs(L) < margin, 3 * margin, 0.0)[:, None]
        return p
    if loss == "mean_absolute_percentage_error":
        p = rng.normal(size=(n, d))
        e = p - y_true
        return np.where(np.abs(e) < margin, y_true + np.where(e < 0, -margin, margin), p)
    p = rng.normal(size=(n, d))
    if loss == "mae":  # |p - y| >= margin
        e = p - y_true
        return np.where(np.abs(e) < margin, y_true + np.where(e < 0, -margin, margin), p)
    if loss == "huber":  # ||p - y| - delta| >= margin
        e = p - y_true
        bad = np.abs(np.abs(e) - HUBER_DELTA) < margin
        return np.where(bad, y_true + np.sign(e) * (HUBER_DELTA + 2 * margin), p)
    if loss in ("hinge", "squared_hinge"):  # |1 - y p| >= margin with y in -1/1
        y = _hinge_labels(y_true)
        bad = np.abs(1.0 - y * p) < margin
        return np.where(bad, p + 3 * margin * y, p)
    return p


def example_preactivations(activation, rng, shape, margin=0.05):
    """z for `activation`, at least `margin` away from 0 and from hard_sigmoid's corners at +-3."""
    z = rng.uniform(-4.0, 4.0, size=shape)
    z = np.where(np.abs(z) < margin, z + np.where(z < 0, -2 * margin, 2 * margin), z)
    if activation == "hard_sigmoid":
        z = np.where(np.abs(np.abs(z) - 3.0) < margin, z * 0.9, z)
    return z


# ---------------------------------------------------------------------------------------------
# Stateful metrics (Keras 3, keras/src/metrics/*.py), computed over all the data at once.
# spec: the engine's description (fastnn.metrics.Metric.engine_spec()): {"kind": ..., arguments}.
# ---------------------------------------------------------------------------------------------

def _no_nan_div(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


def _confusion(y, p, w, threshold):
    """tp, fp, tn, fn at one threshold (positive: p > threshold; label: y != 0); w per element."""
    pos, lab = p > threshold, y != 0
    return [float((w * (lab & pos)).sum()), float((w * (~lab & pos)).sum()),
            float((w * (~lab & ~pos)).sum()), float((w * (lab & ~pos)).sum())]


def auc(y_true, y_pred, sample_weight=None, num_thresholds=200, curve="ROC", summation_method="interpolation",
        from_logits=False):
    """keras.metrics.AUC: thresholds [-eps, 1/(T-1), ..., (T-2)/(T-1), 1+eps], a prediction positive when > t."""
    y, p = _as2d(y_true, "y_true"), _as2d(y_pred, "y_pred")
    if from_logits:
        p = _sigmoid(p)
    p = np.clip(p, 0.0, 1.0)
    w = np.broadcast_to(_sample_weight(sample_weight, y.shape[0])[:, None], y.shape)
    thresholds = [0.0 - EPSILON] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1.0 + EPSILON]
    tp, fp, tn, fn = np.array([_confusion(y, p, w, t) for t in thresholds]).T
    if curve == "PR" and summation_method == "interpolation":  # Davis & Goadrich 2006, Keras's interpolate_pr_auc
        dtp = tp[:-1] - tp[1:]
        pp = tp + fp
        slope = _no_nan_div(dtp, np.maximum(pp[:-1] - pp[1:], 0))
        intercept = tp[1:] - slope * pp[1:]
        ratio = np.where((pp[:-1] > 0) & (pp[1:] > 0), _no_nan_div(pp[:-1], np.maximum(pp[1:], 0)), 1.0)
        return float(_no_nan_div(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0)).sum())
    recall = _no_nan_div(tp, tp + fn)
    if curve == "ROC":
        x, h = _no_nan_div(fp, fp + tn), recall
    else:
        x, h = recall, _no_nan_div(tp, tp + fp)
    heights = {"interpolation": (h[:-1] + h[1:]) / 2, "minoring": np.minimum(h[:-1], h[1:]),
               "majoring": np.maximum(h[:-1], h[1:])}[summation_method]
    return float(((x[:-1] - x[1:]) * heights).sum())


def metric_result(spec, y_true, y_pred, sample_weight=None):
    """The value(s) of one metric over all rows (a 1-D array); sample_weight applies only when spec["weighted"]."""
    kind = spec["kind"]
    y, p = _as2d(y_true, "y_true"), _as2d(y_pred, "y_pred")
    n, k = p.shape
    w = _sample_weight(sample_weight if spec.get("weighted") else None, n)
    mean = lambda v: np.array([float((w * v).sum() / w.sum()) if w.sum() else 0.0])
    if kind == "loss_mean":
        cfg = dict(spec.get("loss_config") or {})
        value = mean(per_sample_loss(spec["loss"], y, p, spec.get("from_logits", False), **cfg))
        return -value if spec.get("negate") else value  # keras.metrics.CosineSimilarity is +cos
    if kind == "binary_accuracy":
        return mean(((p > spec.get("threshold", 0.5)).astype(np.float64) == y).mean(axis=-1))
    if kind == "categorical_accuracy":
        return mean((p.argmax(axis=-1) == y.argmax(axis=-1)).astype(np.float64))
    if kind == "sparse_categorical_accuracy":
        return mean((p.argmax(axis=-1) == y[:, 0]).astype(np.float64))
    if kind in ("top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"):
        target = y.argmax(axis=-1) if kind.startswith("top") else y[:, 0].astype(int)
        kth = -np.sort(-p, axis=-1)[:, min(spec.get("k", 5), k) - 1]  # in top k: p[target] >= k-th largest
        return mean((p[np.arange(n), target] >= kth).astype(np.float64))
    if kind == "root_mean_squared_error":
        return np.sqrt(mean(((p - y) ** 2).mean(axis=-1)))
    if kind in ("true_positives", "false_positives", "true_negatives", "false_negatives", "precision", "recall"):
        top_k, class_id = spec.get("top_k") or 0, spec.get("class_id", -1)
        threshold = spec.get("threshold", -1e10 if top_k else 0.5)
        if top_k:  # keep the top k of each row (first index wins ties), the others become -1e10
            order = np.argsort(-p, axis=-1, kind="stable")[:, :top_k]
            keep = np.zeros_like(p, dtype=bool)
            keep[np.arange(n)[:, None], order] = True
            p = np.where(keep, p, -1e10)
        if class_id is not None and class_id >= 0:
            y, p = y[:, class_id:class_id + 1], p[:, class_id:class_id + 1]
        tp, fp, tn, fn = _confusion(y, p, np.broadcast_to(w[:, None], y.shape), threshold)
        value = {"true_positives": tp, "false_positives": fp, "true_negatives": tn, "false_negatives": fn,
                 "precision": float(_no_nan_div(tp, tp + fp)), "recall": float(_no_nan_div(tp, tp + fn))}[kind]
        return np.array([value])
    if kind == "auc":
        curve = "PR" if spec.get("pr") else "ROC"
        summation = ("interpolation", "minoring", "majoring")[spec.get("summation", 0)]
        return np.array([auc(y, p, w, spec.get("num_thresholds", 200), curve, summation,
                             spec.get("from_logits", False))])
    if kind == "r2_score":  # keras.metrics.R2Score: 1 - SS_res / SS_tot per output, weighted by w
        wc = w[:, None]
        ybar = (wc * y).sum(axis=0) / w.sum()
        ss_tot = (wc * (y - ybar) ** 2).sum(axis=0)
        raw = 1.0 - (wc * (y - p) ** 2).sum(axis=0) / ss_tot
        raw = np.where(np.isinf(raw), 0.0, raw)
        agg = spec.get("aggregation", 1)
        return raw if agg == 0 else np.array([raw.mean() if agg == 1 else (ss_tot * raw).sum() / ss_tot.sum()])
    if kind == "fbeta_score":  # keras.metrics.FBetaScore
        if spec.get("threshold", 0.5) is None:
            pred = (p >= p.max(axis=-1, keepdims=True)) & (np.abs(p) > 1e-9)
        else:
            pred = p > spec.get("threshold", 0.5)
        pred = pred.astype(np.float64)
        wc = w[:, None]
        axis = None if spec.get("average") == 1 else 0
        tp = (wc * pred * y).sum(axis=axis)
        fp = (wc * pred * (1 - y)).sum(axis=axis)
        fn = (wc * (1 - pred) * y).sum(axis=axis)
        support = (wc * y).sum(axis=axis)
        b2 = spec.get("beta", 1.0) ** 2
        precision, recall = tp / (tp + fp + EPSILON), tp / (tp + fn + EPSILON)
        f = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        average = spec.get("average", 0)
        if average == 0:
            return np.atleast_1d(f)
        if average == 3:
            return np.array([(f * support / (support.sum() + EPSILON)).sum()])
        return np.array([np.mean(f)])
    raise ValueError(f"unknown metric kind {kind!r}")


# ---------------------------------------------------------------------------------------------
# Learning-rate schedules (keras/src/optimizers/schedules/learning_rate_schedule.py) at optimizer step `step`.
# ---------------------------------------------------------------------------------------------

def schedule(class_name, config, step):
    c, t = dict(config), float(step)
    if class_name == "ExponentialDecay":
        e = t / c["decay_steps"]
        return c["initial_learning_rate"] * c["decay_rate"] ** (math.floor(e) if c.get("staircase") else e)
    if class_name == "InverseTimeDecay":
        e = t / c["decay_steps"]
        return c["initial_learning_rate"] / (1 + c["decay_rate"] * (math.floor(e) if c.get("staircase") else e))
    if class_name == "PiecewiseConstantDecay":
        for b, v in zip(c["boundaries"], c["values"]):
            if t <= b:
                return v
        return c["values"][-1]
    if class_name == "PolynomialDecay":
        lr0, end, steps, power = (c["initial_learning_rate"], c.get("end_learning_rate", 1e-4), c["decay_steps"],
                                  c.get("power", 1.0))
        if c.get("cycle"):
            steps = steps * (1.0 if t == 0 else math.ceil(t / steps))
        else:
            t = min(t, steps)
        return (lr0 - end) * (1 - t / steps) ** power + end
    if class_name == "CosineDecay":
        lr0, steps, alpha = c["initial_learning_rate"], c["decay_steps"], c.get("alpha", 0.0)
        target, warm = c.get("warmup_target"), c.get("warmup_steps", 0)

        def decayed(s, start):
            return start * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / steps)) + alpha)
        if target is None:
            return decayed(min(t, steps), lr0)
        t = min(t, steps + warm)
        if t < warm:
            return lr0 + (target - lr0) * t / warm
        return decayed(t - warm, target)
    if class_name == "CosineDecayRestarts":  # walk the restart periods one by one
        lr0, period, alpha = c["initial_learning_rate"], float(c["first_decay_steps"]), c.get("alpha", 0.0)
        t_mul, m_mul = c.get("t_mul", 2.0), c.get("m_mul", 1.0)
        start, i = 0.0, 0
        while t >= start + period:
            start += period
            period *= t_mul
            i += 1
        frac = (t - start) / period
        return lr0 * ((1 - alpha) * 0.5 * m_mul ** i * (1 + math.cos(math.pi * frac)) + alpha)
    raise ValueError(f"unknown schedule {class_name!r}")


# ---------------------------------------------------------------------------------------------
# Normalization ops (Keras 3: keras/src/layers/normalization/*.py, layers/preprocessing/normalization.py and
# rescaling.py). Each *_forward returns the op's output (and updated state); each *_backward returns
# (dL/dx, gradients of the op's trainable weights in Keras's order) given dL/dout. Samples are rows.
# ---------------------------------------------------------------------------------------------

BN_MOMENTUM = 0.99
NORM_EPSILON = 1e-3  # BatchNormalization's and LayerNormalization's default epsilon
UNIT_NORM_EPSILON = 1e-12


def batch_normalization_forward(x, gamma, beta, moving_mean, moving_variance, training, momentum=BN_MOMENTUM,
                                epsilon=NORM_EPSILON):
    """Returns (out, new moving_mean, new moving_variance). gamma/beta None: scale/center off.
    training: batch mean and biased batch variance, and the moving statistics move towards them."""
    x = np.asarray(x, dtype=np.float64)
    mm, mv = np.asarray(moving_mean, np.float64), np.asarray(moving_variance, np.float64)
    if training:
        mu, var = x.mean(axis=0), x.var(axis=0)
        mm, mv = mm * momentum + mu * (1 - momentum), mv * momentum + var * (1 - momentum)
    else:
        mu, var = mm, mv
    out = (x - mu) / np.sqrt(var + epsilon)
    if gamma is not None:
        out = out * gamma
    if beta is not None:
        out = out + beta
    return out, mm, mv


def batch_normalization_backward(x, gamma, beta, moving_mean, moving_variance, dout, training, epsilon=NORM_EPSILON):
    """(dx, [dgamma, dbeta] as present). In training the batch statistics depend on x."""
    x, dout = np.asarray(x, np.float64), np.asarray(dout, np.float64)
    m = x.shape[0]
    mu, var = (x.mean(axis=0), x.var(axis=0)) if training else (moving_mean, moving_variance)
    rstd = 1 / np.sqrt(var + epsilon)
    xhat = (x - mu) * rstd
    dxhat = dout * (1.0 if gamma is None else gamma)
    if training:
        dx = rstd / m * (m * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    else:
        dx = dxhat * rstd
    grads = ([] if gamma is None else [(dout * xhat).sum(axis=0)]) + ([] if beta is None else [dout.sum(axis=0)])
    return dx, grads


def layer_normalization_forward(x, gamma, beta, epsilon=NORM_EPSILON):
    x = np.asarray(x, np.float64)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    out = (x - mu) / np.sqrt(var + epsilon)
    if gamma is not None:
        out = out * gamma
    if beta is not None:
        out = out + beta
    return out


def layer_normalization_backward(x, gamma, beta, dout, epsilon=NORM_EPSILON):
    x, dout = np.asarray(x, np.float64), np.asarray(dout, np.float64)
    n = x.shape[1]
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    rstd = 1 / np.sqrt(var + epsilon)
    xhat = (x - mu) * rstd
    dxhat = dout * (1.0 if gamma is None else gamma)
    dx = rstd / n * (n * dxhat - dxhat.sum(axis=1, keepdims=True) - xhat * (dxhat * xhat).sum(axis=1, keepdims=True))
    grads = ([] if gamma is None else [(dout * xhat).sum(axis=0)]) + ([] if beta is None else [dout.sum(axis=0)])
    return dx, grads


def unit_normalization_forward(x):
    """ops.normalize(x, order=2, epsilon=1e-12): x * rsqrt(max(sum x^2, epsilon^2)) per sample."""
    x = np.asarray(x, np.float64)
    s = (x * x).sum(axis=1, keepdims=True)
    return x / np.sqrt(np.maximum(s, UNIT_NORM_EPSILON ** 2))


def unit_normalization_backward(x, dout):
    x, dout = np.asarray(x, np.float64), np.asarray(dout, np.float64)
    s = (x * x).sum(axis=1, keepdims=True)
    big = s > UNIT_NORM_EPSILON ** 2
    inv = 1 / np.sqrt(np.maximum(s, UNIT_NORM_EPSILON ** 2))
    y = x * inv
    return np.where(big, inv * (dout - y * (dout * y).sum(axis=1, keepdims=True)), inv * dout), []


def normalization_forward(x, mean, variance, invert=False):
    """Keras's Normalization: (x - mean) / max(sqrt(variance), 1e-7), or mean + x * max(...) when inverted."""
    x = np.asarray(x, np.float64)
    d = np.maximum(np.sqrt(np.asarray(variance, np.float64)), EPSILON)
    return mean + x * d if invert else (x - mean) / d


def normalization_backward(x, mean, variance, dout, invert=False):
    d = np.maximum(np.sqrt(np.asarray(variance, np.float64)), EPSILON)
    return (np.asarray(dout, np.float64) * d if invert else np.asarray(dout, np.float64) / d), []


def normalization_adapt(data, axis=-1):
    """adapt() on an array: the mean and (biased) variance over the samples (axis=-1), or over everything (None)."""
    data = np.asarray(data, np.float64)
    if axis is None:
        return data.mean(), data.var()
    return data.mean(axis=0), data.var(axis=0)


def rescaling_forward(x, scale, offset=0.0):
    return np.asarray(x, np.float64) * scale + offset


def rescaling_backward(x, scale, dout):
    return np.asarray(dout, np.float64) * scale, []


# ---------------------------------------------------------------------------------------------
# Activation and noise layers (keras/src/layers/activations, keras/src/layers/regularization)
# ---------------------------------------------------------------------------------------------

ALPHA_DROPOUT_ALPHA_P = -SELU_ALPHA * SELU_SCALE


def relu_layer_forward(x, max_value=None, negative_slope=0.0, threshold=0.0):
    """Keras's relu(x, negative_slope, max_value, threshold): min(x, max_value) above the threshold,
    negative_slope * (x - threshold) at or below it."""
    x = _as2d(x, "x")
    above = np.minimum(x, max_value) if max_value is not None else x
    return np.where(x > threshold, above, negative_slope * (x - threshold))


def relu_layer_backward(x, dout, max_value=None, negative_slope=0.0, threshold=0.0):
    """dx for relu_layer_forward: 1 between threshold and max_value, 0 at or above max_value, negative_slope
    at or below the threshold."""
    x, dout = _as2d(x, "x"), _as2d(dout, "dout")
    inside = 1.0 if max_value is None else (x < max_value).astype(np.float64)
    return dout * np.where(x > threshold, inside, negative_slope)


def elu_layer_forward(x, alpha=1.0):
    x = _as2d(x, "x")
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def elu_layer_backward(x, dout, alpha=1.0):
    x, dout = _as2d(x, "x"), _as2d(dout, "dout")
    return dout * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def prelu_forward(x, alpha):
    """Keras's PReLU: relu(x) - alpha * relu(-x), alpha (n,) one slope per feature."""
    x = _as2d(x, "x")
    alpha = np.asarray(alpha, dtype=np.float64)
    return np.maximum(x, 0.0) - alpha * np.maximum(-x, 0.0)


def prelu_backward(x, alpha, dout):
    """(dx, dalpha) for prelu_forward: dx = dout * (1 if x > 0 else alpha), dalpha_j = -sum_i dout_ij relu(-x_ij)."""
    x, dout = _as2d(x, "x"), _as2d(dout, "dout")
    alpha = np.asarray(alpha, dtype=np.float64)
    return dout * np.where(x > 0, 1.0, alpha), -(dout * np.maximum(-x, 0.0)).sum(axis=0)


def gaussian_noise_forward(x, stddev, e):
    """In training: x + stddev * e for standard normal draws e (the identity at inference)."""
    return _as2d(x, "x") + stddev * np.asarray(e, dtype=np.float64)


def gaussian_dropout_forward(x, rate, e):
    """In training: x * (1 + sqrt(rate / (1 - rate)) * e) for standard normal draws e."""
    return _as2d(x, "x") * (1.0 + math.sqrt(rate / (1.0 - rate)) * np.asarray(e, dtype=np.float64))


def gaussian_dropout_backward(dout, rate, e):
    return _as2d(dout, "dout") * (1.0 + math.sqrt(rate / (1.0 - rate)) * np.asarray(e, dtype=np.float64))


def alpha_dropout_coefficients(rate):
    """(a, b) of Keras's AlphaDropout: a = ((1 - rate)(1 + rate alpha_p^2))^-1/2, b = -a alpha_p rate."""
    ap = ALPHA_DROPOUT_ALPHA_P
    a = ((1.0 - rate) * (1.0 + rate * ap * ap)) ** -0.5
    return a, -a * ap * rate


def alpha_dropout_forward(x, rate, kept):
    """In training: a * (x if kept else alpha_p) + b, kept = (u >= rate) for uniform draws u."""
    a, b = alpha_dropout_coefficients(rate)
    kept = np.asarray(kept, dtype=np.float64)
    return a * (_as2d(x, "x") * kept + ALPHA_DROPOUT_ALPHA_P * (1.0 - kept)) + b


def alpha_dropout_backward(dout, rate, kept):
    a, _ = alpha_dropout_coefficients(rate)
    return _as2d(dout, "dout") * a * np.asarray(kept, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# bfloat16 (the mixed_bfloat16 policy's product operands)
# ---------------------------------------------------------------------------------------------

def to_bfloat16(x):
    """x rounded to the nearest bfloat16 (ties to even), as float64: float32's sign, exponent and top 7
    mantissa bits. NaN stays NaN; values beyond bfloat16's range become infinity."""
    f = np.asarray(x, dtype=np.float32)
    u = f.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    out = rounded.astype(np.uint32).view(np.float32).astype(np.float64)
    return np.where(np.isnan(f), np.nan, out)


def matmul_bf16(a, b):
    """a @ b with both operands rounded to bfloat16 and the products summed exactly (float64)."""
    return to_bfloat16(a) @ to_bfloat16(b)


_MATMUL = [np.matmul]  # the Dense products of _forward and loss_and_grads


def _matmul(a, b):
    return _MATMUL[0](a, b)


@contextlib.contextmanager
def bf16_products():
    """Within it, the Dense network's products (forward, dW, dx) take bfloat16 operands, as the engine's do under
    the mixed_bfloat16 policy: what remains between the two is float32 accumulation and ordering."""
    _MATMUL[0] = matmul_bf16
    try:
        yield
    finally:
        _MATMUL[0] = np.matmul
