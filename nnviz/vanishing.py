"""Vanishing (and exploding) gradients: a deep MLP built from torch.nn, one backward pass, and the
weight-gradient norm of every layer read from `.grad`, swept over depth and averaged over seeds."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn
from torch.nn import init
from torch.nn.utils import skip_init

from .activations import ACTIVATIONS
from .controls import BoolSpec, ChoiceSpec, FloatSpec, IntSpec, MultiChoiceSpec

BATCH = 16  # random inputs per backward pass (the cost of a sweep grows with it)
N_SEEDS = 3  # networks averaged per point: seeds seed, seed+1, seed+2
SWEEP_DEPTHS = (1, 2, 3, 5, 8, 12, 20, 30, 40, 50)  # the headline's x-axis (plus the chosen depth)
STACK = max(SWEEP_DEPTHS)  # every network is the first d layers of one stack this deep
SATURATED = 0.01  # a unit counts as saturated (or dead) where |f'(z)| < this


def _default(w: Tensor, b: Tensor, std: float, g: torch.Generator) -> None:
    """What nn.Linear.reset_parameters does, drawn from our generator: kaiming_uniform with
    a = sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from the same range."""
    init.kaiming_uniform_(w, a=math.sqrt(5), generator=g)
    bound = 1 / math.sqrt(w.shape[1])
    init.uniform_(b, -bound, bound, generator=g)


INITS: dict[str, tuple[str, Callable[[Tensor, Tensor, float, torch.Generator], None]]] = {
    "default": ("PyTorch's default for nn.Linear: U(±1/√fan_in)", _default),
    "xavier_uniform": ("Xavier (Glorot) uniform: U(±√(6/(fan_in+fan_out)))",
                       lambda w, b, s, g: (init.xavier_uniform_(w, generator=g), init.zeros_(b))),
    "xavier_normal": ("Xavier (Glorot) normal: N(0, 2/(fan_in+fan_out))",
                      lambda w, b, s, g: (init.xavier_normal_(w, generator=g), init.zeros_(b))),
    "kaiming_uniform": ("Kaiming (He) uniform for ReLU: U(±√(6/fan_in))",
                        lambda w, b, s, g: (init.kaiming_uniform_(w, nonlinearity="relu", generator=g), init.zeros_(b))),
    "kaiming_normal": ("Kaiming (He) normal for ReLU: N(0, 2/fan_in)",
                       lambda w, b, s, g: (init.kaiming_normal_(w, nonlinearity="relu", generator=g), init.zeros_(b))),
    "normal": ("Plain normal N(0, std²), whatever the width",
               lambda w, b, s, g: (init.normal_(w, 0.0, s, generator=g), init.zeros_(b))),
}
# "matched": the init each activation was designed with. Xavier/Glorot (2010) keeps the signal's
# variance for functions with slope 1 at 0 (tanh; for square layers it is LeCun's 1/fan_in, which
# SELU needs); He/Kaiming (2015) doubles it for the ReLU family, whose units pass half the signal.
MATCHED = {**{a: "kaiming_normal" for a in ACTIVATIONS},
           **{a: "xavier_normal" for a in ("sigmoid", "tanh", "softsign", "hardtanh", "selu")}}
INIT_CHOICES = ("matched", *INITS)
NORMS = {"none": "none", "layernorm": "LayerNorm", "batchnorm": "BatchNorm1d"}


def resolve_init(init_name: str, act: str) -> str:
    """The concrete torch.nn.init scheme: 'matched' becomes the one made for this activation."""
    return MATCHED[act] if init_name == "matched" else init_name


# What a legend calls a concrete init ("relu · He"): the name a textbook gives it
INIT_NAMES = {"default": "PyTorch default", "xavier_uniform": "Xavier uniform", "xavier_normal": "Xavier",
              "kaiming_uniform": "He uniform", "kaiming_normal": "He", "normal": "normal"}


def init_label(init: str, std: float = 0.5) -> str:
    """A concrete init's short name for a legend; the plain normal init says its std."""
    return f"normal, std {std:g}" if init == "normal" else INIT_NAMES[init]


# Controls: one definition of their bounds, for the widgets, the URL check and the resource cap.
ACT = MultiChoiceSpec("Activations", tuple(ACTIVATIONS), ("sigmoid", "tanh", "relu"), max_selections=4)
DEPTH = IntSpec("Depth (hidden layers) for the profile", 1, 50, 30)
WIDTH = IntSpec("Width (units per layer)", 16, 128, 64, 16)
INIT = ChoiceSpec("Initialisation (torch.nn.init)", INIT_CHOICES, "matched",
                  help="matched: Xavier for sigmoid and tanh, He (Kaiming) for ReLU and its kin. "
                       "default: what nn.Linear does if you do nothing.")
STD = FloatSpec("std of the plain normal init", 0.01, 3.0, 0.5, 0.01)
RESIDUAL = BoolSpec("Residual connections (h + f(Wh + b))")
NORM = ChoiceSpec("Normalisation between layers", tuple(NORMS), "none")
DTYPE = ChoiceSpec("Precision", ("float32", "float64"), "float32")
SEED = IntSpec("Seed", 0, 9999, 0)


class DeepMLP(nn.Module):
    """depth x [Linear(width, width) -> optional norm -> activation], optionally residual, then a
    Linear(width, 1) output layer. Built without drawing from the global RNG (see `init_`)."""

    def __init__(self, act: str, depth: int, width: int, norm: str = "none", residual: bool = False,
                 dtype: torch.dtype = torch.float32, device: str = "cpu") -> None:
        super().__init__()
        kw = dict(dtype=dtype, device=device)
        self.layers = nn.ModuleList(skip_init(nn.Linear, width, width, **kw) for _ in range(depth))
        make_norm = {"none": lambda: nn.Identity(), "layernorm": lambda: nn.LayerNorm(width, **kw),
                     "batchnorm": lambda: nn.BatchNorm1d(width, **kw)}[norm]
        self.norms = nn.ModuleList(make_norm() for _ in range(depth))
        self.act = ACTIVATIONS[act].build(ACTIVATIONS[act].defaults())
        self.head = skip_init(nn.Linear, width, 1, **kw)
        self.residual = residual

    def parameters_to_init(self) -> list[Tensor]:
        """Every Linear's weight and bias, in the order init_ draws them."""
        return [t for linear in [*self.layers, self.head] for t in (linear.weight, linear.bias)]

    def forward(self, x: Tensor, pre: list[Tensor] | None = None, hidden: list[Tensor] | None = None) -> Tensor:
        """The output (B, 1); `pre` and `hidden`, when given, collect each layer's pre-activation
        z and hidden state h."""
        h = x  # (B, width)
        for linear, norm in zip(self.layers, self.norms):
            z = norm(linear(h))  # (B, width) pre-activation
            a = self.act(z)
            h = h + a if self.residual else a
            if pre is not None:
                pre.append(z)
            if hidden is not None:
                hidden.append(h)
        return self.head(h)  # (B, 1)


@functools.lru_cache(maxsize=6)  # at most ~40 MB (width 128, float64), 2 settings x 3 seeds
def _draws(seed: int, width: int, init_name: str, std: float) -> tuple[tuple[Tensor, ...], Tensor, Tensor]:
    """Initial weights and the random batch for one seed, on the CPU, always drawn in float64 (the
    precision switch casts them, so float32 and float64 look at the same network). They do not
    depend on the activation, normalisation or residual switch, so every activation shares them
    (computed once, never modified: callers copy them). In order: the stack's init from generator
    g, then x, y."""
    g = torch.Generator().manual_seed(seed)
    model = DeepMLP("relu", STACK, width, dtype=torch.float64)
    init_(model, init_name, std, g)
    x = torch.randn(BATCH, width, generator=g, dtype=torch.float64)
    y = torch.randn(BATCH, 1, generator=g, dtype=torch.float64)
    return tuple(p.detach() for p in model.parameters_to_init()), x, y


def init_(model: DeepMLP, name: str, std: float, g: torch.Generator) -> None:
    """Initialise every Linear layer (hidden and output) with torch.nn.init and generator g."""
    with torch.no_grad():
        for linear in [*model.layers, model.head]:
            INITS[name][1](linear.weight, linear.bias, std, g)


@dataclass(frozen=True)
class Measurement:
    """One seed's stack measured at several depths. Lists run from layer 1 (the input side)."""
    grad_norms: dict[int, list[float]]  # depth -> Frobenius norm of each hidden layer's weight.grad
    dact_mean: list[float]  # at `depth`: mean |f'(z)| over batch and units, per layer
    saturated: list[float]  # at `depth`: fraction of units with |f'(z)| < SATURATED, per layer
    act_std: list[float]  # at `depth`: std of the hidden states h, per layer


def measure(act: str, depths: tuple[int, ...], width: int, init_name: str = "default", std: float = STD.default,
            residual: bool = False, norm: str = "none", dtype: str = "float32", seed: int = 0,
            device: str = "cpu", depth: int | None = None) -> Measurement:
    """Networks of several depths from one seed, with one backward pass per depth.

    The network of depth d is the first d hidden layers of one stack of STACK layers,
    followed by the output layer: adding a layer to a network leaves the earlier ones as they were.
    `depth` (one of `depths`) is where the per-layer statistics are taken."""
    dt = getattr(torch, dtype)
    model = DeepMLP(act, STACK, width, norm, residual, dt, device)
    weights, x, y = _draws(seed, width, resolve_init(init_name, act), std)
    with torch.no_grad():
        for p, v in zip(model.parameters_to_init(), weights):
            p.copy_(v)  # copy_ casts float64 -> dtype
    x, y = x.to(device, dt), y.to(device, dt)  # (B, width) random inputs, (B, 1) random regression targets
    pre: list[Tensor] = []
    hidden: list[Tensor] = []
    model(x, pre, hidden)
    weights = [lin.weight for lin in model.layers]
    mse = nn.MSELoss()
    norms = {}
    for d in depths:
        loss = mse(model.head(hidden[d - 1]), y)  # the depth-d network's loss
        grads = torch.autograd.grad(loss, weights[:d], retain_graph=True)  # each layer's weight.grad
        # the norm is taken in float64: squaring tiny float32 entries must not underflow, so a 0
        # here means the gradient itself is exactly 0
        norms[d] = torch.stack([gr.double().norm() for gr in grads]).tolist()
    if depth is None:
        return Measurement(norms, [], [], [])
    z = torch.stack(pre[:depth]).detach().requires_grad_(True)  # (depth, B, width) pre-activations
    a = model.act(z)
    (fd,) = torch.autograd.grad(a.sum(), z)  # f'(z) elementwise, all layers at once
    fd = fd.abs().flatten(1)  # (depth, B * width)
    h = torch.stack(hidden[:depth]).detach().flatten(1)  # (depth, B * width)
    return Measurement(norms, fd.mean(1).tolist(), (fd < SATURATED).to(dt).mean(1).tolist(), h.std(1).tolist())


def _log_mean(values: list[float]) -> float:
    """Geometric mean (the average on a log axis); 0.0 when any value underflowed to exactly 0."""
    if any(v == 0.0 for v in values):
        return 0.0
    return math.exp(sum(math.log(v) for v in values) / len(values))


@dataclass(frozen=True)
class Sweep:
    act: str
    depths: list[int]  # the depths measured
    first: list[list[float]]  # [depth][seed] first layer's gradient norm
    first_mean: list[float]  # geometric mean over seeds (0.0: some seed underflowed)
    grid: list[list[float]]  # [depth][layer] geometric mean over seeds; layers beyond depth: None
    profile: list[list[float]]  # [seed][layer] at the chosen depth
    profile_mean: list[float]
    stats: dict[str, list[float]]  # at the chosen depth, averaged over seeds
    init: str  # the concrete init ('matched' resolved for this activation)
    prediction: "Prediction | None"  # the theory's line; None where it does not apply (residual, norm)
    init_label: str = ""  # the init's short name for a legend (init_label): "He", "Xavier", "PyTorch default"


def sweep(act: str, depth: int, width: int = WIDTH.default, init_name: str = "matched",
          std: float = STD.default, residual: bool = False, norm: str = "none", dtype: str = "float32",
          seed: int = 0, device: str = "cpu") -> Sweep:
    """Gradient norms at every depth in SWEEP_DEPTHS (and `depth`) for N_SEEDS seeds."""
    depths = tuple(sorted(set(SWEEP_DEPTHS) | {depth}))
    runs = [measure(act, depths, width, init_name, std, residual, norm, dtype, seed + s, device, depth)
            for s in range(N_SEEDS)]
    first = [[m.grad_norms[d][0] for m in runs] for d in depths]
    grid = [[_log_mean([m.grad_norms[d][layer] for m in runs]) if layer < d else None
             for layer in range(max(depths))] for d in depths]
    stats = {k: [sum(getattr(m, k)[i] for m in runs) / len(runs) for i in range(depth)]
             for k in ("dact_mean", "saturated", "act_std")}
    profile = [m.grad_norms[depth] for m in runs]
    prediction = predict(act, width, init_name, std) if not residual and norm == "none" else None
    return Sweep(act, list(depths), first, [_log_mean(v) for v in first], grid, profile,
                 [_log_mean([p[i] for p in profile]) for i in range(depth)], stats,
                 resolve_init(init_name, act), prediction, init_label(resolve_init(init_name, act), std))


# --- What one layer does to the backward signal ------------------------------------------------
# Going back through hidden layer l (u = W h_{l-1} + b, z = norm(u), h_l = f(z)) the gradient passes
# three steps, and its norm is multiplied at each:
#     |dL/du| / |dL/dz|          the normalisation (1 without one): it divides by the spread it divided u by
#     |dL/dz| / |dL/dh_l|        the activation: the slopes f'(z)
#     |dL/dh_{l-1}| / |dL/du|    the weights, W^T
# and their product is the layer's factor |dL/dh_{l-1}| / |dL/dh_l|.

@dataclass(frozen=True)
class BackwardFactors:
    """One layer's factors on the backward signal in a plain stack (no residual), each the geometric mean
    over layers 2..depth and N_SEEDS seeds, measured with autograd in float64."""
    act: str
    norm: str
    init: str  # the concrete init
    depth: int
    norm_gain: float  # |dL/du| / |dL/dz| through the normalisation (1.0 without one)
    slope: float  # |dL/dz| / |dL/dh| through the activation
    weights: float  # |dL/dh_{l-1}| / |dL/du| through W^T
    per_layer: float  # the three together: |dL/dh_{l-1}| / |dL/dh_l|
    spread: float  # what the normalisation divides u by: its std over the batch (batchnorm) or over the
    # units of one example (layernorm), averaged; nan without normalisation
    saturated: float  # share of units with |f'(z)| < SATURATED, over every layer, example and seed
    init_label: str = ""  # the init's short name (init_label): "Xavier", "normal, std 3"


def _geo(values: list[float]) -> float:
    """Geometric mean of the measurable ratios (finite); 0.0 when one is exactly 0; nan when none is finite."""
    ok = [v for v in values if math.isfinite(v)]
    if not ok:
        return math.nan
    return 0.0 if min(ok) == 0 else math.exp(sum(map(math.log, ok)) / len(ok))


def backward_factors(act: str, depth: int, width: int = WIDTH.default, init_name: str = "matched",
                     std: float = STD.default, norm: str = "none", seed: int = 0,
                     device: str = "cpu") -> BackwardFactors:
    """How one layer scales the gradient on its way back, split into the normalisation, the activation's
    slopes and the weights, for the page's networks (the same draws as `measure`), at depth max(depth, 2)."""
    depth = max(int(depth), 2)
    dt = torch.float64
    ratios: dict[str, list[float]] = {k: [] for k in ("norm_gain", "slope", "weights")}
    spread, saturated, count = 0.0, 0.0, 0
    for s in range(N_SEEDS):
        model = DeepMLP(act, STACK, width, norm, False, dt, device)
        weights, x, y = _draws(seed + s, width, resolve_init(init_name, act), std)
        with torch.no_grad():
            for p, v in zip(model.parameters_to_init(), weights):
                p.copy_(v)
        us, zs, hs = [], [], []
        h = x.to(device)  # (B, width)
        for linear, nrm in zip(model.layers[:depth], model.norms[:depth]):
            u = linear(h)  # (B, width)
            z = nrm(u)
            h = model.act(z)
            for t, keep in ((u, us), (z, zs), (h, hs)):
                t.retain_grad()
                keep.append(t)
        nn.MSELoss()(model.head(h), y.to(device)).backward()
        for layer in range(1, depth):  # layers 2..depth: each has a layer before it
            nu, nz, nh = (float(t[layer].grad.norm()) for t in (us, zs, hs))
            for k, (a, b) in (("norm_gain", (nu, nz)), ("slope", (nz, nh)),
                              ("weights", (float(hs[layer - 1].grad.norm()), nu))):
                ratios[k].append(a / b if b > 0 else math.nan)  # 0/0 where the gradient already became 0
            u = us[layer].detach()
            spread += float(u.std(0, unbiased=False).mean() if norm == "batchnorm" else
                            u.std(1, unbiased=False).mean() if norm == "layernorm" else math.nan)
            count += 1
        zall = torch.stack([z.detach() for z in zs]).requires_grad_(True)  # (depth, B, width)
        (fd,) = torch.autograd.grad(model.act(zall).sum(), zall)  # f'(z) elementwise
        saturated += float((fd.abs() < SATURATED).double().mean()) / N_SEEDS
    f = {k: _geo(v) for k, v in ratios.items()}
    return BackwardFactors(act, norm, resolve_init(init_name, act), depth, f["norm_gain"], f["slope"], f["weights"],
                           f["norm_gain"] * f["slope"] * f["weights"], spread / count, saturated,
                           init_label(resolve_init(init_name, act), std))


def _trend(per_layer: float) -> str:
    return ("the gradient keeps about its size" if 0.8 <= per_layer <= 1.25 else
            "the gradient still shrinks" if per_layer < 0.8 else "the gradient grows")


def norm_story(none: BackwardFactors, bn: BackwardFactors, ln: BackwardFactors, width: int) -> str:
    """What BatchNorm and LayerNorm do to the backward signal of one activation's stack, in words, every number
    from the three measurements (no normalisation, batchnorm, layernorm)."""
    a = none.act
    if not all(math.isfinite(v) and v > 0 for f in (none, bn, ln) for v in (f.norm_gain, f.slope, f.weights)):
        return (f"With {a} ({none.init_label} init) the gradient becomes exactly 0 or overflows in some layer "
                "at these settings, so one layer's factors cannot all be measured.")
    text = (f"With {a} ({none.init_label} init) and no normalisation one layer multiplies the gradient by "
            f"{none.per_layer:.3g} on its way back ({none.slope:.2g} from the slopes f', {none.weights:.2g} from the "
            f"weights). BatchNorm divides each unit's input by its spread over the batch ({bn.spread:.2g}), and on "
            f"the way back the gradient by about the same spread: × {bn.norm_gain:.2g} per layer. Each layer then "
            f"passes on × {bn.per_layer:.3g}: {_trend(bn.per_layer)}. LayerNorm divides by the spread over the {width} units "
            f"of one example ({ln.spread:.2g}): × {ln.norm_gain:.2g}, and each layer passes on × {ln.per_layer:.3g}: "
            f"{_trend(ln.per_layer)}.")
    if none.saturated < 0.01:
        text += (f" Without normalisation {100 * none.saturated:.2g}% of the units are saturated (|f'| < "
                 f"{SATURATED:g}): the normalisation does not help by keeping units out of saturation, it rescales "
                 "the backward signal.")
    else:
        text += (f" Without normalisation {100 * none.saturated:.2g}% of the units pass almost no gradient "
                 f"(|f'| < {SATURATED:g}).")
    return text


# --- What theory predicts ----------------------------------------------------------------------
# Signal propagation (Glorot & Bengio 2010; He et al. 2015; Poole et al. 2016; Schoenholz et al.
# 2017): in a wide random network a unit's pre-activation z is about N(0, q_l), with
#     q_1 = sigma_w^2 * E[x^2] + sigma_b^2,   q_{l+1} = sigma_w^2 * E[f(z_l)^2] + sigma_b^2,
# where sigma_w^2 = fan_in * Var(W) and sigma_b^2 = Var(b) are set by the init. Going back through
# one more layer multiplies the gradient's norm by chi_l = sqrt(sigma_w^2 * E[f'(z_l)^2]): the
# weights' scale times the activation's mean squared slope, the two causes of vanishing.
# A product of many random factors is typically smaller than its mean: for a width-n layer the
# log of the factor scatters with variance about (1 + 3 E[f'^4] / E[f'^2]^2) / n, which lowers the
# typical value by a quarter of that per layer (cf. Hanin 2018 for ReLU) and sets how far a single
# network strays from the prediction.

SPREAD_MAX = 0.8  # draw the prediction while the predicted sd of ln(norm) of the seeds' mean stays below this
_GRID = 4000  # midpoint rule for the Gaussian expectations (no node at 0, where ReLU' jumps)


def init_variance(init_name: str, fan_in: int, fan_out: int, std: float = STD.default) -> tuple[float, float]:
    """(sigma_w^2, sigma_b^2) = (fan_in * Var(W), Var(b)) of a concrete init, in closed form."""
    if init_name == "default":  # U(+-1/sqrt(fan_in)) for weight and bias: variance 1/(3 fan_in)
        return 1 / 3, 1 / (3 * fan_in)
    if init_name.startswith("xavier"):  # Var = 2 / (fan_in + fan_out)
        return 2 * fan_in / (fan_in + fan_out), 0.0
    if init_name.startswith("kaiming"):  # Var = gain^2 / fan_in, gain^2 = 2 for ReLU
        return 2.0, 0.0
    if init_name == "normal":
        return fan_in * std**2, 0.0
    raise ValueError(init_name)


def gaussian_moments(act: str, q: float) -> tuple[float, float, float]:
    """E[f(z)^2], E[f'(z)^2], E[f'(z)^4] for z ~ N(0, q), in float64; f' by autograd."""
    u = (torch.arange(_GRID, dtype=torch.float64) + 0.5) / _GRID * 20 - 10  # (K,) standard-normal grid
    w = torch.exp(-u**2 / 2)
    w = w / w.sum()  # (K,) quadrature weights
    z = (math.sqrt(q) * u).requires_grad_(True)
    f = ACTIVATIONS[act].build(ACTIVATIONS[act].defaults()).double()(z)
    (d,) = torch.autograd.grad(f.sum(), z)
    return float(w @ f.detach() ** 2), float(w @ d**2), float(w @ d**4)


@dataclass(frozen=True)
class Prediction:
    """The theory's first-layer gradient norm for every depth 1..STACK (index d - 1)."""
    act: str
    init: str  # the concrete init
    sigma_w2: float  # fan_in * Var(W) of the hidden layers
    dact2: list[float]  # E[f'(z_l)^2] at each layer l
    factors: list[float]  # chi_l = sqrt(sigma_w2 * E[f'(z_l)^2]) times the finite-width correction
    values: list[float]  # predicted ||dloss/dW_1|| of the depth-d network
    spread: list[float]  # predicted sd of ln(value) for the geometric mean of N_SEEDS networks
    reliable_to: int  # the deepest depth whose spread stays below SPREAD_MAX

    def mean_dact2(self, depth: int) -> float:
        """The geometric mean of E[f'(z_l)^2] over layers 2..depth: the activation's share."""
        vals = self.dact2[1:depth] or self.dact2[:1]
        return math.exp(sum(math.log(v) for v in vals) / len(vals)) if min(vals) > 0 else 0.0

    def typical_factor(self, depth: int) -> float:
        """The geometric mean of the per-layer factors over layers 2..depth."""
        return (self.values[depth - 1] / self.values[0]) ** (1 / max(depth - 1, 1))


@functools.lru_cache(maxsize=256)
def predict(act: str, width: int = WIDTH.default, init_name: str = "matched", std: float = STD.default) -> Prediction:
    """Mean-field prediction for the page's network (no residual, no normalisation): random inputs
    x ~ N(0, 1), a Linear(width, 1) head, MSELoss against N(0, 1) targets, batch BATCH."""
    init = resolve_init(init_name, act)
    s_w, s_b = init_variance(init, width, width, std)
    s_h, s_hb = init_variance(init, width, 1, std)  # the head: fan_in = width, fan_out = 1
    q = s_w * 1.0 + s_b  # E[x^2] = 1
    dact2, factors, out2, spread_var = [], [], [], []
    var = 0.0
    for layer in range(STACK):
        f2, d2, d4 = gaussian_moments(act, q)
        scatter = (1 + 3 * d4 / d2**2) / (4 * width) if d2 > 0 else 0.0  # variance of ln chi_l
        dact2.append(d2)
        factors.append(math.sqrt(s_w * d2) * math.exp(-scatter))
        out2.append(s_h * f2 + s_hb)  # E[output^2] of the depth-(layer+1) network
        var += scatter if layer > 0 else 0.0
        spread_var.append(var)
        q = min(s_w * f2 + s_b, 1e300)
    # depth 1: dW_1 = sum_b delta_b x_b^T with delta_b = f'(z_1) * w_head * 2 (out_b - y_b) / B
    values = [math.sqrt(4 * width * s_h * dact2[0] * (out2[0] + 1) / BATCH)]
    for d in range(2, STACK + 1):  # one more layer: its factor, and the new output's size
        values.append(values[-1] * factors[d - 1] * math.sqrt((out2[d - 1] + 1) / (out2[d - 2] + 1)))
    spread = [math.sqrt(v / N_SEEDS) for v in spread_var]
    reliable = [d for d in range(1, STACK + 1) if spread[d - 1] <= SPREAD_MAX and math.isfinite(values[d - 1])]
    return Prediction(act, init, s_w, dact2, factors, values, spread, max(reliable, default=0))


# Each init's body in a shown script (w, b: a layer's weight and bias; g: the generator), for nnviz.vanishing's and
# nnviz.deep's "Show the code"; "{std!r}" is the plain normal init's std.
INIT_CODE = {
    "default": "nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=g)  # nn.Linear's own default\n"
               "    bound = 1 / math.sqrt(w.shape[1])\n"
               "    nn.init.uniform_(b, -bound, bound, generator=g)",
    "xavier_uniform": "nn.init.xavier_uniform_(w, generator=g)\n    nn.init.zeros_(b)",
    "xavier_normal": "nn.init.xavier_normal_(w, generator=g)\n    nn.init.zeros_(b)",
    "kaiming_uniform": "nn.init.kaiming_uniform_(w, nonlinearity='relu', generator=g)\n    nn.init.zeros_(b)",
    "kaiming_normal": "nn.init.kaiming_normal_(w, nonlinearity='relu', generator=g)\n    nn.init.zeros_(b)",
    "normal": "nn.init.normal_(w, 0.0, {std!r}, generator=g)\n    nn.init.zeros_(b)",
}


def init_code(name: str, std: float) -> str:
    """The body that initialises one layer (w, b) with `name` in a shown script (INIT_CODE)."""
    return INIT_CODE[name].format(std=std)


def script(acts: tuple[str, ...], depth: int, width: int, init_name: str, std: float, residual: bool,
           norm: str, dtype: str, seed: int) -> str:
    """A plain-torch script that prints each layer's weight-gradient norm for seed `seed`, as the
    page measures it (its profile averages this over seeds seed .. seed + N_SEEDS - 1)."""
    stack = STACK
    bodies = {name: init_code(name, std) for name in INIT_CODE}
    inits = {a: resolve_init(init_name, a) for a in acts}
    init_defs = "\n\n".join(f"def init_{n}(w, b, g):\n    {bodies[n]}" for n in dict.fromkeys(inits.values()))
    norm_code = {"none": "nn.Identity()", "layernorm": "nn.LayerNorm(WIDTH, dtype=DTYPE)",
                 "batchnorm": "nn.BatchNorm1d(WIDTH, dtype=DTYPE)"}[norm]
    acts_code = ", ".join(f'"{a}": ({ACTIVATIONS[a].label}(), init_{inits[a]})' for a in acts)
    return f'''import math

import torch
from torch import nn
from torch.nn.utils import skip_init

DEPTH, WIDTH, BATCH, DTYPE = {depth}, {width}, {BATCH}, torch.{dtype}
RESIDUAL = {residual}
# The page's network of depth d is the first d hidden layers of one stack of {stack} layers
# (drawn in order from one generator), then the output layer.
STACK = {stack}


{init_defs}


for name, (act, init) in {{{acts_code}}}.items():
    g = torch.Generator().manual_seed({seed})
    # Drawn in float64 and then cast, so float32 and float64 run the very same network.
    # skip_init: build the layers without touching the global random state, then initialise.
    layers = [skip_init(nn.Linear, WIDTH, WIDTH, dtype=torch.float64) for _ in range(STACK)]
    head = skip_init(nn.Linear, WIDTH, 1, dtype=torch.float64)
    for layer in layers + [head]:
        init(layer.weight.data, layer.bias.data, g)
    layers, head = [layer.to(DTYPE) for layer in layers], head.to(DTYPE)
    norms = [{norm_code} for _ in range(DEPTH)]
    x = torch.randn(BATCH, WIDTH, generator=g, dtype=torch.float64).to(DTYPE)  # random inputs
    y = torch.randn(BATCH, 1, generator=g, dtype=torch.float64).to(DTYPE)  # random regression targets

    h = x
    for layer, norm in zip(layers[:DEPTH], norms):
        a = act(norm(layer(h)))
        h = h + a if RESIDUAL else a
    loss = nn.MSELoss()(head(h), y)
    loss.backward()
    # norms in float64, so that squaring tiny float32 entries cannot underflow
    grads = [layer.weight.grad.double().norm().item() for layer in layers[:DEPTH]]
    print(name, " ".join(f"{{v:.6e}}" for v in grads))  # layer 1 (input side) ... layer DEPTH
'''
