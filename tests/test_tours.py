"""nnviz.lessons.TOURS: the tours' structure, every claim a step's text makes checked at the step's own
settings against an independent computation (closed forms, numpy/scipy, plain float64 torch), the
settings' round trip through to_settings, and how Question.read_guess reads what a student types."""
from __future__ import annotations

import ast
import functools
import math
import re
from urllib.parse import parse_qs, urlencode

import numpy as np
import pytest
import torch
from scipy.optimize import linprog, minimize
from torch import nn

from conftest import ROOT
from nnviz import activations as A
from nnviz import classification as C
from nnviz import lessons as Ls
from nnviz import logits as G
from nnviz import losses as L
from nnviz import regression as R
from nnviz import training
from nnviz import vanishing as V

TITLE_MAX = 45  # characters: the title shares a row with five buttons on a 1024 px projector
MIN_STEPS = 5


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread, as the app's server runs: these tensors are far too small to gain from more."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _steps() -> list[tuple[str, int, Ls.Step]]:
    return [(page, i, s) for page, steps in Ls.TOURS.items() for i, s in enumerate(steps)]


STEP_IDS = [f"{page}-{i + 1}" for page, i, _ in _steps()]


def _step(page: str, title: str) -> tuple[Ls.Step, dict]:
    """The step of `page`'s tour with this title, and the page's controls as the step sets them."""
    found = [s for s in Ls.TOURS[page] if s.title == title]
    assert len(found) == 1, f"the {page} tour has no step {title!r}: a retitled step needs its claims rechecked here"
    return found[0], Ls.page_params(page, Ls.step_settings(page, found[0]))


# --- structure -------------------------------------------------------------------------------------

def test_every_page_has_a_tour_of_at_least_five_steps():
    assert set(Ls.TOURS) == set(Ls.PAGES)
    for page in Ls.PAGES:
        assert len(Ls.TOURS[page]) >= MIN_STEPS, (page, len(Ls.TOURS[page]))


@pytest.mark.parametrize("page,i,step", _steps(), ids=STEP_IDS)
def test_step_settings_parse_and_its_question_belongs_to_the_page(page, i, step):
    settings = Ls.step_settings(page, step)
    Ls.page_params(page, settings)  # raises on a key the page does not bind or a value its spec rejects
    if step.question is not None:
        q = Ls.QUESTIONS[step.question]
        assert q.page == page, (page, step.title, q.id)
        q.answer(settings)  # the question has an answer at the settings the step opens (raises if not)
    assert step.title.strip() and step.text.strip()
    assert len(step.title) <= TITLE_MAX, (page, step.title, len(step.title))


def test_every_question_is_asked_by_its_pages_tour():
    for page in Ls.PAGES:
        asked = [s.question for s in Ls.TOURS[page] if s.question]
        missing = [q.id for q in Ls.for_page(page) if q.id not in asked]
        assert not missing, f"the {page} tour never asks {missing}"
        assert len(asked) == len(set(asked)), f"the {page} tour asks a question twice"


def test_titles_are_unique_within_a_tour():
    for page, steps in Ls.TOURS.items():
        titles = [s.title for s in steps]
        assert len(set(titles)) == len(titles), page


def _markdown_hazards(text: str) -> list[str]:
    """What Streamlit's markdown would render as something other than the words: LaTeX, strikethrough,
    HTML, code spans or emphasis left open, emoji shortcodes and colour directives, links, headings."""
    found = []
    if "$" in text:
        found.append("$ (LaTeX)")
    if "~" in text:
        found.append("~ (strikethrough)")
    if re.search(r"<|&\w+;", text):
        found.append("< or an entity (HTML)")
    if text.count("`") % 2:
        found.append("` left open")
    bold = text.count("**")
    if bold % 2:
        found.append("** left open")
    if text.replace("**", "").count("*") % 2:
        found.append("* left open")
    if re.search(r"(?<!\w)_|_(?!\w)", text):
        found.append("_ at a word's edge (emphasis)")
    if re.search(r":[\w/-]+:|:\w+\[", text):
        found.append(":name: or :colour[ (emoji or directive)")
    if re.search(r"\]\(|!\[", text):
        found.append("a link or an image")
    if re.search(r"^\s*(#|>|[-+*] |\d+\. )", text, re.M):
        found.append("a heading, quote or list at a line's start")
    if "\\" in text:
        found.append("a backslash escape")
    return found


@pytest.mark.parametrize("page,i,step", _steps(), ids=STEP_IDS)
def test_step_text_and_title_have_no_markdown_hazards(page, i, step):
    assert not _markdown_hazards(step.text), (page, step.title, _markdown_hazards(step.text))
    # the title is drawn inside **...**: any * or other markup in it would break the bold
    assert not _markdown_hazards(step.title) and "*" not in step.title, (page, step.title)


def test_the_hazard_check_catches_what_it_names():
    for bad in ("costs $5 and $6", "a ~b~ c", "<b>x</b>", "`open", "**open", "*open", "_x_", ":red[x]",
                ":smile:", "[a](http://x)", "# head", "a \\$ b"):
        assert _markdown_hazards(bad), bad
    assert not _markdown_hazards("zero_grad, *Step by step*, **dead**, f'(x) = 0: fine")


# Every step's claims are checked by the test named here; a new or retitled step fails until it has one.
CLAIMS = {
    "activations": {
        "Bend the signal, scale the gradient": "test_act_sigmoid_squashes_and_autograd_gives_its_slope",
        "Saturation": "test_act_saturation_at_x_5",
        "tanh: the same shape, steeper": "test_act_tanh_is_sigmoid_rescaled",
        "ReLU: no slope on the left": "test_act_relu_inactive_on_the_left_leaky_not",
        "The most gradient at x = −4": "test_act_four_functions_at_minus_4",
        "Why it decides if a deep net learns": "test_act_a_quarter_per_layer_and_the_link_to_30_layers",
    },
    "losses": {
        "Clean data, one line": "test_losses_clean_data_one_line",
        "Three outliers": "test_losses_three_outliers_far_below_the_right_end",
        "Who pulls the line?": "test_losses_pull_is_2r_and_sign_r",
        "How many outliers does L1 take?": "test_losses_l1_ignored_three_mse_did_not",
        "Huber: squared near, absolute far": "test_losses_huber_between_mse_and_l1",
        "From a fit to a training run": "test_losses_l1_pull_never_shrinks_and_gd_never_settles",
    },
    "vanishing": {
        "What reaches the first layer": "test_van_first_screen_sigmoid_falls_relu_flat",
        "30 sigmoid layers": "test_van_sigmoid_slope_at_most_a_quarter",
        "Layer by layer": "test_van_layer_by_layer_one_factor_each",
        "ReLU and the initialisation": "test_van_relu_slope_and_three_init_variances",
        "A way around every layer": "test_van_residual_sigmoid_stays_relu_explodes",
        "Normalisation": "test_van_batchnorm_rescues_sigmoid_layernorm_does_not",
    },
    "regression": {
        "The training loop": "test_reg_the_training_loop",
        "What will backward() write?": "test_reg_first_backward_under_l1",
        "The same step under MSE": "test_reg_mse_weighs_errors_by_size_l1_by_sign",
        "A hundred epochs": "test_reg_a_hundred_epochs_of_sgd",
        "Too large a step": "test_reg_lr_1_overshoots_and_the_run_is_stopped",
        "Adam": "test_reg_adam_scales_each_step_by_its_gradient",
    },
    "logits": {
        "Four ways to compute one loss": "test_logit_four_forms_agree_exactly_first_two_part_in_float32",
        "A confident mistake": "test_logit_confident_mistake_settings",
        "Where sigmoid becomes 1": "test_logit_float32_has_about_7_digits",
        "Softmax underflows": "test_logit_softmax_breaks_later_but_breaks",
        "The gradient of cross-entropy": "test_logit_ce_gradient_settings",
        "Squared error on a probability": "test_logit_mse_on_sigmoid_learns_less_the_surer_the_mistake",
        "A straight line cannot split XOR": "test_logit_no_hidden_layer_cannot_split_xor",
        "One hidden layer bends it": "test_logit_one_hidden_layer_of_8_tanh_solves_xor",
    },
}


CLAIMS_ELSEWHERE = {"deep": "test_deep_lessons"}  # pages whose claims tests (and CLAIMS) live in a module of their own


def test_every_step_has_a_claims_test():
    import importlib

    for page, steps in Ls.TOURS.items():
        where = vars(importlib.import_module(CLAIMS_ELSEWHERE[page])) if page in CLAIMS_ELSEWHERE else globals()
        claims = where["CLAIMS"] if page in CLAIMS_ELSEWHERE else CLAIMS[page]
        assert [s.title for s in steps] == list(claims), page
        for name in claims.values():
            assert callable(where.get(name)), name


# --- round trip ------------------------------------------------------------------------------------

def _all_settings() -> list[tuple[str, str, dict]]:
    out = [(page, f"tour-{page}-{i + 1}", Ls.step_settings(page, s)) for page, i, s in _steps()]
    out += [(q.page, q.id, dict(q.settings)) for q in Ls.QUESTIONS.values()]
    out += [(page, f"defaults-{page}", {}) for page in Ls.PAGES]
    return out


@pytest.mark.parametrize("page,name,settings", _all_settings(), ids=[n for _, n, _ in _all_settings()])
def test_to_settings_is_the_inverse_of_page_params(page, name, settings):
    params = Ls.page_params(page, settings)
    canonical = Ls.to_settings(page, params)
    assert Ls.page_params(page, canonical) == params
    assert Ls.to_settings(page, Ls.page_params(page, canonical)) == canonical  # canonical: a fixed point
    defaults = Ls.page_params(page, {})
    assert set(canonical) == {k for k in params if params[k] != defaults[k]}  # only what differs from the default
    for values in canonical.values():
        assert isinstance(values, list) and all(isinstance(v, str) for v in values)
    # through a real link: urlencode, then the query string read back (blank values kept, as Streamlit does)
    query = parse_qs(urlencode([(k, v) for k, vs in canonical.items() for v in vs]), keep_blank_values=True)
    assert Ls.page_params(page, query) == params


def test_to_settings_of_the_defaults_is_empty():
    for page in Ls.PAGES:
        assert Ls.to_settings(page, Ls.page_params(page, {})) == {}


# --- read_guess ------------------------------------------------------------------------------------

NUMBER, PERCENT, LOG10, CHOICE = "act-sigmoid-max-slope", "loss-mse-outlier-share", "van-sigmoid-depth-30", \
    "van-relu-flat-init"
REJECTED = ("abc", "", "   ", "inf", "-inf", "nan", "1e400", "-1e400", "10^99999", "10^9999", "10**400", "1,5",
            "<b>1</b>", "`1`", "0x10", "1e", "--4", "10^-", "½")


def _echoes(message: str, text: str) -> bool:
    """The typed text shows up in the message as a token of its own (not inside another word or number)."""
    t = text.strip()
    return bool(t) and re.search(r"(?<![\w.^*+-])" + re.escape(t) + r"(?!\w|[.+-]\d)", message) is not None


def test_the_echo_check_sees_an_echo():
    assert _echoes("you typed abc here", "abc") and _echoes("got <b>1</b>.", "<b>1</b>")
    assert not _echoes("type a finite number", "inf") and not _echoes("such as 10^-3", "0")
    assert not _echoes("such as 1e-3", "1e") and not _echoes("such as 0.5", "0")


@pytest.mark.parametrize("qid", [NUMBER, PERCENT, LOG10])
def test_read_guess_reads_numbers_and_powers_of_ten(qid):
    q = Ls.QUESTIONS[qid]
    accepted = {"0.25": "0.25", "1e-18": "1e-18", "10^-18": "1e-18", "10**-5": "1e-5", " 0.25 ": "0.25",
                "10^(-3)": "1e-3", "10^3": "1e3", "1E-4": "1e-4", "10 ^ -2": "1e-2"}
    if q.kind != "log10":
        accepted |= {"-4": "-4", "−4": "-4", "0": "0", "-0.5": "-0.5"}  # a minus as typed, or as copied (U+2212)
    for text, expected in accepted.items():
        g = q.read_guess(text)
        assert isinstance(g, float) and g == float(expected), (qid, text, g)


@pytest.mark.parametrize("qid", [NUMBER, PERCENT, LOG10])
def test_read_guess_rejects_what_is_not_a_finite_number_without_echoing_it(qid):
    q = Ls.QUESTIONS[qid]
    rejected = list(REJECTED) + (["0", "-4", "-1e-3", "-10^3"] if q.kind == "log10" else [])
    if q.unit != "%":
        rejected.append("35%")
    for text in rejected:
        with pytest.raises(ValueError) as e:
            q.read_guess(text)
        message = str(e.value)
        assert message and not _echoes(message, text), (qid, text, message)


def test_read_guess_takes_a_percent_sign_only_where_the_unit_is_percent():
    q = Ls.QUESTIONS[PERCENT]
    assert q.unit == "%"
    for text in ("35%", "35", " 35 % ", "3.5e1%"):
        assert q.read_guess(text) == float("35"), text
    for text in ("%", "35%%", "%35x"):
        with pytest.raises(ValueError):
            q.read_guess(text)


def test_read_guess_of_a_choice_question():
    q = Ls.QUESTIONS[CHOICE]
    for c in q.choices:
        assert q.read_guess(c) == c
    for text in ("", "Kaiming", q.choices[0] + " ", "1"):
        with pytest.raises(ValueError) as e:
            q.read_guess(text)
        assert not _echoes(str(e.value), text)


def test_a_read_guess_is_judged():
    q = Ls.QUESTIONS[NUMBER]
    v = q.judge(q.read_guess("0.25"))  # sigma'(0) = 1/4: the answer
    assert v.close and v.head and v.text.startswith(v.head)
    far = q.judge(q.read_guess("10^-3"))
    assert not far.close and far.head in far.text


# --- activations -----------------------------------------------------------------------------------

def _sigma(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _act_params(p: dict) -> dict:
    return {name: {k: p[A.param_key(name, k)] for k in act.params} for name, act in A.ACTIVATIONS.items()
            if act.params}


def _curves(p: dict) -> dict[str, A.Curve]:
    assert p["xmin"] < p["xmax"]
    return {c.name: c for c in A.compute_curves(tuple(p["fn"]), _act_params(p), p["xmin"], p["xmax"], p["sat"])}


def test_act_sigmoid_squashes_and_autograd_gives_its_slope():
    step, p = _step("activations", "Bend the signal, scale the gradient")
    assert "sigmoid" in p["fn"]
    c = _curves(p)["sigmoid"]
    x = np.array(c.x, dtype=np.float64)
    y, dy = np.array(c.y), np.array(c.dy)
    assert np.all((0 < y) & (y < 1))  # "any input squashed into (0, 1)", on the range the page plots
    assert np.allclose(y, _sigma(x), atol=1e-6)
    assert np.allclose(dy, _sigma(x) * (1 - _sigma(x)), atol=1e-6)  # the middle panel: autograd's f'(x)


def test_act_saturation_at_x_5():
    step, p = _step("activations", "Saturation")
    assert p["fn"] == ["sigmoid"] and p["x"] == 5.0 and "x = 5" in step.text  # the dotted line and the inspector
    assert p["sat"] == A.SATURATION.default
    s5 = 1 / (1 + math.exp(-5.0))
    (pt,) = A.inspect_point(("sigmoid",), {}, p["x"])
    assert pt.dy == pytest.approx(s5 * (1 - s5), rel=1e-5)  # the inspector's slope: 0.00665
    assert 0 < pt.dy < p["sat"] / 5  # small: hatched in the strip, well below the threshold
    c = _curves(p)["sigmoid"]
    x = np.array(c.x)
    closed = _sigma(x) * (1 - _sigma(x))
    right = x > 0
    assert np.all(np.diff(closed[right]) < 0)  # "far from 0 ... its slope falls towards 0"
    assert np.all(np.diff(np.array(c.dy)[right]) <= 0)
    assert max(abs(c.dy[0]), abs(c.dy[-1])) < p["sat"] / 10
    # the strip is hatched exactly where sigma' < threshold: |x| beyond x* with sigma(x*) = (1 + sqrt(1 - 4t)) / 2
    st = (1 + math.sqrt(1 - 4 * p["sat"])) / 2
    edge = math.log(st / (1 - st))  # 2.887 for t = 0.05
    step_x = (p["xmax"] - p["xmin"]) / (len(c.x) - 1)
    assert c.zero == []  # nowhere exactly 0 on this range
    assert len(c.small) == 2
    (lo1, hi1), (lo2, hi2) = c.small
    assert lo1 == p["xmin"] and hi2 == p["xmax"]
    assert hi1 == pytest.approx(-edge, abs=step_x) and lo2 == pytest.approx(edge, abs=step_x)
    assert lo2 <= p["x"] <= hi2  # x = 5 lies in the hatched run
    assert "compare it with the largest slope, at 0" in step.text
    assert c.peak_from == c.peak_to == 0.0 and pt.dy < c.peak / 10  # the largest slope is at 0, far above f'(5)


def test_act_tanh_is_sigmoid_rescaled():
    step, p = _step("activations", "tanh: the same shape, steeper")
    assert {"sigmoid", "tanh"} <= set(p["fn"])  # both diamonds on the figure
    c = _curves(p)
    x = np.array(c["tanh"].x)
    t = np.array(c["tanh"].y)
    assert np.allclose(t, 2 * _sigma(2 * x) - 1, atol=1e-6)  # sigmoid stretched to (-1, 1) ...
    assert np.all((-1 < t) & (t < 1)) and t[np.argmin(np.abs(x))] == 0.0  # ... and centred on 0
    assert c["tanh"].peak > c["sigmoid"].peak  # steeper (by how much is the question)


def test_act_relu_inactive_on_the_left_leaky_not():
    step, p = _step("activations", "ReLU: no slope on the left")
    # "dead" is said only of a unit negative for every input; one negative input makes it inactive
    assert "**inactive**" in step.text and "dead** only if its input is negative for every input" in step.text
    assert set(p["fn"]) == {"relu", "leaky_relu"} and p["x"] == -2.0
    c = _curves(p)
    x = np.array(c["relu"].x)
    dy = np.array(c["relu"].dy)
    assert np.all(dy[x < 0] == 0.0) and np.all(dy[x > 0] == 1.0)  # exactly 0 and exactly 1
    assert c["relu"].zero and c["relu"].zero[0][0] == p["xmin"] and c["relu"].zero[0][1] >= x[x < 0].max()
    assert c["relu"].rounded == []  # structural zeros (solid), not float32 rounding
    slope = p[A.param_key("leaky_relu", "negative_slope")]
    z = torch.tensor([p["x"]], dtype=torch.float64, requires_grad=True)
    (ref,) = torch.autograd.grad(nn.functional.leaky_relu(z, slope).sum(), z)
    assert slope == nn.LeakyReLU().negative_slope  # torch's own default
    pts = {pt.name: pt for pt in A.inspect_point(tuple(p["fn"]), _act_params(p), p["x"])}
    assert pts["relu"].dy == 0.0
    assert pts["leaky_relu"].dy == pytest.approx(ref.item(), rel=1e-6) and 0 < pts["leaky_relu"].dy < p["sat"]
    assert c["leaky_relu"].zero == []  # small (hatched), never 0
    assert c["leaky_relu"].small and c["leaky_relu"].small[0][0] == p["xmin"]


def test_act_four_functions_at_minus_4():
    step, p = _step("activations", "The most gradient at x = −4")
    q = Ls.QUESTIONS[step.question]
    assert p["x"] == -4.0 and len(p["fn"]) == 4 and set(p["fn"]) == set(q.choices)


def test_act_a_quarter_per_layer_and_the_link_to_30_layers():
    step, p = _step("activations", "Why it decides if a deep net learns")
    x = np.linspace(-10, 10, 200001)
    assert (_sigma(x) * (1 - _sigma(x))).max() == pytest.approx(0.25, abs=1e-12)  # "at most 0.25"
    assert _curves(p)["sigmoid"].peak == pytest.approx(0.25, abs=1e-7)
    depth = int(re.search(r"(\d+) layers deep", step.text).group(1))
    (label,) = re.findall(r"\*([^*]+)\*", step.text)
    links = [k for k in _page_links("activations") if k["label"].startswith(label)]
    assert len(links) == 1, f"no link on the activation page starts with {label!r}"
    assert links[0]["page"] == "pages/vanishing.py"
    target = Ls.page_params("vanishing", links[0]["query_params"])
    assert target["act"] == ["sigmoid"] and target["depth"] == depth == 30
    s = _sweep(target, "sigmoid")  # that network's gradient does vanish
    assert _ratio(s, depth) < 1e-10


def _page_links(page: str) -> list[dict]:
    """Every st.page_link / .page_link call of pages/<page>.py with literal arguments, in source order."""
    tree = ast.parse((ROOT / "pages" / f"{page}.py").read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "page_link":
            kw = {k.arg: k.value for k in node.keywords}
            try:
                out.append({"line": node.lineno, "page": ast.literal_eval(node.args[0]),
                            "label": ast.literal_eval(kw["label"]),
                            "query_params": ast.literal_eval(kw.get("query_params", ast.Constant({})))})
            except ValueError:  # a computed label or target: not one a tour text can quote
                continue
    return sorted(out, key=lambda k: k["line"])


# --- losses ----------------------------------------------------------------------------------------

def _data(p: dict) -> L.Data:
    return L.make_data(p["outliers"], p["outlier_size"], p["noise"], p["data_seed"])


def _lad(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The L1 line as a linear program: min sum t subject to |y - w x - b| <= t."""
    n = len(x)
    c = np.r_[0.0, 0.0, np.ones(n)]
    eye = np.eye(n)
    A_ub = np.block([[-x[:, None], -np.ones((n, 1)), -eye], [x[:, None], np.ones((n, 1)), -eye]])
    res = linprog(c, A_ub=A_ub, b_ub=np.r_[-y, y], bounds=[(None, None)] * 2 + [(0, None)] * n, method="highs")
    assert res.status == 0
    return float(res.x[0]), float(res.x[1])


def _huber_line(x: np.ndarray, y: np.ndarray, delta: float) -> tuple[float, float]:
    """The Huber line by scipy on the mean Huber loss written out in numpy (0.5 r^2, or delta (|r| - delta / 2))."""
    def f(wb):
        r = y - (wb[0] * x + wb[1])
        a = np.abs(r)
        loss = np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta)).mean()
        psi = np.clip(r, -delta, delta)  # d loss / d r
        return loss, np.array([-(psi * x).mean(), -psi.mean()])
    start = np.polyfit(x, y, 1)
    res = minimize(f, start, jac=True, method="BFGS", options={"gtol": 1e-12, "maxiter": 10000})
    return float(res.x[0]), float(res.x[1])


def test_losses_clean_data_one_line():
    step, p = _step("losses", "Clean data, one line")
    assert p["outliers"] == 0 and set(p["loss"]) == {"l1", "mse"}
    d = _data(p)
    assert not any(d.outlier)
    x, y = np.array(d.x), np.array(d.y)
    l1, mse = L.fit_line(d, "l1"), L.fit_line(d, "mse")
    ls = np.polyfit(x, y, 1)
    assert (mse.slope, mse.intercept) == pytest.approx(tuple(ls), abs=1e-9)
    assert (l1.slope, l1.intercept) == pytest.approx(_lad(x, y), abs=1e-6)
    # "almost the same line": over the data's x range the two lines stay within a quarter of the noise
    xs = np.array(L.X_RANGE)
    gap = np.abs((l1.slope - mse.slope) * xs + (l1.intercept - mse.intercept)).max()
    assert gap < p["noise"] / 4 and abs(l1.slope - mse.slope) < 0.01, (l1.slope, mse.slope, gap)


def test_losses_three_outliers_far_below_the_right_end():
    step, p = _step("losses", "Three outliers")
    d = _data(p)
    assert p["outliers"] == 3 == sum(d.outlier)
    lo, hi = L.X_RANGE
    for x, y, out in zip(d.x, d.y, d.outlier):
        if out:
            assert x >= lo + 0.8 * (hi - lo)  # the right end (the last fifth of the x range)
            assert y - (L.TRUE_SLOPE * x + L.TRUE_INTERCEPT) < -10 * max(p["noise"], 1.0)  # far below


def test_losses_pull_is_2r_and_sign_r():
    step, p = _step("losses", "Who pulls the line?")
    assert p["outliers"] == 3 and "three" in step.text
    curves = L.residual_curves(("mse", "l1"), p["delta"], p["beta"])
    r = np.array(curves["mse"][0])
    assert np.allclose(curves["mse"][2], 2 * r, atol=1e-12)
    assert np.allclose(curves["l1"][2], np.sign(r), atol=1e-12)


def test_losses_l1_ignored_three_mse_did_not():
    step, p = _step("losses", "How many outliers does L1 take?")
    assert p["outliers"] == 3  # "L1 ignored three outliers": the page's default count
    d = _data(p)
    x, y = np.array(d.x), np.array(d.y)
    l1, mse = _lad(x, y)[0], np.polyfit(x, y, 1)[0]
    assert abs(l1 - L.TRUE_SLOPE) < L.HOLD, l1  # within the "held" band
    assert abs(mse - L.TRUE_SLOPE) > L.GIVE_WAY, mse  # "too": MSE has given way already
    assert L.fit_line(d, "l1").slope == pytest.approx(l1, abs=1e-6)


def test_losses_huber_between_mse_and_l1():
    step, p = _step("losses", "Huber: squared near, absolute far")
    assert "huber" in p["loss"] and p["outliers"] == 3  # the δ slider is shown only with Huber chosen
    delta = p["delta"]
    crit = L.LOSSES["huber"].module(delta, p["beta"])
    crit.reduction = "none"
    r = torch.tensor([-3.0, -1.5, -0.5, -0.1, 0.2, 0.7, 2.0, 5.0], dtype=torch.float64, requires_grad=True)
    rho = crit(torch.zeros_like(r), r)
    (d,) = torch.autograd.grad(rho.sum(), r)
    rn = r.detach().numpy()
    near = np.abs(rn) < delta
    assert np.allclose(rho.detach().numpy()[near], 0.5 * rn[near] ** 2)  # squared near
    assert np.allclose(d.numpy()[~near], delta * np.sign(rn[~near]))  # far: a constant force, as L1's
    d_ = _data(p)
    x, y = np.array(d_.x), np.array(d_.y)
    l1, mse = _lad(x, y)[0], np.polyfit(x, y, 1)[0]
    for dl, like, other in ((L.DELTA.max, mse, l1), (L.DELTA.min, l1, mse)):  # large δ: MSE; small δ: L1
        ref = _huber_line(x, y, dl)[0]
        assert L.fit_line(d_, "huber", dl).slope == pytest.approx(ref, abs=1e-5)
        assert abs(ref - like) < abs(ref - other) / 5, (dl, ref, like, other)
    # "Move δ here": the step draws the δ slider in the tour panel
    assert step.offer == ("delta",) and "δ here" in step.text
    assert 'lesson.spot("delta", settings)' in (ROOT / "pages" / "losses.py").read_text()


def test_losses_l1_pull_never_shrinks_and_gd_never_settles():
    step, p = _step("losses", "From a fit to a training run")
    r = torch.tensor([1.0, 1e-2, 1e-4, -1e-4, -1.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(nn.L1Loss(reduction="sum")(torch.zeros_like(r), r), r)
    assert torch.equal(g.abs(), torch.ones_like(r))  # as big at 1e-4 as at 1: it does not shrink
    # gradient descent on L1 (the regression page's default run) keeps stepping past the minimum
    cfg = R.RegressionConfig()
    assert cfg.loss == "l1"
    ws = np.array([s.weight for s in R.train(cfg, every=1)])
    dw = np.diff(ws[-50:])
    assert np.all(dw[1:] * dw[:-1] < 0) and np.abs(dw).min() > 1e-3  # back and forth, by a full step each time
    X, y = _seed_note_data()
    w, b = _seed_note_start()
    ref = []
    for _ in range(cfg.epochs):  # the same run in float64 numpy: subgradient steps of mean |w x + b - y|
        s = np.sign(w * X + b - y)
        w, b = w - cfg.lr * np.mean(s * X), b - cfg.lr * np.mean(s)
        ref.append(w)
    dref = np.diff(ref[-50:])
    assert np.all(dref[1:] * dref[:-1] < 0) and np.abs(dref).min() > 1e-3
    lines = (ROOT / "pages" / "losses.py").read_text().splitlines()
    force = next(i + 1 for i, line in enumerate(lines) if 'key="residual_chart"' in line)  # the force plot
    after = [k for k in _page_links("losses") if k["page"] == "pages/regression.py" and k["line"] > force]
    assert after and after[0]["query_params"] == {"loss_fn": "l1"}  # the link under the force plot, with L1


# --- vanishing -------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _sweep_args(act: str, depth: int, width: int, init: str, std: float, residual: bool, norm: str, dtype: str,
                seed: int) -> V.Sweep:
    return V.sweep(act, depth, width, init, std, residual, norm, dtype, seed)


def _sweep(p: dict, act: str, **change) -> V.Sweep:
    """The page's sweep for one activation at the page's controls `p` (with `change` on top)."""
    q = p | change
    return _sweep_args(act, q["depth"], q["width"], q["init"], q["std"], q["residual"], q["norm"], q["dtype"],
                       q["init_seed"])


def _ratio(s: V.Sweep, depth: int) -> float:
    return s.first_mean[s.depths.index(depth)] / s.first_mean[0]


_REF_ACT = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


@functools.lru_cache(maxsize=None)
def _reference(act: str, init: str, residual: bool, norm: str, width: int, depths: tuple[int, ...] = (1, 30),
               seeds: tuple[int, ...] = (0, 1, 2), batch: int = 16) -> tuple[dict[int, float], list[float]]:
    """The page's experiment written out in plain float64 torch, with its own random draws: hidden layers
    h <- f(norm(W h)) (or h + f(norm(W h)) with residual connections), a Linear(width, 1) head, MSE against
    random targets; the first layer's |dL/dW_1| at each depth over its value at depth 1 (geometric mean over
    seeds), and the std of the hidden state after each layer of the deepest network."""
    f = _REF_ACT[act]

    def draw(shape, g):
        w = torch.empty(*shape, dtype=torch.float64)
        if init == "xavier_normal":
            return nn.init.xavier_normal_(w, generator=g)
        if init == "kaiming_normal":
            return nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)
        raise ValueError(init)

    logs = {d: 0.0 for d in depths}
    stds = np.zeros(max(depths))
    for seed in seeds:
        g = torch.Generator().manual_seed(7919 + seed)
        Ws = [draw((width, width), g) for _ in range(max(depths))]  # (width, width) each
        head = draw((1, width), g)  # (1, width)
        x = torch.randn(batch, width, generator=g, dtype=torch.float64)  # (B, width)
        y = torch.randn(batch, 1, generator=g, dtype=torch.float64)  # (B, 1)
        norms = {}
        for d in depths:
            first = Ws[0].clone().requires_grad_(True)
            h = x
            for i, w in enumerate([first, *Ws[1:d]]):
                z = h @ w.T  # (B, width)
                if norm == "batchnorm":  # over the batch, per unit
                    z = (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)
                elif norm == "layernorm":  # over the units, per example
                    z = (z - z.mean(1, keepdim=True)) / torch.sqrt(z.var(1, unbiased=False, keepdim=True) + 1e-5)
                h = h + f(z) if residual else f(z)
                if d == max(depths):
                    stds[i] += float(h.detach().std()) / len(seeds)
            loss = ((h @ head.T - y) ** 2).mean()
            (gw,) = torch.autograd.grad(loss, first)
            norms[d] = float(gw.norm())
        for d in depths:
            logs[d] += (math.log(norms[d]) - math.log(norms[depths[0]])) / len(seeds)
    return {d: math.exp(v) for d, v in logs.items()}, stds.tolist()


def test_van_first_screen_sigmoid_falls_relu_flat():
    step, p = _step("vanishing", "What reaches the first layer")
    assert p["depth"] == 30 and {"sigmoid", "relu"} <= set(p["act"])
    s = _sweep(p, "sigmoid")
    assert V.N_SEEDS >= 2  # "averaged over several random initialisations" (geometric mean: a log axis)
    for values, mean in zip(s.first, s.first_mean):
        assert mean == pytest.approx(math.exp(np.mean(np.log(values))), rel=1e-9)
    # the first screen's lesson: the sigmoid curve falls, the ReLU one (with its matched init) stays flat
    assert _ratio(s, 30) < 1e-10
    assert _reference("sigmoid", V.resolve_init(p["init"], "sigmoid"), False, "none", p["width"])[0][30] < 1e-10
    r = _sweep(p, "relu")
    assert 0.1 < _ratio(r, 30) < 10 and 0.1 < _ratio(r, V.STACK) < 10
    assert 0.1 < _reference("relu", V.resolve_init(p["init"], "relu"), False, "none", p["width"])[0][30] < 10


def test_van_sigmoid_slope_at_most_a_quarter():
    step, p = _step("vanishing", "30 sigmoid layers")
    assert p["act"] == ["sigmoid"] and p["depth"] == 30
    z = torch.linspace(-20, 20, 400001, dtype=torch.float64, requires_grad=True)
    (d,) = torch.autograd.grad(torch.sigmoid(z).sum(), z)
    assert d.max().item() == pytest.approx(0.25, abs=1e-12)


def test_van_layer_by_layer_one_factor_each():
    """The claim is that the first layer's gradient is a product with one factor per layer: going one
    layer further from the output multiplies the gradient by about the same factor each time."""
    step, p = _step("vanishing", "Layer by layer")
    assert p["act"] == ["sigmoid"] and p["depth"] == 30
    s = _sweep(p, "sigmoid")
    prof = np.log(np.array(s.profile_mean))  # layer 1 (input side) first
    factors = np.exp(np.diff(prof[::-1]))  # gradient of layer l over that of layer l + 1, from the output back
    assert np.all(factors < 1)  # every layer multiplies by a factor below 1 ...
    fit = np.polyfit(np.arange(len(prof)), prof, 1)
    resid = prof - np.polyval(fit, np.arange(len(prof)))
    assert np.abs(resid).max() < 0.1 * (prof.max() - prof.min())  # ... about the same one: a straight line on a log axis


def test_van_layer_by_layer_names_the_gradient_not_the_loss():
    """The loss is one number at the output; the product of one factor per layer is the gradient (the
    chain rule), as the question asks ("by what factor does each extra layer multiply the first layer's
    gradient")."""
    step, p = _step("vanishing", "Layer by layer")
    assert not re.search(r"\bloss is a product\b", step.text, re.I), step.text


def test_van_relu_slope_and_three_init_variances():
    step, p = _step("vanishing", "ReLU and the initialisation")
    assert p["act"] == ["relu"] and p["depth"] == 30
    relu = A.ACTIVATIONS["relu"].build(A.ACTIVATIONS["relu"].defaults()).double()
    z = torch.randn(10000, generator=torch.Generator().manual_seed(0), dtype=torch.float64, requires_grad=True)
    (d,) = torch.autograd.grad(relu(z).sum(), z)
    assert set(d.tolist()) == {0.0, 1.0}  # "1 or 0"
    # σ_w² = fan_in Var(W) of each init, measured on its draws against the closed forms:
    # default U(±1/√fan_in): 1/3; Xavier N(0, 2/(fan_in + fan_out)): 1 for square layers; Kaiming N(0, 2/fan_in): 2
    n = p["width"]
    closed = {"default": 1 / 3, "xavier_normal": 2 * n / (n + n), "kaiming_normal": 2.0}
    g = torch.Generator().manual_seed(1)
    for name, expected in closed.items():
        ws = []
        for _ in range(20):
            w, b = torch.empty(n, n, dtype=torch.float64), torch.empty(n, dtype=torch.float64)
            V.INITS[name][1](w, b, p["std"], g)
            ws.append(w)
        assert n * torch.stack(ws).var().item() == pytest.approx(expected, rel=0.03), name
    assert len(set(closed.values())) == 3 and set(closed) == set(Ls.QUESTIONS[step.question].choices)


def test_van_residual_sigmoid_stays_relu_explodes():
    step, p = _step("vanishing", "A way around every layer")
    assert p["residual"] is True and set(p["act"]) == {"sigmoid", "relu"} and p["norm"] == "none"
    s = _sweep(p, "sigmoid")
    rel = np.array(s.first_mean) / s.first_mean[0]
    assert rel.min() >= 0.5 and _ratio(s, 30) >= 1, rel  # the sigmoid curve no longer falls, at any depth
    r = _sweep(p, "relu")
    assert _ratio(r, 30) > 1e6  # ReLU's gradient explodes ...
    act_std = r.stats["act_std"]
    assert act_std[-1] > 100 * act_std[0]  # ... as its sums grow from layer to layer
    plain = _sweep(p, "sigmoid", residual=False)
    assert _ratio(plain, 30) < 1e-10  # what the identity path rescued
    for act, lo, hi in (("sigmoid", 0.5, 1e3), ("relu", 1e6, math.inf)):  # the same in plain float64 torch
        ratios = _reference(act, V.resolve_init(p["init"], act), True, "none", p["width"])[0]
        assert lo <= ratios[30] <= hi, (act, ratios)
    assert _reference("relu", V.resolve_init(p["init"], "relu"), True, "none", p["width"])[1][-1] > 1e4


def test_van_batchnorm_rescues_sigmoid_layernorm_does_not():
    step, p = _step("vanishing", "Normalisation")
    assert p["act"] == ["sigmoid"] and p["norm"] == "batchnorm" and p["residual"] is False and p["depth"] == 30
    assert "layernorm" in V.NORM.choices
    bn, ln = _sweep(p, "sigmoid"), _sweep(p, "sigmoid", norm="layernorm")
    assert _ratio(bn, 30) > 0.1  # no longer vanishes (it even grows a little: 4x at depth 30)
    assert _ratio(ln, 30) < 1e-6  # layernorm: still vanishes, by 12 orders of magnitude
    init = V.resolve_init(p["init"], "sigmoid")
    assert _reference("sigmoid", init, False, "batchnorm", p["width"])[0][30] > 0.1
    assert _reference("sigmoid", init, False, "layernorm", p["width"])[0][30] < 1e-6
    # "re-centres and rescales every unit's input over the batch before the activation"
    model = V.DeepMLP("sigmoid", 2, p["width"], "batchnorm", dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    V.init_(model, init, p["std"], g)
    pre: list[torch.Tensor] = []
    model(3 + 2 * torch.randn(V.BATCH, p["width"], generator=g, dtype=torch.float64), pre)
    for z in pre:  # (B, width) what each activation receives
        assert torch.allclose(z.mean(0), torch.zeros(p["width"], dtype=torch.float64), atol=1e-12)
        assert torch.allclose(z.var(0, unbiased=False), torch.ones(p["width"], dtype=torch.float64), atol=1e-3)
    # "and on the way back its gradient, by its spread over the batch: that makes up for sigmoid's small slope.
    # Switch to layernorm: it does not." In plain float64 torch with its own draws and BatchNorm/LayerNorm written
    # out: one layer's backward factors (the norm's gain, the slopes', the weights')
    bn_f, bn_spread = _backward_factors_reference("sigmoid", init, "batchnorm", p["width"])
    ln_f, ln_spread = _backward_factors_reference("sigmoid", init, "layernorm", p["width"])
    assert bn_f[0] == pytest.approx(1 / bn_spread, rel=0.2)  # the gradient is divided by about the batch spread
    assert bn_f[1] < 0.3 and 0.8 < bn_f[0] * bn_f[1] < 1.25  # ... which makes up for the small slope
    assert ln_f[0] * ln_f[1] * ln_f[2] < 0.5  # layernorm: the product still shrinks, layer after layer
    none_f, _ = _backward_factors_reference("sigmoid", init, "none", p["width"])
    assert none_f[1] < 0.3  # the slope is small without normalisation too: the units are not saturated ...
    assert _sweep(p, "sigmoid", norm="none").stats["saturated"] == [0.0] * p["depth"]  # ... as the page measures
    # the control the step asks to switch is drawn in the tour panel
    assert step.offer == ("norm",) and "layernorm" in step.text
    assert 'with lesson.spot("norm", settings)' in (ROOT / "pages" / "vanishing.py").read_text()


def _backward_factors_reference(act: str, init: str, norm: str, width: int, depth: int = 30, seeds=(0, 1, 2),
                                batch: int = 16) -> tuple[tuple[float, float, float], float]:
    """Geometric means over layers 2..depth and seeds of |dL/du|/|dL/dz| (the normalisation), |dL/dz|/|dL/dh|
    (the slopes) and |dL/dh_prev|/|dL/du| (the weights), u = W h, z = norm(u), h = f(z); and the mean spread
    the normalisation divides by (layers 2..depth). Plain float64 torch, its own draws (as _reference)."""
    f = _REF_ACT[act]
    init_fn = {"xavier_normal": lambda w, g: nn.init.xavier_normal_(w, generator=g),
               "kaiming_normal": lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)}[init]
    logs, spreads, n = np.zeros(3), [], 0
    for seed in seeds:
        g = torch.Generator().manual_seed(104729 + seed)
        Ws = [init_fn(torch.empty(width, width, dtype=torch.float64), g) for _ in range(depth)]
        head = init_fn(torch.empty(1, width, dtype=torch.float64), g)
        x = torch.randn(batch, width, generator=g, dtype=torch.float64)
        y = torch.randn(batch, 1, generator=g, dtype=torch.float64)
        h, us, zs, hs = x, [], [], []
        for w in Ws:
            u = h @ w.T if h.requires_grad else (h @ w.T).requires_grad_(True)  # (B, width)
            if norm == "batchnorm":
                spreads.append(float(u.detach().std(0, unbiased=False).mean()))
                z = (u - u.mean(0)) / torch.sqrt(u.var(0, unbiased=False) + 1e-5)
            elif norm == "layernorm":
                spreads.append(float(u.detach().std(1, unbiased=False).mean()))
                z = (u - u.mean(1, keepdim=True)) / torch.sqrt(u.var(1, unbiased=False, keepdim=True) + 1e-5)
            else:
                z = u * 1.0
            h = f(z)
            for t, keep in ((u, us), (z, zs), (h, hs)):
                t.retain_grad()
                keep.append(t)
        ((h @ head.T - y) ** 2).mean().backward()
        for l in range(1, depth):
            nu, nz, nh = us[l].grad.norm().item(), zs[l].grad.norm().item(), hs[l].grad.norm().item()
            logs += np.log([nu / nz, nz / nh, hs[l - 1].grad.norm().item() / nu])
            n += 1
    inner = [v for i, v in enumerate(spreads) if i % depth]  # layers 2..depth, as the factors
    return tuple(np.exp(logs / n)), (float(np.mean(inner)) if inner else math.nan)


# --- regression ------------------------------------------------------------------------------------

def _seed_note_start() -> tuple[float, float]:
    """nn.Linear(1, 1) after torch.manual_seed(42), as the seed note writes it (the global state kept)."""
    with torch.random.fork_rng():
        torch.manual_seed(42)
        m = nn.Linear(1, 1)
    return m.weight.item(), m.bias.item()


def _seed_note_data(w: float = 0.7, b: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    X = (np.arange(50) / 50)[:40]  # arange(0, 1, 0.02), the first 80 % train
    return X, w * X + b


def _cfg(p: dict) -> R.RegressionConfig:
    return R.RegressionConfig(weight=p["w"], bias=p["b"], noise=p["y_noise"], n=p["n"], split=p["split"],
                              loss=p["loss_fn"], optimizer=p["opt"], lr=p["lr"], epochs=p["epochs"], seed=p["seed"])


def test_reg_the_training_loop():
    step, p = _step("regression", "The training loop")
    quoted = re.search(r"y = ([-\d.]+)x \+ ([-\d.]+)", step.text)
    assert quoted and (float(quoted.group(1)), float(quoted.group(2))) == (R.W.default, R.B.default) == (p["w"], p["b"])
    assert [name for name, *_ in R.LOOP] == ["forward", "loss", "zero_grad", "backward", "step"]
    assert "five" in step.text and re.search(r"forward, loss, zero_grad, backward, step", step.text)
    assert "Step by step" in R.VIEW.choices  # the page's tab the step names


def test_reg_the_training_loops_points_are_as_noisy_as_it_says():
    step, p = _step("regression", "The training loop")
    d = R.make_data(_cfg(p))
    X, y = d.X_train.double().numpy().ravel(), d.y_train.double().numpy().ravel()
    off = np.abs(y - (p["w"] * X + p["b"])).max()  # 0 within float32 rounding: the default noise is 0
    assert "noisy" not in step.text and "from points on it" in step.text, step.text
    assert off < 1e-6, f"the text says the points lie on the line, but max |y - line| is {off:.1e}"


def test_reg_first_backward_under_l1():
    step, p = _step("regression", "What will backward() write?")
    assert p["loss_fn"] == "l1" and "L1" in step.text


def test_reg_mse_weighs_errors_by_size_l1_by_sign():
    step, p = _step("regression", "The same step under MSE")
    assert p["loss_fn"] == "mse"
    X, y = _seed_note_data(p["w"], p["b"])
    w, b = _seed_note_start()
    pred = torch.tensor(w * X + b, requires_grad=True)  # (40,) the first forward pass
    target = torch.tensor(y)
    (gm,) = torch.autograd.grad(nn.MSELoss()(pred, target), pred)
    (gl,) = torch.autograd.grad(nn.L1Loss()(pred, target), pred)
    e = w * X + b - y
    assert np.allclose(gm.numpy(), 2 * e / len(X), atol=1e-15)  # each point's error, by its size
    assert np.allclose(gl.numpy(), np.sign(e) / len(X), atol=1e-15)  # only its sign


def test_reg_a_hundred_epochs_of_sgd():
    step, p = _step("regression", "A hundred epochs")
    assert p["epochs"] == 100 and p["opt"] == "sgd"


def test_reg_lr_1_overshoots_and_the_run_is_stopped():
    step, p = _step("regression", "Too large a step")
    assert p["loss_fn"] == "mse" and p["lr"] == 1.0 and p["opt"] == "sgd"
    X, y = _seed_note_data(p["w"], p["b"])
    A_ = np.stack([X, np.ones_like(X)], 1)  # (40, 2)
    H = 2 * A_.T @ A_ / len(X)  # the MSE's Hessian in (w, b)
    lam = np.linalg.eigvalsh(H)
    assert 1 - p["lr"] * lam.max() < -1  # along the steepest direction each step overshoots by more than 1x
    opt = np.linalg.lstsq(A_, y, rcond=None)[0]  # the minimum: (0.7, 0.3)
    th = np.array(_seed_note_start())
    dist, losses = [np.linalg.norm(th - opt)], []
    for _ in range(30):  # plain gradient descent in float64
        r = A_ @ th - y
        losses.append(np.mean(r**2))
        th = th - p["lr"] * 2 * A_.T @ r / len(X)
        dist.append(np.linalg.norm(th - opt))
    assert np.all(np.diff(dist) > 0)  # every step ends further from the minimum than it started
    blow = next(i for i, v in enumerate(losses) if v > 100 * losses[0])  # where the loss blows up (100x)
    hist = list(R.train(_cfg(p), every=1))
    last = hist[-1]
    assert last.diverged and last.epoch == blow < p["epochs"] - 1  # the page's run stops right there
    assert training.diverged(last.train_loss, hist[0].train_loss)
    assert last.train_loss == pytest.approx(losses[blow], rel=1e-4)


def test_reg_adam_scales_each_step_by_its_gradient():
    step, p = _step("regression", "Adam")
    assert p["opt"] == "adam" and p["loss_fn"] == "l1"
    X, y = _seed_note_data(p["w"], p["b"])
    w, b = _seed_note_start()
    s = np.sign(w * X + b - y)
    g = np.array([np.mean(s * X), np.mean(s)])  # L1's first gradient in (w, b): different sizes
    assert abs(g[0]) < 0.5 * abs(g[1])
    first = next(iter(R.train(_cfg(p), every=1)))
    step_taken = np.array([first.weight - w, first.bias - b])
    # Adam's first step is lr m / (sqrt(v) + eps) with m = g, v = g^2 after bias correction: lr in size for
    # every parameter, whatever its gradient's size (SGD would move w by lr g_w, much less than b)
    assert np.allclose(step_taken, -p["lr"] * np.sign(g), rtol=1e-4)


# --- logits ----------------------------------------------------------------------------------------

def test_logit_four_forms_agree_exactly_first_two_part_in_float32():
    step, p = _step("logits", "Four ways to compute one loss")
    assert p["part"] == G.PART.default and p["logit_dtype"] == "float32"
    z = np.linspace(-5, 5, 101)
    exact = np.logaddexp(0, z)  # log(1 + e^z): the loss of class 0 given the logit z for class 1
    curves = G.evaluate(z.tolist(), "float64")
    for key in ("bce_naive", "ce_naive", "bce_logits", "ce_logits"):
        assert np.allclose(curves[key].loss, exact, rtol=1e-12, atol=1e-12), key
    sw = G.sweep(p["z_range"], p["logit_dtype"])
    zs = np.array(sw.z)
    ref = np.logaddexp(0, zs)

    def err(key):
        loss = np.array([np.inf if v is None else v for v in sw.curves[key].loss])
        return np.abs(loss - ref)
    for key in ("bce_naive", "ce_naive"):  # the first two part from the reference on this chart
        assert err(key).max() > 1, key
    for key in ("bce_logits", "ce_logits"):  # the logit forms stay on it, to float32 rounding
        assert np.all(err(key) <= 1e-6 * np.maximum(1, ref)), key


def test_logit_confident_mistake_settings():
    step, p = _step("logits", "A confident mistake")
    assert f"z = {Ls.BCE_Z:g}" in step.text and p["logit_dtype"] == "float32"
    assert G.sigmoid_of(Ls.BCE_Z, "float32") == 1.0  # P(class 1) = 1 in float32: as sure as it gets, and wrong


def test_logit_float32_has_about_7_digits():
    step, p = _step("logits", "Where sigmoid becomes 1")
    assert p["logit_dtype"] == "float32" and "about 7 significant digits" in step.text
    assert round(-math.log10(np.finfo(np.float32).eps)) == 7  # 2^-23 = 1.19e-7: 6.9 digits


def test_logit_softmax_breaks_later_but_breaks():
    step, p = _step("logits", "Softmax underflows")
    assert p["logit_dtype"] == "float32"

    def naive_softmax_loss(z: float) -> float:
        t = torch.tensor([0.0, z], dtype=torch.float32)
        return -torch.log(torch.softmax(t, 0))[0].item()
    one = next(z for z in np.arange(0, 200, 0.5) if torch.sigmoid(torch.tensor(z, dtype=torch.float32)).item() == 1)
    assert math.isfinite(naive_softmax_loss(one))  # where sigmoid has already broken, softmax still works
    assert naive_softmax_loss(p["z_range"]) == math.inf  # ... but within the chart's range it breaks too
    pts = G.failure_points("float32")
    assert pts["sigmoid_rounds_to_one"] < pts["softmax_underflows"] <= p["z_range"]


def test_logit_ce_gradient_settings():
    step, p = _step("logits", "The gradient of cross-entropy")
    assert "(2, 1, 0.1)" in step.text and p["logits"] == (2.0, 1.0, 0.1) and p["target"] == 0


def test_logit_mse_on_sigmoid_learns_less_the_surer_the_mistake():
    step, p = _step("logits", "Squared error on a probability")
    z = torch.linspace(-10, 10, 2001, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(nn.MSELoss(reduction="sum")(torch.sigmoid(z), torch.zeros_like(z)), z)
    s = torch.sigmoid(z.detach()).numpy()
    zn = z.detach().numpy()
    assert np.allclose(g.numpy(), 2 * s * (s * (1 - s)), atol=1e-15)  # 2 σ(z) times the factor σ'(z)
    beyond = zn > math.log(2)  # past the peak (σ = 2/3) the more confident the mistake, the smaller the gradient
    assert np.all(np.diff(g.numpy()[beyond]) < 0)
    sat = G.saturation()  # what the page draws
    mg, sz = np.array(sat.mse_grad), np.array(sat.z)
    assert np.all(np.diff(mg[sz > sat.peak_z]) < 0)


def _clf_cfg(p: dict) -> C.ClassifierConfig:
    return C.ClassifierConfig(data=p["data"], n=p["clf_n"], noise=p["clf_noise"], hidden=tuple(p["hidden"]),
                              activation=p["clf_act"], loss=p["clf_loss"], optimizer=p["clf_opt"], lr=p["clf_lr"],
                              epochs=p["clf_epochs"], seed=p["clf_seed"])


def _xor_points(cfg: C.ClassifierConfig) -> tuple[np.ndarray, np.ndarray]:
    d = C.make_data(cfg)
    return torch.cat([d.X_train, d.X_test]).double().numpy(), torch.cat([d.y_train, d.y_test]).numpy()


def test_logit_no_hidden_layer_cannot_split_xor():
    step, p = _step("logits", "A straight line cannot split XOR")
    assert p["part"] == G.PART.choices[1] and p["data"] == "xor" and p["hidden"] == ()
    assert p["clf_epochs"] == C.EPOCHS.default and p["clf_seed"] == C.SEED.default
    cfg = _clf_cfg(p)
    lin = [m for m in C.make_model(cfg) if any(True for _ in m.parameters())]
    assert len(lin) == 1 and isinstance(lin[0], nn.Linear)  # logistic regression: one straight boundary
    X, y = _xor_points(cfg)  # no line separates the classes: w.x + b >= 1 on class 1, <= -1 on class 0 is infeasible
    sgn = np.where(y == 1, 1.0, -1.0)
    res = linprog(np.zeros(3), A_ub=-sgn[:, None] * np.c_[X, np.ones(len(X))], b_ub=-np.ones(len(X)),
                  bounds=[(None, None)] * 3, method="highs")
    assert res.status == 2  # infeasible
    last = list(C.train(cfg, every=cfg.epochs))[-1]
    assert last.test_accuracy <= 0.75 and abs(last.train_loss - math.log(2)) < 0.02, last
    # the trained boundary is a straight line: the logit of P(class 1) is affine in (x, y) over the grid
    gx, gy = np.meshgrid(last.region.xs, last.region.ys)
    prob = np.array(last.region.prob, dtype=np.float64)
    logit = np.log(prob / (1 - prob))
    Z = np.c_[gx.ravel(), gy.ravel(), np.ones(gx.size)]
    coef = np.linalg.lstsq(Z, logit.ravel(), rcond=None)[0]
    assert np.abs(Z @ coef - logit.ravel()).max() < 1e-4 * max(1.0, np.abs(logit).max())


def test_logit_one_hidden_layer_of_8_tanh_solves_xor():
    step, p = _step("logits", "One hidden layer bends it")
    assert p["part"] == G.PART.choices[1] and p["data"] == "xor" and p["hidden"] == (8,) and p["clf_act"] == "tanh"
    assert "Eight tanh units" in step.text
    cfg = _clf_cfg(p)
    last = list(C.train(cfg, every=cfg.epochs))[-1]
    assert not last.diverged and last.test_accuracy >= 0.95, last
    # each quadrant its own colour: P(class 1) > 0.5 exactly where x y < 0 (XOR's class 1), at each quadrant's centre
    xs, ys, prob = np.array(last.region.xs), np.array(last.region.ys), np.array(last.region.prob)
    for cx, cy in ((0.6, 0.6), (-0.6, 0.6), (-0.6, -0.6), (0.6, -0.6)):
        i, j = int(np.abs(xs - cx).argmin()), int(np.abs(ys - cy).argmin())
        assert (prob[j][i] > 0.5) == (xs[i] * ys[j] < 0), (cx, cy, prob[j][i])
