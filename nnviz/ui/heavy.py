"""At most a few heavy computations at once in one process (issue 18).

Thirty students opening thirty different heavy links at the same moment start thirty computations in thirty
script threads of one process. With one core's worth of GIL they finish no sooner than one after another would,
but each holds its working set (float64 networks of width 128...) the whole time: measured, RSS rose from 420
to 850-1050 MB per process, where the same links opened one after another stayed at 480 MB. limited() makes a
computation wait for one of SLOTS places first (first come first served: Turns below), so the
students are served in turn and the process holds at most SLOTS working sets. Only cache misses wait: an
answer in st.cache_data is returned before the function is called. `NNVIZ_HEAVY_SLOTS` sets SLOTS.

A limited function may call another (a figure built from a cached computation): a thread that holds a place
does not wait for a second one.

Turns is the queue itself, also used for the trainings (nnviz.ui.live.TURNS, a pool of its own): it tells a
waiting caller how many are ahead, and lets it give up its place (a click on Stop).
"""
from __future__ import annotations

import collections
import functools
import os
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

import streamlit as st

POLL_S = 0.5  # while waiting for a turn: how often the caller is told (a Streamlit call, where Stop is seen)


class Turns:
    """At most `slots` computations (or trainings) at once (slots <= 0: no limit), served in the order they asked."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._cond = threading.Condition()
        self._queue: collections.deque = collections.deque()  # tickets of the runs waiting, first in front
        self.running = 0

    def acquire(self, waiting: Callable[[int], None] | None = None, poll: float = POLL_S) -> None:
        """Wait for a turn. While waiting, waiting(runs that must end or pause first) every `poll` s: an
        exception it raises (a click on Stop) gives up the place in the queue and propagates."""
        if self.slots <= 0:
            return
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
        try:
            while True:
                with self._cond:
                    if self._queue[0] is ticket and self.running < self.slots:
                        self._queue.popleft()
                        self.running += 1
                        self._cond.notify_all()  # the next in line may fit too
                        return
                    ahead = self._queue.index(ticket) + self.running - self.slots + 1
                if waiting is not None:
                    waiting(ahead)  # at once, then every `poll` s
                with self._cond:
                    if not (self._queue[0] is ticket and self.running < self.slots):
                        self._cond.wait(poll)
        except BaseException:
            with self._cond:
                if ticket in self._queue:
                    self._queue.remove(ticket)
                self._cond.notify_all()
            raise

    def release(self) -> None:
        if self.slots <= 0:
            return
        with self._cond:
            self.running -= 1
            self._cond.notify_all()

    @contextmanager
    def turn(self, waiting: Callable[[int], None] | None = None) -> Iterator[None]:
        """The body runs holding a turn (for work that trains without train_live: the Devices timing)."""
        self.acquire(waiting)
        try:
            yield
        finally:
            self.release()


SLOTS = max(1, int(os.environ.get("NNVIZ_HEAVY_SLOTS", "2") or 2))
_places = Turns(SLOTS)
_held = threading.local()  # .depth: how many limited calls this thread is inside

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def place() -> Iterator[None]:
    """Hold one of the process's SLOTS places for the body (at once if this thread holds one already)."""
    depth = getattr(_held, "depth", 0)
    if depth:
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth = depth
        return
    with _places.turn():
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0


def limited(fn: F) -> F:
    """fn, run only while holding a place(). functools.wraps keeps fn's module, name and (through
    __wrapped__) source, which st.cache_data keys a function by."""
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with place():
            return fn(*args, **kwargs)
    return run  # type: ignore[return-value]


def heavy_cache(fn: F, **cache_kwargs: Any) -> F:
    """st.cache_data(**cache_kwargs) of limited(fn): computed once per argument set, a few at a time."""
    return st.cache_data(**cache_kwargs)(limited(fn))
