"""Logits and classification losses: why losses take raw scores, and a classifier trained live."""
import math
from dataclasses import replace

import streamlit as st

from nnviz import classification as C
from nnviz import logits as G
from nnviz.figures.classification import (double_softmax_figure, gradient_figure, history_figure, logit_loss_figure,
                                          region_figure, saturation_figure, softmax_figure, summary_logit_loss)
from nnviz.ui.figcache import show_cached
from nnviz.ui.live import SLOW, SLOW_SECONDS
from nnviz.ui import (begin, code_expander, controls_area, device, finished_view, intro, number, numbers, presenting,
                      require_frame, reserve, select, settle, show_figure, slider, tabs, toggle, train_live)

require_frame()
st.title("Logits: why classification losses take raw scores")
intro(
    "A classifier's last layer outputs **logits**: raw scores, any real number, one per class. "
    r"Sigmoid (one logit) or softmax (several) turns them into probabilities, $p_k = e^{z_k}/\sum_j e^{z_j}$. "
    "Yet PyTorch's classification losses, `nn.BCEWithLogitsLoss` and `nn.CrossEntropyLoss`, take the "
    "logits themselves. The first tab shows why, with the numbers float32 really gives; the second "
    "trains a small network live and lets you watch it bend its decision boundary."
)

lesson = begin("logits")  # a question or tour step from the link or a button sets the controls below
CLASSIFIER_KEYS = ("data", "hidden", "clf_noise", "clf_n", "clf_act", "clf_loss", "clf_opt", "clf_lr", "clf_epochs",
                   "clf_seed", "slow_clf")
# a link that sets the classifier's controls opens on its tab (written into the link, so that the tab
# stays open when those controls return to their defaults and leave the URL)
opens = G.PART.choices[1] if any(k in st.query_params for k in CLASSIFIER_KEYS) else None
why_tab, clf_tab = tabs(G.PART, "part", opens=opens)
cache = st.cache_data(max_entries=256)
GRID = 50  # decision-region lattice: 50 x 50 probabilities per frame (10 KB as float32)
TRY = (  # (label, icon, the classifier's settings): linear separability, made visible
    ("XOR with no hidden layer: a straight line", ":material/horizontal_rule:", {"data": "xor", "hidden": ""}),
    ("XOR with one hidden layer of 8 tanh units", ":material/gesture:", {"data": "xor", "hidden": "8", "clf_act": "tanh"}),
    ("Circles with ReLU, two hidden layers", ":material/radio_button_unchecked:",
     {"data": "circles", "hidden": "8, 8", "clf_act": "relu"}),
    ("Two moons, CrossEntropyLoss on two logits", ":material/dark_mode:", {"data": "moons", "clf_loss": "ce"}),
    ("XOR, 32 tanh units, Adam at 0.5: MSE on sigmoid(z) gets stuck", ":material/trending_flat:",
     {"data": "xor", "hidden": "32", "clf_act": "tanh", "clf_loss": "mse_sigmoid", "clf_lr": "0.5"}),
)
EARLIER, KEEP = "classifier_earlier", 3  # finished classifier runs kept to compare with (newest first, one per config)

# === Why losses take logits ======================================================================
if why_tab.open:
    with why_tab:
        settings, main = controls_area()
        with settings:
            logits = numbers(G.LOGITS, "logits")
            temperature = slider(G.TEMPERATURE, "temperature")
            target = slider(G.TARGET, "target")
            z_range = slider(G.Z_RANGE, "z_range")
            dtype = select(G.DTYPE, "logit_dtype")
        lesson.gate()  # an open question hides everything below until the student commits a guess
        if G.true_class(target, len(logits)) != target:
            main.warning(f"There are {len(logits)} classes (0 to {len(logits) - 1}): true class {target} "
                         f"is read as class {len(logits) - 1}.")
            target = G.true_class(target, len(logits))
        sweep = cache(G.sweep)(z_range, dtype)
        points = cache(G.failure_points)(dtype)
        with main:
            marks = {"σ(z) = 1": points["sigmoid_rounds_to_one"], "softmax → 0": points["softmax_underflows"]}
            show_cached("logits.sweep", (z_range, dtype), lambda: logit_loss_figure(sweep, marks, side_by_side=presenting()),
                        key="sweep_chart", alt=summary_logit_loss(sweep))
            one, ce_grad, ce_inf = (points["sigmoid_rounds_to_one"], points["ce_grad_nonfinite"],
                                    points["softmax_underflows"])
            m = st.columns(3)
            m[0].metric("BCELoss: stuck at 100", f"z ≥ {one:.4g}", border=True,
                        help=f"From here sigmoid(z) is exactly 1 in {dtype}: the loss is clamped at 100 and its gradient is exactly 0.")
            m[1].metric("softmax form: gradient inf", f"z ≥ {ce_grad:.4g}", border=True)
            m[2].metric("softmax form: loss inf", f"z ≥ {ce_inf:.4g}", border=True)
            off = [(what, z) for what, z in (("σ(z) is exactly 1", one), ("the softmax form's gradient is inf", ce_grad),
                                             ("its loss is inf", ce_inf)) if z > sweep.z[-1]]
            if off:  # a failure the chart cannot mark: say where it is and how to bring it on screen
                need = min(math.ceil(max(z for _, z in off) / G.Z_RANGE.step) * G.Z_RANGE.step, G.Z_RANGE.max)
                st.info(f"Beyond this chart's ±{z_range:g}, so not marked on it: "
                        + "; ".join(f"{what} from z = {z:.4g}" for what, z in off)
                        + f". Set the logit range to {need:g} to see {'it' if len(off) == 1 else 'them'}.")
            early = points["bce_grad_clamped"]
            st.markdown(
                f"The true class is 0 and the network gives class 1 the logit $z$: to the right of 0 it is "
                f"wrong, and more sure of it as $z$ grows. The exact loss is $\\log(1+e^z)$, about $z$ itself "
                f"for large $z$, and its gradient is $\\sigma(z)$, close to 1: *a confident mistake, a strong "
                f"push*. Computed the naive way, `BCELoss(sigmoid(z), 0)` needs $\\log(1-\\sigma(z))$; in "
                f"{dtype} $\\sigma(z)$ is exactly 1 from $z = {one:.4g}$, the log is $-\\infty$, and torch's "
                f"BCELoss clamps it at −100: the loss sticks at 100 and the gradient is **exactly 0**, so the "
                f"network stops learning from its worst mistakes."
                + (f" (In {dtype} the gradient goes wrong even earlier, from $z = {early:.4g}$: BCELoss's backward "
                   "divides by $\\max(p(1-p), 10^{-12})$.)" if early < one - 1e-9 else "")
                + f" The naive softmax form lasts longer but fails harder: its gradient is infinite from "
                f"$z = {ce_grad:.4g}$, and from $z = {ce_inf:.4g}$ the probability of the true class underflows "
                f"to 0 and $-\\log 0 = \\infty$. The logit forms compute $\\log(1+e^z)$ with the log-sum-exp "
                "trick and stay accurate to rounding everywhere: they lie on the grey float64 reference.")

        st.subheader("From logits to probabilities")
        sm = cache(G.softmax)(tuple(logits), temperature)
        show_cached("logits.softmax", (tuple(logits), temperature), lambda: softmax_figure(sm), key="softmax_chart")
        st.markdown(sm.caption)

        st.subheader("The gradient is p − y")
        g = cache(G.gradient)(tuple(logits), target)
        show_cached("logits.gradient", (tuple(logits), target), lambda: gradient_figure(g), key="gradient_chart")
        gap = max(abs(a - b) for a, b in zip(g.autograd, g.closed_form))
        st.markdown(
            f"For `CrossEntropyLoss` the gradient with respect to the logits is $\\mathrm{{softmax}}(z) - "
            f"\\mathrm{{onehot}}(y)$: each wrong class is pushed down by its probability, the true class "
            f"(here class {target}) up by $1 - p_{{{target}}}$. Autograd and the closed form differ by at most "
            f"{gap:.1e} here (loss {g.loss:.4f}). The same holds for `BCEWithLogitsLoss`: $\\sigma(z) - y$.")

        st.subheader("Squared error on a sigmoid learns slowly when it is confidently wrong")
        sat = cache(G.saturation)()
        show_cached("logits.saturation", (), lambda: saturation_figure(sat), key="saturation_chart")
        st.markdown(
            f"`MSELoss(sigmoid(z), y)` carries the factor $\\sigma'(z)$ of the activation page's saturation: "
            f"its gradient peaks at $z = {sat.peak_z:.2f}$ and then fades"
            + (f"; from $z = {sat.slow_from_z:.2f}$ (shaded) it is below 1% of cross-entropy's" if sat.slow_from_z
               else "") + ", exactly where the prediction is most wrong. Cross-entropy's gradient $\\sigma(z)$ "
            "grows towards 1 there.")
        st.page_link("pages/activations.py", icon=":material/show_chart:",
                     label="Sigmoid's slope and where it saturates: the activation page",
                     query_params={"fn": "sigmoid"})

        st.subheader("A common bug: softmax before CrossEntropyLoss")
        d = cache(G.double_softmax)(tuple(logits), target)
        show_cached("logits.double_softmax", (tuple(logits), target), lambda: double_softmax_figure(d),
                    key="double_softmax_chart")
        st.markdown(
            f"`nn.CrossEntropyLoss` applies log-softmax itself. Given probabilities instead of logits it "
            f"softmaxes twice: the loss here is {d.buggy_loss:.4f} instead of {d.correct_loss:.4f}, it can never "
            f"go below {d.buggy_floor:.4f} for {len(logits)} classes however right the network is, and the "
            f"gradients are smaller (largest {max(map(abs, d.buggy_grad)):.4f} against "
            f"{max(map(abs, d.correct_grad)):.4f}).")
        code_expander(G.script(tuple(logits), temperature, target, z_range, dtype), "logits_and_losses.py")

# === Train a classifier ==========================================================================
if clf_tab.open:
    with clf_tab:
        settings, main = controls_area()
        with settings:
            data = select(C.DATA, "data")  # no format_func: the URL holds the shown label, the spec the key
            noise = slider(C.NOISE, "clf_noise")
            n = slider(C.N, "clf_n")
            hidden = numbers(C.HIDDEN, "hidden")
            row = st.columns(2)
            act = select(C.ACT, "clf_act", row[0])
            loss = select(C.LOSS, "clf_loss", row[1], format_func=lambda k: k)
            row = st.columns(2)
            opt = select(C.OPT, "clf_opt", row[0], format_func=lambda k: k)
            lr = number(C.LR, "clf_lr", row[1], fmt="%.4f")
            row = st.columns(2)
            epochs = number(C.EPOCHS, "clf_epochs", row[0])
            seed = number(C.SEED, "clf_seed", row[1])
            slow = toggle(SLOW, "slow_clf")
        lesson.gate()
        reserve(120)  # on a projector, room for the tabs and the Train button above the two charts
        dev = device()
        cfg = C.ClassifierConfig(data=data, n=int(n), noise=float(noise), hidden=tuple(int(h) for h in hidden),
                                 activation=act, loss=loss, optimizer=opt, lr=float(lr), epochs=int(epochs),
                                 seed=int(seed))
        ds = C.make_data(cfg)
        points = tuple(t.tolist() for t in (ds.X_train, ds.y_train, ds.X_test, ds.y_test))
        box = C.extent(cfg)
        with main:
            buttons = st.container(horizontal=True)
            start = buttons.button("Train", type="primary", icon=":material/play_arrow:", key="train_clf")
            buttons.button("Stop", icon=":material/stop:", key="stop_clf",
                           help="Stops a running training at its next progress update.")
            panels = st.columns([1.1, 1])
            region_chart, history_chart = panels[0].empty(), panels[1].empty()
            progress, numbers_row = st.empty(), st.empty()
        # a finished run of the same network and data with another loss: drawn dotted beside this one
        other = next((e for e in st.session_state.get(EARLIER, ()) if C.differs_only_in_loss(e["config"], cfg)), None)
        earlier = None if other is None else {"name": f"{C.LOSS_NAMES[other['config'].loss]} run",
                                              **C.train_curves(other["history"])}
        if other is not None:
            main.caption(f"Dotted grey: your earlier run of this network, data, optimizer and seed with "
                         f"{C.LOSS_NAMES[other['config'].loss]} (train loss and accuracy). Its loss is another "
                         "function of the predictions: compare how the curves fall, and the accuracies.")

        def draw(run: dict, final: bool = False) -> None:
            """One update: the regions at the newest snapshot that has them, the curves, the numbers."""
            hist = run["history"]
            s = hist[-1] if hist else None
            untrained = lambda: cache(C.untrained_region)(cfg, GRID)  # noqa: E731
            done = (s.epoch + 1) if s else 0
            progress.progress(done / cfg.epochs, text=f"epoch {done} of {cfg.epochs}")
            run["draws"] = run.get("draws", 0) + 1
            tag = "final" if final else run["draws"]  # one key a run for the final charts
            if not hist and not run.get("region"):  # before a Train: the same for every student on these settings
                with region_chart:
                    show_cached("logits.region0", (cfg, GRID), lambda: region_figure(
                        untrained(), points, box, False, keys_right=presenting()), key=f"region_{tag}", headline=True)
                with history_chart:
                    if earlier is None:
                        show_cached("logits.history0", cfg.epochs, lambda: history_figure(
                            hist, cfg.epochs, accuracy_panel=not presenting()), key=f"history_{tag}", headline=True)
                    else:
                        show_figure(history_figure(hist, cfg.epochs, accuracy_panel=not presenting(), earlier=earlier),
                                    key=f"history_{tag}", headline=True)
                return
            region = run.get("region") or untrained()
            with region_chart:  # an st.empty: each frame replaces the last
                show_figure(region_figure(region, points, box, bool(hist), keys_right=presenting()),
                            key=f"region_{tag}", headline=True)
            with history_chart:
                show_figure(history_figure(hist, cfg.epochs, accuracy_panel=not presenting(), earlier=earlier),
                            key=f"history_{tag}", headline=True)
            if s is not None:
                with numbers_row.container(horizontal=True, gap="medium"):
                    for label, v in (("train accuracy", f"{s.train_accuracy:.1%}"),
                                     ("test accuracy", f"{s.test_accuracy:.1%}"),
                                     ("train loss", f"{s.train_loss:.4g}"), ("test loss", f"{s.test_loss:.4g}")):
                        st.metric(label, v, width="content")

        def with_regions(run: dict, snapshots):
            """The trainer's snapshots, keeping the newest decision regions in the run for draw()."""
            for snap in snapshots:
                if snap.region is not None:
                    run["region"] = snap.region
                yield snap

        run = settle(st.session_state.get("classifier_run"))
        if start:
            run = st.session_state["classifier_run"] = {"config": cfg, "device": dev}
            snapshots = C.train(cfg, dev, every=max(1, cfg.epochs // 200), regions_at=C.frame_epochs(cfg.epochs),
                                grid=GRID)
            train_live(run, with_regions(run, snapshots), cfg.epochs, draw,
                       lambda done: progress.progress(done / cfg.epochs, text=f"epoch {done} of {cfg.epochs}"),
                       slow_seconds=SLOW_SECONDS if slow else 0.0,
                       waiting=lambda done, text: progress.progress(done / cfg.epochs, text=text))
            if run["state"] in ("done", "diverged") and run["history"]:  # kept to compare with (no regions: small)
                entry = {"config": cfg, "history": [replace(h, region=None) for h in run["history"]]}
                older = [e for e in st.session_state.get(EARLIER, ()) if e["config"] != cfg]
                st.session_state[EARLIER] = [entry] + older[:KEEP - 1]
        if run is not None and (run["config"], run["device"]) == (cfg, dev) and run["history"]:
            draw(run, final=True)
            s = run["history"][-1]
            with main:
                compared = None if other is None else (other["config"], other["history"])
                said = finished_view(run, lambda r: {"verdict": C.verdict(cfg, r["history"], compared)})
                st.markdown(said["verdict"])
                if cfg.loss == "mse_sigmoid" and other is None:
                    st.caption("To compare: set the loss to bce and press Train. This run stays on the chart, dotted.")
                if run["state"] == "stopped":
                    st.info(f"Stopped after {s.epoch + 1} epochs. Press Train to start again.")
                elif run["state"] == "diverged":
                    st.error(f"The loss blew up within {s.epoch + 1} epochs: with learning rate {cfg.lr:g} each "
                             "step overshoots. Training was stopped; try a smaller learning rate.")
                else:
                    st.success(f"Trained {s.epoch + 1} epochs on {run['device']} in {run['seconds']:.2f} s: "
                               f"{(s.epoch + 1) / max(run['seconds'], 1e-9):.0f} epochs per second for the live "
                               "loop (training, snapshots and decision regions; drawing not counted).")
        else:
            if run is not None:
                main.info("The settings changed since the last run: press Train.")
            draw({"history": []})
        with main:
            st.markdown("**Try:**")
            links = st.columns(2)
            for i, (label, icon, query) in enumerate(TRY):
                links[i % 2].page_link("pages/logits.py", label=label, icon=icon,
                                       query_params={"part": G.PART.choices[1]} | query)
        code_expander(C.script(cfg, dev), "train_classifier.py")
