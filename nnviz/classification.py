"""A small classifier trained live on 2-D points: the logits page's decision regions and accuracy.

Public API (used by the page, the benchmark, notebooks):
    ClassifierConfig  frozen dataclass; its defaults are the first screen's lesson (one hidden layer
                      with a non-linearity solves XOR)
    make_data(config) -> training.Data with class labels; extent(config) -> the plotted box
    make_model(config, device) -> nn.Sequential; region(config, model, grid) -> Region
    train(config, device, every, regions_at, grid, engine) -> iterator of Snapshot
    script(config, device) -> a plain-torch script that reproduces the run
    verdict(config, history, other) -> the page's text about a run, compared with a kept run of another
                      loss (differs_only_in_loss); losses: bce, ce and mse_sigmoid (nn.MSELoss on sigmoid(z),
                      the saturating one, to watch beside bce)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Collection, Iterator, Sequence

import torch
from torch import Tensor, nn

from . import training
from .activations import ACTIVATIONS
from .controls import ChoiceSpec, FloatSpec, IntSpec, NumberListSpec
from .regression import OPTIMIZERS, make_optimizer
from .training import Data, Step

DATASETS = {"blobs": "Two Gaussian blobs", "xor": "XOR", "moons": "Two moons", "circles": "Circles"}
LOSSES = {  # key -> the loss as the shown script writes it; bce and mse_sigmoid: one output logit; ce: two
    "bce": "nn.BCEWithLogitsLoss()", "ce": "nn.CrossEntropyLoss()", "mse_sigmoid": "MSELoss on sigmoid(z)"}
OUTPUTS = {"bce": 1, "ce": 2, "mse_sigmoid": 1}  # logits the last layer gives for each loss

# Controls: one definition of their bounds (widgets, URL check, and the cost cap of one run on a
# shared 2-core server: the largest run, 1000 points through three hidden layers of 32 for 1000
# epochs, takes about 1.1 s of one core with tanh, 1.7 s with mish; the default run 0.15 s).
DATA = ChoiceSpec("Data set", tuple(DATASETS), "xor")
NOISE = FloatSpec("Noise (std added to each point)", 0.0, 0.5, 0.1, 0.01)
N = IntSpec("Number of points", 50, 1000, 200, 10)
HIDDEN = NumberListSpec("Hidden layer widths", 1, 32, (8,), 0, 3, integer=True)
ACT = ChoiceSpec("Activation", tuple(ACTIVATIONS), "tanh")
LOSS_NAMES = {"bce": "BCEWithLogitsLoss", "ce": "CrossEntropyLoss", "mse_sigmoid": "MSE on sigmoid(z)"}  # for text
LOSS = ChoiceSpec("Loss", tuple(LOSSES), "bce",
                  help="bce: one logit z into nn.BCEWithLogitsLoss. ce: two logits into nn.CrossEntropyLoss. "
                       "mse_sigmoid: one logit z, nn.MSELoss on sigmoid(z) against the 0/1 label: its gradient "
                       "carries sigmoid's slope, which vanishes where the network is confidently wrong.")
OPT = ChoiceSpec("Optimizer", tuple(OPTIMIZERS), "adam")
LR = FloatSpec("Learning rate", 0.0001, 1.0, 0.02, 0.0001)
EPOCHS = IntSpec("Epochs", 10, 1000, 300, 10)
SEED = IntSpec("Seed", 0, 9999, 0)


@dataclass(frozen=True)
class ClassifierConfig:
    data: str = "xor"  # blobs | xor | moons | circles: XOR needs a hidden layer, the lesson of the first screen
    n: int = 200  # points in all, train and test
    noise: float = 0.1  # std of Gaussian noise added to each point; every data set stays recognisable
    hidden: tuple[int, ...] = (8,)  # hidden layer widths; () is logistic regression (a straight boundary)
    activation: str = "tanh"  # a key of nnviz.activations.ACTIVATIONS, with its default parameters
    loss: str = "bce"  # bce: one logit into nn.BCEWithLogitsLoss | ce: two logits into nn.CrossEntropyLoss |
    # mse_sigmoid: one logit z, nn.MSELoss(sigmoid(z), y): slow where sigmoid saturates on a wrong answer
    optimizer: str = "adam"  # sgd | momentum | adam
    lr: float = 0.02  # Adam moves each weight by about lr a step: XOR is solved in 40-100 epochs
    epochs: int = 300  # enough for >= 95% test accuracy on the default XOR for every seed tried
    seed: int = 0  # init as torch.manual_seed(seed) would; the data uses its own stream, seed + 1
    split: float = 0.7  # the first 70% of the shuffled points train, the rest test


@dataclass(frozen=True)
class Region:
    """The decision regions: P(class 1) on a grid over the data's box, for a heatmap or contour."""
    xs: list[float]  # (grid,) x of each column
    ys: list[float]  # (grid,) y of each row
    prob: list[list[float]]  # prob[j][i]: P(class 1) at (xs[i], ys[j])


@dataclass(frozen=True)
class Snapshot:
    epoch: int  # 0-based epoch just finished
    train_loss: float  # loss of this epoch's forward pass (before its optimizer step)
    test_loss: float  # test loss after this epoch's step, under torch.inference_mode
    train_accuracy: float  # in [0, 1], of that same forward pass (before the step)
    test_accuracy: float  # in [0, 1], after the step
    diverged: bool = False  # the loss became non-finite or grew far above its start: training stopped
    region: Region | None = None  # after the step; only at epochs asked for in regions_at, and at the last
    confident_wrong: float = 0.0  # in [0, 1]: training points whose true class gets P < 1% (before the step)


SURE = 0.99  # "confidently wrong": the wrong class gets a probability above this (|margin| > ln 99)


def _check(config: ClassifierConfig) -> None:
    """ValueError for a config no run can use (the controls' bounds are checked by their specs)."""
    problems = []
    if config.data not in DATASETS:
        problems.append(f"data set {config.data!r} is not one of {', '.join(DATASETS)}")
    if config.activation not in ACTIVATIONS:
        problems.append(f"activation {config.activation!r} is not one of {', '.join(ACTIVATIONS)}")
    if config.loss not in LOSSES:
        problems.append(f"loss {config.loss!r} is not one of {', '.join(LOSSES)}")
    if config.optimizer not in OPTIMIZERS:
        problems.append(f"optimizer {config.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
    if any(int(h) != h or h < 1 for h in config.hidden):
        problems.append("hidden widths must be whole numbers >= 1")
    if not 0 < config.split < 1 or not 1 <= _n_train(config) < config.n:
        problems.append("the split must leave at least one training and one test point")
    if not math.isfinite(config.noise) or config.noise < 0:
        problems.append("noise must be a finite number >= 0")
    if not math.isfinite(config.lr) or config.lr <= 0:
        problems.append("the learning rate must be a finite number > 0")
    if config.epochs < 1:
        problems.append("epochs must be >= 1")
    if problems:
        raise ValueError("; ".join(problems))


def _n_train(config: ClassifierConfig) -> int:
    return int(round(config.split * config.n, 9))  # round first: int(0.7 * 90) would be 62, not 63


# --- Data --------------------------------------------------------------------------------------------

def _clean(name: str, n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """The points before noise and their labels, classes alternating (balanced), unshuffled."""
    f32 = torch.float32
    if name == "xor":
        q = torch.arange(n) % 4  # (n,) quadrant: 0 (+,+), 1 (-,+), 2 (+,-), 3 (-,-)
        y = (q % 2) ^ (q // 2)  # (n,) class 1 where x and y have opposite signs: x*y < 0
        signs = torch.stack([1 - 2 * (q % 2), 1 - 2 * (q // 2)], 1).to(f32)  # (n, 2)
        X = signs * (0.2 + 0.8 * torch.rand(n, 2, generator=g, dtype=f32))  # (n, 2): |x|, |y| in [0.2, 1]
        return X, y
    y = torch.arange(n) % 2  # (n,)
    if name == "blobs":  # centres (-1, -1) and (1, 1), each blob's own std 0.5
        X = (2 * y - 1).to(f32)[:, None] + 0.5 * torch.randn(n, 2, generator=g, dtype=f32)  # (n, 2)
    elif name == "moons":  # class 0: upper half circle about (-0.5, -0.25); class 1: it turned by 180 degrees
        t = math.pi * torch.rand(n, generator=g, dtype=f32)  # (n,)
        X = (1 - 2 * y).to(f32)[:, None] * torch.stack([t.cos() - 0.5, t.sin() - 0.25], 1)  # (n, 2)
    else:  # circles: class 0 on radius 1, class 1 on radius 0.5
        t = 2 * math.pi * torch.rand(n, generator=g, dtype=f32)  # (n,)
        X = (1 - 0.5 * y).to(f32)[:, None] * torch.stack([t.cos(), t.sin()], 1)  # (n, 2)
    return X, y


def make_data(config: ClassifierConfig) -> Data:
    """X (n, 2) float32 and class labels y (n,) int64, from a generator seeded with seed + 1: the
    clean points, then noise (always drawn, so the noise control never moves the clean points nor
    the shuffle), then a shuffle; the first `split` of them train."""
    _check(config)
    g = torch.Generator().manual_seed(config.seed + 1)
    X, y = _clean(config.data, config.n, g)  # (n, 2), (n,)
    X = X + config.noise * torch.randn(config.n, 2, generator=g, dtype=torch.float32)  # (n, 2)
    perm = torch.randperm(config.n, generator=g)  # (n,)
    X, y = X[perm], y[perm]
    k = _n_train(config)
    return Data(X[:k], y[:k], X[k:], y[k:])


def extent(config: ClassifierConfig) -> tuple[float, float, float, float]:
    """(x_min, x_max, y_min, y_max): every point of this data config with a margin of 10% of the
    wider side, the same for every frame of a run."""
    d = make_data(config)
    X = torch.cat([d.X_train, d.X_test])  # (n, 2)
    lo, hi = X.min(0).values, X.max(0).values  # (2,), (2,)
    m = 0.1 * float((hi - lo).max())
    return float(lo[0]) - m, float(hi[0]) + m, float(lo[1]) - m, float(hi[1]) + m


# --- Model ---------------------------------------------------------------------------------------------

def make_model(config: ClassifierConfig, device: str | torch.device = "cpu") -> nn.Sequential:
    """Linear(2, h1), act, ..., Linear(h_last, 1 for bce | 2 for ce), with exactly the numbers
    `torch.manual_seed(seed)` and then building that nn.Sequential gives: each Linear in order,
    weight then bias as reset_parameters draws them, from a private generator."""
    _check(config)
    act = ACTIVATIONS[config.activation]
    widths = (2, *config.hidden, OUTPUTS[config.loss])
    g = torch.Generator().manual_seed(config.seed)
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        if layers:
            layers.append(act.build(act.defaults()))
        layers.append(training.default_linear(fan_in, fan_out, g))
    return nn.Sequential(*layers).to(device)


def _one_logit(config: ClassifierConfig) -> bool:
    """True where the model gives one logit z and P(class 1) = sigmoid(z) (bce, mse_sigmoid)."""
    return OUTPUTS[config.loss] == 1


def _prob1(logits: Tensor, bce: bool) -> Tensor:
    """P(class 1) from the model's outputs: sigmoid of the one logit (bce: any one-logit loss), or
    softmax's second entry."""
    return torch.sigmoid(logits[:, 0]) if bce else torch.softmax(logits, 1)[:, 1]  # (m,)


def _correct(logits: Tensor, labels: Tensor, bce: bool) -> Tensor:
    """How many are predicted right (a float scalar, exact below 2**24); the prediction is class 1
    where P(class 1) > 0.5 (bce: one logit, z > 0)."""
    pred = logits[:, 0] > 0 if bce else logits[:, 1] > logits[:, 0]  # (m,)
    return (pred == labels.bool()).sum().float()


def _confident_wrong(logits: Tensor, labels: Tensor, bce: bool) -> Tensor:
    """How many points give their true class a probability below 1 - SURE (a float scalar): the
    logit margin of the true class, z or -z for one logit, z_y - z_other for two, is below -ln(SURE / (1 - SURE))."""
    margin = logits[:, 0] * (2 * labels - 1) if bce else (logits[:, 1] - logits[:, 0]) * (2 * labels - 1)  # (m,)
    return (margin < -math.log(SURE / (1 - SURE))).sum().float()


def _grid(box: tuple[float, float, float, float], grid: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    xs = torch.linspace(box[0], box[1], grid)  # (grid,)
    ys = torch.linspace(box[2], box[3], grid)  # (grid,)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")  # (grid, grid) each: row j, column i
    return xs, ys, torch.stack([xx, yy], -1).reshape(-1, 2).to(device)  # (grid * grid, 2)


def _region(model: nn.Module, xs: Tensor, ys: Tensor, points: Tensor, bce: bool) -> Region:
    with torch.inference_mode():
        prob = _prob1(model(points), bce).reshape(len(ys), len(xs))  # (grid, grid)
    return Region(xs.tolist(), ys.tolist(), prob.tolist())


def region(config: ClassifierConfig, model: nn.Module, grid: int = 60) -> Region:
    """P(class 1) of `model` on a grid x grid lattice over extent(config)."""
    dev = next(model.parameters()).device
    xs, ys, points = _grid(extent(config), grid, dev)
    return _region(model, xs, ys, points, _one_logit(config))


def untrained_region(config: ClassifierConfig, grid: int = 60) -> Region:
    """The regions of the untrained network (what the page shows before Train), from plain
    arguments so that it can be cached."""
    return region(config, make_model(config), grid)


# --- Training ------------------------------------------------------------------------------------------

class SigmoidMSELoss(nn.Module):
    """nn.MSELoss on sigmoid(z): the squared error of the predicted probability against the 0/1
    label. Its gradient 2 (sigmoid(z) - y) sigmoid'(z) / n carries sigmoid's slope, which vanishes
    as |z| grows: a confidently wrong logit gets almost no push (BCEWithLogitsLoss's is sigmoid(z) - y)."""

    def __init__(self) -> None:
        super().__init__()
        self.mse = nn.MSELoss()

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return self.mse(torch.sigmoid(logits), target)  # (m, 1) probabilities against (m, 1) float labels


def make_loss(name: str) -> nn.Module:
    return {"bce": nn.BCEWithLogitsLoss, "ce": nn.CrossEntropyLoss, "mse_sigmoid": SigmoidMSELoss}[name]()


def _targets(labels: Tensor, bce: bool) -> Tensor:
    """What the loss module takes: float (m, 1) for the one-logit losses (BCEWithLogitsLoss, MSE on
    sigmoid), class indices (m,) for CE."""
    return labels.float().unsqueeze(1) if bce else labels


def train(config: ClassifierConfig = ClassifierConfig(), device: str = "cpu", every: int = 10,
          regions_at: Collection[int] = (), grid: int = 60, engine: str = "eager") -> Iterator[Snapshot]:
    """Train on `device`; yield a Snapshot every `every` epochs, at each epoch in regions_at (with
    its Region) and at the last (with its Region). Stops early, with diverged=True (and a Region),
    when the loss becomes non-finite or grows above 100x its first value. engine="cuda_graph"
    replays one captured epoch (CUDA only; see nnviz.training)."""
    dev = torch.device(device)
    training.check_engine(engine, dev)
    d = make_data(config)
    bce = _one_logit(config)  # one logit, sigmoid(z): bce and mse_sigmoid
    data = Data(d.X_train, _targets(d.y_train, bce), d.X_test, _targets(d.y_test, bce)).to(dev)
    labels_train, labels_test = d.y_train.to(dev), d.y_test.to(dev)  # (n_train,), (n_test,)
    model = make_model(config, dev)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, capturable=engine == "cuda_graph")
    xs, ys, points = _grid(extent(config), grid, dev)
    at, last = frozenset(regions_at), config.epochs - 1
    n_train, n_test = len(labels_train), len(labels_test)

    def snapshot(step: Step) -> Snapshot:
        with torch.no_grad():
            right = [_correct(step.out, labels_train, bce), _correct(step.test_out, labels_test, bce),
                     _confident_wrong(step.out, labels_train, bce)]
            loss, test_loss, r_train, r_test, sure = torch.stack([step.loss.detach(), step.test_loss, *right]).tolist()
        shown = step.epoch in at or step.epoch == last  # one copy to the host above; the region is a second
        return Snapshot(step.epoch, loss, test_loss, r_train / n_train, r_test / n_test,
                        region=_region(model, xs, ys, points, bce) if shown else None, confident_wrong=sure / n_train)

    def finish(snap: Snapshot, step: Step) -> Snapshot:  # a diverged run's last snapshot gets its region too
        return snap if snap.region is not None else replace(snap, region=_region(model, xs, ys, points, bce))

    steps = training.epochs(model, make_loss(config.loss), optimizer, data, config.epochs, engine)
    yield from training.snapshots(steps, config.epochs, every, snapshot, extra=at, finish=finish)


def frame_epochs(epochs: int, frames: int = 10) -> tuple[int, ...]:
    """Epochs for `frames` evenly spaced region frames, the first at epoch 0 (train adds the last):
    a fixed budget per run, however many epochs it has."""
    return tuple(sorted({i * epochs // frames for i in range(frames)} - {epochs - 1}))


def differs_only_in_loss(a: ClassifierConfig, b: ClassifierConfig) -> bool:
    """Two runs of the same network, data, optimizer and seed, with different losses: a fair comparison."""
    return a.loss != b.loss and replace(a, loss=b.loss) == b


def train_curves(history: Sequence[Snapshot]) -> dict[str, list]:
    """A run's train loss and accuracy against the chart's 1-based epoch: what a kept run shows beside a new one."""
    return {"epoch": [h.epoch + 1 for h in history], "loss": [h.train_loss for h in history],
            "accuracy": [h.train_accuracy for h in history]}


def reached(history: Sequence[Snapshot], accuracy: float = 0.95) -> int | None:
    """The first snapshot epoch (0-based) whose train accuracy is at least `accuracy`; None if none is."""
    return next((h.epoch for h in history if h.train_accuracy >= accuracy), None)


def _when(history: Sequence[Snapshot], accuracy: float) -> str:
    """"at epoch N" (the chart's 1-based epoch) where every epoch up to N was snapshotted, else "by epoch N"."""
    e = reached(history, accuracy)
    if e is None:
        return f"never (in {history[-1].epoch + 1} epochs)"
    return f"{'at' if len(history) > e and history[e].epoch == e else 'by'} epoch {e + 1}"


def verdict(config: ClassifierConfig, history: Sequence[Snapshot],
            other: tuple[ClassifierConfig, Sequence[Snapshot]] | None = None) -> str:
    """What the page says about a finished (or stopped) run; every sentence is computed from it.
    `other`: a kept run of the same settings but another loss (differs_only_in_loss), compared with."""
    s = history[-1]
    out = [f"After {s.epoch + 1} epochs the network classifies {s.train_accuracy:.0%} of the training "
           f"points and {s.test_accuracy:.0%} of the test points correctly."]
    if s.diverged or not all(math.isfinite(h.train_loss) for h in history):
        return " ".join(out)
    n_train = _n_train(config)
    sure, wrong = round(s.confident_wrong * n_train), round((1 - s.train_accuracy) * n_train)
    saturated = config.loss == "mse_sigmoid" and sure > 0
    linear = not config.hidden
    if linear:
        out.append("With no hidden layer the model is logistic regression: its boundary, where P(class 1) = 0.5, "
                   "is one straight line.")
        if config.data != "blobs" and s.train_accuracy < 0.95:
            out.append(f"No straight line separates the classes of {DATASETS[config.data]}.")
        if config.data == "xor" and config.loss != "mse_sigmoid" and abs(s.train_loss - math.log(2)) < 0.02:
            out.append(f"On XOR the loss stays at {s.train_loss:.3f}, next to ln 2 = 0.693: the loss of "
                       "answering P = 0.5 for every point. A hidden layer with a non-linear activation bends the "
                       "boundary.")
    elif s.test_accuracy >= 0.95:
        layers = "one hidden layer" if len(config.hidden) == 1 else f"{len(config.hidden)} hidden layers"
        out.append(f"With {layers} of {ACTIVATIONS[config.activation].label} units the boundary bends around "
                   "the classes: a straight line could not do this.")
    if saturated:
        out.append(f"{sure} of the {n_train} training points ({s.confident_wrong:.0%}) are confidently wrong: the "
                   f"network gives their true class a probability below {1 - SURE:.0%}. MSELoss on sigmoid(z) pushes "
                   "such a point with 2(σ(z) − y)·σ′(z)/n, and σ′(z) < 0.01 there: less than 2% of the push "
                   "(σ(z) − y)/n that BCEWithLogitsLoss gives it.")
    k = max(len(history) // 5, 1)
    if not linear and len(history) > k and s.train_accuracy < 0.95:
        before = history[-1 - k]
        if before.train_loss - s.train_loss < 0.01 * before.train_loss:
            stalled = (f"The training loss has stopped falling ({before.train_loss:.4g} at epoch {before.epoch}, "
                       f"{s.train_loss:.4g} now) with {1 - s.train_accuracy:.0%} of the training points still on "
                       "the wrong side")
            if saturated:
                which = "all of them" if sure == wrong else f"{sure} of those {wrong}"
                out.append(f"{stalled}, {which} confidently wrong, where this loss's gradient has all but vanished.")
            else:
                out.append(f"{stalled}: more epochs will not help; another seed, a wider layer or a smooth "
                           "activation may.")
    if s.train_accuracy - s.test_accuracy >= 0.1:
        out.append(f"Train accuracy is {s.train_accuracy - s.test_accuracy:.0%} above test accuracy: the boundary "
                   "follows the training points' noise more than the classes' shape (overfitting).")
    if other is not None and differs_only_in_loss(config, other[0]) and other[1]:
        o = other[1][-1]
        out.append(f"Beside it, dotted on the chart, the {LOSS_NAMES[other[0].loss]} run of the same network and "
                   f"data ended at {o.train_accuracy:.0%} train accuracy. 95% train accuracy: the "
                   f"{LOSS_NAMES[other[0].loss]} run {_when(other[1], 0.95)}, this {LOSS_NAMES[config.loss]} run "
                   f"{_when(history, 0.95)}.")
    return " ".join(out)


# --- Show the code -------------------------------------------------------------------------------------

_DATA_CODE = {
    "xor": """q = torch.arange(n) % 4  # quadrant: 0 (+,+), 1 (-,+), 2 (+,-), 3 (-,-)
y = (q % 2) ^ (q // 2)  # class 1 where x and y have opposite signs
signs = torch.stack([1 - 2 * (q % 2), 1 - 2 * (q // 2)], 1).float()
X = signs * (0.2 + 0.8 * torch.rand(n, 2, generator=g))  # |x|, |y| in [0.2, 1]""",
    "blobs": """y = torch.arange(n) % 2
X = (2 * y - 1).float()[:, None] + 0.5 * torch.randn(n, 2, generator=g)  # centres (-1, -1), (1, 1)""",
    "moons": """y = torch.arange(n) % 2
t = math.pi * torch.rand(n, generator=g)
X = (1 - 2 * y).float()[:, None] * torch.stack([t.cos() - 0.5, t.sin() - 0.25], 1)""",
    "circles": """y = torch.arange(n) % 2
t = 2 * math.pi * torch.rand(n, generator=g)
X = (1 - 0.5 * y).float()[:, None] * torch.stack([t.cos(), t.sin()], 1)  # radius 1 and 0.5""",
}

FINAL_LINE = ("Final: epoch {epoch} | train loss {train_loss:.6g} | test loss {test_loss:.6g} | "
              "train accuracy {train_accuracy:.4f} | test accuracy {test_accuracy:.4f}")  # the script's last line


def final_line(snapshot: Snapshot) -> str:
    """The shown script's last line for a run whose last snapshot this is."""
    return FINAL_LINE.format(**{k: getattr(snapshot, k) for k in
                                ("epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy")})


def script(config: ClassifierConfig, device: str = "cpu") -> str:
    """The seed note's loop for this classifier; run on its own, its last line prints the page's
    final numbers in FINAL_LINE's format (the last epoch's train loss and accuracy before its step,
    test loss and accuracy after it)."""
    _check(config)
    act = ACTIVATIONS[config.activation]
    params = ", ".join(f"{k}={v!r}" for k, v in act.defaults().items())
    widths = (2, *config.hidden, OUTPUTS[config.loss])
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers += [f"{act.label}({params})"] if i else []
        layers.append(f"nn.Linear({a}, {b})")
    model = "nn.Sequential(\n" + "".join(f"    {x},\n" for x in layers) + ")"
    opt = {"sgd": f"torch.optim.SGD(model.parameters(), lr={config.lr!r})",
           "momentum": f"torch.optim.SGD(model.parameters(), lr={config.lr!r}, momentum=0.9)",
           "adam": f"torch.optim.Adam(model.parameters(), lr={config.lr!r})"}[config.optimizer]
    bce = _one_logit(config)
    target = ("y_train_t, y_test_t = y_train.float().unsqueeze(1), y_test.float().unsqueeze(1)  # float 0/1 targets"
              if bce else "y_train_t, y_test_t = y_train, y_test  # CrossEntropyLoss takes class indices")
    pred = "(out[:, 0] > 0)" if bce else "(out[:, 1] > out[:, 0])"
    loss_fn = (f"loss_fn = {LOSSES[config.loss]}" if config.loss != "mse_sigmoid" else
               "mse = nn.MSELoss()\n\n\n"
               "def loss_fn(out, target):  # squared error of the probability sigmoid(z) against the 0/1 label\n"
               "    return mse(torch.sigmoid(out), target)\n\n")
    return f"""import math

import torch
from torch import nn

device = "{device}"
n, noise = {config.n}, {config.noise!r}
g = torch.Generator().manual_seed({config.seed + 1})  # the data's own stream
{_DATA_CODE[config.data]}
X = X + noise * torch.randn(n, 2, generator=g)
perm = torch.randperm(n, generator=g)
X, y = X[perm], y[perm]
split = int(round({config.split!r} * n, 9))
X_train, y_train = X[:split].to(device), y[:split].to(device)
X_test, y_test = X[split:].to(device), y[split:].to(device)
{target}

torch.manual_seed({config.seed})  # the page draws the same numbers from its own torch.Generator
model = {model}.to(device)
{loss_fn}
optimizer = {opt}


def accuracy(out, labels):  # predict class 1 where P(class 1) > 0.5
    return ({pred} == labels.bool()).float().mean().item()


for epoch in range({config.epochs}):
    model.train()
    out = model(X_train)  # 1. forward pass: logits
    loss = loss_fn(out, y_train_t)  # 2. loss
    optimizer.zero_grad()  # 3. zero the gradients
    loss.backward()  # 4. backward pass
    optimizer.step()  # 5. optimizer step

    model.eval()
    with torch.inference_mode():
        test_out = model(X_test)
        test_loss = loss_fn(test_out, y_test_t)
        train_acc, test_acc = accuracy(out, y_train), accuracy(test_out, y_test)
    if epoch % {max(config.epochs // 10, 1)} == 0:
        print(f"Epoch: {{epoch}} | Train loss: {{loss.item():.4f}} | Test loss: {{test_loss.item():.4f}} | "
              f"Train accuracy: {{train_acc:.1%}} | Test accuracy: {{test_acc:.1%}}")

# The last epoch's train loss and accuracy (before its step) and test loss and accuracy (after it)
print(f"Final: epoch {{epoch}} | train loss {{loss.item():.6g}} | test loss {{test_loss.item():.6g}} | "
      f"train accuracy {{train_acc:.4f}} | test accuracy {{test_acc:.4f}}")
"""


# The loss comparisons (logits -> probabilities, naive vs logit-form losses) live in nnviz.logits.
