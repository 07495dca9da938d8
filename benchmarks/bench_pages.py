"""Each page's warm rerun cost after a control change, on a real server (issue 18's target: <= 100 ms).

A warm rerun: a control moved to a value this server has seen before (st.cache_data answers), as a
student moving a slider back and forth. For each case a protocol-level client (nnviz.ui.protocol, the
browser's own websocket messages) opens the link on `streamlit run app.py` (one torch thread,
NNVIZ_TORCH_THREADS=1, no warm-up), moves the control to A and back to B once (cold), then
alternates A, B for --reps more reruns (all warm). Printed per case: the server process's CPU per warm
rerun (all its threads, from /proc: the script, the protobuf and websocket work; a mean over the reruns,
as /proc counts in 10 ms ticks) and the median wall time from sending the change to the script's end.
Cases: every page at its default link and at heavier settings, in presentation mode, and after a
question's reveal (a committed guess: the verdict and the answer's figure on screen).

    python benchmarks/bench_pages.py [--reps 8] [--compare DIR] [--only TEXT] [--profile CASE] [--train]

--compare DIR: a second checkout (e.g. `git archive HEAD | tar -x -C /tmp/before`) served side by side,
               each case measured on both servers in turn, so the before/after figures share one run.
--profile CASE: run that case's warm reruns in-process (AppTest) under cProfile and print the top.
--train: also the regression and classifier Train runs against their bare loops (AppTest, in-process).
Only 127.0.0.1 is contacted; the servers are stopped at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser import Server  # noqa: E402
from nnviz.ui.protocol import Client  # noqa: E402

TARGET_MS = 100.0
ALL13 = "&".join(f"fn={f}" for f in ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "mish",
                                     "softplus", "softsign", "hardtanh", "hardswish"))
HEAVY = "act=mish&act=gelu&act=selu&act=sigmoid&width=128&norm=batchnorm&residual=true&dtype=float64"
CLF = "part=Train+a+classifier"


def S(v: float) -> tuple:  # a slider's widget state
    return ("double_array_value", [float(v)])


@dataclass(frozen=True)
class Case:
    label: str
    page: str
    query: str
    key: str  # the control moved
    a: tuple  # its two values, alternated
    b: tuple
    guess: tuple[str, str] | None = None  # (question id, a guess): commit it first (the reveal)


CASES = (
    Case("activations: move x", "activations", "", "x", S(1.0), S(-1.0)),
    Case("activations: 13 functions, leaky slope", "activations", ALL13, "leaky_relu.negative_slope", S(0.05), S(0.1)),
    Case("activations: present, move x", "activations", "present=true", "x", S(1.0), S(-1.0)),
    Case("activations: reveal, move x", "activations", "q=act-sigmoid-max-slope", "x", S(1.0), S(-1.0),
         guess=("act-sigmoid-max-slope", "0.3")),
    Case("losses: move outlier size", "losses", "", "outlier_size", S(12.0), S(14.0)),
    Case("losses: 4 losses, 20 outliers, seed", "losses",
         "loss=l1&loss=mse&loss=huber&loss=smooth_l1&outliers=20&outlier_size=30&noise=3", "data_seed", S(101), S(102)),
    Case("losses: present, outlier size", "losses", "present=true", "outlier_size", S(12.0), S(14.0)),
    Case("losses: reveal, outlier size", "losses", "q=loss-mse-outlier-share", "outlier_size", S(12.0), S(14.0),
         guess=("loss-mse-outlier-share", "50")),
    Case("vanishing: default, seed", "vanishing", "", "init_seed", S(101), S(102)),
    Case("vanishing: heaviest, seed", "vanishing", HEAVY, "init_seed", S(101), S(102)),
    Case("vanishing: present, depth", "vanishing", "present=true", "depth", S(20), S(30)),
    Case("vanishing: reveal, depth", "vanishing", "q=van-sigmoid-depth-30", "depth", S(20), S(30),
         guess=("van-sigmoid-depth-30", "1e-6")),
    Case("regression: move w", "regression", "", "w", S(1.0), S(-1.0)),
    Case("regression: reveal, move w", "regression", "q=reg-first-grad", "w", S(1.0), S(-1.0),
         guess=("reg-first-grad", "-1")),
    Case("regression: present, move w", "regression", "present=true", "w", S(1.0), S(-1.0)),
    Case("logits: temperature", "logits", "", "temperature", S(2.0), S(3.0)),
    Case("logits: logit range", "logits", "", "z_range", S(60.0), S(80.0)),
    Case("logits: present, temperature", "logits", "present=true", "temperature", S(2.0), S(3.0)),
    Case("logits: reveal, temperature", "logits", "q=logit-bce-at-50", "temperature", S(2.0), S(3.0),
         guess=("logit-bce-at-50", "100")),
    Case("logits classifier: noise", "logits", CLF, "clf_noise", S(0.2), S(0.25)),
    Case("logits classifier: present, noise", "logits", CLF + "&present=true", "clf_noise", S(0.2), S(0.25)),
)


class AppServer(Server):
    """`streamlit run app.py` in `root` on a free loopback port: one torch thread, no warm-up."""

    def __init__(self, root: Path, flags: tuple[str, ...] = ()) -> None:
        super().__init__({"NNVIZ_WARM": "0", "NNVIZ_TORCH_THREADS": "1"}, root, flags, Path("/tmp"))

    def cpu(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    cpu_ms: float  # server CPU per warm rerun (mean)
    wall_ms: float  # median wall per warm rerun
    cold_ms: float  # the first change's wall (A, new to this server unless another case computed it)
    kb: float  # median bytes per warm rerun
    charts: int  # charts sent per warm rerun (median)


async def measure(server: AppServer, case: Case, reps: int) -> Result:
    c = Client(server.url, time.monotonic() + 600)
    try:
        run = await c.open(case.page, case.query)
        assert run.status == 0 and not run.exceptions, (case.label, run.exceptions)
        if case.guess:
            qid, text = case.guess
            submit = next(el.id for _, (k, el) in run.screen.items() if k == "button" and el.is_form_submitter)
            c.set(f"guess_{qid}", ("string_value", text))
            run = await c.press("", wid=submit)
            assert run.status == 0 and not run.exceptions and run.charts, (case.label, run.exceptions)
        cold = await c.change(case.key, case.a)
        await c.change(case.key, case.b)
        walls, kbs, charts = [], [], []
        cpu0 = server.cpu()
        for i in range(reps):
            r = await c.change(case.key, case.a if i % 2 == 0 else case.b)
            assert r.status == 0 and not r.exceptions, (case.label, r.exceptions)
            walls.append(r.seconds)
            kbs.append(r.bytes / 1024)
            charts.append(r.charts)
        cpu = (server.cpu() - cpu0) / reps
        return Result(1000 * cpu, 1000 * statistics.median(walls), 1000 * cold.seconds, statistics.median(kbs),
                      int(statistics.median(charts)))
    finally:
        await c.close()


def profile(case: Case, reps: int) -> None:
    """The case's warm reruns in-process (AppTest, the same script), under cProfile."""
    import cProfile
    import pstats

    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest
    from urllib.parse import parse_qs

    init = PagesManager.__init__

    def patched(self, *a, **k):  # as a running server is after its first session (tests/conftest.py)
        init(self, *a, **k)
        PagesManager.uses_pages_directory = False
    PagesManager.__init__ = patched
    import torch
    torch.set_num_threads(1)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    for k, v in parse_qs(case.query).items():
        at.query_params[k] = v
    at.switch_page(f"pages/{case.page}.py")
    at.run()
    if case.guess:
        qid, text = case.guess
        at.text_input(key=f"guess_{qid}").set_value(text)
        next(b for b in at.button if b.proto.is_form_submitter).click()
        at.run()

    def set_value(v):
        widget = next(w for w in at.slider if w.key == case.key) if case.key in [w.key for w in at.slider] else None
        if widget is None:
            raise SystemExit(f"--profile: no slider {case.key!r} on the page")
        widget.set_value(v[1][0])
    for v in (case.a, case.b):
        set_value(v)
        at.run()
    from streamlit.runtime.scriptrunner import script_runner

    prof, on = cProfile.Profile(), [False]
    original = script_runner.ScriptRunner._run_script

    def run_script(self, *args, **kwargs):  # the script runs in its own thread: profile that thread
        if not on[0]:
            return original(self, *args, **kwargs)
        prof.enable()
        try:
            return original(self, *args, **kwargs)
        finally:
            prof.disable()
    script_runner.ScriptRunner._run_script = run_script
    for i in range(reps):
        set_value(case.a if i % 2 == 0 else case.b)
        on[0] = True
        at.run()
        on[0] = False
    assert not at.exception, at.exception
    pstats.Stats(prof).sort_stats("cumulative").print_stats(60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=8, help="warm reruns per case")
    ap.add_argument("--compare", type=Path, help="another checkout, measured side by side (before)")
    ap.add_argument("--only", default="", help="only the cases whose label contains this text")
    ap.add_argument("--profile", help="profile the case whose label contains this text (in-process) and stop")
    ap.add_argument("--train", action="store_true", help="also the Train runs against their bare loops")
    a = ap.parse_args()
    cases = [c for c in CASES if a.only in c.label]
    if a.profile:
        profile(next(c for c in CASES if a.profile in c.label), a.reps)
        return
    trees = ([("before", a.compare.resolve())] if a.compare else []) + [("now", ROOT)]
    servers = {name: AppServer(root) for name, root in trees}
    results: dict[str, dict[str, Result]] = {name: {} for name in servers}
    try:
        for case in cases:
            for name, server in servers.items():  # each case on every tree in turn: the same moment's load
                results[name][case.label] = asyncio.run(measure(server, case, a.reps))
    finally:
        for s in servers.values():
            s.stop()

    print(f"\nwarm rerun after a control change, one torch thread, {a.reps} warm reruns per case; "
          f"load average {os.getloadavg()[0]:.2f} (other work on the machine counts in wall time)")
    print("server CPU: the app process's CPU per warm rerun (all threads); wall: median, send to script end\n")
    names = list(servers)
    head = "".join(f"{n + ' CPU':>12}{n + ' wall':>12}" for n in names)
    print(f"{'case':<42}{head}{'KB':>8}{'charts':>7}  over {TARGET_MS:.0f} ms (CPU)")
    over = []
    for case in cases:
        cells = "".join(f"{results[n][case.label].cpu_ms:>10.0f}ms{results[n][case.label].wall_ms:>10.0f}ms"
                        for n in names)
        now = results["now"][case.label]
        flag = "OVER" if now.cpu_ms > TARGET_MS else ""
        if flag:
            over.append(case.label)
        print(f"{case.label:<42}{cells}{now.kb:>8.0f}{now.charts:>7}  {flag}")
    if a.compare:
        b, n = results["before"], results["now"]
        ratio = statistics.geometric_mean([max(b[c.label].cpu_ms, 1) / max(n[c.label].cpu_ms, 1) for c in cases])
        print(f"\nCPU per warm rerun, before / now, geometric mean over the cases: {ratio:.1f}x")
    print(f"\ncases over {TARGET_MS:.0f} ms server CPU per warm rerun: " + (", ".join(over) if over else "none"))
    if a.train:
        train(a.reps)


def train(reps: int) -> None:
    """The regression page's Train run beside the bare seed-note loop, and the classifier's (AppTest)."""
    import torch
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    init = PagesManager.__init__

    def patched(self, *a, **k):
        init(self, *a, **k)
        PagesManager.uses_pages_directory = False
    PagesManager.__init__ = patched
    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_classification import bare as bare_classifier
    from bench_regression import bare

    from nnviz.classification import ClassifierConfig, make_data

    def open_page(page: str, **query) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        for k, v in query.items():
            at.query_params[k] = v
        at.switch_page(page)
        at.run()
        return at

    page_times, bare_times = [], []
    for _ in range(reps):
        at = open_page("pages/regression.py")
        t0 = time.perf_counter()
        at.button(key="train").click().run()
        page_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bare(1000, "cpu")
        bare_times.append(time.perf_counter() - t0)
    p, b = statistics.median(page_times), statistics.median(bare_times)
    print(f"\nregression, default 1000-epoch run (cpu): page rerun with Train {p * 1000:.0f}ms, "
          f"bare seed-note loop {b * 1000:.0f}ms, difference {1000 * (p - b):.0f}ms (drawing, snapshots, page)")
    cfg = ClassifierConfig()
    data = make_data(cfg)
    page_times, bare_times = [], []
    for _ in range(reps):
        at = open_page("pages/logits.py", part="Train a classifier")
        t0 = time.perf_counter()
        at.button(key="train_clf").click().run()
        page_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bare_classifier(cfg, data, "cpu")
        bare_times.append(time.perf_counter() - t0)
    p, b = statistics.median(page_times), statistics.median(bare_times)
    print(f"logits classifier, default {cfg.epochs}-epoch run (cpu): page rerun with Train {p * 1000:.0f}ms "
          f"({cfg.epochs / p:.0f} epochs/s), bare loop of the same network {b * 1000:.0f}ms "
          f"({cfg.epochs / b:.0f} epochs/s)")
    # the Deep training page's live view against the bare loop (issue 19: within 2x): depth 20, width 64,
    # 200 points, 300 epochs, sigmoid with PyTorch's default init (the bare loop's nn.Sequential is the same net)
    from bench_deep import bare as bare_deep

    from nnviz import deep as D

    dcfg = D.DeepConfig(depth=20, width=64, n=200, epochs=300)
    ddata = D.make_data(dcfg)
    page_times, bare_times = [], []
    for _ in range(reps):
        at = open_page("pages/deep.py", deep_width="64")
        t0 = time.perf_counter()
        at.button(key="train_deep").click().run()
        page_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bare_deep(dcfg, ddata)  # returns the losses; timed here
        bare_times.append(time.perf_counter() - t0)
    p, b = statistics.median(page_times), statistics.median(bare_times)
    print(f"deep training, depth 20 x width 64, 300 epochs (cpu): page rerun with Train {p * 1000:.0f}ms, bare "
          f"plain-torch loop {b * 1000:.0f}ms: {p / b:.2f}x (the live view: statistics, frames and the page's run)")


if __name__ == "__main__":
    main()
