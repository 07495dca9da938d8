"""Live linear regression: the seed note's training loop, made observable.

Public API (used by the page, the benchmark, notebooks):
    RegressionConfig  frozen dataclass; its defaults are the classic run
    train(config, device="cpu", every=N) -> iterator of Snapshot (epoch, train_loss, test_loss,
                                             weight, bias as floats), every N epochs and the last
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils import skip_init

from . import training
from .controls import ChoiceSpec, FloatSpec, IntSpec
from .training import Data, Step

LOSSES = {"l1": "nn.L1Loss()", "mse": "nn.MSELoss()", "huber": "nn.HuberLoss()"}
OPTIMIZERS = {"sgd": "SGD", "momentum": "SGD with momentum 0.9", "adam": "Adam"}
ENGINES = training.ENGINES  # the loop lives in nnviz.training; the page reads the engines here

# Controls: one definition of their bounds (widgets, URL check, and the cost cap of one run).
W = FloatSpec("True weight", -2.0, 2.0, 0.7, 0.05)
B = FloatSpec("True bias", -2.0, 2.0, 0.3, 0.05)
NOISE = FloatSpec("Noise (std added to y)", 0.0, 0.5, 0.0, 0.01)
N = IntSpec("Number of points", 10, 500, 50, 10)
SPLIT = FloatSpec("Training fraction", 0.5, 0.95, 0.8, 0.05)
LOSS = ChoiceSpec("Loss", tuple(LOSSES), "l1")
OPT = ChoiceSpec("Optimizer", tuple(OPTIMIZERS), "sgd")
VIEW = ChoiceSpec("View", ("Train", "Step by step", "Devices"), "Train")  # the page's tabs (only the open one is computed)
LR = FloatSpec("Learning rate", 0.0001, 10.0, 0.01, 0.0001)
EPOCHS = IntSpec("Epochs", 1, 5000, 1000, 1)
SEED = IntSpec("Seed", 0, 9999, 42)


@dataclass(frozen=True)
class RegressionConfig:
    weight: float = 0.7  # the true line's weight
    bias: float = 0.3  # the true line's bias
    noise: float = 0.0  # std of normal noise added to y (the classic run has none)
    n: int = 50  # points: X = arange(0, 1, 1/n), so 50 gives the classic arange(0, 1, 0.02)
    split: float = 0.8  # the first 80% of the points train, the rest test (no shuffle)
    loss: str = "l1"  # l1 | mse | huber
    optimizer: str = "sgd"  # sgd | momentum | adam
    lr: float = 0.01  # learning rate
    epochs: int = 1000
    seed: int = 42  # initialises nn.Linear(1, 1) as torch.manual_seed(seed); nn.Linear(1, 1) would


@dataclass(frozen=True)
class Snapshot:
    epoch: int  # 0-based epoch just finished
    train_loss: float  # loss of this epoch's forward pass (before its optimizer step)
    test_loss: float  # test loss after this epoch's step, under torch.inference_mode
    weight: float  # after this epoch's step
    bias: float
    diverged: bool = False  # the loss became non-finite or grew far above its start: training stopped


def make_data(cfg: RegressionConfig) -> Data:
    """X = arange(0, 1, 1/n) as a column, y = weight * X + bias (+ noise), split without shuffle."""
    X = torch.arange(0, 1, 1 / cfg.n)[: cfg.n].unsqueeze(1)  # (n, 1)
    y = cfg.weight * X + cfg.bias  # (n, 1)
    if cfg.noise > 0:
        g = torch.Generator().manual_seed(cfg.seed + 1)  # its own stream: init stays the classic one
        y = y + cfg.noise * torch.randn(y.shape, generator=g)
    k = int(round(cfg.split * len(X), 9))  # round first: int(0.7 * 90) would be 62, not 63
    return Data(X[:k], y[:k], X[k:], y[k:])


def make_model(seed: int, device: str | torch.device = "cpu") -> nn.Linear:
    """nn.Linear(1, 1) with exactly the numbers `torch.manual_seed(seed); nn.Linear(1, 1)` gives,
    drawn from a private generator in reset_parameters' order (weight, then bias), so concurrent
    sessions never touch the global random state."""
    return training.default_linear(1, 1, torch.Generator().manual_seed(seed)).to(device)


def make_loss(name: str) -> nn.Module:
    return {"l1": nn.L1Loss, "mse": nn.MSELoss, "huber": nn.HuberLoss}[name]()


def make_optimizer(name: str, params, lr: float, capturable: bool = False) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, capturable=capturable)
    return torch.optim.SGD(params, lr=lr, momentum=0.9 if name == "momentum" else 0.0)


def train(config: RegressionConfig = RegressionConfig(), device: str = "cpu", every: int = 10,
          engine: str = "eager") -> Iterator[Snapshot]:
    """Train on `device`; yield a Snapshot every `every` epochs and at the last. Stops early, with
    diverged=True, when the loss becomes non-finite or grows above 100x its first value.

    engine="cuda_graph" (CUDA only) captures one whole epoch (forward, loss, backward, optimizer
    step, test evaluation) in a CUDA graph and replays it: the same arithmetic without the
    per-kernel launch cost of Python and eager dispatch."""
    dev = torch.device(device)
    training.check_engine(engine, dev)
    data, model, loss_fn, optimizer = _setup(config, dev, capturable=engine == "cuda_graph")
    steps = training.epochs(model, loss_fn, optimizer, data, config.epochs, engine)
    yield from training.snapshots(steps, config.epochs, every, _snapshot)


def _setup(config: RegressionConfig, dev: torch.device, capturable: bool = False):
    """The data on `dev`, the model, the loss module and the optimizer for one run."""
    data = make_data(config).to(dev)
    model = make_model(config.seed, dev)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, capturable)
    return data, model, make_loss(config.loss), optimizer


def _snapshot(step: Step) -> Snapshot:
    model = step.model
    values = torch.stack([step.loss.detach(), step.test_loss, model.weight.detach().flatten()[0],
                          model.bias.detach()[0]]).tolist()  # one device-to-host copy
    return Snapshot(step.epoch, *values)


# --- Step mode -------------------------------------------------------------------------------------

LOOP = (
    ("forward", "y_pred = model(X_train)", "1. Forward pass: predictions from the current weight and bias."),
    ("loss", "loss = loss_fn(y_pred, y_train)", "2. Loss: how far the predictions are from the targets."),
    ("zero_grad", "optimizer.zero_grad()", "3. Zero the gradients left from the previous epoch (they would add up)."),
    ("backward", "loss.backward()", "4. Backward pass: autograd fills weight.grad and bias.grad."),
    ("step", "optimizer.step()", "5. Optimizer step: move the parameters against the gradient."),
)


@dataclass
class Stepper:
    """The training loop one line at a time, for a student to watch (one per session)."""
    config: RegressionConfig
    device: str = "cpu"
    epoch: int = 0  # the epoch in progress
    next_line: int = 0  # index into LOOP of the line that runs next
    y_pred: Tensor | None = None
    loss: Tensor | None = None
    test_loss: float | None = None
    before: tuple[float, float] | None = None  # (weight, bias) before the last step
    history: list = field(default_factory=list)  # (epoch, train_loss, test_loss, weight, bias)

    def __post_init__(self) -> None:
        self.data, self.model, self.loss_fn, self.optimizer = _setup(self.config, torch.device(self.device))

    def advance(self) -> None:
        """Run the next line of the loop; after the step, evaluate on the test set (epoch done)."""
        name = LOOP[self.next_line][0]
        if name == "forward":
            self.model.train()
            self.y_pred = self.model(self.data.X_train)
        elif name == "loss":
            self.loss = self.loss_fn(self.y_pred, self.data.y_train)
        elif name == "zero_grad":
            self.optimizer.zero_grad()
        elif name == "backward":
            self.loss.backward()
        else:
            self.before = self.params()
            self.optimizer.step()
            self.model.eval()
            with torch.inference_mode():
                self.test_loss = self.loss_fn(self.model(self.data.X_test), self.data.y_test).item()
            self.history.append((self.epoch, self.loss.item(), self.test_loss, *self.params()))
        self.next_line = (self.next_line + 1) % len(LOOP)
        if self.next_line == 0:
            self.epoch += 1

    def finish_epoch(self) -> None:
        self.advance()
        while self.next_line != 0:
            self.advance()

    def params(self) -> tuple[float, float]:
        return self.model.weight.item(), self.model.bias.item()

    def grads(self) -> tuple[float | None, float | None]:
        w, b = self.model.weight.grad, self.model.bias.grad
        return (None if w is None else w.item(), None if b is None else b.item())

    def predictions(self) -> list[float] | None:
        return None if self.y_pred is None else self.y_pred.detach().flatten().tolist()


# --- Device comparison ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    device: str
    engine: str
    seconds_per_epoch: float | None  # None: not available here
    weight: float | None
    bias: float | None
    note: str = ""


def time_run(config: RegressionConfig, device: str, engine: str = "eager") -> Timing:
    """Time the bare loop on one device: the whole run with one snapshot (device-to-host copy) at
    the end, after a two-epoch warm-up. The Train tab's live loop also copies a snapshot every
    epoch and runs the page's own Python between epochs, so it reports more per epoch."""
    list(train(replace(config, epochs=2), device, every=2, engine=engine))  # warm-up: kernels, handles
    _sync(device)
    t0 = time.perf_counter()
    last = None
    for last in train(config, device, every=config.epochs, engine=engine):
        pass
    _sync(device)
    seconds = time.perf_counter() - t0
    return Timing(device, engine, seconds / max(last.epoch + 1, 1), last.weight, last.bias,
                  "diverged" if last.diverged else "")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    elif device == "mps":
        torch.mps.synchronize()


def compare_devices(config: RegressionConfig, available: list[str]) -> list[Timing]:
    """The same run timed on every available device (and, on CUDA, both engines); the kinds of
    device this machine lacks are listed as unavailable, never faked."""
    out = []
    for dev in available:
        out.append(time_run(config, dev))
        if dev.startswith("cuda"):
            out.append(time_run(config, dev, "cuda_graph"))
    if not any(d.startswith("cuda") for d in available):
        out.append(Timing("cuda", "eager", None, None, None, "no CUDA GPU on this server"))
    if "mps" not in available:
        out.append(Timing("mps", "eager", None, None, None, "no Apple GPU on this server"))
    return out


# --- Reading a run: what its numbers say --------------------------------------------------------------

def losses_at(config: RegressionConfig, weights: Sequence[float], biases: Sequence[float]
              ) -> tuple[list[float], list[float]]:
    """Train and test loss of the lines y = w x + b (one per (w, b) pair) on this config's data, with
    the run's loss module in float32 on the CPU, as `loss_fn(model(X), y)` computes them. An empty
    test set gives nan."""
    d = make_data(config)
    w = torch.tensor(list(weights), dtype=torch.float32)  # (k,)
    b = torch.tensor(list(biases), dtype=torch.float32)  # (k,)
    out = []
    for X, y in ((d.X_train, d.y_train), (d.X_test, d.y_test)):
        if len(X) == 0 or len(w) == 0:
            out.append([math.nan] * len(w))
            continue
        out.append(_line_losses(config.loss, X, y, w, b).tolist())
    return out[0], out[1]


def _line_losses(loss: str, X: Tensor, y: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """The `loss` module's mean over the points (X, y) of each line y = w x + b, for w and b of
    broadcastable shapes (the result has their broadcast shape)."""
    loss_fn = make_loss(loss)
    loss_fn.reduction = "none"
    pred = w[..., None] * X.flatten() + b[..., None]  # (*shape, n)
    return loss_fn(pred, y.flatten().expand_as(pred)).mean(-1)


IRREGULAR_WINDOW = 8  # epochs per band step where a loss wobbles without repeating exactly


def ripple_window(values: Sequence[float], max_period: int = 12, rtol: float = 1e-4) -> int:
    """How many consecutive values a chart must span to read a loss that ripples from epoch to epoch:
    1 where the series ends smooth (falling, rising or constant), p where it ends repeating with
    period p (2..max_period), IRREGULAR_WINDOW where it zig-zags without repeating exactly."""
    v = torch.tensor(list(values), dtype=torch.float64)
    tail = v[-max(4 * max_period, len(v) // 4):]
    if len(tail) < 6 or not torch.isfinite(tail).all():
        return 1
    for p in range(1, max_period + 1):
        if len(tail) > 2 * p and ((tail[p:] - tail[:-p]).abs() <= rtol * tail[p:].abs() + 1e-12).all():
            return p
    d = tail.diff()
    zigzag = ((d[1:] * d[:-1]) < 0).double().mean().item()  # share of turns between epochs
    return IRREGULAR_WINDOW if zigzag > 0.3 else 1


def envelope(epochs: Sequence[int], values: Sequence[float], window: int, max_points: int
             ) -> tuple[list[int], list[float], list[float]]:
    """(epochs, upper, lower): the running max and min over `window` values (the phases of a ripple),
    then at most `max_points` buckets, each keeping its max and min. window=1 (a smooth series) gives
    upper == lower: the values themselves, or every k-th of them (ending at the last)."""
    v = torch.tensor(list(values), dtype=torch.float64)  # (n,)
    x = torch.tensor(list(epochs))  # (n,)
    if len(v) == 0:
        return [], [], []
    if window > 1:
        padded = torch.cat([v[:1].expand(window - 1), v])  # (n + window - 1,)
        win = padded.unfold(0, window, 1)  # (n, window)
        upper, lower = win.amax(1), win.amin(1)
    else:
        upper, lower = v, v
    k = -(-len(v) // max_points)  # bucket size
    if k > 1 and window == 1:  # smooth: every k-th value (and the last) is the line
        keep = list(range(len(v) - 1, -1, -k))[::-1]
        return x[keep].tolist(), v[keep].tolist(), v[keep].tolist()
    if k > 1:
        pad = (-len(v)) % k
        upper = torch.cat([upper, upper[-1:].expand(pad)]).view(-1, k).amax(1)
        lower = torch.cat([lower, lower[-1:].expand(pad)]).view(-1, k).amin(1)
        x = torch.cat([x, x[-1:].expand(pad)]).view(-1, k)[:, -1]
    return x.tolist(), upper.tolist(), lower.tolist()


def loss_bands(history: Sequence[Snapshot], max_points: int) -> dict[str, tuple[list[int], list[float], list[float]]]:
    """What the loss chart draws for each loss: (epochs, upper, lower) at most max_points long. Where a
    loss ripples (see ripple_window) the two edges are its phases; where it is smooth they coincide."""
    ep = [s.epoch for s in history]
    out = {}
    for name, key in (("train loss", "train_loss"), ("test loss", "test_loss")):
        v = [getattr(s, key) for s in history]
        out[name] = envelope(ep, v, ripple_window(v), max_points)
    return out


@dataclass(frozen=True)
class Cycle:
    period: int  # epochs per cycle
    onset: int  # first epoch from which (weight, bias) repeats
    positions: tuple[tuple[float, float], ...]  # the (weight, bias) it hops between, in order
    train: tuple[float, ...]  # train loss at each position
    test: tuple[float, ...]  # test loss at each position


def find_cycle(config: RegressionConfig, history: Sequence[Snapshot], max_period: int = 12) -> Cycle | None:
    """The repeating cycle of (weight, bias) a run ends in, if it ends in one (L1 with a fixed learning
    rate typically does). Needs one snapshot per epoch; a settled (period-1) run is not a cycle."""
    if len(history) < 8 or history[-1].epoch - history[0].epoch != len(history) - 1:
        return None
    wb = torch.tensor([[s.weight, s.bias] for s in history], dtype=torch.float64)  # (n, 2)
    for p in range(1, max_period + 1):
        if len(wb) < 3 * p + 2:
            break
        same = ((wb[p:] - wb[:-p]).abs() <= 1e-7).all(1)  # (n - p,)
        if not same[-2 * p:].all():
            continue
        if p == 1:
            return None
        bad = (~same).nonzero()
        onset = int(bad[-1]) + 1 if len(bad) else 0
        pos = tuple((float(w), float(b)) for w, b in wb[-p:].tolist())
        tr, te = losses_at(config, [w for w, _ in pos], [b for _, b in pos])
        return Cycle(p, history[onset].epoch, pos, tuple(tr), tuple(te))
    return None


def mse_valley(config: RegressionConfig) -> tuple[float, float]:
    """The two curvatures (Hessian eigenvalues, float64) of the MSE training loss over (weight,
    bias): 2 * [[mean x², mean x], [mean x, 1]]. Their ratio is how narrow the valley is."""
    x = make_data(config).X_train.flatten().double()
    H = 2 * torch.tensor([[(x * x).mean(), x.mean()], [x.mean(), 1.0]], dtype=torch.float64)
    lo, hi = torch.linalg.eigvalsh(H).tolist()
    return lo, hi


def least_squares(config: RegressionConfig) -> tuple[float, float]:
    """The MSE minimum (weight, bias) of the training data, in float64."""
    d = make_data(config)
    x, y = d.X_train.flatten().double(), d.y_train.flatten().double()
    A = torch.stack([x, torch.ones_like(x)], 1)  # (n, 2)
    sol = torch.linalg.lstsq(A, y[:, None]).solution.flatten()
    return float(sol[0]), float(sol[1])


def epochs_to_reach(config: RegressionConfig, weight: float, bias: float, done: int, tol: float = 0.01) -> int | None:
    """Plain SGD on MSE: about how many epochs in all until (weight, bias) is within `tol` of the
    minimum, from (weight, bias) after `done` epochs. Late in a run the slow direction of the valley
    is all that is left, and each step shrinks it by the factor 1 - lr * (smaller curvature)."""
    lo, hi = mse_valley(config)
    if config.loss != "mse" or config.optimizer != "sgd" or not 0 < config.lr * hi < 2:
        return None
    w0, b0 = least_squares(config)
    dist = math.hypot(weight - w0, bias - b0)
    if dist <= tol:
        return done
    return done + math.ceil(math.log(tol / dist) / math.log(1 - config.lr * lo))


@dataclass(frozen=True)
class Bump:
    start: int  # epoch (0-based, as the chart, the CSV and the script number them) of the lowest test loss before the rise
    peak: int  # epoch where it was highest after
    test: tuple[float, float]  # test loss after the step of epoch start and of epoch peak (the CSV's test_loss_after_step)
    train: tuple[float, float]  # train loss of those epochs, before their step (the CSV's train_loss_before_step)
    crossing: tuple[float | None, float | None]  # x where the model line crossed the true line, at start and peak


def find_bump(config: RegressionConfig, history: Sequence[Snapshot], factor: float = 1.5) -> Bump | None:
    """A stretch where the test loss rose by more than `factor` while the train loss fell (what a
    student reads as overfitting). Looked for on the upper edge of a rippling loss, then reported at
    the epochs themselves: the start is the epoch of the lowest test loss within that edge's window, the
    peak the epoch of its highest, each with that epoch's own losses (the CSV's row of the same epoch),
    so an epoch reads the same in a 100-epoch and a 1000-epoch run of the same loop."""
    if len(history) < 3:
        return None
    tr = [s.train_loss for s in history]
    te = [s.test_loss for s in history]
    if not all(math.isfinite(v) for v in te):
        return None
    ep = [s.epoch for s in history]
    window = ripple_window(te)
    _, te_up, _ = envelope(ep, te, window, len(te))
    _, tr_up, _ = envelope(ep, tr, ripple_window(tr), len(tr))
    best, lo_i, out = factor, 0, None
    for i in range(1, len(te_up)):
        if te_up[i] < te_up[lo_i]:
            lo_i = i
        elif (te_up[lo_i] > 0 and te_up[i] > best * te_up[lo_i] and tr_up[i] < 0.9 * tr_up[lo_i]
              and te_up[i] - te_up[lo_i] > 1e-3 * max(te_up)):  # a visible rise, not rounding
            best, out = te_up[i] / te_up[lo_i], (lo_i, i)
    if out is None:
        return None
    # the envelope's value at index k is the max over the `window` epochs up to k: back to single epochs
    lo_k, hi_k = out
    j = min(range(max(lo_k - window + 1, 0), lo_k + 1), key=lambda k: (te[k], -k))  # lowest, the latest of ties
    i = max(range(max(hi_k - window + 1, 0), hi_k + 1), key=lambda k: (te[k], k))  # highest, the latest of ties
    if not (te[i] > te[j] and tr[i] < tr[j]):  # what the sentence says must hold at the epochs it names
        return None

    def cross(s: Snapshot) -> float | None:
        dw, db = s.weight - config.weight, s.bias - config.bias
        return -db / dw if dw else None
    return Bump(ep[j], ep[i], (te[j], te[i]), (tr[j], tr[i]), (cross(history[j]), cross(history[i])))


def fmt(v: float) -> str:
    """A loss as the page prints it: 4 decimals where that keeps 2 significant digits, else 3 digits."""
    if not math.isfinite(v):
        return "–"
    return f"{v:.4f}" if 0.01 <= abs(v) < 1000 else f"{v:.2e}"


def printed_epoch(config: RegressionConfig, last_epoch: int) -> int:
    """The last epoch the shown script prints an `Epoch:` line for, in a run that reached last_epoch."""
    k = max(config.epochs // 10, 1)
    return last_epoch // k * k


@dataclass(frozen=True)
class Report:
    """What the page says about a finished (or stopped) run; every sentence computed from it."""
    phases: str | None  # one line under the loss chart: what the bands' two edges are
    numbers: str  # under the metrics: which losses they are, and how the script's lines relate
    state: str  # converged, cycling or still moving, and by how much
    bump: str | None  # the test loss rising while the train loss falls, explained
    cycle: Cycle | None
    still_falling: bool


def report(config: RegressionConfig, history: Sequence[Snapshot]) -> Report:
    last = history[-1]
    E = last.epoch + 1
    cyc = find_cycle(config, history)
    (tr_now,), _ = losses_at(config, [last.weight], [last.bias])

    phases = None
    if cyc and cyc.period == 2:
        (w1, b1), (w2, b2) = cyc.positions
        phases = (f"From epoch {cyc.onset} both losses alternate every epoch: the line hops between "
                  f"w = {w1:.4f}, b = {b1:.4f} (train loss {fmt(cyc.train[0])}, test {fmt(cyc.test[0])}) and "
                  f"w = {w2:.4f}, b = {b2:.4f} (train {fmt(cyc.train[1])}, test {fmt(cyc.test[1])}); "
                  "each loss is drawn as a band from one phase to the other.")
    elif cyc:
        phases = (f"From epoch {cyc.onset} (w, b) repeats a {cyc.period}-epoch cycle; each loss is drawn as a band "
                  f"from its lowest to its highest value along it (test {fmt(min(cyc.test))} to {fmt(max(cyc.test))}).")
    elif len(history) > 8 and any(ripple_window([getattr(s, k) for s in history]) > 1
                                  for k in ("train_loss", "test_loss")):
        phases = ("The losses wobble from epoch to epoch; each loss is drawn as a band from its lowest to its "
                  "highest value over the last few epochs.")

    numbers = (f"Losses of the line after epoch {last.epoch}'s step (the model line), as the script's "
               "`Final line:` prints them. The chart, the CSV and the script's `Epoch:` lines take each epoch's "
               "train loss *before* its step and its test loss *after*")
    pe = printed_epoch(config, last.epoch)
    shown = next((s for s in history if s.epoch == pe), None)
    if shown is not None and cyc:
        numbers += (f": here two different lines, so the script's epoch {pe} reads train "
                    f"{fmt(shown.train_loss)}, test {fmt(shown.test_loss)}.")
    else:
        numbers += "."

    dw, db = last.weight - config.weight, last.bias - config.bias
    if last.diverged:
        first = history[0]
        before = (f"is {fmt(last.train_loss)}, {last.train_loss / max(first.train_loss, 1e-12):.0f} times its value at "
                  f"epoch {first.epoch} ({fmt(first.train_loss)})" if math.isfinite(last.train_loss) else
                  f"is no longer a finite number (at epoch {first.epoch} it was {fmt(first.train_loss)})")
        after = (f"its train loss is {fmt(tr_now)} (the number above)" if math.isfinite(tr_now)
                 else "its train loss is no longer a finite number")
        further = ", further out still" if tr_now > last.train_loss else ""  # nan compares False
        state = (f"The loss blew up within {E} epochs: the train loss of epoch {last.epoch}'s forward pass (before its "
                 f"step, as the loss chart draws it) {before}, so training was stopped. The line drawn is the one "
                 f"after epoch {last.epoch}'s step{further}: {after}. With learning rate {config.lr:g} each "
                 "step overshoots the minimum by more than it corrects, so the parameters swing ever wider. Try a "
                 "smaller learning rate.")
        return Report(phases, numbers, state, None, cyc, False)
    state = (f"After {E} epochs the weight is {last.weight:.4f} (true {config.weight:g}) and the bias "
             f"{last.bias:.4f} (true {config.bias:g}): {math.hypot(dw, db):.2g} from the true values. ")
    k = max(len(history) // 10, 1)
    before = history[-1 - k]  if len(history) > k else history[0]
    (tr_before,), _ = losses_at(config, [before.weight], [before.bias])
    moved = math.hypot(last.weight - before.weight, last.bias - before.bias)
    still_falling = cyc is None and tr_now < 0.99 * tr_before
    if cyc:
        state += (f"It is not getting closer: from epoch {cyc.onset} (w, b) repeats a {cyc.period}-epoch "
                  "cycle, so the steps no longer shrink.")
        if config.loss == "l1":
            state += (" Under L1 a step's size does not depend on how large the errors are (each point "
                      "adds ±x to the weight's gradient and ±1 to the bias's), so with a fixed learning rate "
                      "the last steps overshoot and come back: the zoom below shows it.")
    elif still_falling:
        state += (f"Not converged: over the last {last.epoch - before.epoch} epochs the train loss still "
                  f"fell by {100 * (1 - tr_now / tr_before):.0f}% and (w, b) moved {moved:.2g}.")
        total = epochs_to_reach(config, last.weight, last.bias, E)
        if total is not None and total > E:
            lo, hi = mse_valley(config)
            state += (f" The MSE surface here is a narrow valley, {hi / lo:.0f}× steeper across than along "
                      f"its floor (the path below): a learning rate small enough for the steep direction "
                      f"crawls along the floor, shrinking what is left by {100 * config.lr * lo:.2f}% an epoch. "
                      f"Within 0.01 of the minimum takes about {total} epochs in all.")
    elif moved < 1e-4:
        state += ("It has settled: (w, b) " + (f"moved {moved:.1g}" if moved else "did not move")
                  + f" over the last {last.epoch - before.epoch} epochs.")
    else:
        state += (f"It hovers: over the last {last.epoch - before.epoch} epochs (w, b) moved {moved:.2g} but "
                  "the train loss did not fall.")
        if config.noise > 0:
            state += " With noise in y, the best line for these points is not exactly the true one."

    bump = None
    b_ = find_bump(config, history)
    if b_ is not None:
        d = make_data(config)
        xtr, xte = d.X_train.flatten(), d.X_test.flatten()
        bump = (f"The test loss rose from {fmt(b_.test[0])} at epoch {b_.start} to {fmt(b_.test[1])} at epoch "
                f"{b_.peak} while the train loss kept falling (epoch {b_.start}: {fmt(b_.train[0])}, epoch {b_.peak}: "
                f"{fmt(b_.train[1])}). ")
        if config.noise == 0:
            bump += "That is not overfitting: the data has no noise, so there is nothing to overfit. "
        else:
            bump += "Part of it may be the line fitting the noise of the training points, but look first at where the test points are. "
        bump += (f"The test points (x from {xte.min():.2f} to {xte.max():.2f}) lie beyond the training points "
                 f"(x from {xtr.min():.2f} to {xtr.max():.2f}): an error in the line's slope shows most out there "
                 "(extrapolation).")
        c0, c1 = b_.crossing
        if config.noise == 0 and c0 is not None and c1 is not None and xte.min() <= c0 <= xte.max():
            bump += (f" At epoch {b_.start} the still-wrong line crossed the true line at x = {c0:.2f}, among "
                     f"the test points, hence the dip; by epoch {b_.peak} the crossing had moved to x = {c1:.2f}"
                     + (", among the training points, where the train loss wants the line to fit"
                        if xtr.min() <= c1 <= xtr.max() else "")
                     + ", and the test points saw the slope's error again.")
    return Report(phases, numbers, state, bump, cyc, still_falling)


# --- Comparing with an earlier run ------------------------------------------------------------------

_SAME_PROBLEM = ("weight", "bias", "noise", "n", "split", "loss")  # the data and the loss: losses comparable
_SHORT_OPT = {"sgd": "SGD", "momentum": "momentum", "adam": "Adam"}


def comparable(earlier: RegressionConfig, now: RegressionConfig) -> bool:
    """Can the loss chart draw `earlier`'s losses beside `now`'s: another run (a different optimizer,
    learning rate, length or seed) of the same loss on the same data."""
    return earlier != now and all(getattr(earlier, k) == getattr(now, k) for k in _SAME_PROBLEM)


def differences(earlier: RegressionConfig, now: RegressionConfig) -> list[str]:
    """What `earlier` used where it differs from `now`, in a few words each, the optimizer first."""
    out = []
    if earlier.optimizer != now.optimizer:
        out.append(_SHORT_OPT[earlier.optimizer])
    if earlier.lr != now.lr:
        out.append(f"lr {earlier.lr:g}")
    if earlier.epochs != now.epochs:
        out.append(f"{earlier.epochs} epochs")
    if earlier.seed != now.seed:
        out.append(f"seed {earlier.seed}")
    return out


def describe(config: RegressionConfig) -> str:
    """A run's training settings in words: `OPTIMIZERS` name, learning rate, epochs, seed."""
    return f"{OPTIMIZERS[config.optimizer]}, lr {config.lr:g}, {config.epochs} epochs, seed {config.seed}"


# --- What the page draws and exports ---------------------------------------------------------------

def loss_surface(config: RegressionConfig, ws: tuple[float, float], bs: tuple[float, float],
                 n: int = 81) -> tuple[list[float], list[float], list[list[float]]]:
    """The training loss over a (weight, bias) grid: Z[i][j] at bias i, weight j."""
    d = make_data(config)
    w = torch.linspace(*ws, n)  # (n,)
    b = torch.linspace(*bs, n)  # (n,)
    Z = _line_losses(config.loss, d.X_train, d.y_train, w[None, :], b[:, None])  # (n_b, n_w)
    return w.tolist(), b.tolist(), Z.tolist()


CSV_HEADER = "epoch,train_loss_before_step,test_loss_after_step,weight_after_step,bias_after_step,train_loss_after_step"


def history_csv(config: RegressionConfig, history: list[Snapshot]) -> str:
    """One row per snapshot. The first two losses are the loop's own (as the chart and the script's
    `Epoch:` lines record them); the last column is the train loss of the row's (weight, bias), so
    the last row's after-step losses are the numbers the page and the script's final line show."""
    after, _ = losses_at(config, [s.weight for s in history], [s.bias for s in history])
    rows = [CSV_HEADER]
    rows += [f"{s.epoch},{s.train_loss!r},{s.test_loss!r},{s.weight!r},{s.bias!r},{a!r}"
             for s, a in zip(history, after)]
    return "\n".join(rows) + "\n"


def state_dict_bytes(config: RegressionConfig, history: list[Snapshot]) -> bytes:
    """The trained nn.Linear(1, 1)'s state_dict (torch.save format) at the last snapshot."""
    import io

    model = skip_init(nn.Linear, 1, 1)  # no draw from the global generator
    with torch.no_grad():
        model.weight.fill_(history[-1].weight)
        model.bias.fill_(history[-1].bias)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def script(config: RegressionConfig, device: str = "cpu") -> str:
    """The seed note's plain loop for these settings; run on its own it prints the same final
    weight and bias as the page."""
    noise = ""
    if config.noise > 0:
        noise = (f"g_noise = torch.Generator().manual_seed({config.seed + 1})\n"
                 f"y = y + {config.noise!r} * torch.randn(y.shape, generator=g_noise)\n")
    opt = {"sgd": f"torch.optim.SGD(model.parameters(), lr={config.lr!r})",
           "momentum": f"torch.optim.SGD(model.parameters(), lr={config.lr!r}, momentum=0.9)",
           "adam": f"torch.optim.Adam(model.parameters(), lr={config.lr!r})"}[config.optimizer]
    return f"""import torch
from torch import nn

device = "{device}"
weight, bias = {config.weight!r}, {config.bias!r}
X = torch.arange(0, 1, 1 / {config.n})[:{config.n}].unsqueeze(1)
y = weight * X + bias
{noise}split = int(round({config.split!r} * len(X), 9))
X_train, y_train = X[:split].to(device), y[:split].to(device)
X_test, y_test = X[split:].to(device), y[split:].to(device)

torch.manual_seed({config.seed})  # the page draws the same numbers from its own torch.Generator
model = nn.Linear(1, 1).to(device)
loss_fn = {LOSSES[config.loss]}
optimizer = {opt}

for epoch in range({config.epochs}):
    model.train()
    y_pred = model(X_train)  # 1. forward pass
    loss = loss_fn(y_pred, y_train)  # 2. loss
    optimizer.zero_grad()  # 3. zero the gradients
    loss.backward()  # 4. backward pass
    optimizer.step()  # 5. optimizer step

    model.eval()
    with torch.inference_mode():
        test_loss = loss_fn(model(X_test), y_test)
    if epoch % {max(config.epochs // 10, 1)} == 0:
        print(f"Epoch: {{epoch}} | Train loss: {{loss.item():.4f}} | Test loss: {{test_loss.item():.4f}}")

with torch.inference_mode():  # the final line's losses, both after the last step (as the page shows them)
    train_loss, test_loss = loss_fn(model(X_train), y_train), loss_fn(model(X_test), y_test)
print(f"Final line: train loss {{train_loss.item():.4g}} | test loss {{test_loss.item():.4g}}")
print(f"weight = {{model.weight.item():.4f}}, bias = {{model.bias.item():.4f}}")
"""
