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
