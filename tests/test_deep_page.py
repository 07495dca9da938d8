"""The Deep training page through AppTest: defaults, controls, Train and Stop, compare, every "Try" link
and its claim (seed 0), bad links, the cost cap, and "show the code" against the page's final loss."""
from __future__ import annotations

import math
import subprocess
import sys
from urllib.parse import parse_qs

import numpy as np
import pytest
import torch

from conftest import figure, shown_script
from test_regression import typed
from nnviz import deep as D

PAGE = "pages/deep.py"
FAST = {"deep_epochs": "30"}  # a short run where the test is not about learning


def _texts(at) -> str:
    return " ".join(m.value for m in [*at.markdown, *at.caption, *at.info, *at.error, *at.success])


def _train(at):
    at.button(key="train_deep").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at.session_state["deep_run"]


def _fall(history) -> float:
    """1 - last / first training loss, from the snapshots (not the core's loss_fall)."""
    return 1 - history[-1].train_loss / history[0].train_loss


def test_defaults_render_the_headline_and_every_control(app):
    at = app(PAGE)
    assert not at.warning, [w.value for w in at.warning]
    keys = {w.key for w in [*at.slider, *at.selectbox, *at.number_input, *at.toggle]}
    assert {"deep_data", "deep_n", "deep_noise", "deep_depth", "deep_width", "deep_act", "deep_init", "deep_norm",
            "deep_residual", "deep_opt", "deep_lr", "deep_epochs", "deep_seed", "deep_clip"} <= keys
    assert "deep_std" not in keys and "deep_max_norm" not in keys  # shown only where they apply
    assert len(at.get("plotly_chart")) == 2  # the headline: loss, and the gradient heat map (empty until Train)
    assert "Press **Train**" in _texts(at)
    at = app(PAGE, deep_init="normal", deep_clip="true")
    keys = {w.key for w in [*at.slider, *at.number_input]}
    assert {"deep_std", "deep_max_norm"} <= keys


def test_train_draws_the_run_and_says_what_it_did(app):
    at = app(PAGE, **FAST)
    run = _train(at)
    hist = run["history"]
    assert run["state"] == "done" and hist[-1].epoch == 29 and [s.epoch for s in hist] == list(range(30))
    loss, heat = figure(at, 0), figure(at, 1)
    train = next(t for t in loss["data"] if t["name"] == "train loss")
    np.testing.assert_allclose(typed(train["y"]), [s.train_loss for s in hist], rtol=1e-6)
    z = typed(heat["data"][0]["z"]).reshape(21, 30)  # (layers, snapshots), sent as float32
    assert z.shape == (21, 30) and heat["data"][0]["y"][0] == "1" and heat["data"][0]["y"][-1] == "out"
    np.testing.assert_allclose(z, np.log10(np.array([s.grad_norm for s in hist]).T), rtol=1e-6)
    text = _texts(at)
    fall = _fall(hist)
    assert f"fell by only {fall:.1%}" in text  # the default: a deep sigmoid net that does not learn
    # the weight change, activation and (not counted for sigmoid) dead-unit sections of a finished run
    assert {"deep_weights", "deep_acts"} <= {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}
    assert "Counted for ReLU only" in text and "not for sigmoid" in text
    # the loss axis spans two decades under the first loss: a 0.2% fall is drawn flat
    lo, hi = loss["layout"]["yaxis"]["range"]
    assert hi - lo >= 2


def test_stop_keeps_the_run_and_a_change_asks_for_train(app):
    at = app(PAGE, **FAST)
    run = _train(at)
    run["state"], run["history"] = "running", run["history"][:12]  # as a click mid-run leaves it
    at.button(key="stop_deep").click().run()
    assert any("Stopped after 12 epochs" in i.value for i in at.info)
    assert at.session_state["deep_run"]["state"] == "stopped"
    at.slider(key="deep_depth").set_value(5).run()
    assert any("settings changed" in i.value for i in at.info)


def test_compare_overlays_two_runs_labelled_by_what_differs(app):
    at = app(PAGE, **FAST)
    _train(at)
    assert not [c for c in at.get("plotly_chart") if c.proto.id.endswith("deep_compare")]
    at.selectbox(key="deep_act").set_value("relu").run()
    at.selectbox(key="deep_init").set_value("kaiming_normal").run()
    _train(at)
    charts = [json for json in (figure(at, i) for i in range(len(at.get("plotly_chart"))))
              if any(t.get("name") == "relu · He" for t in json["data"])]
    assert len(charts) == 1
    names = [t["name"] for t in charts[0]["data"] if t.get("showlegend", True)]
    assert names == ["relu · He", "sigmoid · PyTorch default"]  # newest first; what differs: activation and init
    runs = at.session_state["deep_runs"]
    loss = [t for t in charts[0]["data"] if t["xaxis"] == "x"]
    grad = [t for t in charts[0]["data"] if t["xaxis"] == "x2"]
    for trace, run in zip(loss, runs):
        np.testing.assert_allclose(typed(trace["y"]), run["train_loss"], rtol=1e-6)
    for trace, run in zip(grad, runs):
        np.testing.assert_allclose(typed(trace["y"]), run["grad_first"], rtol=1e-6)
    at.button(key="deep_forget").click().run()
    assert not at.session_state["deep_runs"]


def _preset_links(at) -> dict[str, dict[str, list[str]]]:
    return {e.proto.label: parse_qs(e.proto.query_string) for e in at.get("page_link") if e.proto.page == "deep"}


def test_every_preset_is_a_link_with_its_claim(app):
    at = app(PAGE)
    links = _preset_links(at)
    text = _texts(at)
    for p in D.PRESETS.values():
        assert p.title in links, p.title
        assert p.claim in text
    for fraction in ("10%", "50%", "40%", "35%"):  # the fractions the claims are checked against, on the page
        assert fraction in text


@pytest.mark.parametrize("name", list(D.PRESETS))
def test_each_preset_opens_without_notice_and_bears_out_its_claim(app, name):
    p = D.PRESETS[name]
    params = _preset_links(app(PAGE))[p.title]
    at = app(PAGE, **{k: v[0] for k, v in params.items()})
    assert not at.warning, [w.value for w in at.warning]
    for field, key in (("activation", "deep_act"), ("init", "deep_init"), ("norm", "deep_norm"),
                       ("optimizer", "deep_opt"), ("residual", "deep_residual")):
        assert at.session_state[key] == getattr(p.config, field), (name, key)
    assert at.session_state["deep_lr"] == pytest.approx(p.config.lr)
    assert at.session_state["deep_clip"] == (p.config.clip is not None)
    hist = _train(at)["history"]
    last = hist[-1]
    if p.diverges is not None:
        assert last.diverged == p.diverges
    if p.diverges:
        assert any("at epoch" in e.value for e in at.error)  # the page says when it blew up
    if p.max_fall is not None:
        assert _fall(hist) < p.max_fall
    if p.min_fall is not None:
        assert _fall(hist) > p.min_fall
    if p.min_dead is not None:
        assert np.mean(last.dead_fraction) >= p.min_dead
    if p.max_dead_start is not None:
        assert np.mean(hist[0].dead_fraction) <= p.max_dead_start


@pytest.mark.parametrize("query,shown", [
    ({"deep_depth": "abc"}, "deep_depth=abc"), ({"deep_act": "evil"}, "deep_act=evil"),
    ({"deep_lr": "1e9"}, "deep_lr=1e9"), ({"deep_width": "4"}, "deep_width=4"),
    ({"deep_seed": "Infinity"}, "deep_seed=Infinity"), ({"deep_max_norm": "-1", "deep_clip": "true"}, "deep_max_norm=-1"),
    ({"deep_data": "[x](javascript:alert(1))"}, "deep_data="),
])
def test_bad_links_give_a_notice_and_the_defaults(app, query, shown):
    at = app(PAGE, **query)
    assert any(shown in w.value for w in at.warning), [w.value for w in at.warning]
    assert len(at.get("plotly_chart")) == 2


def test_a_run_over_the_cost_cap_gives_the_notice_and_no_training(app):
    at = app(PAGE, deep_n="500", deep_depth="30", deep_width="128", deep_epochs="500", deep_norm="batchnorm",
             deep_act="mish")
    notice = " ".join(w.value for w in at.warning)
    assert "too large" in notice and "Reduce epochs to" in notice
    assert at.button(key="train_deep").disabled  # (AppTest, like a browser, cannot click it)
    assert "deep_run" not in at.session_state and "Press **Train**" in _texts(at)
    at = app(PAGE, deep_n="500", deep_depth="30", deep_width="128", deep_epochs=str(D.largest_allowed(
        D.DeepConfig(n=500, depth=30, width=128, epochs=500))["epochs"]))  # the advice, taken: no notice
    assert not at.warning and not at.button(key="train_deep").disabled


def test_the_vanishing_link_carries_this_network(app):
    at = app(PAGE, deep_act="tanh", deep_depth="7", deep_init="normal", deep_std="0.3", **FAST)
    (link,) = [e for e in at.get("page_link") if e.proto.page == "vanishing"]
    assert parse_qs(link.proto.query_string) == {"act": ["tanh"], "depth": ["7"], "init": ["normal"], "std": ["0.3"]}


def test_show_the_code_reproduces_the_final_loss(app, tmp_path):
    # the page's arithmetic on one thread, as the script's (OMP_NUM_THREADS=1) and as the server runs it: other
    # tests leave this process's torch at its default thread count, and a sum split over 2 threads can differ
    # in the 6th digit the line prints (seen in CI)
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _reproduce(app, tmp_path)
    finally:
        torch.set_num_threads(before)


def _reproduce(app, tmp_path):
    at = app(PAGE, deep_act="relu", deep_init="kaiming_normal", deep_norm="batchnorm", deep_clip="true",
             deep_max_norm="0.5", deep_depth="6", deep_epochs="40", deep_data="circles", deep_opt="momentum")
    hist = _train(at)["history"]
    path = tmp_path / "deep.py"
    path.write_text(shown_script(at, -1))
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120,
                         env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    final = out.stdout.strip().splitlines()[-1]
    assert final in _texts(at)  # the page prints the same line
    train = float(final.split("train loss ")[1].split(" ")[0])
    assert math.isclose(train, hist[-1].train_loss, rel_tol=1e-5)


# --- The cost cap and the words under the figures (nnviz.deep) ------------------------------------------

def _counted_macs(cfg: D.DeepConfig) -> float:
    """Multiply-adds of one epoch - the training forward and backward and the test forward - counted by
    torch's FlopCounterMode (2 flops a multiply-add) on the page's own network and data."""
    from torch.utils.flop_counter import FlopCounterMode

    data, model, loss_fn = D.make_data(cfg), D.make_model(cfg), D.make_loss(cfg)
    with FlopCounterMode(display=False) as counter:
        loss_fn(model(data.X_train), data.y_train).backward()
        with torch.no_grad():
            model(data.X_test)
    return counter.get_total_flops() / 2


@pytest.mark.parametrize("shape", [(500, 30, 128), (50, 30, 8), (500, 1, 128), (200, 20, 32), (500, 10, 64)])
def test_the_largest_allowed_run_stays_under_the_cap_and_the_estimate_is_no_undercount(shape):
    n, depth, width = shape
    big = D.DeepConfig(n=n, depth=depth, width=width, epochs=D.EPOCHS.max, norm="batchnorm", activation="mish")
    epochs = D.largest_allowed(big).get("epochs", D.EPOCHS.max)
    at_cap = D.DeepConfig(n=n, depth=depth, width=width, epochs=epochs, norm="batchnorm", activation="mish")
    assert D.allowed(at_cap) and D.too_costly(at_cap) is None
    if epochs < D.EPOCHS.max:  # one more epoch is refused, with advice
        over = D.DeepConfig(n=n, depth=depth, width=width, epochs=epochs + 1, norm="batchnorm", activation="mish")
        assert not D.allowed(over) and "Reduce epochs to" in D.too_costly(over)
    # the arithmetic torch really does is within the estimate, so the largest allowed run is within the cap
    assert epochs * _counted_macs(at_cap) <= D.work(at_cap) <= D.MAX_WORK


def test_the_cap_allows_the_defaults_and_every_preset_and_refuses_the_largest_run():
    assert D.allowed(D.DeepConfig())
    assert all(D.allowed(p.config) for p in D.PRESETS.values())
    largest = D.DeepConfig(n=500, depth=30, width=128, epochs=500, norm="batchnorm", activation="mish")
    assert not D.allowed(largest)
    fixes = D.largest_allowed(largest)
    for name, value in fixes.items():  # each fix alone brings it within the cap; one step more does not
        assert D.allowed(D.replace(largest, **{name: value}))
    assert D.work(D.replace(largest, epochs=fixes["epochs"] + 1)) > D.MAX_WORK


def test_limits_are_the_closed_forms():
    assert D.limits("sigmoid") == (0.0, 1.0) and D.limits("tanh") == (-1.0, 1.0)
    assert D.limits("relu") == (0.0, None) and D.limits("leaky_relu") == (None, None)
    assert D.limits("elu") == (-1.0, None) and D.limits("softsign") == (-1.0, 1.0)
    assert D.limits("selu")[0] == pytest.approx(-1.0507009873554805 * 1.6732632423543772, abs=1e-4)


@pytest.mark.parametrize("std,saturated", [(None, False), (3.0, True)])
def test_saturation_words_match_a_plain_forward_pass(std, saturated):
    """Epoch 0's activations from a network built here by hand (the same seed): the layers whose 5th or 95th
    percentile lies within 2% of sigmoid's limits 0 and 1 are the ones the page names."""
    cfg = D.DeepConfig(epochs=1, depth=6) if std is None else D.DeepConfig(epochs=1, depth=6, init="normal", std=std)
    g = torch.Generator().manual_seed(cfg.seed)
    if std is None:
        torch.manual_seed(cfg.seed)
        layers = [torch.nn.Linear(a, cfg.width) for a in [2] + [cfg.width] * (cfg.depth - 1)]
    else:
        layers = []
        for a in [2] + [cfg.width] * (cfg.depth - 1):
            lin = torch.nn.Linear(a, cfg.width)
            with torch.no_grad():
                torch.nn.init.normal_(lin.weight, 0.0, std, generator=g)
                torch.nn.init.zeros_(lin.bias)
            layers.append(lin)
    h = D.make_data(cfg).X_train
    low, high = [], []
    with torch.no_grad():
        for i, lin in enumerate(layers, 1):
            h = torch.sigmoid(lin(h))
            q05, q95 = np.quantile(h.numpy().ravel(), [0.05, 0.95])
            low += [i] if q05 <= 0.02 else []
            high += [i] if q95 >= 0.98 else []
    words = D.saturation(D.run(cfg)[0], "sigmoid")
    if not saturated:
        assert not low and not high and "no layer is saturated" in words
    else:
        assert low and high
        assert f"layers {D._layers(low)} have at least 5%" in words and f"layers {D._layers(high)} at least 5%" in words
