"""L1 against MSE on data with outliers: why the mean absolute error shrugs them off."""
import streamlit as st

from nnviz import losses as L
from nnviz.figures import fit_figure, residual_figure, share_figure, surface_figure
from nnviz.figures.losses import summary_fit, sweep_figure, zoom_figure
from nnviz.ui import begin, code_expander, controls_area, device, intro, multiselect, require_frame, show_figure, slider
from nnviz.ui.figcache import describe, show_cached

require_frame()
st.title("L1 against MSE: who pulls the line?")
intro(
    r"Fit one straight line to the points under different losses. With the residual $r_i = y_i-\hat y_i$ "
    r"(target minus prediction), the **mean squared error** $\frac1N\sum_i r_i^2$ squares each residual, "
    r"so a few far-off points dominate it; the **mean absolute error** (L1) $\frac1N\sum_i |r_i|$ does not. "
    "Every line below is the exact minimiser of its loss (found with `torch.optim` and checked), not a "
    "line stopped after some number of steps."
)

labels = {n: e.label for n, e in L.LOSSES.items()}
colours = {n: e.colour for n, e in L.LOSSES.items()}

# plain words for the check under L1's slope, where "subgradient condition" first appears
SUBGRADIENT_WORDS = ("How L1's optimum is checked: its loss has a sharp corner wherever the line passes through a "
                     "point, so there is no slope of 0 to look for. Instead, every point off the line pulls it with "
                     "+1 or −1 (the sign of its residual), and each point on the line may pull with any weight "
                     "between −1 and +1. The line is the best one when such weights can make all the pulls "
                     "cancel (the subgradient condition).")

lesson = begin("losses")  # a question or tour step from the link or a button sets the controls below

# --- Controls ---------------------------------------------------------------------------------
settings, main = controls_area()
with settings:
    losses = multiselect(L.LOSS, "loss")
    outliers = slider(L.OUTLIERS, "outliers")
    outlier_size = slider(L.OUTLIER_SIZE, "outlier_size")
    noise = slider(L.NOISE, "noise")
    seed = slider(L.SEED, "data_seed")
    spot = lesson.spot("delta", settings)  # a tour step that asks to move δ draws it in the tour panel, under
    with spot:  # its text ("Move δ here"), which names it: the label row would push the figure off a projector
        delta = (slider(L.DELTA, "delta", label_visibility="visible" if spot is settings else "collapsed")
                 if "huber" in losses else L.DELTA.default)
    beta = slider(L.BETA, "beta") if "smooth_l1" in losses else L.BETA.default
    upload = st.file_uploader("Or bring your own data: a CSV of x,y", type=["csv", "txt"],
                              help=f"Two numeric columns, optional header, at most {L.MAX_ROWS} rows "
                                   f"and {L.MAX_BYTES // 1000} kB. Replaces the generated data.")

lesson.gate()  # an open question hides everything below until the student commits a guess

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
except L.DataError as e:  # its message echoes the file's cells only through nnviz.text.inert (a code span);
    main.error(f"That file cannot be used: {e}")  # the file's name and cells reach no other text or figure
    st.stop()
data, fits = result.data, result.fits
sweep = None if upload is not None else st.cache_data(max_entries=256)(L.outlier_sweep)(outlier_size, noise, seed)
# every setting the figures below are drawn from (generated data only: an upload's figures are built each run)
drawn_from = None if upload is not None else (losses, outliers, outlier_size, noise, seed, delta, beta, device())


def show(name: str, build, key: str, alt: str | None = None) -> None:
    """A figure of this page, built once per setting (nnviz.ui.figcache); alt: its text alternative."""
    if drawn_from is None:
        if alt is not None:
            describe(alt)
        show_figure(build(), key=key)
    else:
        show_cached(f"losses.{name}", drawn_from, build, key=key, alt=alt)


def _gives_way_text(sw: L.Sweep, count: int) -> str:
    """The invitation under the fit: when, at these settings, each slope leaves the clean one."""
    clean, bar = L.TRUE_SLOPE, L.GIVE_WAY
    mse = (f"MSE's already does at {sw.mse_gives_way}" if sw.mse_gives_way is not None
           else f"MSE's never does, up to {sw.counts[-1]}")
    if sw.l1_gives_way is None:
        return (f"**Try it:** raise *Outliers*. With this size, noise and seed, L1's slope stays within {bar} of "
                f"the clean {clean} for every count up to {sw.counts[-1]}; {mse} outliers.")
    k = sw.l1_gives_way
    n = L.N_CLEAN + k
    lesson = (f" {k} of {n} points ({100 * k / n:.0f}%) is less than the half a median withstands: all the "
              "outliers sit at the right end, where each one pulls hardest on the slope (high leverage).")
    if count < k:
        return (f"**Try it:** raise *Outliers* and watch L1 give way too. With this size, noise and seed its "
                f"slope stays within {bar} of the clean {clean} up to {k - 1} outliers and leaves at **{k}** "
                f"(slope {sw.l1[k]:.2f}); {mse} outliers." + lesson)
    return (f"**L1 has given way too:** with this size, noise and seed its slope first left {bar} of the clean "
            f"{clean} at **{k}** outliers (slope {sw.l1[k]:.2f}); {mse}. Lower *Outliers* below {k} to see it "
            "come back." + lesson)


invite = _gives_way_text(sweep, outliers) if sweep is not None else ""

# --- The fits -------------------------------------------------------------------------------------
with main:
    show("fit", lambda: fit_figure(data.x, data.y, data.outlier, [fits[n] for n in losses], labels, colours,
                                   data.true_line), key="fit_chart",
         alt=summary_fit([fits[n] for n in losses], labels, sum(data.outlier), len(data.x), data.true_line))
    cols = st.columns(len(losses))
    for col, n in zip(cols, losses):
        f = fits[n]
        delta_txt = (f"{f.slope - data.true_line[0]:+.3f} vs the clean slope" if data.true_line else None)
        col.metric(f"{labels[n]} slope", f"{f.slope:.4f}", delta_txt, delta_color="off", border=True)
        col.caption(f"intercept {f.intercept:.4f}; " + ("optimum verified: " if f.optimal else "NOT verified: ")
                    + f.check)
    if "l1" in losses:
        st.caption(SUBGRADIENT_WORDS)
    if upload is not None:
        st.caption(f"Your data: {len(data.x)} points. Points marked as outliers lie more than 3 robust "
                   "standard deviations from the L1 line.")
    else:
        st.markdown(invite)

# --- Why: the force of a residual ----------------------------------------------------------------
st.subheader("Why: how hard one point pulls")
show("residual", lambda: residual_figure(result.curves, labels, colours, delta, beta), key="residual_chart")
st.markdown(
    r"Here $r = y-\hat y$: positive for a point above the line, negative below. The right panel is the "
    r"derivative $d\rho/dr$ of one point's loss, computed by autograd through the loss module with "
    r"`reduction='none'`. The gradient with respect to the prediction is $-d\rho/dr$, so gradient descent "
    r"moves the line at that point in the direction of $d\rho/dr$: a positive pull lifts it towards a point "
    "above it, a negative one lowers it. Under **MSE** it is $2r$: a point twice as "
    "far pulls twice as hard, so one point with residual 12 pulls like 12 points with residual 1. Under **L1** "
    r"it is $\mathrm{sign}(r)$: every point pulls with the same force, however far it is. **Huber** "
    r"(and Smooth L1, which is Huber divided by $\delta$ with $\beta = \delta$) is quadratic near 0 "
    "and linear beyond, a middle ground."
)
st.page_link("pages/regression.py", icon=":material/model_training:",
             label="L1's pull never shrinks: watch a training run hop around the minimum",
             query_params={"loss_fn": "l1"})

# --- Who dominates --------------------------------------------------------------------------------
st.subheader("Who dominates the loss and its gradient")
if any(data.outlier):
    show("share", lambda: share_figure(result.shares, labels, colours), key="share_chart")
    st.caption(f"Measured with the line at {result.reference_name} "
               f"(slope {result.reference[0]:.3f}, intercept {result.reference[1]:.3f}): each point's loss "
               "from `reduction='none'`, and its pull on the slope from autograd. "
               f"The outliers are {sum(data.outlier)} of {len(data.x)} points.")
else:
    st.info("There are no outliers now: add some in the settings to see their share.")

# --- How many outliers can L1 take? ---------------------------------------------------------------
if sweep is not None:
    st.subheader("How many outliers can L1 take?")
    show("sweep", lambda: sweep_figure(sweep.counts, {"l1": sweep.l1, "mse": sweep.mse}, labels, colours, L.TRUE_SLOPE,
                                       L.HOLD, L.GIVE_WAY, outliers), key="sweep_chart")
    st.caption(f"The exact slopes (L1: the best line through two of the points; MSE: least squares) for every "
               f"outlier count with this size, noise and seed; one more outlier keeps the others where they "
               f"were. Shaded: within {L.HOLD} of the clean slope; dotted: {L.GIVE_WAY} away, where a fit has "
               "given way. Each outlier tilts the L1 line by about one point's worth, however far down it "
               "sits; once the outliers' pull on the slope outweighs the clean points', the line swings over "
               "to them.")

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
show("surface", lambda: surface_figure(result.surfaces, fits, labels, colours, data.true_line), key="surface_chart")
st.caption("The loss of every line (slope, intercept), both in the units of y so that one colour scale "
           "and the same contour levels fit both: L1's mean |r| and the square root of MSE (the RMS "
           "residual; same minimiser, same contour shapes). The RMS residual is never below the mean |r|, "
           "so the MSE panel is brighter everywhere. L1's surface has flat faces with a crease wherever the "
           "line passes through a data point: its contours are polygons with corners, and its minimum sits "
           "on a corner where the line passes through two points. MSE's are smooth ellipses whose centre the "
           "outliers drag away from the clean line.")
zw, zb = result.l1_zoom[0], result.l1_zoom[1]
st.markdown(f"**Zoomed in around the L1 optimum** (slope ± {(zw[-1] - zw[0]) / 2:.2g}, intercept ± "
            f"{(zb[-1] - zb[0]) / 2:.2g}, its own colour scale): at the scale above, dozens of creases meet "
            "near the minimum and the polygons look round; close up, the flat faces and corners show.")
show("zoom", lambda: zoom_figure(result.l1_zoom, fits["l1"], labels["l1"], colours["l1"]), key="zoom_chart")

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
