"""Shared browser-test machinery: a fresh Streamlit server on a free loopback port, and Chromium."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Screenshots go to tests/.shots (ignored by git), so a test run leaves a clean checkout clean;
# scripts/screenshots.sh sets NNVIZ_SHOTS=docs/screenshots to refresh the README's pictures.
SHOTS = Path(os.environ.get("NNVIZ_SHOTS") or ROOT / "tests" / ".shots")
if not SHOTS.is_absolute():
    SHOTS = ROOT / SHOTS
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_browser() -> bool:
    return os.environ.get("NNVIZ_REQUIRE_BROWSER") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip a browser test with a reason, or fail it where NNVIZ_REQUIRE_BROWSER=1 (CI)."""
    import pytest

    if require_browser():
        pytest.fail(f"{reason} (NNVIZ_REQUIRE_BROWSER=1 requires the browser tests)")
    pytest.skip(reason)


def chromium():
    """A generator for a fixture: Debian's Chromium launched through Playwright (as Tabs), closed after."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Python Playwright is not installed")
    exe = chromium_path()
    if exe is None:
        skip_or_fail("no Chromium found (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield Tabs(b)
        b.close()


class Tabs:
    """The browser, whose new_page(viewport=...) reuses a closed tab: a tab of one shared context, returned to a
    pool by its close() and blanked there (the listeners and routes the test added removed, the site's cookies and
    storage cleared, the page at about:blank). Every page still opens a new document, and so a new Streamlit
    session. Measured on this 2-core machine: a page load costs about 3.4 core-seconds in a reused tab and 5.5 in
    a new page, whose new browser window starts its own renderer processes. new_page with any other option (a
    phone's is_mobile) and every other attribute are the browser's own."""

    def __init__(self, browser) -> None:
        self.browser, self.free, self._context = browser, [], None

    def __getattr__(self, name):
        return getattr(self.browser, name)

    def new_page(self, viewport: dict | None = None, **options):
        if options:
            return self.browser.new_page(viewport=viewport, **options)
        if self._context is None:
            self._context = self.browser.new_context()
        page = self.free.pop() if self.free else self._context.new_page()
        page.set_viewport_size(viewport or {"width": 1280, "height": 720})  # Playwright's default
        return Tab(self, page)


class Tab:
    """A page from Tabs.new_page: the Playwright page's own methods, with what the test adds undone by close()."""

    def __init__(self, tabs: Tabs, page) -> None:
        self._tabs, self._page, self._listeners = tabs, page, []

    def __getattr__(self, name):
        return getattr(self._page, name)

    def on(self, event: str, handler) -> None:
        self._listeners.append((event, handler))
        self._page.on(event, handler)

    def close(self) -> None:
        page, self._page = self._page, None  # closed: a second close() must not hand the tab out twice
        if page is None:
            return
        for event, handler in self._listeners:
            page.remove_listener(event, handler)
        self._listeners.clear()
        try:
            page.unroute_all(behavior="ignoreErrors")
            page.evaluate("() => { try { localStorage.clear(); sessionStorage.clear(); } catch (e) {} }")
            page.context.clear_cookies()
            page.goto("about:blank")
        except Exception:  # a tab that cannot be blanked (it crashed) is not reused
            page.close()
            return
        self._tabs.free.append(page)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run app.py` as a subprocess, stopped by stop()."""

    def __init__(self, env: dict[str, str] | None = None, root: Path = ROOT, flags: tuple[str, ...] = (),
                 log_dir: Path = ROOT / "tests") -> None:
        """env: on top of this process's environment. A test server warms no links in the background
        (NNVIZ_WARM=0, nnviz.ui.warm) unless the environment or `env` says otherwise. root: the checkout
        served (a benchmark serves an older one beside it); flags: more `streamlit run` options."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_dir / f".server-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", f"--server.port={self.port}",
             "--server.address=127.0.0.1", "--server.headless=true", "--browser.gatherUsageStats=false",
             # others may edit the tree while tests run: no "File change" banner in the header
             "--server.fileWatcherType=none", *flags],
            cwd=root, stdout=self.log, stderr=subprocess.STDOUT,
            env={"NNVIZ_WARM": "0", **os.environ, **(env or {})},
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("the Streamlit server did not answer /_stcore/health within 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def open_page(opener, url: str, content: str | None = None, size: tuple[int, int] | None = (1400, 1100)):
    """A new page from a browser (at `size`) or a browser context (size None: the context's), at
    `url`, once its script run has finished and `content` (a selector) is shown. Returns
    (page, errors, response): the page's JavaScript errors keep collecting into `errors`."""
    page = opener.new_page(viewport={"width": size[0], "height": size[1]}) if size else opener.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors, load(page, url, content)


def load(page, url: str, content: str | None = None):
    """Open `url` in `page` (a new document, so a new Streamlit session) and wait until its script run has
    finished and `content` (a selector) is shown. Returns the response."""
    response = page.goto(url)
    wait_idle(page, timeout=60_000)
    if content:
        page.wait_for_selector(content, timeout=60_000)
    wait_idle(page)
    return response


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until the page's title has rendered and no script run is in progress."""
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=timeout)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_timeout(300)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)


GUESS = {"number": "1", "log10": "1e-3"}  # a guess of each kind that every question can read


def commit_guess(page, kind: str) -> None:
    """Commit a guess in the open question's form: the first choice, or GUESS[kind]."""
    form = page.locator(".st-key-question_panel")
    if kind == "choice":
        form.locator("[role='radiogroup'] label").first.click()
    else:
        form.locator("input").fill(GUESS[kind])
    form.locator("[data-testid='stFormSubmitButton'] button").click()


MIN_PANEL = 150  # px of plot area every panel on a first screen needs (a 50 px panel is a decoration)


# Every chart on the page, top to bottom: its box, its Streamlit key (st-key-...), the words of its annotations and
# legend, its plot panels (plotly's drag rectangle, one a subplot: top and height), and each of its labels (ticks, axis
# titles, annotations, legend entries and title) with its box, whether it has a superscript, and whether it is a tick.
CHARTS_JS = """() => [...document.querySelectorAll("[data-testid='stPlotlyChart']")].map(c => {
  const r = c.getBoundingClientRect();
  const key = [...(c.closest("[class*='st-key-']")?.classList || [])].find(k => k.startsWith('st-key-')) || null;
  const labels = [...c.querySelectorAll('.xtick text, .ytick text, .g-xtitle text, .g-ytitle text, .g-x2title text, '
      + '.g-y2title text, .annotation-text, .legendtext, .legendtitletext')]
    .map(e => { const b = e.getBoundingClientRect();
      return {text: e.textContent, box: [b.x, b.y, b.width, b.height],
              sup: e.querySelector("tspan[style*='70%']") !== null, tick: e.closest('.xtick, .ytick') !== null}; })
    .filter(l => l.box[2] > 0 && l.box[3] > 0 && l.text.trim());
  return {key, top: r.y, bottom: r.bottom, height: r.height, labels,
          words: [...c.querySelectorAll('.annotation-text, .legendtext')].map(e => e.textContent),
          panels: [...c.querySelectorAll('.nsewdrag')].map(e => { const b = e.getBoundingClientRect();
            return {y: b.y, height: b.height}; })};
})"""


def charts(page) -> list[dict]:
    """Every chart drawn on the page (height > 0), top to bottom, as CHARTS_JS gives it."""
    return [c for c in page.evaluate(CHARTS_JS) if c["height"] > 0]


def short_panels(page, screen_height: int, min_panel: int = MIN_PANEL) -> list[int]:
    """The heights of the plot panels (plotly's drag rectangle, one per subplot) under `min_panel` px, in every
    chart whose top is on the first screen (above `screen_height`)."""
    return [round(p["height"]) for c in charts(page) if c["top"] < screen_height
            for p in c["panels"] if p["height"] < min_panel]


def overlap(a, b) -> tuple[float, float]:
    """How far two label boxes (x, y, width, height) overlap, across and down, in px (<= 0: apart)."""
    (x, y, w, h), (x2, y2, w2, h2) = a, b
    return min(x + w, x2 + w2) - max(x, x2), min(y + h, y2 + h2) - max(y, y2)


# A label with a superscript (a log axis's 10⁻⁷) has a box that rises above its line by part of the superscript's
# height: two such labels may overlap this far down and still read as two.
SUPERSCRIPT_SLACK = 8  # px


def crowded(labels: list[dict]) -> list[list[str]]:
    """Pairs of labels (from CHARTS_JS) whose boxes overlap (a projector's "0" printed over "0.3") by more than 1 px, or
    by more than SUPERSCRIPT_SLACK px down where either has a superscript."""
    out = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            across, down = overlap(a["box"], b["box"])
            if across > 1 and down > (SUPERSCRIPT_SLACK if a["sup"] or b["sup"] else 1):
                out.append([a["text"], b["text"]])
    return out


def overlapping_ticks(page) -> list:
    """Pairs of tick labels of one chart, anywhere on the page, that overlap (crowded())."""
    return [pair for c in charts(page) for pair in crowded([t for t in c["labels"] if t["tick"]])]


def first_screen(page, where: str, problems: list, height: int = 768, whole: bool = True) -> list[dict]:
    """Scrolled to the top: no two labels (ticks, axis titles, annotations, legend) of any chart on the page on top of
    each other (crowded()); a chart whose top is on the first screen has plot panels, each >= MIN_PANEL px tall, and
    where `whole`, it is wholly on that screen. What fails is added to `problems`. Returns those charts, as
    CHARTS_JS gives them."""
    page.evaluate("() => { window.scrollTo(0, 0); document.querySelectorAll('*').forEach(e => { if (e.scrollTop) "
                  "e.scrollTop = 0; }); }")  # the app scrolls in its own container, not the window
    page.wait_for_timeout(300)
    drawn = charts(page)
    for i, c in enumerate(drawn):
        problems += [(where, c["key"] or i, "labels overlap", pair) for pair in crowded(c["labels"])]
    shown = [c for c in drawn if c["top"] < height]
    for i, c in enumerate(shown):
        if whole and c["bottom"] > height + 1:
            problems.append((where, c["key"] or i, "bottom", c["bottom"]))
        if not c["panels"]:
            problems.append((where, c["key"] or i, "no plot panel"))
        problems += [(where, c["key"] or i, "plot px", round(p["height"])) for p in c["panels"]
                     if p["height"] < MIN_PANEL]
    return shown
