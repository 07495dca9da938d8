"""The projector's figure of a class's guesses: bars of the distribution (nnviz.classmode.distribution), without
the answer while the question is open; after Reveal, the answer marked on it with the tolerance band and the
tally ("14 of 27 within the tolerance") as its title."""
from __future__ import annotations

import math

import plotly.graph_objects as go

from nnviz.classmode import Distribution, Tally, axis_value
from nnviz.lessons import Question
from nnviz.palette import GREY, OKABE_ITO

from .common import _base

HEIGHT = 280  # px (308 on a projector): the count, the bars and Reveal under the prompt on a 1024x768 first screen
BAR, RIGHT, BAND = OKABE_ITO[0], OKABE_ITO[2], "rgba(0,158,115,0.16)"


def class_guesses(q: Question, dist: Distribution, tally: Tally | None = None) -> go.Figure:
    """Bars of the class's guesses; `tally` (after Reveal): the answer and its tolerance marked, the count in the title."""
    fig = go.Figure()
    unit = f" ({q.unit})" if q.unit and q.unit != "times" else ""
    if dist.kind == "choice":
        colors = [RIGHT if tally is not None and c == tally.answer.value else BAR if tally is None else GREY
                  for c in dist.labels]
        fig.add_bar(x=list(dist.labels), y=list(dist.counts), marker_color=colors, text=list(dist.counts),
                    textposition="outside", name="guesses", hovertemplate="%{x}: %{y}<extra></extra>")
        fig.update_xaxes(title_text="the class's choices", type="category")
    else:
        centres = [(a + b) / 2 for a, b in zip(dist.edges[:-1], dist.edges[1:])]
        widths = [b - a for a, b in zip(dist.edges[:-1], dist.edges[1:])]
        fig.add_bar(x=centres, y=list(dist.counts), width=[0.92 * w for w in widths], marker_color=BAR,
                    text=[c or "" for c in dist.counts], textposition="outside", name="guesses",
                    customdata=list(dist.labels), hovertemplate="%{customdata}: %{y}<extra></extra>")
        if dist.kind == "log10":
            fig.update_xaxes(title_text=f"the class's guesses (powers of ten){unit}")
        else:
            fig.update_xaxes(title_text=f"the class's guesses{unit}")
        if tally is not None:
            x = axis_value(q, float(tally.answer.value))
            lo, hi = ((x - q.tolerance, x + q.tolerance) if q.kind == "log10"
                      else sorted((x - q.tolerance * abs(x), x + q.tolerance * abs(x))))
            fig.add_vrect(x0=lo, x1=hi, fillcolor=BAND, line_width=0, layer="below")
            fig.add_vline(x=x, line=dict(color=RIGHT, width=4))
            fig.add_annotation(x=x, y=1, yref="paper", yanchor="bottom", showarrow=False,
                               text=f"answer: {tally.answer.shown}", font=dict(color="#00553e"))
            if centres:  # the answer may lie outside every guess: keep it on the axis
                pad = max(widths) / 2
                fig.update_xaxes(range=[min(lo, dist.edges[0]) - pad, max(hi, dist.edges[-1]) + pad])
        if dist.kind == "log10" and centres:  # every power of ten on the axis labelled, at most 9 labels
            x0, x1 = (fig.layout.xaxis.range or (dist.edges[0], dist.edges[-1]))
            first, last = math.ceil(x0), math.floor(x1)
            every = max(1, math.ceil((last - first + 1) / 9))
            ticks = list(range(first, last + 1, every))
            fig.update_xaxes(tickmode="array", tickvals=ticks, ticktext=[f"1e{t}" for t in ticks], tickangle=0)
    top = max(dist.counts, default=0)
    fig.update_yaxes(title_text="students", rangemode="tozero", range=[0, max(1, top) * 1.25], dtick=max(1, top // 5 or 1))
    title = (tally.sentence(q) if tally is not None
             else f"{dist.total + dist.off_scale} answered · the answer is hidden until Reveal")
    if dist.off_scale:
        title += f" ({dist.off_scale} off the scale, beyond ±1e100)"
    _base(fig, HEIGHT)
    fig.update_layout(title=dict(text=title, x=0, xanchor="left"), showlegend=False, hovermode="closest",
                      bargap=0.08, margin=dict(t=60))
    return fig
