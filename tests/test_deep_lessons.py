"""The Deep training page's questions and tour (nnviz.lessons, page "deep"): every answer against a plain-torch
network and loop written here (the layers built by hand from the seed, torch's own modules, losses and
optimisers, norms in float64), the judge on right and wrong guesses, and every claim of every tour step at the
step's own settings. The questions at other seeds run with NNVIZ_SLOW=1."""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from torch import nn

from nnviz import deep as D
from nnviz import lessons as Ls

SLOW = os.environ.get("NNVIZ_SLOW") == "1"
Q = Ls.QUESTIONS
DEEP_QUESTIONS = [q.id for q in Ls.for_page("deep")]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread, as the app's server runs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- the reference: the page's network and loop, written out by hand --------------------------------------

def _cfg(p: dict) -> D.DeepConfig:
    """The run the page's controls describe (written here again: the page maps its widgets one to one)."""
    return D.DeepConfig(data=p["deep_data"], n=p["deep_n"], noise=p["deep_noise"], depth=p["deep_depth"],
                        width=p["deep_width"], activation=p["deep_act"], init=p["deep_init"], std=p["deep_std"],
                        residual=p["deep_residual"], norm=p["deep_norm"], optimizer=p["deep_opt"], lr=p["deep_lr"],
                        epochs=p["deep_epochs"], clip=p["deep_max_norm"] if p["deep_clip"] else None,
                        seed=p["deep_seed"])


def _layers(cfg: D.DeepConfig) -> list[nn.Linear]:
    """Every Linear, input side first, then the output layer; PyTorch's default init is what nn.Linear does after
    torch.manual_seed(seed) (the global generator, put back afterwards), the others draw from a generator."""
    din = 1 if cfg.data == "sine" else 2
    shapes = [(din, cfg.width)] + [(cfg.width, cfg.width)] * (cfg.depth - 1) + [(cfg.width, 1)]
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        layers = [nn.Linear(a, b) for a, b in shapes]
    if cfg.init == "default":
        return layers
    g = torch.Generator().manual_seed(cfg.seed)
    with torch.no_grad():
        for lin in layers:
            if cfg.init == "kaiming_normal":
                nn.init.kaiming_normal_(lin.weight, nonlinearity="relu", generator=g)
            elif cfg.init == "normal":
                nn.init.normal_(lin.weight, 0.0, cfg.std, generator=g)
            else:
                raise AssertionError(cfg.init)
            nn.init.zeros_(lin.bias)
    return layers


class Net(nn.Module):
    def __init__(self, cfg: D.DeepConfig):
        super().__init__()
        layers = _layers(cfg)
        self.hidden, self.out = nn.ModuleList(layers[:-1]), layers[-1]
        norm = {"none": nn.Identity, "batchnorm": lambda: nn.BatchNorm1d(cfg.width),
                "layernorm": lambda: nn.LayerNorm(cfg.width)}[cfg.norm]
        self.norms = nn.ModuleList(norm() for _ in range(cfg.depth))
        self.f = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}[cfg.activation]()
        self.residual = cfg.residual

    def forward(self, x):
        self.u, self.z, self.h = [], [], []  # each hidden layer's Linear output, the activation's input, its output
        h = x
        for i, (lin, norm) in enumerate(zip(self.hidden, self.norms)):
            u = lin(h)
            z = norm(u)
            h = h + self.f(z) if self.residual and i > 0 else self.f(z)
            self.u.append(u.detach())
            self.z.append(z.detach())
            self.h.append(h.detach())
        return self.out(h)


@dataclass
class Ref:
    loss: list = field(default_factory=list)  # every epoch's training loss (before its step)
    grads: dict = field(default_factory=dict)  # epoch (every 10th and the last) -> each Linear's ||dloss/dW||, float64
    total0: float = math.nan  # epoch 0: the norm of every parameter's gradient as one vector, float64
    grads0: list = field(default_factory=list)  # epoch 0: every parameter's gradient (copies)
    u0: list = field(default_factory=list)  # epoch 0: each hidden layer's Linear output
    h0: list = field(default_factory=list)  # epoch 0: each hidden layer's output
    logits0: torch.Tensor | None = None
    first_step: list = field(default_factory=list)  # (weight change, weight grad) of each Linear in the first step
    dead: list = field(default_factory=list)  # every epoch: each hidden layer's share of units with z <= 0 for all
    dead_rows_grad: float = math.nan  # last epoch: the largest |dloss/dW| in a dead unit's row
    weight_change: list = field(default_factory=list)  # last epoch: ||W - W0|| / ||W0|| of each Linear
    accuracy: float = math.nan  # after training: share of training points on the right side of the logit 0


@functools.lru_cache(maxsize=None)
def ref_run(cfg: D.DeepConfig) -> Ref:
    d = D.make_data(cfg)
    net = Net(cfg)
    lin = [*net.hidden, net.out]
    w0 = [l.weight.detach().clone() for l in lin]
    opt = {"sgd": lambda p: torch.optim.SGD(p, lr=cfg.lr),
           "adam": lambda p: torch.optim.Adam(p, lr=cfg.lr)}[cfg.optimizer](net.parameters())
    loss_fn = nn.BCEWithLogitsLoss()
    r = Ref()
    for epoch in range(cfg.epochs):
        net.train()
        out = net(d.X_train)
        loss = loss_fn(out, d.y_train)
        opt.zero_grad()
        loss.backward()
        r.loss.append(loss.item())
        if not math.isfinite(r.loss[-1]):
            break
        if epoch % 10 == 0 or epoch == cfg.epochs - 1:
            r.grads[epoch] = [l.weight.grad.double().norm().item() for l in lin]
        if epoch == 0:
            r.total0 = torch.cat([p.grad.double().flatten() for p in net.parameters()]).norm().item()
            r.grads0 = [p.grad.detach().clone() for p in net.parameters()]
            r.u0, r.h0, r.logits0 = net.u, net.h, out.detach()
        if cfg.activation == "relu":
            masks = [(z <= 0).all(0) for z in net.z]  # (width,) each: dead for every training input
            r.dead.append([m.double().mean().item() for m in masks])
        if epoch == cfg.epochs - 1:
            r.weight_change = [((l.weight.detach() - w).double().norm() / w.double().norm()).item()
                               for l, w in zip(lin, w0)]
            if cfg.activation == "relu":
                rows = [l.weight.grad[m].abs().max().item() for l, m in zip(net.hidden, masks) if m.any()]
                r.dead_rows_grad = max(rows) if rows else math.nan
        before = [l.weight.detach().clone() for l in lin]
        if cfg.clip is not None:
            nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
        opt.step()
        if epoch == 0:
            r.first_step = [(l.weight.detach() - b, l.weight.grad.detach().clone()) for l, b in zip(lin, before)]
    net.eval()
    with torch.no_grad():
        r.accuracy = ((net(d.X_train) > 0).float() == d.y_train).float().mean().item()
    return r


def _fall(r: Ref) -> float:
    """The percentage the training loss fell from epoch 0 to the last epoch."""
    return 100 * (1 - r.loss[-1] / r.loss[0])


def _spread(h: torch.Tensor) -> float:
    """How different the examples are at a layer: each unit's std over the training inputs, averaged over units."""
    return h.double().std(0).mean().item()


def _params(qid: str, **settings) -> dict:
    return Ls.page_params("deep", {**Q[qid].settings, **settings})


# --- the registry ------------------------------------------------------------------------------------------

def test_the_page_has_at_least_three_questions_each_with_a_reveal_figure():
    from nnviz.figures.deep_answers import ANSWER_FIGURES

    assert len(DEEP_QUESTIONS) >= 3 and "deep" in Ls.PAGES
    assert set(ANSWER_FIGURES) == set(DEEP_QUESTIONS)
    for qid in DEEP_QUESTIONS:
        assert all(k.startswith("deep_") for k in Q[qid].settings)


# --- the questions against the reference ------------------------------------------------------------------

def test_first_layer_gradient_is_a_plain_torch_backward():
    p = _params("deep-first-layer-gradient")
    cfg = _cfg(p)
    assert (cfg.depth, cfg.width, cfg.activation, cfg.init) == (20, 32, "sigmoid", "default")
    r = ref_run(D.DeepConfig(**{**cfg.__dict__, "epochs": 1}))
    g = r.grads[0]
    a = Q["deep-first-layer-gradient"].answer()
    assert a.value == pytest.approx(g[0] / g[cfg.depth - 1], rel=1e-4)
    assert a.numbers["first"] == pytest.approx(g[0], rel=1e-4)
    assert a.numbers["per_layer"] == pytest.approx((g[0] / g[cfg.depth - 1]) ** (1 / 19), rel=1e-5)
    assert a.numbers["sigma_w2"] == pytest.approx(1 / 3)  # U(±1/√fan_in): variance 1/(3 fan_in), times fan_in
    assert a.numbers["max_slope"] == pytest.approx(0.25, abs=1e-7)
    assert a.series["grad"] == pytest.approx(g[:cfg.depth], rel=1e-4)
    assert 1e-17 < a.value < 1e-14  # 15.5 orders of magnitude at seed 0


def test_relu_he_fall_is_the_plain_loops():
    cfg = _cfg(_params("deep-relu-he-fall"))
    assert (cfg.activation, cfg.init, cfg.optimizer, cfg.lr, cfg.epochs) == ("relu", "kaiming_normal", "sgd", 0.05, 300)
    r = ref_run(cfg)
    a = Q["deep-relu-he-fall"].answer()
    assert a.value == pytest.approx(_fall(r), rel=1e-3)
    assert a.numbers["first_loss"] == pytest.approx(r.loss[0], rel=1e-5)
    assert a.numbers["moved_first"] == pytest.approx(r.weight_change[0], rel=1e-2)
    assert a.value > 90


def _fix_cfg(base: D.DeepConfig, fix: str) -> D.DeepConfig:
    return D.DeepConfig(**{**base.__dict__, "residual": fix == "residual",
                           "norm": fix if fix in ("batchnorm", "layernorm") else "none"})


def test_which_fix_fails_is_the_one_whose_plain_loop_stays_flat():
    q = Q["deep-which-fix-fails"]
    base = _cfg(_params(q.id))
    falls = {f: _fall(ref_run(_fix_cfg(base, f))) for f in q.choices}
    assert set(q.choices) == {"residual", "batchnorm", "layernorm"}
    flat = [f for f, v in falls.items() if v < 10]
    assert flat == ["layernorm"]
    a = q.answer()
    assert a.value == "layernorm" and a.settings == {"deep_norm": "layernorm"}
    for f, v in falls.items():
        assert a.numbers[f"fall_{f}"] == pytest.approx(v, rel=2e-3, abs=2e-3)


def test_clip_global_norm_is_the_norm_clip_grad_norm_measures():
    cfg = _cfg(_params("deep-clip-global-norm"))
    assert (cfg.activation, cfg.init, cfg.std, cfg.clip) == ("relu", "normal", 0.4, 1.0)
    r = ref_run(D.DeepConfig(**{**cfg.__dict__, "epochs": 1}))
    grads = [g.clone() for g in r.grads0]
    params = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    measured = nn.utils.clip_grad_norm_(params, cfg.clip).item()  # what torch compares with the max norm
    a = Q["deep-clip-global-norm"].answer()
    assert a.value == pytest.approx(r.total0, rel=1e-5) == pytest.approx(measured, rel=1e-5)
    assert 1e3 < a.value < 1e5
    assert f"{1 / r.total0:.2g}" in a.text  # what clipping multiplies every gradient by


def test_dead_share_is_a_direct_count_over_the_training_inputs():
    cfg = _cfg(_params("deep-dead-after-training"))
    assert (cfg.activation, cfg.init, cfg.optimizer, cfg.lr) == ("relu", "kaiming_normal", "adam", 0.05)
    r = ref_run(cfg)
    a = Q["deep-dead-after-training"].answer()
    assert a.value == pytest.approx(100 * np.mean(r.dead[-1]), abs=1e-9)  # whole units of 640: exact
    assert a.numbers["dead_start"] == pytest.approx(100 * np.mean(r.dead[0]), abs=1e-9)
    assert "640 hidden units" in a.text and cfg.depth * cfg.width == 640
    snaps = [e for e in range(cfg.epochs) if e % 10 == 0 or e == cfg.epochs - 1]  # the snapshot epochs
    half = [l for l in range(cfg.depth) if any(r.dead[e][l] >= 0.5 for e in snaps)]
    assert a.numbers["layers_half_dead"] == len(half) and f"{len(half)} of the 20 layers" in a.text


def test_answers_follow_the_settings_and_refuse_what_has_no_answer():
    q = Q["deep-first-layer-gradient"]
    for seed in (1, 7):
        cfg = _cfg(_params(q.id, deep_seed=str(seed)))
        g = ref_run(D.DeepConfig(**{**cfg.__dict__, "epochs": 1})).grads[0]
        assert q.answer({"deep_seed": str(seed)}).value == pytest.approx(g[0] / g[19], rel=1e-4)
    with pytest.raises(ValueError, match="depth 1"):
        q.answer({"deep_depth": "1"})
    with pytest.raises(ValueError, match="counted for relu only"):
        Q["deep-dead-after-training"].answer({"deep_act": "sigmoid"})
    with pytest.raises(ValueError, match="blows up"):  # the exploding net without clipping
        Q["deep-relu-he-fall"].answer({"deep_act": "relu", "deep_init": "normal", "deep_std": "0.4"})
    with pytest.raises(ValueError, match="one epoch"):
        Q["deep-relu-he-fall"].answer({**Q["deep-relu-he-fall"].settings, "deep_epochs": "1"})
    loose = Q["deep-clip-global-norm"].answer({"deep_clip": "true"})  # the sigmoid net: a small gradient
    assert loose.value < 1 and "not above the max norm 1," in loose.text
    off = Q["deep-clip-global-norm"].answer({"deep_act": "relu", "deep_init": "normal", "deep_std": "0.4"})
    assert "Clipping is off" in off.text


def test_an_answer_trains_at_most_three_default_runs():
    """Answers are judged again at the settings on screen on every rerun: their training is bounded."""
    with pytest.raises(ValueError, match="more than the 3 an answer may take"):
        Q["deep-relu-he-fall"].answer({**Q["deep-relu-he-fall"].settings, "deep_width": "64", "deep_n": "300"})  # 6x
    with pytest.raises(ValueError, match="3 runs of 4.5 times"):
        Q["deep-which-fix-fails"].answer({"deep_depth": "30"})  # three runs of 1.5x
    with pytest.raises(ValueError, match="more than the 3"):
        Q["deep-dead-after-training"].answer({**Q["deep-dead-after-training"].settings, "deep_width": "128"})
    a = Q["deep-first-layer-gradient"].answer({"deep_width": "128", "deep_n": "500", "deep_depth": "30",
                                               "deep_act": "relu", "deep_init": "kaiming_normal"})
    assert a.value > 0  # one forward and backward pass: answered at any size


# --- the judge ---------------------------------------------------------------------------------------------

def test_judge_right_and_wrong_guesses():
    q = Q["deep-first-layer-gradient"]
    assert q.judge(q.read_guess("1e-16")).close
    assert not q.judge(0.25 ** 19).close  # the slope alone (0.25 per layer) is 4 orders too large
    assert "orders of magnitude above" in q.judge(0.25 ** 19).text
    q = Q["deep-relu-he-fall"]
    assert q.judge(95.0).close and q.judge(100.0).close and not q.judge(50.0).close and not q.judge(0.0).close
    assert "percentage points below" in q.judge(50.0).head
    q = Q["deep-which-fix-fails"]
    assert q.judge("layernorm").close
    assert not q.judge("batchnorm").close and not q.judge("residual").close
    assert "the answer is layernorm" in q.judge("residual").head
    q = Q["deep-clip-global-norm"]
    assert q.judge(1e4).close and not q.judge(1.0).close and not q.judge(1e6).close
    q = Q["deep-dead-after-training"]
    v = q.answer().value
    assert q.judge(v + 8).close and not q.judge(v - 15).close and not q.judge(0.0).close and not q.judge(100.0).close


# --- the tour: every claim of every step at its own settings -----------------------------------------------

def _step(title: str) -> tuple[Ls.Step, dict]:
    found = [s for s in Ls.TOURS["deep"] if s.title == title]
    assert len(found) == 1, f"the deep tour has no step {title!r}: a retitled step needs its claims rechecked here"
    return found[0], Ls.page_params("deep", Ls.step_settings("deep", found[0]))


def _plain() -> D.DeepConfig:
    return _cfg(Ls.page_params("deep", {}))


def test_deep_twenty_sigmoid_layers_do_not_learn():
    step, p = _step("Twenty sigmoid layers that do not learn")
    cfg = _cfg(p)
    assert (cfg.depth, cfg.width, cfg.activation, cfg.init, cfg.optimizer, cfg.data) == \
        (20, 32, "sigmoid", "default", "sgd", "moons")
    assert "20 hidden layers of 32 sigmoid units" in step.text and "less than 10%" in step.text
    r = ref_run(cfg)
    assert 0 <= _fall(r) < 10
    for epoch, g in r.grads.items():  # every 10th epoch: many orders of magnitude from the last hidden to the first
        assert g[cfg.depth - 1] / g[0] > 1e8, epoch
    assert max(r.weight_change[:5]) < 1e-3  # "the first layers' weights barely move" (at seed 0: not at all)


def test_deep_sigmoid_slope_at_most_a_quarter():
    step, p = _step("How much reaches the first layer?")
    x = np.linspace(-20, 20, 400001)
    s = 1 / (1 + np.exp(-x))
    assert (s * (1 - s)).max() == pytest.approx(0.25, abs=1e-12)  # "never above 0.25", reached at 0
    assert _cfg(p) == _plain()  # "before you train": the network of the first step
    assert Q[step.question].read_guess("1e-5") == 1e-5  # the example typed as it says


def test_deep_relu_slope_one_and_he_variance():
    step, p = _step("ReLU with He init")
    cfg = _cfg(p)
    z = torch.linspace(1e-3, 50, 1001, requires_grad=True)
    (dz,) = torch.autograd.grad(nn.ReLU()(z).sum(), z)
    assert torch.all(dz == 1)  # exactly 1 wherever the input is positive
    assert nn.init.calculate_gain("relu") ** 2 / cfg.width == pytest.approx(2 / cfg.width)  # variance 2 / fan-in
    w = torch.cat([l.weight.detach().flatten() for l in _layers(cfg)[1:-1]]).double()  # fan-in 32: 19 x 1024 weights
    assert w.var().item() == pytest.approx(2 / cfg.width, rel=0.03)
    plain = _plain()
    assert (cfg.depth, cfg.optimizer, cfg.lr) == (plain.depth, plain.optimizer, plain.lr)  # same depth, same SGD


def test_deep_two_fixes_learn_layernorm_does_not():
    step, p = _step("Three ways to rescue it")
    base = _cfg(p)
    assert base == _plain() and "layers 2 to 20" in step.text
    falls = {f: _fall(ref_run(_fix_cfg(base, f))) for f in ("residual", "batchnorm", "layernorm")}
    assert falls["residual"] > 50 and falls["batchnorm"] > 50 and falls["layernorm"] < 10  # two learn, one does not
    # the structure the text states (layers 2..20 add their output to their input) is the one the page runs
    resid = _fix_cfg(base, "residual")
    assert Ls._deep_run(resid)[0].train_loss == pytest.approx(ref_run(resid).loss[0], rel=1e-6)


def test_deep_residual_path_keeps_the_first_layers_gradient():
    step, p = _step("A path around the layers")
    cfg = _cfg(p)
    assert cfg.residual and cfg.norm == "none" and cfg.activation == "sigmoid"
    r, plain = ref_run(cfg), ref_run(_plain())
    for epoch, g in r.grads.items():  # "within a factor of 100 of the largest layer's", at every 10th epoch
        assert g[0] > max(g[:cfg.depth]) / 100, epoch
    assert r.loss[0] > plain.loss[0]  # the loss starts higher
    assert 5 < r.h0[-1].mean().item() < 20 and 0.3 < plain.h0[-1].mean().item() < 0.7  # about 10, against 0.5
    assert max(r.loss[1:11]) > 5 * r.loss[0]  # it jumps in the first epochs
    assert r.loss[-1] < 0.5 * r.loss[0]  # then falls well below where it started


def test_deep_batchnorm_keeps_the_examples_apart():
    step, p = _step("BatchNorm")
    cfg = _cfg(p)
    assert cfg.norm == "batchnorm" and not cfg.residual
    r, plain = ref_run(cfg), ref_run(_plain())
    assert _fall(r) > 50  # the loss falls
    assert _spread(plain.h0[-1]) < 1e-3 * _spread(plain.h0[0])  # default init: the examples' differences shrink
    assert _spread(r.h0[-1]) > 0.5 * _spread(r.h0[0])  # BatchNorm blows them up again
    assert all(u.double().std(0).mean().item() < 1 for u in r.u0[1:])  # the spread it divides by is small
    assert r.grads[0][0] > r.grads[0][cfg.depth - 1]  # at epoch 0 the first layer's gradient is the larger


def test_deep_layernorm_lifts_the_gradient_but_not_enough():
    step, p = _step("What LayerNorm does here")
    cfg = _cfg(p)
    assert cfg.norm == "layernorm" and cfg.width == 32 and "32 units" in step.text
    r, plain = ref_run(cfg), ref_run(_plain())
    assert _fall(r) < 10  # the loss stays flat
    g, g_plain = r.grads[0], plain.grads[0]
    assert 1e7 < g[0] / g_plain[0] < 1e9  # about 8 orders of magnitude up ...
    assert 1e-9 < g[0] / g[cfg.depth - 1] < 1e-7  # ... and still about 8 below the last hidden layer's
    assert _spread(r.h0[-1]) < 1e-4 * _spread(r.h0[0])  # every example mapped to nearly the same vector


def test_deep_exploding_net_stops_after_one_step():
    step, p = _step("Exploding gradients")
    cfg = _cfg(p)
    assert (cfg.activation, cfg.init, cfg.std, cfg.clip, cfg.width) == ("relu", "normal", 0.4, None, 32)
    assert cfg.std / math.sqrt(2 / cfg.width) == pytest.approx(1.6)  # 1.6 times He's std at width 32
    r = ref_run(cfg)
    rms = [h.double().pow(2).mean().sqrt().item() for h in r.h0]
    gain = (rms[-1] / rms[0]) ** (1 / (len(rms) - 1))
    assert 1.3 < gain < 2.0  # about 1.6 per layer
    assert r.logits0.abs().mean().item() > 100 and r.loss[0] > 100 and r.total0 > 1e3  # huge
    assert r.loss[1] > 100 * r.loss[0]  # after one SGD step
    last = Ls._deep_run(cfg)[-1]  # the page's trainer stops the run there
    assert last.diverged and last.divergence.epoch == 1


def test_deep_clipping_scales_the_gradient_and_the_run_learns():
    step, p = _step("Clip the global gradient norm")
    cfg = _cfg(p)
    assert cfg.clip == 1.0 and step.offer == ("deep_max_norm",)
    r = ref_run(cfg)
    grads = [g.clone() for g in r.grads0]
    params = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for q, g in zip(params, grads):
        q.grad = g.clone()
    nn.utils.clip_grad_norm_(params, cfg.clip)
    flat = torch.cat([q.grad.double().flatten() for q in params])
    before = torch.cat([g.double().flatten() for g in grads])
    assert flat.norm().item() == pytest.approx(cfg.clip, rel=1e-5)  # scaled down to the max norm ...
    assert torch.allclose(flat, before * cfg.clip / before.norm(), rtol=1e-5, atol=1e-12)  # ... direction kept
    assert all(math.isfinite(v) for v in r.loss) and len(r.loss) == cfg.epochs  # it does not blow up
    assert _fall(r) > 50


def test_deep_dying_relu_units_die_early_and_the_rest_fit():
    step, p = _step("Dying ReLU")
    cfg = _cfg(p)
    assert (cfg.activation, cfg.init, cfg.optimizer, cfg.lr) == ("relu", "kaiming_normal", "adam", 0.05)
    r = ref_run(cfg)
    for dw, g in r.first_step:  # Adam's first step: lr g / (|g| + eps), about the learning rate for any |g|
        big = g.abs() > 1e-4
        assert torch.allclose(dw[big].abs(), torch.full_like(dw[big], cfg.lr), rtol=1e-3)
    dead = [float(np.mean(d)) for d in r.dead]
    assert dead[-1] > 0.5  # the question's answer is the exact share
    assert dead[10] - dead[0] > 0.5 * (dead[-1] - dead[0]) and dead[10] > 0.5 * dead[-1]  # most in 10 epochs
    assert r.dead_rows_grad == 0.0  # a dead unit passes back no gradient: its weights' gradient is exactly 0
    assert r.accuracy == 1.0  # the units left still fit the training set


CLAIMS = {  # every step of the deep tour -> the test of its claims (tests/test_tours.py checks the titles)
    "Twenty sigmoid layers that do not learn": "test_deep_twenty_sigmoid_layers_do_not_learn",
    "How much reaches the first layer?": "test_deep_sigmoid_slope_at_most_a_quarter",
    "ReLU with He init": "test_deep_relu_slope_one_and_he_variance",
    "Three ways to rescue it": "test_deep_two_fixes_learn_layernorm_does_not",
    "A path around the layers": "test_deep_residual_path_keeps_the_first_layers_gradient",
    "BatchNorm": "test_deep_batchnorm_keeps_the_examples_apart",
    "What LayerNorm does here": "test_deep_layernorm_lifts_the_gradient_but_not_enough",
    "Exploding gradients": "test_deep_exploding_net_stops_after_one_step",
    "Clip the global gradient norm": "test_deep_clipping_scales_the_gradient_and_the_run_learns",
    "Dying ReLU": "test_deep_dying_relu_units_die_early_and_the_rest_fit",
}


def test_every_step_has_a_claims_test_and_every_question_is_asked():
    assert [s.title for s in Ls.TOURS["deep"]] == list(CLAIMS)
    for name in CLAIMS.values():
        assert callable(globals().get(name)), name
    asked = [s.question for s in Ls.TOURS["deep"] if s.question]
    assert sorted(asked) == sorted(DEEP_QUESTIONS) and len(Ls.TOURS["deep"]) >= 6


# --- other seeds (NNVIZ_SLOW=1) ----------------------------------------------------------------------------

@pytest.mark.skipif(not SLOW, reason="seeds 1-9: set NNVIZ_SLOW=1")
@pytest.mark.parametrize("seed", range(1, 10))
def test_answers_at_other_seeds_match_the_reference_and_layernorm_is_the_one_that_fails(seed):
    s = {"deep_seed": str(seed)}
    cfg = _cfg(_params("deep-first-layer-gradient", **s))
    g = ref_run(D.DeepConfig(**{**cfg.__dict__, "epochs": 1})).grads[0]
    a = Q["deep-first-layer-gradient"].answer(s)
    assert a.value == pytest.approx(g[0] / g[19], rel=1e-4)
    assert abs(math.log10(a.value / Q["deep-first-layer-gradient"].answer().value)) < 2  # seed 0's answer is close
    base = _cfg(_params("deep-which-fix-fails", **s))
    falls = {f: _fall(ref_run(_fix_cfg(base, f))) for f in ("residual", "batchnorm", "layernorm")}
    assert [f for f, v in falls.items() if v < 10] == ["layernorm"] == [Q["deep-which-fix-fails"].answer(s).value]
    for qid in ("deep-relu-he-fall", "deep-dead-after-training"):
        settings = {**Q[qid].settings, **s}
        r = ref_run(_cfg(Ls.page_params("deep", settings)))
        want = _fall(r) if qid == "deep-relu-he-fall" else 100 * np.mean(r.dead[-1])
        assert Q[qid].answer(settings).value == pytest.approx(want, rel=1e-3)
