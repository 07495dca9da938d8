"""Classroom benchmark (not a test, not run in CI): N simulated students on a freshly started server.

Each student is a real websocket session speaking Streamlit's own protobuf messages (BackMsg out,
ForwardMsg in, as the browser does on ws://HOST/_stcore/stream), so one small Python process can
play a whole class. Scenario per student, the way a lesson goes:
  1. open a deep link the teacher shared (spread over the four pages; some on the vanishing page's
     heaviest settings), arriving at a random moment within --spread seconds;
  2. move one control (a rerun with one changed widget value);
  3. open the regression page (the in-app navigation: a rerun with its page hash);
  4. wait for the teacher (a barrier: every student ready), then all press Train together.
Printed: per-action p50/p95/max; the time until every Train is done against the ideal
N x solo / cores (solo: one student training alone on the same server, measured in the same run);
bytes and chart redraws per Train received over the websocket (protobuf payloads, before the
websocket's own compression); the server processes' peak RSS and the CPU they used; errors (a
timeout, a dropped connection, an exception element, a run that did not finish); whether every
student's final weight / bias is exactly 0.6968 / 0.3025; the load average (other work on the box).
--validate then opens the same deep links in Chromium (Playwright) and checks that the browser
shows the same title and metric values as the protocol client, and the same Train result.

Only 127.0.0.1 is contacted; the run is bounded by --students and --timeout and stops its servers.
    python benchmarks/classroom.py [--students 30] [--processes 1|2] [--timeout 900] [--spread 10]
                                   [--think 1] [--seed 0] [--validate] [--train-query QUERY]
--train-query (e.g. "epochs=5000&n=500&opt=adam&loss_fn=huber", the largest Train) has every student open
/regression?QUERY before the Trains (and the solo Train uses it): a class pressing Train at those settings, while a
bystander opens a page once a second; their open times before and during the Trains are printed side by side.
--processes 1 starts `streamlit run app.py` (tests/browser.py's Server); --processes 2 starts
scripts/serve.sh 2 (two app processes behind Debian's nginx, sticky by a cookie, see deploy/README.md):
every student first GETs the page to receive nginx's affinity cookie, as a browser does.

--follow [30,60] plays class mode (issue 20) instead, on 2 processes unless --processes 1: the teacher's clicks are
written to the class store as the teacher's page publishes them; each student joins with /?class=CODE and keeps its
tab open, ticking the page's st.fragment(run_every=1) as the browser's timer does (nnviz.ui.protocol's auto_reruns);
then a teacher tab shows the question's live count, the students commit guesses, and the teacher reveals. Printed:
step change -> every follower's page shows the step, guess -> the projector's count, idle follower CPU, peak RSS.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from browser import CHROMIUM_ARGS, Server, chromium_path, free_port  # noqa: E402
from nnviz.ui.protocol import Client, Run  # noqa: E402,F401  (the protocol client the app's warm-up uses too)

EXPECTED = ("0.6968", "0.3025")  # the default regression Train's weight / bias (L1, SGD, 1000 epochs)
HEAVY = "act=mish&act=gelu&act=selu&act=sigmoid&width=128&norm=batchnorm&residual=true&dtype=float64"


@dataclass(frozen=True)
class Link:
    """A deep link a student opens, and the one control they move there (widget key, new value)."""
    page: str
    query: str
    key: str
    value: tuple  # ("double_array_value", [..]) or ("bool_value", True)


# One entry per student in turn: every page, the vanishing page twice (its default and its heaviest
# settings). A regression student moves the presentation-mode switch (the frame's), which leaves the
# Train's settings at their defaults.
LINKS = (
    Link("activations", "fn=relu&fn=gelu&fn=sigmoid&x=0.5", "x", ("double_array_value", [2.0])),
    Link("losses", "loss=l1&loss=huber&outliers=5", "noise", ("double_array_value", [0.3])),
    Link("vanishing", "depth=40&init=default", "depth", ("double_array_value", [20.0])),
    Link("vanishing", HEAVY, "depth", ("double_array_value", [20.0])),
    Link("regression", "epochs=1000&lr=0.01", "present", ("bool_value", True)),
)


@dataclass
class Student:
    link: Link
    times: dict[str, float] = field(default_factory=dict)  # action -> seconds
    train: Run | None = None
    train_done: float | None = None  # perf_counter when the Train's run finished
    errors: list[str] = field(default_factory=list)

    def result(self) -> tuple[str, str] | None:
        if self.train is None:
            return None
        m = self.train.metrics()
        return m.get("weight"), m.get("bias")


def check(run: Run, what: str, errors: list[str]) -> None:
    if run.status != 0:
        errors.append(f"{what}: script finished with status {run.status}")
    errors.extend(f"{what}: {e}" for e in run.exceptions)


async def student(s: Student, base: str, deadline: float, rng: random.Random, spread: float, think: float,
                  ready, go: asyncio.Event, train_query: str = "") -> None:
    c = Client(base, deadline)
    is_ready = False
    try:
        await asyncio.sleep(rng.uniform(0, spread))
        run = await c.open(s.link.page, s.link.query)
        s.times["open"] = run.seconds
        check(run, "open", s.errors)
        await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
        run = await c.change(s.link.key, s.link.value)
        s.times["control"] = run.seconds
        check(run, "control", s.errors)
        if s.link.page != "regression":
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
            run = await c.switch("regression")
            s.times["switch"] = run.seconds
            check(run, "switch", s.errors)
        if train_query:  # the Train's settings: a new tab on the regression page's link
            await asyncio.wait_for(c.close(), 5)
            c = Client(base, deadline)
            run = await c.open("regression", train_query)
            check(run, "train link", s.errors)
        ready(True)
        is_ready = True
        await go.wait()
        run = await c.press("train")
        s.train_done = time.perf_counter()
        s.times["train"] = run.seconds
        s.train = run
        check(run, "train", s.errors)
    except Exception as e:  # noqa: BLE001  (a timeout, a dropped connection, a missing widget: an error)
        s.errors.append(f"{type(e).__name__}: {e}"[:200])
    finally:
        if not is_ready:
            ready(False)
        try:
            await asyncio.wait_for(c.close(), 5)
        except Exception:  # noqa: BLE001
            pass


async def solo_train(base: str, deadline: float, reps: int, query: str = "") -> tuple[list[float], Run]:
    """One student alone on /regression?query: a warm-up Train, then `reps` timed ones."""
    c = Client(base, deadline)
    try:
        await c.open("regression", query)
        runs = [await c.press("train") for _ in range(reps + 1)]
    finally:
        await c.close()
    return [r.seconds for r in runs[1:]], runs[-1]


class Monitor(threading.Thread):
    """Samples the server processes' RSS (VmRSS) and the load average until stopped."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.peak = pids, {p: 0 for p in pids}
        self.load: list[float] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.2):
            for p in self.pids:
                self.peak[p] = max(self.peak[p], rss_mb(p))
            self.load.append(os.getloadavg()[0])


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


class Nginx:
    """scripts/serve.sh N: N app processes behind nginx on loopback ports; stop() ends them all."""

    def __init__(self, n: int, env: dict[str, str] | None = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="nnviz-classroom.")
        port, app_port = free_port(), free_port()
        while any(free_port_taken(app_port + i) for i in range(n)):
            app_port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(Path(self.dir) / "serve.log", "w")
        self.proc = subprocess.Popen(
            ["bash", "scripts/serve.sh", str(n), "--port", str(port), "--app-port", str(app_port),
             "--run-dir", self.dir], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {}), "PYTHON": sys.executable}, start_new_session=True)
        deadline = time.time() + 180
        while "nnviz: open" not in (Path(self.dir) / "serve.log").read_text():
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("scripts/serve.sh did not start: " + (Path(self.dir) / "serve.log").read_text()[-2000:])
            time.sleep(0.3)
        self.pids = [int((Path(self.dir) / f"app-{app_port + i}.pid").read_text()) for i in range(n)]
        self.backends = [f"http://127.0.0.1:{app_port + i}" for i in range(n)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # serve.sh stops nginx and its app processes
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this benchmark started
        self.log.close()

    def spread(self) -> dict[str, int]:
        """Websockets per app process, from nginx's access log (a websocket's line comes when it closes)."""
        count: dict[str, int] = {}
        log = Path(self.dir) / "access.log"
        for line in log.read_text().splitlines() if log.exists() else []:
            if "/_stcore/stream" in line and " 101 " in line:
                up = line.split("upstream=", 1)[1].split()[0]
                count[up] = count.get(up, 0) + 1
        return count


@contextmanager
def environ(env: dict[str, str]) -> Iterator[None]:
    """os.environ with `env` on top while the block runs (the servers started in it inherit it), then as it was."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def free_port_taken(port: int) -> bool:
    import socket
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return False
        except OSError:
            return True


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


async def classroom(args, base: str, deadline: float, on_go=None) -> tuple[list[Student], asyncio.Event]:
    """The class; on_go() is called once every student is ready, before the Trains (the end of the page phase)."""
    rng = random.Random(args.seed)
    students = [Student(LINKS[i % len(LINKS)]) for i in range(args.students)]
    rng.shuffle(students)
    go = asyncio.Event()
    waiting = [len(students)]

    def ready(ok: bool) -> None:  # the teacher says "Train!" once every student is ready (or gone)
        waiting[0] -= 1
        if waiting[0] == 0:
            if on_go is not None:
                on_go()
            asyncio.get_running_loop().call_later(0.5, go.set)

    everyone = asyncio.gather(*[student(s, base, deadline, random.Random(rng.random()), args.spread, args.think,
                                        ready, go, args.train_query) for s in students])
    if args.train_query:  # a bystander opens a page once a second, from before the Trains until they are done
        await asyncio.gather(everyone, bystander(base, deadline, go, everyone, args.bystander))
    else:
        await everyone
    return students, go


async def bystander(base: str, deadline: float, go: asyncio.Event, trains, out: dict[str, list[float]]) -> None:
    """Another student's page opens (VICTIM's link, one a second): while the class opens its pages (before the
    teacher's go), then until every Train is done."""
    phase = "before"
    while not trains.done() and time.monotonic() < deadline:
        if go.is_set():
            phase = "during"
        try:
            out.setdefault(phase, []).append(await victim_open(base, deadline))
        except Exception as e:  # noqa: BLE001
            out.setdefault("errors", []).append(f"{type(e).__name__}: {e}"[:200])
        await asyncio.sleep(1.0)


def validate(base: str, deadline: float) -> bool:
    """The same deep links in Chromium and in the protocol client: same title, same metric values,
    and the same Train result on the regression page."""
    from playwright.sync_api import sync_playwright
    exe = chromium_path()
    if exe is None:
        print("validate: no Chromium found (apt-get install chromium); skipped")
        return False

    async def proto(link: Link) -> tuple[Run, Run | None]:
        c = Client(base, deadline)
        try:
            run = await c.open(link.page, link.query)
            return run, (await c.press("train") if link.page == "regression" else None)
        finally:
            await c.close()
    protocol = [asyncio.run(proto(link)) for link in LINKS]  # before Playwright's own event loop starts

    ok = True
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            for link, (run, train) in zip(LINKS, protocol):
                page = browser.new_page(viewport={"width": 1400, "height": 1100})
                path = f"/{link.page}?{link.query}"
                page.goto(base + path)
                idle(page)
                mine = run.view()
                charts = page.locator("[data-testid='stMain'] [data-testid='stPlotlyChart']")
                for _ in range(60):  # plotly mounts lazily, after the run has finished
                    if charts.count() >= mine[1]:
                        break
                    page.wait_for_timeout(500)
                seen = browser_screen(page)
                same = mine == seen
                ok &= same
                print(f"validate {path[:60]:60s} title, {mine[1]} charts, {len(mine[2])} metrics: "
                      f"{'same' if same else 'DIFFERENT'}"
                      + ("" if same else f"\n  protocol {mine}\n  chromium {seen}"))
                if train is not None:
                    page.locator("[data-testid='stMain'] [data-testid='stButton'] button", has_text="Train").first.click()
                    page.wait_for_selector("[data-testid='stAlert']:has-text('Trained 1000 epochs')", timeout=300_000)
                    idle(page)
                    b, p = browser_screen(page)[2], train.metrics()
                    same = (b.get("weight"), b.get("bias")) == (p.get("weight"), p.get("bias")) == EXPECTED
                    ok &= same
                    print(f"validate Train: chromium {b.get('weight')} / {b.get('bias')}, protocol "
                          f"{p.get('weight')} / {p.get('bias')}, expected {EXPECTED[0]} / {EXPECTED[1]}: "
                          f"{'same' if same else 'DIFFERENT'}")
                page.close()
        finally:
            browser.close()
    return ok


def idle(page) -> None:
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=300_000)
    for _ in range(2):
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=300_000)
        page.wait_for_timeout(500)


def browser_screen(page) -> tuple[str, int, dict[str, str]]:
    title = page.locator("[data-testid='stMain'] h1").first.inner_text().strip()
    charts = page.locator("[data-testid='stMain'] [data-testid='stPlotlyChart']").count()
    metrics = {}
    for m in page.locator("[data-testid='stMain'] [data-testid='stMetric']").all():
        label = m.locator("[data-testid='stMetricLabel']").inner_text().strip()
        metrics[label] = m.locator("[data-testid='stMetricValue']").inner_text().strip()
    return title, charts, metrics


# --- --flood: one student holds an arrow key on a slider; another opens a page on the same process ---------------

from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

FLOOD_HZ = 20.0  # control changes a second: a held arrow key on a slider
VICTIM = ("activations", "")  # the other student's page open: a light page, timed alone and during the flood
ALL_LOSSES = "loss=l1&loss=mse&loss=huber&loss=smooth_l1"


def triangle(lo: float, hi: float, step: float, start: float, n: int) -> list[float]:
    """n values a held arrow key gives from `start`: one step at a time up to hi, back down to lo, and so on."""
    out, v, d = [], start, step
    for _ in range(n):
        if not lo - 1e-9 <= v + d <= hi + 1e-9:
            d = -d
        v = round(v + d, 6)
        out.append(v)
    return out


@dataclass(frozen=True)
class Flood:
    """What the flooding student does: open `page?query`, then change `key` along a held arrow key's values
    (lo, hi, step, start) FLOOD_HZ times a second, or (key "") press the button `press` that often."""
    name: str
    page: str
    query: str
    key: str = ""
    walk: tuple = ()  # (lo, hi, step, start)
    press: str = ""


FLOODS = (
    Flood("vanishing (default)", "vanishing", "", "depth", (1, 50, 1, 30)),
    Flood("vanishing (heaviest)", "vanishing", HEAVY, "depth", (1, 50, 1, 30)),
    Flood("losses (all four)", "losses", ALL_LOSSES, "noise", (0.0, 3.0, 0.1, 0.2)),
    Flood("regression Devices button", "regression", "view=Devices", press="compare"),
)


class FloodClient(Client):
    """A tab that sends rerun requests without waiting for their runs (Client.send, as a browser does on every
    widget change) and reads the runs that finish separately (Client.finish); and clicks buttons."""

    def click(self, key: str) -> WidgetState:
        return WidgetState(id=self.widgets[key], trigger_value=True)


def run_log_counts(path: Path) -> dict[str, dict[str, int]]:
    """app.py's NNVIZ_RUN_LOG: {event: {session: count}} ("start", "end"; "timing": the session that computed it)."""
    out: dict[str, dict[str, int]] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        parts = line.split()
        if len(parts) == 3:
            out.setdefault(parts[0], {}).setdefault(parts[1], 0)
            out[parts[0]][parts[1]] += 1
    return out


@dataclass
class FloodResult:
    name: str
    baseline: list[float]  # the victim's opens alone (s)
    during: list[float]  # the victim's opens during the flood (s); inf: did not finish within the cap
    sent: int = 0  # the flooder's control changes
    settled: float = float("nan")  # from the flooder's last change until its last run finished (s)
    started: int = 0  # script runs the flooder's session started (app.py's run log)
    completed: int = 0  # of them, those that ran to the end
    timings: int = 0  # Devices timings computed (the regression page's cached function)
    cpu: float = 0.0  # the server's CPU seconds from the flood's start until the flooder's last run finished
    errors: list[str] = field(default_factory=list)


async def victim_open(base: str, deadline: float) -> float:
    c = Client(base, deadline)
    try:
        run = await c.open(*VICTIM)
        if run.status != 0 or run.exceptions:
            raise RuntimeError(f"victim's run: status {run.status}, {run.exceptions[:1]}")
        return run.seconds
    finally:
        try:
            await asyncio.wait_for(c.close(), 5)
        except Exception:  # noqa: BLE001
            pass


async def flood_scenario(f: Flood, base: str, pid: int, log: Path, seconds: float, cap: float) -> FloodResult:
    """Alone: the victim opens VICTIM (a warm-up, then 3 timed). Then the flooder changes its control FLOOD_HZ
    times a second for `seconds` while the victim opens VICTIM again and again (a new tab each time, the
    first 1 s into the flood); each open is cut at `cap` seconds (reported as inf). Bounded in time."""
    deadline = time.monotonic() + 2 * seconds + 3 * cap + 120
    flooder = FloodClient(base, deadline)
    res = FloodResult(f.name, [], [])
    try:
        await flooder.open(f.page, f.query)
        await victim_open(base, deadline)  # warm-up: the victim page's first run on this process
        res.baseline = [await victim_open(base, deadline) for _ in range(3)]
        before = run_log_counts(log)
        cpu0 = cpu_s(pid)
        values = triangle(*f.walk, int(seconds * FLOOD_HZ)) if f.key else []
        last_sent = [0.0]
        finished: list[tuple[float, Run]] = []

        async def reader() -> None:
            while True:
                run = await flooder.finish()
                finished.append((time.perf_counter(), run))
                res.errors.extend(f"flooder: {e}" for e in run.exceptions)

        async def flood() -> None:
            t0 = time.perf_counter()
            for i in range(int(seconds * FLOOD_HZ)):
                await asyncio.sleep(max(0.0, t0 + i / FLOOD_HZ - time.perf_counter()))
                if f.key:
                    flooder.set(f.key, ("double_array_value", [values[i]]))
                    await flooder.send()
                else:
                    await flooder.send(triggers=[flooder.click(f.press)])
                res.sent += 1
            last_sent[0] = time.perf_counter()

        async def victim() -> None:
            await asyncio.sleep(1.0)
            while not last_sent[0]:
                try:
                    res.during.append(await asyncio.wait_for(victim_open(base, deadline), cap))
                except asyncio.TimeoutError:
                    res.during.append(float("inf"))
                    return

        read = asyncio.create_task(reader())
        await asyncio.gather(flood(), victim())
        # the flooder's last run: the last one to finish after its last change, once 2 s pass with no other
        # (the slider's value is not in the messages: the browser writes a bound control to its URL itself)
        settle_by = time.monotonic() + cap
        while time.monotonic() < settle_by and not read.done():
            done = [t for t, _ in finished if t > last_sent[0]]
            if done and time.perf_counter() - done[-1] > 2.0:
                res.settled = done[-1] - last_sent[0]
                break
            await asyncio.sleep(0.05)
        else:
            why = repr(read.exception())[:120] if read.done() else "no run finished"
            res.errors.append(f"the flooder's last run did not finish within {cap:g} s of its last change ({why})")
        read.cancel()
        res.cpu = cpu_s(pid) - cpu0
        after = run_log_counts(log)
        mine = max(after.get("start", {}), key=lambda s: after["start"][s] - before.get("start", {}).get(s, 0))
        res.started = after["start"][mine] - before.get("start", {}).get(mine, 0)
        res.completed = after.get("end", {}).get(mine, 0) - before.get("end", {}).get(mine, 0)
        res.timings = sum(after.get("timing", {}).values()) - sum(before.get("timing", {}).values())
    except Exception as e:  # noqa: BLE001
        res.errors.append(f"{type(e).__name__}: {e}"[:200])
    finally:
        try:
            await asyncio.wait_for(flooder.close(), 5)
        except Exception:  # noqa: BLE001
            pass
    return res


def flood_main(args) -> int:
    """--flood: each scenario on a freshly started single app process, for each runner.fastReruns asked for."""
    fasts = {"both": ("true", "false"), "true": ("true",), "false": ("false",)}[args.fast_reruns]
    paces = {"both": ("0", "1"), "off": ("0",), "on": ("1",)}[args.pace]
    settings = [(fast, pace) for fast in fasts for pace in paces]
    chosen = [f for f in FLOODS if not args.only or any(o in f.name for o in args.only.split(","))]
    rows: list[tuple[str, FloodResult]] = []
    t_start = time.monotonic()
    for fast, pace in settings:
        label = f"{fast}, pace {'on' if pace == '1' else 'off'}"
        for f in chosen:
            with tempfile.TemporaryDirectory(prefix="nnviz-flood.") as tmp:
                log = Path(tmp) / "runs.log"
                env = {"NNVIZ_RUN_LOG": str(log), "STREAMLIT_RUNNER_FAST_RERUNS": fast, "NNVIZ_WARM": "0",
                       "NNVIZ_PACE": pace}
                with environ(env):  # tests/browser.py's Server passes its environment on
                    server = Server()
                try:
                    res = asyncio.run(flood_scenario(f, server.url, server.proc.pid, log, args.flood, args.cap))
                finally:
                    server.stop()
            rows.append((label, res))
            print(f"  done: fastReruns={label}, {f.name}", flush=True)

    print(f"\nflood: one student sends {FLOOD_HZ:g} changes a second for {args.flood:g} s on one app process; "
          f"another opens /{VICTIM[0]} (a new tab each time, alone first, then again and again during the "
          f"flood, each open cut at {args.cap:g} s); {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"{'fastReruns':17s} {'flooded page':28s} {'victim alone':>12s} {'during: median':>15s} {'max':>8s} "
          f"{'ratio (max)':>12s} {'sent':>5s} {'runs started':>12s} {'completed':>9s} {'settled s':>9s} "
          f"{'CPU s/change':>12s}" + ("  timings" if any(r.timings for _, r in rows) else ""))
    ok = True
    for fast, r in rows:
        base = statistics.median(r.baseline) if r.baseline else float("nan")
        med = statistics.median(r.during) if r.during else float("nan")
        worst = max(r.during) if r.during else float("nan")
        print(f"{fast:17s} {r.name:28s} {base:12.2f} {med:15.2f} {worst:8.2f} {worst / base:11.1f}x "
              f"{r.sent:5d} {r.started:12d} {r.completed:9d} {r.settled:9.2f} {r.cpu / max(r.sent, 1):12.3f}"
              + (f"  {r.timings}" if any(x.timings for _, x in rows) else ""))
        for e in r.errors[:3]:
            print(f"    error: {e}")
        ok &= not r.errors
    print(f"flood benchmark took {time.monotonic() - t_start:.0f} s")
    return 0 if ok else 1


# --- --burst: a class opens heavy links at the same moment; --cold: the first page on a fresh server ------------

async def burst_class(base: str, queries: list[str], deadline: float) -> tuple[list[float], list[str]]:
    """Every student opens /vanishing?<their query> at the same moment; their open times and errors."""
    async def one(q: str) -> float:
        c = Client(base, deadline)
        try:
            run = await c.open("vanishing", q)
            errors = [] if run.status == 0 else [f"status {run.status}"]
            errors += run.exceptions
            if errors:
                raise RuntimeError("; ".join(errors)[:200])
            return run.seconds
        finally:
            await c.close()
    results = await asyncio.gather(*(one(q) for q in queries), return_exceptions=True)
    return ([r for r in results if isinstance(r, float)],
            [f"{type(r).__name__}: {r}"[:200] for r in results if isinstance(r, BaseException)])


def burst_main(args) -> int:
    """--burst same|different: N students open the heaviest vanishing link at once (the same link, or each its
    own init_seed: N computations), on a fresh server (1 process, or 2 behind nginx); all-done time, p50/p95,
    peak RSS per process and the server CPU."""
    queries = [HEAVY + (f"&init_seed={1000 + i}" if args.burst == "different" else "") for i in range(args.students)]
    server = Server() if args.processes == 1 else Nginx(args.processes)
    pids = [server.proc.pid] if args.processes == 1 else server.pids
    try:
        deadline = time.monotonic() + args.timeout
        for b in ([server.url] if args.processes == 1 else server.backends):  # each process's first page run
            asyncio.run(burst_class(b, ["depth=2"], deadline))
        monitor = Monitor(pids)
        monitor.start()
        rss0, cpu0 = {p: rss_mb(p) for p in pids}, {p: cpu_s(p) for p in pids}
        t0 = time.perf_counter()
        times, errors = asyncio.run(burst_class(server.url, queries, deadline))
        wall = time.perf_counter() - t0
        monitor.halt.set()
        monitor.join()
        cpu = sum(cpu_s(p) - cpu0[p] for p in pids)
        rss1 = {p: rss_mb(p) for p in pids}
    finally:
        server.stop()
    print(f"\nburst ({args.burst} link): {args.students} students open /vanishing?{HEAVY}"
          f"{'&init_seed=...' if args.burst == 'different' else ''} at once on {args.processes} process(es); "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    if times:
        print(f"all done {wall:.2f} s; open p50 {pct(times, 0.5):.2f} s, p95 {pct(times, 0.95):.2f} s, "
              f"max {max(times):.2f} s; server CPU {cpu:.1f} s ({cpu / len(queries):.3f} s per student)")
    for p in pids:
        print(f"process {p}: RSS {rss0[p]:.0f} MB before, peak {monitor.peak[p]:.0f} MB, {rss1[p]:.0f} MB after")
    for e in errors[:5]:
        print(f"  error: {e}")
    return 0 if not errors else 1


def cold_main(args) -> int:
    """--cold: the first page a student opens on a freshly started process, for each page: with no warm-up
    (the student's run imports the page's modules), and after `python -m nnviz.ui.warm PORT` (scripts/serve.sh
    runs it after the health check) has returned: its one session has imported the app."""
    pages = ("", "activations", "losses", "vanishing", "regression", "logits", "deep")
    rows = []
    for kicked in (False, True):
        for page in pages:
            server = Server()  # NNVIZ_WARM=0: only the kick's own session, no background warm-up
            try:
                deadline = time.monotonic() + args.timeout
                if kicked:
                    subprocess.run([sys.executable, "-m", "nnviz.ui.warm", server.url.rsplit(":", 1)[1]],
                                   cwd=ROOT, check=True, capture_output=True, timeout=180)
                times, errors = asyncio.run(burst_one(server.url, page, deadline))
            finally:
                server.stop()
            rows.append((kicked, page or "home", times, errors))
            print(f"  done: {'after the kick' if kicked else 'no warm-up'}, /{page}", flush=True)
    print(f"\nthe first page on a fresh process; {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"{'':16s} " + " ".join(f"{p or 'home':>12s}" for p in pages))
    for kicked in (False, True):
        cells = [r for r in rows if r[0] == kicked]
        print(f"{'after the kick' if kicked else 'no warm-up':16s} "
              + " ".join(f"{(r[2][0] if r[2] else float('nan')):11.2f}s" for r in cells))
        for r in cells:
            for e in r[3][:2]:
                print(f"  error /{r[1]}: {e}")
    return 0 if not any(r[3] for r in rows) else 1


async def burst_one(base: str, page: str, deadline: float) -> tuple[list[float], list[str]]:
    c = Client(base, deadline)
    try:
        run = await c.open(page, "")
        return [run.seconds], ([] if run.status == 0 else [f"status {run.status}"]) + run.exceptions
    finally:
        await c.close()


# --- --follow: class mode (issue 20): students follow the teacher's steps, commit guesses, the projector counts ---

STEP_RE = re.compile(r"\*\*(\d+)/(\d+) · ")  # the tour panel's "**n/6 · title**"
ANSWERED_RE = re.compile(r"(\d+) answered")  # the projector's live figure title: "N answered · the answer is hidden"
FOLLOW_PAGE = "activations"
FOLLOW_STEPS = (2, 3, 4, 5, 6, 3)  # the teacher's clicks after step 1; the last one's number question is guessed
GUESSES = ("4", "3", "4.5", "2", "5", "1e1")  # act-tanh-vs-sigmoid-slope (tanh's top slope over sigmoid's)


class LiveTab(Client):
    """A tab that stays open: it reads every message as it comes (listen) and ticks the page's run_every fragments
    on time (tick), as the browser's timers do (Client.auto_reruns); `events` records when the screen showed what
    the benchmark waits for: ("step", n) the tour panel at step n, ("answered", n) the projector's count,
    ("counted", None) a student's "is in the class's count", ("chart", None) any other chart (a reveal's)."""

    def __init__(self, base: str, deadline: float) -> None:
        super().__init__(base, deadline)
        self.events: list[tuple[float, str, int | None]] = []
        self.on_element = self._seen
        self.last_full: Run | None = None  # the last full app run (its screen holds the guess form)
        self.ticks = 0  # fragment reruns sent by the timers
        self.bytes = 0
        self.runs: dict[int | None, int] = {}  # script_finished status -> runs (0: full app run, 3: fragment run)
        self.errors: list[str] = []
        self.tasks: list[asyncio.Task] = []
        self.stopping = False

    def _seen(self, path: tuple, kind: str, el) -> None:
        if path[0] != 0:  # the main area only
            return
        t = time.perf_counter()
        if kind == "markdown":
            m = STEP_RE.match(el.body)
            if m:
                self.events.append((t, "step", int(m.group(1))))
        elif kind == "plotly_chart":
            try:
                title = json.loads(el.spec)["layout"]["title"]["text"]
            except (ValueError, KeyError, TypeError):
                title = ""
            m = ANSWERED_RE.match(title or "")
            self.events.append((t, "answered", int(m.group(1))) if m else (t, "chart", None))
        elif kind == "alert" and "in the class's count" in el.body:
            self.events.append((t, "counted", None))

    def first(self, kind: str, after: float, value: int | None = None, at_least: bool = False) -> float | None:
        """When the screen first showed `kind` (with `value`, or at least `value`) at or after `after`."""
        for t, k, v in self.events:
            if t >= after and k == kind and (value is None or v == value or (at_least and v is not None and v >= value)):
                return t
        return None

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self.listen()), asyncio.create_task(self.tick())]

    async def listen(self) -> None:
        try:
            while not self.stopping:
                run = await self.finish()
                self.bytes += run.bytes
                self.runs[run.status] = self.runs.get(run.status, 0) + 1
                if run.status == 0:
                    self.last_full = run
                elif run.status != 3:
                    self.errors.append(f"a run finished with status {run.status}")
                self.errors.extend(run.exceptions)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001  (a dropped connection, the deadline)
            if not self.stopping:
                self.errors.append(f"{type(e).__name__}: {e}"[:200])

    async def tick(self) -> None:
        """The browser's setInterval per fragment: a rerun request every interval from when its timer started,
        whether or not a run is going on (a full app run stops the timers; its auto_rerun messages restart them)."""
        due: dict[tuple[str, float], float] = {}
        while True:
            now, wait = time.monotonic(), 0.2
            for fid, (interval, since) in list(self.auto_reruns.items()):
                if interval <= 0:
                    continue
                d = due.get((fid, since), since + interval)
                if now >= d:
                    await self.send(fragment_id=fid, auto=True)
                    self.ticks += 1
                    while d <= now:
                        d += interval
                due[(fid, since)] = d
                wait = min(wait, d - now)
            if len(due) > 4:
                due = {k: v for k, v in due.items() if self.auto_reruns.get(k[0], (0, None))[1] == k[1]}
            await asyncio.sleep(max(0.005, wait))

    async def guess(self, qid: str, value: str) -> float:
        """Commit a guess in the question's form (its text input, then its submit button); when it was sent."""
        screen = self.last_full.screen if self.last_full is not None else {}
        buttons = [el for _, (k, el) in sorted(screen.items()) if k == "button" and el.is_form_submitter]
        button = next((b for b in buttons if b.form_id == f"form_{qid}"), buttons[0] if buttons else None)
        if button is None:
            raise RuntimeError("no guess form on the page")
        self.set(f"guess_{qid}", ("string_value", value))
        t = time.perf_counter()
        await self.send(triggers=[WidgetState(id=button.id, trigger_value=True)])
        return t

    async def stop(self) -> None:
        """Close the tab. Closing the socket ends a recv() too: Python 3.11's wait_for can lose a cancellation
        that arrives as its awaitable completes, and the reader would then wait on until the deadline."""
        self.stopping = True
        for task in self.tasks:
            task.cancel()
        try:
            await asyncio.wait_for(self.close(), 5)
        except Exception:  # noqa: BLE001
            pass
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)


def publish_step(store, new, step: int, **extra):
    """The teacher's click as the teacher's page publishes it: the tour step, its question, its canonical settings."""
    from nnviz import lessons as Ls
    s = Ls.TOURS[FOLLOW_PAGE][step - 1]
    settings = Ls.to_settings(FOLLOW_PAGE, Ls.page_params(FOLLOW_PAGE, Ls.step_settings(FOLLOW_PAGE, s)))
    return store.set_state(new.code, new.secret, page=FOLLOW_PAGE, step=step, question=s.question or "",
                           settings=settings, **extra)


async def wait_all(tabs: list[LiveTab], when, timeout: float) -> list[float | None]:
    """Until when(tab) is a time for every tab (or `timeout` s pass): those times (None: not within the timeout)."""
    end = time.monotonic() + timeout
    while True:
        times = [when(tab) for tab in tabs]
        if all(t is not None for t in times) or time.monotonic() > end:
            return times
        await asyncio.sleep(0.05)


def catch_up(sent: list[float], seen: list[tuple[float, int]]) -> list[float | None]:
    """For the k-th guess sent (in time order): from its sending until a count of at least k was first seen."""
    out = []
    for k, t in enumerate(sorted(sent), 1):
        out.append(next((s - t for s, c in seen if c >= k and s >= t), None))
    return out


@dataclass
class FollowResult:
    students: int
    processes: int
    join: list[float | None] = field(default_factory=list)
    steps: list[list[float | None]] = field(default_factory=list)  # per step change: each follower's latency
    teacher_publish: list[float | None] = field(default_factory=list)  # the teacher tab's own publish -> followers
    own: list[float | None] = field(default_factory=list)  # guess -> the student's page says "counted"
    store_count: list[float | None] = field(default_factory=list)  # guess -> the store's count (polled)
    projector: list[float | None] = field(default_factory=list)  # guess -> the teacher tab's live count
    reveal: list[float | None] = field(default_factory=list)
    final: tuple[int, int, int] = (0, 0, 0)  # guesses sent, the store's count, the projector's last count
    idle_s: float = 0.0
    idle_cpu: float = 0.0  # server CPU s (all processes) over the idle window
    idle_ticks: int = 0  # fragment reruns the followers sent in the window
    idle_kb: float = 0.0  # KB received by the followers in the window
    base_cpu: float = 0.0  # server CPU s a second with no session at all
    step_cpu: float = 0.0  # server CPU s during the step changes (from the first click until the last redraw)
    rss: dict[int, float] = field(default_factory=dict)  # peak per process
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    client_cpu: float = 0.0
    errors: list[str] = field(default_factory=list)
    spread: dict[str, int] | None = None


async def follow_class(res: FollowResult, base: str, pids: list[int], store, args, rng: random.Random) -> None:
    """The class: N followers join, idle, follow the teacher's steps, guess on the question step, see the reveal."""
    from nnviz import lessons as Ls
    deadline = time.monotonic() + args.timeout
    cpu = lambda: sum(cpu_s(p) for p in pids)  # noqa: E731
    t, c = time.perf_counter(), cpu()
    await asyncio.sleep(args.base)
    res.base_cpu = (cpu() - c) / (time.perf_counter() - t)

    new = store.create_class()
    publish_step(store, new, 1)
    tabs = [LiveTab(base, deadline) for _ in range(res.students)]

    async def join(tab: LiveTab, delay: float) -> float | None:
        await asyncio.sleep(delay)
        t0 = time.perf_counter()
        run = await asyncio.wait_for(tab.open("", f"class={new.code}"), args.step_timeout * 4)
        tab.errors.extend(run.exceptions)
        tab.start()
        shown = tab.first("step", t0, 1)
        if shown is None:
            tab.errors.append(f"joined but the page does not show step 1 (status {run.status})")
        return None if shown is None else shown - t0

    joined = await asyncio.gather(*(join(tab, rng.uniform(0, args.spread)) for tab in tabs), return_exceptions=True)
    for tab, j in zip(tabs, joined):
        if isinstance(j, BaseException):
            tab.errors.append(f"join: {type(j).__name__}: {j}"[:200])
    res.join = [j if not isinstance(j, BaseException) else None for j in joined]
    followers = [tab for tab, j in zip(tabs, joined) if isinstance(j, float)]
    say(f"{len(followers)} of {len(tabs)} joined")
    await asyncio.sleep(args.pause)

    # idle: every follower's fragment ticks once a second, nothing changes
    c0, t0 = cpu(), time.perf_counter()
    ticks0, bytes0 = sum(f.ticks for f in followers), sum(f.bytes for f in followers)
    await asyncio.sleep(args.idle)
    res.idle_cpu, res.idle_s = cpu() - c0, time.perf_counter() - t0
    res.idle_ticks = sum(f.ticks for f in followers) - ticks0
    res.idle_kb = (sum(f.bytes for f in followers) - bytes0) / 1024
    say(f"idle: {100 * res.idle_cpu / res.idle_s / max(1, len(followers)):.2f} % of a core per follower")

    # the teacher's clicks
    c0 = cpu()
    for i, step in enumerate(FOLLOW_STEPS):
        t0 = time.perf_counter()
        publish_step(store, new, step)
        shown = await wait_all(followers, lambda f: f.first("step", t0, step), args.step_timeout)
        res.steps.append([None if s is None else s - t0 for s in shown])
        say(f"step {step}: every follower within {max((x for x in res.steps[-1] if x is not None), default=0) :.2f} s, "
            f"{sum(x is None for x in res.steps[-1])} missed; errors so far {sum(len(f.errors) for f in followers)}")
        if i < len(FOLLOW_STEPS) - 1:
            await asyncio.sleep(rng.uniform(args.pause, args.pause + 1))
    res.step_cpu = cpu() - c0

    # the projector: a teacher tab at the question step (its page publishes the step again: the followers redraw)
    qid = Ls.TOURS[FOLLOW_PAGE][FOLLOW_STEPS[-1] - 1].question
    teacher = LiveTab(base, deadline)
    t0 = time.perf_counter()
    run = await asyncio.wait_for(teacher.open(FOLLOW_PAGE, f"class={new.code}&teach={new.secret}&tour={FOLLOW_STEPS[-1]}"),
                                 args.step_timeout * 4)
    teacher.errors.extend(run.exceptions)
    teacher.start()
    if teacher.first("answered", t0, 0) is None:
        teacher.errors.append("the teacher's tab does not show the class's count")
    shown = await wait_all(followers, lambda f: f.first("step", t0, FOLLOW_STEPS[-1]), args.step_timeout)
    res.teacher_publish = [None if s is None else s - t0 for s in shown]
    await asyncio.sleep(args.pause)

    # the guesses, within --guess-spread s; the store's count polled beside the projector's
    polled: list[tuple[float, int]] = []

    async def poll() -> None:
        last = -1
        while True:
            n = store.count_guesses(new.code, qid)
            if n != last:
                polled.append((time.perf_counter(), n))
                last = n
            await asyncio.sleep(0.05)

    poller = asyncio.create_task(poll())

    async def one(f: LiveTab, delay: float) -> float:
        await asyncio.sleep(delay)
        return await f.guess(qid, rng.choice(GUESSES))

    sent_at = await asyncio.gather(*(one(f, rng.uniform(0, args.guess_spread)) for f in followers),
                                   return_exceptions=True)
    sent = [s for s in sent_at if isinstance(s, float)]
    for f, s in zip(followers, sent_at):
        if not isinstance(s, float):
            f.errors.append(f"guess: {type(s).__name__}: {s}"[:200])
    end = time.monotonic() + args.step_timeout
    while time.monotonic() < end and not (teacher.first("answered", 0, len(sent), at_least=True)
                                          and polled and polled[-1][1] >= len(sent)):
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)
    poller.cancel()
    await asyncio.gather(poller, return_exceptions=True)
    res.own = [None if not isinstance(s, float) or f.first("counted", s) is None else f.first("counted", s) - s
               for f, s in zip(followers, sent_at)]
    res.store_count = catch_up(sent, polled)
    res.projector = catch_up(sent, [(t, v) for t, k, v in teacher.events if k == "answered"])
    last_shown = [v for _, k, v in teacher.events if k == "answered"]
    res.final = (len(sent), store.count_guesses(new.code, qid), last_shown[-1] if last_shown else -1)
    say(f"guesses: {res.final[0]} sent, {res.final[1]} in the store, the projector shows {res.final[2]}")

    # Reveal: every follower's page shows the verdict's figure
    t0 = time.perf_counter()
    store.set_state(new.code, new.secret, revealed=True)
    shown = await wait_all(followers, lambda f: f.first("chart", t0), args.step_timeout)
    res.reveal = [None if s is None else s - t0 for s in shown]
    say(f"reveal: every follower within {max((x for x in res.reveal if x is not None), default=0):.2f} s")

    for tab in tabs + [teacher]:
        res.errors.extend(tab.errors)
    await asyncio.gather(*(tab.stop() for tab in tabs + [teacher]))
    store.end_class(new.code, new.secret)
    say("the class has ended")


def say(line: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {line}", flush=True)


def follow_main(args) -> int:
    """--follow: a class in class mode on fresh servers (each class size its own), figures side by side."""
    from nnviz.classstore import open_store
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` or kill: stop the servers on the way out
    sizes = [int(x) for x in args.follow.split(",") if x.strip()] if args.follow else [args.students]
    results: list[FollowResult] = []
    t_start = time.monotonic()
    for n in sizes:
        tmp = tempfile.mkdtemp(prefix="nnviz-follow.")
        env = {"NNVIZ_CLASS_STORE": f"sqlite:{tmp}/classes.sqlite3", "NNVIZ_WARM": os.environ.get("NNVIZ_WARM", "0")}
        with environ(env):  # the servers (tests/browser.py's Server passes its environment on) and this store
            server = Server() if args.processes == 1 else Nginx(args.processes)
        pids = [server.proc.pid] if args.processes == 1 else server.pids
        store = open_store(env["NNVIZ_CLASS_STORE"])
        res = FollowResult(n, args.processes)
        monitor = Monitor(pids)
        try:
            monitor.start()
            load0 = os.getloadavg()[0]
            ru0 = resource.getrusage(resource.RUSAGE_SELF)
            asyncio.run(follow_class(res, server.url, pids, store, args, random.Random(args.seed + n)))
            ru1 = resource.getrusage(resource.RUSAGE_SELF)
            res.client_cpu = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
            monitor.halt.set()
            monitor.join()
            res.load = (load0, max(monitor.load or [0]), os.getloadavg()[0])
            res.rss = dict(monitor.peak)
            res.spread = server.spread() if args.processes > 1 else None
        except Exception as e:  # noqa: BLE001
            res.errors.append(f"{type(e).__name__}: {e}"[:300])
        finally:
            monitor.halt.set()
            store.close()
            server.stop()
        results.append(res)
        say(f"done: {n} students")
    print_follow(results, args)
    print(f"follow benchmark took {time.monotonic() - t_start:.0f} s")
    return 0 if not any(r.errors for r in results) else 1


def print_follow(results: list[FollowResult], args) -> None:
    def stats(xs: list[float | None]) -> str:
        got = [x for x in xs if x is not None]
        if not got:
            return "-"
        missed = len(xs) - len(got)
        return (f"{pct(got, .5):.2f} / {pct(got, .95):.2f} / {max(got):.2f}"
                + (f" ({missed} missed)" if missed else ""))

    def row(label: str, cells: list[str], target: str = "") -> None:
        print(f"{label:58s} " + " ".join(f"{c:>26s}" for c in cells) + (f"   {target}" if target else ""))

    r0 = results[0]
    print(f"\nclass mode (--follow): {r0.processes} app process(es){' behind nginx' if r0.processes > 1 else ''}, "
          f"{os.cpu_count()} cores; page {FOLLOW_PAGE}, steps 1 -> {' -> '.join(map(str, FOLLOW_STEPS))}; "
          f"joins within {args.spread:g} s, guesses within {args.guess_spread:g} s, idle {args.idle:g} s; "
          f"NNVIZ_WARM={os.environ.get('NNVIZ_WARM', '0')}")
    row("students", [str(r.students) for r in results])
    row("join: open /?class=CODE until step 1 shows (p50/p95/max s)", [stats(r.join) for r in results])
    row("step change -> each follower shows it (p50/p95/max s)",
        [stats([x for s in r.steps for x in s]) for r in results], "issue: p95 < 3 s")
    row("  slowest follower per change (s)",
        [" ".join(f"{max((x for x in s if x is not None), default=float('nan')):.1f}" for s in r.steps)
         for r in results])
    row("  server CPU per change per follower (ms)",
        [f"{1000 * r.step_cpu / max(1, len(r.steps) * r.students):.1f}" for r in results])
    row("teacher tab opens (its page publishes) -> followers (s)", [stats(r.teacher_publish) for r in results])
    row("guess -> projector's count (teacher tab's live figure)", [stats(r.projector) for r in results],
        "issue: p95 < 3 s")
    row("guess -> store's count (benchmark polls every 50 ms)", [stats(r.store_count) for r in results])
    row("guess -> the student's page says it is counted", [stats(r.own) for r in results])
    row("  guesses sent / the store's count / the projector's last", [f"{a} / {b} / {c}" for a, b, c in
                                                                     (r.final for r in results)])
    row("Reveal -> each follower's page shows the figure (s)", [stats(r.reveal) for r in results])
    row("idle follower: server CPU, % of a core per follower",
        [f"{100 * r.idle_cpu / r.idle_s / r.students:.2f} %" if r.idle_s else "-" for r in results], "issue: < 2 %")
    row("  idle: fragment runs a second; KB/s per follower",
        [f"{r.idle_ticks / r.idle_s:.1f}; {r.idle_kb / r.idle_s / r.students:.2f}" if r.idle_s else "-"
         for r in results])
    row("  server CPU with no session (cores)", [f"{r.base_cpu:.3f}" for r in results])
    row("peak RSS per process (MB)", [", ".join(f"{v:.0f}" for v in r.rss.values()) for r in results],
        "issue: < 700 MB")
    row("websockets per app process (nginx log)",
        [", ".join(str(v) for v in r.spread.values()) if r.spread else "-" for r in results])
    row("this client's CPU (s)", [f"{r.client_cpu:.1f}" for r in results])
    row("load average (1 min): start / peak / end", [f"{a:.1f} / {b:.1f} / {c:.1f}" for a, b, c in
                                                     (r.load for r in results)])
    row("errors", [str(len(r.errors)) for r in results])
    for r in results:
        for e in r.errors[:10]:
            print(f"  {r.students} students: {e}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--processes", type=int, choices=(1, 2), default=None,
                    help="app processes: 1 (streamlit run app.py) or 2 (scripts/serve.sh 2 behind nginx); default 1, "
                         "--follow 2")
    ap.add_argument("--timeout", type=float, default=900, help="seconds for the whole class, then it gives up")
    ap.add_argument("--spread", type=float, default=10, help="students arrive within this many seconds")
    ap.add_argument("--think", type=float, default=1.0, help="mean seconds a student reads between actions")
    ap.add_argument("--solo", type=int, default=3, help="timed solo Trains (after a warm-up one)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--validate", action="store_true", help="afterwards, compare with Chromium")
    ap.add_argument("--train-query", default="", help="the Train's settings, e.g. epochs=5000&n=500&opt=adam&loss_fn=huber")
    ap.add_argument("--flood", type=float, nargs="?", const=30.0, default=None, metavar="SECONDS",
                    help="instead of the class: the flood scenarios, each flooding this long (default 30 s)")
    ap.add_argument("--fast-reruns", choices=("both", "true", "false"), default="both",
                    help="--flood: runner.fastReruns for the server (both: side by side, the old setting first)")
    ap.add_argument("--pace", choices=("both", "on", "off"), default="on",
                    help="--flood: nnviz.ui.pace (NNVIZ_PACE) for the server (both: side by side, off first)")
    ap.add_argument("--only", default="", help="--flood: comma-separated parts of scenario names (e.g. losses,Devices)")
    ap.add_argument("--cap", type=float, default=120.0, help="--flood: seconds a victim's open may take, then cut")
    ap.add_argument("--burst", choices=("same", "different"), default=None,
                    help="instead of the class: --students open the heaviest vanishing link at once (the same "
                         "link, or each a different seed)")
    ap.add_argument("--cold", action="store_true", help="instead of the class: each page as the first on a fresh "
                                                         "process, without and after the warm-up kick")
    ap.add_argument("--follow", nargs="?", const="", default=None, metavar="SIZES",
                    help="instead of the class: class mode (students follow the teacher, guess, the projector counts); "
                         "SIZES: comma-separated class sizes run one after another on fresh servers (default "
                         "--students)")
    ap.add_argument("--idle", type=float, default=30.0, help="--follow: seconds the followers idle while measured")
    ap.add_argument("--pause", type=float, default=3.0, help="--follow: seconds between the teacher's clicks (+0-1 s)")
    ap.add_argument("--guess-spread", type=float, default=10.0,
                    help="--follow: the students commit their guesses within this many seconds")
    ap.add_argument("--step-timeout", type=float, default=30.0,
                    help="--follow: seconds a click may take to reach every follower, then the rest count as missed")
    ap.add_argument("--base", type=float, default=5.0,
                    help="--follow: seconds the servers' CPU is measured with no session, before the class")
    args = ap.parse_args()
    if args.follow is not None:
        args.processes = args.processes or 2
        return follow_main(args)
    args.processes = args.processes or 1
    args.bystander = {}
    if args.flood is not None:
        return flood_main(args)
    if args.burst is not None:
        return burst_main(args)
    if args.cold:
        return cold_main(args)
    cores = os.cpu_count() or 1

    t_start = time.monotonic()
    server = Server() if args.processes == 1 else Nginx(args.processes)
    pids = [server.proc.pid] if args.processes == 1 else server.pids
    try:
        monitor = Monitor(pids)
        monitor.start()
        load0 = os.getloadavg()
        deadline = time.monotonic() + args.timeout
        # solo: on each process directly (that warms each one's torch and Train), the timed one first
        solo, solo_run = asyncio.run(solo_train(server.url if args.processes == 1 else server.backends[0],
                                                deadline, args.solo, args.train_query))
        for other in ([] if args.processes == 1 else server.backends[1:]):
            asyncio.run(solo_train(other, deadline, 0, args.train_query))
        solo_s = statistics.median(solo)
        for _ in range(5 if args.train_query else 0):  # the bystander's open with the server to itself
            args.bystander.setdefault("alone", []).append(asyncio.run(victim_open(server.url, deadline)))
        rss_warm = {p: rss_mb(p) for p in pids}
        cpu0 = {p: cpu_s(p) for p in pids}
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        cpu_go: dict[int, float] = {}  # the server's CPU when every student is ready: opens, changes, switches done
        students, go = asyncio.run(classroom(args, server.url, deadline,
                                             on_go=lambda: cpu_go.update({p: cpu_s(p) for p in pids})))
        wall = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu1 = {p: cpu_s(p) for p in pids}
        monitor.halt.set()
        monitor.join()
        load1 = os.getloadavg()
        spread = server.spread() if args.processes > 1 else None
        ok_valid = None
        if args.validate:
            ok_valid = validate(server.url, time.monotonic() + 600)
    finally:
        server.stop()

    # --- report ---------------------------------------------------------------------------------
    n = len(students)
    print(f"\nclassroom: {n} students, {args.processes} app process(es){' behind nginx' if args.processes > 1 else ''}, "
          f"{cores} cores; arrivals within {args.spread:g} s, {args.think:g} s reading between actions; "
          f"seed {args.seed}")
    print(f"load average (1 min): {load0[0]:.2f} at the start, {max(monitor.load or [0]):.2f} peak during, "
          f"{load1[0]:.2f} at the end (other work on the machine counts too)")
    print(f"solo Train (one student alone, median of {len(solo)}): {solo_s:.2f} s, "
          f"{solo_run.bytes / 1024:.0f} KB, {solo_run.charts} chart redraws")
    print(f"\n{'action':10s} {'n':>4s} {'p50 s':>8s} {'p95 s':>8s} {'max s':>8s}")
    for action in ("open", "control", "switch", "train"):
        xs = [s.times[action] for s in students if action in s.times]
        if xs:
            print(f"{action:10s} {len(xs):4d} {pct(xs, .5):8.2f} {pct(xs, .95):8.2f} {max(xs):8.2f}")
    print("by deep link (p50 / max s):")
    for link in LINKS:
        group = [s for s in students if s.link == link]
        cells = []
        for action in ("open", "control"):
            xs = [s.times[action] for s in group if action in s.times]
            cells.append(f"{action} {pct(xs, .5):5.2f} / {max(xs):5.2f}" if xs else f"{action} -")
        print(f"  {len(group):3d} x /{link.page}?{link.query[:44]:44s}  " + "   ".join(cells))
    trained = [s for s in students if s.train is not None]
    if trained:
        done = max(s.train_done for s in trained) - min(s.train_done - s.times["train"] for s in trained)
        ideal = n * solo_s / cores
        print(f"\nall Trains done in {done:.2f} s after the teacher's go; ideal N x solo / cores = "
              f"{n} x {solo_s:.2f} / {cores} = {ideal:.2f} s: {done / ideal:.2f}x the ideal"
              f"{'' if len(trained) == n else f' ({n - len(trained)} never trained)'}")
        if args.processes < cores:  # each process is one core (the GIL): N x solo / processes is its floor
            floor = n * solo_s / args.processes
            print(f"  ({args.processes} process(es) use at most {args.processes} core(s): N x solo / processes = "
                  f"{floor:.2f} s, {done / floor:.2f}x that)")
        kb = [s.train.bytes / 1024 for s in trained]
        charts = [s.train.charts for s in trained]
        print(f"per Train over the websocket: {statistics.median(kb):.0f} KB median, {max(kb):.0f} KB max; "
              f"chart redraws {statistics.median(charts):.0f} median, {max(charts)} max; "
              f"{statistics.median(s.train.frames for s in trained):.0f} messages median")
    actions = sum(1 for s in students for a in ("open", "control", "switch") if a in s.times)
    if cpu_go and actions:  # page work only: every student's open, control change and page switch, before the Trains
        page_cpu = sum(cpu_go[p] - cpu0[p] for p in pids)
        print(f"server CPU per action (page opens, control changes, page switches; before the Trains): "
              f"{page_cpu:.1f} s / {actions} = {page_cpu / actions:.3f} s mean (a background warm-up still "
              f"running then counts too: NNVIZ_WARM=0 leaves it out)")
    print(f"whole class: {wall:.1f} s; server CPU {sum(cpu1[p] - cpu0[p] for p in pids):.1f} s "
          f"({sum(cpu1[p] - cpu0[p] for p in pids) / wall:.2f} cores on average); this client's CPU "
          f"{ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime:.1f} s")
    for p in pids:
        print(f"server process {p}: RSS {rss_warm[p]:.0f} MB after the solo Train, peak {monitor.peak[p]:.0f} MB")
    if spread is not None:
        print(f"websockets per app process (nginx access log): {spread}")
        if trained and spread:  # nginx's cookie affinity places students at random: the busiest process sets the pace
            busiest = max(spread.values())
            print(f"  the busiest process had {busiest} students: all Trains done within "
                  f"{done / (busiest * solo_s):.2f}x of {busiest} x solo = {busiest * solo_s:.2f} s")
    if args.train_query:
        by = args.bystander
        cells = [f"{k} {statistics.median(by[k]):.2f} s median, {max(by[k]):.2f} s max ({len(by[k])})"
                 for k in ("alone", "before", "during") if by.get(k)]
        ratio = (f"; during the Trains / alone: {statistics.median(by['during']) / statistics.median(by['alone']):.2f}x"
                 if by.get("alone") and by.get("during") else "")
        print(f"a bystander's open of /{VICTIM[0]}: " + ", ".join(cells) + ratio
              + (f"; errors {by['errors'][:2]}" if by.get("errors") else ""))
    errors = [(s.link.page, e) for s in students for e in s.errors]
    print(f"errors: {len(errors)}")
    for page, e in errors[:20]:
        print(f"  {page}: {e}")
    results = [s.result() for s in students]
    if args.train_query:  # other settings, other numbers: every student's Train must agree with the solo one
        exact = sum(r == (solo_run.metrics().get("weight"), solo_run.metrics().get("bias")) for r in results)
        print(f"results equal to the solo Train's: {exact} of {n}")
    else:
        exact = sum(r == EXPECTED for r in results)
        others = sorted({r for r in results if r != EXPECTED}, key=str)
        print(f"exact results ({EXPECTED[0]} / {EXPECTED[1]}): {exact} of {n}" + (f"; others: {others[:5]}" if others else ""))
    if ok_valid is not None:
        print(f"validated against Chromium: {'yes, same values' if ok_valid else 'NO: see above'}")
    print(f"benchmark took {time.monotonic() - t_start:.0f} s")
    return 0 if not errors and exact == n and ok_valid in (None, True) else 1


if __name__ == "__main__":
    sys.exit(main())
