"""The logits and classification page through AppTest: every number it shows against an
independent computation, the controls, Train and Stop, links and bad values."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from conftest import figure

PAGE = "pages/logits.py"
CLF = "Train a classifier"


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_first_screen_marks_where_float32_fails(app):
    at = app(PAGE)
    m = _metrics(at)
    # the smallest float32 z whose float32 sigmoid is exactly 1: 1/(1+e^-z) rounds to 1 once e^-z < 2^-25
    z = np.float32(16.0)
    while np.float32(1) / (np.float32(1) + np.exp(-z, dtype=np.float32)) != np.float32(1):
        z = np.nextafter(z, np.float32(np.inf), dtype=np.float32)
    assert m["BCELoss: σ(z) = 1, loss 100, gradient 0"] == f"z ≥ {float(z):.4g}"
    # softmax([0, z])[0] = exp(-z) / (1 + exp(-z)) underflows where exp(-z) rounds to 0 in float32
    assert float(m["softmax form: loss inf"].split("≥")[1]) == pytest.approx(-math.log(2 ** -149.5), abs=0.5)
    fig = figure(at, 0)
    names = {t["name"] for t in fig["data"]}
    assert {"BCELoss(sigmoid(z), 0)", "BCEWithLogitsLoss(z, 0)", "CrossEntropyLoss([0, z], 0)"} <= names


def test_classifier_trains_and_reports_from_the_run(app):
    at = app(PAGE, part=CLF)
    assert not at.success
    at.button(key="train_clf").click().run()
    assert not at.exception
    text = " ".join(s.value for s in at.success)
    assert "Trained 300 epochs" in text, text
    m = _metrics(at)
    assert float(m["test accuracy"].rstrip("%")) >= 95
