"""After a verdict the figure shows the answer (issue 17): every question has a reveal figure, built from the
same Answer the verdict quotes, with the verdict's value written on it as text (to the precision the verdict
prints), in few enough panels that each keeps its room on a projector."""
from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from nnviz import lessons as Ls
from nnviz.figures.answers import answer_figure
from nnviz.figures.common import for_projector


def figure_texts(fig: go.Figure) -> list[str]:
    """Every piece of text drawn inside a figure: annotations, and the text of its traces."""
    out = [a.text for a in fig.layout.annotations if a.text]
    for t in fig.data:
        for name in ("text", "texttemplate"):
            value = getattr(t, name, None)
            if isinstance(value, str):
                out.append(value)
            elif value is not None:
                out.extend(str(v) for v in value if v is not None)
    return out


def panels(fig: go.Figure) -> int:
    """How many plot panels (x-y subplots with a trace) the figure draws."""
    return len({(getattr(t, "xaxis", None) or "x", getattr(t, "yaxis", None) or "y") for t in fig.data
                if t.type in ("scatter", "scattergl", "bar", "heatmap", "contour")})


@pytest.mark.parametrize("qid", list(Ls.QUESTIONS))
def test_every_question_has_a_reveal_figure_that_writes_its_answer(qid):
    q = Ls.QUESTIONS[qid]
    a = q.answer()
    fig = answer_figure(qid, a)
    assert fig is not None, f"{qid}: no reveal figure"
    text = " ".join(figure_texts(fig))
    if q.kind == "choice":
        assert str(a.value) in text, (qid, a.value, text)
    else:
        assert a.shown in text, (qid, a.shown, text)  # the verdict's number, as the verdict prints it
    assert 1 <= panels(fig) <= 2, (qid, panels(fig))
    json.dumps(for_projector(fig).to_plotly_json(), default=str)  # the projector version builds too
