"""The lesson panel in AppTest: a question hides its page until a readable guess is committed, then shows
the core's verdict; a tour step opens with its settings; a bad ?q= or ?tour= gets an inert notice; a copied
link reopens the same view. Expected answers come from nnviz.lessons (tested against independent
references in tests/test_lessons.py), never written here."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import same_as_link

from nnviz import lessons as Ls
from nnviz.controls import BoolSpec, ChoiceSpec, MultiChoiceSpec, NumberListSpec

Q = Ls.QUESTIONS
PATH = {page: f"pages/{page}.py" for page in Ls.PAGES}
STEPS = [(page, n) for page, steps in Ls.TOURS.items() for n in range(1, len(steps) + 1)]
SUBMIT = "FormSubmitter:form_{}-Commit my guess"  # AppTest's key of a form's submit button
UNREADABLE = "abc"  # no number kind can read it


# --- helpers ---------------------------------------------------------------------------------------

def _held(spec, value):
    """A widget's value in a comparable form (a number list's text box as its numbers)."""
    if isinstance(spec, NumberListSpec):
        return spec.parse([value])
    return list(value) if isinstance(value, (list, tuple)) else value


def _check_settings(at, page: str, settings: Ls.Settings, others_default: bool = True) -> None:
    """Every key the settings name holds their value; others_default: every other control of the page
    that exists in the session is at its spec's default."""
    specs = Ls.PAGE_SPECS[page]
    for key, value in settings.items():
        assert key in at.session_state, (page, key, "not in session_state")
        held = at.session_state[key]
        assert same_as_link(held, Ls.raw_values(value), specs[key]), (page, key, held, value)
    if others_default:
        for key, spec in specs.items():
            if key not in settings and key in at.session_state:
                held = at.session_state[key]
                assert same_as_link(held, spec.url(spec.default), spec), (page, key, held, "default", spec.default)


def _markdown(at) -> list[str]:
    return [m.value for m in at.markdown]


def _on_screen(at, page: str) -> dict[str, list[str]]:
    """The page's settings as its widgets hold them, as URL values."""
    params = {}
    for key, spec in Ls.PAGE_SPECS[page].items():
        if key in at.session_state:
            value = at.session_state[key]
            params[key] = spec.parse([value]) if isinstance(spec, NumberListSpec) else value
    return Ls.to_settings(page, Ls.page_params(page, {}) | params)


def _no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _hidden(at, q: Ls.Question) -> None:
    """The question is asked and nothing that answers it is on the page."""
    _no_exception(at)
    assert any(q.prompt in m for m in _markdown(at)), (q.id, "prompt not shown")
    assert not at.get("plotly_chart"), (q.id, "a figure is shown before a guess is committed")
    assert not at.get("arrow_data_frame"), (q.id, "a table is shown before a guess is committed")
    try:
        shown = q.answer(_on_screen(at, q.page)).shown  # the answer's own text, nowhere on the page yet
    except ValueError:
        return  # no answer at these settings: nothing to leak
    texts = _markdown(at) + [e.value for e in (*at.caption, *at.info, *at.warning, *at.success, *at.metric)]
    assert not [t for t in texts if re.search(rf"(?<![\d.]){re.escape(shown)}(?![\d])", str(t))], (q.id, shown)
    kind = at.radio if q.kind == "choice" else at.text_input
    assert [w.key for w in kind if w.key == f"guess_{q.id}"], (q.id, "no guess input")


def _commit(at, q: Ls.Question, text: str | None):
    """Type (or pick) a guess and press "Commit my guess"; None leaves the input empty."""
    if text is not None:
        if q.kind == "choice":
            at.radio(key=f"guess_{q.id}").set_value(text)
        else:
            at.text_input(key=f"guess_{q.id}").input(text)
    return at.button(key=SUBMIT.format(q.id)).click().run()


def _not_committed(at, q: Ls.Question) -> None:
    _hidden(at, q)
    errors = [e.value for e in at.error]
    assert any(e.startswith("Not committed") for e in errors), (q.id, errors)


def _typed(value: float) -> str:
    """A number as a student could type it (repr reads back exactly)."""
    return repr(float(value))


def _far(q: Ls.Question, value: float | str) -> str:
    """A guess well outside the tolerance, as typed."""
    if q.kind == "choice":
        return next(c for c in q.choices if c != value)
    if q.kind == "log10":
        return _typed(value * 10 ** (3 * q.tolerance))
    return _typed(value + 3 * q.tolerance * abs(value) + (1.0 if value == 0 else 0.0))


def _verdict_shown(at, q: Ls.Question, typed: str) -> Ls.Verdict:
    """The page shows the core's verdict for this guess at the question's own settings, with its figures."""
    _no_exception(at)
    verdict = q.judge(q.read_guess(typed), q.settings)
    boxes = {"success": [s.value for s in at.success], "info": [i.value for i in at.info]}
    where = "success" if verdict.close else "info"
    assert verdict.text in boxes[where], (q.id, typed, verdict.text, boxes)
    assert at.get("plotly_chart"), (q.id, "no figure after the guess was committed")
    assert not [e.value for e in at.error if e.value.startswith("Not committed")]
    return verdict


def _first_slider(at, page: str):
    """One of the page's settings sliders that is on screen."""
    specs = Ls.PAGE_SPECS[page]
    sliders = [s for s in at.slider if s.key in specs]
    assert sliders, (page, "no settings slider on screen")
    return sliders[0]


def _move(at, page: str):
    """Move one settings slider to another value (its min, or its max if at the min); returns (key, old)."""
    s = _first_slider(at, page)
    spec = Ls.PAGE_SPECS[page][s.key]
    old = s.value
    s.set_value(spec.max if old == spec.min else spec.min)
    return s.key, old


def _other(spec, raw: list[str]) -> list[str]:
    """A valid raw URL value other than `raw`."""
    if isinstance(spec, MultiChoiceSpec):
        return [next(c for c in spec.choices if [c] != raw)]
    if isinstance(spec, ChoiceSpec):
        return [next(c for c in spec.choices if c != raw[0])]
    if isinstance(spec, BoolSpec):
        return spec.url(not spec.parse(raw))
    if isinstance(spec, NumberListSpec):
        return spec.url((spec.max,) * spec.min_len)
    return spec.url(spec.max if spec.parse(raw) == spec.min else spec.min)


def _query(at) -> dict[str, list[str]]:
    return {k: Ls.raw_values(v) for k, v in at.query_params.items()}


def _link(at) -> str:
    """The "Link to this view" box's text (the only code block that is not Python)."""
    links = [c.proto.code_text for c in at.get("code") if c.proto.language != "python"]
    assert len(links) == 1, links
    return links[0]


def _tour_title(at, page: str, n: int) -> None:
    steps = Ls.TOURS[page]
    head = f"{n}/{len(steps)} · {steps[n - 1].title}"
    assert any(head in m for m in _markdown(at)), (page, n, head)


def _outside_code(text: str) -> str:
    """Markdown with its inline code spans removed."""
    return re.sub(r"(`+) .*? \1", "", text)


# --- 1 and 2: every question hides the page until a guess is committed -----------------------------

@pytest.mark.parametrize("qid", list(Q))
def test_question_hides_the_page_until_a_readable_guess_is_committed(app, qid):
    q = Q[qid]
    page = q.page
    at = app(PATH[page], q=qid)
    _hidden(at, q)
    assert not at.warning, [w.value for w in at.warning]
    _check_settings(at, page, q.settings)

    # moving a setting does not reveal it
    key, old = _move(at, page)
    at.run()
    _hidden(at, q)
    at.slider(key=key).set_value(old)  # back at the question's settings
    at.run()
    _hidden(at, q)
    _check_settings(at, page, q.settings)

    # neither an empty guess nor an unreadable one is committed
    _not_committed(_commit(at, q, None if q.kind == "choice" else ""), q)
    if q.kind != "choice":
        _not_committed(_commit(at, q, UNREADABLE), q)

    # a readable guess reveals the page and the core's verdict; the guess stays out of the URL
    value = q.answer(q.settings).value
    before = _query(at)
    far = _far(q, value)
    assert not _verdict_shown(_commit(at, q, far), q, far).close
    assert _query(at) == before, ("committing a guess changed the URL", before, _query(at))
    assert not any("guess" in k for k in at.query_params), dict(at.query_params)
    if q.kind != "choice":
        assert not any(far in v for vs in _query(at).values() for v in vs), dict(at.query_params)
        assert far not in _link(at), _link(at)

    # "Ask me again" hides it again; the answer itself is then judged close
    at.button(key="question_again").click().run()
    _hidden(at, q)
    right = value if q.kind == "choice" else _typed(value)
    assert _verdict_shown(_commit(at, q, right), q, right).close
    assert _query(at) == before

    # the URL reopens the question, unanswered, in a new session
    assert _query(at).get("q") == [qid], dict(at.query_params)
    fresh = app(PATH[page], **_query(at))
    _hidden(fresh, q)
    answer = q.answer(q.settings).text
    assert not [b.value for b in (*fresh.success, *fresh.info) if answer in b.value], "the new session is answered"


# --- 3 and 4: tours ------------------------------------------------------------------------------------

@pytest.mark.parametrize("page, n", STEPS, ids=[f"{p}-{n}" for p, n in STEPS])
def test_a_tour_link_opens_its_step_with_its_settings(app, page, n):
    step = Ls.TOURS[page][n - 1]
    at = app(PATH[page], tour=str(n))
    _no_exception(at)
    assert not at.warning, [w.value for w in at.warning]
    _tour_title(at, page, n)
    _check_settings(at, page, Ls.step_settings(page, step))
    if step.question is not None:
        _hidden(at, Q[step.question])
    assert at.query_params.get("tour") == str(n), dict(at.query_params)


@pytest.mark.parametrize("page", list(Ls.TOURS))
def test_next_walks_the_tour_back_steps_and_reset_returns_the_defaults(app, page):
    steps = Ls.TOURS[page]
    at = app(PATH[page])
    at.button(key="tour_start").click().run()
    for n, step in enumerate(steps, 1):
        _no_exception(at)
        _tour_title(at, page, n)
        _check_settings(at, page, Ls.step_settings(page, step))  # a button: every other control at its default
        assert at.query_params.get("tour") == str(n), (n, dict(at.query_params))
        assert at.button(key="tour_next").disabled == (n == len(steps))
        if n < len(steps):
            at.button(key="tour_next").click().run()
    at.button(key="tour_prev").click().run()
    _no_exception(at)
    _tour_title(at, page, len(steps) - 1)
    _check_settings(at, page, Ls.step_settings(page, steps[-2]))
    # no button in the tour panel throws the tour away: Redo puts the step's settings back, End keeps the page
    # as it is and the bar offers to resume; only the bar's Reset returns the defaults
    assert "lesson_reset" not in [b.key for b in at.button]
    at.button(key="tour_end").click().run()
    _no_exception(at)
    _check_settings(at, page, Ls.step_settings(page, steps[-2]))
    assert "tour" not in at.query_params, dict(at.query_params)
    keys = [b.key for b in at.button]
    assert "tour_next" not in keys and "tour_resume" in keys, ("the tour panel is still shown", keys)
    at.button(key="tour_resume").click().run()
    _tour_title(at, page, len(steps) - 1)
    assert at.query_params.get("tour") == str(len(steps) - 1)
    at.button(key="tour_end").click().run()
    at.button(key="lesson_reset").click().run()
    _no_exception(at)
    _check_settings(at, page, {})
    assert "tour" not in at.query_params and "q" not in at.query_params, dict(at.query_params)
    assert at.get("plotly_chart")


def test_the_tour_buttons_have_names_and_redo_puts_the_step_back(app):
    """Screen readers announced "arrow_back icon" and "close icon": every tour button has a label."""
    page = "vanishing"
    at = app(PATH[page], tour="2")
    labels = {b.key: b.label for b in at.button}
    assert labels["tour_prev"] == "Back" and labels["tour_end"] == "End tour" and labels["tour_next"] == "Next"
    assert all(b.label.strip() for b in at.button), labels
    at.session_state["depth"] = 5
    at.run()
    at.button(key="tour_redo").click().run()
    _no_exception(at)
    _check_settings(at, page, Ls.step_settings(page, Ls.TOURS[page][1]))


def test_a_link_with_a_step_and_a_setting_keeps_the_setting(app):
    at = app(PATH["activations"], tour="1", x="2")
    _no_exception(at)
    assert not at.warning, [w.value for w in at.warning]
    _tour_title(at, "activations", 1)
    assert at.session_state["x"] == 2
    _check_settings(at, "activations", Ls.step_settings("activations", Ls.TOURS["activations"][0]), False)


@pytest.mark.parametrize("page", list(Ls.TOURS))
def test_a_link_that_contradicts_its_step_keeps_the_links_value(app, page):
    n, step = next((n, s) for n, s in enumerate(Ls.TOURS[page], 1) if Ls.step_settings(page, s))
    settings = Ls.step_settings(page, step)
    key = next(iter(settings))
    mine = _other(Ls.PAGE_SPECS[page][key], Ls.raw_values(settings[key]))
    at = app(PATH[page], tour=str(n), **{key: mine})
    _no_exception(at)
    assert not at.warning, [w.value for w in at.warning]
    _tour_title(at, page, n)
    _check_settings(at, page, {**settings, key: mine})


# --- 5: bad links ------------------------------------------------------------------------------------

OWN = Ls.for_page("activations")[0].id
BAD = {  # name: (the link's key, its raw values)
    "unknown id": ("q", ["nope"]),
    "markup": ("q", ["<script>alert(1)</script>"]),
    "backticks": ("q", ["`x`](https://example.com)"]),
    "q twice": ("q", [OWN, OWN]),
    "q empty twice": ("q", ["", ""]),
    "step 0": ("tour", ["0"]),
    "step 99": ("tour", ["99"]),
    "step Infinity": ("tour", ["Infinity"]),
    "step 1e3": ("tour", ["1e3"]),
    "step -1": ("tour", ["-1"]),
    "tour twice": ("tour", ["1", "1"]),
    "superscript two": ("tour", ["²"]),  # str.isdigit() is True, int() refuses it
}


def _bad_link_notice(at, key: str, raw: list[str]) -> None:
    """A notice echoes the link inertly, the key leaves the URL, and the page shows normally."""
    _no_exception(at)
    text = "&".join(f"{key}={r}" for r in raw)
    warnings = [w.value for w in at.warning]
    echoed = [w for w in warnings if re.search(r"(`+) " + re.escape(text[:30]), w)]
    assert echoed, (text, warnings)
    for w in echoed:  # the link's text only inside a code span (markdown shows it literally)
        outside = _outside_code(w)
        for r in raw:
            assert f"{key}={r}" not in outside, ("the link's value is outside a code span", w)
            if len(r) >= 4 and r != OWN:  # (an id of this page is named in the notice's list)
                assert r not in outside, ("the link's value is outside a code span", w)
    assert key not in at.query_params, dict(at.query_params)
    assert at.get("plotly_chart"), "the page is not shown"


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_lesson_link_gets_an_inert_notice_and_the_page(app, case):
    key, raw = BAD[case]
    try:
        at = app(PATH["activations"], **{key: raw if len(raw) > 1 else raw[0]})
    except AssertionError as e:  # the fixture refuses a run that raised
        pytest.fail(f"BUG: the link ?{'&'.join(f'{key}={r}' for r in raw)} raises in the page instead of giving a "
                    f"notice (see the traceback in the captured log): {e}")
    _bad_link_notice(at, key, raw)


@pytest.mark.parametrize("page", Ls.PAGES)
def test_a_question_of_another_page_is_refused(app, page):
    other = next(q.id for q in Q.values() if q.page != page)
    at = app(PATH[page], q=other)
    _bad_link_notice(at, "q", [other])


# --- 6: the link to this view --------------------------------------------------------------------

def _reopens(app, at, page: str) -> None:
    """The "Link to this view" opens a new session with the same widget values."""
    link = urlsplit(_link(at))
    assert link.path.endswith(f"/{page}"), link
    query = parse_qs(link.query, keep_blank_values=True)
    fresh = app(PATH[page], **query)
    _no_exception(fresh)
    assert not fresh.warning, [w.value for w in fresh.warning]
    for key, spec in Ls.PAGE_SPECS[page].items():
        if key in at.session_state:
            assert key in fresh.session_state, (page, key, query)
            assert _held(spec, fresh.session_state[key]) == _held(spec, at.session_state[key]), (page, key, query)
    for key in ("q", "tour"):
        assert fresh.query_params.get(key) == at.query_params.get(key), (key, query)


@pytest.mark.parametrize("page", list(Ls.TOURS))
def test_the_link_to_a_tour_step_with_a_changed_setting_reopens_it(app, page):
    n = max(n for n, s in enumerate(Ls.TOURS[page], 1) if s.question is None)  # its widgets are all on screen
    at = app(PATH[page], tour=str(n))
    _move(at, page)
    at.run()
    _no_exception(at)
    _reopens(app, at, page)


def test_the_link_to_a_changed_setting_reopens_it(app):
    at = app(PATH["activations"])
    at.multiselect(key="fn").set_value(["tanh", "elu"])
    at.slider(key="x").set_value(-3.5)
    at.run()
    _no_exception(at)
    assert "tour" not in _link(at) and "q=" not in _link(at)
    _reopens(app, at, "activations")


def test_closing_a_question_keeps_the_page_as_it_is(app):
    """"Close the question" drops the question, not the student's settings."""
    q = Ls.QUESTIONS["act-most-gradient-at-minus-4"]
    at = app("pages/activations.py", q=q.id)
    _hidden(at, q)
    held = {k: at.session_state[k] for k in q.settings}
    at.button(key="question_close").click().run()
    _no_exception(at)
    assert "q" not in at.query_params and at.get("plotly_chart")
    assert {k: at.session_state[k] for k in q.settings} == held


def test_a_guess_after_the_figure_was_on_screen_says_so(app):
    """Next on an unanswered question step shows the next step's figure; back at the question, a guess
    committed now is judged as usual and the verdict says the figure had been on screen. A guess
    committed before anything was shown says nothing of the kind."""
    page, i = next((p, i) for p, steps in Ls.TOURS.items() for i, s in enumerate(steps, 1)
                   if s.question and i < len(steps))
    q = Ls.QUESTIONS[Ls.TOURS[page][i - 1].question]
    note = "You had this page's figure on screen before you committed this guess."
    fresh = _commit(app(f"pages/{page}.py", tour=str(i)), q, _far(q, q.answer().value))
    assert note not in [c.value for c in fresh.caption]
    at = app(f"pages/{page}.py", tour=str(i))
    _hidden(at, q)
    at.button(key="tour_next").click().run()
    at.button(key="tour_prev").click().run()
    _hidden(at, q)
    typed = _far(q, q.answer().value)
    _verdict_shown(_commit(at, q, typed), q, typed)
    assert note in [c.value for c in at.caption]


def test_a_presented_step_keeps_its_text_after_a_guess_and_the_reveal_figure_leads(app):
    """Presentation mode: an answered step folds its text into a "Step text" panel (still there to read), and
    the first chart on the page is the reveal figure, with the answer written on it; no chart has plotly's
    toolbar (it covered legends on a phone and took 8 Tab stops per chart)."""
    page, i = next((p, i) for p, steps in Ls.TOURS.items() for i, s in enumerate(steps, 1)
                   if s.question and Q[s.question].kind == "number")
    step = Ls.TOURS[page][i - 1]
    q = Q[step.question]
    at = _commit(app(PATH[page], tour=str(i), present="true"), q, _far(q, q.answer().value))
    _no_exception(at)
    assert "Step text" in [e.label for e in at.expander], [e.label for e in at.expander]
    assert any(step.text == m for m in _markdown(at)), "the step's text is gone after the guess"
    charts = at.get("plotly_chart")
    first = json.loads(charts[0].proto.spec)
    written = " ".join(a.get("text", "") for a in first["layout"].get("annotations", []))
    assert q.answer().shown in written, (q.id, written)
    for c in charts:
        assert json.loads(c.proto.config).get("displayModeBar") is False, c.proto.config
