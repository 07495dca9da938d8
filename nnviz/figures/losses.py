"""Figures of the L1 vs MSE page."""
from __future__ import annotations

import math
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
    fig = _base(fig, height=480)  # legend above the plot area: it never covers a data point
    fig.update_layout(hovermode="closest")
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
    fig.update_xaxes(title_text="residual r = y − ŷ (target − prediction)")
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


def _nice_step(span: float, levels: int) -> float:
    """A round contour spacing (1, 2, 2.5 or 5 times a power of ten) giving about `levels` levels."""
    raw = max(span, 1e-12) / levels
    p = 10 ** math.floor(math.log10(raw))
    return next(m * p for m in (1, 2, 2.5, 5, 10) if m * p >= raw)


def surface_figure(surfaces: dict, fits: dict, labels: dict, colours: dict,
                   true_line: tuple[float, float] | None) -> go.Figure:
    """Contours over (slope, intercept), one panel per loss, optimum marked. `surfaces` holds each
    loss in the units of y (L1: mean |r|; MSE: its square root, the RMS residual), so both panels
    share one colour scale, one colour bar and the same contour levels."""
    names = list(surfaces)
    fig = make_subplots(rows=1, cols=len(names), horizontal_spacing=0.1,
                        subplot_titles=[f"{labels[n]}: " + ("√MSE, the RMS residual" if n == "mse" else "mean |r|")
                                        for n in names])
    lo = min(min(map(min, surfaces[n][2])) for n in names)
    hi = max(max(map(max, surfaces[n][2])) for n in names)
    step = _nice_step(hi - lo, 30)
    start = math.floor(lo / step) * step
    for i, n in enumerate(names, start=1):
        w, b, z = surfaces[n]
        z = [[round(v, 4) for v in row] for row in z]  # 4 decimals: a lighter page, the same picture
        fig.add_trace(go.Contour(x=w, y=b, z=z, coloraxis="coloraxis", name=labels[n],
                                 contours=dict(start=start, end=hi, size=step, coloring="fill"),
                                 line=dict(width=0.8, color="rgba(255,255,255,0.75)"),
                                 hovertemplate="slope %{x:.3f}<br>intercept %{y:.3f}<br>%{z:.3f} (y units)<extra></extra>"),
                      row=1, col=i)
        f = fits[n]
        fig.add_trace(go.Scatter(x=[f.slope], y=[f.intercept], mode="markers", name=f"{labels[n]} optimum",
                                 marker=dict(symbol="star", size=18, color=colours[n], line=dict(color="white", width=1.5))),
                      row=1, col=i)
        if true_line is not None:
            fig.add_trace(go.Scatter(x=[true_line[0]], y=[true_line[1]], mode="markers", name="clean line",
                                     showlegend=i == 1,
                                     marker=dict(symbol="circle", size=12, color="#000000",
                                                 line=dict(color="white", width=2))),
                          row=1, col=i)
        fig.update_xaxes(title_text="slope", row=1, col=i)
        fig.update_yaxes(title_text="intercept", row=1, col=i)
    fig = _base(fig, height=500, titled=True)
    fig.update_layout(hovermode="closest", coloraxis=dict(
        colorscale="Viridis", cmin=start, cmax=hi,
        colorbar=dict(title=dict(text="typical residual (y units)", side="right"), thickness=14)))
    return fig


def sweep_figure(counts: Sequence[int], slopes: dict, labels: dict, colours: dict, clean_slope: float,
                 hold: float, give_way: float, current: int) -> go.Figure:
    """Each loss's exact slope against the number of outliers, with the band where a fit 'holds'
    and the threshold where it 'gives way'; the current count is marked."""
    fig = go.Figure()
    fig.add_hrect(y0=clean_slope - hold, y1=clean_slope + hold, fillcolor="#555555", opacity=0.15, line_width=0)
    for s in (clean_slope - give_way, clean_slope + give_way):
        fig.add_hline(y=s, line=dict(color="#555555", dash="dot", width=1.5))
    fig.add_trace(go.Scatter(x=[counts[0], counts[-1]], y=[clean_slope] * 2, mode="lines",
                             name=f"clean slope {clean_slope:g} (band: ±{hold:g}; dotted: ±{give_way:g})",
                             line=dict(color="#555555", dash="dash", width=2)))
    for n, ys in slopes.items():
        fig.add_trace(go.Scatter(x=list(counts), y=ys, mode="lines+markers", name=labels[n],
                                 line=dict(color=colours[n], width=3), marker=dict(size=7)))
    fig.add_vline(x=current, line=dict(color="#000000", width=1.5))
    fig.add_annotation(x=current, y=1, yref="paper", text="now", showarrow=False, yanchor="bottom",
                       xanchor="left", xshift=3)
    fig.update_xaxes(title_text="number of outliers", dtick=2)
    fig.update_yaxes(title_text="fitted slope (y per unit x)")
    fig = _base(fig, height=380)
    fig.update_layout(hovermode="x unified")
    return fig


def zoom_figure(zoom: tuple, fit, label: str, colour: str) -> go.Figure:
    """The L1 surface close around its optimum, where its flat faces and corners show."""
    w, b, z = zoom
    flat = sorted(v for row in z for v in row)
    lo, mid, hi = flat[0], flat[len(flat) // 2], flat[-1]
    step = (mid - lo) / 8 or (hi - lo) / 30 or 1.0  # dense where the corners are, near the minimum
    fig = go.Figure(go.Contour(
        x=w, y=b, z=z, colorscale="Viridis", contours=dict(start=lo + step / 2, end=hi, size=step, coloring="fill"),
        line=dict(width=0.8, color="rgba(255,255,255,0.75)"), name=label,
        colorbar=dict(title=dict(text="mean |r| (y units)", side="right"), thickness=14, tickformat=".4f"),
        hovertemplate="slope %{x:.4f}<br>intercept %{y:.4f}<br>mean |r| %{z:.5f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[fit.slope], y=[fit.intercept], mode="markers", name=f"{label} optimum",
                             marker=dict(symbol="star", size=18, color=colour, line=dict(color="white", width=1.5))))
    fig.update_xaxes(title_text="slope", tickformat=".3f", nticks=6)
    fig.update_yaxes(title_text="intercept", tickformat=".3f")
    fig = _base(fig, height=420)
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig
