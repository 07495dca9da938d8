"""A real browser (Playwright + Debian's Chromium) against a freshly started server: a cold deep
link to each page shows the whole app; screenshots are saved for the README."""
from __future__ import annotations

import pytest

from browser import SHOTS, Server, open_page, wait_idle






# (url path with query, screenshot name, what the page must show)
PAGES = [
    ("/", "home", "[data-testid='stPageLink']"),
    ("/activations?fn=sigmoid&fn=tanh&fn=relu&fn=gelu", "activations", "[data-testid='stPlotlyChart']"),
    ("/losses?loss=l1&loss=mse&loss=huber&outliers=8&outlier_size=14", "losses", "[data-testid='stPlotlyChart']"),
    ("/vanishing", "vanishing", "[data-testid='stPlotlyChart']"),
]  # the regression page's cold deep link is test_regression_trains_the_default_run_from_a_deep_link's


def _open(browser, url: str, content: str, width: int = 1400, height: int = 1100):
    return open_page(browser, url, content, (width, height))[:2]


def _assert_full_app(page, errors):
    assert page.locator("[data-testid='stTopNavLink']").count() >= 2, "page navigation missing"
    sidebar = page.locator("[data-testid='stSidebar']")
    picker = sidebar.locator("[data-testid='stSelectbox']")
    assert picker.count() >= 1, "the sidebar's device picker is missing"
    # a closed sidebar (presentation mode opens with it closed) keeps its controls out of sight and out of the Tab order
    assert picker.first.is_visible() == (sidebar.get_attribute("data-collapsed") != "true"), "the picker's visibility"
    assert page.locator("[data-testid='stException']").count() == 0, page.locator(
        "[data-testid='stException']").first.inner_text()
    assert not errors, errors


@pytest.mark.parametrize("path,name,content", PAGES, ids=[p[1] for p in PAGES])
def test_cold_deep_link_shows_full_app(browser, path, name, content):
    server = Server()  # a freshly started server for every deep link
    try:
        page, errors = _open(browser, server.url + path, content)
        _assert_full_app(page, errors)
        SHOTS.mkdir(parents=True, exist_ok=True)
        # the default first screens (no query) are test_layout.py's; a link with settings gets its own name
        page.screenshot(path=str(SHOTS / (f"{name}-link.png" if "?" in path else f"{name}.png")))
        page.close()
    finally:
        server.stop()




def test_presentation_mode(browser, server):
    page, errors = _open(browser, server.url + "/activations?present=true", "[data-testid='stPlotlyChart']",
                         width=1280, height=720)
    _assert_full_app(page, errors)
    size = page.evaluate("getComputedStyle(document.documentElement).fontSize")
    assert size == "22px"
    # the settings are tucked into a closed panel: the sliders are not visible
    assert not page.locator("[data-testid='stSlider']").first.is_visible()
    page.screenshot(path=str(SHOTS / "activations-presentation.png"))
    # the mode survives a page switch through the navigation
    page.locator("[data-testid='stTopNavLink']", has_text="Home").click()
    page.wait_for_selector("[data-testid='stPageLink']", timeout=30_000)
    wait_idle(page)
    assert "present=true" in page.url
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "22px"
    page.close()


def test_bad_link_shows_notice_not_traceback(browser, server):
    page, errors = _open(browser, server.url + "/activations?fn=tanh&fn=nope&xmin=1e9",
                         "[data-testid='stPlotlyChart']")
    _assert_full_app(page, errors)
    alerts = " ".join(page.locator("[data-testid='stAlert']").all_inner_texts())
    assert "fn=tanh&fn=nope" in alerts and "xmin=1e9" in alerts
    page.close()


def test_moving_a_slider_redraws(browser, server):
    page, errors = _open(browser, server.url + "/activations?fn=relu", "[data-testid='stPlotlyChart']")
    slider = page.locator("[data-testid='stSlider']", has_text="x from").get_by_role("slider")
    slider.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("location.search.includes('xmin=-4')", timeout=30_000)
    wait_idle(page)
    _assert_full_app(page, errors)
    page.close()


def test_loss_page_deep_link_draws_both_lines(browser, server):
    page, errors = _open(browser, server.url + "/losses?outliers=8&outlier_size=14",
                         "[data-testid='stPlotlyChart'] .legendtext")
    _assert_full_app(page, errors)
    legend = page.locator("[data-testid='stPlotlyChart']").first.locator(".legendtext").evaluate_all(
        "els => els.map(e => e.textContent)")
    assert any(t.startswith("L1 (MAE) fit") for t in legend), legend
    assert any(t.startswith("MSE fit") for t in legend), legend
    assert "outliers" in legend
    page.close()


def test_bad_csv_upload_gives_a_message(browser, server, tmp_path):
    page, errors = _open(browser, server.url + "/losses", "[data-testid='stPlotlyChart']")
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n2,banana\n3,4\n")
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(bad))
    page.wait_for_selector("[data-testid='stAlert']:has-text('cannot be used')", timeout=30_000)
    assert "Row 2" in page.locator("[data-testid='stAlert']").last.inner_text()
    good = tmp_path / "good.csv"
    good.write_text("".join(f"{i},{2 * i + 1}\n" for i in range(20)) + "19,-30\n")
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(good))
    page.wait_for_selector("[data-testid='stCaptionContainer']:has-text('Your data: 21 points')", timeout=30_000)
    wait_idle(page)
    _assert_full_app(page, errors)
    page.close()


def test_regression_trains_the_default_run_from_a_deep_link(browser):
    server = Server()  # cold: the deep link is the first thing this server sees
    try:
        page, errors = _open(browser, server.url + "/regression?lr=0.01&epochs=1000", "[data-testid='stPlotlyChart']")
        page.locator(".st-key-train button").first.click()
        page.wait_for_selector("[data-testid='stAlert']:has-text('Trained 1000 epochs')", timeout=60_000)
        wait_idle(page)
        _assert_full_app(page, errors)

        def metric(label):
            box = page.locator("[data-testid='stMetric']", has=page.locator(
                "[data-testid='stMetricLabel']", has_text=label)).first
            return box.locator("[data-testid='stMetricValue']").inner_text()

        assert metric("weight") == "0.6968" and metric("bias") == "0.3025"
        page.screenshot(path=str(SHOTS / "regression-trained.png"))
        page.close()
    finally:
        server.stop()


def test_stop_interrupts_a_running_training(browser, server):
    page, errors = _open(browser, server.url + "/regression?slow=true&epochs=2000", "[data-testid='stPlotlyChart']")
    page.locator(".st-key-train button").first.click()
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='running']", timeout=30_000)
    page.wait_for_timeout(1500)  # slow motion: a 2000-epoch run takes about 5 s
    page.locator("[data-testid='stMain'] [data-testid='stButton'] button", has_text="Stop").first.click()
    page.wait_for_selector("[data-testid='stAlert']:has-text('Stopped after')", timeout=30_000)
    wait_idle(page)
    _assert_full_app(page, errors)
    text = page.locator("[data-testid='stAlert']:has-text('Stopped after')").inner_text()
    done = int(text.split("Stopped after ")[1].split(" epochs")[0])
    assert 0 < done < 2000
    weight = page.locator("[data-testid='stMetric']", has=page.locator(
        "[data-testid='stMetricLabel']", has_text="weight")).first.locator("[data-testid='stMetricValue']").inner_text()
    assert weight != "–"  # what it learned so far stays on screen
    page.close()
