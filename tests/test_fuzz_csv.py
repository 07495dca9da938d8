"""Fuzz the uploader's CSV parser (issue 9): whatever the bytes, nnviz.losses.parse_csv returns valid
data or raises DataError with a message that echoes the file only inside an inert code span, never
another exception. A fixed, derandomised number of examples in CI; set NNVIZ_FUZZ_EXAMPLES for more.
The slowest parse is measured and reported at the end of the module (not asserted: timings vary)."""
from __future__ import annotations

import math
import os
import re
import time

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from nnviz import losses as L

EXAMPLES = int(os.environ.get("NNVIZ_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TIMES: list[tuple[float, str, bool]] = []  # (seconds, what was parsed, accepted) for every input tried


@pytest.fixture(scope="module", autouse=True)
def _report_slowest(request):
    yield
    if TIMES:
        t, what, _ = max(TIMES)
        accepted = sum(ok for *_, ok in TIMES)
        line = (f"test_fuzz_csv: {len(TIMES)} inputs parsed ({accepted} accepted), slowest {1000 * t:.1f} ms ({what}); "
                f"median {1000 * sorted(TIMES)[len(TIMES) // 2][0]:.2f} ms")
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print("\n" + line)


def _outside_code_spans(markdown: str) -> str:
    """The message with its inline code spans taken out (CommonMark: a span opens with a run of n
    backticks and closes at the next run of exactly n backticks)."""
    return re.sub(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", "", markdown, flags=re.S)


def check(raw: bytes, what: str = "") -> L.Data | None:
    """The property every input must have. Returns the data, or None for a clear refusal."""
    t0 = time.perf_counter()
    try:
        d = L.parse_csv(raw)
    except L.DataError as e:
        TIMES.append((time.perf_counter() - t0, what or f"{len(raw)} bytes, refused", False))
        msg = str(e)
        assert msg and len(msg) < 400, msg
        rest = _outside_code_spans(msg)
        # no markdown link, image, HTML tag, autolink or stray code fence from the file outside a span
        for bad in ("](", "![", "<", ">", "`", "http", "\x00", "\r", "\n"):
            assert bad not in rest, (bad, msg)
        for span in re.findall(r"(?<!`)(`+)(?!`)(.*?)(?<!`)\1(?!`)", msg, flags=re.S):
            assert not re.search(r"[\x00-\x1f\x7f]", span[1]), msg  # control characters replaced
        return None
    TIMES.append((time.perf_counter() - t0, what or f"{len(raw)} bytes, accepted", True))
    n = len(d.x)
    assert 3 <= n <= L.MAX_ROWS and len(d.y) == n and len(d.outlier) == n and d.true_line is None
    assert all(isinstance(v, float) and math.isfinite(v) and abs(v) <= L.MAX_ABS for v in d.x + d.y)
    assert max(d.x) > min(d.x)
    return d


# --- Strategies -----------------------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-1e6, max_value=1e6).map(repr),
    st.integers(min_value=-10**400, max_value=10**400).map(str),
    st.sampled_from(["nan", "NaN", "inf", "-Infinity", "1e308", "-1e308", "1e309", "1e-320", "5e-324", "0x10",
                     "1_000", " 7 ", "+3", "-0", "١٢", "1,5", "1.5.2", ".", "-", "e5", ""]),
)
HOSTILE = st.sampled_from([
    "=cmd|' /C calc'!A0", "+SUM(1+1)*cmd|' /C calc'!A0", "@SUM(1)", "-2+3+cmd|' /C notepad'!'A1'",
    "[Log in again](https://evil.example/login)", "![x](https://evil.example/p.png)", "`", "``` x ```",
    "`[a](https://evil.example)`", "<img src=https://evil.example/p.png>", "<script>alert(1)</script>",
    "**bold** _it_ # head", "$\\frac12$", ":material/warning:", "<https://evil.example>", "https://evil.example",
    "\\", "\x00", "\x1b[31m", "\u202e", "\ufeff", "😀", "a\u2028b",
])
TEXT = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc")), max_size=30)
CELL = st.one_of(NUMBERS, NUMBERS, HOSTILE, TEXT)
GOOD_TEXT: set[str] = set()  # cells drawn as good numbers: never half-quoted


def _good(v: float, style: int) -> str:
    text = (repr(v), f"{v:g}", f"{v:.3e}", f" {v!r} ", f"{v:+.2f}")[style]
    GOOD_TEXT.add(text)
    return text


GOOD = st.builds(_good, st.floats(min_value=-1e6, max_value=1e6).filter(lambda v: v == 0 or abs(v) >= 1e-200),
                 st.integers(0, 4))


@st.composite
def csv_files(draw) -> bytes:
    """Rows of 0..4 cells (mostly 2), some quoted, with \\n, \\r\\n, \\r or a mix, an optional header and
    BOM, and the occasional raw byte mangling."""
    if draw(st.booleans()):  # a file that should be accepted: numbers written in many ways, blank lines
        rows = draw(st.lists(st.tuples(GOOD, GOOD).map(list), min_size=3, max_size=60))
        rows = [r for r in rows for r in ([r, []] if draw(st.integers(0, 9)) == 0 else [r])]
    else:
        rows = draw(st.lists(st.lists(CELL, min_size=0, max_size=4), min_size=0, max_size=30))
        rows = [r if draw(st.integers(0, 4)) else r[:2] for r in rows]
    if draw(st.booleans()):
        rows = [[draw(st.floats(-1e6, 1e6)).__repr__(), draw(st.floats(-1e6, 1e6)).__repr__()] for _ in
                range(draw(st.integers(0, 12)))] + rows  # enough good rows that later rows get read
    if draw(st.booleans()):
        rows.insert(0, draw(st.lists(st.one_of(st.sampled_from(["x", "y", "time (s)", '"a,b"']), HOSTILE),
                                     min_size=1, max_size=3)))
    endings = draw(st.sampled_from([["\n"], ["\r\n"], ["\r"], ["\n", "\r\n", "\r"]]))
    out = []
    for r in rows:
        cells = []
        for c in r:
            q = draw(st.integers(0, 5))
            cells.append(f'"{c}"' if q == 0 else (f'"{c}' if q == 1 and c not in GOOD_TEXT else c))  # quoted, half-quoted
        out.append(",".join(cells) + draw(st.sampled_from(endings)))
    text = "".join(out)
    if not draw(st.booleans()):
        text = text.rstrip("\r\n")
    raw = (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # mangle a few bytes: invalid UTF-8, NULs
        raw = bytearray(raw)
        for _ in range(draw(st.integers(1, 3))):
            if raw:
                raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        raw = bytes(raw)
    return raw


# --- Properties ---------------------------------------------------------------------------------------------

@FUZZ
@given(csv_files())
@example(b"1,2\r2,3\r3,5\r")  # old Mac
@example(b"x,y\r\n1,2\n2,3\r3,5")  # mixed
@example(b"\xef\xbb\xbfx,y\n1,2\n2,3\n3,5\n")  # BOM
@example(b"1,2\n2,[Log in](https://evil.example)\n3,4\n")
@example(b"1,2\n2,`[x](https://evil.example)`\n3,4\n")
@example(b"1,2\x00\n2,3\n3,4\n")
@example(b'1,2\n"2\n",3\n3,4\n')
@example(b'1,2\n3,4\n"5,6\n7,8\n')
def test_generated_csv_files(raw):
    check(raw)


@FUZZ
@given(st.binary(max_size=2000))
@example(b"")
@example(b"\x00" * 100)
@example(b"\xff\xfe1\x00,\x002\x00\n\x00")  # UTF-16
def test_binary(raw):
    check(raw)


IN_RANGE = st.floats(-1e6, 1e6).filter(lambda v: v == 0 or abs(v) >= 1e-200)


@FUZZ
@given(st.lists(st.tuples(IN_RANGE, IN_RANGE), min_size=0, max_size=1100),
       st.lists(st.tuples(st.integers(0, 1100), st.tuples(st.floats(), st.floats())), max_size=2),
       st.sampled_from(["\n", "\r\n", "\r"]))
def test_number_pairs(pairs, bad, end):
    for i, pair in bad:  # NaN, inf, 1e308, ... at some places
        pairs.insert(min(i, len(pairs)), pair)
    raw = "".join(f"{a!r},{b!r}{end}" for a, b in pairs).encode()
    d = check(raw)
    if d is not None:  # accepted: exactly the numbers written, nothing dropped or invented
        assert list(zip(d.x, d.y)) == pairs


EDGE = dict([
    ("empty", b""),
    ("headers only", b"x,y\n"),
    ("headers only, \\r", b"x,y\r"),
    ("one column", b"1\n2\n3\n4\n"),
    ("three columns", b"1,2,3\n4,5,6\n7,8,9\n"),
    ("1e308", b"1,1e308\n2,3\n3,4\n"),
    ("10^6 rows", b"1,2\n" * 1_000_000),
    ("10^6 bare line ends", b"\r" * 1_000_000),
    ("10 MB", b"9" * 10_000_000),
    ("10 MB of one quoted field", b'"' + b"a" * 10_000_000),
    ("1000 rows, \\r", "".join(f"{i},{-i}\r" for i in range(1000)).encode()),
    ("1001 rows", "".join(f"{i},{-i}\n" for i in range(1001)).encode()),
    ("49 999 rows just under the size cap", b"1\n" * 49_999),
    ("one 99 kB field", b"1," + b"7" * 99_000 + b"\n2,3\n3,4\n"),
    ("one 99 kB quoted field", b'1,"' + b"[a](http://evil.example)" * 4000 + b'"\n2,3\n3,4\n'),
])


@pytest.mark.parametrize("name", list(EDGE))
def test_edge_files(name):
    d = check(EDGE[name], name)
    if name in ("1000 rows, \\r",):
        assert d is not None and len(d.x) == 1000


# --- The page: a hostile file gives a clear message, never an exception -----------------------------------------

def _upload(at, name, raw):
    at.file_uploader[0].set_value((name, raw, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_shows_hostile_files_inertly(app):
    at = app("pages/losses.py")
    hostile = [
        ("[Log in](https%3A%2F%2Fevil.example).csv", b"x,y\r1,2\r2,`[Log in again](https://evil.example/login)`\r3,4\r"),
        ("![a](https:__evil.example_p.png).csv", b"1,2\n2,<img src=https://evil.example/p.png>\n3,4\n"),
        ("x.csv", b"1,2\r\n\"3\"x,4\n5,6"),
        ("x.csv", b"\xff\xfe\x00"),
        ("x.csv", b"=cmd|' /C calc'!A0,1\n2,3\n4,5\n"),
    ]
    for name, raw in hostile:
        _upload(at, name, raw)
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and errors[0].startswith("That file cannot be used:"), errors
        rest = _outside_code_spans(errors[0])
        assert "](" not in rest and "<" not in rest and "evil" not in rest, errors[0]
        everything = " ".join(m.value for m in [*at.markdown, *at.caption, *at.warning, *at.info])
        assert "evil" not in _outside_code_spans(everything)


def test_page_fits_an_extreme_upload_and_verifies_every_line(app):
    """Issue 9: 1000 rows near ±1e6 with old-Mac line ends: every fit verified, no exception."""
    import numpy as np

    g = np.random.default_rng(9)
    x = g.uniform(-1e6, 1e6, 1000)
    y = np.clip(0.7 * x + g.normal(0, 1e5, 1000), -1e6, 1e6)
    raw = ("x,y\r" + "".join(f"{float(a)!r},{float(b)!r}\r" for a, b in zip(x, y))).encode()
    at = app("pages/losses.py")
    at.multiselect(key="loss").set_value(list(L.LOSSES)).run()
    _upload(at, "big.csv", raw)
    assert not at.error
    notes = [c.value for c in at.caption if c.value.startswith("intercept")]
    assert len(notes) == 4 and all("optimum verified" in c for c in notes), notes
