"""L1 against MSE on data with outliers: the data, the exact fits, and what each point contributes.

Every loss is a torch.nn loss module; every fit runs torch.optim.LBFGS to convergence and is then
checked against the optimality condition of its loss, so a line is only ever shown as "the L1 fit"
when it provably is one.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils import skip_init

from .controls import FloatSpec, IntSpec, MultiChoiceSpec
from .palette import OKABE_ITO


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
LOSS = MultiChoiceSpec("Losses to fit", tuple(LOSSES), ("l1", "mse"))
OUTLIERS = IntSpec("Outliers", 0, 20, 6, help="How many points are replaced far below the line.")
OUTLIER_SIZE = FloatSpec("Outlier size (how far below the line)", 0.0, 30.0, 12.0, 0.5)
NOISE = FloatSpec("Noise (std of the clean points)", 0.0, 3.0, 0.5, 0.1)
SEED = IntSpec("Seed", 0, 9999, 0)
DELTA = FloatSpec("Huber delta", 0.1, 10.0, 1.0, 0.1)
BETA = FloatSpec("Smooth L1 beta", 0.1, 10.0, 1.0, 0.1)

N_CLEAN = 40  # clean points on the line
TRUE_SLOPE, TRUE_INTERCEPT = 0.5, 1.0  # the line the clean points come from
X_RANGE = (0.0, 10.0)
MAX_ROWS = 1000  # uploaded CSV: rows
MAX_BYTES = 100_000  # uploaded CSV: bytes


@dataclass(frozen=True)
class Data:
    x: list[float]
    y: list[float]
    outlier: list[bool]  # True for the points that were placed as outliers
    true_line: tuple[float, float] | None  # (slope, intercept) of the clean line; None for uploads


def make_data(outliers: int, outlier_size: float, noise: float, seed: int) -> Data:
    """Clean points y = 0.5 x + 1 + noise on x in [0, 10], plus outliers far below the line at the
    right end, where their leverage on a squared-error fit is largest. Same seed, same data."""
    g = torch.Generator().manual_seed(seed)
    lo, hi = X_RANGE
    x = lo + (hi - lo) * torch.rand(N_CLEAN, generator=g, dtype=torch.float64)  # (N,)
    y = TRUE_SLOPE * x + TRUE_INTERCEPT + noise * torch.randn(N_CLEAN, generator=g, dtype=torch.float64)
    xo = (hi - 0.2 * (hi - lo)) + 0.2 * (hi - lo) * torch.rand(outliers, generator=g, dtype=torch.float64)  # (k,)
    drop = outlier_size * (0.8 + 0.4 * torch.rand(outliers, generator=g, dtype=torch.float64))  # (k,)
    yo = TRUE_SLOPE * xo + TRUE_INTERCEPT - drop
    return Data(torch.cat([x, xo]).tolist(), torch.cat([y, yo]).tolist(),
                [False] * N_CLEAN + [True] * outliers, (TRUE_SLOPE, TRUE_INTERCEPT))


class DataError(ValueError):
    """An uploaded file that cannot be used; the message tells the student why."""


def parse_csv(raw: bytes) -> Data:
    """Read x,y pairs from a small CSV (optional header). Plain text parsing only: nothing in the
    file is executed or unpickled."""
    if len(raw) > MAX_BYTES:
        raise DataError(f"The file is {len(raw) / 1000:.0f} kB; the limit is {MAX_BYTES // 1000} kB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("The file is not UTF-8 text. Upload a plain CSV with two columns, x and y.") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if rows and len(rows[0]) == 2 and not (_numeric(rows[0][0]) and _numeric(rows[0][1])):
        rows = rows[1:]  # a header line
    if len(rows) > MAX_ROWS:
        raise DataError(f"The file has {len(rows)} rows; the limit is {MAX_ROWS}.")
    if len(rows) < 3:
        raise DataError("Need at least 3 rows of x,y numbers to fit and compare a line.")
    xs, ys = [], []
    for i, r in enumerate(rows, start=1):
        if len(r) != 2:
            raise DataError(f"Row {i} has {len(r)} column{'s' * (len(r) != 1)}; every row needs exactly two, "
                            "separated by a comma: x,y.")
        if not (_numeric(r[0]) and _numeric(r[1])):
            raise DataError(f"Row {i} ({','.join(r)[:40]}) is not two finite numbers.")
        xs.append(float(r[0]))
        ys.append(float(r[1]))
    if max(xs) - min(xs) == 0:
        raise DataError("All x values are equal: no line's slope can be fitted.")
    if max(map(abs, xs + ys)) > 1e6:
        raise DataError("Values above 1e6 in size: rescale the data first.")
    return Data(xs, ys, [False] * len(xs), None)


def _numeric(s: str) -> bool:
    try:
        return math.isfinite(float(s))
    except ValueError:
        return False


@dataclass(frozen=True)
class Fit:
    loss: str
    slope: float
    intercept: float
    loss_value: float  # the loss (reduction='mean') at the fit
    optimal: bool  # the optimality condition of this loss holds at the fit
    check: str  # what was checked, in words, with the number


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


def fit_line(data: Data, loss: str, delta: float = DELTA.default, beta: float = BETA.default,
             device: str = "cpu") -> Fit:
    """The line that minimises `loss` on the data, found by torch.optim.LBFGS and verified.

    L1 is not differentiable where a residual is 0, and its optimum sits exactly there (an L1 line
    passes through two data points), so plain gradient steps circle it forever. SmoothL1Loss(beta)
    equals L1Loss in the limit beta -> 0; we minimise it for beta = 1, 0.1, ..., 1e-6, each stage
    starting from the last, which lands next to the optimum. The last step uses the fact that an
    L1 optimum passes through two data points: of the lines through two of the points nearest the
    current line, it takes the one with the lowest L1 loss. Then the optimality condition is
    checked, so "optimal" is a proof, not a hope."""
    dt = _dtype(device)
    X = torch.tensor(data.x, dtype=dt, device=device)[:, None]  # (N, 1)
    Y = torch.tensor(data.y, dtype=dt, device=device)[:, None]  # (N, 1)
    model = skip_init(nn.Linear, 1, 1, dtype=dt, device=device)  # no draw from the global generator
    nn.init.zeros_(model.weight)  # a fixed start: the optimum does not depend on it (convex loss)
    nn.init.zeros_(model.bias)
    crit = LOSSES[loss].module(delta, beta)
    stages = [nn.SmoothL1Loss(beta=10.0**-k) for k in range(7)] if loss == "l1" else [crit]
    for stage in stages:
        _lbfgs(model, stage, X, Y)
    if loss == "l1":
        _through_two_points(model, X, Y)
    slope, intercept = model.weight.item(), model.bias.item()
    optimal, check = _certify(loss, X, Y, model, crit)
    with torch.no_grad():
        value = crit(model(X), Y).item()
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


def _certify(loss: str, X: Tensor, Y: Tensor, model: nn.Module, crit: nn.Module) -> tuple[bool, str]:
    """Check the first-order optimality condition of a convex loss at the fitted line."""
    scale = float(Y.abs().max()) + 1.0
    if loss != "l1":
        model.zero_grad()
        crit(model(X), Y).backward()
        g = max(model.weight.grad.abs().item(), model.bias.grad.abs().item())
        tol = 1e-8 * scale if X.dtype == torch.float64 else 1e-4 * scale
        return g <= tol, f"largest gradient component at the fit: {g:.1e} (≈ 0)"
    # L1: 0 must be a subgradient. Points off the line pull with sign(r) x_i (slope) and sign(r)
    # (intercept); the points on it (|r| tiny) may pull with any weight c_i in [-1, 1].
    with torch.no_grad():
        r = (Y - model(X)).flatten()  # (N,)
        A = torch.cat([X, torch.ones_like(X)], dim=1)  # (N, 2) d(prediction)/d(slope, intercept)
        tol = 1e-9 * scale if X.dtype == torch.float64 else 1e-4 * scale
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
    """For each loss: residual r, the per-point loss rho(r) (reduction='none') and d rho/dr by
    autograd. MSE's is r^2 and 2r; L1's is |r| and sign(r)."""
    r = torch.linspace(-r_max, r_max, n, dtype=torch.float64, requires_grad=True)  # (n,)
    zero = torch.zeros_like(r)
    out = {}
    for name in losses:
        crit = LOSSES[name].module(delta, beta)
        crit.reduction = "none"
        rho = crit(r, zero)  # input - target = r
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
            n: int = 81, delta: float = DELTA.default, beta: float = BETA.default) -> tuple[list[float], list[float], list[list[float]]]:
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
# outliers: at the right end (x in [8, 10]), far below the line
xo = 8.0 + 2.0 * torch.rand({g["outliers"]}, generator=g, dtype=torch.float64)
yo = {TRUE_SLOPE} * xo + {TRUE_INTERCEPT} - {float(g["outlier_size"])!r} * (0.8 + 0.4 * torch.rand({g["outliers"]}, generator=g, dtype=torch.float64))
X = torch.cat([x, xo])[:, None]
Y = torch.cat([y, yo])[:, None]"""
    else:
        data_code = f"""X = torch.tensor({[round(v, 12) for v in data.x]!r}, dtype=torch.float64)[:, None]
Y = torch.tensor({[round(v, 12) for v in data.y]!r}, dtype=torch.float64)[:, None]"""
    crits = {"l1": "nn.L1Loss()", "mse": "nn.MSELoss()", "huber": f"nn.HuberLoss(delta={delta!r})",
             "smooth_l1": f"nn.SmoothL1Loss(beta={beta!r})"}
    chosen = "\n".join(f'    "{n}": {crits[n]},' for n in losses)
    return f"""import torch
from torch import nn

{data_code}


def fit(stages):
    model = nn.Linear(1, 1, dtype=torch.float64)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    for crit in stages:
        opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=1000, history_size=20,
                                tolerance_grad=1e-14, tolerance_change=1e-16, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = crit(model(X), Y)
            loss.backward()
            return loss

        opt.step(closure)
    return model.weight.item(), model.bias.item()


def through_two_points(slope, intercept, nearest=12):
    # An L1 optimum passes through two data points: take the best such line near the fit.
    x, y = X.flatten(), Y.flatten()
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


losses = {{
{chosen}
}}
for name, crit in losses.items():
    if name == "l1":
        # L1 has a kink at its optimum: get next to it through SmoothL1Loss(beta), beta -> 0
        # (SmoothL1Loss with beta = 0 is L1Loss), then land on the line through two points.
        slope, intercept = through_two_points(*fit([nn.SmoothL1Loss(beta=10.0 ** -k) for k in range(7)]))
    else:
        slope, intercept = fit([crit])
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
    surfaces: dict[str, tuple[list[float], list[float], list[list[float]]]]  # l1 and mse
    reductions: dict[str, dict[str, object]]


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
    surfaces = {n: surface(data, n, *box, delta=delta, beta=beta) for n in ("l1", "mse")}
    return Analysis(
        data, fits, reference, reference_name, shares, point_shares,
        residual_curves(losses, delta, beta), surfaces,
        {n: reductions(data, fits[n], delta, beta) for n in losses},
    )


def analyse_generated(losses: tuple[str, ...], outliers: int, outlier_size: float, noise: float, seed: int,
                      delta: float, beta: float, device: str = "cpu") -> Analysis:
    return analyse(make_data(outliers, outlier_size, noise, seed), losses, delta, beta, device)


def analyse_upload(raw: bytes, losses: tuple[str, ...], delta: float, beta: float, device: str = "cpu") -> Analysis:
    """Raises DataError with a student-readable message for a file that cannot be used."""
    return analyse(parse_csv(raw), losses, delta, beta, device)
