"""One session cannot make a server run its script again and again (issue 18): a burst of control changes
costs a few script runs, repeated clicks on the Devices button one timing, and Stop still stops a training.

Against a real server (tests/browser.py's Server, as configured by .streamlit/config.toml) through the
protocol client of benchmarks/classroom.py: the tab sends its rerun requests back to back, as a browser
does while an arrow key is held on a slider. Runs are counted, not timed: app.py appends a line per script
run started ("start SESSION THREAD") and completed ("end ...") to the file named by NNVIZ_RUN_LOG, and the
regression page one per Devices timing computed ("timing ..."). With runner.fastReruns = true the burst
below starts about one script run per change (each in its own thread); with false, as configured, the
changes that arrive while a run is going are merged into one rerun.
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from browser import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from classroom import FloodClient  # noqa: E402  (the benchmark's protocol client)

BURST = 50  # control changes sent back to back
FEW = 5  # script runs a burst may start, at most (fastReruns = false: about 2; true: about one per change)
DEADLINE_S = 240  # each test's protocol session gives up after this long (a bound, not an assert)


def events(log: Path) -> list[tuple[str, str]]:
    """(event, session) for each line of the run log, in order."""
    return [tuple(line.split()[:2]) for line in log.read_text().splitlines()] if log.exists() else []


def count(log: Path, event: str, session: str | None = None, since: int = 0) -> int:
    return sum(1 for e, s in events(log)[since:] if e == event and (session is None or s == session))


async def opened(url: str, page: str, query: str, log: Path) -> tuple[FloodClient, str]:
    """A tab on page?query, its first run finished; and its session id (the one new session in the log)."""
    before = {s for _, s in events(log)}
    c = FloodClient(url, time.monotonic() + DEADLINE_S)
    run = await c.open(page, query)
    assert run.status == 0 and not run.exceptions, run.exceptions
    new = {s for e, s in events(log) if e == "start"} - before
    assert len(new) == 1, new
    return c, new.pop()


def texts(run) -> list[str]:
    return [el.body for path, (k, el) in run.screen.items() if k in ("heading", "markdown", "alert")]


def test_a_burst_of_control_changes_starts_a_few_runs_and_ends_on_the_last_value(served):
    server, log = served
    values = [v for v in range(1, BURST + 1)][::-1]  # 50 ... 1: the default (30) in between, 1 last

    async def burst():
        c, sid = await opened(server.url, "vanishing", "", log)
        mark = len(events(log))
        for v in values:  # as fast as the socket takes them; no run is awaited
            c.set("depth", ("double_array_value", [float(v)]))
            await c.send()
        # the last run: a finished one that shows depth 1 (each change's value is distinct, so only a
        # run started with the last change shows it; earlier runs may finish before it)
        shown = []
        while True:
            run = await c.finish()
            shown.append(run)
            if any(f"depth {values[-1]}" in t for t in texts(run)):
                break
        await c.close()
        return sid, mark, shown

    sid, mark, shown = asyncio.run(burst())
    started, completed = count(log, "start", sid, mark), count(log, "end", sid, mark)
    last = shown[-1]
    assert last.status == 0 and not last.exceptions, last.exceptions
    assert "Layer by layer, in a network of depth 1" in texts(last)
    assert 1 <= completed <= started <= FEW, (started, completed)


def test_clicks_on_the_devices_button_compute_one_timing_per_settings(served):
    server, log = served

    async def clicks():
        c, sid = await opened(server.url, "regression", "view=Devices", log)
        mark = len(events(log))
        for _ in range(10):  # clicked again and again while the first timing runs
            await c.send(triggers=[c.click("compare")])
        run = await c.finish(until=lambda r: any(el.id.endswith("-timing_table") for _, (k, el) in r.screen.items()
                                                 if k == "arrow_data_frame"))
        while run.status is None:  # the rest of that run
            run = await c.finish()
        burst = count(log, "start", sid, mark), count(log, "timing", since=mark)
        for _ in range(3):  # and again once it is shown: the same settings, the same timing
            run = await c.rerun(triggers=[c.click("compare")])
            assert run.status == 0 and not run.exceptions, run.exceptions
        same = count(log, "timing", since=mark)
        c.set("w", ("double_array_value", [0.5]))  # other settings: one more timing
        run = await c.rerun(triggers=[c.click("compare")])
        assert run.status == 0 and not run.exceptions, run.exceptions
        other = count(log, "timing", since=mark)
        await c.close()
        return burst, same, other

    (started, timed), same, other = asyncio.run(clicks())
    assert started <= FEW, started
    assert (timed, same, other) == (1, 1, 2)


@pytest.mark.parametrize("page, query, train, stop", [
    ("regression", "slow=true&epochs=2000", "train", "stop"),
    ("logits", "slow_clf=true", "train_clf", "stop_clf"),
])
def test_stop_interrupts_a_running_training(served, page, query, train, stop):
    """Train in slow motion (about 5 s), Stop once the first progress update has arrived: the page says
    it stopped after fewer epochs than asked for, and keeps what it learned."""
    server, log = served

    async def stopped():
        c, _ = await opened(server.url, page, query, log)
        await c.send(triggers=[c.click(train)])
        bar = lambda r: [el for _, (k, el) in r.screen.items() if k == "progress" and el.value > 0]  # noqa: E731
        progressed = await c.finish(until=bar)
        assert progressed.status is None, "the training finished before a progress update was seen"
        await c.send(triggers=[c.click(stop)])
        run = await c.finish()
        await c.close()
        return bar(progressed)[0].text, run

    progress, run = asyncio.run(stopped())
    epochs = int(progress.split(" of ")[1].split()[0])  # "12 of 2000 epochs done" / "epoch 12 of 300"
    assert run.status == 0 and not run.exceptions, run.exceptions
    said = [t for t in texts(run) if t.startswith("Stopped after ")]
    assert said, texts(run)
    done = int(said[0].split("Stopped after ")[1].split(" epochs")[0])
    assert 0 < done < epochs


def test_pace_waits_only_after_a_run_cut_short_by_a_request(monkeypatch):
    """nnviz.ui.pace: a run that follows, back to back, a run the next request cut short waits WAIT_S; a run
    after a completed run, or after a pause, never waits (a student's ordinary clicks pay nothing)."""
    from nnviz.ui import pace

    monkeypatch.delenv("NNVIZ_PACE", raising=False)
    now = 100.0
    assert pace.wait_before(None, now) == 0.0  # a session's first run
    assert pace.wait_before((now - 0.001, 0.4, True), now) == pace.WAIT_S  # cut short, restarted at once
    assert pace.wait_before((now - 0.001, 0.4, False), now) == 0.0  # completed: the next click is served at once
    assert pace.wait_before((now - 1.0, 0.4, True), now) == 0.0  # cut short long ago (a pause since)
    monkeypatch.setenv("NNVIZ_PACE", "0")
    assert pace.wait_before((now - 0.001, 0.4, True), now) == 0.0
