"""Lines told apart by more than colour: one (dash, marker) pair per palette colour, the same on every page.

Keyed by the colour's index in nnviz.palette.OKABE_ITO (the registries hand out colours by that index), so
sigmoid, L1 and BCEWithLogitsLoss (the palette's first colour) are solid with circles everywhere, and a test
line (the palette's orange) is dashed on every page. Plain dots are left to reference lines (a clean line, a
marked x, a theory), so no data line is dotted.
"""
from __future__ import annotations

from ..palette import OKABE_ITO

DASH_DOT_DOT = "9px,3px,2px,3px,2px,3px"  # a dash and two dots: the sixth pattern
DASHES = ("solid", "longdash", "dashdot", "longdashdot", "dash", DASH_DOT_DOT)
# no diamond and no star: figures keep those for a marked value (a peak, the answer) and an optimum
SYMBOLS = ("circle", "square", "triangle-up", "triangle-down", "cross", "x", "pentagon", "hexagon", "hourglass",
           "bowtie", "triangle-left", "triangle-right", "hexagram")
assert len(SYMBOLS) >= len(OKABE_ITO) and len(set(SYMBOLS)) == len(SYMBOLS)

TRAIN = ("solid", "circle")  # train loss / training points, on every page
TEST = ("dash", "square")  # test loss / test points, on every page


def style(i: int) -> tuple[str, str]:
    """(dash, marker symbol) of the i-th palette colour. Every index has its own pair."""
    return DASHES[i % len(DASHES)], SYMBOLS[i % len(SYMBOLS)]


def index_of(colour: str) -> int:
    """The colour's index in the palette (case-insensitive); a colour from elsewhere gets a stable index of its
    own past the palette's, so it still has a pair of its own."""
    wanted = colour.lower()
    for i, c in enumerate(OKABE_ITO):
        if c.lower() == wanted:
            return i
    return len(OKABE_ITO) + sum(map(ord, wanted)) % len(SYMBOLS)


def style_of(colour: str) -> tuple[str, str]:
    """(dash, marker symbol) of a palette colour: style(index_of(colour))."""
    return style(index_of(colour))
