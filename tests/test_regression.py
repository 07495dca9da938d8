"""nnviz.regression: the classic run's published numbers, device and thread independence, the
divergence guard, step mode, exports, and the shown script."""
import io
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from torch import nn

from nnviz import regression as R

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


def test_classic_run_reproduces_the_published_values():
    snaps = list(R.train(R.RegressionConfig(), "cpu", every=10))
    first, last = snaps[0], snaps[-1]
    assert (first.epoch, round(first.train_loss, 4), round(first.test_loss, 4)) == (0, 0.5552, 0.5740)
    assert (last.epoch, round(last.weight, 4), round(last.bias, 4)) == (999, 0.6968, 0.3025)
    assert [s.epoch for s in snaps] == list(range(0, 1000, 10)) + [999]
    assert not any(s.diverged for s in snaps)


@pytest.mark.parametrize("seed", [0, 42, 1234])
def test_model_init_equals_global_seed_nn_linear(seed):
    torch.manual_seed(seed)
    ref = nn.Linear(1, 1)
    state = torch.random.get_rng_state()
    ours = R.make_model(seed)
    assert torch.equal(ours.weight, ref.weight) and torch.equal(ours.bias, ref.bias)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator was not touched


def test_two_threads_with_different_seeds_get_their_own_numbers():
    a, b = R.RegressionConfig(seed=1, noise=0.05), R.RegressionConfig(seed=2, loss="mse", optimizer="adam")
    alone = {k: list(R.train(c, every=50)) for k, c in (("a", a), ("b", b))}
    got = {}

    def work(key, cfg):
        torch.manual_seed(999)  # another session's global seeding must not matter
        got[key] = list(R.train(cfg, every=50))

    threads = [threading.Thread(target=work, args=kv) for kv in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == alone


def _momentum_reference(cfg: R.RegressionConfig) -> tuple[float, float]:
    """SGD with momentum on MSE, written out in float64 numpy from the update rule in torch's
    documentation: v = mu * v + g (v = g at the first step), p = p - lr * v."""
    X = np.arange(cfg.n) / cfg.n
    y = cfg.weight * X + cfg.bias
    k = int(cfg.split * cfg.n)
    X, y = X[:k], y[:k]
    torch.manual_seed(cfg.seed)
    m = nn.Linear(1, 1)
    p = np.array([m.weight.item(), m.bias.item()], dtype=np.float64)
    v = np.zeros(2)
    for epoch in range(cfg.epochs):
        err = p[0] * X + p[1] - y
        g = np.array([2 * (err * X).mean(), 2 * err.mean()])
        v = g if epoch == 0 else 0.9 * v + g
        p = p - cfg.lr * v
    return p[0], p[1]


def test_momentum_against_an_independent_implementation():
    cfg = R.RegressionConfig(loss="mse", optimizer="momentum", lr=0.05, epochs=300)
    last = list(R.train(cfg, every=300))[-1]
    w, b = _momentum_reference(cfg)
    assert last.weight == pytest.approx(w, abs=1e-4) and last.bias == pytest.approx(b, abs=1e-4)


def test_blow_up_is_detected_and_stops():
    snaps = list(R.train(R.RegressionConfig(loss="mse", lr=8.0), every=10))
    assert snaps[-1].diverged and snaps[-1].epoch < 999
    assert not snaps[0].diverged


def test_stepper_follows_the_loop_and_the_sgd_rule():
    st = R.Stepper(R.RegressionConfig())
    assert st.grads() == (None, None)
    for _ in range(4):  # forward, loss, zero_grad, backward
        st.advance()
    gw, gb = st.grads()
    w0, b0 = st.params()
    st.advance()  # optimizer.step()
    w1, b1 = st.params()
    assert st.epoch == 1 and st.next_line == 0
    assert w1 == pytest.approx(w0 - 0.01 * gw, abs=1e-7) and b1 == pytest.approx(b0 - 0.01 * gb, abs=1e-7)
    first = next(R.train(R.RegressionConfig(), every=1))
    assert st.history[0] == (0, first.train_loss, first.test_loss, first.weight, first.bias)
    # L1's gradient on the bias is the mean of sign(error): all 40 predictions are too high
    assert gb == pytest.approx(1.0)
    for _ in range(9):
        st.finish_epoch()
    tenth = list(R.train(R.RegressionConfig(epochs=10), every=9))[-1]
    assert st.params() == pytest.approx((tenth.weight, tenth.bias), abs=0)


def test_exports():
    hist = list(R.train(R.RegressionConfig(epochs=20), every=1))
    rows = R.history_csv(hist).strip().splitlines()
    assert rows[0] == "epoch,train_loss,test_loss,weight,bias" and len(rows) == 21
    assert float(rows[-1].split(",")[3]) == hist[-1].weight
    state = torch.load(io.BytesIO(R.state_dict_bytes(R.RegressionConfig(), hist)))
    m = nn.Linear(1, 1)
    m.load_state_dict(state)
    assert m.weight.item() == pytest.approx(hist[-1].weight) and m.bias.item() == pytest.approx(hist[-1].bias)


def test_loss_surface_values():
    cfg = R.RegressionConfig(loss="mse")
    w, b, z = R.loss_surface(cfg, (0.0, 1.0), (0.0, 1.0), n=11)
    X = np.arange(50) / 50
    y = 0.7 * X + 0.3
    Xt, yt = X[:40], y[:40]
    assert z[3][7] == pytest.approx(((w[7] * Xt + b[3] - yt) ** 2).mean(), rel=1e-5)
    i, j = np.unravel_index(np.argmin(z), (11, 11))
    assert (w[j], b[i]) == pytest.approx((0.7, 0.3), abs=1e-6)


def test_compare_devices_never_fakes_a_device():
    rows = R.compare_devices(R.RegressionConfig(epochs=50), ["cpu"])
    cpu = rows[0]
    assert cpu.device == "cpu" and cpu.seconds_per_epoch > 0
    if not torch.cuda.is_available():
        cuda = [r for r in rows if r.device == "cuda"]
        assert cuda and cuda[0].seconds_per_epoch is None and "no CUDA" in cuda[0].note


def test_graph_engine_refuses_a_non_cuda_device():
    with pytest.raises(ValueError, match="CUDA"):
        list(R.train(R.RegressionConfig(), "cpu", engine="cuda_graph"))


def test_shown_script_prints_the_same_final_weight_and_bias(tmp_path):
    for cfg in (R.RegressionConfig(), R.RegressionConfig(noise=0.05, n=80, split=0.7, loss="huber",
                                                         optimizer="adam", lr=0.02, epochs=300, seed=7)):
        path = tmp_path / "run.py"
        path.write_text(R.script(cfg))
        out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        last_line = out.stdout.strip().splitlines()[-1]
        final = list(R.train(cfg, every=cfg.epochs))[-1]
        assert last_line == f"weight = {final.weight:.4f}, bias = {final.bias:.4f}"


@CUDA
def test_classic_run_on_cuda_matches_cpu():
    cpu = list(R.train(R.RegressionConfig(), "cpu", every=999))[-1]
    gpu = list(R.train(R.RegressionConfig(), "cuda", every=999))[-1]
    assert gpu.weight == pytest.approx(cpu.weight, abs=1e-4) and gpu.bias == pytest.approx(cpu.bias, abs=1e-4)


@CUDA
@pytest.mark.parametrize("opt,loss", [("sgd", "l1"), ("momentum", "mse"), ("adam", "huber")])
def test_cuda_graph_engine_matches_eager(opt, loss):
    cfg = R.RegressionConfig(optimizer=opt, loss=loss, epochs=300)
    eager = list(R.train(cfg, "cuda", every=10))
    graph = list(R.train(cfg, "cuda", every=10, engine="cuda_graph"))
    assert [s.epoch for s in graph] == [s.epoch for s in eager]
    for e, g in zip(eager, graph):
        assert g.weight == pytest.approx(e.weight, abs=1e-5) and g.bias == pytest.approx(e.bias, abs=1e-5)
        assert g.train_loss == pytest.approx(e.train_loss, rel=1e-4, abs=1e-7)


@pytest.mark.skipif(not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
                    reason="no Apple GPU on this machine")
def test_classic_run_on_mps_matches_cpu():
    cpu = list(R.train(R.RegressionConfig(), "cpu", every=999))[-1]
    mps = list(R.train(R.RegressionConfig(), "mps", every=999))[-1]
    assert mps.weight == pytest.approx(cpu.weight, abs=1e-4) and mps.bias == pytest.approx(cpu.bias, abs=1e-4)


def test_split_counts_points_as_a_person_would():
    for n, split, k in ((90, 0.7, 63), (50, 0.8, 40), (10, 0.95, 9), (30, 0.9, 27)):
        d = R.make_data(R.RegressionConfig(n=n, split=split))
        assert len(d.X_train) == k and len(d.X_test) == n - k


def test_no_global_random_state_is_used():
    state = torch.random.get_rng_state()
    hist = list(R.train(R.RegressionConfig(epochs=5), every=1))
    R.state_dict_bytes(R.RegressionConfig(), hist)
    from nnviz import losses as L
    L.fit_line(L.make_data(3, 10.0, 0.5, 1), "l1")
    assert torch.equal(torch.random.get_rng_state(), state)
