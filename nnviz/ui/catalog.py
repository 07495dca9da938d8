"""The app's pages: one list that feeds the navigation and the home page's links."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageEntry:
    path: str  # script under pages/; its file name is its URL path
    title: str  # the page's heading on the home page
    nav: str  # its short label in the top navigation (all of them fit at 1024 px in presentation mode)
    icon: str
    summary: str  # one line for the home page: what a student learns there


PAGES: tuple[PageEntry, ...] = (
    PageEntry("pages/activations.py", "Activation functions", "Activations", ":material/show_chart:",
              "Sigmoid, tanh, ReLU and ten more, each with its derivative from autograd: where they "
              "saturate, how steep they get, and why that matters for learning."),
    PageEntry("pages/losses.py", "L1 vs MSE", "L1 vs MSE", ":material/scatter_plot:",
              "Fit a line to data with outliers under L1, MSE, Huber and Smooth L1: see why squared "
              "errors let a few far-off points drag the fit, and absolute errors do not."),
    PageEntry("pages/vanishing.py", "Vanishing gradients", "Vanishing", ":material/trending_down:",
              "Watch the gradient that reaches the first layer shrink (or explode) as a network gets "
              "deeper, see why, and try the fixes: He initialisation, residual connections, normalisation."),
    PageEntry("pages/regression.py", "Train a regression", "Regression", ":material/model_training:",
              "The training loop made visible: forward pass, loss, zero_grad, backward, optimizer step, "
              "live on the device you pick, or one line at a time."),
    PageEntry("pages/logits.py", "Logits and classification", "Logits", ":material/category:",
              "Why classification losses take raw scores (float32's sigmoid rounds to 1 at z = 16.6), why "
              "cross-entropy beats squared error there, and a network trained live to bend around XOR."),
    PageEntry("pages/deep.py", "Deep training", "Deep", ":material/stacked_line_chart:",
              "Train a deep network live and watch every layer: a deep sigmoid net whose first layers get no "
              "gradient and barely move, rescued by He init, residual connections, BatchNorm or clipping."),
)
