"""The logits page in a real browser (Playwright + Chromium) on a freshly started server: a deep link
opens the classifier tab with its settings and trains; the headline figure fits a projector's first
screen with a key to its shaded failure regions; the decision regions keep a phone's width; the tour on a
1024x768 projector, before and after each guess and each Train, keeps every panel on its first screen at
least 150 px tall, with no label over another, and writes each answer on the figure."""
from __future__ import annotations

import re

from browser import SHOTS, open_page, wait_idle
from nnviz import lessons as Ls

CHART = "[data-testid='stPlotlyChart'] .main-svg"
LINK = "/logits?part=Train+a+classifier&data=circles&hidden=8,8&clf_act=relu&clf_epochs=200"


def _open(browser, url: str, width: int, height: int):
    page, errors, _ = open_page(browser, url, CHART, (width, height))
    page.wait_for_timeout(500)  # plotly's layout pass after the element appears
    return page, errors


def _no_exception(page) -> None:
    boxes = page.locator("[data-testid='stException']")
    assert boxes.count() == 0, boxes.first.inner_text()


def test_deep_link_opens_the_classifier_with_its_settings_and_trains(browser, server):
    page, errors = _open(browser, server.url + LINK, 1440, 900)
    # the classifier tab is the open one, and no part of the other tab was computed
    assert page.locator("[role='tab'][aria-selected='true']").inner_text().strip() == "Train a classifier"
    assert page.locator(".st-key-sweep_chart").count() == 0
    # the controls show the link's values
    assert page.locator(".st-key-data input").input_value().lower() == "circles"
    assert re.fullmatch(r"8,\s*8", page.locator(".st-key-hidden input").input_value())
    assert "relu" in page.locator(".st-key-clf_act input").input_value().lower()
    assert page.locator(".st-key-clf_epochs input").input_value() == "200"
    page.locator(".st-key-train_clf button").click()
    page.wait_for_selector("[data-testid='stAlert']:has-text('Trained 200 epochs')", timeout=60_000)
    wait_idle(page)
    # still on the classifier tab, with the link's settings, and a test accuracy shown as a percentage
    assert page.locator("[role='tab'][aria-selected='true']").inner_text().strip() == "Train a classifier"
    metric = page.locator("[data-testid='stMetric']", has=page.locator(
        "[data-testid='stMetricLabel']", has_text="test accuracy")).first
    assert re.fullmatch(r"\d{1,3}\.\d%", metric.locator("[data-testid='stMetricValue']").inner_text().strip())
    _no_exception(page)
    assert not errors, errors
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "logits-trained.png"))
    page.close()


def test_presentation_first_screen_holds_the_headline_figure(browser, server):
    """1024x768 in presentation mode: the whole loss-and-gradient figure, x axis included, is inside the
    first screen, and its legend names what the shading and the hatching mean."""
    page, errors = _open(browser, server.url + "/logits?present=true", 1024, 768)
    chart = page.locator(".st-key-sweep_chart [data-testid='stPlotlyChart']")
    if chart.count() == 0:
        chart = page.locator("[data-testid='stPlotlyChart']")
    box = chart.first.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 768, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1024, box
    assert box["height"] >= 380, box  # still a figure, not a thumbnail
    legend = chart.first.locator(".legendtext").evaluate_all("els => els.map(e => e.textContent)")
    assert "BCELoss(sigmoid) wrong" in legend and "-log softmax: inf or nan" in legend, legend
    _no_exception(page)
    assert not errors, errors
    page.screenshot(path=str(SHOTS / "logits-presentation.png"))
    page.close()


def test_phone_decision_regions_keep_the_width(browser, server):
    """390x844: the colour bar lies under the decision regions, so the square plane takes most of the
    chart's width; the page does not scroll sideways."""
    page, errors = _open(browser, server.url + "/logits?part=Train+a+classifier", 390, 844)
    chart = page.locator("[data-testid='stPlotlyChart']").first
    plane = chart.locator(".nsewdrag").first.bounding_box()  # the heatmap's plot area
    whole = chart.bounding_box()
    assert plane["width"] >= 0.7 * whole["width"], (plane, whole)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    _no_exception(page)
    assert not errors, errors
    page.close()


# Every chart of the page: each plot panel's box (plotly's .nsewdrag, one a subplot), and each pair of its texts
# (tick labels, axis titles, annotations, legend entries) whose boxes overlap.
PANELS_JS = r"""
() => [...document.querySelectorAll("[data-testid='stPlotlyChart']")].map(c => {
  const box = e => { const b = e.getBoundingClientRect(); return [b.x, b.y, b.width, b.height]; };
  const texts = [...c.querySelectorAll(".xtick text, .ytick text, .g-xtitle text, .g-ytitle text, .g-x2title text, "
    + ".g-y2title text, .annotation-text, .legendtext, .legendtitletext")]
    .map(t => [t.textContent, ...box(t)]).filter(t => t[3] > 0 && t[4] > 0 && t[0].trim());
  const over = [];
  for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
    const [a, b] = [texts[i], texts[j]];
    const ox = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
    const oy = Math.min(a[2] + a[4], b[2] + b[4]) - Math.max(a[2], b[2]);
    if (ox > 1 && oy > 1) over.push([a[0], b[0]]);
  }
  const key = [...(c.closest("[class*='st-key-']") || {classList: []}).classList].find(k => k.startsWith("st-key-"));
  return {key, top: c.getBoundingClientRect().y, panels: [...c.querySelectorAll(".nsewdrag")].map(e => box(e)[3]),
          texts: texts.map(t => t[0]), over};
})
"""
MIN_PANEL = 150  # px of plot area on a projector (issue 17)


def _check_first_screen(page, where: str, problems: list) -> list[dict]:
    """Every chart whose top is on the 1024x768 first screen: each panel >= MIN_PANEL px, no text over another."""
    charts = [c for c in page.evaluate(PANELS_JS) if c["top"] < 768]
    for c in charts:
        if not c["panels"] or min(c["panels"]) < MIN_PANEL:
            problems.append((where, c["key"], "panel heights", c["panels"]))
        if c["over"]:
            problems.append((where, c["key"], "overlapping texts", c["over"][:4]))
    page.screenshot(path=str(SHOTS / f"logits-projector-{where}.png"))
    return charts


IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def _settle(page) -> None:
    """The script run done and plotly laid out (a tour step hides the page title, so not wait_idle)."""
    page.wait_for_timeout(400)
    page.wait_for_selector(IDLE, timeout=120_000)
    page.wait_for_timeout(800)  # plotly's layout pass
    page.wait_for_selector(IDLE, timeout=120_000)


def test_projector_tour_keeps_every_panel_tall_and_writes_each_answer(browser, server):
    """Presentation mode at 1024x768: the default view, each tour step before and after its guess, and the
    classifier's steps before and after Train. After a guess the reveal figure is on the first screen, and the
    verdict's number is written in it as the verdict prints it."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list = []
    page, errors = _open(browser, server.url + "/logits?present=true", 1024, 768)
    charts = _check_first_screen(page, "default", problems)
    assert [c["key"] for c in charts] == ["st-key-sweep_chart"] and len(charts[0]["panels"]) == 2
    for i, step in enumerate(Ls.TOURS["logits"], 1):
        page.goto(f"{server.url}/logits?present=true&tour={i}")
        page.wait_for_selector(".st-key-tour_panel", timeout=60_000)
        _settle(page)
        charts = _check_first_screen(page, f"step{i}", problems)
        if step.question is not None:
            assert not charts, (i, "a chart before the guess")
            q = Ls.QUESTIONS[step.question]
            form = page.locator(".st-key-question_panel")
            form.locator("input").fill("1")
            form.locator("[data-testid='stFormSubmitButton'] button").click()
            page.wait_for_selector(".st-key-answer_chart [data-testid='stPlotlyChart']", timeout=60_000)
            _settle(page)
            charts = _check_first_screen(page, f"step{i}-revealed", problems)
            reveal = [c for c in charts if c["key"] == "st-key-answer_chart"]
            assert reveal, (i, "the reveal figure is not on the first screen", [c["key"] for c in charts])
            shown = q.answer().shown
            assert any(shown in t for t in reveal[0]["texts"]), (i, shown, reveal[0]["texts"])
        if page.locator(".st-key-train_clf button").count():
            assert {c["key"] for c in charts} == {"st-key-region_1", "st-key-history_1"}, (i, charts)
            page.locator(".st-key-train_clf button").click()
            page.wait_for_selector("[data-testid='stAlert']:has-text('Trained')", timeout=120_000)
            _settle(page)
            charts = _check_first_screen(page, f"step{i}-trained", problems)
            assert {c["key"] for c in charts} == {"st-key-region_final", "st-key-history_final"}, (i, charts)
    _no_exception(page)
    assert not problems, problems
    assert not errors, errors
    page.close()
