"""Soak test (not run in CI): one fresh server driven through thousands of reruns across every page
and setting, with /_stcore/health polled and the server's memory (RSS) sampled throughout.

One Chromium tab opens link after link (each a new session, as a class of students opening shared
links) and, on each, moves a slider a few times (each a rerun in that session); now and then it
trains the regression. Only 127.0.0.1 is contacted. Bounded by a count and a time limit. Prints
the RSS after warm-up, at the end and the largest; exits non-zero if a health check failed, the
server died, or a page showed an exception. Run:
    python benchmarks/soak.py [--links 1500] [--minutes 10] [--moves 2] [--seed 0]
"""
from __future__ import annotations

import argparse
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
from nnviz import activations as A, losses as L, regression as R, vanishing as V  # noqa: E402
from nnviz.controls import BoolSpec, ChoiceSpec, FloatSpec, IntSpec, MultiChoiceSpec  # noqa: E402

# Each page's URL keys and their specs (the core's single definition of every control).
PAGES = {
    "activations": {"fn": A.FN, "xmin": A.XMIN, "xmax": A.XMAX, "sat": A.SATURATION, "x": A.POINT},
    "losses": {"loss": L.LOSS, "outliers": L.OUTLIERS, "outlier_size": L.OUTLIER_SIZE, "noise": L.NOISE,
               "seed": L.SEED, "delta": L.DELTA, "beta": L.BETA},
    "vanishing": {"act": V.ACT, "depth": V.DEPTH, "width": V.WIDTH, "init": V.INIT, "std": V.STD,
                  "residual": V.RESIDUAL, "norm": V.NORM, "dtype": V.DTYPE, "seed": V.SEED},
    "regression": {"w": R.W, "b": R.B, "noise": R.NOISE, "n": R.N, "split": R.SPLIT, "loss": R.LOSS,
                   "opt": R.OPT, "lr": R.LR, "epochs": R.EPOCHS, "seed": R.SEED},
    "": {},  # home
}
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


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as r:
            return r.read().decode().strip() == "ok"
    except OSError:
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--links", type=int, default=1500, help="links opened (each a new session)")
    ap.add_argument("--minutes", type=float, default=10.0, help="stop after this long, whatever the count")
    ap.add_argument("--moves", type=int, default=2, help="slider moves (reruns) per link")
    ap.add_argument("--warmup", type=int, default=100, help="links before the warm-up RSS is taken")
    ap.add_argument("--every", type=int, default=25, help="health check and RSS sample every N links")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from playwright.sync_api import TimeoutError as PlaywrightTimeout, sync_playwright

    exe = chromium_path()
    if exe is None:
        print("no Chromium found (apt-get install chromium)")
        return 2
    rng = random.Random(args.seed)
    server = Server()
    pid = server.proc.pid
    samples: list[tuple[int, int, float]] = []  # (links, reruns, RSS MiB)
    failures: list[str] = []
    reruns = links = trains = 0
    start = time.perf_counter()
    warm = None
    print(f"server pid {pid}, RSS at start {rss_mib(pid):.0f} MiB", flush=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server.url) else r.abort())
            while links < args.links and time.perf_counter() - start < args.minutes * 60:
                name, path = link(rng)
                try:
                    page.goto(server.url + path)
                    wait_idle(page, timeout=60_000)
                    reruns += 1
                    sliders = page.locator("[data-testid='stMain'] [data-testid='stSlider'] [role='slider']")
                    for _ in range(args.moves if sliders.count() else 0):
                        s = sliders.nth(rng.randrange(sliders.count()))
                        if not s.is_visible():
                            continue
                        s.focus()
                        page.keyboard.press(rng.choice(["ArrowRight", "ArrowLeft"]))
                        wait_idle(page, timeout=60_000)
                        reruns += 1
                    if name == "regression" and links % 10 == 0:
                        page.locator("[data-testid='stMain'] [data-testid='stButton'] button",
                                     has_text="Train").first.click()
                        page.wait_for_selector("[data-testid='stAlert']:has-text('Trained')", timeout=120_000)
                        wait_idle(page, timeout=60_000)
                        reruns, trains = reruns + 1, trains + 1
                    if page.locator("[data-testid='stException']").count():
                        failures.append(f"exception on {path[:200]}")
                except PlaywrightTimeout as e:
                    failures.append(f"timeout on {path[:200]}: {str(e).splitlines()[0]}")
                links += 1
                if links % args.every == 0 or links == args.warmup:
                    ok = healthy(server.url)
                    if not ok or server.proc.poll() is not None:
                        failures.append(f"health check failed after {links} links")
                        if server.proc.poll() is not None:
                            break
                    samples.append((links, reruns, rss_mib(pid)))
                    if links == args.warmup:
                        warm = samples[-1][2]
                    print(f"{time.perf_counter() - start:7.0f} s  links {links:5d}  reruns {reruns:5d}  "
                          f"RSS {samples[-1][2]:7.1f} MiB  health {'ok' if ok else 'FAILED'}", flush=True)
            browser.close()
        if server.proc.poll() is None:
            if not healthy(server.url):
                failures.append("health check failed at the end")
            samples.append((links, reruns, rss_mib(pid)))
    finally:
        server.stop()

    duration = time.perf_counter() - start
    rss = [s[2] for s in samples]
    print(f"\n{links} links, {reruns} reruns ({trains} trainings) in {duration:.0f} s "
          f"({reruns / duration:.1f} reruns/s), one server process")
    if rss:
        print(f"RSS after warm-up ({args.warmup} links): {warm if warm is not None else rss[0]:.1f} MiB; "
              f"at the end: {rss[-1]:.1f} MiB; largest: {max(rss):.1f} MiB")
    print(f"health checks: {sum(1 for _ in samples)} sampled, failures: {len(failures)}")
    for f in failures[:20]:
        print("  " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
