"""Issue 21 (WCAG 2.1 AA) for the figures: each headline figure's text alternative says the numbers the figure
draws (read back from the figure, and checked against an independent closed form or numpy where one exists), a
page writes it where a screen reader reaches it, and lines are told apart by more than colour."""
from __future__ import annotations

import functools
import itertools
import math
import re
from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go
import torch
from scipy.special import expit

from nnviz import activations as A
from nnviz import logits as G
from nnviz import losses as L
from nnviz import vanishing as V
from nnviz.figures import activations as FA
from nnviz.figures import classification as FC
from nnviz.figures import deep as FD
from nnviz.figures import losses as FL
from nnviz.figures import regression as FR
from nnviz.figures import vanishing as FV
from nnviz.figures.styles import DASHES, SYMBOLS, style, style_of
from nnviz.palette import OKABE_ITO

from conftest import figure

ACT_COLOURS = {a: A.ACTIVATIONS[a].colour for a in A.ACTIVATIONS}
LOSS_LABELS = {n: e.label for n, e in L.LOSSES.items()}
LOSS_COLOURS = {n: e.colour for n, e in L.LOSSES.items()}
_sweep = functools.cache(V.sweep)  # one sweep of each activation (and one logit sweep) for the whole module
_logits = functools.cache(lambda: G.sweep(G.Z_RANGE.default, "float32"))


def _y(t) -> np.ndarray:
    return np.asarray(t.y, dtype=np.float64)


def _named(fig: go.Figure, name: str):
    (t,) = [t for t in fig.data if t.name == name]
    return t


# --- Text alternatives against the numbers drawn --------------------------------------------------------------

def test_activation_summary_says_the_peaks_and_the_slopes_at_x0_the_figure_draws():
    names = ("sigmoid", "tanh", "relu")
    curves = A.compute_curves(names, {}, -6.0, 6.0, 0.05)
    points = A.inspect_point(names, {}, 2.0)
    fig = FA.activation_figure(curves, x0=2.0, threshold=0.05, points=points)
    text = FA.summary_activation(curves, points, 2.0)
    marks = _named(fig, "f'(2)")
    at_x0 = dict(zip(marks.customdata, marks.y))
    for name in names:
        peak = _y(_named(fig, f"{name}'(x)")).max()  # the curve drawn
        assert f"{name} {peak:.3g}" in text
        assert f"{name}' = {at_x0[name]:.3g}" in text
    # independently: sigmoid's slope peaks at 0.25 at x = 0, and at x = 2 it is s(1 - s)
    s = expit(2.0)
    assert "sigmoid 0.25 at x = 0" in text and f"sigmoid' = {s * (1 - s):.3g}" in text
    assert "relu for x in [-6.00, 0.00]" in text  # ReLU passes no gradient for x <= 0, and only ReLU here


def test_fit_summary_says_each_fitted_lines_slope_and_intercept_as_drawn():
    r = L.analyse_generated(("l1", "mse"), L.OUTLIERS.default, L.OUTLIER_SIZE.default, L.NOISE.default,
                            L.SEED.default, 1.0, 1.0)
    fits = [r.fits[n] for n in ("l1", "mse")]
    fig = FL.fit_figure(r.data.x, r.data.y, r.data.outlier, fits, LOSS_LABELS, LOSS_COLOURS, r.data.true_line)
    text = FL.summary_fit(fits, LOSS_LABELS, sum(r.data.outlier), len(r.data.x), r.data.true_line)
    for n in ("l1", "mse"):
        (t,) = [t for t in fig.data if t.name.startswith(f"{LOSS_LABELS[n]} fit")]
        (x0, x1), (y0, y1) = t.x, t.y
        slope = (y1 - y0) / (x1 - x0)
        assert f"{LOSS_LABELS[n]}: slope {slope:.3f}, intercept {y0 - slope * x0:.3f}" in text
    # independently: the MSE line is numpy's least squares
    w, b = np.polyfit(np.asarray(r.data.x, dtype=np.float64), np.asarray(r.data.y, dtype=np.float64), 1)
    assert f"MSE: slope {w:.3f}" in text
    assert f"{sum(r.data.outlier)} of them outliers" in text and f"slope {r.data.true_line[0]:g}" in text


def test_depth_summary_says_the_first_layer_gradient_at_depth_1_and_50_and_their_ratio():
    sweeps = [_sweep(a, 8) for a in ("sigmoid", "relu")]
    fig = FV.depth_figure(sweeps, ACT_COLOURS, "float32", 8)
    text = FV.summary_depth(sweeps, "float32", V.N_SEEDS)
    for s in sweeps:
        t = _named(fig, s.act)  # the measured line
        y = dict(zip(t.x, t.y))
        one, deep = y[1], y[max(V.SWEEP_DEPTHS)]
        assert f"{FV.line_name(s)} {one:.2e} at depth 1, {deep:.2e} at depth 50 (× {deep / one:.1e})" in text
    # the lesson: sigmoid's gradient vanishes by more than 20 orders of magnitude, ReLU with He init's does not
    ratio = {m.group(1): float(m.group(2)) for m in re.finditer(r"(\w+) · [^;]*?\(× ([0-9.e+-]+)\)", text)}
    assert ratio["sigmoid"] < 1e-20 and 1e-2 < ratio["relu"] < 1e2


def test_training_summaries_say_the_loss_lines_ends_and_the_model_line():
    epochs = np.arange(200)
    train = 10 * np.exp(-epochs / 30) + 0.01
    test_hi, test_lo = train * 1.3, train * 1.1  # a band: two phases
    bands = {"train loss": (epochs.tolist(), train.tolist(), train.tolist()),
             "test loss": (epochs.tolist(), test_hi.tolist(), test_lo.tolist())}
    data = ([0.0, 1.0, 2.0], [1.0, 3.0, 5.0], [3.0], [7.0])
    loss_fig, line_fig = FR.training_figure(bands, 200, data, (2.0, 1.0), (1.98766, 1.01234), True)
    loss_alt, line_alt = FR.summary_training(bands, (1.98766, 1.01234), (2.0, 1.0), True)
    t = _named(loss_fig, "train loss")
    assert f"train loss {_y(t)[0]:.3g} at epoch 0, {_y(t)[-1]:.3g} at epoch {int(t.x[-1])}" in loss_alt
    upper, lower = _named(loss_fig, "test loss"), _named(loss_fig, "test loss, lower phase")
    assert f"between {_y(lower)[-1]:.3g} and {_y(upper)[-1]:.3g} at epoch {int(upper.x[-1])}" in loss_alt
    assert f"{10 + 0.01:.3g} at epoch 0" in loss_alt  # independently: the first train loss
    model = _named(line_fig, "model")
    said = re.search(r"y = [0-9.]+x \+ [0-9.]+", model.hovertemplate).group(0)
    assert said in line_alt and "y = 1.9877x + 1.0123" in line_alt and "true line y = 2x + 1" in line_alt


def test_logit_summary_says_every_forms_values_at_the_edge_and_where_the_naive_forms_fail():
    sweep = _logits()
    fig = FC.logit_loss_figure(sweep, {})
    text = FC.summary_logit_loss(sweep)
    z_end = float(sweep.z[-1])
    for key, (name, *_) in FC.CURVES.items():
        loss, grad = [t for t in fig.data if t.legendgroup == key]  # the loss panel's, then the gradient panel's
        for what, t in (("loss", loss), ("dL/dz", grad)):
            v = _y(t)[-1]
            if math.isfinite(v):
                assert f"{name}: " in text and re.search(rf"{re.escape(name)}: [^;]*{what} {v:.4g}\b", text), (name, what)
    # independently, in plain torch float32 at the edge: BCELoss's log is clamped (loss 100, gradient 0), and
    # -log softmax([0, z])[0] is inf while its gradient is nan
    z = torch.tensor(z_end, dtype=torch.float32, requires_grad=True)
    naive = torch.nn.BCELoss()(torch.sigmoid(z).reshape(1), torch.zeros(1))
    naive.backward()
    assert f"BCELoss(sigmoid(z), 0): loss {naive.item():.4g}, dL/dz {z.grad.item():.4g}" in text
    z = torch.tensor([0.0, z_end], dtype=torch.float32, requires_grad=True)
    ce = -torch.log(torch.softmax(z, 0)[0])
    ce.backward()
    assert math.isinf(ce.item()) and math.isnan(z.grad[1].item())
    assert "-log softmax([0, z])[0]: loss inf, dL/dz nan" in text
    exact = z_end + math.log1p(math.exp(-z_end))  # log(1 + e^z)
    assert f"BCEWithLogitsLoss(z, 0): loss {exact:.4g}" in text


def _snap(epoch: int, train: float, test: float, grads: list[float]) -> SimpleNamespace:
    return SimpleNamespace(epoch=epoch, train_loss=train, test_loss=test, grad_norm=grads, diverged=False,
                           divergence=None)


def test_deep_summaries_say_the_first_and_last_losses_and_gradients_drawn():
    history = [_snap(e, 0.7 * 0.9 ** e, 0.72 * 0.91 ** e, [1e-3 * (e + 1), 0.5]) for e in range(0, 40, 4)]
    fig = FD.loss_figure(history, 40, True)
    text = FD.summary_loss(history)
    train, test = _named(fig, "train loss"), _named(fig, "test loss")
    assert (f"Train loss {_y(train)[0]:.4g} at epoch 0, {_y(train)[-1]:.4g} at epoch 36; test loss "
            f"{_y(test)[0]:.4g} at epoch 0, {_y(test)[-1]:.4g} at epoch 36") in text
    assert f"{0.7 * 0.9 ** 36:.4g} at epoch 36" in text  # independently
    grads = FD.summary_grad(history)
    heat = FD.grad_heatmap_figure(history, 40, True).data[0]
    assert f"First layer: {heat.text[0][0]} at epoch 0, {heat.text[0][-1]} at epoch 36" in grads
    assert "1.00e-03 at epoch 0, 3.70e-02 at epoch 36" in grads and "output layer: 5.00e-01" in grads


def test_empty_charts_say_so():
    assert "press Train" in FD.summary_loss([]) and "press Train" in FD.summary_grad([])
    loss_alt, line_alt = FR.summary_training({}, (0.5, -0.25), (2.0, 1.0), False)
    assert "press Train" in loss_alt and "untrained model's line y = 0.5000x + -0.2500" in line_alt


def test_the_activation_page_writes_its_summary_just_before_its_chart(app):
    """The text alternative is a paragraph (hidden on screen by its own CSS rule) right before the chart, with
    the numbers the chart on the page draws."""
    at = app("pages/activations.py")
    main = list(at.main)

    def walk(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    order = [n for top in main for n in walk(top) if getattr(n, "type", None) in ("html", "plotly_chart")]
    first_chart = next(i for i, n in enumerate(order) if n.type == "plotly_chart")
    alt = order[first_chart - 1]
    assert alt.type == "html" and 'class="nnviz-alt"' in alt.proto.body and "position:absolute" in alt.proto.body
    fig = figure(at, 0)
    for t in fig["data"]:
        if t.get("name") in ("sigmoid'(x)", "tanh'(x)", "relu'(x)"):
            assert f"{t['name'][:-4]} {max(t['y']):.3g}" in alt.proto.body


# --- Not colour alone ----------------------------------------------------------------------------------------

def _key(t) -> tuple:
    """What tells a line apart besides its colour: its dash, its marker (if drawn) and whether it is a wide band."""
    mode = t.mode or "lines"
    symbol = t.marker.symbol if "markers" in mode else None
    return (t.line.dash or "solid", symbol, (t.line.width or 2) >= 6)


def _lines_differ_by_more_than_colour(fig: go.Figure) -> int:
    """Within each panel, any two line traces of different colours differ in dash, marker or width class. A
    shaded area and a decoration (no hover, no legend entry) are left out. Returns the number of lines checked."""
    panels: dict = {}
    for t in fig.data:
        if t.type != "scatter" or "lines" not in (t.mode or "lines") or (t.fill not in (None, "none")):
            continue
        if t.line.width == 0 or (t.hoverinfo == "skip" and t.showlegend is False):
            continue
        panels.setdefault((t.xaxis or "x", t.yaxis or "y"), []).append(t)
    for lines in panels.values():
        for a, b in itertools.combinations(lines, 2):
            if a.line.color != b.line.color:
                assert _key(a) != _key(b), (a.name, b.name, _key(a))
    return sum(len(v) for v in panels.values())


def test_every_palette_colour_has_its_own_dash_and_marker():
    assert len({style(i) for i in range(len(OKABE_ITO))}) == len(OKABE_ITO)
    assert "dot" not in DASHES and not {"diamond", "star"} & set(SYMBOLS)  # kept for references and marked values
    assert style_of(OKABE_ITO[0]) == ("solid", "circle") and style_of(OKABE_ITO[4].lower())[0] == "dash"


def test_multi_line_figures_tell_their_lines_apart_without_colour():
    worst = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu", "hardswish")  # 6 shown: sigmoid and gelu share a dash
    curves = A.compute_curves(worst, {}, -6.0, 6.0, 0.05)
    points = A.inspect_point(worst, {}, 1.0)
    checked = [_lines_differ_by_more_than_colour(FA.activation_figure(curves, 1.0, 0.05, points=points)),
               _lines_differ_by_more_than_colour(FA.activation_figure(curves, 1.0, 0.05, points=points, compact=True))]
    r = L.analyse_generated(tuple(L.LOSSES), 3, 15.0, 0.2, 3, 1.0, 1.0)
    fits = [r.fits[n] for n in L.LOSSES]
    checked += [_lines_differ_by_more_than_colour(FL.fit_figure(r.data.x, r.data.y, r.data.outlier, fits, LOSS_LABELS,
                                                                LOSS_COLOURS, r.data.true_line)),
                _lines_differ_by_more_than_colour(FL.residual_figure(r.curves, LOSS_LABELS, LOSS_COLOURS, 1.0, 1.0))]
    sw = L.outlier_sweep(15.0, 0.2, 3)
    checked.append(_lines_differ_by_more_than_colour(FL.sweep_figure(
        sw.counts, {"l1": sw.l1, "mse": sw.mse}, LOSS_LABELS, LOSS_COLOURS, L.TRUE_SLOPE, L.HOLD, L.GIVE_WAY, 3)))
    sweeps = [_sweep(a, 8) for a in ("sigmoid", "tanh", "relu", "gelu")]
    checked += [_lines_differ_by_more_than_colour(FV.depth_figure(sweeps, ACT_COLOURS, "float32", 8)),
                _lines_differ_by_more_than_colour(FV.profile_figure(sweeps, ACT_COLOURS, 8, "float32")),
                _lines_differ_by_more_than_colour(FV.stats_figure(sweeps, ACT_COLOURS, V.SATURATED))]
    epochs = list(range(50))
    loss = [1.0 / (e + 1) for e in epochs]
    bands = {"train loss": (epochs, loss, loss), "test loss": (epochs, [1.2 * v for v in loss], [1.2 * v for v in loss])}
    earlier = {"label": "earlier", "about": "an earlier run", "band": (epochs, loss, loss)}
    loss_fig, _ = FR.training_figure(bands, 50, ([0.0, 1.0], [1.0, 3.0], [2.0], [5.0]), (2.0, 1.0), (1.9, 1.1), True,
                                     earlier=earlier)
    checked.append(_lines_differ_by_more_than_colour(loss_fig))
    sweep = _logits()
    checked += [_lines_differ_by_more_than_colour(FC.logit_loss_figure(sweep, {})),
                _lines_differ_by_more_than_colour(FC.logit_loss_figure(sweep, {}, side_by_side=True))]
    history = [_snap(e, 0.7 * 0.9 ** e, 0.72 * 0.91 ** e, [1e-3, 0.5]) for e in range(10)]
    checked.append(_lines_differ_by_more_than_colour(FD.loss_figure(history, 10, True)))
    runs = [{"label": f"run {i}", "epochs": list(range(10)), "train_loss": [1.0 / (e + i + 1) for e in range(10)],
             "grad_first": [0.1] * 10} for i in range(3)]
    checked.append(_lines_differ_by_more_than_colour(FD.compare_figure(runs)))
    assert min(checked) >= 2  # every figure had lines to compare


def test_reference_lines_show_against_white():
    """WCAG 1.4.11: the float64 reference band and the theory legend's line at >= 3:1 on white (they were 1.45:1 and
    about 1.5:1: pale, and drawn half transparent)."""
    def luminance(hex_colour: str) -> float:
        c = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        c = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    def contrast(hex_colour: str) -> float:
        return 1.05 / (luminance(hex_colour) + 0.05)

    sweep = _logits()
    ref = [t for t in FC.logit_loss_figure(sweep, {}).data if t.legendgroup == "reference"]
    assert ref and all(contrast(t.line.color) >= 3 and (t.opacity is None or t.opacity == 1) for t in ref)
    fig = FV.depth_figure([_sweep("sigmoid", 8)], ACT_COLOURS, "float32", 8)
    theory = [t for t in fig.data if t.name in ("theory", "sigmoid: theory")]
    assert len(theory) == 2 and all(t.opacity in (None, 1) and t.line.dash == "dot" for t in theory)
    assert contrast(_named(fig, "theory").line.color) >= 3
