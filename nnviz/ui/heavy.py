"""At most a few heavy computations at once in one process (issue 18).

Thirty students opening thirty different heavy links at the same moment start thirty computations in thirty
script threads of one process. With one core's worth of GIL they finish no sooner than one after another would,
but each holds its working set (float64 networks of width 128...) the whole time: measured, RSS rose from 420
to 850-1050 MB per process, where the same links opened one after another stayed at 480 MB. limited() makes a
computation wait for one of SLOTS places first (FIFO: threading's Semaphore wakes its waiters in order), so the
students are served in turn and the process holds at most SLOTS working sets. Only cache misses wait: an
answer in st.cache_data is returned before the function is called. `NNVIZ_HEAVY_SLOTS` sets SLOTS.

A limited function may call another (a figure built from a cached computation): a thread that holds a place
does not wait for a second one.
"""
from __future__ import annotations

import functools
import os
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

import streamlit as st

SLOTS = max(1, int(os.environ.get("NNVIZ_HEAVY_SLOTS", "2") or 2))
_places = threading.BoundedSemaphore(SLOTS)
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
    with _places:
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
