"""One session's reruns, paced: a session whose rerun requests come faster than its page can finish (an
arrow key held on a slider sends about 20 a second) costs a few cheap runs a second, so every other
student on the process keeps the cores and the GIL (issue 18).

With `runner.fastReruns = false` (.streamlit/config.toml) a request that arrives while the session's
script runs cuts that run short at its next Streamlit call (a RerunException) and starts the script again
at once, in the same thread: a held key so keeps one script running all the time, each run doing part of
the page's work before the next request cuts it. paced() makes a run that follows a run cut short by a
request (within BACK_TO_BACK_S of its end) first sleep WAIT_S: the requests that arrive meanwhile merge
into the one pending rerun, which then cuts the new run at its first Streamlit call, before any of the
page's work, until the key is let go; the last run then completes. So a held key costs about
1 / WAIT_S short runs a second. A run after a completed run (a student's ordinary clicks, one at a time)
never waits; after a click on Stop during a training the page redraws WAIT_S later (the training itself
stops at once). `NNVIZ_PACE=0` turns it off.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Iterator

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException

KEY = "_nnviz_pace"  # session state: (monotonic end of the previous run, its length in s, whether it was cut short)
BACK_TO_BACK_S = 0.05  # a run that starts this soon after the previous one ended was requested during it
WAIT_S = 0.25  # before a run that follows a run cut short: a held key costs at most about 4 runs a second


def wait_before(previous: tuple[float, float, bool] | None, now: float) -> float:
    """Seconds a run starting at `now` waits, after a previous run (end, length, cut short) of the same session."""
    if previous is None or os.environ.get("NNVIZ_PACE", "1") == "0":
        return 0.0
    end, _length, cut = previous
    return WAIT_S if cut and now - end <= BACK_TO_BACK_S else 0.0


@contextmanager
def paced() -> Iterator[None]:
    """The body of one script run, after the wait its session owes (wait_before), timed for the next."""
    state = st.session_state
    wait = wait_before(state.get(KEY), time.monotonic())
    if wait > 0:
        time.sleep(wait)  # releases the GIL: the process serves the other sessions meanwhile
    start, cut = time.monotonic(), False
    try:
        yield
    except RerunException as e:  # cut short by the next request from the browser (it carries the widgets' states;
        cut = e.rerun_data.widget_states is not None  # the page's own st.rerun() does not, and costs no wait)
        raise
    finally:  # also after st.stop() (a question's gate) or an error
        end = time.monotonic()
        state[KEY] = (end, end - start, cut)
