"""The fast path: explicit commands parse to tool calls without any model call.

Pure text in, tool calls out. It understands Slack's markup as Slack sends it (`<@U…>`, `<#C…|name>`,
`<https://…|label>`), thread permalinks and GitHub pull-request URLs. Anything it does not recognise returns
None and goes to the model (or, offline, to a reply listing what works).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FastPathError:
    """A recognised command with a problem the person can fix; `message` says what and how."""

    message: str


RouteResult = list[ToolCall] | FastPathError | None

_LEADING_MENTIONS = re.compile(r"^(?:\s*<@[UW][A-Z0-9]+(?:\|[^>]*)?>[\s,:]*)+")
_CHANNEL = re.compile(r"<#(C[A-Z0-9]+|G[A-Z0-9]+)(?:\|([^>]*))?>|(?<![\w/])#([a-z0-9][a-z0-9._-]{0,79})", re.I)
_LINK = re.compile(r"<(https?://[^|>\s]+)(?:\|[^>]*)?>")
_PERMALINK = re.compile(r"https?://[^/\s]+/archives/([CGD][A-Z0-9]+)/p(\d{10})(\d{6})(?:\?([^\s>|]*))?", re.I)
_TS = re.compile(r"\b(\d{9,11}\.\d{1,6})\b")
_REPO = re.compile(r"(?<![\w./-])([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{1,100})(?![\w/-])")
_PR_URL = re.compile(r"https?://[^/\s]+/([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{1,100})/pull/(\d+)")
_REPO_HASH = re.compile(r"(?<![\w./-])([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{1,100})#(\d+)\b")
_NUMBER = re.compile(r"(?:#|\b(?:pr|pull request|pull|number|no\.?)\s*#?\s*)(\d+)\b", re.I)


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
    for match in _CHANNEL.finditer(text):
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


def _unlink(text: str) -> str:
    return _LINK.sub(lambda m: m.group(1), text)


def _split_keywords(raw: str) -> list[str]:
    raw = raw.strip().rstrip(".")
    quoted = re.findall(r"\"([^\"]+)\"|“([^”]+)”|'([^']+)'", raw)
    phrases = [next(p for p in group if p) for group in quoted]
    rest = re.sub(r"\"[^\"]+\"|“[^”]+”|'[^']+'", ",", raw)
    parts = re.split(r",|;|\bor\b|\band\b|\n", rest)
    words = [p.strip().strip("`*_") for p in parts]
    seen: dict[str, str] = {}
    for word in [*phrases, *words]:
        word = word.strip()
        if word and word.lower() not in seen:
            seen[word.lower()] = word
    return list(seen.values())


def _summarize(text: str, lower: str) -> RouteResult:
    if not re.match(r"^(summari[sz]e|summary|tl;?dr|recap)\b", lower):
        return None
    refresh = bool(re.search(r"\b(refresh|rebuild|again|fresh)\b", lower))
    link = parse_permalink(text)
    if link:
        return [ToolCall("summarize_thread", {"channel": link[0], "thread_ts": link[1], "refresh": refresh})]
    channels = channel_refs(text)
    ts = _TS.search(text)
    args: dict[str, Any] = {"refresh": refresh}
    if channels:
        args["channel"] = channels[0]
    if ts:
        args["thread_ts"] = ts.group(1)
    return [ToolCall("summarize_thread", args)]


def _monitor(text: str, lower: str) -> RouteResult:
    if re.match(r"^(list|show)\s+(all\s+|my\s+|the\s+)?monitors?\b", lower):
        channels = channel_refs(text)
        return [ToolCall("list_monitors", {"channel": channels[0]} if channels else {})]
    if re.match(r"^(stop|cancel|remove|delete|disable)\s+(monitoring|monitors?|watching)\b", lower) or re.match(
        r"^unmonitor\b", lower
    ):
        channels = channel_refs(text)
        if not channels:
            return FastPathError("Which channel should I stop monitoring? Try `stop monitoring #alerts`.")
        return [ToolCall("stop_monitor", {"channel": channels[0]})]
    if not re.match(r"^(monitor|watch)\b", lower):
        return None
    channels = channel_refs(text)
    if not channels:
        return FastPathError(
            "Which channel should I monitor? Try `monitor slack channel #alerts for keywords: error, down`."
        )
    match = re.search(r"\b(?:keywords?|words?|phrases?|terms?)\s*:?\s*(.+)$", text, re.I | re.S) or re.search(
        r"\bfor\s*:?\s*(.+)$", text, re.I | re.S
    )
    keywords = _split_keywords(match.group(1)) if match else []
    keywords = [k for k in keywords if not _CHANNEL.fullmatch(k)]
    if not keywords:
        return FastPathError(
            f"Which keywords should I watch for in {channels[0]}? "
            "Try `monitor slack channel #alerts for keywords: error, critical, down`."
        )
    args: dict[str, Any] = {"channel": channels[0], "keywords": keywords}
    alert = re.search(r"\b(?:alert|notify|post|send)\w*\s+(?:alerts?\s+)?(?:in|to)\s+(<#[^>]+>|#[\w.-]+)", text, re.I)
    if alert:
        args["alert_channel"] = channel_refs(alert.group(1))[0]
        args["keywords"] = [k for k in keywords if alert.group(1) not in k and "alert" not in k.lower()]
    return [ToolCall("monitor_channel", args)]


def _triage(text: str, lower: str) -> RouteResult:
    if not re.match(r"^triage\b", lower):
        return None
    repo = _REPO.search(text)
    if not repo:
        return FastPathError("Which repository? Try `triage github issues in owner/repo`.")
    args: dict[str, Any] = {"repo": f"{repo.group(1)}/{repo.group(2)}"}
    label = re.search(
        r"\blabel(?:led|ed)?\s*[:=]?\s*[\"']?([\w .:/-]+?)[\"']?(?:$|\s+(?:limit|since|only)\b)", text, re.I
    )
    if label and not re.search(r"\bun-?label", lower):
        args["label"] = label.group(1).strip()
    if re.search(r"\b(unlabell?ed|without labels?|no labels?)\b", lower):
        args["only_unlabelled"] = True
    limit = re.search(r"\b(?:limit|top|first|max)\s*[:=]?\s*(\d+)\b", lower)
    if limit:
        args["limit"] = int(limit.group(1))
    since = re.search(r"\bsince\s+(\d{4}-\d{2}-\d{2})\b", lower)
    if since:
        args["since"] = since.group(1)
    return [ToolCall("triage_issues", args)]


def _review(text: str, lower: str) -> RouteResult:
    if not re.match(r"^review\b", lower):
        return None
    url = _PR_URL.search(text)
    if url:
        return [
            ToolCall("review_pull_request", {"repo": f"{url.group(1)}/{url.group(2)}", "number": int(url.group(3))})
        ]
    hashed = _REPO_HASH.search(text)
    if hashed:
        return [
            ToolCall(
                "review_pull_request",
                {"repo": f"{hashed.group(1)}/{hashed.group(2)}", "number": int(hashed.group(3))},
            )
        ]
    repo = _REPO.search(text)
    number = _NUMBER.search(text)
    if not repo or not number:
        return FastPathError("Which pull request? Try `review pr #123 in owner/repo` or paste the PR's URL.")
    return [
        ToolCall(
            "review_pull_request",
            {"repo": f"{repo.group(1)}/{repo.group(2)}", "number": int(number.group(1))},
        )
    ]


def _help(text: str, lower: str) -> RouteResult:
    match = re.match(r"^(help|\?|usage|commands|what can you do\??)(?:\s+(.*))?$", lower)
    if not match:
        return None
    topic = (match.group(2) or "").strip() or None
    return [ToolCall("help", {"topic": topic} if topic else {})]


_PARSERS = (_help, _summarize, _monitor, _triage, _review)


_COMPOUND = re.compile(
    r"\s*(?:,\s*)?\b(?:and(?:\s+then)?|then|also)\s+(?=(?:summari[sz]e|triage|review|monitor|watch|list|stop)\b)",
    re.IGNORECASE,
)
MAX_CALLS = 3


def _parse_one(text: str) -> RouteResult:
    lower = text.lower()
    for parser in _PARSERS:
        result = parser(text, lower)
        if result is not None:
            return result
    return None


def parse_command(raw_text: str) -> RouteResult:
    """Tool calls for an explicit command; a FastPathError for a recognised but incomplete one; else None.

    "summarize this thread and triage acme/widgets" is two commands: when every part parses cleanly, each becomes
    a call (at most three); otherwise the text is read as one command.
    """
    text = _unlink(normalize(raw_text))
    if not text:
        return [ToolCall("help", {})]
    parts = [p.strip() for p in _COMPOUND.split(text) if p.strip()]
    if 1 < len(parts) <= MAX_CALLS:
        results = [_parse_one(part) for part in parts]
        if all(isinstance(r, list) for r in results):
            return [call for r in results if isinstance(r, list) for call in r]
    return _parse_one(text)
