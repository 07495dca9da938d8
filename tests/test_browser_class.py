"""Class mode in real browsers, through nginx with two app processes (scripts/serve.sh 2), the teacher on one
process and the student on the other: the store (SQLite, one file both processes share) is the only thing they
have in common. The teacher starts a class; the student joins by the join link, follows two tour steps, commits a
guess; the projector's count goes to 1 and its histogram shows the guess; Reveal shows the verdict on the
student's page; Unfollow stops following; End deletes the class and its guesses."""
from __future__ import annotations

import json
import os
import re
import urllib.parse

import pytest

from browser import wait_idle
from test_deploy import Stack, _assert_full_app, _student_on, nginx_path  # noqa: F401 (nginx_path: the fixture below)
from browser import chromium, skip_or_fail

from nnviz import lessons as Ls
from nnviz.classstore import open_store

PAGE = "activations"
STEPS = [i + 1 for i, s in enumerate(Ls.TOURS[PAGE]) if s.question]  # the tour's question steps
FIRST_Q = STEPS[0]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return tmp_path_factory.mktemp("class") / "classes.sqlite3"


@pytest.fixture(scope="module")
def stack(store_path):
    exe = nginx_path()
    if exe is None:
        skip_or_fail("no nginx found (apt-get install nginx)")
    old = os.environ.get("NNVIZ_CLASS_STORE")
    os.environ["NNVIZ_CLASS_STORE"] = f"sqlite:{store_path}"  # serve.sh's processes inherit it
    try:
        s = Stack(exe)
    finally:
        if old is None:
            del os.environ["NNVIZ_CLASS_STORE"]
        else:
            os.environ["NNVIZ_CLASS_STORE"] = old
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser(stack):
    yield from chromium()


def _open(ctx, url: str):
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    wait_idle(page, timeout=60_000)
    return page, errors


def _click(page, key: str) -> None:
    page.locator(f".st-key-{key} button").first.click()


def _step_title(page) -> str:
    return page.locator(".st-key-tour_panel strong").first.inner_text()


def _wait_step(page, n: int, timeout: float = 15_000) -> None:
    """The follower's tour panel shows step n (the follower polls the class once a second)."""
    page.wait_for_function(
        "n => { const t = document.querySelector('.st-key-tour_panel strong');"
        " return t && t.innerText.startsWith(n + '/'); }", arg=n, timeout=timeout)


def _live_figure(page) -> dict:
    """The projector's live figure of the class's guesses, as plotly JSON (its title and bars)."""
    return page.evaluate("""() => {
        const el = document.querySelector('.st-key-question_panel .js-plotly-plot');
        return el ? {title: el.layout.title.text, y: el.data[0].y, x: el.data[0].x} : null; }""")


def test_a_class_follows_the_teacher_pools_a_guess_and_sees_the_reveal(browser, stack, store_path):
    a, b = stack.backends
    teacher_ctx, _ = _student_on(browser, stack, a)
    student_ctx, _ = _student_on(browser, stack, b)

    # the teacher starts a class on the activations page: the projector shows the join card
    teacher, t_errors = _open(teacher_ctx, f"{stack.url}/{PAGE}")
    _click(teacher, "class_start")
    teacher.wait_for_selector(".st-key-class_join img", timeout=30_000)
    wait_idle(teacher)
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(teacher.url).query)["class"][0]
    join_text = teacher.locator(".st-key-class_join").inner_text()
    link = re.search(r"http\S+\?class=[0-9A-Z-]+", join_text).group(0)
    assert link.startswith(stack.url + "/?class="), link
    assert teacher.locator(".st-key-class_join img").get_attribute("alt").endswith(link)
    assert "teach=" not in teacher.url  # the secret is never in the projector's address bar

    # the student opens the join link: they land on the teacher's page, on the other process
    student, s_errors = _open(student_ctx, link)
    student.wait_for_selector(".st-key-class_bar", timeout=30_000)
    assert "following the teacher" in student.locator(".st-key-class_bar").inner_text()
    assert f"/{PAGE}" in student.url

    # the teacher starts the tour and steps to the question: the student follows every step
    _click(teacher, "tour_start")
    wait_idle(teacher)
    _wait_step(student, 1)
    for n in range(2, FIRST_Q + 2):  # one step past the question, and back to it
        _click(teacher, "tour_next")
        wait_idle(teacher)
        _wait_step(student, n)
    _click(teacher, "tour_prev")
    wait_idle(teacher)
    _wait_step(student, FIRST_Q)
    teacher.wait_for_function("() => document.querySelector('.st-key-question_panel .js-plotly-plot')",
                              timeout=15_000)
    assert "0 answered" in _live_figure(teacher)["title"]
    # the question hides the figure on the student's page until a guess, and on the projector until Reveal
    q = Ls.QUESTIONS[Ls.TOURS[PAGE][FIRST_Q - 1].question]
    assert q.kind == "number"
    wait_idle(student)
    panel = student.locator(".st-key-question_panel")
    panel.locator("input").fill("0.2")
    panel.locator("[data-testid='stFormSubmitButton'] button").click()
    student.wait_for_selector("text=is in the class's count", timeout=15_000)
    # a reload is the same student (the anonymous id lives in a cookie of this browser): still one guess
    student.reload()
    wait_idle(student, timeout=60_000)
    student.wait_for_selector("text=is in the class's count", timeout=15_000)
    # the projector's count goes to 1 and its histogram has one bar of height 1 at the guess
    teacher.wait_for_function("""() => { const el = document.querySelector('.st-key-question_panel .js-plotly-plot');
        return el && el.layout.title.text.includes('1 answered'); }""", timeout=10_000)
    fig = _live_figure(teacher)
    assert sum(fig["y"]) == 1 and [x for x, y in zip(fig["x"], fig["y"]) if y] == [pytest.approx(0.2)]
    assert "answer:" not in json.dumps(fig)  # nothing of the answer before Reveal

    # Reveal: the projector marks the answer (0.25: 0.2 is 20 % below, not within 10 %), the student sees the verdict
    _click(teacher, "class_reveal")
    wait_idle(teacher)
    teacher.wait_for_function("""() => { const el = document.querySelector('.st-key-question_panel .js-plotly-plot');
        return el && el.layout.title.text.includes('0 of 1 within 10%'); }""", timeout=15_000)
    student.wait_for_selector("text=is 20% below the answer, 0.25", timeout=15_000)

    # a reload of the projector keeps the teacher (the secret is in a cookie of the teacher's browser only)
    teacher.reload()
    teacher.wait_for_selector(".st-key-class_end", timeout=60_000)
    wait_idle(teacher)
    assert teacher.locator(".st-key-class_unfollow").count() == 0

    # Unfollow: the tour's own Next works again, and the teacher's next step no longer moves the student's page
    assert student.locator(".st-key-tour_next button").first.is_disabled()
    _click(student, "class_unfollow")
    student.wait_for_selector(".st-key-class_follow", timeout=15_000)
    wait_idle(student)
    assert not student.locator(".st-key-tour_next button").first.is_disabled()
    _click(teacher, "tour_next")
    wait_idle(teacher)
    student.wait_for_timeout(3000)  # three polls
    assert _step_title(student).startswith(f"{FIRST_Q}/")
    # re-follow: one click takes the teacher's step at once
    _click(student, "class_follow")
    _wait_step(student, FIRST_Q + 1)

    # a student who copies the teacher's page URL gets a follower's view, not the teacher's controls
    copier, c_errors = _open(student_ctx, teacher.url)
    copier.wait_for_selector(".st-key-class_bar", timeout=15_000)
    assert copier.locator(".st-key-class_unfollow").count() == 1
    assert copier.locator(".st-key-class_end, .st-key-class_reveal, .st-key-class_end_side").count() == 0

    # End: the class and its guesses are gone from the store; the student is told
    _click(teacher, "class_end")
    wait_idle(teacher)
    student.wait_for_selector("text=has ended", timeout=15_000)
    store = open_store(f"sqlite:{store_path}")
    try:
        assert store.get_class(code) is None and store.count_guesses(code, q.id) == 0
        assert not [c for c in teacher_ctx.cookies() if c["name"] == "nnviz_teacher" and c["value"]]
    finally:
        store.close()
    for page, errors in ((teacher, t_errors), (student, s_errors), (copier, c_errors)):
        _assert_full_app(page, errors)
    teacher_ctx.close()
    student_ctx.close()
