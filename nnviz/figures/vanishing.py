"""Figures of the vanishing-gradient page."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nnviz.palette import OKABE_ITO

from .common import ANSWER_HEIGHT, _base
from .styles import style_of

# --- Vanishing gradients --------------------------------------------------------------------------

def line_name(s) -> str:
    """A line's legend entry names its activation and the init that drew its weights: "relu · He"."""
    return f"{s.act} · {s.init_label}" if s.init_label else s.act


def _legend_entry(fig: go.Figure, s, line: dict, marker: dict | None = None, **where) -> None:
    """The legend entry of an activation's line (drawn as its own trace, named by the activation alone, in the
    same legend group): "sigmoid · Xavier", so the init is named on the figure."""
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines+markers" if marker else "lines", name=line_name(s),
                             legendgroup=s.act, line=line, marker=marker or {}, hoverinfo="skip"), **where)


def _look(colour: str, width: float, size: int = 7) -> tuple[dict, dict]:
    """(line, marker) of an activation's line: its colour, and its own dash and marker (nnviz.figures.styles),
    the same as on the activation page."""
    dash, symbol = style_of(colour)
    return (dict(color=colour, width=width, dash=dash),
            dict(symbol=symbol, size=size, color=colour, line=dict(color="#ffffff", width=1)))


THEORY_WIDTH = 9  # px: the theory's pale band (a decoration) ...
THEORY_ALPHA = 0.25
THEORY_LINE = dict(width=2, dash="dot")  # ... and, on it, a dotted line in the activation's colour (>= 3:1 on white)


def _log_range(values: Sequence[float]) -> tuple[float, float]:
    """log10 axis range around the finite positive values, with room below for underflow marks."""
    pos = [v for v in values if v > 0 and v != float("inf")]
    lo, hi = (min(pos), max(pos)) if pos else (1e-10, 1.0)
    import math
    return math.log10(lo) - 1.0, math.log10(hi) + 0.7


def _marks(fig: go.Figure, xs: list, ys: list, colour: str, group: str, floor: float, ceil: float, dtype: str,
           row: int | None = None, col: int | None = None, label: str | None = None) -> None:
    """Underflow (exactly 0) and overflow (inf) points, drawn at the axis edges, never dropped. `group`: the
    legend group (the activation); `label`: the line's name (its legend entry)."""
    kw = dict(row=row, col=col) if row else {}
    label = label or group
    under = [x for x, y in zip(xs, ys) if y == 0.0]
    over = [x for x, y in zip(xs, ys) if y == float("inf") or y != y]
    if under:
        fig.add_trace(go.Scatter(x=under, y=[floor] * len(under), mode="markers", legendgroup=group,
                                 name=f"{label}: exactly 0", showlegend=True,
                                 marker=dict(symbol="triangle-down", size=13, color=colour, line=dict(color="black", width=1)),
                                 hovertemplate=f"{label}: the gradient is exactly 0 in {dtype} (it underflowed, "
                                               "or every unit in a layer passes no gradient)<extra></extra>"), **kw)
    if over:
        fig.add_trace(go.Scatter(x=over, y=[ceil] * len(over), mode="markers", legendgroup=group,
                                 name=f"{label}: overflow (inf or nan)",
                                 marker=dict(symbol="triangle-up", size=13, color=colour, line=dict(color="black", width=1)),
                                 hovertemplate=f"{label}: the gradient overflowed to inf in {dtype}<extra></extra>"), **kw)


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


def depth_figure(sweeps: Sequence, colours: dict, dtype: str, depth: int | None = None) -> go.Figure:
    """The headline: the first layer's weight-gradient norm against depth, one line per activation
    (geometric mean over seeds, band from the smallest to the largest seed), the theory's
    prediction dashed beside each (where the theory applies), and the chosen depth marked."""
    fig = go.Figure()
    every = [v for s in sweeps for row in s.first for v in row]
    lo, hi = _log_range(every)
    floor, ceil = 10 ** (lo + 0.3), 10 ** (hi - 0.2)
    theory_shown = False
    for s in sweeps:
        c = colours[s.act]
        line, marker = _look(c, 2.5)
        name = line_name(s)
        p = s.prediction
        if p is not None and p.reliable_to >= 2:
            keep = [(k, v) for k, v in enumerate(p.values[:p.reliable_to], start=1) if floor <= v <= ceil]
            if keep:
                xs, ys = [k for k, _ in keep], [v for _, v in keep]
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"{s.act}: theory band", legendgroup="theory",
                                         showlegend=False, line=dict(color=c, width=THEORY_WIDTH), opacity=THEORY_ALPHA,
                                         hoverinfo="skip"))
                fig.add_trace(go.Scatter(  # its activation's marker, hollow and sparse: not told apart by colour alone
                    x=xs, y=ys, mode="lines+markers", name=f"{s.act}: theory", legendgroup="theory", showlegend=False,
                    line=dict(color=c, **THEORY_LINE), marker=dict(symbol=marker["symbol"] + "-open", size=8, color=c,
                                                                   maxdisplayed=6),
                    hovertemplate=f"{name}, theory at depth %{{x}}: %{{y:.3e}}<extra></extra>"))
                theory_shown = True
        ok = [(d, m, min(r), max(r)) for d, m, r in zip(s.depths, s.first_mean, s.first)
              if 0 < m < float("inf")]
        if ok:
            d, m, mn, mx = map(list, zip(*ok))
            fig.add_trace(go.Scatter(x=d + d[::-1], y=mx + mn[::-1], fill="toself", fillcolor=c, opacity=0.18,
                                     line=dict(width=0), hoverinfo="skip", showlegend=False, legendgroup=s.act))
            fig.add_trace(go.Scatter(x=d, y=m, mode="lines+markers", name=s.act, legendgroup=s.act, showlegend=False,
                                     line=line, marker=marker,
                                     hovertemplate=f"{name}, depth %{{x}}: %{{y:.3e}}<extra></extra>"))
        _legend_entry(fig, s, line, marker)
        _marks(fig, s.depths, s.first_mean, c, s.act, floor, ceil, dtype, label=name)
    if theory_shown:  # one legend entry for every theory line (each in its activation's colour)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="theory", legendgroup="theory",
                                 line=dict(color="#555555", **THEORY_LINE), hoverinfo="skip"))
    _float32_floor(fig, lo, dtype)
    if depth is not None:
        fig.add_vline(x=depth, line=dict(color="#444", width=1.5, dash="dot"))
        fig.add_annotation(x=depth, y=0, yref="paper", yanchor="bottom", xanchor="left", showarrow=False,
                           text=f" depth {depth}: layer by layer below", font=dict(color="#333"),
                           bgcolor="rgba(255,255,255,0.8)")
    fig.update_yaxes(type="log", range=[lo, hi], title_text="‖∂loss/∂W₁‖ (first layer)",
                     exponentformat="power")
    fig.update_xaxes(title_text="depth (number of hidden layers)", range=[0, max(max(s.depths) for s in sweeps) + 1])
    fig = _base(fig, height=460)
    fig.update_layout(hovermode="closest")
    return fig


def _value(v: float, dtype: str) -> str:
    """A gradient norm as the summary says it: 3 significant digits, or why there is no number."""
    if v == 0.0:
        return f"exactly 0 ({dtype} underflow)"
    if v != v or v == float("inf"):
        return f"overflow ({dtype})"
    return f"{v:.2e}"


def summary_depth(sweeps: Sequence, dtype: str, seeds: int) -> str:
    """The headline's text alternative: for each line, the first layer's gradient norm at depth 1 and at the
    deepest depth drawn (the geometric mean over the seeds, as the line's points), and their ratio."""
    if not sweeps:
        return "Chart of the first layer's gradient against depth: no activation chosen."
    deepest = max(sweeps[0].depths)
    parts = []
    for s in sweeps:
        one, deep = s.first_mean[s.depths.index(1)], s.first_mean[s.depths.index(deepest)]
        ratio = (f" (× {deep / one:.1e})" if 0 < one < float("inf") and 0 < deep < float("inf") else "")
        parts.append(f"{line_name(s)} {_value(one, dtype)} at depth 1, {_value(deep, dtype)} at depth {deepest}{ratio}")
    return (f"Chart of the first layer's weight-gradient norm against depth, log scale, geometric mean over {seeds} "
            f"networks, {dtype}. First-layer gradient, depth 1 and depth {deepest}: " + "; ".join(parts) + ".")


def profile_figure(sweeps: Sequence, colours: dict, depth: int, dtype: str) -> go.Figure:
    """Each layer's weight-gradient norm at one depth, read from the output back to the input."""
    fig = go.Figure()
    every = [v for s in sweeps for v in s.profile_mean]
    lo, hi = _log_range(every)
    floor, ceil = 10 ** (lo + 0.3), 10 ** (hi - 0.2)
    layers = list(range(1, depth + 1))
    for s in sweeps:
        c = colours[s.act]
        line, marker = _look(c, 3)
        ok = [(layer, v) for layer, v in zip(layers, s.profile_mean) if 0 < v < float("inf")]
        if ok:
            fig.add_trace(go.Scatter(x=[k for k, _ in ok], y=[v for _, v in ok], mode="lines+markers",
                                     name=s.act, legendgroup=s.act, line=line, marker=marker, showlegend=False,
                                     hovertemplate=f"{line_name(s)}, layer %{{x}}: %{{y:.3e}}<extra></extra>"))
        _legend_entry(fig, s, line, marker)
        _marks(fig, layers, s.profile_mean, c, s.act, floor, ceil, dtype, label=line_name(s))
    _float32_floor(fig, lo, dtype)
    fig.update_yaxes(type="log", range=[lo, hi], title_text="‖∂loss/∂Wₗ‖", exponentformat="power")
    fig.update_xaxes(title_text="layer l (1 = input side; the backward pass runs from right to left)")
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
        line, marker = _look(colours[s.act], 3)
        marker = dict(marker, maxdisplayed=8)  # a few of its symbols along each line
        fig.add_trace(go.Scatter(x=layers, y=s.stats["dact_mean"], name=s.act, legendgroup=s.act, showlegend=False,
                                 mode="lines+markers", line=line, marker=marker), row=1, col=1)
        _legend_entry(fig, s, line, marker, row=1, col=1)
        fig.add_trace(go.Scatter(x=layers, y=[100 * v for v in s.stats["saturated"]], name=s.act, legendgroup=s.act,
                                 showlegend=False, mode="lines+markers", line=line, marker=marker), row=1, col=2)
    fig.update_xaxes(title_text="layer l (1 = input side)")
    fig.update_yaxes(title_text="mean |f'(z)|", row=1, col=1, rangemode="tozero")
    fig.update_yaxes(title_text="% of units", row=1, col=2, range=[0, 100])
    return _base(fig, height=380, titled=True)




# --- Reveal figures (nnviz.figures.answers): after a verdict, the chart that shows the answer ---------------

def _ok(xs: Sequence, ys: Sequence) -> list[tuple]:
    """The points of a log-axis line that can be drawn (finite and > 0; an underflowed 0 cannot)."""
    return [(x, y) for x, y in zip(xs, ys) if y is not None and 0 < y < float("inf")]


def _log_axis(fig: go.Figure, values: Sequence[float], title: str) -> None:
    lo, hi = _log_range(list(values) + [1.0])
    fig.update_yaxes(type="log", range=[lo + 0.5, hi + 0.3], title_text=title, exponentformat="power")


RATIO_TITLE = "gradient ÷ depth 1"  # the first layer's gradient norm over its value in a one-layer network


def _stack_figure(answer, per_layer: bool) -> go.Figure:
    """One activation's first-layer gradient against depth, over its value at depth 1 (log axis), the asked
    depth marked with the verdict's number; per_layer: with the straight line of one factor per layer."""
    import math
    sr = answer.series
    name, c, depth = f"{sr['act']} · {sr['init_label']}", sr["colour"], sr["depth"]
    fig = go.Figure()
    band = [(d, lo, hi) for d, lo, hi in zip(sr["depths"], sr["low"], sr["high"]) if lo > 0 and hi < float("inf")]
    if band:
        d, lo, hi = map(list, zip(*band))
        fig.add_trace(go.Scatter(x=d + d[::-1], y=hi + lo[::-1], fill="toself", fillcolor=c, opacity=0.18,
                                 line=dict(width=0), hoverinfo="skip", showlegend=False))
    pts = _ok(sr["depths"], sr["ratio"])
    fig.add_trace(go.Scatter(x=[x for x, _ in pts], y=[y for _, y in pts], mode="lines+markers", name=name,
                             line=dict(color=c, width=3), marker=dict(size=8), showlegend=False,
                             hovertemplate=f"{name}, depth %{{x}}: × %{{y:.2e}}<extra></extra>"))
    at = sr["ratio"][sr["depths"].index(depth)]
    fig.add_hline(y=1, line=dict(color="#555555", dash="dot", width=1.5))
    if per_layer:
        f = sr["per_layer"]
        xs = list(range(1, depth + 1))
        fig.add_trace(go.Scatter(x=xs, y=[f ** (k - 1) for k in xs], mode="lines", name="one factor per layer",
                                 line=dict(color="#1b1b1b", dash="dash", width=2), showlegend=False,
                                 hovertemplate=f"× {answer.shown} per layer, depth %{{x}}: × %{{y:.2e}}<extra></extra>"))
        label = f"<b>× {answer.shown} per layer</b><br>{answer.shown}^{depth - 1} = × {at:.2g}"
        dashed = f"<br>dashed: × {answer.shown} for every layer (a straight line on a log axis)"
    else:
        label, dashed = f"<b>depth {depth}: × {answer.shown}</b>", ""
    fig.add_trace(go.Scatter(x=[depth], y=[at], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(size=16, color=c, symbol="diamond", line=dict(color="#1b1b1b", width=2))))
    fig.add_annotation(x=depth, y=math.log10(at), text=label, showarrow=True, arrowhead=2, ax=24, ay=-50,
                       xanchor="left", yanchor="bottom", align="left", bgcolor="rgba(255,255,255,0.85)")
    init = (f"{sr['init_label']} init (made for {sr['act']})" if sr.get("matched") else f"{sr['init_label']} init")
    fig.add_annotation(x=0, y=0, xref="paper", yref="paper", xanchor="left", yanchor="bottom", showarrow=False,
                       text=f"{sr['act']}, {init}, mean of {sr['seeds']} networks{dashed}", align="left",
                       bgcolor="rgba(255,255,255,0.85)")
    _log_axis(fig, [v for _, v in pts] + [lo for _, lo, _ in band], RATIO_TITLE)
    fig.update_xaxes(title_text="depth (hidden layers)", range=[0, max(sr["depths"]) + 1])
    fig = _base(fig, height=ANSWER_HEIGHT)
    fig.update_layout(hovermode="closest", showlegend=False, margin=dict(t=12, b=4))  # no legend: the plot gets the room
    return fig


RELU_STYLE = {"default": (OKABE_ITO[1], "dot", "circle"), "xavier_normal": (OKABE_ITO[3], "dash", "square"),
              "kaiming_normal": (OKABE_ITO[2], "solid", "diamond")}  # colour, dash, marker: told apart without colour


def relu_inits_figure(answer) -> go.Figure:
    """ReLU under the three candidate inits on one chart, each line labelled with its init and its ratio at the
    asked depth; the right choice named."""
    import math
    sr = answer.series
    depth = sr["depth"]
    fig = go.Figure()
    every = []
    for i in sr["inits"]:
        cur = sr["curves"][i]
        pts = [(d, y) for d, y in _ok(cur["depths"], cur["ratio"]) if d <= depth]
        every += [y for _, y in pts]
        colour, dash, symbol = RELU_STYLE.get(i, ("#555555", "solid", "circle"))
        best = i == sr["best"]
        fig.add_trace(go.Scatter(x=[x for x, _ in pts], y=[y for _, y in pts], mode="lines+markers",
                                 name=f"{i} ({sr['labels'][i]})", showlegend=False,
                                 line=dict(color=colour, dash=dash, width=4 if best else 2.5),
                                 marker=dict(size=9, symbol=symbol),
                                 hovertemplate=f"{i}, depth %{{x}}: × %{{y:.2e}}<extra></extra>"))
        r = sr["at_depth"][i]
        fig.add_annotation(x=depth, y=math.log10(r), xanchor="left", yanchor="middle", showarrow=False, xshift=10,
                           text=(f"<b>{i} ({sr['labels'][i]}): × {r:.2g}, flat</b>" if best else
                                 f"{i} ({sr['labels'][i]}): × {r:.2g}"),
                           font=dict(color="#1b1b1b" if best else colour), bgcolor="rgba(255,255,255,0.85)")
    fig.add_hline(y=1, line=dict(color="#555555", dash="dot", width=1.5))
    _log_axis(fig, every, RATIO_TITLE)
    fig.update_xaxes(title_text=f"depth ({sr['act']} layers)", range=[0, depth * 1.95],
                     tickvals=[1] + list(range(10, depth + 1, 10)))
    fig = _base(fig, height=ANSWER_HEIGHT)
    fig.update_layout(hovermode="closest", showlegend=False, margin=dict(t=12, b=4))  # no legend: the plot gets the room
    return fig


# question id -> reveal figure builder (nnviz.figures.answers): the chart that shows its answer
ANSWER_FIGURES: dict = {
    "van-sigmoid-depth-30": lambda a: _stack_figure(a, per_layer=False),
    "van-sigmoid-per-layer": lambda a: _stack_figure(a, per_layer=True),
    "van-relu-flat-init": relu_inits_figure,
}
