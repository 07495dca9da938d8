"""A browser tab as the server sees it: one websocket session on /_stcore/stream speaking Streamlit's protobuf.

Shared by the app's own warm-up (nnviz.ui.warm opens its links through it on 127.0.0.1) and the benchmarks
(benchmarks/classroom.py, benchmarks/bench_pages.py). It sends a `BackMsg.rerun_script` with the query
string, page name or page hash and widget states, and reads `ForwardMsg` deltas back until the script
finishes, keeping the final screen. No Streamlit runtime is needed to use it (only its protobuf classes).

A fragment with `st.fragment(run_every=...)` makes the server send `ForwardMsg.auto_rerun` (interval, fragment
id); the browser then starts a timer that sends a `rerun_script` with that `fragment_id` (and `is_auto_rerun`)
every interval, until a full app run starts (its `new_session` names no fragments) or `stop_auto_rerun` names
it. The client keeps those timers in `auto_reruns` as the browser does; `fragment()` (or `send(fragment_id=...)`)
plays one tick (benchmarks/classroom.py --follow ticks them on time, as a class's followers do).
"""
from __future__ import annotations

import asyncio
import http.cookies
import time
import urllib.request
from dataclasses import dataclass, field

import websockets  # a Streamlit dependency
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED_EARLY_FOR_RERUN = 2  # ForwardMsg.ScriptFinishedStatus: the run goes on (a cold server's first run)


@dataclass
class Run:
    """What one rerun (or first open) sent back, until its script finished."""
    seconds: float = 0.0
    bytes: int = 0
    frames: int = 0
    charts: int = 0  # plotly_chart elements received (chart redraws)
    status: int | None = None
    screen: dict = field(default_factory=dict)  # delta path -> (element type, element): the final screen
    exceptions: list = field(default_factory=list)

    def of(self, kind: str) -> list:
        """The elements of one type in the main area (delta path 0; 1 is the sidebar), in order."""
        return [el for path, (k, el) in sorted(self.screen.items()) if k == kind and path[0] == 0]

    def metrics(self) -> dict[str, str]:
        return {m.label: m.body for m in self.of("metric")}

    def view(self) -> tuple[str, int, dict[str, str]]:
        """What classroom.py --validate compares with Chromium: the title, the number of charts, the metrics."""
        return self.title(), len(self.of("plotly_chart")), self.metrics()

    def title(self) -> str:
        return next((h.body for h in self.of("heading") if h.tag == "h1"), "")

    def page_links(self) -> list[tuple[str, str]]:
        """The in-app links the page offers (st.page_link): (url path, query string), in order."""
        return [(el.page.strip("/"), el.query_string) for el in self.of("page_link") if not el.external]


class Client:
    """One browser tab, as the server sees it: a websocket session speaking Streamlit's protobuf.
    headers: extra HTTP headers on the page GET and the websocket handshake (st.context.headers sees them)."""

    def __init__(self, base: str, deadline: float, headers: dict[str, str] | None = None) -> None:
        self.base, self.deadline = base, deadline
        self.headers = dict(headers or {})
        self.ws = None
        self.cookie = ""
        self.query = ""  # the URL's query string as the browser keeps it (page_info_changed)
        self.page_hash = ""  # the page shown (navigation.page_script_hash)
        self.pages: dict[str, str] = {}  # url path -> page script hash
        self.widgets: dict[str, str] = {}  # widget key -> widget id (from the elements' `id`)
        self.states: dict[str, WidgetState] = {}  # widget id -> the value this tab has set
        # fragment id -> (interval s, time.monotonic() its timer started): the browser's run_every timers
        self.auto_reruns: dict[str, tuple[float, float]] = {}
        self.on_element = None  # called as on_element(delta path, element type, element) for each one received

    async def open(self, page: str, query: str) -> Run:
        """GET the deep link (nginx's affinity cookie, as a browser), connect, run the page."""
        t0 = time.perf_counter()
        url = f"{self.base}/{page}" + (f"?{query}" if query else "")
        await asyncio.to_thread(self._get, url)
        headers = dict(self.headers)
        if self.cookie:
            headers["Cookie"] = self.cookie
        self.ws = await asyncio.wait_for(
            websockets.connect(self.base.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                               max_size=None, additional_headers=headers or None, open_timeout=None),
            self._left())
        self.query = query
        run = await self.rerun(page_name=page)
        run.seconds = time.perf_counter() - t0
        return run

    def _get(self, url: str) -> None:
        req = urllib.request.Request(url, headers=self.headers)
        with urllib.request.urlopen(req, timeout=max(1.0, self._left())) as r:
            r.read()
            for value in r.headers.get_all("Set-Cookie") or []:
                c = http.cookies.SimpleCookie(value)
                if "nnviz_affinity" in c:
                    self.cookie = f"nnviz_affinity={c['nnviz_affinity'].value}"

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the client's deadline ran out")
        return left

    def set(self, key: str, value: tuple, wid: str | None = None) -> None:
        """Set a widget's value without a rerun (a form's widget: sent with its submit button)."""
        state = WidgetState(id=wid or self.widgets[key])
        kind, v = value
        if isinstance(v, list):
            getattr(state, kind).data.extend(v)
        else:
            setattr(state, kind, v)
        self.states[state.id] = state

    async def change(self, key: str, value: tuple) -> Run:
        """Move one control: the widget's new value, with every value this tab set before.
        value: ("double_array_value", [..]), ("bool_value", True), ("string_value", "..."), ..."""
        self.set(key, value)
        return await self.rerun()

    async def press(self, key: str, wid: str | None = None) -> Run:
        """A button: a trigger value sent once (the browser resets it after the run)."""
        return await self.rerun(triggers=[WidgetState(id=wid or self.widgets[key], trigger_value=True)])

    async def switch(self, page: str) -> Run:
        """The navigation's link to another page: its script hash, no query string."""
        self.query = ""
        return await self.rerun(page_hash=self.pages[page])

    async def rerun(self, page_name: str = "", page_hash: str | None = None, triggers=()) -> Run:
        """Request a script run and read until it finishes."""
        t0 = time.perf_counter()
        await self.send(page_name, page_hash, triggers)
        run = await self.finish()
        run.seconds = time.perf_counter() - t0
        return run

    async def send(self, page_name: str = "", page_hash: str | None = None, triggers=(), fragment_id: str = "",
                   auto: bool = False) -> None:
        """Request a script run (the query string, the page, every widget value this tab set, and `triggers`),
        without waiting for it, as a browser does on every widget change. fragment_id: run only that fragment
        (auto: as its run_every timer does, `is_auto_rerun`)."""
        msg = BackMsg()
        rs = msg.rerun_script
        rs.query_string = self.query
        if page_name:
            rs.page_name = page_name
        rs.page_script_hash = self.page_hash if page_hash is None else page_hash
        rs.widget_states.widgets.extend(list(self.states.values()) + list(triggers))
        if fragment_id:
            rs.fragment_id = fragment_id
            rs.is_auto_rerun = auto
        await self.ws.send(msg.SerializeToString())

    async def fragment(self, fragment_id: str | None = None, auto: bool = True) -> Run:
        """One tick of a fragment's run_every timer (default: the first timer the server started): request the
        fragment's run and read until it finishes (status FINISHED_FRAGMENT_RUN_SUCCESSFULLY), or until the full
        app run it asked for with st.rerun(scope="app") finishes (status 0)."""
        fid = fragment_id if fragment_id is not None else next(iter(self.auto_reruns))
        t0 = time.perf_counter()
        await self.send(fragment_id=fid, auto=auto)
        run = await self.finish()
        run.seconds = time.perf_counter() - t0
        return run

    async def finish(self, until=None) -> Run:
        """Read until a script run finishes (not one stopped early for a rerun), or until `until(run)` holds
        after an element arrives (run.status then stays None); nothing is sent."""
        run, t0 = Run(), time.perf_counter()
        while True:
            data = await asyncio.wait_for(self.ws.recv(), self._left())
            run.bytes += len(data)
            run.frames += 1
            fm = ForwardMsg()
            fm.ParseFromString(data)
            kind = fm.WhichOneof("type")
            if kind == "delta":
                self._delta(fm, run)
                if until is not None and until(run):
                    return run
            elif kind == "page_info_changed":
                self.query = fm.page_info_changed.query_string
            elif kind == "navigation":
                self.page_hash = fm.navigation.page_script_hash
                self.pages = {p.url_pathname: p.page_script_hash for p in fm.navigation.app_pages}
            elif kind == "new_session":
                self.page_hash = fm.new_session.page_script_hash or self.page_hash
                if not fm.metadata.run.fragment_ids:  # a full app run: the browser stops every run_every timer
                    self.auto_reruns.clear()
            elif kind == "auto_rerun":  # a run_every fragment: the browser starts its timer (once per interval)
                fid, interval = fm.auto_rerun.fragment_id, fm.auto_rerun.interval
                if fid and self.auto_reruns.get(fid, (None,))[0] != interval:
                    self.auto_reruns[fid] = (interval, time.monotonic())
            elif kind == "stop_auto_rerun":
                for fid in fm.stop_auto_rerun.fragment_ids:
                    self.auto_reruns.pop(fid, None)
            elif kind == "script_finished" and fm.script_finished != FINISHED_EARLY_FOR_RERUN:
                run.status, run.seconds = fm.script_finished, time.perf_counter() - t0
                return run

    def _delta(self, fm: ForwardMsg, run: Run) -> None:
        path = tuple(fm.metadata.delta_path)
        for p in [p for p in run.screen if p[:len(path)] == path]:
            del run.screen[p]  # a new element or block at a path replaces what was there
        if fm.delta.WhichOneof("type") != "new_element":
            return
        kind = fm.delta.new_element.WhichOneof("type")
        el = getattr(fm.delta.new_element, kind)
        run.screen[path] = (kind, el)
        wid = getattr(el, "id", "")
        if isinstance(wid, str) and wid.startswith("$$ID-") and wid.count("-") >= 2:
            self.widgets[wid.split("-", 2)[2]] = wid
        if kind == "plotly_chart":
            run.charts += 1
        elif kind == "exception":
            run.exceptions.append(f"{el.type}: {el.message}"[:200])
        if self.on_element is not None:
            self.on_element(path, kind, el)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
