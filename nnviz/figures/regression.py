"""Figures of the regression page."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from .common import _base

# --- Live linear regression ----------------------------------------------------------------------

TRAIN_COLOUR, TEST_COLOUR, MODEL_COLOUR = "#0072B2", "#E69F00", "#D55E00"
PANEL_HEIGHT = 340  # px: one panel of a two-panel chart (side by side, or stacked on a phone); in
# presentation mode 10 % taller, and the training chart must fit a 1024x768 projector's first screen
PANEL_TOP = 82  # px: top margin of a training panel, two rows of legend (also at a projector's type size)


FINAL_POINTS = 300  # points per loss line on the finished run's chart (about two a pixel on a half-width panel)


def _look(axis: dict) -> dict:
    return {k: v for k, v in axis.items() if k in ("gridcolor", "linecolor", "ticks", "zerolinecolor", "zerolinewidth")}


# What the regression figures use of plotly_white (the shared template): its colours, without the
# per-trace-type defaults, colour scales and colourway (every trace here names its colours) and without
# what _base sets anyway (hovermode, axis margins and title offsets). Same picture, about 7.5 KB less in
# each figure sent to the browser (a live frame carries two).
_WHITE = pio.templates["plotly_white"].layout.to_plotly_json()
_LEAN = go.layout.Template(layout={**{k: _WHITE[k] for k in ("font", "paper_bgcolor", "plot_bgcolor", "hoverlabel")},
                                   "xaxis": _look(_WHITE["xaxis"]), "yaxis": _look(_WHITE["yaxis"])})


def _lean(fig: go.Figure) -> go.Figure:
    fig.update_layout(template=_LEAN)
    return fig


def _f4(values) -> np.ndarray:
    """Values as the browser needs them: float32, which plotly sends as a base64 typed array
    (about 5.5 bytes a value, against 8 to 20 for a JSON number)."""
    return np.asarray(values, dtype=np.float32)


def _ints(values) -> np.ndarray:
    """Whole numbers (epochs) in the smallest typed array that holds them: 2 bytes each up to 65535."""
    v = np.asarray(values, dtype=np.int64)
    return v.astype(np.uint16 if len(v) == 0 or (v.min() >= 0 and v.max() < 2 ** 16) else np.int32)


def decimate(x: Sequence[int], upper: Sequence[float], lower: Sequence[float], points: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A loss band (see nnviz.regression.loss_bands) cut to at most about `points` points per line,
    keeping what a pixel shows: the first and last points, and in each bucket of consecutive epochs

    - one line (upper == lower): its min and its max, in epoch order, so a ripple or a bump keeps
      its height and the line passes through the run's minimum;
    - two lines (two phases): the bucket's max of the upper and min of the lower, at its last epoch.

    Either way the result's envelope bounds every value it replaces. Returns (epochs, upper, lower)."""
    x, hi, lo = np.asarray(x, dtype=np.int64), np.asarray(upper, dtype=np.float64), np.asarray(lower, dtype=np.float64)
    n = len(x)
    one = np.array_equal(hi, lo, equal_nan=True)
    buckets = max(points // 2 if one else points - 1, 1)
    if n <= points or n < 3:
        return x, hi, lo
    edges = np.linspace(1, n, buckets + 1).astype(np.int64)  # bucket i: indices edges[i]..edges[i+1]-1; index 0 alone
    starts, ends = edges[:-1], edges[1:]
    starts, ends = starts[ends > starts], ends[ends > starts]
    if one:
        with np.errstate(invalid="ignore"):  # nan (an empty test set): fmax/fmin skip it
            keep = [0, n - 1]
            for a, b in zip(starts, ends):
                seg = hi[a:b]
                if np.isnan(seg).all():
                    keep.append(a)
                    continue
                keep += [a + int(np.nanargmin(seg)), a + int(np.nanargmax(seg))]
        keep = np.unique(keep)
        return x[keep], hi[keep], lo[keep]
    up = np.fmax.reduceat(hi, starts)  # (buckets,)
    down = np.fmin.reduceat(lo, starts)  # (buckets,)
    return (np.concatenate([x[:1], x[ends - 1]]), np.concatenate([hi[:1], up]), np.concatenate([lo[:1], down]))


def _data_traces(fig: go.Figure, X_train, y_train, X_test, y_test, true_line, row: int, col: int,
                 short: bool = False) -> None:
    """The data and the true line; `short`: the legend says "true line" (the equation in the hover),
    for a narrow panel."""
    fig.add_trace(go.Scatter(x=_f4(X_train), y=_f4(y_train), mode="markers", name="training data",
                             marker=dict(color=TRAIN_COLOUR, size=7)), row=row, col=col)
    fig.add_trace(go.Scatter(x=_f4(X_test), y=_f4(y_test), mode="markers", name="test data",
                             marker=dict(color=TEST_COLOUR, size=7, symbol="square")), row=row, col=col)
    xs = list(X_train) + list(X_test)
    lo, hi = min(xs), max(xs)
    w, b = true_line
    equation = f"true line y = {w:g}x + {b:g}"
    fig.add_trace(go.Scatter(x=[lo, hi], y=[w * lo + b, w * hi + b], mode="lines",
                             name="true line" if short else equation, hovertemplate=f"{equation}<extra></extra>",
                             line=dict(color="#555", dash="dot", width=2)), row=row, col=col)


def _positive(values) -> np.ndarray:
    """The values a log axis can show (0 and below become gaps), as float32."""
    v = _f4(values)
    return np.where(v > 0, v, np.float32(np.nan))


def training_figure(bands: dict, epochs: int, data: tuple, true_line: tuple[float, float],
                    line: tuple[float, float], trained: bool, loss_range: tuple[float, float] | None = None,
                    points: int = FINAL_POINTS) -> tuple[go.Figure, go.Figure]:
    """The training chart's two panels, as two figures (so that a page can put them in two columns,
    which stack full width on a phone instead of squeezing two plots into one narrow figure).

    First: train and test loss against epoch (log scale); `bands` maps each loss to (epochs, upper,
    lower) and a loss whose edges differ is drawn as two thin lines, its two phases; the train loss on top.
    Each line is cut to about `points` points (decimate(): the envelope is kept), sent as typed arrays.
    `loss_range`: (lo, hi) for the loss axis while there is nothing to draw on it.
    Second: the data, the true line and the model's line (w, b) = `line`, trained or not yet."""
    return _loss_figure(bands, epochs, loss_range, points), _line_figure(data, true_line, line, trained)


def _loss_figure(bands: dict, epochs: int, loss_range: tuple[float, float] | None, points: int) -> go.Figure:
    fig = go.Figure()  # no title: the axes say what it is, and a narrow panel keeps its height for the plot
    for name, colour in (("test loss", TEST_COLOUR), ("train loss", TRAIN_COLOUR)):  # train drawn last, on top
        x, upper, lower = decimate(*bands.get(name, ([], [], [])), points)
        same = np.array_equal(upper, lower, equal_nan=True)
        x, upper, lower = _ints(x), _positive(upper), _positive(lower)
        if same:
            fig.add_trace(go.Scatter(x=x, y=upper, name=name, mode="lines",
                                     line=dict(color=colour, width=2.5)))
            continue
        fig.add_trace(go.Scatter(x=x, y=upper, name=name, mode="lines", legendgroup=name,
                                 line=dict(color=colour, width=1.5),
                                 hovertemplate=f"{name}, upper phase: %{{y:.3g}}<extra></extra>"))
        fig.add_trace(go.Scatter(x=x, y=lower, name=f"{name}, lower phase", mode="lines",
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
    return _lean(fig)


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
    return _lean(fig)


def path_figure(surface: tuple, history: Sequence, true_line: tuple[float, float], loss_name: str,
                zoom_from: int, cycle: tuple[int, int] | None = None) -> tuple[go.Figure, go.Figure]:
    """Two figures (two columns on a page, stacked on a phone): the path of (weight, bias) over the
    training-loss contours, and the same path from epoch `zoom_from` on, zoomed in.

    `cycle`: (onset epoch, period) where the run ends repeating a cycle of positions (one snapshot per
    epoch; nnviz.regression.find_cycle): the cycle is drawn once, as a closed loop whose points say
    in their hover that they repeat to the end, instead of hundreds of copies of the same segments."""
    w, b, z = (np.asarray(a, dtype=np.float32) for a in surface)  # float32 as computed: sent as typed arrays
    full = make_subplots(rows=1, cols=1, subplot_titles=(f"(weight, bias) over the {loss_name} loss surface",))
    full.add_trace(go.Contour(x=w, y=b, z=z, ncontours=30, colorscale="Viridis", showscale=False,
                              contours=dict(coloring="lines"), line=dict(width=1), name="training loss",
                              hovertemplate="weight %{x:.3f}<br>bias %{y:.3f}<br>loss %{z:.4f}<extra></extra>"))
    zoom = make_subplots(rows=1, cols=1, subplot_titles=(f"zoom: epochs {zoom_from}–{history[-1].epoch}",))
    for fig, part, size in ((full, history, 3), (zoom, [s for s in history if s.epoch >= zoom_from], 5)):
        _path_traces(fig, part, cycle, history[-1].epoch, size)
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
        out.append(_lean(fig))
    return out[0], out[1]


def _path_traces(fig: go.Figure, part: Sequence, cycle: tuple[int, int] | None, last: int, size: int) -> None:
    """The path through the snapshots `part`: up to the cycle's onset, then the cycle once (closed)."""
    hover = "epoch %{customdata}<br>weight %{x:.5f}<br>bias %{y:.5f}<extra></extra>"
    pieces = [(part, hover, True)]
    if cycle is not None:
        onset, period = cycle
        before = [s for s in part if s.epoch <= onset]  # up to the cycle's first point, to join it
        loop = [s for s in part if s.epoch >= onset][:period + 1]  # once round, back to where it began
        loop = loop if len(loop) == period + 1 else [s for s in part if s.epoch >= onset]
        again = f"epoch %{{customdata}}, then every {period} epochs until the end (epoch {last})<br>"
        pieces = [(before, hover, True), (loop, again + "weight %{x:.5f}<br>bias %{y:.5f}<extra></extra>", not before)]
    for snaps, template, legend in pieces:
        if not snaps:
            continue
        fig.add_trace(go.Scatter(x=_f4([s.weight for s in snaps]), y=_f4([s.bias for s in snaps]),
                                 mode="lines+markers", name="path", legendgroup="path", showlegend=legend,
                                 line=dict(color=MODEL_COLOUR, width=1.5), marker=dict(size=size),
                                 hovertemplate=template, customdata=_ints([s.epoch for s in snaps])))


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
