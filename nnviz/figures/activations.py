"""Figures of the activation page: f(x) and f'(x) with the slope at the inspected point written on the figure,
and the reveal figures of the page's questions (ANSWER_FIGURES)."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import ANSWER_HEIGHT, INK, _base
from .styles import DASHES, style

from ..activations import ACTIVATIONS, Curve, PointValue

# The strip (normal view): two marks of the same weight, told apart by their pattern. Where f'(x) is exactly 0
# a unit with that input passes no gradient back: it is inactive for that input (dead only if every input it
# gets lies there, which one input cannot show); where 0 < |f'(x)| < threshold a little gradient still passes.
ZERO_PATTERN = "x"  # cross-hatched: f'(x) == 0
HATCH = "/"  # hatched: 0 < |f'(x)| < threshold
ZERO_KEY = "f' = 0: inactive for this input"
# Lines are told apart by dash and marker as well as colour, each function's own on every page (nnviz.figures.styles:
# keyed by its colour); the first drawn (underneath) is the widest, so a curve that lies on an earlier one (LeakyReLU
# on ReLU for x > 0) leaves the earlier one visible around its dashes.
MARKS = 9  # markers along each curve: its symbol, a few per panel (the line itself has every point)
BOUNDED = 1.5  # |f(x)| below this on the whole range: a squashing function (sigmoid, tanh, softsign, hardtanh)
CLIP_SPAN = 0.75  # f(x)'s y axis goes this many of the squashing functions' spans beyond them, when it is cut
X0_GAP = 10.0  # px of gap between the dotted line and the slopes written at it


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _index(name: str) -> int:
    return list(ACTIVATIONS).index(name)  # the colour's index (nnviz.activations hands colours out in this order)


def line_style(i: int, compact: bool = False, name: str | None = None) -> dict:
    """The i-th shown function's line: the function's own dash (nnviz.figures.styles; by position where no name is
    given), and a width that falls with i (the first lies underneath). Not simplified: plotly's simplification
    turns a wide smooth curve into visible straight segments."""
    top = 5.0 if compact else 4.0
    dash = style(_index(name))[0] if name is not None else DASHES[i % len(DASHES)]
    return dict(dash=dash, width=max(2.0, top - 1.0 * i), simplify=False)


def marker_style(name: str, compact: bool = False) -> dict:
    """The function's own marker symbol, MARKS of them along its curve (white-edged, so they show on a line)."""
    return dict(symbol=style(_index(name))[1], size=10 if compact else 8, color=ACTIVATIONS[name].colour,
                maxdisplayed=MARKS, line=dict(color="#ffffff", width=1))


def f_range(curves: Sequence[Curve]) -> tuple[list[float] | None, float | None, float | None]:
    """f(x)'s y range: None (everything) unless unbounded functions (ReLU's 6 at x = 6) would flatten the
    squashing ones (sigmoid's 0 to 1); then cut CLIP_SPAN of their span beyond them. Returns (range, the
    highest value cut off or None, the lowest value cut off or None)."""
    ys = [v for c in curves for v in c.y]
    lo, hi = min(ys), max(ys)
    bounded = [c for c in curves if max(abs(v) for v in c.y) < BOUNDED]
    if not bounded:
        return None, None, None
    blo, bhi = min(min(c.y) for c in bounded), max(max(c.y) for c in bounded)
    span = max(bhi - blo, 1.0)
    if hi - lo <= 2.5 * span:
        return None, None, None
    top, bottom = min(hi, bhi + CLIP_SPAN * span), max(lo, blo - CLIP_SPAN * span)
    pad = 0.05 * (top - bottom)
    return [bottom - pad, top + pad], (hi if hi > top else None), (lo if lo < bottom else None)


def _peak_labels(fig: go.Figure, curves: Sequence[Curve], xmin: float, xmax: float, yspan: float,
                 row: int, col: int, arm: int = 100) -> None:
    """A boxed label at each single peak of f', on a long arrow out to the side, where a bell-shaped
    slope has already fallen away (so the box does not sit on the curves); peaks close together
    get their labels stacked so that no two labels overlap."""
    span = xmax - xmin
    peaks = sorted((c for c in curves if c.peak_from == c.peak_to), key=lambda c: (c.peak_from, -c.peak))
    placed: list[tuple[float, float]] = []
    for c in peaks:
        x = c.peak_from
        k = sum(1 for px, py in placed if abs(px - x) < 0.12 * span and abs(py - c.peak) < 0.15 * yspan)
        placed.append((x, c.peak))
        right = (x - xmin) < 0.3 * span  # near the left edge the label goes to the right
        colour = ACTIVATIONS[c.name].colour
        fig.add_trace(go.Scatter(
            x=[x], y=[c.peak], mode="markers", name=f"max {c.name}'", legendgroup=c.name, showlegend=False,
            marker=dict(color=colour, size=11, symbol="diamond", line=dict(color="#ffffff", width=1)),
            hovertemplate=f"largest {c.name}' = %{{y:.4f}} at x = %{{x:.3f}}<extra></extra>",
        ), row=row, col=col)
        fig.add_annotation(
            x=x, y=c.peak, text=f"max {c.peak:.3g}", showarrow=True, arrowhead=0, arrowcolor=colour,
            ax=(arm if right else -arm) + (20 if right else -20) * k, ay=-14 - 30 * k,
            xanchor="left" if right else "right", font=dict(color="#222222"),
            bgcolor="rgba(255,255,255,0.92)", bordercolor=colour, borderwidth=1.5, borderpad=2,
            row=row, col=col,
        )


def _slope(v: float) -> str:
    return f"{v:.3g}"


def slope_text(point: PointValue) -> str:
    """A function's slope at the inspected point as the figure writes it: "relu' = 0"."""
    return f"{point.name}' = {_slope(point.dy)}"


def activation_figure(curves: Sequence[Curve], x0: float | None = None, threshold: float | None = None,
                      height: int | None = None, points: Sequence[PointValue] = (),
                      compact: bool = False) -> go.Figure:
    """f(x) and f'(x) by autograd, each on its own scale, with each single peak of f' labelled, the dotted
    line at x = x0 and every function's f'(x0) (from `points`) written on the figure.

    Normal view: three rows on one x axis (f, f', and a strip showing where the gradient is lost:
    cross-hatched where f'(x) is exactly 0, hatched where 0 < |f'(x)| < threshold), the slopes at x0 written
    in the strip's rows at the dotted line. compact (a projector): f and f' side by side in one row, so each
    keeps its height, and the slopes at x0 stacked beside the f' panel; no strip."""
    n = max(len(curves), 1)
    xmin = min((c.x[0] for c in curves), default=0.0)
    xmax = max((c.x[-1] for c in curves), default=1.0)
    if compact:
        height = height or 470
        fig = make_subplots(rows=1, cols=2, column_widths=[0.4, 0.6], horizontal_spacing=0.1)
        f_at, df_at = (1, 1), (1, 2)
    else:
        height = height or 560 + 26 * n
        strip = (26 * n + 14) / height  # the strip's share: one bar row per function
        fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.035,
                            row_heights=[0.47 * (1 - strip), 0.53 * (1 - strip), strip])
        f_at, df_at = (1, 1), (2, 1)
    small_label = "0 < |f'| small" if threshold is None else f"0 < |f'| < {threshold:g}"
    at_x0 = {p.name: p for p in points}
    for i, c in enumerate(curves):
        colour = ACTIVATIONS[c.name].colour
        look = dict(mode="lines+markers", line=dict(color=colour, **line_style(i, compact, c.name)),
                    marker=marker_style(c.name, compact))
        # compact: one legend entry per function, beside the f' panel, that is also its slope at x0
        key = slope_text(at_x0[c.name]) if compact and c.name in at_x0 else c.name if compact else None
        fig.add_trace(go.Scatter(
            x=c.x, y=c.y, name=f"{c.name}(x)", legendgroup=c.name, **look,
            hovertemplate=f"{c.name}(x) = %{{y:.4f}}<extra></extra>", showlegend=not compact,
        ), row=f_at[0], col=f_at[1])
        fig.add_trace(go.Scatter(
            x=c.x, y=c.dy, name=key or f"{c.name}'(x)", legendgroup=c.name, showlegend=compact, **look,
            hovertemplate=f"{c.name}'(x) = %{{y:.4f}}<extra></extra>",
        ), row=df_at[0], col=df_at[1])
        if compact:
            continue
        for kind, runs in (("zero", c.zero), ("small", c.small)):
            runs = [(lo, hi) for lo, hi in runs if hi > lo]  # a single grid point is no visible bar
            if not runs:
                continue
            zero = kind == "zero"
            what = ("f'(x) = 0 exactly: no gradient passes back for these inputs (inactive for them)" if zero
                    else f"{small_label}: small, but some gradient passes")
            fig.add_trace(go.Bar(
                y=[c.name] * len(runs), x=[hi - lo for lo, hi in runs], base=[lo for lo, _ in runs],
                orientation="h", name=f"{c.name}: f' = 0" if zero else f"{c.name}: small", legendgroup=c.name,
                showlegend=False,
                marker=dict(color=_rgba(colour, 0.22), line=dict(color=colour, width=1.5),
                            pattern=dict(shape=ZERO_PATTERN if zero else HATCH, fgcolor=colour, size=8,
                                         solidity=0.35)),
                customdata=[[lo, hi] for lo, hi in runs],
                hovertemplate=f"{c.name}: {what}, x in [%{{customdata[0]:.2f}}, %{{customdata[1]:.2f}}]"
                              "<extra></extra>",
            ), row=3, col=1)
    if not compact:  # the strip's key: two legend entries in neutral grey, cross-hatched against hatched
        for zero in (True, False):
            fig.add_trace(go.Bar(
                y=[None], x=[None], orientation="h", showlegend=True,  # no legendgroup: one legend row
                name=ZERO_KEY if zero else small_label,
                marker=dict(color="rgba(85,85,85,0.22)", line=dict(color="#555555", width=1.5),
                            pattern=dict(shape=ZERO_PATTERN if zero else HATCH, fgcolor="#555555", size=8,
                                         solidity=0.35)),
                hoverinfo="skip",
            ), row=3, col=1)
    lo = min([0.0] + [min(c.dy) for c in curves])
    hi = max([1e-9] + [max(c.dy) for c in curves])
    pad = 0.08 * (hi - lo)
    _peak_labels(fig, curves, xmin, xmax, hi - lo, *df_at, arm=80 if compact else 100)
    if x0 is not None:
        fig.add_vline(x=x0, line=dict(color="#555555", width=1.5, dash="dot"), row="all", col="all")
        _slopes_at(fig, points, x0, xmin, xmax, compact, df_at)
    yrange, cut_top, cut_bottom = f_range(curves) if curves else (None, None, None)
    fig.update_yaxes(title_text="f(x)", row=f_at[0], col=f_at[1], zeroline=True, zerolinecolor="#767676",
                     range=yrange)
    if yrange is not None:  # say that the axis is cut, and how far the cut curves go
        # top left and bottom right: where the cut (unbounded) curves are not, beside the squashing ones
        for value, x, y, side, anchor, arrow in ((cut_top, xmin, yrange[1], "left", "top", "↑"),
                                                 (cut_bottom, xmax, yrange[0], "right", "bottom", "↓")):
            if value is not None:
                fig.add_annotation(x=x, y=y, xanchor=side, yanchor=anchor, showarrow=False,
                                   text=f"{arrow} cut: on to {value:.3g}", font=dict(color=INK, size=12),
                                   bgcolor="rgba(255,255,255,0.85)", row=f_at[0], col=f_at[1])
    fig.update_yaxes(title_text="f'(x)", row=df_at[0], col=df_at[1], zeroline=True, zerolinecolor="#767676",
                     range=[lo - pad, hi + 4 * pad])  # headroom above the highest peak for its label
    if compact:
        fig.update_xaxes(title_text="x", range=[xmin, xmax], row=1)
    else:
        fig.update_yaxes(row=3, col=1, categoryorder="array", categoryarray=[c.name for c in reversed(curves)],
                         showgrid=False, tickmode="linear", dtick=1)  # every function's name, however tight
        fig.update_xaxes(title_text="x (pre-activation, no unit)", row=3, col=1, range=[xmin, xmax])
        fig.update_layout(barmode="overlay", bargap=0.25)
    fig = _base(fig, height=height)
    if compact:  # the legend, with the slopes at x0, on the right: the plot keeps the whole height
        fig.update_layout(margin=dict(t=16), legend=dict(
            orientation="v", yref="paper", y=1, yanchor="top", x=1.02, xanchor="left",
            title=dict(text=f"at x = {x0:g}" if x0 is not None and points else None,
                       font=dict(size=20, color=INK))))  # compact is the projector's: its legend's size
    return fig


def _slopes_at(fig: go.Figure, points: Sequence[PointValue], x0: float, xmin: float, xmax: float, compact: bool,
               df_at: tuple[int, int]) -> None:
    """Every function's f'(x0) written at the dotted line: a marker on each f' curve, and the values as text
    that cannot overlap (one line each): in the legend beside the f' panel (compact), or each in its own strip
    row (normal view)."""
    if not points:
        return
    inside = xmin <= x0 <= xmax
    if inside:
        fig.add_trace(go.Scatter(
            x=[x0] * len(points), y=[p.dy for p in points], mode="markers", showlegend=False, name=f"f'({x0:g})",
            marker=dict(color=[ACTIVATIONS[p.name].colour for p in points], size=9, symbol="circle",
                        line=dict(color="#ffffff", width=1)),
            customdata=[p.name for p in points], hovertemplate="%{customdata}'(x) = %{y:.4g}<extra></extra>",
        ), row=df_at[0], col=df_at[1])
    if compact:
        return  # the legend says them (activation_figure)
    right = x0 <= (xmin + xmax) / 2 or not inside  # on the side with more room
    at = min(max(x0, xmin), xmax)
    for p in points:
        fig.add_annotation(x=at, y=p.name, xref="x3", yref="y3", text=f"f'({x0:g}) = {_slope(p.dy)}",
                           xanchor="left" if right else "right", xshift=X0_GAP if right else -X0_GAP,
                           showarrow=False, font=dict(color=INK, size=12), bgcolor="rgba(255,255,255,0.9)",
                           borderpad=1)


def summary_activation(curves: Sequence[Curve], points: Sequence[PointValue] = (), x0: float | None = None) -> str:
    """The headline's text alternative, from the numbers the figure writes: each slope's largest value (the
    labelled diamonds), each slope at x0 (the values at the dotted line), and where the slope is exactly 0."""
    if not curves:
        return "Chart of f(x) and f'(x): no function chosen."
    xmin, xmax = curves[0].x[0], curves[0].x[-1]
    peaks = ", ".join(f"{c.name} {c.peak:.3g} at x = {c.peak_from:.3g}" if c.peak_from == c.peak_to else
                      f"{c.name} {c.peak:.3g} for x from {c.peak_from:.3g} to {c.peak_to:.3g}" for c in curves)
    text = f"Chart of f(x) and f'(x) by autograd for x from {xmin:g} to {xmax:g}. Largest slope: {peaks}."
    if points and x0 is not None:
        text += f" Slope at x = {x0:g}: " + ", ".join(slope_text(p) for p in points) + "."
    zero = [f"{c.name} for x in " + " and ".join(f"[{lo:.2f}, {hi:.2f}]" for lo, hi in c.zero)
            for c in curves if any(hi > lo for lo, hi in c.zero)]
    text += (" Slope exactly 0, no gradient passes back: " + "; ".join(zero) + "." if zero else
             " The slope is exactly 0 nowhere on this range.")
    return text


# --- reveal figures: after a verdict, the chart that shows the answer -----------------------------------

def _answer_base(fig: go.Figure, top: int = 16) -> go.Figure:
    """Shared layout of the reveal figures: no legend (the curves are named on the figure) and no x axis title
    (the x ticks are the page's x), so that on a projector the one panel keeps its height under the verdict."""
    fig.update_layout(showlegend=False)
    fig = _base(fig, height=ANSWER_HEIGHT)
    fig.update_layout(margin=dict(t=top))
    return fig


def _curve(fig: go.Figure, x, y, name: str, i: int) -> None:
    fig.add_trace(go.Scatter(x=list(x), y=list(y), name=f"{name}'(x)", mode="lines+markers",
                             line=dict(color=ACTIVATIONS[name].colour, **line_style(i, name=name)),
                             marker=marker_style(name),
                             hovertemplate=f"{name}'(x) = %{{y:.4g}}<extra></extra>"))


def _diamond(fig: go.Figure, x: float, y: float, name: str) -> None:
    fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", name=f"max {name}'", showlegend=False,
                             marker=dict(color=ACTIVATIONS[name].colour, size=13, symbol="diamond",
                                         line=dict(color="#ffffff", width=1)),
                             hovertemplate=f"largest {name}' = %{{y:.4g}} at x = %{{x:.3g}}<extra></extra>"))


def sigmoid_peak_figure(answer) -> go.Figure:
    """act-sigmoid-max-slope: sigmoid's slope on the page's range, its peak marked and labelled with the answer."""
    n, s = answer.numbers, answer.series
    fig = go.Figure()
    _curve(fig, s["x"], s["dy"]["sigmoid"], "sigmoid", 0)
    _diamond(fig, n["at_x"], n["max_slope"], "sigmoid")
    fig.add_annotation(x=n["at_x"], y=n["max_slope"], ax=80, ay=-14, showarrow=True, arrowhead=0,
                       text=f"largest slope {answer.shown} at x = {n['at_x']:.3g}", xanchor="left",
                       bgcolor="rgba(255,255,255,0.92)", bordercolor=ACTIVATIONS["sigmoid"].colour, borderwidth=1.5,
                       font=dict(color=INK))
    fig.add_annotation(xref="paper", x=0, yref="paper", y=0.98, xanchor="left", yanchor="top", showarrow=False,
                       align="left", font=dict(color=INK, size=13), bgcolor="rgba(255,255,255,0.85)",
                       text=f"σ'(x) = σ(x)(1 − σ(x))<br>= {n['sigmoid_there']:.3g} × {1 - n['sigmoid_there']:.3g}"
                            f" at x = {n['at_x']:.3g}")
    fig.update_yaxes(title_text="sigmoid'(x)", range=[-0.02 * n["max_slope"], 1.5 * n["max_slope"]])
    return _answer_base(fig)


def minus_four_figure(answer) -> go.Figure:
    """act-most-gradient-at-minus-4: the four slopes near x0, zoomed in so that the values at x0 part, a marker
    on each curve at x0 and its value written beside it (stacked, largest on top), the largest named."""
    s, x0 = answer.series, answer.numbers["x"]
    at, ranked = s["at"], list(s["ranked"])
    x = list(s["x"])
    fig = go.Figure()
    for i, name in enumerate(at):
        _curve(fig, x, s["dy"][name], name, i)
    largest = max(abs(v) for v in at.values())
    highest = max(max(s["dy"][name]) for name in at)
    top = min(highest, 3 * largest) if largest > 0 else highest
    top = top * 1.1 if top > 0 else 1.0
    bottom = min(0.0, min(min(s["dy"][name]) for name in at)) - 0.04 * top
    fig.add_vline(x=x0, line=dict(color="#555555", width=1.5, dash="dot"))
    # labels on the side away from 0, where sigmoid's and tanh's slopes have fallen away: a column of them,
    # evenly spaced in the order of the values, each on an arrow to its marker
    left = x0 <= 0
    lx = x0 - 0.2 * (x[-1] - x[0]) if left else x0 + 0.2 * (x[-1] - x[0])
    for k, name in enumerate(ranked):
        v = at[name]
        colour = ACTIVATIONS[name].colour
        fig.add_trace(go.Scatter(x=[x0], y=[v], mode="markers", showlegend=False, name=f"{name}'({x0:g})",
                                 marker=dict(color=colour, size=11, line=dict(color="#ffffff", width=1)),
                                 hovertemplate=f"{name}'({x0:g}) = %{{y:.4g}}<extra></extra>"))
        ly = top - (k + 0.6) * (top - bottom) / (len(ranked) + 0.4)
        best = name == answer.value
        fig.add_annotation(x=x0, y=v, ax=lx, ay=ly, axref="x", ayref="y", showarrow=True, arrowhead=0,
                           arrowcolor=colour, text=(f"<b>{name}' = {_slope(v)}</b>" if best else
                                                    f"{name}' = {_slope(v)}"),
                           xanchor="right" if left else "left", bgcolor="rgba(255,255,255,0.92)",
                           bordercolor=colour, borderwidth=2.5 if best else 1, font=dict(color=INK))
    second = next((nm for nm in ranked if nm != answer.value), None)
    verdict = f"At x = {x0:g}, {answer.value} lets the most gradient through"
    if second is not None:
        verdict += f": {_slope(at[answer.value])} against {second}'s {_slope(at[second])}"
    fig.add_annotation(xref="paper", x=1 if left else 0, xanchor="right" if left else "left", yref="paper", y=1.0,
                       yanchor="bottom", showarrow=False, text=verdict, font=dict(color=INK, size=14))
    fig.update_yaxes(title_text="f'(x), zoomed", range=[bottom, top])
    fig.update_xaxes(range=[x[0], x[-1]])
    return _answer_base(fig, top=44)  # the verdict line above the plot


def tanh_sigmoid_figure(answer) -> go.Figure:
    """act-tanh-vs-sigmoid-slope: both slopes, their peaks marked and labelled, and the ratio written."""
    n, s = answer.numbers, answer.series
    fig = go.Figure()
    for i, name in enumerate(("sigmoid", "tanh")):
        _curve(fig, s["x"], s["dy"][name], name, i)
        peak, at = n[f"{name}_peak"], n[f"{name}_at"]
        _diamond(fig, at, peak, name)
        fig.add_annotation(x=at, y=peak, ax=-90, ay=-30 if name == "tanh" else -50, showarrow=True, arrowhead=0,
                           arrowcolor=ACTIVATIONS[name].colour, xanchor="right", text=f"{name}' max {peak:.4g}",
                           bgcolor="rgba(255,255,255,0.92)", bordercolor=ACTIVATIONS[name].colour, borderwidth=1.5,
                           font=dict(color=INK))
    fig.add_annotation(xref="paper", x=0.98, xanchor="right", yref="paper", y=0.95, yanchor="top", showarrow=False,
                       text=f"{n['tanh_peak']:.4g} / {n['sigmoid_peak']:.4g} = <b>{answer.shown}</b><br>"
                            f"tanh is {answer.shown} times steeper",
                       align="right", bgcolor="rgba(255,255,255,0.92)", font=dict(color=INK))
    fig.update_yaxes(title_text="f'(x)", range=[-0.03 * n["tanh_peak"], 1.3 * max(n["tanh_peak"], n["sigmoid_peak"])])
    return _answer_base(fig)


# question id -> reveal figure builder (nnviz.figures.answers): the chart that shows its answer
ANSWER_FIGURES: dict = {
    "act-sigmoid-max-slope": sigmoid_peak_figure,
    "act-most-gradient-at-minus-4": minus_four_figure,
    "act-tanh-vs-sigmoid-slope": tanh_sigmoid_figure,
}
