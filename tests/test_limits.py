"""No widget value from one session can take a process's memory or time (issue 22).

Against one real server (tests/browser.py's Server, configured by .streamlit/config.toml), driven over the
websocket by nnviz.ui.protocol.Client, which sends what no browser would: a 21 MB text box value, a text longer
than the box's max_chars, a multiselect with 5,000 repeats, unknown entries or too many. Work is counted, not
timed: app.py appends a line per script run to NNVIZ_RUN_LOG, and the server's memory is read from
/proc/<pid>/status.
"""
from __future__ import annotations

import asyncio
import json
import time
import tomllib
from pathlib import Path

import pytest
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from browser import ROOT, Server
from nnviz import activations as A
from nnviz import classification as C
from nnviz import lessons as Ls
from nnviz import losses as L
from nnviz.controls import BadValue, NumberListSpec
from nnviz.ui.protocol import Client, Run

DEADLINE_S = 120  # each test's protocol sessions give up after this long (a bound, not an assert)
CAP = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxWidgetStateSize"] * 10**6
CLASSIFIER = "part=Train+a+classifier"  # the logits page's tab with the hidden-layer box
HUGE = 21_000_000  # the probe: a 21 MB text box value
RSS_MB = 700  # the bar for the process after three of them (it was 1.5 GB)


def starts(log: Path) -> int:
    """Script runs started so far, by every session."""
    return sum(line.startswith("start ") for line in log.read_text().splitlines()) if log.exists() else 0


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (the peak) of a process, in MB (psutil is not a dependency)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) / 1024
    return out


def alerts(run: Run) -> list[str]:
    return [el.body for _, (k, el) in sorted(run.screen.items()) if k == "alert"]


def element(run: Run, kind: str, key: str):
    return next(el for _, (k, el) in run.screen.items() if k == kind and getattr(el, "id", "").endswith("-" + key))


async def opened(url: str, page: str, query: str = "") -> tuple[Client, Run]:
    c = Client(url, time.monotonic() + DEADLINE_S)
    run = await c.open(page, query)
    assert run.status == 0 and not run.exceptions, run.exceptions
    return c, run


# --- the cap on one inbound message -----------------------------------------------------------------

def test_a_21_mb_text_box_value_closes_only_its_own_connection(served):
    """Three sessions each send the hidden-layer box a 21 MB value: each connection is closed as "message too
    big" (1009) before any script runs with it; the process stays under RSS_MB; a student beside them works."""
    server, log = served

    async def probe():
        student, _ = await opened(server.url, "logits", CLASSIFIER)
        closed = []
        for _ in range(3):
            c, _ = await opened(server.url, "logits", CLASSIFIER)
            before = starts(log)
            c.set("hidden", ("string_value", "9" * HUGE))
            await c.send()
            with pytest.raises(websockets.exceptions.ConnectionClosed) as e:
                await c.finish()
            closed.append((e.value.rcvd.code if e.value.rcvd else None, starts(log) - before))
        mem = memory_mb(server.proc.pid)
        run = await student.change("hidden", ("string_value", "8, 4"))  # the student beside them
        await student.close()
        return closed, mem, run

    closed, mem, run = asyncio.run(probe())
    assert closed == [(1009, 0)] * 3, closed  # closed, and no script run started for it
    assert mem["VmRSS"] < RSS_MB and mem["VmHWM"] < RSS_MB, mem
    assert run.status == 0 and not run.exceptions and not alerts(run), (run.exceptions, alerts(run))
    assert any("hidden=8%2C+4" in el.code_text for el in run.of("code")), "the student's value was not taken"


def test_every_control_at_its_longest_fits_far_under_the_cap(served):
    """The biggest message a browser sends: a rerun with every widget of a page at its longest legal value and a
    URL holding every key. The cap (config.toml) must leave it a wide margin (measured: about 3.4 kB)."""
    server, _ = served

    async def biggest():
        sizes = {}
        for page, query in (("deep", ""), ("logits", CLASSIFIER), ("losses", ""), ("activations", "q=act-sigmoid-max-slope")):
            c, run = await opened(server.url, page, query)
            msg = BackMsg()
            msg.rerun_script.page_script_hash = c.page_hash
            states = [longest(kind, el) for _, (kind, el) in run.screen.items()
                      if str(getattr(el, "id", "")).startswith("$$ID-")]
            msg.rerun_script.widget_states.widgets.extend(states)
            msg.rerun_script.query_string = "&".join(f"{s.id.split('-', 2)[2]}={'9' * 40}" for s in states)
            sizes[page] = (msg.ByteSize(), len(states))
            await c.close()
        return sizes

    sizes = asyncio.run(biggest())
    assert all(n >= 10 for _, n in sizes.values()), sizes  # the pages' widgets were all found
    assert max(b for b, _ in sizes.values()) * 100 < CAP <= 10**6, (sizes, CAP)


def longest(kind: str, el) -> WidgetState:
    """A widget's state at the longest value its browser widget can hold."""
    s = WidgetState(id=el.id)
    if kind in ("text_input", "text_area"):
        assert el.max_chars > 0, f"{el.id} has no max_chars"
        s.string_value = "9" * el.max_chars
    elif kind == "multiselect":
        s.string_array_value.data.extend(list(el.options))
    elif kind == "slider":
        s.double_array_value.data.extend([-1.2345678901234567e-05] * max(1, len(el.default)))
    elif kind in ("selectbox", "radio"):
        s.string_value = max(el.options, key=len, default="")
    elif kind in ("checkbox",):
        s.bool_value = True
    elif kind in ("button", "download_button"):
        s.trigger_value = True
    else:  # a number box, a chart's selection, a file uploader's file ids
        s.string_value = "9" * 200
    return s


# --- text boxes: max_chars, and a spec that refuses a long text before splitting it ---------------------

def test_a_text_longer_than_max_chars_gets_a_notice_and_the_default(served):
    server, _ = served
    over = "1, " * 1700  # 5 kB: under the message cap, far over the box's max_chars

    async def typed():
        c, run = await opened(server.url, "logits", CLASSIFIER)
        box = element(run, "text_input", "hidden")
        run = await c.change("hidden", ("string_value", over))  # over the websocket
        await c.close()
        linked, link_run = await opened(server.url, "logits", "hidden=" + over.replace(", ", "%2C"))  # in a link
        await linked.close()
        return box, run, link_run

    box, run, link_run = asyncio.run(typed())
    assert box.max_chars == C.HIDDEN.max_chars  # a browser cannot type more
    for r in (run, link_run):
        assert r.status == 0 and not r.exceptions, r.exceptions
        said = [a for a in alerts(r) if "could not be used" in a]
        assert len(said) == 1 and said[0].endswith(("using 8.", "using the default, 8.")), said
        assert len(said[0]) < 400, said  # the text is echoed shortened
    # Streamlit cuts a sent value to max_chars; a link's value reaches the spec whole and is refused for its length
    assert "at most 21 characters" in [a for a in alerts(link_run) if "could not be used" in a][0]


def test_number_lists_take_their_longest_legal_text_and_refuse_one_character_more():
    """max_chars against an independent reference: max_len numbers written in their longest form (repr of a
    float, with a sign; the widest whole number), as url() writes them, always parse; a longer text is refused
    before it is split."""
    from nnviz.lessons import PAGE_SPECS

    specs = {id(s): s for page in PAGE_SPECS.values() for s in page.values() if isinstance(s, NumberListSpec)}
    assert len(specs) >= 2, specs
    for spec in specs.values():
        if spec.integer:
            widest = max(int(spec.min), int(spec.max), key=lambda v: len(str(v)))
        else:  # 23 characters: -1.2345678901234567e-05, the widest repr a float in range can have
            widest = next(v for v in (-1.2345678901234567e-05, 1.2345678901234567e-05) if spec.min <= v <= spec.max)
        values = (widest,) * spec.max_len
        text = spec.url(values)[0]
        assert spec.parse([text]) == values and len(text) <= spec.max_chars, (spec.label, text)
        assert spec.parse([" " + text + " "]) == values  # room for a space or two more
        with pytest.raises(BadValue, match=f"at most {spec.max_chars} characters"):
            spec.parse(["1" + " " * spec.max_chars])  # blanks that splitting would drop: refused by length
        with pytest.raises(BadValue, match=f"at most {spec.max_chars} characters"):
            spec.parse(["1"] * spec.max_chars)  # repeated values count with their separators


def test_the_guess_box_holds_40_characters(served):
    """The question's guess box: max_chars for a browser; a 5 kB guess sent over the websocket is read from
    its first 40 characters (Streamlit cuts it), and the guess parser refuses a longer text itself."""
    server, _ = served
    q = "act-sigmoid-max-slope"

    async def guessed():
        c, run = await opened(server.url, "activations", f"q={q}")
        box = element(run, "text_input", f"guess_{q}")
        submit = next(el.id for _, (k, el) in run.screen.items() if k == "button" and el.is_form_submitter)
        c.set("guess", ("string_value", "1" * 5000), wid=box.id)
        run = await c.rerun(triggers=[WidgetState(id=submit, trigger_value=True)])
        await c.close()
        return box, run

    box, run = asyncio.run(guessed())
    assert box.max_chars == Ls.GUESS_CHARS == 40
    assert run.status == 0 and not run.exceptions, run.exceptions
    verdict = [a for a in alerts(run) if a.startswith("Your guess")]
    assert verdict and verdict[0].startswith(f"Your guess, {float('1' * 40):g},"), alerts(run)  # 40 ones, not 5000
    with pytest.raises(ValueError, match="at most 40 characters"):
        Ls.QUESTIONS[q].read_guess("1" * 41)
    assert Ls.QUESTIONS[q].read_guess("0." + "2" * 38) == pytest.approx(0.2222222)


# --- multiselects: a selection a browser cannot send is refused before any work ------------------------

def fitted(run: Run) -> list[str]:
    """The losses whose line the losses page's fit figure draws ("L1 (MAE) fit: y = ..."), in order."""
    fig = json.loads(next(el.spec for el in run.of("plotly_chart") if el.id.endswith("-fit_chart")))
    return [t["name"].split(" fit: ")[0] for t in fig["data"] if " fit: " in t.get("name", "")]


def test_5000_repeats_of_one_loss_run_once_with_that_loss(served):
    server, log = served

    async def repeated():
        c, first = await opened(server.url, "losses")
        before = starts(log)
        run = await c.change("loss", ("string_array_value", ["l1"] * 5000))
        runs = starts(log) - before
        await c.close()
        return first, run, runs

    first, run, runs = asyncio.run(repeated())
    assert run.status == 0 and not run.exceptions, run.exceptions
    assert runs == 1, runs  # one script run, no rerun loop
    said = [a for a in alerts(run) if "Losses to fit" in a]
    assert len(said) == 1 and "5000 entries" in said[0] and "a choice is repeated" in said[0], alerts(run)
    assert fitted(first) == [L.LOSSES["l1"].label, L.LOSSES["mse"].label]  # the default
    assert fitted(run) == [L.LOSSES["l1"].label]  # the usable value: L1 alone, fitted once


@pytest.mark.parametrize("page, key, spec, sent, used, why", [
    ("losses", "loss", L.LOSS, ["mse", "<b>x</b>", "l1"], ["mse", "l1"], "1 value is not among the choices"),
    ("losses", "loss", L.LOSS, ["nope"], list(L.LOSS.default), "1 value is not among the choices"),
    ("activations", "fn", A.FN, list(A.FN.choices[:A.FN.max_selections + 1]), list(A.FN.choices[:A.FN.max_selections]),
     f"at most {A.FN.max_selections} at once"),
])
def test_unknown_or_too_many_entries_keep_what_is_usable(served, page, key, spec, sent, used, why):
    server, _ = served

    async def sent_over():
        c, _ = await opened(server.url, page)
        run = await c.change(key, ("string_array_value", sent))
        box = element(run, "multiselect", key)
        await c.close()
        return run, box

    run, box = asyncio.run(sent_over())
    assert run.status == 0 and not run.exceptions, run.exceptions  # Streamlit raises for too many, unguarded
    said = [a for a in alerts(run) if spec.label in a]
    assert len(said) == 1 and why in said[0] and "<b>" not in said[0], alerts(run)
    assert list(box.raw_values) == used, (box.raw_values, used)  # the widget now holds the usable value


# --- the caches' byte budget ---------------------------------------------------------------------------

def cached_bytes(url: str) -> list[int]:
    """The pickled bytes each st.cache_data of a server holds (one number per cached function), from its
    /_stcore/metrics."""
    import urllib.request

    with urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=10) as r:
        text = r.read().decode()
    return [int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
            if line.startswith("cache_memory_bytes{") and 'cache_type="st_cache_data"' in line]


def test_the_caches_stay_within_one_byte_budget():
    """server.maxCacheDataSize (.streamlit/config.toml: 160 MB, filled by benchmarks/soak.py) is one budget over
    every st.cache_data of the process. Here a 3 MiB one, and eight losses links with different data: each
    caches about 1 MB (its fits, its figures), so without the budget they would hold several times 3 MiB."""
    budget = 3 * 2 ** 20
    assert tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxCacheDataSize"] == "160mb"
    server = Server({"NNVIZ_WARM": "0"}, flags=("--server.maxCacheDataSize=3mb",))
    try:
        async def opens():
            for seed in range(8):
                c, _ = await opened(server.url, "losses", f"data_seed={seed}&outliers=4")
                await c.close()
                if seed == 0:  # Streamlit computes its metrics at most once every 5 s: this is the first link's
                    first = cached_bytes(server.url)
            return first

        first = asyncio.run(opens())
        deadline = time.monotonic() + 15
        after = cached_bytes(server.url)
        while after == first and time.monotonic() < deadline:  # the metrics computed again, after all 8 links
            time.sleep(0.5)
            after = cached_bytes(server.url)
        one_link, total = sum(first), sum(after)
        assert one_link > 0.5 * 2 ** 20, first  # a link caches about 1 MB
        assert total <= budget + 2 ** 20, (total, after)  # one entry (< 1 MiB) may go over it: Streamlit keeps it
        assert total < 0.6 * 8 * one_link, (total, one_link)  # so the older links' entries were evicted
    finally:
        server.stop()
