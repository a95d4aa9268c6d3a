"""The workloads of issue 6 (W1-W5) and the three implementations measured on them side by side.

- fastnn through its public Keras-style API (Sequential, compile, fit, predict);
- ``NumpyMLP``: a plain float32 NumPy MLP with Keras's Adam, the fair NumPy peer;
- ``TorchMLP``: an idiomatic PyTorch training loop (nn.Sequential, optim.Adam(eps=1e-7), shuffled index
  batching, zero_grad/backward/step), used only when torch is importable; ``torch_fused`` is the same loop with
  ``optim.Adam(fused=True)`` (PyTorch's fastest Adam on CPU).
All three start from the same Glorot-uniform weights (drawn here, seeded) so their results can be checked
against the float64 oracle in tests/reference.py before anything is timed.
Shared by benchmarks/compare.py and the pytest-benchmark suites.
"""

import math
import os
import sys
from dataclasses import dataclass

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(ROOT, "tests") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "tests"))
import reference  # noqa: E402  (tests/reference.py, the float64 oracle)

torch = None
if not os.environ.get("FASTNN_BENCH_NO_TORCH"):  # set by compare.py's workers that do not need it
    try:
        import torch
    except ImportError:  # PyTorch is optional: its columns say "not installed"
        torch = None

IMPLS = ("fastnn", "numpy", "torch", "torch_fused", "fastnn_bf16", "torch_bf16")

# tolerances of a float32 result against the float64 oracle (as in tests/conftest.py's TOL)
TOL = {"forward": dict(rtol=1e-5, atol=1e-5), "backward": dict(rtol=1e-4, atol=1e-5),
       "trajectory": dict(rtol=1e-5, atol=1e-5),
       "bfloat16": dict(rtol=2.0 ** -6, atol=2.0 ** -6)}  # mixed_bfloat16 rows: 8-bit operands


@dataclass(frozen=True)
class Spec:
    """A dense model and how it is trained: layers are (units, activation) after an input of n_in."""
    n_in: int
    layers: tuple
    loss: str
    n_samples: int
    batch_size: int
    epochs: int
    shuffle: bool = True

    @property
    def shapes(self):
        """(n_in, n_out) of every Dense layer."""
        sizes = [self.n_in] + [u for u, _ in self.layers]
        return list(zip(sizes[:-1], sizes[1:]))

    @property
    def n_out(self):
        return self.layers[-1][0]

    def flops_per_sample(self):
        """Training flops per sample: 2 (forward) + 4 (two backward GEMMs) per multiply-add."""
        return 6 * sum(a * b for a, b in self.shapes)

    def describe(self):
        return "->".join([str(self.n_in)] + [f"{u}{'' if a == 'linear' else ' ' + a}" for u, a in self.layers])


W3_LAYERS = ((500, "relu"), (10, "softmax"))
W4_LAYERS = ((1024, "relu"), (1024, "relu"), (1024, "relu"), (10, "softmax"))


def workload_specs(quick=False):
    """The issue's table; --quick shrinks sample counts and epochs so the whole run takes seconds."""
    if quick:
        return {
            "W1": Spec(2, ((3, "relu"), (1, "sigmoid")), "binary_crossentropy", 1500, 1500, 20, shuffle=False),
            "W2": Spec(13, ((10, "relu"), (1, "linear")), "mse", 404, 32, 5),
            "W3": Spec(784, W3_LAYERS, "categorical_crossentropy", 1200, 300, 1),
            "W4": Spec(784, W4_LAYERS, "categorical_crossentropy", 512, 256, 1),
            "W5": Spec(784, W3_LAYERS, "categorical_crossentropy", 2000, 1000, 0),
            "W3r": Spec(784, W3_LAYERS, "categorical_crossentropy", 1200, 300, 1),
        }
    return {
        "W1": Spec(2, ((3, "relu"), (1, "sigmoid")), "binary_crossentropy", 1500, 1500, 2200, shuffle=False),
        "W2": Spec(13, ((10, "relu"), (1, "linear")), "mse", 404, 32, 1000),
        "W3": Spec(784, W3_LAYERS, "categorical_crossentropy", 60000, 300, 2),
        "W4": Spec(784, W4_LAYERS, "categorical_crossentropy", 12800, 256, 1),
        "W5": Spec(784, W3_LAYERS, "categorical_crossentropy", 10000, 1000, 0),
        "W3r": Spec(784, W3_LAYERS, "categorical_crossentropy", 60000, 300, 6),  # raw Fashion-MNIST pixels
    }


# ---------------------------------------------------------------------------------------------
# Data and initial weights (float32, seeded)
# ---------------------------------------------------------------------------------------------

def make_data(spec, seed=0, n=None):
    """Synthetic float32 (x, y) of the spec's shapes, C-contiguous, drawn without float64 temporaries."""
    rng = np.random.default_rng(seed)
    n = spec.n_samples if n is None else n
    if spec.loss == "categorical_crossentropy":
        x = rng.random((n, spec.n_in), dtype=np.float32)
        y = np.zeros((n, spec.n_out), dtype=np.float32)
        y[np.arange(n), rng.integers(0, spec.n_out, size=n)] = 1.0
    elif spec.loss == "binary_crossentropy":
        x = rng.standard_normal((n, spec.n_in), dtype=np.float32)
        y = ((x[:, :1] * x[:, 1:2]) > 0).astype(np.float32)  # XOR-like quadrants
    else:
        x = rng.standard_normal((n, spec.n_in), dtype=np.float32)
        w = rng.standard_normal((spec.n_in, spec.n_out), dtype=np.float32)
        y = (x @ w + 0.1 * rng.standard_normal((n, spec.n_out), dtype=np.float32)).astype(np.float32)
    return x, y


def glorot_params(spec, seed=0):
    """[W0, b0, W1, b1, ...]: Glorot-uniform kernels, zero biases, float32."""
    rng = np.random.default_rng(seed + 1)
    params = []
    for a, b in spec.shapes:
        limit = math.sqrt(6.0 / (a + b))
        params.append(rng.uniform(-limit, limit, size=(a, b)).astype(np.float32))
        params.append(np.zeros(b, dtype=np.float32))
    return params


def reference_layers(spec):
    sizes = [spec.n_in] + [u for u, _ in spec.layers]
    return [reference.Dense(sizes[i], sizes[i + 1], act) for i, (_, act) in enumerate(spec.layers)]


# ---------------------------------------------------------------------------------------------
# fastnn
# ---------------------------------------------------------------------------------------------

def fastnn_model(spec, params, policy=None):
    import fastnn
    from fastnn.layers import Dense

    layers = [Dense(u, activation=a, input_shape=(spec.n_in,), dtype=policy) if i == 0
              else Dense(u, activation=a, dtype=policy) for i, (u, a) in enumerate(spec.layers)]
    model = fastnn.Sequential(layers)
    model.compile(optimizer="adam", loss=spec.loss)
    model.set_weights([p.copy() for p in params])
    return model


class FastnnRunner:
    name = "fastnn"

    def __init__(self, spec, params, policy=None):
        self.spec = spec
        self.model = fastnn_model(spec, params, policy)

    def fit(self, x, y, epochs=None, batch_size=None):
        s = self.spec
        self.model.fit(x, y, batch_size=batch_size or s.batch_size, epochs=s.epochs if epochs is None else epochs,
                       shuffle=s.shuffle, verbose=0)

    def train_step(self, x, y):
        self.model.train_on_batch(x, y)

    def predict(self, x, batch_size):
        return self.model.predict(x, batch_size=batch_size, verbose=0)

    def weights(self):
        return self.model.get_weights()


# ---------------------------------------------------------------------------------------------
# NumPy float32 MLP
# ---------------------------------------------------------------------------------------------

def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


class NumpyMLP:
    """A float32 MLP written the way a NumPy user would: one matmul per layer, in-place Adam (Keras formulas).

    sigmoid+binary_crossentropy and softmax+categorical_crossentropy are computed from the logits, as fastnn does.
    """
    name = "numpy"

    def __init__(self, spec, params, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, seed=0):
        self.spec = spec
        self.acts = [a for _, a in spec.layers]
        self.params = [np.array(p, dtype=np.float32) for p in params]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta_1, beta_2, epsilon
        self.t = 0
        self.rng = np.random.default_rng(seed)

    def _activate(self, act, z, last):
        if act == "relu":
            return np.maximum(z, 0, out=z if not last else None)
        if act == "sigmoid":
            return _sigmoid(z)
        if act == "softmax":
            return _softmax(z)
        if act == "linear":
            return z
        raise ValueError(f"activation must be relu, sigmoid, softmax or linear; received {act!r}")

    def predict(self, x, batch_size=None):
        n = x.shape[0]
        bs = n if batch_size is None else batch_size
        outs = [self._forward(x[i:i + bs]) for i in range(0, n, bs)]
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    def _forward(self, x):
        a = x
        last = len(self.acts) - 1
        for i, act in enumerate(self.acts):
            z = a @ self.params[2 * i]
            z += self.params[2 * i + 1]
            a = self._activate(act, z, i == last)
        return a

    def loss_and_grads(self, x, y):
        """(loss, [dW0, db0, ...]) of the batch, as tests/reference.py's loss_and_grads."""
        acts, loss_name = self.acts, self.spec.loss
        inputs, a = [], x
        for i, act in enumerate(acts):
            inputs.append(a)
            z = a @ self.params[2 * i]
            z += self.params[2 * i + 1]
            if i < len(acts) - 1:
                a = self._activate(act, z, False)
        n, d = z.shape
        if loss_name == "binary_crossentropy" and acts[-1] == "sigmoid":
            loss = float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
            dz = (_sigmoid(z) - y) / np.float32(n * d)
        elif loss_name == "categorical_crossentropy" and acts[-1] == "softmax":
            s = z - z.max(axis=1, keepdims=True)
            logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
            loss = float(-(y * logp).sum() / n)
            dz = (np.exp(logp) - y) / np.float32(n)
        elif loss_name == "mse" and acts[-1] == "linear":
            diff = z - y
            loss = float(np.mean(diff * diff))
            dz = diff * np.float32(2.0 / (n * d))
        else:
            raise ValueError(f"loss/last activation must be binary_crossentropy/sigmoid, "
                             f"categorical_crossentropy/softmax or mse/linear; received {loss_name}/{acts[-1]}")
        grads = [None] * len(self.params)
        for i in range(len(acts) - 1, -1, -1):
            grads[2 * i] = inputs[i].T @ dz
            grads[2 * i + 1] = dz.sum(axis=0)
            if i > 0:
                da = dz @ self.params[2 * i].T
                dz = da * (inputs[i] > 0) if acts[i - 1] == "relu" else da
        return loss, grads

    def train_step(self, x, y):
        loss, grads = self.loss_and_grads(x, y)
        self.t += 1
        b1, b2 = self.b1, self.b2
        alpha = np.float32(self.lr * math.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t))
        for w, g, m, v in zip(self.params, grads, self.m, self.v):
            m += (g - m) * np.float32(1 - b1)
            v += (g * g - v) * np.float32(1 - b2)
            w -= alpha * m / (np.sqrt(v) + np.float32(self.eps))
        return loss

    def fit(self, x, y, epochs=None, batch_size=None):
        s = self.spec
        bs = batch_size or s.batch_size
        n = x.shape[0]
        for _ in range(s.epochs if epochs is None else epochs):
            if s.shuffle:
                idx = self.rng.permutation(n)
                for i in range(0, n, bs):
                    j = idx[i:i + bs]
                    self.train_step(x[j], y[j])
            else:
                for i in range(0, n, bs):
                    self.train_step(x[i:i + bs], y[i:i + bs])

    def weights(self):
        return [p.copy() for p in self.params]


# ---------------------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------------------

class TorchMLP:
    """nn.Sequential of Linear/ReLU with a fused loss on the logits, torch.optim.Adam(eps=1e-7)."""
    name = "torch"

    def __init__(self, spec, params, seed=0, fused=False, autocast=False):
        if torch is None:
            raise RuntimeError("PyTorch is not installed")
        nn = torch.nn
        self.spec = spec
        # autocast: torch.autocast("cpu", dtype=torch.bfloat16) around the forward pass (its mixed precision)
        self.autocast = autocast
        mods = []
        for i, (a, b) in enumerate(spec.shapes):
            lin = nn.Linear(a, b)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(params[2 * i].T)))
                lin.bias.copy_(torch.from_numpy(params[2 * i + 1]))
            mods.append(lin)
            act = spec.layers[i][1]
            if i < len(spec.shapes) - 1:
                if act != "relu":
                    raise ValueError(f"hidden activation must be relu; received {act!r}")
                mods.append(nn.ReLU())
        self.model = nn.Sequential(*mods)
        last = spec.layers[-1][1]
        if spec.loss == "binary_crossentropy" and last == "sigmoid":
            self.loss_fn, self.out_fn, self.sparse = nn.BCEWithLogitsLoss(), torch.sigmoid, False
        elif spec.loss == "categorical_crossentropy" and last == "softmax":
            self.loss_fn, self.out_fn, self.sparse = nn.CrossEntropyLoss(), lambda z: torch.softmax(z, 1), True
        elif spec.loss == "mse" and last == "linear":
            self.loss_fn, self.out_fn, self.sparse = nn.MSELoss(), lambda z: z, False
        else:
            raise ValueError(f"loss/last activation not covered by the torch peer: {spec.loss}/{last}")
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7,
                                    **({"fused": True} if fused else {}))
        self.gen = torch.Generator().manual_seed(seed)

    def targets(self, y):
        """Tensors the loss takes: class indices for the cross-entropy (prepared once, outside timing)."""
        yt = torch.from_numpy(y)
        return yt.argmax(1) if self.sparse else yt

    def train_step(self, x, y):
        self._step(torch.from_numpy(x), self.targets(y))

    def _forward(self, xb):
        if not self.autocast:
            return self.model(xb)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.model(xb).float()

    def _step(self, xb, yb):
        self.opt.zero_grad()
        loss = self.loss_fn(self._forward(xb), yb)
        loss.backward()
        self.opt.step()
        return loss

    def fit(self, x, y, epochs=None, batch_size=None, targets=None):
        s = self.spec
        bs = batch_size or s.batch_size
        xt = torch.from_numpy(x)
        yt = self.targets(y) if targets is None else targets
        n = xt.shape[0]
        self.model.train()
        for _ in range(s.epochs if epochs is None else epochs):
            if s.shuffle:
                perm = torch.randperm(n, generator=self.gen)
                for i in range(0, n, bs):
                    idx = perm[i:i + bs]
                    self._step(xt[idx], yt[idx])
            else:
                for i in range(0, n, bs):
                    self._step(xt[i:i + bs], yt[i:i + bs])

    def predict(self, x, batch_size):
        self.model.eval()
        xt = torch.from_numpy(x)
        with torch.no_grad():
            outs = [self.out_fn(self._forward(xt[i:i + batch_size])) for i in range(0, xt.shape[0], batch_size)]
            out = outs[0] if len(outs) == 1 else torch.cat(outs)
        return out.numpy()

    def weights(self):
        out = []
        for mod in self.model:
            if isinstance(mod, torch.nn.Linear):
                out.append(mod.weight.detach().numpy().T.copy())
                out.append(mod.bias.detach().numpy().copy())
        return out


def available_impls(mixed=False):
    """The float32 implementations (mixed=False) or the mixed_bfloat16 rows' (fastnn_bf16, torch_fused as the
    float32 peer, torch_bf16 = PyTorch under torch.autocast(bfloat16)) that can run here."""
    names = ("fastnn_bf16", "torch_fused", "torch_bf16") if mixed else [n for n in IMPLS if not n.endswith("_bf16")]
    return [name for name in names if not name.startswith("torch") or torch is not None]


def make_runner(impl, spec, params):
    if impl == "fastnn":
        return FastnnRunner(spec, params)
    if impl == "numpy":
        return NumpyMLP(spec, params)
    if impl == "torch":
        return TorchMLP(spec, params)
    if impl == "torch_fused":
        return TorchMLP(spec, params, fused=True)
    if impl == "fastnn_bf16":
        return FastnnRunner(spec, params, policy="mixed_bfloat16")
    if impl == "torch_bf16":
        return TorchMLP(spec, params, fused=True, autocast=True)
    raise ValueError(f"impl must be one of {IMPLS}; received {impl!r}")


# ---------------------------------------------------------------------------------------------
# Correctness before timing
# ---------------------------------------------------------------------------------------------

def assert_close(actual, expected, kind, what):
    tol = TOL[kind]
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape}, expected {expected.shape}")
    err = np.abs(actual - expected)
    bound = tol["atol"] + tol["rtol"] * np.abs(expected)
    if not np.all(err <= bound):
        raise AssertionError(f"{what}: {int((err > bound).sum())} of {err.size} values beyond {tol} "
                             f"(max abs error {err.max():.3e})")


def check_train_step(impl, spec, params, x, y):
    """One Adam step from `params` on (x, y) must give the oracle's weights (float32 trajectory tolerance).

    torch.optim.Adam adds eps to sqrt(v_hat) rather than to sqrt(v) as Keras does, so its weights differ
    from Keras's by up to a few percent of a step where gradients are tiny; for torch the check is on the
    gradients of the batch (loss and model), Adam being PyTorch's own.
    """
    if impl.startswith("torch"):
        runner = make_runner(impl, spec, params)
        runner.model.train()
        runner.opt.zero_grad()
        loss = runner.loss_fn(runner.model(torch.from_numpy(x)), runner.targets(y))
        loss.backward()
        grads = []
        for mod in runner.model:
            if isinstance(mod, torch.nn.Linear):
                grads += [mod.weight.grad.numpy().T, mod.bias.grad.numpy()]
        value, expected = reference.loss_and_grads(reference_layers(spec), [p.astype(np.float64) for p in params],
                                                   x, y, spec.loss)
        assert_close(loss.item(), value, "forward", f"torch {spec.describe()}: loss")
        for k, (a, e) in enumerate(zip(grads, expected)):
            assert_close(a, e, "backward", f"torch {spec.describe()}: gradient {k}")
        return
    runner = make_runner(impl, spec, params)
    runner.train_step(x, y)
    expected, _ = reference.train(reference_layers(spec), [p.astype(np.float64) for p in params], [(x, y)],
                                  spec.loss, "adam")
    for k, (a, e) in enumerate(zip(runner.weights(), expected[-1])):
        assert_close(a, e, "trajectory", f"{impl} {spec.describe()}: parameter {k} after one Adam step")


def check_predict(impl, spec, params, x):
    runner = make_runner(impl, spec, params)
    out = runner.predict(x, batch_size=max(1, min(1000, x.shape[0])))
    assert_close(out, reference.forward(reference_layers(spec), [p.astype(np.float64) for p in params], x),
                 "bfloat16" if impl.endswith("_bf16") else "forward", f"{impl} {spec.describe()}: predict")


def apply_thread_limit(n):
    """The same thread limit for every library: fastnn (OpenMP + its OpenBLAS), torch, and NumPy's BLAS.

    Returns a dict describing what each library reports afterwards (kept for the record and extra_info).
    """
    import threadpoolctl

    import fastnn

    limiter = threadpoolctl.threadpool_limits(limits=n, user_api="blas")
    fastnn.set_num_threads(n)
    info = {"threads": n, "fastnn": fastnn.get_num_threads()}
    if torch is not None:
        torch.set_num_threads(n)
        info["torch"] = torch.get_num_threads()
    info["blas"] = [{"lib": os.path.basename(d["filepath"]), "num_threads": d["num_threads"],
                     "kernel": d.get("architecture"), "version": d.get("version")}
                    for d in threadpoolctl.threadpool_info() if d["user_api"] == "blas"]
    info["_limiter"] = limiter  # keeps the limit object alive
    return info
