"""Shared fixtures: an AppTest factory with clean caches."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


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
    """Open a page through app.py (so the shared frame runs), with query params and clean caches."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    st.cache_resource.clear()

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
    """Chromium for the browser tests of one module (skips, or fails in CI, without it)."""
    from browser import chromium

    yield from chromium()


@pytest.fixture(scope="module")
def server():
    """A freshly started Streamlit server for the browser tests of one module."""
    from browser import Server

    s = Server()
    yield s
    s.stop()
