"""Plotly figure builders: plain results in, go.Figure out. No Streamlit, no torch here."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .activations import ACTIVATIONS, Curve

BASE_FONT = 14  # px; presentation mode scales figures through nnviz.ui, not here


def _base(fig: go.Figure, height: int, titled: bool = False) -> go.Figure:
    """Shared layout. `titled`: the figure has subplot titles, so the legend goes above them."""
    fig.update_layout(
        height=height, template="plotly_white", font_size=BASE_FONT,
        margin=dict(l=10, r=10, t=90 if titled else 40, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.1 if titled else 1.02, xanchor="left", x=0),
        hovermode="x unified",
    )
    return fig


def activation_figure(curves: Sequence[Curve], x0: float | None = None, threshold: float | None = None) -> go.Figure:
    """Functions (solid) and their autograd derivatives (dashed), one colour per activation,
    with each derivative's peak marked and, below, a strip showing where |f'(x)| < threshold."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.8, 0.2], vertical_spacing=0.06)
    for c in curves:
        act = ACTIVATIONS[c.name]
        colour = act.colour
        fig.add_trace(go.Scatter(
            x=c.x, y=c.y, name=f"{c.name}(x)", legendgroup=c.name, line=dict(color=colour, width=3),
            hovertemplate="%{y:.4f}",
        ), row=1, col=1)
        fig.add_trace(go.Scatter(
            x=c.x, y=c.dy, name=f"{c.name}'(x)", legendgroup=c.name,
            line=dict(color=colour, width=2.5, dash="dash"), hovertemplate="%{y:.4f}",
        ), row=1, col=1)
        peak_x = c.peak_from if c.peak_from == c.peak_to else None
        if peak_x is not None:
            fig.add_trace(go.Scatter(
                x=[peak_x], y=[c.peak], mode="markers+text", name=f"max {c.name}'", legendgroup=c.name,
                showlegend=False, marker=dict(color=colour, size=10, symbol="diamond"),
                text=[f"{c.peak:.4g}"], textposition="middle left", textfont=dict(color=colour),
                hovertemplate=f"largest {c.name}' = %{{y:.4f}} at x = %{{x:.3f}}<extra></extra>",
            ), row=1, col=1)
        for lo, hi in c.saturated:
            fig.add_trace(go.Scatter(
                x=[lo, hi], y=[c.name, c.name], mode="lines", showlegend=False, legendgroup=c.name,
                line=dict(color=colour, width=12), name=f"{c.name}: |f'| small",
                hovertemplate=f"{c.name}: |f'(x)| < {threshold:g} for x in [{lo:.2f}, {hi:.2f}]<extra></extra>"
                if threshold is not None else None,
            ), row=2, col=1)
    if x0 is not None:
        fig.add_vline(x=x0, line=dict(color="#555555", width=1.5, dash="dot"), row="all", col=1)
    fig.update_yaxes(title_text="f(x) solid, f'(x) dashed", row=1, col=1, zeroline=True,
                     zerolinecolor="#999999")
    strip = "|f'(x)| small" if threshold is None else f"|f'(x)| < {threshold:g}"
    fig.update_yaxes(title_text=strip, row=2, col=1, categoryorder="array",
                     categoryarray=[c.name for c in reversed(curves)])
    fig.update_xaxes(title_text="x (pre-activation input, no unit)", row=2, col=1)
    return _base(fig, height=560)


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


# --- Vanishing gradients --------------------------------------------------------------------------

def _log_range(values: Sequence[float]) -> tuple[float, float]:
    """log10 axis range around the finite positive values, with room below for underflow marks."""
    pos = [v for v in values if v > 0 and v != float("inf")]
    lo, hi = (min(pos), max(pos)) if pos else (1e-10, 1.0)
    import math
    return math.log10(lo) - 1.0, math.log10(hi) + 0.7


def _marks(fig: go.Figure, xs: list, ys: list, colour: str, group: str, floor: float, ceil: float, dtype: str,
           row: int | None = None, col: int | None = None) -> None:
    """Underflow (exactly 0) and overflow (inf) points, drawn at the axis edges, never dropped."""
    kw = dict(row=row, col=col) if row else {}
    under = [x for x, y in zip(xs, ys) if y == 0.0]
    over = [x for x, y in zip(xs, ys) if y == float("inf") or y != y]
    if under:
        fig.add_trace(go.Scatter(x=under, y=[floor] * len(under), mode="markers", legendgroup=group,
                                 name=f"{group}: exactly 0", showlegend=True,
                                 marker=dict(symbol="triangle-down", size=13, color=colour, line=dict(color="black", width=1)),
                                 hovertemplate=f"{group}: the gradient is exactly 0 in {dtype} (it underflowed, "
                                               "or every unit in a layer passes no gradient)<extra></extra>"), **kw)
    if over:
        fig.add_trace(go.Scatter(x=over, y=[ceil] * len(over), mode="markers", legendgroup=group,
                                 name=f"{group}: overflow (inf or nan)",
                                 marker=dict(symbol="triangle-up", size=13, color=colour, line=dict(color="black", width=1)),
                                 hovertemplate=f"{group}: the gradient overflowed to inf in {dtype}<extra></extra>"), **kw)


FLOAT32_TINY = 1.1754943508222875e-38  # torch.finfo(torch.float32).tiny: smallest normal float32


def _float32_floor(fig: go.Figure, lo: float, dtype: str) -> None:
    """Where float32 starts losing digits (subnormals), and below which a value becomes 0."""
    import math
    if dtype == "float32" and lo < math.log10(FLOAT32_TINY):
        fig.add_hline(y=FLOAT32_TINY, line=dict(color="#888", dash="dash", width=1))
        # (on a log axis an annotation's y is given as log10 of the value)
        fig.add_annotation(x=1, xref="paper", xanchor="right", y=math.log10(FLOAT32_TINY), yanchor="bottom",
                           showarrow=False, font=dict(size=11, color="#666"),
                           text="smallest normal float32, 1.2e-38: below it digits are lost; below 1.4e-45 it is 0")


def depth_figure(sweeps: Sequence, colours: dict, dtype: str, show_bound: bool = True) -> go.Figure:
    """The headline: the first layer's weight-gradient norm against depth, one line per activation
    (geometric mean over seeds, band from the smallest to the largest seed), and the activation's
    share of the bound: the depth-1 value times (max f')^(L-1), one factor per added layer."""
    fig = go.Figure()
    every = [v for s in sweeps for row in s.first for v in row]
    lo, hi = _log_range(every)
    floor, ceil = 10 ** (lo + 0.3), 10 ** (hi - 0.2)
    for s in sweeps:
        c = colours[s.act]
        ok = [(d, m, min(r), max(r)) for d, m, r in zip(s.depths, s.first_mean, s.first)
              if 0 < m < float("inf")]
        if ok:
            d, m, mn, mx = map(list, zip(*ok))
            fig.add_trace(go.Scatter(x=d + d[::-1], y=mx + mn[::-1], fill="toself", fillcolor=c, opacity=0.18,
                                     line=dict(width=0), hoverinfo="skip", showlegend=False, legendgroup=s.act))
            fig.add_trace(go.Scatter(x=d, y=m, mode="lines+markers", name=s.act, legendgroup=s.act,
                                     line=dict(color=c, width=3), marker=dict(size=7),
                                     hovertemplate=f"{s.act}, depth %{{x}}: %{{y:.3e}}<extra></extra>"))
            if show_bound and s.bound < 1:
                g1 = m[0] if d[0] == 1 else None
                if g1:
                    bd = list(range(1, max(s.depths) + 1))
                    by = [g1 * s.bound ** (k - 1) for k in bd]
                    keep = [(k, v) for k, v in zip(bd, by) if v >= floor]
                    if keep:
                        fig.add_trace(go.Scatter(x=[k for k, _ in keep], y=[v for _, v in keep], mode="lines",
                                                 name=f"{s.act}: depth-1 value × {s.bound:.3g}^(L−1)", legendgroup=s.act,
                                                 line=dict(color=c, width=1.5, dash="dot")))
        _marks(fig, s.depths, s.first_mean, c, s.act, floor, ceil, dtype)
    _float32_floor(fig, lo, dtype)
    fig.update_yaxes(type="log", range=[lo, hi], title_text="‖∂loss/∂W₁‖ (first layer, Frobenius norm)",
                     exponentformat="power")
    fig.update_xaxes(title_text="depth (number of hidden layers)")
    fig = _base(fig, height=500)
    fig.update_layout(hovermode="closest")
    return fig


def profile_figure(sweeps: Sequence, colours: dict, depth: int, dtype: str) -> go.Figure:
    """Each layer's weight-gradient norm at one depth, read from the output back to the input."""
    fig = go.Figure()
    every = [v for s in sweeps for v in s.profile_mean]
    lo, hi = _log_range(every)
    floor, ceil = 10 ** (lo + 0.3), 10 ** (hi - 0.2)
    layers = list(range(1, depth + 1))
    for s in sweeps:
        c = colours[s.act]
        ok = [(layer, v) for layer, v in zip(layers, s.profile_mean) if 0 < v < float("inf")]
        if ok:
            fig.add_trace(go.Scatter(x=[k for k, _ in ok], y=[v for _, v in ok], mode="lines+markers", name=s.act,
                                     legendgroup=s.act, line=dict(color=c, width=3),
                                     hovertemplate=f"{s.act}, layer %{{x}}: %{{y:.3e}}<extra></extra>"))
        _marks(fig, layers, s.profile_mean, c, s.act, floor, ceil, dtype)
    _float32_floor(fig, lo, dtype)
    fig.update_yaxes(type="log", range=[lo, hi], title_text="‖∂loss/∂Wₗ‖", exponentformat="power")
    fig.update_xaxes(title_text="layer l  (output side on the left, input on the right: the backward pass's direction)",
                     autorange="reversed")
    fig = _base(fig, height=420)
    fig.update_layout(hovermode="closest")
    return fig


def heatmap_figure(sweep, dtype: str) -> go.Figure:
    """log10 of each layer's gradient norm (columns) for each depth (rows); exact zeros marked."""
    import math
    logs = [math.log10(v) for row in sweep.grid for v in row if v is not None and 0 < v < float("inf")]
    zmin = math.floor(min(logs)) - 1 if logs else -10  # exact zeros are drawn at the bottom
    zmax = math.ceil(max(logs)) + 1 if logs else 1  # overflow (inf/nan) at the top
    z, text = [], []
    for row in sweep.grid:
        zr, tr = [], []
        for v in row:
            if v is None:
                zr.append(None), tr.append("")
            elif v == 0.0:
                zr.append(zmin), tr.append(f"exactly 0 ({dtype} underflow, or every unit dead)")
            elif v == float("inf") or v != v:
                zr.append(zmax), tr.append(f"inf ({dtype} overflow)")
            else:
                zr.append(math.log10(v)), tr.append(f"{v:.3e}")
        z.append(zr), text.append(tr)
    fig = go.Figure(go.Heatmap(
        z=z, x=list(range(1, len(sweep.grid[0]) + 1)), y=[str(d) for d in sweep.depths], text=text,
        colorscale="Viridis", zmin=zmin, zmax=zmax, hoverongaps=False,
        colorbar=dict(title=dict(text="log₁₀ ‖∂loss/∂Wₗ‖", side="right")),
        hovertemplate="depth %{y}, layer %{x}: %{text}<extra></extra>"))
    fig.update_xaxes(title_text="layer l (1 = input side)")
    fig.update_yaxes(title_text="network depth", type="category")
    fig = _base(fig, height=420)
    fig.update_layout(hovermode="closest")
    return fig


def stats_figure(sweeps: Sequence, colours: dict, threshold: float) -> go.Figure:
    """Why: per layer, the mean slope |f'(z)| the gradient is multiplied by, and the share of units
    so saturated (or dead) that they pass almost nothing."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, subplot_titles=(
        "mean |f'(z)| in each layer", f"share of units with |f'(z)| < {threshold:g}"))
    for s in sweeps:
        layers = list(range(1, len(s.stats["dact_mean"]) + 1))
        fig.add_trace(go.Scatter(x=layers, y=s.stats["dact_mean"], name=s.act, legendgroup=s.act,
                                 line=dict(color=colours[s.act], width=3)), row=1, col=1)
        fig.add_trace(go.Scatter(x=layers, y=[100 * v for v in s.stats["saturated"]], name=s.act, legendgroup=s.act,
                                 showlegend=False, line=dict(color=colours[s.act], width=3)), row=1, col=2)
    fig.update_xaxes(title_text="layer l (1 = input side)")
    fig.update_yaxes(title_text="mean |f'(z)|", row=1, col=1, rangemode="tozero")
    fig.update_yaxes(title_text="% of units", row=1, col=2, range=[0, 100])
    return _base(fig, height=380, titled=True)


# --- Live linear regression ----------------------------------------------------------------------

TRAIN_COLOUR, TEST_COLOUR, MODEL_COLOUR = "#0072B2", "#E69F00", "#D55E00"


def _data_traces(fig: go.Figure, X_train, y_train, X_test, y_test, true_line, row: int, col: int) -> None:
    fig.add_trace(go.Scatter(x=X_train, y=y_train, mode="markers", name="training data",
                             marker=dict(color=TRAIN_COLOUR, size=7)), row=row, col=col)
    fig.add_trace(go.Scatter(x=X_test, y=y_test, mode="markers", name="test data",
                             marker=dict(color=TEST_COLOUR, size=7, symbol="square")), row=row, col=col)
    xs = list(X_train) + list(X_test)
    lo, hi = min(xs), max(xs)
    w, b = true_line
    fig.add_trace(go.Scatter(x=[lo, hi], y=[w * lo + b, w * hi + b], mode="lines", name=f"true line y = {w:g}x + {b:g}",
                             line=dict(color="#555", dash="dot", width=2)), row=row, col=col)


def training_figure(history: Sequence, epochs: int, data: tuple, true_line: tuple[float, float]) -> go.Figure:
    """Left: train and test loss against epoch (log scale). Right: the data, the true line and the
    model's current line."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.5, 0.5], horizontal_spacing=0.09,
                        subplot_titles=("loss per epoch", "the data and the model's line"))
    ep = [s.epoch for s in history]
    fig.add_trace(go.Scatter(x=ep, y=[s.train_loss for s in history], name="train loss", mode="lines",
                             line=dict(color=TRAIN_COLOUR, width=2.5)), row=1, col=1)
    fig.add_trace(go.Scatter(x=ep, y=[s.test_loss for s in history], name="test loss", mode="lines",
                             line=dict(color=TEST_COLOUR, width=2.5)), row=1, col=1)
    _data_traces(fig, *data, true_line, row=1, col=2)
    if history:
        s = history[-1]
        xs = list(data[0]) + list(data[2])
        lo, hi = min(xs), max(xs)
        fig.add_trace(go.Scatter(x=[lo, hi], y=[s.weight * lo + s.bias, s.weight * hi + s.bias], mode="lines",
                                 name=f"model: y = {s.weight:.4f}x + {s.bias:.4f}",
                                 line=dict(color=MODEL_COLOUR, width=3.5)), row=1, col=2)
    fig.update_xaxes(title_text="epoch", range=[0, max(epochs - 1, 1)], row=1, col=1)
    fig.update_yaxes(title_text="loss (log scale)", type="log", exponentformat="power", row=1, col=1)
    fig.update_xaxes(title_text="X (input)", row=1, col=2)
    fig.update_yaxes(title_text="y (target)", row=1, col=2)
    fig = _base(fig, height=460, titled=True)
    fig.update_layout(hovermode="closest")
    return fig


def step_figure(data: tuple, true_line: tuple[float, float], weight: float, bias: float,
                predictions: Sequence[float] | None) -> go.Figure:
    """The data, the model's line, and (after the forward pass) each prediction with its error."""
    fig = make_subplots(rows=1, cols=1)
    _data_traces(fig, *data, true_line, row=1, col=1)
    X_train, y_train = data[0], data[1]
    xs = list(X_train) + list(data[2])
    lo, hi = min(xs), max(xs)
    fig.add_trace(go.Scatter(x=[lo, hi], y=[weight * lo + bias, weight * hi + bias], mode="lines",
                             name=f"model: y = {weight:.4f}x + {bias:.4f}", line=dict(color=MODEL_COLOUR, width=3)))
    if predictions is not None:
        ex, ey = [], []
        for x, t, p in zip(X_train, y_train, predictions):
            ex += [x, x, None]
            ey += [t, p, None]
        fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", name="error (y_pred − y)",
                                 line=dict(color=MODEL_COLOUR, width=1, dash="dot")))
        fig.add_trace(go.Scatter(x=list(X_train), y=list(predictions), mode="markers", name="y_pred",
                                 marker=dict(color=MODEL_COLOUR, size=7, symbol="diamond")))
    fig.update_xaxes(title_text="X (input)")
    fig.update_yaxes(title_text="y (target)")
    fig = _base(fig, height=420)
    fig.update_layout(hovermode="closest")
    return fig


def path_figure(surface: tuple, history: Sequence, true_line: tuple[float, float], loss_name: str,
                zoom_from: int) -> go.Figure:
    """The path of (weight, bias) over the training-loss contours; right: the last epochs, zoomed."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.09, subplot_titles=(
        f"(weight, bias) over the {loss_name} loss surface", f"zoom: epochs {zoom_from}–{history[-1].epoch}"))
    w, b, z = surface
    fig.add_trace(go.Contour(x=w, y=b, z=z, ncontours=30, colorscale="Viridis", showscale=False,
                             contours=dict(coloring="lines"), line=dict(width=1), name="training loss",
                             hovertemplate="weight %{x:.3f}<br>bias %{y:.3f}<br>loss %{z:.4f}<extra></extra>"), row=1, col=1)
    for col, part in ((1, history), (2, [s for s in history if s.epoch >= zoom_from])):
        fig.add_trace(go.Scatter(x=[s.weight for s in part], y=[s.bias for s in part], mode="lines+markers",
                                 name="path" if col == 1 else "path (zoom)", showlegend=col == 1,
                                 line=dict(color=MODEL_COLOUR, width=1.5), marker=dict(size=3 if col == 1 else 5),
                                 hovertemplate="epoch %{text}<br>weight %{x:.5f}<br>bias %{y:.5f}<extra></extra>",
                                 text=[s.epoch for s in part]), row=1, col=col)
        fig.add_trace(go.Scatter(x=[true_line[0]], y=[true_line[1]], mode="markers", name="true (weight, bias)",
                                 showlegend=col == 1, marker=dict(symbol="star", size=16, color="#000")), row=1, col=col)
    fig.add_trace(go.Scatter(x=[history[0].weight], y=[history[0].bias], mode="markers", name="after epoch 0",
                             marker=dict(symbol="circle-open", size=14, color=MODEL_COLOUR, line_width=3)), row=1, col=1)
    for col in (1, 2):
        fig.update_xaxes(title_text="weight", row=1, col=col)
        fig.update_yaxes(title_text="bias", row=1, col=col)
    fig = _base(fig, height=460, titled=True)
    fig.update_layout(hovermode="closest")
    return fig


def timing_figure(timings: Sequence) -> go.Figure:
    """Seconds per epoch on each device and engine (available ones only)."""
    ok = [t for t in timings if t.seconds_per_epoch is not None]
    labels = [f"{t.device} ({t.engine})" for t in ok]
    fig = go.Figure(go.Bar(x=[1e6 * t.seconds_per_epoch for t in ok], y=labels, orientation="h",
                           marker_color=TRAIN_COLOUR, text=[f"{1e6 * t.seconds_per_epoch:.0f} µs" for t in ok],
                           textposition="outside"))
    fig.update_xaxes(title_text="time per epoch (µs, lower is faster)", rangemode="tozero")
    return _base(fig, height=140 + 50 * len(ok))
