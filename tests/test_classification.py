"""nnviz.classification: the data sets' geometry, the init, what the classifier learns on XOR, its
numbers recomputed independently (a plain-torch loop and float64 numpy), threads, the divergence
guard, the decision regions, and the shown script."""
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

from nnviz import classification as C

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
ACT = {"tanh": (nn.Tanh, np.tanh), "relu": (nn.ReLU, lambda z: np.maximum(z, 0.0))}  # torch module, numpy twin


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread, as the app's server runs (nnviz.runtime): these tensors are far too small
    to gain from more, and on a busy 2-core box two spinning threads made some tests 30x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- Data ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(C.DATASETS))
def test_data_is_deterministic_balanced_and_shaped(name):
    state = torch.random.get_rng_state()
    cfg = C.ClassifierConfig(data=name, n=210, seed=3)
    a, b = C.make_data(cfg), C.make_data(cfg)
    assert torch.equal(torch.random.get_rng_state(), state)  # no draw from the global generator
    for x, y in zip((a.X_train, a.y_train, a.X_test, a.y_test), (b.X_train, b.y_train, b.X_test, b.y_test)):
        assert torch.equal(x, y)
    assert a.X_train.shape == (147, 2) and a.X_test.shape == (63, 2)  # round(0.7 * 210) = 147
    assert a.X_train.dtype == torch.float32 and a.y_train.dtype == torch.int64 and a.y_train.shape == (147,)
    y = torch.cat([a.y_train, a.y_test])
    assert set(y.tolist()) == {0, 1} and abs(y.float().mean().item() - 0.5) < 0.02
    assert 0.35 < a.y_train.float().mean().item() < 0.65  # the shuffle spreads both classes over the split
    other = C.make_data(replace(cfg, seed=4))
    assert not torch.equal(other.X_train, a.X_train)


def _all(cfg):
    d = C.make_data(cfg)
    return torch.cat([d.X_train, d.X_test]).double().numpy(), torch.cat([d.y_train, d.y_test]).numpy()


def test_xor_labels_are_the_sign_of_x_times_y():
    X, y = _all(C.ClassifierConfig(data="xor", n=400, noise=0.0))
    assert np.array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))
    assert np.all((np.abs(X) >= 0.2 - 1e-6) & (np.abs(X) <= 1 + 1e-6))  # four squares, a gap along the axes
    quadrants = np.unique(np.sign(X), axis=0, return_counts=True)[1]
    assert len(quadrants) == 4 and quadrants.min() == 100


def test_circles_radius_separates_the_classes():
    X, y = _all(C.ClassifierConfig(data="circles", n=300, noise=0.0))
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(r[y == 0], 1.0, atol=1e-6) and np.allclose(r[y == 1], 0.5, atol=1e-6)


def test_moons_lie_on_their_half_circles():
    X, y = _all(C.ClassifierConfig(data="moons", n=300, noise=0.0))
    up, down = X[y == 0], X[y == 1]  # centres (-0.5, -0.25) and (0.5, 0.25), radius 1
    assert np.allclose(np.hypot(up[:, 0] + 0.5, up[:, 1] + 0.25), 1.0, atol=1e-6)
    assert np.allclose(np.hypot(down[:, 0] - 0.5, down[:, 1] - 0.25), 1.0, atol=1e-6)
    assert up[:, 1].min() >= -0.25 - 1e-6 and down[:, 1].max() <= 0.25 + 1e-6
    assert np.ptp(up[:, 0]) > 1.9 and np.ptp(down[:, 0]) > 1.9  # the whole half circle is covered


def test_blobs_are_two_gaussians_around_their_centres():
    X, y = _all(C.ClassifierConfig(data="blobs", n=1000, noise=0.0))
    for label, centre in ((0, -1.0), (1, 1.0)):
        pts = X[y == label]  # 500 points of N(centre, 0.5^2) per coordinate
        assert np.allclose(pts.mean(0), centre, atol=4 * 0.5 / np.sqrt(len(pts)))
        assert np.allclose(pts.std(0), 0.5, rtol=0.1)


def test_noise_moves_points_by_its_std_and_changes_nothing_else():
    clean = C.make_data(C.ClassifierConfig(data="moons", n=1000, noise=0.0))
    noisy = C.make_data(C.ClassifierConfig(data="moons", n=1000, noise=0.3))
    assert torch.equal(clean.y_train, noisy.y_train) and torch.equal(clean.y_test, noisy.y_test)
    shift = torch.cat([noisy.X_train - clean.X_train, noisy.X_test - clean.X_test]).double().numpy()  # 2000 draws
    assert abs(shift.mean()) < 4 * 0.3 / np.sqrt(2000) and shift.std() == pytest.approx(0.3, rel=4 / np.sqrt(2 * 2000))


def test_extent_holds_every_point():
    for name in C.DATASETS:
        cfg = C.ClassifierConfig(data=name, noise=0.5)
        X, _ = _all(cfg)
        x0, x1, y0, y1 = C.extent(cfg)
        assert x0 < X[:, 0].min() and X[:, 0].max() < x1 and y0 < X[:, 1].min() and X[:, 1].max() < y1


# --- Model ---------------------------------------------------------------------------------------

def _reference_model(cfg) -> nn.Sequential:
    """What a textbook script builds: torch.manual_seed(seed), then the layers; the global state is
    put back afterwards."""
    widths = (2, *cfg.hidden, 1 if cfg.loss == "bce" else 2)
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        layers = []
        for i, (a, b) in enumerate(zip(widths, widths[1:])):
            layers += [ACT[cfg.activation][0]()] if i else []
            layers.append(nn.Linear(a, b))
        return nn.Sequential(*layers)


@pytest.mark.parametrize("hidden,loss,seed", [((8,), "bce", 0), ((), "ce", 7), ((5, 3, 2), "ce", 1234)])
def test_make_model_equals_default_init_after_manual_seed(hidden, loss, seed):
    cfg = C.ClassifierConfig(hidden=hidden, loss=loss, seed=seed, activation="relu")
    ref = _reference_model(cfg)
    state = torch.random.get_rng_state()
    ours = C.make_model(cfg)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert [type(m) for m in ours] == [type(m) for m in ref]
    assert set(ours.state_dict()) == set(ref.state_dict())
    for k, v in ref.state_dict().items():
        assert torch.equal(ours.state_dict()[k], v), k


# --- What it learns ------------------------------------------------------------------------------

def _final(cfg):
    return list(C.train(cfg, every=cfg.epochs))[-1]


def test_xor_without_a_hidden_layer_stays_near_chance():
    """A straight boundary cannot separate XOR: the loss stays near ln 2 (P = 0.5 everywhere), and
    which side of 0.5 the tiny logits fall on is luck, so one seed's accuracy can stray from 50%
    (0.3 to 0.6 over seeds 0..9); over seeds it is chance."""
    accs = []
    for seed in range(5):
        last = _final(C.ClassifierConfig(hidden=(), seed=seed))
        assert last.train_loss > np.log(2) - 0.015 and last.test_accuracy <= 0.65, seed
        assert np.all(np.abs(np.array(last.region.prob) - 0.5) < 0.2), seed  # unsure everywhere
        accs.append(last.test_accuracy)
    assert 0.35 <= np.mean(accs) <= 0.65


@pytest.mark.parametrize("hidden,act,seeds", [
    ((8,), "tanh", (0, 1, 2, 3)), ((4,), "tanh", (0, 1, 2)),
    # ReLU nets this small often get stuck for good. Measured over seeds 0..49 at the defaults:
    # width 4 fails 28 of 50 (units die; the misclassified points lie where every unit is off, so
    # they give no gradient), width 8 fails 4 of 50 (seeds 0, 1, 6, 10: a few dead units, the rest
    # in a poor minimum). These are seeds that train; test_verdict covers a stuck one.
    ((8,), "relu", (2, 3, 4)), ((4,), "relu", (0, 2, 3)),
])
def test_one_hidden_layer_with_a_nonlinearity_solves_xor(hidden, act, seeds):
    for seed in seeds:
        last = _final(C.ClassifierConfig(hidden=hidden, activation=act, seed=seed))
        assert last.test_accuracy >= 0.95 and not last.diverged, seed


def test_the_default_run_is_the_lesson():
    last = _final(C.ClassifierConfig())
    assert last.test_accuracy >= 0.95 and last.train_accuracy >= 0.95


# --- Its numbers, recomputed ---------------------------------------------------------------------

def _reference_run(cfg) -> tuple[list[list[np.ndarray]], C.training.Data]:
    """The seed note's loop in plain torch from the textbook init: the parameters (float64 numpy)
    before the first step and after every step."""
    d = C.make_data(cfg)
    model = _reference_model(cfg)
    bce = cfg.loss == "bce"
    loss_fn = nn.BCEWithLogitsLoss() if bce else nn.CrossEntropyLoss()
    target = d.y_train.float().unsqueeze(1) if bce else d.y_train
    opt = {"adam": lambda p: torch.optim.Adam(p, lr=cfg.lr), "sgd": lambda p: torch.optim.SGD(p, lr=cfg.lr),
           "momentum": lambda p: torch.optim.SGD(p, lr=cfg.lr, momentum=0.9)}[cfg.optimizer](model.parameters())
    params = [[p.detach().double().numpy().copy() for p in model.parameters()]]
    for _ in range(cfg.epochs):
        loss = loss_fn(model(d.X_train), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        params.append([p.detach().double().numpy().copy() for p in model.parameters()])
    return params, d


def _np_logits(params, X, act):
    h = X
    for i in range(0, len(params), 2):
        h = h @ params[i].T + params[i + 1]
        if i + 2 < len(params):
            h = ACT[act][1](h)
    return h  # (m, outputs)


def _np_numbers(params, X, y, cfg):
    """Loss (as the loss module defines it) and accuracy in float64."""
    z = _np_logits(params, X.double().numpy(), cfg.activation)
    y = y.numpy()
    if cfg.loss == "bce":
        s = z[:, 0]
        loss = np.mean(np.logaddexp(0, s) - y * s)  # -[y log sigmoid(s) + (1 - y) log(1 - sigmoid(s))]
        pred = s > 0
    else:
        loss = np.mean(np.logaddexp(z[:, 0], z[:, 1]) - z[np.arange(len(y)), y])
        pred = z[:, 1] > z[:, 0]
    return loss, np.mean(pred == y)


@pytest.mark.parametrize("cfg", [
    C.ClassifierConfig(epochs=120),
    C.ClassifierConfig(data="moons", loss="ce", optimizer="momentum", lr=0.1, hidden=(6, 4), activation="relu",
                       epochs=150, seed=5, n=160),
])
def test_losses_and_accuracies_match_an_independent_computation(cfg):
    params, d = _reference_run(cfg)
    last = _final(cfg)
    # the train numbers are the last epoch's forward pass (before its step), the test numbers after it
    tr_loss, tr_acc = _np_numbers(params[-2], d.X_train, d.y_train, cfg)
    te_loss, te_acc = _np_numbers(params[-1], d.X_test, d.y_test, cfg)
    assert last.epoch == cfg.epochs - 1
    assert last.train_loss == pytest.approx(tr_loss, rel=1e-4, abs=1e-6)
    assert last.test_loss == pytest.approx(te_loss, rel=1e-4, abs=1e-6)
    assert (last.train_accuracy, last.test_accuracy) == pytest.approx((tr_acc, te_acc), abs=1e-12)
    assert 0 < last.train_accuracy <= 1 and 0 < last.test_accuracy <= 1


def test_regions_come_exactly_where_asked_and_match_numpy():
    cfg = C.ClassifierConfig(epochs=60, seed=2)
    snaps = list(C.train(cfg, every=20, regions_at=(0, 25, 50), grid=15))
    assert [s.epoch for s in snaps] == [0, 20, 25, 40, 50, 59]
    assert [s.epoch for s in snaps if s.region is not None] == [0, 25, 50, 59]
    params, _ = _reference_run(cfg)
    x0, x1, y0, y1 = C.extent(cfg)
    for s in snaps:
        if s.region is None:
            continue
        r = s.region
        assert np.allclose(r.xs, np.linspace(x0, x1, 15), atol=1e-6) and np.allclose(r.ys, np.linspace(y0, y1, 15), atol=1e-6)
        xx, yy = np.meshgrid(r.xs, r.ys)  # (rows: y, columns: x)
        z = _np_logits(params[s.epoch + 1], np.stack([xx.ravel(), yy.ravel()], 1), cfg.activation)[:, 0]
        prob = (1 / (1 + np.exp(-z))).reshape(15, 15)  # after the epoch's step
        assert np.allclose(np.array(r.prob), prob, atol=1e-5)


def test_a_cross_entropy_region_is_the_softmax_of_class_one():
    cfg = C.ClassifierConfig(data="circles", loss="ce", hidden=(5,), epochs=1, seed=9)
    model = C.make_model(cfg)
    r = C.region(cfg, model, grid=7)
    params = [p.detach().double().numpy() for p in model.parameters()]
    xx, yy = np.meshgrid(r.xs, r.ys)
    z = _np_logits(params, np.stack([xx.ravel(), yy.ravel()], 1), cfg.activation)
    assert np.allclose(np.array(r.prob).ravel(), 1 / (1 + np.exp(z[:, 0] - z[:, 1])), atol=1e-6)


def test_threads_do_not_share_randomness():
    a = C.ClassifierConfig(data="moons", epochs=60, seed=1)
    b = C.ClassifierConfig(data="circles", loss="ce", activation="relu", optimizer="sgd", lr=0.5, epochs=60, seed=2)
    alone = {k: list(C.train(c, every=20, regions_at=(30,), grid=10)) for k, c in (("a", a), ("b", b))}
    got = {}

    def work(key, cfg):
        torch.manual_seed(999)  # another session's global seeding must not matter
        got[key] = list(C.train(cfg, every=20, regions_at=(30,), grid=10))

    threads = [threading.Thread(target=work, args=kv) for kv in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == alone
    assert alone["a"] != alone["b"]


def test_verdict_says_what_the_run_did():
    lin = C.ClassifierConfig(hidden=())
    text = C.verdict(lin, list(C.train(lin)))
    assert "straight line" in text and "ln 2" in text and "stopped falling" not in text
    solved = C.verdict(C.ClassifierConfig(), list(C.train(C.ClassifierConfig())))
    assert "bends" in solved and "stopped falling" not in solved and "ln 2" not in solved
    stuck = C.ClassifierConfig(hidden=(4,), activation="relu", seed=6)
    hist = list(C.train(stuck))
    assert hist[-1].train_accuracy < 0.8  # (measured: 71%) the run the sentence is about
    assert "stopped falling" in C.verdict(stuck, hist)
    blobs = C.ClassifierConfig(data="blobs", hidden=())
    assert "No straight line" not in C.verdict(blobs, list(C.train(blobs)))


def test_frames_and_the_untrained_region():
    assert C.frame_epochs(300) == (0, 30, 60, 90, 120, 150, 180, 210, 240, 270)
    assert C.frame_epochs(5) == (0, 1, 2, 3)  # the last epoch (4) has its region anyway
    cfg = C.ClassifierConfig(seed=3)
    r = C.untrained_region(cfg, grid=5)
    params = [p.detach().double().numpy() for p in _reference_model(cfg).parameters()]
    xx, yy = np.meshgrid(r.xs, r.ys)
    z = _np_logits(params, np.stack([xx.ravel(), yy.ravel()], 1), cfg.activation)[:, 0]
    assert np.allclose(np.array(r.prob).ravel(), 1 / (1 + np.exp(-z)), atol=1e-6)


# --- Guards --------------------------------------------------------------------------------------

def test_divergence_stops_the_run_with_a_region():
    cfg = C.ClassifierConfig(optimizer="sgd", lr=1000.0)
    snaps = list(C.train(cfg, every=1))
    first, last = snaps[0], snaps[-1]
    assert last.diverged and last.epoch < cfg.epochs - 1 and not any(s.diverged for s in snaps[:-1])
    assert last.train_loss > 100 * first.train_loss and last.region is not None


def test_bad_configs_raise_value_error():
    for bad in (dict(data="spirals"), dict(activation="swish"), dict(loss="mse"), dict(optimizer="lbfgs"),
                dict(hidden=(0,)), dict(split=1.0), dict(lr=-1.0), dict(epochs=0)):
        cfg = C.ClassifierConfig(**bad)
        with pytest.raises(ValueError):
            list(C.train(cfg))
    with pytest.raises(ValueError, match="data set"):
        C.make_data(C.ClassifierConfig(data="spirals"))
    with pytest.raises(ValueError, match="CUDA"):
        list(C.train(C.ClassifierConfig(), "cpu", engine="cuda_graph"))


def test_control_defaults_are_the_config_defaults():
    cfg = C.ClassifierConfig()
    for spec, value in ((C.DATA, cfg.data), (C.NOISE, cfg.noise), (C.N, cfg.n), (C.HIDDEN, cfg.hidden),
                        (C.ACT, cfg.activation), (C.LOSS, cfg.loss), (C.OPT, cfg.optimizer), (C.LR, cfg.lr),
                        (C.EPOCHS, cfg.epochs), (C.SEED, cfg.seed)):
        assert spec.default == value, spec.label


# --- Show the code -------------------------------------------------------------------------------

@pytest.mark.parametrize("cfg", [
    C.ClassifierConfig(),
    C.ClassifierConfig(data="circles", loss="ce", optimizer="momentum", lr=0.1, hidden=(6, 4), activation="relu",
                       epochs=80, seed=11, n=150, noise=0.05),
])
def test_shown_script_prints_the_same_final_numbers(cfg, tmp_path):
    path = tmp_path / "run.py"
    text = C.script(cfg)
    assert "nnviz" not in text
    path.write_text(text)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # as one_torch_thread: same numbers, no spinning threads
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    got = re.fullmatch(r"Final: epoch (\d+) \| train loss (\S+) \| test loss (\S+) \| "
                       r"train accuracy (\S+) \| test accuracy (\S+)", out.stdout.strip().splitlines()[-1])
    last = _final(cfg)
    assert got and int(got[1]) == last.epoch
    assert float(got[2]) == pytest.approx(last.train_loss, rel=1e-5)
    assert float(got[3]) == pytest.approx(last.test_loss, rel=1e-5)
    assert (float(got[4]), float(got[5])) == (round(last.train_accuracy, 4), round(last.test_accuracy, 4))
    assert got[0] == C.final_line(last)  # the same float32 arithmetic on the same CPU: the same digits


# --- CUDA ----------------------------------------------------------------------------------------

@CUDA
@pytest.mark.parametrize("loss,opt", [("bce", "adam"), ("ce", "momentum")])
def test_cuda_graph_engine_matches_eager(loss, opt):
    cfg = C.ClassifierConfig(loss=loss, optimizer=opt, lr=0.05, epochs=150)
    eager = list(C.train(cfg, "cuda", every=10, regions_at=(50,), grid=20))
    graph = list(C.train(cfg, "cuda", every=10, regions_at=(50,), grid=20, engine="cuda_graph"))
    cpu = list(C.train(cfg, "cpu", every=10))
    assert [s.epoch for s in graph] == [s.epoch for s in eager] == [s.epoch for s in cpu]
    for e, g, c in zip(eager, graph, cpu):
        assert g.train_loss == pytest.approx(e.train_loss, rel=1e-4, abs=1e-6)
        assert g.test_loss == pytest.approx(e.test_loss, rel=1e-4, abs=1e-6)
        assert abs(g.train_accuracy - e.train_accuracy) <= 1 / 140 and abs(g.test_accuracy - e.test_accuracy) <= 1 / 60
        assert e.train_loss == pytest.approx(c.train_loss, rel=1e-3, abs=1e-5)
    for e, g in zip(eager, graph):
        if e.region is not None:
            assert np.allclose(np.array(g.region.prob), np.array(e.region.prob), atol=1e-4)
