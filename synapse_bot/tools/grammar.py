"""The fast path's vocabulary: tool calls, the grammar a tool declares, and the Slack-text helpers grammars use.

A tool that can be asked for in plain words declares a `Grammar`: the verbs that start its commands and a parser
from text to tool calls. The fast path (`dispatch/fast_path.py`) iterates the registry's grammars; nothing else
needs to know a tool's words. Parsers are pure: text in, calls out. They understand Slack's markup as Slack sends
it (`<@U…>`, `<#C…|name>`, `<https://…|label>`), thread permalinks and GitHub pull-request URLs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator


@dataclass(frozen=True)
class ToolCall:
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FastPathError:
    """A recognised command with a problem the person can fix; `message` says what and how."""

    message: str


RouteResult = list[ToolCall] | FastPathError | None
Parser = Callable[[str, str], RouteResult]  # (text, lowercased text) -> calls, a fixable problem, or not mine


@dataclass(frozen=True)
class Grammar:
    """How a tool is asked for without a model.

    `verbs` are regular-expression alternatives that start one of its commands ("summari[sz]e", "triage"); the
    compound-command splitter splits "…and triage acme/widgets" only before a registered verb. `parse` turns one
    command into calls, or a FastPathError for a recognised but incomplete command, or None when it is not this
    tool's. `words` matches the rest of what its commands say (besides channels, links, repositories, numbers and
    quoted phrases): a command that says more than that ("summarize what bob said about the migration") is not
    parsed completely, and with a model configured it goes to the model instead.
    """

    verbs: tuple[str, ...]
    parse: Parser
    words: str = ""  # regex of everything else its commands may say; leftover words mean "more than a command"
    exact: bool = False  # the parser itself accepts only whole commands (full matches): what it parses is complete


REPO_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"  # owner/name
_REPO_NAME = re.compile(REPO_PATTERN)


def _repo_name(value: str) -> str:
    if not _REPO_NAME.match(value):
        raise ValueError("not a repository as owner/name")
    return value


# A repository argument: checked like a pattern, but kept out of the function-calling schema, where the regex cost
# ~30 tokens in every tool that takes a repository, in every prompt.
RepoName = Annotated[str, AfterValidator(_repo_name)]
_LEADING_MENTIONS = re.compile(r"^(?:\s*<@[UW][A-Z0-9]+(?:\|[^>]*)?>[\s,:]*)+")
CHANNEL = re.compile(r"<#(C[A-Z0-9]+|G[A-Z0-9]+)(?:\|([^>]*))?>|(?<![\w/])#([a-z0-9][a-z0-9._-]{0,79})", re.I)
LINK = re.compile(r"<(https?://[^|>\s]+)(?:\|[^>]*)?>")
_PERMALINK = re.compile(r"https?://[^/\s]+/archives/([CGD][A-Z0-9]+)/p(\d{10})(\d{6})(?:\?([^\s>|]*))?", re.I)
TS = re.compile(r"\b(\d{9,11}\.\d{1,6})\b")
REPO = re.compile(r"(?<![\w./-])([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{1,100})(?![\w/-])")
PR_URL = re.compile(r"https?://[^/\s]+/([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{1,100})/pull/(\d+)")
REPO_HASH = re.compile(r"(?<![\w./-])([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{1,100})#(\d+)\b")
NUMBER = re.compile(r"(?:#|\b(?:pr|pull request|pull|number|no\.?)\s*#?\s*)(\d+)\b", re.I)


def _strip_invisible(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc") or ch in "\n\t")


def normalize(text: str) -> str:
    """Drop leading @-mentions of the bot, invisible/control characters, and collapse whitespace."""
    text = _strip_invisible(unicodedata.normalize("NFKC", text))
    text = _LEADING_MENTIONS.sub("", text)
    text = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    return re.sub(r"[ \t]+", " ", text).strip()


def channel_refs(text: str) -> list[str]:
    """Channel references in order: ids as `C…`, bare names as `#name`."""
    refs = []
    for match in CHANNEL.finditer(text):
        if match.group(1):
            refs.append(match.group(1).upper())
        else:
            refs.append("#" + match.group(3).lower())
    return refs


def parse_permalink(text: str) -> tuple[str, str] | None:
    """(channel id, thread ts) from a Slack message link; a reply's link points at its thread."""
    match = _PERMALINK.search(text)
    if not match:
        return None
    channel, secs, micros, query = match.groups()
    ts = f"{secs}.{micros}"
    if query:
        thread = re.search(r"(?:^|&)thread_ts=(\d{9,11}\.\d{1,6})", query)
        if thread:
            ts = thread.group(1)
    return channel.upper(), ts


def unlink(text: str) -> str:
    """Slack's `<https://…|label>` links as their bare URLs."""
    return LINK.sub(lambda m: m.group(1), text)
