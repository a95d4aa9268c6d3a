"""Dense-layer kernels: forward (x @ W + b, relu) and forward+backward (with an MSE loss: loss, dW, db).

fastnn is measured through its engine handle (model._net) so that Python argument checks are left out;
the NumPy peer is float32 NumPy, the PyTorch peer torch.nn.functional under no_grad / autograd. Every
implementation's result is checked against the float64 oracle (tests/reference.py) before it is timed.
Shapes are the layers of issue 6's workloads: (batch, n_in, n_out).
"""

import numpy as np
import pytest

import peers
from peers import reference

SHAPES = [(1500, 2, 3), (32, 13, 10), (300, 784, 500), (256, 1024, 1024), (1, 784, 500), (1000, 784, 500)]
SHAPE_IDS = [f"{b}x{i}-{o}" for b, i, o in SHAPES]


def _data(b, n_in, n_out, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, n_in), dtype=np.float32)
    limit = np.sqrt(6.0 / (n_in + n_out))
    w = rng.uniform(-limit, limit, size=(n_in, n_out)).astype(np.float32)
    bias = (0.1 * rng.standard_normal(n_out)).astype(np.float32)
    y = rng.standard_normal((b, n_out), dtype=np.float32)
    return x, w, bias, y


def _fastnn_net(w, bias):
    spec = peers.Spec(w.shape[0], ((w.shape[1], "relu"),), "mse", 1, 1, 1)
    return peers.fastnn_model(spec, [w, bias])._net


def _forward_fn(impl, x, w, bias):
    if impl == "fastnn":
        net = _fastnn_net(w, bias)
        return lambda: net.predict(x, x.shape[0])
    if impl == "numpy":
        def fwd():
            z = x @ w
            z += bias
            return np.maximum(z, 0, out=z)
        return fwd
    torch = peers.torch
    xt, wt, bt = torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(w.T)), torch.from_numpy(bias)

    def fwd_t():
        with torch.no_grad():
            return torch.relu(torch.nn.functional.linear(xt, wt, bt))
    return fwd_t


def _forward_backward_fn(impl, x, w, bias, y):
    """A callable returning (loss, [dW, db]) of mse(relu(x @ W + b), y)."""
    if impl == "fastnn":
        net = _fastnn_net(w, bias)
        return lambda: net.forward_backward(x, y)
    if impl == "numpy":
        scale = np.float32(2.0 / y.size)

        def fb():
            z = x @ w
            z += bias
            diff = np.maximum(z, 0) - y
            loss = float(np.mean(diff * diff))
            dz = diff * scale
            dz *= z > 0
            return loss, [x.T @ dz, dz.sum(axis=0)]
        return fb
    torch = peers.torch
    lin = torch.nn.Linear(w.shape[0], w.shape[1])
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
        lin.bias.copy_(torch.from_numpy(bias))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    mse = torch.nn.MSELoss()

    def fb_t():
        lin.zero_grad()
        loss = mse(torch.relu(lin(xt)), yt)
        loss.backward()
        return loss.item(), [lin.weight.grad.T, lin.bias.grad]
    return fb_t


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("impl", peers.IMPLS)
def test_dense_forward(benchmark, record, need_impl, impl, shape):
    need_impl(impl)
    b, n_in, n_out = shape
    x, w, bias, _ = _data(b, n_in, n_out)
    fn = _forward_fn(impl, x, w, bias)
    expected = reference.forward([reference.Dense(n_in, n_out, "relu")], [w, bias], x)
    peers.assert_close(np.asarray(fn()), expected, "forward", f"{impl} dense forward {shape}")
    benchmark.group = f"dense_forward relu {b}x{n_in}->{n_out}"
    benchmark(fn)
    record(benchmark, flops=2 * b * n_in * n_out, samples=b)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("impl", peers.IMPLS)
def test_dense_forward_backward(benchmark, record, need_impl, impl, shape):
    need_impl(impl)
    b, n_in, n_out = shape
    x, w, bias, y = _data(b, n_in, n_out)
    fn = _forward_backward_fn(impl, x, w, bias, y)
    loss, grads = fn()
    exp_loss, exp_grads = reference.loss_and_grads([reference.Dense(n_in, n_out, "relu")], [w, bias], x, y, "mse")
    peers.assert_close(loss, exp_loss, "forward", f"{impl} dense loss {shape}")
    for k, (g, e) in enumerate(zip(grads, exp_grads)):
        peers.assert_close(np.asarray(g), e, "backward", f"{impl} dense gradient {k} {shape}")
    benchmark.group = f"dense_forward_backward relu+mse {b}x{n_in}->{n_out}"
    benchmark(fn)
    # forward GEMM + the dW GEMM (no input gradient for a first layer)
    record(benchmark, flops=4 * b * n_in * n_out, samples=b)
