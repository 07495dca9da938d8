"""L1 against MSE on data with outliers: the data, the exact fits, and what each point contributes.

Every loss is a torch.nn loss module; every fit runs torch.optim.LBFGS to convergence and is then
checked against the optimality condition of its loss, so a line is only ever shown as "the L1 fit"
when it provably is one.
"""
from __future__ import annotations

import csv
import io
import itertools
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils import skip_init

from .controls import FloatSpec, IntSpec, MultiChoiceSpec
from .palette import OKABE_ITO
from .text import inert


@dataclass(frozen=True)
class LossEntry:
    name: str  # registry key and URL value
    label: str  # what the student reads
    module: Callable[[float, float], nn.Module]  # (delta, beta) -> the torch.nn loss module
    formula: str  # LaTeX of the per-point loss of a residual r
    colour: str


LOSSES: dict[str, LossEntry] = {
    "l1": LossEntry("l1", "L1 (MAE)", lambda d, b: nn.L1Loss(), r"|r|", OKABE_ITO[0]),
    "mse": LossEntry("mse", "MSE", lambda d, b: nn.MSELoss(), r"r^2", OKABE_ITO[1]),
    "huber": LossEntry("huber", "Huber", lambda d, b: nn.HuberLoss(delta=d),
                       r"\tfrac12 r^2 \text{ if } |r|\le\delta \text{ else } \delta(|r|-\tfrac12\delta)", OKABE_ITO[2]),
    "smooth_l1": LossEntry("smooth_l1", "Smooth L1", lambda d, b: nn.SmoothL1Loss(beta=b),
                           r"\tfrac{r^2}{2\beta} \text{ if } |r|<\beta \text{ else } |r|-\tfrac12\beta", OKABE_ITO[3]),
}

# Controls: one definition of their bounds, for the widgets and the URL check.
# max_selections: every loss once at most (a selection sent with repeats or more entries is refused, issue 22)
LOSS = MultiChoiceSpec("Losses to fit", tuple(LOSSES), ("l1", "mse"), max_selections=len(LOSSES))
# The defaults are the lesson: 3 outliers about 15 below the line drag the MSE slope more than 0.3
# from the clean 0.5 while the L1 slope stays within 0.05 of it, for every seed from 0 to 19 (tested),
# not just the default one.
OUTLIERS = IntSpec("Outliers", 0, 20, 3,
                   help="How many extra points sit far below the line at the right end (x from 8 to 10). "
                        "Raising the count keeps the outliers already there and adds one more.")
OUTLIER_SIZE = FloatSpec("Outlier size (how far below the line)", 0.0, 30.0, 15.0, 0.5)
NOISE = FloatSpec("Noise (std of the clean points)", 0.0, 3.0, 0.2, 0.1)
SEED = IntSpec("Seed", 0, 9999, 3)  # 3, not 0: seed 0 draws two of the three outliers on one spot
DELTA = FloatSpec("Huber delta", 0.1, 10.0, 1.0, 0.1)
BETA = FloatSpec("Smooth L1 beta", 0.1, 10.0, 1.0, 0.1)

N_CLEAN = 40  # clean points on the line
TRUE_SLOPE, TRUE_INTERCEPT = 0.5, 1.0  # the line the clean points come from
X_RANGE = (0.0, 10.0)
MAX_ROWS = 1000  # uploaded CSV: rows
MAX_BYTES = 100_000  # uploaded CSV: bytes
MAX_ABS = 1e6  # uploaded CSV: largest |x| or |y| (the fits work in a standardised frame; see Frame)
MIN_ABS = 1e-200  # uploaded CSV: smallest |x| or |y| other than 0 (far from float64's underflow)
MIN_SPREAD = 1e-9  # uploaded CSV: x must spread over this much of max(1, |x|): the slope stays finite


@dataclass(frozen=True)
class Data:
    x: list[float]
    y: list[float]
    outlier: list[bool]  # True for the points that were placed as outliers
    true_line: tuple[float, float] | None  # (slope, intercept) of the clean line; None for uploads


def make_data(outliers: int, outlier_size: float, noise: float, seed: int) -> Data:
    """Clean points y = 0.5 x + 1 + noise on x in [0, 10], plus outliers far below the line at the
    right end, where their leverage on a fitted slope is largest. Same seed, same data.

    The candidate outliers are always drawn in full (OUTLIERS.max of them) and the first `outliers`
    are used, so raising the count adds one point and keeps the others where they were."""
    g = torch.Generator().manual_seed(seed)
    lo, hi = X_RANGE
    m = OUTLIERS.max
    x = lo + (hi - lo) * torch.rand(N_CLEAN, generator=g, dtype=torch.float64)  # (N,)
    y = TRUE_SLOPE * x + TRUE_INTERCEPT + noise * torch.randn(N_CLEAN, generator=g, dtype=torch.float64)
    xo = (hi - 0.2 * (hi - lo)) + 0.2 * (hi - lo) * torch.rand(m, generator=g, dtype=torch.float64)  # (m,)
    drop = outlier_size * (0.8 + 0.4 * torch.rand(m, generator=g, dtype=torch.float64))  # (m,)
    yo = TRUE_SLOPE * xo + TRUE_INTERCEPT - drop
    return Data(torch.cat([x, xo[:outliers]]).tolist(), torch.cat([y, yo[:outliers]]).tolist(),
                [False] * N_CLEAN + [True] * outliers, (TRUE_SLOPE, TRUE_INTERCEPT))


class DataError(ValueError):
    """An uploaded file that cannot be used; the message tells the student why."""


def parse_csv(raw: bytes) -> Data:
    """Read x,y pairs from a small CSV (optional header). Plain text parsing only: nothing in the
    file is executed or unpickled. Lines may end in \\n, \\r\\n or \\r (old Macs), mixed in one file.

    Every way a file can fail raises DataError, whose message echoes file text only through
    nnviz.text.inert (a literal code span), so the page can show it as markdown."""
    if len(raw) > MAX_BYTES:
        raise DataError(f"The file is {len(raw) / 1000:.0f} kB; the limit is {MAX_BYTES // 1000} kB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("The file is not UTF-8 text. Upload a plain CSV with two columns, x and y.") from None
    try:
        # newline="": the csv module itself splits the lines, on \n, \r\n and \r alike
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        # at most a header and one row too many: a file of 50 000 tiny rows is refused without reading on
        rows = list(itertools.islice((r for r in reader if any(c.strip() for c in r)), MAX_ROWS + 2))
    except (csv.Error, ValueError) as e:  # a stray quote, a NUL byte, an over-long field, ...
        raise DataError(f"The file cannot be read as CSV ({inert(str(e), 80)}). Upload a plain CSV with two "
                        "columns of numbers, x and y, one pair per line.") from None
    if rows and len(rows[0]) == 2 and not (_numeric(rows[0][0]) and _numeric(rows[0][1])):
        rows = rows[1:]  # a header line
    if len(rows) > MAX_ROWS:
        raise DataError(f"The file has more than {MAX_ROWS} rows; the limit is {MAX_ROWS}.")
    if len(rows) < 3:
        raise DataError("Need at least 3 rows of x,y numbers to fit and compare a line.")
    xs, ys = [], []
    for i, r in enumerate(rows, start=1):
        if len(r) != 2:
            raise DataError(f"Row {i} has {len(r)} column{'s' * (len(r) != 1)}; every row needs exactly two, "
                            "separated by a comma: x,y.")
        if not (_numeric(r[0]) and _numeric(r[1])):
            raise DataError(f"Row {i} ({inert(','.join(r))}) is not two finite numbers.")
        xs.append(float(r[0]))
        ys.append(float(r[1]))
    if max(map(abs, xs + ys)) > MAX_ABS:
        raise DataError(f"Values above {MAX_ABS:g} in size: rescale the data first.")
    if any(0 < abs(v) < MIN_ABS for v in xs + ys):
        raise DataError(f"Values between 0 and {MIN_ABS:g} in size: rescale the data first.")
    spread = max(xs) - min(xs)
    if spread == 0:
        raise DataError("All x values are equal: no line's slope can be fitted.")
    if spread < MIN_SPREAD * max(1.0, max(map(abs, xs))):
        raise DataError(f"The x values differ by at most {spread:.3g}: too little for a slope to mean anything "
                        f"(they must spread over at least {MIN_SPREAD:g} of their size, and at least {MIN_SPREAD:g}).")
    return Data(xs, ys, [False] * len(xs), None)


def _numeric(s: str) -> bool:
    try:
        return math.isfinite(float(s))
    except (ValueError, OverflowError):
        return False


@dataclass(frozen=True)
class Fit:
    loss: str
    slope: float
    intercept: float
    loss_value: float  # the loss (reduction='mean') at the fit
    optimal: bool  # the optimality condition of this loss holds at the fit
    check: str  # what was checked, in words, with the number


@dataclass(frozen=True)
class Frame:
    """The standardised frame of a data set: x = x0 + sx u, y = y0 + sy v with u and v in [-1, 1].

    An upload may hold x in [1e6, 1e6 + 1] or y near -1e6: in its own units the columns (x, 1) of
    the fit are nearly parallel and residuals are 1e6 times the slope's rounding, so neither LBFGS
    nor a gradient test can tell an optimum. In the frame every problem looks like the generated
    data. The frame changes no minimiser: slope w = (sy / sx) a and intercept b = y0 + sy c - w x0
    for a line v = a u + c, and each loss only scales: |sy r| = sy |r|, (sy r)^2 = sy^2 r^2,
    Huber_delta(sy r) = sy^2 Huber_(delta / sy)(r), SmoothL1_beta(sy r) = sy SmoothL1_(beta / sy)(r).
    So Huber's delta and Smooth L1's beta, in the units of y, become delta / sy and beta / sy."""
    x0: float  # centre of the x range
    sx: float  # half the x range (> 0: parse_csv refuses equal x values)
    y0: float  # centre of the y range
    sy: float  # half the y range; 1 where every y is equal

    @staticmethod
    def of(x: list[float], y: list[float]) -> "Frame":
        lo, hi, ylo, yhi = min(x), max(x), min(y), max(y)
        sy = (yhi - ylo) / 2
        return Frame((lo + hi) / 2, (hi - lo) / 2, (ylo + yhi) / 2, sy if sy > 0 else 1.0)  # (1: every y equal)

    def to_data_units(self, a: float, c: float) -> tuple[float, float]:
        """(slope, intercept) of the line v = a u + c."""
        w = a * self.sy / self.sx
        return w, self.y0 + self.sy * c - w * self.x0


def _dtype(device: str) -> torch.dtype:
    return torch.float32 if device.startswith("mps") else torch.float64  # MPS has no float64


def _lbfgs(model: nn.Module, crit: nn.Module, X: Tensor, Y: Tensor) -> None:
    opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=1000, history_size=20,
                            tolerance_grad=1e-14, tolerance_change=1e-16, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = crit(model(X), Y)
        loss.backward()
        return loss

    opt.step(closure)


def _framed_module(loss: str, delta: float, beta: float, frame: Frame) -> nn.Module:
    """The loss module of the same problem in the standardised frame (see Frame)."""
    return LOSSES[loss].module(delta / frame.sy, beta / frame.sy)


def _stages(loss: str, delta: float, beta: float, frame: Frame) -> list[nn.Module]:
    """What LBFGS minimises, in turn, in the frame (residuals of order 1 there).

    L1 is reached through SmoothL1Loss(beta) for beta = 1, 0.1, ..., 1e-6 (its limit as beta -> 0).
    A Huber delta (Smooth L1 beta) far below the residuals makes a problem almost as kinked as L1,
    so it is reached the same way: from 1 down by factors of 10 to its own value in the frame."""
    if loss == "l1":
        return [nn.SmoothL1Loss(beta=10.0**-k) for k in range(7)]
    if loss == "mse":
        return [nn.MSELoss()]
    target = (delta if loss == "huber" else beta) / frame.sy
    ladder = [10.0**-k for k in range(20) if 10.0**-k > target] + [target]
    return [nn.HuberLoss(delta=d) if loss == "huber" else nn.SmoothL1Loss(beta=d) for d in ladder]


def fit_line(data: Data, loss: str, delta: float = DELTA.default, beta: float = BETA.default,
             device: str = "cpu") -> Fit:
    """The line that minimises `loss` on the data, found by torch.optim.LBFGS and verified.

    The fit runs in the data's standardised frame (see Frame), where every upload the page accepts,
    values up to 1e6 in size included, is as well conditioned as the generated data; the line is
    mapped back to the data's units at the end.

    L1 is not differentiable where a residual is 0, and its optimum sits exactly there (an L1 line
    passes through two data points), so plain gradient steps circle it forever. SmoothL1Loss(beta)
    equals L1Loss in the limit beta -> 0; we minimise it for beta = 1, 0.1, ..., 1e-6, each stage
    starting from the last, which lands next to the optimum. The last step uses the fact that an
    L1 optimum passes through two data points: of the lines through two of the points nearest the
    current line, it takes the one with the lowest L1 loss. Huber and Smooth L1 are quadratic in
    each residual between their kinks: the last step solves that quadratic exactly (Newton) with
    the points that sit inside the kinks. Then the optimality condition is checked, so "optimal"
    is a proof, not a hope."""
    dt = _dtype(device)
    frame = Frame.of(data.x, data.y)
    U = ((torch.tensor(data.x, dtype=torch.float64) - frame.x0) / frame.sx).to(device, dt)[:, None]  # (N, 1)
    V = ((torch.tensor(data.y, dtype=torch.float64) - frame.y0) / frame.sy).to(device, dt)[:, None]  # (N, 1)
    model = skip_init(nn.Linear, 1, 1, dtype=dt, device=device)  # no draw from the global generator
    nn.init.zeros_(model.weight)  # a fixed start: the optimum does not depend on it (convex loss)
    nn.init.zeros_(model.bias)
    crit = _framed_module(loss, delta, beta, frame)
    for stage in _stages(loss, delta, beta, frame):
        _lbfgs(model, stage, U, V)
    if loss == "l1":
        _through_two_points(model, U, V)
    else:  # MSE: no kinks at all, one step solves the normal equations
        kink = {"mse": math.inf, "huber": delta / frame.sy, "smooth_l1": beta / frame.sy}[loss]
        _newton_between_kinks(model, crit, U, V, kink)
    optimal, check = _certify(loss, U, V, model, crit)
    slope, intercept = frame.to_data_units(model.weight.item(), model.bias.item())
    with torch.no_grad():  # the loss in the data's own units
        X = torch.tensor(data.x, dtype=dt, device=device)[:, None]  # (N, 1)
        Y = torch.tensor(data.y, dtype=dt, device=device)[:, None]
        value = LOSSES[loss].module(delta, beta)(slope * X + intercept, Y).item()
    return Fit(loss, slope, intercept, value, optimal, check)


def _through_two_points(model: nn.Module, X: Tensor, Y: Tensor, nearest: int = 12) -> None:
    """Move an almost-L1-optimal line onto the best line through two of its nearest points."""
    with torch.no_grad():
        x, y = X.flatten(), Y.flatten()  # (N,)
        idx = (y - model(X).flatten()).abs().argsort()[:nearest]  # (k,)
        i, j = torch.triu_indices(len(idx), len(idx), offset=1, device=X.device)
        xi, xj, yi, yj = x[idx[i]], x[idx[j]], y[idx[i]], y[idx[j]]  # (P,) candidate pairs
        ok = (xj - xi).abs() > 1e-12
        w = (yj - yi)[ok] / (xj - xi)[ok]  # (P',)
        b = yi[ok] - w * xi[ok]
        losses = (y[None, :] - (w[:, None] * x[None, :] + b[:, None])).abs().mean(1)  # (P',)
        current = (y - model(X).flatten()).abs().mean()
        if len(losses) and losses.min() <= current:
            best = losses.argmin()
            model.weight.fill_(w[best])
            model.bias.fill_(b[best])


def _newton_between_kinks(model: nn.Module, crit: nn.Module, X: Tensor, Y: Tensor, kink: float,
                          steps: int = 100) -> None:
    """Land a nearly optimal Huber (or Smooth L1) line on the exact minimiser.

    With the points inside the kinks (|r| <= kink) fixed as Q and the others' signs s fixed, the
    loss is a quadratic in (w, b) whose minimiser solves the normal equations
    sum_Q a_i a_i^T theta = sum_Q y_i a_i + kink sum_(not Q) s_i a_i, with a_i = (x_i, 1); Smooth L1
    is Huber divided by beta, so it has the same minimiser. One step is exact once Q and s are right;
    a step that would raise the loss is shortened, and none is taken if it cannot lower it."""
    with torch.no_grad():
        x, y = X.flatten(), Y.flatten()  # (N,)
        A = torch.stack([x, torch.ones_like(x)], dim=1)  # (N, 2)
        theta = torch.stack([model.weight.flatten()[0], model.bias[0]])  # (2,)

        def value(t: Tensor) -> Tensor:
            return crit((A @ t)[:, None], Y)

        for _ in range(steps):
            r = y - A @ theta  # (N,)
            q = r.abs() <= kink
            order = r.abs().argsort()
            for m in range(2, len(r) + 1):  # fewer than two distinct x inside the kinks (a tiny kink):
                H = A[q].T @ A[q]  # (2, 2)   treat the nearest points as inside, the step finds out
                if int(q.sum()) >= 2 and torch.linalg.matrix_rank(H) == 2:
                    break
                q[order[:m]] = True
            else:
                break
            rhs = A[q].T @ y[q]  # (2,)
            if not bool(q.all()):  # (MSE: kink = inf, every point inside)
                rhs = rhs + kink * (torch.sign(r[~q])[:, None] * A[~q]).sum(0)
            new = torch.linalg.solve(H, rhs)  # (2,)
            r_new = y - A @ new
            if torch.equal(q, r.abs() <= kink) and torch.equal(r_new.abs() <= kink, q) and \
                    torch.equal(torch.sign(r_new[~q]), torch.sign(r[~q])):
                theta = new  # Q and s hold at the step's end: it is the minimiser of this piece, and so
                break  # of the loss (a convex function, minimal on a piece is minimal)
            f0, step = value(theta), new - theta
            for _ in range(60):  # shorten the step until the loss does not rise
                if value(theta + step) <= f0:
                    break
                step = step / 2
            else:
                break
            theta = theta + step
        model.weight.fill_(theta[0])
        model.bias.fill_(theta[1])


def _certify(loss: str, X: Tensor, Y: Tensor, model: nn.Module, crit: nn.Module) -> tuple[bool, str]:
    """Check the first-order optimality condition of a convex loss at the fitted line.

    X and Y are in the standardised frame (|x|, |y| <= 1), where the tolerances mean the same for
    every data set: rounding, not the size of the numbers, decides."""
    f64 = X.dtype == torch.float64
    if loss != "l1":
        # The gradient is a sum of terms psi(r_i) a_i (psi = d rho / dr, a_i = (x_i, 1)) that cancel
        # at an optimum: it must be 0 to rounding relative to the size of those terms.
        c = crit.__class__(**{k: getattr(crit, k) for k in ("delta", "beta") if hasattr(crit, k)},
                           reduction="none")
        pred = model(X).detach().requires_grad_(True)  # (N, 1)
        (psi,) = torch.autograd.grad(c(pred, Y).sum(), pred)  # (N, 1) each point's d rho / d prediction
        terms = float((psi.abs() * (X.abs() + 1)).sum())
        flat = torch.zeros_like(Y, requires_grad=True)  # the size of the terms at the line y = 0
        (psi0,) = torch.autograd.grad(c(flat, Y).sum(), flat)
        floor = float((psi0.abs() * (X.abs() + 1)).sum()) * (1e-14 if f64 else 1e-6)
        g = float(torch.stack([(psi * X).sum(), psi.sum()]).abs().max())
        rel = g / max(terms, floor) if max(terms, floor) > 0 else 0.0
        return rel <= (1e-9 if f64 else 1e-4), (f"largest gradient component at the fit: {rel:.1e} of the size "
                                                 "of its terms (≈ 0)")
    # L1: 0 must be a subgradient. Points off the line pull with sign(r) x_i (slope) and sign(r)
    # (intercept); the points on it (|r| tiny) may pull with any weight c_i in [-1, 1].
    with torch.no_grad():
        r = (Y - model(X)).flatten()  # (N,)
        A = torch.cat([X, torch.ones_like(X)], dim=1)  # (N, 2) d(prediction)/d(slope, intercept)
        tol = 1e-9 if f64 else 1e-4
        on = r.abs() <= tol
        pull = (torch.sign(r[~on])[:, None] * A[~on]).sum(0)  # (2,)
        if int(on.sum()) == 0:
            ok, c_max = bool(pull.abs().max() <= 1e-9), 0.0
        else:
            c = torch.linalg.lstsq(A[on].T, -pull[:, None]).solution.flatten()  # weights of on-line points
            ok_solve = bool(((A[on].T @ c) + pull).abs().max() <= 1e-6 * len(r))
            c_max = float(c.abs().max())
            ok = ok_solve and c_max <= 1 + 1e-6
    return ok, (f"{int(on.sum())} points lie on the line; the subgradient condition holds with "
                f"weights |c| ≤ {c_max:.3f} (must be ≤ 1)")


def per_point(data: Data, loss: str, line: tuple[float, float], delta: float = DELTA.default,
              beta: float = BETA.default) -> tuple[list[float], list[float]]:
    """Each point's share of the total loss and of the total |gradient| on the slope, under `loss`
    with the line at `line` = (slope, intercept).

    reduction='none' gives every point's loss; autograd of each point's loss with respect to the
    slope (here: its d/dw = dloss_i/dr_i * (-x_i)) gives its pull on the slope."""
    X = torch.tensor(data.x, dtype=torch.float64)[:, None]  # (N, 1)
    Y = torch.tensor(data.y, dtype=torch.float64)[:, None]
    w = torch.tensor([[line[0]]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([line[1]], dtype=torch.float64)
    crit = LOSSES[loss].module(delta, beta)
    crit.reduction = "none"
    each = crit(X @ w.T + b, Y).flatten()  # (N,) every point's own loss
    # the slope gradient of point i alone: d(each_i)/dw. each_i depends on w only through point i,
    # so one Jacobian row per point; computed with autograd.
    (jac,) = torch.autograd.grad(each, w, grad_outputs=torch.eye(len(each), dtype=torch.float64),
                                 is_grads_batched=True)
    gw = jac.flatten().abs()  # (N,)
    loss_share = (each / each.sum()).tolist() if each.sum() > 0 else [0.0] * len(each)
    grad_share = (gw / gw.sum()).tolist() if gw.sum() > 0 else [0.0] * len(each)
    return loss_share, grad_share


def residual_curves(losses: tuple[str, ...], delta: float, beta: float, r_max: float = 4.0,
                    n: int = 401) -> dict[str, tuple[list[float], list[float], list[float]]]:
    """For each loss: residual r = y - y_hat (target minus prediction), the per-point loss rho(r)
    (reduction='none') and d rho/dr by autograd. MSE's is r^2 and 2r; L1's is |r| and sign(r).
    A positive d rho/dr means the point sits above the line and pulls it up."""
    r = torch.linspace(-r_max, r_max, n, dtype=torch.float64, requires_grad=True)  # (n,)
    zero = torch.zeros_like(r)
    out = {}
    for name in losses:
        crit = LOSSES[name].module(delta, beta)
        crit.reduction = "none"
        rho = crit(zero, r)  # prediction 0, target r: the residual y - y_hat is r
        (d,) = torch.autograd.grad(rho.sum(), r)
        out[name] = (r.detach().tolist(), rho.detach().tolist(), d.tolist())
    return out


def reductions(data: Data, fit: Fit, delta: float = DELTA.default, beta: float = BETA.default) -> dict[str, object]:
    """What the loss module returns for each `reduction` at the fitted line."""
    X = torch.tensor(data.x, dtype=torch.float64)[:, None]
    Y = torch.tensor(data.y, dtype=torch.float64)[:, None]
    pred = fit.slope * X + fit.intercept
    out: dict[str, object] = {}
    for mode in ("mean", "sum", "none"):
        crit = LOSSES[fit.loss].module(delta, beta)
        crit.reduction = mode
        v = crit(pred, Y)
        out[mode] = v.flatten().tolist() if mode == "none" else v.item()
    return out


def surface(data: Data, loss: str, slopes: tuple[float, float], intercepts: tuple[float, float],
            n: int = 161, delta: float = DELTA.default, beta: float = BETA.default) -> tuple[list[float], list[float], list[list[float]]]:
    """The mean loss over a grid of (slope, intercept): Z[i][j] at intercept i, slope j."""
    X = torch.tensor(data.x, dtype=torch.float64)  # (N,)
    Y = torch.tensor(data.y, dtype=torch.float64)
    w = torch.linspace(*slopes, n, dtype=torch.float64)  # (n,)
    b = torch.linspace(*intercepts, n, dtype=torch.float64)  # (n,)
    crit = LOSSES[loss].module(delta, beta)
    crit.reduction = "none"
    rows = []
    for bi in b:  # one intercept row at a time: memory stays n x N, even for a 1000-row upload
        pred = w[:, None] * X[None, :] + bi  # (n_w, N)
        rows.append(crit(pred, Y.expand_as(pred)).mean(-1))  # (n_w,)
    return w.tolist(), b.tolist(), torch.stack(rows).tolist()


def in_y_units(loss: str, value: Tensor) -> Tensor:
    """A loss value as a typical residual in the units of y, so that L1 and MSE can share one colour
    scale: L1's mean |r| already is one; MSE's mean r^2 becomes its square root, the RMS residual.
    (The square root is monotone: same minimiser, same contour shapes. RMS >= mean |r| everywhere.)"""
    return value.sqrt() if loss == "mse" else value


def l1_zoom_box(data: Data, fit: Fit, creases: int = 8) -> tuple[tuple[float, float], tuple[float, float]]:
    """A (slope, intercept) window around the L1 optimum small enough to see its corners.

    The L1 surface is flat between creases: point i adds one along b = y_i - w x_i, where the line
    passes through it. At the optimum's slope that crease is |r_i| away in intercept, at its
    intercept |r_i / x_i| away in slope; the window reaches out to the `creases`-th nearest of each."""
    x = torch.tensor(data.x, dtype=torch.float64)  # (N,)
    r = torch.tensor(data.y, dtype=torch.float64) - (fit.slope * x + fit.intercept)  # (N,)
    k = min(creases, len(r)) - 1
    db = float(r.abs().sort().values[k])
    dw = float((r.abs() / x.abs().clamp_min(1e-9)).sort().values[k])
    span = max(data.y) - min(data.y) + 1e-9
    db, dw = max(db, 1e-6 * span), max(dw, 1e-6 * span / (max(map(abs, data.x)) + 1e-9))
    return (fit.slope - 1.2 * dw, fit.slope + 1.2 * dw), (fit.intercept - 1.2 * db, fit.intercept + 1.2 * db)


# "L1 holds": its slope within HOLD of the clean slope. "Gives way": further off than GIVE_WAY, the
# same bar the MSE slope clears at the default settings.
HOLD, GIVE_WAY = 0.05, 0.3


@dataclass(frozen=True)
class Sweep:
    """The exact L1 and MSE slopes for every outlier count the slider allows, other settings fixed."""
    counts: list[int]
    l1: list[float]
    mse: list[float]
    l1_gives_way: int | None  # the smallest count whose L1 slope is more than GIVE_WAY off; None: never
    mse_gives_way: int | None


def lad_line(x: Tensor, y: Tensor) -> tuple[float, float]:
    """The exact least-absolute-deviations line (the L1 fit) of a few points, by enumeration: some L1
    optimum passes through two of the points, so the best of all lines through two points is one.
    (N points -> N(N-1)/2 candidate lines; meant for the generated data, N <= 60.)"""
    i, j = torch.triu_indices(len(x), len(x), offset=1)
    ok = (x[j] - x[i]).abs() > 1e-12
    w = (y[j] - y[i])[ok] / (x[j] - x[i])[ok]  # (P,)
    b = y[i][ok] - w * x[i][ok]
    pred = w[:, None] * x[None, :] + b[:, None]  # (P, N)
    mae = nn.L1Loss(reduction="none")(pred, y.expand_as(pred)).mean(1)  # (P,)
    best = int(mae.argmin())
    return float(w[best]), float(b[best])


def outlier_sweep(outlier_size: float, noise: float, seed: int) -> Sweep:
    """Raise the outlier count from 0 to its maximum with the other settings fixed (make_data keeps
    the earlier outliers when one is added) and record both exact slopes."""
    counts = list(range(OUTLIERS.min, OUTLIERS.max + 1))
    l1, mse = [], []
    for k in counts:
        d = make_data(k, outlier_size, noise, seed)
        x, y = torch.tensor(d.x, dtype=torch.float64), torch.tensor(d.y, dtype=torch.float64)  # (N,)
        l1.append(lad_line(x, y)[0])
        A = torch.stack([x, torch.ones_like(x)], dim=1)  # (N, 2)
        mse.append(float(torch.linalg.lstsq(A, y[:, None]).solution[0, 0]))  # least squares, closed form

    def first(slopes: list[float]) -> int | None:
        return next((k for k, s in zip(counts, slopes) if abs(s - TRUE_SLOPE) > GIVE_WAY), None)

    return Sweep(counts, l1, mse, first(l1), first(mse))


def flag_far_points(data: Data, l1: Fit) -> Data:
    """For uploaded data (no known outliers): mark the points far from the L1 line, |r| > 3 robust
    standard deviations (1.4826 x the median |r|, the usual normal-consistent scale)."""
    r = torch.tensor(data.y, dtype=torch.float64) - (l1.slope * torch.tensor(data.x, dtype=torch.float64) + l1.intercept)
    # (floor: data exactly on a line has median |r| = 0; then any point off it counts as far)
    scale = max(1.4826 * float(r.abs().median()), 1e-9 * (max(map(abs, data.y)) + 1.0))
    return Data(data.x, data.y, (r.abs() > 3 * scale).tolist(), None)


def outlier_share(data: Data, loss: str, line: tuple[float, float], delta: float = DELTA.default,
                  beta: float = BETA.default) -> dict[str, float]:
    """The outliers' summed share of the loss and of the pull on the slope."""
    ls, gs = per_point(data, loss, line, delta, beta)
    return {"loss": sum(v for v, o in zip(ls, data.outlier) if o),
            "grad": sum(v for v, o in zip(gs, data.outlier) if o)}


def script(losses: tuple[str, ...], data: Data, generated: dict | None, delta: float, beta: float) -> str:
    """A plain-torch script that rebuilds the data and prints each fitted slope and intercept."""
    if generated is not None:
        g = generated
        data_code = f"""g = torch.Generator().manual_seed({g["seed"]})
x = 10.0 * torch.rand({N_CLEAN}, generator=g, dtype=torch.float64)
y = {TRUE_SLOPE} * x + {TRUE_INTERCEPT} + {float(g["noise"])!r} * torch.randn({N_CLEAN}, generator=g, dtype=torch.float64)
# outliers: at the right end (x in [8, 10]), far below the line. All {OUTLIERS.max} candidates are
# drawn and the first {g["outliers"]} used, so one more outlier keeps the others where they were.
xo = 8.0 + 2.0 * torch.rand({OUTLIERS.max}, generator=g, dtype=torch.float64)
yo = {TRUE_SLOPE} * xo + {TRUE_INTERCEPT} - {float(g["outlier_size"])!r} * (0.8 + 0.4 * torch.rand({OUTLIERS.max}, generator=g, dtype=torch.float64))
X = torch.cat([x, xo[:{g["outliers"]}]])[:, None]
Y = torch.cat([y, yo[:{g["outliers"]}]])[:, None]"""
    else:
        data_code = f"""X = torch.tensor({[round(v, 12) for v in data.x]!r}, dtype=torch.float64)[:, None]
Y = torch.tensor({[round(v, 12) for v in data.y]!r}, dtype=torch.float64)[:, None]"""
    stages = {"l1": "[nn.SmoothL1Loss(beta=10.0 ** -k) for k in range(7)]", "mse": "[nn.MSELoss()]",
              "huber": "[nn.HuberLoss(delta=d) for d in ladder(delta)]",
              "smooth_l1": "[nn.SmoothL1Loss(beta=d) for d in ladder(beta)]"}
    chosen = "\n".join(f'    "{n}": {stages[n]},' for n in losses)
    return f"""import torch
from torch import nn

{data_code}

# Fit in the standardised frame x = x0 + sx u, y = y0 + sy v (u, v in [-1, 1]): the same minimiser,
# but well conditioned even for values near 1e6. Huber's delta and Smooth L1's beta are in the units
# of y, so in the frame they become delta / sy and beta / sy.
x0, sx = (X.max() + X.min()).item() / 2, (X.max() - X.min()).item() / 2
y0, sy = (Y.max() + Y.min()).item() / 2, (Y.max() - Y.min()).item() / 2 or 1.0
U, V = (X - x0) / sx, (Y - y0) / sy
delta, beta = {delta!r} / sy, {beta!r} / sy


def fit(stages):
    model = nn.Linear(1, 1, dtype=torch.float64)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    for crit in stages:
        opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=1000, history_size=20,
                                tolerance_grad=1e-14, tolerance_change=1e-16, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = crit(model(U), V)
            loss.backward()
            return loss

        opt.step(closure)
    return model.weight.item(), model.bias.item()


def through_two_points(slope, intercept, nearest=12):
    # An L1 optimum passes through two data points: take the best such line near the fit.
    x, y = U.flatten(), V.flatten()
    idx = (y - (slope * x + intercept)).abs().argsort()[:nearest]
    best = (y - (slope * x + intercept)).abs().mean(), slope, intercept
    for a in range(len(idx)):
        for c in range(a + 1, len(idx)):
            i, j = idx[a], idx[c]
            if x[i] != x[j]:
                w = (y[j] - y[i]) / (x[j] - x[i])
                b = y[i] - w * x[i]
                best = min(best, ((y - (w * x + b)).abs().mean(), w.item(), b.item()))
    return best[1], best[2]


def ladder(kink):
    # a kink far below the residuals makes the loss almost as sharp as L1: approach it from 1
    return [10.0 ** -k for k in range(20) if 10.0 ** -k > kink] + [kink]


stages = {{
{chosen}
}}
for name, stage in stages.items():
    if name == "l1":
        # L1 has a kink at its optimum: get next to it through SmoothL1Loss(beta), beta -> 0
        # (SmoothL1Loss with beta = 0 is L1Loss), then land on the line through two points.
        a, c = through_two_points(*fit(stage))
    else:
        a, c = fit(stage)
    slope = a * sy / sx  # back to the units of x and y
    intercept = y0 + sy * c - slope * x0
    print(f"{{name}}: slope = {{slope:.6f}}, intercept = {{intercept:.6f}}")
"""


@dataclass(frozen=True)
class Analysis:
    """Everything the loss page shows for one setting."""
    data: Data
    fits: dict[str, Fit]
    reference: tuple[float, float]  # the line at which the shares are measured
    reference_name: str
    shares: dict[str, dict[str, float]]  # loss -> outliers' share of loss and of slope pull
    point_shares: dict[str, list[float]]  # loss -> each point's share of the slope pull
    curves: dict[str, tuple[list[float], list[float], list[float]]]
    surfaces: dict[str, tuple[list[float], list[float], list[list[float]]]]  # l1, mse: in_y_units of the mean loss
    reductions: dict[str, dict[str, object]]
    l1_zoom: tuple[list[float], list[float], list[list[float]]]  # the L1 surface close around its optimum


def analyse(data: Data, losses: tuple[str, ...], delta: float, beta: float, device: str = "cpu") -> Analysis:
    fits = {n: fit_line(data, n, delta, beta, device) for n in dict.fromkeys(("l1", "mse") + tuple(losses))}
    if data.true_line is None:
        data = flag_far_points(data, fits["l1"])
        reference, reference_name = (fits["l1"].slope, fits["l1"].intercept), "the L1 fit"
    else:
        reference, reference_name = data.true_line, "the clean line"
    shares, point_shares = {}, {}
    for n in losses:
        shares[n] = outlier_share(data, n, reference, delta, beta)
        point_shares[n] = per_point(data, n, reference, delta, beta)[1]
    # the surfaces frame both optima and the reference line, with a margin
    ws = [fits["l1"].slope, fits["mse"].slope, reference[0]]
    bs = [fits["l1"].intercept, fits["mse"].intercept, reference[1]]
    pad_w, pad_b = max(0.5, 0.5 * (max(ws) - min(ws))), max(2.0, 0.5 * (max(bs) - min(bs)))
    box = ((min(ws) - pad_w, max(ws) + pad_w), (min(bs) - pad_b, max(bs) + pad_b))
    surfaces = {}
    for n in ("l1", "mse"):  # in the units of y (MAE and RMS residual), for one shared colour scale
        w, b, z = surface(data, n, *box, delta=delta, beta=beta)
        surfaces[n] = (w, b, in_y_units(n, torch.tensor(z, dtype=torch.float64)).tolist())
    return Analysis(
        data, fits, reference, reference_name, shares, point_shares,
        residual_curves(losses, delta, beta), surfaces,
        {n: reductions(data, fits[n], delta, beta) for n in losses},
        surface(data, "l1", *l1_zoom_box(data, fits["l1"])),
    )


def analyse_generated(losses: tuple[str, ...], outliers: int, outlier_size: float, noise: float, seed: int,
                      delta: float, beta: float, device: str = "cpu") -> Analysis:
    return analyse(make_data(outliers, outlier_size, noise, seed), losses, delta, beta, device)


def analyse_upload(raw: bytes, losses: tuple[str, ...], delta: float, beta: float, device: str = "cpu") -> Analysis:
    """Raises DataError with a student-readable message for a file that cannot be used."""
    return analyse(parse_csv(raw), losses, delta, beta, device)
