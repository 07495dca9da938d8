"""The core stays free of Streamlit and plotly; control specs parse URL values as documented."""
import subprocess
import sys

import pytest

from conftest import ROOT
from nnviz.controls import BadValue, BoolSpec, ChoiceSpec, FloatSpec, IntSpec, MultiChoiceSpec


def test_core_imports_no_streamlit_or_plotly():
    code = ("import sys, pkgutil, importlib, nnviz\n"
            "core = [m.name for m in pkgutil.iter_modules(nnviz.__path__) if m.name not in ('ui', 'figures')]\n"
            "assert core, 'no core modules found'\n"
            "for name in core: importlib.import_module('nnviz.' + name)\n"
            "leaked = [m for m in ('streamlit', 'plotly') if m in sys.modules]\n"
            "assert not leaked, leaked\n"
            "print(len(core))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 3


def test_float_spec():
    s = FloatSpec("x", -2.0, 3.0, 0.0, 0.5)
    assert s.parse(["2.5"]) == 2.5
    for bad in (["3.5"], ["abc"], ["nan"], ["inf"], [], ["1", "2"]):
        with pytest.raises(BadValue):
            s.parse(bad)


def test_int_spec():
    s = IntSpec("n", 1, 50, 5)
    assert s.parse(["50"]) == 50
    for bad in (["0"], ["51"], ["2.5"], ["x"]):
        with pytest.raises(BadValue):
            s.parse(bad)


def test_choice_specs():
    c = ChoiceSpec("c", ("a", "b"), "a")
    assert c.parse(["b"]) == "b"
    with pytest.raises(BadValue):
        c.parse(["z"])
    m = MultiChoiceSpec("m", ("a", "b", "c"), ("a",))
    assert m.parse(["c", "a", "c"]) == ["c", "a"]
    with pytest.raises(BadValue, match="1 value is not among the choices") as e:
        m.parse(["a", "<z>"])
    assert "<z>" not in str(e.value)  # user text is echoed only by the notice, inertly
    assert m.usable(["z", "c", "a", "c"]) == ["c", "a"]
    capped = MultiChoiceSpec("m", ("a", "b", "c"), ("a",), max_selections=2)
    with pytest.raises(BadValue, match="at most 2"):
        capped.parse(["a", "b", "c"])
    assert capped.usable(["a", "b", "c"]) == ["a", "b"]
    b = BoolSpec("b")
    assert b.parse(["TRUE"]) is True and b.parse(["false"]) is False
    with pytest.raises(BadValue):
        b.parse(["yes"])


def test_devices_lists_cpu_and_falls_back():
    import torch
    from nnviz.devices import available_devices, resolve_device

    ids = [d.id for d in available_devices()]
    assert ids[0] == "cpu"
    assert ("cuda:0" in ids) == torch.cuda.is_available()
    dev, msg = resolve_device("cuda:7")
    if "cuda:7" not in ids:
        assert dev.type == "cpu" and "not available" in msg
    assert resolve_device("cpu") == (torch.device("cpu"), None)


def test_pipfile_pins_match_requirements():
    """The Pipfile (what Community Cloud installs, torch from the CPU index) pins what
    requirements.txt pins (what everyone else installs)."""
    import re
    import tomllib

    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))
    pipfile = tomllib.loads((ROOT / "Pipfile").read_text())["packages"]
    versions = {k: (v["version"] if isinstance(v, dict) else v).removeprefix("==") for k, v in pipfile.items()}
    assert versions == pins
    assert pipfile["torch"]["index"] == "pytorch-cpu"


def test_number_list_spec_reads_repeated_or_comma_separated_values():
    from nnviz.controls import NumberListSpec
    logits = NumberListSpec("Logits", -20, 20, (2.0, 1.0, 0.1), 3, 5)
    assert logits.parse(["2", "1", "0.1"]) == logits.parse(["2, 1,0.1"]) == (2.0, 1.0, 0.1)
    assert logits.text((2.0, 1.0, 0.1)) == "2, 1, 0.1"
    for bad in (["1,2"], ["1,2,3,4,5,6"], ["a,1,2"], ["nan,1,2"], ["inf,1,2"], ["21,1,2"], ["9" * 5000 + ",1,2"]):
        with pytest.raises(BadValue, match="3 to 5 numbers between -20 and 20"):
            logits.parse(bad)
    hidden = NumberListSpec("Hidden", 1, 64, (8,), 0, 4, integer=True)
    assert hidden.parse([""]) == () and hidden.parse(["8", "4"]) == (8, 4)
    for bad in (["2.5"], ["0"], ["65"], ["1,1,1,1,1"], ["9" * 400]):  # 400 digits: int() takes it, float() overflows
        with pytest.raises(BadValue, match="whole numbers"):
            hidden.parse(bad)


# --- url(): the inverse of parse ---------------------------------------------------------------------

def _url_round_trips(spec, value) -> None:
    import math

    raw = spec.url(value)
    assert isinstance(raw, list) and all(isinstance(r, str) for r in raw), (spec.label, value, raw)
    back = spec.parse(raw)
    assert back == value and type(back) is type(value), (spec.label, value, raw, back)
    if isinstance(value, float):
        assert math.copysign(1.0, back) == math.copysign(1.0, value)  # exactly: the sign of a zero too
    if isinstance(value, tuple):
        assert all(type(a) is type(b) and a == b for a, b in zip(back, value)), (spec.label, value, back)


AWKWARD = (0.1, 1 / 3, 1e-4, 2 / 3, 0.1 + 0.2, 1e-7, 5e-324, 1 - 2**-53, 123.456, 2**-30)  # exact round trips only


def _samples(spec) -> list:
    """The default and a few values that each spec type must carry through a URL exactly."""
    from nnviz.controls import NumberListSpec

    if isinstance(spec, FloatSpec):
        inside = [v for x in AWKWARD for v in (x, -x) if spec.min <= v <= spec.max]
        return [spec.default, spec.min, spec.max, spec.min + (spec.max - spec.min) / 3, *inside]
    if isinstance(spec, IntSpec):
        return [spec.default, spec.min, spec.max, (spec.min + spec.max) // 2]
    if isinstance(spec, ChoiceSpec):
        return [spec.default, *spec.choices]
    if isinstance(spec, MultiChoiceSpec):
        cap = spec.max_selections or len(spec.choices)
        return [list(spec.default), [], list(spec.choices[:cap]), list(reversed(spec.choices))[:cap],
                [spec.choices[-1]]]
    if isinstance(spec, BoolSpec):
        return [spec.default, True, False]
    if isinstance(spec, NumberListSpec):
        if spec.integer:
            pool = [int(spec.min), int(spec.max), int(spec.min + spec.max) // 2, int(spec.min) + 1]
        else:
            pool = [float(spec.min), float(spec.max)] + [v for x in AWKWARD for v in (x, -x)
                                                          if spec.min <= v <= spec.max]
        lists = [tuple(spec.default)] + [tuple(pool[i % len(pool)] for i in range(k, 2 * k))
                                         for k in {spec.min_len, spec.max_len} if k]
        if spec.min_len == 0:
            lists.append(())
        return lists
    raise AssertionError(f"no samples for {type(spec).__name__}")


def _core_specs() -> list:
    from nnviz.lessons import PAGE_SPECS

    seen: dict[int, object] = {}
    for specs in PAGE_SPECS.values():
        for spec in specs.values():
            seen.setdefault(id(spec), spec)
    return list(seen.values())


def test_url_is_the_inverse_of_parse_for_every_spec_type():
    from nnviz.controls import NumberListSpec

    specs = [
        FloatSpec("x", -2.0, 3.0, 0.0, 0.5), FloatSpec("lr", 0.0001, 10.0, 0.01, 0.0001),
        FloatSpec("tiny", -1e-300, 1e-300, 0.0, 1e-301),
        IntSpec("n", 1, 50, 5), IntSpec("seed", 0, 9999, 42),
        ChoiceSpec("c", ("a", "b", "Train a classifier"), "a"),
        MultiChoiceSpec("m", ("a", "b", "c"), ("a",)), MultiChoiceSpec("capped", ("a", "b", "c"), ("b",), 2),
        BoolSpec("b"), BoolSpec("on", True),
        NumberListSpec("Logits", -20, 20, (2.0, 1.0, 0.1), 3, 5),
        NumberListSpec("Hidden", 1, 64, (8,), 0, 4, integer=True),
    ]
    for spec in specs:
        for value in _samples(spec):
            _url_round_trips(spec, value)
    logits, hidden = specs[-2], specs[-1]
    for v in [(0.1, 1 / 3, 1e-4), (-20.0, 20.0, 5e-324, -0.0), (0.1 + 0.2, 2 / 3, 1e-7, 19.999999999999996, -1 / 3)]:
        _url_round_trips(logits, v)
    for v in [(), (8,), (8, 4), (1, 64, 2, 3)]:
        _url_round_trips(hidden, v)
    assert hidden.url(()) == [""]  # an empty list is one blank value, what an emptied text box holds
    assert logits.url((2.0, 1.0, 0.1)) == ["2, 1, 0.1"]  # short where short is exact
    for x in (0.1, 1 / 3, 1e-4, -0.0):
        _url_round_trips(specs[0], x)


def test_url_round_trips_every_spec_the_pages_bind():
    from nnviz.controls import NumberListSpec

    specs = _core_specs()
    kinds = {type(s) for s in specs}
    assert {FloatSpec, IntSpec, ChoiceSpec, MultiChoiceSpec, BoolSpec, NumberListSpec} <= kinds, kinds
    for spec in specs:
        for value in _samples(spec):
            _url_round_trips(spec, value)
