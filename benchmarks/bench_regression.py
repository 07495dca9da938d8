"""nnviz.regression.train against a bare copy of the seed note's loop, in one process, interleaved.

Prints epochs per second for each and their ratio (train / bare), median over repetitions; the
issue asks for a ratio of at least 0.9 with snapshots every 10 epochs. Run:
    python benchmarks/bench_regression.py [--device cpu] [--reps 7] [--epochs 1000]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nnviz.regression import RegressionConfig, _sync, train  # noqa: E402


def bare(epochs: int, device: str) -> tuple[float, float]:
    """The seed note's loop as written there (global seed, no snapshots)."""
    weight, bias = 0.7, 0.3
    X = torch.arange(0, 1, 0.02).unsqueeze(1)
    y = weight * X + bias
    split = int(0.8 * len(X))
    X_train, y_train = X[:split].to(device), y[:split].to(device)
    X_test, y_test = X[split:].to(device), y[split:].to(device)
    torch.manual_seed(42)
    model = nn.Linear(1, 1).to(device)
    loss_fn = nn.L1Loss()
    optimizer = torch.optim.SGD(params=model.parameters(), lr=0.01)
    for epoch in range(epochs):
        model.train()
        y_pred = model(X_train)
        loss = loss_fn(y_pred, y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.inference_mode():
            test_pred = model(X_test)
            test_loss = loss_fn(test_pred, y_test)  # noqa: F841 (as in the seed note)
    return model.weight.item(), model.bias.item()


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(runs: dict, reps: int, device: str) -> dict:
    """{name: median seconds} of each run (a callable), each warmed up once, then timed `reps` times in turn
    (interleaved, so the machine's drift hits all alike), the device synchronised after each."""
    def run(k):
        runs[k]()
        _sync(device)

    for k in runs:  # warm-up
        run(k)
    times = {k: [] for k in runs}
    for _ in range(reps):
        for k in runs:
            times[k].append(timed(lambda: run(k)))
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--every", type=int, default=10)
    a = ap.parse_args()
    cfg = RegressionConfig(epochs=a.epochs)
    dev = a.device

    def run_train(engine: str = "eager"):
        for _ in train(cfg, dev, every=a.every, engine=engine):
            pass

    engines = ["eager"] + (["cuda_graph"] if dev.startswith("cuda") else [])
    med = interleaved({"bare": lambda: bare(a.epochs, dev)} | {e: (lambda e=e: run_train(e)) for e in engines},
                      a.reps, dev)
    print(f"device {dev}, {a.epochs} epochs, snapshots every {a.every}, median of {a.reps} interleaved runs")
    print(f"{'loop':<28}{'epochs/s':>12}{'ratio to bare':>16}")
    for k, v in med.items():
        name = {"bare": "bare seed-note loop", "eager": "nnviz train (eager)", "cuda_graph": "nnviz train (CUDA graph)"}[k]
        print(f"{name:<28}{a.epochs / v:>12.0f}{med['bare'] / v:>16.3f}")


if __name__ == "__main__":
    main()
