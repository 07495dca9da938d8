"""Vanishing (and exploding) gradients: watch the first layers' gradient shrink as depth grows."""
import math

import streamlit as st

from nnviz import vanishing as V
from nnviz.activations import ACTIVATIONS
from nnviz.figures import depth_figure, heatmap_figure, profile_figure, stats_figure
from nnviz.figures.vanishing import summary_depth
from nnviz.ui import begin, code_expander, controls_area, device, intro, multiselect, require_frame, select, slider, toggle
from nnviz.ui.figcache import show_cached
from nnviz.ui.heavy import heavy_cache

require_frame()
st.title("Vanishing gradients: what reaches the first layer?")
intro(
    "Backpropagation multiplies the gradient, layer after layer, by each layer's **weights** and by "
    "the **slope** $f'(z)$ of its activation. Stack many layers and that product can shrink towards "
    "zero (**vanishing**) or blow up (**exploding**). Each network here is built from `nn.Linear` "
    "layers and the chosen activation, gets a batch of random inputs with random regression "
    "targets and `nn.MSELoss`, and runs one `loss.backward()`; we read every layer's `weight.grad`."
)

# plain words for the jargon, where each first appears
MATCHED_WORDS = ("matched: each activation gets the init designed for it, Xavier (Glorot) for sigmoid and tanh, "
                 "He (Kaiming) for ReLU; the legend names it on every line.")
SIGMA_WORDS = ("σ_w² is the weights' scale: the number of inputs a unit adds up times the variance of one weight "
               "(1/3 for PyTorch's default, 1 for Xavier, 2 for He). E[f'(z)²] is the average of the squared slope "
               "over a layer's units: how much gradient the activation lets through, on average.")

lesson = begin("vanishing")  # a question or tour step from the link or a button sets the controls below

# --- Controls ---------------------------------------------------------------------------------
settings, main = controls_area()
with settings:
    acts = multiselect(V.ACT, "act")
    depth = slider(V.DEPTH, "depth")
    width = slider(V.WIDTH, "width")
    init_name = select(V.INIT, "init", format_func=lambda k: k)
    std = slider(V.STD, "std") if init_name == "normal" else V.STD.default
    if init_name == "matched":
        st.markdown(f":small[{MATCHED_WORDS}]")
    else:
        st.caption(V.INITS[init_name][0])
    residual = toggle(V.RESIDUAL, "residual")
    with lesson.spot("norm", settings):  # a tour step that asks to switch it draws it in the tour panel
        norm = select(V.NORM, "norm")
    dtype = select(V.DTYPE, "dtype")
    seed = slider(V.SEED, "init_seed")

lesson.gate()  # an open question hides everything below until the student commits a guess

if not acts:
    main.info("Pick at least one activation in the settings.")
    st.stop()

# --- Compute: one cached sweep per activation, so a classroom on the same settings computes once --
cached_sweep = heavy_cache(V.sweep, max_entries=512, show_spinner="Building and differentiating the networks…")
sweeps = [cached_sweep(a, depth, width, init_name, std, residual, norm, dtype, seed, device()) for a in acts]
colours = {a: ACTIVATIONS[a].colour for a in ACTIVATIONS}
drawn_from = (tuple(acts), depth, width, init_name, std, residual, norm, dtype, seed, device())  # the figures' settings
deepest = V.STACK

# --- The headline -----------------------------------------------------------------------------
with main:
    show_cached("vanishing.depth", drawn_from, lambda: depth_figure(sweeps, colours, dtype, depth), key="depth_chart",
                alt=summary_depth(sweeps, dtype, V.N_SEEDS))
    inits = "; ".join(f"{s.init_label}: {V.INITS[s.init][0]}" for s in {s.init: s for s in sweeps}.values())
    theory = [s for s in sweeps if s.prediction is not None]
    short = [s for s in theory if s.prediction.reliable_to < deepest]
    st.caption(
        f"Lines with markers: the first layer's gradient norm, geometric mean over {V.N_SEEDS} seeds "
        f"({seed}…{seed + V.N_SEEDS - 1}): {V.N_SEEDS} networks drawn at random, averaged on the log scale (the "
        "middle of their spread on this axis, so one huge value cannot dominate); the band runs from the smallest "
        f"to the largest. Legend: activation · init ({inits}). "
        + ("Dotted line on a pale band: what theory predicts for a random network of this width, one factor "
           "√(σ_w²·E[f'(z)²]) per layer (not fitted to the measurement). " + SIGMA_WORDS + " " if theory else
           "No theory line: its prediction is for a plain stack of layers, and residual connections or "
           "normalisation change the product it describes. ")
        + "".join(f"The {s.act} theory line stops at depth {s.prediction.reliable_to}: beyond it, at width "
                  f"{width}, one network strays from the average by more than the theory can promise. "
                  for s in short)
        + "Triangles at the bottom: exactly 0 (not a tiny number); at the top: overflow."
    )
    cols = st.columns(len(sweeps))
    for col, s in zip(cols, sweeps):
        last, first = s.first_mean[-1], s.first_mean[0]
        if last != last or last == float("inf"):
            text = "overflow"
        elif first == 0:
            text = "0 already at depth 1"
        elif last == 0:
            text = "exactly 0"
        else:
            text = f"× {last / first:.1e}"
        col.metric(f"{s.act}, depth {s.depths[-1]} vs 1", text, border=True,
                   help="The first layer's gradient norm in the deepest network divided by the one in a "
                        "one-layer network (overflow: it became inf or nan).")
    st.page_link("pages/deep.py", icon=":material/stacked_line_chart:",  # the deep page takes 1-30 hidden layers
                 label=f"Now train it: {acts[0]}, depth {min(depth, 30)}, learning (or not) layer by layer",
                 query_params={"deep_act": acts[0], "deep_depth": str(min(depth, 30)), "deep_init": init_name}
                 | ({"deep_std": f"{std:g}"} if init_name == "normal" else {})
                 | ({"deep_residual": "true"} if residual else {}) | ({"deep_norm": norm} if norm != "none" else {}))

    # --- The two causes, with the numbers -------------------------------------------------------
    if theory:
        st.markdown("**Two causes, one product.** Going back through one layer multiplies the gradient by "
                    "about √(σ_w²·E[f'(z)²]): the **weights' scale** σ_w² = fan_in·Var(W), set by the init, "
                    "times the **activation's** mean squared slope at that layer's inputs.")
        rows = []
        for s in theory:
            p = s.prediction
            measured = s.first_mean[-1] / s.first_mean[0] if s.first_mean[0] > 0 else float("nan")
            rows.append({"activation": s.act, "init": s.init, "weights σ_w²": p.sigma_w2,
                         "activation E[f'²]": p.mean_dact2(deepest), "per layer": p.typical_factor(deepest),
                         f"depth {deepest} vs 1, theory": p.values[deepest - 1] / p.values[0],
                         "measured": measured})
        st.dataframe(rows, hide_index=True, key="causes", column_config={
            "weights σ_w²": st.column_config.NumberColumn(format="%.3g"),
            "activation E[f'²]": st.column_config.NumberColumn(format="%.3g"),
            "per layer": st.column_config.NumberColumn(format="%.3f"),
            f"depth {deepest} vs 1, theory": st.column_config.NumberColumn(format="%.1e"),
            "measured": st.column_config.NumberColumn(format="%.1e")})
        other = "default" if init_name != "default" else "matched"
        alt = [V.predict(s.act, width, other, std) for s in theory]
        alt_text = ", ".join(f"{p.act} × {p.values[deepest - 1] / p.values[0]:.0e}" for p in alt)
        if other == "default":
            st.markdown(f"PyTorch's default init for `nn.Linear` has σ_w² = 1/3 for every activation: the weights "
                        f"alone then take √(1/3) ≈ 0.58 per layer, and theory says depth {deepest} vs 1 becomes "
                        f"{alt_text}. Even tanh and ReLU, which barely saturate, vanish then.")
        else:
            st.markdown(f"Here every line shares the weights' σ_w² = 1/3, a factor √(1/3) ≈ 0.58 per layer: that "
                        "is why tanh and ReLU vanish too although their slope is near 1 where the units are "
                        f"active. With each activation's matched init theory says: {alt_text}.")

    st.markdown("**Try:**")
    links = st.columns(2)
    links[0].page_link("pages/vanishing.py", icon=":material/compare_arrows:",
                       label="PyTorch's default init: the weights' share" if init_name != "default"
                       else "The init matched to each activation",
                       query_params={"act": acts, "init": "default" if init_name != "default" else "matched"})
    links[1].page_link("pages/vanishing.py", label="Exploding: normal init, std 0.5", icon=":material/trending_up:",
                       query_params={"act": ["tanh", "relu"], "init": "normal", "std": "0.5"})
    links[0].page_link("pages/vanishing.py", label="Sigmoid rescued by residual + LayerNorm",
                       icon=":material/alt_route:",
                       query_params={"act": "sigmoid", "init": "default", "residual": "true", "norm": "layernorm"})
    links[1].page_link("pages/vanishing.py", label="Underflow to exactly 0 (then float64)",
                       icon=":material/vertical_align_bottom:",
                       query_params={"act": "sigmoid", "init": "normal", "std": "0.05", "depth": "50"})

# --- Profile and heat map -----------------------------------------------------------------------
st.subheader(f"Layer by layer, in a network of depth {depth}")
show_cached("vanishing.profile", drawn_from, lambda: profile_figure(sweeps, colours, depth, dtype), key="profile_chart")
st.caption("Layer 1 (the input side) on the left. The backward pass starts at the output, on the right, "
           "and multiplies by one more factor at every layer it passes on its way left.")
with st.expander("Heat map: every layer of every depth", expanded=False):
    tabs = st.tabs([s.act for s in sweeps])
    for tab, s in zip(tabs, sweeps):
        with tab:
            show_cached(f"vanishing.heat.{s.act}", drawn_from, lambda s=s: heatmap_figure(s, dtype), key=f"heat_{s.act}")
if any(v == 0.0 for s in sweeps for v in s.first_mean) and dtype == "float32":
    st.warning("Some gradients are **exactly 0**. Either every entry fell below the smallest float32 "
               "number (about 1.4e-45) and underflowed, or every unit of a layer is saturated or dead "
               "(f'(z) = 0). Switch *Precision* to float64 (the same network, in more digits): if the zero "
               "turns into a tiny number, it was underflow.")

# --- Why ----------------------------------------------------------------------------------------
st.subheader("Why: the slope each layer multiplies by")
show_cached("vanishing.stats", drawn_from, lambda: stats_figure(sweeps, colours, V.SATURATED), key="stats_chart")
st.markdown(
    r"For a chain of layers $h_l = f(W_l h_{l-1} + b_l)$, the chain rule gives "
    r"$\frac{\partial L}{\partial h_{l-1}} = W_l^\top\big(f'(z_l)\odot\frac{\partial L}{\partial h_l}\big)$: "
    "one factor of $W$ and one of $f'$ per layer. For random weights with variance "
    r"$\sigma_w^2/\text{fan\_in}$ the squared norm is multiplied on average by $\sigma_w^2\,E[f'(z_l)^2]$ "
    "(Glorot & Bengio 2010; He et al. 2015; Schoenholz et al. 2017). Sigmoid's slope is at most 0.25, "
    "so $E[f'^2] \\le 1/16$ and no init with a moderate scale saves it; tanh's slope is 1 near 0; ReLU's "
    "is 1 on the half of the units that are active and 0 on the rest, so $E[f'^2] = 1/2$."
)
st.latex(r"\Big\|\frac{\partial L}{\partial W_1}\Big\| \;\approx\; \Big\|\frac{\partial L}{\partial W_1}\Big\|_{\text{depth }1}"
         r"\prod_{l=2}^{L}\sqrt{\sigma_w^2\,E[f'(z_l)^2]}")
st.page_link("pages/activations.py", icon=":material/show_chart:",
             label=f"See the slope of {', '.join(acts)}: how large it gets, and where it fades",
             query_params={"fn": acts})

st.subheader("What fixes it")
st.markdown(
    "- **Initialisation** sets σ_w². He (Kaiming), `std = √(2/fan_in)`, gives σ_w² = 2, exactly "
    "compensating ReLU's E[f'²] = 1/2; Xavier gives σ_w² ≈ 1, right for tanh near 0. PyTorch's "
    "default for `nn.Linear`, `kaiming_uniform_(w, a=√5)`, is U(−1/√fan_in, 1/√fan_in): σ_w² = 1/3, "
    "which is why deep stacks shrink with it whatever the activation.\n"
    "- **A large std** makes each factor larger than 1: the gradient **explodes**.\n"
    "- **Residual connections** $h_l = h_{l-1} + f(\\cdot)$ add an identity path, so the gradient "
    "has a route around every layer.\n"
    "- **LayerNorm / BatchNorm** divide each layer's pre-activations by their spread, and on the way back "
    "the gradient by about the same spread: they rescale the backward signal. The table below measures each "
    "factor in these networks; the text under it says what that does here."
)
# --- What normalisation does to the backward signal, measured on these networks ------------------------
# computed only when open (on_change="rerun": 12 float64 networks on the heaviest settings, about 40 % of a cold
# open); open from the start when a normalisation is chosen (the key changes with it, so the default applies)
table = st.expander("Measured: what each layer multiplies the gradient by, with and without normalisation",
                    expanded=norm != "none", key=f"norm_table_{norm != 'none'}", on_change="rerun",
                    icon=":material/table:")
if table.open:
    with table:
        cached_factors = heavy_cache(V.backward_factors, max_entries=256, show_spinner=False)
        factors = {(a, n): cached_factors(a, depth, width, init_name, std, n, seed)  # float64, CPU
                   for a in acts for n in V.NORMS}

        def _shown(v: float) -> float | None:
            return v if math.isfinite(v) else None  # (nan: not measurable, an empty cell)

        st.dataframe([{"activation": a, "normalisation": V.NORMS[n], "divides by (spread)": _shown(factors[a, n].spread),
                       "× norm (backward)": _shown(factors[a, n].norm_gain), "× slopes f'": _shown(factors[a, n].slope),
                       "× weights Wᵀ": _shown(factors[a, n].weights), "= per layer": _shown(factors[a, n].per_layer),
                       "units passing ~0 (%)": 100 * factors[a, n].saturated}
                      for a in acts for n in V.NORMS], hide_index=True, key="norm_factors",
                     column_config={k: st.column_config.NumberColumn(format="%.3g") for k in (
                         "divides by (spread)", "× norm (backward)", "× slopes f'", "× weights Wᵀ", "= per layer",
                         "units passing ~0 (%)")})
        st.caption(V.norm_story(factors[acts[0], "none"], factors[acts[0], "batchnorm"], factors[acts[0], "layernorm"],
                                width) + f" Each factor: how much one layer multiplies the gradient's size by on its way "
                   f"back (geometric mean over layers 2…{factors[acts[0], 'none'].depth} of a plain stack, no residual, "
                   f"and {V.N_SEEDS} seeds); 'units passing ~0': |f'(z)| < {V.SATURATED:g}, saturated (or, for ReLU, "
                   "inactive).")

code_expander(V.script(tuple(acts), depth, width, init_name, std, residual, norm, dtype, seed), "vanishing_gradients.py")
