"""Home: what nnviz teaches, and a link to each page."""
import streamlit as st

from nnviz.ui import join_form, require_frame
from nnviz.ui.catalog import PAGES

require_frame()

st.title("nnviz: see how a neural network computes and learns")
st.markdown(
    "Each page is one idea from `torch.nn`, computed live with PyTorch on the device you pick in "
    "the sidebar. Move a control and the figures follow; the address bar keeps every setting, so "
    "a link reopens the same experiment. Each page can also show the few lines of plain PyTorch "
    "that reproduce it."
)
join_form(top=True)  # a class's teacher: the join card for the projector
for p in PAGES:
    with st.container(border=True):
        st.page_link(p.path, label=p.title, icon=p.icon)
        st.caption(p.summary)
join_form(top=False)  # a student types the class code from the projector
st.caption("For a classroom projector, switch on **Presentation mode** in the sidebar; **Start a class** there lets "
           "the students follow your steps and answer your questions together.")
