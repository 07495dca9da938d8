"""The only Streamlit code outside app.py and pages/: the shared frame, URL-bound widgets, helpers."""
from .frame import (code_expander, controls_area, device, frame, intro, notice, presenting, require_frame, reserve,
                    show_figure)
from .classmode import join_form
from .lesson import begin
from .live import finished_view, settle, train_live
from .widgets import multiselect, number, numbers, select, slider, tabs, toggle

__all__ = ["begin", "code_expander", "controls_area", "device", "finished_view", "frame", "intro", "join_form", "multiselect", "notice", "number", "numbers", "presenting", "require_frame", "reserve",
           "select", "settle", "show_figure", "slider", "tabs", "toggle", "train_live"]
