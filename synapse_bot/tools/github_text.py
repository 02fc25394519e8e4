"""How GitHub text appears in the GitHub read tools' results: short, single-line, and never longer than asked.

Issue and PR text is untrusted and unbounded (a body can be 65,536 characters, a title carries Markdown). These
pure helpers cut it to a budget at a word boundary, say that they did, drop what a reader never sees (HTML
comments of issue templates), and keep titles from breaking the Markdown link they sit in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
TITLE_CHARS = 120
GITHUB_REPO = r"([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{0,99}[A-Za-z0-9_-])"  # owner/name, no trailing dot


def excerpt(text: str, limit: int) -> str:
    """`text` on one line, at most `limit` characters (plus a note of what was cut): whitespace collapsed,
    HTML comments dropped, cut at a word boundary."""
    flat = " ".join(_HTML_COMMENT.sub(" ", text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return f"{cut.rstrip()}… _(trimmed; {len(flat):,} characters in all)_"


def link_title(title: str, limit: int = TITLE_CHARS) -> str:
    """A title fit for the text of a Markdown link: one line, no brackets, at most `limit` characters."""
    flat = " ".join(title.split()).replace("[", "(").replace("]", ")")
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def some(names: Sequence[str], limit: int, *, code: bool = False) -> str:
    """The first `limit` names joined with commas, then "+N more"; `code` puts each in backticks."""
    shown = [f"`{n}`" if code else n for n in names[:limit]]
    if len(names) > limit:
        shown.append(f"+{len(names) - limit} more")
    return ", ".join(shown)
