"""Class mode's rules (nnviz.classmode) and its pages (AppTest, a SQLite store in a temporary folder): what a
follower takes from the store is checked like a link; the projector's distribution and tally are recomputed here
independently (numpy, the tolerance's definition); only the teacher secret's holder leads the class."""
from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from nnviz import classmode as C
from nnviz import lessons as Ls
from nnviz.classstore import ClassState
from nnviz.figures.classmode import class_guesses
from nnviz.text import inert
from test_classstore import redis_url  # noqa: F401 (a fixture: one redis-server for the module)

SIGMOID = Ls.QUESTIONS["act-sigmoid-max-slope"]  # number, answer 0.25, 10 %
DEPTH30 = Ls.QUESTIONS["van-sigmoid-depth-30"]  # log10, 2 decades
CHOICE = Ls.QUESTIONS["act-most-gradient-at-minus-4"]


def _state(**kw) -> ClassState:
    base = dict(code="ABCDEFGHJK", page="activations", step=1, question="act-sigmoid-max-slope",
                settings={"fn": ["sigmoid"]}, revealed=False, version=3)
    return ClassState(**{**base, **kw})


# --- what a follower takes from the store -------------------------------------------------------------------

def test_teacher_view_takes_a_valid_state_as_the_page_would_read_its_link():
    view = C.teacher_view(_state(settings={"fn": ["sigmoid", "tanh"], "xmin": "-4"}))
    assert view == C.View("activations", 1, "act-sigmoid-max-slope", {"fn": ["sigmoid", "tanh"], "xmin": ["-4.0"]})
    # a default value is left out (canonical), no step, no question: the page at those settings
    view = C.teacher_view(_state(step=0, question="", settings={"fn": ["sigmoid"]}))
    assert (view.step, view.question) == (None, None)


@pytest.mark.parametrize("bad", [
    dict(page="nowhere"), dict(page=""), dict(step=99), dict(question="loss-mse-slope"),  # another page's question
    dict(question="no-such-question"), dict(step=2),  # step 2 asks no question, or another one
    dict(settings={"depth": ["12"]}),  # not a control of this page
    dict(settings={"xmin": ["-1e309"]}), dict(settings={"xmin": ["abc"]}), dict(settings={"fn": ["rm -rf"]}),
    dict(settings={"xmin": 3}), dict(settings={"fn": [1, 2]}), dict(settings=["fn"]),
])
def test_teacher_view_refuses_what_names_nothing_on_the_page(bad):
    state = _state(**bad)
    if state.step == 2 and Ls.TOURS["activations"][1].question == state.question:
        pytest.skip("step 2 asks this question")
    with pytest.raises(ValueError):
        C.teacher_view(state)


# --- the projector's distribution and tally ------------------------------------------------------------------

def test_choice_distribution_is_a_bar_per_choice_in_the_questions_order():
    guesses = ["tanh", "relu", "tanh", "sigmoid", "tanh", "nope", 3.0, None]
    d = C.distribution(CHOICE, guesses)
    want = Counter(g for g in guesses if g in CHOICE.choices)
    assert d.labels == CHOICE.choices and d.counts == tuple(want[c] for c in CHOICE.choices) and d.total == 5


def test_log10_distribution_has_one_bin_per_power_of_ten():
    rng = np.random.default_rng(0)
    guesses = list(10.0 ** rng.uniform(-19, 0, 200)) + [1e-5, 1e-5, -1.0, 0.0, float("nan"), "1e-3"]
    d = C.distribution(DEPTH30, guesses)
    readable = [g for g in guesses if isinstance(g, float) and g > 0 and math.isfinite(g)]
    nearest = Counter(int(np.floor(np.log10(g) + 0.5)) for g in readable)  # the nearest power of ten
    shown = {int(round((a + b) / 2)): c for a, b, c in zip(d.edges[:-1], d.edges[1:], d.counts)}
    assert {k: v for k, v in shown.items() if v} == dict(nearest) and d.total == len(readable) == 202
    assert all(b - a == pytest.approx(1.0) for a, b in zip(d.edges[:-1], d.edges[1:]))


@pytest.mark.parametrize("guesses", [[0.25] * 5, [0.1, 0.2, 0.25, 0.3, 0.5, 0.26, 0.24, 0.9, -0.1],
                                     list(np.random.default_rng(1).normal(0.25, 0.1, 500))])
def test_number_distribution_counts_every_guess_in_its_bin(guesses):
    d = C.distribution(SIGMOID, guesses)
    edges = np.array(d.edges)
    assert len(d.counts) <= C.MAX_BINS and d.total == len(guesses) == sum(d.counts)
    assert np.all(np.diff(edges) > 0) and edges[0] <= min(guesses) and edges[-1] >= max(guesses)
    want = np.histogram(guesses, bins=edges)[0]  # numpy's own binning of the same edges
    assert list(d.counts) == list(want)


def test_tally_counts_the_guesses_within_the_tolerance():
    guesses = [0.25, 0.226, 0.274, 0.224, 0.276, 0.1, 1.0, "x", 0.25]
    t = C.tally(SIGMOID, guesses, {"fn": ["sigmoid"]})
    v = 0.25  # sigmoid's largest slope, exactly: sigma'(0) = 1/4
    assert float(t.answer.value) == pytest.approx(v, rel=1e-6)
    assert t.total == 8 and t.close == sum(abs(g - v) <= 0.1 * v for g in guesses if isinstance(g, float)) == 4
    assert t.sentence(SIGMOID) == f"4 of 8 within 10% of the answer, {t.answer.shown}"
    c = C.tally(CHOICE, ["tanh", "relu", "sigmoid", "sigmoid"], CHOICE.settings)
    assert c.total == 4 and c.close == ["tanh", "relu", "sigmoid", "sigmoid"].count(c.answer.value)


def test_tally_of_a_log10_question_is_in_orders_of_magnitude():
    answer = float(DEPTH30.answer().value)
    guesses = [answer * 10 ** k for k in (-3, -2.1, -1.9, 0, 1.9, 2.1, 3)]
    t = C.tally(DEPTH30, guesses, DEPTH30.settings)
    assert t.close == 3 and t.total == 7  # within 2 decades: -1.9, 0, 1.9


def test_the_projector_shows_nothing_of_the_answer_before_reveal():
    guesses = [0.24, 0.25, 0.3]
    t = C.tally(SIGMOID, guesses, {"fn": ["sigmoid"]})
    before = json.dumps(class_guesses(SIGMOID, C.distribution(SIGMOID, guesses)).to_plotly_json())
    after = class_guesses(SIGMOID, C.distribution(SIGMOID, guesses), t)
    assert "answer:" not in before and '"shapes"' not in before and "3 answered" in before
    assert after.layout.title.text == "2 of 3 within 10% of the answer, 0.25"
    assert [s.x0 for s in after.layout.shapes if s.type == "line"] == [pytest.approx(0.25)]


# --- the pages, with a real store ------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path, monkeypatch):
    """The app's class store (NNVIZ_CLASS_STORE) for one test: a SQLite file, or a real redis-server (flushed)."""
    from nnviz.ui import classmode as UI

    if request.param == "redis":
        import redis

        url = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushdb()
        monkeypatch.setenv("NNVIZ_CLASS_STORE", url)
    else:
        monkeypatch.setenv("NNVIZ_CLASS_STORE", f"sqlite:{tmp_path / 'classes.sqlite3'}")
    monkeypatch.setattr(UI, "_store", None)
    monkeypatch.setattr(UI, "_throttle", type(UI._throttle)())
    yield UI.store()
    UI._store.close()


def _ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def _teacher(app, page="pages/activations.py", step=1):
    at = app(page, tour=str(step))
    _ok(at.button(key="class_start").click().run())
    return at


def _code(at) -> str:
    return at.query_params["class"][0] if isinstance(at.query_params["class"], list) else at.query_params["class"]


def _keys(at) -> set[str]:
    return {b.key for b in at.button}


def test_only_the_teacher_secret_leads_the_class(app, store):
    teacher = _teacher(app)
    code = _code(teacher)
    state = store.get_class(code)
    assert (state.page, state.step, state.question) == ("activations", 1, "act-sigmoid-max-slope")
    assert "teach" not in teacher.query_params and {"class_end", "class_reveal"} <= _keys(teacher)
    # a student who copies the teacher's page URL (the class code in it) is a follower
    copier = _ok(app("pages/activations.py", **{k: teacher.query_params[k] for k in teacher.query_params}))
    assert "class_unfollow" in _keys(copier) and not {"class_end", "class_reveal", "class_end_side"} & _keys(copier)
    # a forged teacher link is refused; the real one (the sidebar's private link) makes a second teacher browser
    forged = _ok(app(None, **{"class": code, "teach": "x" * 43}))
    assert "not valid" in " ".join(w.value for w in forged.warning) and "class_end" not in _keys(forged)
    secret = teacher.session_state["_nnviz_class"].secret
    second = _ok(app(None, **{"class": code, "teach": secret}))
    assert "class_end" in _keys(second) and "teach" not in second.query_params
    assert store.get_class(code).version == state.version  # no one but the teacher wrote


def test_a_follower_takes_the_teachers_steps_until_unfollowing(app, store):
    teacher = _teacher(app)
    student = _ok(app(None, **{"class": _code(teacher)}))
    assert student.query_params["tour"] == "1" and any("1/" in m.value for m in student.markdown)
    assert student.button(key="tour_next").disabled  # the teacher leads the steps
    _ok(teacher.button(key="tour_next").click().run())
    _ok(student.run())  # one poll
    assert student.query_params["tour"] == "2"
    _ok(student.button(key="class_unfollow").click().run())
    _ok(teacher.button(key="tour_next").click().run())
    _ok(student.run())
    assert student.query_params["tour"] == "2" and not student.button(key="tour_next").disabled
    _ok(student.button(key="class_follow").click().run())
    _ok(student.run())
    assert student.query_params["tour"] == "3"


def test_a_guess_goes_to_the_class_once_and_the_reveal_shows_the_verdict(app, store):
    teacher = _teacher(app)
    code, qid = _code(teacher), "act-sigmoid-max-slope"
    student = _ok(app(None, **{"class": code}))
    for typed in ("0.5", "0.3", "0.24"):  # a new guess replaces the old one
        student.text_input(key=f"guess_{qid}").input(typed)
        _ok(student.button(key=f"FormSubmitter:form_{qid}-Commit my guess").click().run())
        assert any("is in the class's count" in s.value for s in student.success)
        assert not student.get("plotly_chart")  # no figure before the reveal
        if typed != "0.24":
            _ok(student.button(key="class_change").click().run())
    assert store.guesses(code, qid) == [0.24]
    _ok(teacher.run())
    live = json.loads(teacher.get("plotly_chart")[0].proto.spec)
    assert live["layout"]["title"]["text"].startswith("1 answered") and "answer:" not in json.dumps(live)
    _ok(teacher.button(key="class_reveal").click().run())
    assert json.loads(teacher.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"].startswith("1 of 1 within")
    _ok(student.run())
    assert any("close" in s.value for s in student.success)  # 0.24 is 4 % below 0.25
    late = _ok(app(None, **{"class": code}))  # joined after the reveal: the answer, no verdict, no form
    assert any("revealed the answer before you committed" in i.value for i in late.info)
    assert not late.text_input and store.count_guesses(code, qid) == 1


def test_a_wrong_code_gets_a_plain_notice_and_repeated_ones_wait(app, store):
    at = _ok(app(None, **{"class": "[link](http://x.example)"}))
    warning = " ".join(w.value for w in at.warning)
    assert f"No class has the code {inert('[link](http://x.example)')}" in warning  # shown literally, not as a link
    assert "class" not in at.query_params
    for i in range(8):
        at.text_input(key="class_code_typed").input("ZZZZZ-ZZZZZ")
        _ok(at.button(key="FormSubmitter:class_join_form-Join").click().run())
    assert any("Too many wrong class codes" in w.value for w in at.warning)


def test_a_tampered_store_never_reaches_a_widget(app, store):
    teacher = _teacher(app)
    code, secret = _code(teacher), teacher.session_state["_nnviz_class"].secret
    store.set_state(code, secret, page="activations", step=0, question="", settings={"xmin": ["1e309"]})
    student = _ok(app(None, **{"class": code}))
    assert any("could not be followed" in w.value for w in student.warning)
    store.set_state(code, secret, page="../../etc", settings={})
    _ok(student.run())
    assert "xmin" not in student.query_params


def test_ending_the_class_deletes_it_and_tells_the_followers(app, store):
    teacher = _teacher(app)
    code = _code(teacher)
    student = _ok(app(None, **{"class": code}))
    student.text_input(key="guess_act-sigmoid-max-slope").input("0.25")
    _ok(student.button(key="FormSubmitter:form_act-sigmoid-max-slope-Commit my guess").click().run())
    _ok(teacher.button(key="class_end").click().run())
    assert store.get_class(code) is None and store.count_guesses(code, "act-sigmoid-max-slope") == 0
    _ok(student.run())
    assert any("has ended" in w.value for w in student.warning) and "class" not in student.query_params


QID = "act-sigmoid-max-slope"
COMMIT = f"FormSubmitter:form_{QID}-Commit my guess"


def _guess(at, text):
    at.text_input(key=f"guess_{QID}").input(text)
    return _ok(at.button(key=COMMIT).click().run())


def _verdicts(at) -> list[str]:
    return [s.value for s in at.success] + [i.value for i in at.info]


def test_a_student_who_unfollows_still_waits_for_the_reveal(app, store):
    """Unfollowing (or re-following) must not show the verdict of a class guess before the teacher reveals it:
    the student could then change their class guess to the answer."""
    teacher = _teacher(app)
    student = _ok(app(None, **{"class": _code(teacher)}))
    _guess(student, "0.5")
    _ok(student.button(key="class_unfollow").click().run())
    assert not student.get("plotly_chart") and not any("0.25" in v for v in _verdicts(student)), _verdicts(student)
    assert any("is in the class's count" in v for v in _verdicts(student))
    _ok(student.button(key="class_follow").click().run())
    _ok(student.button(key="class_change").click().run())
    _guess(student, "0.3")  # a changed guess, made without having seen the answer
    _ok(teacher.button(key="class_reveal").click().run())
    title = json.loads(teacher.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"]
    assert title.startswith("0 of 1 within 10%"), title  # 0.3 is 20 % above 0.25


def test_extreme_guesses_are_counted_and_the_projector_still_draws(app, store):
    teacher = _teacher(app)
    code = _code(teacher)
    for g in ("1e308", "-1e308", "1e99", "0.25"):
        _guess(_ok(app(None, **{"class": code})), g)
    assert store.count_guesses(code, QID) == 4
    _ok(teacher.run())
    live = json.loads(teacher.get("plotly_chart")[0].proto.spec)
    assert live["layout"]["title"]["text"].startswith("4 answered") and "2 off the scale" in live["layout"]["title"]["text"]
    assert sum(live["data"][0]["y"]) == 2  # 1e99 and 0.25 drawn
    _ok(teacher.button(key="class_reveal").click().run())
    assert json.loads(teacher.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"].startswith("1 of 4")


def test_the_teachers_setting_change_does_not_mark_an_unshown_question_as_seen(app, store):
    teacher = _teacher(app)
    student = _ok(app(None, **{"class": _code(teacher)}))
    teacher.session_state["xmin"] = -5.0  # the teacher moves a control: a new version for the followers
    _ok(teacher.run())
    _ok(student.run())
    _guess(student, "0.25")
    _ok(teacher.button(key="class_reveal").click().run())
    _ok(student.run())
    assert any("close" in v for v in _verdicts(student))
    assert not any("before you committed this guess" in c.value for c in student.caption)


def test_back_at_a_revealed_step_it_stays_revealed(app, store):
    teacher = _teacher(app)
    code = _code(teacher)
    student = _ok(app(None, **{"class": code}))
    _guess(student, "0.5")
    _ok(teacher.button(key="class_reveal").click().run())
    _ok(teacher.button(key="tour_next").click().run())
    assert store.get_class(code).question != QID
    _ok(teacher.button(key="tour_prev").click().run())
    state = store.get_class(code)
    assert state.question == QID and state.revealed
    _ok(student.run())
    assert not student.text_input and any("100% above" in v for v in _verdicts(student))  # no second vote


def test_a_stored_guess_is_checked_before_it_is_shown(app, store):
    if not hasattr(store, "path"):
        pytest.skip("tampering is done through the SQLite file")
    import sqlite3

    teacher = _teacher(app)
    student = _ok(app(None, **{"class": _code(teacher)}))
    _guess(student, "0.5")
    with sqlite3.connect(store.path) as db:  # another process wrote a text where a number belongs
        db.execute("UPDATE guesses SET value = ?", ('"[click me](http://evil.example)"',))
    _ok(student.run())
    assert not any("evil.example" in v for v in _verdicts(student) + [m.value for m in student.markdown])
    assert student.text_input(key=f"guess_{QID}")  # no readable guess: the form again
