"""A unified-diff patch as hunks of lines, each new-side line carrying its line number in the new file.

The model is asked to cite `file:line`; it can only do that reliably when every line it sees says which line it
is. Patches are split on "\\n" only: `str.splitlines` would also split on "\\r", form feeds and other separators
that can sit inside a line of source (a CRLF file's "\\r" is part of the line, not a line break), and every number
after such a character would be wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
NO_NEWLINE_MARK = "\\"  # "\ No newline at end of file": about the line before it, not a line of the file


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk: `kind` is "+", "-", " " (context) or "\\" (no newline marker)."""

    kind: str
    text: str  # without the leading marker; keeps a trailing "\r"
    new_number: int | None  # the line's number in the new file; None for deleted lines and markers

    @property
    def changed(self) -> bool:
        return self.kind in ("+", "-")

    def numbered(self) -> str:
        """The compact form the model sees: "12 +added", "13  context", "-deleted" (no number)."""
        raw = self.kind + self.text
        return f"{self.new_number} {raw}" if self.new_number is not None else raw


@dataclass(frozen=True)
class Hunk:
    header: str  # the "@@ … @@ context" line as GitHub gave it
    lines: tuple[DiffLine, ...]

    @property
    def changed_lines(self) -> int:
        return sum(1 for line in self.lines if line.changed)


def split_lines(text: str) -> list[str]:
    """Lines split on "\\n" only; a final "\\n" does not make an extra empty line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse_hunks(patch: str) -> list[Hunk]:
    """The hunks of a GitHub-style patch (everything before the first "@@" header is ignored)."""
    hunks: list[Hunk] = []
    header: str | None = None
    lines: list[DiffLine] = []
    new_number = 0
    for raw in split_lines(patch):
        match = HUNK_HEADER.match(raw)
        if match:
            if header is not None:
                hunks.append(Hunk(header, tuple(lines)))
            header, lines, new_number = raw, [], int(match.group(3))
            continue
        if header is None:
            continue
        kind, text = (raw[:1], raw[1:]) if raw else (" ", "")  # an empty line is context whose space was stripped
        if kind == "-":
            lines.append(DiffLine("-", text, None))
        elif kind == NO_NEWLINE_MARK:
            lines.append(DiffLine(NO_NEWLINE_MARK, text, None))
        else:
            if kind not in "+ ":
                kind, text = " ", raw  # not a diff line; counted as context so later numbers stay right
            lines.append(DiffLine(kind, text, new_number))
            new_number += 1
    if header is not None:
        hunks.append(Hunk(header, tuple(lines)))
    return hunks


def new_side_lines(patch: str) -> set[int]:
    """New-file line numbers a patch adds or shows as context (where GitHub accepts a review comment)."""
    return {line.new_number for hunk in parse_hunks(patch) for line in hunk.lines if line.new_number is not None}


def numbered_hunk(hunk: Hunk, upto: int | None = None) -> str:
    """A hunk in the form the model sees, optionally only its first `upto` lines; ends with a newline."""
    shown = hunk.lines if upto is None else hunk.lines[:upto]
    return hunk.header + "\n" + "".join(line.numbered() + "\n" for line in shown)
