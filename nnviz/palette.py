"""One colour-blind-safe palette for the whole app: the same activation or loss, the same colour."""

# Okabe-Ito (2008) plus Paul Tol's muted scheme, ordered so the first three are well separated.
OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#882255",  # wine
    "#117733",  # green
    "#999933",  # olive
    "#332288",  # indigo
    "#AA4499",  # purple
    "#44AA99",  # teal
)
GREY = "#7F7F7F"
