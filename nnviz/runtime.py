"""Process-wide torch settings for a server where many students' sessions run as threads of one process.

One Streamlit process uses about one core (the GIL), and torch's intra-op threads multiply per
session: on a loaded box they stall each other (see DESIGN.md, "Many students, one server"). So a
server process runs torch on a small, fixed number of threads:

    NNVIZ_TORCH_THREADS   torch's intra-op (and inter-op) thread count per app process; default 1.
                          A whole number >= 1 (capped at the machine's core count). A bad value is
                          ignored with a warning in the server log, and the default is used.

`setup_torch_threads()` applies it once per process (app.py calls it on every rerun; only the first
call sets anything: torch.set_num_interop_threads raises if called twice).
"""
from __future__ import annotations

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
        return n
