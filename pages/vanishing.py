"""Vanishing (and exploding) gradients: watch the first layers' gradient shrink as depth grows."""
import streamlit as st

from nnviz import vanishing as V
from nnviz.activations import ACTIVATIONS
from nnviz.figures import depth_figure, heatmap_figure, profile_figure, stats_figure
from nnviz.ui import (code_expander, controls_area, device, multiselect, require_frame, select, show_figure,
                      slider, toggle)

require_frame()
st.title("Vanishing gradients: what reaches the first layer?")
st.markdown(
    "Backpropagation multiplies the gradient, layer after layer, by each layer's weights and by "
    "the slope $f'(z)$ of its activation. Stack many layers and that product can shrink towards "
    "zero (**vanishing**) or blow up (**exploding**). Each network here is built from `nn.Linear` "
    "layers and the chosen activation, gets a batch of random inputs with random regression "
    "targets and `nn.MSELoss`, and runs one `loss.backward()`; we read every layer's `weight.grad`."
)

# --- Controls ---------------------------------------------------------------------------------
settings, main = controls_area()
with settings:
    acts = multiselect(V.ACT, "act")
    depth = slider(V.DEPTH, "depth")
    width = slider(V.WIDTH, "width")
    init_name = select(V.INIT, "init", format_func=lambda k: k)
    std = slider(V.STD, "std") if init_name == "normal" else V.STD.default
    st.caption(V.INITS[init_name][0])
    residual = toggle(V.RESIDUAL, "residual")
    norm = select(V.NORM, "norm")
    dtype = select(V.DTYPE, "dtype")
    seed = slider(V.SEED, "seed")

if not acts:
    main.info("Pick at least one activation in the settings.")
    st.stop()

# --- Compute: one cached sweep per activation, so a classroom on the same settings computes once --
cached_sweep = st.cache_data(max_entries=512, show_spinner="Building and differentiating the networks…")(V.sweep)
sweeps = [cached_sweep(a, depth, width, init_name, std, residual, norm, dtype, seed, device()) for a in acts]
colours = {a: ACTIVATIONS[a].colour for a in ACTIVATIONS}

# --- The headline -----------------------------------------------------------------------------
with main:
    show_figure(depth_figure(sweeps, colours, dtype), key="depth_chart")
    st.caption(
        f"Each point: the first layer's gradient norm, geometric mean over {V.N_SEEDS} seeds "
        f"({seed}…{seed + V.N_SEEDS - 1}); the band spans the smallest to the largest seed. Dotted: "
        "the depth-1 value times (max f')^(L−1), what the activation's steepest slope alone allows. "
        "Triangles at the bottom: the gradient was exactly 0, not a tiny number; at the top: overflow."
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

# --- Profile and heat map -----------------------------------------------------------------------
st.subheader(f"Layer by layer, in a network of depth {depth}")
show_figure(profile_figure(sweeps, colours, depth, dtype), key="profile_chart")
st.caption("Read from left to right as the backward pass runs: from the output layer back to the first.")
with st.expander("Heat map: every layer of every depth", expanded=False):
    tabs = st.tabs([s.act for s in sweeps])
    for tab, s in zip(tabs, sweeps):
        with tab:
            show_figure(heatmap_figure(s, dtype), key=f"heat_{s.act}")
if any(v == 0.0 for s in sweeps for v in s.first_mean) and dtype == "float32":
    st.warning("Some gradients are **exactly 0**. Either every entry fell below the smallest float32 "
               "number (about 1.4e-45) and underflowed, or every unit of a layer is saturated or dead "
               "(f'(z) = 0). Switch *Precision* to float64: if the zero turns into a tiny number, it was "
               "underflow.")

# --- Why ----------------------------------------------------------------------------------------
st.subheader("Why: the slope each layer multiplies by")
show_figure(stats_figure(sweeps, colours, V.SATURATED), key="stats_chart")
st.markdown(
    r"For a chain of layers $h_l = f(W_l h_{l-1} + b_l)$, the chain rule gives "
    r"$\frac{\partial L}{\partial h_{l-1}} = W_l^\top\big(f'(z_l)\odot\frac{\partial L}{\partial h_l}\big)$: "
    "one factor of $f'$ and one of $W$ per layer. Sigmoid's slope is at most 0.25, so through $L$ "
    r"layers the activation alone contributes at most $0.25^L$ ($0.25^{20}\approx 10^{-12}$); tanh's "
    "is at most 1, and less wherever units saturate. ReLU's slope is exactly 1 for active units, so "
    "it does not shrink the signal by itself; what remains is the weights' scale."
)
st.latex(r"\Big\|\frac{\partial L}{\partial W_1}\Big\| \;\lesssim\; \prod_{l=2}^{L}\big(\max f'\big)\,\|W_l\| \cdot \Big\|\frac{\partial L}{\partial h_L}\Big\|")

st.subheader("What fixes it")
st.markdown(
    "- **Initialisation** sets the weights' scale. He (Kaiming) initialisation, `std = √(2/fan_in)`, "
    "is derived so that ReLU layers keep the signal's variance: the gradient then stays of the same "
    "order at every depth. Xavier does the same for tanh-like functions. PyTorch's default for "
    "`nn.Linear`, `kaiming_uniform_(w, a=√5)`, works out to U(−1/√fan_in, 1/√fan_in): a variance of "
    "1/(3·fan_in), smaller than He's 2/fan_in, which is why deep stacks shrink with it.\n"
    "- **A large std** makes each layer multiply the gradient by more than 1: it **explodes**.\n"
    "- **Residual connections** $h_l = h_{l-1} + f(\\cdot)$ add an identity path, so the gradient "
    "has a route around every layer.\n"
    "- **LayerNorm / BatchNorm** rescale each layer's pre-activations, keeping units out of saturation."
)
st.markdown("Try them:")
links = st.columns(4)
links[0].page_link("pages/vanishing.py", label="ReLU with He initialisation", icon=":material/trending_flat:",
                   query_params={"act": ["sigmoid", "relu"], "init": "kaiming_normal"})
links[1].page_link("pages/vanishing.py", label="Exploding: normal init, std 0.5", icon=":material/trending_up:",
                   query_params={"act": ["tanh", "relu"], "init": "normal", "std": "0.5"})
links[2].page_link("pages/vanishing.py", label="Sigmoid, rescued by residual + LayerNorm",
                   icon=":material/alt_route:", query_params={"act": "sigmoid", "residual": "true", "norm": "layernorm"})
links[3].page_link("pages/vanishing.py", label="Underflow to exactly 0 (then try float64)", icon=":material/vertical_align_bottom:",
                   query_params={"act": "sigmoid", "init": "normal", "std": "0.05", "depth": "50"})

code_expander(V.script(tuple(acts), depth, width, init_name, std, residual, norm, dtype, seed), "vanishing_gradients.py")
