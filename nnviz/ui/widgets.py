"""Widgets built from core control specs, bound to the URL, with a visible notice for a bad link.

Before each widget is created we read the raw URL value and parse it with the same spec that sets
the widget's bounds. A value the spec rejects is removed from the URL before Streamlit sees it
(Streamlit 1.67 seeds an integer number_input with int(float(value)), which raises OverflowError
for `Infinity` or `1e309`, and drops other bad values silently); either way the page says so, with
the link's text echoed inertly (nnviz.text.inert: never as markdown).
"""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from nnviz.controls import BadValue, BoolSpec, ChoiceSpec, FloatSpec, IntSpec, MultiChoiceSpec, NumberListSpec
from nnviz.text import inert

from .frame import SET_BY_LESSON, notice, own


def _raw(key: str, spec: Any) -> list[str] | None:
    """The link's raw value for `key`; one the spec rejects is reported and removed from the URL, so
    the widget starts from its default (and Streamlit never parses it)."""
    own(key, spec)
    if key not in st.query_params:
        return None
    if key in st.session_state.get(SET_BY_LESSON, ()):  # a tour or question button just set this widget:
        st.session_state[SET_BY_LESSON].discard(key)  # the URL still holds the value it replaced
        return None
    raw = st.query_params.get_all(key)
    try:
        spec.parse(raw)
    except BadValue as e:
        keep = spec.usable(raw) if isinstance(spec, MultiChoiceSpec) else []
        _forget(key, keep)
        default = spec.text(spec.default) or "none" if isinstance(spec, NumberListSpec) else _fmt(spec.default)
        notice(f"The link's {_shown(key, raw)} could not be used ({e}); using "
               + (_fmt(keep) if keep else f"the default, {default}") + ".")
        return keep or None
    return raw


def _forget(key: str, keep: list[str]) -> None:
    """Replace `key`'s value by `keep` (nothing: remove it) in the URL and in the snapshot of the link
    that Streamlit seeds widgets from.

    Streamlit 1.67 seeds a bound widget from the query string as the session first saw it
    (QueryParams._initial_query_params), not from st.query_params, so deleting the key from
    st.query_params alone does not stop `int("Infinity")` from raising inside number_input. There is
    no public API for this; tests/test_fuzz_urls.py (the pinned overflow links) fails if a Streamlit
    upgrade changes it."""
    if keep:
        st.query_params[key] = keep
    else:
        del st.query_params[key]
    seed_from(key, keep)


def seed_from(key: str, keep: list[str] | None) -> None:
    """Set the value (None: nothing) a widget keyed `key` that is drawn for the first time seeds itself
    from: Streamlit's snapshot of the link as the session first saw it (no public API; see _forget)."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None:
        with ctx.session_state.query_params() as qp:
            initial = getattr(qp, "_initial_query_params", {})
            if keep:
                initial[key] = list(keep)
            else:
                initial.pop(key, None)


def _shown(key: str, raw: list[str]) -> str:
    return inert("&".join(f"{key}={r}" for r in raw) or f"{key}=")


def _check(key: str, spec: Any, raw: list[str] | None, value: Any, same: Callable[[Any, Any], bool]) -> None:
    """A value the spec accepted but the widget did not take as written (rounded to its step)."""
    if raw is not None and not same(spec.parse(raw), value):
        notice(f"The link's {_shown(key, raw)} could not be used as written; using {_fmt(value)}.")


def _fmt(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def slider(spec: FloatSpec | IntSpec, key: str, where: Any = st, **kwargs: Any) -> Any:
    raw = _raw(key, spec)
    value = where.slider(spec.label, spec.min, spec.max, spec.default, spec.step, key=key,
                         help=spec.help or None, bind="query-params", **kwargs)
    _check(key, spec, raw, value, lambda a, b: a == b)
    return value


def select(spec: ChoiceSpec, key: str, where: Any = st, **kwargs: Any) -> str:
    raw = _raw(key, spec)
    value = where.selectbox(spec.label, spec.choices, index=spec.choices.index(spec.default), key=key,
                            help=spec.help or None, bind="query-params", **kwargs)
    _check(key, spec, raw, value, lambda a, b: a == b)
    return value


def _sent(key: str, spec: MultiChoiceSpec) -> bool:
    """A selection sent over the websocket that the spec refuses - a choice repeated, an unknown entry, more
    than max_selections: no browser sends one, a hand-made client may (5,000 repeats of one loss took 28.5 s
    of one rerun, issue 22) - is replaced by what can be kept of it (else the default), with a notice, before
    the widget or the page reads it. Streamlit 1.67 keeps a multiselect's sent value in st.session_state as
    the option strings, unknown ones and repeats as sent, and raises for more than max_selections."""
    value = st.session_state.get(key)
    if not isinstance(value, list):
        return False
    try:
        why = "a choice is repeated" if spec.parse(value) != value else None
    except BadValue as e:
        why = str(e)
    if why is None:
        return False
    keep = spec.usable(value) or list(spec.default)
    st.session_state[key] = keep
    notice(f"{spec.label}: the selection sent ({len(value)} entries) could not be used ({why}); using "
           f"{inert(_fmt(keep))}.")
    return True


def multiselect(spec: MultiChoiceSpec, key: str, where: Any = st, **kwargs: Any) -> list[str]:
    raw = _raw(key, spec)
    if _sent(key, spec):
        raw = None  # the notice said what is used; the link's old value is replaced with it
    value = where.multiselect(spec.label, spec.choices, default=list(spec.default), key=key,
                              max_selections=spec.max_selections, help=spec.help or None,
                              bind="query-params", **kwargs)
    _check(key, spec, raw, value, lambda a, b: list(a) == list(b))
    return value


def toggle(spec: BoolSpec, key: str, where: Any = st, **kwargs: Any) -> bool:
    raw = _raw(key, spec)
    value = where.toggle(spec.label, value=spec.default, key=key, help=spec.help or None,
                         bind="query-params", **kwargs)
    _check(key, spec, raw, value, lambda a, b: a == b)
    return value


def number(spec: FloatSpec | IntSpec, key: str, where: Any = st, fmt: str | None = None, **kwargs: Any) -> Any:
    """A number box (for values that span decades, like a learning rate)."""
    raw = _raw(key, spec)
    value = where.number_input(spec.label, spec.min, spec.max, spec.default, spec.step, format=fmt, key=key,
                               help=spec.help or None, bind="query-params", **kwargs)
    _check(key, spec, raw, value, lambda a, b: a == b)
    return value


def numbers(spec: NumberListSpec, key: str, where: Any = st, **kwargs: Any) -> tuple:
    """A short list of numbers typed in one text box ("2, 1, 0.1"). A link may give them repeated
    (`?k=2&k=1&k=0.1`) or comma-separated; either way the URL then holds the box's one text. Text
    the spec rejects, typed or linked, gets a notice and the default list. The box takes spec.max_chars: a
    browser cannot type more, Streamlit 1.67 cuts a longer value sent over the websocket to that length, and
    the spec refuses a longer link before splitting it."""
    raw = _raw(key, spec)
    if raw is not None and len(raw) > 1:  # repeated values: the box holds them as one text
        _forget(key, [spec.text(spec.parse(raw))])
    value = where.text_input(spec.label, spec.text(spec.default), key=key, help=spec.help or None,
                             max_chars=spec.max_chars, bind="query-params", **kwargs)
    try:
        return spec.parse([value])
    except BadValue as e:
        notice(f"{spec.label}: {inert(value)} could not be used ({e}); using {spec.text(spec.default) or 'none'}.")
        return spec.default


def tabs(spec: ChoiceSpec, key: str, opens: str | None = None, where: Any = st) -> list:
    """Tabs bound to the URL (`?key=<label>`): only the open tab's content needs computing (each tab's
    `.open`); a link names the tab a page opens on. `opens`: the tab to open when the link names none,
    written into the link (a default that changed between reruns would reset the tabs)."""
    raw = _raw(key, spec)
    if raw is None and key not in st.query_params and opens is not None and opens != spec.default:
        _forget(key, [opens])
    return where.tabs(list(spec.choices), default=spec.default, key=key, bind="query-params")
