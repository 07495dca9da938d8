"""User text made inert: a URL value, a file name or a cell shown back to a student, never as markup.

Markdown escaping alone is not enough (GitHub-style autolinks turn an escaped `https\\://…` back into
a link), so user text goes inside an inline code span whose fence is longer than any run of
backticks in it: CommonMark shows a code span's content literally, with no links, images, emphasis,
HTML or maths. Streamlit replaces `:material/name:` icon codes before parsing, so those are broken
with a zero-width space. Control characters become U+FFFD and long text is shortened.
"""
from __future__ import annotations

import re

LIMIT = 40  # characters of user text echoed back (a link value can be 10 kB)


def shorten(text: str, limit: int = LIMIT) -> str:
    """At most `limit` characters, with the number of characters left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def inert(text: str, limit: int = LIMIT) -> str:
    """Markdown that renders `text` (shortened) literally, as inline code."""
    t = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", "\ufffd", shorten(text, limit))
    t = t.replace(":material", ":\u200bmaterial")
    fence = "`" * (max((len(r) for r in re.findall(r"`+", t)), default=0) + 1)
    return f"{fence} {t} {fence}"
