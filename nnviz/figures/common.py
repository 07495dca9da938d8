"""Shared layout for every figure builder."""
from __future__ import annotations

import plotly.graph_objects as go

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


