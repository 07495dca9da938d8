"""Soak test (not run in CI): one fresh server driven through thousands of reruns across every page
and setting, with /_stcore/health polled and the server's memory (RSS) sampled throughout.

Link after link (each a new session, as a class of students opening shared links), each rerun a
few times in its session. The default client speaks Streamlit's own protocol (protobuf BackMsg /
ForwardMsg over ws://127.0.0.1/_stcore/stream, as the browser does): cheap enough for thousands of
reruns on one core. `--client browser` drives one Chromium tab instead (slower: about 2-5 s a link,
now and then training the regression). Only 127.0.0.1 is contacted. Bounded by a count and a time
limit. Prints the RSS after warm-up, at the end and the largest; exits non-zero if a health check
failed, the server died, or a run ended in an exception. Also samples the bytes every st.cache_data holds
(Streamlit's /_stcore/metrics, family cache_memory_bytes), and says whether memory levelled off: the RSS growth
over the last half of the samples against the first half (issue 22: caches bounded by bytes,
server.maxCacheDataSize). Run:
    python benchmarks/soak.py [--links 1500] [--minutes 10] [--reruns 3] [--client ws|browser] [--env K=V]
"""
from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser import CHROMIUM_ARGS, Server, chromium_path, wait_idle  # noqa: E402
from nnviz.controls import BoolSpec, ChoiceSpec, FloatSpec, IntSpec, MultiChoiceSpec, NumberListSpec  # noqa: E402
from nnviz.ui.catalog import PAGES as CATALOG  # noqa: E402


def page_controls() -> dict[str, dict]:
    """{url path: {url key: spec}} of every page, as the pages register them (nnviz.ui.frame.CONTROLS)
    when each runs once through AppTest: a new control is soaked without touching this script."""
    import importlib

    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    original = PagesManager.__init__

    def init(self, *a, **k):  # as a running server is after its first session (tests/conftest.py)
        original(self, *a, **k)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    frame = importlib.import_module("nnviz.ui.frame")
    for script in ["pages/home.py"] + [p.path for p in CATALOG]:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.switch_page(script).run()
    PagesManager.__init__ = original
    return {path: {k: s for k, s in keys.items() if k not in frame.FRAME_KEYS}
            for path, keys in frame.CONTROLS.items()}


PAGES: dict[str, dict] = {}
HOSTILE = ["Infinity", "1e309", "9" * 400, "`[Log in again](https://evil.example/login)`", "", "NaN",
           "![i](https://evil.example/i.png)", "a" * 10_000]


def value(spec, rng: random.Random):
    """A valid raw value for `spec`, drawn at random (on the spec's step grid)."""
    if isinstance(spec, (FloatSpec, IntSpec)):
        k = rng.randint(0, int(round((spec.max - spec.min) / spec.step)))
        v = spec.min + k * spec.step
        return str(int(v)) if isinstance(spec, IntSpec) else f"{v:.6g}"
    if isinstance(spec, ChoiceSpec):
        return rng.choice(spec.choices)
    if isinstance(spec, MultiChoiceSpec):
        return rng.sample(spec.choices, rng.randint(1, spec.max_selections or len(spec.choices)))
    if isinstance(spec, BoolSpec):
        return rng.choice(["true", "false"])
    if isinstance(spec, NumberListSpec):  # one comma-separated text, as the text box sends it
        n = rng.randint(spec.min_len, spec.max_len)
        draw = (lambda: rng.randint(int(spec.min), int(spec.max))) if spec.integer else \
            (lambda: round(rng.uniform(spec.min, spec.max), 2))
        return spec.text([draw() for _ in range(n)])
    raise TypeError(spec)


def link(rng: random.Random) -> tuple[str, str]:
    """(page, path with query): a page, 0-4 of its settings, sometimes a hostile value or the frame's
    presentation mode."""
    page = rng.choice(list(PAGES))
    keys = rng.sample(list(PAGES[page]), min(len(PAGES[page]), rng.randint(0, 4)))
    query = {k: value(PAGES[page][k], rng) for k in keys}
    if keys and rng.random() < 0.1:
        query[rng.choice(keys)] = rng.choice(HOSTILE)
    if rng.random() < 0.1:
        query["present"] = "true"
    return page, f"/{page}" + (f"?{urlencode(query, doseq=True)}" if query else "")


def rss_mib(pid: int) -> float:
    try:
        import psutil
        return psutil.Process(pid).memory_info().rss / 2 ** 20
    except ImportError:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def browse(page, url: str, name: str, path: str, links: int, failures: list[str]) -> int:
    """One link in the Chromium tab (a new session); every tenth regression link also trains.
    Returns the runs it caused."""
    page.goto(url + path)
    wait_idle(page, timeout=60_000)
    runs = 1
    if name == "regression" and links % 10 == 0:
        page.locator("[data-testid='stMain'] [data-testid='stButton'] button", has_text="Train").first.click()
        page.wait_for_selector("[data-testid='stAlert']:has-text('Trained')", timeout=120_000)
        wait_idle(page, timeout=60_000)
        runs += 1
    if page.locator("[data-testid='stException']").count():
        failures.append(f"exception on {path[:200]}")
    return runs


def cache_mib(url: str) -> float | None:
    """The bytes every st.cache_data of the server holds (pickled), from Streamlit's /_stcore/metrics
    (OpenMetrics text: `cache_memory_bytes{cache_type="st_cache_data",cache="fn"} N`); None if unreadable."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith("cache_memory_bytes{") and 'cache_type="st_cache_data"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total / 2 ** 20


def levelled(samples: list[tuple[int, int, float]]) -> tuple[float, float]:
    """The RSS's trend (least-squares slope, MiB per 1000 links) over the first half of the samples and over the
    second: memory has levelled off when the second is small beside the first (a single sample swings by tens
    of MiB as the allocator takes and returns memory)."""
    def slope(part: list[tuple[int, int, float]]) -> float:
        xs, ys = [q[0] for q in part], [q[2] for q in part]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mx) ** 2 for x in xs)
        return 1000 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0

    mid = len(samples) // 2
    return slope(samples[:mid + 1]), slope(samples[mid:])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as r:
            return r.read().decode().strip() == "ok"
    except OSError:
        return False


async def visit_ws(url: str, page: str, query: str, reruns: int) -> tuple[int, int]:
    """Open a session on `page` with `query` as its link and run it `reruns` times, as a browser tab
    does. Returns (runs finished, runs that rendered an exception)."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    done = errors = 0
    async with websockets.connect(url.replace("http://", "ws://") + "/_stcore/stream", subprotocols=["streamlit"],
                                  origin=url, max_size=2 ** 28, open_timeout=30) as ws:
        for _ in range(reruns):
            msg = BackMsg()
            msg.rerun_script.query_string, msg.rerun_script.page_name = query, page
            await ws.send(msg.SerializeToString())
            while True:
                fwd = ForwardMsg()
                fwd.ParseFromString(await asyncio.wait_for(ws.recv(), 120))
                if fwd.HasField("delta") and fwd.delta.HasField("new_element") \
                        and fwd.delta.new_element.HasField("exception"):
                    errors += 1
                if fwd.HasField("script_finished") and fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    done += 1
                    break
    return done, errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--links", type=int, default=1500, help="links opened (each a new session)")
    ap.add_argument("--minutes", type=float, default=10.0, help="stop after this long, whatever the count")
    ap.add_argument("--reruns", type=int, default=3, help="runs per link in its session (ws client)")
    ap.add_argument("--client", choices=("ws", "browser"), default="ws")
    ap.add_argument("--warmup", type=int, default=100, help="links before the warm-up RSS is taken")
    ap.add_argument("--every", type=int, default=25, help="health check and RSS sample every N links")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--env", action="append", default=[], metavar="K=V",
                    help="environment for the server (e.g. MALLOC_ARENA_MAX=2); repeatable")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    PAGES.update(page_controls())
    print("pages and keys:", {p or "/": sorted(k) for p, k in PAGES.items()}, flush=True)
    server = Server(env=dict(kv.split("=", 1) for kv in args.env))
    pid = server.proc.pid
    samples: list[tuple[int, int, float]] = []  # (links, reruns, RSS MiB)
    caches: list[float | None] = []  # MiB held by st.cache_data at each sample
    failures: list[str] = []
    reruns = links = 0
    start = time.perf_counter()
    warm = None
    print(f"server pid {pid}, RSS at start {rss_mib(pid):.0f} MiB", flush=True)
    try:
        page = browser = None
        if args.client == "browser":
            from playwright.sync_api import sync_playwright

            pw = sync_playwright().start()
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server.url) else r.abort())
        while links < args.links and time.perf_counter() - start < args.minutes * 60:
            name, path = link(rng)
            try:
                if page is None:
                    query = path.split("?", 1)[1] if "?" in path else ""
                    done, errors = asyncio.run(visit_ws(server.url, name, query, args.reruns))
                    reruns += done
                    if errors:
                        failures.append(f"exception on {path[:200]}")
                else:
                    reruns += browse(page, server.url, name, path, links, failures)
            except Exception as e:  # a timeout, a dropped connection: recorded, the soak goes on
                failures.append(f"{type(e).__name__} on {path[:200]}: {str(e).splitlines()[0] if str(e) else ''}")
            links += 1
            if links % args.every == 0 or links == args.warmup:
                ok = healthy(server.url)
                if not ok or server.proc.poll() is not None:
                    failures.append(f"health check failed after {links} links")
                    if server.proc.poll() is not None:
                        break
                samples.append((links, reruns, rss_mib(pid)))
                caches.append(cache_mib(server.url))
                if links == args.warmup:
                    warm = samples[-1][2]
                cached = "?" if caches[-1] is None else f"{caches[-1]:6.1f}"
                print(f"{time.perf_counter() - start:7.0f} s  links {links:5d}  reruns {reruns:6d}  "
                      f"RSS {samples[-1][2]:7.1f} MiB  caches {cached} MiB  health {'ok' if ok else 'FAILED'}",
                      flush=True)
        if browser is not None:
            browser.close()
            pw.stop()
        if server.proc.poll() is None:
            if not healthy(server.url):
                failures.append("health check failed at the end")
            samples.append((links, reruns, rss_mib(pid)))
            caches.append(cache_mib(server.url))
    finally:
        server.stop()

    duration = time.perf_counter() - start
    rss = [s[2] for s in samples]
    print(f"\n{links} links, {reruns} reruns ({args.client} client) in {duration:.0f} s "
          f"({reruns / duration:.1f} reruns/s), one server process")
    if rss:
        print(f"RSS after warm-up ({args.warmup} links): {warm if warm is not None else rss[0]:.1f} MiB; "
              f"at the end: {rss[-1]:.1f} MiB; largest: {max(rss):.1f} MiB")
    if len(samples) >= 4:
        first, second = levelled(samples)
        print(f"RSS trend: {first:+.1f} MiB per 1000 links over the first half of the samples, {second:+.1f} over the "
              f"second ({'levelled off' if second < max(first / 4, 10) else 'still rising'})")
    known = [c for c in caches if c is not None]
    if known:
        print(f"st.cache_data payload: at the end {known[-1]:.1f} MiB, largest {max(known):.1f} MiB")
    if args.env:
        print("server environment:", " ".join(args.env))
    print(f"health checks: {sum(1 for _ in samples)} sampled, failures: {len(failures)}")
    for f in failures[:20]:
        print("  " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
