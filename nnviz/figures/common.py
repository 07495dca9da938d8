"""Shared layout for every figure builder, and the projector version of any figure."""
from __future__ import annotations

import re

import plotly.graph_objects as go
import plotly.io as pio

from ..palette import for_text

# Every figure starts from plotly_white (plotly's own default-theme setting): plotly gives a new figure the default
# template as already validated, where template="plotly_white" in _base validated and deep-copied it again at every
# figure (8.5 of _base's 22.7 ms).
pio.templates.default = "plotly_white"

BASE_FONT = 14  # px; presentation mode scales figures through for_projector(), not here

# Presentation mode (a classroom projector, read from the back of the room).
PRESENT_FONT = 22  # px: titles, legend, annotations, marker labels
PRESENT_TICK_FONT = 20  # px: tick labels
PRESENT_MAX_HEIGHT = 520  # px: the first figure must fit a 1024x768 screen under the page title and
# the two closed panels (about this page, settings)
ANSWER_HEIGHT = 430  # px: a reveal figure (nnviz.figures.answers) in the normal view; for_projector makes it 473,
# less what the lesson panel above it reserve()s, so its top and its plot are on a 1024x768 first screen
INK = "#1b1b1b"  # near-black text: grey text washes out on a projector
# Chart text in the normal view: Streamlit's body text (12.6:1 on white). Left unset, Streamlit's chart theme fills
# ticks, axis titles, the legend, colour bars and hover labels with its faded grey #808495 (3.72:1, under the
# 4.5:1 WCAG 2.1 asks of text): ink() sets every one of them.
TEXT = "#31333F"
GRID = "#c9d1dc"  # grid lines a projector still shows (plotly_white's are almost white)
MINOR_GRID = "#e3e7ee"
TITLE_STANDOFF = 10  # px between an axis title and its tick labels (with automargin, no overlap)


def _base(fig: go.Figure, height: int, titled: bool = False) -> go.Figure:
    """Shared layout. `titled`: the figure has subplot titles, so the legend goes above them."""
    fig.update_layout(
        height=height, font_size=BASE_FONT,
        margin=dict(l=10, r=10, t=90 if titled else 40, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        hovermode="x unified",
    )
    # automargin makes room for the tick labels; the standoff keeps the axis title off them
    fig.update_xaxes(automargin=True, title_standoff=TITLE_STANDOFF)
    fig.update_yaxes(automargin=True, title_standoff=TITLE_STANDOFF)
    if titled or (_subplot_titles(fig) and fig.layout.showlegend is not False):
        legend_above_titles(fig, BASE_FONT, BASE_FONT)
    return ink(fig)


def ink(fig: go.Figure, colour: str = TEXT) -> go.Figure:
    """Give every text of `fig` that has no colour of its own `colour`: the global font (annotations, subplot
    titles, trace text), the title, the legend, hover labels, each axis's ticks and title, and each colour bar.
    Streamlit's chart theme would otherwise fill the axes' and colour bars' with a grey under 4.5:1 on white
    (it sets them one by one, so the global font colour alone does not reach them). Colours a builder set are
    kept, except an annotation's under 4.5:1 (a label in its line's colour), which is darkened to a shade of
    the same hue (nnviz.palette.for_text)."""
    lay = fig.layout
    titled = [lay.title.font] if lay.title.text else []  # (no title object where there is no title)
    for font in [lay.font, *titled, lay.legend.font, lay.legend.title.font, lay.hoverlabel.font]:
        if font.color is None:
            font.color = colour
    for letter in "xy":
        for ax in _axes(fig, letter):
            for font in (ax.tickfont, ax.title.font):
                if font.color is None:
                    font.color = colour
    for cb in _colorbars(fig):
        for font in (cb.tickfont, cb.title.font):
            if font.color is None:
                font.color = colour
    for a in lay.annotations:  # a label written in its line's colour: a shade of it dark enough for text
        if isinstance(a.font.color, str) and re.fullmatch(r"#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}", a.font.color):
            a.font.color = for_text(a.font.color)
    return fig


def _colorbars(fig: go.Figure) -> list:
    """The colour bars of `fig`: each coloraxis's (Streamlit's theme styles those), and each trace's that has a
    scale (a heatmap's or contour's unless showscale=False, or a marker's with showscale=True)."""
    bars = [fig.layout[k].colorbar for k in fig.layout if k.startswith("coloraxis")]
    for t in fig.data:
        if getattr(t, "coloraxis", None):
            continue  # drawn by its coloraxis's bar
        if t.type in ("heatmap", "contour", "histogram2d", "histogram2dcontour", "surface") and t.showscale is not False:
            bars.append(t.colorbar)
        marker = getattr(t, "marker", None)
        if marker is not None and getattr(marker, "showscale", None):
            bars.append(marker.colorbar)
    return bars


def _subplot_titles(fig: go.Figure) -> list:
    """The annotations that sit on top of a plot area (make_subplots' titles, 'now' marks...)."""
    return [a for a in fig.layout.annotations
            if a.yref == "paper" and a.yanchor == "bottom" and a.y is not None and a.y >= 0.95
            and not a.showarrow]


def legend_above_titles(fig: go.Figure, title_px: float, legend_px: float) -> None:
    """Put a top legend far enough above the plot that subplot titles (title_px high) fit between.

    The legend's y is in paper units (fractions of the plot area's height), so the gap is
    converted from pixels with a pessimistic estimate of that height: the legend itself pushes
    the top margin out and shrinks the plot area, and a small gap would put the legend on top of
    the titles.
    """
    lay = fig.layout
    height = lay.height or 450
    m = lay.margin
    top, bottom = (m.t if m.t is not None else 80), (m.b if m.b is not None else 80)
    axis_px = 2.2 * title_px + TITLE_STANDOFF  # x tick labels and x axis title under the plot
    legend_rows_px = 2 * 1.5 * legend_px  # up to two rows of legend above the plot
    plot_px = max(height - top - bottom - axis_px - legend_rows_px, 0.3 * height)
    rows = 1
    if any(y is not None and y < 0.9 for y in _domain_tops(fig)):  # stacked subplots share the height
        rows = 2
    gap_px = 1.45 * title_px + 6
    fig.update_layout(legend=dict(yref="paper", yanchor="bottom", y=1 + rows * gap_px / plot_px))


def _domain_tops(fig: go.Figure) -> list[float]:
    return [ax.domain[1] for ax in _axes(fig, "y") if ax.domain is not None]


def _axes(fig: go.Figure, letter: str) -> list:
    return [fig.layout[k] for k in fig.layout if k.startswith(f"{letter}axis")]


def for_projector(fig: go.Figure) -> go.Figure:
    """A copy of `fig` for presentation mode: larger, darker type; readable log ticks; axis titles
    off their tick labels; the legend above any subplot titles; and a height that fits a
    1024x768 projector screen. Works on any figure, so every page's figures get it."""
    fig = go.Figure(fig)
    height = fig.layout.height or 450
    titled = bool(_subplot_titles(fig)) and (fig.layout.legend.y or 0) > 1
    fig.update_layout(
        font=dict(size=PRESENT_FONT, color=INK), legend_font=dict(size=PRESENT_FONT - 2, color=INK),
        legend_title_font=dict(size=PRESENT_FONT - 2, color=INK),
        hoverlabel_font_size=PRESENT_FONT, height=min(int(height * 1.1), PRESENT_MAX_HEIGHT),
    )
    if fig.layout.uniformtext.minsize is not None:  # labels that fit inside bars: keep them legible
        fig.update_layout(uniformtext_minsize=max(fig.layout.uniformtext.minsize, 14))
    for letter in "xy":
        for ax in _axes(fig, letter):
            ax.update(automargin=True, title_standoff=TITLE_STANDOFF + 4, gridcolor=GRID,
                      tickfont=dict(size=PRESENT_TICK_FONT, color=INK), title_font=dict(size=PRESENT_FONT, color=INK))
            if ax.type == "log":
                # plotly labels the 2s and 5s between decades at 3/4 size: too small to read from
                # the back of a room. Label the decades only (as powers), and keep the in-between
                # values as a minor grid.
                ax.update(minorloglabels="none", minor=dict(showgrid=True, gridcolor=MINOR_GRID))
                if ax.exponentformat is None:
                    ax.update(exponentformat="power")
    for a in fig.layout.annotations:
        a.font.size = max(a.font.size or 0, PRESENT_FONT - 2)
        if a.font.color is None:
            a.font.color = INK
    for t in fig.data:
        if getattr(t, "textfont", None) is not None and (getattr(t, "text", None) is not None
                                                          or getattr(t, "texttemplate", None) is not None):
            t.textfont.size = max(t.textfont.size or 0, PRESENT_FONT - 4)
        marker = getattr(t, "marker", None)
        bar = getattr(marker, "colorbar", None) if marker is not None else None
        for cb in [bar, getattr(t, "colorbar", None)]:
            if cb is not None and cb.to_plotly_json():
                cb.update(tickfont=dict(size=PRESENT_TICK_FONT, color=INK), title_font=dict(size=PRESENT_FONT - 2))
    if titled:
        legend_above_titles(fig, PRESENT_FONT, PRESENT_FONT - 2)
    return fig
