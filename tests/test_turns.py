"""Turns: a process trains at most a few runs at once, first come first served, and Stop works while a run waits
(issue 22: thirty Trains at the largest settings at once). Threads stand in for the students' script threads; the
trainings are generators that record how many of them compute at the same moment."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from nnviz.ui import live


class Meter:
    """Counts the trainings computing right now, the most at once, and the order they started in."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.started: list[str] = []

    def snapshots(self, name: str, epochs: int, seconds: float = 0.05):
        with self.lock:
            self.started.append(name)
        for e in range(epochs):
            with self.lock:
                self.now += 1
                self.most = max(self.most, self.now)
            time.sleep(seconds)  # an epoch's work (releases the GIL, as torch's kernels do)
            with self.lock:
                self.now -= 1
            yield SimpleNamespace(epoch=e, diverged=False)


def _queued(turns: live.Turns) -> int:
    with turns._cond:
        return len(turns._queue)


def _train(turns, meter, name, epochs, out, waits=None, slow=0.0):
    run: dict = {}
    out[name] = run  # filled as it trains
    waiting = None if waits is None else (lambda done, text: waits.append((name, done, text)))
    live.train_live(run, meter.snapshots(name, epochs), epochs, lambda r, final: None, lambda done: None,
                    slow_seconds=slow, waiting=waiting, turns=turns)


def test_at_most_slots_runs_compute_at_once_in_the_order_they_asked():
    turns, meter, out, waits = live.Turns(2), Meter(), {}, []
    threads = []
    for i in range(6):
        t = threading.Thread(target=_train, args=(turns, meter, f"s{i}", 8, out, waits))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 10  # the next student presses Train once this one is running or queued
        while turns.running + _queued(turns) < i + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    for t in threads:
        t.join(30)
    assert meter.most == 2  # two at a time, never more (and the limit was reached)
    assert meter.started == [f"s{i}" for i in range(6)]  # first come, first served
    assert all(out[f"s{i}"]["state"] == "done" and len(out[f"s{i}"]["history"]) == 8 for i in range(6))
    assert turns.running == 0 and _queued(turns) == 0
    assert not any(name in ("s0", "s1") for name, _, _ in waits)  # the first two never waited
    last = [text for name, _, text in waits if name == "s5"]
    assert last and "trains 2 runs at a time, and 4 runs are ahead of yours" in last[0], last[:1]
    assert "Stop works meanwhile" in last[0]


def _holding(turns, meter, out, name, epochs) -> threading.Thread:
    """A training started in its own thread, once it holds a turn."""
    thread = threading.Thread(target=_train, args=(turns, meter, name, epochs, out))
    thread.start()
    while turns.running < 1:
        time.sleep(0.001)
    return thread


def test_stop_while_waiting_gives_up_the_place_and_trains_nothing():
    turns, meter, out = live.Turns(1), Meter(), {}
    first = _holding(turns, meter, out, "first", 10)

    class Stop(Exception):
        pass

    def stop(done, text):  # the page's progress call raises when the student has clicked Stop
        raise Stop

    run: dict = {}
    with pytest.raises(Stop):
        live.train_live(run, meter.snapshots("stopped", 10), 10, lambda r, final: None, lambda done: None,
                        waiting=stop, turns=turns)
    assert run["history"] == [] and run["state"] == "running"  # settle() makes it "stopped" on the next run
    assert _queued(turns) == 0  # its place was given up
    first.join(30)
    assert "stopped" not in meter.started and out["first"]["state"] == "done"
    _train(turns, meter, "after", 5, out)  # the next one gets a turn at once
    assert out["after"]["state"] == "done" and turns.running == 0


def test_a_slow_motion_run_gives_up_its_turn_while_it_pauses():
    """One slot: a slow-motion run (sleeping most of its 1 s) does not hold back a run that asks after it."""
    turns, meter, out = live.Turns(1), Meter(), {}
    slow = threading.Thread(target=_train, args=(turns, meter, "slow", 20, out, None, 1.0))
    slow.start()
    while not meter.started:
        time.sleep(0.001)
    _train(turns, meter, "quick", 5, out)  # trains during the slow run's pauses
    assert slow.is_alive()  # done while the slow run (2 s: 1 s of epochs, 1 s of pauses) still goes on
    slow.join(30)
    assert out["quick"]["state"] == "done" and out["slow"]["state"] == "done"
    assert meter.most == 1 and turns.running == 0


def test_no_limit_when_slots_is_zero():
    turns, meter, out = live.Turns(0), Meter(), {}
    threads = [threading.Thread(target=_train, args=(turns, meter, f"s{i}", 6, out)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert meter.most > 2 and all(r["state"] == "done" for r in out.values())


def test_work_outside_the_live_loop_waits_for_its_turn_too():
    """The Devices timing trains without train_live: it takes a turn like a training (turns.turn())."""
    turns, meter, out = live.Turns(1), Meter(), {}
    training = _holding(turns, meter, out, "train", 6)
    with turns.turn():
        assert meter.now == 0 and len(out["train"]["history"]) == 6  # only once the training gave its turn back
    training.join(30)
    assert turns.running == 0
