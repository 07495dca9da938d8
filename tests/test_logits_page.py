"""The logits and classification page through AppTest: every number it shows against an
independent computation (numpy float64, closed forms, plain torch written here), the controls and
their links, Train and Stop, the shown scripts executed, and presentation mode."""
from __future__ import annotations

import base64
import math
import re
import subprocess
import sys
from urllib.parse import parse_qs

import numpy as np
import pytest

from conftest import figure, shown_script

PAGE = "pages/logits.py"
CLF = "Train a classifier"
LN2 = math.log(2)
# Where each naive form starts to fail, from the formats alone:
# sigmoid(z) = 1 / (1 + e^-z) is exactly 1 once e^-z is at most half an ulp of 1 (2^-24 in float32,
# 2^-53 in float64); the naive CE gradient 1/p, p ~ e^-z, overflows past the largest finite float;
# softmax's p = e^-z / (1 + e^-z) rounds to 0 below half the smallest subnormal (2^-150, 2^-1075).
FAILS = {
    "float32": (24 * LN2, math.log(float(np.finfo(np.float32).max)), 150 * LN2),  # 16.64, 88.72, 104.0
    "float64": (53 * LN2, math.log(float(np.finfo(np.float64).max)), 1075 * LN2),  # 36.74, 709.8, 745.1
}
METRICS = ("BCELoss: stuck at 100", "softmax form: gradient inf", "softmax form: loss inf")


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _text(at, marker: str) -> str:
    """The one markdown block of the page that contains `marker`."""
    found = [m.value for m in at.markdown if marker in m.value]
    assert len(found) == 1, (marker, found)
    return found[0]


def _warnings(at) -> str:
    return " | ".join(w.value for w in at.warning)


def _array(a) -> np.ndarray:
    """A figure's array: a list, or plotly's base64 typed array (with its shape for 2-D)."""
    if isinstance(a, dict):
        v = np.frombuffer(base64.b64decode(a["bdata"]), dtype=np.dtype(a["dtype"]).newbyteorder("<"))
        return v.reshape([int(s) for s in str(a["shape"]).split(",")]) if "shape" in a else v
    return np.asarray(a, dtype=float)


def _chart_keys(at) -> list[str]:
    return [c.proto.id for c in at.get("plotly_chart")]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _logsumexp(z: np.ndarray) -> float:
    return float(z.max() + np.log(np.exp(z - z.max()).sum()))


def _run(code: str, tmp_path, name: str) -> str:
    script = tmp_path / name
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _vlines(fig: dict) -> list[float]:
    """The z of each vertical mark (one line a panel: the same z once)."""
    return sorted({s["x0"] for s in fig["layout"].get("shapes", []) if s.get("type") == "line" and s["x0"] == s["x1"]})


# === Why losses take logits =========================================================================

def test_first_screen_marks_where_float32_fails(app):
    at = app(PAGE)
    m = _metrics(at)
    # the smallest float32 z whose float32 sigmoid is exactly 1: 1/(1+e^-z) rounds to 1 once e^-z <= 2^-24
    z = np.float32(16.0)
    while np.float32(1) / (np.float32(1) + np.exp(-z, dtype=np.float32)) != np.float32(1):
        z = np.nextafter(z, np.float32(np.inf), dtype=np.float32)
    assert m[METRICS[0]] == f"z ≥ {float(z):.4g}"
    for label, ref in zip(METRICS, FAILS["float32"]):
        assert m[label] == f"z ≥ {ref:.4g}", (label, m[label])
    fig = figure(at, 0)
    names = {t["name"] for t in fig["data"]}
    assert {"BCELoss(sigmoid(z), 0)", "BCEWithLogitsLoss(z, 0)", "CrossEntropyLoss([0, z], 0)"} <= names
    why = _text(at, "The true class is 0")
    one, grad_inf, loss_inf = (f"{v:.4g}" for v in FAILS["float32"])
    assert f"in float32 $\\sigma(z)$ is exactly 1 from $z = {one}$" in why
    assert f"its gradient is infinite from $z = {grad_inf}$, and from $z = {loss_inf}$" in why
    # float32: 1 - p is at least 2^-24 until p rounds to 1, so p(1 - p) never meets BCELoss's 1e-12 floor first
    assert "even earlier" not in why
    # every failure point is on the default chart: marked there, nothing said to be off it
    assert not at.info
    assert (_vlines(fig)) == pytest.approx([FAILS["float32"][0], FAILS["float32"][2]], abs=1e-3)
    # a range too narrow for the failures: the page says where they are, and draws no mark off the chart
    at.slider(key="z_range").set_value(10.0).run()
    note = " ".join(i.value for i in at.info)
    assert "Beyond this chart's ±10" in note, note
    for v in FAILS["float32"]:
        assert f"from z = {v:.4g}" in note
    assert "Set the logit range to 110" in note  # 104 rounded up to the slider's step of 10
    assert _vlines(figure(at, 0)) == []


def test_float64_moves_the_failure_points_and_says_when_they_are_off_the_chart(app):
    at = app(PAGE, logit_dtype="float64")
    m = _metrics(at)
    one, grad_inf, loss_inf = FAILS["float64"]
    for label, ref in zip(METRICS, FAILS["float64"]):
        assert m[label] == f"z ≥ {ref:.4g}", (label, m[label])
    why = _text(at, "The true class is 0")
    assert f"in float64 $\\sigma(z)$ is exactly 1 from $z = {one:.4g}$" in why
    # BCELoss's backward divides by max(p(1-p), 1e-12): with u = e^-z, p(1-p) = u/(1+u)^2 = c has the small
    # root u = 2c / (1 - 2c + sqrt(1 - 4c)) (the roots' product is 1); in float64 that comes before p rounds to 1
    c = float(np.float32(1e-12))
    u = 2 * c / (1 - 2 * c + math.sqrt(1 - 4 * c))
    assert f"even earlier, from $z = {-math.log(u):.4g}$" in why  # 27.63
    # 709.8 and 745.1 lie beyond the default ±120: the page says so, and marks nothing off the chart
    note = " ".join(i.value for i in at.info)
    assert "Beyond this chart's ±120" in note and "Set the logit range to 750" in note, note
    assert f"gradient is inf from z = {grad_inf:.4g}" in note and f"loss is inf from z = {loss_inf:.4g}" in note
    assert "σ(z) is exactly 1" not in note  # 36.7 is on the chart
    fig = figure(at, 0)
    assert _vlines(fig) == pytest.approx([one], abs=1e-6)
    assert all(-120 <= x <= 120 for x in _vlines(fig))
    # raised to the range the note asks for, both marks are on the chart and the note is gone
    at.slider(key="z_range").set_value(750.0).run()
    assert not at.info and not at.exception
    assert (_vlines(figure(at, 0))) == pytest.approx([one, loss_inf], abs=1e-6)


SETTINGS = dict(logits="3, 1, -2, 0.5", temperature="2", target="3")  # not the defaults: every number must move


def test_why_tab_numbers_against_float64_references(app):
    import torch

    at = app(PAGE, **SETTINGS)
    assert not at.warning
    z, t, T = np.array([3.0, 1.0, -2.0, 0.5]), 3, 2.0
    onehot = np.eye(4)[t]
    # softmax caption: the largest logit's probability at T, T/2 and 2T; a shift changes nothing
    cap = _text(at, "At T =")
    mt = re.fullmatch(r"At T = 2 the largest logit \(class 0\) gets p = ([\d.]+); at T/2 it gets ([\d.]+) and at "
                      r"2T ([\d.]+)\. Adding 10 to every logit changes no probability by more than (\S+)\.", cap)
    assert mt, cap
    for shown, temp in zip(mt.groups()[:3], (T, T / 2, 2 * T)):
        assert float(shown) == pytest.approx(_softmax(z / temp)[0], abs=5e-4)
    assert float(mt[4]) <= 1e-15
    # the softmax chart's bars are those probabilities for every class
    bars = {tr["name"]: _array(tr["y"]) for tr in figure(at, 1)["data"]}
    np.testing.assert_allclose(bars["T = 2"], _softmax(z / T), atol=1e-12)
    np.testing.assert_allclose(bars["T/2 (sharper)"], _softmax(z / (T / 2)), atol=1e-12)
    # p - y: the loss by log-sum-exp, and autograd against the closed form (a few ulps apart)
    grad = _text(at, "differ by at most")
    mg = re.search(r"\(here class (\d)\).*differ by at most (\S+) here \(loss ([\d.]+)\)", grad)
    assert mg, grad
    assert int(mg[1]) == t and float(mg[3]) == pytest.approx(_logsumexp(z) - z[t], abs=5e-5)
    zt = torch.tensor(z, requires_grad=True)
    torch.nn.functional.cross_entropy(zt, torch.tensor(t)).backward()
    closed = torch.softmax(zt.detach(), -1) - torch.nn.functional.one_hot(torch.tensor(t), 4)
    assert mg[2] == f"{float((zt.grad - closed).abs().max()):.1e}" and float(mg[2]) <= 1e-15
    np.testing.assert_allclose(_array(figure(at, 2)["data"][0]["y"]), _softmax(z) - onehot, atol=1e-12)
    # MSE on a sigmoid: |dL/dz| = 2 s^2 (1 - s), peak at ln 2; below 1% of CE's s where 2 s (1 - s) < 0.01
    sat = _text(at, "peaks at")
    ms = re.search(r"peaks at \$z = ([-\d.]+)\$.*from \$z = ([-\d.]+)\$ \(shaded\) it is below 1%", sat)
    assert ms, sat
    grid = -10 + 20 * np.arange(801) / 800
    s = 1 / (1 + np.exp(-grid))
    peak = int(np.argmax(2 * s * s * (1 - s)))
    slow = grid[(2 * s * (1 - s) < 0.01) & (grid > grid[peak])][0]
    assert ms[1] == f"{grid[peak]:.2f}" and abs(float(ms[1]) - LN2) <= 0.0125  # half a grid step
    q = (1 + math.sqrt(1 - 0.02)) / 2  # s (1 - s) = 0.005 on the right
    assert ms[2] == f"{slow:.2f}" and 0 <= float(ms[2]) - math.log(q / (1 - q)) < 0.025
    # the double softmax: CE of the probabilities; its gradient goes through softmax's Jacobian
    dbl = _text(at, "softmaxes twice")
    md = re.search(r"the loss here is ([\d.]+) instead of ([\d.]+), it can never go below ([\d.]+) for (\d) "
                   r"classes.*\(largest ([\d.]+) against ([\d.]+)\)", dbl)
    assert md, dbl
    p = _softmax(z)
    jac = np.diag(p) - np.outer(p, p)  # dp/dz
    buggy_grad = jac @ (_softmax(p) - onehot)
    assert float(md[1]) == pytest.approx(_logsumexp(p) - p[t], abs=5e-5)
    assert float(md[2]) == pytest.approx(_logsumexp(z) - z[t], abs=5e-5)
    assert float(md[3]) == pytest.approx(math.log(1 + 3 / math.e), abs=5e-5) and md[4] == "4"
    assert float(md[5]) == pytest.approx(np.abs(buggy_grad).max(), abs=5e-5)
    assert float(md[6]) == pytest.approx(np.abs(p - onehot).max(), abs=5e-5)


def _printed(stdout: str) -> dict[str, list[float]]:
    """The why-tab script's "name: value value ..." lines (values as Python reprs, inf and nan too)."""
    out = {}
    for line in stdout.strip().splitlines():
        name, _, values = line.partition(": ")
        out[name] = [float(v) for v in values.split()]
    return out


def test_why_tab_script_prints_the_pages_numbers(app, tmp_path):
    at = app(PAGE, **SETTINGS)
    printed = _printed(_run(shown_script(at, 0), tmp_path, "logits_and_losses.py"))
    cap = _text(at, "At T =")
    for name, shown in zip(("softmax", "softmax_sharper", "softmax_flatter"), re.findall(r"\d\.\d{3}", cap)):
        assert f"{printed[name][0]:.3f}" == shown
    np.testing.assert_allclose(printed["softmax_shifted"], printed["softmax"], atol=1e-15)
    grad = _text(at, "differ by at most")
    gap = max(abs(a - b) for a, b in zip(printed["grad_autograd"], printed["grad_closed_form"]))
    assert f"differ by at most {gap:.1e} here (loss {printed['ce_loss'][0]:.4f})" in grad
    sat = _text(at, "peaks at")
    assert f"peaks at $z = {printed['mse_peak_z'][0]:.2f}$" in sat
    assert f"from $z = {printed['mse_slow_from_z'][0]:.2f}$" in sat
    correct, buggy = printed["double_softmax_losses"]
    dbl = _text(at, "softmaxes twice")
    assert (f"the loss here is {buggy:.4f} instead of {correct:.4f}, it can never go below "
            f"{printed['double_softmax_floor'][0]:.4f}") in dbl
    assert (f"largest {max(map(abs, printed['grad_buggy'])):.4f} against "
            f"{max(map(abs, printed['grad_correct'])):.4f}") in dbl
    # the naive forms fail at the probes exactly where the page's metrics say they do
    one, grad_inf, loss_inf = (float(v.split("≥")[1]) for v in _metrics(at).values())
    for z0 in (20.0, 120.0, 200.0):
        loss, dz = printed[f"bce_naive@{z0}"]
        assert (loss == 100.0 and dz == 0.0) == (z0 >= one), z0
        loss, dz = printed[f"ce_naive@{z0}"]
        assert math.isinf(loss) == (z0 >= loss_inf) and (not math.isfinite(dz)) == (z0 >= grad_inf), z0
        exact = z0 + math.log1p(math.exp(-z0))
        assert printed[f"bce_logits@{z0}"][0] == pytest.approx(exact, rel=1e-6)
    # and the logit forms' values at the range's edge are the chart's last points
    traces = {tr["name"]: tr for tr in figure(at, 0)["data"] if tr.get("legendgroup") and tr.get("showlegend")}
    for name, key in (("BCEWithLogitsLoss(z, 0)", "bce_logits"), ("CrossEntropyLoss([0, z], 0)", "ce_logits")):
        assert float(_array(traces[name]["x"])[-1]) == 120.0
        assert float(_array(traces[name]["y"])[-1]) == pytest.approx(printed[f"{key}@120.0"][0], rel=1e-6)


# === Controls through the URL ========================================================================

def test_logits_link_repeated_or_comma_separated_is_the_same_page(app):
    a = app(PAGE, logits=["3", "1", "-2"])
    b = app(PAGE, logits="3,1,-2")
    assert not a.warning and not b.warning
    assert a.text_input(key="logits").value == "3, 1, -2"
    assert [m.value for m in a.markdown] == [m.value for m in b.markdown]
    probs = _array(figure(a, 1)["data"][1]["y"])  # the bars at T = 1
    np.testing.assert_allclose(probs, _softmax(np.array([3.0, 1.0, -2.0])), atol=1e-12)
    np.testing.assert_array_equal(probs, _array(figure(b, 1)["data"][1]["y"]))


def test_bad_link_values_give_notices_and_the_defaults(app):
    bad = dict(logits="a,b", temperature="0", target="9", z_range="-5", logit_dtype="float16", part="evil")
    at = app(PAGE, **bad)
    text = _warnings(at)
    for key, value in bad.items():
        assert f"{key}={value}" in text, (key, text)
    assert _metrics(at)[METRICS[0]] == f"z ≥ {FAILS['float32'][0]:.4g}"  # float32 and ±120 again
    assert "here class 0" in _text(at, "differ by at most")
    ref = _softmax(np.array([2.0, 1.0, 0.1]))  # the default logits at T = 1
    assert f"gets p = {ref[0]:.3f}" in _text(at, "At T =")
    for logits in ("1,2", "1e999,1,2"):  # too few; out of range
        at = app(PAGE, logits=logits)
        assert f"logits={logits}" in _warnings(at) and "using the default, " in _warnings(at)
        assert f"gets p = {ref[0]:.3f}" in _text(at, "At T =")


def test_target_beyond_the_classes_is_clamped_with_a_notice(app):
    at = app(PAGE, target="4")  # a valid class number, but the default logits have 3 classes
    assert "true class 4 is read as class 2" in _warnings(at)
    z = np.array([2.0, 1.0, 0.1])
    mg = re.search(r"here class (\d).*\(loss ([\d.]+)\)", _text(at, "differ by at most"))
    assert mg[1] == "2" and float(mg[2]) == pytest.approx(_logsumexp(z) - z[2], abs=5e-5)


def test_typed_bad_logits_give_one_notice_and_the_defaults(app):
    at = app(PAGE)
    at.text_input(key="logits").input("x, y").run()
    assert not at.exception
    assert len(at.warning) == 1 and "x, y" in at.warning[0].value and "using 2, 1, 0.1" in at.warning[0].value
    ref = _softmax(np.array([2.0, 1.0, 0.1]))
    np.testing.assert_allclose(_array(figure(at, 1)["data"][1]["y"]), ref, atol=1e-12)


# === Tabs and the classifier ========================================================================

@pytest.mark.parametrize("query", [{"part": CLF}, {"data": "moons"}, {"clf_epochs": "50"}])
def test_a_classifier_link_opens_its_tab_and_computes_nothing_else(app, query):
    at = app(PAGE, **query)
    assert not at.warning, _warnings(at)
    keys = _chart_keys(at)
    assert len(keys) == 2 and not [k for k in keys if "sweep" in k or "softmax" in k], keys
    assert any("region" in k for k in keys) and any("history" in k for k in keys)
    if "data" in query:
        assert at.selectbox(key="data").value == "moons"


def test_try_links_open_their_settings_without_a_notice(app):
    links = app(PAGE, part=CLF).get("page_link")
    assert len(links) == 5
    for link in links:
        query = {k: v[0] for k, v in parse_qs(link.proto.query_string, keep_blank_values=True).items()}
        at = app(PAGE, **query)
        assert not at.warning, (link.proto.label, _warnings(at))
        for key, value in query.items():
            if key == "part":
                continue
            if key == "clf_lr":
                assert at.number_input(key=key).value == float(value)
                continue
            widget = at.text_input(key=key) if key == "hidden" else at.selectbox(key=key)
            assert str(widget.value).replace(" ", "") == value.replace(" ", ""), (key, widget.value)


def _final_line(stdout: str) -> dict[str, float]:
    m = re.search(r"Final: epoch (\d+) \| train loss (\S+) \| test loss (\S+) \| train accuracy (\S+) \| "
                  r"test accuracy (\S+)$", stdout.strip())
    assert m, stdout[-300:]
    return dict(zip(("epoch", "train loss", "test loss", "train accuracy", "test accuracy"), map(float, m.groups())))


def test_classifier_trains_and_reports_what_its_script_reproduces(app, tmp_path):
    at = app(PAGE, part=CLF)
    assert not at.success
    at.button(key="train_clf").click().run()
    assert not at.exception
    text = " ".join(s.value for s in at.success)
    assert "Trained 300 epochs" in text, text
    m = _metrics(at)
    # the shown script: plain torch, its own loop, run on its own
    final = _final_line(_run(shown_script(at, 0), tmp_path, "train_classifier.py"))
    assert final["epoch"] == 299 and final["test accuracy"] >= 0.95
    for name in ("train accuracy", "test accuracy"):
        assert m[name] == f"{final[name]:.1%}", name
    for name in ("train loss", "test loss"):
        assert float(m[name]) == pytest.approx(final[name], rel=5e-4), name
    assert float(m["test accuracy"].rstrip("%")) >= 95
    verdict = _text(at, "After 300 epochs")
    assert f"{final['test accuracy']:.0%} of the test points" in verdict and "bends around the classes" in verdict


def test_untrained_regions_are_the_seed_notes_model_on_the_extent(app):
    import torch
    from torch import nn

    from nnviz import classification as C

    at = app(PAGE, part=CLF)
    heat = figure(at, 0)["data"][0]
    assert heat["type"] == "heatmap"
    x0, x1, y0, y1 = C.extent(C.ClassifierConfig())
    xs, ys, prob = _array(heat["x"]), _array(heat["y"]), _array(heat["z"])
    np.testing.assert_allclose(xs, np.linspace(x0, x1, len(xs)), atol=1e-6)
    np.testing.assert_allclose(ys, np.linspace(y0, y1, len(ys)), atol=1e-6)
    assert prob.shape == (len(ys), len(xs))
    with torch.random.fork_rng():  # the shown script's model: seed 0, then the Sequential, as the note builds it
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    points = torch.tensor(np.stack([xx, yy], -1).reshape(-1, 2), dtype=torch.float32)
    with torch.no_grad():
        ref = torch.sigmoid(model(points)).reshape(prob.shape).numpy()
    np.testing.assert_allclose(prob, ref, atol=1e-5)


def test_stop_keeps_the_run_and_a_change_asks_for_train(app):
    from nnviz import classification as C

    at = app(PAGE, part=CLF)
    at.button(key="train_clf").click().run()
    before = _metrics(at)
    heat = figure(at, 0)["data"][0]
    prob = _array(heat["z"])
    assert prob.min() >= 0 and prob.max() <= 1 and prob.min() < 0.5 < prob.max()
    x0, x1, y0, y1 = C.extent(C.ClassifierConfig())
    xs, ys = _array(heat["x"]), _array(heat["y"])
    assert (xs[0], xs[-1], ys[0], ys[-1]) == pytest.approx((x0, x1, y0, y1), abs=1e-6)
    # Stop after the run finished: nothing is lost
    at.button(key="stop_clf").click().run()
    assert _metrics(at) == before and any("Trained 300 epochs" in s.value for s in at.success)
    # Stop on a run that was still going (as a click mid-run leaves it) keeps what it learned
    run = at.session_state["classifier_run"]
    run["state"], run["history"] = "running", run["history"][:120]
    at.button(key="stop_clf").click().run()
    assert any("Stopped after 120 epochs" in i.value for i in at.info) and not at.success
    s = run["history"][-1]
    assert _metrics(at)["train accuracy"] == f"{s.train_accuracy:.1%}"
    assert f"After 120 epochs the network classifies {s.train_accuracy:.0%}" in _text(at, "After 120 epochs")
    # a control changed after the run: the page asks for Train instead of showing a stale result
    at.slider(key="clf_noise").set_value(0.2).run()
    assert any("settings changed" in i.value for i in at.info) and not at.metric
    at.slider(key="clf_noise").set_value(0.1).run()  # back to the run's settings: it is shown again
    assert any("Stopped after 120 epochs" in i.value for i in at.info)


def test_xor_without_a_hidden_layer_is_not_separable(app):
    at = app(PAGE, part=CLF, data="xor", hidden="")
    assert at.text_input(key="hidden").value == "" and not at.warning
    at.button(key="train_clf").click().run()
    assert not at.exception
    verdict = _text(at, "After 300 epochs")
    assert "No straight line separates the classes of XOR" in verdict
    assert float(_metrics(at)["test accuracy"].rstrip("%")) <= 65


# === Presentation mode ==============================================================================

def test_presentation_mode_folds_the_intro(app):
    at = app(PAGE, present="true")
    about = [e for e in at.expander if e.label == "About this page"]
    assert len(about) == 1 and "raw scores" in about[0].markdown[0].value
    assert sum("raw scores" in m.value for m in at.main.markdown) == 1  # that one, folded: not also in the open
    assert len(at.get("plotly_chart")) == 5


@pytest.mark.parametrize("query", [dict(data="xor"), dict(part=CLF, data="xor", hidden="8", clf_act="tanh")])
def test_a_link_with_default_classifier_values_keeps_its_tab_through_train(app, query):
    """The link's settings equal the defaults, so they leave the URL on the first rerun: the tab must
    not fall back to the first one then (it did: the tab's default changed between reruns)."""
    at = app(PAGE, **query)
    assert at.query_params.get("part") in (CLF, [CLF])
    at.button(key="train_clf").click().run()
    assert not at.exception
    assert any("Trained 300 epochs" in s.value for s in at.success)
    at.run()
    assert any("Trained 300 epochs" in s.value for s in at.success)


# === The projector: fewer, taller panels (issue 17) =================================================

def test_projector_puts_loss_and_gradient_side_by_side_with_the_same_curves(app):
    """On a 1024x768 projector two stacked panels were 50 px strips: presented, the loss and dL/dz sit side by
    side, each the figure's full height, with the same curves, marks and shading keys as the normal view."""
    normal, present = figure(app(PAGE), 0), figure(app(PAGE, present="true"), 0)
    lay = present["layout"]
    assert lay["yaxis"]["domain"] == lay["yaxis2"]["domain"] == [0, 1]  # each panel the full height
    assert lay["xaxis"]["domain"][1] < lay["xaxis2"]["domain"][0]  # beside each other, not on top
    assert normal["layout"]["yaxis"]["domain"][0] > normal["layout"]["yaxis2"]["domain"][1]  # the normal view: stacked
    assert lay["yaxis"]["title"]["text"] == "loss" and lay["yaxis2"]["title"]["text"] == "dL/dz (autograd)"

    def curves(fig: dict) -> list:
        return [(t.get("xaxis", "x"), t.get("yaxis", "y"), _array(t["y"]).tolist()) for t in fig["data"]
                if t.get("mode") == "lines" and t.get("fill") is None]

    def same(a: list, b: list) -> bool:
        return len(a) == len(b) and all(np.array_equal(np.asarray(x, dtype=float), np.asarray(y, dtype=float),
                                                       equal_nan=True) for (_, _, x), (_, _, y) in zip(a, b))

    assert same(curves(present), curves(normal)) and len(curves(present)) == 10  # 5 forms x loss and dL/dz
    assert {(x, y) for x, y, _ in curves(present)} == {("x", "y"), ("x2", "y2")}
    assert _vlines(present) == pytest.approx([FAILS["float32"][0], FAILS["float32"][2]], abs=1e-3)
    for z in _vlines(present):  # a mark in each panel
        assert {s["xref"] for s in lay["shapes"] if s["x0"] == z} == {"x", "x2"}
    legend = [t["name"] for t in present["data"] if t.get("showlegend", True)]
    assert legend == ["BCELoss(sigmoid) wrong", "-log softmax: inf or nan", "exact (float64)", "BCEWithLogitsLoss",
                      "CrossEntropyLoss", "BCELoss(sigmoid)", "−log softmax"]
    labels = {a["text"]: a["xref"] for a in lay["annotations"]}
    assert labels == {"σ(z) = 1": "x2", "softmax → 0": "x2"}  # the marks' labels in the gradient panel


def test_projector_history_is_one_panel_with_the_accuracies_in_its_legend(app):
    at = app(PAGE, present="true", part=CLF, data="xor", hidden="8", clf_act="tanh", clf_epochs="60")
    before = figure(at, 1)
    assert "yaxis2" not in before["layout"] and [t["name"] for t in before["data"]] == ["train", "test"]
    at.button(key="train_clf").click().run()
    assert not at.exception
    fig, m = figure(at, 1), _metrics(at)
    assert "yaxis2" not in fig["layout"] and {t.get("yaxis", "y") for t in fig["data"]} == {"y"}
    assert [t["name"] for t in fig["data"]] == [f"train {m['train accuracy']}", f"test {m['test accuracy']}"]
    assert fig["layout"]["legend"]["title"]["text"] == "accuracy:"
    # the loss curve is the run's: its last point is the metric's test loss
    assert f"{float(_array(fig['data'][1]['y'])[-1]):.4g}" == m["test loss"]
    # the normal view keeps its accuracy panel
    at = app(PAGE, part=CLF, data="xor", hidden="8", clf_act="tanh", clf_epochs="60")
    at.button(key="train_clf").click().run()
    assert figure(at, 1)["layout"]["yaxis2"]["title"]["text"] == "accuracy"


# === MSE on sigmoid(z) beside BCE (issue 19) =========================================================

STUCK = dict(part=CLF, data="xor", hidden="32", clf_act="tanh", clf_lr="0.5", clf_epochs="100")  # the Try link, shorter


def _plain_xor_run(loss_fn, epochs: int = 100) -> list[float]:
    """The train accuracy of every epoch's forward pass of the textbook loop: seed 0, Linear(2, 32), Tanh,
    Linear(32, 1), Adam at 0.5, on the page's data."""
    import torch
    from torch import nn

    from nnviz import classification as C

    d = C.make_data(C.ClassifierConfig())
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.5)
    accs = []
    for _ in range(epochs):
        out = model(d.X_train)
        loss = loss_fn(out, d.y_train.float().unsqueeze(1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        accs.append(float(((out[:, 0] > 0) == d.y_train.bool()).float().mean()))
    return accs


def test_mse_on_sigmoid_trains_and_compares_with_bce(app, tmp_path):
    import torch
    from torch import nn

    at = app(PAGE, **STUCK)
    at.selectbox(key="clf_loss").set_value("mse_sigmoid").run()  # the student picks the new loss
    assert not at.exception and not at.warning, _warnings(at)
    at.button(key="train_clf").click().run()
    assert not at.exception
    assert any("Trained 100 epochs" in s.value for s in at.success)
    mse_metrics = _metrics(at)
    # the shown script (plain torch, nn.MSELoss on torch.sigmoid) prints the page's numbers
    code = shown_script(at, 0)
    assert "mse(torch.sigmoid(out), target)" in code and "nn.MSELoss()" in code
    final = _final_line(_run(code, tmp_path, "train_classifier.py"))
    assert float(mse_metrics["train loss"]) == pytest.approx(final["train loss"], rel=5e-4)
    assert mse_metrics["train accuracy"] == f"{final['train accuracy']:.1%}"
    mse = nn.MSELoss()
    mse_accs = _plain_xor_run(lambda out, y: mse(torch.sigmoid(out), y))
    assert mse_accs[-1] == pytest.approx(final["train accuracy"], abs=1e-4) and max(mse_accs) < 0.8  # stuck
    verdict = _text(at, "After 100 epochs")
    assert "confidently wrong" in verdict and "less than 2% of the push" in verdict
    assert any("set the loss to bce" in c.value for c in at.caption)
    assert len(figure(at, 1)["data"]) == 4  # train and test, loss and accuracy: no run to compare with yet
    # the same network with BCE: the MSE run stays on the chart, grey and dotted, in both panels
    at.selectbox(key="clf_loss").set_value("bce").run()
    assert not at.exception and any("Dotted grey" in c.value for c in at.caption)
    dotted = [t for t in figure(at, 1)["data"] if t.get("legendgroup") == "earlier"]
    assert [t["name"] for t in dotted] == ["MSE on sigmoid(z) run"] * 2 and dotted[0]["line"]["dash"] == "dot"
    assert f"{float(_array(dotted[0]['y'])[-1]):.4g}" == mse_metrics["train loss"]
    np.testing.assert_allclose(_array(dotted[1]["y"]), mse_accs, atol=1e-6)  # its train accuracy, epoch by epoch
    at.button(key="train_clf").click().run()
    assert not at.exception
    bce_accs = _plain_xor_run(nn.BCEWithLogitsLoss())
    first = next(e for e, a in enumerate(bce_accs) if a >= 0.95) + 1  # the chart's epoch (1-based)
    verdict = _text(at, "After 100 epochs")
    assert (f"95% train accuracy: the MSE on sigmoid(z) run never (in 100 epochs), this BCEWithLogitsLoss run at "
            f"epoch {first}") in verdict, verdict
    assert f"ended at {mse_accs[-1]:.0%} train accuracy" in verdict
    assert _metrics(at)["train accuracy"] == f"{bce_accs[-1]:.1%}" and bce_accs[-1] == 1.0
    kept = [t["name"] for t in figure(at, 1)["data"] if t.get("legendgroup") == "earlier"]
    assert kept == ["MSE on sigmoid(z) run"] * 2


def test_a_link_with_the_new_loss_works_and_a_bad_one_gives_a_notice(app):
    at = app(PAGE, part=CLF, clf_loss="mse_sigmoid")
    assert not at.warning, _warnings(at)
    assert at.selectbox(key="clf_loss").value == "mse_sigmoid"
    for bad in ("mse", "MSE_SIGMOID", "mse_sigmoid`[x](http://evil.example)`"):
        at = app(PAGE, part=CLF, clf_loss=bad)
        assert not at.exception
        assert "clf_loss=" in _warnings(at) and "mse_sigmoid" in _warnings(at), _warnings(at)
        assert at.selectbox(key="clf_loss").value == "bce"  # the default, not the bad value


def test_projector_history_keeps_the_compared_run_in_one_panel(app):
    at = app(PAGE, present="true", **STUCK, clf_loss="mse_sigmoid")
    at.button(key="train_clf").click().run()
    at.selectbox(key="clf_loss").set_value("bce").run()
    at.button(key="train_clf").click().run()
    assert not at.exception
    fig, m = figure(at, 1), _metrics(at)
    assert "yaxis2" not in fig["layout"] and {t.get("yaxis", "y") for t in fig["data"]} == {"y"}
    names = [t["name"] for t in fig["data"]]
    assert names[:2] == [f"train {m['train accuracy']}", f"test {m['test accuracy']}"]
    assert len(names) == 3 and names[2].startswith("MSE on sigmoid(z) run ") and names[2].endswith("%")
