"""Train a linear regression live, on the device picked in the sidebar: the training loop, visible."""
import secrets
from functools import cache

import streamlit as st

from nnviz import regression as R
from nnviz.figures.regression import (FINAL_POINTS, path_figure, step_figure, summary_training, timing_figure,
                                      training_figure)
from nnviz.devices import available_devices
from nnviz.ui.live import SLOW, SLOW_SECONDS, TURNS
from nnviz.ui.figcache import describe, show_cached
from nnviz.ui.runlog import log_run
from nnviz.ui import (begin, code_expander, controls_area, device, finished_view, intro, notice, number, require_frame,
                      select, settle, show_figure, slider, tabs, toggle, train_live)
from nnviz.controls import ChoiceSpec

require_frame()
st.title("Train a linear regression, live")
intro(
    "The whole of deep learning's training loop, on the smallest model there is: `nn.Linear(1, 1)`, "
    "one weight and one bias, learning the line $y = wx + b$. Every epoch runs five lines: "
    "**forward pass → loss → zero_grad → backward → optimizer step**. Press *Train* to watch it, or "
    "go *Step by step* to run the lines one at a time."
)

LIVE_POINTS = 100  # points per loss line across the whole epoch axis in a live frame (one at 40 % of the run
# draws 40 % of them); the finished run's chart draws FINAL_POINTS (the charts' bytes: the budget of a Train)
SURFACE_GRID = 41  # (weight, bias) points a side of the loss surface under the path: its contours read the same as finer

ENGINE = ChoiceSpec("Engine", tuple(R.ENGINES), "eager",
                    help="eager: PyTorch runs each operation of the loop as soon as Python reaches it, one at a "
                         "time. cuda_graph (CUDA only): the GPU records one whole epoch once, then replays it "
                         "in one go, without Python's cost per operation.")
EAGER_WORDS = "the eager engine (PyTorch runs each operation as soon as Python reaches it, one at a time)"
EARLIER = "regression_earlier"  # finished runs (newest first) the loss chart can draw faint beside a new one
KEEP_EARLIER = 3

lesson = begin("regression")  # a question or tour step from the link or a button sets the controls below

# --- Controls ---------------------------------------------------------------------------------
settings, main = controls_area()
with settings:
    row = st.columns(2)  # one row per pair of controls: on a phone the rows stack in reading order
    w, b = slider(R.W, "w", row[0]), slider(R.B, "b", row[1])
    noise = slider(R.NOISE, "y_noise")
    row = st.columns(2)
    n, split = slider(R.N, "n", row[0]), slider(R.SPLIT, "split", row[1])
    row = st.columns(2)
    loss, opt = select(R.LOSS, "loss_fn", row[0]), select(R.OPT, "opt", row[1], format_func=lambda k: k)
    row = st.columns(2)
    lr, epochs = number(R.LR, "lr", row[0], fmt="%.4f"), number(R.EPOCHS, "epochs", row[1])
    seed = number(R.SEED, "seed")
    slow = toggle(SLOW, "slow")
    dev = device()
    engine = select(ENGINE, "engine") if dev.startswith("cuda") else "eager"
if not dev.startswith("cuda") and "cuda_graph" in st.query_params.get_all("engine"):  # asked for, not available
    del st.query_params["engine"]
    notice("The link's engine=cuda_graph could not be used: the CUDA-graph engine needs a CUDA device, and none "
           f"is selected; training runs on {dev} with {EAGER_WORDS}.")

lesson.gate()  # an open question hides everything below until the student commits a guess

cfg = R.RegressionConfig(weight=w, bias=b, noise=noise, n=int(n), split=split, loss=loss, optimizer=opt,
                         lr=float(lr), epochs=int(epochs), seed=int(seed))
data = R.make_data(cfg)
arrays = tuple(t.flatten().tolist() for t in (data.X_train, data.y_train, data.X_test, data.y_test))
true_line = (w, b)
if len(arrays[2]) == 0:
    main.warning("With these settings the test set is empty (too few points for this split).")

# --- Train ------------------------------------------------------------------------------------
# bound to the link (?view=Devices); only the open tab is computed (a student moving a slider on the Train tab
# does not pay for the step-by-step state or the timing table)
train_tab, step_tab, device_tab = tabs(R.VIEW, "view", where=main)
if train_tab.open:
    with train_tab:
        buttons = st.container(horizontal=True)  # side by side, on a phone too
        start = buttons.button("Train", type="primary", icon=":material/play_arrow:", key="train")
        buttons.button("Stop", icon=":material/stop:", key="stop",
                       help="Stops a running training at its next progress update; what it learned so far stays.")
        # the chart right under the buttons (the first screen of a projector), its two panels in two
        # columns (stacked full width on a phone); the progress and the numbers under it
        panels = st.columns(2)
        loss_chart, line_chart = panels[0].empty(), panels[1].empty()
        progress, numbers, note, compare = st.empty(), st.empty(), st.empty(), st.empty()
        untrained = R.make_model(cfg.seed)
        start_line = (untrained.weight.item(), untrained.bias.item())
        # on a projector the headline panels give up height to the lesson panel above them; after a reveal the answer's
        # figure is the headline and these two sit below it, at their full height
        headline = lesson.question is None
        # the latest finished run of the same loss on the same data, drawn faint on the loss chart to compare with
        kept = next((e for e in st.session_state.get(EARLIER, ()) if R.comparable(e["config"], cfg)), None)
        earlier = None if kept is None else {
            "label": "earlier: " + R.differences(kept["config"], cfg)[0],
            "about": f"earlier run ({R.describe(kept['config'])})", "band": kept["band"]}
        if kept is not None:
            compare.caption(f"The dotted grey line is the train loss of your earlier run on the same data with the same "
                            f"loss: {R.describe(kept['config'])}. This run: {R.describe(cfg)}.")

        def keep(run: dict) -> None:
            """Keep a finished run's train loss for the next run's chart (newest first, one per config)."""
            if run["state"] in ("done", "diverged") and run["history"]:
                entry = {"config": run["config"], "band": R.loss_bands(run["history"], FINAL_POINTS)["train loss"]}
                older = [e for e in st.session_state.get(EARLIER, ()) if e["config"] != run["config"]]
                st.session_state[EARLIER] = [entry] + older[:KEEP_EARLIER - 1]

        def progress_text(done: int) -> str:
            return f"{done} of {cfg.epochs} epochs done"  # a count: the chart's last epoch is {done - 1}, from 0

        def frame(hist: list, final: bool = False) -> dict:
            """What one update shows: the line drawn (the last snapshot's, or the untrained one), its train
            and test loss, and the two panels. A live frame's loss lines take their share of LIVE_POINTS (the
            epoch axis spans the whole run from the start); the finished run's, FINAL_POINTS, on an axis
            fitted to the epochs it ran (a run that blew up or was stopped early is not a spike at the edge)."""
            s = hist[-1] if hist else None
            line, done = ((s.weight, s.bias), s.epoch + 1) if s else (start_line, 0)
            (tr,), (te,) = R.losses_at(cfg, [line[0]], [line[1]])
            span = None if hist or earlier else (min(tr, te) / 1000, 3 * max(tr, te))
            points = FINAL_POINTS if final else max(LIVE_POINTS * done // cfg.epochs, 10)
            bands = cache(lambda: R.loss_bands(hist, max(len(hist), 1)))
            figures = cache(lambda: training_figure(bands(), done if final else cfg.epochs,
                                                    arrays, true_line, line, bool(hist), span, points, earlier))
            alts = cache(lambda: summary_training(bands(), line, true_line, bool(hist), points))  # text alternatives
            return {"done": done, "line": line, "losses": (tr, te), "figures": figures, "alts": alts}  # built when drawn

        def finished(run: dict) -> dict:
            """The finished run's frame, its report and its path figures (built once: see finished_view)."""
            hist = run["history"]
            said = R.report(cfg, hist)
            path = cache(lambda: path_figures(hist, said)) if len(hist) > 2 else None
            return frame(hist, final=True) | {"report": said, "path": path}

        def path_figures(hist: list, said: R.Report) -> tuple:
            """The path of (weight, bias) over the loss surface, and its last fifth zoomed in."""
            ws, bs = [s.weight for s in hist] + [w], [s.bias for s in hist] + [b]
            pad_w, pad_b = 0.2 * (max(ws) - min(ws)) + 0.05, 0.2 * (max(bs) - min(bs)) + 0.05
            surface = R.loss_surface(cfg, (min(ws) - pad_w, max(ws) + pad_w), (min(bs) - pad_b, max(bs) + pad_b),
                                     SURFACE_GRID)
            cycle = (said.cycle.onset, said.cycle.period) if said.cycle else None  # drawn once, not once a lap
            return path_figure(surface, hist, true_line, cfg.loss.upper(), hist[int(0.8 * (len(hist) - 1))].epoch, cycle)

        def draw(run: dict, final: bool) -> None:
            """One update: the progress bar, the four numbers of the line drawn and both panels."""
            view = finished_view(run, finished) if final else frame(run["history"])
            line, (tr, te), done = view["line"], view["losses"], view["done"]
            progress.progress(done / cfg.epochs, text=progress_text(done))
            with numbers.container(horizontal=True, gap="medium"):  # in a row; on a phone they wrap two by two
                st.metric("weight", f"{line[0]:.4f}", f"true {w:g}", delta_color="off", delta_arrow="off", width="content")
                st.metric("bias", f"{line[1]:.4f}", f"true {b:g}", delta_color="off", delta_arrow="off", width="content")
                st.metric("train loss", R.fmt(tr), help="of the line drawn, after the last step", width="content")
                st.metric("test loss", R.fmt(te), help="of the line drawn, after the last step", width="content")
            run["draws"] = run.get("draws", 0) + 1
            tag = "final" if final else run["draws"]  # one key a run for the final chart: a repeat is sent by reference
            # a still picture (before training, or a finished run) is built and serialised once for what it draws, so
            # a rerun that changes nothing it shows sends a stored spec; a live frame is drawn once anyway
            still = (cfg, earlier, run.get("id"), done, run.get("state")) if final or not run["history"] else None
            for place, i, name in ((loss_chart, 0, "loss"), (line_chart, 1, "line")):
                with place.container():  # an st.empty: each frame replaces the last (the chart and its text)
                    if still is None:
                        describe(view["alts"]()[i])
                        show_figure(view["figures"]()[i], key=f"live_{name}_{tag}", headline=headline)
                    else:
                        show_cached(f"regression-{name}", still, lambda: view["figures"]()[i], key=f"live_{name}_{tag}",
                                    headline=headline, alt=view["alts"]()[i])

        run = settle(st.session_state.get("regression_run"))  # a run a click on Stop interrupted is "stopped"
        if start:
            run = st.session_state["regression_run"] = {"config": cfg, "device": dev, "engine": engine,
                                                        "id": secrets.token_hex(8)}  # names its cached figures
            snapshots = R.train(cfg, dev, every=1 if engine == "eager" else 10, engine=engine)
            train_live(run, snapshots, cfg.epochs, draw,
                       lambda done: progress.progress(done / cfg.epochs, text=progress_text(done)),
                       slow_seconds=SLOW_SECONDS if slow else 0.0,
                       waiting=lambda done, text: progress.progress(done / cfg.epochs, text=text))
            keep(run)

        if run is not None and (run["config"], run["device"]) == (cfg, dev) and run["history"]:
            draw(run, final=True)
            last, said = run["history"][-1], finished_view(run, finished)["report"]
            note.caption(said.numbers)  # right under the four numbers
            if said.phases:
                st.caption(said.phases)
            if run["state"] == "diverged":
                st.error(said.state)  # names both train losses: the chart's last (before the step), the line drawn's
            else:
                if run["state"] == "stopped":
                    st.info(f"Stopped after {last.epoch + 1} epochs. Press Train to start again.")
                else:
                    engine_words = EAGER_WORDS if run["engine"] == "eager" else "the CUDA-graph engine"
                    st.success(f"Trained {last.epoch + 1} epochs on {run['device']} in {run['seconds']:.2f} s with "
                               f"{engine_words}: {1e6 * run['seconds'] / (last.epoch + 1):.0f} µs per epoch "
                               f"for the live loop: the training plus a snapshot copied out every "
                               f"{'epoch' if run['engine'] == 'eager' else '10 epochs'} for the charts and the "
                               "page's Python between epochs, while the server sends the frames (drawing not counted). "
                               "The Devices tab times the "
                               "bare loop: one snapshot at the end, after a warm-up.")
                st.markdown(said.state)
                if said.bump:
                    st.markdown(said.bump)
        else:
            if run is not None:
                st.info("The settings changed since the last run: press Train.")
            draw({"history": []}, final=False)
            note.caption(f"Before training: nn.Linear(1, 1) as seed {cfg.seed} initialises it, "
                                        "and its losses on the data (the dashed line).")

# --- Step by step -------------------------------------------------------------------------------
if step_tab.open:
    with step_tab:
        stepper = st.session_state.get("stepper")
        if stepper is None or (stepper.config, stepper.device) != (cfg, dev):
            stepper = st.session_state["stepper"] = R.Stepper(cfg, dev)
        s1, s2, s3, _ = st.columns([1.3, 1.3, 1, 2])
        if s1.button("Run next line", icon=":material/skip_next:", key="next_line"):
            stepper.advance()
        if s2.button("Finish the epoch", icon=":material/fast_forward:", key="next_epoch"):
            stepper.finish_epoch()
        if s3.button("Reset", icon=":material/restart_alt:", key="reset"):
            stepper = st.session_state["stepper"] = R.Stepper(cfg, dev)
        just_ran = (stepper.next_line - 1) % len(R.LOOP) if stepper.history or stepper.next_line else None
        lines = [f"for epoch in range({cfg.epochs}):  # now: epoch {stepper.epoch}"]
        for i, (_, code, _) in enumerate(R.LOOP):
            mark = "  # <- just ran" if i == just_ran else "  # <- next" if i == stepper.next_line else ""
            lines.append(f"    {code}{mark}")
        st.code("\n".join(lines), language="python")
        if just_ran is not None:
            st.markdown(R.LOOP[just_ran][2])
        left, right = st.columns([1, 1.6])
        with left:
            wgt, bia = stepper.params()
            gw, gb = stepper.grads()
            none_text = "None (cleared by zero_grad)" if stepper.epoch > 0 else "None (no backward yet)"
            rows = [("weight", f"{wgt:.6f}"), ("bias", f"{bia:.6f}"),
                    ("weight.grad", none_text if gw is None else f"{gw:.6f}"),
                    ("bias.grad", none_text if gb is None else f"{gb:.6f}")]
            if stepper.loss is not None and stepper.next_line != 1:
                rows.insert(0, ("loss", f"{stepper.loss.item():.6f}"))
            st.dataframe([{"quantity": k, "value": v} for k, v in rows], hide_index=True, key="step_values")
        with right:
            show_cached("regression-step", (cfg, stepper.params(), stepper.predictions()),
                        lambda: step_figure(arrays, true_line, *stepper.params(), stepper.predictions()), key="step_chart")
        if just_ran == 4 and stepper.before is not None:
            (w0, b0), (w1, b1) = stepper.before, stepper.params()
            if cfg.optimizer == "sgd":
                st.latex(rf"w \leftarrow w - \text{{lr}}\cdot\text{{grad}} = {w0:.5f} - {cfg.lr:g}\times({gw:.5f}) = {w1:.5f}")
                st.latex(rf"b \leftarrow b - \text{{lr}}\cdot\text{{grad}} = {b0:.5f} - {cfg.lr:g}\times({gb:.5f}) = {b1:.5f}")
            else:
                st.markdown(f"The step moved the weight by {w1 - w0:+.6f} and the bias by {b1 - b0:+.6f}. "
                            f"{R.OPTIMIZERS[cfg.optimizer]} does not step by exactly lr × grad: it keeps "
                            "running averages of past gradients and steps along those.")
        if cfg.loss == "l1":
            st.caption("Under L1 the gradient is the mean of sign(error) × x: it does not shrink near the "
                       "minimum, so with a fixed learning rate the line ends up stepping back and forth.")
            st.page_link("pages/losses.py", icon=":material/scatter_plot:",
                         label="Why: L1's pull on each point is ±1 however near, MSE's shrinks (the force plot)",
                         query_params={"loss": ["l1", "mse"]})

# --- Devices ------------------------------------------------------------------------------------
@st.cache_data(max_entries=32, show_spinner="Timing this run on every device…")
def timed_on_devices(cfg: R.RegressionConfig, devices: tuple[str, ...]) -> list[R.Timing]:
    """R.compare_devices, computed once per (settings, devices): clicks cannot stack timings (issue 18); and in
    its turn with the trainings (TURNS): students timing different settings at once do not stack either."""
    log_run("timing")  # counted by tests/test_rerun_burst.py
    with TURNS.turn():
        return R.compare_devices(cfg, list(devices))


if device_tab.open:
    with device_tab:
        st.markdown("The same run, timed on every device this server has: the bare loop, with one snapshot "
                    "copied out at the end and a warm-up first. (The Train tab's figure is higher: it also "
                    "copies a snapshot every epoch for the live charts and runs the page's Python between epochs.)")
        if st.button("Time this run on every device", icon=":material/timer:", key="compare"):
            # once per settings and devices on this process: more clicks (while it runs, or after) show the same timing
            st.session_state["timings"] = (cfg, timed_on_devices(cfg, tuple(d.id for d in available_devices())))
        timings = st.session_state.get("timings")
        if timings and timings[0] == cfg:
            rows = timings[1]
            st.dataframe([{"device": t.device, "engine": t.engine,
                           "µs per epoch": None if t.seconds_per_epoch is None else round(t.seconds_per_epoch * 1e6, 1),
                           "final weight": t.weight, "final bias": t.bias, "note": t.note or ""} for t in rows],
                         hide_index=True, key="timing_table")
            st.caption("engine: *eager* runs each operation of the loop as soon as Python reaches it, one at a time; "
                       "*cuda_graph* (CUDA only) records one whole epoch on the GPU once and replays it in one go.")
            show_figure(timing_figure(rows), key="timing_chart")
            measured = [t for t in rows if t.seconds_per_epoch is not None]
            if len(measured) > 1:
                fastest = min(measured, key=lambda t: t.seconds_per_epoch)
                st.markdown(f"Fastest here: **{fastest.device} ({fastest.engine})**, "
                            f"{fastest.seconds_per_epoch * 1e6:.0f} µs per epoch.")
        st.markdown(
            "A model with two parameters does almost no arithmetic: each epoch is about ten tiny operations, "
            "and on a GPU each one costs a kernel launch (several microseconds) plus Python's overhead, so "
            "a GPU is often **slower** than the CPU here. Capturing the whole epoch in a CUDA graph and "
            "replaying it removes most of that launch cost. GPUs win when each operation has enough work: "
            "large matrices, large batches."
        )

# --- Why L1 ends in a small oscillation ------------------------------------------------------------
run = st.session_state.get("regression_run")
if train_tab.open and run is not None and (run["config"], run["device"]) == (cfg, dev) and len(run["history"]) > 2:
    st.subheader("The path of (weight, bias)")
    hist, view = run["history"], finished_view(run, finished)  # built once, with the run's other figures
    panels = st.columns(2)  # stacked full width on a phone
    shown = (run.get("id"), len(hist), run["state"])  # a finished run's path: built and serialised once
    with panels[0]:
        show_cached("regression-path", shown, lambda: view["path"]()[0], key="path_chart")
    with panels[1]:
        show_cached("regression-path-zoom", shown, lambda: view["path"]()[1], key="path_zoom_chart")
    cycle = view["report"].cycle
    st.caption(f"Each epoch moves (weight, bias) one step downhill over the {cfg.loss.upper()} training-loss "
               "surface; the zoom shows the last fifth of the run." + (
                   f" From epoch {cycle.onset} it goes round the same {cycle.period} points until the end: "
                   "that loop is drawn once." if cycle else ""))
    e1, e2 = st.columns(2)
    # built when clicked, not on every rerun of the page (a 5000-epoch history is ~25 ms of work)
    e1.download_button("History as CSV", lambda: R.history_csv(cfg, hist), file_name="history.csv", mime="text/csv",
                       icon=":material/download:")
    e2.download_button("Trained state_dict (.pt)", lambda: R.state_dict_bytes(cfg, hist), file_name="linear_regression.pt",
                       mime="application/octet-stream", icon=":material/download:")

code_expander(R.script(cfg, dev), "train_linear_regression.py")
