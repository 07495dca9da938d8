"""nnviz.lessons: every question's answer against an independent computation (closed form, numpy,
scipy, a plain-torch loop), the registry against the pages' own widget calls, and judge()."""
from __future__ import annotations

import dataclasses
import math
import os
import re
from urllib.parse import quote

import numpy as np
import pytest
import torch
from scipy.optimize import linprog
from torch import nn

from conftest import ROOT
from nnviz import activations as A
from nnviz import lessons as Ls
from nnviz.controls import BadValue

Q = Ls.QUESTIONS


def _value(qid: str) -> float | str:
    return Q[qid].answer().value


# --- the registry ----------------------------------------------------------------------------------

def test_ids_are_unique_url_safe_and_every_page_has_three():
    assert [q.id for q in Q.values()] == list(Q) and len(set(Q)) == len(Q)
    for qid in Q:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", qid) and quote(qid, safe="") == qid, qid
    for page in Ls.PAGES:
        assert (ROOT / "pages" / f"{page}.py").exists(), page
        asked = Ls.for_page(page)
        assert len(asked) >= 3, (page, len(asked))
        assert all(q.page == page for q in asked)
    assert sum(len(Ls.for_page(p)) for p in Ls.PAGES) == len(Q)
    with pytest.raises(ValueError):
        Ls.for_page("home")


def _page_calls(page: str) -> tuple[dict[str, object], set[str], str]:
    """From pages/<page>.py: {key: core spec} of every widget call `widget(ALIAS.SPEC, "key"` whose
    alias is an nnviz core module, the keys of calls with a page-local spec, and the source."""
    import importlib

    src = (ROOT / "pages" / f"{page}.py").read_text()
    aliases = {alias or name: importlib.import_module(f"nnviz.{name}")
               for name, alias in re.findall(r"^from nnviz import (\w+)(?: as (\w+))?$", src, re.M)}
    core, local = {}, set()
    for alias, attr, key in re.findall(
            r"\b(?:slider|select|multiselect|toggle|number|numbers|tabs)\(\s*(?:(\w+)\.)?(\w+)\s*,\s*\"([^\"]+)\"", src):
        if alias:
            assert alias in aliases, (page, alias, attr, key)
            core[key] = getattr(aliases[alias], attr)
        else:
            local.add(key)
    return core, local, src


@pytest.mark.parametrize("page", Ls.PAGES)
def test_page_specs_are_the_specs_each_page_binds(page):
    core, local, src = _page_calls(page)
    assert core, page  # the regex found the page's widget calls
    specs = dict(Ls.PAGE_SPECS[page])
    if page == "activations":  # the per-function parameters are bound as A.param_key(name, p)
        assert "A.param_key(name, p)" in src
        for name, act in A.ACTIVATIONS.items():
            for p, spec in act.params.items():
                assert specs.pop(A.param_key(name, p)) is spec
    assert set(specs) == set(core), (page, set(specs) ^ set(core))
    for key, spec in specs.items():
        assert spec is core[key], (page, key)  # the very spec object the widget is built from
    assert not local & set(Ls.PAGE_SPECS[page])


@pytest.mark.parametrize("qid", list(Q))
def test_every_setting_is_a_control_of_its_page_and_parses(qid):
    q = Q[qid]
    for key, value in q.settings.items():
        spec = Ls.PAGE_SPECS[q.page][key]
        spec.parse([value] if isinstance(value, str) else list(value))  # raises if the page would reject it
    for key, value in q.answer().settings.items():  # the settings that show the answer, too
        spec = Ls.PAGE_SPECS[q.page][key]
        spec.parse([value] if isinstance(value, str) else list(value))


def test_a_question_with_a_bad_setting_or_id_is_refused():
    q = Q["act-sigmoid-max-slope"]
    with pytest.raises(ValueError, match="binds no control"):
        dataclasses.replace(q, settings={"depth": "30"})  # a vanishing key on the activation page
    with pytest.raises(BadValue):
        dataclasses.replace(q, settings={"x": "99"})  # beyond the inspector's range
    with pytest.raises(ValueError, match="URL-safe"):
        dataclasses.replace(q, id="act sigmoid?")
    with pytest.raises(ValueError):
        dataclasses.replace(q, kind="choice")  # a choice without choices


# --- activations ---------------------------------------------------------------------------------

def test_sigmoid_max_slope_is_a_quarter():
    a = Q["act-sigmoid-max-slope"].answer()
    assert a.value == pytest.approx(0.25, abs=1e-7)  # sigma'(0) = sigma(0) (1 - sigma(0)) = 1/4
    assert a.numbers["at_x"] == 0.0


def test_most_gradient_at_minus_4_from_the_closed_forms():
    x = -4.0
    s = 1 / (1 + math.exp(-x))
    slopes = {"sigmoid": s * (1 - s), "tanh": 1 - math.tanh(x) ** 2, "relu": 0.0,
              "leaky_relu": A.ACTIVATIONS["leaky_relu"].params["negative_slope"].default}
    a = Q["act-most-gradient-at-minus-4"].answer()
    assert a.value == max(slopes, key=lambda n: abs(slopes[n])) == "sigmoid"
    for name, v in slopes.items():  # float32: tanh' = 1 - tanh^2 cancels to about 1e-7 / 1.3e-3 relative
        assert a.numbers[f"slope_{name}"] == pytest.approx(v, rel=1e-4, abs=1e-12)


def test_tanh_is_four_times_steeper():
    assert _value("act-tanh-vs-sigmoid-slope") == pytest.approx(1 / 0.25, rel=1e-6)  # tanh'(0) / sigma'(0)


def test_answers_follow_the_settings():
    """Computed for the settings, not stored: move the inspected point and the answer moves with it."""
    q = dataclasses.replace(Q["act-most-gradient-at-minus-4"], settings={"fn": list(Ls.MINUS_FOUR), "x": "2"})
    assert q.answer().value == "relu"  # slope 1 (tied with leaky_relu; relu is listed first)
    q = dataclasses.replace(Q["logit-sigmoid-rounds-to-one"], settings={"logit_dtype": "float64"})
    assert q.answer().value == pytest.approx(53 * math.log(2), abs=1e-12)  # exp(-z) <= 2^-53


# --- losses --------------------------------------------------------------------------------------

def _loss_data(outliers: int, size: float = 15.0, noise: float = 0.2, seed: int = 3):
    """The losses page's generated data, rebuilt from its recipe (the page's shown script): 40 clean
    points on y = 0.5 x + 1, then all 20 candidate outliers drawn, the first `outliers` used."""
    g = torch.Generator().manual_seed(seed)
    x = 10.0 * torch.rand(40, generator=g, dtype=torch.float64)
    y = 0.5 * x + 1.0 + noise * torch.randn(40, generator=g, dtype=torch.float64)
    xo = 8.0 + 2.0 * torch.rand(20, generator=g, dtype=torch.float64)
    yo = 0.5 * xo + 1.0 - size * (0.8 + 0.4 * torch.rand(20, generator=g, dtype=torch.float64))
    X = torch.cat([x, xo[:outliers]]).numpy()
    Y = torch.cat([y, yo[:outliers]]).numpy()
    return X, Y, np.arange(len(X)) >= 40


def _lad_slope(x: np.ndarray, y: np.ndarray) -> float:
    """The L1 (least absolute deviations) slope as a linear program: min sum t, |y - w x - b| <= t."""
    n = len(x)
    c = np.r_[0.0, 0.0, np.ones(n)]
    eye = np.eye(n)
    A_ub = np.block([[-x[:, None], -np.ones((n, 1)), -eye], [x[:, None], np.ones((n, 1)), -eye]])
    b_ub = np.r_[-y, y]
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=[(None, None)] * 2 + [(0, None)] * n, method="highs")
    assert res.status == 0
    return float(res.x[0])


def test_mse_slope_is_least_squares():
    x, y, _ = _loss_data(3)
    a = Q["loss-mse-slope"].answer()
    assert a.value == pytest.approx(np.polyfit(x, y, 1)[0], abs=1e-9)
    assert a.numbers["l1_slope"] == pytest.approx(_lad_slope(x, y), abs=1e-6)


def test_l1_gives_way_where_the_linear_program_says():
    slopes = [_lad_slope(*_loss_data(k)[:2]) for k in range(21)]
    first = next(k for k, s in enumerate(slopes) if abs(s - 0.5) > 0.3)
    a = Q["loss-l1-gives-way"].answer()
    assert a.value == first
    assert a.numbers["slope_at"] == pytest.approx(slopes[first], abs=1e-6)
    assert a.settings["outliers"] == str(first)


def test_outliers_share_of_the_mse_pull():
    x, y, out = _loss_data(3)
    r = y - (0.5 * x + 1.0)  # residuals at the clean line
    pull = {"mse": np.abs(2 * r * x), "l1": np.abs(np.sign(r) * x)}  # |d loss_i / d slope|
    share = {k: 100 * v[out].sum() / v.sum() for k, v in pull.items()}
    a = Q["loss-mse-outlier-share"].answer()
    assert a.value == pytest.approx(share["mse"], rel=1e-9)
    assert a.numbers["l1_share"] == pytest.approx(share["l1"], rel=1e-9)


# --- vanishing -----------------------------------------------------------------------------------

def _first_grad_norm(act: nn.Module, init: str, depth: int, seed: int, width: int = 64, batch: int = 16,
                     stack: int = 50) -> float:
    """The vanishing page's measurement written out in plain torch: a stack of `stack` Linear layers and
    a head drawn in float64 from one generator (weight then bias, layer by layer), then the inputs and
    targets; the first `depth` layers in float32, MSE, one backward; the first layer's |weight.grad|."""
    g = torch.Generator().manual_seed(seed)
    params = []
    for fan_out in [width] * stack + [1]:
        w, b = torch.empty(fan_out, width, dtype=torch.float64), torch.empty(fan_out, dtype=torch.float64)
        if init == "default":
            nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=g)
            nn.init.uniform_(b, -1 / math.sqrt(width), 1 / math.sqrt(width), generator=g)
        else:
            {"xavier_normal": lambda: nn.init.xavier_normal_(w, generator=g),
             "kaiming_normal": lambda: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)}[init]()
            nn.init.zeros_(b)
        params.append((w.float(), b.float()))
    x = torch.randn(batch, width, generator=g, dtype=torch.float64).float()
    y = torch.randn(batch, 1, generator=g, dtype=torch.float64).float()
    first = params[0][0].clone().requires_grad_(True)
    h = x
    for i, (w, b) in enumerate(params[:depth]):
        h = act(nn.functional.linear(h, first if i == 0 else w, b))
    nn.MSELoss()(nn.functional.linear(h, *params[-1]), y).backward()
    return first.grad.double().norm().item()


def _depth_ratio(act: nn.Module, init: str, depth: int = 30, seeds=(0, 1, 2)) -> float:
    """Geometric mean over the page's three seeds of the first layer's gradient, depth over depth 1."""
    logs = [math.log(_first_grad_norm(act, init, depth, s)) - math.log(_first_grad_norm(act, init, 1, s))
            for s in seeds]
    return math.exp(sum(logs) / len(logs))


def test_sigmoid_at_depth_30_in_orders_of_magnitude_and_per_layer():
    ref = _depth_ratio(nn.Sigmoid(), "xavier_normal")  # the init matched to sigmoid: Glorot's
    a = Q["van-sigmoid-depth-30"].answer()
    assert a.value == pytest.approx(ref, rel=1e-3)
    per_layer = Q["van-sigmoid-per-layer"].answer()
    assert per_layer.value == pytest.approx(ref ** (1 / 29), rel=1e-4)
    assert per_layer.value < 0.25  # sigmoid's slope is at most 1/4, Xavier's weights have scale 1


def test_kaiming_keeps_relu_flat():
    ratios = {init: _depth_ratio(nn.ReLU(), init) for init in Ls.RELU_INITS}
    a = Q["van-relu-flat-init"].answer()
    assert a.value == min(ratios, key=lambda i: abs(math.log10(ratios[i]))) == "kaiming_normal"
    for init, r in ratios.items():
        assert a.numbers[f"ratio_{init}"] == pytest.approx(r, rel=1e-3)
    assert a.settings["init"] == "kaiming_normal"


# --- regression ----------------------------------------------------------------------------------

def _seed_note_model() -> nn.Linear:
    with torch.random.fork_rng():  # the note's torch.manual_seed(42); nn.Linear(1, 1), global state kept
        torch.manual_seed(42)
        return nn.Linear(1, 1)


def _seed_note_data() -> tuple[torch.Tensor, torch.Tensor]:
    X = torch.arange(0, 1, 0.02).unsqueeze(1)  # (50, 1)
    y = 0.7 * X + 0.3
    return X[:40], y[:40]  # the first 80 % train


def test_weight_after_100_epochs_by_the_seed_notes_loop():
    model, (X, y) = _seed_note_model(), _seed_note_data()
    loss_fn, opt = nn.L1Loss(), torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(100):
        model.train()
        loss = loss_fn(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    a = Q["reg-weight-after-100"].answer()
    assert a.value == pytest.approx(model.weight.item(), rel=1e-6)
    assert a.numbers["bias"] == pytest.approx(model.bias.item(), rel=1e-6)


@pytest.mark.parametrize("qid, loss", [("reg-first-grad", "l1"), ("reg-first-grad-mse", "mse")])
def test_first_weight_grad_in_closed_form(qid, loss):
    model, (X, y) = _seed_note_model(), _seed_note_data()
    w, b = model.weight.item(), model.bias.item()
    x, t = X.double().numpy().ravel(), y.double().numpy().ravel()
    err = w * x + b - t  # prediction - target
    grad = np.mean(np.sign(err) * x) if loss == "l1" else np.mean(2 * err * x)  # d mean loss / d w
    assert _value(qid) == pytest.approx(grad, rel=1e-5)


# --- logits --------------------------------------------------------------------------------------

def test_bce_at_logit_50_is_clamped_at_100():
    z = torch.tensor(50.0)  # float32
    ref = nn.BCELoss()(torch.sigmoid(z), torch.tensor(0.0)).item()
    a = Q["logit-bce-at-50"].answer()
    assert a.value == ref == 100.0  # log(1 - 1) = -inf, clamped at -100
    assert a.numbers["exact_loss"] == pytest.approx(50 + math.log1p(math.exp(-50)), rel=1e-12)


def _float32s(lo: float, hi: float) -> torch.Tensor:
    """Every float32 in [lo, hi] (0 < lo < hi), in order."""
    a, b = np.array([lo, hi], dtype=np.float32).view(np.int32)
    return torch.from_numpy(np.arange(a, b + 1, dtype=np.int32).view(np.float32))


def _first_true(z: torch.Tensor, mask: torch.Tensor) -> float:
    i = int(mask.nonzero()[0])
    assert mask[i:].all() and not mask[:i].any()  # one change, from then on
    return float(z[i])


def test_sigmoid_rounds_to_one_by_enumeration_and_closed_form():
    z = _float32s(16.5, 16.8)
    ref = _first_true(z, torch.sigmoid(z) == 1)
    a = Q["logit-sigmoid-rounds-to-one"].answer()
    assert a.value == ref
    assert a.value == pytest.approx(24 * math.log(2), abs=1e-5)  # exp(-z) <= 2^-24, half of float32's eps


def test_softmax_underflow_by_enumeration_and_closed_form():
    z = _float32s(103.9, 104.05)
    p0 = torch.softmax(torch.stack([torch.zeros_like(z), z], dim=-1), dim=-1)[:, 0]
    ref = _first_true(z, p0 == 0)
    a = Q["logit-softmax-underflow"].answer()
    assert a.value == ref
    assert a.value == pytest.approx(150 * math.log(2), abs=1e-4)  # exp(-z) <= 2^-150, half the smallest subnormal


def test_cross_entropy_gradient_is_p_minus_y():
    z = np.array([2.0, 1.0, 0.1])
    p = np.exp(z) / np.exp(z).sum()
    a = Q["logit-ce-gradient"].answer()
    assert a.value == pytest.approx(p[0] - 1, rel=1e-12)
    assert a.numbers["loss"] == pytest.approx(-math.log(p[0]), rel=1e-12)


def test_mse_on_sigmoid_peaks_at_ln_2():
    # d/dz of sigma^2 is 2 sigma^2 (1 - sigma): largest where sigma = 2/3, z = ln 2; the page's grid
    # runs from -10 to 10 in 800 steps, so its peak is within half a step of that
    a = Q["logit-mse-sigmoid-peak"].answer()
    assert a.value == pytest.approx(math.log(2), abs=20 / 800 / 2 + 1e-12)


# --- judge ---------------------------------------------------------------------------------------

def _far(q: Ls.Question, value: float | str) -> float | str:
    if q.kind == "choice":
        return next(c for c in q.choices if c != value)
    if q.kind == "log10":
        return value * 10 ** (3 * q.tolerance)
    return value + 3 * q.tolerance * abs(value) + (1.0 if value == 0 else 0.0)


@pytest.mark.parametrize("qid", list(Q))
def test_judge_the_answer_is_close_a_far_guess_is_not(qid):
    q = Q[qid]
    a = q.answer()
    assert a.shown in a.text  # the explanation quotes the computed value
    right = q.judge(a.value)
    assert right.close and a.shown in right.text and right.value == a.value
    assert right.off in (None, 0.0)
    wrong = q.judge(_far(q, a.value))
    assert not wrong.close and a.shown in wrong.text and a.text in wrong.text
    if q.kind == "number":
        assert wrong.off == pytest.approx(3 * q.tolerance, rel=1e-9)
    elif q.kind == "log10":
        assert wrong.off == pytest.approx(3 * q.tolerance, rel=1e-9)
        assert "orders of magnitude" in wrong.text


@pytest.mark.parametrize("qid", [q.id for q in Q.values() if q.kind != "choice"])
def test_judge_draws_the_line_at_the_tolerance(qid):
    q = Q[qid]
    v = float(q.answer().value)
    if q.kind == "log10":
        near, beyond = v * 10 ** (-0.9 * q.tolerance), v * 10 ** (-1.1 * q.tolerance)
    else:
        near, beyond = v - 0.9 * q.tolerance * abs(v), v - 1.1 * q.tolerance * abs(v)
    assert q.judge(near).close and not q.judge(beyond).close
    assert q.judge(beyond).off < 0 and "below" in q.judge(beyond).text


def test_judge_refuses_what_is_not_a_guess():
    with pytest.raises(ValueError):
        Q["act-sigmoid-max-slope"].judge("a quarter")
    with pytest.raises(ValueError):
        Q["act-sigmoid-max-slope"].judge(float("nan"))
    with pytest.raises(ValueError):
        Q["van-sigmoid-depth-30"].judge(-1e-3)  # an order of magnitude of a positive ratio
    with pytest.raises(ValueError):
        Q["van-relu-flat-init"].judge("orthogonal")
    assert Q["act-sigmoid-max-slope"].judge("0.25").close  # a number typed as text is fine


# --- every question at every control's extremes: an answer or a clear "no answer", never a crash ----

def _extremes(spec) -> list[list[str]]:
    """Raw URL values at a control's edges: its bounds, every choice, the empty and the longest list."""
    from nnviz.controls import BoolSpec, ChoiceSpec, FloatSpec, IntSpec, MultiChoiceSpec, NumberListSpec

    if isinstance(spec, (FloatSpec, IntSpec)):
        return [spec.url(spec.min), spec.url(spec.max)]
    if isinstance(spec, ChoiceSpec):
        return [spec.url(c) for c in spec.choices]
    if isinstance(spec, MultiChoiceSpec):
        return [[], [spec.choices[0]], [spec.choices[-1]]]
    if isinstance(spec, BoolSpec):
        return [spec.url(True)]
    if isinstance(spec, NumberListSpec):
        lo = spec.integer and int(spec.min) or spec.min
        return [spec.url([lo] * spec.min_len), spec.url([spec.max] * spec.max_len)]
    raise AssertionError(spec)


# Pages whose answers train networks (about 1 s a run, up to three runs a setting: 200 s for every extreme): every
# extreme with NNVIZ_SLOW=1; without it, the first and last extreme of the controls that reach each refusal of their
# answers (depth 1, one epoch, a run too large to answer, a run that blows up, an activation with no dead units)
TRAINING_PAGES = {"deep": ("deep_depth", "deep_epochs", "deep_lr", "deep_act", "deep_width")}


@pytest.mark.parametrize("qid", list(Q))
def test_every_question_survives_every_control_at_its_extremes(qid):
    """Once answered, a question is judged again at the settings on screen on every rerun: a student
    dragging any one control to its edge must get an answer or a ValueError (the page shows it as
    "no answer at these settings"), never another exception (depth 1 once divided by zero)."""
    q = Q[qid]
    few = q.page in TRAINING_PAGES and os.environ.get("NNVIZ_SLOW") != "1"
    threads = torch.get_num_threads()
    if q.page in TRAINING_PAGES:
        torch.set_num_threads(1)  # as the app's server trains
    try:
        _survives_the_extremes(q, TRAINING_PAGES[q.page] if few else None)
    finally:
        torch.set_num_threads(threads)


def _survives_the_extremes(q: Ls.Question, keys: tuple[str, ...] | None) -> None:
    qid = q.id
    for key, spec in Ls.PAGE_SPECS[q.page].items():
        if key in ("part", "view") or (q.page == "activations" and "." in key):  # the tabs; unshown parameters
            continue
        if keys is not None and key not in keys:
            continue
        extremes = _extremes(spec)
        for raw in (extremes if keys is None else extremes[:1] + extremes[-1:]):
            settings = dict(q.settings) | {key: raw}
            try:
                a = q.answer(settings)
            except ValueError:
                continue
            assert isinstance(a.value, str) or math.isfinite(a.value), (qid, key, raw, a.value)
            v = q.judge(a.value, settings)
            assert v.close, (qid, key, raw)  # the answer itself is judged close


# --- verdict wording (issue 17): no "0% above the answer", percentage points for shares, no "close" at 0 --------

@pytest.mark.parametrize("qid", [q.id for q in Q.values() if q.kind != "choice"])
def test_a_guess_equal_to_the_shown_answer_is_called_the_answer(qid):
    """A student who types the value the verdict prints (rounded) is told it is the answer, not "0% above"."""
    q = Q[qid]
    a = q.answer()
    v = q.judge(q.read_guess(a.shown))
    assert v.close, (qid, v.head)
    assert "is the answer" in v.head, (qid, v.head)
    assert not re.search(r"\b0(\.0)?( orders of magnitude|%) (above|below)", v.head), (qid, v.head)


def test_a_share_is_off_by_percentage_points_not_by_a_percent_of_a_percent():
    q = Q["loss-mse-outlier-share"]
    v = float(q.answer().value)
    guess = v - 3.0  # three percentage points below
    head = q.judge(guess).head
    assert "3 percentage points below" in head, head
    assert f"±{q.tolerance * v:.2g} points" in head, head
    assert not re.search(r"\d% (above|below)", head), head


@pytest.mark.parametrize("qid", [q.id for q in Q.values() if q.kind == "number"])
def test_zero_is_never_close_to_an_answer_that_is_not_zero(qid):
    """A relative tolerance of 100 % called a guess of 0 close to an MSE slope of 0.060."""
    q = Q[qid]
    v = float(q.answer().value)
    if v != 0:
        assert not q.judge(0.0).close, (qid, v)


def test_a_number_question_with_a_tolerance_of_100_percent_is_refused():
    with pytest.raises(ValueError, match="below 1"):
        Ls.Question("x-y", "losses", "?", "number", lambda p: None, tolerance=1.0)


def test_one_guessed_outlier_is_singular():
    head = Q["loss-l1-gives-way"].judge(1.0).head
    assert head.startswith("Your guess, 1 outlier,"), head
