"""Server-side rerun time of each page after a widget change, measured through AppTest.

For each case: a cold rerun (new settings: the computation runs, cache miss) and a warm one
(settings seen before: st.cache_data answers), median of several. The regression page's Train run
is shown beside the bare seed-note loop timed in the same process. Run:
    python benchmarks/bench_pages.py [--threads 1] [--reps 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from streamlit.runtime.pages_manager import PagesManager  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

# As a running server is after its first session (see tests/conftest.py): no legacy pages mode.
_init = PagesManager.__init__


def _patched(self, *a, **k):
    _init(self, *a, **k)
    PagesManager.uses_pages_directory = False


PagesManager.__init__ = _patched


def open_page(page: str, **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def rerun_time(at: AppTest, change) -> float:
    change(at)
    t0 = time.perf_counter()
    at.run()
    dt = time.perf_counter() - t0
    assert not at.exception, at.exception
    return dt


CASES = [
    # (label, page, query, widget change applied to make a new setting; i is the repetition)
    ("activations: move x range", "pages/activations.py", {},
     lambda at, i: at.slider(key="xmin").set_value(-6.0 + 0.5 * (i + 1))),
    ("activations: all 13 functions, change slope", "pages/activations.py",
     {"fn": ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "mish", "softplus",
             "softsign", "hardtanh", "hardswish"]},
     lambda at, i: at.slider(key="leaky_relu.negative_slope").set_value(0.02 + 0.01 * i)),
    ("L1 vs MSE: move outlier size", "pages/losses.py", {},
     lambda at, i: at.slider(key="outlier_size").set_value(10.0 + 0.5 * (i + 1))),
    ("L1 vs MSE: 4 losses, 20 outliers, new seed", "pages/losses.py",
     {"loss": ["l1", "mse", "huber", "smooth_l1"], "outliers": "20", "outlier_size": "30", "noise": "3"},
     lambda at, i: at.slider(key="data_seed").set_value(100 + i)),
    ("vanishing: default, new seed", "pages/vanishing.py", {},
     lambda at, i: at.slider(key="init_seed").set_value(100 + i)),
    ("vanishing: largest (4 acts, w128, BN, residual, f64)", "pages/vanishing.py",
     {"act": ["mish", "gelu", "selu", "sigmoid"], "width": "128", "depth": "50", "norm": "batchnorm",
      "residual": "true", "dtype": "float64", "init": "kaiming_normal"},
     lambda at, i: at.slider(key="init_seed").set_value(100 + i)),
    ("logits: change temperature", "pages/logits.py", {},
     lambda at, i: at.slider(key="temperature").set_value(1.5 + 0.5 * i)),
    ("logits: change the logit range (a new sweep)", "pages/logits.py", {},
     lambda at, i: at.slider(key="z_range").set_value(200.0 + 10 * i)),
    ("logits classifier: change noise (untrained regions)", "pages/logits.py", {"part": "Train a classifier"},
     lambda at, i: at.slider(key="clf_noise").set_value(0.15 + 0.01 * i)),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 = one core)")
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch threads: {a.threads}; median of {a.reps} reruns each\n")
    print(f"{'case':<56}{'cold rerun':>12}{'warm rerun':>12}")
    for label, page, query, change in CASES:
        at = open_page(page, **query)
        cold = [rerun_time(at, lambda t, i=i: change(t, i)) for i in range(a.reps)]
        warm = [rerun_time(at, lambda t, i=i: change(t, i)) for i in range(a.reps)]  # same values again
        print(f"{label:<56}{statistics.median(cold) * 1000:>10.0f}ms{statistics.median(warm) * 1000:>10.0f}ms")

    # The live page against the bare loop, in the same process.
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_regression import bare

    page_times, bare_times = [], []
    for _ in range(a.reps):
        at = open_page("pages/regression.py")
        at.button(key="train")
        t0 = time.perf_counter()
        at.button(key="train").click().run()
        page_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bare(1000, "cpu")
        bare_times.append(time.perf_counter() - t0)
    p, b = statistics.median(page_times), statistics.median(bare_times)
    print(f"\nregression, default 1000-epoch run (cpu): page rerun with Train {p * 1000:.0f}ms, "
          f"bare seed-note loop {b * 1000:.0f}ms, difference {1000 * (p - b):.0f}ms (drawing, snapshots, page)")

    from bench_classification import bare as bare_classifier
    from nnviz.classification import ClassifierConfig, make_data

    cfg = ClassifierConfig()
    data = make_data(cfg)
    page_times, bare_times = [], []
    for _ in range(a.reps):
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
          f"({cfg.epochs / b:.0f} epochs/s): drawing, 11 decision-region grids, snapshots, page")


if __name__ == "__main__":
    main()
