"""The protocol client's fragment reruns (nnviz.ui.protocol, used by benchmarks/classroom.py --follow), against what
Streamlit's browser code does (frontend App.tsx, 1.67): on `ForwardMsg.auto_rerun` it starts a timer for the fragment
unless one with the same interval runs; `stop_auto_rerun` cancels the named ones; a `new_session` whose run names
no fragments (a full app run) cancels them all; each tick sends `rerun_script` with `fragment_id` and
`is_auto_rerun`. No server: a fake websocket plays the server's messages."""
from __future__ import annotations

import asyncio
import time

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from nnviz.ui.protocol import Client


class FakeSocket:
    def __init__(self, messages: list[ForwardMsg]) -> None:
        self.incoming = [m.SerializeToString() for m in messages]
        self.sent: list[BackMsg] = []

    async def recv(self) -> bytes:
        return self.incoming.pop(0)

    async def send(self, data: bytes) -> None:
        msg = BackMsg()
        msg.ParseFromString(data)
        self.sent.append(msg)


def new_session(*fragments: str) -> ForwardMsg:
    fm = ForwardMsg()
    fm.new_session.page_script_hash = "page-hash"
    fm.metadata.run.fragment_ids.extend(fragments)
    return fm


def auto_rerun(fid: str, interval: float) -> ForwardMsg:
    fm = ForwardMsg()
    fm.auto_rerun.fragment_id, fm.auto_rerun.interval = fid, interval
    return fm


def stop(*fids: str) -> ForwardMsg:
    fm = ForwardMsg()
    fm.stop_auto_rerun.fragment_ids.extend(fids)
    return fm


def markdown(path: tuple[int, ...], body: str) -> ForwardMsg:
    fm = ForwardMsg()
    fm.metadata.delta_path.extend(path)
    fm.delta.new_element.markdown.body = body
    return fm


def finished(status: int) -> ForwardMsg:
    fm = ForwardMsg()
    fm.script_finished = status
    return fm


def client(messages: list[ForwardMsg]) -> Client:
    c = Client("http://127.0.0.1:1", time.monotonic() + 30)
    c.ws = FakeSocket(messages)
    return c


def test_timers_follow_the_browser() -> None:
    c = client([new_session(), auto_rerun("a", 1.0), markdown((0, 0), "**1/6 · x**"), auto_rerun("b", 2.0),
                finished(ForwardMsg.FINISHED_SUCCESSFULLY),
                # a's tick: the same auto_rerun again keeps a's timer (and its phase)
                new_session("a"), auto_rerun("a", 1.0), finished(ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY),
                new_session("a"), auto_rerun("a", 0.5), stop("b"), finished(ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY),
                # st.rerun(scope="app") from the fragment: its run stops early, then a full run clears the timers
                new_session("a"), finished(ForwardMsg.FINISHED_EARLY_FOR_RERUN), new_session(),
                markdown((0, 0), "**2/6 · y**"), finished(ForwardMsg.FINISHED_SUCCESSFULLY)])
    seen = []
    c.on_element = lambda path, kind, el: seen.append((path, kind, el.body))

    run = asyncio.run(c.finish())
    assert run.status == ForwardMsg.FINISHED_SUCCESSFULLY
    assert {k: v[0] for k, v in c.auto_reruns.items()} == {"a": 1.0, "b": 2.0}
    started = c.auto_reruns["a"][1]

    run = asyncio.run(c.fragment("a"))
    assert run.status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
    assert c.auto_reruns["a"] == (1.0, started)  # the same interval: the browser keeps its timer

    asyncio.run(c.fragment())  # the first timer: a
    assert list(c.auto_reruns) == ["a"] and c.auto_reruns["a"][0] == 0.5  # a new interval restarts it; b stopped

    run = asyncio.run(c.fragment("a"))
    assert run.status == ForwardMsg.FINISHED_SUCCESSFULLY  # the full run the fragment asked for
    assert c.auto_reruns == {}
    assert seen == [((0, 0), "markdown", "**1/6 · x**"), ((0, 0), "markdown", "**2/6 · y**")]
    assert [m.rerun_script.fragment_id for m in c.ws.sent] == ["a", "a", "a"]


def test_fragment_rerun_message() -> None:
    c = client([])
    c.query, c.page_hash = "class=ABCDE&tour=2", "hash-1"
    c.set("x", ("double_array_value", [2.0]), wid="$$ID-1-x")
    asyncio.run(c.send(fragment_id="frag", auto=True))
    asyncio.run(c.send())
    tick, full = (m.rerun_script for m in c.ws.sent)
    assert (tick.fragment_id, tick.is_auto_rerun, tick.query_string, tick.page_script_hash) == \
        ("frag", True, "class=ABCDE&tour=2", "hash-1")
    assert [w.id for w in tick.widget_states.widgets] == ["$$ID-1-x"]  # every value the tab set, as the browser
    assert (full.fragment_id, full.is_auto_rerun) == ("", False)
