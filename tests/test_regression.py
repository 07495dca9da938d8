"""nnviz.regression: the classic run's published numbers, device and thread independence, the
divergence guard, step mode, exports, and the shown script."""
import io
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

from browser import first_screen, wait_idle
from conftest import shown_script
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


def _data64(cfg: R.RegressionConfig):
    """The config's noise-free data in float64 numpy: (x_train, y_train, x_test, y_test)."""
    X = np.arange(cfg.n) / cfg.n
    y = cfg.weight * X + cfg.bias
    k = int(round(cfg.split * cfg.n))
    return X[:k], y[:k], X[k:], y[k:]


def _loss64(kind: str, w: float, b: float, X, y) -> float:
    err = w * X + b - y
    return float(np.abs(err).mean() if kind == "l1" else (err ** 2).mean())


def test_exports():
    cfg = R.RegressionConfig(epochs=20)
    hist = list(R.train(cfg, every=1))
    rows = R.history_csv(cfg, hist).strip().splitlines()
    assert rows[0] == ("epoch,train_loss_before_step,test_loss_after_step,weight_after_step,bias_after_step,"
                       "train_loss_after_step") and len(rows) == 21
    assert float(rows[-1].split(",")[3]) == hist[-1].weight
    Xtr, ytr, _, _ = _data64(cfg)
    for row in rows[1:]:  # the after-step train loss is the float64 L1 loss of the row's line
        _, _, _, w, b, after = map(float, row.split(","))
        assert after == pytest.approx(_loss64("l1", w, b, Xtr, ytr), rel=1e-5)
    state = torch.load(io.BytesIO(R.state_dict_bytes(R.RegressionConfig(), hist)))
    m = nn.Linear(1, 1)
    m.load_state_dict(state)
    assert m.weight.item() == pytest.approx(hist[-1].weight) and m.bias.item() == pytest.approx(hist[-1].bias)


def test_default_l1_run_alternates_and_the_chart_draws_both_phases():
    """The classic run ends hopping between two lines; the loss chart draws each loss as a band whose
    edges are the float64 losses of those two lines, the train loss on top, and says so in a line."""
    pytest.importorskip("plotly")  # the GPU machine has torch but no plotly
    from nnviz.figures.regression import training_figure
    cfg = R.RegressionConfig()
    hist = list(R.train(cfg, every=1))
    a, b = hist[-1], hist[-2]
    assert (a.weight, a.bias) == (hist[-3].weight, hist[-3].bias) != (b.weight, b.bias)  # a 2-cycle
    Xtr, ytr, Xte, yte = _data64(cfg)
    test64 = sorted(_loss64("l1", s.weight, s.bias, Xte, yte) for s in (a, b))
    train64 = sorted(_loss64("l1", s.weight, s.bias, Xtr, ytr) for s in (a, b))
    assert test64[0] == pytest.approx(3.31e-4, rel=1e-2) and test64[1] == pytest.approx(0.0138, rel=1e-2)
    bands = R.loss_bands(hist, 1000)
    for name, ref in (("test loss", test64), ("train loss", train64)):
        x, upper, lower = bands[name]
        assert x[-1] == 999 and len(x) == 1000
        assert upper[-1] == pytest.approx(ref[1], rel=1e-4) and lower[-1] == pytest.approx(ref[0], rel=1e-4)
        assert upper[0] == lower[0] == pytest.approx(hist[0].train_loss if name == "train loss" else hist[0].test_loss)
    live = R.loss_bands(hist, 200)
    assert all(len(v[0]) <= 200 for v in live.values())  # a live frame stays small
    assert live["test loss"][1][-1] == pytest.approx(test64[1], rel=1e-4)  # and keeps both phases
    fig, _ = training_figure(bands, cfg.epochs, ([0.0], [0.3], [0.9], [0.93]), (0.7, 0.3), (a.weight, a.bias), True)
    names = [t.name for t in fig.data]
    assert names.index("test loss, lower phase") < names.index("train loss")  # train drawn over test
    assert fig.data[names.index("test loss, lower phase")].y[-1] == pytest.approx(test64[0], rel=1e-4)
    said = R.report(cfg, hist)
    assert said.cycle is not None and said.cycle.period == 2
    assert R.fmt(test64[0]) in said.phases and R.fmt(test64[1]) in said.phases
    assert "not getting closer" in said.state and "2-epoch cycle" in said.state


def _gd64(cfg: R.RegressionConfig, epochs: int):
    """Plain gradient descent on MSE in float64 numpy, from the seed's nn.Linear(1, 1):
    yields (weight, bias, train loss, test loss) after each epoch."""
    Xtr, ytr, Xte, yte = _data64(cfg)
    torch.manual_seed(cfg.seed)
    m = nn.Linear(1, 1)
    w, b = m.weight.item(), m.bias.item()
    for _ in range(epochs):
        err = w * Xtr + b - ytr
        w, b = w - cfg.lr * 2 * (err * Xtr).mean(), b - cfg.lr * 2 * err.mean()
        yield w, b, _loss64("mse", w, b, Xtr, ytr), _loss64("mse", w, b, Xte, yte)


def test_mse_report_tells_the_run_as_it_is():
    """Under MSE after 1000 epochs the run is not converged (the float64 descent agrees), the predicted
    epochs to get within 0.01 of the minimum match the float64 descent, and the test-loss bump that a
    student would call overfitting is found where the float64 run has it."""
    cfg = R.RegressionConfig(loss="mse")
    hist = list(R.train(cfg, every=1))
    said = R.report(cfg, hist)
    ref = list(_gd64(cfg, 4000))
    assert ref[999][0] == pytest.approx(0.648, abs=1e-3)
    assert said.still_falling and said.cycle is None
    assert "Not converged" in said.state and "shrink into the minimum" not in said.state
    Xtr, ytr, _, _ = _data64(cfg)
    w_ls, b_ls = np.polyfit(Xtr, ytr, 1)
    reached = next(i + 1 for i, (w, b, _, _) in enumerate(ref) if np.hypot(w - w_ls, b - b_ls) <= 0.01)
    predicted = int(re.search(r"about (\d+) epochs in all", said.state).group(1))
    assert predicted == pytest.approx(reached, rel=0.03)
    bump = R.find_bump(cfg, hist)
    assert bump is not None and 50 <= bump.start < bump.peak <= 400
    (_, _, tr0, te0), (_, _, tr1, te1) = ref[bump.start], ref[bump.peak]
    assert te1 > 10 * te0 and tr1 < tr0  # test up, train down, in float64 too
    assert "not overfitting" in said.bump and "0.80 to 0.98" in said.bump and "0.00 to 0.78" in said.bump


def test_a_smooth_run_reports_no_phases_and_no_bump():
    cfg = R.RegressionConfig(loss="mse", lr=0.3, epochs=2000)
    hist = list(R.train(cfg, every=1))
    said = R.report(cfg, hist)
    w_ls, b_ls = np.polyfit(*_data64(cfg)[:2], 1)
    assert (hist[-1].weight, hist[-1].bias) == pytest.approx((w_ls, b_ls), abs=1e-4)
    assert said.phases is None and not said.still_falling and "settled" in said.state
    bands = R.loss_bands(hist, 1000)
    assert bands["train loss"][1] == bands["train loss"][2]  # one line, no band


def test_timing_chart_leaves_room_for_its_labels():
    pytest.importorskip("plotly")  # the GPU machine has torch but no plotly
    from nnviz.figures.regression import timing_figure
    rows = [R.Timing("cpu", "eager", 250e-6, 0.7, 0.3), R.Timing("cuda", "eager", 90e-6, 0.7, 0.3)]
    fig = timing_figure(rows)
    lo, hi = fig.layout.xaxis.range
    assert lo == 0 and hi >= 1.25 * 250  # the outside label of the longest bar fits
    assert fig.data[0].cliponaxis is False


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
        *_, final_losses, last_line = out.stdout.strip().splitlines()
        final = list(R.train(cfg, every=cfg.epochs))[-1]
        assert last_line == f"weight = {final.weight:.4f}, bias = {final.bias:.4f}"
        (tr,), (te,) = R.losses_at(cfg, [final.weight], [final.bias])
        got = re.fullmatch(r"Final line: train loss (\S+) \| test loss (\S+)", final_losses)
        assert (float(got[1]), float(got[2])) == pytest.approx((tr, te), rel=1e-3)


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


# --- The page, through AppTest ----------------------------------------------------------------------

REG = "pages/regression.py"


def typed(a) -> np.ndarray:
    """An array of a figure's JSON: a list, or plotly's base64 typed array {"dtype", "bdata"}."""
    import base64

    if isinstance(a, dict):
        return np.frombuffer(base64.b64decode(a["bdata"]), dtype=np.dtype(a["dtype"]).newbyteorder("<"))
    return np.asarray(a, dtype=float)


def assert_chart_draws_the_run(fig: dict, name: str, values, points: int) -> None:
    """The loss chart draws `name` (one line, or an upper and a lower phase) in at most about `points`
    points per line, from the run's own per-epoch `values`: it starts at epoch 0's value and ends at
    the last epoch, reaches the run's minimum and maximum, and every epoch's value lies inside what
    it draws within one bucket's width of that epoch (the envelope bounds the whole history)."""
    lines = {t["name"]: t for t in fig["data"]}
    upper, lower = lines[name], lines.get(f"{name}, lower phase", lines[name])
    x, hi, lo = typed(upper["x"]).astype(int), typed(upper["y"]), typed(lower["y"])
    assert np.array_equal(typed(lower["x"]), x) and np.all(np.diff(x) > 0)
    v = np.asarray(values, dtype=np.float64)  # (n,) one per epoch
    n = len(v)
    assert len(x) <= points + 2 < n  # decimated
    assert x[0] == 0 and x[-1] == n - 1
    assert hi[0] == pytest.approx(v[0], rel=1e-6) and lo[0] == pytest.approx(v[0], rel=1e-6)
    assert lo[-1] * (1 - 1e-6) <= v[-1] <= hi[-1] * (1 + 1e-6)
    assert lo.min() == pytest.approx(v.min(), rel=1e-6) and hi.max() == pytest.approx(v.max(), rel=1e-6)
    width = -(-n // (points // 2))  # epochs per bucket, at most
    for e in range(n):
        near = (x >= e - width) & (x <= e + width)
        assert lo[near].min() * (1 - 1e-6) <= v[e] <= hi[near].max() * (1 + 1e-6), e


def test_a_superseded_live_loop_leaves_the_stopped_run_alone():
    """With runner.fastReruns = true (a deployment may still set it) a click on Stop starts the next script run in a new thread while the
    interrupted one trains on until its next Streamlit call. Once the new run has settled the run
    (here: at epoch 300, from inside the trainer's own loop, as that thread would), the old loop
    appends nothing more to what the new run draws and does not mark it done."""
    from types import SimpleNamespace

    from nnviz.ui import live

    run: dict = {}
    seen = {}

    def snapshots(n: int):
        for e in range(n):
            if e == 300:  # the new script run starts and settles the run
                seen["history"] = live.settle(run)["history"]
                seen["copy"] = list(seen["history"])
            yield SimpleNamespace(epoch=e, diverged=False)

    live.train_live(run, snapshots(1000), 1000, lambda r, final: None, lambda done: None)
    assert run["state"] == "stopped"
    assert run["history"] is seen["history"] and run["history"] == seen["copy"] and len(run["history"]) == 300


def test_live_loop_draws_a_budget_per_run_and_times_training_only(monkeypatch):
    """train_live redraws at LIVE_FRAMES - 1 fixed fractions of the run and updates the progress at
    the TICKS fractions between them, whatever the time each epoch takes; run["seconds"] counts the
    epochs' time, not the drawing nor the slow-motion pauses (a fake clock: no timing here). What a
    finished run shows is built once, and again only if the run changed."""
    from types import SimpleNamespace

    from nnviz.ui import live

    now, slept, frames, ticks = [0.0], [], [], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(live, "time", SimpleNamespace(perf_counter=lambda: now[0], sleep=sleep))

    def snapshots(n: int, diverge_at: int = -1):
        for e in range(n):
            now[0] += 1.0 + (e % 7)  # epochs of uneven length
            yield SimpleNamespace(epoch=e, diverged=e == diverge_at)

    def draw(run: dict, final: bool) -> None:
        now[0] += 100.0
        frames.append((run["history"][-1].epoch + 1, final, run["state"]))

    def progress(done: int) -> None:
        now[0] += 100.0
        ticks.append(done)

    run = live.train_live({"config": "kept"}, snapshots(1000), 1000, draw, progress, slow_seconds=5.0)
    assert frames == [(100 * j, False, "running") for j in range(1, live.LIVE_FRAMES)]
    assert ticks == [d for d in range(20, 1000, 20) if d % 100]  # TICKS = 50, none beside a frame
    assert run["state"] == "done" and len(run["history"]) == 1000 and run["config"] == "kept"
    assert run["seconds"] == pytest.approx(sum(1.0 + e % 7 for e in range(1000)))
    assert sum(slept) == pytest.approx(5.0)
    frames.clear()
    run = live.train_live({}, snapshots(1000, diverge_at=250), 1000, draw, progress)
    assert [f[0] for f in frames] == [100, 200] and run["state"] == "diverged" and len(run["history"]) == 251
    assert live.settle(run)["state"] == "diverged" and live.settle(None) is None
    assert live.settle({"state": "running"})["state"] == "stopped"  # a click on Stop left it running
    built = []
    view = live.finished_view(run, lambda r: built.append(len(r["history"])) or {"n": len(r["history"])})
    assert live.finished_view(run, lambda r: built.append(-1) or {}) is view and built == [251]  # kept
    run["history"], run["state"] = run["history"][:100], "running"  # as a test or a Stop leaves it
    assert live.finished_view(live.settle(run), lambda r: {"n": len(r["history"])}) == {"n": 100}  # rebuilt


def _widget_keys_in_order(node, want: set[str]) -> list[str]:
    """Widget keys in the order the page's element tree lays them out (what a phone stacks)."""
    out = []
    key = getattr(node, "key", None)
    if key in want:
        out.append(key)
    children = getattr(node, "children", None) or {}
    for i in sorted(children):
        out += _widget_keys_in_order(children[i], want)
    return out


def test_page_before_training_shows_the_untrained_line_and_controls_in_reading_order(app):
    at = app(REG)
    torch.manual_seed(42)
    ref = nn.Linear(1, 1)  # the seed's untrained model, the textbook way
    w0, b0 = ref.weight.item(), ref.bias.item()
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["weight"], metrics["bias"]) == (f"{w0:.4f}", f"{b0:.4f}")
    cfg = R.RegressionConfig()
    Xtr, ytr, Xte, yte = _data64(cfg)
    assert float(metrics["train loss"]) == pytest.approx(_loss64("l1", w0, b0, Xtr, ytr), abs=5e-5)
    assert float(metrics["test loss"]) == pytest.approx(_loss64("l1", w0, b0, Xte, yte), abs=5e-5)
    from conftest import figure
    fig = figure(at, 1)  # the second panel: the data and the model's line
    line = next(t for t in fig["data"] if t["name"].startswith("untrained model"))
    assert line["y"][0] == pytest.approx(b0, abs=1e-6)
    fig = figure(at, 0)  # the first: the losses
    lo, hi = fig["layout"]["yaxis"]["range"]  # log10 of the loss axis: fits the untrained losses
    assert lo < np.log10(_loss64("l1", w0, b0, Xtr, ytr)) < hi <= 1
    keys = _widget_keys_in_order(at._tree, {"w", "b", "y_noise", "n", "split", "loss_fn", "opt", "lr", "epochs", "seed"})
    assert keys == ["w", "b", "y_noise", "n", "split", "loss_fn", "opt", "lr", "epochs", "seed"]


def _script_output(at, tmp_path) -> list[str]:
    path = tmp_path / "shown.py"
    path.write_text(shown_script(at, -1))  # the last code block: "show the code"
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


def test_page_final_losses_agree_with_the_exported_script(app, tmp_path):
    """The default run: the page's four numbers are what the shown script's last lines print, and
    the note under them quotes the script's last `Epoch:` line (the other phase) as printed."""
    at = app(REG)
    at.button(key="train").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    lines = _script_output(at, tmp_path)
    assert lines[-1] == f"weight = {metrics['weight']}, bias = {metrics['bias']}"
    got = re.fullmatch(r"Final line: train loss (\S+) \| test loss (\S+)", lines[-2])
    assert float(metrics["train loss"]) == pytest.approx(float(got[1]), rel=5e-3)
    assert float(metrics["test loss"]) == pytest.approx(float(got[2]), rel=5e-3)
    epoch_line = [l for l in lines if l.startswith("Epoch:")][-1]
    e, tr, te = re.fullmatch(r"Epoch: (\d+) \| Train loss: (\S+) \| Test loss: (\S+)", epoch_line).groups()
    note = next(c.value for c in at.caption if "script's epoch" in c.value)
    m = re.search(rf"epoch {e} reads train (\S+), test (\S+)\.", note)
    assert float(m[1]) == pytest.approx(float(tr), abs=5e-5) and float(m[2]) == pytest.approx(float(te), abs=5e-5)
    text = " ".join(c.value for c in at.caption)
    assert "alternate every epoch" in text and "3.31e-04" in text and "0.0138" in text
    body = " ".join(md.value for md in at.markdown)
    assert "not getting closer" in body and "shrink into the minimum" not in body
    success = next(s.value for s in at.success if "Trained 1000 epochs" in s.value)
    assert "snapshot copied out every epoch" in success and "Devices tab" in success


def test_page_mse_text_is_true_for_the_run(app):
    from conftest import figure
    from nnviz.figures.regression import FINAL_POINTS
    at = app(REG, loss_fn="mse")
    at.button(key="train").click().run()
    assert not at.exception
    hist = at.session_state["regression_run"]["history"]
    fig = figure(at, 0)
    assert {t["name"] for t in fig["data"]} == {"train loss", "test loss"}  # smooth: one line each
    for name, key in (("train loss", "train_loss"), ("test loss", "test_loss")):
        assert_chart_draws_the_run(fig, name, [getattr(s, key) for s in hist], FINAL_POINTS)
    body = " ".join(md.value for md in at.markdown)
    assert "shrink into the minimum" not in body and "steps shrink" not in body
    assert "Not converged" in body and "weight is 0.6480" in body
    assert "not overfitting" in body and "narrow valley" in body


def test_two_panel_charts_are_two_figures_that_can_stack_on_a_phone(app):
    """The training chart and the path chart are each two figures side by side in two columns (a
    phone stacks columns full width): no figure squeezes two plots, no legend entry is long enough to
    crowd a phone-wide panel, and the page draws the loss panel first (the projector's first screen)."""
    from conftest import figure
    from nnviz.figures.regression import path_figure, training_figure
    cfg = R.RegressionConfig(epochs=60)
    hist = list(R.train(cfg, every=1))
    data = ([0.0, 0.5], [0.3, 0.65], [0.9], [0.93])
    losses, line = training_figure(R.loss_bands(hist, 200), cfg.epochs, data, (0.7, 0.3), (0.6, 0.2), True)
    path, zoom = path_figure(R.loss_surface(cfg, (0.0, 1.0), (0.0, 1.0)), hist, (0.7, 0.3), "L1", 40)
    for fig in (losses, line, path, zoom):
        assert [k for k in fig.layout if k.startswith("xaxis")] == ["xaxis"]  # one plot each
        assert all(len(t.name or "") <= 20 for t in fig.data if t.showlegend is not False)
    assert {t.name for t in losses.data} >= {"train loss", "test loss"}
    model = next(t for t in line.data if t.name == "model")
    assert "y = 0.6000x + 0.2000" in model.hovertemplate  # the equation is in the hover
    at = app(REG)
    at.button(key="train").click().run()
    assert not at.exception
    shown = [figure(at, i) for i in range(len(at.get("plotly_chart")))]
    assert "train loss" in {t["name"] for t in shown[0]["data"]}
    assert "model" in {t["name"] for t in shown[1]["data"]}
    i = next(i for i, f in enumerate(shown) if any(t["type"] == "contour" for t in f["data"]))
    assert "zoom" in shown[i + 1]["layout"]["annotations"][0]["text"]  # the path, then its zoom
    # the default L1 run ends in a 2-cycle: its loop is drawn once, and no step of the run is missing
    hist = at.session_state["regression_run"]["history"]
    steps = {((p.weight, p.bias), (s.weight, s.bias)) for p, s in zip(hist, hist[1:])}
    drawn, hovers = set(), []
    for t in shown[i]["data"]:
        if t["name"] == "path":
            xy = list(zip(typed(t["x"]).tolist(), typed(t["y"]).tolist()))
            drawn |= set(zip(xy, xy[1:]))
            hovers.append(t["hovertemplate"])
    f32 = {tuple(tuple(float(np.float32(v)) for v in point) for point in step) for step in steps}
    assert f32 <= drawn and len(drawn) < 200 < len(hist)  # every step drawn, the repeats once
    assert any("then every 2 epochs until the end (epoch 999)" in h for h in hovers)


# --- Issue 17: one epoch numbering, one convention per number, the chart that shows the run ------------------

def _note_loop(cfg: R.RegressionConfig) -> list[tuple[int, float, float, float, float]]:
    """The seed note's loop in plain torch (global-seed nn.Linear, the state kept): per epoch (epoch, train loss
    of its forward pass, test loss after its step, weight, bias), as the script's `for epoch in range(...)`."""
    Xtr, ytr, Xte, yte = (torch.tensor(a, dtype=torch.float32).unsqueeze(1) for a in _data64(cfg))
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        model = nn.Linear(1, 1)
    loss_fn = {"l1": nn.L1Loss(), "mse": nn.MSELoss()}[cfg.loss]
    opt = (torch.optim.Adam(model.parameters(), lr=cfg.lr) if cfg.optimizer == "adam"
           else torch.optim.SGD(model.parameters(), lr=cfg.lr))
    out = []
    for epoch in range(cfg.epochs):
        loss = loss_fn(model(Xtr), ytr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            out.append((epoch, loss.item(), loss_fn(model(Xte), yte).item(), model.weight.item(), model.bias.item()))
    return out


def _labelled(text: str) -> dict[int, set[str]]:
    """Every loss value the bump report pins to an epoch: "X at epoch k" and "epoch k: X"."""
    out: dict[int, set[str]] = {}
    for value, epoch in re.findall(r"(\d[\d.e+-]*) at epoch (\d+)", text):
        out.setdefault(int(epoch), set()).add(value)
    for epoch, value in re.findall(r"epoch (\d+): (\d[\d.e+-]*\d)", text):
        out.setdefault(int(epoch), set()).add(value)
    return out


def test_the_bump_report_numbers_epochs_as_the_csv_and_the_script_do(tmp_path):
    """The same loop run for 100 and for 1000 epochs: every epoch the bump report names reads the same value in
    both runs, and it is that epoch's row of the CSV and of a plain-torch loop (0-based, as `for epoch in
    range(...)`); the shown script's `Epoch: k` line is the CSV's row k too. (The 1000-epoch run once reported
    epoch 42's test loss as epoch 43's: a running max over two epochs, labelled with the later one.)"""
    seen: dict[int, set[str]] = {}
    for epochs in (100, 1000):
        cfg = R.RegressionConfig(epochs=epochs)
        hist = list(R.train(cfg, every=1))
        said = R.report(cfg, hist)
        assert said.bump is not None, epochs
        labels = _labelled(said.bump)
        assert len(labels) == 2, (epochs, said.bump)  # the dip and the peak
        rows = {int(r.split(",")[0]): r.split(",") for r in R.history_csv(cfg, hist).strip().splitlines()[1:]}
        ref = {e: (tr, te) for e, tr, te, _, _ in _note_loop(R.RegressionConfig(epochs=epochs))}
        for epoch, values in labels.items():
            test, train = R.fmt(float(rows[epoch][2])), R.fmt(float(rows[epoch][1]))
            assert values == {test, train}, (epochs, epoch, values, rows[epoch])
            assert (float(rows[epoch][1]), float(rows[epoch][2])) == pytest.approx(ref[epoch], rel=1e-5)
            seen.setdefault(epoch, set()).update(values)
    assert all(len(v) == 2 for v in seen.values()), seen  # one test and one train value per epoch, in both runs
    assert R.find_bump(R.RegressionConfig(epochs=100), list(R.train(R.RegressionConfig(epochs=100), every=1))) == \
        R.find_bump(R.RegressionConfig(), list(R.train(R.RegressionConfig(), every=1)))  # the same bump
    cfg = R.RegressionConfig(epochs=100)
    rows = {int(r.split(",")[0]): r.split(",") for r in
            R.history_csv(cfg, list(R.train(cfg, every=1))).strip().splitlines()[1:]}
    path = tmp_path / "s.py"
    path.write_text(R.script(cfg))
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120).stdout
    lines = re.findall(r"Epoch: (\d+) \| Train loss: (\S+) \| Test loss: (\S+)", out)
    assert [int(e) for e, _, _ in lines] == list(range(0, 100, 10))
    for e, tr, te in lines:
        assert (tr, te) == (f"{float(rows[int(e)][1]):.4f}", f"{float(rows[int(e)][2]):.4f}"), e


def test_a_diverged_run_names_both_of_its_train_losses(app):
    """Tour step 5 (MSE, learning rate 1): the run stops at epoch 9. The loss chart's epoch axis ends there (not
    at 999), and the red message gives the chart's last train loss (epoch 9's forward pass, before its step) and
    the metric's (the line drawn, after it), each named, each as a float64 gradient descent computes it."""
    from conftest import figure
    at = app(REG, loss_fn="mse", lr="1")
    at.button(key="train").click().run()
    assert not at.exception
    cfg = R.RegressionConfig(loss="mse", lr=1.0)
    Xtr, ytr, _, _ = _data64(cfg)
    torch.manual_seed(cfg.seed)
    m = nn.Linear(1, 1)
    w, b = m.weight.item(), m.bias.item()
    before = []
    for _ in range(10):  # plain gradient descent on MSE in float64, 10 epochs: where the page stopped
        err = w * Xtr + b - ytr
        before.append((err ** 2).mean())
        w, b = w - 2 * (err * Xtr).mean(), b - 2 * err.mean()
    after = _loss64("mse", w, b, Xtr, ytr)
    assert before[-1] > 100 * before[0] >= max(before[:-1])  # epoch 9 is the first over 100x its start
    metrics = {mt.label: mt.value for mt in at.metric}
    assert float(metrics["train loss"]) == pytest.approx(after, rel=1e-4)
    error = at.error[0].value
    assert f"epoch 9's forward pass (before its step, as the loss chart draws it) is {R.fmt(before[-1])}" in error
    assert f"The line drawn is the one after epoch 9's step, further out still: its train loss is " \
           f"{metrics['train loss']} (the number above)" in error
    assert float(R.fmt(before[-1])) == pytest.approx(before[-1], rel=1e-4)
    fig = figure(at, 0)
    assert fig["layout"]["xaxis"]["range"] == [0, 9]
    assert max(typed(next(t for t in fig["data"] if t["name"] == "train loss")["x"])) == 9


def test_the_l1_run_draws_one_legend_entry_and_one_band_per_loss():
    """The default L1 run alternates between two lines: each loss is one legend entry, drawn as a band filled
    from its lower phase to its upper (float64 losses of the two lines), the test band hatched, the train band
    solid; a smooth run draws each loss as one line, no fill."""
    cfg = R.RegressionConfig()
    hist = list(R.train(cfg, every=1))
    from nnviz.figures.regression import training_figure
    fig, _ = training_figure(R.loss_bands(hist, len(hist)), cfg.epochs, ([0.0], [0.3], [0.9], [0.93]), (0.7, 0.3),
                             (0.7, 0.3), True)
    assert [t.name for t in fig.data if t.showlegend is not False] == ["test loss", "train loss"]
    Xtr, ytr, Xte, yte = _data64(cfg)
    a, b = hist[-1], hist[-2]
    for name, X, y in (("test loss", Xte, yte), ("train loss", Xtr, ytr)):
        i = next(i for i, t in enumerate(fig.data) if t.name == name)
        upper, lower = fig.data[i], fig.data[i - 1]
        assert lower.name == f"{name}, lower phase" and lower.legendgroup == upper.legendgroup == name
        assert upper.fill == "tonexty" and lower.fill in (None, "none")  # the band: from the lower line up
        ref = sorted(_loss64("l1", s.weight, s.bias, X, y) for s in (a, b))
        assert (float(lower.y[-1]), float(upper.y[-1])) == pytest.approx(ref, rel=1e-4)
    assert fig.data[1].fillpattern.shape == "/" and fig.data[3].fillpattern.shape in (None, "")
    smooth = R.RegressionConfig(loss="mse", lr=0.3)
    hist = list(R.train(smooth, every=1))
    fig, _ = training_figure(R.loss_bands(hist, len(hist)), smooth.epochs, ([0.0], [0.3], [0.9], [0.93]),
                             (0.7, 0.3), (0.7, 0.3), True)
    assert [t.name for t in fig.data] == ["test loss", "train loss"] and all(t.fill is None for t in fig.data)


def test_an_earlier_run_on_the_same_data_stays_faint_on_the_loss_chart(app):
    """Tour steps 4 then 6: an SGD run of 100 epochs, then Adam. Before and after Adam's Train the loss chart
    draws the SGD run's train loss as a dotted grey line labelled "earlier: SGD" (the plain-torch loop's losses),
    under Adam's, in the legend after them; a run on another loss (MSE) is not drawn beside it."""
    from conftest import figure
    at = app(REG, epochs="100")
    at.button(key="train").click().run()
    assert not at.exception
    sgd = {e: tr for e, tr, *_ in _note_loop(R.RegressionConfig(epochs=100))}
    at.selectbox(key="loss_fn").set_value("mse").run()
    at.button(key="train").click().run()  # another loss: kept, but not comparable with the L1 runs
    at.selectbox(key="loss_fn").set_value("l1").run()
    at.selectbox(key="opt").set_value("adam").run()
    at.number_input(key="epochs").set_value(1000).run()
    for trained in (False, True):
        if trained:
            at.button(key="train").click().run()
        assert not at.exception
        fig = figure(at, 0)
        names = [t["name"] for t in fig["data"]]
        assert "earlier: SGD" in names, names
        line = fig["data"][names.index("earlier: SGD")]
        assert line["line"]["dash"] == "dot" and line["legendrank"] > 1000 and names.index("earlier: SGD") == 0
        x, y = typed(line["x"]).astype(int), typed(line["y"])
        assert x[0] == 0 and x[-1] == 99
        assert y == pytest.approx([sgd[e] for e in x], rel=1e-5)
        if trained:
            assert {"train loss", "test loss"} <= set(names)
        caption = " ".join(c.value for c in at.caption)
        assert "earlier run on the same data with the same loss: SGD, lr 0.01, 100 epochs" in caption
    at.selectbox(key="loss_fn").set_value("mse").run()  # under MSE the earlier run drawn is the MSE one
    line = next(t for t in figure(at, 0)["data"] if t["name"] == "earlier: SGD")
    mse = {e: tr for e, tr, *_ in _note_loop(R.RegressionConfig(epochs=100, loss="mse"))}
    assert typed(line["y"]) == pytest.approx([mse[e] for e in typed(line["x"]).astype(int)], rel=1e-5)
    at.slider(key="w").set_value(0.5).run()  # other data: no run to compare with
    assert not any(t["name"].startswith("earlier") for t in figure(at, 0)["data"])


def test_the_cuda_graph_engine_is_mentioned_only_when_asked_for(app):
    """On a CPU the page says nothing about the CUDA-graph engine, unless a link asks for it; a finished run
    says in plain words what the eager engine is."""
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is offered here")
    at = app(REG)
    everything = " ".join(e.value for kind in ("caption", "warning", "markdown", "info") for e in at.get(kind)
                          if isinstance(getattr(e, "value", None), str))
    assert "CUDA-graph" not in everything
    at.button(key="train").click().run()
    success = next(s.value for s in at.success if "Trained 1000 epochs" in s.value)
    assert "the eager engine (PyTorch runs each operation as soon as Python reaches it, one at a time)" in success
    assert at.get("progress")[0].proto.text == "1000 of 1000 epochs done"  # a count; the chart's last epoch is 999
    at = app(REG, engine="cuda_graph")
    warning = " ".join(w.value for w in at.warning)
    assert "the CUDA-graph engine needs a CUDA device" in warning and "eager engine" in warning


# --- Reveal figures --------------------------------------------------------------------------------------

@pytest.mark.parametrize("qid, loss", [("reg-first-grad", "l1"), ("reg-first-grad-mse", "mse")])
def test_first_grad_reveal_draws_each_points_share(qid, loss):
    """One bar per training point: its share of weight.grad after the first backward(), sign(e)·x/n under L1
    and 2e·x/n under MSE (e = prediction − target of the seed's model, float64 numpy); the bars add up to the
    verdict's value, written as "weight.grad = <shown>" beside "loss.backward()"."""
    from nnviz import lessons as Ls
    from nnviz.figures.answers import answer_figure
    a = Ls.QUESTIONS[qid].answer()
    fig = answer_figure(qid, a)
    Xtr, ytr, _, _ = _data64(R.RegressionConfig())
    torch.manual_seed(42)
    m = nn.Linear(1, 1)
    e = m.weight.item() * Xtr + m.bias.item() - ytr
    ref = (np.sign(e) if loss == "l1" else 2 * e) * Xtr / len(Xtr)
    (bars,) = fig.data
    assert np.asarray(bars.x, dtype=float) == pytest.approx(Xtr, abs=1e-6)
    assert np.asarray(bars.y, dtype=float) == pytest.approx(ref, rel=1e-5, abs=1e-9)
    assert float(np.sum(ref)) == pytest.approx(a.value, rel=1e-5)
    text = fig.layout.annotations[0].text
    assert "<b>loss.backward()</b>" in text and f"weight.grad = {a.shown}" in text
    top = fig.layout.yaxis.range[1]
    assert top > 1.5 * max(ref)  # room above the bars for the text


def test_weight_after_100_reveal_draws_the_run():
    """The weight after 0..100 epochs (the seed note's loop in plain torch), the true weight 0.7 marked, the
    lowest point and the answer written at the last point, as the verdict prints it."""
    from nnviz import lessons as Ls
    from nnviz.figures.answers import answer_figure
    a = Ls.QUESTIONS["reg-weight-after-100"].answer()
    fig = answer_figure("reg-weight-after-100", a)
    ref = _note_loop(R.RegressionConfig(epochs=100))
    torch.manual_seed(42)
    w0 = nn.Linear(1, 1).weight.item()
    (line,) = fig.data
    assert list(np.asarray(line.x)) == list(range(101))
    assert np.asarray(line.y, dtype=float) == pytest.approx([w0] + [w for *_, w, _ in ref], rel=1e-6)
    assert fig.layout.shapes[0].y0 == fig.layout.shapes[0].y1 == 0.7
    texts = [an.text for an in fig.layout.annotations]
    assert f"after 100 epochs: weight = {a.shown}" in texts and "true weight 0.7" in texts
    low = int(np.argmin([w0] + [w for *_, w, _ in ref]))
    assert f"lowest {min(w for *_, w, _ in ref):.4f} after {low} epochs" in texts
    assert f"fell to {min(w for *_, w, _ in ref):.4f} after {low} epochs" in a.text  # the text counts the same way


# --- On a projector ------------------------------------------------------------------------------------

def test_the_default_first_screen_reads_on_a_projector(browser, server):
    """Presentation mode at 1024x768, the page's default: the loss and the line panels are on the first screen, each
    wholly, each plot >= 150 px, no two labels on top of each other. The tour's steps, before and after each Train
    a step asks for, are walked in test_browser_lessons.py with the same check."""
    problems: list = []
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    page.goto(f"{server.url}/regression?present=true")
    wait_idle(page)
    page.wait_for_timeout(900)  # plotly's layout pass
    assert len(first_screen(page, "default", problems)) == 2  # the loss and the line panels
    page.close()
    assert not problems, problems
