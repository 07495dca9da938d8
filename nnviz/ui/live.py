"""The live-training loop shared by the pages that train a model while the student watches.

A process trains at most TRAIN_SLOTS runs at once, first come first served (Turns): thirty students who press
Train together at the largest settings otherwise run thirty trainings in thirty script threads that share one
GIL, each torch call releasing and retaking it, and every other student's page waits behind them (issue 22:
all thirty done at 4.9x the ideal, another student's open 1.8x slower). A waiting student sees how many runs are
ahead of theirs, and Stop works while they wait. `NNVIZ_TRAIN_SLOTS` sets the number (0: no limit).
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Iterable

from nnviz.controls import BoolSpec

from .heavy import Turns

LIVE_FRAMES = 10  # chart redraws per run, the final one included, whatever the epochs and the server's speed
SLOW = BoolSpec("Slow motion (about 5 s per run)", False, help="Pause between updates so the charts can be followed.")
SLOW_SECONDS = 5.0  # the pauses of one slow-motion run, in all
TICKS = 50  # progress updates per run: a few hundred bytes each, and where a click on Stop is seen
TRAIN_SLOTS = int(os.environ.get("NNVIZ_TRAIN_SLOTS", "1") or 0)
TURNS = Turns(TRAIN_SLOTS)


def _runs(n: int) -> str:
    return f"{n} run{'s' if n != 1 else ''}"


def waiting_text(ahead: int, slots: int) -> str:
    return (f"Waiting for a turn: this server trains {_runs(slots)} at a time, and {_runs(ahead)} "
            f"{'is' if ahead == 1 else 'are'} ahead of yours. Stop works meanwhile.")


def train_live(run: dict, snapshots: Iterable[Any], epochs: int, draw: Callable[[dict, bool], None],
               progress: Callable[[int], None], slow_seconds: float = 0.0, frames: int = LIVE_FRAMES,
               ticks: int = TICKS, waiting: Callable[[int, str], None] | None = None,
               turns: Turns | None = None) -> dict:
    """Run a training while the page draws it, and fill `run` as it goes.

    `snapshots` yields objects with an `epoch` (0-based) and a `diverged` flag, in order; each is
    appended to run["history"]. The charts are redrawn (draw(run, False)) when the run crosses each
    of `frames` - 1 fixed fractions of `epochs` and the progress (progress(epochs done)) at each of
    `ticks`: a budget per run, not a wall-clock cadence, so a slower server sends no more frames.
    The last frame is the caller's: draw(run, True) once this returns (and on every rerun of the
    finished run). Each draw or progress call is a Streamlit call, where a click on Stop interrupts
    the script (a rerun request stops it at its next Streamlit call); run["state"] then stays "running" (see
    settle()).

    `slow_seconds`: slow motion, about that many seconds of pauses over the whole run.
    run["seconds"] counts training only: neither drawing nor the slow-motion pauses nor waiting for a turn.
    run["state"] ends "done", or "diverged" if the last snapshot says so. Returns `run`.

    The run trains only while it holds one of `turns` (default: the process's TURNS), taken before the first
    epoch and given up during each slow-motion pause (so a slow run costs the others only its epochs); while
    it waits, waiting(epochs done, a sentence saying how many runs are ahead) is called every heavy.POLL_S s."""
    turns = TURNS if turns is None else turns
    run.update(history=[], state="running", seconds=0.0)
    history = run["history"]
    frame = tick = done_before = 0  # redraws and progress updates so far; epochs done at the last snapshot
    held = False

    def take(done: int) -> None:
        nonlocal held
        turns.acquire(None if waiting is None else lambda ahead: waiting(done, waiting_text(ahead, turns.slots)))
        held = True

    def slow_pause(seconds: float, done: int) -> None:
        """Sleep off the turn: the other runs train meanwhile."""
        nonlocal held
        turns.release()
        held = False
        time.sleep(seconds)
        take(done)

    take(0)
    clock = time.perf_counter()

    def pause(call: Callable[[], None]) -> None:
        """Run `call` (drawing or sleeping) off the training clock."""
        nonlocal clock
        run["seconds"] += time.perf_counter() - clock
        call()
        clock = time.perf_counter()

    try:
        for snap in snapshots:
            if run["history"] is not history:  # settle() took the run over: this script run was superseded
                return run
            history.append(snap)
            done = snap.epoch + 1
            if slow_seconds:
                pause(lambda: slow_pause(slow_seconds * (done - done_before) / epochs, done))
            done_before = done
            if done >= epochs or snap.diverged:
                break  # the final frame is the caller's, with the whole history
            if done * frames // epochs > frame:
                frame, tick = done * frames // epochs, done * ticks // epochs  # a frame shows the progress too
                pause(lambda: draw(run, False))  # a click on Stop interrupts the script here,
            elif done * ticks // epochs > tick:
                tick = done * ticks // epochs
                pause(lambda: progress(done))  # or here
    finally:
        if held:
            turns.release()
    if run["history"] is history:  # not superseded while it trained
        run["seconds"] += time.perf_counter() - clock
        run["state"] = "diverged" if history and history[-1].diverged else "done"
    return run


def settle(run: dict | None) -> dict | None:
    """A run found still "running" when the script starts again was interrupted (Stop, or any other
    control touched mid-run): it becomes "stopped", keeping what it learned. Returns `run`.

    The interrupted training may still be running: with runner.fastReruns = true (this app sets it false, but a
    deployment may not) Streamlit starts the new script run in a new thread at once and the old one stops only
    at its next Streamlit call. So the
    stopped run gets its own copy of the history; the old thread's train_live sees that it was
    superseded and neither appends nor finishes it (it once appended while the new run drew the
    history, and the loss chart raised on epochs and losses of different lengths)."""
    if run is not None and run.get("state") == "running":
        run["history"] = list(run.get("history", ()))
        run["state"] = "stopped"
    return run


def finished_view(run: dict, build: Callable[[dict], dict]) -> dict:
    """build(run): what a page shows of a finished run (figures, report), built once and kept in the
    run, so that a rerun (any widget touched) does not rebuild it from the whole history. Rebuilt
    only if the run's history or state changed since."""
    key = (len(run["history"]), run["state"])
    if run.get("view_key") != key:
        run["view"], run["view_key"] = build(run), key
    return run["view"]
