"""Deep networks in training: a deep MLP trained live on nnviz.training's loop, with every layer's
gradient norm, weight change, dead units and activation quantiles read at snapshot epochs.

Public API (used by the "Deep training" page, the benchmark, notebooks):
    DeepConfig          frozen, validated dataclass; its defaults are the first screen's lesson (a deep
                        sigmoid network with PyTorch's default init that does not learn)
    DATA, N, NOISE, DEPTH, WIDTH, ACT, INIT, STD, RESIDUAL, NORM, OPT, LR, EPOCHS, CLIP_ON, CLIP, SEED
                        the controls' specs (nnviz.controls): one definition of every bound
    make_data(config) -> training.Data; make_model(config, device) -> DeepMLP
    train(config, device, every) -> iterator of Snapshot (see Snapshot for what each field measures)
    loss_fall(history), verdict(config, history), label(config, others), script(config, device)
    work(config), allowed(config), too_costly(config): the cost cap of a hosted page (MAX_WORK)
    limits(activation): f(-inf) and f(+inf), where saturated units pile up
    PRESETS             name -> Preset (a config and the claim the page states about it); holds()
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils import skip_init

from . import classification, training
from .activations import ACTIVATIONS
from .controls import BoolSpec, ChoiceSpec, FloatSpec, IntSpec
from .regression import OPTIMIZERS, make_optimizer
from .training import Data, Step
from .vanishing import INIT_CHOICES, INITS, NORMS, init_code, init_label, resolve_init
from .vanishing import STD as V_STD

DATASETS = {**classification.DATASETS, "sine": "Sine wave (regression)"}  # 2-D classes, or y = sin(pi x)
REGRESSION = ("sine",)  # data sets with a real-valued target: MSELoss; the others: BCEWithLogitsLoss
SPLIT = 0.7  # the first 70% of the shuffled points train, the rest test (as the classifier)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)  # of each hidden layer's activations f(z), at every snapshot
DEAD_ACTIVATIONS = ("relu",)  # where z <= 0 makes both the output and its gradient exactly 0: "dead" is exact
DIVERGE_FACTOR = 100  # nnviz.training.diverged: the loss is non-finite or above 100x its first value
LEARNED = 0.5  # verdict: the training loss fell by more than this fraction: "learned"
STUCK = 0.1  # ...by less than this fraction: "did not learn"
MOVED = 0.05  # verdict: a layer whose relative weight change stays below this "barely moved"
HALF_DEAD = 0.5  # verdict: a layer "died" at the first snapshot where at least this share of its units is dead

# Controls: one definition of their bounds (widgets, URL check). Cost of one run at one torch thread
# on the shared 2-core box (busy): the default and every preset 0.7-1.1 s (exploding: 0.04 s, it
# stops at epoch 10); the largest allowed run (500 points, 30 layers of 128, BatchNorm, mish, 500
# epochs) about 49 s - a hosted page should cap the product of these (or lower the maxima).
DATA = ChoiceSpec("Data set", tuple(DATASETS), "moons")
N = IntSpec("Number of points", 50, 500, 200, 10)
NOISE = FloatSpec("Noise (std added to each point, or to y)", 0.0, 0.5, 0.1, 0.01)
DEPTH = IntSpec("Depth (hidden layers)", 1, 30, 20)
WIDTH = IntSpec("Width (units per hidden layer)", 8, 128, 32, 8)
ACT = ChoiceSpec("Activation", tuple(ACTIVATIONS), "sigmoid")
INIT = ChoiceSpec("Initialisation (torch.nn.init)", INIT_CHOICES, "default",
                  help="default: what nn.Linear does if you do nothing, U(±1/√fan_in). matched: Xavier for "
                       "sigmoid and tanh, He (Kaiming) for ReLU and its kin.")
STD = V_STD  # the vanishing page's: the same init, the same bounds
RESIDUAL = BoolSpec("Residual connections (h + f(norm(Wh + b)), hidden layers 2..depth)")
NORM = ChoiceSpec("Normalisation before each activation", tuple(NORMS), "none")
OPT = ChoiceSpec("Optimizer", tuple(OPTIMIZERS), "sgd")
LR = FloatSpec("Learning rate", 0.0001, 10.0, 0.05, 0.0001)
EPOCHS = IntSpec("Epochs", 1, 500, 300, 10)
CLIP_ON = BoolSpec("Clip gradients (clip_grad_norm_)")
CLIP = FloatSpec("Max global gradient norm", 0.01, 100.0, 1.0, 0.01)
SEED = IntSpec("Seed", 0, 9999, 0)


@dataclass(frozen=True)
class DeepConfig:
    data: str = "moons"  # a key of DATASETS: the classifier's 2-D sets (BCEWithLogitsLoss) or "sine" (MSELoss)
    n: int = 200  # points in all, train and test
    noise: float = 0.1  # std of the Gaussian noise on each point (classes) or on y (sine)
    depth: int = 20  # hidden layers; Linear layers in all: depth + 1 (the output layer)
    width: int = 32  # units per hidden layer
    activation: str = "sigmoid"  # a key of nnviz.activations.ACTIVATIONS, with its default parameters
    init: str = "default"  # nnviz.vanishing.INIT_CHOICES; "default" is nn.Linear's own reset_parameters
    std: float = 0.5  # std of the "normal" init (ignored by the others)
    residual: bool = False  # hidden layers 2..depth add their output to their input: h + f(norm(W h + b))
    norm: str = "none"  # nnviz.vanishing.NORMS: none | layernorm | batchnorm, between Linear and activation
    optimizer: str = "sgd"  # sgd | momentum | adam: plain SGD shows a vanishing gradient as it is
    lr: float = 0.05  # plain SGD at 0.05: relu/He learns (loss -90% or more, seeds 0-9), sigmoid/default does not
    epochs: int = 300  # the classic picture takes a few hundred epochs
    clip: float | None = None  # None: no clipping; else the max global norm given to clip_grad_norm_
    seed: int = 0  # the weights come from a generator seeded `seed`; the data from seed + 1

    def __post_init__(self) -> None:
        problems = []
        if self.data not in DATASETS:
            problems.append(f"data set {self.data!r} is not one of {', '.join(DATASETS)}")
        for spec, name in ((N, "n"), (DEPTH, "depth"), (WIDTH, "width"), (EPOCHS, "epochs"), (SEED, "seed")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not spec.min <= value <= spec.max:
                problems.append(f"{name} must be a whole number from {spec.min} to {spec.max}, not {value!r}")
        for spec, name in ((NOISE, "noise"), (STD, "std"), (LR, "lr")):
            value = getattr(self, name)
            if not _number(value) or not spec.min <= value <= spec.max:
                problems.append(f"{name} must be a number from {spec.min:g} to {spec.max:g}, not {value!r}")
        if self.activation not in ACTIVATIONS:
            problems.append(f"activation {self.activation!r} is not one of {', '.join(ACTIVATIONS)}")
        if self.init not in INIT_CHOICES:
            problems.append(f"init {self.init!r} is not one of {', '.join(INIT_CHOICES)}")
        if self.norm not in NORMS:
            problems.append(f"norm {self.norm!r} is not one of {', '.join(NORMS)}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if not isinstance(self.residual, bool):
            problems.append(f"residual must be True or False, not {self.residual!r}")
        if self.clip is not None and (not _number(self.clip) or not CLIP.min <= self.clip <= CLIP.max):
            problems.append(f"clip must be None (no clipping) or a max norm from {CLIP.min:g} to {CLIP.max:g}, "
                            f"not {self.clip!r}")
        if problems:
            raise ValueError("; ".join(problems))


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class Divergence:
    """Where a run blew up: the first epoch whose training loss was non-finite or above
    DIVERGE_FACTOR x the first epoch's (training.diverged), read from the loss of every epoch."""
    epoch: int  # 0-based epoch of that forward pass
    loss: float  # its training loss: inf, nan or a huge number
    previous: float  # the epoch before's training loss (nan at epoch 0)
    kind: str  # "nan" | "inf" | "grew" (finite, above DIVERGE_FACTOR x the first loss)
    nonfinite_epoch: int | None = None  # the first epoch whose loss was inf or nan (None: none before training stopped)
    nonfinite_loss: float = math.nan  # that loss: inf or nan


@dataclass(frozen=True)
class Snapshot:
    """One snapshot epoch. Per-layer lists run from the input side: grad_norm and weight_change have
    depth + 1 entries (the hidden layers' Linear, then the output layer); dead_fraction and
    quantiles have depth entries (the hidden layers). Everything except test_loss describes this
    epoch's forward and backward pass: the weights before its optimizer step."""
    epoch: int  # 0-based epoch just finished
    train_loss: float  # this epoch's forward pass (before its optimizer step)
    test_loss: float  # after this epoch's step, in eval mode under torch.inference_mode
    grad_norm: list[float]  # each Linear's ||dloss/dW||, this epoch's gradient BEFORE clipping
    grad_norm_total: float  # the global norm over every parameter's gradient (biases and norm layers
    #                         too) before clipping: what clip_grad_norm_ compares with the max norm
    weight_change: list[float]  # each Linear's ||W_t - W_0|| / ||W_0|| (W_t: the weights this epoch used)
    dead_fraction: list[float] | None  # each hidden layer's share of units with z <= 0 for every training
    #                                    input (z: the activation's input); None unless DEAD_ACTIVATIONS
    quantiles: list[list[float]]  # [layer][q]: QUANTILES of f(z) over every training input and unit
    diverged: bool = False  # training stopped here: the loss became non-finite or grew far above its start
    divergence: Divergence | None = None  # on the diverged snapshot: the epoch it first happened, and how


# --- Data --------------------------------------------------------------------------------------------

def make_data(config: DeepConfig) -> Data:
    """The classifier's data sets (nnviz.classification.make_data, the same points for the same n,
    noise and seed) with float (m, 1) targets for BCEWithLogitsLoss; or "sine": x ~ U(-1, 1) and
    y = sin(pi x) + noise, float32 (m, 1) each, from a generator seeded seed + 1, the first 70% train."""
    if config.data not in REGRESSION:
        d = classification.make_data(classification.ClassifierConfig(
            data=config.data, n=config.n, noise=config.noise, seed=config.seed, split=SPLIT))
        return Data(d.X_train, d.y_train.float().unsqueeze(1), d.X_test, d.y_test.float().unsqueeze(1))
    g = torch.Generator().manual_seed(config.seed + 1)
    x = 2 * torch.rand(config.n, 1, generator=g) - 1  # (n, 1)
    y = torch.sin(math.pi * x) + config.noise * torch.randn(config.n, 1, generator=g)  # (n, 1)
    k = _n_train(config)
    return Data(x[:k], y[:k], x[k:], y[k:])


def _n_train(config: DeepConfig) -> int:
    return int(round(SPLIT * config.n, 9))


def in_out(config: DeepConfig) -> tuple[int, int]:
    """(input features, outputs): 2 and 1 logit for the classes, 1 and 1 value for sine."""
    return (1, 1) if config.data in REGRESSION else (2, 1)


def make_loss(config: DeepConfig) -> nn.Module:
    return nn.MSELoss() if config.data in REGRESSION else nn.BCEWithLogitsLoss()


# --- Model ---------------------------------------------------------------------------------------------

class DeepMLP(nn.Module):
    """Hidden layer l = 1..depth: z = norm(Linear(h)), then h = f(z), or h + f(z) for l >= 2 with
    residual=True (layer 1 changes the width, so it has no identity path); then Linear(width, out).
    Built without drawing from the global random state (make_model initialises it)."""

    def __init__(self, in_dim: int, depth: int, width: int, out_dim: int, activation: str,
                 norm: str = "none", residual: bool = False, device: str | torch.device = "cpu") -> None:
        super().__init__()
        widths = [in_dim] + [width] * depth
        self.linears = nn.ModuleList(skip_init(nn.Linear, a, width, device=device) for a in widths[:-1])
        make_norm = {"none": lambda: nn.Identity(), "layernorm": lambda: nn.LayerNorm(width, device=device),
                     "batchnorm": lambda: nn.BatchNorm1d(width, device=device)}[norm]
        self.norms = nn.ModuleList(make_norm() for _ in range(depth))
        self.act = ACTIVATIONS[activation].build(ACTIVATIONS[activation].defaults())
        self.head = skip_init(nn.Linear, width, out_dim, device=device)
        self.residual = residual
        self.normed = norm != "none"  # without normalisation the Identity modules are not called (cheaper)

    def all_linears(self) -> list[nn.Linear]:
        """Every Linear in order: the hidden layers from the input side, then the output layer."""
        return [*self.linears, self.head]

    def forward(self, x: Tensor, record: list[tuple[Tensor, Tensor]] | None = None) -> Tensor:
        """The output (B, out); `record`, when given, collects each hidden layer's (z, f(z))."""
        h = x  # (B, in)
        for i, (linear, norm) in enumerate(zip(self.linears, self.norms)):
            z = norm(linear(h)) if self.normed else linear(h)  # (B, width) the activation's input
            a = self.act(z)  # (B, width)
            h = h + a if self.residual and i > 0 else a
            if record is not None:
                record.append((z, a))
        return self.head(h)  # (B, out)


def make_model(config: DeepConfig, device: str | torch.device = "cpu") -> DeepMLP:
    """The network of `config`, every Linear (in order, weight then bias) initialised by
    nnviz.vanishing.INITS from one generator seeded config.seed. With init "default" the numbers are
    exactly those `torch.manual_seed(seed)` and building the layers in that order would give."""
    din, dout = in_out(config)
    model = DeepMLP(din, config.depth, config.width, dout, config.activation, config.norm, config.residual)
    g = torch.Generator().manual_seed(config.seed)
    fill = INITS[resolve_init(config.init, config.activation)][1]
    with torch.no_grad():
        for linear in model.all_linears():
            fill(linear.weight, linear.bias, config.std, g)
    return model.to(device)


# --- Training ------------------------------------------------------------------------------------------

def train(config: DeepConfig = DeepConfig(), device: str | torch.device = "cpu", every: int = 10
          ) -> Iterator[Snapshot]:
    """Train on `device` with nnviz.training's eager loop (clip_grad_norm_ there when config.clip is
    set); yield a Snapshot every `every` epochs and at the last. The per-layer statistics are
    computed only at those epochs, between the backward pass and the (clipping and) optimizer step:
    the gradient norms from .grad, the activations from a second forward pass of the training inputs
    without autograd (BatchNorm's running statistics are put back afterwards). Stops early, with
    diverged=True and a Divergence saying at which epoch, when the loss becomes non-finite or grows
    above DIVERGE_FACTOR x its first value. Deterministic per config; shares no state across threads."""
    if not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a whole number >= 1, not {every!r}")
    dev = torch.device(device)
    data = make_data(config).to(dev)
    model = make_model(config, dev)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr)
    linears = model.all_linears()
    weights = [lin.weight for lin in linears]
    params = [p for p in model.parameters()]
    with torch.no_grad():
        w0 = [w.detach().clone() for w in weights]
        w0_norm = torch.stack([w.norm() for w in w0])  # (depth + 1,)
    dead_counted = config.activation in DEAD_ACTIVATIONS
    n, depth = config.epochs, config.depth
    losses = torch.full((n,), math.nan, device=dev)  # every epoch's training loss, for Divergence
    pending: dict[int, Tensor] = {}

    def measure(epoch: int) -> None:  # between backward and step, at snapshot epochs only
        if not training.is_snapshot(epoch, n, every):
            return
        with torch.no_grad():
            grads = [w.grad if w.grad is not None else torch.zeros_like(w) for w in weights]
            # in float64: a float32 norm squares each entry first, and a deep sigmoid net's first-layer entries
            # (~1e-24) square to below float32's smallest number (the norm came out 0 from about depth 25)
            g_layer = torch.stack([g.double().norm() for g in grads])  # (depth + 1,)
            g_total = torch.stack([p.grad.norm() for p in params if p.grad is not None]).norm()  # as clip_grad_norm_
            change = torch.stack([(w - w_0).norm() for w, w_0 in zip(weights, w0)]) / w0_norm  # (depth + 1,)
            saved = [b.clone() for b in model.buffers()]  # BatchNorm's running stats: a train-mode pass updates them
            record: list[tuple[Tensor, Tensor]] = []
            model(data.X_train, record)
            for b, s in zip(model.buffers(), saved):
                b.copy_(s)
            z = torch.stack([r[0] for r in record])  # (depth, n_train, width)
            a = torch.stack([r[1] for r in record]).flatten(1)  # (depth, n_train * width)
            dead = (z <= 0).all(1).sum(1).float() if dead_counted else z.new_zeros(depth)  # (depth,) counts: exact
            quant = _quantiles(a.float())  # (depth, len(QUANTILES))
            pending[epoch] = torch.cat([g_layer, g_total[None], change, dead, quant.flatten()])

    def recorded(steps: Iterator[Step]) -> Iterator[Step]:
        for step in steps:
            losses[step.epoch] = step.loss.detach()  # on the device: no host copy
            yield step

    def snapshot(step: Step) -> Snapshot:
        stats = pending.pop(step.epoch)
        values = torch.cat([torch.stack([step.loss.detach(), step.test_loss]), stats]).tolist()  # one copy
        loss, test_loss, values = values[0], values[1], values[2:]
        k = depth + 1
        g_layer, g_total, change = values[:k], values[k], values[k + 1:2 * k + 1]
        dead, quant = values[2 * k + 1:2 * k + 1 + depth], values[2 * k + 1 + depth:]
        m = len(QUANTILES)
        dead = [c / config.width for c in dead] if dead_counted else None
        return Snapshot(step.epoch, loss, test_loss, g_layer, g_total, change, dead,
                        [quant[i * m:(i + 1) * m] for i in range(depth)])

    def finish(snap: Snapshot, step: Step) -> Snapshot:
        if not snap.diverged:
            return snap
        seen = losses[:step.epoch + 1].tolist()
        first = seen[0]
        bad = next(e for e, v in enumerate(seen) if training.diverged(v, first))  # exists: snap's own loss diverged
        v = seen[bad]
        kind = "nan" if math.isnan(v) else "inf" if math.isinf(v) else "grew"
        nonfinite = next((e for e, v in enumerate(seen) if not math.isfinite(v)), None)
        return replace(snap, divergence=Divergence(bad, v, seen[bad - 1] if bad else math.nan, kind, nonfinite,
                                                   seen[nonfinite] if nonfinite is not None else math.nan))

    steps = training.epochs(model, make_loss(config), optimizer, data, n, clip=config.clip, before_step=measure)
    yield from training.snapshots(recorded(steps), n, every, snapshot, finish=finish)


def _quantiles(a: Tensor) -> Tensor:
    """QUANTILES of each row of a (rows, m), interpolated linearly as torch.quantile and numpy's
    default do; nan for a row holding a nan. On the CPU the rows are sorted by numpy (its SIMD sort
    is about 4x faster than torch's one-thread sort here), elsewhere by torch on the device."""
    m = a.shape[1]
    s = torch.from_numpy(np.sort(a.numpy(), axis=1)) if a.device.type == "cpu" else a.sort(dim=1).values
    pos = [q * (m - 1) for q in QUANTILES]
    lo = [int(math.floor(p)) for p in pos]
    hi = [min(i + 1, m - 1) for i in lo]
    frac = torch.tensor([p - i for p, i in zip(pos, lo)], dtype=s.dtype, device=s.device)  # (Q,)
    out = s[:, lo] + (s[:, hi] - s[:, lo]) * frac  # (rows, Q)
    return out.masked_fill(a.isnan().any(1, keepdim=True), math.nan)


def run(config: DeepConfig = DeepConfig(), device: str | torch.device = "cpu", every: int = 10) -> list[Snapshot]:
    """The whole history of train() as a list."""
    return list(train(config, device, every))


# --- What one run costs: a cap for a hosted page ------------------------------------------------------

# A run's work in multiply-adds. Per epoch, each of the depth + 1 Linear layers (the output layer and
# the epoch's own steps - loss, optimizer, test pass, snapshot - counted as one more layer) costs
#   n x width x (3 x width + ELEMENTWISE) + PER_LAYER
# 3 x n x width²: the training forward and backward over 70% of the points (3 products of n_train x
# width x width) and the test forward over the rest (1 of n_test x width x width) come to 2.4 x n x
# width² and are rounded up. ELEMENTWISE and PER_LAYER count in multiply-adds what the elementwise work
# (activation, normalisation, their backward, the optimizer) and each operation's fixed cost (Python,
# dispatch) take in time on one CPU core: measured at one torch thread on the shared 2-core box, the
# costliest per element (mish with BatchNorm) at n = 500, width 128 (1.3 ms a layer and epoch against
# relu's 0.7 ms) and per operation at n = 50, width 8 (0.14 ms). There 1e9 of these units took
# 27-33 ms (busy box), so MAX_WORK is about 3 s of one core.
ELEMENTWISE = 300  # multiply-adds per unit and point for the elementwise work
PER_LAYER = 5_000_000  # multiply-adds for the fixed cost of one layer's operations in one epoch
MAX_WORK = 1e11  # the page trains no run above this: the default and every preset are about 4.7e10


def work(config: DeepConfig) -> float:
    """The run's estimated work in multiply-adds (see ELEMENTWISE, PER_LAYER): at most MAX_WORK on the page."""
    per_layer = config.n * config.width * (3 * config.width + ELEMENTWISE) + PER_LAYER
    return float(config.epochs * (config.depth + 1) * per_layer)


def allowed(config: DeepConfig) -> bool:
    """Whether the page trains this run: its work() is at most MAX_WORK."""
    return work(config) <= MAX_WORK


_CAPPED = (("epochs", EPOCHS), ("n", N), ("depth", DEPTH), ("width", WIDTH))  # what a student can reduce


def largest_allowed(config: DeepConfig) -> dict[str, int]:
    """For each of epochs, n (points), depth and width: the largest value of that setting alone (on its
    widget's steps) that brings the run within MAX_WORK, the others kept; a setting that cannot is left out."""
    out = {}
    for name, spec in _CAPPED:
        values = range(spec.min, spec.max + 1, spec.step) if name in ("n", "width") else range(spec.min, spec.max + 1)
        ok = [v for v in values if v <= getattr(config, name) and allowed(replace(config, **{name: v}))]
        if ok:
            out[name] = ok[-1]
    return out


def too_costly(config: DeepConfig) -> str | None:
    """None for a run within MAX_WORK; else what the page says instead of training: how far over, and
    what to reduce."""
    if allowed(config):
        return None
    fixes = largest_allowed(config)
    words = {"epochs": "epochs to {}", "n": "the number of points to {}", "depth": "the depth to {} layers",
             "width": "the width to {} units"}
    ways = [words[k].format(v) for k, v in fixes.items()]
    return (f"This run is too large for this server: about {work(config) / MAX_WORK:.1f}x the work one run may take "
            f"(a few seconds of one CPU core), so it is not trained. Reduce "
            + (", or ".join(ways) if ways else "the epochs, the points, the depth and the width together")
            + " (each alone, the rest as they are).")


def limits(activation: str) -> tuple[float | None, float | None]:
    """The activation's limits f(-inf) and f(+inf), where finite (None: unbounded on that side), from its
    module at -1e6 and 1e6 in float64: where saturated units pile up (sigmoid 0 and 1, tanh -1 and 1, relu 0)."""
    act = ACTIVATIONS[activation]
    y = act.build(act.defaults())(torch.tensor([-1e6, 1e6], dtype=torch.float64)).tolist()
    return tuple(round(v, 4) + 0.0 if abs(v) < 1e3 else None for v in y)  # type: ignore[return-value]


SATURATION_MARGIN = 0.02  # saturated: within 2% of the range between the two limits, from one of them


def saturation(snapshot: Snapshot, activation: str) -> str:
    """Whether the snapshot's activations pile up at the activation's limits, in words computed from its
    quantiles: a layer is saturated when its 5th percentile lies within SATURATION_MARGIN of the range from
    the lower limit, or its 95th from the upper. Only for activations with two finite limits."""
    lo, hi = limits(activation)
    if lo is None or hi is None:
        return (f"{activation} has no upper limit, so it does not saturate on that side"
                + (f"; below, it tends to {lo:g}." if lo is not None else "."))
    margin = SATURATION_MARGIN * (hi - lo)
    q = snapshot.quantiles
    low = [i + 1 for i, layer in enumerate(q) if layer[0] <= lo + margin]
    high = [i + 1 for i, layer in enumerate(q) if layer[-1] >= hi - margin]
    finite = [v for layer in q for v in (layer[0], layer[-1]) if math.isfinite(v)]
    if not low and not high:
        span = f" (every layer's middle 90% lies between {min(finite):.2g} and {max(finite):.2g})" if finite else ""
        return (f"At epoch {snapshot.epoch} no layer is saturated{span}: the outputs stay away from {lo:g} and "
                f"{hi:g}. The gradient shrinks anyway: each layer multiplies it by the weights and by the slope, "
                f"and {activation}'s slope is at most {_max_slope(activation):.2g}.")
    parts = ([f"layers {_layers(low)} have at least 5% of their outputs within {margin:.2g} of {lo:g}"] if low else []) + \
        ([f"layers {_layers(high)} at least 5% within {margin:.2g} of {hi:g}"] if high else [])
    return (f"At epoch {snapshot.epoch} " + " and ".join(parts) + f": saturated units, where {activation}'s slope, "
            "and with it the gradient through them, is almost 0.")


def _max_slope(activation: str) -> float:
    """The activation's largest slope, by autograd on a fine grid over [-10, 10]."""
    act = ACTIVATIONS[activation]
    x = torch.linspace(-10, 10, 20001, dtype=torch.float64, requires_grad=True)
    act.build(act.defaults())(x).sum().backward()
    return float(x.grad.abs().max())


# --- What the run did, in words -----------------------------------------------------------------------

def loss_fall(history: Sequence[Snapshot]) -> float:
    """By what fraction the training loss fell from the first snapshot to the last: 1 - last / first
    (1.0: to zero; 0: not at all; negative: it rose; nan for a diverged run)."""
    first, last = history[0].train_loss, history[-1].train_loss
    if history[-1].diverged or not (math.isfinite(first) and math.isfinite(last)) or first <= 0:
        return math.nan
    return 1 - last / first


def died_at(history: Sequence[Snapshot], share: float = HALF_DEAD) -> list[int | None]:
    """For each hidden layer, the first snapshot epoch at which at least `share` of its units were
    dead (None: never, or dead units are not counted for this activation)."""
    if not history or history[0].dead_fraction is None:
        return []
    out: list[int | None] = []
    for layer in range(len(history[0].dead_fraction)):
        out.append(next((s.epoch for s in history if s.dead_fraction[layer] >= share), None))
    return out


def _layers(ids: Sequence[int]) -> str:
    """1-based layer numbers as text: "1-3, 7"."""
    ids = sorted(ids)
    runs: list[list[int]] = []
    for i in ids:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(f"{r[0]}" if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def verdict(config: DeepConfig, history: Sequence[Snapshot]) -> str:
    """What the page says about a finished (or stopped) run; every number is computed from it."""
    first, last = history[0], history[-1]
    out: list[str] = []
    if last.diverged:
        d = last.divergence
        what = {"nan": "became nan (not a number)", "inf": "overflowed to inf",
                "grew": f"grew above {DIVERGE_FACTOR}x its first value"}[d.kind] if d else "diverged"
        epoch = d.epoch if d else last.epoch
        prev = f" (from {d.previous:.3g} the epoch before to {d.loss:.3g})" if d and d.kind == "grew" else (
            f" (it was {d.previous:.3g} the epoch before)" if d and math.isfinite(d.previous) else "")
        later = (f"; it became {d.nonfinite_loss} at epoch {d.nonfinite_epoch}"
                 if d and d.kind == "grew" and d.nonfinite_epoch is not None else "")
        out.append(f"The training loss {what} at epoch {epoch}{prev}{later}, and training stopped at epoch "
                   f"{last.epoch}.")
        finite = [s for s in history if math.isfinite(s.grad_norm_total)]
        if finite:
            big = max(finite, key=lambda s: s.grad_norm_total)
            sgd = {"sgd": "SGD", "momentum": "SGD with momentum"}.get(config.optimizer)
            out.append(f"The global gradient norm had reached {big.grad_norm_total:.3g} at epoch {big.epoch}" +
                       (f" (it was {first.grad_norm_total:.3g} at epoch 0)" if big is not first else "") +
                       (f": {sgd} moves the weights by lr x gradient, here up to {config.lr * big.grad_norm_total:.3g} "
                        "in one step, far past any minimum." if sgd else "."))
        if epoch == 0:  # before any step: the untrained network's own forward pass
            out.append("That was before any step: the initial weights are too large for the signal to stay finite "
                       "through the layers. A smaller init scale helps; clipping the steps cannot.")
        elif config.clip is None:
            out.append("Clipping the global gradient norm (clip_grad_norm_) caps the size of every step.")
        return " ".join(out)
    fall = loss_fall(history)
    span = f"({first.train_loss:.3g} at epoch 0, {last.train_loss:.3g} at epoch {last.epoch})"
    if fall >= LEARNED:
        out.append(f"The network learned: its training loss fell by {fall:.0%} {span}.")
    elif fall < 0:
        out.append(f"The network did not learn: its training loss rose by {-fall:.1%} {span}.")
    elif fall < STUCK:
        out.append(f"The network did not learn: its training loss fell by only {fall:.1%} {span}.")
    else:
        out.append(f"The network learned a little: its training loss fell by {fall:.0%} {span}.")
    change = last.weight_change[:-1]  # the hidden layers
    if change and last.epoch > 0:  # (epoch 0's statistics are of the initial weights: nothing has moved yet)
        low = [i + 1 for i, c in enumerate(change) if c < MOVED]
        out.append(f"Relative to their initial size, the first hidden layer's weights moved by {_pct(change[0])}, "
                   f"the last hidden layer's by {_pct(change[-1])}" +
                   (f"; layers {_layers(low)} moved by less than {MOVED:.0%}." if len(low) > 1 else
                    f"; layer {low[0]} moved by less than {MOVED:.0%}." if low else "."))
    g = last.grad_norm[:-1]
    if len(g) > 1 and g[0] > 0 and g[-1] > 0:
        ratio = g[0] / g[-1]
        if ratio < 0.01 or ratio > 100:
            out.append(f"At epoch {last.epoch} the first layer's gradient was {ratio:.2g} times the last hidden "
                       f"layer's.")
    if last.dead_fraction is not None:
        died = died_at(history)
        dead_now = sum(last.dead_fraction) / len(last.dead_fraction)
        out.append(f"At epoch {last.epoch} {dead_now:.0%} of the hidden units are dead (ReLU output 0 for every "
                   f"training input; at epoch 0: {sum(first.dead_fraction) / len(first.dead_fraction):.0%}).")
        born = [i + 1 for i, e in enumerate(died) if e == 0]
        gone = sorted((e, i + 1) for i, e in enumerate(died) if e is not None and e > 0)
        if born:
            out.append(f"Layer{'s' if len(born) > 1 else ''} {_layers(born)} had at least {HALF_DEAD:.0%} of "
                       "their units dead already at initialisation.")
        if gone:
            out.append(f"{len(gone)} of {len(died)} layers lost at least {HALF_DEAD:.0%} of their units during "
                       "training: " + ", ".join(f"layer {i} by epoch {e}" for e, i in gone[:6])
                       + (f" and {len(gone) - 6} more" if len(gone) > 6 else "")
                       + ".")
    if config.clip is not None:
        clipped = sum(s.grad_norm_total > config.clip for s in history)
        out.append(f"The global gradient norm was above the max norm {config.clip:g} (so clip_grad_norm_ scaled "
                   f"it down) at {clipped} of {len(history)} snapshots.")
    return " ".join(out)


def _pct(v: float) -> str:
    """A relative change as a percentage with two significant digits; exactly 0 said as such."""
    if v == 0:
        return "0% (not at all: every update was below float32's resolution)"
    return f"{100 * v:.0f}%" if 100 * v >= 10 else f"{100 * v:.2g}%"  # 110%, not 1.1e+02%


def label(config: DeepConfig, others: Sequence[DeepConfig] = ()) -> str:
    """A run's name in a comparison legend: "sigmoid · PyTorch default", "relu · He", "sigmoid ·
    PyTorch default · residual": activation, init, and residual, normalisation and clipping where
    on. With `others` (the runs it is shown beside) it names what differs among them: settings all
    of them share are left out (except the activation), other settings (lr, depth, ...) put in."""
    parts = _label_parts(config)
    if not others:
        return " · ".join(parts[k] for k in _LABEL_BASE if parts[k])
    everyone = [_label_parts(c) for c in (config, *others)]
    keep = [k for k in parts if k == "activation" or len({p[k] for p in everyone}) > 1]
    return " · ".join(parts[k] for k in keep if parts[k])


_LABEL_BASE = ("activation", "init", "residual", "norm", "clip")


def _label_parts(c: DeepConfig) -> dict[str, str]:
    return {"activation": c.activation, "init": init_label(resolve_init(c.init, c.activation), c.std),
            "residual": "residual" if c.residual else "", "norm": "" if c.norm == "none" else NORMS[c.norm],
            "clip": f"clip {c.clip:g}" if c.clip is not None else "", "optimizer": OPTIMIZERS[c.optimizer],
            "lr": f"lr {c.lr:g}", "depth": f"depth {c.depth}", "width": f"width {c.width}", "data": c.data,
            "epochs": f"{c.epochs} epochs", "seed": f"seed {c.seed}"}


# --- Presets -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Preset:
    """A "Try" link: its settings and the claim the page states about them, with the fraction it
    is checked against (tests hold it for seeds 0-9)."""
    title: str
    config: DeepConfig
    claim: str
    max_fall: float | None = None  # the training loss falls by less than this fraction
    min_fall: float | None = None  # ... by more than this fraction
    diverges: bool | None = None  # True: the run stops with a non-finite loss; False: it does not
    min_dead: float | None = None  # at the end, at least this share of all hidden units is dead
    max_dead_start: float | None = None  # at epoch 0, at most this share is dead


def holds(preset: Preset, history: Sequence[Snapshot]) -> bool:
    """Whether a run (of preset.config, any seed) bears out the preset's claim."""
    last = history[-1]
    if preset.diverges is not None and last.diverged != preset.diverges:
        return False
    fall = loss_fall(history)
    if preset.max_fall is not None and not fall < preset.max_fall:
        return False
    if preset.min_fall is not None and not fall > preset.min_fall:
        return False
    if preset.min_dead is not None:
        dead = last.dead_fraction
        if dead is None or not sum(dead) / len(dead) >= preset.min_dead:
            return False
    if preset.max_dead_start is not None:
        dead = history[0].dead_fraction
        if dead is None or not sum(dead) / len(dead) <= preset.max_dead_start:
            return False
    return True


_BASE = DeepConfig()  # depth 20, width 32, moons, plain SGD at lr 0.05, 300 epochs: about 0.5-1.5 s a run
_EXPLODE = replace(_BASE, activation="relu", init="normal", std=0.4)  # N(0, 0.4²) at width 32: 1.6x He's std (0.25)
# Measured over seeds 0-9 (tests/test_deep.py holds the claims): see each claim's comment.
PRESETS: dict[str, Preset] = {
    "sigmoid_default": Preset(  # fall 0.0-2.4%; layer 1's gradient ~1e-18, its weights do not change in float32
        "Deep sigmoid, PyTorch's default init", _BASE,
        "does not learn: the training loss falls by less than 10%", max_fall=0.1, diverges=False),
    "relu_he": Preset(  # fall 90-100%
        "Deep ReLU, He init", replace(_BASE, activation="relu", init="kaiming_normal"),
        "learns: the training loss falls by more than 50%", min_fall=0.5, diverges=False),
    "sigmoid_residual": Preset(  # fall 55-94% (its first loss is higher: 20 layers of sigmoid add up)
        "The same sigmoid net with residual connections", replace(_BASE, residual=True),
        "learns: the training loss falls by more than 40%", min_fall=0.4, diverges=False),
    "sigmoid_batchnorm": Preset(  # fall 93-95%
        "The same sigmoid net with BatchNorm", replace(_BASE, norm="batchnorm"),
        "learns: the training loss falls by more than 50%", min_fall=0.5, diverges=False),
    "sigmoid_layernorm": Preset(  # fall 0-2.2%: layer 1's gradient rises from ~1e-18 to ~1e-10, still ~1e-8 of layer 20's
        "The same sigmoid net with LayerNorm", replace(_BASE, norm="layernorm"),
        "does not learn: the training loss falls by less than 10%. LayerNorm lifts the first layer's gradient "
        "by about 8 orders of magnitude at the start, but there it stays about 8 orders below the last layer's",
        max_fall=0.1,
        diverges=False),
    "exploding": Preset(  # every seed: the loss grows >100x at epoch 1 and is nan by the first snapshot
        "Deep ReLU, init too large (normal, std 0.4)", _EXPLODE,
        "explodes: the loss grows above 100x its start (then nan) and training stops", diverges=True),
    "exploding_clipped": Preset(  # fall ~100%
        "The same net with gradient clipping (max norm 1)", replace(_EXPLODE, clip=1.0),
        "does not blow up, and the training loss falls by more than 50%", min_fall=0.5, diverges=False),
    "dying_relu": Preset(  # dead 18-32% at epoch 0, 64-84% at the end
        "Deep ReLU, He init, learning rate too large (Adam 0.05)",
        replace(_BASE, activation="relu", init="kaiming_normal", optimizer="adam", lr=0.05),
        "units die: at most 35% of the hidden units are dead at epoch 0, at least 50% at the end",
        min_dead=0.5, max_dead_start=0.35),
}


def preset(name: str, seed: int = 0) -> DeepConfig:
    """The preset's config with another seed."""
    return replace(PRESETS[name].config, seed=seed)


# --- Show the code -------------------------------------------------------------------------------------


_SINE_CODE = """x = 2 * torch.rand(n, 1, generator=g) - 1  # x ~ U(-1, 1)
y = torch.sin(math.pi * x) + noise * torch.randn(n, 1, generator=g)
split = int(round({split!r} * n, 9))
X_train, y_train, X_test, y_test = x[:split], y[:split], x[split:], y[split:]"""

_CLASS_CODE = """{clean}
X = X + noise * torch.randn(n, 2, generator=g)
perm = torch.randperm(n, generator=g)
X, y = X[perm], y[perm].float().unsqueeze(1)  # BCEWithLogitsLoss takes float targets
split = int(round({split!r} * n, 9))
X_train, y_train, X_test, y_test = X[:split], y[:split], X[split:], y[split:]"""

FINAL_LINE = "Final: epoch {epoch} | train loss {train_loss:.6g} | test loss {test_loss:.6g}"  # the script's last line


def final_line(snapshot: Snapshot) -> str:
    """The shown script's last line for a run whose last snapshot this is (not diverged)."""
    return FINAL_LINE.format(epoch=snapshot.epoch, train_loss=snapshot.train_loss, test_loss=snapshot.test_loss)


def script(config: DeepConfig, device: str = "cpu") -> str:
    """A plain-torch script (no nnviz) that trains this run and prints, every tenth of the run, each
    hidden layer's gradient norm, and last the final numbers in FINAL_LINE's format."""
    act = ACTIVATIONS[config.activation]
    params = ", ".join(f"{k}={v!r}" for k, v in act.defaults().items())
    init = resolve_init(config.init, config.activation)
    din, dout = in_out(config)
    data_code = (_SINE_CODE if config.data in REGRESSION else _CLASS_CODE).format(
        clean=classification._DATA_CODE.get(config.data, ""), split=SPLIT)
    norm = {"none": "nn.Identity()", "layernorm": "nn.LayerNorm(width)", "batchnorm": "nn.BatchNorm1d(width)"}[config.norm]
    opt = {"sgd": f"torch.optim.SGD(model.parameters(), lr={config.lr!r})",
           "momentum": f"torch.optim.SGD(model.parameters(), lr={config.lr!r}, momentum=0.9)",
           "adam": f"torch.optim.Adam(model.parameters(), lr={config.lr!r})"}[config.optimizer]
    loss = "nn.MSELoss()" if config.data in REGRESSION else "nn.BCEWithLogitsLoss()"
    clip = (f"    nn.utils.clip_grad_norm_(model.parameters(), max_norm={config.clip!r})  # 4b. clip\n"
            if config.clip is not None else "")
    return f'''import math

import torch
from torch import nn
from torch.nn.utils import skip_init

device = "{device}"
n, noise = {config.n}, {config.noise!r}
g = torch.Generator().manual_seed({config.seed + 1})  # the data's own stream
{data_code}
X_train, y_train, X_test, y_test = (t.to(device) for t in (X_train, y_train, X_test, y_test))


class DeepMLP(nn.Module):
    def __init__(self, depth, width, residual):
        super().__init__()
        # skip_init: build the layers without drawing numbers; init() below draws them from g
        self.linears = nn.ModuleList(skip_init(nn.Linear, {din} if i == 0 else width, width) for i in range(depth))
        self.norms = nn.ModuleList({norm} for _ in range(depth))
        self.act = {act.label}({params})
        self.head = skip_init(nn.Linear, width, {dout})
        self.residual = residual

    def forward(self, x):
        h = x
        for i, (linear, norm) in enumerate(zip(self.linears, self.norms)):
            a = self.act(norm(linear(h)))
            h = h + a if self.residual and i > 0 else a  # layer 1 changes the width: no identity path
        return self.head(h)


def init(w, b, g):
    {init_code(init, config.std)}


model = DeepMLP(depth={config.depth}, width={config.width}, residual={config.residual})
g = torch.Generator().manual_seed({config.seed})  # the weights' own stream
with torch.no_grad():
    for linear in [*model.linears, model.head]:  # input side first, weight then bias
        init(linear.weight, linear.bias, g)
model = model.to(device)
loss_fn = {loss}
optimizer = {opt}

for epoch in range({config.epochs}):
    model.train()
    out = model(X_train)  # 1. forward pass
    loss = loss_fn(out, y_train)  # 2. loss
    optimizer.zero_grad()  # 3. zero the gradients
    loss.backward()  # 4. backward pass
    if epoch % {max(config.epochs // 10, 1)} == 0:
        norms = [linear.weight.grad.double().norm().item() for linear in model.linears]  # float64: tiny ones underflow
        print(f"Epoch {{epoch}} | loss {{loss.item():.4f}} | grad norm per hidden layer: "
              + " ".join(f"{{v:.1e}}" for v in norms))
{clip}    optimizer.step()  # 5. optimizer step
    if not math.isfinite(loss.item()):
        print(f"The loss became {{loss.item()}} at epoch {{epoch}}")
        break

    model.eval()
    with torch.inference_mode():
        test_loss = loss_fn(model(X_test), y_test)

# The last epoch's train loss (before its step) and test loss (after it)
print(f"Final: epoch {{epoch}} | train loss {{loss.item():.6g}} | test loss {{test_loss.item():.6g}}")
'''
