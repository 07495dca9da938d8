"""nnviz.deep.train against a bare plain-torch loop of the same network, in one process, interleaved.

The issue's case: depth 20, width 64, 200 points (140 train), 300 epochs, snapshots every 10, one
torch thread. Prints seconds per run and the ratio to the bare loop (median over repetitions) for
    bare        the seed note's loop on an nn.Sequential of the same layers, no snapshots
    loop        nnviz.training's loop and snapshots (losses only) on deep's model: the trainer without statistics
    deep        nnviz.deep.train: the trainer with every per-layer statistic at each snapshot
The issue asks: deep / bare <= 2 and (deep - bare) / bare <= 0.30 (the statistics add at most 30%).
    python benchmarks/bench_deep.py [--device cpu] [--reps 5] [--threads 1] [--activation sigmoid] [--norm none]
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nnviz import deep as D, training  # noqa: E402
from bench_regression import interleaved  # noqa: E402  (benchmarks/ is on the path: the script's own folder)


def bare(cfg: D.DeepConfig, data: training.Data) -> float:
    """The seed note's loop on nn.Sequential(Linear, act, ..., Linear) (nn.Linear's default init
    after torch.manual_seed), SGD; no residual or norm: bench only such configs."""
    torch.manual_seed(cfg.seed)
    act = D.ACTIVATIONS[cfg.activation]
    widths = [data.X_train.shape[1]] + [cfg.width] * cfg.depth
    layers: list[nn.Module] = []
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b), act.build(act.defaults())]
    model = nn.Sequential(*layers, nn.Linear(cfg.width, 1)).to(data.X_train.device)
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    for epoch in range(cfg.epochs):
        model.train()
        out = model(data.X_train)
        loss = loss_fn(out, data.y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.inference_mode():
            test_loss = loss_fn(model(data.X_test), data.y_test)
    return loss.item() + test_loss.item()


@dataclass(frozen=True)
class Losses:
    epoch: int
    train_loss: float
    test_loss: float
    diverged: bool = False


def loop(cfg: D.DeepConfig, data: training.Data, every: int) -> list[Losses]:
    """nnviz.training's loop and snapshot thinning on deep's model, snapshots of the two losses only."""
    model = D.make_model(cfg, data.X_train.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    steps = training.epochs(model, D.make_loss(cfg), optimizer, data, cfg.epochs)
    snap = lambda s: Losses(s.epoch, *torch.stack([s.loss.detach(), s.test_loss]).tolist())  # noqa: E731
    return list(training.snapshots(steps, cfg.epochs, every, snap))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: leave torch's default)")
    ap.add_argument("--activation", default="sigmoid")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = D.DeepConfig(depth=20, width=64, n=200, epochs=a.epochs, activation=a.activation)
    assert (cfg.init, cfg.norm, cfg.residual, cfg.optimizer, cfg.clip) == ("default", "none", False, "sgd", None)
    dev = a.device
    data = D.make_data(cfg).to(dev)
    runs = {
        "bare": lambda: bare(cfg, data),
        "loop": lambda: loop(cfg, data, a.every),
        "deep": lambda: list(D.train(cfg, dev, every=a.every)),
    }
    names = {"bare": "bare plain-torch loop", "loop": "trainer without statistics",
             "deep": "nnviz.deep.train (statistics)"}

    med = interleaved(runs, a.reps, dev)
    print(f"device {dev}, torch threads {torch.get_num_threads()}, depth {cfg.depth}, width {cfg.width}, "
          f"{cfg.n} points ({len(data.X_train)} train), {cfg.activation}, {a.epochs} epochs, snapshots every "
          f"{a.every}, median of {a.reps} interleaved runs")
    print(f"{'loop':<34}{'s/run':>10}{'ratio to bare':>16}")
    for k, v in med.items():
        print(f"{names[k]:<34}{v:>10.3f}{v / med['bare']:>16.3f}")
    print(f"statistics add {(med['deep'] - med['loop']) / med['bare']:.1%} of the bare loop over the trainer "
          f"without them; the whole is {med['deep'] / med['bare']:.2f}x the bare loop (issue: <= 30%, <= 2x)")


if __name__ == "__main__":
    main()
