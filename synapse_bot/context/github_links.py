"""GitHub issues and pull requests linked in a thread, as the model sees them: which links, and the block that names
each one's title, state and labels. Pure: the reading is the caller's (`dispatch/thread_context.py`).

So "is the fix for this merged?" under a thread that links the PR can be answered from the thread's own context.
Only the latest few distinct links are read (a thread pasting fifty would otherwise cost fifty reads and a prompt
full of titles).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_LINKED = 5
_LINK = re.compile(
    r"https?://github\.com/([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{1,100})/(issues|pull)/(\d{1,9})\b"
)


@dataclass(frozen=True)
class LinkedItem:
    repo: str
    number: int
    title: str = ""
    state: str = ""  # open / closed / merged
    is_pull: bool = False
    labels: list[str] = field(default_factory=list)
    problem: str | None = None  # why it was not read (private, not found, GitHub unreachable)

    def render(self) -> str:
        kind = "PR" if self.is_pull else "issue"
        if self.problem:
            return f"- {self.repo}#{self.number}: not read ({self.problem})"
        labels = f"; labels: {', '.join(self.labels)}" if self.labels else ""
        return f"- {self.repo}#{self.number} ({kind}, {self.state}{labels}): {self.title}"


def github_links(texts: list[str]) -> list[tuple[str, int]]:
    """(owner/name, number) of the issue and PR links in `texts`: the `MAX_LINKED` linked most recently, in the
    order they were first linked."""
    first: dict[tuple[str, int], int] = {}
    last: dict[tuple[str, int], int] = {}
    for index, text in enumerate(texts):
        for match in _LINK.finditer(text):
            key = (f"{match.group(1)}/{match.group(2)}".lower(), int(match.group(4)))
            first.setdefault(key, index)
            last[key] = index
    latest = sorted(last, key=lambda key: last[key])[-MAX_LINKED:]
    return sorted(latest, key=lambda key: first[key])


def linked_block(items: list[LinkedItem]) -> str:
    """The block added after the thread: untrusted data, like the thread itself."""
    if not items:
        return ""
    return "<linked_on_github>\n" + "\n".join(item.render() for item in items) + "\n</linked_on_github>"
