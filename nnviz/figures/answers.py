"""The reveal figures: after a verdict, the chart that shows a question's answer, with the deciding value
written on it as text (the verdict's own `Answer.shown`), in the headline slot of the page.

Each page's figure module holds ANSWER_FIGURES: {question id: builder(answer) -> go.Figure}, drawn from the
Answer's numbers and series only (nnviz.lessons computes them). One figure, few panels: on a 1024x768
projector it sits under the tour panel and the verdict, so every panel keeps at least 150 px of plot.
"""
from __future__ import annotations

from typing import Callable

import plotly.graph_objects as go

from . import activations, classification, deep_answers, losses, regression, vanishing

BUILDERS: dict[str, Callable] = {
    **activations.ANSWER_FIGURES, **losses.ANSWER_FIGURES, **vanishing.ANSWER_FIGURES,
    **regression.ANSWER_FIGURES, **classification.ANSWER_FIGURES, **deep_answers.ANSWER_FIGURES,
}


def answer_figure(question_id: str, answer) -> go.Figure | None:
    """The reveal figure of a question's answer (None: the question has none)."""
    build = BUILDERS.get(question_id)
    return build(answer) if build is not None else None
