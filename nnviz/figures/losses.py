"""Figures of the L1 vs MSE page."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import _base

# --- L1 against MSE -------------------------------------------------------------------------------

OUTLIER_COLOUR = "#000000"
POINT_COLOUR = "#9E9E9E"


def fit_figure(x: Sequence[float], y: Sequence[float], outlier: Sequence[bool], fits: Sequence, labels: dict,
               colours: dict, true_line: tuple[float, float] | None) -> go.Figure:
    """The data (outliers marked) with each loss's fitted line and the clean line."""
    fig = go.Figure()
    clean = [i for i, o in enumerate(outlier) if not o]
    outl = [i for i, o in enumerate(outlier) if o]
    fig.add_trace(go.Scatter(x=[x[i] for i in clean], y=[y[i] for i in clean], mode="markers",
                             name="data", marker=dict(color=POINT_COLOUR, size=9, line=dict(color="#555", width=1))))
    if outl:
        fig.add_trace(go.Scatter(x=[x[i] for i in outl], y=[y[i] for i in outl], mode="markers", name="outliers",
                                 marker=dict(color=OUTLIER_COLOUR, size=12, symbol="x")))
    lo, hi = min(x), max(x)
    if true_line is not None:
        w, b = true_line
        fig.add_trace(go.Scatter(x=[lo, hi], y=[w * lo + b, w * hi + b], mode="lines", name=f"clean line: y = {w:g}x + {b:g}",
                                 line=dict(color="#555555", dash="dot", width=2)))
    for f in fits:
        fig.add_trace(go.Scatter(
            x=[lo, hi], y=[f.slope * lo + f.intercept, f.slope * hi + f.intercept], mode="lines",
            name=f"{labels[f.loss]} fit: y = {f.slope:.3f}x {'+' if f.intercept >= 0 else '−'} {abs(f.intercept):.3f}",
            line=dict(color=colours[f.loss], width=3.5)))
    fig.update_xaxes(title_text="x (input, no unit)")
    fig.update_yaxes(title_text="y (target, no unit)")
    fig = _base(fig, height=480)
    fig.update_layout(hovermode="closest", legend=dict(orientation="v", y=0.02, yanchor="bottom", x=0.01,
                                                       bgcolor="rgba(255,255,255,0.8)"))
    return fig


def residual_figure(curves: dict, labels: dict, colours: dict, delta: float, beta: float) -> go.Figure:
    """Per-point loss rho(r) and its derivative, the force a residual exerts on the fit."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss of one point, ρ(r)", "its pull on the fit, dρ/dr"),
                        horizontal_spacing=0.1)
    for name, (r, rho, d) in curves.items():
        fig.add_trace(go.Scatter(x=r, y=rho, name=labels[name], legendgroup=name,
                                 line=dict(color=colours[name], width=3)), row=1, col=1)
        fig.add_trace(go.Scatter(x=r, y=d, name=labels[name], legendgroup=name, showlegend=False,
                                 line=dict(color=colours[name], width=3, dash="dash")), row=1, col=2)
    if "huber" in curves:
        for s in (-delta, delta):
            fig.add_vline(x=s, line=dict(color=colours["huber"], dash="dot", width=1))
    fig.update_xaxes(title_text="residual r = prediction − target")
    fig.update_yaxes(title_text="ρ(r)", row=1, col=1, range=[0, 8])
    fig.update_yaxes(title_text="dρ/dr", row=1, col=2)
    return _base(fig, height=400, titled=True)


def share_figure(summary: dict, labels: dict, colours: dict) -> go.Figure:
    """Outliers' share of the total loss and of the slope gradient, per loss (stacked to 100%)."""
    names = list(summary)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("share of the total loss", "share of the pull on the slope"),
                        shared_yaxes=True, horizontal_spacing=0.06)
    for col, key in ((1, "loss"), (2, "grad")):
        fig.add_trace(go.Bar(y=[labels[n] for n in names], x=[100 * summary[n][key] for n in names], orientation="h",
                             name="outliers", marker_color=OUTLIER_COLOUR, showlegend=col == 1,
                             text=[f"{100 * summary[n][key]:.0f}%" for n in names], textposition="inside",
                             insidetextanchor="start", textfont_color="white"), row=1, col=col)
        fig.add_trace(go.Bar(y=[labels[n] for n in names], x=[100 * (1 - summary[n][key]) for n in names],
                             orientation="h", name="clean points", marker_color=POINT_COLOUR,
                             showlegend=col == 1), row=1, col=col)
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="% of the total", range=[0, 100])
    fig = _base(fig, height=170 + 60 * len(names), titled=True)
    fig.update_layout(hovermode="closest")
    return fig


def surface_figure(surfaces: dict, fits: dict, labels: dict, colours: dict,
                   true_line: tuple[float, float] | None) -> go.Figure:
    """Contours of the mean loss over (slope, intercept), one panel per loss, optimum marked."""
    names = list(surfaces)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[f"{labels[n]} loss surface" for n in names],
                        horizontal_spacing=0.08)
    for i, n in enumerate(names, start=1):
        w, b, z = surfaces[n]
        fig.add_trace(go.Contour(x=w, y=b, z=z, ncontours=25, colorscale="Viridis", showscale=False,
                                 contours=dict(coloring="lines"), line=dict(width=1.2), name=labels[n],
                                 hovertemplate="slope %{x:.3f}<br>intercept %{y:.3f}<br>loss %{z:.3f}<extra></extra>"),
                      row=1, col=i)
        f = fits[n]
        fig.add_trace(go.Scatter(x=[f.slope], y=[f.intercept], mode="markers", name=f"{labels[n]} optimum",
                                 marker=dict(symbol="star", size=18, color=colours[n], line=dict(color="white", width=1))),
                      row=1, col=i)
        if true_line is not None:
            fig.add_trace(go.Scatter(x=[true_line[0]], y=[true_line[1]], mode="markers", name="clean line",
                                     showlegend=i == 1, marker=dict(symbol="circle-open", size=14, color="#555", line_width=3)),
                          row=1, col=i)
        fig.update_xaxes(title_text="slope", row=1, col=i)
        fig.update_yaxes(title_text="intercept", row=1, col=i)
    fig = _base(fig, height=480, titled=True)
    fig.update_layout(hovermode="closest")
    return fig


