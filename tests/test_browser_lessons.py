"""The guided tours in a real browser (Playwright + Chromium), as a teacher runs them: presentation mode on
a 1024x768 projector, every step of every page's tour stepped with Next. Each step's text is on the
first screen in large type; a step without a question shows its whole headline figure on that screen
too; a step with a question shows no figure until a guess is committed, then the verdict and the whole
figure. The address bar follows the tour, so a copied URL reopens the step.

Issue 17's bar, asserted at every step before and after a guess: every plot panel of every figure whose top
is on the first screen keeps at least 150 px of plot area; no two labels of a chart (ticks, axis titles,
annotations, legend entries) overlap; after a guess, the answer is written as text in the reveal figure right under
the verdict, on the first screen; Next stays where it was, so clicking twice at the same screen point moves two
steps. Where the regression and the logits tours say to press Train, the walk presses it and checks the trained
figures the same way."""
from __future__ import annotations

import pytest

from browser import GUESS, SHOTS, commit_guess, first_screen
from nnviz import lessons as Ls

W, H = 1024, 768
CHART = "[data-testid='stPlotlyChart']"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
MIN_HEIGHT = 240  # px of the headline figure (two side by side on the regression page)


def _idle(page) -> None:
    page.wait_for_timeout(400)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.wait_for_timeout(600)  # plotly's layout pass
    page.wait_for_selector(IDLE, timeout=60_000)


def _log(server) -> str:
    """The end of the server's log (where a script error's traceback goes)."""
    server.log.flush()
    return open(server.log.name).read()[-3000:]


def _inside(page, selector: str, problems: list, where: tuple) -> dict:
    """The element's box; one not whole inside the first screen is noted in `problems`."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, (where, f"{selector} is not shown")
    if not (box["y"] >= 0 and box["y"] + box["height"] <= H + 1):
        problems.append((*where, selector, f"top {box['y']:.0f}, bottom {box['y'] + box['height']:.0f}"))
    return box


def _written_on_a_figure(page, text: str) -> bool:
    """`text` is drawn inside a chart whose top is on the first screen."""
    for chart in page.locator(CHART).all():
        box = chart.bounding_box()
        if box is not None and box["y"] < H and text in chart.evaluate("e => e.textContent"):
            return True
    return False


def _train(page, button: str, done: str) -> None:
    """Press a Train button and wait for the run's message (a CSS :has-text selector list) and plotly's layout."""
    page.locator(f"{button} button").click()
    _idle(page)
    page.wait_for_selector(done, timeout=120_000)
    _idle(page)
    boxes = page.locator("[data-testid='stException']")
    assert boxes.count() == 0, boxes.first.inner_text()


def _regression(page, i: int, step: Ls.Step, shown: list[dict], problems: list) -> None:
    """The regression tour as a teacher runs it: Train is pressed at each step that says to (and at the first, the
    default run). Before and after it, the step's charts are the first screen's, whole on it (each plot >= 150 px, no
    two labels on top of each other); step 5's loss chart ends at the epoch the run stopped; step 6 shows step 4's SGD
    run beside Adam's."""
    where = f"regression {i}" + (" revealed" if step.question is not None else "")
    if step.question is None:
        assert len(shown) == 2, where  # the loss and the line panels
    else:  # the verdict's number in a label or a legend entry of a figure on the first screen
        answer = Ls.QUESTIONS[step.question].answer()
        assert any(answer.shown in " ".join(c["words"]) for c in shown), (where, answer.shown)
    if i not in (1, 4, 5, 6):
        return
    _train(page, ".st-key-train", "[data-testid='stAlert']:has-text('Trained'), "
                                  "[data-testid='stAlert']:has-text('blew up')")
    page.screenshot(path=str(SHOTS / f"tour-regression-{i}-trained.png"))
    shown = first_screen(page, f"{where} trained", problems)
    if i == 5:
        assert "blew up" in page.locator("[data-testid='stAlert']").last.inner_text()
        ticks = page.locator(CHART).first.locator(".xtick text").all_text_contents()
        assert ticks[-1] == "8" and len(shown) == 2, ticks  # epochs 0..9, not 0..999
    if i == 6:
        assert "earlier: SGD" in shown[0]["words"], shown[0]["words"]


def _logits(page, i: int, step: Ls.Step, shown: list[dict], problems: list) -> None:
    """The logits tour's classifier steps: the untrained decision regions and the empty loss chart on the first screen,
    and after Train the trained run's, each plot >= 150 px with no two labels on top of each other."""
    if not page.locator(".st-key-train_clf button").count():
        return
    assert {c["key"] for c in shown} == {"st-key-region_1", "st-key-history_1"}, (i, [c["key"] for c in shown])
    _train(page, ".st-key-train_clf", "[data-testid='stAlert']:has-text('Trained')")
    page.screenshot(path=str(SHOTS / f"tour-logits-{i}-trained.png"))
    shown = first_screen(page, f"logits {i} trained", problems, whole=False)
    assert {c["key"] for c in shown} == {"st-key-region_final", "st-key-history_final"}, (i, [c["key"] for c in shown])


# More a page's tour asks of the teacher at a step, after the checks every step gets (page, step number, step, the
# charts on the first screen, problems): pressing Train where the step says so, and what the page then shows.
AT_EACH_STEP = {"regression": _regression, "logits": _logits}
# The tours whose every step's charts must be whole on the first screen (the regression page's two panels are its
# first screen); on the other pages a chart further down may begin above the fold.
WHOLE = {"regression"}


@pytest.mark.parametrize("name", list(Ls.TOURS))
def test_every_tour_step_fits_a_projector(browser, server, name):
    steps = Ls.TOURS[name]
    errors: list[str] = []
    page = browser.new_page(viewport={"width": W, "height": H})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/{name}?present=true&tour=1")
    page.wait_for_selector(".st-key-tour_panel", timeout=60_000)
    _idle(page)
    assert page.locator(".st-key-tour_panel").count() == 1, _log(server)
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list = []  # every step is walked; what did not fit is reported at the end, all of it
    nxt = page.locator(".st-key-tour_next button").bounding_box()
    at = (nxt["x"] + nxt["width"] / 2, nxt["y"] + nxt["height"] / 2)  # every Next is clicked at this point
    for i, step in enumerate(steps, 1):
        page.screenshot(path=str(SHOTS / f"tour-{name}-{i}.png"))
        panel = page.locator(".st-key-tour_panel")
        assert f"{i}/{len(steps)} · {step.title}" in panel.inner_text(), (name, i, panel.inner_text())
        assert f"tour={i}" in page.url, (name, i, page.url)
        assert page.locator("[data-testid='stException']").count() == 0, (name, i, _log(server))
        text = page.locator(".st-key-tour_text")
        assert text.inner_text().split()[:4] == step.text.replace("*", "").split()[:4], (name, i)
        assert float(text.evaluate("e => getComputedStyle(e.querySelector('p')).fontSize")[:-2]) >= 20, (name, i)
        _inside(page, ".st-key-tour_panel", problems, (name, i))
        if step.question is not None:
            # nothing that answers it before a guess: no figure at all, and the question on screen
            assert page.locator(CHART).count() == 0, (name, i)
            _inside(page, ".st-key-question_panel", problems, (name, i))
            q = Ls.QUESTIONS[step.question]
            form = page.locator(".st-key-question_panel")
            commit_guess(page, q.kind)
            _idle(page)
            page.wait_for_selector(CHART, timeout=60_000)
            _idle(page)
            page.screenshot(path=str(SHOTS / f"tour-{name}-{i}-revealed.png"))
            guess = q.choices[0] if q.kind == "choice" else q.read_guess(GUESS[q.kind])
            verdict = q.judge(guess)  # the tour step opens the question's own settings
            assert verdict.head in form.locator("[data-testid='stAlert']").inner_text(), (name, i, verdict.head)
            shown = str(q.answer().value) if q.kind == "choice" else q.answer().shown
            if not _written_on_a_figure(page, shown):
                problems.append((name, i, "the answer is not written on a figure on the first screen", shown))
            if shown not in page.locator(CHART).first.evaluate("e => e.textContent"):
                problems.append((name, i, "the answer is not written in the reveal figure under the verdict", shown))
            _inside(page, ".st-key-question_panel", problems, (name, i))
            _inside(page, ".st-key-tour_panel", problems, (name, i))
        box = _inside(page, CHART, problems, (name, i))
        if box["height"] < MIN_HEIGHT:  # still a figure, not a strip
            problems.append((name, i, "figure height", box["height"]))
        nxt = page.locator(".st-key-tour_next button").bounding_box()  # before first_screen scrolls to the top
        if max(abs(nxt["x"] + nxt["width"] / 2 - at[0]), abs(nxt["y"] + nxt["height"] / 2 - at[1])) > 1:
            problems.append((name, i, "Next is not where it was on step 1", nxt))
        shown = first_screen(page, f"{name} {i}", problems, whole=name in WHOLE)
        if name in AT_EACH_STEP:
            AT_EACH_STEP[name](page, i, step, shown, problems)
        if i < len(steps):
            page.mouse.click(*at)  # where Next was on step 1: still Next, never Reset or End
            _idle(page)
            assert page.locator(".st-key-tour_panel").count() == 1, (name, i + 1, _log(server))
    assert page.locator(".st-key-tour_next button").is_disabled()
    assert not problems, problems
    assert not errors, errors
    page.close()
