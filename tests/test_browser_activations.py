"""The activation page in a real browser (Playwright + Chromium): the headline figure fits a projector's
first screen, the landmarks table fits a laptop, and nothing overflows a phone."""
from __future__ import annotations

import pytest

from browser import SHOTS, commit_guess, open_page
from nnviz import lessons as Ls

CHART = "[data-testid='stPlotlyChart'] .main-svg"
# the widest formulas of the registry (piecewise derivatives, SELU's constants, Mish's derivative)
WIDE = "fn=selu&fn=softplus&fn=mish&fn=hardswish&fn=elu&fn=gelu"
W, H = 1024, 768  # a projector
MIN_PANEL = 150  # px of plot area for every panel of a figure whose top is on the first screen (issue 17)
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def _idle(page) -> None:
    """No script run in progress (a tour step on a projector hides the page title, so not wait_idle)."""
    page.wait_for_timeout(400)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.wait_for_timeout(600)
    page.wait_for_selector(IDLE, timeout=60_000)


def _panels(page) -> list[dict]:
    """Every plot panel (plotly's .nsewdrag: one per subplot, its box is the plot area) of every chart whose top
    is on the first screen, with the chart's index."""
    out = []
    charts = page.locator("[data-testid='stPlotlyChart']")
    for i in range(charts.count()):
        chart = charts.nth(i)
        if chart.bounding_box()["y"] >= H:
            continue
        drag = chart.locator(".nsewdrag")
        out += [{"chart": i, **drag.nth(k).bounding_box()} for k in range(drag.count())]
    return out


def _overlapping_ticks(page) -> list:
    """Pairs of tick labels of one chart whose boxes overlap (a projector's "0" printed over "0.3")."""
    return page.evaluate("""() => {
        const out = [];
        for (const chart of document.querySelectorAll("[data-testid='stPlotlyChart']")) {
            const boxes = [...chart.querySelectorAll('.xtick text, .ytick text')]
                .map(t => [t.textContent, t.getBoundingClientRect()]).filter(([_, r]) => r.width > 0);
            for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
                const [a, r] = boxes[i], [b, s] = boxes[j];
                if (r.left < s.right - 1 && s.left < r.right - 1 && r.top < s.bottom - 1 && s.top < r.bottom - 1)
                    out.push([a, b]);
            }
        }
        return out;
    }""")


def _chart_text(page, i: int) -> str:
    return page.locator("[data-testid='stPlotlyChart']").nth(i).locator(".main-svg").first.evaluate(
        "e => [...e.parentElement.querySelectorAll('svg text')].map(t => t.textContent).join(' | ')")


@pytest.mark.parametrize("step", range(1, len(Ls.TOURS["activations"]) + 1))
def test_tour_step_panels_keep_their_height_on_a_projector(browser, server, step):
    """1024x768, presentation mode, each tour step (with a question: after a guess is committed): every plot
    panel of every figure whose top is on the first screen has at least 150 px of plot area, no two tick labels
    of a chart overlap, and a question's answer is written inside the figure right under its verdict."""
    s = Ls.TOURS["activations"][step - 1]
    page = browser.new_page(viewport={"width": W, "height": H})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/activations?present=true&tour={step}")
    page.wait_for_selector(".st-key-tour_panel", timeout=60_000)
    _idle(page)
    if s.question is not None:
        commit_guess(page, Ls.QUESTIONS[s.question].kind)
        _idle(page)
    page.wait_for_selector("[data-testid='stPlotlyChart'] .nsewdrag", timeout=60_000)
    _idle(page)
    page.wait_for_timeout(800)  # plotly's layout pass
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"activations-tour-{step}{'-revealed' if s.question else ''}.png"))
    assert page.locator("[data-testid='stException']").count() == 0
    panels = _panels(page)
    assert panels, "no figure starts on the first screen"
    short = [(p["chart"], round(p["y"]), round(p["height"])) for p in panels if p["height"] < MIN_PANEL]
    assert not short, short
    assert not _overlapping_ticks(page)
    if s.question is not None:  # the reveal figure, right under the verdict, writes the answer
        a = Ls.QUESTIONS[s.question].answer()
        assert a.shown in _chart_text(page, 0)
    assert not errors, errors
    page.close()


def test_presentation_default_panels_and_normal_view(browser, server):
    """The page's default on a projector (f and f' side by side, each panel >= 150 px) and the normal view at
    1400x1100 (f and f' >= 150 px each; the strip is a strip), both with no overlapping tick labels."""
    page, errors, _ = open_page(browser, f"{server.url}/activations?present=true", CHART, (W, H))
    page.wait_for_timeout(800)
    panels = _panels(page)
    assert len(panels) == 2 and all(p["height"] >= MIN_PANEL for p in panels), panels
    assert abs(panels[0]["y"] - panels[1]["y"]) < 1  # one row
    assert not _overlapping_ticks(page)
    page.close()
    page, errors, _ = open_page(browser, f"{server.url}/activations", CHART, (1400, 1100))
    page.wait_for_timeout(800)
    panels = sorted(_panels(page), key=lambda p: p["y"])
    assert len(panels) == 3 and all(p["height"] >= MIN_PANEL for p in panels[:2]), panels
    assert not _overlapping_ticks(page)
    assert not errors, errors
    page.close()
def _open(browser, url: str, width: int, height: int):
    page, errors, _ = open_page(browser, url, CHART, (width, height))
    page.wait_for_timeout(500)  # plotly's layout pass after the element appears
    assert page.locator("[data-testid='stException']").count() == 0
    assert not errors, errors
    return page


def test_presentation_first_screen_holds_the_whole_figure(browser, server):
    """1024x768 in presentation mode: the opening paragraph is folded away and the whole first chart
    (f, f' and the strip, with its x-axis) is inside the first screen."""
    page = _open(browser, server.url + "/activations?present=true", 1024, 768)
    box = page.locator("[data-testid='stPlotlyChart']").first.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 768, box
    assert box["height"] >= 380, box  # and still a figure, not a thumbnail
    assert not page.get_by_text("Between two linear layers sits").is_visible()
    page.close()


def test_landmarks_table_fits_a_laptop(browser, server):
    """1440x1000: every column of the landmarks table, the autograd check included, is in view."""
    page = _open(browser, server.url + "/activations", 1440, 1000)
    page.wait_for_selector("[data-testid='stDataFrame'] .dvn-scroller", timeout=30_000)
    widths = page.evaluate("""() => [...document.querySelectorAll("[data-testid='stDataFrame'] .dvn-scroller")]
                              .map(s => [s.scrollWidth, s.clientWidth])""")
    assert widths and all(sw <= cw + 1 for sw, cw in widths), widths
    page.close()


def test_phone_has_no_overflow_and_whole_formulas(browser, server):
    """390x844 with the widest formulas: the page does not scroll sideways and every formula lies
    inside the screen."""
    page = _open(browser, server.url + "/activations?" + WIDE, 390, 844)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.wait_for_selector(".katex-display", timeout=30_000)
    edges = page.evaluate("""() => [...document.querySelectorAll('.katex-display .katex')]
                             .map(k => { const r = k.getBoundingClientRect(); return [r.left, r.right]; })""")
    assert len(edges) == 12, edges  # f and f' of six functions
    assert all(left >= 0 and right <= 390 for left, right in edges), edges
    page.close()
