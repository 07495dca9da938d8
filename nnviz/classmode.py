"""Class mode's rules, without Streamlit: what a follower may take from the class store, and the class's tally.

The store (nnviz.classstore) is data another process wrote: a follower's page takes the teacher's page, tour
step, question and settings only through `teacher_view`, which checks them as a link's values are checked (the
page's own specs, its tour, its questions). The projector's distribution of guesses and its "14 of 27 within the
tolerance" come from `distribution` and `tally`, which judge every guess by the question's own rules.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from nnviz import lessons as Ls
from nnviz.classstore import ClassState

MAX_BINS = 12  # bars on the projector's histogram of a number question
MAX_ABS = 1e100  # a number guess beyond this is counted "off the scale", not binned (its range would overflow)


@dataclass(frozen=True)
class View:
    """What a follower's page shows: the teacher's page, tour step (None: no tour), question and settings."""
    page: str
    step: int | None
    question: str | None
    settings: dict[str, list[str]]  # canonical URL values (Ls.to_settings): only what is not at its default


def teacher_view(state: ClassState) -> View:
    """The class state as a page to open, checked like a link: the page must exist, the step be one of its tour,
    the question one of its own (a tour step's question must be that step's), and every setting parse with the
    page's spec. Anything else raises ValueError (the follower's page stays as it is)."""
    page = state.page
    if page not in Ls.PAGE_SPECS:
        raise ValueError("the teacher's page is not one of the app's pages")
    steps = Ls.TOURS.get(page, ())
    step = state.step or None
    if step is not None and not 1 <= step <= len(steps):
        raise ValueError("the teacher's step is not a step of this page's tour")
    question = state.question or None
    if question is not None:
        q = Ls.QUESTIONS.get(question)
        if q is None or q.page != page:
            raise ValueError("the teacher's question is not one of this page's questions")
        if step is not None and steps[step - 1].question != question:
            raise ValueError("the teacher's question is not the one this tour step asks")
    raw = state.settings
    if not isinstance(raw, dict) or not all(
            k in Ls.PAGE_SPECS[page] and (isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)))
            for k, v in raw.items()):
        raise ValueError("the teacher's settings are not this page's controls")
    return View(page, step, question, Ls.to_settings(page, Ls.page_params(page, raw)))  # BadValue is a ValueError


@dataclass(frozen=True)
class Distribution:
    """The class's guesses as bars: one per choice, or histogram bins (log10 questions: of log10(guess))."""
    kind: str  # the question's kind
    labels: tuple[str, ...]  # each bar's label (a choice; a bin's range)
    counts: tuple[int, ...]
    edges: tuple[float, ...] = ()  # number and log10: len(counts) + 1 bin edges, on the axis's scale (log10 for log10)
    total: int = 0  # guesses shown (a guess the question cannot read is left out)
    off_scale: int = 0  # number guesses beyond ±MAX_ABS: counted, not drawn


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def axis_value(q: Ls.Question, value: float) -> float:
    """Where a number lies on the question's axis: log10 of it for a log10 question."""
    return math.log10(value) if q.kind == "log10" else float(value)


def readable(q: Ls.Question, guesses: Sequence[Any]) -> list[Any]:
    """The guesses the question's own rules read (a stored value of the wrong type is left out)."""
    out = []
    for g in guesses:
        if q.kind == "choice":
            if isinstance(g, str) and g in q.choices:
                out.append(g)
        elif isinstance(g, (int, float)) and not isinstance(g, bool) and math.isfinite(g) and (q.kind != "log10" or g > 0):
            out.append(float(g))
    return out


def distribution(q: Ls.Question, guesses: Sequence[Any]) -> Distribution:
    """The guesses as the projector draws them, without the answer: a bar per choice (in the question's order);
    for a log10 question one bin per order of magnitude, centred on the powers of ten; for a number question up
    to MAX_BINS equal bins over the guesses' range."""
    values = readable(q, guesses)
    if q.kind == "choice":
        return Distribution(q.kind, tuple(q.choices), tuple(values.count(c) for c in q.choices), total=len(values))
    off = 0
    if q.kind == "number":
        off = sum(abs(v) > MAX_ABS for v in values)
        values = [v for v in values if abs(v) <= MAX_ABS]
    if not values:
        return Distribution(q.kind, (), (), (), 0, off)
    x = np.array([axis_value(q, v) for v in values], dtype=np.float64)
    if q.kind == "log10":
        lo, hi = math.floor(x.min() + 0.5), math.floor(x.max() + 0.5)  # the nearest powers of ten
        edges = np.arange(lo - 0.5, hi + 1.0, 1.0)
        labels = tuple(f"1e{int(round(e + 0.5))}" for e in edges[:-1])
    else:
        lo, hi = float(x.min()), float(x.max())
        if lo == hi:
            half = max(abs(lo) * 0.05, 1e-9)
            edges = np.array([lo - half, hi + half])
        else:  # Sturges' count of equal bins, at most MAX_BINS (numpy's "auto" can ask for billions with an outlier)
            edges = np.linspace(lo, hi, min(MAX_BINS, math.ceil(math.log2(len(x))) + 1) + 1)
        labels = tuple(f"{_fmt(a)} to {_fmt(b)}" for a, b in zip(edges[:-1], edges[1:]))
    counts, _ = np.histogram(x, bins=edges)
    return Distribution(q.kind, labels, tuple(int(c) for c in counts), tuple(float(e) for e in edges), len(values), off)


@dataclass(frozen=True)
class Tally:
    total: int  # guesses the question could read
    close: int  # of them, within the tolerance (a choice question: the right choice)
    answer: Ls.Answer

    def sentence(self, q: Ls.Question) -> str:
        """"14 of 27 within the tolerance", in the question's own words."""
        if q.kind == "choice":
            return f"{self.close} of {self.total} chose {self.answer.shown}"
        if q.kind == "log10":
            within = f"within {q.tolerance:g} order{'s' * (q.tolerance != 1)} of magnitude"
        else:
            within = f"within {100 * q.tolerance:g}%"
        return f"{self.close} of {self.total} {within} of the answer, {self.answer.shown}"


def tally(q: Ls.Question, guesses: Sequence[Any], settings: Ls.Settings) -> Tally:
    """How many of the class's guesses are close, each judged by the question's own rule (Question.judge) against
    the answer at `settings` (the teacher's). Raises ValueError where the question has no answer there."""
    answer = q.answer(settings)
    values = readable(q, guesses)
    return Tally(len(values), sum(q.judge(g, settings).close for g in values), answer)
