"""Predict, then reveal: each page's questions as data, answered by the core functions that draw its figures.

A Question names its page, what the student is asked, the page settings (URL values) it opens
with, and a `compute` that turns those settings, parsed with the page's own control specs
(PAGE_SPECS), into an Answer through the same core calls the page makes. Nothing here is a
hard-coded answer: every value and every number in an explanation is computed live. judge()
says whether a guess was close and explains with those numbers. No Streamlit: the UI lives in
pages/ and nnviz/ui.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping

import torch

from . import activations as A
from . import classification as C
from . import deep as D
from . import logits as G
from . import losses as L
from . import regression as R
from . import vanishing as V
from .controls import MultiChoiceSpec, Spec

PAGES = ("activations", "losses", "vanishing", "regression", "logits", "deep")  # page file stems under pages/
KINDS = ("number", "log10", "choice")  # a float guess, an order-of-magnitude guess, one of `choices`
GUESS_CHARS = 40  # the longest guess a student types (the box's max_chars): "-1.2345678901234567e-05" is 23
ID_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")  # URL-safe: a link opens a page at ?q=<id>


def _activation_specs() -> dict[str, Spec]:
    specs: dict[str, Spec] = {"fn": A.FN, "xmin": A.XMIN, "xmax": A.XMAX, "sat": A.SATURATION, "x": A.POINT}
    for name, act in A.ACTIVATIONS.items():  # bound by the page as A.param_key(name, p), while name is shown
        for p, spec in act.params.items():
            specs[A.param_key(name, p)] = spec
    return specs


# page -> {URL key: the core spec its widget is built from}. Only controls whose spec lives in the core;
# page-local ones (slow motion, the CUDA engine) and the frame's (device, present) are not question
# or tour settings. tests/test_lessons.py checks this against the pages' widget calls.
PAGE_SPECS: Mapping[str, Mapping[str, Spec]] = MappingProxyType({
    "activations": MappingProxyType(_activation_specs()),
    "losses": MappingProxyType({
        "loss": L.LOSS, "outliers": L.OUTLIERS, "outlier_size": L.OUTLIER_SIZE, "noise": L.NOISE,
        "data_seed": L.SEED, "delta": L.DELTA, "beta": L.BETA}),
    "vanishing": MappingProxyType({
        "act": V.ACT, "depth": V.DEPTH, "width": V.WIDTH, "init": V.INIT, "std": V.STD,
        "residual": V.RESIDUAL, "norm": V.NORM, "dtype": V.DTYPE, "init_seed": V.SEED}),
    "regression": MappingProxyType({
        "w": R.W, "b": R.B, "y_noise": R.NOISE, "n": R.N, "split": R.SPLIT, "loss_fn": R.LOSS,
        "opt": R.OPT, "lr": R.LR, "epochs": R.EPOCHS, "seed": R.SEED, "view": R.VIEW}),
    "deep": MappingProxyType({  # prefixed: the vanishing page's act, depth, init... are other widgets of other types
        "deep_data": D.DATA, "deep_n": D.N, "deep_noise": D.NOISE, "deep_depth": D.DEPTH, "deep_width": D.WIDTH,
        "deep_act": D.ACT, "deep_init": D.INIT, "deep_std": D.STD, "deep_residual": D.RESIDUAL, "deep_norm": D.NORM,
        "deep_opt": D.OPT, "deep_lr": D.LR, "deep_epochs": D.EPOCHS, "deep_clip": D.CLIP_ON, "deep_max_norm": D.CLIP,
        "deep_seed": D.SEED}),
    "logits": MappingProxyType({
        "part": G.PART, "logits": G.LOGITS, "temperature": G.TEMPERATURE, "target": G.TARGET, "z_range": G.Z_RANGE,
        "logit_dtype": G.DTYPE, "data": C.DATA, "clf_noise": C.NOISE, "clf_n": C.N, "hidden": C.HIDDEN,
        "clf_act": C.ACT, "clf_loss": C.LOSS, "clf_opt": C.OPT, "clf_lr": C.LR, "clf_epochs": C.EPOCHS,
        "clf_seed": C.SEED}),
})

Settings = Mapping[str, "str | list[str]"]
Params = Mapping[str, Any]


def raw_values(value: str | list[str] | tuple[str, ...]) -> list[str]:
    """A settings value as the list of raw URL values a spec parses."""
    return [value] if isinstance(value, str) else list(value)


def page_params(page: str, settings: Settings) -> dict[str, Any]:
    """Every control of `page` as the page would read it: the settings' URL values parsed with the
    page's specs (a bad key or value raises ValueError, BadValue included), the rest at their defaults."""
    if page not in PAGE_SPECS:
        raise ValueError(f"unknown page {page!r}; expected one of {', '.join(PAGES)}")
    specs = PAGE_SPECS[page]
    unknown = [k for k in settings if k not in specs]
    if unknown:
        raise ValueError(f"the {page} page binds no control {', '.join(map(repr, unknown))}")
    out = {}
    for key, spec in specs.items():
        if key in settings:
            out[key] = spec.parse(raw_values(settings[key]))
        else:
            out[key] = list(spec.default) if isinstance(spec, MultiChoiceSpec) else spec.default
    return out


def to_settings(page: str, params: Params) -> dict[str, list[str]]:
    """The inverse of page_params: the raw URL values of every control in `params` that is not at its
    default (the canonical form of a page's state: a link, a cache key)."""
    specs = PAGE_SPECS[page]
    out = {}
    for key, value in params.items():
        spec = specs[key]
        default = list(spec.default) if isinstance(spec, MultiChoiceSpec) else spec.default
        if (list(value) if isinstance(spec, MultiChoiceSpec) else value) != default:
            out[key] = spec.url(value)
    return out


@dataclass(frozen=True)
class Answer:
    value: float | str  # the number (for "log10": the quantity itself, > 0) or the right choice
    shown: str  # value as the explanation and the verdict write it
    text: str  # why, in one or two sentences built from the computed numbers
    numbers: Mapping[str, float] = field(default_factory=dict)  # every number `text` quotes, by name
    settings: Mapping[str, str | list[str]] = field(default_factory=dict)  # page settings that show the answer
    # plain data the reveal figure draws (nnviz.figures.answers): curves, bars, labels, by name; computed by the
    # same core calls as `value`, so the figure after a verdict shows what decided it
    series: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "numbers", MappingProxyType(dict(self.numbers)))
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))
        object.__setattr__(self, "series", MappingProxyType(dict(self.series)))


@dataclass(frozen=True)
class Verdict:
    close: bool  # within the question's tolerance (for "choice": the right one)
    guess: float | str  # the guess as judged
    value: float | str  # the answer's value
    off: float | None  # "number": (guess - value) / |value|; "log10": decades, log10(guess / value); "choice": None
    text: str  # the verdict and the answer's explanation, quoting the computed value
    head: str = ""  # the verdict alone (the first sentence of text)


@dataclass(frozen=True)
class Question:
    id: str  # unique, URL-safe: ?q=<id> opens the page at this question
    page: str  # one of PAGES (the page file stem)
    prompt: str  # asked before the figure (or the trace that answers it) is shown
    kind: str  # one of KINDS
    compute: Callable[[Params], Answer] = field(repr=False)  # page params (page_params) -> the answer
    choices: tuple[str, ...] = ()  # for kind "choice"
    settings: Mapping[str, str | list[str]] = field(default_factory=dict, hash=False)  # URL values it opens with
    unit: str = ""  # of a "number" answer, for the input's label ("%", "outliers")
    tolerance: float = 0.1  # "number": relative (0.1 = within 10 %); "log10": decades; unused for "choice"

    def __post_init__(self) -> None:
        if not ID_PATTERN.match(self.id):
            raise ValueError(f"question id {self.id!r} is not URL-safe (lower case words joined by -)")
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"{self.id}: choices are for kind 'choice', and it needs them")
        if self.kind != "choice" and not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise ValueError(f"{self.id}: the tolerance must be a positive number")
        if self.kind == "number" and self.tolerance >= 1:  # else a guess of 0 is "close" to any answer
            raise ValueError(f"{self.id}: a number question's relative tolerance must be below 1")
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))
        page_params(self.page, self.settings)  # every key bound by the page, every value valid

    def params(self) -> dict[str, Any]:
        """The page's controls as the question's settings set them (the rest at their defaults)."""
        return page_params(self.page, self.settings)

    def answer(self, settings: Settings | None = None) -> Answer:
        """The answer at `settings` (the page's URL values; None: the question's own), computed from the
        core once per process and settings (the computations are pure). Settings at which the question
        has no answer (L1 that never gives way) raise ValueError."""
        canonical = to_settings(self.page, page_params(self.page, self.settings if settings is None else settings))
        return _answer(self.id, self.page, tuple(sorted((k, tuple(v)) for k, v in canonical.items())), self.compute)

    def read_guess(self, text: str) -> float | str:
        """A guess as a student types or picks it: one of the choices, or a number ("0.25", "-4", "1e-18",
        "10^-18", "35%"). Anything else raises ValueError with what to type instead (the text itself is
        never echoed)."""
        if self.kind == "choice":
            if text not in self.choices:
                raise ValueError("pick one of the choices")
            return text
        if len(str(text)) > GUESS_CHARS:  # before any other work (the box's max_chars stops a browser)
            raise ValueError(f"type at most {GUESS_CHARS} characters")
        t = str(text).strip().replace("−", "-").replace(" ", "")
        if self.unit == "%":
            t = t.removesuffix("%")
        power = re.fullmatch(r"10(?:\^|\*\*)\(?([+-]?\d{1,4})\)?", t)  # 10^-18, 10**-18, 10^(-18)
        try:
            g = 10.0 ** int(power.group(1)) if power else _number(t)
        except (ValueError, OverflowError):
            raise ValueError("type a number, such as " + ("1e-3 or 10^-3" if self.kind == "log10" else "0.5"))
        if not math.isfinite(g):
            raise ValueError("type a finite number")
        if self.kind == "log10" and g <= 0:
            raise ValueError("type a positive number, a power of ten such as 1e-3 or 10^-3")
        return g

    def judge(self, guess: float | str, settings: Settings | None = None) -> Verdict:
        """Close or not, by how much, and why, against the answer at `settings` (as answer()). A guess of
        the wrong type raises ValueError."""
        a = self.answer(settings)
        if self.kind == "choice":
            if guess not in self.choices:
                raise ValueError(f"the guess must be one of {', '.join(self.choices)}")
            close = guess == a.value
            head = (f"Yes: {a.shown}." if close else f"You chose {guess}; the answer is {a.shown}.")
            return Verdict(close, guess, a.value, None, f"{head} {a.text}", head)
        g = _number(guess)
        v = float(a.value)
        unit = "×" if self.unit == "times" else f" {self.unit}" if self.unit else ""  # "4×", not "4 times"

        def one(x: float) -> str:  # "1 outlier", not "1 outliers"
            return unit.removesuffix("s") if x == 1 and self.unit.endswith("s") and self.unit != "times" else unit
        if self.kind == "log10":
            if g <= 0:
                raise ValueError("the guess must be a positive number (a power of ten such as 1e-3)")
            off = math.log10(g) - math.log10(v)
            close = abs(off) <= self.tolerance
            matches = close and abs(off) < 0.05  # "0.0 orders of magnitude" would say nothing
            size = f"{abs(off):.1f} orders of magnitude {'above' if off > 0 else 'below'}"
            within = f"within {self.tolerance:g} order{'s' * (self.tolerance != 1)} of magnitude"
            shown_guess = f"{g:.2g}"
        else:
            off = (g - v) / abs(v) if v != 0 else g - v
            close = abs(off) <= self.tolerance
            matches = close and abs(off) < 0.005  # "0% above" would say nothing: it is the answer to the shown precision
            if self.unit == "%":  # a share: the distance in percentage points, not a percent of a percent
                size = f"{abs(g - v):.2g} percentage points {'above' if off > 0 else 'below'}"
                within = f"within {100 * self.tolerance:g}% of the answer, ±{self.tolerance * abs(v):.2g} points"
            elif v != 0:
                size = f"{100 * abs(off):.0f}% {'above' if off > 0 else 'below'}"
                within = f"within {100 * self.tolerance:g}%"
            else:
                size = f"{abs(off):.3g} {'above' if off > 0 else 'below'}"
                within = f"within {self.tolerance:g}"
            shown_guess = f"{g:.6g}"
        if off == 0:
            head = f"Your guess is the answer, {a.shown}{unit}: close."
        elif matches:
            head = f"Your guess, {shown_guess}{one(g)}, is the answer to the precision shown, {a.shown}{unit}: close."
        else:
            head = (f"Your guess, {shown_guess}{one(g)}, is {size} the answer, {a.shown}{unit}: "
                    + (f"close ({within})." if close else f"not close (close is {within})."))
        return Verdict(close, g, v, off, f"{head} {a.text}", head)


def _number(guess: Any) -> float:
    if isinstance(guess, bool):
        raise ValueError("the guess must be a number")
    try:
        g = float(guess)
    except (TypeError, ValueError):
        raise ValueError("the guess must be a number") from None
    if not math.isfinite(g):
        raise ValueError("the guess must be a finite number")
    return g


@functools.lru_cache(maxsize=128)
def _answer(qid: str, page: str, settings: tuple, compute: Callable[[Params], Answer]) -> Answer:
    """One computation per (question, settings): every student asked the same question shares it."""
    return compute(page_params(page, {k: list(v) for k, v in settings}))


# --- helpers the questions share -------------------------------------------------------------------

def _act_params(p: Params) -> dict[str, dict[str, Any]]:
    """The activation page's per-function parameters, as compute_curves takes them."""
    return {name: {q: p[A.param_key(name, q)] for q in act.params} for name, act in A.ACTIVATIONS.items()
            if act.params}


def _curves(p: Params, names: tuple[str, ...]) -> dict[str, A.Curve]:
    lo, hi = A.plot_range(p["xmin"], p["xmax"])
    return {c.name: c for c in A.compute_curves(names, _act_params(p), lo, hi, p["sat"])}


def _loss_data(p: Params) -> L.Data:
    return L.make_data(p["outliers"], p["outlier_size"], p["noise"], p["data_seed"])


def _vanishing(p: Params, act: str, init: str | None = None) -> V.Sweep:
    return V.sweep(act, p["depth"], p["width"], init or p["init"], p["std"], p["residual"], p["norm"], p["dtype"],
                   p["init_seed"])


def _deep_stack(p: Params) -> tuple[str, int]:
    """The first chosen activation and the depth a vanishing question compares with depth 1."""
    if not p["act"]:
        raise ValueError("no activation is chosen; pick one in the settings")
    if p["depth"] < 2:
        raise ValueError("at depth 1 there is nothing deeper to compare with; set the depth to 2 or more")
    return p["act"][0], p["depth"]


def _depth_ratio(s: V.Sweep, depth: int) -> float:
    """The first layer's gradient norm at `depth` over its value at depth 1 (geometric means over seeds)."""
    first, deep = s.first_mean[0], s.first_mean[s.depths.index(depth)]
    if not (first > 0 and math.isfinite(first) and deep > 0 and math.isfinite(deep)):
        raise ValueError(f"{s.act}: the gradient is 0 or not finite at these settings; no ratio to ask about")
    return deep / first


def _config(p: Params) -> R.RegressionConfig:
    return R.RegressionConfig(weight=p["w"], bias=p["b"], noise=p["y_noise"], n=p["n"], split=p["split"],
                              loss=p["loss_fn"], optimizer=p["opt"], lr=p["lr"], epochs=p["epochs"], seed=p["seed"])


# --- activations ---------------------------------------------------------------------------------

def _sigmoid_max_slope(p: Params) -> Answer:
    c = _curves(p, ("sigmoid",))["sigmoid"]
    x = c.peak_from
    s = A.evaluate("sigmoid", torch.tensor([x]))[0].item()  # sigma(x) where the slope peaks
    return Answer(c.peak, f"{c.peak:.4g}",
                  f"Autograd's slope of nn.Sigmoid peaks at x = {x:.3g} with {c.peak:.4g}: σ'(x) = σ(x)(1 − σ(x)) "
                  f"and σ({x:.3g}) = {s:.3g}, so σ' = {s:.3g} × {1 - s:.3g}. A sigmoid layer passes on at most "
                  f"{c.peak:.4g} of the gradient that reaches it.",
                  {"max_slope": c.peak, "at_x": x, "sigmoid_there": s},
                  series={"x": c.x, "dy": {"sigmoid": c.dy}})  # the page's f' curve, whose peak is the answer


MINUS_FOUR = ("sigmoid", "tanh", "relu", "leaky_relu")  # the choices of act-most-gradient-at-minus-4
NEAR = 2.0  # the reveal figure of act-most-gradient-at-minus-4 draws the slopes on [x - NEAR, x + NEAR]


def _most_gradient(p: Params) -> Answer:
    x0 = p["x"]
    params = _act_params(p)
    points = A.inspect_point(MINUS_FOUR, params, x0)
    slopes = {pt.name: pt.dy for pt in points}
    ranked = sorted(slopes, key=lambda n: abs(slopes[n]), reverse=True)
    best, second = ranked[0], ranked[1]
    zero = [n for n in MINUS_FOUR if slopes[n] == 0]
    tied = abs(slopes[second]) == abs(slopes[best])
    text = (f"At x = {x0:g} autograd gives " + ", ".join(f"{n}' = {slopes[n]:.3g}" for n in MINUS_FOUR)
            + f". {best} lets the most gradient through"
            + (f" (tied with {second})." if tied else
               f", {abs(slopes[best] / slopes[second]):.3g} times as much as {second}." if slopes[second] else ".")
            + (f" {' and '.join(zero)}'s slope is exactly 0 there: for this input such a unit is inactive and "
               "passes no gradient back (another input can make it active)." if zero else ""))
    # the four slopes near x0, from the same core as the page's curves, for the figure that shows the answer
    near = A.compute_curves(MINUS_FOUR, params, x0 - NEAR, x0 + NEAR, p["sat"], n=401)
    return Answer(best, best, text, {f"slope_{n}": slopes[n] for n in MINUS_FOUR} | {"x": x0},
                  series={"x": near[0].x, "dy": {c.name: c.dy for c in near}, "at": dict(slopes),
                          "ranked": ranked})


def _tanh_over_sigmoid(p: Params) -> Answer:
    c = _curves(p, ("sigmoid", "tanh"))
    t, s = c["tanh"], c["sigmoid"]
    ratio = t.peak / s.peak
    return Answer(ratio, f"{ratio:.3g}",
                  f"tanh's largest slope is {t.peak:.4g} (at x = {t.peak_from:.3g}) and sigmoid's {s.peak:.4g} "
                  f"(at x = {s.peak_from:.3g}): tanh is {ratio:.3g} times steeper. tanh(x) = 2σ(2x) − 1 is sigmoid "
                  "stretched twice as tall and squeezed twice as narrow, and each doubles the slope.",
                  {"tanh_peak": t.peak, "sigmoid_peak": s.peak, "ratio": ratio,
                   "tanh_at": t.peak_from, "sigmoid_at": s.peak_from},
                  series={"x": s.x, "dy": {"sigmoid": s.dy, "tanh": t.dy}})


# --- losses --------------------------------------------------------------------------------------

def _loss_labels() -> dict[str, str]:
    return {n: e.label for n, e in L.LOSSES.items()}


def _loss_colours() -> dict[str, str]:
    return {n: e.colour for n, e in L.LOSSES.items()}


def _mse_slope(p: Params) -> Answer:
    data = _loss_data(p)
    mse = L.fit_line(data, "mse", p["delta"], p["beta"])
    l1 = L.fit_line(data, "l1", p["delta"], p["beta"])
    k, n = sum(data.outlier), len(data.x)
    return Answer(mse.slope, f"{mse.slope:.3g}",
                  f"Least squares puts the slope at {mse.slope:.3g}, against the clean line's {L.TRUE_SLOPE:g}; "
                  f"L1's fit stays at {l1.slope:.3g}. The {k} outliers are {k} of {n} points, but they sit at the "
                  f"right end about {p['outlier_size']:g} below the line, and MSE squares their residuals: tilting "
                  "the line down towards them costs the clean points less than it saves on the outliers.",
                  {"mse_slope": mse.slope, "l1_slope": l1.slope, "clean_slope": L.TRUE_SLOPE, "outliers": k,
                   "points": n},
                  series={"x": list(data.x), "y": list(data.y), "outlier": list(data.outlier),
                          "lines": {name: (f.slope, f.intercept) for name, f in (("mse", mse), ("l1", l1))},
                          "clean": tuple(data.true_line), "labels": _loss_labels(), "colours": _loss_colours()})


def _l1_gives_way(p: Params) -> Answer:
    sw = L.outlier_sweep(p["outlier_size"], p["noise"], p["data_seed"])
    k = sw.l1_gives_way
    if k is None:
        raise ValueError("L1 never gives way at these settings; no count to ask about")
    n = L.N_CLEAN + k
    mse = (f"MSE's slope gave way already at {sw.mse_gives_way}." if sw.mse_gives_way is not None
           else "MSE's never did.")
    before = (f"it was {sw.l1[k - 1]:.3f} with {k - 1} outliers and " if k > 0 else "")
    return Answer(float(k), f"{k}",
                  f"L1's slope first leaves {L.GIVE_WAY} of the clean {L.TRUE_SLOPE:g} at {k} outliers: "
                  f"{before}{sw.l1[k]:.3f} with {k}. {mse} {k} of {n} points ({100 * k / n:.0f}%) is fewer than half, "
                  "but all of them sit at the right end, where each pulls hardest on the slope.",
                  {"gives_way": k, "slope_before": sw.l1[k - 1] if k > 0 else math.nan, "slope_at": sw.l1[k],
                   "mse_gives_way": sw.mse_gives_way if sw.mse_gives_way is not None else math.nan,
                   "points": n}, {"outliers": str(k)},
                  {"counts": list(sw.counts), "slopes": {"l1": list(sw.l1), "mse": list(sw.mse)}, "gives_way": k,
                   "clean": L.TRUE_SLOPE, "band": L.GIVE_WAY, "labels": _loss_labels(), "colours": _loss_colours()})


def _mse_outlier_share(p: Params) -> Answer:
    data = _loss_data(p)
    if not any(data.outlier):
        raise ValueError("no outliers at these settings; no share to ask about")
    mse = 100 * L.outlier_share(data, "mse", data.true_line, p["delta"], p["beta"])["grad"]
    l1 = 100 * L.outlier_share(data, "l1", data.true_line, p["delta"], p["beta"])["grad"]
    k, n = sum(data.outlier), len(data.x)
    return Answer(mse, f"{mse:.3g}",
                  f"With the line on the clean line, the {k} outliers ({100 * k / n:.0f}% of the {n} points) make "
                  f"{mse:.3g}% of MSE's pull on the slope, but {l1:.3g}% of L1's. Under MSE a point pulls in "
                  "proportion to its residual (2r); under L1 every point pulls with the same force, sign(r).",
                  {"mse_share": mse, "l1_share": l1, "outliers": k, "points": n},
                  series={"shares": {"mse": mse, "l1": l1}, "headcount": 100 * k / n, "outliers": k, "points": n,
                          "labels": _loss_labels(), "colours": _loss_colours()})


# --- vanishing -----------------------------------------------------------------------------------

def _relative(s: V.Sweep) -> dict[str, Any]:
    """A sweep's first-layer gradient at every depth over its value at depth 1 (the seeds' geometric mean, and the
    smallest and largest seed), as plain lists for a reveal figure; 0.0 where it underflowed."""
    first = s.first_mean[0]
    return {"depths": list(s.depths), "ratio": [m / first for m in s.first_mean],
            "low": [min(r) / first for r in s.first], "high": [max(r) / first for r in s.first]}


def _stack_series(p: Params, s: V.Sweep, depth: int) -> dict[str, Any]:
    return {"act": s.act, "init": s.init, "init_label": s.init_label, "matched": p["init"] == "matched",
            "depth": depth, "colour": A.ACTIVATIONS[s.act].colour, "seeds": V.N_SEEDS} | _relative(s)


def _sigmoid_decades(p: Params) -> Answer:
    act, depth = _deep_stack(p)
    s = _vanishing(p, act)
    r = _depth_ratio(s, depth)
    first, deep = s.first_mean[0], s.first_mean[s.depths.index(depth)]
    slope = sum(s.stats["dact_mean"]) / len(s.stats["dact_mean"])
    return Answer(r, f"{r:.2g}",
                  f"The first layer's gradient norm is {first:.3g} in a one-layer network and {deep:.3g} at depth "
                  f"{depth} ({s.init} init; geometric mean of {V.N_SEEDS} seeds: {V.N_SEEDS} random networks averaged on the log scale): {r:.2g} times as large, "
                  f"{-math.log10(r):.1f} orders of magnitude smaller. Each of the {depth - 1} extra layers multiplies "
                  f"it by about {r ** (1 / (depth - 1)):.3g}; the mean slope |f'(z)| of the {act} units is "
                  f"{slope:.3g}.",
                  {"ratio": r, "decades": -math.log10(r), "first_depth1": first, "first_deep": deep,
                   "per_layer": r ** (1 / (depth - 1)), "mean_slope": slope},
                  series=_stack_series(p, s, depth))


def _per_layer(p: Params) -> Answer:
    act, depth = _deep_stack(p)
    s = _vanishing(p, act)
    r = _depth_ratio(s, depth)
    f = r ** (1 / (depth - 1))
    peak = A.compute_curves((act,), {}, A.XMIN.default, A.XMAX.default)[0].peak
    sw2 = V.init_variance(s.init, p["width"], p["width"])[0]
    return Answer(f, f"{f:.3g}",
                  f"From depth 1 to {depth} the first layer's gradient changes by {r:.2g}: {f:.3g} per extra layer "
                  f"({r:.2g} to the power 1/{depth - 1}). {act}'s slope is never above {peak:.3g}, and with the "
                  f"{s.init} init the weights' scale σ_w² (fan_in × the variance of one weight) = {sw2:.3g}: each layer multiplies the gradient by about "
                  "the slope of its units, and those slopes are at most that peak.",
                  {"per_layer": f, "ratio": r, "max_slope": peak, "sigma_w2": sw2},
                  series=_stack_series(p, s, depth) | {"per_layer": f, "ratio_at_depth": r})


RELU_INITS = ("default", "xavier_normal", "kaiming_normal")  # the choices of van-relu-flat-init


def _flat_init(p: Params) -> Answer:
    act, depth = _deep_stack(p)
    sweeps = {i: _vanishing(p, act, i) for i in RELU_INITS}
    ratios = {i: _depth_ratio(sweeps[i], depth) for i in RELU_INITS}
    best = min(RELU_INITS, key=lambda i: abs(math.log10(ratios[i])))
    sw2 = V.init_variance(best, p["width"], p["width"])[0]
    d2 = V.gaussian_moments(act, 1.0)[1]  # E[f'(z)^2]; the same at any scale for ReLU
    return Answer(best, best,
                  f"The first layer's gradient at depth {depth} against depth 1, with {act}: "
                  + ", ".join(f"{i} × {ratios[i]:.2g}" for i in RELU_INITS)
                  + f". {best} keeps it flattest: it gives the weights the scale σ_w² = fan_in × Var(w) = "
                  f"{sw2:.3g}, and {act}'s average squared slope E[f'(z)²] is {d2:.3g}, so each layer multiplies the "
                  f"gradient by about √({sw2:.3g} × {d2:.3g}) = "
                  f"{math.sqrt(sw2 * d2):.3g}.",
                  {f"ratio_{i}": ratios[i] for i in RELU_INITS} | {"sigma_w2": sw2, "dact2": d2},
                  {"act": [act], "depth": str(depth), "init": best},
                  {"act": act, "depth": depth, "inits": list(RELU_INITS), "best": best,
                   "labels": {i: V.init_label(i, p["std"]) for i in RELU_INITS},
                   "sigma_w2": {i: V.init_variance(i, p["width"], p["width"], p["std"])[0] for i in RELU_INITS},
                   "at_depth": dict(ratios), "curves": {i: _relative(sweeps[i]) for i in RELU_INITS}})


# --- regression ----------------------------------------------------------------------------------

def _weight_after(p: Params) -> Answer:
    cfg = _config(p)
    start = R.make_model(cfg.seed)
    w0, b0 = start.weight.item(), start.bias.item()
    data = R.make_data(cfg)
    with torch.no_grad():
        high = int((start(data.X_train) > data.y_train).sum())  # training points predicted too high at first
    hist = list(R.train(cfg, every=1))
    last = hist[-1]
    if last.epoch + 1 < cfg.epochs or not math.isfinite(last.weight):  # the trainer stops a run that blows up
        raise ValueError(f"the run blows up after {last.epoch + 1} epoch{'s' * (last.epoch != 0)} (learning rate "
                         f"{cfg.lr:g}): there is no weight after {cfg.epochs} to predict")
    low = min(hist, key=lambda s: s.weight)
    # a count of epochs done, as the question's "after 100 epochs" (the loss chart's "epoch k" is the k+1-th)
    why = (f" The weight fell to {low.weight:.4f} after {low.epoch + 1} epochs before it turned: at first every "
           f"training point is predicted too high (the bias starts {b0 - cfg.bias:+.3f} off), so the loss pushes "
           "the weight down along with the bias." if high == len(data.X_train) and low.weight < min(w0, last.weight)
           else "")
    return Answer(last.weight, f"{last.weight:.4f}",
                  f"After {last.epoch + 1} epoch{'s' * (last.epoch != 0)} the weight is {last.weight:.4f} and the bias {last.bias:.4f}; they "
                  f"started at {w0:.4f} and {b0:.4f} (nn.Linear(1, 1) after torch.manual_seed({cfg.seed})), and the "
                  f"true line has {cfg.weight:g} and {cfg.bias:g}." + why,
                  {"weight": last.weight, "bias": last.bias, "weight_start": w0, "bias_start": b0,
                   "weight_lowest": low.weight, "epochs": last.epoch + 1, "too_high_at_start": high},
                  series={"epochs_done": list(range(len(hist) + 1)),  # 0: the start, k: after k epochs
                          "weight": [w0] + [s.weight for s in hist], "true_weight": cfg.weight})


def _first_grad(p: Params) -> Answer:
    cfg = _config(p)
    st = R.Stepper(cfg)
    while R.LOOP[st.next_line][0] != "step":  # forward, loss, zero_grad, backward: the first backward done
        st.advance()
    gw, gb = st.grads()
    w0, b0 = st.params()
    pred, y = st.predictions(), st.data.y_train.flatten().tolist()
    high = sum(a > t for a, t in zip(pred, y))
    # each training point's share of weight.grad: autograd's d loss / d prediction_i (the same loss module on the
    # same first predictions) times x_i; by the chain rule they add up to weight.grad
    out = st.y_pred.detach().requires_grad_()  # (n, 1)
    (d_out,) = torch.autograd.grad(st.loss_fn(out, st.data.y_train), out)
    share = (d_out * st.data.X_train).flatten().tolist()
    rule = ("the mean over the training points of sign(prediction − target) × x" if cfg.loss == "l1" else
            "the mean over the training points of 2 (prediction − target) × x" if cfg.loss == "mse" else
            "the mean over the training points of Huber's clipped error × x")
    return Answer(gw, f"{gw:.4g}",
                  f"After the first loss.backward() weight.grad = {gw:.4g} (bias.grad = {gb:.4g}). The model starts "
                  f"at w = {w0:.4f}, b = {b0:.4f}; under {cfg.loss.upper()} weight.grad is {rule}. {high} of the "
                  f"{len(y)} training points are predicted too high.",
                  {"weight_grad": gw, "bias_grad": gb, "weight": w0, "bias": b0, "too_high": high,
                   "points": len(y)},
                  series={"x": st.data.X_train.flatten().tolist(), "share": share, "loss": cfg.loss.upper()})


# --- logits --------------------------------------------------------------------------------------

BCE_Z = 50.0  # the logit of logit-bce-at-50


def _bce_at(p: Params) -> Answer:
    dtype = p["logit_dtype"]
    forms = G.evaluate([BCE_Z], dtype)
    naive, exact, logit = forms["bce_naive"], forms["reference"], forms["bce_logits"]
    s = G.sigmoid_of(BCE_Z, dtype)
    loss, grad = naive.loss[0], naive.grad[0]
    return Answer(loss, f"{loss:g}",
                  f"In {dtype} sigmoid({BCE_Z:g}) = {s:g}, so BCELoss needs log(1 − {s:g}) = log 0 = −inf, which it "
                  f"clamps at {G.BCE_LOG_FLOOR:g}: the loss is {loss:g} and its gradient {grad:g}. The exact loss "
                  f"log(1 + e^{BCE_Z:g}) is {exact.loss[0]:.4g} with gradient {exact.grad[0]:.4g}, which "
                  f"BCEWithLogitsLoss gives ({logit.loss[0]:.4g}): a confident mistake should push hard, not stop.",
                  {"loss": loss, "grad": grad, "sigmoid": s, "exact_loss": exact.loss[0],
                   "exact_grad": exact.grad[0], "logits_loss": logit.loss[0]},
                  series=_bce_series(dtype))


def _bce_series(dtype: str) -> dict[str, Any]:
    """The reveal figure's curves: the naive BCELoss, BCEWithLogitsLoss and the float64 loss on z in [0, 1.6 BCE_Z]
    (the same G.evaluate as the answer), with BCE_Z itself a grid point."""
    z = sorted({BCE_Z * 1.6 * i / 160 for i in range(161)} | {BCE_Z})
    forms = G.evaluate(z, dtype)
    return {"z": z, "z_at": BCE_Z, "naive": forms["bce_naive"].loss, "logits": forms["bce_logits"].loss,
            "exact": forms["reference"].loss, "clamped_from": G.failure_points(dtype).get("bce_clamped"),
            "log_floor": G.BCE_LOG_FLOOR}


def _sigmoid_one(p: Params) -> Answer:
    dtype = p["logit_dtype"]
    pts = G.failure_points(dtype)
    z = pts["sigmoid_rounds_to_one"]
    eps = torch.finfo(G.DTYPES[dtype]).eps
    return Answer(z, f"{z:.6g}",
                  f"From z = {z:.6g}: there e^−z = {math.exp(-z):.3g}, no more than half the gap between 1 and the next "
                  f"{dtype} number above it ({eps:.3g}), so 1 + e^−z rounds to 1 and σ(z) = 1/(1 + e^−z) is exactly 1. "
                  f"From the same z BCELoss on the sigmoid returns {-G.BCE_LOG_FLOOR:g} with gradient 0.",
                  {"z": z, "exp_minus_z": math.exp(-z), "eps": eps, "bce_clamped_from": pts["bce_clamped"]},
                  series=_gap_series(z, dtype))


def _edge_grid(z1: float, hi: float, n: int, dtype: str) -> tuple[list[float], float]:
    """n + 1 evenly spaced z in [0, hi] plus the failure point z1 and the float just below it (the last z that still
    works), all rounded to dtype (the values the core computes at); and that float below z1."""
    dt = G.DTYPES[dtype]
    below = torch.nextafter(torch.tensor(z1, dtype=dt), torch.tensor(0.0, dtype=dt)).item()
    z = torch.tensor([hi * i / n for i in range(n + 1)] + [z1, below], dtype=dt)  # (n + 3,)
    return torch.unique(z, sorted=True).tolist(), below


def _gap_series(z1: float, dtype: str) -> dict[str, Any]:
    """The reveal figure's curves: 1 - sigmoid(z) as `dtype` computes it (1 - s is exact for s in [1/2, 1]) and the
    exact gap sigmoid(-z) in float64, on z in [0, 1.45 z1] with z1 (the first z where the gap is 0) and the float
    just below it as grid points."""
    z, below = _edge_grid(z1, 1.45 * z1, 480, dtype)
    return {"z": z, "gap": [1.0 - G.sigmoid_of(v, dtype) for v in z],
            "exact_gap": [G.sigmoid_of(-v, "float64") for v in z], "dtype": dtype, "last_nonzero_z": below}


def _softmax_underflow(p: Params) -> Answer:
    dtype = p["logit_dtype"]
    z = G.failure_points(dtype)["softmax_underflows"]
    fi = torch.finfo(G.DTYPES[dtype])
    smallest = fi.tiny * fi.eps  # the smallest positive (subnormal) number of the dtype
    ce = G.evaluate([z], dtype)["ce_logits"].loss[0]
    return Answer(z, f"{z:.6g}",
                  f"From z = {z:.6g}: softmax([0, z])[0] = e^−z / (1 + e^−z), and e^−z = {math.exp(-z):.3g} is no more "
                  f"than half the smallest positive {dtype} number ({smallest:.3g}), so it underflows to 0 and "
                  f"−log 0 = inf. CrossEntropyLoss on the logits gives {ce:.6g} there, about z itself.",
                  {"z": z, "exp_minus_z": math.exp(-z), "smallest": smallest, "ce_logits_loss": ce},
                  series=_underflow_series(z, dtype))


def _underflow_series(z1: float, dtype: str) -> dict[str, Any]:
    """The reveal figure's curves (G.evaluate, as the answer): the softmax form's loss (None where it is inf),
    CrossEntropyLoss on the logits and the float64 loss on z in [0, 1.25 z1], z1 and the float below it on the grid."""
    z, _ = _edge_grid(z1, 1.25 * z1, 250, dtype)
    forms = G.evaluate(z, dtype)
    return {"z": z, "naive": forms["ce_naive"].loss, "logits": forms["ce_logits"].loss,
            "exact": forms["reference"].loss, "dtype": dtype}


def _ce_gradient(p: Params) -> Answer:
    logits = p["logits"]
    t = G.true_class(p["target"], len(logits))
    g = G.gradient(logits, t)
    v = g.autograd[t]
    others = ", ".join(f"class {k}: {g.autograd[k]:.3g}" for k in range(len(logits)) if k != t)
    return Answer(v, f"{v:.3g}",
                  f"Autograd gives dL/dz = {v:.3g} for the true class {t}: p − 1 with p = softmax(z)[{t}] = "
                  f"{g.probs[t]:.3g}, so gradient descent raises its logit. Each wrong class gets its own "
                  f"probability and is lowered ({others}); the loss is {g.loss:.3g}.",
                  {"grad": v, "p_true": g.probs[t], "loss": g.loss}
                  | {f"grad_{k}": g.autograd[k] for k in range(len(logits)) if k != t},
                  series={"logits": list(g.logits), "grad": list(g.autograd), "probs": list(g.probs), "target": t})


def _mse_peak(p: Params) -> Answer:
    sat = G.saturation()
    s = 1 / (1 + math.exp(-sat.peak_z))
    return Answer(sat.peak_z, f"{sat.peak_z:.3g}",
                  f"MSELoss(sigmoid(z), 0) has |dL/dz| = 2σ(z)²(1 − σ(z)), largest at z = {sat.peak_z:.3g} "
                  f"(σ = {s:.3g} there) on the page's grid. Beyond it the factor σ'(z) fades: from z = "
                  f"{sat.slow_from_z:.3g} MSE's gradient is below {100 * sat.slow_ratio:g}% of cross-entropy's, "
                  "whose gradient σ(z) keeps growing towards 1 the more wrong the prediction is.",
                  {"peak_z": sat.peak_z, "sigmoid_there": s, "slow_from_z": sat.slow_from_z},
                  series={"z": sat.z, "mse_grad": sat.mse_grad, "ce_grad": sat.ce_grad, "peak_z": sat.peak_z,
                          "peak": max(sat.mse_grad), "slow_from_z": sat.slow_from_z, "slow_ratio": sat.slow_ratio})


# --- deep training -------------------------------------------------------------------------------

DEEP_EVERY = 10  # the questions' runs take a snapshot every 10 epochs (nnviz.deep.train's default); what they ask
# (the first and last training loss, the epoch-0 gradients, the last epoch's dead units) is the same at any `every`
DEEP_FIXES = ("residual", "batchnorm", "layernorm")  # the choices of deep-which-fix-fails
# An answer is computed again at the settings on screen on every rerun after a verdict, so its training is bounded
# like any rerun's CPU: at most this many default runs' work (D.DeepConfig(): 300 epochs, 200 points, 20 layers of
# 32; about 1 s at one thread), which is what deep-which-fix-fails costs at its own settings (three runs)
DEEP_BUDGET = 3.0


def _deep_config(p: Params) -> D.DeepConfig:
    """The Deep training page's run, as its controls set it (clipping at the max norm only where it is on)."""
    return D.DeepConfig(data=p["deep_data"], n=p["deep_n"], noise=p["deep_noise"], depth=p["deep_depth"],
                        width=p["deep_width"], activation=p["deep_act"], init=p["deep_init"], std=p["deep_std"],
                        residual=p["deep_residual"], norm=p["deep_norm"], optimizer=p["deep_opt"], lr=p["deep_lr"],
                        epochs=p["deep_epochs"], clip=p["deep_max_norm"] if p["deep_clip"] else None,
                        seed=p["deep_seed"])


@functools.lru_cache(maxsize=32)
def _deep_run(config: D.DeepConfig) -> tuple[D.Snapshot, ...]:
    """A whole run of the core's trainer (pure: the same config gives the same numbers), shared by the questions."""
    return tuple(D.train(config, every=DEEP_EVERY))


@functools.lru_cache(maxsize=32)
def _deep_start(config: D.DeepConfig) -> D.Snapshot:
    """The core's epoch-0 snapshot: the first forward and backward pass, before any step (a one-epoch run: what it
    measures does not depend on the epochs, the optimizer or clipping)."""
    (snap,) = D.train(replace(config, epochs=1), every=DEEP_EVERY)
    return snap


def _work(config: D.DeepConfig) -> float:
    """A run's work relative to the default run's: epochs x points x layers x width² (its multiply-adds)."""
    d = D.DeepConfig()
    return (config.epochs / d.epochs) * (config.n / d.n) * (config.depth / d.depth) * (config.width / d.width) ** 2


def _affordable(*configs: D.DeepConfig) -> None:
    """Refuse (ValueError) to train runs whose work adds up to more than DEEP_BUDGET default runs."""
    work = sum(_work(c) for c in configs)
    if work > DEEP_BUDGET:
        raise ValueError(f"the answer would train {len(configs)} run{'s' * (len(configs) > 1)} of {work:.1f} times "
                         f"the default run's work in all, more than the {DEEP_BUDGET:g} an answer may take here; "
                         "press Train to watch this run, or go back to the question's settings")


def _fall_needs_epochs(config: D.DeepConfig) -> None:
    if config.epochs < 2:
        raise ValueError("in one epoch the loss is measured once, before its step: there is no fall to ask about")


def _not_diverged(history: tuple[D.Snapshot, ...]) -> None:
    last = history[-1]
    if last.diverged:
        d = last.divergence
        raise ValueError(f"the run blows up at epoch {d.epoch if d else last.epoch} and is stopped: its loss does "
                         "not fall; lower the learning rate or the init scale, or turn clipping on")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _first_layer_share(p: Params) -> Answer:
    cfg = _deep_config(p)
    if cfg.depth < 2:
        raise ValueError("at depth 1 the first hidden layer is the last one; set the depth to 2 or more")
    s = _deep_start(cfg)
    g = s.grad_norm[:cfg.depth]  # the hidden layers' Linear, input side first
    first, last = g[0], g[-1]
    if not all(v > 0 and math.isfinite(v) for v in (first, last)):
        raise ValueError("the first or the last hidden layer's gradient is 0 or not finite in float32 at these "
                         "settings; no ratio to ask about")
    r = first / last
    per = r ** (1 / (cfg.depth - 1))
    init = V.resolve_init(cfg.init, cfg.activation)
    sw2 = V.init_variance(init, cfg.width, cfg.width, cfg.std)[0]
    peak = A.compute_curves((cfg.activation,), {}, A.XMIN.default, A.XMAX.default)[0].peak
    size = (f"{-math.log10(r):.1f} orders of magnitude smaller" if r < 1 else
            f"{math.log10(r):.1f} orders of magnitude larger")
    return Answer(r, f"{r:.2g}",
                  f"At epoch 0 the first hidden layer's gradient norm is {first:.3g} and the last hidden layer's "
                  f"(layer {cfg.depth}) {last:.3g}: {r:.2g} times as large, {size}. Going back from layer {cfg.depth} "
                  f"to layer 1 it is multiplied by {per:.3g} per layer on average: by the slope of "
                  f"{cfg.activation} (never above {peak:.3g}) and by the weights, which the "
                  f"{V.init_label(init, cfg.std)} init gives the scale σ_w² = fan_in × Var(w) = {sw2:.3g}.",
                  {"ratio": r, "first": first, "last": last, "per_layer": per, "max_slope": peak, "sigma_w2": sw2},
                  series={"layers": list(range(1, cfg.depth + 1)), "grad": list(g), "output": s.grad_norm[-1],
                          "first": first, "last": last, "ratio": r, "per_layer": per, "label": D.label(cfg),
                          "colour": A.ACTIVATIONS[cfg.activation].colour})


def _loss_fall_pct(p: Params) -> Answer:
    cfg = _deep_config(p)
    _fall_needs_epochs(cfg)
    _affordable(cfg)
    h = _deep_run(cfg)
    _not_diverged(h)
    first, last = h[0], h[-1]
    fall = 100 * D.loss_fall(h)
    moved = last.weight_change[:cfg.depth]
    return Answer(fall, f"{fall:.3g}",
                  f"The training loss fell from {first.train_loss:.3g} at epoch 0 to {last.train_loss:.3g} at epoch "
                  f"{last.epoch}: by {fall:.3g}% ({D.label(cfg)}, {cfg.depth} layers). The first hidden layer's "
                  f"weights moved by {100 * moved[0]:.2g}% of their initial size, the last hidden layer's by "
                  f"{100 * moved[-1]:.2g}%.",
                  {"fall": fall, "first_loss": first.train_loss, "last_loss": last.train_loss,
                   "moved_first": moved[0], "moved_last": moved[-1]},
                  series={"epoch": [s.epoch for s in h], "train": [s.train_loss for s in h],
                          "test": [s.test_loss for s in h], "fall": fall, "label": D.label(cfg),
                          "colour": A.ACTIVATIONS[cfg.activation].colour})


def _fix_config(base: D.DeepConfig, fix: str) -> D.DeepConfig:
    """The page's network with one of DEEP_FIXES added (and neither of the other two)."""
    return replace(base, residual=fix == "residual", norm=fix if fix in D.NORMS else "none")


def _which_fix_fails(p: Params) -> Answer:
    base = _deep_config(p)
    _fall_needs_epochs(base)
    _affordable(*(_fix_config(base, f) for f in DEEP_FIXES))
    runs = {f: _deep_run(_fix_config(base, f)) for f in DEEP_FIXES}
    fall = {f: 100 * D.loss_fall(h) for f, h in runs.items()}  # nan where the run blew up
    stuck = [f for f in DEEP_FIXES if not fall[f] >= 100 * D.STUCK]
    if len(stuck) != 1:
        raise ValueError(f"at these settings {len(stuck)} of the three leave the training loss within "
                         f"{D.STUCK:.0%} of its start; the question needs exactly one")
    (bad,) = stuck
    start = {f: h[0].grad_norm[0] / h[0].grad_norm[base.depth - 1] if h[0].grad_norm[base.depth - 1] > 0 else math.nan
             for f, h in runs.items()}

    def said(f: str) -> str:
        return f"{f} {fall[f]:.3g}%" if math.isfinite(fall[f]) else f"{f}: blew up"
    return Answer(bad, bad,
                  f"In {base.epochs} epochs the training loss fell by: " + ", ".join(said(f) for f in DEEP_FIXES)
                  + f". Only {bad} leaves it nearly flat (a fall below {D.STUCK:.0%}). At epoch 0 the first hidden "
                  f"layer's gradient is this many times the last hidden layer's: "
                  + ", ".join(f"{f} {start[f]:.2g}" for f in DEEP_FIXES) + ".",
                  {f"fall_{f}": fall[f] for f in DEEP_FIXES} | {f"start_ratio_{f}": start[f] for f in DEEP_FIXES},
                  {"deep_residual": "true"} if bad == "residual" else {"deep_norm": bad},
                  {"fixes": list(DEEP_FIXES), "stuck": bad, "fall": dict(fall),
                   "epoch": {f: [s.epoch for s in h] for f, h in runs.items()},
                   "loss": {f: [s.train_loss for s in h] for f, h in runs.items()},
                   "labels": {f: D.label(_fix_config(base, f)) for f in DEEP_FIXES}, "threshold": 100 * D.STUCK})


def _global_norm(p: Params) -> Answer:
    cfg = _deep_config(p)
    s = _deep_start(cfg)
    total, m = s.grad_norm_total, p["deep_max_norm"]
    if not (math.isfinite(total) and total > 0):
        raise ValueError("the gradient is 0 or not finite at epoch 0 at these settings; no norm to ask about")
    big = max(range(len(s.grad_norm)), key=lambda i: s.grad_norm[i])
    where = f"layer {big + 1}" if big < cfg.depth else "the output layer"
    if total > m:
        clip = (f"clip_grad_norm_ with max norm {m:g} multiplies every gradient by {m:g} / {total:.2g} = "
                f"{m / total:.2g}: the step keeps its direction and is {total / m:.2g} times shorter.")
    else:
        clip = f"That is not above the max norm {m:g}, so clip_grad_norm_ leaves the gradient as it is."
    if cfg.clip is None:
        clip += " Clipping is off at these settings: SGD steps by the learning rate times the whole gradient."
    return Answer(total, f"{total:.2g}",
                  f"At epoch 0 the gradient of every parameter together (weights and biases, as one vector) has norm "
                  f"{total:.2g}; the largest single weight gradient is {where}'s, {s.grad_norm[big]:.2g}. {clip}",
                  {"total": total, "max_norm": m, "largest_layer": s.grad_norm[big]},
                  series={"grad": list(s.grad_norm), "names": [str(i) for i in range(1, cfg.depth + 1)] + ["out"],
                          "total": total, "max_norm": m, "clip": cfg.clip is not None})


def _dead_share(p: Params) -> Answer:
    cfg = _deep_config(p)
    if cfg.activation not in D.DEAD_ACTIVATIONS:
        raise ValueError(f"dead units are counted for {', '.join(D.DEAD_ACTIVATIONS)} only (where z ≤ 0 makes the "
                         "output and its gradient exactly 0)")
    _affordable(cfg)
    h = _deep_run(cfg)
    _not_diverged(h)
    first, last = h[0], h[-1]
    start, end = 100 * _mean(first.dead_fraction), 100 * _mean(last.dead_fraction)
    died = [e for e in D.died_at(h) if e is not None]
    lost = (f" {len(died)} of the {cfg.depth} layers had lost at least {D.HALF_DEAD:.0%} of their units by epoch "
            f"{max(died)}." if died else "")
    fall = D.loss_fall(h)
    return Answer(end, f"{end:.3g}",
                  f"At the last epoch ({last.epoch}) {end:.3g}% of the {cfg.depth * cfg.width} hidden units are "
                  f"dead: their input z is ≤ 0 for every training input, so they output 0 and pass back no gradient "
                  f"for any of them. At epoch 0 {start:.3g}% were.{lost} The training loss still fell by {100 * fall:.4g}%.",
                  {"dead_end": end, "dead_start": start, "layers_half_dead": len(died), "fall": 100 * fall},
                  series={"epoch": [s.epoch for s in h], "dead": [100 * _mean(s.dead_fraction) for s in h],
                          "layers_end": [100 * d for d in last.dead_fraction], "start": start, "end": end,
                          "label": D.label(cfg)})


# --- the registry --------------------------------------------------------------------------------

_QUESTIONS = (
    Question("act-sigmoid-max-slope", "activations",
             "What is the largest slope f'(x) that sigmoid reaches, anywhere?", "number", _sigmoid_max_slope,
             settings={"fn": ["sigmoid"]}),
    Question("act-most-gradient-at-minus-4", "activations",
             "At x = -4, which of these lets the most gradient through (the largest |f'(x)|)?", "choice",
             _most_gradient, choices=MINUS_FOUR, settings={"fn": list(MINUS_FOUR), "x": "-4"}),
    Question("act-tanh-vs-sigmoid-slope", "activations",
             "How many times steeper than sigmoid is tanh, each at its steepest?", "number", _tanh_over_sigmoid,
             settings={"fn": ["sigmoid", "tanh"]}, unit="times"),
    Question("loss-mse-slope", "losses",
             f"The clean points lie on a line of slope {L.TRUE_SLOPE:g}; 3 outliers sit far below its right end. "
             "What slope will the MSE fit have?", "number", _mse_slope,
             settings={"loss": ["l1", "mse"], "outliers": "3"}, tolerance=0.5),
    Question("loss-l1-gives-way", "losses",
             f"Add outliers one at a time. At how many does the L1 line give way (its slope more than {L.GIVE_WAY} "
             f"from the clean {L.TRUE_SLOPE:g})?", "number", _l1_gives_way,
             settings={"loss": ["l1", "mse"]}, unit="outliers", tolerance=0.2),
    Question("loss-mse-outlier-share", "losses",
             "With the line on the clean line, what share of MSE's pull on the slope comes from the 3 outliers?",
             "number", _mse_outlier_share, settings={"loss": ["l1", "mse"], "outliers": "3"}, unit="%",
             tolerance=0.15),
    Question("van-sigmoid-depth-30", "vanishing",
             "30 sigmoid layers (the init made for sigmoid): the first layer's gradient at depth 30 divided by its "
             "value at depth 1 is about what power of ten?", "log10", _sigmoid_decades,
             settings={"act": ["sigmoid"], "init": "matched", "depth": "30"}, tolerance=2.0),
    Question("van-sigmoid-per-layer", "vanishing",
             "In that 30-layer sigmoid stack, by what factor does each extra layer multiply the first layer's "
             "gradient, on average?", "number", _per_layer,
             settings={"act": ["sigmoid"], "init": "matched", "depth": "30"}, tolerance=0.2),
    Question("van-relu-flat-init", "vanishing",
             "Which initialisation keeps a 30-layer ReLU stack's first-layer gradient flat (about the same as at "
             "depth 1)?", "choice", _flat_init, choices=RELU_INITS,
             settings={"act": ["relu"], "init": "default", "depth": "30"}),
    Question("reg-weight-after-100", "regression",
             "The default run (L1 loss, SGD, learning rate 0.01) starts from nn.Linear(1, 1) after "
             "torch.manual_seed(42); the true weight is 0.7. Where will the weight be after 100 epochs?",
             "number", _weight_after, settings={"epochs": "100"}, tolerance=0.02),
    Question("reg-first-grad", "regression",
             "Step by step: what will weight.grad be after the first loss.backward() of the default L1 run?",
             "number", _first_grad, settings={}, tolerance=0.1),
    Question("reg-first-grad-mse", "regression",
             "The same first backward() with MSELoss instead of L1: what will weight.grad be?", "number",
             _first_grad, settings={"loss_fn": "mse"}, tolerance=0.1),
    Question("logit-bce-at-50", "logits",
             f"The true class is 0 and the network gives the logit z = {BCE_Z:g}. What does "
             "nn.BCELoss()(torch.sigmoid(z), y) give in float32?", "number", _bce_at,
             settings={"logit_dtype": "float32"}, tolerance=0.1),
    Question("logit-sigmoid-rounds-to-one", "logits",
             "From which logit z is float32's torch.sigmoid(z) exactly 1.0?", "number", _sigmoid_one,
             settings={"logit_dtype": "float32"}, tolerance=0.1),
    Question("logit-softmax-underflow", "logits",
             "True class 0, logits [0, z]: from which z is -log(softmax([0, z])[0]) infinite in float32?", "number",
             _softmax_underflow, settings={"logit_dtype": "float32"}, tolerance=0.1),
    Question("logit-ce-gradient", "logits",
             "Logits (2, 1, 0.1), true class 0: what is CrossEntropyLoss's gradient dL/dz for class 0?", "number",
             _ce_gradient, settings={"logits": "2, 1, 0.1", "target": "0"}, tolerance=0.15),
    Question("logit-mse-sigmoid-peak", "logits",
             "True class 0, MSELoss on sigmoid(z): as z grows (a more and more confident mistake), at which z is the "
             "gradient |dL/dz| largest?", "number", _mse_peak, settings={}, tolerance=0.2),
    Question("deep-first-layer-gradient", "deep",
             "20 sigmoid layers with PyTorch's default init, before any training: the first hidden layer's gradient "
             "norm divided by the last hidden layer's is about what power of ten?", "log10", _first_layer_share,
             settings={}, tolerance=2.0),
    Question("deep-relu-he-fall", "deep",
             "The same 20 layers with ReLU and He (Kaiming) init, plain SGD at learning rate 0.05: by what percentage "
             "will the training loss fall in 300 epochs?", "number", _loss_fall_pct,
             settings={"deep_act": "relu", "deep_init": "kaiming_normal"}, unit="%", tolerance=0.1),
    Question("deep-which-fix-fails", "deep",
             "Back to 20 sigmoid layers with PyTorch's default init. Add one of these: which one leaves the training "
             "loss nearly flat (a fall of less than 10% in 300 epochs)?", "choice", _which_fix_fails,
             choices=DEEP_FIXES, settings={}),
    Question("deep-clip-global-norm", "deep",
             "20 ReLU layers with weights drawn from N(0, 0.4²), gradients clipped at max norm 1: at epoch 0, how "
             "large is the global gradient norm that clip_grad_norm_ compares with 1?", "log10", _global_norm,
             settings={"deep_act": "relu", "deep_init": "normal", "deep_std": "0.4", "deep_clip": "true",
                       "deep_max_norm": "1"}, tolerance=1.0),
    Question("deep-dead-after-training", "deep",
             "ReLU with He init again, but Adam at learning rate 0.05: what percentage of the 640 hidden units will be "
             "dead after 300 epochs (their input z ≤ 0 for every training input)?", "number", _dead_share,
             settings={"deep_act": "relu", "deep_init": "kaiming_normal", "deep_opt": "adam", "deep_lr": "0.05"},
             unit="%", tolerance=0.15),
)

QUESTIONS: Mapping[str, Question] = MappingProxyType({q.id: q for q in _QUESTIONS})
if len(QUESTIONS) != len(_QUESTIONS):
    raise ValueError("question ids must be unique")


def for_page(page: str) -> list[Question]:
    """The page's questions, in the registry's order (the order a page asks them)."""
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}; expected one of {', '.join(PAGES)}")
    return [q for q in QUESTIONS.values() if q.page == page]


# --- guided tours ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One step of a page's guided tour: the settings it opens (URL values; every other control at its
    default), a title, a talking point for the teacher to say or the student to read, and optionally
    one of the page's questions (asked before the figure is shown; its settings apply too)."""
    title: str
    text: str  # markdown, no number a run could change (the questions compute those)
    settings: Mapping[str, str | list[str]] = field(default_factory=dict)
    question: str | None = None  # a question id of the same page
    # controls (URL keys of the page) the step asks the student to move: drawn in the tour panel itself, so
    # on a projector the figure stays on the first screen while they are used (not in the folded settings)
    offer: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))
        object.__setattr__(self, "offer", tuple(self.offer))


def step_settings(page: str, step: Step) -> dict[str, str | list[str]]:
    """What the step sets: its question's settings, then its own on top."""
    q = QUESTIONS[step.question].settings if step.question else {}
    return {**q, **step.settings}


_PART_CLF = G.PART.choices[1]

_TOURS: dict[str, tuple[Step, ...]] = {
    "activations": (
        Step("Bend the signal, scale the gradient",
             "The f(x) panel is sigmoid's output: any input squashed into (0, 1). The f'(x) panel is its slope, "
             "computed by autograd. In the backward pass every gradient that flows through a sigmoid unit "
             "is multiplied by this slope. Before you look: how steep does it get?",
             question="act-sigmoid-max-slope"),
        Step("Saturation",
             "Far from 0 the curve flattens and its slope falls towards 0: the unit is **saturated**. The dotted "
             "line sits at x = 5, and the slope there is written on the figure: compare it with the largest "
             "slope, at 0.",
             {"fn": ["sigmoid"], "x": "5"}),
        Step("tanh: the same shape, steeper",
             "tanh is sigmoid rescaled to (−1, 1) and centred on 0. Predict how much steeper it is at its "
             "steepest, then compare the two diamonds.",
             question="act-tanh-vs-sigmoid-slope"),
        Step("ReLU: no slope on the left",
             "ReLU passes a positive input unchanged (slope exactly 1) and outputs 0 for a negative one (slope "
             "exactly 0): for that input the unit is **inactive**, no gradient flows back. It is **dead** only if "
             "its input is negative for every input. LeakyReLU keeps a small slope on the left: compare the two "
             "slopes at the dotted line.",
             {"fn": ["relu", "leaky_relu"], "x": "-2"}),
        Step("The most gradient at x = −4",
             "A unit with input −4: four functions, four slopes. Commit to one before the figure shows them.",
             question="act-most-gradient-at-minus-4"),
        Step("Why it decides if a deep net learns",
             "Backpropagation multiplies one such slope per layer. A factor of at most 0.25 per sigmoid layer, "
             "30 layers deep, is the vanishing gradient: the link *Sigmoid's slope is at most 0.25* further "
             "down this page opens the vanishing-gradients page at exactly that network.",
             {"fn": ["sigmoid", "tanh", "relu"]}),
    ),
    "losses": (
        Step("Clean data, one line",
             "Points around a straight line, no outliers. L1 (absolute error) and MSE (squared error) "
             "fit almost the same line: on clean data the choice of loss hardly matters.",
             {"loss": ["l1", "mse"], "outliers": "0"}),
        Step("Three outliers",
             "Now three points sit far below the right end. Predict where least squares will put its slope "
             "before the fits are drawn.",
             question="loss-mse-slope"),
        Step("Who pulls the line?",
             "Each point pulls on the line with the gradient of its loss: 2r under MSE (r, its residual), "
             "sign(r) under L1. Predict how much of MSE's pull comes from the three outliers.",
             question="loss-mse-outlier-share"),
        Step("How many outliers does L1 take?",
             "L1 ignored three outliers. Add them one at a time: at how many does it give way too?",
             question="loss-l1-gives-way"),
        Step("Huber: squared near, absolute far",
             "Huber's loss is MSE for residuals below δ and L1 beyond it: large errors only pull with a "
             "constant force. Move δ here: a large δ makes it MSE, a small one L1.",
             {"loss": ["l1", "mse", "huber"], "outliers": "3"}, offer=("delta",)),
        Step("From a fit to a training run",
             "L1's pull does not shrink as the line gets close, so gradient descent on L1 never settles: "
             "it keeps stepping past the minimum. The regression page shows it live (the link under the "
             "force plot opens it with L1).",
             {"loss": ["l1", "mse"], "outliers": "3"}),
    ),
    "vanishing": (
        Step("What reaches the first layer",
             "Each curve is the gradient norm that reaches the first layer of a network of the given depth "
             "(a log axis), averaged over several random initialisations. Flat means every layer learns; "
             "falling means the first layers learn nothing.",
             {}),
        Step("30 sigmoid layers",
             "Sigmoid's slope is at most 0.25. Before the curve appears: the first layer's gradient at depth 30 "
             "is its value at depth 1 times what? Type a power of ten, such as 1e-5.",
             question="van-sigmoid-depth-30"),
        Step("Layer by layer",
             "The first layer's gradient is a product: one factor per layer. Predict the average factor.",
             question="van-sigmoid-per-layer"),
        Step("ReLU and the initialisation",
             "ReLU's slope is 1 or 0, so the weights' scale decides. torch's default init, Xavier and Kaiming "
             "(He) give the weights different variances. Which one keeps a 30-layer ReLU stack flat?",
             question="van-relu-flat-init"),
        Step("A way around every layer",
             "A residual connection computes h + f(Wh + b): the gradient reaches the first layer through the "
             "identity path as well as through the units, however flat their slopes. The sigmoid curve no "
             "longer falls. But ReLU's sums now grow from layer to layer, and its gradient explodes instead.",
             {"act": ["sigmoid", "relu"], "residual": "true"}),
        Step("Normalisation",
             "BatchNorm divides each unit's input, and on the way back its gradient, by its spread over "
             "the batch: that makes up for sigmoid's small slope. Switch to layernorm: it does not.",
             {"act": ["sigmoid"], "norm": "batchnorm"}, offer=("norm",)),
    ),
    "regression": (
        Step("The training loop",
             f"A weight and a bias learn the line y = {R.W.default:g}x + {R.B.default:g} from points on it. "
             "Each epoch runs five lines: forward, loss, zero_grad, backward, step. *Step by step* runs them one by "
             "one.",
             {}),
        Step("What will backward() write?",
             "Before the first loss.backward() runs: what number lands in weight.grad under L1?",
             question="reg-first-grad"),
        Step("The same step under MSE",
             "MSE weights each point's error by its size; L1 only by its sign. Predict weight.grad again.",
             question="reg-first-grad-mse"),
        Step("A hundred epochs",
             "Press Train after you commit: where will the weight be after 100 epochs of SGD?",
             question="reg-weight-after-100"),
        Step("Too large a step",
             "MSE with a learning rate of 1: press Train. Each step jumps past the minimum by more than it "
             "started from it, and the page stops the run when the numbers blow up.",
             {"loss_fn": "mse", "lr": "1"}),
        Step("Adam",
             "Adam scales each parameter's step by a running estimate of its gradient's size. Press Train: the "
             "dotted grey line is your last SGD run on this data (train step 4 first).",
             {"opt": "adam"}),
    ),
    "logits": (
        Step("Four ways to compute one loss",
             "The true class is 0 and the network outputs the logit z. All four curves are the same loss in "
             "exact arithmetic: BCELoss on sigmoid(z), −log softmax, BCEWithLogitsLoss and CrossEntropyLoss. "
             "Watch where the first two part from the float64 reference.",
             {}),
        Step("A confident mistake",
             "The network says z = 50 for a class-0 example: confidently wrong. What does BCELoss on the "
             "sigmoid give?",
             question="logit-bce-at-50"),
        Step("Where sigmoid becomes 1",
             "float32 has about 7 significant digits. From which z does sigmoid round to exactly 1?",
             question="logit-sigmoid-rounds-to-one"),
        Step("Softmax underflows",
             "The softmax form breaks later, but it breaks. Predict where its loss becomes infinite.",
             question="logit-softmax-underflow"),
        Step("The gradient of cross-entropy",
             "For the logits (2, 1, 0.1), what gradient does CrossEntropyLoss send to the true class's logit?",
             question="logit-ce-gradient"),
        Step("Squared error on a probability",
             "MSE on sigmoid(z) multiplies its gradient by σ'(z): the more confident the mistake, the less it "
             "learns. Predict where its gradient peaks.",
             question="logit-mse-sigmoid-peak"),
        Step("A straight line cannot split XOR",
             "Now a network trained live. With no hidden layer the classifier is logistic regression: its "
             "boundary is one straight line. Press Train and watch the loss.",
             {"part": _PART_CLF, "data": "xor", "hidden": ""}),
        Step("One hidden layer bends it",
             "Eight tanh units in one hidden layer: press Train and watch the boundary bend until each quadrant "
             "gets its own colour.",
             {"part": _PART_CLF, "data": "xor", "hidden": "8", "clf_act": "tanh"}),
    ),
    "deep": (
        Step("Twenty sigmoid layers that do not learn",
             "20 hidden layers of 32 sigmoid units, PyTorch's default init, plain SGD on the two moons. Press Train: "
             "the training loss hardly moves (it falls by less than 10%). The heat map shows each layer's gradient "
             "norm over training, input layer first: it fades by many orders of magnitude towards the input, and "
             "the first layers' weights barely move.",
             {}),
        Step("How much reaches the first layer?",
             "Backpropagation multiplies the gradient, layer by layer, by the weights and by sigmoid's slope, which "
             "is never above 0.25. Before you train: at epoch 0, how does the first layer's gradient compare with "
             "the last hidden layer's? Type a power of ten, such as 1e-5.",
             question="deep-first-layer-gradient"),
        Step("ReLU with He init",
             "Swap sigmoid for ReLU, whose slope is exactly 1 wherever its input is positive, and draw the weights "
             "with He (Kaiming) init, made for ReLU: variance 2 / fan-in. Same depth, same SGD. Predict the fall, "
             "then press Train.",
             question="deep-relu-he-fall"),
        Step("Three ways to rescue it",
             "Back to sigmoid with PyTorch's default init, and add one thing: residual connections (layers 2 to 20 "
             "add their output to their input, h + f(Wh + b)), BatchNorm (each unit normalised over the batch) or "
             "LayerNorm (each example normalised over its units). Two of them make this network learn. Which one "
             "does not?",
             question="deep-which-fix-fails"),
        Step("A path around the layers",
             "With residual connections the gradient reaches the first layer along the identity path as well as "
             "through the sigmoid units: layer 1's gradient stays within a factor of 100 of the largest layer's. "
             "The loss starts higher: 20 sigmoid outputs, each between 0 and 1, add up (to about 10 in the last "
             "hidden layer, against 0.5 without the identity path). Press Train: the loss jumps in the first "
             "epochs, then falls well below where it started.",
             {"deep_residual": "true"}),
        Step("BatchNorm",
             "BatchNorm rescales each unit's input to mean 0 and std 1 over the batch. With the default init the "
             "differences between examples shrink at every layer; BatchNorm blows them up again, and on the way "
             "back it divides the gradient by the same small spread. Press Train: the loss falls, and at epoch 0 "
             "the first layer's gradient is even larger than the last hidden layer's.",
             {"deep_norm": "batchnorm"}),
        Step("What LayerNorm does here",
             "LayerNorm normalises each example over its own 32 units instead. Press Train: the loss stays flat. At "
             "epoch 0 it lifts the first layer's gradient by about 8 orders of magnitude over the plain network, "
             "but that is still about 8 orders below the last hidden layer's: layer after layer every example is "
             "mapped to nearly the same vector, and normalising each one on its own cannot tell them apart again.",
             {"deep_norm": "layernorm"}),
        Step("Exploding gradients",
             "ReLU again, but with weights drawn from N(0, 0.4²): 1.6 times He's std at width 32. Each layer now "
             "multiplies the signal's size by about 1.6, so 20 layers make the logits, the loss and its gradient "
             "huge. Press Train: after one SGD step the loss is more than 100 times its first value, and the page "
             "stops the run at its next snapshot and says at which epoch it blew up.",
             {"deep_act": "relu", "deep_init": "normal", "deep_std": "0.4"}),
        Step("Clip the global gradient norm",
             "Clipping by global norm, between backward and step, measures all the gradients together as one "
             "vector and, when its norm is above the max norm, scales every gradient down to it: the direction "
             "stays, the step shrinks. Predict the norm at epoch 0, then press Train: the clipped run does not "
             "blow up, and its loss falls.",
             question="deep-clip-global-norm", offer=("deep_max_norm",)),
        Step("Dying ReLU",
             "ReLU with He init, now with Adam at a learning rate of 0.05: its first step moves each weight that has "
             "a gradient by about 0.05, whatever the gradient's size. A unit is **dead** when its input is at most 0 "
             "for every training input: it outputs 0 and passes back no gradient for any of them. Predict the share "
             "of dead units after 300 epochs, then press Train: most die in the first 10 epochs, and the units left "
             "still fit the training set.",
             question="deep-dead-after-training"),
    ),
}

TOURS: Mapping[str, tuple[Step, ...]] = MappingProxyType(_TOURS)
for _page, _steps in TOURS.items():  # every step's settings and question belong to its page
    for _step in _steps:
        if _step.question is not None and (_step.question not in QUESTIONS
                                           or QUESTIONS[_step.question].page != _page):
            raise ValueError(f"{_page} tour: {_step.question!r} is not one of the page's questions")
        page_params(_page, step_settings(_page, _step))
        if any(k not in PAGE_SPECS[_page] for k in _step.offer):
            raise ValueError(f"{_page} tour: {_step.title!r} offers a control the page does not bind")
