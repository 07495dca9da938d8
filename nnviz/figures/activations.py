"""Figures of the activation page."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import _base

from ..activations import ACTIVATIONS, Curve


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


