"""The activation registry and the numbers the activation page shows.

One registry (`ACTIVATIONS`) drives the page's choices, its figure, the "show the code" script,
the vanishing-gradient page and the tests. Each entry builds the torch.nn module; its derivative on
the page always comes from autograd, and the closed form is kept only as a cross-check.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch
from torch import Tensor, nn

from .controls import ChoiceSpec, FloatSpec, IntSpec, MultiChoiceSpec
from .palette import OKABE_ITO

Params = Mapping[str, float | str]

# SELU's fixed constants, as given in torch.nn.SELU's documentation (Klambauer et al., 2017).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@dataclass(frozen=True)
class Activation:
    name: str  # registry key, lower case; also its URL value
    label: str  # the torch.nn class a student would write
    build: Callable[[Params], nn.Module]
    derivative: Callable[[Tensor, Params], Tensor]  # closed form, torch's convention at kinks
    formula: str  # LaTeX of f(x)
    derivative_formula: str  # LaTeX of f'(x)
    colour: str
    params: Mapping[str, FloatSpec | ChoiceSpec] = field(default_factory=dict)

    def defaults(self) -> dict[str, float | str]:
        return {k: s.default for k, s in self.params.items()}

    def resolved(self, params: Params | None) -> dict[str, float | str]:
        """This entry's parameters: the given ones over the defaults, unknown keys ignored."""
        merged = self.defaults()
        merged.update({k: v for k, v in (params or {}).items() if k in self.params})
        return merged


def _where(cond: Tensor, a: float, b: float, like: Tensor) -> Tensor:
    """a where cond holds, else b, in like's dtype and device."""
    return torch.where(cond, torch.full_like(like, a), torch.full_like(like, b))


def _gelu_derivative(x: Tensor, p: Params) -> Tensor:
    if p["approximate"] == "tanh":
        k = math.sqrt(2.0 / math.pi)
        u = k * (x + 0.044715 * x**3)
        t = torch.tanh(u)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * k * (1 + 3 * 0.044715 * x**2)
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2.0)))
    pdf = torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    return cdf + x * pdf


def _mish_derivative(x: Tensor, p: Params) -> Tensor:
    sp = torch.nn.functional.softplus(x)
    t = torch.tanh(sp)
    return t + x * (1 - t**2) * torch.sigmoid(x)


def _fmt(v: float | str) -> str:
    return repr(v) if isinstance(v, str) else f"{float(v):g}"


def _kw(p: Params) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in p.items())


def _entries() -> list[Activation]:
    return [
        Activation(
            "sigmoid", "nn.Sigmoid", lambda p: nn.Sigmoid(),
            lambda x, p: torch.sigmoid(x) * (1 - torch.sigmoid(x)),
            r"\sigma(x) = \frac{1}{1+e^{-x}}", r"\sigma'(x) = \sigma(x)\,(1-\sigma(x))", "",
        ),
        Activation(
            "tanh", "nn.Tanh", lambda p: nn.Tanh(),
            lambda x, p: 1 - torch.tanh(x) ** 2,
            r"\tanh(x) = \frac{e^{x}-e^{-x}}{e^{x}+e^{-x}}", r"\tanh'(x) = 1-\tanh^2(x)", "",
        ),
        Activation(
            "relu", "nn.ReLU", lambda p: nn.ReLU(),
            lambda x, p: (x > 0).to(x.dtype),
            r"\mathrm{ReLU}(x) = \max(0, x)", r"\mathrm{ReLU}'(x) = \begin{cases} 1 & x>0 \\ 0 & x\le 0 \end{cases}", "",
        ),
        Activation(
            "leaky_relu", "nn.LeakyReLU", lambda p: nn.LeakyReLU(negative_slope=float(p["negative_slope"])),
            lambda x, p: _where(x > 0, 1.0, float(p["negative_slope"]), x),
            r"\mathrm{LeakyReLU}(x) = \max(0,x) + a\min(0,x)", r"f'(x) = \begin{cases} 1 & x>0 \\ a & x\le 0 \end{cases}", "",
            {"negative_slope": FloatSpec("negative slope a", 0.0, 0.5, 0.01, 0.01)},
        ),
        Activation(
            "elu", "nn.ELU", lambda p: nn.ELU(alpha=float(p["alpha"])),
            lambda x, p: torch.where(x > 0, torch.ones_like(x), float(p["alpha"]) * torch.exp(x)),
            r"\mathrm{ELU}(x) = \begin{cases} x & x>0 \\ \alpha(e^{x}-1) & x\le 0 \end{cases}",
            r"f'(x) = \begin{cases} 1 & x>0 \\ \alpha e^{x} & x\le 0 \end{cases}", "",
            {"alpha": FloatSpec("alpha", 0.1, 3.0, 1.0, 0.1)},
        ),
        Activation(
            "selu", "nn.SELU", lambda p: nn.SELU(),
            lambda x, p: SELU_SCALE * torch.where(x > 0, torch.ones_like(x), SELU_ALPHA * torch.exp(x)),
            r"\begin{gathered} \mathrm{SELU}(x) = \lambda \begin{cases} x & x>0 \\ \alpha(e^{x}-1) & x\le 0 \end{cases}"
            r" \\ \lambda \approx 1.0507,\ \alpha \approx 1.6733 \end{gathered}",
            r"f'(x) = \lambda \begin{cases} 1 & x>0 \\ \alpha e^{x} & x\le 0 \end{cases}", "",
        ),
        Activation(
            "gelu", "nn.GELU", lambda p: nn.GELU(approximate=str(p["approximate"])),
            _gelu_derivative,
            r"\mathrm{GELU}(x) = x\,\Phi(x)", r"f'(x) = \Phi(x) + x\,\varphi(x)", "",
            {"approximate": ChoiceSpec("approximation", ("none", "tanh"), "none")},
        ),
        Activation(
            "silu", "nn.SiLU", lambda p: nn.SiLU(),
            lambda x, p: torch.sigmoid(x) * (1 + x * (1 - torch.sigmoid(x))),
            r"\mathrm{SiLU}(x) = x\,\sigma(x)", r"f'(x) = \sigma(x)\,(1 + x(1-\sigma(x)))", "",
        ),
        Activation(
            "mish", "nn.Mish", lambda p: nn.Mish(),
            _mish_derivative,
            r"\mathrm{Mish}(x) = x\,\tanh(\mathrm{softplus}(x))",
            r"\begin{gathered} f'(x) = \tanh s + x\,(1-\tanh^2 s)\,\sigma(x) \\ s = \mathrm{softplus}(x) \end{gathered}", "",
        ),
        Activation(
            "softplus", "nn.Softplus",
            lambda p: nn.Softplus(beta=float(p["beta"]), threshold=float(p["threshold"])),
            lambda x, p: torch.where(float(p["beta"]) * x > float(p["threshold"]), torch.ones_like(x),
                                     torch.sigmoid(float(p["beta"]) * x)),
            r"\mathrm{Softplus}(x) = \tfrac{1}{\beta}\log(1+e^{\beta x})",
            r"f'(x) = \begin{cases} \sigma(\beta x) & \beta x \le \text{threshold} \\ 1 & \text{else} \end{cases}", "",
            {"beta": FloatSpec("beta", 0.1, 10.0, 1.0, 0.1),
             "threshold": FloatSpec("threshold", 1.0, 50.0, 20.0, 1.0)},
        ),
        Activation(
            "softsign", "nn.Softsign", lambda p: nn.Softsign(),
            lambda x, p: 1 / (1 + x.abs()) ** 2,
            r"\mathrm{Softsign}(x) = \frac{x}{1+|x|}", r"f'(x) = \frac{1}{(1+|x|)^2}", "",
        ),
        Activation(
            "hardtanh", "nn.Hardtanh", lambda p: nn.Hardtanh(min_val=float(p["min_val"]), max_val=float(p["max_val"])),
            lambda x, p: ((x > float(p["min_val"])) & (x < float(p["max_val"]))).to(x.dtype),
            r"\mathrm{Hardtanh}(x) = \min(\max(x, m), M)", r"f'(x) = \begin{cases} 1 & m<x<M \\ 0 & \text{else} \end{cases}", "",
            {"min_val": FloatSpec("min value m", -3.0, -0.1, -1.0, 0.1),
             "max_val": FloatSpec("max value M", 0.1, 3.0, 1.0, 0.1)},
        ),
        Activation(
            "hardswish", "nn.Hardswish", lambda p: nn.Hardswish(),
            lambda x, p: torch.where(x <= -3, torch.zeros_like(x),
                                     torch.where(x >= 3, torch.ones_like(x), (2 * x + 3) / 6)),
            r"\mathrm{Hardswish}(x) = x\,\frac{\mathrm{ReLU6}(x+3)}{6}",
            r"f'(x) = \begin{cases} 0 & x\le-3 \\ \tfrac{2x+3}{6} & -3<x<3 \\ 1 & x\ge3 \end{cases}", "",
        ),
    ]


def _with_colours(entries: list[Activation]) -> dict[str, Activation]:
    out = {}
    for entry, colour in zip(entries, OKABE_ITO, strict=True):
        out[entry.name] = Activation(**{**entry.__dict__, "colour": colour})
    return out


ACTIVATIONS: dict[str, Activation] = _with_colours(_entries())

# Page controls: the single definition of their bounds (widgets and URL validation use these).
MAX_SHOWN = 6  # more curves than this in one figure stop being readable (and 13 at once is a wall of lines)
FN = MultiChoiceSpec("Activation functions", tuple(ACTIVATIONS), ("sigmoid", "tanh", "relu"),
                     max_selections=MAX_SHOWN,
                     help=f"Up to {MAX_SHOWN} at a time, so that the curves stay readable.")
XMIN = FloatSpec("x from", -20.0, 19.5, -6.0, 0.5)
XMAX = FloatSpec("x to", -19.5, 20.0, 6.0, 0.5)
SATURATION = FloatSpec("Saturation threshold for |f'(x)|", 0.001, 0.2, 0.05, 0.001,
                       help="Where 0 < |f'(x)| < this, the strip marks the slope as small "
                       "(hatched); where f'(x) is exactly 0 it is marked cross-hatched.")
POINT = FloatSpec("Inspect x =", -20.0, 20.0, 1.0, 0.1)
POINTS = IntSpec("grid points", 101, 4001, 1201)  # fixed on the page; bounds cap any caller


def param_key(fn: str, param: str) -> str:
    """URL/widget key of one activation parameter, e.g. 'leaky_relu.negative_slope'."""
    return f"{fn}.{param}"


@dataclass(frozen=True)
class Curve:
    """One activation evaluated on a grid: values, autograd and closed-form derivatives."""
    name: str
    x: list[float]
    y: list[float]
    dy: list[float]  # autograd
    dy_closed: list[float]  # closed form, for the cross-check
    max_abs_diff: float  # max |autograd - closed form| over the grid
    peak: float  # the largest |f'(x)| on the grid (signed value of f' there)
    peak_from: float  # where f' first reaches it (within 1e-6)
    peak_to: float  # where it last does (equal to peak_from for a single peak)
    saturated: list[tuple[float, float]]  # x-intervals where |f'(x)| < threshold (zero and small together)
    # The two kinds of "no gradient", from autograd's float32 f' on the grid:
    # (zero: a unit whose input is here passes no gradient back for that input, it is inactive for it; it is
    # dead only if its input is here for every input)
    zero: list[tuple[float, float]] = field(default_factory=list)  # f'(x) == 0 exactly: nothing gets through
    small: list[tuple[float, float]] = field(default_factory=list)  # 0 < |f'(x)| < threshold: a little does
    # The runs of `zero` where float64 still finds a slope: float32 rounded it to 0 (tanh beyond |x| ~ 9).
    rounded: list[tuple[float, float]] = field(default_factory=list)


def evaluate(name: str, x: Tensor, params: Params | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """f(x), f'(x) by autograd and f'(x) in closed form, elementwise, on x's device and dtype."""
    act = ACTIVATIONS[name]
    p = act.resolved(params)
    module = act.build(p).to(device=x.device, dtype=x.dtype)
    x = x.detach().requires_grad_(True)
    y = module(x)  # (n,)
    # The activation acts elementwise, so d(sum y)/dx_i = f'(x_i): one backward gives every slope.
    (dy,) = torch.autograd.grad(y.sum(), x)
    with torch.no_grad():
        closed = act.derivative(x, p)
    return y.detach(), dy, closed


def _index_runs(mask: list[bool]) -> list[tuple[int, int]]:
    """(first, last) index of every contiguous run where mask is true."""
    out, start = [], None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        if start is not None and (not m or i == len(mask) - 1):
            out.append((start, i if m else i - 1))
            start = None
    return out


def _runs(mask: list[bool], xs: list[float]) -> list[tuple[float, float]]:
    """Contiguous x-intervals where mask is true."""
    return [(xs[a], xs[b]) for a, b in _index_runs(mask)]


def plot_range(xmin: float, xmax: float) -> tuple[float, float]:
    """The x range to plot for 'x from' and 'x to' as set: a reversed one swapped, an empty one widened."""
    if xmin < xmax:
        return xmin, xmax
    return (xmax, xmin) if xmin > xmax else (xmin - 1.0, xmax + 1.0)


def grid(xmin: float, xmax: float, n: int, device: str = "cpu") -> Tensor:
    """n evenly spaced points from xmin to xmax, computed in float64 as xmin + (xmax - xmin) * i/(n-1)
    and then rounded to float32, so that round points such as 0 land exactly on the grid."""
    t = torch.arange(n, dtype=torch.float64) / (n - 1)  # (n,) from 0 to 1
    return (xmin + (xmax - xmin) * t).to(device=device, dtype=torch.float32)


def compute_curves(names: tuple[str, ...], params: Mapping[str, Params], xmin: float, xmax: float,
                   threshold: float = SATURATION.default, n: int = POINTS.default,
                   device: str = "cpu") -> list[Curve]:
    """Every chosen activation on linspace(xmin, xmax, n) with its derivatives and landmarks."""
    x = grid(xmin, xmax, n, device)  # (n,)
    xs = x.tolist()
    curves = []
    for name in names:
        y, dy, closed = evaluate(name, x, params.get(name))
        ad = dy.abs()
        peak_i = int(ad.argmax())
        top = (ad >= ad[peak_i] - 1e-6).nonzero().flatten()
        zero = ad == 0  # (n,) exactly zero in float32: no gradient passes for these inputs
        # The same slopes in float64 tell a structural zero (ReLU's x < 0: 0 in any precision) from
        # float32 rounding (tanh's tail): a zero run is rounding if float64 finds a slope anywhere in it.
        _, dy64, _ = evaluate(name, x.double(), params.get(name))
        nonzero64 = (dy64 != 0).tolist()
        zero_runs = _index_runs(zero.tolist())
        rounded = [(xs[a], xs[b]) for a, b in zero_runs if any(nonzero64[a:b + 1])]
        curves.append(Curve(
            name=name, x=xs, y=y.tolist(), dy=dy.tolist(), dy_closed=closed.tolist(),
            max_abs_diff=float((dy - closed).abs().max()),
            peak=float(dy[peak_i]), peak_from=xs[int(top[0])], peak_to=xs[int(top[-1])],
            saturated=_runs((ad < threshold).tolist(), xs),
            zero=[(xs[a], xs[b]) for a, b in zero_runs],
            small=_runs((~zero & (ad < threshold)).tolist(), xs),
            rounded=rounded,
        ))
    return curves


@dataclass(frozen=True)
class PointValue:
    name: str
    x: float
    y: float
    dy: float  # autograd
    dy_closed: float


def inspect_point(names: tuple[str, ...], params: Mapping[str, Params], x0: float,
                  device: str = "cpu") -> list[PointValue]:
    """f(x0) and f'(x0) for each chosen activation (float32, like the plotted curves)."""
    x = torch.tensor([x0], device=device)  # (1,)
    out = []
    for name in names:
        y, dy, closed = evaluate(name, x, params.get(name))
        out.append(PointValue(name, x0, float(y), float(dy), float(closed)))
    return out


def script(names: tuple[str, ...], params: Mapping[str, Params], xmin: float, xmax: float,
           x0: float, n: int = POINTS.default) -> str:
    """A plain-torch script that reproduces the page's numbers for these settings."""
    lines = []
    for name in names:
        act = ACTIVATIONS[name]
        p = act.resolved(params.get(name))
        lines.append(f'    "{name}": {act.label}({_kw(p)}),')
    modules = "\n".join(lines)
    return f'''import torch
from torch import nn

activations = {{
{modules}
}}
# The plotted grid: computed in float64 so that points such as 0 are exact, then used in float32.
t = torch.arange({n}, dtype=torch.float64) / {n - 1}
x = ({float(xmin)!r} + ({float(xmax)!r} - {float(xmin)!r}) * t).float().requires_grad_()
x0 = torch.tensor([{float(x0)!r}], requires_grad=True)  # the inspected point

for name, f in activations.items():
    y = f(x)
    # f acts elementwise, so the gradient of y.sum() is f'(x) at every grid point.
    (dy,) = torch.autograd.grad(y.sum(), x)
    i = dy.abs().argmax()
    y0 = f(x0)
    (dy0,) = torch.autograd.grad(y0.sum(), x0)
    print(f"{{name}}: max|f'| = {{dy[i].item():.6g}} at x = {{x[i].item():.6g}}; "
          f"f({{x0.item():g}}) = {{y0.item():.6g}}, f'({{x0.item():g}}) = {{dy0.item():.6g}}")
'''
