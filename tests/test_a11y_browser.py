"""Issue 21 (WCAG 2.1 AA) in a real browser: axe-core 4 on every page and state, and a keyboard-only walk.

axe-core comes from the npm registry (scripts/test.sh installs it into .cache/axe; NNVIZ_AXE may name another
axe.min.js). It runs with the wcag2a, wcag2aa, wcag21a and wcag21aa rules on every page at 1440x900 (as it opens,
with "Predict first" open, with a question open, and with its verdict) and in presentation mode at 1024x768 (as it
opens, and at a tour step with its question open), each time after scrolling the page through. axe leaves the text
inside plotly's charts undecided, so the same contrast rule is applied to it here. Any violation the app's own
content causes fails; STREAMLIT_OWN lists, with the reason, those that only Streamlit's own widgets cause.

The keyboard walk presses keys only (no clicks): from a page's top it opens a question, types a guess and
commits it in at most 10 key presses; starts a tour and steps it with Next; presses Train and then Stop in the
regression page's slow motion. Every element the walk focuses must show that it has the focus: its edge looks
different focused and unfocused. One server for the module, two page loads per page for axe."""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image  # Pillow comes with Streamlit

from browser import ROOT, SHOTS, skip_or_fail
from nnviz import lessons as Ls
from nnviz.ui.catalog import PAGES

AXE = Path(os.environ.get("NNVIZ_AXE") or ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
NORMAL, PROJECTOR = (1440, 900), (1024, 768)
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
NAMES = [p.path.removeprefix("pages/").removesuffix(".py") for p in PAGES]

# Violations that only Streamlit's own widgets cause, out of the app's reach: (rule id, a regex the node's selector
# or HTML matches, why). Anything else fails. Empty: with axe-core 4.14.1 on Streamlit 1.67 every violation found
# on these pages and states was the app's to fix (the captions' and the sidebar's grey, through CSS).
STREAMLIT_OWN: list[tuple[str, str, str]] = []

# axe.run on the whole document; each violation node as (rule, impact, selector, html, summary)
_RUN = """async (tags) => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return r.violations.flatMap(v => v.nodes.map(n => ({rule: v.id, impact: v.impact, target: n.target.join(' '),
    html: n.html.slice(0, 200), summary: (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 300)})));
}"""
# scroll the main area through, a screen at a time (what draws only when seen gets drawn), then back to the top
_SCROLL = """async () => {
  const m = document.querySelector("[data-testid='stMain']");
  for (let y = 0; y < m.scrollHeight; y += m.clientHeight * 0.8) {
    m.scrollTo(0, y); await new Promise(r => setTimeout(r, 120));
  }
  m.scrollTo(0, 0); await new Promise(r => setTimeout(r, 120));
}"""
_FOCUSED = """() => { const e = document.activeElement;
  if (!e || e === document.body) return null;
  const t = e.closest('[data-testid]'), k = [...(e.closest('[class*="st-key-"]')?.classList || [])]
    .find(c => c.startsWith('st-key-'));
  return {tag: e.tagName.toLowerCase(), testid: t ? t.getAttribute('data-testid') : '', key: k || '',
          text: (e.innerText || e.getAttribute('aria-label') || '').replace(/\\s+/g, ' ').trim().slice(0, 60)}; }"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        skip_or_fail(f"axe-core is not installed at {AXE} (scripts/test.sh installs it from the npm registry: "
                     "npm install --prefix .cache/axe axe-core@4)")
    return AXE.read_text()


def _idle(page) -> None:
    """The script run is over (twice, 300 ms apart: a rerun can start right after). Not browser.wait_idle: a tour
    step on a projector hides the page's title, which it waits for."""
    page.wait_for_selector("[data-testid='stMain'] [data-testid='stVerticalBlock']", state="attached",
                           timeout=60_000)
    for _ in range(2):
        page.wait_for_timeout(300)
        page.wait_for_selector(IDLE, timeout=60_000)


def _open(browser, url: str, size: tuple[int, int]):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    _idle(page)
    page.wait_for_timeout(500)  # plotly's layout pass
    return page, errors


def _own(v: dict) -> str | None:
    """Why a violation is Streamlit's own (STREAMLIT_OWN), or None: the app's."""
    for rule, pattern, why in STREAMLIT_OWN:
        if v["rule"] == rule and (re.search(pattern, v["target"]) or re.search(pattern, v["html"])):
            return why
    return None


def _axe(page, source: str, where: str, found: list) -> None:
    """Scroll the page through, run axe-core, and add its violations (with `where`) to `found`."""
    page.evaluate(_SCROLL)
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(content=source)
        version = page.evaluate("() => axe.version")
        assert version.startswith("4."), f"axe-core {version}: the test is written for axe-core 4"
    for v in page.evaluate(_RUN, TAGS):
        found.append({"where": where, **v})
    found.extend({"where": where, **v} for v in _chart_text(page))


# axe leaves the text inside plotly's charts "incomplete" (the SVG layers overlap it: bgOverlap), so the charts'
# text is checked here the way axe checks the rest (WCAG 1.4.3): each tick, title, legend and annotation text's
# colour, with its opacity, against the background it is drawn on (its annotation's box, else the chart's paper,
# else the page behind it). Large text (24 px, or 18.66 px bold) needs 3:1, the rest 4.5:1.
_CHART_TEXT = """() => {
  const rgba = (c, a = 1) => { const m = (c || '').match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const v = m[1].split(',').map(Number); return [v[0], v[1], v[2], (v.length > 3 ? v[3] : 1) * a]; };
  const filled = (e) => { if (!e) return null; const cs = getComputedStyle(e);
    const c = rgba(cs.fill, parseFloat(cs.fillOpacity) * parseFloat(cs.opacity)); return c && c[3] > 0 ? c : null; };
  const pageBg = (e) => { for (; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) return c; } return [255, 255, 255, 1]; };
  const out = [];
  document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot").forEach((plot, i) => {
    const paper = filled(plot.querySelector('.main-svg rect.bg')), behind = pageBg(plot);
    plot.querySelectorAll('text').forEach(t => {
      const text = (t.textContent || '').trim(), cs = getComputedStyle(t), r = t.getBoundingClientRect();
      if (!text || r.width === 0 || cs.visibility === 'hidden' || cs.display === 'none') return;
      const note = t.closest('.annotation'), point = t.closest('.point');
      // what is drawn right behind it: its annotation's box, the bar it is written in, else the chart's paper
      const under = (note && filled(note.querySelector('rect.bg')))
        || (point && t.classList.contains('bartext-inside') && filled(point.querySelector('path'))) || paper;
      const fill = rgba(cs.fill); if (!fill) return;
      out.push({chart: i, text: text.slice(0, 40), fill, opacity: parseFloat(cs.fillOpacity) * parseFloat(cs.opacity),
                under, behind, size: parseFloat(cs.fontSize), bold: parseInt(cs.fontWeight) >= 700,
                cls: t.getAttribute('class') || t.parentElement.getAttribute('class') || ''});
    });
  });
  return out;
}"""


def _over(top, bottom) -> np.ndarray:
    """The opaque colour of rgba `top` drawn over opaque `bottom` (0-255)."""
    a = top[3]
    return a * np.asarray(top[:3], dtype=float) + (1 - a) * np.asarray(bottom[:3], dtype=float)


def _luminance(rgb) -> float:
    c = np.asarray(rgb[:3], dtype=float) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2])


def contrast(fg, bg) -> float:
    """WCAG 2.1's contrast ratio of two opaque sRGB colours (0-255)."""
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)



def _chart_text(page) -> list[dict]:
    """The chart texts below the contrast they need, as violations (rule "chart-text-contrast")."""
    bad = {}
    for t in page.evaluate(_CHART_TEXT):
        behind = np.asarray(t["behind"][:3], dtype=float)  # the page under the chart
        bg = behind if t["under"] is None else _over(t["under"], behind)
        fg = _over([*t["fill"][:3], t["fill"][3] * t["opacity"]], bg)  # the colour seen
        need = 3.0 if t["size"] >= 24 or (t["bold"] and t["size"] >= 18.66) else 4.5
        ratio = contrast(fg, bg)
        if ratio < need:
            hexes = ["#%02x%02x%02x" % tuple(int(round(x)) for x in c) for c in (fg, bg)]
            key = (t["chart"], hexes[0], hexes[1])
            bad.setdefault(key, {"rule": "chart-text-contrast", "impact": "serious",
                                 "target": f"chart {t['chart']} text ({t['cls']})", "html": "",
                                 "summary": f"{ratio:.2f}:1, needs {need}:1 ({hexes[0]} on {hexes[1]}, "
                                            f"{t['size']:.0f} px)", "texts": []})["texts"].append(t["text"])
    for v in bad.values():
        v["html"] = ", ".join(v.pop("texts")[:6])
    return list(bad.values())


def _report(found: list) -> list[str]:
    """The app's violations, one line each (Streamlit's own are left out)."""
    return [f"{v['where']}: {v['rule']} ({v['impact']}) at {v['target']}: {v['html'][:120]} -- {v['summary'][:200]}"
            for v in found if _own(v) is None]


def _first_question_step(name: str) -> int:
    return next(i for i, s in enumerate(Ls.TOURS[name], 1) if s.question is not None)


@pytest.mark.parametrize("name", ["home"] + NAMES)
def test_axe_finds_no_violation_the_app_causes(browser, server, axe_source, name):
    """Every page at 1440x900 and in presentation mode at 1024x768, with "Predict first", a question, its verdict
    and a tour step open; the page scrolled through each time."""
    path = "/" if name == "home" else f"/{name}"
    found: list = []
    page, errors = _open(browser, server.url + path, NORMAL)
    _axe(page, axe_source, f"{name} 1440", found)
    if name == "home":  # the harness sees a violation when there is one: grey text on white, 2.3:1
        page.evaluate("""() => { const p = document.createElement('p'); p.id = 'nnviz-axe-probe';
            p.textContent = 'a probe'; p.style.cssText = 'position: fixed; left: 40%; top: 50%; z-index: 1000000; color: #a0a0a0; background: #fff';
            document.body.appendChild(p); }""")
        probe: list = []
        _axe(page, axe_source, "probe", probe)
        assert [v for v in probe if v["rule"] == "color-contrast" and "nnviz-axe-probe" in v["target"]], probe
        page.evaluate("() => document.getElementById('nnviz-axe-probe').remove()")
    else:  # and the chart check sees pale text in a chart: #b0b0b0 on white, 2.1:1
        page.evaluate("""() => { const svg = document.querySelector("[data-testid='stPlotlyChart'] .main-svg");
            const t = document.createElementNS('http://www.w3.org/2000/svg', 'text'); t.id = 'nnviz-chart-probe';
            t.setAttribute('x', '60'); t.setAttribute('y', '60'); t.textContent = 'a chart probe';
            t.style.cssText = 'fill: #b0b0b0; font-size: 14px'; svg.appendChild(t); }""")
        assert [v for v in _chart_text(page) if "a chart probe" in v["html"]], "the chart check missed pale text"
        page.evaluate("() => document.getElementById('nnviz-chart-probe').remove()")
        page.locator("[class*='st-key-ask_list'] summary").first.click()
        page.wait_for_timeout(400)
        _axe(page, axe_source, f"{name} 1440, Predict first open", found)
        q = Ls.for_page(name)[0]
        page.locator(f".st-key-ask_{q.id} button").click()
        _idle(page)
        page.wait_for_selector(".st-key-question_panel", timeout=60_000)
        _axe(page, axe_source, f"{name} 1440, question {q.id} open", found)
        form = page.locator(".st-key-question_panel")
        if q.kind == "choice":
            form.locator("[role='radiogroup'] label").first.click()
        else:
            form.locator("input").fill("1")
        form.locator("[data-testid='stFormSubmitButton'] button").click()
        _idle(page)
        page.wait_for_selector(".st-key-question_panel [data-testid='stAlert']", timeout=60_000)
        _axe(page, axe_source, f"{name} 1440, question {q.id} answered", found)
    page.close()
    page, more = _open(browser, server.url + path + "?present=true", PROJECTOR)
    errors += more
    _axe(page, axe_source, f"{name} presentation 1024", found)
    page.close()
    if name != "home":
        step = _first_question_step(name)
        page, more = _open(browser, f"{server.url}{path}?present=true&tour={step}", PROJECTOR)
        errors += more
        page.wait_for_selector(".st-key-tour_panel", timeout=60_000)
        _axe(page, axe_source, f"{name} presentation 1024, tour step {step} with its question", found)
        page.close()
    assert not errors, errors
    own = sorted({f"{v['rule']}: {_own(v)}" for v in found if _own(v) is not None})
    print(f"{name}: {len(found)} violation nodes, Streamlit's own: {own}")
    app = _report(found)
    assert not app, f"{len(app)} violations the app causes:\n" + "\n".join(app)


def test_contrast_is_wcag_s_ratio():
    """The formula the chart check uses, against the issue's numbers (axe-core measured them) and WCAG's ends."""
    white = (255, 255, 255)
    for colour, ratio in [((0x82, 0x81, 0x80), 3.88),  # st.caption's grey
                          ((0x80, 0x84, 0x95), 3.72),  # Streamlit's chart theme text
                          ((0xE6, 0x9F, 0x00), 2.25),  # the palette's orange
                          ((0x56, 0xB4, 0xE9), 2.31)]:  # the palette's sky blue
        assert abs(contrast(colour, white) - ratio) < 0.01, (colour, contrast(colour, white), ratio)
    assert contrast((0, 0, 0), white) == pytest.approx(21.0) and contrast(white, white) == 1.0


# --- the keyboard walk --------------------------------------------------------------------------------------

class Keys:
    """Presses keys on a page, counts them, and checks that every element a key focuses shows its focus."""

    def __init__(self, page, tag: str) -> None:
        self.page, self.tag, self.count, self.unseen, self.seen = page, tag, 0, [], []

    def press(self, key: str, rerun: bool = False) -> dict | None:
        self.page.keyboard.press(key)
        self.count += 1
        if rerun:
            _idle(self.page)
            self.page.wait_for_timeout(700)  # the focus scripts wait for the run's end (nnviz.ui.lesson)
        focused = self.page.evaluate(_FOCUSED)
        if focused is not None:
            self._visible(focused)
        return focused

    def to(self, want, limit: int = 40) -> dict:
        """Tab until `want(focused)` holds (a skip link first is taken with Enter)."""
        for _ in range(limit):
            focused = self.press("Tab")
            if focused and "skip to main" in focused["text"].lower() and self.count == 1:
                focused = self.press("Enter")
            if focused and want(focused):
                return focused
        raise AssertionError(f"{self.tag}: not reached in {limit} Tab presses; the last focus: {focused}")

    def _visible(self, focused: dict) -> None:
        """The focused element's edge looks different from the same element's unfocused (an outline, a ring, a
        border): pixels that change within RING px of its box, inside or out. A change deep inside a large
        element (a chart redrawn under a focused region) does not count."""
        page = self.page
        box = page.evaluate("""() => { const r = document.activeElement.getBoundingClientRect();
            return {x: r.x, y: r.y, width: r.width, height: r.height}; }""")
        vw, vh = page.viewport_size["width"], page.viewport_size["height"]
        x0, y0 = max(int(box["x"]) - RING, 0), max(int(box["y"]) - RING, 0)
        x1, y1 = min(int(box["x"] + box["width"]) + RING, vw), min(int(box["y"] + box["height"]) + RING, vh)
        if box["width"] == 0 or box["height"] == 0 or x1 <= x0 or y1 <= y0:
            self.unseen.append({**focused, "why": "no size, or off screen"})
            return
        clip = {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}
        page.wait_for_timeout(200)  # a focus ring's transition
        on = page.screenshot(clip=clip, animations="disabled")
        page.evaluate("() => { window.__nnvizFocused = document.activeElement; document.activeElement.blur(); }")
        page.wait_for_timeout(200)
        off = page.screenshot(clip=clip, animations="disabled")
        page.evaluate("() => window.__nnvizFocused.focus()")
        a, b = _pixels(on), _pixels(off)
        h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
        changed = np.abs(a[:h, :w].astype(int) - b[:h, :w].astype(int)).max(axis=2) > 24  # (h, w)
        ys, xs = np.mgrid[0:h, 0:w]  # page px, relative to the clip
        left, top = box["x"] - x0, box["y"] - y0
        right, bottom = left + box["width"], top + box["height"]
        near_edge = ~((xs > left + RING) & (xs < right - RING) & (ys > top + RING) & (ys < bottom - RING))
        ring = int((changed & near_edge).sum())
        self.seen.append({**focused, "ring px": ring})
        if ring < MIN_RING:
            SHOTS.mkdir(parents=True, exist_ok=True)
            (SHOTS / f"focus-unseen-{self.tag}-{len(self.unseen)}.png").write_bytes(on)
            self.unseen.append({**focused, "why": f"{ring} px change at its edge focused vs unfocused"})


RING = 6  # px from an element's edge, inside or out, where its focus indicator is looked for
MIN_RING = 40  # px that must change there: a 1 px line along one short side of a small button, at least


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))  # (h, w, 3)


def _keyed(key: str):
    return lambda f: f["key"] == f"st-key-{key}"


@pytest.mark.parametrize("size", [NORMAL, PROJECTOR], ids=["1440", "presentation-1024"])
def test_keyboard_opens_a_question_and_commits_a_guess_in_ten_keys(browser, server, size):
    name = "activations"
    q = next(q for q in Ls.for_page(name) if q.kind == "number")  # a one-key guess: "1"
    present = "?present=true" if size == PROJECTOR else ""
    page, errors = _open(browser, f"{server.url}/{name}{present}", size)
    keys = Keys(page, f"question-{size[0]}")
    keys.to(lambda f: f["tag"] == "summary" and "Predict first" in f["text"])
    keys.press("Enter")  # the list opens in place: the questions are the next Tab stops
    keys.to(_keyed(f"ask_{q.id}"))
    focused = keys.press("Enter", rerun=True)
    assert focused and focused["tag"] == "input" and focused["testid"].startswith("stTextInput"), (
        "the guess box does not have the focus when the question opens", focused)
    keys.press("1")
    focused = keys.press("Enter", rerun=True)
    alert = page.locator(".st-key-question_panel [data-testid='stAlert']")
    assert alert.count() == 1 and "Your guess, 1," in alert.inner_text(), "no verdict after the commit"
    assert focused and focused["testid"] in ("stAlertContainer", "stAlert"), ("the verdict has no focus", focused)
    print(f"{size}: question opened, guess typed and committed in {keys.count} key presses; focused: {keys.seen}")
    assert keys.count <= 10, f"{keys.count} key presses from the page's top to a committed guess"
    assert not keys.unseen, f"focused without a visible indicator: {keys.unseen}"
    assert not errors, errors
    page.close()


def test_keyboard_steps_a_tour_with_next(browser, server):
    name = "vanishing"
    page, errors = _open(browser, f"{server.url}/{name}", NORMAL)
    keys = Keys(page, "tour")
    keys.to(_keyed("tour_start"))
    focused = keys.press("Enter", rerun=True)
    assert "tour=1" in page.url and page.locator(".st-key-tour_panel").count() == 1
    assert focused and focused["key"] == "st-key-tour_next", ("Next does not have the focus on step 1", focused)
    start = keys.count
    focused = keys.press("Enter", rerun=True)
    assert "tour=2" in page.url, page.url
    assert f"2/{len(Ls.TOURS[name])}" in page.locator(".st-key-tour_panel").inner_text()
    if Ls.TOURS[name][1].question is not None:  # a question step: its guess box takes the focus
        assert focused and focused["tag"] == "input", focused
    print(f"tour: started in {start} key presses, stepped with Next in {keys.count - start}")
    assert not keys.unseen, f"focused without a visible indicator: {keys.unseen}"
    assert not errors, errors
    page.close()


def test_keyboard_trains_and_stops_in_slow_motion(browser, server):
    page, errors = _open(browser, f"{server.url}/regression?slow=true&epochs=2000", NORMAL)
    keys = Keys(page, "train")
    keys.to(_keyed("train"))
    to_train = keys.count
    keys.press("Enter")
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='running']", timeout=30_000)
    page.wait_for_timeout(800)
    focused = keys.press("Tab")
    assert focused and focused["key"] == "st-key-stop", ("Stop is not the Tab stop after Train", focused)
    keys.press("Enter")
    page.wait_for_selector("[data-testid='stAlert']:has-text('Stopped after')", timeout=30_000)
    _idle(page)
    done = int(page.locator("[data-testid='stAlert']:has-text('Stopped after')").inner_text()
               .split("Stopped after ")[1].split(" epochs")[0])
    assert 0 < done < 2000
    print(f"regression: Train reached in {to_train} key presses; Train and Stop in {keys.count} in all")
    assert not keys.unseen, f"focused without a visible indicator: {keys.unseen}"
    assert not errors, errors
    page.close()


def test_tour_and_lesson_buttons_have_names_not_icon_words(browser, server):
    """A screen reader announced "arrow_back icon" and "close icon": every button of the lesson bar and the tour
    panel is named by its label alone (Streamlit hides the icon's ligature text from assistive technology)."""
    page, errors = _open(browser, f"{server.url}/vanishing?tour=2", NORMAL)
    page.get_by_role("button", name="More", exact=True).click()
    page.wait_for_timeout(400)
    snapshot = page.locator(".st-key-tour_panel").aria_snapshot() + page.locator(
        "[data-testid='stPopoverBody']").aria_snapshot()
    names = re.findall(r'button "([^"]*)"', snapshot)
    assert {"Back", "Next", "More", "Redo step", "End tour"} <= set(names), names
    icons = ("arrow_back", "arrow_forward", "close", "more_horiz", "restart_alt", "icon")
    assert not [n for n in names if any(i in n for i in icons)], names
    page.close()
