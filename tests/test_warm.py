"""The warm-up (nnviz.ui.warm): a freshly started server opens its lesson links itself, so a teacher's link is
then answered from st.cache_data. Counted, not timed: the bytes each st.cache_data cache holds, read from
the server's own /_stcore/metrics (a cache miss stores a new entry: its cache grows), before and after
opening a tour step's link; a link the warm-up never opened, on the same server, is the control that shows
a miss is seen."""
from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from pathlib import Path

import pytest

from browser import Server
from nnviz import lessons as Ls
from nnviz.ui import warm
from nnviz.ui.protocol import Client

METRICS_TTL_S = 5.0  # Streamlit 1.67 recomputes the cache_memory_bytes family at most once per 5 s
LINE = re.compile(r'^cache_memory_bytes\{cache_type="st_cache_data",cache="([^"]*)"\} (\d+)$')


def cache_bytes(url: str) -> dict[str, int]:
    """{cached function: bytes held} for every st.cache_data cache of the server process."""
    time.sleep(METRICS_TTL_S + 0.5)  # a fresh reading, not the last one
    with urllib.request.urlopen(f"{url}/_stcore/metrics?families=cache_memory_bytes", timeout=30) as r:
        text = r.read().decode()
    return {m.group(1): int(m.group(2)) for m in map(LINE.match, text.splitlines()) if m}


def grown(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}


def open_link(url: str, page: str, query: str):
    async def go():
        c = Client(url, time.monotonic() + 120)
        try:
            return await c.open(page, query)
        finally:
            await c.close()
    run = asyncio.run(go())
    assert run.status == 0 and not run.exceptions, (run.status, run.exceptions)
    return run


def wait_for(log: Path, text: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        content = log.read_text()
        if text in content:
            return content
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not in the server log within {seconds:g} s:\n{log.read_text()[-3000:]}")


def test_links_cover_every_question_and_tour_step():
    links = warm.lesson_links(warm.ALL)
    assert ("", "") in links and all((p, "") in links for p in Ls.PAGES)
    for page in Ls.PAGES:
        steps = Ls.TOURS.get(page, ())
        assert all((page, f"tour={n}") in links for n in range(1, len(steps) + 1))
        for s in steps:  # every step's settings as plain URL values, parsed back to the same page state
            assert any(p == page and Ls.to_settings(page, Ls.page_params(page, _parse(q)))
                       == Ls.to_settings(page, Ls.page_params(page, Ls.step_settings(page, s)))
                       for p, q in links if "tour=" not in q)
    for q in Ls.QUESTIONS.values():
        assert any(p == q.page and "tour=" not in s and Ls.to_settings(p, Ls.page_params(p, _parse(s)))
                   == Ls.to_settings(p, q.params()) for p, s in links)
    assert len(links) == len(set(links)) <= warm.MAX_LINKS


def _parse(query: str) -> dict[str, list[str]]:
    from urllib.parse import parse_qs
    return parse_qs(query, keep_blank_values=True)


def test_env_decides():
    assert warm.pages_from_env({}) == warm.ALL
    assert warm.pages_from_env({"NNVIZ_WARM": "0"}) == ()
    assert warm.pages_from_env({"NNVIZ_WARM": "off"}) == ()
    assert warm.pages_from_env({"NNVIZ_WARM": "activations, logits,nope"}) == ("activations", "logits")


def test_no_warm_up_inside_apptest(app, monkeypatch):
    import threading

    monkeypatch.setattr(warm, "_thread", None)  # as in a fresh process
    monkeypatch.setenv("NNVIZ_WARM", "1")
    tried = len(warm.REPORT.opened) + len(warm.REPORT.failed)
    app()  # frame() runs start(): AppTest's runtime is a mock, so nothing starts and nothing is contacted
    assert warm._thread is not None  # decided...
    assert not any(t.name == "nnviz-warm" for t in threading.enumerate())  # ...not to warm
    assert len(warm.REPORT.opened) + len(warm.REPORT.failed) == tried  # no link tried


@pytest.fixture
def warm_server():
    server = Server({"NNVIZ_WARM": "activations"})  # this page's links only: a quick warm-up
    try:
        yield server
    finally:
        server.stop()


def test_a_tour_link_after_warm_up_is_a_cache_hit(warm_server):
    url, log = warm_server.url, Path(warm_server.log.name)
    open_link(url, "", "")  # the first session starts the process's warm-up (a deploy's kick does the same)
    content = wait_for(log, "nnviz warm: done:", 180)
    steps = Ls.TOURS["activations"]
    expected = len(warm.lesson_links(("activations",)))
    m = re.search(r"done: (\d+) links opened, (\d+) failed", content)
    assert m and int(m.group(1)) >= expected and m.group(2) == "0", content[-3000:]
    assert f"warmed /activations?tour={len(steps)}" in content

    before = cache_bytes(url)
    assert before.get("nnviz.activations.compute_curves", 0) > 0  # the warm-up filled the page's caches
    n = next(i for i, s in enumerate(steps, 1) if s.question is None and s.settings)  # a step that computes
    run = open_link(url, "activations", f"tour={n}")  # a teacher's link to that step, in a new session
    assert run.charts >= 1  # the page drew its figure: it needed the results
    after = cache_bytes(url)
    assert grown(before, after) == {}, f"the tour link missed the cache: {grown(before, after)}"

    # The control, on the same server: a link the warm-up never opened stores new entries (a miss is seen).
    open_link(url, "activations", "fn=elu&fn=softsign&x=1.5&xmin=-5")
    missed = grown(after, cache_bytes(url))
    assert missed.get("nnviz.activations.compute_curves", 0) > 0, missed
