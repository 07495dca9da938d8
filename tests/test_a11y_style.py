"""WCAG 2.1 AA in the app's own style (issue 21): the palette's lines at >= 3:1 on white (1.4.11), every text the
figures draw at >= 4.5:1 with its colour set by the app, not left to Streamlit's faded chart theme (1.4.3), the
captions' and focus outline's colours, the stylesheet every mode sends, and a browser title per page (2.4.2).

Contrast is computed here from WCAG 2.1's own definitions (relative luminance of sRGB, (L1 + 0.05) / (L2 + 0.05)),
written independently of the app. The focus outlines and the closed sidebar's Tab order are checked in a browser by
tests/test_a11y_browser.py."""
from __future__ import annotations

import colorsys
import json
import re

import pytest

from nnviz.palette import GREY, OKABE_ITO

WHITE = (255, 255, 255)
SIDEBAR = (240, 242, 246)  # Streamlit's light secondaryBackgroundColor #f0f2f6 (the sidebar, inline code)
NAMED = {"white": WHITE, "black": (0, 0, 0)}


def rgb(colour: str) -> tuple[tuple[int, int, int], float]:
    """(r, g, b) 0-255 and alpha of a CSS colour as plotly takes it: #rgb, #rrggbb, rgb(), rgba(), white, black."""
    c = colour.strip().lower()
    if c in NAMED:
        return NAMED[c], 1.0
    if c.startswith("#") and len(c) in (4, 7):
        h = c[1:] if len(c) == 7 else "".join(ch * 2 for ch in c[1:])
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)), 1.0
    m = re.fullmatch(r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)", c)
    if m:
        r, g, b = (round(float(v)) for v in m.groups()[:3])
        return (r, g, b), float(m.group(4)) if m.group(4) is not None else 1.0
    raise ValueError(f"colour format this test does not read: {colour!r}")


def over(colour: str, background: tuple[int, int, int] = WHITE) -> tuple[int, int, int]:
    """The colour as seen: alpha-blended over the background."""
    (r, g, b), a = rgb(colour)
    return tuple(round(a * v + (1 - a) * w) for v, w in zip((r, g, b), background))


def luminance(c: tuple[int, int, int]) -> float:
    """WCAG 2.1 relative luminance."""
    def lin(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(v) for v in c)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int] = WHITE) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_the_contrast_formula_against_published_values():
    """The formula against values WCAG's examples and every contrast checker agree on."""
    assert contrast((0, 0, 0)) == pytest.approx(21.0)
    assert contrast(WHITE) == pytest.approx(1.0)
    assert contrast(rgb("#767676")[0]) == pytest.approx(4.54, abs=0.01)  # the lightest grey that passes 4.5:1
    assert contrast(rgb("#777777")[0]) < 4.5
    assert contrast(rgb("#808495")[0]) == pytest.approx(3.72, abs=0.01)  # Streamlit's faded chart text (issue 21)
    assert contrast(rgb("#E69F00")[0]) == pytest.approx(2.25, abs=0.01)  # Okabe-Ito orange (issue 21)
    assert over("rgba(0,0,0,0.5)") == (128, 128, 128)


# ---------------------------------------------------------------------------------------------------- palette

# the published colours the palette darkened (Okabe & Ito 2008; Paul Tol's muted teal)
PUBLISHED = {1: "#D55E00", 4: "#E69F00", 5: "#56B4E9", 12: "#44AA99"}


@pytest.mark.parametrize("i", range(len(OKABE_ITO)))
def test_every_palette_colour_is_a_line_a_reader_can_see_on_white(i):
    """1.4.11: graphical objects (a line, a marker) >= 3:1 against the white plot."""
    assert contrast(rgb(OKABE_ITO[i])[0]) >= 3.0, (i, OKABE_ITO[i], contrast(rgb(OKABE_ITO[i])[0]))


def test_grey_reference_lines_too():
    assert contrast(rgb(GREY)[0]) >= 3.0


def linear(c: tuple[int, int, int]) -> list[float]:
    """sRGB 0-255 to linear light 0-1."""
    return [v / 255 / 12.92 if v / 255 <= 0.04045 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in c]


def lab(lin: list[float]) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of linear sRGB."""
    X = 0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]
    Y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    Z = 0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]
    f = [t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (X / 0.95047, Y, Z / 1.08883)]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


# Machado, Oliveira & Fernandes (2009), severity 1.0: linear sRGB as a dichromat sees it
DICHROMAT = {"deuteranope": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                             (-0.011820, 0.042940, 0.968881)),
             "protanope": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                           (-0.003882, -0.048116, 1.051998))}


def closest_pair(colours, matrix=None) -> float:
    """The smallest CIE76 distance between two of the colours (as a dichromat sees them, given his matrix)."""
    def seen(c):
        lin = linear(rgb(c)[0])
        if matrix is not None:
            lin = [min(max(sum(m * v for m, v in zip(row, lin)), 0.0), 1.0) for row in matrix]
        return lab(lin)
    labs = [seen(c) for c in colours]
    return min(sum((p - q) ** 2 for p, q in zip(labs[i], labs[j])) ** 0.5
               for i in range(len(labs)) for j in range(i))


def test_the_darkened_colours_keep_their_hue_and_the_palette_stays_colour_blind_safe():
    """Darkened, not recoloured: the same hue (within 1 degree) as the published colour, and darker. The palette
    keeps its colours apart (CIE76 distance > 15 for normal vision), and the six the pages draw side by side
    (blue, vermillion, green, purple, orange, sky blue) stay apart for deuteranopes and protanopes too (> 11; a
    darker orange beside the published vermillion would be 4.8 for a deuteranope: the vermillion is darkened too)."""
    for i, published in PUBLISHED.items():
        h0, _, v0 = colorsys.rgb_to_hsv(*(v / 255 for v in rgb(published)[0]))
        h1, _, v1 = colorsys.rgb_to_hsv(*(v / 255 for v in rgb(OKABE_ITO[i])[0]))
        assert abs(h1 - h0) * 360 < 1.0 and v1 < v0, (i, published, OKABE_ITO[i])
        assert contrast(rgb(published)[0]) < contrast(rgb(OKABE_ITO[i])[0])
    assert closest_pair(OKABE_ITO) > 15
    for name, matrix in DICHROMAT.items():
        assert closest_pair(OKABE_ITO[:6], matrix) > 11, name
    assert closest_pair(OKABE_ITO[:6], DICHROMAT["deuteranope"]) < closest_pair(OKABE_ITO[:6])  # the simulation bites
    assert len(set(c.lower() for c in OKABE_ITO)) == len(OKABE_ITO)


@pytest.mark.parametrize("colour", list(OKABE_ITO) + [GREY, "#D55E00", "#E69F00", "#56B4E9", "#999999", "#ccc"])
def test_a_label_in_its_lines_colour_gets_a_shade_dark_enough_for_text(colour):
    """palette.for_text: >= 4.5:1, the same hue, darker but not much more than it needs; a colour that passes as
    it is comes back unchanged."""
    from nnviz.palette import for_text

    shade = for_text(colour)
    c0, c1 = rgb(colour)[0], rgb(shade)[0]
    assert contrast(c1) >= 4.5, (colour, shade)
    if contrast(c0) >= 4.5:
        assert c1 == c0
        return
    h0, s0, v0 = colorsys.rgb_to_hsv(*(v / 255 for v in c0))
    h1, s1, v1 = colorsys.rgb_to_hsv(*(v / 255 for v in c1))
    if s0 > 0.05:
        assert abs(h1 - h0) * 360 < 1.5, (colour, shade)
    assert v1 < v0 and contrast(c1) < 4.5 * 1.1, (colour, shade)  # darker, but not much more than needed


# ------------------------------------------------------------------------------------------ captions and focus

def test_caption_and_focus_colours():
    from nnviz.ui.frame import CAPTION, FOCUS

    for background in (WHITE, SIDEBAR):
        assert contrast(rgb(CAPTION)[0], background) >= 4.5  # text (1.4.3)
        assert contrast(rgb(FOCUS)[0], background) >= 3.0  # a focus indicator (1.4.11, 2.4.7)
    assert contrast(rgb(CAPTION)[0]) < contrast(rgb("#31333F")[0])  # still lighter than body text: secondary


def _sent_styles(at) -> str:
    return "\n".join(h.proto.body for h in at.get("html") if "<style>" in h.proto.body)


@pytest.mark.parametrize("query", [{}, {"present": "true"}], ids=["normal", "presentation"])
def test_every_mode_sends_the_caption_focus_and_sidebar_rules(app, query):
    """The rules are in a stylesheet every run sends, in the normal view as in presentation mode (the phone view
    is the normal view's stylesheet plus a media query)."""
    from nnviz.ui.frame import CAPTION, FOCUS

    css = _sent_styles(app(**query))
    caption_rule = re.search(r'\[data-testid="stCaptionContainer"\][^{]*\{[^}]*\}', css).group(0)
    assert f"color: {CAPTION}" in caption_rule
    for selector in ('[data-testid="stTopNavLink"]:focus-visible', '[data-testid="stPageLink-NavLink"]:focus-visible',
                     '[data-testid="stApp"] button:focus-visible', '[data-testid="stApp"] summary:focus-visible',
                     '[data-testid="stCheckbox"] label:has(input:focus-visible)',
                     '[data-testid="stDataFrame"]:has(canvas:focus-visible)'):
        assert selector in css, selector
    assert f"outline: 3px solid {FOCUS}" in css
    assert re.search(r'\[data-testid="stSidebar"\]\[data-collapsed="true"\][^{]*\{\s*visibility: hidden', css)
    assert "scroll-padding-top" in css and "scroll-margin-top" in css
    if query:  # presentation mode's darker captions come after the shared rule, so they win
        assert css.index("color: #262626") > css.index(caption_rule)


# ------------------------------------------------------------------------------------------------ chart text

PAGES = ["pages/activations.py", "pages/losses.py", "pages/vanishing.py", "pages/regression.py", "pages/logits.py",
         "pages/deep.py"]
SCALED = ("heatmap", "contour", "histogram2d", "histogram2dcontour", "surface")


def chart_text_problems(spec: dict) -> list[str]:
    """Every text colour of a plotly figure (its JSON) that is left unset (Streamlit's theme would fill it with
    #808495) or under 4.5:1 where it is drawn."""
    lay, bad = spec.get("layout", {}), []

    def need(where: str, font: dict | None, background=WHITE) -> None:
        colour = (font or {}).get("color")
        if colour is None:
            bad.append(f"{where}: no colour set")
        elif not isinstance(colour, str):
            bad.append(f"{where}: a colour per point {colour!r}")
        elif contrast(over(colour, background), background) < 4.5:
            bad.append(f"{where}: {colour} is {contrast(over(colour, background), background):.2f}:1")

    need("font", lay.get("font"))
    need("legend", lay.get("legend", {}).get("font"))
    need("hover label", lay.get("hoverlabel", {}).get("font"))
    for key, ax in lay.items():
        if re.fullmatch(r"[xy]axis\d*", key):
            need(f"{key} ticks", ax.get("tickfont"))
            need(f"{key} title", ax.get("title", {}).get("font"))
        if re.fullmatch(r"coloraxis\d*", key):
            bar = ax.get("colorbar", {})
            need(f"{key} colour bar ticks", bar.get("tickfont"))
            need(f"{key} colour bar title", bar.get("title", {}).get("font"))
    for i, t in enumerate(spec.get("data", [])):
        if t.get("type") in SCALED and t.get("showscale") is not False and not t.get("coloraxis"):
            need(f"trace {i} colour bar ticks", t.get("colorbar", {}).get("tickfont"))
            need(f"trace {i} colour bar title", t.get("colorbar", {}).get("title", {}).get("font"))
        colour = t.get("textfont", {}).get("color")
        if colour is not None and t.get("textposition") not in ("inside", "auto"):
            need(f"trace {i} ({t.get('name')}) text", t["textfont"])
    for i, a in enumerate(lay.get("annotations", [])):
        if a.get("font", {}).get("color") is not None:  # else the layout's font colour, checked above
            bg = a.get("bgcolor")
            background = over(bg) if bg is not None and rgb(bg)[1] >= 0.75 else WHITE
            need(f"annotation {i} {str(a.get('text'))[:30]!r}", a["font"], background)
    return bad


def test_the_check_catches_an_unset_and_a_pale_colour():
    """The check itself: a figure left to the theme fails, and so does a pale colour; the app's figure passes."""
    import plotly.graph_objects as go

    from nnviz.figures.common import _base

    bare = go.Figure(go.Scatter(x=[0, 1], y=[0, 1])).to_plotly_json()
    assert any("no colour set" in p for p in chart_text_problems(bare))
    inked = _base(go.Figure(go.Heatmap(z=[[0, 1], [1, 0]])), 300)
    assert chart_text_problems(json.loads(inked.to_json())) == []
    inked.add_annotation(text="pale", font=dict(color="#999999"), x=0, y=0)
    assert any("'pale'" in p for p in chart_text_problems(json.loads(inked.to_json())))


@pytest.fixture
def page_titles(monkeypatch):
    """The browser titles each AppTest run sets (its st.set_page_config messages), one list per run, in order:
    the browser shows the last."""
    from streamlit.testing.v1 import local_script_runner

    runs: list[list[str]] = []
    parse = local_script_runner.parse_tree_from_messages

    def recording(messages):
        runs.append([m.page_config_changed.title for m in messages
                     if m.HasField("page_config_changed") and m.page_config_changed.title])
        return parse(messages)

    monkeypatch.setattr(local_script_runner, "parse_tree_from_messages", recording)
    return runs


def test_a_label_in_a_pale_line_colour_is_darkened_and_a_dark_one_kept():
    import plotly.graph_objects as go

    from nnviz.figures.common import _base

    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
    fig.add_annotation(text="pale", font=dict(color="#CC79A7"), x=0, y=0)  # 3.06:1
    fig.add_annotation(text="dark", font=dict(color="#882255"), x=1, y=1)
    colours = [a.font.color for a in _base(fig, 300).layout.annotations]
    assert contrast(rgb(colours[0])[0]) >= 4.5 and colours[0] != "#CC79A7" and colours[1] == "#882255"


@pytest.mark.parametrize("page", PAGES)
def test_every_chart_text_on_every_page_has_its_own_colour_at_4_5_and_the_page_its_own_title(app, page_titles, page):
    """Ticks, axis titles, legend, hover labels, colour bars and annotations of every chart a page draws at its
    defaults, as sent to the browser (the figure cache's JSON included). And 2.4.2: the page's own browser title,
    "Vanishing gradients · nnviz" (nnviz.ui.catalog's heading)."""
    from conftest import figure

    from nnviz.ui.catalog import PAGES as CATALOG

    at = app(page)
    heading = next(e.title for e in CATALOG if e.path == page)
    assert page_titles[-1][-1] == f"{heading} · nnviz", page_titles[-1]
    charts = at.get("plotly_chart")
    assert charts, page
    problems = {i: chart_text_problems(figure(at, i)) for i in range(len(charts))}
    assert not any(problems.values()), {i: p for i, p in problems.items() if p}


def test_reveal_figures_have_their_own_colours_too():
    """The figure a verdict reveals (nnviz.figures.answers), one per question."""
    from nnviz import lessons as Ls
    from nnviz.figures.answers import answer_figure

    problems = {}
    for qid, q in Ls.QUESTIONS.items():
        fig = answer_figure(qid, q.answer())
        if fig is not None and (p := chart_text_problems(json.loads(fig.to_json()))):
            problems[qid] = p
    assert not problems, problems


# ---------------------------------------------------------------------------------------------- page titles

def test_the_home_page_keeps_the_apps_title_and_every_page_title_differs(app, page_titles):
    """The home page's browser title is the app's; the pages' titles (checked page by page above) all differ."""
    from nnviz.ui.catalog import PAGES as CATALOG

    app()
    assert page_titles[-1][-1] == "nnviz: how a neural network computes and learns"
    assert len({f"{e.title} · nnviz" for e in CATALOG}) == len(CATALOG)
    assert any(e.title == "Vanishing gradients" for e in CATALOG)
