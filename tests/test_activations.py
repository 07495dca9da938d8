"""Every registry entry's autograd derivative against independent references: a closed form
written here in numpy/scipy, and a float64 central finite difference of the torch function."""
import math

import numpy as np
import pytest
import torch
from scipy.special import erf, expit

from nnviz import activations as A

SMOOTH_POINTS = np.array([-30.0, -10.0, -4.0, -2.5, -1.3, -0.7, -0.2, 0.3, 0.9, 1.7, 2.6, 4.0, 10.0, 30.0])

# Parameter sets to test: the defaults and a non-default one per tunable entry.
PARAMS = [(name, None) for name in A.ACTIVATIONS] + [
    ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {"alpha": 2.0}),
    ("gelu", {"approximate": "tanh"}),
    ("softplus", {"beta": 2.0, "threshold": 5.0}),
    ("hardtanh", {"min_val": -2.0, "max_val": 0.5}),
]


def reference_derivative(name: str, x: np.ndarray, p: dict) -> np.ndarray:
    """Derivatives from textbook formulas, independent of nnviz and of torch."""
    s = expit(x)
    if name == "sigmoid":
        return s * (1 - s)
    if name == "tanh":
        return 1 / np.cosh(x) ** 2
    if name == "relu":
        return (x > 0).astype(float)
    if name == "leaky_relu":
        return np.where(x > 0, 1.0, p["negative_slope"])
    if name == "elu":
        return np.where(x > 0, 1.0, p["alpha"] * np.exp(x))
    if name == "selu":
        lam, alpha = 1.0507009873554805, 1.6732632423543772
        return np.where(x > 0, lam, lam * alpha * np.exp(x))
    if name == "gelu":
        if p["approximate"] == "tanh":
            c = math.sqrt(2 / math.pi)
            u = c * (x + 0.044715 * x**3)
            return 0.5 * (1 + np.tanh(u)) + 0.5 * x * (1 - np.tanh(u) ** 2) * c * (1 + 3 * 0.044715 * x**2)
        return 0.5 * (1 + erf(x / math.sqrt(2))) + x * np.exp(-x**2 / 2) / math.sqrt(2 * math.pi)
    if name == "silu":
        return s + x * s * (1 - s)
    if name == "mish":
        sp = np.logaddexp(0, x)
        return np.tanh(sp) + x * s / np.cosh(sp) ** 2
    if name == "softplus":
        return np.where(p["beta"] * x > p["threshold"], 1.0, expit(p["beta"] * x))
    if name == "softsign":
        return 1 / (1 + np.abs(x)) ** 2
    if name == "hardtanh":
        return ((x > p["min_val"]) & (x < p["max_val"])).astype(float)
    if name == "hardswish":
        return np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, (2 * x + 3) / 6))
    raise KeyError(name)


def kinks(name: str, p: dict) -> list[float]:
    """Points where the function is not differentiable (finite differences are meaningless there)."""
    return {
        "relu": [0.0], "leaky_relu": [0.0], "elu": [0.0], "selu": [0.0],
        "softplus": [p.get("threshold", 20.0) / p.get("beta", 1.0)],
        "hardtanh": [p.get("min_val", -1.0), p.get("max_val", 1.0)], "hardswish": [-3.0, 3.0],
    }.get(name, [])


@pytest.mark.parametrize("name,params", PARAMS, ids=[f"{n}-{p}" for n, p in PARAMS])
def test_autograd_matches_closed_form_and_finite_difference(name, params):
    p = A.ACTIVATIONS[name].resolved(params)
    x_np = SMOOTH_POINTS
    x = torch.tensor(x_np, dtype=torch.float64)
    y, dy, closed = A.evaluate(name, x, params)
    ref = reference_derivative(name, x_np, p)
    np.testing.assert_allclose(dy.numpy(), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(closed.numpy(), ref, rtol=1e-10, atol=1e-12)

    # Central finite difference of the torch.nn module in float64, away from kinks.
    module = A.ACTIVATIONS[name].build(p).double()
    h = 1e-6
    ok = np.array([min((abs(v - k) for k in kinks(name, p)), default=1.0) > 10 * h for v in x_np])
    with torch.no_grad():
        fd = (module(x + h) - module(x - h)) / (2 * h)
    np.testing.assert_allclose(dy.numpy()[ok], fd.numpy()[ok], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(A.ACTIVATIONS))
def test_at_zero(name):
    """At 0: smooth functions against their closed form; kinks follow torch's documented choice
    (the subgradient torch returns), which the page's closed form must reproduce."""
    x = torch.zeros(1, dtype=torch.float64)
    _, dy, closed = A.evaluate(name, x)
    p = A.ACTIVATIONS[name].resolved(None)
    assert float(dy) == pytest.approx(float(reference_derivative(name, np.zeros(1), p)[0]), abs=1e-12) \
        or 0.0 in kinks(name, p)
    assert float(dy) == pytest.approx(float(closed), abs=1e-12)


def test_known_peaks_and_saturation():
    curves = {c.name: c for c in A.compute_curves(("sigmoid", "tanh", "relu", "softsign"), {}, -6.0, 6.0)}
    assert curves["sigmoid"].peak == pytest.approx(0.25, abs=1e-7)
    assert curves["sigmoid"].peak_from == 0.0 == curves["sigmoid"].peak_to
    assert curves["tanh"].peak == pytest.approx(1.0, abs=1e-7)
    assert curves["relu"].peak == 1.0 and curves["relu"].peak_to == 6.0
    # sigmoid'(x) < 0.05 exactly where s(1-s) < 0.05: |x| > log((1+sqrt(0.8))/(1-sqrt(0.8)))
    edge = math.log((1 + math.sqrt(0.8)) / (1 - math.sqrt(0.8)))
    (lo_a, lo_b), (hi_a, hi_b) = curves["sigmoid"].saturated
    assert lo_a == -6.0 and hi_b == 6.0
    assert abs(-lo_b - edge) < 0.011 and abs(hi_a - edge) < 0.011
    # tanh'(x) < 0.05 where |x| > artanh(sqrt(0.95))
    assert abs(curves["tanh"].saturated[1][0] - math.atanh(math.sqrt(0.95))) < 0.011
    assert curves["relu"].saturated == [(-6.0, 0.0)]
    for c in curves.values():
        assert c.max_abs_diff < 1e-6  # float32 autograd against the float32 closed form


def test_grid_hits_round_points_and_float32_curves_match_references():
    x = A.grid(-6.0, 6.0, 1201)
    assert x[600].item() == 0.0 and x[0].item() == -6.0 and x[-1].item() == 6.0
    for c in A.compute_curves(tuple(A.ACTIVATIONS), {}, -6.0, 6.0):
        xs = np.array(c.x)
        ref = reference_derivative(c.name, xs, A.ACTIVATIONS[c.name].resolved(None))
        np.testing.assert_allclose(c.dy, ref, atol=2e-6, err_msg=c.name)


def test_inspect_point_values():
    pts = {p.name: p for p in A.inspect_point(("sigmoid", "tanh"), {}, 1.0)}
    assert pts["sigmoid"].y == pytest.approx(1 / (1 + math.exp(-1)), rel=1e-6)
    assert pts["tanh"].dy == pytest.approx(1 - math.tanh(1) ** 2, rel=1e-6)
