"""Activation functions and their derivatives: what each one does to a signal, and to a gradient."""
import streamlit as st

from nnviz import activations as A
from nnviz.figures import activation_figure
from nnviz.figures.activations import summary_activation
from nnviz.ui import (begin, code_expander, controls_area, device, intro, multiselect, notice, presenting, require_frame,
                      select, slider)
from nnviz.ui.figcache import show_cached

require_frame()
st.title("Activation functions and their gradients")
intro(
    "Between two linear layers sits an **activation function** $f$. In the forward pass it bends the "
    "signal; in the backward pass every gradient that flows through it is multiplied by its slope "
    "$f'(x)$. The figure shows $f(x)$, and $f'(x)$ computed by **autograd** through the `torch.nn` modules, "
    "with the slope at the dotted line written on it; the strip under them marks where the gradient is lost."
)

lesson = begin("activations")  # a question or tour step from the link or a button sets the controls below

# --- Controls ---------------------------------------------------------------------------------
settings, main = controls_area()
with settings:
    names = multiselect(A.FN, "fn")
    xmin = slider(A.XMIN, "xmin")
    xmax = slider(A.XMAX, "xmax")
    threshold = slider(A.SATURATION, "sat")
    x0 = slider(A.POINT, "x")
    params: dict[str, dict] = {}
    for name in (n for n in names if A.ACTIVATIONS[n].params):
        st.markdown(f"Parameters of `{A.ACTIVATIONS[name].label}`")
        params[name] = {
            p: (select if isinstance(spec, A.ChoiceSpec) else slider)(spec, A.param_key(name, p))
            for p, spec in A.ACTIVATIONS[name].params.items()
        }
lesson.gate()  # an open question hides everything below until the student commits a guess

if not names:
    main.info("Pick at least one activation function in the settings.")
    st.stop()
if xmin >= xmax:
    notice(f"'x from' ({xmin:g}) must be below 'x to' ({xmax:g}); the range was swapped or widened.")
    xmin, xmax = A.plot_range(xmin, xmax)

# --- Compute (cached: a classroom on the same settings computes once) --------------------------
curves = st.cache_data(max_entries=512)(A.compute_curves)(tuple(names), params, xmin, xmax, threshold, device=device())
points = st.cache_data(max_entries=512)(A.inspect_point)(tuple(names), params, x0, device=device())

# --- Figure -------------------------------------------------------------------------------------
with main:
    # On a projector (1024x768) f and f' go side by side in one row, so that each keeps its height under the
    # lesson panel (the projector version enlarges the figure by 10 %, up to 520 px); no strip there.
    compact = presenting()
    show_cached("activation", (tuple(names), params, xmin, xmax, threshold, x0, device(), compact),
                lambda: activation_figure(curves, x0=x0, threshold=threshold, height=440 if compact else None,
                                          points=points, compact=compact), key="activation_chart",
                alt=summary_activation(curves, points, x0))
    st.caption(
        f"Diamonds mark each slope's largest value on this range; the dotted line is x = {x0:g}, with each "
        "function's slope there written on the figure."
        + ("" if compact else
           f" Strip: **cross-hatched** where f'(x) is exactly 0 (a unit with that input is inactive for it: no "
           f"gradient passes back), **hatched** where 0 < |f'(x)| < {threshold:g} (small, but some gradient passes).")
    )

# --- Landmarks and the point inspector ----------------------------------------------------------
def _where(runs: list[tuple[float, float]], rounded: list[tuple[float, float]] = ()) -> str:
    parts = [(f"x = {lo:.2f}" if lo == hi else f"[{lo:.2f}, {hi:.2f}]") + (" (float32)" if (lo, hi) in rounded else "")
             for lo, hi in runs]
    return "; ".join(parts) or "nowhere"


st.subheader("Largest slope, where the gradient is lost, and the autograd check")
st.dataframe(
    [{
        "function": c.name,
        "largest f'(x)": c.peak,
        "at x": f"{c.peak_from:.3g}" if c.peak_from == c.peak_to else f"{c.peak_from:.3g} … {c.peak_to:.3g}",
        "f' = 0 for x in": _where(c.zero, c.rounded),
        "|f'| small for x in": _where(c.small),
        "max |autograd − closed form|": c.max_abs_diff,
    } for c in curves],
    hide_index=True, key="landmarks",
    column_config={
        "largest f'(x)": st.column_config.NumberColumn("max f'", format="%.4f"),
        "f' = 0 for x in": st.column_config.TextColumn(
            "f' = 0 on", help="autograd's f'(x) is exactly 0 here: a unit whose input is here passes no gradient "
            "back for that input (it is inactive for it; dead only if every input it gets lies here)"),
        "|f'| small for x in": st.column_config.TextColumn(
            f"0 < |f'| < {threshold:g} on", help="a little gradient still gets through"),
        "max |autograd − closed form|": st.column_config.NumberColumn(
            "autograd vs formula", format="%.1e", help="max |autograd − closed form| over the plotted grid"),
    },
)
rounded = [c.name for c in curves if c.rounded]
st.caption(
    "The closed-form derivatives (formulas below) agree with autograd to float32 rounding (about 1e-7): "
    "autograd is exact differentiation, not an approximation."
    + (f" Marked (float32): {', '.join(rounded)}'s slope is not 0 in exact arithmetic, but it is below "
       "what float32 can hold next to 1, so the gradient there really is exactly 0." if rounded else "")
)
st.subheader(f"Point inspector at x = {x0:g}")
st.dataframe(
    [{"function": p.name, "f(x)": p.y, "f'(x) autograd": p.dy, "f'(x) closed form": p.dy_closed}
     for p in points],
    hide_index=True, key="inspector",
    column_config={k: st.column_config.NumberColumn(format="%.6f")
                   for k in ("f(x)", "f'(x) autograd", "f'(x) closed form")},
)

# --- Theory -----------------------------------------------------------------------------------
st.subheader("Why a network needs them")
st.markdown(
    "A linear layer computes $y = xW^T + b$. Two linear layers in a row are still one linear map "
    "($W_2(W_1x+b_1)+b_2 = Wx + b$), so without a non-linear $f$ in between, depth adds nothing. "
    "The raw scores of a network's last layer, before any activation, are called **logits**; "
    "losses such as `BCEWithLogitsLoss` take logits and apply the sigmoid inside, which is "
    "numerically safer than passing probabilities."
)
st.markdown(
    "**Saturation.** Backpropagation multiplies the gradient by $f'(x)$ at every layer. Sigmoid's "
    "slope is at most 0.25 and tanh's at most 1, and both fall towards 0 for large $|x|$: the "
    "function is *saturated* there. Multiply many such factors and the gradient reaching the first "
    "layers vanishes. ReLU's slope is exactly 1 for every positive input, which is why deep networks "
    "train with it, but exactly 0 for every negative one (cross-hatched in the strip): for such an input "
    "the unit is *inactive*, and no gradient passes back through it to its weights. That is normal: at "
    "initialisation about half of a ReLU layer's units are inactive for any one input, and other inputs "
    "make them active. A unit is *dead* only when its input is negative for every input: then its weights "
    "get no gradient from any example and stop changing. LeakyReLU, ELU and GELU keep a little slope on "
    "the negative side: small (hatched), but not 0, so even such a unit still gets some gradient."
)
# where this lesson is shown on another page, a link that opens it with the settings filled in
st.page_link("pages/vanishing.py", icon=":material/trending_down:",
             label="Sigmoid's slope is at most 0.25: see what 30 layers of it do to a gradient",
             query_params={"act": "sigmoid", "init": "matched", "depth": "30"})
st.page_link("pages/logits.py", icon=":material/category:",
             label="Saturation slows learning: squared error on a sigmoid output, against cross-entropy",
             query_params={"part": "Why losses take logits"})
for name in names:
    act = A.ACTIVATIONS[name]
    f, df = st.columns(2)  # side by side on a wide screen; on a phone they stack, so each fits its width
    f.latex(act.formula)
    df.latex(act.derivative_formula)

code_expander(A.script(tuple(names), params, xmin, xmax, x0), "activations.py")
