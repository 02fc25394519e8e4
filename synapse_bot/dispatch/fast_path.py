"""The fast path: explicit commands parse to tool calls without any model call.

Each tool that can be asked for in plain words declares a `Grammar` in its own file; this module only iterates the
registry. "summarize this thread and triage acme/widgets" is two commands: the text is split before every
registered verb that follows "and", "then" or "also", and when every part parses cleanly each becomes a call (at
most MAX_TOOL_CALLS); otherwise the text is read as one command. Anything no grammar recognises returns None and
goes to the model (or, offline, to a reply listing what works).
"""

from __future__ import annotations

import re

from synapse_bot.tools.grammar import RouteResult, ToolCall, normalize, unlink
from synapse_bot.tools.registry import ToolRegistry

MAX_TOOL_CALLS = 3  # tools one request may run, on the fast path and through the model


class FastPath:
    def __init__(self, registry: ToolRegistry) -> None:
        self._grammars = [tool.grammar for tool in registry if tool.grammar is not None]
        verbs = "|".join(verb for grammar in self._grammars for verb in grammar.verbs)
        self._compound = (
            re.compile(rf"\s*(?:,\s*)?\b(?:and(?:\s+then)?|then|also)\s+(?=(?:{verbs})\b)", re.IGNORECASE)
            if verbs
            else None
        )

    def parse(self, raw_text: str) -> RouteResult:
        """Tool calls for an explicit command; a FastPathError for a recognised but incomplete one; else None."""
        text = unlink(normalize(raw_text))
        if not text:
            return [ToolCall("help", {})]
        parts = [p.strip() for p in self._compound.split(text) if p.strip()] if self._compound else [text]
        if 1 < len(parts) <= MAX_TOOL_CALLS:
            results = [self._parse_one(part) for part in parts]
            if all(isinstance(r, list) for r in results):
                return [call for r in results if isinstance(r, list) for call in r]
        return self._parse_one(text)

    def _parse_one(self, text: str) -> RouteResult:
        lower = text.lower()
        for grammar in self._grammars:
            result = grammar.parse(text, lower)
            if result is not None:
                return result
        return None
