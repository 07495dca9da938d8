"""The Deep training page's reveal figures: {question id: builder(answer) -> go.Figure} (nnviz.figures.answers),
each drawn from the Answer's numbers and series only, with the verdict's value (`answer.shown`) written on it."""
from __future__ import annotations

import math
from typing import Sequence

import plotly.graph_objects as go

from nnviz.palette import GREY, OKABE_ITO

from .common import ANSWER_HEIGHT, INK, _base

NOTE = dict(size=13, color=INK)  # annotation font (for_projector enlarges it)
BOX = "rgba(255,255,255,0.85)"  # behind an annotation that may sit over a grid line or a curve
FIX_STYLE = {"residual": (OKABE_ITO[2], "dash", "square"), "batchnorm": (OKABE_ITO[0], "solid", "circle"),
             "layernorm": (OKABE_ITO[1], "dot", "diamond")}  # colour, dash, marker: told apart without colour


def _answer_base(fig: go.Figure) -> go.Figure:
    """The reveal figures' layout: the normal answer height, no legend (the lines are labelled on the plot)."""
    _base(fig, height=ANSWER_HEIGHT)
    fig.update_layout(hovermode="closest", showlegend=False, margin=dict(t=12, b=4))
    return fig


def _note(fig: go.Figure, text: str, corner: str = "bottom left") -> None:
    """A line of context in a corner of the plot that the curves leave empty."""
    top, right = corner.startswith("top"), corner.endswith("right")
    fig.add_annotation(x=1 if right else 0, y=1 if top else 0, xref="paper", yref="paper",
                       xanchor="right" if right else "left", yanchor="top" if top else "bottom", showarrow=False,
                       text=text, align="right" if right else "left", font=NOTE, bgcolor=BOX)


def _log_range(values: Sequence[float], below: float = 0.6, above: float = 0.6) -> list[float]:
    """A log10 axis range around the finite positive values."""
    pos = [v for v in values if v is not None and 0 < v < math.inf]
    lo, hi = (min(pos), max(pos)) if pos else (1e-3, 1.0)
    return [math.log10(lo) - below, math.log10(hi) + above]


def first_layer_figure(a) -> go.Figure:
    """deep-first-layer-gradient: every hidden layer's gradient norm at epoch 0 on a log axis, input layer first;
    layer 1 and the last hidden layer marked, their ratio (the verdict's number) written at layer 1, and the
    straight line of one average factor per layer."""
    s = a.series
    layers, grad, c = s["layers"], s["grad"], s["colour"]
    depth = layers[-1]
    pts = [(x, y) for x, y in zip(layers, grad) if 0 < y < math.inf]
    fig = go.Figure()
    per = s["per_layer"]
    fig.add_trace(go.Scatter(x=layers, y=[s["last"] * per ** (depth - k) for k in layers], mode="lines",
                             line=dict(color=INK, dash="dash", width=1.5), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[x for x, _ in pts], y=[y for _, y in pts], mode="lines+markers",
                             line=dict(color=c, width=3), marker=dict(size=8),
                             hovertemplate="layer %{x}: gradient norm %{y:.3g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[1, depth], y=[s["first"], s["last"]], mode="markers", hoverinfo="skip",
                             marker=dict(size=16, color=c, symbol="diamond", line=dict(color=INK, width=2))))
    decades = abs(math.log10(s["ratio"]))
    # the answer in the corner the rising line leaves empty (over the line it sat under the top-left note)
    _note(fig, f"<b>layer 1 ÷ layer {depth} = {a.shown}</b><br>{decades:.1f} orders of magnitude", "bottom right")
    fig.add_annotation(x=depth, y=math.log10(s["last"]), ax=-20, ay=40, showarrow=True, arrowhead=2,
                       xanchor="right", font=NOTE, bgcolor=BOX, text=f"layer {depth}: {s['last']:.2g}")
    _note(fig, f"{s['label']}, epoch 0 (before any step)<br>dashed: × {per:.3g} per layer, back from layer {depth}",
          "top left")
    _answer_base(fig)
    fig.update_xaxes(title_text="hidden layer (1 = next to the input)", range=[0.3, depth + 0.7])
    fig.update_yaxes(title_text="‖dloss/dW‖ (log)", type="log", exponentformat="power",  # (epoch 0: in the note)
                     range=_log_range([y for _, y in pts], below=1.2))
    return fig


def loss_fall_figure(a) -> go.Figure:
    """deep-relu-he-fall: the run's training loss (and test loss) over the epochs, the fall written at its end. The key
    has the band above the curves and the answer the rows under it, over the flat end of the curves, so that on a
    projector (larger type, a shorter plot) or a phone the answer is not drawn under the key."""
    s = a.series
    ep, train, test = s["epoch"], s["train"], s["test"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ep, y=test, mode="lines", line=dict(color=GREY, dash="dash", width=2),
                             hovertemplate="test loss, epoch %{x}: %{y:.3g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=ep, y=train, mode="lines+markers", line=dict(color=s["colour"], width=3),
                             marker=dict(size=6), hovertemplate="training loss, epoch %{x}: %{y:.3g}<extra></extra>"))
    fig.add_hline(y=train[0], line=dict(color=INK, dash="dot", width=1.5))
    top = max(v for v in train + test if math.isfinite(v))
    ceiling = 1.5 * top  # the curves stay under two thirds of the plot's height; the key goes above them
    # the key in the top left corner; the answer right-aligned in the rows under it (side by side they overlap on a
    # phone), where the curves have flattened near 0, over the dotted line's right end; its arrow down to the last epoch
    _note(fig, f"{s['label']} · solid: training loss<br>dashed: test loss · dotted: where it started", "top left")
    fig.add_annotation(x=ep[-1], y=train[-1], ax=ep[-1], ay=0.7 * ceiling, axref="x", ayref="y", showarrow=True,
                       arrowhead=2, xanchor="right", yanchor="top", align="right", font=NOTE, bgcolor=BOX,
                       text=f"<b>falls by {a.shown}%</b><br>{train[0]:.3g} at epoch 0 → {train[-1]:.3g} at epoch {ep[-1]}")
    _answer_base(fig)
    fig.update_xaxes(title_text="epoch", range=[-ep[-1] * 0.02, ep[-1] * 1.03])
    fig.update_yaxes(title_text="loss", range=[0, ceiling])
    return fig


def fixes_figure(a) -> go.Figure:
    """deep-which-fix-fails: each fix's training loss as a share of its first value (log axis), labelled with its
    fall at the right end; the one that stays flat named in bold."""
    s = a.series
    fig = go.Figure()
    every = []
    for f in s["fixes"]:
        ep, loss = s["epoch"][f], s["loss"][f]
        rel = [100 * v / loss[0] if math.isfinite(v) else None for v in loss]
        every += [v for v in rel if v is not None]
        colour, dash, symbol = FIX_STYLE.get(f, (GREY, "solid", "circle"))
        stuck = f == s["stuck"]
        fig.add_trace(go.Scatter(x=ep, y=rel, mode="lines+markers", line=dict(color=colour, dash=dash,
                                                                              width=4 if stuck else 2.5),
                                 marker=dict(size=7, symbol=symbol),
                                 hovertemplate=f"{s['labels'][f]}, epoch %{{x}}: %{{y:.3g}}% of the first loss"
                                               "<extra></extra>"))
        fall = s["fall"][f]
        said = f"fell {fall:.3g}%" if math.isfinite(fall) else "blew up"
        last = next((v for v in reversed(rel) if v is not None), None)
        if last is not None:
            fig.add_annotation(x=ep[len(rel) - 1 - rel[::-1].index(last)], y=math.log10(last), xanchor="left",
                               yanchor="middle", showarrow=False, xshift=8, bgcolor=BOX,
                               font=dict(size=NOTE["size"], color=INK if stuck else colour),
                               text=f"<b>{f}: {said}, stuck</b>" if stuck else f"{f}: {said}")
    fig.add_hline(y=100 - s["threshold"], line=dict(color=INK, dash="dot", width=1.5))
    _note(fig, f"sigmoid, PyTorch default init, one fix each<br>dotted: a fall of {s['threshold']:g}% "
               "(above it: nearly flat)")
    _answer_base(fig)
    end = max(max(s["epoch"][f]) for f in s["fixes"])
    fig.update_xaxes(title_text="epoch", range=[-end * 0.02, end * 1.55])
    fig.update_yaxes(title_text="training loss, % of its first value", type="log", range=_log_range(every + [100]),
                     ticksuffix="%")
    return fig


def clip_figure(a) -> go.Figure:
    """deep-clip-global-norm: each Linear's weight-gradient norm at epoch 0 (bars, log axis) and the max norm,
    with the global norm (the verdict's number) and what clipping multiplies every gradient by."""
    s = a.series
    names, grad, total, m = s["names"], s["grad"], s["total"], s["max_norm"]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[g if g > 0 else None for g in grad], marker=dict(color=OKABE_ITO[1]),
                         hovertemplate="layer %{x}: ‖dloss/dW‖ = %{y:.3g}<extra></extra>"))
    fig.add_hline(y=m, line=dict(color=INK, dash="dash", width=2))
    fig.add_annotation(x=names[0], y=math.log10(m), yanchor="top", xanchor="left", showarrow=False, font=NOTE,
                       bgcolor=BOX, text=f"max norm {m:g}")
    scaled = (f"clipped: every gradient × {m / total:.2g}" if total > m else "not above the max norm: not clipped")
    if not s["clip"]:
        scaled += " (clipping is off here)"
    fig.add_annotation(x=0.5, y=1, xref="paper", yref="paper", xanchor="center", yanchor="top", showarrow=False,
                       font=NOTE, bgcolor=BOX, align="center",
                       text=f"<b>global gradient norm at epoch 0: {a.shown}</b><br>{scaled}")
    _answer_base(fig)
    fig.update_xaxes(title_text="layer (out: the output layer)", type="category")
    fig.update_yaxes(title_text="‖dloss/dW‖ at epoch 0", type="log", exponentformat="power",
                     range=_log_range(list(grad) + [m, total], below=0.8, above=1.4))
    return fig


def dead_figure(a) -> go.Figure:
    """deep-dead-after-training: the share of dead hidden units over training, its start and its end (the
    verdict's number) marked."""
    s = a.series
    ep, dead = s["epoch"], s["dead"]
    c = OKABE_ITO[1]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ep, y=dead, mode="lines+markers", line=dict(color=c, width=3), marker=dict(size=6),
                             hovertemplate="epoch %{x}: %{y:.3g}% of the hidden units dead<extra></extra>"))
    fig.add_trace(go.Scatter(x=[ep[0], ep[-1]], y=[dead[0], dead[-1]], mode="markers", hoverinfo="skip",
                             marker=dict(size=15, color=c, symbol="diamond", line=dict(color=INK, width=2))))
    fig.add_annotation(x=ep[-1], y=dead[-1], ax=-30, ay=50, showarrow=True, arrowhead=2, xanchor="right",
                       font=NOTE, bgcolor=BOX, text=f"<b>{a.shown}% dead</b> at epoch {ep[-1]}")
    # the start's label level with it, right of the steep first rise (below it, a short projector plot put it
    # under the note); the note in the band above 100 %, which no share of dead units reaches
    fig.add_annotation(x=ep[0], y=dead[0], ax=40, ay=0, showarrow=True, arrowhead=2, xanchor="left",
                       font=NOTE, bgcolor=BOX, text=f"{s['start']:.3g}% at epoch 0")
    _note(fig, f"{s['label']}: a unit is dead when its input<br>z ≤ 0 for every training input", "top left")
    _answer_base(fig)
    fig.update_xaxes(title_text="epoch", range=[-ep[-1] * 0.03, ep[-1] * 1.03])
    # no "(%)" in the title (the ticks say it): the whole title fits beside a projector's short plot
    ticks = range(0, 101, 25)  # none above 100 %, where the note is
    fig.update_yaxes(title_text="hidden units dead", range=[0, 135], tickvals=list(ticks),
                     ticktext=[f"{v}%" for v in ticks])
    return fig


# question id -> reveal figure builder (nnviz.figures.answers): the chart that shows its answer
ANSWER_FIGURES: dict = {
    "deep-first-layer-gradient": first_layer_figure,
    "deep-relu-he-fall": loss_fall_figure,
    "deep-which-fix-fails": fixes_figure,
    "deep-clip-global-norm": clip_figure,
    "deep-dead-after-training": dead_figure,
}
