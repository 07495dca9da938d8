"""One colour-blind-safe palette for the whole app: the same activation or loss, the same colour."""

# Okabe-Ito (2008) plus Paul Tol's muted scheme, ordered so the first three are well separated. Every colour is
# a line on white, so each has >= 3:1 contrast against white (WCAG 2.1 1.4.11, tests/test_a11y_style.py): the
# orange, sky blue and teal of the published schemes (2.25, 2.31 and 2.82:1) are darkened with their hue kept
# (each RGB channel scaled by one factor), and the vermillion darkened with them so that it stays apart from the
# darker orange for a deuteranope (simulated: Machado et al. 2009, CIELAB distance 15 as against 18 before).
OKABE_ITO = (
    "#0072B2",  # blue 5.19:1
    "#B55000",  # vermillion 5.11:1 (published #D55E00, 3.87:1)
    "#009E73",  # bluish green 3.42:1
    "#CC79A7",  # reddish purple 3.06:1
    "#C28600",  # orange 3.13:1 (published #E69F00, 2.25:1)
    "#4A9AC8",  # sky blue 3.11:1 (published #56B4E9, 2.31:1)
    "#000000",  # black
    "#882255",  # wine
    "#117733",  # green
    "#999933",  # olive 3.02:1
    "#332288",  # indigo
    "#AA4499",  # purple
    "#40A191",  # teal 3.12:1 (published #44AA99, 2.82:1)
)
GREY = "#7F7F7F"  # 4.0:1: a reference line or a bar that is not the answer


def _luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of a #rrggbb colour."""
    def lin(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(int(colour[i:i + 2], 16)) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def for_text(colour: str, ratio: float = 4.5) -> str:
    """`colour` for text on white (a label written in its line's colour): darkened, hue kept (every channel scaled
    by one factor), just enough for `ratio`:1 contrast (WCAG 2.1 1.4.3 asks 4.5:1 of text, 3:1 of a line).
    A colour that already has it comes back as it is."""
    if len(colour) == 4:  # #rgb
        colour = "#" + "".join(ch * 2 for ch in colour[1:])
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    for step in range(101):
        shade = "#%02X%02X%02X" % tuple(round(v * (1 - step / 100)) for v in rgb)
        if 1.05 / (_luminance(shade) + 0.05) >= ratio:
            return shade if step else colour
    return "#000000"
