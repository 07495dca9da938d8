"""Figures of the regression page."""
from __future__ import annotations

import math
from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import _base

# --- Live linear regression ----------------------------------------------------------------------

TRAIN_COLOUR, TEST_COLOUR, MODEL_COLOUR = "#0072B2", "#E69F00", "#D55E00"
PANEL_HEIGHT = 340  # px: one panel of a two-panel chart (side by side, or stacked on a phone); in
# presentation mode 10 % taller, and the training chart must fit a 1024x768 projector's first screen
PANEL_TOP = 82  # px: top margin of a training panel, two rows of legend (also at a projector's type size)


def _data_traces(fig: go.Figure, X_train, y_train, X_test, y_test, true_line, row: int, col: int,
                 short: bool = False) -> None:
    """The data and the true line; `short`: the legend says "true line" (the equation in the hover),
    for a narrow panel."""
    fig.add_trace(go.Scatter(x=X_train, y=y_train, mode="markers", name="training data",
                             marker=dict(color=TRAIN_COLOUR, size=7)), row=row, col=col)
    fig.add_trace(go.Scatter(x=X_test, y=y_test, mode="markers", name="test data",
                             marker=dict(color=TEST_COLOUR, size=7, symbol="square")), row=row, col=col)
    xs = list(X_train) + list(X_test)
    lo, hi = min(xs), max(xs)
    w, b = true_line
    equation = f"true line y = {w:g}x + {b:g}"
    fig.add_trace(go.Scatter(x=[lo, hi], y=[w * lo + b, w * hi + b], mode="lines",
                             name="true line" if short else equation, hovertemplate=f"{equation}<extra></extra>",
                             line=dict(color="#555", dash="dot", width=2)), row=row, col=col)


def _positive(values: Sequence[float]) -> list[float | None]:
    return [v if v > 0 else None for v in values]  # a log axis cannot show 0


def training_figure(bands: dict, epochs: int, data: tuple, true_line: tuple[float, float],
                    line: tuple[float, float], trained: bool, loss_range: tuple[float, float] | None = None
                    ) -> tuple[go.Figure, go.Figure]:
    """The training chart's two panels, as two figures (so that a page can put them in two columns,
    which stack full width on a phone instead of squeezing two plots into one narrow figure).

    First: train and test loss against epoch (log scale); `bands` maps each loss to (epochs, upper,
    lower) and a loss whose edges differ is drawn as two thin lines, its two phases; the train loss on top.
    `loss_range`: (lo, hi) for the loss axis while there is nothing to draw on it.
    Second: the data, the true line and the model's line (w, b) = `line`, trained or not yet."""
    return _loss_figure(bands, epochs, loss_range), _line_figure(data, true_line, line, trained)


def _loss_figure(bands: dict, epochs: int, loss_range: tuple[float, float] | None) -> go.Figure:
    fig = go.Figure()  # no title: the axes say what it is, and a narrow panel keeps its height for the plot
    for name, colour in (("test loss", TEST_COLOUR), ("train loss", TRAIN_COLOUR)):  # train drawn last, on top
        x, upper, lower = bands.get(name, ([], [], []))
        if upper == lower:
            fig.add_trace(go.Scatter(x=x, y=_positive(upper), name=name, mode="lines",
                                     line=dict(color=colour, width=2.5)))
            continue
        fig.add_trace(go.Scatter(x=x, y=_positive(upper), name=name, mode="lines", legendgroup=name,
                                 line=dict(color=colour, width=1.5),
                                 hovertemplate=f"{name}, upper phase: %{{y:.3g}}<extra></extra>"))
        fig.add_trace(go.Scatter(x=x, y=_positive(lower), name=f"{name}, lower phase", mode="lines",
                                 legendgroup=name, showlegend=False, line=dict(color=colour, width=1.5),
                                 hovertemplate=f"{name}, lower phase: %{{y:.3g}}<extra></extra>"))
    fig.update_xaxes(title_text="epoch", range=[0, max(epochs - 1, 1)])
    fig.update_yaxes(title_text="loss (log scale)", type="log", exponentformat="power")
    if loss_range is not None:
        fig.update_yaxes(range=[math.log10(loss_range[0]), math.log10(loss_range[1])])
        fig.add_annotation(text="press Train: the losses<br>appear here, epoch by epoch", showarrow=False,
                           xref="x domain", yref="y domain", x=0.5, y=0.5, font=dict(color="#444"))
    return _panel(fig)


def _panel(fig: go.Figure) -> go.Figure:
    """Shared layout of the two training panels. Their top margin has room for two rows of legend in
    either (the line panel's legend wraps to two in a narrow column), so side by side the two plot
    areas start at the same height."""
    fig = _base(fig, height=PANEL_HEIGHT)
    fig.update_layout(hovermode="closest", margin_t=PANEL_TOP)
    return fig


def _line_figure(data: tuple, true_line: tuple[float, float], line: tuple[float, float], trained: bool
                 ) -> go.Figure:
    fig = make_subplots(rows=1, cols=1)
    _data_traces(fig, *data, true_line, row=1, col=1, short=True)
    xs = list(data[0]) + list(data[2])
    lo, hi = min(xs), max(xs)
    w, b = line
    name = "model" if trained else "untrained model"  # short: a narrow panel; its weight and bias are the numbers under it
    fig.add_trace(go.Scatter(x=[lo, hi], y=[w * lo + b, w * hi + b], mode="lines", name=name,
                             hovertemplate=f"{name}: y = {w:.4f}x + {b:.4f}<extra></extra>",
                             line=dict(color=MODEL_COLOUR, width=3.5, dash=None if trained else "dash")))
    fig.update_xaxes(title_text="X (input)")
    fig.update_yaxes(title_text="y (target)")
    return _panel(fig)


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
                zoom_from: int) -> tuple[go.Figure, go.Figure]:
    """Two figures (two columns on a page, stacked on a phone): the path of (weight, bias) over the
    training-loss contours, and the same path from epoch `zoom_from` on, zoomed in."""
    w, b, z = surface
    full = make_subplots(rows=1, cols=1, subplot_titles=(f"(weight, bias) over the {loss_name} loss surface",))
    full.add_trace(go.Contour(x=w, y=b, z=z, ncontours=30, colorscale="Viridis", showscale=False,
                              contours=dict(coloring="lines"), line=dict(width=1), name="training loss",
                              hovertemplate="weight %{x:.3f}<br>bias %{y:.3f}<br>loss %{z:.4f}<extra></extra>"))
    zoom = make_subplots(rows=1, cols=1, subplot_titles=(f"zoom: epochs {zoom_from}–{history[-1].epoch}",))
    for fig, part, size in ((full, history, 3), (zoom, [s for s in history if s.epoch >= zoom_from], 5)):
        fig.add_trace(go.Scatter(x=[s.weight for s in part], y=[s.bias for s in part], mode="lines+markers",
                                 name="path", line=dict(color=MODEL_COLOUR, width=1.5), marker=dict(size=size),
                                 hovertemplate="epoch %{text}<br>weight %{x:.5f}<br>bias %{y:.5f}<extra></extra>",
                                 text=[s.epoch for s in part]))
        fig.add_trace(go.Scatter(x=[true_line[0]], y=[true_line[1]], mode="markers", name="true (weight, bias)",
                                 marker=dict(symbol="star", size=16, color="#000")))
    full.add_trace(go.Scatter(x=[history[0].weight], y=[history[0].bias], mode="markers", name="after epoch 0",
                              marker=dict(symbol="circle-open", size=14, color=MODEL_COLOUR, line_width=3)))
    out = []
    for fig in (full, zoom):
        fig.update_xaxes(title_text="weight")
        fig.update_yaxes(title_text="bias")
        fig = _base(fig, height=420, titled=True)
        fig.update_layout(hovermode="closest")
        out.append(fig)
    return out[0], out[1]


def timing_figure(timings: Sequence) -> go.Figure:
    """Seconds per epoch on each device and engine (available ones only)."""
    ok = [t for t in timings if t.seconds_per_epoch is not None]
    labels = [f"{t.device} ({t.engine})" for t in ok]
    fig = go.Figure(go.Bar(x=[1e6 * t.seconds_per_epoch for t in ok], y=labels, orientation="h",
                           marker_color=TRAIN_COLOUR, text=[f"{1e6 * t.seconds_per_epoch:.0f} µs" for t in ok],
                           textposition="outside", cliponaxis=False))
    top = max((1e6 * t.seconds_per_epoch for t in ok), default=1.0)
    fig.update_xaxes(title_text="time per epoch (µs, lower is faster)", range=[0, 1.3 * top])  # room for the labels
    fig.update_yaxes(automargin=True)
    return _base(fig, height=140 + 50 * len(ok))
