"""Hostile links through AppTest: Hypothesis fuzzes every URL key every page binds (read from the
control specs the pages register, so a new control is covered without touching this file), the
reported cases are pinned, and a walk through every pair of pages checks each page keeps its own
controls. No exception, and no link, image, HTML or maths from a link in any rendered markdown.

CI runs a fixed, seeded number of examples per page; set NNVIZ_FUZZ_EXAMPLES for a longer run.
"""
from __future__ import annotations

import importlib
import math
import os
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT

from nnviz.controls import BoolSpec, ChoiceSpec, FloatSpec, IntSpec, MultiChoiceSpec
from nnviz.ui.catalog import PAGES

# nnviz.ui re-exports the function `frame`, which shadows the module of the same name
FRAME = importlib.import_module("nnviz.ui.frame")

HOME = "pages/home.py"
SCRIPTS = [HOME] + [p.path for p in PAGES]
EXAMPLES = int(os.environ.get("NNVIZ_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=True,
                # the only function-scoped fixture is conftest's autouse PagesManager patch: the same
                # class patch for every example, so sharing it between examples is what we want
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

HUGE = "9" * 400  # a 400-digit number: int() takes it, float() overflows to inf
TEN_KB = 10_000


def url_path(script: str) -> str:
    """The URL path app.py's navigation gives a script (home is the default page, at /)."""
    return "" if script == HOME else Path(script).stem


# --- Running a URL state ----------------------------------------------------------------------

STATES: list[tuple[float, str, dict]] = []  # (seconds, script, query) of every URL state tried


def run_state(script: str, query: dict, at=None):
    """Open `script` with `query` as its link, in a fresh session (or in `at`'s), and run it once."""
    from streamlit.testing.v1 import AppTest

    start = time.perf_counter()
    if at is None:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.clear()
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page(script)
    at.run()
    STATES.append((time.perf_counter() - start, script, query))
    return at


def _short(query: dict) -> str:
    return repr({k: (v if len(repr(v)) < 80 else repr(v)[:80] + "…") for k, v in query.items()})


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    """Print how many URL states were tried and the slowest (pytest -s, or in the terminal summary)."""
    yield
    if not STATES:
        return
    slow = sorted(STATES, key=lambda s: -s[0])[:3]
    lines = [f"test_fuzz_urls: {len(STATES)} URL states through AppTest, "
             f"{sum(s[0] for s in STATES):.0f} s in all; slowest:"]
    lines += [f"  {s:.2f} s  {script}  {_short(q)}" for s, script, q in slow]
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines), flush=True)


# --- Markup in rendered markdown ----------------------------------------------------------------

def outside_code_spans(md: str) -> str:
    """`md` with its inline code spans removed, by CommonMark's rule: a run of N backticks opens a
    span that only a run of exactly N backticks closes (else the run is literal text). A backslash
    escapes the next character outside a span (the pair is replaced by a placeholder)."""
    out: list[str] = []
    i, n = 0, len(md)
    while i < n:
        c = md[i]
        if c == "\\" and i + 1 < n:
            out.append("\u2400")  # an escaped character is literal text, never markup
            i += 2
            continue
        if c != "`":
            out.append(c)
            i += 1
            continue
        j = i
        while j < n and md[j] == "`":
            j += 1
        width, k, close = j - i, j, None
        while k < n:
            if md[k] != "`":
                k += 1
                continue
            m = k
            while m < n and md[m] == "`":
                m += 1
            if m - k == width:
                close = m
                break
            k = m
        if close is None:
            out.append(md[i:j])  # an unmatched run is literal backticks
            i = j
        else:
            out.append(" ")
            i = close
    return "".join(out)


_MARKUP = [
    ("link or image", re.compile(r"\]\s*[(\[]")),
    ("link reference definition", re.compile(r"^\s{0,3}\[[^\]]+\]:", re.M)),
    ("HTML", re.compile(r"<\s*[A-Za-z/!?]")),
    ("autolink", re.compile(r"(?i)\b(?:https?|ftp|mailto|javascript|data):|\bwww\.")),
    ("e-mail autolink", re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")),
    ("maths", re.compile(r"\$[^$\n]+\$")),
]


def markup(md: str) -> set[str]:
    """The links, images, HTML and maths CommonMark (with GitHub's autolinks and Streamlit's `$`
    maths) would render from `md`, as 'kind: text'. Streamlit swaps `:material/...:` icon codes in
    before parsing, so those count inside code spans too."""
    found = {f"{kind}: {m.group(0)}" for kind, rx in _MARKUP for m in rx.finditer(outside_code_spans(md))}
    found |= {f"icon: {m.group(0)}" for m in re.finditer(r":material/[A-Za-z0-9_]+:", md)}
    return found


# st.latex is typeset by KaTeX, not parsed as markdown: `m<x<M` is a formula, not a tag. What a
# formula could carry out of the page is KaTeX's link, image and HTML commands.
_LATEX_MARKUP = re.compile(r"\\(href|url|includegraphics|html[A-Za-z]*)\b")


def markup_of(kind: str, body: str) -> set[str]:
    """markup(body), or for a LaTeX element the KaTeX commands that make links, images or HTML."""
    if kind == "latex":
        return {f"latex command: {m.group(0)}" for m in _LATEX_MARKUP.finditer(body)}
    return markup(body)


_TEXT_ELEMENTS = ("warning", "error", "info", "success", "toast", "markdown", "caption", "latex",
                  "title", "header", "subheader", "exception")


def rendered_markdown(at) -> list[tuple[str, str]]:
    """(element type, markdown body) of every element that Streamlit renders as markdown."""
    out = []
    for kind in _TEXT_ELEMENTS:
        for el in at.get(kind):
            body = getattr(el, "value", None)
            if isinstance(body, str):
                out.append((kind, body))
    return out


# --- The controls of every page, from their specs --------------------------------------------

def _choices_to_try(spec) -> list:
    """Valid values of a choice control that may reveal controls shown only for them."""
    if isinstance(spec, ChoiceSpec):
        return [c for c in spec.choices if c != spec.default]
    if isinstance(spec, MultiChoiceSpec):
        size = spec.max_selections or len(spec.choices)
        return [list(spec.choices[i:i + size]) for i in range(0, len(spec.choices), size)]
    if isinstance(spec, BoolSpec):
        return ["false" if spec.default else "true"]
    return []


@pytest.fixture(scope="module")
def controls() -> dict[str, dict]:
    """{script: {url key: spec}} for every page, and {script: markup of its own text} (the baseline
    a link must not add to). Each page runs once with no link, then once per value of each choice
    control (a control shown only for some choice, like Huber's delta, registers then), until no new
    control appears."""
    from streamlit.runtime.pages_manager import PagesManager

    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # as conftest's autouse fixture, for this module-scoped one
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    found, own_markup = {}, {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PagesManager, "__init__", init)
        for script in SCRIPTS:
            own_markup[script] = set()
            tried: set[str] = set()
            while True:
                keys = dict(FRAME.CONTROLS.get(url_path(script), {}))
                new = [k for k in keys if k not in tried]
                if tried and not new:
                    break
                # one run per alternative index, every new choice control at its i-th alternative
                options = {k: _choices_to_try(keys[k]) for k in new if k != "device"}
                queries = [{}] if not tried else [
                    {k: v[i] for k, v in options.items() if i < len(v)}
                    for i in range(max(map(len, options.values()), default=0))]
                # the first pass (no link) only registers: keys another test module's AppTest runs
                # left in the process-wide CONTROLS must still get their alternatives tried
                tried |= {"<none>"} if not tried else set(keys)
                for q in queries:
                    at = run_state(script, q)
                    assert not at.exception, (script, q, [e.value for e in at.exception])
                    for kind, body in rendered_markdown(at):
                        own_markup[script] |= markup_of(kind, body)
            found[script] = dict(FRAME.CONTROLS[url_path(script)])
    assert set(found[HOME]) == set(FRAME.FRAME_KEYS)
    return {"specs": found, "own_markup": own_markup}


def test_every_page_registers_its_controls(controls):
    specs = controls["specs"]
    for script in SCRIPTS[1:]:
        assert set(specs[script]) > set(FRAME.FRAME_KEYS), script
    # the controls shown only for some choices were found too
    assert "delta" in specs["pages/losses.py"] and "beta" in specs["pages/losses.py"]
    assert "std" in specs["pages/vanishing.py"]
    assert any("." in k for k in specs["pages/activations.py"])  # the functions' own parameters


def test_markup_checker():
    """The checker itself, on CommonMark's code-span rule."""
    assert not markup("The link's `` noise=`[Log in](https://evil.example/login)` `` could not be used")
    assert markup("The link's ` noise=`[Log in](https://evil.example/login)` ` could not be used")
    assert markup("``` a [x](http://evil.example) ``")  # neither run closes: the link is outside
    assert not markup("``` a `` [x](http://evil.example) ``")  # ``` is literal, `` opens and closes
    assert not markup("``` a `` [x](http://evil.example) ```")
    assert markup("`a` ![i](x.png) `b`") and markup("<img src=x>") and markup("see https://evil.example")
    assert markup("a `` x ` ` ``` <b>") and not markup(r"\[x\]\(y\) \<b>")
    assert markup("$x^2$") and markup("`x` :material/home: `y`") and markup("` :material/home: `")
    assert not markup_of("latex", r"f'(x) = 1 \text{ if } m<x<M") and markup_of("latex", r"\href{http://x}{y}")
    assert not markup("` :\u200bmaterial/home: ` and `$x$` and `<img>`")


# --- Hostile values, from the spec --------------------------------------------------------------

GENERIC = ["", " ", "NaN", "nan", "-nan", "inf", "-inf", "+inf", "Infinity", "-Infinity", "INFINITY", "1e309",
           "-1e999", "1e-400", "-0", "-0.0", "+0", "0x1F", "0b1", "1_000", "1,5", "1.5.5", " 5 ", "+5", "5e",
           "e5", "--5", "\u0661\u0662", "\uff11\uff12", "\u00bd", "None", "null", "undefined", "[]", "{}",
           "true", "false", HUGE, "-" + HUGE, HUGE + ".5", "0." + HUGE, "1" + "0" * 400 + "e-400",
           str(2 ** 63), str(-2 ** 63 - 1), str(2 ** 53 + 1), "9" * 4000]
MARKUP = ["`[Log in again](https://evil.example/login)`", "[x](http://evil.example)",
          "![i](http://evil.example/i.png)", "<img src=http://evil.example/i.png>",
          "<script>alert(1)</script>", "<a href='http://evil.example'>x</a>", "$x^2$", "$$\\int_0^1$$",
          ":material/home:", "``[x](http://evil.example)``", "```", "`` ` ``", "`", "x`",
          "\\`[x](http://evil.example)`", "<http://evil.example>", "https://evil.example/login",
          "www.evil.example", "a@evil.example", "**b** _i_ ~~s~~", "# h\n---", "> q", "| a |\n|---|",
          "[x]: http://evil.example", ":red[x] :material/home:", "\u200b`[x](http://evil.example)`",
          "&lt;img src=x&gt;", "&#96;[x](http://evil.example)&#96;", "\n\n[x](http://evil.example)",
          "x\r\n![i](http://evil.example/i.png)", "`" * 7 + "[x](http://evil.example)" + "`" * 3,
          "a" * 35 + "`[x](http://evil.example)`", "<!-- x -->", "\\", "\\\\`", "~~~\n<img src=x>\n~~~"]
BIG = ["`" * TEN_KB, "a" * TEN_KB, "[x](http://evil.example)" * 420, "\u00e9" * TEN_KB, "\x00" * TEN_KB,
       "`" + "[x](http://evil.example)" * 420 + "`", "<img src=x>" * 910]
UNKNOWN_KEYS = ["zzz", "seed[]", "SEED", "seed ", "page", "embed", "embed_options", "\u00e9\u00e9",
                "`[x](http://evil.example)`", "<img src=x>", "a" * 300, "_nnviz_page", "_nnviz_widget_keys"]

_chars = st.characters(exclude_categories=("Cs",))  # a lone surrogate cannot be percent-encoded
_controls = st.characters(min_codepoint=0, max_codepoint=0x9f) | st.sampled_from("\u2028\u2029\u200b\u202e\ufeff")


def _numbers(spec) -> st.SearchStrategy[str]:
    lo, hi, step, d = spec.min, spec.max, spec.step, spec.default
    near = [lo, hi, d, lo - step, hi + step, lo - 1, hi + 1, lo - 1e6, hi * 10 + 1, d + step / 3,
            d + step / 2, hi - step / 7, -0.0, d * (1 + 1e-12)]
    text = [f"{x:.17g}" for x in near] + [f"{x:e}" for x in near] + [repr(float(x)) for x in near]
    if isinstance(spec, IntSpec):
        text += [str(int(x)) for x in near if math.isfinite(x)]
    # in-range values come from the few above (edges, default, off-step): a new valid combination
    # is a cold computation of the page (seconds on the vanishing page), the rest is hostile
    return st.one_of(
        st.sampled_from(text),
        st.floats(allow_nan=True, allow_infinity=True).map(repr).filter(lambda r: not _inside(spec, r)),
        st.integers(min_value=-10 ** 400, max_value=10 ** 400).map(str).filter(lambda r: not _inside(spec, r)),
    )


def _inside(spec, raw: str) -> bool:
    try:
        return spec.min <= float(raw) <= spec.max
    except (ValueError, OverflowError):
        return False


def _choices(spec) -> st.SearchStrategy[str]:
    names = list(spec.choices)
    mangled = [f(c) for c in names for f in (str.upper, lambda c: c + " ", lambda c: " " + c,
                                              lambda c: c + "\x00", lambda c: c[:-1], lambda c: c + c)]
    return st.sampled_from(names + mangled + [str(i) for i in range(len(names) + 1)])


def _bools() -> st.SearchStrategy[str]:
    return st.sampled_from(["true", "false", "True", "FALSE", "1", "0", "yes", "on", "t", "tru e", "true\x00"])


def _one(spec) -> st.SearchStrategy[str]:
    """One raw value for a control: mostly hostile, sometimes valid (so combinations reach the
    controls and computations behind a valid choice)."""
    if isinstance(spec, (FloatSpec, IntSpec)):
        specific = _numbers(spec)
    elif isinstance(spec, (ChoiceSpec, MultiChoiceSpec)):
        specific = _choices(spec)
    elif isinstance(spec, BoolSpec):
        specific = _bools()
    else:  # a new kind of spec: the generic hostile values still apply
        specific = st.nothing()
    return st.one_of(specific, specific, st.sampled_from(GENERIC), st.sampled_from(MARKUP),
                     st.text(_chars, max_size=60), st.text(_controls, min_size=1, max_size=8),
                     st.sampled_from(BIG))


def _value(spec) -> st.SearchStrategy[str | list[str]]:
    """A key's value: one raw value, or the key repeated (`?k=a&k=b`), empty list included for a
    multi-choice control."""
    if isinstance(spec, MultiChoiceSpec):
        many = st.lists(_one(spec) | st.sampled_from(spec.choices), min_size=0,
                        max_size=(spec.max_selections or len(spec.choices)) + 2)
    else:
        many = st.lists(_one(spec), min_size=2, max_size=4)
    return st.one_of(_one(spec), _one(spec), many)


def url_states(specs: dict) -> st.SearchStrategy[dict]:
    """A link's query: one to five keys of the page (and unknown keys), each with a hostile value."""
    pairs = [st.tuples(st.just(k), _value(spec)) for k, spec in sorted(specs.items())]
    unknown = st.tuples(st.sampled_from(UNKNOWN_KEYS) | st.text(_chars, min_size=1, max_size=12),
                        st.sampled_from(GENERIC + MARKUP) | st.sampled_from(BIG))
    return st.lists(st.one_of(*pairs, unknown), min_size=1, max_size=5).map(dict)


def assert_survives(at, script: str, query: dict, own_markup: set[str]) -> None:
    """No exception, and nothing from the link rendered as markup (the page's own text may have
    maths; the link must not add any link, image, HTML, maths or icon)."""
    assert not at.exception, (script, _short(query), [e.value for e in at.exception])
    for kind, body in rendered_markdown(at):
        added = markup_of(kind, body) - own_markup
        assert not added, (script, _short(query), kind, body[:300], added)
        if kind in ("warning", "error", "info", "success", "toast"):
            assert len(body) < 1500, (script, _short(query), "a notice echoes the link in full", len(body))


@pytest.mark.parametrize("script", SCRIPTS, ids=[url_path(s) or "home" for s in SCRIPTS])
@FUZZ
@given(data=st.data())
def test_hostile_links(controls, script, data):
    query = data.draw(url_states(controls["specs"][script]), label="query")
    at = run_state(script, query)
    assert_survives(at, script, query, controls["own_markup"][script])


# --- The reported cases, pinned -----------------------------------------------------------------

def _warnings(at) -> str:
    return "\n".join(w.value for w in at.warning)


@pytest.mark.parametrize("key,default", [("seed", 42), ("epochs", 1000)])
@pytest.mark.parametrize("raw", ["Infinity", "-Infinity", "1e309", "-1e999", "NaN", HUGE, "-" + HUGE])
def test_regression_number_link_that_overflows(controls, key, default, raw):
    at = run_state("pages/regression.py", {key: raw})
    assert_survives(at, "pages/regression.py", {key: raw}, controls["own_markup"]["pages/regression.py"])
    assert at.number_input(key=key).value == default
    shown = _warnings(at)
    assert f"{key}={raw[:20]}" in shown and "could not be used" in shown
    assert len(shown) < 400  # a 400-digit value is shortened


def test_the_reported_injection_is_inert(controls):
    raw = "`[Log in again](https://evil.example/login)`"  # ?noise=%60%5BLog+in+again%5D%28https...%29%60
    at = run_state("pages/losses.py", {"noise": raw})
    assert_survives(at, "pages/losses.py", {"noise": raw}, controls["own_markup"]["pages/losses.py"])
    shown = _warnings(at)
    assert "Log in again" in shown  # echoed, as text
    assert "Log in again" not in outside_code_spans(shown)
    assert at.slider(key="noise").value == pytest.approx(0.2)


@pytest.mark.parametrize("raw", BIG, ids=[f"10kB-{i}" for i in range(len(BIG))])
def test_a_10kb_value_is_echoed_shortened(controls, raw):
    at = run_state("pages/losses.py", {"noise": raw})
    assert_survives(at, "pages/losses.py", {"noise": raw}, controls["own_markup"]["pages/losses.py"])
    shown = _warnings(at)
    assert "more characters" in shown and len(shown) < 400, shown[:500]


# --- Each page keeps its own controls -------------------------------------------------------------

_WIDGETS = ("slider", "number_input", "selectbox", "multiselect", "toggle")


def widgets(at) -> dict:
    """{key: widget} of every bound control the run shows (main area and sidebar)."""
    return {w.key: w for kind in _WIDGETS for w in at.get(kind) if getattr(w, "key", None)}


def other_value(spec):
    """A valid value that is not the default (what a student's touch leaves behind)."""
    if isinstance(spec, (FloatSpec, IntSpec)):
        v = spec.default + spec.step if spec.default + spec.step <= spec.max else spec.default - spec.step
        return type(spec.default)(round(v, 10)) if isinstance(spec, FloatSpec) else int(v)
    if isinstance(spec, ChoiceSpec):
        return next(c for c in spec.choices if c != spec.default)
    if isinstance(spec, MultiChoiceSpec):
        return list(spec.default[:1]) + [next(c for c in spec.choices if c not in spec.default)]
    if isinstance(spec, BoolSpec):
        return not spec.default
    raise TypeError(spec)


def same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return list(a) == list(b) if isinstance(a, (list, tuple)) else a == b


def default_of(spec):
    return list(spec.default) if isinstance(spec, MultiChoiceSpec) else spec.default


def touch(at, script: str, specs: dict) -> dict:
    """Set every page control the run shows (and those a touch reveals) to a non-default value."""
    touched: dict = {}
    for _ in range(3):  # a touch can reveal more controls (init=normal shows std)
        todo = {k: w for k, w in widgets(at).items() if k in specs and k not in FRAME.FRAME_KEYS and k not in touched}
        if not todo:
            break
        for k, w in todo.items():
            touched[k] = other_value(specs[k])
            w.set_value(touched[k])
        at.run()
        assert not at.exception, (script, touched, [e.value for e in at.exception])
    shown = widgets(at)
    for k, v in touched.items():
        if k in shown:
            assert same(shown[k].value, v), (script, k, shown[k].value, v)
    return touched


def at_defaults(at, script: str, specs: dict, came_from: str) -> None:
    shown = widgets(at)
    page_keys = [k for k in specs if k not in FRAME.FRAME_KEYS and k in shown]
    assert page_keys, script
    wrong = {k: shown[k].value for k in page_keys if not same(shown[k].value, default_of(specs[k]))}
    assert not wrong, f"{came_from} -> {script}: not at this page's defaults: {wrong}"
    assert not at.warning, (came_from, script, _warnings(at))


def _every_pair_once(nodes: list[str]) -> list[str]:
    """A walk through the complete directed graph on `nodes` that takes every edge once (an
    Eulerian circuit, by Hierholzer's algorithm): every ordered pair of pages, one switch each."""
    out = {n: [m for m in nodes if m != n] for n in nodes}
    stack, walk = [nodes[0]], []
    while stack:
        if out[stack[-1]]:
            stack.append(out[stack[-1]].pop())
        else:
            walk.append(stack.pop())
    return walk[::-1]


def test_navigation_between_every_pair_keeps_each_pages_controls(controls):
    """Touch every control of a page, switch to another: the destination shows its own defaults;
    only the frame's settings (presentation mode here) travel. Every ordered pair of pages once."""
    from streamlit.testing.v1 import AppTest

    specs = controls["specs"]
    walk = _every_pair_once(SCRIPTS)
    assert len(walk) == len(SCRIPTS) * (len(SCRIPTS) - 1) + 1
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page(walk[0]).run()
    at.toggle(key="present").set_value(True).run()
    pairs = set()
    for here, there in zip(walk, walk[1:]):
        touch(at, here, specs[here])
        at.switch_page(there).run()
        assert not at.exception, (here, there, [e.value for e in at.exception])
        if there != HOME:
            at_defaults(at, there, specs[there], here)
        assert at.toggle(key="present").value is True, f"{here} -> {there}: presentation mode did not travel"
        pairs.add((here, there))
    assert len(pairs) == len(SCRIPTS) * (len(SCRIPTS) - 1)


def _as_url(value) -> str | list[str]:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return value
    return f"{value:g}" if isinstance(value, float) else str(value)


@pytest.mark.parametrize("in_session", [False, True], ids=["fresh", "in-session"])
@pytest.mark.parametrize("script", SCRIPTS[1:], ids=[url_path(s) for s in SCRIPTS[1:]])
def test_a_deep_link_applies_its_own_values(controls, script, in_session):
    """A link with a page's own values opens with them: in a fresh session, and in one that
    touched another page's controls first (keys are never shared between pages: see
    tests/test_pages.py::test_no_two_pages_bind_the_same_url_key)."""
    specs = {k: s for k, s in controls["specs"][script].items() if k not in FRAME.FRAME_KEYS}
    at = run_state(script, {})
    wanted = {k: other_value(specs[k]) for k in widgets(at) if k in specs}
    query = {k: _as_url(v) for k, v in wanted.items()}
    for fresh in (True,) if not in_session else (False,):
        if fresh:
            at = run_state(script, query)
        else:
            other = next(s for s in SCRIPTS[1:] if s != script)
            at = run_state(other, {})
            touch(at, other, controls["specs"][other])
            at = run_state(script, query, at)
        assert not at.exception and not at.warning, (script, query, _warnings(at))
        shown = widgets(at)
        wrong = {k: (shown[k].value, v) for k, v in wanted.items() if not same(shown[k].value, v)}
        assert not wrong, (script, "fresh session" if fresh else "after another page", wrong)

