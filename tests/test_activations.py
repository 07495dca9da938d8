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


# --- The saturation strip: "exactly 0" and "small" (0 < |f'| < threshold) kept apart ----------------

def _reference_runs(xs: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
    """Contiguous x-intervals where mask holds, written here independently of nnviz."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return [(float(xs[a]), float(xs[b - 1])) for a, b in zip(edges[::2], edges[1::2])]


def _close_runs(got, want, tol):
    assert len(got) == len(want), (got, want)
    for (ga, gb), (wa, wb) in zip(got, want):
        assert abs(ga - wa) <= tol and abs(gb - wb) <= tol, (got, want)


@pytest.mark.parametrize("name,params", [
    ("relu", None), ("leaky_relu", None), ("leaky_relu", {"negative_slope": 0.2}), ("sigmoid", None),
    ("tanh", None), ("elu", None), ("hardtanh", None), ("hardswish", None), ("gelu", None), ("softsign", None),
])
def test_zero_and_small_intervals_match_closed_forms(name, params):
    """On the page's default range, f' == 0 and 0 < |f'| < threshold, each against the textbook
    derivative in float64 (one grid step of slack where float32 meets the threshold)."""
    threshold = 0.05
    (c,) = A.compute_curves((name,), {name: params} if params else {}, -6.0, 6.0, threshold)
    xs = np.array(c.x, dtype=np.float64)
    ref = np.abs(reference_derivative(name, xs, A.ACTIVATIONS[name].resolved(params)))
    step = 12.0 / 1200
    _close_runs(c.zero, _reference_runs(xs, ref == 0), 1e-9)
    _close_runs(c.small, _reference_runs(xs, (ref > 0) & (ref < threshold)), step * 1.01)
    assert c.rounded == []  # nothing rounds to 0 in float32 on [-6, 6]


def test_relu_zero_leaky_small_sigmoid_small():
    """The lesson in numbers: ReLU's x <= 0 is exactly 0 (torch takes ReLU'(0) = 0), LeakyReLU(0.01)'s
    is small but not 0, sigmoid's tails are small (never 0), past |x| = log((1+sqrt(0.8))/(1-sqrt(0.8)))."""
    c = {k.name: k for k in A.compute_curves(("relu", "leaky_relu", "sigmoid"), {}, -6.0, 6.0, 0.05)}
    assert c["relu"].zero == [(-6.0, 0.0)] and c["relu"].small == []
    assert c["leaky_relu"].zero == [] and c["leaky_relu"].small == [(-6.0, 0.0)]
    assert min(abs(v) for v, x in zip(c["leaky_relu"].dy, c["leaky_relu"].x) if x <= 0) == pytest.approx(0.01)
    edge = math.log((1 + math.sqrt(0.8)) / (1 - math.sqrt(0.8)))
    assert c["sigmoid"].zero == []
    (a0, a1), (b0, b1) = c["sigmoid"].small
    assert a0 == -6.0 and b1 == 6.0 and abs(-a1 - edge) < 0.011 and abs(b0 - edge) < 0.011
    # `saturated` (used elsewhere) is still the union of both kinds
    assert c["relu"].saturated == [(-6.0, 0.0)] and c["leaky_relu"].saturated == [(-6.0, 0.0)]


def test_float32_rounding_to_zero_is_told_apart_from_a_structural_zero():
    """tanh's slope 1 - tanh(x)^2 is never 0, but float32 holds tanh(x) = 1 beyond |x| ~ 9: the
    gradient there really is 0, and the core marks those runs as rounding; ReLU's zero is structural."""
    c = {k.name: k for k in A.compute_curves(("tanh", "relu"), {}, -20.0, 20.0, 0.05)}
    xs = np.array(c["tanh"].x, dtype=np.float32)
    one = np.tanh(xs.astype(np.float64)).astype(np.float32) == np.float32(1.0)  # float32 tanh is exactly 1
    edge = float(xs[one & (xs > 0)].min())
    step = 40.0 / 1200
    (n0, n1), (p0, p1) = c["tanh"].zero
    assert n0 == -20.0 and p1 == 20.0
    assert abs(p0 - edge) <= 2 * step and abs(-n1 - edge) <= 2 * step
    assert c["tanh"].rounded == c["tanh"].zero
    assert c["relu"].zero == [(-20.0, 0.0)] and c["relu"].rounded == []


def test_selection_is_capped():
    assert A.FN.max_selections is not None and len(A.FN.default) <= A.FN.max_selections <= 6


# --- The page (AppTest through app.py, so the shared frame runs) -----------------------------------

ACT = "pages/activations.py"


def _fig(at):
    import json
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def test_page_derivatives_have_their_own_panel_and_scale(app):
    """Default page: f' is drawn on its own y-axis, scaled to the slopes (sigmoid's 0.25 and tanh's 1
    are not squeezed by ReLU's f(6) = 6), with the peaks labelled off the lines."""
    from scipy.special import expit
    fig = _fig(app(ACT))
    tr = {t["name"]: t for t in fig["data"]}
    f_axis = {tr[f"{n}(x)"].get("yaxis", "y") for n in ("sigmoid", "tanh", "relu")}
    df_axis = {tr[f"{n}'(x)"].get("yaxis", "y") for n in ("sigmoid", "tanh", "relu")}
    assert len(f_axis) == 1 and len(df_axis) == 1 and f_axis != df_axis
    x = np.array(tr["sigmoid'(x)"]["x"])
    np.testing.assert_allclose(tr["sigmoid'(x)"]["y"], expit(x) * (1 - expit(x)), atol=1e-6)
    lay = fig["layout"]["yaxis" + df_axis.pop()[1:]]
    lo, hi = lay["range"]
    assert lo < 0 < 1.0 < hi <= 1.5  # the largest slope on screen is tanh's (and ReLU's) 1
    labels = {a["text"]: a for a in fig["layout"]["annotations"] if a["text"].startswith("max")}
    assert set(labels) == {"max 0.25", "max 1"}  # sigmoid's and tanh's single peaks
    for a in labels.values():
        assert a["showarrow"] and abs(a["ax"]) >= 30 and a["bgcolor"]  # beside the point, boxed
    assert labels["max 0.25"]["y"] == pytest.approx(0.25, abs=1e-7) and labels["max 1"]["y"] == pytest.approx(1.0)


def test_page_strip_and_table_tell_zero_from_small(app):
    """ReLU's x <= 0 is cross-hatched and 'f' = 0'; LeakyReLU(0.01)'s is hatched and 'small, not 0';
    sigmoid's tails are hatched. The legend says which is which, and calls f' = 0 what it is for one input:
    inactive, not dead. Neither mark is heavier than the other (ReLU's zero is no solid block)."""
    at = app(ACT, fn=["relu", "leaky_relu", "sigmoid"])
    bars = [t for t in _fig(at)["data"] if t["type"] == "bar"]
    by_name = {t["name"]: t for t in bars}
    zero, small = by_name["relu: f' = 0"], by_name["leaky_relu: small"]
    assert zero["base"] == [-6.0] and zero["x"] == [6.0] and zero["marker"]["pattern"]["shape"] == "x"
    assert small["base"] == [-6.0] and small["x"] == [6.0] and small["marker"]["pattern"]["shape"] == "/"
    assert "relu: small" not in by_name and "leaky_relu: f' = 0" not in by_name and "sigmoid: f' = 0" not in by_name
    assert len(by_name["sigmoid: small"]["base"]) == 2 and by_name["sigmoid: small"]["marker"]["pattern"]["shape"] == "/"
    key = {t["name"]: t["marker"]["pattern"]["shape"] for t in bars if t.get("showlegend")}
    assert key == {"f' = 0: inactive for this input": "x", "0 < |f'| < 0.05": "/"}
    alpha = {t["name"]: float(t["marker"]["color"].rsplit(",", 1)[1].rstrip(")")) for t in bars if t["x"] != [None]}
    assert alpha["relu: f' = 0"] == alpha["leaky_relu: small"] <= 0.25, alpha  # a light fill, the same weight
    table = at.dataframe[0].value.set_index("function")
    assert table.loc["relu", "f' = 0 for x in"] == "[-6.00, 0.00]"
    assert table.loc["relu", "|f'| small for x in"] == "nowhere"
    assert table.loc["leaky_relu", "f' = 0 for x in"] == "nowhere"
    assert table.loc["leaky_relu", "|f'| small for x in"] == "[-6.00, 0.00]"
    assert table.loc["sigmoid", "f' = 0 for x in"] == "nowhere"


def test_page_caps_the_selection_and_a_long_link_gives_a_notice(app):
    at = app(ACT, fn=list(A.ACTIVATIONS))
    assert not at.exception
    assert any(f"at most {A.FN.max_selections} at once" in w.value for w in at.warning)
    drawn = [t["name"] for t in _fig(at)["data"] if t["name"].endswith("(x)") and "'" not in t["name"]]
    assert drawn == [f"{n}(x)" for n in list(A.ACTIVATIONS)[:A.FN.max_selections]]


def test_page_table_headers_are_short(app):
    """The landmarks table fits a 1440 px screen: short headers (the data keeps its long names)."""
    import json
    at = app(ACT)
    cols = json.loads(at.dataframe[0].proto.columns)
    shown = [cols.get(k, {}).get("label", k) for k in at.dataframe[0].value.columns]
    assert max(len(s) for s in shown) <= 20, shown


# --- Issue 17: the words, the projector's figure, and the reveal figures ------------------------------------

def _texts(obj) -> list[str]:
    """Every string anywhere in a plotly figure's JSON (names, hover templates, annotations, titles)."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _texts(v)]
    if isinstance(obj, list):
        return [t for v in obj for t in _texts(v)]
    return []


def _sentences_with(text: str, word: str) -> list[str]:
    import re
    return [s for s in re.split(r"(?<=[.:;!?])\s+|\n", text) if word in s.lower()]


def _dead_only_for_every_input(text: str) -> None:
    """'dead' may be said only of a unit that gets no gradient for every input (issue 17): each sentence that
    uses the word says 'every input'."""
    for s in _sentences_with(text, "dead"):
        assert "every input" in s, s


@pytest.mark.parametrize("present", [None, "true"])
def test_no_figure_calls_one_input_dead(app, present):
    """The figure (both views) says 'inactive for this input' for f' = 0 and never 'dead'."""
    query = {"fn": ["relu", "leaky_relu", "sigmoid"], "x": "-2"} | ({"present": present} if present else {})
    at = app(ACT, **query)
    import json
    words = " ".join(t for i in range(len(at.get("plotly_chart")))
                     for t in _texts(json.loads(at.get("plotly_chart")[i].proto.spec)))
    assert "dead" not in words.lower()
    if not present:
        assert "inactive for this input" in words  # the strip's key for f' = 0


def test_page_text_keeps_dead_for_every_input(app):
    """Captions, markdown, the table's headers and help, the tour's texts: 'dead' only with 'every input'."""
    import json
    from nnviz import lessons as Ls
    at = app(ACT, fn=["relu", "leaky_relu", "sigmoid"])
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    for df in at.dataframe:
        texts += [json.dumps(v) for v in json.loads(df.proto.columns).values()]
    text = "\n".join(texts)
    assert "inactive" in text  # the theory and the table's help name it
    _dead_only_for_every_input(text.replace("*", ""))
    assert "cannot recover" not in text and "(dead)" not in text
    for step in Ls.TOURS["activations"]:
        _dead_only_for_every_input((step.title + ". " + step.text).replace("*", ""))
        assert "cannot recover" not in step.text
    for q in Ls.for_page("activations"):
        _dead_only_for_every_input(q.answer().text)


def test_about_half_of_a_relu_layer_is_inactive_for_one_input_at_initialisation():
    """The theory text's claim, in plain torch: nn.Linear's default init and a random input give
    pre-activations symmetric about 0, so about half of the ReLU units are inactive (f' = 0) for that input."""
    g = torch.Generator().manual_seed(0)
    layer = torch.nn.Linear(256, 4096)
    with torch.no_grad():
        for p in layer.parameters():
            p.uniform_(-1 / 16, 1 / 16, generator=g)  # nn.Linear's default bound 1/sqrt(fan_in), with a generator
    x = torch.randn(32, 256, generator=g)
    z = layer(x).requires_grad_()
    (grad,) = torch.autograd.grad(torch.relu(z).sum(), z)
    inactive = (grad == 0).double().mean(dim=1)  # per input: the share of units that pass no gradient
    assert ((0.45 < inactive) & (inactive < 0.55)).all(), inactive
    assert (grad.sum(dim=0) > 0).double().mean() > 0.99  # and almost every unit is active for some input: not dead


def test_f_range_is_cut_so_squashing_functions_do_not_look_flat(app):
    """With ReLU beside sigmoid and tanh, f(x)'s axis is cut a little above 1 (sigmoid's 0..1 takes a quarter
    of the height or more, not 1/7), tanh's whole -1..1 is inside, and the figure says how far ReLU goes on."""
    fig = _fig(app(ACT))
    tr = {t["name"]: t for t in fig["data"]}
    axis = fig["layout"]["yaxis" + tr["relu(x)"].get("yaxis", "y")[1:]]
    lo, hi = axis["range"]
    assert lo < -1 and 1 < hi < 3
    assert 1 / (hi - lo) >= 0.25
    relu_max = max(tr["relu(x)"]["y"])
    assert relu_max == pytest.approx(6.0)  # ReLU(6) = 6, on the default range
    cut = [a["text"] for a in fig["layout"]["annotations"] if "cut" in a["text"]]
    assert cut == ["↑ cut: on to 6"]
    # alone, sigmoid and tanh are not cut
    fig = _fig(app(ACT, fn=["sigmoid", "tanh"]))
    assert "range" not in fig["layout"]["yaxis"] or fig["layout"]["yaxis"]["range"] is None


def test_projector_figure_is_one_row_with_the_slopes_at_x0_in_its_legend(app):
    """Presentation mode, step 4's settings: f and f' side by side (one row, so each keeps the figure's height),
    no strip, ReLU drawn wider under LeakyReLU's dashes (both visible where they coincide), and each slope at
    the dotted line written in the legend beside the f' panel: relu' = 0 against leaky_relu' = 0.01."""
    at = app(ACT, present="true", fn=["relu", "leaky_relu"], x="-2")
    fig = _fig(at)
    lay = fig["layout"]
    assert not [t for t in fig["data"] if t["type"] == "bar"]
    axes = {k: v for k, v in lay.items() if k.startswith("yaxis")}
    assert len(axes) == 2 and len({tuple(v["domain"]) for v in axes.values()}) == 1  # same height: one row
    xd = sorted(tuple(lay[k]["domain"]) for k in lay if k.startswith("xaxis"))
    assert xd[0][1] < xd[1][0]  # side by side
    legend = {t["name"]: t for t in fig["data"] if t.get("showlegend") is not False and t["type"] == "scatter"}
    slope = torch.nn.LeakyReLU().negative_slope  # torch's default, 0.01
    assert set(legend) == {"relu' = 0", f"leaky_relu' = {slope:.3g}"}
    assert lay["legend"]["title"]["text"] == "at x = -2" and lay["legend"]["orientation"] == "v"
    relu, leaky = legend["relu' = 0"]["line"], legend[f"leaky_relu' = {slope:.3g}"]["line"]
    assert relu["dash"] != leaky["dash"] and relu["width"] > leaky["width"]
    # the markers at x0 sit on the closed-form slopes
    (marks,) = [t for t in fig["data"] if t.get("name") == "f'(-2)"]
    assert marks["x"] == [-2.0, -2.0] and marks["y"] == pytest.approx([0.0, slope])


def test_normal_view_writes_each_slope_at_x0_in_its_strip_row(app):
    """The normal view: each function's f'(x0) written in its own strip row at the dotted line (rows cannot
    overlap), each value against the closed form."""
    from scipy.special import expit
    fig = _fig(app(ACT, x="-4", fn=["sigmoid", "tanh", "relu", "leaky_relu"]))
    notes = {a["y"]: a["text"] for a in fig["layout"]["annotations"] if a.get("yref") == "y3"}
    s = expit(-4.0)
    want = {"sigmoid": s * (1 - s), "tanh": 1 - math.tanh(-4.0) ** 2, "relu": 0.0, "leaky_relu": 0.01}
    assert set(notes) == set(want)
    for name, v in want.items():
        assert notes[name] == f"f'(-4) = {v:.3g}", (name, notes[name])
    assert all(a["x"] == -4.0 for a in fig["layout"]["annotations"] if a.get("yref") == "y3")


# --- the reveal figures (nnviz.figures.activations.ANSWER_FIGURES), against closed forms ---------------------

def _reveal(qid: str) -> tuple[dict, "object"]:
    from nnviz import lessons as Ls
    from nnviz.figures.answers import answer_figure
    a = Ls.QUESTIONS[qid].answer()
    return answer_figure(qid, a).to_plotly_json(), a


def test_reveal_sigmoid_peak_is_labelled_with_the_answer():
    fig, a = _reveal("act-sigmoid-max-slope")
    (curve,) = [t for t in fig["data"] if t["name"] == "sigmoid'(x)"]
    x = np.array(curve["x"])
    np.testing.assert_allclose(curve["y"], expit(x) * (1 - expit(x)), atol=1e-6)
    (peak,) = [t for t in fig["data"] if t["name"] == "max sigmoid'"]
    assert peak["x"][0] == 0.0 and peak["y"][0] == pytest.approx(0.25, abs=1e-7)
    label = [n for n in fig["layout"]["annotations"] if n.get("showarrow")]
    assert len(label) == 1 and label[0]["text"] == "largest slope 0.25 at x = 0" and a.shown == "0.25"
    assert label[0]["y"] == pytest.approx(0.25, abs=1e-7)


def test_reveal_minus_four_writes_the_four_slopes_apart_and_names_the_largest():
    """The four slopes at x = -4 written as text (0.0177 against 0.01 readable), each on an arrow to a marker on
    its curve, stacked in the order of their values (none overlapping), the largest in bold, on a zoom in which
    the markers part (the largest value sits well above the axis's bottom)."""
    fig, a = _reveal("act-most-gradient-at-minus-4")
    s = expit(-4.0)
    want = {"sigmoid": s * (1 - s), "tanh": 1 - math.tanh(-4.0) ** 2, "relu": 0.0,
            "leaky_relu": torch.nn.LeakyReLU().negative_slope}
    best = max(want, key=lambda n: abs(want[n]))
    labels = {n["text"].replace("<b>", "").replace("</b>", "").split("'")[0]: n
              for n in fig["layout"]["annotations"] if n.get("showarrow")}
    assert set(labels) == set(want)
    for name, v in want.items():
        n = labels[name]
        assert n["text"].replace("<b>", "").replace("</b>", "") == f"{name}' = {v:.3g}"
        assert n["x"] == -4.0 and n["y"] == pytest.approx(v, rel=1e-4, abs=1e-9)
        assert n["text"].startswith("<b>") == (name == best)
    ys = [labels[name]["ay"] for name in sorted(want, key=lambda k: -want[k])]
    lo, hi = fig["layout"]["yaxis"]["range"]
    assert all(u - v > 0.15 * (hi - lo) for u, v in zip(ys, ys[1:]))  # stacked, largest on top, well apart
    assert want[best] / (hi - lo) > 0.25  # the zoom: sigmoid's 0.0177 is a quarter of the height or more
    head = [n["text"] for n in fig["layout"]["annotations"] if not n.get("showarrow")]
    assert head == [f"At x = -4, {best} lets the most gradient through: {want[best]:.3g} against leaky_relu's 0.01"]
    assert a.value == best


def test_reveal_tanh_over_sigmoid_labels_both_peaks_and_the_ratio():
    fig, a = _reveal("act-tanh-vs-sigmoid-slope")
    texts = [n["text"] for n in fig["layout"]["annotations"]]
    assert "tanh' max 1" in texts and "sigmoid' max 0.25" in texts
    assert any(f"1 / 0.25 = <b>{a.shown}</b>" in t and f"tanh is {a.shown} times steeper" in t for t in texts)
    assert a.shown == "4"  # tanh'(0) / sigmoid'(0) = 1 / (1/4)
    peaks = {t["name"]: (t["x"][0], t["y"][0]) for t in fig["data"] if t["name"].startswith("max")}
    assert peaks == {"max sigmoid'": (0.0, pytest.approx(0.25, abs=1e-7)), "max tanh'": (0.0, pytest.approx(1.0))}
