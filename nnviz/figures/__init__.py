"""Plotly figure builders, one module per page: plain results in, go.Figure out. No Streamlit, no torch."""
from .activations import activation_figure
from .losses import fit_figure, residual_figure, share_figure, surface_figure
from .regression import path_figure, step_figure, timing_figure, training_figure
from .vanishing import depth_figure, heatmap_figure, profile_figure, stats_figure

__all__ = ["activation_figure", "depth_figure", "fit_figure", "heatmap_figure", "path_figure", "profile_figure",
           "residual_figure", "share_figure", "stats_figure", "step_figure", "surface_figure", "timing_figure",
           "training_figure"]
