"""Deep networks in training: watch a vanishing gradient stop a deep network learning, and the fixes make it learn."""
import secrets

import streamlit as st

from nnviz import deep as D
from nnviz import lessons as Ls
from nnviz.activations import ACTIVATIONS
from nnviz.figures.deep import (activation_figure, compare_figure, dead_figure, grad_heatmap_figure, loss_figure,
                                summary_grad, summary_loss, weight_change_figure)
from nnviz.ui.figcache import describe, show_cached
from nnviz.ui.live import SLOW, SLOW_SECONDS
from nnviz.ui import (begin, code_expander, controls_area, device, finished_view, intro, notice, number, require_frame,
                      reserve, select, settle, show_figure, slider, toggle, train_live)

require_frame()
st.title("Deep networks in training")
intro(
    "The vanishing-gradient page measures one backward pass of an untrained network. Here a deep MLP "
    "(`nn.Linear` and an activation, 1 to 30 hidden layers) **trains**, live, on a 2-D classification set "
    "(`BCEWithLogitsLoss`) or a sine wave (`MSELoss`). Watch the loss, and every layer's gradient norm epoch by "
    "epoch: a deep sigmoid network with PyTorch's default init hardly learns, because its first layers "
    "get almost no gradient and barely move. Change the init, the activation, add residual connections, "
    "normalisation or gradient clipping, and compare the runs."
)

FIELDS = {"data": "deep_data", "n": "deep_n", "noise": "deep_noise", "depth": "deep_depth", "width": "deep_width",
          "activation": "deep_act", "init": "deep_init", "std": "deep_std", "residual": "deep_residual",
          "norm": "deep_norm", "optimizer": "deep_opt", "lr": "deep_lr", "epochs": "deep_epochs", "seed": "deep_seed"}
RUN, RUNS, KEEP = "deep_run", "deep_runs", 3  # the latest run; finished runs kept to compare (newest first)
SNAPSHOTS = 30  # snapshot epochs a run (every epochs // 30): the heat map's columns, and the statistics' cost


def link(config: D.DeepConfig) -> dict[str, list[str]]:
    """A config as this page's URL values (only what differs from the page's defaults)."""
    params = {key: getattr(config, name) for name, key in FIELDS.items()}
    params |= {"deep_clip": config.clip is not None, "deep_max_norm": config.clip if config.clip is not None
               else D.CLIP.default}
    return Ls.to_settings("deep", params)


lesson = begin("deep")  # a question or tour step from the link or a button sets the controls below

# --- Controls ---------------------------------------------------------------------------------
settings, main = controls_area()
with settings:
    data = select(D.DATA, "deep_data")
    n, noise = slider(D.N, "deep_n"), slider(D.NOISE, "deep_noise")
    depth, width = slider(D.DEPTH, "deep_depth"), slider(D.WIDTH, "deep_width")
    act, init = select(D.ACT, "deep_act"), select(D.INIT, "deep_init")
    std = slider(D.STD, "deep_std") if init == "normal" else D.STD.default
    norm, residual = select(D.NORM, "deep_norm"), toggle(D.RESIDUAL, "deep_residual")
    row = st.columns(2)  # short labels side by side; on a phone they stack in reading order
    opt, lr = select(D.OPT, "deep_opt", row[0]), number(D.LR, "deep_lr", row[1], fmt="%.4f")
    row = st.columns(2)
    epochs, seed = number(D.EPOCHS, "deep_epochs", row[0]), number(D.SEED, "deep_seed", row[1])
    clip_on = toggle(D.CLIP_ON, "deep_clip")
    max_norm = number(D.CLIP, "deep_max_norm", fmt="%.2f") if clip_on else D.CLIP.default
    slow = toggle(SLOW, "slow_deep")

lesson.gate()  # an open question hides everything below until the student commits a guess
if lesson.step is None:  # on a projector, room for the Train button above the two charts: the figures stay whole
    reserve(60)  # (on a tour step the step's panel takes that room; the panels keep >= 150 px of plot instead)

dev = device()
cfg = D.DeepConfig(data=data, n=int(n), noise=float(noise), depth=int(depth), width=int(width), activation=act,
                   init=init, std=float(std), residual=bool(residual), norm=norm, optimizer=opt, lr=float(lr),
                   epochs=int(epochs), clip=float(max_norm) if clip_on else None, seed=int(seed))
costly = D.too_costly(cfg)
if costly:
    notice(costly)
regression = cfg.data in D.REGRESSION
every = max(1, cfg.epochs // SNAPSHOTS)

# --- Train ------------------------------------------------------------------------------------
with main:
    buttons = st.container(horizontal=True)  # side by side, on a phone too
    start = buttons.button("Train", type="primary", icon=":material/play_arrow:", key="train_deep",
                           disabled=costly is not None)
    buttons.button("Stop", icon=":material/stop:", key="stop_deep",
                   help="Stops a running training at its next progress update; what it learned so far stays.")
    panels = st.columns(2)  # stacked full width on a phone
    loss_chart, heat_chart = panels[0].empty(), panels[1].empty()
    progress, said = st.empty(), st.container()

headline = lesson.question is None  # after a reveal the answer's figure is the headline


def draw(run: dict, final: bool) -> None:
    """One update: the progress bar and the two headline figures (a finished run's built once, by run id)."""
    hist = run["history"]
    done = hist[-1].epoch + 1 if hist else 0
    progress.progress(min(done / cfg.epochs, 1.0), text=f"{done} of {cfg.epochs} epochs done")
    run["draws"] = run.get("draws", 0) + 1
    tag = "final" if final else run["draws"]
    figures = ((loss_chart, "loss", lambda: loss_figure(hist, cfg.epochs, final, regression),
                summary_loss(hist, regression)),
               (heat_chart, "grad", lambda: grad_heatmap_figure(hist, cfg.epochs, final), summary_grad(hist)))
    for place, name, build, alt in figures:
        with place.container():  # an st.empty: each frame replaces the last (the chart and its text alternative)
            if final or not hist:  # a still picture: built and serialised once for what it draws
                still = (run.get("id"), len(hist), run.get("state")) if hist else (cfg.epochs, regression)
                show_cached(f"deep.{name}", still, build, key=f"deep_{name}_{tag}", headline=headline, alt=alt)
            else:
                describe(alt)
                show_figure(build(), key=f"deep_{name}_{tag}", headline=headline)


def keep(run: dict) -> None:
    """Keep a finished run's curves to compare with (newest first, one per config, at most KEEP)."""
    if run["state"] in ("done", "diverged") and run["history"]:
        h = run["history"]
        entry = {"config": run["config"], "epochs": [s.epoch for s in h], "train_loss": [s.train_loss for s in h],
                 "grad_first": [s.grad_norm[0] for s in h]}
        older = [e for e in st.session_state.get(RUNS, ()) if e["config"] != run["config"]]
        st.session_state[RUNS] = [entry] + older[:KEEP - 1]


run = settle(st.session_state.get(RUN))  # a run a click on Stop interrupted is "stopped"
if start and costly is None:
    run = st.session_state[RUN] = {"config": cfg, "device": dev, "id": secrets.token_hex(8)}
    train_live(run, D.train(cfg, dev, every=every), cfg.epochs, draw,
               lambda done: progress.progress(done / cfg.epochs, text=f"{done} of {cfg.epochs} epochs done"),
               slow_seconds=SLOW_SECONDS if slow else 0.0,
               waiting=lambda done, text: progress.progress(done / cfg.epochs, text=text))
    keep(run)

finished = run is not None and (run["config"], run["device"]) == (cfg, dev) and run["history"]
if finished:
    draw(run, final=True)
    hist = run["history"]
    last = hist[-1]
    view = finished_view(run, lambda r: {"verdict": D.verdict(cfg, r["history"])})
    grads = [v for s in hist for v in s.grad_norm]
    marks = ([] if all(v == v and v != float("inf") for v in grads) else
             ["cells at the top of the colour bar: the gradient overflowed (inf or nan)"]) + (
             ["cells at the bottom: exactly 0"] if 0.0 in grads else [])
    with said:
        if marks:
            st.caption("In the heat map, " + "; ".join(marks) + ".")
        if run["state"] == "diverged":
            st.error(view["verdict"])
        else:
            st.markdown(view["verdict"])
            if run["state"] == "stopped":
                st.info(f"Stopped after {last.epoch + 1} epochs. Press Train to start again.")
            else:
                st.caption(f"Trained {last.epoch + 1} epochs on {run['device']} in {run['seconds']:.2f} s (the live "
                           f"loop with a snapshot of every layer every {every} epochs; drawing not counted). "
                           f"{D.final_line(last)} (as the script under *Show the code* prints).")
else:
    if run is not None:
        said.info("The settings changed since the last run: press Train.")
    draw({"history": []}, final=False)
    said.caption("Press **Train**. Left: the train and test loss. Right: every layer's gradient norm at each "
                 "snapshot epoch (the input layer at the top, colour on a log scale: each step of the colour bar "
                 "is a factor of 10).")

with main:
    st.page_link("pages/vanishing.py", icon=":material/trending_down:",
                 label=f"Untrained: {act} at every depth up to {cfg.depth}, on the vanishing-gradient page",
                 query_params={"act": act, "depth": str(cfg.depth), "init": init}
                 | ({"std": f"{std:g}"} if init == "normal" else {})
                 | ({"residual": "true"} if residual else {}) | ({"norm": norm} if norm != "none" else {}))

# --- Try --------------------------------------------------------------------------------------
st.markdown("**Try** (each link sets the page; press Train):")
for name, p in D.PRESETS.items():
    left, right = st.columns([3, 2])  # the preset's title whole on a 1024 px projector
    left.page_link("pages/deep.py", label=p.title, icon=":material/science:", query_params=link(p.config))
    right.caption(f"Claim: {p.claim} (seed 0 here; measured for seeds 0–9).")

# --- Compare runs -------------------------------------------------------------------------------
runs = st.session_state.get(RUNS, [])
if len(runs) >= 2:
    st.subheader("Compare runs")
    configs = [e["config"] for e in runs]
    named = [e | {"label": D.label(e["config"], [c for c in configs if c is not e["config"]])} for e in runs]
    show_cached("deep.compare", tuple(configs), lambda: compare_figure(named), key="deep_compare")
    st.caption(f"Your last {len(runs)} finished runs (newest solid, then dashed, then dotted), named by what "
               "differs between them. The right panel is the first hidden layer's gradient norm: where it stays "
               "orders of magnitude low, that layer hardly learns.")
    if st.button("Forget the compared runs", icon=":material/delete:", key="deep_forget"):
        st.session_state[RUNS] = []
        st.rerun()
elif runs:
    st.caption("Train another setting: your last three finished runs are drawn on one chart here to compare.")

# --- Inside the finished run ------------------------------------------------------------------
if finished:
    shown = (run["id"], len(hist), run["state"])
    st.subheader("Which layers moved")
    show_cached("deep.weights", shown, lambda: weight_change_figure(hist, D.MOVED), key="deep_weights")
    st.caption("How far each layer's weights moved from where they started, ‖W − W₀‖ / ‖W₀‖, at three snapshot "
               "epochs (the latest solid). Layer 1 is the input side; 'out' is the output layer. Below the dotted line a layer has "
               "barely moved.")
    st.subheader("Activations, layer by layer")
    colour = ACTIVATIONS[cfg.activation].colour
    show_cached("deep.acts", shown, lambda: activation_figure(hist, D.limits(cfg.activation), colour, D.QUANTILES),
                key="deep_acts")
    st.caption("Each hidden layer's outputs f(z) over every training point and unit: the pale band holds the "
               "middle 90%, the dark band the middle 50%, the line is the median; dotted: the activation's limits, "
               "where saturated units pile up. " + D.saturation(last, cfg.activation))
    st.subheader("Dead units")
    if last.dead_fraction is not None:
        show_cached("deep.dead", shown, lambda: dead_figure(hist), key="deep_dead")
        st.caption("A unit is dead when its pre-activation z is ≤ 0 for every training input: ReLU then "
                   "outputs 0 for every input and its weights get no gradient from any of them; it comes back only if the "
                   "layers before it change what it receives. Counted over all "
                   f"{D._n_train(cfg)} training points at each snapshot epoch.")
    else:
        st.caption(f"Counted for ReLU only (output and slope exactly 0 for every z ≤ 0), not for {cfg.activation}. "
                   "Other activations can switch units off too (hardswish is 0 for z ≤ −3, hardtanh's slope is 0 "
                   "for |z| ≥ 1); this page does not count them.")

code_expander(D.script(cfg, dev), "deep_training.py")
