"""Process-wide torch settings for a server where many students' sessions run as threads of one process.

One Streamlit process uses about one core (the GIL), and torch's intra-op threads multiply per
session: on a loaded box they stall each other (see DESIGN.md, "Many students, one server"). So a
server process runs torch on a small, fixed number of threads:

    NNVIZ_TORCH_THREADS   torch's intra-op (and inter-op) thread count per app process; default 1.
                          A whole number >= 1 (capped at the machine's core count). A bad value is
                          ignored with a warning in the server log, and the default is used.

`setup_torch_threads()` applies it once per process (app.py calls it on every rerun; only the first
call sets anything: torch.set_num_interop_threads raises if called twice).

It also caps glibc's malloc arenas (limit_malloc_arenas): every session's script thread would otherwise get an
arena of its own (up to 8 per core), and each keeps the memory its tensors freed. Thirty students opening thirty
heavy links at once took a process from 420 to 900 MB RSS, kept after they left; with two arenas, 610 MB
(benchmarks/classroom.py --burst different).

    NNVIZ_MALLOC_ARENAS   the cap; default 2; 0 leaves glibc's default. Ignored off glibc (macOS, musl).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
from typing import Mapping

import torch

ENV = "NNVIZ_TORCH_THREADS"
DEFAULT_THREADS = 1  # one intra-op thread per process: a server runs many sessions side by side

_log = logging.getLogger("nnviz.runtime")
_lock = threading.Lock()
_applied: int | None = None  # the thread count set in this process, once set


def threads_from_env(environ: Mapping[str, str] = os.environ) -> tuple[int, str | None]:
    """(thread count, warning or None) read from NNVIZ_TORCH_THREADS; never raises."""
    raw = environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_THREADS, None
    try:
        n = int(raw)
    except ValueError:
        return DEFAULT_THREADS, f"{ENV}={raw[:40]!r} is not a whole number; using {DEFAULT_THREADS} torch thread(s)"
    if n < 1:
        return DEFAULT_THREADS, f"{ENV}={n} is below 1; using {DEFAULT_THREADS} torch thread(s)"
    cores = os.cpu_count() or 1
    if n > cores:
        return cores, f"{ENV}={n} is more than this machine's {cores} cores; using {cores}"
    return n, None


def setup_torch_threads(environ: Mapping[str, str] = os.environ) -> int:
    """Set torch's thread counts for this process from NNVIZ_TORCH_THREADS (default 1), once; later
    calls (Streamlit reruns app.py for every interaction) return the count already set."""
    global _applied
    with _lock:
        if _applied is not None:
            return _applied
        n, warning = threads_from_env(environ)
        if warning:
            _log.warning(warning)
        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:  # inter-op work already started in this process: its pool stays as it is
            _log.info("torch's inter-op thread count was already fixed; left as it is")
        _applied = n
        limit_malloc_arenas(environ)
        return n


M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's <malloc.h>


def limit_malloc_arenas(environ: Mapping[str, str] = os.environ) -> int | None:
    """mallopt(M_ARENA_MAX, NNVIZ_MALLOC_ARENAS or 2) for this process; returns the cap set, or None (turned off,
    a bad value, or no glibc). Threads already given an arena keep it; new ones share the capped ones."""
    raw = environ.get("NNVIZ_MALLOC_ARENAS", "2").strip()
    try:
        n = int(raw)
    except ValueError:
        _log.warning("NNVIZ_MALLOC_ARENAS=%r is not a whole number; glibc's arenas left as they are", raw[:40])
        return None
    if n <= 0:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return None
    return n if mallopt(M_ARENA_MAX, n) == 1 else None
