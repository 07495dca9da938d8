"""The shared frame every page runs inside: page config, sidebar (device, presentation mode),
the notice area at the top of the page, and small helpers the pages share."""
from __future__ import annotations

import threading
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from nnviz.controls import BoolSpec
from nnviz.devices import available_devices, device_spec
from nnviz.figures.common import for_projector

PRESENT = BoolSpec("Presentation mode", False,
                   help="For a projector: larger type and figures, page settings tucked into a closed panel.")

# Per-run state. Streamlit runs each session's script in that session's own thread, so a
# thread-local holds "this run's" notice area without leaking between students.
_run = threading.local()

_PRESENT_CSS = """
<style>
/* Presentation mode: a projector read from the back of the room (1024x768 is common). */
html { font-size: 22px; }
/* A slim header: the navigation in fixed px, so every page's link fits at 1024 px wide without a
   "2 more" menu (at 22 px type it did not), and the first figure gets the screen. */
header[data-testid="stHeader"] { height: 52px; min-height: 52px; }
[data-testid="stToolbar"] div:has(> [data-testid="stMainMenu"]) { min-width: 0; }
[data-testid="stTopNavLink"], [data-testid="stTopNavSection"] { padding: 0 7px; }
[data-testid="stTopNavLink"] [data-testid="stMarkdownContainer"], [data-testid="stTopNavLink"] p,
[data-testid="stTopNavSection"] [data-testid="stMarkdownContainer"], [data-testid="stTopNavSection"] p { font-size: 17px; }
[data-testid="stTopNavLink"] [data-testid="stIconMaterial"] { font-size: 19px; }
[data-testid="stMainBlockContainer"] { max-width: 100%; padding: 56px 1.4rem 1rem 1.4rem; }
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] { gap: 0.55rem; }
[data-testid="stMain"] h1 { font-size: 1.45rem; padding: 0 0 0.3rem 0; line-height: 1.25; }
[data-testid="stMain"] h1 [data-testid="stHeaderActionElements"] { display: none; }
/* the closed panels (about this page, settings) take one slim line each */
[data-testid="stMain"] [data-testid="stExpander"] details summary { padding-top: 0.2rem; padding-bottom: 0.2rem; }
[data-testid="stMain"] [data-testid="stExpander"] details summary p { font-size: 0.8rem; }
/* a guided tour's panel: its step text large, its buttons compact; the tour stands in for the opening paragraph */
.st-key-tour_panel, .st-key-question_panel { padding: 10px 18px !important; }
.st-key-tour_panel button, .st-key-question_panel button { min-height: 0; padding: 2px 12px; }
.st-key-tour_panel button p, .st-key-question_panel button p { font-size: 17px; }
.st-key-tour_panel [data-testid="stVerticalBlock"], .st-key-question_panel [data-testid="stVerticalBlock"] { gap: 0.3rem; }
.st-key-question_panel [data-testid="stAlertContainer"] { padding: 0.45rem 0.9rem; }
.st-key-lesson_bar button { min-height: 0; padding: 2px 12px; }
.st-key-lesson_bar button p { font-size: 17px; }
body:has(.st-key-tour_panel) .st-key-nnviz_intro, body:has(.st-key-tour_panel) [data-testid="stMain"] h1 { display: none; }
/* buttons: the label at projector size in a slimmer box (a page's first screen is the figure's) */
[data-testid="stMain"] [data-testid="stButton"] button { min-height: 0; padding-top: 0.25rem; padding-bottom: 0.25rem; }
/* captions and small print: large and dark enough to read on a projector */
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { font-size: 0.9rem !important; color: #262626 !important; opacity: 1 !important; }
</style>
"""


FOCUS = "#0A58CA"  # the focus outline: 6.4:1 on white, 5.7:1 on the sidebar's grey (WCAG 2.4.7 asks 3:1)
CAPTION = "#595959"  # captions and small print: 7.0:1 on white, 6.2:1 on the sidebar (Streamlit's 3.8:1 grey fails 4.5:1)
HEADER_PX = 60  # Streamlit's fixed header (presentation mode slims it to 52 px)

# Sent on every run, in every mode (presentation mode's own stylesheet comes after it and wins where both speak).
_A11Y_CSS = f"""
<style>
/* WCAG 2.1 1.4.3: captions and small print (st.caption, the sidebar's "Computing on ...", inline code in them) at
   >= 4.5:1, still lighter than body text. */
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p, [data-testid="stCaptionContainer"] li,
[data-testid="stCaptionContainer"] strong, [data-testid="stCaptionContainer"] code {{ color: {CAPTION}; opacity: 1; }}
/* 2.4.7: a visible focus, a 3 px outline, on everything a keyboard reaches (Streamlit draws a faint halo or nothing) */
[data-testid="stTopNavLink"]:focus-visible, [data-testid="stSidebarNavLink"]:focus-visible,
[data-testid="stPageLink-NavLink"]:focus-visible, [data-testid="stApp"] a:focus-visible,
[data-testid="stApp"] button:focus-visible, [data-testid="stApp"] summary:focus-visible,
[data-testid="stApp"] [role="tab"]:focus-visible {{
  outline: 3px solid {FOCUS} !important; outline-offset: 2px; box-shadow: none !important; }}
/* widgets whose focused input is visually hidden: outline what the eye sees (a toggle's or a radio's label, a
   slider's thumb), and the box of a text, number or select input */
[data-testid="stCheckbox"] label:has(input:focus-visible), [data-testid="stRadio"] label:has(input:focus-visible),
[data-testid="stSlider"] [data-rac]:has(> div > input:focus-visible), [data-testid="stMultiSelect"] [data-tag]:focus-visible,
[data-testid="stSelectbox"] [role="group"]:focus-within, [data-testid="stMultiSelect"] [role="group"][data-rac]:focus-within,
[data-testid="stTextInputRootElement"]:focus-within,
[data-testid="stNumberInputContainer"]:focus-within, [data-testid="stTextAreaRootElement"]:focus-within {{
  outline: 3px solid {FOCUS} !important; outline-offset: 2px; }}
/* a table: its grid (a canvas) takes the focus; outline the table, and show its toolbar while a button in it has
   the focus, where hovering puts it (Streamlit shows it on hover only: four invisible Tab stops) */
[data-testid="stDataFrame"]:has(canvas:focus-visible), [data-testid="stDataFrame"]:has(.dvn-scroller:focus-visible) {{
  outline: 3px solid {FOCUS}; outline-offset: 2px; }}
[data-testid="stElementToolbar"]:focus-within {{
  opacity: 1 !important; top: calc(-1 * (1.25rem + max(1.5rem, 24px))) !important; z-index: 1 !important; }}
[data-testid="stMain"]:focus-visible {{ outline: 3px solid {FOCUS}; outline-offset: -3px; }}
/* a focused element never lands under the fixed header: focus scrolls the page (stMain) this far below its top */
[data-testid="stMain"] {{ scroll-padding-top: {HEADER_PX + 16}px; }}
[data-testid="stMain"] :focus {{ scroll-margin-top: {HEADER_PX + 16}px; }}
/* the closed sidebar is only moved off screen: take its controls out of the Tab order (and the accessibility
   tree) until it opens */
[data-testid="stSidebar"][data-collapsed="true"], [data-testid="stSidebar"][data-collapsed="true"] * {{
  visibility: hidden !important; }}
/* 1.4.10: a long page link wraps (at 200 % zoom in presentation mode Streamlit cut it with "...") */
[data-testid="stPageLink-NavLink"] p, [data-testid="stPageLink-NavLink"] [data-testid="stMarkdownContainer"] {{
  white-space: normal; overflow: visible; text-overflow: clip; }}
</style>
"""

# The only settings that follow a student from page to page. Every other URL key belongs to one
# page (tests/test_pages.py checks no two pages bind the same key): Streamlit copies a widget's
# value by key on a page switch, so a shared key would carry one page's setting into another.
FRAME_KEYS = ("device", "present")
_PAGE, _OWNED = "_nnviz_page", "_nnviz_widget_keys"
SET_BY_LESSON = "_nnviz_set_by_lesson"  # widget keys a lesson button set this run (nnviz.ui.lesson)


_PHONE_CSS = """
<style>
/* A phone stacks the settings column above the figure, so the first screen would be sliders: show
   the figure (the lesson) first and the settings under it, and keep the title to two lines. */
@media (max-width: 640px) {
  .st-key-nnviz_controls > [data-testid="stLayoutWrapper"] > [data-testid="stHorizontalBlock"] { flex-direction: column-reverse; }
  [data-testid="stMain"] h1 { font-size: 1.7rem; }
}
</style>
"""


# On a phone the top navigation moves into the sidebar, which Streamlit leaves open over about 77 % of the
# screen after a page is chosen (streamlit/streamlit#12065): close it on that click, where the sidebar covers
# the page (narrow screens). A fixed script, no user input in it.
_PHONE_NAV_JS = """
<script>
(() => {
  if (window.__nnvizNavCloses) return;
  window.__nnvizNavCloses = true;
  document.addEventListener("click", (e) => {
    if (!e.target.closest("[data-testid='stSidebarNavLink']") || window.innerWidth > 640) return;
    setTimeout(() => document.querySelector("[data-testid='stSidebarCollapseButton'] button")?.click(), 0);
  }, true);
})();
</script>
"""


def frame(page: str = "") -> None:
    """Draw the shared sidebar and prepare the notice area; app.py calls this on every run with the
    page about to run (its URL path)."""
    from . import classmode, warm, widgets  # imported here: they import this module

    warm.start()  # once per process: open the lesson links in the background (NNVIZ_WARM; nnviz.ui.warm)
    warm.mark_run(page)  # the gc freeze per page (nnviz.ui.warm.freeze); the warm-up's sessions at low priority
    _run.page = page
    _leave_previous_page(page)
    _run.framed = True
    _run.reserved = _run.figures = 0
    _run.notices = st.container()
    classmode.enter(page)  # a join link; a follower takes the teacher's page (nnviz.ui.classmode)
    with st.sidebar:
        st.markdown("### nnviz")
        choice = widgets.select(device_spec(), "device")
        names = {d.id: d.name for d in available_devices()}
        st.caption(f"Computing on **{choice}** ({names[choice]}). Available here: "
                   + ", ".join(f"{i}" for i in names) + ".")
        _run.present = widgets.toggle(PRESENT, "present")
        classmode.sidebar()
        st.html(_PHONE_NAV_JS, unsafe_allow_javascript=True)
    st.html(_A11Y_CSS + (_PRESENT_CSS if _run.present else _PHONE_CSS))
    classmode.bar(page)  # the class line above the page (a member only)


# Every URL-bound control seen so far, per page: {page url path: {key: spec}}. The same for every
# session (pages are code), so a process-wide dict; the fuzz tests read it to cover every control.
CONTROLS: dict[str, dict[str, Any]] = {}


def own(key: str, spec: Any) -> None:
    """Record that the running page binds the URL key `key` to a control built from `spec`."""
    CONTROLS.setdefault(getattr(_run, "page", ""), {})[key] = spec
    st.session_state.setdefault(_OWNED, set()).add(key)


def _leave_previous_page(page: str) -> None:
    """A page opens at its own defaults or its own link's values, never at what a student set on an
    earlier visit: Streamlit keeps a keyed widget's value in the session while its page is away, so
    on a page switch we forget the controls the previous page created. Only the frame's travel."""
    previous = st.session_state.get(_PAGE)
    if previous is not None and previous != page:
        for key in st.session_state.get(_OWNED, ()):
            if key not in FRAME_KEYS and key in st.session_state:
                del st.session_state[key]
        st.session_state[_OWNED] = set()
    st.session_state[_PAGE] = page


def require_frame() -> None:
    """Make sure this page runs inside the frame.

    With a pages/ folder beside app.py, a freshly started server treats a cold deep link the
    legacy multipage way and runs the page script alone until some session has called
    st.navigation. Then we switch the server to app.py's navigation and rerun, which resolves the
    same page (its url path, hence its hash, is the same) inside the frame.
    """
    if getattr(_run, "framed", False):
        _run.framed = False  # consumed: the next run must frame itself again
        return
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
    st.rerun()


def notice(message: str) -> None:
    """A visible warning at the top of the page (a bad link value, a fallback, a clamp)."""
    area = getattr(_run, "notices", None) or st
    area.warning(message, icon="⚠️")


def intro(text: str) -> None:
    """The page's opening paragraph. In presentation mode it folds into a closed panel, so the
    projected first screen is the headline figure (the teacher says the words)."""
    if presenting():
        with st.container(key="nnviz_intro"), st.expander("About this page", icon=":material/info:"):
            st.markdown(text)
    else:
        st.markdown(text)


MIN_PRESENT_HEIGHT = 240  # px: a figure shortened for a lesson panel is still a figure, not a strip


def reserve(px: int) -> None:
    """In presentation mode, take `px` more off the height of this run's headline figures (show_figure):
    room on the projector's first screen for what a lesson panel puts above them."""
    _run.reserved = getattr(_run, "reserved", 0) + px


def presenting() -> bool:
    return bool(getattr(_run, "present", False))


def device() -> str:
    """The torch device string chosen in the sidebar (only available devices are offered)."""
    return st.session_state.get("device", "cpu")


def controls_area() -> tuple[Any, Any]:
    """(settings, main): normally a settings column beside the main figure; in presentation mode a
    closed settings panel above a full-width figure, so the projected screen is all figure."""
    if presenting():
        return st.expander("Settings", expanded=False, icon=":material/tune:"), st.container()
    # On a phone the columns stack; _PHONE_CSS puts the figure first, so the first screen teaches.
    settings, main = st.container(key="nnviz_controls").columns([1, 3], gap="large")
    return settings.container(border=True), main


# no toolbar: it covered legends on a phone and added 8 Tab stops per chart; drag to zoom and a double click
# to reset still work
CHART_CONFIG = {"displaylogo": False, "displayModeBar": False}


def take_reserve(headline: bool | None) -> int:
    """Count one more figure in this run; the px it gives up to the lesson panels above it (reserve()): only
    in presentation mode, only for a headline figure (None: the run's first figure)."""
    first, _run.figures = getattr(_run, "figures", 0) == 0, getattr(_run, "figures", 0) + 1
    if presenting() and (first if headline is None else headline):
        return getattr(_run, "reserved", 0)
    return 0


def projected(fig: go.Figure, reserved: int) -> go.Figure:
    """The presentation-mode version of a figure (for_projector), `reserved` px shorter (but not below
    MIN_PRESENT_HEIGHT)."""
    fig = for_projector(fig)
    if reserved:
        fig.update_layout(height=max(MIN_PRESENT_HEIGHT, fig.layout.height - reserved))
    return fig


def show_figure(fig: go.Figure, key: str | None = None, headline: bool | None = None) -> None:
    """Show a figure full width; in presentation mode with larger, darker type, readable log ticks,
    and a height that fits a projector's first screen (nnviz.figures.common.for_projector).
    headline: one of the figures the first screen must hold whole (None: the run's first figure), the
    only ones that give up height to reserve()."""
    reserved = take_reserve(headline)
    if presenting():
        fig = projected(fig, reserved)
    st.plotly_chart(fig, width="stretch", key=key, config=CHART_CONFIG)


def code_expander(code: str, filename: str) -> None:
    """'Show the code': a runnable plain-torch script reproducing what the page shows."""
    with st.expander("Show the code (plain PyTorch, runs on its own)", icon=":material/code:"):
        st.code(code, language="python")
        st.download_button("Download script", code, file_name=filename, mime="text/x-python")
