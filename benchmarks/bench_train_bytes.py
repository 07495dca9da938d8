"""Bytes and websocket frames a student's browser receives per default Train on the regression page
(or, with --page deep, on the Deep training page: its default run, 300 epochs of a deep sigmoid net).

Starts a fresh server (tests/browser.py's Server), opens the page in Chromium (Playwright), presses
Train and sums the websocket frames received from the click until "Trained N epochs" shows and the
script is idle. Once on an idle server, then with --others pages pressing Train at the same moment
(every page is measured; the figures of the loaded run are over all of them). Run:
    python benchmarks/bench_train_bytes.py [--page regression|deep] [--others 4] [--reps 2] [--by-element]
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter as Counter_
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import CHROMIUM_ARGS, Server, chromium_path, wait_idle  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

PAGES = {  # page: (its URL, what shows once its Train is done)
    "regression": ("/regression?lr=0.01&epochs=1000",  # the default run: L1, SGD, 1000 epochs
                   "[data-testid='stAlert']:has-text('Trained 1000 epochs')"),
    "deep": ("/deep",  # the default run: depth 20, width 32, sigmoid, PyTorch's default init, 300 epochs
             "[data-testid='stCaptionContainer']:has-text('Trained 300 epochs')"),
}
URL, DONE = PAGES["regression"]


class Counter:
    """Websocket frames received by one page (Streamlit's ForwardMsgs), counted from reset(), in all
    and by what they carry (kind())."""

    def __init__(self, page) -> None:
        self.frames = self.bytes = 0
        self.kinds: Counter_[str] = Counter_()
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        data = payload if isinstance(payload, (bytes, bytearray)) else payload.encode()
        self.frames += 1
        self.bytes += len(data)
        self.kinds[kind(data)] += len(data)

    def reset(self) -> None:
        self.frames = self.bytes = 0
        self.kinds.clear()


def kind(data: bytes) -> str:
    """What one ForwardMsg carries: an element type (a chart by its key, numbers dropped), a block,
    a reference to a message the browser has cached, or the message type."""
    msg = ForwardMsg()
    try:
        msg.ParseFromString(bytes(data))
    except Exception:  # noqa: BLE001 - a text frame or a format this script does not know
        return "unparsed"
    what = msg.WhichOneof("type")
    if what != "delta":
        return str(what)
    delta = msg.delta.WhichOneof("type")
    if delta != "new_element":
        return delta
    element = msg.delta.new_element.WhichOneof("type")
    if element == "plotly_chart":
        key = msg.delta.new_element.plotly_chart.id.rsplit("-", 1)[-1]
        return "plotly_chart " + re.sub(r"\d+$", "N", key)
    return element


def open_pages(browser, url: str, n: int):
    pages = []
    for _ in range(n):
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        counter = Counter(page)
        page.goto(url)
        page.wait_for_selector("[data-testid='stPlotlyChart']", timeout=120_000)
        wait_idle(page, timeout=120_000)
        pages.append((page, counter))
    return pages


def train_together(pages, by_kind: bool = False) -> list[tuple[int, int, float]]:
    """Press Train on every page at once; (bytes, frames, seconds) per page. `by_kind`: print the
    first page's bytes by what they carry."""
    for _, counter in pages:
        counter.reset()
    t0 = time.perf_counter()
    for page, _ in pages:
        page.locator("[data-testid='stMain'] [data-testid='stButton'] button", has_text="Train").first.click(
            no_wait_after=True)
    out = []
    for page, counter in pages:
        page.wait_for_selector(DONE, timeout=600_000)
        wait_idle(page, timeout=600_000)
        out.append((counter.bytes, counter.frames, time.perf_counter() - t0))
    if by_kind:
        for what, n in pages[0][1].kinds.most_common():
            print(f"    {n / 1000:7.1f} KB  {what}")
    return out


def show(label: str, rows: list[tuple[int, int, float]]) -> None:
    kb = [r[0] / 1000 for r in rows]
    fr = [r[1] for r in rows]
    print(f"{label:<28} per Train: {statistics.mean(kb):7.1f} KB (max {max(kb):7.1f}), "
          f"{statistics.mean(fr):5.1f} frames (max {max(fr)}), all done in {max(r[2] for r in rows):5.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--others", type=int, default=4, help="pages training at the same time in the loaded run")
    ap.add_argument("--reps", type=int, default=2, help="Trains per case")
    ap.add_argument("--by-element", action="store_true", help="print the idle server's bytes by element")
    ap.add_argument("--page", choices=tuple(PAGES), default="regression", help="the page whose Train is measured")
    args = ap.parse_args()
    global URL, DONE
    URL, DONE = PAGES[args.page]
    server = Server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            solo = open_pages(browser, server.url + URL, 1)
            for rep in range(args.reps):
                show(f"idle server, Train {rep + 1}", train_together(solo, args.by_element))
            solo[0][0].close()
            crowd = open_pages(browser, server.url + URL, 1 + args.others)
            for rep in range(args.reps):
                show(f"{1 + args.others} pages at once, Train {rep + 1}", train_together(crowd))
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
