"""Split long answers into pieces that fit Slack's message limits.

Slack truncates or rejects message text past about 4,000 characters, and a markdown block holds at most 12,000
in total. We cut at the largest natural boundary that fits (blank line, then line, then sentence, then word),
and never leave a code fence open across a cut: the fence is closed in one piece and reopened in the next.
"""

from __future__ import annotations

MAX_MESSAGE_CHARS = 3_900


def _cut_point(text: str, limit: int) -> int:
    window = text[:limit]
    for sep in ("\n\n", "\n", ". ", " "):
        at = window.rfind(sep)
        if at >= limit // 2:
            return at + len(sep)
    return limit


def split_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Pieces of at most `limit` characters whose concatenation (modulo fence repair) is `text`."""
    if limit < 100:
        raise ValueError("limit too small to split sensibly")
    text = text.strip()
    if not text:
        return []
    pieces: list[str] = []
    reopen = ""
    room = limit - len("\n```")  # leave space to close a fence
    while text:
        text = reopen + text
        if len(text) <= limit:
            pieces.append(text)
            break
        cut = _cut_point(text, room)
        piece, text = text[:cut].rstrip(), text[cut:].lstrip("\n")
        if piece.count("```") % 2 == 1:
            piece += "\n```"
            reopen = "```\n"
        else:
            reopen = ""
        pieces.append(piece)
    return [p for p in pieces if p.strip()]
