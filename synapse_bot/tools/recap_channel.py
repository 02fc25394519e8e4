"""recap_channel: what happened in a channel over a time window ("recap #incidents since yesterday").

Reads the window's top-level messages (`conversations.history`) and the in-window replies of its busiest threads
(at most MAX_THREADS `conversations.replies` calls), after checking that the requester is in the channel. With a
model, the messages go through the thread-summary engine (chunked to the per-call budget, however many there
are); offline, an extractive digest. Recaps are cached per channel and window: asked again with nothing new, the
answer costs no model call; when only new messages arrived, the previous recap is updated with those alone; an
edit or deletion of a covered message rebuilds it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from synapse_bot.integrations.slack_reader import SlackReader, SlackReadError
from synapse_bot.render.sanitize import neutralize_mass_mentions
from synapse_bot.store.recaps import CachedRecap, RecapCache
from synapse_bot.summaries.engine import SummaryEngine
from synapse_bot.summaries.model import ThreadSummary, summary_response_format
from synapse_bot.summaries.offline import extractive_digest
from synapse_bot.summaries.render import summary_sections
from synapse_bot.summaries.slack_text import mentioned_users
from synapse_bot.summaries.transcript import Line, build_lines, is_noise
from synapse_bot.summaries.window import TimeWindow, WindowError, parse_point, parse_window
from synapse_bot.tools.base import Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.grammar import TS, FastPathError, Grammar, RouteResult, ToolCall, channel_refs, parse_permalink
from synapse_bot.tools.slack_reading import reading_slack

MAX_MESSAGES = 2_000  # top-level messages read per recap (the newest of the window)
MAX_THREADS = 20  # busiest threads whose replies are read
THREADS_SHOWN = 5
LOCK_WAIT_S = 120.0


class RecapChannelArgs(ToolArgs):
    channel: str | None = Field(default=None, description="#name or C…; omit for here")
    since: str | None = Field(
        default=None,
        max_length=60,
        description="Start, as said: 'yesterday', 'monday', '3 days', 'this week', '2026-11-28', '09:00'. "
        "Default: last 24 hours",
    )
    until: str | None = Field(default=None, max_length=60, description="End, same forms; default now")
    refresh: bool = Field(default=False, description="Rebuild, not the cached one")

    hints: ClassVar[Mapping[str, str]] = {
        "channel": "a channel, e.g. `#incidents`",
        "since": "a start such as `yesterday`, `24 hours`, `monday` or `2026-11-28`",
        "until": "an end such as `today` or `2026-11-29 18:00`",
    }


def _fail(text: str) -> ToolResult:
    return ToolResult(text=text, ok=False)


def _recap(args: RecapChannelArgs, ctx: ToolContext) -> ToolResult:
    return reading_slack(ctx, "Channel recaps need", lambda reader: _recap_with(args, ctx, reader), also=(WindowError,))


def _zone(reader: SlackReader, user: str) -> tzinfo:
    """The requester's time zone from their Slack profile ("since yesterday" is their yesterday); else UTC."""
    try:
        return ZoneInfo(str(reader.user_info(user).get("tz") or "UTC"))
    except (SlackReadError, ZoneInfoNotFoundError, ValueError):
        return UTC


# Which messages count, and their fingerprints (pure) ------------------------------------------------------------


def relevant(message: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """A person's message, or another app's message that people replied to (an alert discussed in its thread).

    Synapse's own posts and requests to it are left out, so asking for a recap inside the channel does not make
    the next recap look changed.
    """
    if bot_user_id and message.get("user") == bot_user_id:
        return False
    if bot_user_id and str(message.get("text", "")).lstrip().startswith(f"<@{bot_user_id}>"):
        return False
    return not is_noise(message, bot_user_id) or bool(message.get("reply_count"))


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def head_fingerprint(messages: list[dict[str, Any]], truncated: bool) -> str:
    """Equal only if no message in the window was added, edited, deleted or got a reply."""
    parts = [
        f"{m['ts']}:{(m.get('edited') or {}).get('ts', '')}:{m.get('reply_count', 0)}:{m.get('latest_reply', '')}"
        for m in messages
    ]
    return _digest([*parts, f"truncated={truncated}"])


def covered_fingerprint(messages: list[dict[str, Any]], up_to: str) -> str:
    """Equal only if no message up to `up_to` was edited or deleted (new replies do not count)."""
    return _digest(
        f"{m['ts']}:{(m.get('edited') or {}).get('ts', '')}" for m in messages if float(m["ts"]) <= float(up_to)
    )


# Reading --------------------------------------------------------------------------------------------------------


def _as_person(message: dict[str, Any]) -> dict[str, Any]:
    """Another app's message that people discussed, as a transcript line (attributed to the app's name)."""
    if not (message.get("bot_id") or message.get("subtype") == "bot_message"):
        return message
    name = str(message.get("username") or (message.get("bot_profile") or {}).get("name") or "an app")
    return {k: v for k, v in message.items() if k not in ("bot_id", "app_id", "subtype")} | {"user": name}


def _read_lines(
    reader: SlackReader, channel: str, top: list[dict[str, Any]], since: str, window: TimeWindow, bot: str | None
) -> tuple[list[Line], str, int]:
    """Transcript lines of everything after `since`: top-level messages and the replies of the busiest threads.

    Returns the lines (each thread's replies after its parent, marked ↳), the newest ts read and how many
    threads were read.
    """
    busy = sorted(
        (m for m in top if m.get("reply_count") and float(str(m.get("latest_reply") or 0)) > float(since)),
        key=lambda m: -int(m.get("reply_count") or 0),
    )[:MAX_THREADS]
    replies: dict[str, list[dict[str, Any]]] = {}
    top_level = {str(m["ts"]) for m in top}  # a reply also sent to the channel is in both lists: keep it once
    for parent in busy:
        found = reader.replies(channel, str(parent["ts"]), oldest=since)
        end = window.end.timestamp() if window.end else None
        replies[str(parent["ts"])] = [
            r for r in found if str(r["ts"]) not in top_level and (end is None or float(r["ts"]) < end)
        ]
    people = {str(m.get("user", "")) for m in top} | {str(r.get("user", "")) for rs in replies.values() for r in rs}
    for message in [*top, *(r for rs in replies.values() for r in rs)]:
        people |= mentioned_users(str(message.get("text", "")))
    names = reader.user_names(people)
    lines: list[Line] = []
    newest = since
    for message in top:
        if float(message["ts"]) > float(since):
            lines += build_lines([_as_person(message)], names, bot_user_id=bot)
            newest = max(newest, str(message["ts"]), key=float)
        for reply in replies.get(str(message["ts"]), []):
            lines += [Line(ln.ts, ln.author, "↳ " + ln.text) for ln in build_lines([reply], names, bot_user_id=bot)]
            newest = max(newest, str(reply["ts"]), key=float)
    return lines, newest, len(busy)


# The tool -------------------------------------------------------------------------------------------------------


def _recap_with(args: RecapChannelArgs, ctx: ToolContext, reader: SlackReader) -> ToolResult:
    request, services = ctx.request, ctx.services
    channel = reader.resolve_channel(args.channel) if args.channel else request.channel_id
    if not channel:
        return _fail("Which channel? For example: `recap #incidents since yesterday`.")
    if channel != request.channel_id and not reader.is_member(channel, request.user_id):
        return _fail(f"You can only recap channels you are a member of, and you're not in <#{channel}>.")
    window = parse_window(args.since, args.until, datetime.now(UTC), _zone(reader, request.user_id))
    bot = services.bot_user_id
    history, truncated = reader.history(channel, window.oldest_ts, window.latest_ts, MAX_MESSAGES)
    top = [m for m in history if relevant(m, bot)]
    if not top:
        return ToolResult(
            text=f"Nothing was posted in <#{channel}> {window.label()}.",
            data={"channel": channel, "since": window.start.isoformat(), "messages": 0},
            sources=[channel],
        )
    cache = RecapCache(services.redis, services.keys, ctx.settings.summary_ttl_seconds) if services.redis else None
    key = (request.team_id, channel, window.oldest_ts, window.latest_ts)
    head = head_fingerprint(top, truncated)

    def usable(entry: CachedRecap | None) -> CachedRecap | None:
        return entry if entry is not None and entry.offline == ctx.offline else None

    cached = usable(cache.get(*key)) if cache and not args.refresh else None
    if cached is not None and cached.head == head:
        return _result(cached, channel, window, top, reader, "cached", truncated)
    token = cache.acquire(*key) if cache else None
    if cache and token is None:
        # Someone else is building this recap right now: wait for theirs instead of paying twice.
        cache.wait_unlocked(*key, LOCK_WAIT_S)
        cached = usable(cache.get(*key))
        if cached is not None and cached.head == head:
            return _result(cached, channel, window, top, reader, "cached", truncated)
        token = cache.acquire(*key)
    try:
        entry, source = _build(ctx, reader, channel, window, top, head, cached)
        if cache:
            cache.put(*key, entry)
    finally:
        if cache and token:
            cache.release(*key, token)
    return _result(entry, channel, window, top, reader, source, truncated)


def _build(
    ctx: ToolContext,
    reader: SlackReader,
    channel: str,
    window: TimeWindow,
    top: list[dict[str, Any]],
    head: str,
    cached: CachedRecap | None,
) -> tuple[CachedRecap, str]:
    """A recap of the window: the cached one plus what is new when nothing it covers changed, else a new one."""
    bot = ctx.services.bot_user_id
    if cached is not None and not ctx.offline and covered_fingerprint(top, cached.last_ts) == cached.covered:
        new_lines, newest, threads = _read_lines(reader, channel, top, cached.last_ts, window, bot)
        if not new_lines:  # only Synapse's own posts or unread threads moved: nothing to add
            return cached.model_copy(update={"head": head}), "cached"
        engine = _engine(ctx)
        summary = engine.update(cached.summary, new_lines)
        ctx.trace.root.set(summary_model_calls=engine.stats.calls, summary_largest_prompt=engine.stats.largest_prompt)
        entry = cached.model_copy(
            update={
                "summary": summary,
                "head": head,
                "covered": covered_fingerprint(top, newest),
                "last_ts": newest,
                "message_count": cached.message_count + len(new_lines),
                "threads_read": max(cached.threads_read, threads),
            }
        )
        return entry, "updated"
    lines, newest, threads = _read_lines(reader, channel, top, window.oldest_ts, window, bot)
    summary, source = _summarise(ctx, lines, window)
    entry = CachedRecap(
        summary=summary,
        head=head,
        covered=covered_fingerprint(top, newest),
        last_ts=newest,
        message_count=len(lines),
        threads_read=threads,
        offline=ctx.offline,
    )
    return entry, source


def _summarise(ctx: ToolContext, lines: list[Line], window: TimeWindow) -> tuple[ThreadSummary, str]:
    if ctx.offline:
        # The thread digest quotes the opening message as its TL;DR; in a channel it is one message among others.
        digest = extractive_digest(lines)
        authors = sorted({line.author for line in lines})
        people = ", ".join(authors[:6]) + (" and others" if len(authors) > 6 else "")
        tldr = f"{len(lines)} message{'s' if len(lines) != 1 else ''} from {people} {window.label()}."
        first = f"{_clip(lines[0].text, 220)} ({lines[0].author})"
        quoted = " ".join([*digest.key_points, *digest.decisions, *digest.open_questions])
        quoted += " ".join(item.task for item in digest.action_items)
        opening = " ".join(lines[0].text.split())[:60]
        points = digest.key_points if opening in quoted else [first, *digest.key_points][:5]
        return digest.model_copy(update={"tldr": tldr, "key_points": points}), "offline"
    engine = _engine(ctx)
    summary = engine.summarise(lines)
    ctx.trace.root.set(summary_model_calls=engine.stats.calls, summary_largest_prompt=engine.stats.largest_prompt)
    return summary, "new"


def _engine(ctx: ToolContext) -> SummaryEngine:
    assert ctx.llm is not None
    settings = ctx.settings
    return SummaryEngine(
        lambda msgs, purpose: ctx.complete(
            msgs,
            f"recap.{purpose}",
            response_format=summary_response_format(),
            max_output_tokens=settings.summary_output_tokens,
        ),
        ctx.llm.counter,
        call_budget=settings.summary_call_budget(ctx.llm.context_tokens),
        output_tokens=settings.summary_output_tokens,
        map_calls=ctx.side_by_side,
    )


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split()).replace("[", "(").replace("]", ")")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _result(
    entry: CachedRecap,
    channel: str,
    window: TimeWindow,
    top: list[dict[str, Any]],
    reader: SlackReader,
    source: str,
    truncated: bool,
) -> ToolResult:
    busiest = sorted((m for m in top if m.get("reply_count")), key=lambda m: -int(m.get("reply_count") or 0))
    busiest = busiest[:THREADS_SHOWN]
    links = reader.message_links(channel, [(str(m["ts"]), None) for m in busiest])
    offline = " — offline digest (no model configured)" if entry.offline else ""
    lines = [f"**Recap of <#{channel}>** {window.label()}{offline}", "", *summary_sections(entry.summary)]
    if busiest:
        lines += ["", "**Busiest threads**"]
        for message in busiest:
            count = int(message.get("reply_count") or 0)
            title = _clip(str(message.get("text") or "(no text)"))
            link = links.get(str(message["ts"]))
            lines.append(f"• {f'[{title}]({link})' if link else title} — {count} repl{'y' if count == 1 else 'ies'}")
    status = {"cached": " · from cache (nothing new)", "updated": " · updated with new messages"}.get(source, "")
    when = datetime.fromtimestamp(float(entry.last_ts), UTC).strftime("%Y-%m-%d %H:%M UTC")
    plural = "s" if entry.message_count != 1 else ""
    threads = (
        f" ({entry.threads_read} thread{'s' if entry.threads_read != 1 else ''} read)" if entry.threads_read else ""
    )
    lines += ["", f"_Covers {entry.message_count} message{plural}{threads} up to {when}{status}_"]
    if truncated:
        lines.append(f"_Only the latest {MAX_MESSAGES} messages of the window were read; ask for a shorter window._")
    return ToolResult(
        text=neutralize_mass_mentions("\n".join(lines)),
        data={
            "channel": channel,
            "since": window.start.isoformat(),
            "until": window.end.isoformat() if window.end else None,
            "messages": entry.message_count,
            "threads_read": entry.threads_read,
            "cache_hit": source == "cached",
            "source": source,
            "truncated": truncated,
            "tldr": entry.summary.tldr[:300],
            "threads": [
                {"ts": str(m["ts"]), "replies": int(m.get("reply_count") or 0), "permalink": links.get(str(m["ts"]))}
                for m in busiest
            ],
        },
        sources=[channel],
    )


# Fast path ------------------------------------------------------------------------------------------------------

_VERB = re.compile(r"^(recap|summari[sz]e)\b\s*(?:of\s+|for\s+)?", re.I)
_WHERE = re.compile(r"^(?:(<#[CG][A-Z0-9]+(?:\|[^>]*)?>|#[a-z0-9][a-z0-9._-]*)|this channel|the channel|here)\s*", re.I)
_WINDOW = re.compile(
    r"^(?:(?:since|from|for|over|in|during)\s+(?:the\s+)?)?(.+?)(?:\s+(?:until|till|to)\s+(.+))?$", re.I
)
_REFRESH = re.compile(r"[\s,(]*\b(?:refresh|rebuild|again|fresh)\b\)?$", re.I)
_WINDOW_WORD = re.compile(r"^(?:since|from|over|during|for the|in the)\b", re.I)


_WORDS = (
    r"\b(?:recap|summari[sz]e|summary|of|for|the|this|channel|here|since|from|until|till|to|over|in|during|on|last|"
    r"past|now|ago|an?|one|today|yesterday|morning|week|month|minutes?|mins?|hours?|hrs?|days?|weeks?|wks?|"
    r"(?:mon|tue|wed|thu|fri|sat|sun)\w*|refresh|rebuild|again|fresh)\b"
)


def _parse(text: str, lower: str) -> RouteResult:
    """`recap #incidents since yesterday`, `recap this channel`, `recap since monday`; `summarize #x since …`.

    A thread, a link or a timestamp means a thread summary (summarize_thread's); a bare `recap` too.
    """
    verb = _VERB.match(text)
    if not verb or "thread" in lower or parse_permalink(text) or TS.search(text):
        return None
    recap = verb.group(1).lower() == "recap"
    rest = text[verb.end() :].strip().rstrip("?.!").strip()
    args: dict[str, Any] = {}
    rebuilt = _REFRESH.search(rest)
    if rebuilt:
        args["refresh"] = True
        rest = rest[: rebuilt.start()].strip()
    where = _WHERE.match(rest)
    if where:
        refs = channel_refs(where.group(0))
        if refs:
            args["channel"] = refs[0]
        rest = rest[where.end() :].strip()
    if not rest:
        return [ToolCall("recap_channel", args)] if recap and where else None
    if not recap and not (where and _WINDOW_WORD.match(rest)):
        return None  # "summarize #alerts …" without a channel and a window is summarize_thread's
    window = _WINDOW.match(rest)
    if window is None:
        return None
    since, until = window.group(1), window.group(2)
    now = datetime.now(UTC)
    try:
        for point in (since, until):
            if point:
                parse_point(point, now, UTC)
    except WindowError as exc:
        return FastPathError(str(exc)) if recap else None
    args["since"] = since
    if until:
        args["until"] = until
    return [ToolCall("recap_channel", args)]


TOOL = Tool(
    name="recap_channel",
    summary="recap a channel over a time window: what was discussed, decided and asked",
    description=(
        "Recap a Slack channel over a time window ('what happened in #incidents since yesterday?'): TL;DR, "
        "decisions, action items, open questions, busiest threads. Times in the requester's time zone."
    ),
    args_model=RecapChannelArgs,
    handler=_recap,
    examples=("recap #incidents since yesterday", "recap this channel since monday"),
    grammar=Grammar(verbs=("recap",), parse=_parse, words=_WORDS),
)
