"""Control specs: the one definition of every control's bounds, shared by widgets and URL checks.

A spec knows its default, its limits and how to read a raw URL value. A page builds its widget
from the spec and the URL validator parses with the same spec, so the two can never disagree.
The limits double as resource caps for a hosted app.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


class BadValue(ValueError):
    """A raw URL value that a spec cannot accept; the message says what was expected."""


@dataclass(frozen=True)
class FloatSpec:
    label: str
    min: float
    max: float
    default: float
    step: float
    help: str = ""

    def parse(self, raw: Sequence[str]) -> float:
        if len(raw) != 1:
            raise BadValue(f"expected one number between {self.min:g} and {self.max:g}")
        try:
            value = float(raw[0])
        except ValueError:
            raise BadValue(f"expected a number between {self.min:g} and {self.max:g}") from None
        if not math.isfinite(value) or not self.min <= value <= self.max:
            raise BadValue(f"expected a number between {self.min:g} and {self.max:g}")
        return value

    def url(self, value: float) -> list[str]:
        """The raw URL values that parse back to `value` (repr: the shortest text that round-trips)."""
        return [repr(float(value))]


@dataclass(frozen=True)
class IntSpec:
    label: str
    min: int
    max: int
    default: int
    step: int = 1
    help: str = ""

    def parse(self, raw: Sequence[str]) -> int:
        expected = f"expected a whole number from {self.min} to {self.max}"
        if len(raw) != 1:
            raise BadValue(expected)
        try:
            value = int(raw[0])
        except ValueError:
            raise BadValue(expected) from None
        if not self.min <= value <= self.max:
            raise BadValue(expected)
        return value

    def url(self, value: int) -> list[str]:
        return [str(int(value))]


@dataclass(frozen=True)
class ChoiceSpec:
    label: str
    choices: tuple[str, ...]
    default: str
    help: str = ""

    def parse(self, raw: Sequence[str]) -> str:
        if len(raw) != 1 or raw[0] not in self.choices:
            raise BadValue("expected one of " + ", ".join(self.choices))
        return raw[0]

    def url(self, value: str) -> list[str]:
        return [value]


@dataclass(frozen=True)
class MultiChoiceSpec:
    label: str
    choices: tuple[str, ...]
    default: tuple[str, ...]
    max_selections: int | None = None
    help: str = ""

    def parse(self, raw: Sequence[str]) -> list[str]:
        unknown = sum(r not in self.choices for r in raw)
        if unknown:  # the values themselves are not echoed here: the notice shows the link inertly
            raise BadValue(f"{unknown} value{'s are' if unknown > 1 else ' is'} not among the choices: "
                           + ", ".join(self.choices))
        chosen = list(dict.fromkeys(raw))
        if self.max_selections is not None and len(chosen) > self.max_selections:
            raise BadValue(f"at most {self.max_selections} at once")
        return chosen

    def usable(self, raw: Sequence[str]) -> list[str]:
        """What can be kept of a rejected value: the known choices, in order, up to the limit."""
        return [r for r in dict.fromkeys(raw) if r in self.choices][:self.max_selections]

    def url(self, value: Sequence[str]) -> list[str]:
        """One repeated URL value per choice (an empty selection has none)."""
        return list(value)


@dataclass(frozen=True)
class BoolSpec:
    label: str
    default: bool = False
    help: str = ""

    def parse(self, raw: Sequence[str]) -> bool:
        if len(raw) == 1 and raw[0].lower() in ("true", "false"):
            return raw[0].lower() == "true"
        raise BadValue("expected true or false")

    def url(self, value: bool) -> list[str]:
        return ["true" if value else "false"]


@dataclass(frozen=True)
class NumberListSpec:
    """A short list of numbers in the URL: repeated values (`?k=2&k=1`) or one comma-separated
    value (`?k=2,1`, what a text box holds). Each number within [min, max]; integer=True for whole
    numbers (layer widths)."""
    label: str
    min: float
    max: float
    default: tuple[float, ...]
    min_len: int = 1
    max_len: int = 5
    integer: bool = False
    help: str = ""

    def expected(self) -> str:
        kind = "whole numbers" if self.integer else "numbers"
        count = (f"{self.min_len} to {self.max_len}" if self.min_len != self.max_len else f"{self.min_len}")
        return f"expected {count} {kind} between {self.min:g} and {self.max:g}, separated by commas"

    @property
    def max_chars(self) -> int:
        """The longest text the box (and a link) may hold: max_len numbers of the longest legal form, each
        with a separator and room to spare. A float's repr is at most 24 characters ("-1.2345678901234567e-05");
        a whole number needs its digits and a sign. Also the widget's max_chars."""
        width = max(len(str(int(self.min))), len(str(int(self.max)))) + 1 if self.integer else 24
        return max(self.max_len, 1) * (width + 4)

    def split(self, raw: Sequence[str]) -> list[str]:
        """The items of a raw value: repeated values and commas both separate; blanks are dropped
        (an empty text box is an empty list)."""
        return [part.strip() for r in raw for part in r.split(",") if part.strip()]

    def parse(self, raw: Sequence[str]) -> tuple[float, ...] | tuple[int, ...]:
        # the length first, before any splitting: a 21 MB text over the websocket or in a link costs nothing more
        if sum(len(r) + 1 for r in raw) - 1 > self.max_chars:  # the repeated values as one comma-separated text
            raise BadValue(f"{self.expected()}, at most {self.max_chars} characters in all")
        items = self.split(raw)
        if not self.min_len <= len(items) <= self.max_len:
            raise BadValue(self.expected())
        out = []
        for item in items:
            try:
                value = int(item) if self.integer else float(item)
            except ValueError:
                raise BadValue(self.expected()) from None
            if not self.min <= value <= self.max or not math.isfinite(value):  # range first: a huge int
                raise BadValue(self.expected())  # overflows math.isfinite (and nan fails the range)
            out.append(value)
        return tuple(out)

    def text(self, values: Sequence[float]) -> str:
        """The text-box form of a list: "2, 1, 0.1"."""
        return ", ".join(f"{v:g}" for v in values)

    def url(self, values: Sequence[float]) -> list[str]:
        """The list as one comma-separated value, with every digit kept (text() rounds to 6)."""
        return [", ".join(str(int(v)) if self.integer else _exact(float(v)) for v in values)]


def _exact(v: float) -> str:
    """v's short form (2, 0.1) where it reads back exactly, else every digit repr needs."""
    short = f"{v:g}"
    return short if float(short) == v else repr(v)


Spec = FloatSpec | IntSpec | ChoiceSpec | MultiChoiceSpec | BoolSpec | NumberListSpec
