"""Figures of the L1 vs MSE page."""
from __future__ import annotations

import math
from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import ANSWER_HEIGHT, _base
from .styles import style_of

# --- L1 against MSE -------------------------------------------------------------------------------

OUTLIER_COLOUR = "#000000"
POINT_COLOUR = "#9E9E9E"


def _look(colour: str, width: float, mode: str = "lines", size: int = 8, dash: bool = True) -> dict:
    """A loss's line: its colour, and its own dash and marker (nnviz.figures.styles), the same on every figure."""
    d, symbol = style_of(colour)
    return dict(mode=mode, line=dict(color=colour, width=width, dash=d if dash else "solid"),
                marker=dict(symbol=symbol, size=size, color=colour, line=dict(color="#ffffff", width=1)))


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
            x=[lo, hi], y=[f.slope * lo + f.intercept, f.slope * hi + f.intercept],
            name=f"{labels[f.loss]} fit: y = {f.slope:.3f}x {'+' if f.intercept >= 0 else '−'} {abs(f.intercept):.3f}",
            **_look(colours[f.loss], 3.5, mode="lines+markers", size=12)))
    fig.update_xaxes(title_text="x (input, no unit)")
    fig.update_yaxes(title_text="y (target, no unit)")
    fig = _base(fig, height=480)  # legend above the plot area: it never covers a data point
    fig.update_layout(hovermode="closest")
    return fig


def summary_fit(fits: Sequence, labels: dict, outliers: int, points: int,
                true_line: tuple[float, float] | None) -> str:
    """The headline's text alternative: each loss's fitted line as the legend writes it (slope and intercept to 3
    decimals), beside the clean line's slope."""
    lines = "; ".join(f"{labels[f.loss]}: slope {f.slope:.3f}, intercept {f.intercept:.3f}" for f in fits)
    clean = f" The clean points' line has slope {true_line[0]:g} and intercept {true_line[1]:g}." if true_line else ""
    return (f"Chart of {points} data points, {outliers} of them outliers, with each loss's fitted line. "
            f"{lines}.{clean}")


def residual_figure(curves: dict, labels: dict, colours: dict, delta: float, beta: float) -> go.Figure:
    """Per-point loss rho(r) and its derivative, the force a residual exerts on the fit."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss of one point, ρ(r)", "its pull on the fit, dρ/dr"),
                        horizontal_spacing=0.1)
    for name, (r, rho, d) in curves.items():
        look = _look(colours[name], 3)  # the same line in both panels: each loss told apart by its dash
        fig.add_trace(go.Scatter(x=r, y=rho, name=labels[name], legendgroup=name, **look), row=1, col=1)
        fig.add_trace(go.Scatter(x=r, y=d, name=labels[name], legendgroup=name, showlegend=False, **look),
                      row=1, col=2)
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
        fig.add_trace(go.Scatter(x=list(counts), y=ys, name=labels[n], **_look(colours[n], 3, "lines+markers", 8)))
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


# --- Reveal figures (nnviz.figures.answers): after a verdict, the chart that shows the answer ---------------

def _note(fig: go.Figure, text: str, x: float = 0, y: float = 1, xanchor: str = "left", yanchor: str = "top") -> None:
    """A line of text in a corner of the plot area, on a pale background."""
    fig.add_annotation(x=x, y=y, xref="paper", yref="paper", xanchor=xanchor, yanchor=yanchor, showarrow=False,
                       text=text, bgcolor="rgba(255,255,255,0.85)")


def mse_slope_figure(answer) -> go.Figure:
    """The data with the MSE and L1 lines, each line's slope written at its right end (MSE's: the verdict's)."""
    sr = answer.series
    x, y, out = sr["x"], sr["y"], sr["outlier"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[a for a, o in zip(x, out) if not o], y=[b for b, o in zip(y, out) if not o],
                             mode="markers", name="data", marker=dict(color=POINT_COLOUR, size=9,
                                                                       line=dict(color="#555", width=1))))
    fig.add_trace(go.Scatter(x=[a for a, o in zip(x, out) if o], y=[b for b, o in zip(y, out) if o], mode="markers",
                             name="outliers", marker=dict(color=OUTLIER_COLOUR, size=13, symbol="x")))
    lo, hi = min(x), max(x)
    w, b = sr["clean"]
    fig.add_trace(go.Scatter(x=[lo, hi], y=[w * lo + b, w * hi + b], mode="lines", name="clean line",
                             line=dict(color="#555555", dash="dot", width=2)))
    for name, (slope, icpt) in sr["lines"].items():
        label, colour = sr["labels"][name], sr["colours"][name]
        fig.add_trace(go.Scatter(x=[lo, hi], y=[slope * lo + icpt, slope * hi + icpt], mode="lines", name=label,
                                 line=dict(color=colour, width=4 if name == "mse" else 3,
                                           dash="solid" if name == "mse" else "dash")))
        value = answer.shown if name == "mse" else f"{slope:.3g}"
        above = slope >= max(sl for sl, _ in sr["lines"].values())  # the steeper line's label above it, the other's below
        fig.add_annotation(x=hi, y=slope * hi + icpt, xanchor="right", yanchor="bottom" if above else "top",
                           showarrow=False, yshift=6 if above else -6,
                           text=f"{'<b>' if name == 'mse' else ''}{label}: slope {value}{'</b>' if name == 'mse' else ''}",
                           font=dict(color=colour), bgcolor="rgba(255,255,255,0.8)")
    _note(fig, f"dotted: the clean points' line, slope {w:g}; ✕: the outliers", y=0, yanchor="bottom")
    fig.update_xaxes(title_text="x (input)")
    fig.update_yaxes(title_text="y (target)")
    fig = _base(fig, height=ANSWER_HEIGHT)
    fig.update_layout(hovermode="closest", showlegend=False, margin=dict(t=12, b=4))  # no legend: the plot gets the room
    return fig


def gives_way_figure(answer) -> go.Figure:
    """L1's and MSE's exact slopes against the number of outliers, the band within GIVE_WAY of the clean slope
    shaded, and the count where L1 leaves it marked with the verdict's number."""
    sr = answer.series
    counts, k, clean, band = sr["counts"], sr["gives_way"], sr["clean"], sr["band"]
    fig = go.Figure()
    fig.add_hrect(y0=clean - band, y1=clean + band, fillcolor="#555555", opacity=0.15, line_width=0)
    fig.add_hline(y=clean, line=dict(color="#555555", dash="dot", width=1.5))
    _note(fig, f"shaded: within {band:g} of the clean slope {clean:g}", y=0, yanchor="bottom")
    for name, ys in sr["slopes"].items():
        label, colour = sr["labels"][name], sr["colours"][name]
        fig.add_trace(go.Scatter(x=counts, y=ys, mode="lines+markers", name=label,
                                 line=dict(color=colour, width=3, dash="solid" if name == "l1" else "dash"),
                                 marker=dict(size=7, symbol="circle" if name == "l1" else "square"),
                                 hovertemplate=f"{label}, %{{x}} outliers: slope %{{y:.3f}}<extra></extra>"))
        j = 5 if name == "l1" else 8  # where the line's name is written on it
        fig.add_annotation(x=counts[j], y=ys[j], text=label, showarrow=False, yshift=16 if name == "l1" else -16,
                           font=dict(color=colour))
    at = sr["slopes"]["l1"][counts.index(k)]
    fig.add_vline(x=k, line=dict(color="#1b1b1b", width=1.5))
    fig.add_trace(go.Scatter(x=[k], y=[at], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(size=16, symbol="diamond", color=sr["colours"]["l1"],
                                         line=dict(color="#1b1b1b", width=2))))
    fig.add_annotation(x=k, y=at, text=f"<b>L1 gives way at {answer.shown} outliers</b> (slope {at:.2f})",
                       showarrow=True, arrowhead=2, ax=-30, ay=-75, xanchor="right", bgcolor="rgba(255,255,255,0.85)")
    fig.update_xaxes(title_text="number of outliers", dtick=2, range=[counts[0] - 0.5, counts[-1] + 0.5])
    fig.update_yaxes(title_text="fitted slope")
    fig = _base(fig, height=ANSWER_HEIGHT)
    fig.update_layout(hovermode="closest", showlegend=False, margin=dict(t=12, b=4))  # no legend: the plot gets the room
    return fig


def outlier_share_figure(answer) -> go.Figure:
    """The outliers' share of the pull on the slope under MSE and under L1 (bars), beside their share of the
    points (a dashed line): the verdict's number written on MSE's bar."""
    sr = answer.series
    names = [n for n in ("mse", "l1") if n in sr["shares"]]
    head = sr["headcount"]
    labels = [f"{sr['labels'][n]} pull" for n in names] + ["head count"]
    values = [sr["shares"][n] for n in names] + [head]
    text = ([f"{answer.shown}% of MSE's pull" if n == "mse" else f"{sr['shares'][n]:.3g}% of L1's pull" for n in names]
            + [f"{sr['outliers']} of {sr['points']} points = {head:.0f}%"])
    fig = go.Figure(go.Bar(y=labels, x=values, orientation="h", text=text, textposition="outside", cliponaxis=False,
                           marker=dict(color=[sr["colours"][n] for n in names] + [POINT_COLOUR],
                                       pattern_shape=[""] * len(names) + ["/"]),
                           hovertemplate="%{y}: %{x:.3g}%<extra></extra>"))
    fig.update_xaxes(title_text="the outliers' share (%)", range=[0, 140], tickvals=[0, 25, 50, 75, 100])
    fig.update_yaxes(autorange="reversed")
    fig = _base(fig, height=ANSWER_HEIGHT)
    fig.update_layout(hovermode="closest", showlegend=False, bargap=0.3, margin=dict(t=12, b=4))
    return fig


# question id -> reveal figure builder (nnviz.figures.answers): the chart that shows its answer
ANSWER_FIGURES: dict = {
    "loss-mse-slope": mse_slope_figure,
    "loss-l1-gives-way": gives_way_figure,
    "loss-mse-outlier-share": outlier_share_figure,
}
