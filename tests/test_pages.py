"""Every page through AppTest: no exception, and the figures' numbers checked from their JSON."""
import re
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import expit

from conftest import figure, shown_script, traces

ACT = "pages/activations.py"


def test_home_links_every_page(app):
    from nnviz.ui.catalog import PAGES

    at = app()
    assert "nnviz" in at.title[0].value
    links = [e.proto.page for e in at.get("page_link")]
    assert sorted(links) == sorted(p.path.removeprefix("pages/").removesuffix(".py") for p in PAGES)
    assert at.sidebar.selectbox(key="device").value == "cpu"


def test_activation_page_default_figure(app):
    at = app(ACT)
    t = traces(at)
    for name in ("sigmoid", "tanh", "relu"):
        assert f"{name}(x)" in t and f"{name}'(x)" in t
        assert t[f"{name}(x)"]["line"]["color"] == t[f"{name}'(x)"]["line"]["color"]
        assert t[f"{name}(x)"]["line"]["dash"] == t[f"{name}'(x)"]["line"]["dash"]  # one dash per function
    assert len({t[f"{n}'(x)"]["line"]["dash"] for n in ("sigmoid", "tanh", "relu")}) == 3  # not colour alone
    x = np.array(t["sigmoid(x)"]["x"])
    assert x[0] == -6.0 and x[-1] == 6.0
    s = expit(x)
    np.testing.assert_allclose(t["sigmoid(x)"]["y"], s, atol=1e-6)
    np.testing.assert_allclose(t["sigmoid'(x)"]["y"], s * (1 - s), atol=1e-6)
    np.testing.assert_allclose(t["tanh'(x)"]["y"], 1 - np.tanh(x) ** 2, atol=1e-6)
    np.testing.assert_allclose(t["relu'(x)"]["y"], (x > 0).astype(float))
    landmarks = at.dataframe[0].value.set_index("function")
    assert landmarks.loc["sigmoid", "largest f'(x)"] == pytest.approx(0.25, abs=1e-7)
    assert landmarks.loc["tanh", "largest f'(x)"] == pytest.approx(1.0, abs=1e-7)
    assert (landmarks["max |autograd − closed form|"] < 1e-6).all()
    inspector = at.dataframe[1].value.set_index("function")
    assert inspector.loc["sigmoid", "f'(x) autograd"] == pytest.approx(expit(1) * (1 - expit(1)), rel=1e-6)
    assert not at.warning


def test_activation_page_every_function_and_parameters(app):
    from nnviz.activations import ACTIVATIONS, MAX_SHOWN

    names = list(ACTIVATIONS)
    at = app(ACT)
    colours = {}
    for batch in (names[:MAX_SHOWN], names[MAX_SHOWN:2 * MAX_SHOWN], names[2 * MAX_SHOWN:]):
        at.multiselect(key="fn").set_value(batch).run()
        assert not at.exception
        t = traces(at)
        assert {f"{n}(x)" for n in batch} <= set(t)
        colours.update({n[:-3]: tr["line"]["color"] for n, tr in t.items() if n.endswith("(x)") and "'" not in n})
        if "leaky_relu" in batch:
            at.slider(key="leaky_relu.negative_slope").set_value(0.3).run()
            at.slider(key="xmin").set_value(-3.0).run()
            at.slider(key="xmax").set_value(2.0).run()
            t = traces(at)
            x = np.array(t["leaky_relu'(x)"]["x"])
            assert x[0] == -3.0 and x[-1] == 2.0
            np.testing.assert_allclose(t["leaky_relu'(x)"]["y"], np.where(x > 0, 1.0, 0.3), atol=1e-7)
    assert len(colours) == len(ACTIVATIONS) and len(set(colours.values())) == len(ACTIVATIONS)  # one colour each


def test_activation_page_bad_link_values_give_notices(app):
    at = app(ACT, fn=["tanh", "bogus"], xmin="99", xmax="abc", sat="0")
    warnings = " ".join(w.value for w in at.warning)
    assert "fn=tanh&fn=bogus" in warnings and "not among the choices" in warnings
    assert "xmin=99" in warnings and "xmax=abc" in warnings and "sat=0" in warnings
    t = traces(at)
    assert "tanh(x)" in t and "sigmoid(x)" not in t


def test_activation_page_reversed_range_and_empty_selection(app):
    at = app(ACT, xmin="4", xmax="-2")
    assert any("swapped" in w.value for w in at.warning)
    x = traces(at)["sigmoid(x)"]["x"]
    assert x[0] == -2.0 and x[-1] == 4.0
    at.multiselect(key="fn").set_value([]).run()
    assert not at.exception and not at.get("plotly_chart")
    assert any("Pick at least one" in i.value for i in at.info)


def test_show_the_code_reproduces_the_page(app, tmp_path):
    at = app(ACT, fn=["sigmoid", "gelu", "softplus"], x="-1.5")
    at.selectbox(key="gelu.approximate").set_value("tanh").run()
    at.slider(key="softplus.beta").set_value(2.0).run()
    code = shown_script(at, 0)
    script = tmp_path / "reproduce.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    printed = {}
    for line in out.stdout.strip().splitlines():
        m = re.match(r"(\w+): max\|f'\| = (\S+) at x = (\S+); f\((\S+)\) = (\S+), f'\(\S+\) = (\S+)$", line)
        assert m, line
        printed[m[1]] = [float(v) for v in m.groups()[1:]]
    assert set(printed) == {"sigmoid", "gelu", "softplus"}
    landmarks = at.dataframe[0].value.set_index("function")
    inspector = at.dataframe[1].value.set_index("function")
    for name, (peak, peak_x, x0, y0, dy0) in printed.items():
        assert x0 == -1.5
        assert peak == pytest.approx(landmarks.loc[name, "largest f'(x)"], rel=1e-5)
        assert y0 == pytest.approx(inspector.loc[name, "f(x)"], rel=1e-5)
        assert dy0 == pytest.approx(inspector.loc[name, "f'(x) autograd"], rel=1e-5)
    # softplus with beta=2 really reached the script: its slope at -1.5 is sigmoid(2 * -1.5)
    assert printed["softplus"][4] == pytest.approx(expit(-3.0), rel=1e-5)


def test_presentation_mode_and_device_persist_in_url(app):
    at = app(ACT, present="true")
    assert at.sidebar.toggle(key="present").value is True
    assert any("font-size: 22px" in h.proto.body for h in at.get("html"))
    fig = at.get("plotly_chart")[0]
    assert '"font":{"size":22}' in fig.proto.spec.replace(" ", "") or "22" in fig.proto.spec
    at.switch_page("pages/home.py").run()
    assert at.sidebar.toggle(key="present").value is True
    assert at.query_params.get("present") in (["true"], "true")


def test_unavailable_device_in_link(app):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the fallback is for machines without it")
    at = app(ACT, device="cuda:0")
    assert any("device=cuda:0" in w.value for w in at.warning)
    assert at.sidebar.selectbox(key="device").value == "cpu"


LOSS_PAGE = "pages/losses.py"


def _run_script(code: str, tmp_path) -> str:
    script = tmp_path / "reproduce.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_loss_page_default_and_controls(app):
    from nnviz import losses as L

    at = app(LOSS_PAGE)
    t = traces(at)
    fits = [n for n in t if n and " fit: " in n]
    assert any(n.startswith("L1 (MAE) fit") for n in fits) and any(n.startswith("MSE fit") for n in fits)
    assert len(t["outliers"]["x"]) == L.OUTLIERS.default
    metrics = {m.label: float(m.value) for m in at.metric}
    # with outliers the MSE slope is dragged further from the clean slope 0.5 than the L1 slope
    assert abs(metrics["MSE slope"] - 0.5) > abs(metrics["L1 (MAE) slope"] - 0.5)
    at.multiselect(key="loss").set_value(["l1", "mse", "huber", "smooth_l1"]).run()
    at.slider(key="delta").set_value(2.0).run()
    at.slider(key="outliers").set_value(0).run()
    assert not at.exception
    assert "outliers" not in traces(at)
    assert any("no outliers" in i.value for i in at.info)
    keys = [c.key for c in at.get("plotly_chart")]
    assert "share_chart" not in keys and {"fit_chart", "residual_chart", "surface_chart"} <= set(keys)
    at.slider(key="outliers").set_value(20).run()
    at.slider(key="outlier_size").set_value(30.0).run()
    at.slider(key="noise").set_value(3.0).run()
    assert not at.exception and "share_chart" in [c.key for c in at.get("plotly_chart")]


def test_loss_page_share_chart_numbers(app):
    at = app(LOSS_PAGE)
    share = figure(at, 2)  # fits, residual force, shares
    outl = [tr for tr in share["data"] if tr["name"] == "outliers"]
    # first subplot: share of the loss; second: of the slope pull. y: loss labels
    grad = dict(zip(outl[1]["y"], outl[1]["x"]))
    assert grad["MSE"] > 80 and grad["L1 (MAE)"] < 30


def test_loss_page_bad_link_values(app):
    at = app(LOSS_PAGE, outliers="500", data_seed="-3", loss=["l1", "l3"], noise="lots")
    text = " ".join(w.value for w in at.warning)
    for bit in ("outliers=500", "data_seed=-3", "loss=l1&loss=l3", "noise=lots"):
        assert bit in text
    assert not at.exception


def test_loss_show_the_code_reproduces_the_fits(app, tmp_path):
    at = app(LOSS_PAGE, loss=["l1", "mse", "huber"], outliers="9", outlier_size="15", data_seed="123", delta="2")
    printed = {}
    for line in _run_script(shown_script(at, 0), tmp_path).strip().splitlines():
        name, rest = line.split(": ")
        printed[name] = [float(v.split(" = ")[1]) for v in rest.split(", ")]
    assert set(printed) == {"l1", "mse", "huber"}
    labels = {"l1": "L1 (MAE)", "mse": "MSE", "huber": "Huber"}
    metrics = {m.label: float(m.value) for m in at.metric}
    for name, (slope, intercept) in printed.items():
        assert slope == pytest.approx(metrics[f"{labels[name]} slope"], abs=1e-4)
    # and against the core's exact fit with the same settings
    from nnviz import losses as L
    d = L.make_data(9, 15.0, L.NOISE.default, 123)
    for name, (slope, intercept) in printed.items():
        f = L.fit_line(d, name, delta=2.0)
        assert slope == pytest.approx(f.slope, abs=1e-6) and intercept == pytest.approx(f.intercept, abs=1e-6)


VAN = "pages/vanishing.py"


def test_vanishing_page_default(app):
    at = app(VAN)
    depth = traces(at, 0)
    for act in ("sigmoid", "tanh", "relu"):
        assert act in depth
        assert depth[act]["x"][0] == 1 and depth[act]["x"][-1] == 50
    # the headline's sigmoid line falls by orders of magnitude from depth 1 to depth 20
    sig = dict(zip(depth["sigmoid"]["x"], depth["sigmoid"]["y"]))
    assert sig[20] < 1e-8 * sig[1]
    assert figure(at, 0)["layout"]["yaxis"]["type"] == "log"
    profile = traces(at, 1)
    assert len(profile["tanh"]["x"]) == 30  # default depth
    labels = [m.label for m in at.metric]
    assert labels == ["sigmoid, depth 50 vs 1", "tanh, depth 50 vs 1", "relu, depth 50 vs 1"]


def test_vanishing_page_theory_line_depth_marker_and_causes(app):
    from nnviz import vanishing as V

    at = app(VAN)
    fig = figure(at, 0)
    t = traces(at, 0)
    for act in ("sigmoid", "tanh", "relu"):  # the theory drawn beside each measured line, to depth 50
        theory = t[f"{act}: theory"]
        assert theory["x"][0] == 1 and theory["x"][-1] == 50
        assert theory["y"][49] == pytest.approx(V.predict(act, 64, "matched").values[49])
    assert [sh["x0"] for sh in fig["layout"]["shapes"] if sh.get("type") == "line"] == [30]  # the depth slider
    assert any("depth 30" in a["text"] for a in fig["layout"]["annotations"])
    causes = at.dataframe[0].value
    assert list(causes["activation"]) == ["sigmoid", "tanh", "relu"]
    assert list(causes["init"]) == ["xavier_normal", "xavier_normal", "kaiming_normal"]
    assert list(causes["weights σ_w²"]) == pytest.approx([1.0, 1.0, 2.0])
    assert "σ_w² = 1/3" in " ".join(m.value for m in at.markdown)  # the default init one click away
    assert figure(at, 1)["layout"]["xaxis"].get("autorange") != "reversed"  # layer 1 on the left everywhere
    at.slider(key="depth").set_value(12).run()
    assert [sh["x0"] for sh in figure(at, 0)["layout"]["shapes"] if sh.get("type") == "line"] == [12]
    at.toggle(key="residual").set_value(True).run()
    assert not [n for n in traces(at, 0) if n and n.endswith("theory")]
    assert "No theory line" in at.caption[0].value


def test_vanishing_page_controls_and_underflow(app):
    at = app(VAN, act="sigmoid", init="normal", std="0.05", depth="50")
    depth = figure(at, 0)
    under = [t for t in depth["data"] if "exactly 0" in (t.get("name") or "")]
    assert under and under[0]["x"] == [50]
    assert any("exactly 0" in w.value for w in at.warning)
    at.selectbox(key="dtype").set_value("float64").run()
    assert not at.exception
    depth = figure(at, 0)
    assert not [t for t in depth["data"] if "exactly 0" in (t.get("name") or "")]
    sig = dict(zip(traces(at, 0)["sigmoid"]["x"], traces(at, 0)["sigmoid"]["y"]))
    assert 0 < sig[50] < 1.4e-45
    at.toggle(key="residual").set_value(True).run()
    at.selectbox(key="norm").set_value("batchnorm").run()
    at.slider(key="width").set_value(128).run()
    at.multiselect(key="act").set_value(["relu", "gelu", "selu", "mish"]).run()
    assert not at.exception and len(traces(at, 0)) >= 4


def test_vanishing_page_bad_link(app):
    at = app(VAN, depth="500", width="7", init="orthogonal", dtype="float16", act=["relu", "swish"])
    text = " ".join(w.value for w in at.warning)
    for bit in ("depth=500", "width=7", "init=orthogonal", "dtype=float16", "act=relu&act=swish"):
        assert bit in text
    assert not at.exception


def test_vanishing_show_the_code_reproduces_the_profile(app, tmp_path):
    from nnviz import vanishing as V

    at = app(VAN, act=["tanh", "relu"], depth="9", width="32", init="xavier_uniform", init_seed="4", residual="true")
    out = _run_script(shown_script(at, 0), tmp_path)
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert set(lines) == {"tanh", "relu"}
    for act, values in lines.items():
        printed = [float(v) for v in values.split()]
        core = V.measure(act, (9,), 32, "xavier_uniform", residual=True, seed=4).grad_norms[9]
        np.testing.assert_allclose(printed, core, rtol=1e-5)
        # the page's profile is the geometric mean of this seed and the next two
        seeds = [V.measure(act, (9,), 32, "xavier_uniform", residual=True, seed=4 + k).grad_norms[9]
                 for k in range(V.N_SEEDS)]
        geo = np.exp(np.log(np.array(seeds)).mean(0))
        np.testing.assert_allclose(traces(at, 1)[act]["y"], geo, rtol=1e-6)


REG = "pages/regression.py"


def test_regression_page_train_stop_and_step(app):
    at = app(REG)
    metrics = {m.label: m.value for m in at.metric}
    import torch

    torch.manual_seed(42)  # the untrained model, as the seed note builds it
    assert metrics["weight"] == f"{torch.nn.Linear(1, 1).weight.item():.4f}"  # nothing trained yet
    at.button(key="train").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["weight"], metrics["bias"]) == ("0.6968", "0.3025")
    assert any("Trained 1000 epochs" in s.value for s in at.success)
    # the final chart: decimated (its envelope keeps every epoch's loss, the minimum and the last)
    from test_regression import assert_chart_draws_the_run, typed
    from nnviz.figures.regression import FINAL_POINTS
    live, hist = traces(at, 0), at.session_state["regression_run"]["history"]
    assert typed(live["train loss"]["y"])[0] == pytest.approx(0.5552, abs=5e-5)
    for name, key in (("train loss", "train_loss"), ("test loss", "test_loss")):
        assert_chart_draws_the_run(figure(at, 0), name, [getattr(s, key) for s in hist], FINAL_POINTS)
    assert any(b.label == "History as CSV" for b in at.get("download_button"))
    # Stop on a run that was still going (as a click mid-run leaves it) keeps what it learned
    run = at.session_state["regression_run"]
    run["state"], run["history"] = "running", run["history"][:300]
    at.button(key="stop").click().run()
    assert any("Stopped after 300 epochs" in i.value for i in at.info)
    assert {m.label: m.value for m in at.metric}["weight"] == f"{run['history'][-1].weight:.4f}"
    # step mode: five lines make one epoch, and the SGD update is shown with its numbers
    at.query_params["view"] = "Step by step"  # the tab, opened by its link (only the open tab is computed)
    at.run()
    assert not [b for b in at.button if b.key in ("train", "compare")]  # the closed tabs were not run
    for _ in range(5):
        at.button(key="next_line").click().run()
    values = at.dataframe[0].value.set_index("quantity")["value"]
    assert float(values["weight.grad"]) == pytest.approx(0.39, abs=1e-6)
    assert any("0.76454 - 0.01" in l.value for l in at.latex)


def test_regression_page_blow_up_and_bad_link(app):
    at = app(REG, loss_fn="mse", lr="8", epochs="abc", opt="rmsprop", device="cuda:3")
    text = " ".join(w.value for w in at.warning)
    assert "epochs=abc" in text and "opt=rmsprop" in text and "device=cuda:3" in text
    at.button(key="train").click().run()
    assert not at.exception
    assert any("blew up" in e.value for e in at.error)


def test_regression_show_the_code_matches_the_page(app, tmp_path):
    at = app(REG, loss_fn="huber", opt="adam", lr="0.03", epochs="200", seed="3", y_noise="0.02")
    at.button(key="train").click().run()
    metrics = {m.label: m.value for m in at.metric}
    out = _run_script(shown_script(at, -1), tmp_path)  # the last: "show the code"
    assert out.strip().splitlines()[-1] == f"weight = {metrics['weight']}, bias = {metrics['bias']}"


def test_regression_device_comparison(app):
    at = app(REG, epochs="100", view="Devices")
    at.button(key="compare").click().run()
    table = at.dataframe[-1].value
    assert "cpu" in list(table["device"])
    cpu = table[table["device"] == "cpu"].iloc[0]
    assert cpu["µs per epoch"] > 0


def test_vanishing_page_exploding_links_do_not_crash(app):
    for query in ({"act": ["tanh", "relu"], "init": "normal", "std": "0.5"},
                  {"act": "relu", "init": "normal", "std": "3", "width": "128"},
                  {"act": "hardtanh", "init": "normal", "std": "3", "dtype": "float64"}):
        at = app(VAN, **query)
        assert not at.exception, query
        labels = {m.label: m.value for m in at.metric}
        assert all(v in ("overflow", "exactly 0", "0 already at depth 1") or v.startswith("× ")
                   for v in labels.values()), labels
        assert "nan" not in " ".join(labels.values())
        heat = figure(at, 2)["data"][0]
        finite = [z for row in heat["z"] for z in row if z is not None]
        assert heat["zmin"] <= min(finite) and heat["zmax"] >= max(finite)


def test_no_two_pages_bind_the_same_url_key(app):
    """A key bound on two pages would carry one page's value into the other (Streamlit copies a
    widget's value by key on a page switch, and filters a link's value for a key another page
    binds); only the frame's keys are shared."""
    from nnviz.ui.catalog import PAGES
    from nnviz.ui.frame import CONTROLS, FRAME_KEYS

    owners: dict[str, list[str]] = {}
    for p in PAGES:
        app(p.path)
    for page, controls in CONTROLS.items():
        for key in controls:
            if key not in FRAME_KEYS:
                owners.setdefault(key, []).append(page)
    assert len({page for pages in owners.values() for page in pages}) >= len(PAGES)
    shared = {k: v for k, v in owners.items() if len(set(v)) > 1}
    assert not shared, shared
