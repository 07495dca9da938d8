"""The vanishing-gradient core: the physics the page claims, gradients against a numpy backprop
written here independently, determinism across threads, and the shown code."""
import threading

import numpy as np
import pytest
import torch

from nnviz import vanishing as V


def test_sigmoid_default_vanishes_by_orders_of_magnitude():
    s = V.sweep("sigmoid", 20)
    d = dict(zip(s.depths, s.first_mean))
    assert d[20] < 1e-8 * d[1]
    assert all(a > b for a, b in zip(s.first_mean, s.first_mean[1:]) if b > 0)


def test_relu_with_he_init_stays_within_one_order_of_magnitude():
    for seed in (0, 10, 20):  # the page's default seeds, and two other triples
        s = V.sweep("relu", 30, init_name="kaiming_normal", seed=seed)
        assert s.depths[0] == 1 and s.depths[-1] == 50
        assert max(s.first_mean) / min(s.first_mean) < 10, seed


def test_large_normal_std_explodes():
    for act, factor in (("relu", 1e6), ("tanh", 1e3)):
        s = V.sweep(act, 30, init_name="normal", std=0.5)
        d = dict(zip(s.depths, s.first_mean))
        assert d[20] > factor * d[1], act


def test_float32_underflows_where_float64_shows_the_value():
    s32 = V.sweep("sigmoid", 40, init_name="normal", std=0.05, dtype="float32")
    s64 = V.sweep("sigmoid", 40, init_name="normal", std=0.05, dtype="float64")
    d32, d64 = dict(zip(s32.depths, s32.first_mean)), dict(zip(s64.depths, s64.first_mean))
    assert d32[50] == 0.0  # exactly zero: float32 underflow
    assert 0.0 < d64[50] < 1.4e-45  # the real value, below float32's smallest subnormal
    assert d32[20] == pytest.approx(d64[20], rel=0.5)  # where float32 still holds it, the two agree


def test_remedies_keep_sigmoid_alive():
    plain = dict(zip(*(lambda s: (s.depths, s.first_mean))(V.sweep("sigmoid", 30))))
    fixed = dict(zip(*(lambda s: (s.depths, s.first_mean))(V.sweep("sigmoid", 30, residual=True, norm="layernorm"))))
    assert fixed[50] > 1e-3 * fixed[1] and plain[30] < 1e-20 * plain[1]


def _numpy_grad_norms(act, depth, width, residual, seed, init_name="xavier_normal"):
    """Backprop by hand in float64 numpy, on the same weights and batch as the core."""
    g = torch.Generator().manual_seed(seed)
    model = V.DeepMLP(act, V.STACK, width, "none", residual, torch.float64)
    V.init_(model, init_name, 0.5, g)
    x = torch.randn(V.BATCH, width, generator=g, dtype=torch.float64).numpy()
    y = torch.randn(V.BATCH, 1, generator=g, dtype=torch.float64).numpy()
    Ws = [lin.weight.detach().numpy() for lin in model.layers[:depth]]
    bs = [lin.bias.detach().numpy() for lin in model.layers[:depth]]
    Wh, bh = model.head.weight.detach().numpy(), model.head.bias.detach().numpy()
    f = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0), "sigmoid": lambda z: 1 / (1 + np.exp(-z))}[act]
    df = {"tanh": lambda z: 1 - np.tanh(z) ** 2, "relu": lambda z: (z > 0).astype(float),
          "sigmoid": lambda z: f(z) * (1 - f(z))}[act]
    hs, zs = [x], []
    for W, b in zip(Ws, bs):
        z = hs[-1] @ W.T + b
        zs.append(z)
        hs.append(hs[-1] + f(z) if residual else f(z))
    out = hs[-1] @ Wh.T + bh
    dh = 2 * (out - y) / out.size @ Wh  # dL/dh_L for MSE (mean over all B outputs)
    norms = [0.0] * depth
    for l in reversed(range(depth)):
        dz = dh * df(zs[l])
        norms[l] = np.linalg.norm(dz.T @ hs[l])  # dL/dW_l = dz^T h_{l-1}
        dh = dz @ Ws[l] + (dh if residual else 0)
    return norms


@pytest.mark.parametrize("act,residual", [("tanh", False), ("relu", True), ("sigmoid", False)])
def test_gradients_match_an_independent_numpy_backprop(act, residual):
    m = V.measure(act, (6,), 16, "xavier_normal", residual=residual, dtype="float64", seed=3)
    ref = _numpy_grad_norms(act, 6, 16, residual, 3)
    np.testing.assert_allclose(m.grad_norms[6], ref, rtol=1e-10)


def test_same_settings_same_numbers_in_two_threads():
    args = dict(act="tanh", depth=12, width=32, init_name="xavier_uniform", seed=7)
    alone = V.sweep(**args)
    other = dict(args, act="relu", seed=8)
    results = {}

    def work(key, kw):
        results[key] = V.sweep(**kw)

    threads = [threading.Thread(target=work, args=(k, kw)) for k, kw in (("a", args), ("b", other), ("c", args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["a"] == alone == results["c"]
    assert results["b"] == V.sweep(**other)


def test_default_init_is_nn_linear_default():
    """'default' draws from the same distribution as nn.Linear.reset_parameters: with the same
    seed in the global generator, identical numbers."""
    g = torch.Generator().manual_seed(123)
    w, b = torch.empty(5, 7), torch.empty(5)
    V.INITS["default"][1](w, b, 0.0, g)
    torch.manual_seed(123)
    ref = torch.nn.Linear(7, 5)
    assert torch.equal(w, ref.weight.data) and torch.equal(b, ref.bias.data)
