"""nnviz.deep: every per-layer number of a snapshot against a plain-torch network and loop written here
(built from the seed by hand, its own forward pass, clip_grad_norm_ applied by hand, numpy counts and
quantiles), the divergence epoch, determinism across threads, config checks, the shown script, and
the presets' claims (seeds 0-2; 0-9 with NNVIZ_SLOW=1)."""
import contextlib
import io
import math
import os
import re
import subprocess
import sys
import threading
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from nnviz import deep as D
from nnviz import training

SLOW = os.environ.get("NNVIZ_SLOW") == "1"
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
ACTS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}  # the reference's own modules


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread, as the app's server runs (nnviz.runtime)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- The reference: the same network and loop, written out by hand ---------------------------------------

def ref_init(cfg):
    """Every Linear in order (input side first, then the output layer), weight then bias."""
    din = 1 if cfg.data == "sine" else 2
    shapes = [(din, cfg.width)] + [(cfg.width, cfg.width)] * (cfg.depth - 1) + [(cfg.width, 1)]
    if cfg.init == "default":  # what nn.Linear does after torch.manual_seed: the global generator
        torch.manual_seed(cfg.seed)
        return [nn.Linear(a, b) for a, b in shapes]
    g = torch.Generator().manual_seed(cfg.seed)
    layers = [nn.Linear(a, b) for a, b in shapes]  # (their default draws are overwritten below)
    with torch.no_grad():
        for lin in layers:
            if cfg.init == "kaiming_normal":
                nn.init.kaiming_normal_(lin.weight, nonlinearity="relu", generator=g)
            elif cfg.init == "xavier_uniform":
                nn.init.xavier_uniform_(lin.weight, generator=g)
            elif cfg.init == "normal":
                nn.init.normal_(lin.weight, 0.0, cfg.std, generator=g)
            else:
                raise AssertionError(cfg.init)
            nn.init.zeros_(lin.bias)
    return layers


class Ref(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        layers = ref_init(cfg)
        self.hidden, self.out = nn.ModuleList(layers[:-1]), layers[-1]
        norm = {"none": nn.Identity, "batchnorm": lambda: nn.BatchNorm1d(cfg.width),
                "layernorm": lambda: nn.LayerNorm(cfg.width)}[cfg.norm]
        self.norms = nn.ModuleList(norm() for _ in range(cfg.depth))
        self.f = ACTS[cfg.activation]()
        self.residual = cfg.residual

    def forward(self, x):
        self.seen = []
        h = x
        for i, (lin, norm) in enumerate(zip(self.hidden, self.norms)):
            z = norm(lin(h))
            a = self.f(z)
            self.seen.append((z.detach().double().numpy(), a.detach().double().numpy()))
            h = a + h if (self.residual and i >= 1) else a
        return self.out(h)


def ref_run(cfg, every):
    """The plain loop; at the snapshot epochs, what the trainer claims to measure."""
    d = D.make_data(cfg)
    model = Ref(cfg)
    linears = [*model.hidden, model.out]
    w0 = [lin.weight.detach().double().clone() for lin in linears]
    opt = {"sgd": lambda p: torch.optim.SGD(p, lr=cfg.lr),
           "momentum": lambda p: torch.optim.SGD(p, lr=cfg.lr, momentum=0.9),
           "adam": lambda p: torch.optim.Adam(p, lr=cfg.lr)}[cfg.optimizer](model.parameters())
    loss_fn = nn.MSELoss() if cfg.data == "sine" else nn.BCEWithLogitsLoss()
    snaps, losses = {}, []
    for epoch in range(cfg.epochs):
        model.train()
        loss = loss_fn(model(d.X_train), d.y_train)
        opt.zero_grad()
        loss.backward()
        losses.append(loss.item())
        if epoch % every == 0 or epoch == cfg.epochs - 1:
            grads = [lin.weight.grad.double() for lin in linears]
            total = nn.utils.clip_grad_norm_(model.parameters(), math.inf).item()  # max_norm inf: only measures
            w = [lin.weight.detach().double() for lin in linears]
            z = [s[0] for s in model.seen]
            a = [s[1] for s in model.seen]
            dead = [float(np.mean([np.all(zz[:, j] <= 0) for j in range(zz.shape[1])])) for zz in z]
            snaps[epoch] = dict(
                train_loss=loss.item(), grad_norm=[float(np.linalg.norm(g.numpy())) for g in grads], total=total,
                weight_change=[float(np.linalg.norm((wt - ww).numpy()) / np.linalg.norm(ww.numpy())) for wt, ww in zip(w, w0)],
                dead=dead, quantiles=[list(np.quantile(aa.ravel(), D.QUANTILES)) for aa in a])
        if cfg.clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        model.eval()
        with torch.inference_mode():
            test_loss = loss_fn(model(d.X_test), d.y_test).item()
        if epoch in snaps:
            snaps[epoch]["test_loss"] = test_loss
    return snaps, losses, model


SMALL = D.DeepConfig(depth=4, width=12, n=60, epochs=21)
CASES = [
    SMALL,  # sigmoid, PyTorch default, SGD
    replace(SMALL, activation="relu", init="kaiming_normal", optimizer="adam", lr=0.05),  # units die
    replace(SMALL, residual=True, norm="batchnorm", optimizer="momentum", lr=0.1, seed=3),
    replace(SMALL, data="sine", activation="tanh", init="xavier_uniform", norm="layernorm", optimizer="adam", lr=0.01),
    replace(SMALL, activation="relu", init="normal", std=0.6, clip=0.5, data="circles", seed=5),
]


def close(a, b, rtol=2e-4, atol=1e-12):
    return np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=atol)


@pytest.mark.parametrize("cfg", CASES, ids=lambda c: f"{c.activation}-{c.init}-{c.norm}-{c.residual}-{c.clip}")
def test_every_snapshot_number_matches_a_plain_torch_recomputation(cfg):
    hist = D.run(cfg, every=10)
    ref, _, _ = ref_run(cfg, 10)
    assert [s.epoch for s in hist] == [0, 10, 20] == sorted(ref)
    for s in hist:
        r = ref[s.epoch]
        assert len(s.grad_norm) == len(s.weight_change) == cfg.depth + 1 and len(s.quantiles) == cfg.depth
        assert close(s.train_loss, r["train_loss"], 1e-5) and close(s.test_loss, r["test_loss"], 1e-5)
        assert close(s.grad_norm, r["grad_norm"]), (s.grad_norm, r["grad_norm"])  # before clipping
        assert close(s.grad_norm_total, r["total"])
        assert close(s.weight_change, r["weight_change"], 1e-3, 1e-7)
        assert close(s.quantiles, r["quantiles"], 1e-4, 1e-6)
        if cfg.activation == "relu":
            assert s.dead_fraction == pytest.approx(r["dead"], abs=1e-9)  # a count: exact
        else:
            assert s.dead_fraction is None
    assert hist[0].weight_change == [0.0] * (cfg.depth + 1)  # epoch 0's forward used the initial weights


def test_dead_units_are_counted_over_every_training_input_and_the_count_is_not_trivial():
    cfg = CASES[1]
    hist = D.run(cfg, every=10)
    fractions = [f for s in hist for f in s.dead_fraction]
    assert any(0 < f < 1 for f in fractions)  # some layers partly dead: a count, not an all-or-nothing flag
    assert max(fractions) > min(fractions)
    # a unit with z <= 0 for one input but not all is not dead: per-input counting would say more
    ref, _, model = ref_run(cfg, 10)
    model.train()
    model(D.make_data(cfg).X_train)
    z = model.seen[0][0]
    assert (z <= 0).mean() > np.mean(np.all(z <= 0, axis=0))


def test_clipping_is_clip_grad_norm_applied_by_hand_and_changes_the_run():
    cfg = replace(SMALL, activation="relu", init="normal", std=0.6, clip=0.5, epochs=30)
    hist = D.run(cfg, every=29)
    ref, losses, model = ref_run(cfg, 29)
    assert any(s.grad_norm_total > cfg.clip for s in hist)  # clipping did act
    last = hist[-1]
    assert close(last.test_loss, ref[29]["test_loss"], 1e-5)  # after the last (clipped) step
    assert close(last.weight_change, ref[29]["weight_change"], 1e-4, 1e-7)
    free = D.run(replace(cfg, clip=None), every=29)
    assert not close(free[-1].weight_change, last.weight_change, 1e-2)  # without clipping: another run
    # the final weights: the reference loop's after its 30 clipped steps, against the weights the
    # trainer's epoch 30 starts from (a 31-epoch run's last snapshot)
    longer = D.run(replace(cfg, epochs=31), every=30)
    w0 = [lin.weight.detach().double().numpy() for lin in ref_init(cfg)]
    final = [lin.weight.detach().double().numpy() for lin in [*model.hidden, model.out]]
    change = [np.linalg.norm(w - v) / np.linalg.norm(v) for w, v in zip(final, w0)]
    assert close(longer[-1].weight_change, change, 1e-4, 1e-7)


def test_clip_in_the_loop_refuses_bad_norms_and_the_graph_engine():
    model = nn.Linear(1, 1)
    data = training.Data(torch.zeros(2, 1), torch.zeros(2, 1), torch.zeros(1, 1), torch.zeros(1, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="max gradient norm"):
            next(training.epochs(model, nn.MSELoss(), opt, data, 2, clip=bad))
    calls = []
    steps = list(training.epochs(model, nn.MSELoss(), opt, data, 3, before_step=calls.append))
    assert calls == [0, 1, 2] and len(steps) == 3


@CUDA
def test_graph_engine_refuses_clipping():
    model = nn.Linear(1, 1).cuda()
    z = torch.zeros(2, 1, device="cuda")
    with pytest.raises(ValueError, match="eager engine"):
        training.epochs(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                        training.Data(z, z, z, z), 2, engine="cuda_graph", clip=1.0)


def test_default_init_is_nn_linear_after_manual_seed_and_the_sine_is_a_sine():
    cfg = replace(SMALL, seed=7)
    torch.manual_seed(7)
    ref = [nn.Linear(2, 12)] + [nn.Linear(12, 12) for _ in range(3)] + [nn.Linear(12, 1)]
    state = torch.random.get_rng_state()
    model = D.make_model(cfg)
    assert torch.equal(torch.random.get_rng_state(), state)  # no draw from the global generator
    for a, b in zip(model.all_linears(), ref):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    d = D.make_data(replace(cfg, data="sine", noise=0.0, n=100))
    x = d.X_train.double().numpy()
    assert d.X_train.shape == (70, 1) and np.all(np.abs(x) <= 1)
    assert np.allclose(d.y_train.double().numpy(), np.sin(np.pi * x), atol=1e-6)


def test_divergence_says_the_epoch_the_loss_grew_and_the_epoch_it_became_nan():
    cfg = replace(D.PRESETS["exploding"].config, depth=10, n=60, epochs=40)
    hist = D.run(cfg, every=10)
    _, losses, _ = ref_run(replace(cfg, epochs=hist[-1].epoch + 1), 10)
    last = hist[-1]
    assert last.diverged and last.divergence is not None
    grew = next(e for e, v in enumerate(losses) if not math.isfinite(v) or v > 100 * losses[0])
    nonfinite = next((e for e, v in enumerate(losses) if not math.isfinite(v)), None)
    assert last.divergence.epoch == grew and last.divergence.nonfinite_epoch == nonfinite
    assert last.epoch == hist[-2].epoch + 10 and grew <= last.epoch
    text = D.verdict(cfg, hist)
    assert f"at epoch {grew}" in text and "Clipping" in text


def test_same_seed_same_numbers_and_threads_do_not_interfere():
    cfgs = [replace(CASES[1], seed=s) for s in (0, 1)] + [CASES[2]]
    alone = [D.run(c, every=5) for c in cfgs]
    assert D.run(cfgs[0], every=5) == alone[0]
    assert alone[0] != alone[1]
    state = torch.random.get_rng_state()
    results = [None] * 6
    def work(i):
        results[i] = D.run(cfgs[i % 3], every=5)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[i] == alone[i % 3] for i in range(6))
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize("bad, message", [
    (dict(depth=0), "depth must be a whole number from 1 to 30"),
    (dict(depth=31), "depth must be"),
    (dict(width=4), "width must be a whole number from 8 to 128"),
    (dict(width=16.5), "width must be"),
    (dict(activation="swish"), "activation 'swish' is not one of"),
    (dict(init="he"), "init 'he' is not one of"),
    (dict(norm="batch"), "norm 'batch' is not one of none, layernorm, batchnorm"),
    (dict(optimizer="rmsprop"), "optimizer 'rmsprop'"),
    (dict(lr=0.0), "lr must be a number from"),
    (dict(lr=math.nan), "lr must be"),
    (dict(clip=0.0), "clip must be None"),
    (dict(clip=math.inf), "clip must be None"),
    (dict(data="spiral"), "data set 'spiral'"),
    (dict(epochs=0), "epochs must be"),
    (dict(residual="yes"), "residual must be True or False"),
])
def test_bad_configs_say_what_is_wrong(bad, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        D.DeepConfig(**bad)
    with pytest.raises(ValueError):
        list(D.train(SMALL, every=0))


def test_control_defaults_are_the_config_defaults():
    c = D.DeepConfig()
    for spec, v in ((D.DATA, c.data), (D.N, c.n), (D.NOISE, c.noise), (D.DEPTH, c.depth), (D.WIDTH, c.width),
                    (D.ACT, c.activation), (D.INIT, c.init), (D.STD, c.std), (D.RESIDUAL, c.residual),
                    (D.NORM, c.norm), (D.OPT, c.optimizer), (D.LR, c.lr), (D.EPOCHS, c.epochs),
                    (D.SEED, c.seed), (D.CLIP_ON, c.clip is not None)):
        assert spec.default == v, spec.label


SCRIPTED = [replace(CASES[0], epochs=30), replace(CASES[2], clip=1.0, epochs=30), replace(CASES[3], epochs=30),
            replace(CASES[4], epochs=30)]
FINAL = r"Final: epoch (\d+) \| train loss (\S+) \| test loss (\S+)"


def test_shown_scripts_reproduce_the_final_losses(tmp_path):
    """Each script run on its own (runpy, one fresh interpreter for all: torch imports once)."""
    paths = []
    for i, cfg in enumerate(SCRIPTED):
        code = D.script(cfg)
        assert "nnviz" not in code
        paths.append(tmp_path / f"run{i}.py")
        paths[-1].write_text(code)
    runner = "import runpy, sys\nfor p in sys.argv[1:]:\n    print('=== ' + p)\n    runpy.run_path(p, run_name='__main__')\n"
    out = subprocess.run([sys.executable, "-c", runner, *map(str, paths)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    outputs = out.stdout.split("=== ")[1:]
    assert len(outputs) == len(SCRIPTED)
    for cfg, text in zip(SCRIPTED, outputs):
        last = D.run(cfg, every=cfg.epochs)[-1]
        got = re.search(FINAL, text).groups()
        want = re.search(FINAL, D.final_line(last)).groups()
        assert got[0] == want[0]
        assert close([float(got[1]), float(got[2])], [float(want[1]), float(want[2])], 1e-4), (cfg, got, want)


def test_shown_script_of_a_diverging_run_says_when_the_loss_became_nan():
    cfg = replace(D.PRESETS["exploding"].config, depth=10, n=60, epochs=20)
    last = D.run(cfg)[-1]
    ns = {}
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(D.script(cfg), "script", "exec"), ns)
    assert f"at epoch {last.divergence.nonfinite_epoch}" in buf.getvalue()


def test_label_names_what_differs():
    a, b, c = (D.PRESETS[k].config for k in ("sigmoid_default", "relu_he", "sigmoid_residual"))
    assert D.label(a) == "sigmoid · PyTorch default"
    assert D.label(b) == "relu · He"
    assert D.label(c) == "sigmoid · PyTorch default · residual"
    assert D.label(replace(a, lr=0.1), [a]) == "sigmoid · lr 0.1"
    assert D.label(D.PRESETS["exploding_clipped"].config) == "relu · normal, std 0.4 · clip 1"


def test_verdict_numbers_come_from_the_run():
    cfg = replace(CASES[0], epochs=40)
    hist = D.run(cfg)
    fall = 1 - hist[-1].train_loss / hist[0].train_loss
    assert D.loss_fall(hist) == pytest.approx(fall)
    text = D.verdict(cfg, hist)
    assert f"{hist[0].train_loss:.3g} at epoch 0" in text and f"at epoch {hist[-1].epoch}" in text
    assert ("did not learn" in text) == (fall < D.STUCK)


# --- The presets' claims -----------------------------------------------------------------------------

PRESET_SEEDS = range(10) if SLOW else range(3)


@pytest.mark.parametrize("name", list(D.PRESETS))
def test_preset_claims_hold(name):
    p = D.PRESETS[name]
    for seed in PRESET_SEEDS:
        hist = D.run(D.preset(name, seed))
        assert D.holds(p, hist), (name, seed, D.loss_fall(hist), hist[-1].diverged)


def test_the_claims_can_fail():
    """holds() is not vacuous: each claim fails on a run of another preset."""
    runs = {k: D.run(D.preset(k, 0)) for k in ("sigmoid_default", "relu_he", "exploding")}
    assert not D.holds(D.PRESETS["relu_he"], runs["sigmoid_default"])
    assert not D.holds(D.PRESETS["sigmoid_default"], runs["relu_he"])
    assert not D.holds(D.PRESETS["exploding_clipped"], runs["exploding"])
    assert not D.holds(D.PRESETS["exploding"], runs["relu_he"])
    assert not D.holds(D.PRESETS["dying_relu"], runs["relu_he"])


def test_a_30_layer_sigmoid_nets_first_layer_gradient_is_not_lost_to_float32():
    """Its entries (~1e-27) square to below float32's smallest number: a float32 norm said 0 (the heat map's
    first rows and the first question were wrong from about depth 25). Measured in float64 it matches numpy."""
    cfg = D.DeepConfig(depth=30, n=60, epochs=1)
    s = D.run(cfg, every=1)[0]
    r = ref_run(cfg, 1)[0][0]
    assert 0 < s.grad_norm[0] < 1e-20, s.grad_norm[0]
    assert close(s.grad_norm, r["grad_norm"]), (s.grad_norm[:3], r["grad_norm"][:3])


def test_a_net_that_overflows_before_any_step_is_not_told_to_clip():
    """ReLU with N(0, 3²) weights, 30 layers of 128: the untrained forward pass already gives a non-finite loss
    (checked here by plain torch on the same initial network), so no step was taken and clipping cannot help."""
    cfg = D.DeepConfig(activation="relu", init="normal", std=3.0, depth=30, width=128, n=60, epochs=5)
    with torch.no_grad():
        d = D.make_data(cfg)
        first = D.make_loss(cfg)(D.make_model(cfg)(d.X_train), d.y_train).item()
    assert not math.isfinite(first)
    hist = D.run(cfg, every=1)
    said = D.verdict(cfg, hist)
    assert hist[-1].diverged and "before any step" in said and "clipping the steps cannot" in said, said
    assert "caps the size of every step" not in said
