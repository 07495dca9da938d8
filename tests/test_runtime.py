"""nnviz.runtime: torch's thread count for a server process, checked in fresh subprocesses (thread
settings are process-wide and set once)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, torch
from nnviz.runtime import setup_torch_threads
first = setup_torch_threads()
second = setup_torch_threads()  # a rerun: must not raise (set_num_interop_threads would)
print(json.dumps({"first": first, "second": second, "intra": torch.get_num_threads(),
                  "inter": torch.get_num_interop_threads()}))
"""


def _probe(value: str | None) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NNVIZ_TORCH_THREADS", "OMP_NUM_THREADS")}
    if value is not None:
        env["NNVIZ_TORCH_THREADS"] = value
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def test_default_is_one_thread_and_a_second_call_is_harmless():
    got, _ = _probe(None)
    assert got == {"first": 1, "second": 1, "intra": 1, "inter": 1}


def test_the_environment_variable_is_respected():
    n = min(2, os.cpu_count() or 1)
    got, _ = _probe(str(n))
    assert got["intra"] == got["inter"] == got["first"] == n


@pytest.mark.parametrize("bad", ["abc", "0", "-3", "1.5", "999999"])
def test_a_bad_value_falls_back_with_a_warning(bad):
    got, err = _probe(bad)
    expected = (os.cpu_count() or 1) if bad == "999999" else 1
    assert got["intra"] == expected
    assert "NNVIZ_TORCH_THREADS" in err  # the server log says why


def test_threads_from_env_without_torch_state():
    from nnviz.runtime import threads_from_env
    assert threads_from_env({}) == (1, None)
    assert threads_from_env({"NNVIZ_TORCH_THREADS": " 1 "}) == (1, None)
    n, warning = threads_from_env({"NNVIZ_TORCH_THREADS": "x" * 500})
    assert n == 1 and len(warning) < 200


def test_malloc_arenas_are_capped_on_glibc_and_a_bad_value_leaves_them():
    """nnviz.runtime.limit_malloc_arenas: mallopt(M_ARENA_MAX) accepts the cap on glibc (this Debian machine);
    0 turns it off, and a value that is not a whole number is ignored (never raises)."""
    import platform

    from nnviz.runtime import limit_malloc_arenas

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert limit_malloc_arenas({}) == 2
    assert limit_malloc_arenas({"NNVIZ_MALLOC_ARENAS": "4"}) == 4
    assert limit_malloc_arenas({"NNVIZ_MALLOC_ARENAS": "0"}) is None
    assert limit_malloc_arenas({"NNVIZ_MALLOC_ARENAS": "lots"}) is None
    limit_malloc_arenas({})  # back to the app's cap for the rest of this process
