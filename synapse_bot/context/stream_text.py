"""Make a model's answer safe to show while it is still being written.

A streamed answer goes to Slack in pieces, so everything the finished answer would get must happen piece by piece:
mass mentions neutralised, secrets redacted, citations linked. Each of those acts on a token that a piece could cut
in half (`<!chan` … `nel>`, `xoxb-12` … `34`, `[m1` … `2]`), so the text is released only up to a point where no
such token is open: never past the last word (it may continue) nor past an unclosed `<` or `[`. And a reply that
starts like a tool call written as text (`{`, `<tool_call>`, a code fence) is never streamed at all: the loop runs
it as a call, or the answer is withheld.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from synapse_bot.context.cite import link_citations
from synapse_bot.render.sanitize import neutralize_mass_mentions

DECIDE_AFTER_CHARS = 24  # how much text it takes to tell prose from a tool call written as text
_CALL_START = re.compile(r"^\s*(?:\{|\[\s*\{|<tool|<function|```)", re.I)
# Where a tool call may begin after some prose ("I will call a tool.\n```json …"): nothing from there on is streamed
# (a code block in a real answer arrives with the finished answer instead).
_CALL_ANYWHERE = re.compile(r"```|<tool|<function|\{\s*\"(?:name|function)\"", re.I)


class StreamText:
    """Feed it the model's text deltas; it returns what may be shown now, transformed as the final answer is."""

    def __init__(self, links: Mapping[str, str] | None = None, redact: Callable[[str], str] | None = None) -> None:
        self._links = dict(links or {})
        self._redact = redact or (lambda text: text)
        self._pending = ""  # received, not released
        self._released_any = False
        self._round_has_text = False
        self._withheld = False  # this round looks like a tool call written as text

    def feed(self, delta: str) -> str:
        if self._withheld or not delta:
            return ""
        self._pending += delta
        if not self._round_has_text:
            if len(self._pending.strip()) < DECIDE_AFTER_CHARS:
                return ""
            if _CALL_START.match(self._pending):
                self._withheld = True
                return ""
            self._round_has_text = True
            if self._released_any:
                self._pending = "\n\n" + self._pending.lstrip()
        marker = _CALL_ANYWHERE.search(self._pending)
        if marker is not None:
            self._withheld = True
            self._pending = self._pending[: marker.start()].rstrip()
            return self._release(len(self._pending))
        return self._release(self._safe_end(self._pending))

    def end_round(self) -> str:
        """The model's turn ended (it will call tools, or it answered): release what is left of its text."""
        text = "" if self._withheld else self._pending
        marker = _CALL_ANYWHERE.search(text)
        if marker is not None:
            text = text[: marker.start()].rstrip()
        if not self._round_has_text and text.strip():
            if _CALL_START.match(text):
                text = ""
            elif self._released_any:
                text = "\n\n" + text.lstrip()
        self._pending, self._withheld, self._round_has_text = text, False, False
        return self._release(len(text))

    def _release(self, end: int) -> str:
        out, self._pending = self._pending[:end], self._pending[end:]
        if not out:
            return ""
        self._released_any = True
        return self._redact(neutralize_mass_mentions(link_citations(out, self._links)))

    @staticmethod
    def _safe_end(text: str) -> int:
        end = max(text.rfind(" "), text.rfind("\n"))
        if end < 0:
            return 0
        for opener, closer in (("<", ">"), ("[", "]")):
            open_at = text.rfind(opener, 0, end)
            if open_at > text.rfind(closer, 0, end) and open_at != -1:
                end = min(end, open_at)
        return end
