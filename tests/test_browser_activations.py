"""The activation page in a real browser (Playwright + Chromium): the headline figure fits a projector's
first screen, the landmarks table fits a laptop, and nothing overflows a phone. Its tour's steps on a projector are
walked in test_browser_lessons.py, with the same checks (panels, tick labels, the answer in the reveal figure)."""
from __future__ import annotations

from browser import charts, open_page, overlapping_ticks

CHART = "[data-testid='stPlotlyChart'] .main-svg"
# the widest formulas of the registry (piecewise derivatives, SELU's constants, Mish's derivative)
WIDE = "fn=selu&fn=softplus&fn=mish&fn=hardswish&fn=elu&fn=gelu"
W, H = 1024, 768  # a projector
MIN_PANEL = 150  # px of plot area for every panel of a figure whose top is on the first screen (issue 17)


def _panels(page) -> list[dict]:
    """Every plot panel (its top y and height) of every chart whose top is on the first screen, with the chart's
    index."""
    return [{"chart": i, **p} for i, c in enumerate(charts(page)) if c["top"] < H for p in c["panels"]]


def test_presentation_default_panels_and_normal_view(browser, server):
    """The page's default on a projector (f and f' side by side, each panel >= 150 px) and the normal view at
    1400x1100 (f and f' >= 150 px each; the strip is a strip), both with no overlapping tick labels."""
    page, errors, _ = open_page(browser, f"{server.url}/activations?present=true", CHART, (W, H))
    page.wait_for_timeout(800)
    panels = _panels(page)
    assert len(panels) == 2 and all(p["height"] >= MIN_PANEL for p in panels), panels
    assert abs(panels[0]["y"] - panels[1]["y"]) < 1  # one row
    assert not overlapping_ticks(page)
    page.close()
    page, errors, _ = open_page(browser, f"{server.url}/activations", CHART, (1400, 1100))
    page.wait_for_timeout(800)
    panels = sorted(_panels(page), key=lambda p: p["y"])
    assert len(panels) == 3 and all(p["height"] >= MIN_PANEL for p in panels[:2]), panels
    assert not overlapping_ticks(page)
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
