"""nnviz core: the torch computations behind the teaching app (no Streamlit, no plotly here)."""
