"""Turn the model's message references into links: `[m12]` → a link to the 12th message of the thread.

The model is shown short references instead of URLs (cheaper, and it cannot get a URL wrong); the answer's
references become Markdown links here. A reference to a message the model was not shown stays plain text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_GROUP = re.compile(r"\[(\s*m\d+\s*(?:[,;]\s*m\d+\s*)*)\]")
_REF = re.compile(r"m(\d+)")


def link_citations(text: str, links: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        refs = [r.strip() for r in re.split(r"[,;]", match.group(1))]
        if not any(ref in links for ref in refs):
            return match.group(0)
        parts = [f"[msg {ref[1:]}]({links[ref]})" if ref in links else ref for ref in refs]
        return "(" + ", ".join(parts) + ")"

    return _GROUP.sub(replace, text)
