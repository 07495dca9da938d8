"""Figures of the logits and classification page: plain results in, go.Figure out."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nnviz.palette import OKABE_ITO

from .common import _base

CLASS_COLOURS = ("#0072B2", "#D55E00")  # class 0 blue, class 1 vermillion (Okabe-Ito): colour-blind safe
SYMBOLS = ("circle", "diamond")  # class 0, class 1: the shape tells the class apart without colour
# naive forms warm, logit forms cool; the float64 reference a wide pale band under them
CURVES = {  # key in nnviz.logits.Sweep.curves: (legend name, colour, dash, width)
    "reference": ("exact (float64)", "#BBBBBB", "solid", 9),
    "bce_logits": ("BCEWithLogitsLoss(z, 0)", OKABE_ITO[0], "solid", 2.5),
    "ce_logits": ("CrossEntropyLoss([0, z], 0)", OKABE_ITO[2], "dash", 2.5),
    "bce_naive": ("BCELoss(sigmoid(z), 0)", OKABE_ITO[1], "solid", 2.5),
    "ce_naive": ("-log softmax([0, z])[0]", OKABE_ITO[3], "dot", 3),
}
SHADES = {  # naive curve key in Sweep.regions: (legend name, fill colour, hatch or None)
    # the naive form's own colour, so a band reads as "this curve is wrong here"; BCELoss solid, the
    # softmax form hatched, so where both fail the two still show (and no third, unexplained colour)
    "bce_naive": ("BCELoss(sigmoid) wrong", "rgba(213, 94, 0, 0.14)", None),
    "ce_naive": ("-log softmax: inf or nan", "rgba(204, 121, 167, 0.07)",
                 dict(shape="/", fgcolor="rgba(204, 121, 167, 0.75)", size=9, solidity=0.22)),
}
GRAD_RANGE = (-0.08, 1.12)  # dL/dz axis: the exact gradient sigma(z) lies in [0, 1]
HEIGHT = 360  # px, one panel
SWEEP_HEIGHT = 410  # px: for_projector makes it 451, which fits a 1024x768 first screen under the tabs


def _finite(values: Sequence[float | None]) -> np.ndarray:
    """float32 array for plotly (sent as base64); None, inf and nan become gaps."""
    v = np.array([np.nan if x is None else x for x in values], dtype=np.float64)
    v[~np.isfinite(v)] = np.nan
    return v.astype(np.float32)


def _bands(spans: list[tuple[float, float]], lo: float, hi: float) -> tuple[list, list]:
    """x and y of closed rectangles [a, b] x [lo, hi], one a span, separated by gaps (fill="toself")."""
    xs: list = []
    ys: list = []
    for a, b in spans:
        xs += [a, b, b, a, a, None]
        ys += [lo, lo, hi, hi, lo, None]
    return xs, ys


def _y_range(values: np.ndarray) -> tuple[float, float]:
    """A padded range around the finite values (the loss panel's, so its bands can fill it)."""
    v = values[np.isfinite(values)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    pad = 0.08 * max(hi - lo, 1e-9)
    return lo - pad, hi + pad


def _mark_labels(fig: go.Figure, marks: list[tuple[str, float]], lo: float, hi: float, row: int) -> None:
    """Each mark's label inside the gradient panel, where the curves leave the middle empty (they sit
    at 0 or 1 away from z = 0), one height a mark so two close marks never overlap; a label reads
    away from the plot's nearer edge."""
    for i, (label, zp) in enumerate(sorted(marks, key=lambda m: m[1])):
        right = (zp - lo) / (hi - lo) > 0.7  # near the right edge: the text goes to the left of its line
        fig.add_annotation(x=zp, y=0.68 - 0.36 * (i % 2), xref="x", yref=f"y{row}" if row > 1 else "y",
                           text=label, showarrow=False, xanchor="right" if right else "left",
                           xshift=-4 if right else 4, font=dict(size=13, color="#222"),
                           bgcolor="rgba(255,255,255,0.85)", borderpad=2)


def logit_loss_figure(sweep, marks: dict[str, float]) -> go.Figure:
    """The headline: the loss (top) and dL/dz from autograd (bottom) against the logit z, on one
    shared z axis so each failure lines up in both, for the naive and the logit forms (true class 0,
    z = the logit of class 1: z > 0 is confidently wrong). Where a naive form returns inf, nan, a
    clamped value or a wrong gradient is shaded in that form's colour (BCELoss solid, the softmax
    form hatched), with a legend entry each; `marks` (label -> z) get a dotted line and a label."""
    z = np.asarray(sweep.z, dtype=np.float32)
    lo, hi = float(z[0]), float(z[-1])
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    loss_values = np.concatenate([_finite(c.loss) for c in sweep.curves.values()])
    y_ranges = {"loss": _y_range(loss_values), "grad": GRAD_RANGE}
    legend_shown: set[str] = set()
    for row, what, title in ((1, "loss", "loss"), (2, "grad", "dL/dz (autograd)")):
        for key, (name, fill, hatch) in SHADES.items():  # under the curves: drawn first
            spans = [(max(r.lo, lo), min(r.hi, hi)) for r in sweep.regions.get(key, ()) if r.quantity == what]
            spans = [(a, b) for a, b in spans if b > a]
            if not spans:
                continue
            xs, ys = _bands(spans, *y_ranges[what])
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", fill="toself", fillcolor=fill, line=dict(width=0),
                                     fillpattern=hatch, name=name, legendgroup=f"{key} region",
                                     showlegend=key not in legend_shown, hoverinfo="skip"), row=row, col=1)
            legend_shown.add(key)
        for key, (name, colour, dash, width) in CURVES.items():
            curve = sweep.curves.get(key)
            if curve is None:
                continue
            fig.add_trace(go.Scatter(x=z, y=_finite(getattr(curve, what)), mode="lines", name=name,
                                     legendgroup=key, showlegend=row == 1,
                                     line=dict(color=colour, dash=dash, width=width),
                                     opacity=0.9 if key != "reference" else 0.6,
                                     hovertemplate=f"{name}<br>z = %{{x:.4g}}<br>{title} = %{{y:.6g}}<extra></extra>"),
                          row=row, col=1)
        fig.update_yaxes(title_text=title, range=list(y_ranges[what]), row=row, col=1)
    shown = [(label, zp) for label, zp in marks.items() if zp is not None and lo <= zp <= hi]
    for _, zp in shown:
        fig.add_vline(x=zp, line=dict(color="#444", dash="dot", width=1.5))
    _mark_labels(fig, shown, lo, hi, row=2)
    _base(fig, SWEEP_HEIGHT)
    # the curves first, then the two shading keys (legend order is trace order otherwise)
    for t in fig.data:
        t.legendrank = 2000 if t.legendgroup and t.legendgroup.endswith("region") else 1000
    # no gap between legend rows (each curve is its own legend group): a phone's one-entry rows stay short
    fig.update_layout(hovermode="x unified", margin=dict(t=10), legend=dict(tracegroupgap=0))
    fig.update_xaxes(range=[lo, hi])
    fig.update_xaxes(title_text="logit z given to the wrong class (the true class is 0)", row=2, col=1)
    return fig


def softmax_figure(sm) -> go.Figure:
    """Probabilities of each class at temperature T, and at T/2 (sharper) and 2T (flatter)."""
    classes = [f"class {i}" for i in range(len(sm.probs))]
    fig = go.Figure()
    rows = (("T/2 (sharper)", sm.sharper, OKABE_ITO[1]), (f"T = {sm.temperature:g}", sm.probs, OKABE_ITO[0]),
            ("2T (flatter)", sm.flatter, OKABE_ITO[5]))
    for name, probs, colour in rows:
        fig.add_trace(go.Bar(x=classes, y=list(probs), name=name, marker_color=colour,
                             text=[f"{p:.3f}" for p in probs], textposition="outside", cliponaxis=False,
                             hovertemplate=f"{name}<br>%{{x}}: p = %{{y:.6f}}<extra></extra>"))
    _base(fig, HEIGHT)
    fig.update_layout(barmode="group", hovermode="closest", uniformtext_minsize=10)
    fig.update_yaxes(title_text="probability softmax(z / T)", range=[0, 1.12])
    return fig


def gradient_figure(g) -> go.Figure:
    """dL/dz per class of CrossEntropyLoss: autograd's bars, and the closed form p - onehot(y) as
    diamonds on top of them."""
    classes = [f"class {i}" for i in range(len(g.autograd))]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=classes, y=list(g.autograd), name="autograd: logits.grad", marker_color=OKABE_ITO[0],
                         hovertemplate="%{x}: autograd %{y:.6f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=classes, y=list(g.closed_form), mode="markers", name="softmax(z) − onehot(y)",
                             marker=dict(symbol="diamond", size=14, color=OKABE_ITO[4], line=dict(color="#222", width=1.5)),
                             hovertemplate="%{x}: closed form %{y:.6f}<extra></extra>"))
    _base(fig, HEIGHT)
    fig.update_layout(hovermode="closest")
    fig.update_yaxes(title_text="dL/dz", zeroline=True, zerolinecolor="#555")
    return fig


def saturation_figure(s) -> go.Figure:
    """|dL/dz| for squared error on a sigmoid output and for BCE with logits (true class 0), log scale;
    where MSE's gradient is below 1% of cross-entropy's is shaded, with a legend entry."""
    fig = go.Figure()
    z = np.asarray(s.z, dtype=np.float32)
    fig.add_trace(go.Scatter(x=z, y=_finite(s.ce_grad), mode="lines", name="BCEWithLogitsLoss: σ(z)",
                             line=dict(color=OKABE_ITO[0], width=3)))
    fig.add_trace(go.Scatter(x=z, y=_finite(s.mse_grad), mode="lines", name="MSELoss(sigmoid(z), 0): 2σ(z)σ'(z)",
                             line=dict(color=OKABE_ITO[1], width=3, dash="dash")))
    if s.slow_from_z is not None:
        fill = "rgba(213, 94, 0, 0.12)"
        fig.add_vrect(x0=s.slow_from_z, x1=float(z[-1]), fillcolor=fill, line_width=0, layer="below")
        # the band's key: a legend entry with no points (a shape has none of its own)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", fill="toself", fillcolor=fill,
                                 line=dict(width=0), name="MSE's gradient < 1% of cross-entropy's",
                                 hoverinfo="skip"))
    _base(fig, HEIGHT)
    fig.update_layout(hovermode="x unified")
    fig.update_xaxes(title_text="logit z of the wrong class (z > 0: confidently wrong)")
    fig.update_yaxes(title_text="|dL/dz|", type="log", exponentformat="power")
    return fig


def double_softmax_figure(d) -> go.Figure:
    """dL/dz per class: CrossEntropyLoss on the logits against CrossEntropyLoss on softmax(logits)."""
    classes = [f"class {i}" for i in range(len(d.correct_grad))]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=classes, y=list(d.correct_grad), name="CrossEntropyLoss(z, y): correct",
                         marker_color=OKABE_ITO[0]))
    fig.add_trace(go.Bar(x=classes, y=list(d.buggy_grad), name="CrossEntropyLoss(softmax(z), y): the bug",
                         marker_color=OKABE_ITO[1]))
    _base(fig, HEIGHT)
    fig.update_layout(barmode="group", hovermode="closest")
    fig.update_yaxes(title_text="dL/dz (autograd)", zeroline=True, zerolinecolor="#555")
    return fig


# --- The classifier ------------------------------------------------------------------------------

# P(class 1) from blue (class 0) through white to vermillion (class 1)
CLASSIFIER_HEIGHT = 460  # px, the decision regions and the curves beside them (the same, so they align)
REGION_SCALE = [[0.0, "#0072B2"], [0.25, "#8CB8D9"], [0.5, "#F7F7F7"], [0.75, "#EBB08C"], [1.0, "#D55E00"]]


def region_figure(region, data: tuple, extent: tuple[float, float, float, float], trained: bool,
                  grid_lines: bool = True, keys_right: bool = False) -> go.Figure:
    """The decision regions: P(class 1) as a colour map over the plane (its colour bar under the plot,
    so a phone's narrow column keeps the plane's width), the 0.5 boundary as a line, and the points:
    training points filled (white-edged, so they show on their own class's colour), test points
    hollow, shaped and coloured by their true class.
    `data`: (X_train, y_train, X_test, y_test) as plain lists ((n, 2) points, (n,) labels).
    keys_right: the legend and the colour bar at the right of the plane instead of above and under it
    (a projector's short, wide panel: the square plane is limited by the height, not the width)."""
    X_train, y_train, X_test, y_test = data
    fig = go.Figure()
    prob = np.asarray(region.prob, dtype=np.float32)
    xs, ys = np.asarray(region.xs, dtype=np.float32), np.asarray(region.ys, dtype=np.float32)
    fig.add_trace(go.Heatmap(
        x=xs, y=ys, z=prob, zmin=0, zmax=1, colorscale=REGION_SCALE, zsmooth="best",
        colorbar=dict(orientation="h", title=dict(text="P(class 1)", side="top"), thickness=12, len=0.9,
                      x=0.5, xanchor="center", yref="container", y=0, yanchor="bottom", ypad=8,
                      tickvals=[0, 0.25, 0.5, 0.75, 1], ticktext=["0", "0.25", "0.5", "0.75", "1"]),
        hovertemplate="x1 = %{x:.2f}, x2 = %{y:.2f}<br>P(class 1) = %{z:.3f}<extra></extra>"))
    for c in (0, 1):  # the training points, one legend entry a class
        pts = np.asarray([p for p, label in zip(X_train, y_train) if label == c], dtype=np.float32).reshape(-1, 2)
        fig.add_trace(go.Scatter(
            x=pts[:, 0], y=pts[:, 1], mode="markers", name=f"class {c}",
            marker=dict(color=CLASS_COLOURS[c], size=8, symbol=SYMBOLS[c], line=dict(color="white", width=1)),
            hovertemplate=f"class {c} (train)<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>"))
    # the test points, both classes in one trace (one legend entry): hollow, the class's shape and colour
    order = sorted(range(len(y_test)), key=lambda i: y_test[i])  # class 0 first: the legend shows its marker
    test = np.asarray([X_test[i] for i in order], dtype=np.float32).reshape(-1, 2)
    labels = [int(y_test[i]) for i in order]
    fig.add_trace(go.Scatter(
        x=test[:, 0], y=test[:, 1], mode="markers", name="test points (hollow)", customdata=labels,
        marker=dict(color="white", size=8, symbol=[SYMBOLS[c] for c in labels],
                    line=dict(color=[CLASS_COLOURS[c] for c in labels], width=1.8)),
        hovertemplate="class %{customdata} (test)<br>(%{x:.2f}, %{y:.2f})<extra></extra>"))
    crosses = bool(prob.min() < 0.5 < prob.max())
    if grid_lines and crosses:
        fig.add_trace(go.Contour(x=xs, y=ys, z=prob, showscale=False, contours=dict(start=0.5, end=0.5, size=1,
                                 coloring="none"), line=dict(color="#222", width=2), hoverinfo="skip",
                                 name="boundary P = 0.5", showlegend=True))
    _base(fig, CLASSIFIER_HEIGHT)
    x0, x1, y0, y1 = extent
    fig.update_layout(hovermode="closest")
    if keys_right:
        fig.update_layout(legend=dict(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top"),
                          margin=dict(t=10, b=10))
        fig.update_traces(selector=dict(type="heatmap"), colorbar=dict(
            orientation="v", title=dict(text="P(class 1)", side="right"), len=0.45, yref="paper", y=0,
            yanchor="bottom", x=1.02, xanchor="left", xpad=0))
    fig.update_xaxes(title_text="x1", range=[x0, x1], constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(title_text="x2", range=[y0, y1], scaleanchor="x", scaleratio=1, constrain="domain",
                     showgrid=False, zeroline=False)
    notes = ([] if trained else ["untrained network"]) + (
        [] if crosses else [f"P {'<' if prob.max() < 0.5 else '>'} 0.5 everywhere: no boundary"])
    if notes:  # in the plot's own corner (the square plot is narrower than the figure); with no boundary
        # drawn there is no legend entry for one either, and the note says why
        if keys_right:  # the plane is narrow here: the notes in short lines
            notes = [line for n in notes for line in n.replace(": ", ":<br>").split("<br>")]
        fig.add_annotation(text="<br>".join(notes), xref="x domain", yref="y domain", x=0.02, y=0.98,
                           xanchor="left", yanchor="top", align="left", showarrow=False,
                           bgcolor="rgba(255,255,255,0.75)", font=dict(size=12, color="#222"))
    return fig


def history_figure(history: Sequence, epochs: int) -> go.Figure:
    """Loss (log scale) and accuracy against epoch, train and test, in two stacked panels; one legend
    entry for train (solid) and one for test (dashed), each toggling both panels."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.55, 0.45])
    ep = np.asarray([s.epoch + 1 for s in history], dtype=np.float32)
    for split, colour, dash in (("train", OKABE_ITO[0], "solid"), ("test", OKABE_ITO[4], "dash")):
        for row, what in ((1, "loss"), (2, "accuracy")):
            vals = [getattr(s, f"{split}_{what}") for s in history]
            if row == 1:
                vals = [v if v is not None and v > 0 and math.isfinite(v) else None for v in vals]
            fig.add_trace(go.Scatter(x=ep, y=_finite(vals), mode="lines", name=split, legendgroup=split,
                                     showlegend=row == 1, line=dict(color=colour, dash=dash, width=2.5),
                                     hovertemplate=f"epoch %{{x:.0f}}: {split} {what} %{{y:.4g}}<extra></extra>"),
                          row=row, col=1)
    _base(fig, CLASSIFIER_HEIGHT)
    fig.update_layout(hovermode="x unified")
    fig.update_xaxes(range=[0, max(epochs, 1)], row=1, col=1)
    fig.update_xaxes(title_text="epoch", range=[0, max(epochs, 1)], row=2, col=1)
    fig.update_yaxes(title_text="loss", type="log", exponentformat="power", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", range=[0, 1.04], tickformat=".0%", row=2, col=1)
    if not history:
        fig.update_yaxes(range=[-2, 0.5], row=1, col=1)  # 0.01 to 3: where a loss starts (ln 2 for two classes)
        fig.add_annotation(text="Press Train: the curves draw as it learns", xref="x domain", yref="y domain",
                           x=0.5, y=0.5, showarrow=False, font=dict(size=13, color="#222"))
    return fig
