"""The first screen in a real browser: a 1024x768 projector in presentation mode (the whole first
figure visible, every page in the navigation) whose window then grows to 1920x1080 (every page still in the
navigation), and a 390x844 phone (nothing wider than the screen). Screenshots of each page's first screen go to
docs/screenshots/."""
from __future__ import annotations

import pytest

from browser import SHOTS, open_page, wait_idle


from nnviz.ui.catalog import PAGES

# (url path, name): every page of the app, at its default settings (no query parameters)
PAGE_PATHS = [("/" + p.path.removeprefix("pages/").removesuffix(".py"), p.path.removeprefix("pages/").removesuffix(".py"))
              for p in PAGES]
NAV_LABELS = ["Home"] + [p.nav for p in PAGES]
CHART = "[data-testid='stPlotlyChart']"

# The navigation links that are shown in the header's row (not folded into an "N more" menu).
JS_NAV = """() => [...document.querySelectorAll("header [data-testid='stTopNavLink']")]
  .filter(a => { const r = a.getBoundingClientRect(); return r.width > 0 && r.height > 0
                 && r.right <= window.innerWidth && r.bottom <= 80 && getComputedStyle(a).visibility !== 'hidden'; })
  .map(a => a.innerText.trim())"""
JS_MORE = """() => [...document.querySelectorAll("header [data-testid='stTopNavSection']")]
  .filter(b => { const r = b.getBoundingClientRect(); return r.width > 0 && r.height > 0; })
  .map(b => b.innerText.trim())"""

# Horizontal overflow on a phone: the document, the main scroll area, and each visible element of the
# main block. An element's box is clipped by its ancestors that clip (overflow not 'visible'): a
# code block or a table that scrolls inside its own box is fine, a formula or a figure that sticks
# out of the screen is not. Elements in a closed expander are not on screen.
JS_OVERFLOW = """() => {
  const vw = window.innerWidth;
  const main = document.querySelector("[data-testid='stMain']");
  const block = document.querySelector("[data-testid='stMainBlockContainer']");
  const out = [];
  for (const e of block.querySelectorAll('*')) {
    if (e.closest('details:not([open])') && !e.matches('summary, summary *')) continue;
    let r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    let left = r.left, right = r.right, hidden = false;
    for (let a = e.parentElement; a && a !== block; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.overflowX !== 'visible' || (a instanceof SVGSVGElement)) {
        const ar = a.getBoundingClientRect();
        left = Math.max(left, ar.left); right = Math.min(right, ar.right);
        if (right <= left) { hidden = true; break; }
      }
    }
    if (hidden) continue;
    if (right > vw + 0.5 || left < -0.5) {
      const tid = e.closest('[data-testid]');
      out.push({tag: e.tagName.toLowerCase(), in: tid ? tid.getAttribute('data-testid') : '',
                text: (e.textContent || '').trim().slice(0, 40), left: Math.round(left), right: Math.round(right),
                past: Math.round(Math.max(right - vw, -left))});
    }
  }
  // one line per container (a wide box's children stick out with it): the worst offender in each
  const worst = {};
  for (const o of out) if (!(o.in in worst) || o.past > worst[o.in].past) worst[o.in] = o;
  const list = Object.values(worst).sort((a, b) => b.past - a.past);
  return {docWidth: document.documentElement.scrollWidth, mainWidth: main.scrollWidth,
          viewport: vw, elements: list.slice(0, 12), count: out.length};
}"""


def _open(browser, url: str, width: int, height: int, chart: bool):
    page, errors, _ = open_page(browser, url, None, (width, height))
    if chart:
        page.wait_for_selector(CHART, timeout=60_000)
        page.wait_for_function(f"document.querySelector(\"{CHART}\").getBoundingClientRect().height > 100",
                               timeout=30_000)
    wait_idle(page)
    page.wait_for_timeout(500)  # the navigation measures its items after the fonts settle
    _assert_no_error(page, errors)
    return page, errors  # errors: still collecting, for a test that goes on with the page


def _assert_no_error(page, errors: list) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, page.locator(
        "[data-testid='stException']").first.inner_text()
    assert not errors, errors


def _assert_nav_complete(page):
    shown = page.evaluate(JS_NAV)
    more = page.evaluate(JS_MORE)
    missing = [label for label in NAV_LABELS if not any(s.endswith(label) for s in shown)]
    assert not more and not missing, f"not in the top navigation: {missing}; overflow menu: {more}"


@pytest.mark.parametrize("path,name", [("/", "home")] + PAGE_PATHS, ids=["home"] + [n for _, n in PAGE_PATHS])
def test_projector_1024_first_figure_and_navigation_and_at_1920(browser, server, path, name):
    """1024x768, presentation mode: every page's link is in the top navigation and the whole first figure is on the
    first screen, no scrolling. Then the window grows to 1920x1080, as when the teacher moves it to a larger
    projector: the page lays itself out again there, and every link is still in the top navigation."""
    page, errors = _open(browser, server.url + path + "?present=true", 1024, 768, chart=path != "/")
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        _assert_nav_complete(page)
        if path != "/":
            page.screenshot(path=str(SHOTS / f"{name}-present-1024.png"))
            box = page.evaluate(f"""() => {{
                const r = document.querySelector("{CHART}").getBoundingClientRect();
                return {{top: r.top, bottom: r.bottom, scrolled: document.querySelector("[data-testid='stMain']").scrollTop}};
            }}""")
            assert box["scrolled"] == 0
            assert box["top"] >= 0, f"the first figure starts {-box['top']:.0f} px above the screen"
            assert box["bottom"] <= 768, (f"the first figure ends {box['bottom'] - 768:.0f} px below the 768 px screen "
                                          f"(top {box['top']:.0f}, bottom {box['bottom']:.0f})")
        width = f"(document.querySelector(\"{CHART} .main-svg\")?.getBoundingClientRect().width || 0)"
        before = page.evaluate(width)
        page.set_viewport_size({"width": 1920, "height": 1080})
        if path != "/":  # plotly redraws the first figure at its wider column's width
            page.wait_for_function(f"{width} > {before} + 100", timeout=30_000)
        page.wait_for_timeout(500)  # the navigation measures its items again
        _assert_no_error(page, errors)
        _assert_nav_complete(page)
        if path != "/":
            page.screenshot(path=str(SHOTS / f"{name}-present-1920.png"))
    finally:
        page.close()


@pytest.mark.parametrize("path,name", [("/", "home")] + PAGE_PATHS, ids=["home"] + [n for _, n in PAGE_PATHS])
def test_phone_390_no_horizontal_overflow(browser, server, path, name):
    """390x844: nothing on the page is wider than the phone's screen."""
    page, _ = _open(browser, server.url + path, 390, 844, chart=path != "/")
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-phone.png"))
        m = page.evaluate(JS_OVERFLOW)
        assert m["docWidth"] <= m["viewport"], f"the document is {m['docWidth'] - m['viewport']} px wider than the screen"
        assert m["mainWidth"] <= m["viewport"], f"the main area scrolls sideways by {m['mainWidth'] - m['viewport']} px"
        assert not m["elements"], (f"{m['count']} elements stick out of the {m['viewport']} px screen, by up to "
                                   f"{max(e['past'] for e in m['elements'])} px: {m['elements']}")
    finally:
        page.close()


@pytest.mark.parametrize("path,name", PAGE_PATHS, ids=[n for _, n in PAGE_PATHS])
def test_desktop_first_screen_screenshot(browser, server, path, name):
    """1400x1100, normal mode: each page's default first screen, for the README."""
    page, _ = _open(browser, server.url + path, 1400, 1100, chart=True)
    try:
        _assert_nav_complete(page)
        page.screenshot(path=str(SHOTS / f"{name}.png"))
    finally:
        page.close()


def test_phone_sidebar_closes_after_a_page_is_chosen(browser, server):
    """390x844: the navigation lives in the sidebar on a phone; after a page is chosen there the sidebar
    closes, so the page is not hidden under it (Streamlit left it open over 77 % of the screen)."""
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page.goto(server.url + "/")
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000)
        page.locator("[data-testid='stExpandSidebarButton']").first.click()
        sidebar = page.locator("[data-testid='stSidebar']")
        page.wait_for_function("() => document.querySelector(\"[data-testid='stSidebar']\")"
                               ".getBoundingClientRect().right > 200")
        page.locator("[data-testid='stSidebarNavLink']", has_text="Vanishing").click()
        page.wait_for_url("**/vanishing")
        page.wait_for_function("() => document.querySelector(\"[data-testid='stSidebar']\")"
                               ".getBoundingClientRect().right <= 0", timeout=60_000)  # the new page runs first; a loaded run took over 10 s
        assert sidebar.bounding_box()["width"] == 0 or sidebar.bounding_box()["x"] + sidebar.bounding_box()["width"] <= 0
    finally:
        page.close()
