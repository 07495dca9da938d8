"""Shared fixtures: an AppTest factory, the browser and a server for the browser tests."""
from __future__ import annotations

import functools
import json
import math
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

# The longest test files first (measured: `bash scripts/test.sh --durations=0`, summed per file), so that under
# pytest-xdist's --dist loadfile (scripts/test.sh) no worker starts a long file when the others are nearly done.
# A file not listed runs after these, in the usual order.
LONGEST_FIRST = (
    "test_a11y_browser.py", "test_browser_lessons.py", "test_layout.py", "test_browser.py", "test_deploy.py",
    "test_lessons.py", "test_browser_logits.py", "test_lesson_ui.py", "test_hostile_browser.py", "test_fuzz_urls.py",
    "test_regression.py", "test_pages.py", "test_logits_page.py", "test_browser_class.py", "test_warm.py",
    "test_deep.py", "test_deep_page.py", "test_browser_activations.py", "test_cross_links.py", "test_limits.py",
    "test_classification.py", "test_vanishing.py", "test_runtime.py", "test_browser_deep.py",
)


def pytest_collection_modifyitems(session, config, items) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's tests keep their order


def pytest_configure(config) -> None:
    """In a pytest-xdist worker, torch computes on one thread: two workers on two cores, each with a pool of two
    threads, would spin against each other (the app's server runs one thread too, nnviz.runtime)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)
    _scan_installed_components_once()
    _one_script_cache()


def _one_script_cache() -> None:
    """AppTest gives every run a new ScriptCache, so each run parses and compiles app.py and its page again (6 % of
    the AppTest tests' CPU, py-spy); a real server keeps one ScriptCache for every session. The scripts do not
    change while the tests run (no test writes one): one cache per test process, as one server has."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test

    shared = ScriptCache()
    app_test.ScriptCache = lambda: shared


def _scan_installed_components_once() -> None:
    """Streamlit 1.67's AppTest scans every installed distribution's metadata for custom components at each new
    AppTest's first run: 0.3 s of parsing 130 packages' METADATA, a sixth of the AppTest tests' CPU time (measured
    with cProfile on test_regression.py and test_lesson_ui.py). The installed packages do not change while the
    tests run, and a real server scans once, at its start (streamlit.runtime.Runtime): scan once per test process
    too. Each caller gets its own copy of the list."""
    from streamlit.components.v2 import manifest_scanner

    scan = functools.cache(manifest_scanner.scan_component_manifests)
    manifest_scanner.scan_component_manifests = lambda *args, **kwargs: list(scan(*args, **kwargs))


@pytest.fixture(autouse=True)
def _pages_mode_as_on_a_running_server(monkeypatch):
    """AppTest resets PagesManager.uses_pages_directory before every run, so with a pages/ folder
    each run would start in legacy mode and nnviz.ui.require_frame would rerun it (losing a
    button's click). A real server is in that mode only until the first st.navigation call (the
    browser tests cover that cold start); here we start each AppTest run as a running server is."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def app():
    """Open a page through app.py (so the shared frame runs), with query params. The st.cache_data caches are kept
    from test to test in a test process, as one server keeps them from session to session (clearing them before
    each test cost 11 % of the AppTest tests' CPU): every cached function is pure in its arguments, so a warm
    entry holds what a cold run computes (nnviz.lessons keeps the answers per process too). The tests that count
    what a cache holds start their own server (test_warm.py, test_limits.py)."""
    from streamlit.testing.v1 import AppTest

    def open_page(page: str | None = None, **query) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        for k, v in query.items():
            at.query_params[k] = v
        if page:
            at.switch_page(page)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_page


def figure(at, i: int = 0) -> dict:
    """The i-th plotly chart of an AppTest run, as plotly JSON."""
    return json.loads(at.get("plotly_chart")[i].proto.spec)


def shown_script(at, i: int = 0) -> str:
    """The i-th Python code block of an AppTest run ("show the code"; the lesson panel's link box is not
    Python)."""
    return [c.proto.code_text for c in at.get("code") if c.proto.language == "python"][i]


def same_as_link(value, raw: list[str], spec=None) -> bool:
    """Does a widget's value (as st.session_state holds it) equal a link's raw URL values? A number
    list's text box (spec a NumberListSpec) compares as the numbers it reads as."""
    from nnviz.controls import NumberListSpec

    if isinstance(spec, NumberListSpec):
        return spec.parse([value]) == spec.parse(raw)
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value] == raw
    if isinstance(value, bool):
        return len(raw) == 1 and str(value).lower() == raw[0].lower()
    if isinstance(value, (int, float)):
        return len(raw) == 1 and math.isclose(float(raw[0]), float(value))
    return len(raw) == 1 and str(value) == raw[0]


def traces(at, i: int = 0) -> dict[str, dict]:
    return {t.get("name"): t for t in figure(at, i)["data"]}


@pytest.fixture(scope="module")
def browser():
    """Chromium for the browser tests of one module (skips, or fails in CI, without it). Not one per test process:
    Playwright's sync API keeps an event loop running while it is started, and a later module's asyncio.run()
    (the protocol-level tests) would fail."""
    from browser import chromium

    yield from chromium()


@pytest.fixture(scope="session")
def server():
    """A Streamlit server for the browser tests, one per test process (under pytest-xdist, per worker): each test's
    pages are new sessions on it. A test that needs a freshly started server (a cold first page, a run log, a
    warm-up, other settings) starts its own (tests/browser.py's Server)."""
    from browser import Server

    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A freshly started server for one module's protocol-level tests, with its run log on (app.py appends a line
    per script run to NNVIZ_RUN_LOG) and no background warm-up, whose sessions would run too: (server, log)."""
    from browser import Server

    log = tmp_path_factory.mktemp("runs") / "runs.log"
    server = Server({"NNVIZ_RUN_LOG": str(log), "NNVIZ_WARM": "0"})
    yield server, log
    server.stop()
