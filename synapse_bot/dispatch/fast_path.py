"""The fast path: explicit commands parse to tool calls without any model call.

Each tool that can be asked for in plain words declares a `Grammar` in its own file; this module only iterates the
registry. "summarize this thread and triage acme/widgets" is two commands: the text is split before every
registered verb that follows "and", "then" or "also", and when every part parses cleanly each becomes a call (at
most MAX_TOOL_CALLS); otherwise the text is read as one command. Anything no grammar recognises returns None and
goes to the model (or, offline, to a reply listing what works).

A command is parsed *completely* when nothing is left once its grammar's words, references (channels, links,
repositories, numbers, quoted phrases) and politeness are taken out, and it asks no question. With a model
configured only complete commands take the fast path: "summarize what bob said about the DB migration and list
carol's action items" or "review this approach — is it sound?" go to the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from synapse_bot.tools.grammar import CHANNEL, REPO, REPO_HASH, TS, Grammar, RouteResult, ToolCall, normalize, unlink
from synapse_bot.tools.registry import ToolRegistry

MAX_TOOL_CALLS = 3  # tools one request may run on the fast path

_REFERENCES = [
    re.compile(r"https?://\S+"),
    re.compile(r"<[@#!][^>]*>"),
    CHANNEL,
    REPO_HASH,
    REPO,
    TS,
    re.compile(r"\"[^\"]*\"|“[^”]*”|'[^'\s][^']*'"),
    re.compile(r"#?\d[\d\-:./]*"),
]
_POLITE = re.compile(
    r"\b(?:please|pls|plz|thanks|thank you|thx|can you|could you|would you|kindly|for me|now|hey|hi|ok|okay|"
    r"synapse|and|then|also)\b",
    re.I,
)
_WORD = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class Parsed:
    result: RouteResult
    complete: bool  # nothing was left over: the text is exactly a command (or several)


class FastPath:
    def __init__(self, registry: ToolRegistry) -> None:
        # Grammars that accept only whole commands go first: a full match is unambiguous ("recap #dev every monday
        # at 09:00" is a schedule, though recap_channel's looser grammar would take it for a recap); the others in
        # the registry's order.
        grammars = [tool.grammar for tool in registry if tool.grammar is not None]
        self._grammars = sorted(grammars, key=lambda grammar: not grammar.exact)
        verbs = "|".join(verb for grammar in self._grammars for verb in grammar.verbs)
        self._compound = (
            re.compile(rf"\s*(?:,\s*)?\b(?:and(?:\s+then)?|then|also)\s+(?=(?:{verbs})\b)", re.IGNORECASE)
            if verbs
            else None
        )

    def parse(self, raw_text: str) -> RouteResult:
        """Tool calls for an explicit command; a FastPathError for a recognised but incomplete one; else None."""
        return self.route(raw_text).result

    def route(self, raw_text: str) -> Parsed:
        text = unlink(normalize(raw_text))
        if not text:
            return Parsed([ToolCall("help", {})], True)
        parts = [p.strip() for p in self._compound.split(text) if p.strip()] if self._compound else [text]
        if 1 < len(parts) <= MAX_TOOL_CALLS:
            parsed = [self._parse_one(part) for part in parts]
            if all(isinstance(p.result, list) for p in parsed):
                calls = [call for p in parsed if isinstance(p.result, list) for call in p.result]
                return Parsed(calls, all(p.complete for p in parsed))
        return self._parse_one(text)

    def _parse_one(self, text: str) -> Parsed:
        lower = text.lower()
        for grammar in self._grammars:
            result = grammar.parse(text, lower)
            if result is not None:
                return Parsed(result, grammar.exact or _says_nothing_more(text, grammar))
        return Parsed(None, False)


def _says_nothing_more(text: str, grammar: Grammar) -> bool:
    rest = text
    for pattern in _REFERENCES:
        rest = pattern.sub(" ", rest)
    if "?" in rest:
        return False  # a question, not a command
    if grammar.words:
        rest = re.sub(grammar.words, " ", rest, flags=re.I)
    rest = _POLITE.sub(" ", rest)
    return not _WORD.search(rest)
