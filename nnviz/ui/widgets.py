"""Widgets built from core control specs, bound to the URL, with a visible notice for a bad link.

Streamlit drops an invalid URL value for a bound widget silently; before each widget is created we
read the raw value, parse it with the same spec that set the widget's bounds, and if the widget did
not take it as written we say so on the page.
"""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from nnviz.controls import BadValue, BoolSpec, ChoiceSpec, FloatSpec, IntSpec, MultiChoiceSpec

from .frame import notice


def _raw(key: str) -> list[str] | None:
    return st.query_params.get_all(key) if key in st.query_params else None


def _check(key: str, spec: Any, raw: list[str] | None, value: Any, same: Callable[[Any, Any], bool]) -> None:
    if raw is None:
        return
    shown = "&".join(f"{key}={r}" for r in raw) or f"{key}="
    try:
        parsed = spec.parse(raw)
    except BadValue as e:
        notice(f"The link's `{shown}` could not be used as written ({e}); using {_fmt(value)}.")
        return
    if not same(parsed, value):
        notice(f"The link's `{shown}` could not be used as written; using {_fmt(value)}.")


def _fmt(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def slider(spec: FloatSpec | IntSpec, key: str, where: Any = st, **kwargs: Any) -> Any:
    raw = _raw(key)
    value = where.slider(spec.label, spec.min, spec.max, spec.default, spec.step, key=key,
                         help=spec.help or None, bind="query-params", **kwargs)
    _check(key, spec, raw, value, lambda a, b: a == b)
    return value


def select(spec: ChoiceSpec, key: str, where: Any = st, **kwargs: Any) -> str:
    raw = _raw(key)
    value = where.selectbox(spec.label, spec.choices, index=spec.choices.index(spec.default), key=key,
                            help=spec.help or None, bind="query-params", **kwargs)
    _check(key, spec, raw, value, lambda a, b: a == b)
    return value


def multiselect(spec: MultiChoiceSpec, key: str, where: Any = st, **kwargs: Any) -> list[str]:
    raw = _raw(key)
    value = where.multiselect(spec.label, spec.choices, default=list(spec.default), key=key,
                              max_selections=spec.max_selections, help=spec.help or None,
                              bind="query-params", **kwargs)
    _check(key, spec, raw, value, lambda a, b: list(a) == list(b))
    return value


def toggle(spec: BoolSpec, key: str, where: Any = st, **kwargs: Any) -> bool:
    raw = _raw(key)
    value = where.toggle(spec.label, value=spec.default, key=key, help=spec.help or None,
                         bind="query-params", **kwargs)
    _check(key, spec, raw, value, lambda a, b: a == b)
    return value


def number(spec: FloatSpec | IntSpec, key: str, where: Any = st, fmt: str | None = None, **kwargs: Any) -> Any:
    """A number box (for values that span decades, like a learning rate)."""
    raw = _raw(key)
    value = where.number_input(spec.label, spec.min, spec.max, spec.default, spec.step, format=fmt, key=key,
                               help=spec.help or None, bind="query-params", **kwargs)
    _check(key, spec, raw, value, lambda a, b: a == b)
    return value
