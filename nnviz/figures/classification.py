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
# naive forms warm, logit forms cool; the float64 reference a wide pale band under them
CURVES = {  # key in nnviz.logits.Sweep.curves: (legend name, colour, dash, width)
    "reference": ("exact, float64: log(1 + e^z)", "#BBBBBB", "solid", 9),
    "bce_logits": ("BCEWithLogitsLoss(z, 0)", OKABE_ITO[0], "solid", 2.5),
    "ce_logits": ("CrossEntropyLoss([0, z], 0)", OKABE_ITO[2], "dash", 2.5),
    "bce_naive": ("BCELoss(sigmoid(z), 0)", OKABE_ITO[1], "solid", 2.5),
    "ce_naive": ("-log(softmax([0, z])[0])", OKABE_ITO[3], "dot", 3),
}
REGION_STYLE = {  # what a naive form does there: (fill colour, short label)
    "clamped": ("rgba(213, 94, 0, 0.13)", "BCELoss clamped at 100"),
    "zero_grad": ("rgba(213, 94, 0, 0.13)", "gradient exactly 0"),
    "inf": ("rgba(204, 121, 167, 0.16)", "inf"),
    "nan": ("rgba(204, 121, 167, 0.16)", "nan"),
}
HEIGHT = 360  # px, one panel


def _finite(values: Sequence[float | None]) -> np.ndarray:
    """float32 array for plotly (sent as base64); None, inf and nan become gaps."""
    v = np.array([np.nan if x is None else x for x in values], dtype=np.float64)
    v[~np.isfinite(v)] = np.nan
    return v.astype(np.float32)


def logit_loss_figure(sweep, marks: dict[str, float]) -> go.Figure:
    """The headline: the loss (top) and dL/dz from autograd (bottom) against the logit z, on one
    shared z axis so each failure lines up in both, for the naive and the logit forms (true class 0,
    z = the logit of class 1: z > 0 is confidently wrong). Where a naive form returns inf, nan, a
    clamped value or a zero gradient is shaded; `marks` (label -> z) get a dotted line and a label."""
    z = np.asarray(sweep.z, dtype=np.float32)
    lo, hi = float(z[0]), float(z[-1])
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.07)
    for row, what, title in ((1, "loss", "loss"), (2, "grad", "dL/dz (autograd)")):
        for r in (r for rs in sweep.regions.values() for r in rs if r.quantity == what):
            a, b = max(r.lo, lo), min(r.hi, hi)
            if b > a:
                fig.add_vrect(x0=a, x1=b, fillcolor=REGION_STYLE.get(r.kind, ("rgba(0,0,0,0.08)",))[0], line_width=0,
                              layer="below", row=row, col=1, exclude_empty_subplots=False)
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
        fig.update_yaxes(title_text=title, row=row, col=1)
    for label, zp in marks.items():
        if zp is not None and lo <= zp <= hi:
            fig.add_vline(x=zp, line=dict(color="#444", dash="dot", width=1.5))
            fig.add_annotation(x=zp, y=1, xref="x", yref="paper", yanchor="bottom", text=label, showarrow=False,
                               font=dict(size=12), bgcolor="rgba(255,255,255,0.85)")
    _base(fig, 500)
    fig.update_layout(hovermode="x unified", margin=dict(t=100),
                      legend=dict(y=1.08, yanchor="bottom", entrywidth=0.33, entrywidthmode="fraction"))
    fig.update_xaxes(range=[lo, hi])
    fig.update_xaxes(title_text="logit z given to the wrong class (the true class is 0)", row=2, col=1)
    fig.update_yaxes(range=[-0.08, 1.12], row=2, col=1)
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
    """|dL/dz| for squared error on a sigmoid output and for BCE with logits (true class 0), log scale."""
    fig = go.Figure()
    z = np.asarray(s.z, dtype=np.float32)
    fig.add_trace(go.Scatter(x=z, y=_finite(s.ce_grad), mode="lines", name="BCEWithLogitsLoss: σ(z)",
                             line=dict(color=OKABE_ITO[0], width=3)))
    fig.add_trace(go.Scatter(x=z, y=_finite(s.mse_grad), mode="lines", name="MSELoss(sigmoid(z), 0): 2σ(z)σ'(z)",
                             line=dict(color=OKABE_ITO[1], width=3, dash="dash")))
    if s.slow_from_z is not None:
        fig.add_vrect(x0=s.slow_from_z, x1=float(z[-1]), fillcolor="rgba(213, 94, 0, 0.10)", line_width=0, layer="below")
    _base(fig, HEIGHT)
    fig.update_layout(hovermode="x unified")
    fig.update_xaxes(title_text="logit z of the wrong class (z > 0: wrong, and more sure as z grows)")
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
REGION_SCALE = [[0.0, "#0072B2"], [0.25, "#8CB8D9"], [0.5, "#F7F7F7"], [0.75, "#EBB08C"], [1.0, "#D55E00"]]


def region_figure(region, data: tuple, extent: tuple[float, float, float, float], trained: bool,
                  grid_lines: bool = True) -> go.Figure:
    """The decision regions: P(class 1) as a colour map over the plane, the 0.5 boundary as a line,
    and the points: training points filled, test points hollow, coloured by their true class.
    `data`: (X_train, y_train, X_test, y_test) as plain lists ((n, 2) points, (n,) labels)."""
    X_train, y_train, X_test, y_test = data
    fig = go.Figure()
    prob = np.asarray(region.prob, dtype=np.float32)
    xs, ys = np.asarray(region.xs, dtype=np.float32), np.asarray(region.ys, dtype=np.float32)
    fig.add_trace(go.Heatmap(x=xs, y=ys, z=prob, zmin=0, zmax=1, colorscale=REGION_SCALE, zsmooth="best",
                             colorbar=dict(title=dict(text="P(class 1)", side="right"), len=0.8, thickness=14),
                             hovertemplate="x1 = %{x:.2f}, x2 = %{y:.2f}<br>P(class 1) = %{z:.3f}<extra></extra>"))
    if grid_lines and prob.min() < 0.5 < prob.max():
        fig.add_trace(go.Contour(x=xs, y=ys, z=prob, showscale=False, contours=dict(start=0.5, end=0.5, size=1,
                                 coloring="none"), line=dict(color="#222", width=2), hoverinfo="skip",
                                 name="boundary P = 0.5", showlegend=True))
    for split, X, y, hollow in (("train", X_train, y_train, False), ("test", X_test, y_test, True)):
        for c in (0, 1):
            pts = [p for p, label in zip(X, y) if label == c]
            if not pts:
                continue
            arr = np.asarray(pts, dtype=np.float32)
            fig.add_trace(go.Scatter(
                x=arr[:, 0], y=arr[:, 1], mode="markers", name=f"class {c} ({split})",
                marker=dict(color="white" if hollow else CLASS_COLOURS[c], size=7,
                            symbol="circle" if c == 0 else "diamond",
                            line=dict(color=CLASS_COLOURS[c] if hollow else "#222", width=1.6 if hollow else 0.6)),
                hovertemplate=f"class {c} ({split})<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>"))
    _base(fig, 440)
    x0, x1, y0, y1 = extent
    fig.update_layout(hovermode="closest", margin=dict(t=70), legend=dict(entrywidth=0.5, entrywidthmode="fraction"))
    fig.update_xaxes(title_text="x1", range=[x0, x1], constrain="domain")
    fig.update_yaxes(title_text="x2", range=[y0, y1], scaleanchor="x", scaleratio=1, constrain="domain")
    if not trained:
        fig.add_annotation(text="untrained network", xref="paper", yref="paper", x=0.02, y=0.98, showarrow=False,
                           bgcolor="rgba(255,255,255,0.8)", font=dict(size=13))
    return fig


def history_figure(history: Sequence, epochs: int) -> go.Figure:
    """Loss (log scale) and accuracy against epoch, train and test, in two stacked panels."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.55, 0.45])
    ep = np.asarray([s.epoch + 1 for s in history], dtype=np.float32)
    for name, attr, colour, dash, row in (("train loss", "train_loss", OKABE_ITO[0], "solid", 1),
                                          ("test loss", "test_loss", OKABE_ITO[4], "dash", 1),
                                          ("train accuracy", "train_accuracy", OKABE_ITO[0], "solid", 2),
                                          ("test accuracy", "test_accuracy", OKABE_ITO[4], "dash", 2)):
        vals = [getattr(s, attr) for s in history]
        if row == 1:
            vals = [v if v is not None and v > 0 and math.isfinite(v) else None for v in vals]
        fig.add_trace(go.Scatter(x=ep, y=_finite(vals), mode="lines", name=name,
                                 line=dict(color=colour, dash=dash, width=2.5)), row=row, col=1)
    _base(fig, 440)
    fig.update_layout(margin=dict(t=70))
    fig.update_xaxes(range=[0, max(epochs, 1)], row=1, col=1)
    fig.update_xaxes(title_text="epoch", range=[0, max(epochs, 1)], row=2, col=1)
    fig.update_yaxes(title_text="loss", type="log", exponentformat="power", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", range=[0, 1.04], tickformat=".0%", row=2, col=1)
    return fig
