"""Figures of the regression page."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from ..palette import OKABE_ITO
from .common import ANSWER_HEIGHT, _base
from .styles import TEST, TRAIN

# --- Live linear regression ----------------------------------------------------------------------

TRAIN_COLOUR, TEST_COLOUR, MODEL_COLOUR = OKABE_ITO[0], OKABE_ITO[4], OKABE_ITO[1]  # the shared palette's
LOSS_DASH = {"train loss": TRAIN[0], "test loss": TEST[0]}  # train solid, test dashed: as on every page
PANEL_HEIGHT = 362  # px: one panel of a two-panel chart (side by side, or stacked on a phone); in
# presentation mode 10 % taller less what a lesson panel above reserves: on a 1024x768 projector the chart
# must fit the first screen (page default: 346 px from y = 416) with >= 150 px of plot (tour step: 306 px)
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
                    points: int = FINAL_POINTS, earlier: dict | None = None) -> tuple[go.Figure, go.Figure]:
    """The training chart's two panels, as two figures (so that a page can put them in two columns,
    which stack full width on a phone instead of squeezing two plots into one narrow figure).

    First: train and test loss against epoch (log scale) over epochs 0 to `epochs` - 1 (the whole run
    while it trains, the epochs it ran once it stopped); `bands` maps each loss to (epochs, upper,
    lower) and a loss whose edges differ (two phases) is drawn as a band between them, one legend entry
    per loss; the train loss on top. Each line is cut to about `points` points (decimate(): the
    envelope is kept), sent as typed arrays. `loss_range`: (lo, hi) for the loss axis while there is
    nothing to draw on it. `earlier`: an earlier run on the same data and loss, drawn faint under the
    others: {"label": legend name, "about": what it was, "band": (epochs, upper, lower) of its train loss}.
    Second: the data, the true line and the model's line (w, b) = `line`, trained or not yet."""
    return _loss_figure(bands, epochs, loss_range, points, earlier), _line_figure(data, true_line, line, trained)


def _last(band: tuple) -> tuple[int, str] | None:
    """(epoch, value as the summary says it) of a loss line's last point; a band's two edges as a range."""
    x, upper, lower = band
    if len(x) == 0:
        return None
    hi, lo = float(np.float32(upper[-1])), float(np.float32(lower[-1]))  # float32: as the chart draws it
    return int(x[-1]), (f"{hi:.3g}" if f"{hi:.3g}" == f"{lo:.3g}" else f"between {lo:.3g} and {hi:.3g}")


def summary_training(bands: dict, line: tuple[float, float], true_line: tuple[float, float],
                     trained: bool, points: int = FINAL_POINTS) -> tuple[str, str]:
    """The two training panels' text alternatives (training_figure's arguments), from what they draw: each loss
    at the first and the last epoch drawn (the lines' ends), and the model's line against the true line."""
    parts = []
    for name in ("train loss", "test loss"):
        band = decimate(*bands.get(name, ([], [], [])), points)
        first, last = _last(tuple(v[:1] for v in band)), _last(band)
        if first is not None and last is not None:
            parts.append(f"{name} {first[1]} at epoch {first[0]}, {last[1]} at epoch {last[0]}")
    loss = ("Chart of the train and test loss against epoch, log scale: " + "; ".join(parts) + "."
            if parts else "Chart of the loss against epoch: empty until you press Train.")
    w, b = line
    model = (f"Chart of the data and the {'trained' if trained else 'untrained'} model's line y = {w:.4f}x + {b:.4f}, "
             f"against the true line y = {true_line[0]:g}x + {true_line[1]:g}.")
    return loss, model


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


EARLIER_COLOUR = "#6b6b6b"  # the earlier run: grey, dotted, under this run's lines


def _loss_figure(bands: dict, epochs: int, loss_range: tuple[float, float] | None, points: int,
                 earlier: dict | None = None) -> go.Figure:
    fig = go.Figure()  # no title: the axes say what it is, and a narrow panel keeps its height for the plot
    last = max(epochs - 1, 1)
    if earlier is not None:
        x, upper, lower = decimate(*earlier["band"], points)
        keep = x <= last  # the axis spans this run's epochs; the rest of a longer earlier run is cut
        x, upper, lower = _ints(x[keep]), _positive(upper[keep]), _positive(lower[keep])
        hover = f"{earlier['about']}: %{{y:.3g}}<extra></extra>"
        if not np.array_equal(upper, lower, equal_nan=True):
            fig.add_trace(go.Scatter(x=x, y=lower, name=f"{earlier['label']}, lower", mode="lines", showlegend=False,
                                     legendgroup="earlier", hovertemplate=hover,
                                     line=dict(color=EARLIER_COLOUR, width=1.5, dash="dot")))
        fig.add_trace(go.Scatter(x=x, y=upper, name=earlier["label"], mode="lines", legendgroup="earlier",
                                 hovertemplate=hover, legendrank=1001,  # last in the legend, though drawn first
                                 line=dict(color=EARLIER_COLOUR, width=2, dash="dot"),
                                 opacity=0.8))
    for name, colour in (("test loss", TEST_COLOUR), ("train loss", TRAIN_COLOUR)):  # train drawn last, on top
        x, upper, lower = decimate(*bands.get(name, ([], [], [])), points)
        same = np.array_equal(upper, lower, equal_nan=True)
        x, upper, lower = _ints(x), _positive(upper), _positive(lower)
        if same:
            fig.add_trace(go.Scatter(x=x, y=upper, name=name, mode="lines",
                                     line=dict(color=colour, width=2.5, dash=LOSS_DASH[name])))
            continue
        # two phases: one band from the lower to the upper, under one legend entry (its swatch is the band)
        fig.add_trace(go.Scatter(x=x, y=lower, name=f"{name}, lower phase", mode="lines",
                                 legendgroup=name, showlegend=False,
                                 line=dict(color=colour, width=1.5, dash=LOSS_DASH[name]),
                                 hovertemplate=f"{name}, lower phase: %{{y:.3g}}<extra></extra>"))
        # told apart by more than colour where the two bands overlap: the test band hatched, the train band solid
        fill = (dict(fillcolor=_rgba(colour, 0.1), fillpattern=dict(shape="/", fgcolor=colour, size=7, solidity=0.3))
                if name == "test loss" else dict(fillcolor=_rgba(colour, 0.3)))
        fig.add_trace(go.Scatter(x=x, y=upper, name=name, mode="lines", legendgroup=name, fill="tonexty",
                                 line=dict(color=colour, width=1.5, dash=LOSS_DASH[name]), **fill,
                                 hovertemplate=f"{name}, upper phase: %{{y:.3g}}<extra></extra>"))
    fig.update_xaxes(title_text="epoch", range=[0, last])
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
    # no gap between legend groups (a band's two traces are one group): two rows of legend fit PANEL_TOP
    fig.update_layout(hovermode="closest", margin_t=PANEL_TOP, margin_b=0, legend_tracegroupgap=0)
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


# --- Reveal figures (nnviz.figures.answers): drawn from a question's Answer only ----------------------

def first_grad_figure(answer) -> go.Figure:
    """reg-first-grad(-mse): each training point's share of weight.grad after the first loss.backward()
    (autograd's d loss / d prediction times its x), as bars; their sum, the answer, written on the figure
    beside the loop's line."""
    x, share = answer.series["x"], answer.series["share"]
    fig = go.Figure(go.Bar(x=_f4(x), y=_f4(share), marker_color=MODEL_COLOUR, name="share of weight.grad",
                           width=0.8 * (max(x) - min(x)) / max(len(x) - 1, 1) if len(x) > 1 else 0.02,
                           hovertemplate="point at x = %{x:.2f}: adds %{y:.4f} to weight.grad<extra></extra>"))
    lo, hi = min(0.0, min(share)), max(0.0, max(share))
    span = (hi - lo) or 1.0
    fig.update_yaxes(range=[lo - 0.05 * span, hi + 0.75 * span],  # the top: room for the answer's text
                     title_text="share", zeroline=True, zerolinecolor="#888")
    fig.update_xaxes(title_text="x of each training point")
    fig.add_annotation(
        text=(f"<b>loss.backward()</b>  →  <b>weight.grad = {answer.shown}</b><br>"
              f"the sum of these {len(x)} bars, each one training point's share ({answer.series['loss']})"),
        xref="x domain", yref="y domain", x=0.01, y=0.98, xanchor="left", yanchor="top", showarrow=False,
        align="left", bgcolor="rgba(255,255,255,0.85)")
    return _answer_layout(fig)


def weight_after_figure(answer) -> go.Figure:
    """reg-weight-after-100: the weight after each epoch of the run (0 epochs: the start), the true weight
    marked, the lowest point, and the answer written above the last point."""
    done, weight, true = answer.series["epochs_done"], answer.series["weight"], answer.series["true_weight"]
    fig = go.Figure(go.Scatter(x=_ints(done), y=_f4(weight), mode="lines", name="weight",
                               line=dict(color=MODEL_COLOUR, width=3),
                               hovertemplate="after %{x} epochs: %{y:.4f}<extra></extra>"))
    fig.add_hline(y=true, line=dict(color="#555", dash="dot", width=2))
    lo, hi = min(min(weight), true), max(max(weight), true)
    pad = 0.15 * ((hi - lo) or 1.0)
    fig.update_yaxes(range=[lo - 2.5 * pad, hi + 2 * pad], title_text="weight")  # room for the labels
    fig.update_xaxes(title_text="epochs done", range=[-0.01 * done[-1], 1.01 * done[-1]])
    fig.add_annotation(text=f"true weight {true:g}", x=0.45, xref="x domain", y=true, yref="y", yanchor="bottom",
                       showarrow=False)
    low = min(range(len(weight)), key=lambda i: weight[i])
    if 0 < low < len(weight) - 1:  # a dip before the end
        fig.add_annotation(text=f"lowest {weight[low]:.4f} after {done[low]} epochs", x=done[low], y=weight[low],
                           yanchor="top", yshift=-4, showarrow=False)
    fig.add_annotation(text=f"after {done[-1]} epochs: weight = {answer.shown}", x=done[-1], y=weight[-1],
                       showarrow=True, arrowhead=2, ax=-4, ay=-58, axref="pixel", ayref="pixel", xanchor="right",
                       yanchor="bottom", bgcolor="rgba(255,255,255,0.85)")
    return _answer_layout(fig)


def _answer_layout(fig: go.Figure) -> go.Figure:
    """A reveal figure's layout: ANSWER_HEIGHT, no legend (the text is on the plot), and no top margin to
    keep for one, so on a projector under the verdict its one panel keeps >= 150 px of plot."""
    fig = _base(fig, height=ANSWER_HEIGHT)
    fig.update_layout(showlegend=False, hovermode="closest", margin_t=12)
    return _lean(fig)


# question id -> reveal figure builder (nnviz.figures.answers): the chart that shows its answer
ANSWER_FIGURES: dict = {"reg-first-grad": first_grad_figure, "reg-first-grad-mse": first_grad_figure,
                        "reg-weight-after-100": weight_after_figure}
