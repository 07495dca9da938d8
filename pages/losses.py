"""L1 against MSE on data with outliers: why the mean absolute error shrugs them off."""
import streamlit as st

from nnviz import losses as L
from nnviz.figures import fit_figure, residual_figure, share_figure, surface_figure
from nnviz.ui import code_expander, controls_area, device, multiselect, require_frame, show_figure, slider

require_frame()
st.title("L1 against MSE: who pulls the line?")
st.markdown(
    "Fit one straight line to the points under different losses. The **mean squared error** "
    r"$\frac1N\sum_i (y_i-\hat y_i)^2$ squares each residual, so a few far-off points dominate it; "
    r"the **mean absolute error** (L1) $\frac1N\sum_i |y_i-\hat y_i|$ does not. Every line below is "
    "the exact minimiser of its loss (found with `torch.optim` and checked), not a line stopped "
    "after some number of steps."
)

labels = {n: e.label for n, e in L.LOSSES.items()}
colours = {n: e.colour for n, e in L.LOSSES.items()}

# --- Controls ---------------------------------------------------------------------------------
settings, main = controls_area()
with settings:
    losses = multiselect(L.LOSS, "loss")
    outliers = slider(L.OUTLIERS, "outliers")
    outlier_size = slider(L.OUTLIER_SIZE, "outlier_size")
    noise = slider(L.NOISE, "noise")
    seed = slider(L.SEED, "seed")
    delta = slider(L.DELTA, "delta") if "huber" in losses else L.DELTA.default
    beta = slider(L.BETA, "beta") if "smooth_l1" in losses else L.BETA.default
    upload = st.file_uploader("Or bring your own data: a CSV of x,y", type=["csv", "txt"],
                              help=f"Two numeric columns, optional header, at most {L.MAX_ROWS} rows "
                                   f"and {L.MAX_BYTES // 1000} kB. Replaces the generated data.")

if not losses:
    main.info("Pick at least one loss in the settings.")
    st.stop()

# --- Compute (cached on plain arguments) --------------------------------------------------------
losses = tuple(losses)
try:
    if upload is not None:
        result = st.cache_data(max_entries=64)(L.analyse_upload)(upload.getvalue(), losses, delta, beta, device())
    else:
        result = st.cache_data(max_entries=256)(L.analyse_generated)(
            losses, outliers, outlier_size, noise, seed, delta, beta, device())
except L.DataError as e:
    main.error(f"That file cannot be used: {e}")
    st.stop()
data, fits = result.data, result.fits

# --- The fits -------------------------------------------------------------------------------------
with main:
    show_figure(fit_figure(data.x, data.y, data.outlier, [fits[n] for n in losses], labels, colours,
                           data.true_line), key="fit_chart")
    cols = st.columns(len(losses))
    for col, n in zip(cols, losses):
        f = fits[n]
        delta_txt = (f"{f.slope - data.true_line[0]:+.3f} vs the clean slope" if data.true_line else None)
        col.metric(f"{labels[n]} slope", f"{f.slope:.4f}", delta_txt, delta_color="off", border=True)
        col.caption(f"intercept {f.intercept:.4f}; " + ("optimum verified: " if f.optimal else "NOT verified: ")
                    + f.check)
    if upload is not None:
        st.caption(f"Your data: {len(data.x)} points. Points marked as outliers lie more than 3 robust "
                   "standard deviations from the L1 line.")

# --- Why: the force of a residual ----------------------------------------------------------------
st.subheader("Why: how hard one point pulls")
show_figure(residual_figure(result.curves, labels, colours, delta, beta), key="residual_chart")
st.markdown(
    "The right panel is the derivative of one point's loss, computed by autograd through the loss "
    "module with `reduction='none'`. Under **MSE** it is $2r$: a point twice as far pulls twice as "
    "hard, so one point with residual 12 pulls like 12 points with residual 1. Under **L1** it is "
    r"$\mathrm{sign}(r)$: every point pulls with the same force, however far it is. **Huber** "
    r"(and Smooth L1, which is Huber divided by $\delta$ with $\beta = \delta$) is quadratic near 0 "
    "and linear beyond, a middle ground."
)

# --- Who dominates --------------------------------------------------------------------------------
st.subheader("Who dominates the loss and its gradient")
if any(data.outlier):
    show_figure(share_figure(result.shares, labels, colours), key="share_chart")
    st.caption(f"Measured with the line at {result.reference_name} "
               f"(slope {result.reference[0]:.3f}, intercept {result.reference[1]:.3f}): each point's loss "
               "from `reduction='none'`, and its pull on the slope from autograd. "
               f"The outliers are {sum(data.outlier)} of {len(data.x)} points.")
else:
    st.info("There are no outliers now: add some in the settings to see their share.")

# --- reduction ------------------------------------------------------------------------------------
st.subheader("The `reduction` argument")
st.markdown(
    "`nn.L1Loss(reduction=...)` and every other loss module can return the **mean** of the "
    r"per-point losses (the default), their **sum** ($N$ times the mean), or **none**: the tensor of "
    "all of them, which is what the shares above are made of. At each fitted line:"
)
st.dataframe(
    [{"loss": labels[n], "mean": r["mean"], "sum": r["sum"], "N": len(r["none"]),
      "none (first 5 of the tensor)": ", ".join(f"{v:.3f}" for v in r["none"][:5]) + " …"}
     for n, r in result.reductions.items()],
    hide_index=True, key="reductions",
    column_config={"mean": st.column_config.NumberColumn(format="%.4f"),
                   "sum": st.column_config.NumberColumn(format="%.4f")},
)

# --- Surfaces -------------------------------------------------------------------------------------
st.subheader("The loss surfaces")
show_figure(surface_figure(result.surfaces, fits, labels, colours, data.true_line), key="surface_chart")
st.caption("The mean loss for every (slope, intercept). L1's contours are polygons with corners (its "
           "minimum sits on a corner, where the line passes through data points); MSE's are smooth "
           "ellipses whose centre the outliers drag away from the clean line.")

st.subheader("When to use which")
st.markdown(
    "MSE is the right loss when the errors are roughly normal: it is the maximum-likelihood fit "
    "then, and it prefers many small errors to a few large ones. When the data holds outliers "
    "(sensor glitches, typos) L1 is more robust, because a point's pull does not grow with its "
    "distance. Huber and Smooth L1 keep MSE's smooth minimum for small residuals and L1's "
    "robustness for large ones. Note that L1 is not immune: points far out along x "
    "(high leverage) can still tilt it when there are many of them."
)
for n in losses:
    st.latex(rf"\text{{{labels[n]}}}:\ \rho(r) = {L.LOSSES[n].formula}")

generated = None if upload is not None else dict(seed=seed, noise=noise, outliers=outliers, outlier_size=outlier_size)
code_expander(L.script(losses, data, generated, delta, beta), "l1_vs_mse.py")
