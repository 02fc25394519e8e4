"""What a summary call showed the model: the message lines between its transcript tags."""

from __future__ import annotations

import re

_BLOCK = re.compile(r"<(transcript|new_messages)>\n(.*?)\n</\1>", re.S)


def transcript_lines(content: str) -> list[str]:
    """Every message line of the transcripts in `content` (a line each; the time is shown only where it moved on,
    so lines are found by their tags, not by a timestamp)."""
    return [line for _, block in _BLOCK.findall(content) for line in block.split("\n") if line.strip()]
