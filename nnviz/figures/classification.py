"""Figures of the logits and classification page: plain results in, go.Figure out."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nnviz.palette import OKABE_ITO

from .common import ANSWER_HEIGHT, INK, PRESENT_FONT, _base
from .styles import TEST, TRAIN, style_of

CLASS_COLOURS = (OKABE_ITO[0], OKABE_ITO[1])  # class 0 blue, class 1 vermillion (Okabe-Ito): colour-blind safe
SYMBOLS = ("circle", "diamond")  # class 0, class 1: the shape tells the class apart without colour
# naive forms warm, logit forms cool, each with its colour's own dash (nnviz.figures.styles); the float64 reference a
# wide grey band under them, dark enough to show against white (>= 3:1) and light enough for the lines on it
REFERENCE_GREY = "#8C8C8C"  # 3.4:1 on white
CURVES = {  # key in nnviz.logits.Sweep.curves: (legend name, colour, dash, width)
    "reference": ("exact (float64)", REFERENCE_GREY, "solid", 7),
    "bce_logits": ("BCEWithLogitsLoss(z, 0)", OKABE_ITO[0], style_of(OKABE_ITO[0])[0], 2.5),
    "ce_logits": ("CrossEntropyLoss([0, z], 0)", OKABE_ITO[2], style_of(OKABE_ITO[2])[0], 2.5),
    "bce_naive": ("BCELoss(sigmoid(z), 0)", OKABE_ITO[1], style_of(OKABE_ITO[1])[0], 2.5),
    "ce_naive": ("-log softmax([0, z])[0]", OKABE_ITO[3], style_of(OKABE_ITO[3])[0], 3),
}
SHORT = {  # the legend's names on a projector (two rows of legend at 1024 px, not three)
    "reference": "exact (float64)", "bce_logits": "BCEWithLogitsLoss", "ce_logits": "CrossEntropyLoss",
    "bce_naive": "BCELoss(sigmoid)", "ce_naive": "−log softmax",
}
SHADES = {  # naive curve key in Sweep.regions: (legend name, fill colour, hatch or None)
    # the naive form's own colour, so a band reads as "this curve is wrong here"; BCELoss solid, the
    # softmax form hatched, so where both fail the two still show (and no third, unexplained colour)
    "bce_naive": ("BCELoss(sigmoid) wrong", "rgba(181, 80, 0, 0.14)", None),
    "ce_naive": ("-log softmax: inf or nan", "rgba(204, 121, 167, 0.07)",
                 dict(shape="/", fgcolor="rgba(204, 121, 167, 0.75)", size=9, solidity=0.22)),
}
GRAD_RANGE = (-0.08, 1.12)  # dL/dz axis: the exact gradient sigma(z) lies in [0, 1]
HEIGHT = 360  # px, one panel
SWEEP_HEIGHT = 410  # px: for_projector makes it 451, which fits a 1024x768 first screen under the tabs


def _finite(values: Sequence[float | None]) -> np.ndarray:
    """float32 array for plotly (sent as base64); None, inf and nan become gaps."""
    v = np.array([np.nan if x is None else x for x in values], dtype=np.float64)
    v[~np.isfinite(v)] = np.nan
    return v.astype(np.float32)


def _bands(spans: list[tuple[float, float]], lo: float, hi: float) -> tuple[list, list]:
    """x and y of closed rectangles [a, b] x [lo, hi], one a span, separated by gaps (fill="toself")."""
    xs: list = []
    ys: list = []
    for a, b in spans:
        xs += [a, b, b, a, a, None]
        ys += [lo, lo, hi, hi, lo, None]
    return xs, ys


def _y_range(values: np.ndarray) -> tuple[float, float]:
    """A padded range around the finite values (the loss panel's, so its bands can fill it)."""
    v = values[np.isfinite(values)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    pad = 0.08 * max(hi - lo, 1e-9)
    return lo - pad, hi + pad


def _mark_labels(fig: go.Figure, marks: list[tuple[str, float]], lo: float, hi: float, axis: str) -> None:
    """Each mark's label inside the gradient panel (x and y axis suffix `axis`: "" for the first, "2"...), where
    the curves leave the middle empty (they sit at 0 or 1 away from z = 0), one height a mark so two close marks
    never overlap; a label reads away from the plot's nearer edge."""
    for i, (label, zp) in enumerate(sorted(marks, key=lambda m: m[1])):
        right = (zp - lo) / (hi - lo) > 0.7  # near the right edge: the text goes to the left of its line
        fig.add_annotation(x=zp, y=0.68 - 0.36 * (i % 2), xref=f"x{axis}", yref=f"y{axis}",
                           text=label, showarrow=False, xanchor="right" if right else "left",
                           xshift=-4 if right else 4, font=dict(size=13, color="#222"),
                           bgcolor="rgba(255,255,255,0.85)", borderpad=2)


def logit_loss_figure(sweep, marks: dict[str, float], side_by_side: bool = False) -> go.Figure:
    """The headline: the loss and dL/dz from autograd against the logit z, for the naive and the logit forms
    (true class 0, z = the logit of class 1: z > 0 is confidently wrong). Stacked on one shared z axis (so each
    failure lines up in both), or `side_by_side` (a projector's short, wide screen: two panels of full height
    instead of two half-height strips). Where a naive form returns inf, nan, a clamped value or a wrong gradient
    is shaded in that form's colour (BCELoss solid, the softmax form hatched), with a legend entry each; `marks`
    (label -> z) get a dotted line in both panels and a label in the gradient panel."""
    z = np.asarray(sweep.z, dtype=np.float32)
    lo, hi = float(z[0]), float(z[-1])
    panels = ((1, 1, "loss", "loss"), (1, 2, "grad", "dL/dz (autograd)")) if side_by_side else (
        (1, 1, "loss", "loss"), (2, 1, "grad", "dL/dz (autograd)"))
    fig = (make_subplots(rows=1, cols=2, horizontal_spacing=0.1) if side_by_side
           else make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06))
    loss_values = np.concatenate([_finite(c.loss) for c in sweep.curves.values()])
    y_ranges = {"loss": _y_range(loss_values), "grad": GRAD_RANGE}
    legend_shown: set[str] = set()
    for row, col, what, title in panels:
        for key, (name, fill, hatch) in SHADES.items():  # under the curves: drawn first
            spans = [(max(r.lo, lo), min(r.hi, hi)) for r in sweep.regions.get(key, ()) if r.quantity == what]
            spans = [(a, b) for a, b in spans if b > a]
            if not spans:
                continue
            xs, ys = _bands(spans, *y_ranges[what])
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", fill="toself", fillcolor=fill, line=dict(width=0),
                                     fillpattern=hatch, name=name, legendgroup=f"{key} region",
                                     showlegend=key not in legend_shown, hoverinfo="skip"), row=row, col=col)
            legend_shown.add(key)
        for key, (name, colour, dash, width) in CURVES.items():
            curve = sweep.curves.get(key)
            if curve is None:
                continue
            name = SHORT[key] if side_by_side else name
            fig.add_trace(go.Scatter(x=z, y=_finite(getattr(curve, what)), mode="lines", name=name,
                                     legendgroup=key, showlegend=what == "loss",
                                     line=dict(color=colour, dash=dash, width=width),
                                     hovertemplate=f"{name}<br>z = %{{x:.4g}}<br>{title} = %{{y:.6g}}<extra></extra>"),
                          row=row, col=col)
        fig.update_yaxes(title_text=title, range=list(y_ranges[what]), row=row, col=col)
    shown = [(label, zp) for label, zp in marks.items() if zp is not None and lo <= zp <= hi]
    for _, zp in shown:
        fig.add_vline(x=zp, line=dict(color="#444", dash="dot", width=1.5))
    _mark_labels(fig, shown, lo, hi, axis="2")
    _base(fig, SWEEP_HEIGHT)
    # the curves first, then the two shading keys (legend order is trace order otherwise)
    for t in fig.data:
        t.legendrank = 2000 if t.legendgroup and t.legendgroup.endswith("region") else 1000
    # no gap between legend rows (each curve is its own legend group): a phone's one-entry rows stay short
    fig.update_layout(hovermode="x unified", margin=dict(t=10), legend=dict(tracegroupgap=0))
    fig.update_xaxes(range=[lo, hi])
    if side_by_side:  # each panel its own z axis, with a title short enough for half the width
        fig.update_xaxes(title_text="logit z (wrong class)")
    else:
        fig.update_xaxes(title_text="logit z given to the wrong class (the true class is 0)", row=2, col=1)
    return fig


FAILS = {"inf": "inf", "nan": "nan", "clamped": "clamped", "zero_grad": "exactly 0"}  # Region.kind in words


def summary_logit_loss(sweep) -> str:
    """The headline's text alternative, from what it draws: every form's loss and dL/dz at the range's right end
    (the confidently wrong side; inf or nan named from the sweep's regions, as the shading is), and where each
    naive form fails (the shaded spans)."""
    z_end = sweep.z[-1]

    def value(key: str, what: str) -> str:
        v = getattr(sweep.curves[key], what)[-1]
        if v is not None and math.isfinite(v):
            return f"{float(np.float32(v)):.4g}"  # float32: as the chart draws it
        kind = next((r.kind for r in sweep.regions.get(key, ()) if r.quantity == what and r.lo <= z_end <= r.hi), "")
        return FAILS.get(kind, "not finite")

    at_end = "; ".join(f"{CURVES[k][0]}: loss {value(k, 'loss')}, dL/dz {value(k, 'grad')}"
                       for k in CURVES if k in sweep.curves)
    fails = [f"{CURVES[r.curve][0]} {'loss' if r.quantity == 'loss' else 'dL/dz'} {FAILS.get(r.kind, r.kind)} for "
             f"z from {r.lo:.4g} to {r.hi:.4g}" for key in SHADES for r in sweep.regions.get(key, ())]
    return (f"Chart of the loss and dL/dz (autograd) against the logit z of the wrong class (true class 0), z from "
            f"{sweep.z[0]:g} to {z_end:g}, {sweep.dtype}. At z = {z_end:g}: {at_end}. "
            + ("Shaded where a naive form fails: " + "; ".join(fails) + "." if fails else
               "No form fails on this range."))


def softmax_figure(sm) -> go.Figure:
    """Probabilities of each class at temperature T, and at T/2 (sharper) and 2T (flatter)."""
    classes = [f"class {i}" for i in range(len(sm.probs))]
    fig = go.Figure()
    rows = (("T/2 (sharper)", sm.sharper, OKABE_ITO[1]), (f"T = {sm.temperature:g}", sm.probs, OKABE_ITO[0]),
            ("2T (flatter)", sm.flatter, OKABE_ITO[5]))
    for name, probs, colour in rows:
        fig.add_trace(go.Bar(x=classes, y=list(probs), name=name, marker_color=colour,
                             text=[f"{p:.3f}" for p in probs], textposition="outside", cliponaxis=False,
                             hovertemplate=f"{name}<br>%{{x}}: p = %{{y:.6f}}<extra></extra>"))
    _base(fig, HEIGHT)
    fig.update_layout(barmode="group", hovermode="closest", uniformtext_minsize=10)
    fig.update_yaxes(title_text="probability softmax(z / T)", range=[0, 1.12])
    return fig


def gradient_figure(g) -> go.Figure:
    """dL/dz per class of CrossEntropyLoss: autograd's bars, and the closed form p - onehot(y) as
    diamonds on top of them."""
    classes = [f"class {i}" for i in range(len(g.autograd))]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=classes, y=list(g.autograd), name="autograd: logits.grad", marker_color=OKABE_ITO[0],
                         hovertemplate="%{x}: autograd %{y:.6f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=classes, y=list(g.closed_form), mode="markers", name="softmax(z) − onehot(y)",
                             marker=dict(symbol="diamond", size=14, color=OKABE_ITO[4], line=dict(color="#222", width=1.5)),
                             hovertemplate="%{x}: closed form %{y:.6f}<extra></extra>"))
    _base(fig, HEIGHT)
    fig.update_layout(hovermode="closest")
    fig.update_yaxes(title_text="dL/dz", zeroline=True, zerolinecolor="#555")
    return fig


def saturation_figure(s) -> go.Figure:
    """|dL/dz| for squared error on a sigmoid output and for BCE with logits (true class 0), log scale;
    where MSE's gradient is below 1% of cross-entropy's is shaded, with a legend entry."""
    fig = go.Figure()
    z = np.asarray(s.z, dtype=np.float32)
    fig.add_trace(go.Scatter(x=z, y=_finite(s.ce_grad), mode="lines", name="BCEWithLogitsLoss: σ(z)",
                             line=dict(color=OKABE_ITO[0], width=3)))
    fig.add_trace(go.Scatter(x=z, y=_finite(s.mse_grad), mode="lines", name="MSELoss(sigmoid(z), 0): 2σ(z)σ'(z)",
                             line=dict(color=OKABE_ITO[1], width=3, dash="dash")))
    if s.slow_from_z is not None:
        fill = "rgba(181, 80, 0, 0.12)"
        fig.add_vrect(x0=s.slow_from_z, x1=float(z[-1]), fillcolor=fill, line_width=0, layer="below")
        # the band's key: a legend entry with no points (a shape has none of its own)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", fill="toself", fillcolor=fill,
                                 line=dict(width=0), name="MSE's gradient < 1% of cross-entropy's",
                                 hoverinfo="skip"))
    _base(fig, HEIGHT)
    fig.update_layout(hovermode="x unified")
    fig.update_xaxes(title_text="logit z of the wrong class (z > 0: confidently wrong)")
    fig.update_yaxes(title_text="|dL/dz|", type="log", exponentformat="power")
    return fig


def double_softmax_figure(d) -> go.Figure:
    """dL/dz per class: CrossEntropyLoss on the logits against CrossEntropyLoss on softmax(logits)."""
    classes = [f"class {i}" for i in range(len(d.correct_grad))]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=classes, y=list(d.correct_grad), name="CrossEntropyLoss(z, y): correct",
                         marker_color=OKABE_ITO[0]))
    fig.add_trace(go.Bar(x=classes, y=list(d.buggy_grad), name="CrossEntropyLoss(softmax(z), y): the bug",
                         marker_color=OKABE_ITO[1]))
    _base(fig, HEIGHT)
    fig.update_layout(barmode="group", hovermode="closest")
    fig.update_yaxes(title_text="dL/dz (autograd)", zeroline=True, zerolinecolor="#555")
    return fig


# --- The classifier ------------------------------------------------------------------------------

# P(class 1) from blue (class 0) through white to vermillion (class 1)
CLASSIFIER_HEIGHT = 460  # px, the decision regions and the curves beside them (the same, so they align)
REGION_SCALE = [[0.0, OKABE_ITO[0]], [0.25, "#8CB8D9"], [0.5, "#F7F7F7"], [0.75, "#EBB08C"], [1.0, OKABE_ITO[1]]]


def region_figure(region, data: tuple, extent: tuple[float, float, float, float], trained: bool,
                  grid_lines: bool = True, keys_right: bool = False) -> go.Figure:
    """The decision regions: P(class 1) as a colour map over the plane (its colour bar under the plot,
    so a phone's narrow column keeps the plane's width), the 0.5 boundary as a line, and the points:
    training points filled (white-edged, so they show on their own class's colour), test points
    hollow, shaped and coloured by their true class.
    `data`: (X_train, y_train, X_test, y_test) as plain lists ((n, 2) points, (n,) labels).
    keys_right: the legend and the colour bar at the right of the plane instead of above and under it
    (a projector's short, wide panel: the square plane is limited by the height, not the width)."""
    X_train, y_train, X_test, y_test = data
    fig = go.Figure()
    prob = np.asarray(region.prob, dtype=np.float32)
    xs, ys = np.asarray(region.xs, dtype=np.float32), np.asarray(region.ys, dtype=np.float32)
    fig.add_trace(go.Heatmap(
        x=xs, y=ys, z=prob, zmin=0, zmax=1, colorscale=REGION_SCALE, zsmooth="best",
        colorbar=dict(orientation="h", title=dict(text="P(class 1)", side="top"), thickness=12, len=0.9,
                      x=0.5, xanchor="center", yref="container", y=0, yanchor="bottom", ypad=8,
                      tickvals=[0, 0.25, 0.5, 0.75, 1], ticktext=["0", "0.25", "0.5", "0.75", "1"]),
        hovertemplate="x1 = %{x:.2f}, x2 = %{y:.2f}<br>P(class 1) = %{z:.3f}<extra></extra>"))
    for c in (0, 1):  # the training points, one legend entry a class
        pts = np.asarray([p for p, label in zip(X_train, y_train) if label == c], dtype=np.float32).reshape(-1, 2)
        fig.add_trace(go.Scatter(
            x=pts[:, 0], y=pts[:, 1], mode="markers", name=f"class {c}",
            marker=dict(color=CLASS_COLOURS[c], size=8, symbol=SYMBOLS[c], line=dict(color="white", width=1)),
            hovertemplate=f"class {c} (train)<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>"))
    # the test points, both classes in one trace (one legend entry): hollow, the class's shape and colour
    order = sorted(range(len(y_test)), key=lambda i: y_test[i])  # class 0 first: the legend shows its marker
    test = np.asarray([X_test[i] for i in order], dtype=np.float32).reshape(-1, 2)
    labels = [int(y_test[i]) for i in order]
    fig.add_trace(go.Scatter(
        x=test[:, 0], y=test[:, 1], mode="markers", name="test points (hollow)", customdata=labels,
        marker=dict(color="white", size=8, symbol=[SYMBOLS[c] for c in labels],
                    line=dict(color=[CLASS_COLOURS[c] for c in labels], width=1.8)),
        hovertemplate="class %{customdata} (test)<br>(%{x:.2f}, %{y:.2f})<extra></extra>"))
    crosses = bool(prob.min() < 0.5 < prob.max())
    if grid_lines and crosses:
        fig.add_trace(go.Contour(x=xs, y=ys, z=prob, showscale=False, contours=dict(start=0.5, end=0.5, size=1,
                                 coloring="none"), line=dict(color="#222", width=2), hoverinfo="skip",
                                 name="boundary P = 0.5", showlegend=True))
    _base(fig, CLASSIFIER_HEIGHT)
    x0, x1, y0, y1 = extent
    fig.update_layout(hovermode="closest")
    if keys_right:
        fig.update_layout(legend=dict(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top"),
                          margin=dict(t=10, b=10))
        fig.update_traces(selector=dict(type="heatmap"), colorbar=dict(
            orientation="v", title=dict(text="P(class 1)", side="right"), len=0.45, yref="paper", y=0,
            yanchor="bottom", x=1.02, xanchor="left", xpad=0))
    fig.update_xaxes(title_text="x1", range=[x0, x1], constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(title_text="x2", range=[y0, y1], scaleanchor="x", scaleratio=1, constrain="domain",
                     showgrid=False, zeroline=False)
    notes = ([] if trained else ["untrained network"]) + (
        [] if crosses else [f"P {'<' if prob.max() < 0.5 else '>'} 0.5 everywhere: no boundary"])
    if notes:  # in the plot's own corner (the square plot is narrower than the figure); with no boundary
        # drawn there is no legend entry for one either, and the note says why
        if keys_right:  # the plane is narrow here: the notes in short lines
            notes = [line for n in notes for line in n.replace(": ", ":<br>").split("<br>")]
        fig.add_annotation(text="<br>".join(notes), xref="x domain", yref="y domain", x=0.02, y=0.98,
                           xanchor="left", yanchor="top", align="left", showarrow=False,
                           bgcolor="rgba(255,255,255,0.75)", font=dict(size=12, color="#222"))
    return fig


def _log_ticks(lo: float, hi: float, most: int = 4) -> list[float]:
    """At most `most` round values (1, 2 or 5 times a power of ten apart) in [lo, hi], for a log axis that spans
    less than a decade, where plotly's own labels crowd (0.69, 0.7, 0.71...)."""
    for step in (10.0 ** e * m for e in range(math.floor(math.log10(hi - lo)) - 1, math.floor(math.log10(hi)) + 2)
                 for m in (1, 2, 5)):
        ticks = [k * step for k in range(math.ceil(lo / step), math.floor(hi / step) + 1)]
        if len(ticks) <= most:
            return [float(f"{t:.12g}") for t in ticks] or [float(f"{lo:.2g}")]
    return [lo, hi]


EARLIER = dict(color="#555555", dash="dot", width=2.5)  # a kept run of another loss: grey, dotted (not by colour alone)


def history_figure(history: Sequence, epochs: int, accuracy_panel: bool = True,
                   earlier: dict | None = None) -> go.Figure:
    """Loss (log scale) and accuracy against epoch, train and test, in two stacked panels; one legend
    entry for train (solid) and one for test (dashed), each toggling both panels.
    accuracy_panel False (a projector: one panel of full height, not two strips): the loss alone, the newest
    accuracies in its legend ("train: accuracy 97.5%").
    earlier: a kept run of the same network and data with another loss, drawn grey and dotted in each panel:
    {"name": legend text, "epoch": 1-based epochs, "loss": its train losses, "accuracy": its train accuracies}."""
    rows = 2 if accuracy_panel else 1
    fig = (make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.55, 0.45])
           if accuracy_panel else go.Figure())

    def at(row: int) -> dict:  # a subplot's row and column (a figure of one panel has none)
        return dict(row=row, col=1) if accuracy_panel else {}

    def positive(vals) -> list:  # a log axis: only positive finite losses
        return [v if v is not None and v > 0 and math.isfinite(v) else None for v in vals]

    ep = np.asarray([s.epoch + 1 for s in history], dtype=np.float32)
    for split, colour, dash in (("train", OKABE_ITO[0], TRAIN[0]), ("test", OKABE_ITO[4], TEST[0])):
        for row, what in ((1, "loss"), (2, "accuracy"))[:rows]:
            vals = [getattr(s, f"{split}_{what}") for s in history]
            if row == 1:
                vals = positive(vals)
            name = split
            if not accuracy_panel and history:  # the newest accuracy in the legend: no panel of its own
                name = f"{split} {getattr(history[-1], f'{split}_accuracy'):.1%}"
            fig.add_trace(go.Scatter(x=ep, y=_finite(vals), mode="lines", name=name, legendgroup=split,
                                     showlegend=row == 1, line=dict(color=colour, dash=dash, width=2.5),
                                     hovertemplate=f"epoch %{{x:.0f}}: {split} {what} %{{y:.4g}}<extra></extra>"),
                          **at(row))
    if earlier is not None:
        e_ep = np.asarray(earlier["epoch"], dtype=np.float32)
        name = earlier["name"] if accuracy_panel else f"{earlier['name']} {earlier['accuracy'][-1]:.1%}"
        for row, what in ((1, "loss"), (2, "accuracy"))[:rows]:
            vals = positive(earlier["loss"]) if row == 1 else earlier["accuracy"]
            fig.add_trace(go.Scatter(x=e_ep, y=_finite(vals), mode="lines", name=name, legendgroup="earlier",
                                     showlegend=row == 1, line=EARLIER,
                                     hovertemplate=f"epoch %{{x:.0f}}: {earlier['name']}, train {what} "
                                                   "%{y:.4g}<extra></extra>"), **at(row))
    _base(fig, CLASSIFIER_HEIGHT)
    fig.update_layout(hovermode="x unified")
    fig.update_xaxes(range=[0, max(epochs, 1)])
    fig.update_xaxes(title_text="epoch", **at(rows))
    # at most 6 loss ticks: a run that ends near ln 2 spans a tenth of a decade, where plotly labels every 0.01
    fig.update_yaxes(title_text="loss", type="log", exponentformat="power", **at(1))
    losses = [v for s in history for v in (s.train_loss, s.test_loss)] + list(earlier["loss"] if earlier else [])
    losses = [v for v in positive(losses) if v is not None]
    if losses and max(losses) < 10 * min(losses):  # within a decade plotly labels every 0.01: four labels instead
        fig.update_yaxes(tickvals=_log_ticks(min(losses), max(losses)), **at(1))
    if not accuracy_panel and history:  # "accuracy: ── train 97.5%  - - test 95.0%", one row (the projector's type)
        fig.update_layout(legend_title=dict(text="accuracy:", side="left", font=dict(size=PRESENT_FONT - 2, color=INK)))
    if accuracy_panel:
        fig.update_yaxes(title_text="accuracy", range=[0, 1.04], tickformat=".0%", row=2, col=1)
    if not history:
        if not losses:
            fig.update_yaxes(range=[-2, 0.5], **at(1))
        fig.add_annotation(text="Press Train: the curves draw as it learns", xref="x domain", yref="y domain",
                           x=0.5, y=0.5, showarrow=False, font=dict(size=13, color="#222"),
                           bgcolor="rgba(255,255,255,0.85)")
    return fig


# --- Reveal figures: after a verdict, the chart that shows the answer (nnviz.figures.answers) -------------------
# Each draws only from the Answer (nnviz.lessons computes its series with the page's core calls) and writes the
# verdict's value (answer.shown) on the figure. One panel; its lines keyed by a one-row legend.

NOTE = dict(size=13, color="#222")  # annotation font (for_projector enlarges it)
BOX = "rgba(255,255,255,0.85)"  # behind an annotation that may sit over a grid line


def _answer_base(fig: go.Figure, legend: str | None = None) -> go.Figure:
    """The reveal figures' layout: no legend above the plot (on a projector the figure is short, and a legend
    row would take a fifth of it); `legend` ("top left", "top right") puts a small one inside the plot, in the
    corner the curves leave empty."""
    _base(fig, ANSWER_HEIGHT)
    fig.update_layout(hovermode="closest", margin=dict(t=12), showlegend=legend is not None)
    if legend is not None:
        right = legend.endswith("right")
        fig.update_layout(legend=dict(orientation="v", x=0.99 if right else 0.01, xanchor="right" if right else "left",
                                      y=0.99, yanchor="top", bgcolor=BOX, tracegroupgap=0))
    return fig


def _loss_lines(fig: go.Figure, z: list, exact: list, logits: list, logits_name: str, naive: list,
                naive_key: str) -> None:
    """The float64 loss (a wide pale band), the logit form on it and the naive form, keyed as on the page."""
    for values, (name, colour, dash, width), opacity in (
            (exact, CURVES["reference"], 1.0), (logits, (logits_name,) + CURVES["bce_logits"][1:], 1.0),
            (naive, CURVES[naive_key], 1.0)):
        fig.add_trace(go.Scatter(x=z, y=_finite(values), mode="lines", name=name, opacity=opacity,
                                 line=dict(color=colour, dash=dash, width=width),
                                 hovertemplate=f"{name}<br>z = %{{x:.6g}}<br>loss = %{{y:.6g}}<extra></extra>"))


def bce_answer_figure(a) -> go.Figure:
    """logit-bce-at-50: BCELoss(sigmoid(z), 0) jumps to its clamp of 100 where the exact loss log(1 + e^z) is
    about z; at z = 50 the two points, with their values and gradients written beside them (the arrows name the
    lines: no legend)."""
    s, n = a.series, a.numbers
    z0 = s["z_at"]
    fig = go.Figure()
    _loss_lines(fig, s["z"], s["exact"], s["logits"], "BCEWithLogitsLoss", s["naive"], "bce_naive")
    fig.data[-1].name = "BCELoss(sigmoid(z), 0)"
    fig.add_trace(go.Scatter(x=[z0, z0], y=[n["loss"], n["exact_loss"]], mode="markers", showlegend=False,
                             marker=dict(color=[CURVES["bce_naive"][1], "#444"], size=12,
                                         line=dict(color="white", width=1.5)), hoverinfo="skip"))
    fig.add_vline(x=z0, line=dict(color="#444", dash="dot", width=1.5))
    fig.add_annotation(x=z0, y=n["loss"], ax=-50, ay=45, xanchor="right", showarrow=True, arrowhead=2,
                       arrowcolor="#444", font=NOTE, bgcolor=BOX, align="right",
                       text=f"BCELoss(sigmoid({z0:g}), 0) = {a.shown}<br>"
                            f"log 0 clamped at {s['log_floor']:g}: gradient {n['grad']:g}")
    # under the diagonal, against the plot's right edge (a narrow phone keeps it whole), its arrow to the point
    top = max(v for v in s["naive"] + s["exact"] if v is not None)
    fig.add_annotation(x=z0, y=n["exact_loss"], ax=s["z"][0] + 0.99 * (s["z"][-1] - s["z"][0]), ay=0.03 * 1.25 * top,
                       axref="x", ayref="y", xanchor="right", yanchor="bottom", showarrow=True, arrowhead=2,
                       arrowcolor="#444", font=NOTE, bgcolor=BOX, align="right",
                       text=f"exact log(1 + e^{z0:g}): {n['exact_loss']:.4g}<br>gradient {n['exact_grad']:.4g}; "
                            f"BCEWithLogitsLoss: {n['logits_loss']:.4g}")
    _answer_base(fig)
    fig.update_xaxes(title_text="logit z given to the wrong class (true class 0)", range=[s["z"][0], s["z"][-1]])
    fig.update_yaxes(title_text="loss", range=[0, 1.25 * top])
    return fig


def sigmoid_gap_answer_figure(a) -> go.Figure:
    """logit-sigmoid-rounds-to-one: 1 − σ(z) as the dtype computes it against the exact σ(−z), on a log axis: the
    dtype's gap moves in steps of its epsilon (1 + e^−z is rounded to the dtype's numbers above 1, eps apart) and
    drops to 0 at the marked z. 0 has no place on a log axis:
    it is drawn along the axis floor, well under the smallest exact value, and labelled."""
    s, n = a.series, a.numbers
    z, gap, exact = s["z"], s["gap"], s["exact_gap"]
    z1, dtype = float(a.value), s["dtype"]
    lo, hi = math.log10(min(exact)), math.log10(max(exact)) + 0.25
    floor = lo - 0.7 * (hi - lo)  # log10 of the axis floor: the lower part of the plot is the 0s' and their labels'
    orange = CURVES["bce_naive"][1]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=z, y=exact, mode="lines", name="exact (float64)",
                             line=dict(color=CURVES["reference"][1], width=CURVES["reference"][3]),
                             hovertemplate="z = %{x:.6g}<br>exact 1 − σ(z) = %{y:.4g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[v for v, g in zip(z, gap) if g > 0], y=[g for g in gap if g > 0], mode="lines",
                             line_shape="hv", name=f"{dtype}: 1 − σ(z)", line=dict(color=orange, width=3),
                             hovertemplate=f"z = %{{x:.6g}}<br>{dtype}: 1 − σ(z) = %{{y:.4g}}<extra></extra>"))
    zeros = [v for v, g in zip(z, gap) if g == 0]
    below = s["last_nonzero_z"]
    last = next(g for v, g in zip(z, gap) if v == below)
    fig.add_trace(go.Scatter(x=[below, z1, z1] + zeros[1:], y=[last, last] + [10 ** floor] * len(zeros), mode="lines",
                             line_shape="hv", showlegend=False, cliponaxis=False, line=dict(color=orange, width=5),
                             hovertemplate=f"z = %{{x:.6g}}<br>{dtype}: 1 − σ(z) = 0<extra></extra>"))
    fig.add_vline(x=z1, line=dict(color="#444", dash="dot", width=1.5))
    # both left of the mark, under the curve (the empty part of the plot): the answer at the bottom by the drop
    fig.add_annotation(x=z1, y=0.04, xref="x", yref="y domain", xanchor="right", yanchor="bottom", xshift=-6,
                       showarrow=False, font=NOTE, bgcolor=BOX, align="right",
                       text=f"from z = {a.shown}:<br>σ(z) = 1, 1 − σ(z) = 0")
    zs, gs = next((v, g) for v, g in zip(z, gap) if 0 < g < 8 * n["eps"])  # where the steps show
    fig.add_annotation(x=zs, y=math.log10(gs), ax=-30, ay=22, xanchor="right", showarrow=True, arrowhead=2,
                       arrowcolor="#444", font=NOTE, bgcolor=BOX, text=f"{dtype}: steps of {n['eps']:.3g}")
    _answer_base(fig, legend="top right")
    fig.update_xaxes(title_text="logit z", range=[z[0], z[-1]])
    fig.update_yaxes(title_text="1 − σ(z)", type="log", exponentformat="power", range=[floor, hi],
                     dtick=max(1, math.ceil((hi - floor) / 4)))
    return fig


def softmax_answer_figure(a) -> go.Figure:
    """logit-softmax-underflow: −log softmax([0, z])[0] follows the exact loss until softmax's p underflows to 0
    at the marked z; from there it is inf (drawn along the top edge, and labelled); CrossEntropyLoss stays on the
    exact line."""
    s = a.series
    z, naive = s["z"], s["naive"]
    z1 = float(a.value)
    fig = go.Figure()
    _loss_lines(fig, z, s["exact"], s["logits"], "CrossEntropyLoss", naive, "ce_naive")
    fig.data[-1].name = "−log softmax([0, z])[0]"
    top = 1.25 * max(v for v in s["exact"] if v is not None)  # room under the top edge for the inf's label
    inf_z = [v for v, y in zip(z, naive) if y is None]
    fig.add_trace(go.Scatter(x=inf_z, y=[top] * len(inf_z), mode="lines", showlegend=False, cliponaxis=False,
                             line=dict(color=CURVES["ce_naive"][1], width=6),
                             hovertemplate="z = %{x:.6g}<br>−log softmax = inf<extra></extra>"))
    fig.add_vline(x=z1, line=dict(color="#444", dash="dot", width=1.5))
    # under the diagonal, left of the mark: where the z is read; the inf's label under its line at the top edge
    fig.add_annotation(x=z1, y=0.04, xref="x", yref="y domain", xanchor="right", yanchor="bottom", xshift=-6,
                       showarrow=False, font=NOTE, bgcolor=BOX, align="right",
                       text=f"from z = {a.shown}:<br>softmax's p = 0")
    fig.add_annotation(x=0.99, y=0.97, xref="x domain", yref="y domain", xanchor="right", yanchor="top",
                       showarrow=False, font=NOTE, bgcolor=BOX, text="−log 0 = inf")
    _answer_base(fig, legend="top left")
    fig.update_xaxes(title_text="logit z given to the wrong class (true class 0)", range=[z[0], z[-1]])
    fig.update_yaxes(title_text="loss", range=[0, top])
    return fig


def ce_gradient_answer_figure(a) -> go.Figure:
    """logit-ce-gradient: dL/dz of CrossEntropyLoss per class as bars, each labelled with its value (the true
    class's as the verdict prints it): p − 1 for the true class, p for each wrong one."""
    s = a.series
    t, grad, probs = s["target"], s["grad"], s["probs"]
    classes = [f"class {k} (true)" if k == t else f"class {k}" for k in range(len(grad))]
    labels = [a.shown if k == t else f"{g:.3g}" for k, g in enumerate(grad)]
    fig = go.Figure(go.Bar(
        x=classes, y=grad, text=labels, textposition="outside", cliponaxis=False, showlegend=False,
        marker_color=[CLASS_COLOURS[1] if k == t else CLASS_COLOURS[0] for k in range(len(grad))],
        customdata=probs, hovertemplate="%{x}: dL/dz = %{y:.6f}<br>p = %{customdata:.6f}<extra></extra>"))
    # above the true class's bar (it points down, p - 1 < 0): the one empty column
    fig.add_annotation(x=classes[t], y=0.98, xref="x", yref="y domain", yanchor="top", showarrow=False,
                       font=NOTE, bgcolor=BOX, text=f"p = {probs[t]:.3g}<br>dL/dz = p − 1 = {a.shown}")
    _answer_base(fig)
    lo, hi = min(grad + [0.0]), max(grad + [0.0])
    fig.update_xaxes(title_text="logits (" + ", ".join(f"{v:g}" for v in s["logits"]) + "): a wrong class gets its p")
    fig.update_yaxes(title_text="dL/dz (autograd)", range=[lo - 0.3 * (hi - lo), hi + 1.3 * (hi - lo)],
                     zeroline=True, zerolinecolor="#555")
    return fig


def mse_peak_answer_figure(a) -> go.Figure:
    """logit-mse-sigmoid-peak: |dL/dz| of MSELoss(sigmoid(z), 0) against BCEWithLogitsLoss's σ(z), on a linear
    axis so the hump shows: its peak marked at the answer's z, the range where it is below 1% of cross-entropy's
    shaded."""
    s = a.series
    z = s["z"]
    fig = go.Figure()
    if s["slow_from_z"] is not None:
        fig.add_vrect(x0=s["slow_from_z"], x1=z[-1], fillcolor="rgba(181, 80, 0, 0.12)", line_width=0, layer="below")
        fig.add_annotation(x=0.99, y=0.05, xref="x domain", yref="y domain", xanchor="right", yanchor="bottom",
                           showarrow=False, font=NOTE, bgcolor=BOX, align="right",
                           text=f"MSE's < {100 * s['slow_ratio']:g}%<br>of cross-<br>entropy's")
    fig.add_trace(go.Scatter(x=z, y=s["ce_grad"], mode="lines", name="cross-entropy: σ(z)",
                             line=dict(color=OKABE_ITO[0], width=3),
                             hovertemplate="z = %{x:.3f}<br>cross-entropy |dL/dz| = %{y:.4g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=z, y=s["mse_grad"], mode="lines", name="MSE on sigmoid(z)",
                             line=dict(color=OKABE_ITO[1], width=3, dash="dash"),
                             hovertemplate="z = %{x:.3f}<br>MSE |dL/dz| = %{y:.4g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[s["peak_z"]], y=[s["peak"]], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(color=OKABE_ITO[1], size=13, line=dict(color="white", width=1.5))))
    fig.add_vline(x=s["peak_z"], line=dict(color="#444", dash="dot", width=1.5))
    fig.add_annotation(x=s["peak_z"], y=s["peak"], ax=-40, ay=-60, xanchor="right", showarrow=True, arrowhead=2,
                       arrowcolor="#444", font=NOTE, bgcolor=BOX, align="right",
                       text=f"MSE peaks at<br>z = {a.shown} ({s['peak']:.3g})")
    _answer_base(fig, legend="top left")
    fig.update_xaxes(title_text="logit z of the wrong class", range=[z[0], z[-1]])
    fig.update_yaxes(title_text="|dL/dz|", range=[-0.04, 1.08])  # its 0 a little above the corner: off z's first label
    return fig


# question id -> reveal figure builder (nnviz.figures.answers): the chart that shows its answer
ANSWER_FIGURES: dict = {
    "logit-bce-at-50": bce_answer_figure,
    "logit-sigmoid-rounds-to-one": sigmoid_gap_answer_figure,
    "logit-softmax-underflow": softmax_answer_figure,
    "logit-ce-gradient": ce_gradient_answer_figure,
    "logit-mse-sigmoid-peak": mse_peak_answer_figure,
}
