"""The Deep training page in Chromium: on a 1024x768 projector in presentation mode after Train, the headline
(the loss and the gradient heat map) is whole on the first screen and every plot panel whose top is on that
screen has at least 150 px of plot area; on a 390x844 phone nothing overflows sideways."""
from __future__ import annotations

from browser import SHOTS, open_page, short_panels, wait_idle
from test_layout import JS_OVERFLOW

CHART = "[data-testid='stPlotlyChart']"
MIN_PANEL = 150  # px of plot area (plotly's drag rectangle) of every panel on the first screen


def _train(page) -> None:
    page.locator(".st-key-train_deep button").first.click()
    page.wait_for_selector("[data-testid='stMain'] :text('The network')", timeout=120_000)  # the verdict
    wait_idle(page, timeout=120_000)
    page.wait_for_timeout(800)  # plotly's layout pass


def test_projector_after_train_headline_whole_and_panels_tall(browser, server):
    W, H = 1024, 768
    page, errors, _ = open_page(browser, f"{server.url}/deep?present=true&deep_epochs=60", CHART, (W, H))
    try:
        _train(page)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "deep-present-1024-trained.png"))
        assert page.locator("[data-testid='stException']").count() == 0
        charts = page.locator(CHART).all()
        headline = [c.bounding_box() for c in charts[:2]]  # the loss and the heat map, side by side
        for box in headline:
            assert box["y"] >= 0 and box["y"] + box["height"] <= H, box
        assert abs(headline[0]["y"] - headline[1]["y"]) < 2  # side by side, not stacked
        scrolled = page.evaluate("document.querySelector(\"[data-testid='stMain']\").scrollTop")
        assert scrolled == 0
        small = short_panels(page, H, MIN_PANEL)
        assert not small, f"plot panels on the first screen under {MIN_PANEL} px: {small}"
        assert not errors, errors
    finally:
        page.close()


def test_phone_after_train_nothing_overflows(browser, server):
    page, errors, _ = open_page(browser, f"{server.url}/deep?deep_epochs=30&deep_act=relu", CHART, (390, 844))
    try:
        _train(page)
        page.screenshot(path=str(SHOTS / "deep-phone-trained.png"))
        m = page.evaluate(JS_OVERFLOW)
        assert m["docWidth"] <= m["viewport"] and m["mainWidth"] <= m["viewport"], m
        assert not m["elements"], m["elements"]
        assert not errors, errors
    finally:
        page.close()
