"""A diagnostic hook for counting work (tests/test_rerun_burst.py, benchmarks/classroom.py --flood): with
NNVIZ_RUN_LOG=PATH set, `log_run(event)` appends "EVENT SESSION THREAD" to PATH; unset, it does nothing."""
from __future__ import annotations

import os
import threading

from streamlit.runtime.scriptrunner import get_script_run_ctx


def log_run(event: str) -> None:
    """One line per event (a script run's "start" and "end", a "timing" computed...), in one write, so lines
    from concurrent runs do not mix."""
    path = os.environ.get("NNVIZ_RUN_LOG")
    if path:
        ctx = get_script_run_ctx()
        with open(path, "a") as f:
            f.write(f"{event} {ctx.session_id if ctx else '-'} {threading.get_ident()}\n")
