"""Figures of the activation page."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import _base

from ..activations import ACTIVATIONS, Curve

HATCH = "/"  # the strip: solid where f' is exactly 0 (dead), hatched where 0 < |f'| < threshold (small)


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _peak_labels(fig: go.Figure, curves: Sequence[Curve], xmin: float, xmax: float, yspan: float) -> None:
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
            marker=dict(color=colour, size=10, symbol="diamond", line=dict(color="#ffffff", width=1)),
            hovertemplate=f"largest {c.name}' = %{{y:.4f}} at x = %{{x:.3f}}<extra></extra>",
        ), row=2, col=1)
        fig.add_annotation(
            x=x, y=c.peak, text=f"max {c.peak:.3g}", showarrow=True, arrowhead=0, arrowcolor=colour,
            ax=(100 if right else -100) + (20 if right else -20) * k, ay=-14 - 30 * k,
            xanchor="left" if right else "right", font=dict(color="#222222"),
            bgcolor="rgba(255,255,255,0.92)", bordercolor=colour, borderwidth=1.5, borderpad=2,
            row=2, col=1,
        )


def activation_figure(curves: Sequence[Curve], x0: float | None = None, threshold: float | None = None,
                      height: int | None = None) -> go.Figure:
    """Three panels on one x-axis: f(x) on top; f'(x) by autograd below it on its own scale, with each
    single peak labelled; and a strip showing where the gradient is lost: solid where f'(x) is exactly
    0 (dead, nothing gets through), hatched where 0 < |f'(x)| < threshold (small, but not 0)."""
    n = max(len(curves), 1)
    height = height or 560 + 26 * n
    strip = (26 * n + 14) / height  # the strip's share: one bar row per function
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.035,
                        row_heights=[0.47 * (1 - strip), 0.53 * (1 - strip), strip])
    xmin = min((c.x[0] for c in curves), default=0.0)
    xmax = max((c.x[-1] for c in curves), default=1.0)
    small_label = "0 < |f'| small" if threshold is None else f"0 < |f'| < {threshold:g}"
    for c in curves:
        colour = ACTIVATIONS[c.name].colour
        fig.add_trace(go.Scatter(
            x=c.x, y=c.y, name=f"{c.name}(x)", legendgroup=c.name, line=dict(color=colour, width=3),
            hovertemplate="%{y:.4f}",
        ), row=1, col=1)
        fig.add_trace(go.Scatter(
            x=c.x, y=c.dy, name=f"{c.name}'(x)", legendgroup=c.name, showlegend=False,
            line=dict(color=colour, width=2.5, dash="dash"), hovertemplate="%{y:.4f}",
        ), row=2, col=1)
        for kind, runs in (("dead", c.dead), ("small", c.small)):
            runs = [(lo, hi) for lo, hi in runs if hi > lo]  # a single grid point is no visible bar
            if not runs:
                continue
            dead = kind == "dead"
            what = "f'(x) = 0 exactly: no gradient at all (dead)" if dead else f"{small_label}: small, but not 0"
            fig.add_trace(go.Bar(
                y=[c.name] * len(runs), x=[hi - lo for lo, hi in runs], base=[lo for lo, _ in runs],
                orientation="h", name=f"{c.name}: {kind}", legendgroup=c.name, showlegend=False,
                marker=dict(color=colour if dead else _rgba(colour, 0.22),
                            line=dict(color=colour, width=1.5),
                            pattern=dict(shape="" if dead else HATCH, fgcolor=colour, size=8, solidity=0.35)),
                customdata=[[lo, hi] for lo, hi in runs],
                hovertemplate=f"{c.name}: {what} for x in [%{{customdata[0]:.2f}}, %{{customdata[1]:.2f}}]"
                              "<extra></extra>",
            ), row=3, col=1)
    # The strip's key: two legend entries in neutral grey, solid against hatched.
    for dead in (True, False):
        fig.add_trace(go.Bar(
            y=[None], x=[None], orientation="h", showlegend=True,  # no legendgroup: one legend row
            name="f' = 0 (dead)" if dead else small_label,
            marker=dict(color="#555555" if dead else "rgba(85,85,85,0.22)", line=dict(color="#555555", width=1.5),
                        pattern=dict(shape="" if dead else HATCH, fgcolor="#555555", size=8, solidity=0.35)),
            hoverinfo="skip",
        ), row=3, col=1)
    lo = min([0.0] + [min(c.dy) for c in curves])
    hi = max([1e-9] + [max(c.dy) for c in curves])
    pad = 0.08 * (hi - lo)
    _peak_labels(fig, curves, xmin, xmax, hi - lo)
    if x0 is not None:
        fig.add_vline(x=x0, line=dict(color="#555555", width=1.5, dash="dot"), row="all", col=1)
    fig.update_yaxes(title_text="f(x)", row=1, col=1, zeroline=True, zerolinecolor="#999999")
    fig.update_yaxes(title_text="f'(x)", row=2, col=1, zeroline=True, zerolinecolor="#999999",
                     range=[lo - pad, hi + 4 * pad])  # headroom above the highest peak for its label
    fig.update_yaxes(row=3, col=1, categoryorder="array", categoryarray=[c.name for c in reversed(curves)],
                     showgrid=False, tickmode="linear", dtick=1)  # every function's name, however tight
    fig.update_xaxes(title_text="x (pre-activation, no unit)", row=3, col=1, range=[xmin, xmax])
    fig.update_layout(barmode="overlay", bargap=0.25)
    return _base(fig, height=height)
