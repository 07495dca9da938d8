"""Built figures cached by the settings they are drawn from: a warm rerun sends a stored plotly spec.

Building a plotly figure (validation of every property) and serialising it cost most of a warm rerun
(about 80 % on the activation page). show_cached() draws exactly what nnviz.ui.show_figure draws (the
projector version in presentation mode, the headline's height given up to the lesson panels), but
builds and serialises the figure only on a miss of an st.cache_data keyed by the figure's name and
the plain settings it depends on, bounded by entries and by bytes. The caller names every setting the
figure depends on (a setting left out would show a stale figure: each page's tests compare figures).
"""
from __future__ import annotations

import html
import json
from typing import Any, Callable

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

from .frame import CHART_CONFIG, presenting, projected, take_reserve


class _Built(go.Figure):
    """A finished figure as st.plotly_chart takes it: its dict, without building a Figure again.
    (st.plotly_chart calls only to_dict() on a Figure; a plain dict it would validate again.)"""

    def __init__(self, spec: dict) -> None:  # noqa: D107  (no go.Figure.__init__: nothing to validate)
        self._nnviz_spec = spec

    def to_dict(self) -> dict:
        return self._nnviz_spec


@st.cache_data(max_entries=2048, max_size="64MB", show_spinner=False)
def _spec(name: str, settings: Any, present: bool, reserved: int, _build: Callable[[], go.Figure]) -> str:
    """The figure's plotly JSON (typed arrays), as show_figure would send it."""
    fig = _build()
    return pio.to_json(projected(fig, reserved) if present else fig, validate=False)


# A chart's text alternative: a paragraph read by a screen reader just before the chart, hidden on screen. Its
# element is taken out of the page's flow (position: absolute), so it adds no gap and moves nothing.
ALT_CLASS = "nnviz-alt"
_ALT_CSS = (f'[data-testid="stElementContainer"]:has(.{ALT_CLASS}){{position:absolute;width:1px;height:1px;'
            "margin:-1px;padding:0;border:0;overflow:hidden;clip-path:inset(50%);white-space:nowrap}")


def describe(text: str) -> None:
    """The next chart's text alternative (WCAG 1.1.1): what it shows, with its numbers, as a paragraph a screen
    reader reaches just before the chart and the eye does not see. Call it right before the chart, in the same
    container (inside an st.empty, put both in one st.container)."""
    st.html(f'<style>{_ALT_CSS}</style><p class="{ALT_CLASS}" role="note">{html.escape(text)}</p>')


def show_cached(name: str, settings: Any, build: Callable[[], go.Figure], key: str | None = None,
                headline: bool | None = None, alt: str | None = None) -> None:
    """show_figure(build(), key, headline), with the built figure cached under (name, settings, the
    presentation mode and the height reserved for it). settings: every value the figure depends on.
    alt: the chart's text alternative (describe()), written just before it."""
    if alt is not None:
        describe(alt)
    reserved = take_reserve(headline)
    spec = _spec(name, settings, presenting(), reserved, build)
    st.plotly_chart(_Built(json.loads(spec)), width="stretch", key=key, config=CHART_CONFIG)
