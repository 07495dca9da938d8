"""The only Streamlit code outside app.py and pages/: the shared frame, URL-bound widgets, helpers."""
from .frame import (code_expander, controls_area, device, frame, intro, notice, presenting, require_frame,
                    show_figure)
from .widgets import multiselect, number, numbers, select, slider, toggle

__all__ = ["code_expander", "controls_area", "device", "frame", "intro", "multiselect", "notice", "number", "numbers", "presenting", "require_frame",
           "select", "show_figure", "slider", "toggle"]
