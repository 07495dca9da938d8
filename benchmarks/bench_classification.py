"""nnviz.classification.train against a bare loop of the same model, in one process, interleaved.

Prints epochs per second for each and their ratio (train / bare), median over repetitions: the
trainer with snapshots every 10 epochs, and with decision regions at 10 frames as well (what the
page asks for). Run:
    python benchmarks/bench_classification.py [--device cpu] [--reps 7] [--epochs 300] [--threads N]
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nnviz.classification import ClassifierConfig, make_data, train  # noqa: E402
from bench_regression import interleaved  # noqa: E402  (benchmarks/ is on the path: the script's own folder)


def bare(cfg: ClassifierConfig, data, device: str) -> tuple[float, float]:
    """The seed note's loop for the default classifier (Linear(2, 8), Tanh, Linear(8, 1), BCE with
    logits, Adam), global seed, no snapshots."""
    X_train, X_test = data.X_train.to(device), data.X_test.to(device)
    y_train, y_test = data.y_train.float().unsqueeze(1).to(device), data.y_test.float().unsqueeze(1).to(device)
    torch.manual_seed(cfg.seed)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).to(device)
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    for epoch in range(cfg.epochs):
        model.train()
        y_logits = model(X_train)
        loss = loss_fn(y_logits, y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.inference_mode():
            test_logits = model(X_test)
            test_loss = loss_fn(test_logits, y_test)
    return loss.item(), test_loss.item()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=ClassifierConfig().epochs)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = replace(ClassifierConfig(), epochs=a.epochs)
    assert (cfg.hidden, cfg.activation, cfg.loss, cfg.optimizer) == ((8,), "tanh", "bce", "adam"), "bare() is this model"
    data, dev = make_data(cfg), a.device
    frames = tuple(range(0, a.epochs, max(a.epochs // 10, 1)))

    runs = {
        "bare": lambda: bare(cfg, data, dev),
        "eager": lambda: list(train(cfg, dev, every=a.every)),
        "eager_regions": lambda: list(train(cfg, dev, every=a.every, regions_at=frames)),
    }
    if dev.startswith("cuda"):
        runs["cuda_graph"] = lambda: list(train(cfg, dev, every=a.every, engine="cuda_graph"))
    names = {"bare": "bare seed-note loop", "eager": "nnviz train (eager)",
             "eager_regions": f"  + {len(frames) + 1} regions (60x60)", "cuda_graph": "nnviz train (CUDA graph)"}

    med = interleaved(runs, a.reps, dev)
    print(f"device {dev}, torch threads {torch.get_num_threads()}, default classifier, {a.epochs} epochs, "
          f"snapshots every {a.every}, median of {a.reps} interleaved runs")
    print(f"{'loop':<30}{'epochs/s':>12}{'ratio to bare':>16}")
    for k, v in med.items():
        print(f"{names[k]:<30}{a.epochs / v:>12.0f}{med['bare'] / v:>16.3f}")


if __name__ == "__main__":
    main()
