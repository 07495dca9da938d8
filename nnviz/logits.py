"""Logits and classification losses: every number the logits page shows, from torch.nn and autograd.

The story: softmax and sigmoid turn logits into probabilities; a loss written on the probabilities
(BCELoss on a sigmoid, log of a softmax) breaks where those round to exactly 0 or 1, while the
logit forms (BCEWithLogitsLoss, CrossEntropyLoss) stay right. The failure points are searched on
the representable numbers of the dtype, and the regions where a naive form fails are measured on
the sweep, never assumed.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from .controls import ChoiceSpec, FloatSpec, IntSpec, NumberListSpec

# Page controls: the single definition of their bounds (widgets and URL validation use these).
LOGITS = NumberListSpec("Logits (one per class)", -50, 50, (2.0, 1.0, 0.1), 3, 5)
TEMPERATURE = FloatSpec("Temperature T", 0.05, 20.0, 1.0, 0.05)
TARGET = IntSpec("True class", 0, 4, 0)  # the page clamps it to len(logits) - 1
Z_RANGE = FloatSpec("Logit range ±", 10.0, 1000.0, 120.0, 10.0)  # 120: both float32 failures (16.6, 104) on screen
DTYPE = ChoiceSpec("Precision", ("float32", "float64"), "float32")
PART = ChoiceSpec("Part", ("Why losses take logits", "Train a classifier"), "Why losses take logits")  # the page's tabs

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def true_class(target: int, classes: int) -> int:
    """The true class the page uses: one beyond the logits given is read as the last class."""
    return min(target, classes - 1)


MIN_CLASSES = 2  # a classifier needs two classes; the page's list has 3 to 5
SHIFT = 10.0  # the constant added to every logit to show that softmax ignores it
SWEEP_POINTS = 2001  # default grid of the z sweep (odd: z = 0 is a grid point)
MAX_POINTS = 20001  # resource cap on any grid
SEARCH_LIMIT = 1000.0  # failure points are searched in [-1000, 1000]: Z_RANGE.max
BCE_LOG_FLOOR = -100.0  # BCELoss clamps its log at -100 (torch docs): the loss is at most 100
# BCELoss's backward divides by max(p (1 - p), EPSILON) (ATen's Loss.cpp), where EPSILON is a C float:
# 1e-12 rounded to float32 (9.99999996e-13), in float64 too.
BCE_EPS = torch.tensor(1e-12, dtype=torch.float32).item()
PROBE_Z = (20.0, 200.0)  # logits the "show the code" script evaluates (plus the range's edge)
SATURATION_RANGE = 10.0  # default ± of the MSE-on-sigmoid figure
SATURATION_POINTS = 801  # its grid (odd: includes 0)
SLOW_RATIO = 0.01  # "learns slowly": MSE's |dL/dz| below this fraction of cross-entropy's


# --- validation ----------------------------------------------------------------------------------

def _dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    return DTYPES[dtype]


def _logits(logits: Sequence[float]) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in logits)
    except (TypeError, ValueError):
        raise ValueError("logits must be a list of numbers") from None
    if not MIN_CLASSES <= len(values) <= LOGITS.max_len:
        raise ValueError(f"expected {MIN_CLASSES} to {LOGITS.max_len} logits (one per class), got {len(values)}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError("every logit must be a finite number")
    return values


def _target(target: int, k: int) -> int:
    if isinstance(target, bool) or not isinstance(target, int):
        raise ValueError(f"the true class must be a whole number, not {target!r}")
    if not 0 <= target < k:
        raise ValueError(f"the true class must be from 0 to {k - 1} for {k} logits, not {target}")
    return target


def _positive(value: float, name: str, hi: float = math.inf, lo: float = 0.0) -> float:
    value = float(value)
    if not (math.isfinite(value) and lo < value <= hi):
        raise ValueError(f"{name} must be a finite number above {lo:g}" + (f" and at most {hi:g}" if hi < math.inf else "")
                         + f", not {value!r}")
    return value


def _points(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 3 <= n <= MAX_POINTS:
        raise ValueError(f"the number of grid points must be a whole number from 3 to {MAX_POINTS}, not {n!r}")
    return n


# --- 1. from logits to probabilities -------------------------------------------------------------

@dataclass(frozen=True)
class Softmax:
    """softmax(z / T) of the student's logits, in float64 (the probabilities shown)."""
    logits: tuple[float, ...]
    temperature: float
    probs: list[float]  # softmax(logits / T)
    shift: float  # the constant c added to every logit for `shifted`
    shifted: list[float]  # softmax((logits + c) / T): the same probabilities, up to rounding
    max_shift_change: float  # max |shifted - probs|: rounding only (about 1e-16)
    sharper: list[float]  # softmax(logits / (T/2)): halving T sharpens
    flatter: list[float]  # softmax(logits / (2T)): doubling T flattens
    caption: str  # one sentence on these numbers, computed from them


def _softmax64(logits: Sequence[float], temperature: float) -> Tensor:
    z = torch.tensor(logits, dtype=torch.float64)  # (K,)
    return nn.Softmax(dim=-1)(z / temperature)  # (K,)


def softmax(logits: Sequence[float], temperature: float = 1.0, shift: float = SHIFT) -> Softmax:
    """Probabilities at temperature T, with the logits shifted by a constant, and at T/2 and 2T."""
    z = _logits(logits)
    t = _positive(temperature, "the temperature")
    c = float(shift)
    if not math.isfinite(c):
        raise ValueError("the shift must be a finite number")
    probs = _softmax64(z, t)
    shifted = _softmax64([v + c for v in z], t)
    sharper, flatter = _softmax64(z, t / 2), _softmax64(z, 2 * t)
    top = int(probs.argmax())
    caption = (f"At T = {t:g} the largest logit (class {top}) gets p = {float(probs[top]):.3f}; at T/2 it gets "
               f"{float(sharper[top]):.3f} and at 2T {float(flatter[top]):.3f}. Adding {c:g} to every logit "
               f"changes no probability by more than {float((shifted - probs).abs().max()):.0e}.")
    return Softmax(z, t, probs.tolist(), c, shifted.tolist(), float((shifted - probs).abs().max()),
                   sharper.tolist(), flatter.tolist(), caption)


def sigmoid_of(z: float, dtype: str = "float32") -> float:
    """torch.sigmoid of one logit in `dtype` (in float32 it is exactly 1.0 from z = 16.64)."""
    x = torch.tensor([float(z)], dtype=_dtype(dtype))  # (1,)
    return float(torch.sigmoid(x)[0])


# --- 2. why losses take logits -------------------------------------------------------------------

@dataclass(frozen=True)
class Form:
    """One way to compute the loss of the logit z when the true class is 0."""
    key: str  # key in Sweep.curves
    label: str  # the code a student would write
    exact: bool  # a logit form (True) or a naive probability form (False)


FORMS: dict[str, Form] = {
    "bce_naive": Form("bce_naive", "nn.BCELoss()(torch.sigmoid(z), y)", False),
    "bce_logits": Form("bce_logits", "nn.BCEWithLogitsLoss()(z, y)", True),
    "ce_naive": Form("ce_naive", "-torch.log(torch.softmax(torch.stack([0, z]), -1))[0]", False),
    "ce_logits": Form("ce_logits", "nn.CrossEntropyLoss()(torch.stack([0, z]), 0)", True),
    "reference": Form("reference", "torch.logaddexp(0, z) in float64", True),
}


def _pair(z: Tensor) -> Tensor:
    return torch.stack([torch.zeros_like(z), z], dim=-1)  # (n, 2): logits [0, z]; class 0 is true


def _loss_fn(key: str) -> Callable[[Tensor], Tensor]:
    """The per-point loss of each form: (n,) logits of class 1 -> (n,) losses, true class 0.
    reduction="none": one loss per z, so the gradient of their sum is dL/dz at every z."""
    if key == "bce_naive":
        return lambda z: nn.BCELoss(reduction="none")(torch.sigmoid(z), torch.zeros_like(z))
    if key == "bce_logits":
        return lambda z: nn.BCEWithLogitsLoss(reduction="none")(z, torch.zeros_like(z))
    if key == "ce_naive":
        return lambda z: -torch.log(torch.softmax(_pair(z), dim=-1))[..., 0]
    if key == "ce_logits":
        return lambda z: nn.CrossEntropyLoss(reduction="none")(
            _pair(z), torch.zeros(z.shape[0], dtype=torch.long))
    if key == "reference":
        return lambda z: torch.logaddexp(torch.zeros_like(z), z)
    raise ValueError(f"unknown form {key!r}; expected one of {', '.join(FORMS)}")


def _loss_and_grad(key: str, z: Tensor) -> tuple[Tensor, Tensor]:
    """(loss, dL/dz by autograd), elementwise; the reference is computed in float64."""
    z = z.detach().to(torch.float64 if key == "reference" else z.dtype).requires_grad_(True)  # (n,)
    loss = _loss_fn(key)(z)  # (n,)
    (grad,) = torch.autograd.grad(loss.sum(), z)  # (n,)
    return loss.detach(), grad


def _plain(values: Tensor) -> list[float | None]:
    """JSON-safe floats: None where the value is not finite (inf or nan)."""
    return [v if math.isfinite(v) else None for v in values.tolist()]


@dataclass(frozen=True)
class Curve:
    """One form on the grid. JSON-safe convention: `loss` and `grad` hold None wherever torch gave
    inf or nan; which of the two (and the sign of an inf) is in the Region of kind "inf" or "nan"
    that covers that z in Sweep.regions[key], with quantity "loss" or "grad"."""
    key: str
    loss: list[float | None]  # torch's loss at each z, in the sweep's dtype (float64 for "reference")
    grad: list[float | None]  # dL/dz from autograd
    max_loss_error: float | None  # max |loss - float64 reference| where the loss is finite
    max_grad_error: float | None  # max |dL/dz - reference's| where the gradient is finite


@dataclass(frozen=True)
class Region:
    """An interval of the sweep's grid where a form fails. lo and hi are grid points (the first and
    last z of the run); the failure points themselves are grid points, so a region starts exactly
    where the failure does."""
    kind: str  # "inf", "nan", "clamped" or "zero_grad" (see KINDS)
    lo: float
    hi: float
    curve: str  # key in Sweep.curves
    quantity: str  # "loss" or "grad": which value fails there
    detail: str  # what torch returns there, for a hover text: "loss = +inf", "dL/dz = 0 exactly", ...


KINDS = {
    "inf": "the value is +inf or -inf (detail says which)",
    "nan": "the value is nan",
    "clamped": "loss: BCELoss's log clamped at -100, the loss is exactly 100; grad: BCELoss's backward "
               "divided by max(p (1 - p), 1e-12) instead of p (1 - p), the gradient is too small (only "
               "where the exact gradient is a normal number, as for zero_grad)",
    "zero_grad": "dL/dz is exactly 0 where the exact gradient is at least the dtype's smallest normal "
                 "number (a true gradient below that is itself at the edge of the dtype)",
}


def _loss_kinds(key: str, loss: Tensor) -> list[str | None]:
    kinds: list[str | None] = []
    for v in loss.tolist():
        if math.isnan(v):
            kinds.append("nan")
        elif math.isinf(v):
            kinds.append("inf")
        elif key == "bce_naive" and v == -BCE_LOG_FLOOR:
            kinds.append("clamped")  # -log(1 - p) cannot reach 100 unclamped: 1 - p >= 2^-53
        else:
            kinds.append(None)
    return kinds


def _bce_eps_clamped(z: Tensor) -> Tensor:
    """Where BCELoss's backward replaces p (1 - p) by its floor 1e-12, in z's dtype."""
    p = torch.sigmoid(z)  # (n,)
    return (1 - p) * p < torch.tensor(BCE_EPS, dtype=z.dtype)  # (n,) bool


def _grad_kinds(key: str, z: Tensor, grad: Tensor, ref_grad: Tensor) -> list[str | None]:
    tiny = torch.finfo(z.dtype).tiny
    clamped = _bce_eps_clamped(z).tolist() if key == "bce_naive" else [False] * len(z)
    kinds: list[str | None] = []
    for g, r, c in zip(grad.tolist(), ref_grad.tolist(), clamped):
        if math.isnan(g):
            kinds.append("nan")
        elif math.isinf(g):
            kinds.append("inf")
        elif abs(r) < tiny:
            kinds.append(None)  # the exact gradient is itself below the dtype's normal range
        elif g == 0:
            kinds.append("zero_grad")
        elif c:
            kinds.append("clamped")
        else:
            kinds.append(None)
    return kinds


def _detail(kind: str, quantity: str, values: list[float]) -> str:
    name = "loss" if quantity == "loss" else "dL/dz"
    if kind == "inf":
        signs = sorted({"+inf" if v > 0 else "-inf" for v in values})
        return f"{name} = {' or '.join(signs)}"
    if kind == "nan":
        return f"{name} = nan"
    if kind == "zero_grad":
        return "dL/dz = 0 exactly; the true gradient is not"
    if quantity == "loss":
        return "loss = 100: BCELoss clamps log(0) at -100"
    return "dL/dz too small: BCELoss's backward divides by max(p(1-p), 1e-12)"


def _regions(key: str, quantity: str, z: list[float], kinds: list[str | None], values: list[float]) -> list[Region]:
    """Runs of one kind of failure along the grid, as Regions."""
    out, start = [], 0
    for i in range(1, len(z) + 1):
        if i == len(z) or kinds[i] != kinds[start]:
            if kinds[start] is not None:
                out.append(Region(kinds[start], z[start], z[i - 1], key, quantity,
                                  _detail(kinds[start], quantity, values[start:i])))
            start = i
    return out


def _max_error(values: Tensor, ref: Tensor) -> float | None:
    ok = torch.isfinite(values)
    if not bool(ok.any()):
        return None
    return float((values.double()[ok] - ref[ok]).abs().max())


def evaluate(z: Sequence[float], dtype: str = "float32") -> dict[str, Curve]:
    """Every form at the given logits z (rounded to dtype), without regions: the probe values."""
    t = torch.tensor([float(v) for v in z], dtype=_dtype(dtype))  # (n,)
    return _curves(t)[0]


def _curves(z: Tensor) -> tuple[dict[str, Curve], dict[str, tuple[Tensor, Tensor]]]:
    raw = {key: _loss_and_grad(key, z) for key in FORMS}
    ref_loss, ref_grad = raw["reference"]
    curves = {key: Curve(key, _plain(loss), _plain(grad), _max_error(loss, ref_loss), _max_error(grad, ref_grad))
              for key, (loss, grad) in raw.items()}
    return curves, raw


# Failure predicates on a grid of z (the same computations as the sweep); each is False at z = 0.
def _sigmoid_is_one(z: Tensor) -> Tensor:
    return torch.sigmoid(z) == 1


def _true_class_underflows(z: Tensor) -> Tensor:
    return torch.softmax(_pair(z), dim=-1)[..., 0] == 0


def _other_class_underflows(z: Tensor) -> Tensor:
    return torch.softmax(_pair(z), dim=-1)[..., 1] == 0


def _curve_test(key: str, quantity: str, test: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    def pred(z: Tensor) -> Tensor:
        loss, grad = _loss_and_grad(key, z)
        return test(loss if quantity == "loss" else grad)
    return pred


# name -> (side, predicate, meaning): side "+" is the smallest z > 0 where the predicate holds (it
# holds from there on), "-" the largest z < 0 where it holds (it holds from there down).
FAILURES: dict[str, tuple[str, Callable[[Tensor], Tensor], str]] = {
    "sigmoid_rounds_to_one": ("+", _sigmoid_is_one, "sigmoid(z) is exactly 1"),
    "bce_clamped": ("+", _curve_test("bce_naive", "loss", lambda v: v == -BCE_LOG_FLOOR),
                    "BCELoss(sigmoid(z), 0) is exactly 100"),
    "bce_grad_zero": ("+", _curve_test("bce_naive", "grad", lambda v: v == 0), "BCELoss's gradient is exactly 0"),
    "bce_grad_clamped": ("+", _bce_eps_clamped, "BCELoss's backward clamps p(1-p) at 1e-12 (or p = 1)"),
    "softmax_underflows": ("+", _true_class_underflows, "softmax([0, z])[0] is exactly 0"),
    "ce_inf": ("+", _curve_test("ce_naive", "loss", torch.isinf), "-log(softmax([0, z])[0]) is inf"),
    "ce_grad_nonfinite": ("+", _curve_test("ce_naive", "grad", lambda v: ~torch.isfinite(v)),
                          "the naive CE gradient is inf or nan (1/p overflows)"),
    "ce_grad_nan_below": ("-", _curve_test("ce_naive", "grad", torch.isnan),
                          "softmax([0, z])[1] underflows to 0: log's backward divides 0 by 0"),
    "softmax_other_underflows": ("-", _other_class_underflows, "softmax([0, z])[1] is exactly 0"),
    "bce_grad_clamped_below": ("-", _bce_eps_clamped, "BCELoss's backward clamps p(1-p) at 1e-12"),
    "bce_grad_zero_below": ("-", _curve_test("bce_naive", "grad", lambda v: v == 0),
                            "BCELoss's gradient underflows to exactly 0"),
}

_INT = {torch.float32: torch.int32, torch.float64: torch.int64}
_SIGN = {torch.float32: 1 << 31, torch.float64: 1 << 63}


def _key(x: float, dtype: torch.dtype) -> int:
    """An integer that orders the floats of dtype: consecutive floats, consecutive keys."""
    bits = int(torch.tensor([x], dtype=dtype).view(_INT[dtype])[0])
    return bits if bits >= 0 else -(bits + _SIGN[dtype])  # -0.0 and +0.0 both map to 0


def _floats(keys: list[int], dtype: torch.dtype) -> Tensor:
    """The floats of dtype with these keys (the inverse of _key)."""
    bits = [k if k >= 0 else -k - _SIGN[dtype] for k in keys]
    return torch.tensor(bits, dtype=_INT[dtype]).view(dtype)  # (len(keys),)


def _transition(pred: Callable[[Tensor], Tensor], lo: float, hi: float, dtype: torch.dtype,
                fan: int = 1024) -> tuple[float, float] | None:
    """The two neighbouring floats a < b of dtype in [lo, hi] where pred changes from pred(lo) to
    pred(hi), by bisection on the representable values (fan-way: each round evaluates `fan`
    candidates in one tensor, through the same kernels as the sweep). None if pred(lo) == pred(hi).
    Assumes one change in between (the tests check the neighbourhood of each answer)."""
    a, b = _key(lo, dtype), _key(hi, dtype)
    ends = pred(_floats([a, b], dtype)).tolist()
    if ends[0] == ends[1]:
        return None
    while b - a > 1:
        keys = sorted({a + (b - a) * i // fan for i in range(fan + 1)})
        vals = pred(_floats(keys, dtype)).tolist()
        i = next(j for j, v in enumerate(vals) if v != ends[0])
        a, b = keys[i - 1], keys[i]
    pair = _floats([a, b], dtype).tolist()
    return pair[0], pair[1]


@functools.lru_cache(maxsize=4)
def _failure_points(dtype: str) -> tuple[tuple[str, float], ...]:
    dt = _dtype(dtype)
    out = []
    for name, (side, pred, _) in FAILURES.items():
        lo, hi = (0.0, SEARCH_LIMIT) if side == "+" else (-SEARCH_LIMIT, 0.0)
        pair = _transition(pred, lo, hi, dt)
        if pair is not None:
            out.append((name, pair[1] if side == "+" else pair[0]))
    return tuple(out)


def failure_points(dtype: str = "float32") -> dict[str, float]:
    """Where each naive form starts to fail in dtype, exact to the last bit (found on the dtype's
    representable numbers in [-1000, 1000]; see FAILURES for what each name means). The headline three:
    "sigmoid_rounds_to_one" (float32 16.6355, float64 36.7368), "bce_clamped" (the same z: from there
    BCELoss returns exactly 100) and "softmax_underflows" (float32 103.97, float64 745.13: the naive CE
    loss is inf from there). A "+" name is the smallest z > 0 from which the failure holds, a "-" name
    (ending in "_below") the largest z < 0 below which it holds. A name is left out if it does not
    happen in [-1000, 1000] in this dtype."""
    return dict(_failure_points(dtype))


@dataclass(frozen=True)
class Sweep:
    """The naive and logit forms over z in [-R, R]: true class 0, z the logit of class 1, so z > 0
    is a confident mistake. The exact loss is log(1 + e^z), its gradient sigmoid(z)."""
    z: list[float]  # the grid, in dtype: n evenly spaced points, 0, and each failure point in range
    # with its neighbour on the working side, so every jump is resolved to the last bit
    dtype: str
    z_range: float
    curves: dict[str, Curve]  # FORMS keys: "bce_naive", "bce_logits", "ce_naive", "ce_logits", "reference"
    regions: dict[str, list[Region]]  # curve key -> where it fails on this grid ([] for the logit forms)
    points: dict[str, float]  # failure_points(dtype)


def _grid(z_range: float, n: int, dt: torch.dtype, points: dict[str, float]) -> Tensor:
    t = torch.arange(n, dtype=torch.float64) / (n - 1)  # (n,) from 0 to 1
    base = (-z_range + 2 * z_range * t).to(dt)  # (n,)
    extra = [0.0]
    for name, z in points.items():
        key = _key(z, dt)
        neighbour = key - 1 if FAILURES[name][0] == "+" else key + 1  # the last z that still works
        extra += _floats([key, neighbour], dt).tolist()
    r = float(base[-1])
    extra_t = torch.tensor([v for v in extra if -r <= v <= r], dtype=dt)  # (m,)
    return torch.unique(torch.cat([base, extra_t]), sorted=True)  # (n + m or fewer,)


def sweep(z_range: float = Z_RANGE.default, dtype: str = DTYPE.default, n: int = SWEEP_POINTS) -> Sweep:
    """Loss and autograd dL/dz of every form over z in [-z_range, z_range], and where each fails."""
    dt = _dtype(dtype)
    r = _positive(z_range, "the logit range", hi=Z_RANGE.max)
    n = _points(n)
    points = failure_points(dtype)
    z = _grid(r, n, dt, points)  # (N,)
    curves, raw = _curves(z)
    zs = z.tolist()
    ref_grad = raw["reference"][1]
    regions: dict[str, list[Region]] = {}
    for key, (loss, grad) in raw.items():
        if key == "reference":
            regions[key] = []
            continue
        regions[key] = (_regions(key, "loss", zs, _loss_kinds(key, loss), loss.tolist())
                        + _regions(key, "grad", zs, _grad_kinds(key, z, grad, ref_grad), grad.tolist()))
    return Sweep(zs, dtype, r, curves, regions, points)


# --- 3. the gradient is p - y --------------------------------------------------------------------

@dataclass(frozen=True)
class Gradient:
    """dL/dz of nn.CrossEntropyLoss at temperature 1 (the loss takes the raw logits), float64."""
    logits: tuple[float, ...]
    target: int
    probs: list[float]  # softmax(z)
    onehot: list[float]  # 1 at the true class
    autograd: list[float]  # dL/dz from loss.backward()
    closed_form: list[float]  # softmax(z) - onehot(t), the cross-check
    loss: float
    max_abs_diff: float  # max |autograd - closed form|
    temperature: float = 1.0  # always 1: CrossEntropyLoss applies no temperature


def gradient(logits: Sequence[float], target: int) -> Gradient:
    """Autograd's gradient of CrossEntropyLoss w.r.t. the logits beside softmax(z) - onehot(t)."""
    values = _logits(logits)
    t = _target(target, len(values))
    z = torch.tensor(values, dtype=torch.float64, requires_grad=True)  # (K,)
    loss = nn.CrossEntropyLoss()(z, torch.tensor(t))  # unbatched: (K,) logits, a class index
    loss.backward()
    probs = nn.Softmax(dim=-1)(z.detach())  # (K,)
    onehot = nn.functional.one_hot(torch.tensor(t), len(values)).to(torch.float64)  # (K,)
    closed = probs - onehot  # (K,)
    return Gradient(values, t, probs.tolist(), onehot.tolist(), z.grad.tolist(), closed.tolist(),
                    loss.item(), float((z.grad - closed).abs().max()))


# --- 4. squared error on a sigmoid saturates -----------------------------------------------------

@dataclass(frozen=True)
class Saturation:
    """|dL/dz| for y = 0 of MSELoss(sigmoid(z), y) and BCEWithLogitsLoss(z, y), float64 autograd."""
    z: list[float]
    mse_grad: list[float]  # |dL/dz| of nn.MSELoss()(sigmoid(z), 0)
    ce_grad: list[float]  # |dL/dz| of nn.BCEWithLogitsLoss()(z, 0)
    mse_closed: list[float]  # 2 sigma(z) sigma'(z) = 2 sigma^2 (1 - sigma), the cross-check
    ce_closed: list[float]  # sigma(z)
    ratio: list[float]  # mse_grad / ce_grad = 2 sigma (1 - sigma)
    peak_z: float  # the grid z where MSE's gradient is largest (ln 2 = 0.693 exactly)
    slow_ratio: float  # the threshold of slow_from_z
    slow_from_z: float | None  # first grid z > peak_z where ratio < slow_ratio (z = 5.29 for 1%); None if none


def saturation(z_max: float = SATURATION_RANGE, n: int = SATURATION_POINTS, slow_ratio: float = SLOW_RATIO) -> Saturation:
    """Why squared error on a sigmoid learns slowly exactly where the prediction is most wrong."""
    r = _positive(z_max, "the range", hi=SEARCH_LIMIT)
    n = _points(n)
    q = _positive(slow_ratio, "the slow ratio", hi=1.0)
    t = torch.arange(n, dtype=torch.float64) / (n - 1)  # (n,)
    z = -r + 2 * r * t  # (n,)
    mse_loss, mse = _saturation_grad(z, lambda v: nn.MSELoss(reduction="none")(torch.sigmoid(v), torch.zeros_like(v)))
    ce_loss, ce = _saturation_grad(z, lambda v: nn.BCEWithLogitsLoss(reduction="none")(v, torch.zeros_like(v)))
    mse, ce = mse.abs(), ce.abs()  # (n,)
    s = torch.sigmoid(z)  # (n,)
    ratio = mse / ce  # (n,)
    i = int(mse.argmax())
    slow = ((ratio < q) & (z > z[i])).nonzero().flatten()
    return Saturation(z.tolist(), mse.tolist(), ce.tolist(), (2 * s * s * (1 - s)).tolist(), s.tolist(),
                      ratio.tolist(), float(z[i]), q, float(z[int(slow[0])]) if len(slow) else None)


def _saturation_grad(z: Tensor, fn: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
    z = z.detach().clone().requires_grad_(True)  # (n,)
    loss = fn(z)  # (n,)
    (grad,) = torch.autograd.grad(loss.sum(), z)  # (n,)
    return loss.detach(), grad


# --- 5. the double-softmax bug -------------------------------------------------------------------

@dataclass(frozen=True)
class DoubleSoftmax:
    """CrossEntropyLoss(softmax(z), t), a common bug, against CrossEntropyLoss(z, t), float64."""
    correct_loss: float
    buggy_loss: float
    correct_grad: list[float]  # dL/dz (autograd)
    buggy_grad: list[float]  # dL/dz through the extra softmax (autograd)
    buggy_floor: float  # the lowest loss the bug allows for K classes: log(1 + (K-1)/e), reached only
    # in the limit where softmax(z) is one-hot on the true class (computed as the loss at that one-hot)
    buggy_ceiling: float  # the highest: log(e + K - 1), one-hot on a wrong class
    correct_grad_norm: float  # Euclidean norms of the two gradients
    buggy_grad_norm: float


def double_softmax(logits: Sequence[float], target: int) -> DoubleSoftmax:
    """The loss and gradient of the double-softmax bug beside the correct ones, and its bounds."""
    values = _logits(logits)
    k = len(values)
    t = _target(target, k)
    ce, sm, y = nn.CrossEntropyLoss(), nn.Softmax(dim=-1), torch.tensor(t)
    z = torch.tensor(values, dtype=torch.float64, requires_grad=True)  # (K,)
    correct = ce(z, y)
    (g_correct,) = torch.autograd.grad(correct, z)  # (K,)
    buggy = ce(sm(z), y)  # the network's output softmaxed, then CrossEntropyLoss softmaxes again
    (g_buggy,) = torch.autograd.grad(buggy, z)  # (K,)
    eye = torch.eye(k, dtype=torch.float64)  # (K, K): the one-hot probability vectors
    floor = float(ce(eye[t], y))  # softmax(z) exactly one-hot on the true class
    ceiling = float(ce(eye[(t + 1) % k], y))  # ... on a wrong class
    return DoubleSoftmax(correct.item(), buggy.item(), g_correct.tolist(), g_buggy.tolist(), floor, ceiling,
                         float(g_correct.norm()), float(g_buggy.norm()))


# --- show the code -------------------------------------------------------------------------------

def probe_points(z_range: float) -> tuple[float, ...]:
    """The logits at which the script (and the page's table) compare the forms: 20, 200 and the range."""
    r = _positive(z_range, "the logit range", hi=Z_RANGE.max)
    return tuple(sorted({*PROBE_Z, r}))


def script(logits: Sequence[float], temperature: float, target: int, z_range: float, dtype: str) -> str:
    """A short plain-torch script (no nnviz) that prints the page's numbers, one "name: values" line
    each, values as Python reprs (inf and nan included)."""
    values = _logits(logits)
    t = _target(target, len(values))
    temp = _positive(temperature, "the temperature")
    _dtype(dtype)
    probes = probe_points(z_range)
    return f'''import math

import torch
from torch import nn

LOGITS = {list(values)!r}
T = {temp!r}  # temperature
TARGET = {t}  # the true class
DTYPE = torch.{dtype}  # precision of the naive-vs-logit comparison


def show(name, values):
    print(f"{{name}}:", *(repr(float(v.detach()) if torch.is_tensor(v) else float(v)) for v in values))


# 1. From logits to probabilities (float64)
z = torch.tensor(LOGITS, dtype=torch.float64)
softmax = nn.Softmax(dim=-1)
show("softmax", softmax(z / T))
show("softmax_shifted", softmax((z + {SHIFT!r}) / T))  # add a constant to every logit: no change
show("softmax_sharper", softmax(z / (T / 2)))
show("softmax_flatter", softmax(z / (2 * T)))

# 2. Why losses take logits: true class 0, z is the logit of class 1 (z > 0: confidently wrong)
y = torch.tensor(0.0, dtype=DTYPE)
forms = {{
    "bce_naive": lambda z: nn.BCELoss()(torch.sigmoid(z), y),  # log clamped at -100
    "bce_logits": lambda z: nn.BCEWithLogitsLoss()(z, y),
    "ce_naive": lambda z: -torch.log(torch.softmax(torch.stack([torch.zeros_like(z), z]), -1))[0],
    "ce_logits": lambda z: nn.CrossEntropyLoss()(torch.stack([torch.zeros_like(z), z]), torch.tensor(0)),
}}
for z0 in {list(probes)!r}:
    z = torch.tensor(z0, dtype=DTYPE)
    show(f"sigmoid@{{z0}}", [torch.sigmoid(z)])
    for name, f in forms.items():
        z = torch.tensor(z0, dtype=DTYPE, requires_grad=True)
        loss = f(z)
        loss.backward()
        show(f"{{name}}@{{z0}}", [loss, z.grad])  # loss, dL/dz
    exact = max(z0, 0.0) + math.log1p(math.exp(-abs(z0)))  # log(1 + e^z)
    show(f"exact@{{z0}}", [exact, 0.5 * (1 + math.tanh(z0 / 2))])  # and its gradient sigmoid(z)

# 3. The gradient is p - y (T = 1: CrossEntropyLoss takes the raw logits)
z = torch.tensor(LOGITS, dtype=torch.float64, requires_grad=True)
loss = nn.CrossEntropyLoss()(z, torch.tensor(TARGET))
loss.backward()
onehot = nn.functional.one_hot(torch.tensor(TARGET), len(LOGITS))
show("ce_loss", [loss])
show("grad_autograd", z.grad)
show("grad_closed_form", softmax(z.detach()) - onehot)

# 4. Squared error on a sigmoid: |dL/dz| against cross-entropy's, y = 0
t = torch.arange({SATURATION_POINTS}, dtype=torch.float64) / {SATURATION_POINTS - 1}
z = (-{SATURATION_RANGE!r} + 2 * {SATURATION_RANGE!r} * t).requires_grad_()
(mse,) = torch.autograd.grad(nn.MSELoss(reduction="sum")(torch.sigmoid(z), torch.zeros_like(z)), z)
(ce,) = torch.autograd.grad(nn.BCEWithLogitsLoss(reduction="sum")(z, torch.zeros_like(z)), z)
mse, ce = mse.abs(), ce.abs()
i = mse.argmax()
slow = ((mse / ce < {SLOW_RATIO!r}) & (z > z[i])).nonzero()
show("mse_peak_z", [z[i]])
show("mse_slow_from_z", [z[slow[0, 0]]] if len(slow) else [])

# 5. The double-softmax bug
z = torch.tensor(LOGITS, dtype=torch.float64, requires_grad=True)
correct = nn.CrossEntropyLoss()(z, torch.tensor(TARGET))
(g_correct,) = torch.autograd.grad(correct, z)
buggy = nn.CrossEntropyLoss()(softmax(z), torch.tensor(TARGET))  # softmax twice
(g_buggy,) = torch.autograd.grad(buggy, z)
show("double_softmax_losses", [correct, buggy])
show("double_softmax_floor", [math.log(1 + (len(LOGITS) - 1) / math.e)])
show("grad_correct", g_correct)
show("grad_buggy", g_buggy)
'''
