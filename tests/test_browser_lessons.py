"""The guided tours in a real browser (Playwright + Chromium), as a teacher runs them: presentation mode on
a 1024x768 projector, every step of every page's tour stepped with Next. Each step's text is on the
first screen in large type; a step without a question shows its whole headline figure on that screen
too; a step with a question shows no figure until a guess is committed, then the verdict and the whole
figure. The address bar follows the tour, so a copied URL reopens the step.

Issue 17's bar, asserted at every step before and after a guess: every plot panel of every figure whose top
is on the first screen keeps at least 150 px of plot area; no two tick labels of a chart overlap; after a guess,
the answer is written as text in the reveal figure right under the verdict, on the first screen; Next stays where
it was, so clicking twice at the same screen point moves two steps."""
from __future__ import annotations

import pytest

from browser import GUESS, SHOTS, commit_guess, first_screen, overlapping_ticks, short_panels
from nnviz import lessons as Ls

W, H = 1024, 768
CHART = "[data-testid='stPlotlyChart']"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
MIN_HEIGHT = 240  # px of the headline figure (two side by side on the regression page)
MIN_PANEL = 150  # px of plot area of every panel on the first screen (a 50 px panel is a decoration)


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


def _panels(page, problems: list, where: tuple) -> None:
    """Every plot panel of every chart whose top is on the first screen: at least MIN_PANEL px tall."""
    problems.extend((*where, "panel height", h) for h in short_panels(page, H, MIN_PANEL))


def _written_on_a_figure(page, text: str) -> bool:
    """`text` is drawn inside a chart whose top is on the first screen."""
    for chart in page.locator(CHART).all():
        box = chart.bounding_box()
        if box is not None and box["y"] < H and text in chart.evaluate("e => e.textContent"):
            return True
    return False


def _regression(page, i: int, step: Ls.Step, problems: list) -> None:
    """The regression tour as a teacher runs it: Train is pressed at each step that says to (and at the first, the
    default run). Before and after it, every chart on the first screen is wholly on it, each plot >= 150 px, no two
    labels (ticks, titles, annotations, legend) on top of each other; step 5's loss chart ends at the epoch the run
    stopped; step 6 shows step 4's SGD run beside Adam's."""
    where = f"step {i}" + (" revealed" if step.question is not None else "")
    shown = first_screen(page, where, problems)
    if step.question is None:
        assert len(shown) == 2, where  # the loss and the line panels
    else:  # the verdict's number in a label or a legend entry of a figure on the first screen
        answer = Ls.QUESTIONS[step.question].answer()
        assert any(answer.shown in " ".join(c["words"]) for c in shown), (where, answer.shown)
    if i not in (1, 4, 5, 6):
        return
    page.locator(".st-key-train button").click()
    _idle(page)
    page.wait_for_selector("[data-testid='stAlert']:has-text('Trained'), [data-testid='stAlert']:has-text('blew up')",
                           timeout=120_000)
    _idle(page)
    page.screenshot(path=str(SHOTS / f"tour-regression-{i}-trained.png"))
    shown = first_screen(page, f"step {i} trained", problems)
    if i == 5:
        assert "blew up" in page.locator("[data-testid='stAlert']").last.inner_text()
        ticks = page.locator(CHART).first.locator(".xtick text").all_text_contents()
        assert ticks[-1] == "8" and len(shown) == 2, ticks  # epochs 0..9, not 0..999
    if i == 6:
        assert "earlier: SGD" in shown[0]["words"], shown[0]["words"]


# More a page's tour asks of the teacher at a step, after the checks every step gets (page, step number, step,
# problems): pressing Train where the step says so, and what the page then shows.
AT_EACH_STEP = {"regression": _regression}


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
        _panels(page, problems, (name, i))
        problems.extend((name, i, "tick labels overlap", pair) for pair in overlapping_ticks(page))
        if name in AT_EACH_STEP:
            AT_EACH_STEP[name](page, i, step, problems)
        if i < len(steps):
            page.mouse.click(*at)  # where Next was on step 1: still Next, never Reset or End
            _idle(page)
            assert page.locator(".st-key-tour_panel").count() == 1, (name, i + 1, _log(server))
    assert page.locator(".st-key-tour_next button").is_disabled()
    assert not problems, problems
    assert not errors, errors
    page.close()
