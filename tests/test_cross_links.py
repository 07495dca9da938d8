"""Pages that point to each other: every cross-page link is on its page, names only keys its target
binds, and opens the target with those settings applied, with no notice."""
from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from conftest import same_as_link
from nnviz.ui.catalog import PAGES

WHY = "Why losses take logits"
LONGEST = ["leaky_relu", "hardswish", "hardtanh", "softplus"]  # the longest label the vanishing page can write
# (source page, the source's query, the cross-page links expected there: (target url path, params)).
# Written out by hand, so a link that changes its target or its settings fails here.
CASES = {
    "activations": ("pages/activations.py", {}, [
        ("vanishing", {"act": ["sigmoid"], "init": ["matched"], "depth": ["30"]}),
        ("logits", {"part": [WHY]}),
    ]),
    "losses": ("pages/losses.py", {}, [("regression", {"loss_fn": ["l1"]})]),
    "vanishing default": ("pages/vanishing.py", {}, [
        ("deep", {"deep_act": ["sigmoid"], "deep_depth": ["30"], "deep_init": ["matched"]}),
        ("activations", {"fn": ["sigmoid", "tanh", "relu"]})]),
    "vanishing chosen": ("pages/vanishing.py", {"act": LONGEST, "depth": "5", "width": "16"}, [
        ("deep", {"deep_act": ["leaky_relu"], "deep_depth": ["5"], "deep_init": ["matched"]}),
        ("activations", {"fn": LONGEST})]),
    "vanishing too deep": ("pages/vanishing.py", {"act": "relu", "depth": "50", "init": "normal", "std": "0.3"}, [
        ("deep", {"deep_act": ["relu"], "deep_depth": ["30"], "deep_init": ["normal"], "deep_std": ["0.3"]}),
        ("activations", {"fn": ["relu"]})]),  # the deep page trains 30 hidden layers at most
    "deep default": ("pages/deep.py", {}, [("vanishing", {"act": ["sigmoid"], "depth": ["20"], "init": ["default"]})]),
    # residual connections and a normalisation travel both ways (both pages have them)
    "vanishing normalised": ("pages/vanishing.py", {"act": "tanh", "depth": "10", "residual": "true", "norm": "layernorm"}, [
        ("deep", {"deep_act": ["tanh"], "deep_depth": ["10"], "deep_init": ["matched"], "deep_residual": ["true"],
                  "deep_norm": ["layernorm"]}),
        ("activations", {"fn": ["tanh"]})]),
    "deep batchnorm": ("pages/deep.py", {"deep_norm": "batchnorm", "deep_residual": "true"}, [
        ("vanishing", {"act": ["sigmoid"], "depth": ["20"], "init": ["default"], "residual": ["true"],
                       "norm": ["batchnorm"]})]),
    "regression l1": ("pages/regression.py", {"view": "Step by step"}, [("losses", {"loss": ["l1", "mse"]})]),
    "logits why": ("pages/logits.py", {}, [("activations", {"fn": ["sigmoid"]})]),
}
PATHS = {p.path.removeprefix("pages/").removesuffix(".py"): p.path for p in PAGES}


def _cross_links(at, source: str) -> list[tuple[str, dict[str, list[str]], str]]:
    """(target, params, label) of every page_link on the page that leads to another page."""
    own = source.removeprefix("pages/").removesuffix(".py")
    return [(e.proto.page, parse_qs(e.proto.query_string, keep_blank_values=True), e.proto.label)
            for e in at.get("page_link") if e.proto.page != own]


def _open_target(app, target: str, params: dict[str, list[str]]):
    """Open the target with the link's settings; no exception, no notice, each key bound and applied."""
    from nnviz.ui.frame import CONTROLS

    at = app(PATHS[target], **params)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.warning, [w.value for w in at.warning]
    bound = CONTROLS.get(target, {})
    for key, raw in params.items():
        assert key in bound, f"{target} binds no {key!r} (it binds {sorted(bound)})"
        assert same_as_link(at.session_state[key], raw), (target, key, at.session_state[key], raw)
    return at


@pytest.mark.parametrize("case", list(CASES))
def test_each_cross_link_is_there_and_opens_its_target_with_its_settings(app, case):
    source, query, expected = CASES[case]
    links = _cross_links(app(source, **query), source)
    assert [(t, p) for t, p, _ in links] == expected, links
    for target, params, label in links:
        assert label and "\n" not in label and len(label) <= 100, label  # one line that says what is there
        _open_target(app, target, params)


def test_sigmoid_link_lands_where_each_layer_takes_about_a_quarter(app):
    """The (0.25)^L story: with the link's init the weights' scale is 1 (Xavier on square layers:
    2 * 64 / (64 + 64)), so the activation's slope, at most 1/4, is the whole per-layer factor."""
    (_, params), _ = CASES["activations"][2]
    at = _open_target(app, "vanishing", params)
    causes = next(d.value for d in at.dataframe if "per layer" in d.value.columns)
    row = causes.set_index("activation").loc["sigmoid"]
    assert row["weights σ_w²"] == pytest.approx(2 * 64 / (64 + 64))
    assert 0.2**2 < row["activation E[f'²]"] <= 1 / 16  # sigmoid'(z) <= 1/4, and near it for small z
    assert 0.2 < row["per layer"] <= 0.25
    # measured over 49 layers: about 0.25 per layer (the default init would give about 0.14)
    assert 0.2 < row["measured"] ** (1 / 49) <= 0.26


def test_l1_link_lands_on_a_run_that_ends_hopping_between_two_lines(app):
    (_, params), = CASES["losses"][2]
    at = _open_target(app, "regression", params)
    at.button(key="train").click().run()
    assert not at.exception
    hist = at.session_state["regression_run"]["history"]
    last = [(s.weight, s.bias) for s in hist[-4:]]
    assert last[0] == last[2] and last[1] == last[3] and last[0] != last[1]  # a 2-cycle to the end


def test_saturation_link_opens_the_mse_on_sigmoid_section(app):
    (_, params), = CASES["activations"][2][1:]
    at = _open_target(app, "logits", params)
    keys = [c.proto.id for c in at.get("plotly_chart")]
    assert any("saturation_chart" in k for k in keys), keys


def test_regression_links_to_the_force_plot_only_under_l1(app):
    at = app("pages/regression.py", loss_fn="mse")
    assert not _cross_links(at, "pages/regression.py")
