"""Warm what a class will open: each app process opens its own lesson links once, in the background.

When a process serves its first session, a background thread opens, one after another, every page's
default link, every question's and tour step's settings (nnviz.lessons), every tour step's own link
(?tour=n), and the links those pages offer to each other (st.page_link, read off the screens it was
sent), as ordinary sessions through the protocol client (nnviz.ui.protocol) on 127.0.0.1:<server.port>.
So it fills exactly the caches a student's run fills (st.cache_data, the questions' answers), and a
teacher's link is then answered from them. It contacts nothing but 127.0.0.1, opens one link at a time,
waits while students' scripts are running (they come first), runs its sessions' scripts at the lowest
CPU priority, stops by itself (a bounded list and a time budget) and logs what it warmed.

    NNVIZ_WARM   "0" (or off/false/no): no warm-up. Unset, "1", on or all: every page's links.
                 A comma-separated list of pages (activations,losses,vanishing,regression,logits,deep,home):
                 only those pages' links (a test's quick warm-up).
"""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlencode

ENV = "NNVIZ_WARM"
HEADER = "X-Nnviz-Warm"  # sent by the warm-up's sessions: frame() lowers their script threads' priority
MAX_LINKS = 400  # links opened at most (the lessons give about 95; cross-page links add a few dozen)
BUDGET_S = 1800.0  # the whole warm-up stops after this many seconds, done or not
LINK_TIMEOUT_S = 120.0  # one link's run
IDLE_WAIT_S = 30.0  # before each link, wait at most this long for students' running scripts to finish
FAILURES_TO_STOP = 3  # consecutive failures (server unreachable): give up
ALL = ("home", "activations", "losses", "vanishing", "regression", "logits", "deep")

_log = logging.getLogger("nnviz.warm")
_lock = threading.Lock()
_thread: threading.Thread | None = None
_warm_sessions: set[str] = set()  # session ids of the warm-up's own sessions (not students)


@dataclass
class Report:
    """What a finished warm-up did (also logged)."""
    opened: list[tuple[str, str, float]]  # (page, query, seconds)
    failed: list[tuple[str, str, str]]  # (page, query, why)
    answers: int = 0  # questions whose answer was computed
    seconds: float = 0.0
    done: bool = False


REPORT = Report([], [])


def pages_from_env(environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The pages whose links a process warms (empty: none), from NNVIZ_WARM; never raises."""
    raw = environ.get(ENV, "").strip().lower()
    if raw in ("", "1", "on", "true", "yes", "all"):
        return ALL
    if raw in ("0", "off", "false", "no"):
        return ()
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    unknown = [n for n in names if n not in ALL]
    if unknown:
        _log.warning("%s names no page %s; expected some of %s", ENV, ", ".join(map(repr, unknown))[:200],
                     ", ".join(ALL))
    return tuple(n for n in names if n in ALL)


def _query(settings: Mapping[str, "str | list[str]"], **extra: str) -> str:
    pairs = [(k, v) for k, vs in settings.items() for v in ([vs] if isinstance(vs, str) else vs)]
    return urlencode(pairs + list(extra.items()))


def lesson_links(pages: tuple[str, ...]) -> list[tuple[str, str]]:
    """(url path, query string) of every link the lessons of `pages` open: the page's default, each
    question's settings (a question's own ?q= link computes nothing until a guess is committed; its
    reveal computes the page at these settings), each tour step's settings and its ?tour=n link, also in
    presentation mode (its figures are drawn for a projector: nnviz.ui.figcache keys them apart)."""
    from nnviz import lessons as Ls

    out: list[tuple[str, str]] = []
    for page in pages:
        out.append(("" if page == "home" else page, ""))
        if page == "home":
            continue
        out += [(page, _query(q.settings)) for q in Ls.for_page(page)]
        for n, step in enumerate(Ls.TOURS.get(page, ()), 1):
            out += [(page, _query(Ls.step_settings(page, step))), (page, _query({}, tour=str(n))),
                    (page, _query({}, tour=str(n), present="true"))]  # a tour is shown on a projector
    return list(dict.fromkeys(out))


def start() -> bool:
    """Start the warm-up thread once per process (frame() calls this on every run; later calls do nothing).
    Only inside a real Streamlit server (not AppTest, not a bare script) and where NNVIZ_WARM allows."""
    global _thread
    if _thread is not None:
        return False
    with _lock:
        if _thread is not None:
            return False
        _thread = threading.current_thread()  # a marker: decided, whatever follows
        freeze()
        pages = pages_from_env()
        if not pages:
            return False
        base = _own_url()
        if base is None:
            return False
        _setup_log()
        _thread = threading.Thread(target=_main, args=(base, pages), name="nnviz-warm", daemon=True)
        _thread.start()
        return True


def freeze() -> None:
    """Move every object alive now (the imported modules: torch, plotly, Streamlit) out of the garbage
    collector's view. Streamlit runs a full gc.collect() after every script run (runner.postScriptGC),
    whose cost grows with every tracked object: about 120 ms of each rerun here, for a collection that
    finds nothing among the imports. Frozen objects are still freed by reference counting; only a reference
    cycle among them would never be (a few times per process: at the first run, each page's second run and
    the warm-up's end). NNVIZ_GC_FREEZE=0 turns it off."""
    if os.environ.get("NNVIZ_GC_FREEZE", "1") != "0":
        gc.collect()
        gc.freeze()


def _own_url() -> str | None:
    """http://127.0.0.1:<server.port><baseUrlPath> of this process's server; None outside a running server."""
    try:
        from streamlit import config
        from streamlit.runtime import Runtime

        # AppTest's runtime is a MagicMock with Runtime's spec: isinstance() says yes, type() says no
        if not Runtime.exists() or not issubclass(type(Runtime.instance()), Runtime):
            return None
        port = int(config.get_option("server.port"))
        path = (config.get_option("server.baseUrlPath") or "").strip("/")
    except Exception:  # noqa: BLE001  (no server, or an unexpected Streamlit: no warm-up)
        return None
    return f"http://127.0.0.1:{port}" + (f"/{path}" if path else "")


def _setup_log() -> None:
    if not _log.handlers:  # Streamlit configures its own loggers only: say what we warm in the server's log
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(asctime)s nnviz warm: %(message)s", "%H:%M:%S"))
        _log.addHandler(h)
        _log.setLevel(logging.INFO)
        _log.propagate = False


def is_warm_session() -> bool:
    """Whether this run belongs to one of the warm-up's own sessions (its header)."""
    import streamlit as st

    try:
        return st.context.headers.get(HEADER) == "1"
    except Exception:  # noqa: BLE001
        return False


_pages_seen: set[str] = set()
_pages_frozen: set[str] = set()


def mark_run(page: str = "") -> None:
    """frame() calls this on every run: on a page's second run in this process, freeze() again (its first run
    imported its modules: pandas, scipy...); a warm-up session's script thread runs at the lowest CPU priority,
    and its session is not counted as a student's when the warm-up waits for students to be idle."""
    if page not in _pages_frozen:
        if page in _pages_seen:
            with _lock:
                if page not in _pages_frozen:
                    _pages_frozen.add(page)
                    freeze()
        _pages_seen.add(page)
    if not is_warm_session():
        return
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None:
        _warm_sessions.add(ctx.session_id)
    _nice()


def _nice() -> None:
    try:  # this thread only (Linux: a thread is a schedulable task); raising one's niceness needs no privilege
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass


def students_running() -> int:
    """How many sessions other than the warm-up's are running a script now (0 where it cannot be told)."""
    try:
        from streamlit.runtime import Runtime
        from streamlit.runtime.app_session import AppSessionState

        mgr = Runtime.instance()._session_mgr  # no public API for this; a change here only stops the waiting
        return sum(1 for info in mgr.list_active_sessions()
                   if info.session.id not in _warm_sessions
                   and getattr(info.session, "_state", None) == AppSessionState.APP_IS_RUNNING)
    except Exception:  # noqa: BLE001
        return 0


def _main(base: str, pages: tuple[str, ...]) -> None:
    _nice()
    t0 = time.monotonic()
    try:
        asyncio.run(_warm(base, pages, t0 + BUDGET_S))
    except Exception as e:  # noqa: BLE001  (never take the server down: say so and stop)
        _log.warning("stopped: %s", f"{type(e).__name__}: {e}"[:300])
    REPORT.seconds = time.monotonic() - t0
    freeze()  # every page's modules are imported by now
    REPORT.done = True
    _log.info("done: %d links opened, %d failed, %d answers computed, in %.1f s", len(REPORT.opened),
              len(REPORT.failed), REPORT.answers, REPORT.seconds)


async def _warm(base: str, pages: tuple[str, ...], deadline: float) -> None:
    from .protocol import Client

    queue = lesson_links(pages)
    seen = set(queue)
    initial = len(queue)
    _log.info("warming %d lesson links of %s on %s", initial, ", ".join(pages), base)
    failures = 0
    i = 0
    while i < len(queue) and i < MAX_LINKS and time.monotonic() < deadline:
        page, query = queue[i]
        waited = time.monotonic()
        while students_running() and time.monotonic() - waited < IDLE_WAIT_S:
            await asyncio.sleep(0.2)  # students first
        c = Client(base, min(deadline, time.monotonic() + LINK_TIMEOUT_S), headers={HEADER: "1"})
        t = time.perf_counter()
        try:
            run = await c.open(page, query)
            if run.status != 0 or run.exceptions:
                raise RuntimeError(f"status {run.status}; {'; '.join(run.exceptions)[:200]}")
            dt = time.perf_counter() - t
            REPORT.opened.append((page, query, dt))
            _log.info("warmed /%s%s in %.2f s", page, f"?{query}" if query else "", dt)
            failures = 0
            if i < initial:  # the links a lesson page offers (depth 1: not the links of those links)
                for link in run.page_links():
                    if link[1] and link not in seen and (link[0] or "home") in pages:
                        seen.add(link)
                        queue.append(link)
        except Exception as e:  # noqa: BLE001
            failures += 1
            REPORT.failed.append((page, query, f"{type(e).__name__}: {e}"[:200]))
            _log.warning("could not warm /%s?%s: %s", page, query, REPORT.failed[-1][2])
            if failures >= FAILURES_TO_STOP:
                _log.warning("%d failures in a row: stopping", failures)
                break
        finally:
            try:
                await asyncio.wait_for(c.close(), 5)
            except Exception:  # noqa: BLE001
                pass
        i += 1
    REPORT.answers = await asyncio.to_thread(_answers, pages, deadline)


def _answers(pages: tuple[str, ...], deadline: float) -> int:
    """Each question's answer at its own settings (what its reveal shows; cached per process in the core)."""
    from nnviz import lessons as Ls

    _nice()
    n = 0
    for q in Ls.QUESTIONS.values():
        if q.page in pages and time.monotonic() < deadline:
            waited = time.monotonic()
            while students_running() and time.monotonic() - waited < IDLE_WAIT_S:
                time.sleep(0.2)  # students first (a deep page's answer trains networks for a second or more)
            try:
                q.answer()
                n += 1
            except ValueError:
                pass
    return n


def _kick(port: int) -> int:
    """`python -m nnviz.ui.warm PORT`: open one session on the freshly started server at 127.0.0.1:PORT, so its
    warm-up starts now rather than with the first student (a deploy script runs it after the health check)."""
    from .protocol import Client

    async def once() -> int:
        c = Client(f"http://127.0.0.1:{port}", time.monotonic() + 120, headers={HEADER: "1"})
        try:
            run = await c.open("", "")
            return 0 if run.status == 0 else 1
        finally:
            await c.close()
    return asyncio.run(once())


if __name__ == "__main__":
    sys.exit(_kick(int(sys.argv[1]) if len(sys.argv) > 1 else 8501))
