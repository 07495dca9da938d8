"""Hostile links in a real browser (Playwright + Debian's Chromium, a fresh server): the reported
injection renders as plain text and nothing is fetched from outside; a link that overflowed the
regression page shows a notice; one page's settings do not follow a student to another page."""
from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest

from browser import wait_idle


ALERT = "[data-testid='stAlert']"
LOCAL = {"127.0.0.1"}







def _open(browser, url: str):
    """A page at `url`, every request to a host other than the loopback recorded and refused."""
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.outside, page.errors = [], []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: urlsplit(r.url).hostname not in LOCAL and urlsplit(r.url).scheme
            not in ("data", "blob") and page.outside.append(r.url))

    def route(r):
        if urlsplit(r.request.url).hostname in LOCAL:
            r.continue_()
        else:
            r.abort()

    page.route("**/*", route)
    page.goto(url)
    wait_idle(page, timeout=60_000)
    page.wait_for_selector("[data-testid='stPlotlyChart']", timeout=60_000)
    wait_idle(page)
    return page


def _assert_whole_page(page):
    assert page.locator("[data-testid='stTopNavLink']").count() >= 2, "page navigation missing"
    assert page.locator("[data-testid='stException']").count() == 0, page.locator(
        "[data-testid='stException']").first.inner_text()
    assert not page.errors, page.errors


INJECTIONS = [
    "`[Log in again](https://evil.example/login)`",  # the reported one
    "`![i](https://evil.example/pixel.png)`",
    "``<img src=https://evil.example/pixel.png>``",
    "`$\\href{https://evil.example}{x}$`",
    "`:material/home:[x](https://evil.example)`",
    "```" + "[x](https://evil.example)" * 500 + "`",  # 12 kB
]


@pytest.mark.parametrize("raw", INJECTIONS, ids=["link", "image", "html", "maths", "icon", "long"])
def test_an_injection_link_renders_as_plain_text(browser, server, raw):
    page = _open(browser, f"{server.url}/losses?noise={quote(raw, safe='')}")
    _assert_whole_page(page)
    notice = page.locator(ALERT, has_text="could not be used").first
    notice.wait_for(timeout=30_000)
    assert notice.locator("a").count() == 0, notice.inner_html()
    assert notice.locator("img").count() == 0, notice.inner_html()
    assert notice.locator(".katex, math, script, iframe").count() == 0, notice.inner_html()
    assert "noise=" in notice.locator("code").first.inner_text()
    assert len(notice.inner_text()) < 400
    assert page.locator("[data-testid='stMain'] a[href*='evil'], img[src*='evil']").count() == 0
    page.wait_for_timeout(500)  # an image would have been requested by now
    assert not page.outside, page.outside
    page.close()


@pytest.mark.parametrize("query", ["seed=Infinity", "seed=1e309", "epochs=-1e999", "seed=" + "9" * 400])
def test_an_overflowing_number_link_shows_a_notice(browser, server, query):
    page = _open(browser, f"{server.url}/regression?{query}")
    _assert_whole_page(page)
    key = query.split("=")[0]
    notice = page.locator(ALERT, has_text="could not be used").first
    notice.wait_for(timeout=30_000)
    assert f"{key}=" in notice.inner_text()
    assert f"{key}=" not in page.url.split("?", 1)[-1] if "?" in page.url else True
    assert not page.outside, page.outside
    page.close()


def _metric(page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']", has=page.locator(
        "[data-testid='stMetricLabel']", has_text=label)).first
    return box.locator("[data-testid='stMetricValue']").inner_text()


def test_a_pages_seed_stays_on_its_page(browser, server):
    """Issue 9, 4: the vanishing page's seed (init_seed) must not follow a student to the regression
    page, whose own seed stays at the classic run's 42."""
    page = _open(browser, f"{server.url}/vanishing")
    slider = page.locator("[data-testid='stSlider']", has_text="Seed").get_by_role("slider")
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("new URLSearchParams(location.search).get('init_seed') === '1'", timeout=30_000)
    wait_idle(page)
    page.locator("[data-testid='stTopNavLink']", has_text="Regression").click()
    page.wait_for_selector("[data-testid='stMain'] h1:has-text('linear regression')", timeout=60_000)
    page.wait_for_selector("[data-testid='stPlotlyChart']", timeout=60_000)
    wait_idle(page)
    _assert_whole_page(page)
    keys = page.evaluate("[...new URLSearchParams(location.search).keys()]")
    assert "init_seed" not in keys and "seed" not in keys, page.url
    seed = page.locator("[data-testid='stNumberInput']", has_text="Seed").locator("input")
    assert seed.input_value() == "42"
    page.locator(".st-key-train button").first.click()
    page.wait_for_selector(f"{ALERT}:has-text('Trained 1000 epochs')", timeout=60_000)
    wait_idle(page)
    _assert_whole_page(page)
    assert _metric(page, "weight") == "0.6968" and _metric(page, "bias") == "0.3025"
    assert "seed" not in page.evaluate("[...new URLSearchParams(location.search).keys()]"), page.url
    assert not page.outside, page.outside
    page.close()
