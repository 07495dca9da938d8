"""nnviz entry point: page config, the shared frame (sidebar), and navigation between the pages."""
from pathlib import Path

# Imported here, whole, before any page runs: plotly imports pandas lazily and takes it from sys.modules if it is
# there, so on a cold process a second session's figure could meet the module half imported by the first
# ("partially initialized module 'pandas' has no attribute 'Series'": seen with 30 students arriving at once).
# An import statement waits for a module another thread is importing; plotly's lookup does not.
import pandas  # noqa: F401
import streamlit as st

from nnviz.runtime import setup_torch_threads
from nnviz.ui import frame
from nnviz.ui.catalog import PAGES
from nnviz.ui.pace import paced
from nnviz.ui.runlog import log_run

# with NNVIZ_RUN_LOG=PATH set, every script run appends "start ..." when it begins and "end ..." when it completes
# (a run interrupted by a rerun or a stop, or ended by st.stop(), has no end line): nnviz.ui.runlog
log_run("start")
setup_torch_threads()  # once per process (NNVIZ_TORCH_THREADS, default 1); a rerun changes nothing

HOME_TITLE = "nnviz: how a neural network computes and learns"
st.set_page_config(page_title=HOME_TITLE, page_icon="🧠",
                   layout="wide",
                   # a link opened in presentation mode starts with the sidebar closed
                   initial_sidebar_state="collapsed" if st.query_params.get("present") == "true" else "auto")

# each page its own browser title (WCAG 2.4.2), by its URL path (its script's name): "Vanishing gradients · nnviz"
TITLES = {Path(p.path).stem: f"{p.title} · nnviz" for p in PAGES}
home = st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)
page = st.navigation([home] + [st.Page(p.path, title=p.nav, icon=p.icon) for p in PAGES],
                     position="top")
st.set_page_config(page_title=TITLES.get(page.url_path, HOME_TITLE))
with paced():  # reruns that come back to back (a held arrow key) wait between them: nnviz.ui.pace
    frame(page.url_path)
    page.run()
log_run("end")
