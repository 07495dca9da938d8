"""The logits page in a real browser (Playwright + Chromium): a deep link opens the classifier tab with its
settings and trains; the headline figure fits a projector's first screen, each panel at least 150 px tall with no
label over another, with a key to its shaded failure regions; the decision regions keep a phone's width. The tour
on a 1024x768 projector, before and after each guess and each Train, is walked in test_browser_lessons.py."""
from __future__ import annotations

import re

from browser import SHOTS, first_screen, open_page, wait_idle

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
    first screen and the only chart on it, its two panels each >= 150 px tall with no label over another, and its
    legend names what the shading and the hatching mean."""
    page, errors = _open(browser, server.url + "/logits?present=true", 1024, 768)
    problems: list = []
    charts = first_screen(page, "default", problems, whole=False)
    assert not problems, problems
    assert [c["key"] for c in charts] == ["st-key-sweep_chart"] and len(charts[0]["panels"]) == 2, charts
    chart = page.locator(".st-key-sweep_chart [data-testid='stPlotlyChart']")
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
