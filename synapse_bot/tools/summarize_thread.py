"""summarize_thread: a structured summary of a Slack thread (TL;DR, decisions, action items, open questions).

Finds the thread (link, "this thread", `#channel with timestamp …`, the shortcut), checks that the requester
may read it, reads it once, and answers from the cache only when none of its messages changed — edits and
deletions included, told apart by a fingerprint of each message's ts and edit ts (zero model calls, no Slack call
beyond that read). A thread that grew, or had messages edited or deleted, is updated from the previous summary
plus the changed messages only (marked as edited or deleted); a new one is summarised within the per-call token
budget however long it is. Two requests for one thread at once do the work once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field

from synapse_bot.integrations.slack_reader import SlackReader
from synapse_bot.store.summaries import CachedSummary
from synapse_bot.summaries.engine import SummaryEngine
from synapse_bot.summaries.fingerprint import changed_lines, compare, fingerprint, worth_updating
from synapse_bot.summaries.model import ThreadSummary, summary_response_format
from synapse_bot.summaries.offline import extractive_digest
from synapse_bot.summaries.render import Coverage, render_summary
from synapse_bot.summaries.slack_text import mentioned_users
from synapse_bot.summaries.transcript import Line, build_lines, is_noise
from synapse_bot.tools.base import Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.grammar import TS, Grammar, RouteResult, ToolCall, channel_refs, parse_permalink
from synapse_bot.tools.slack_reading import reading_slack
from synapse_bot.tools.threads import THREAD_TS_HINT, ThreadChoice, ThreadTs, current_thread, named_thread

LOCK_WAIT_S = 120.0


class SummarizeThreadArgs(ToolArgs):
    channel: str | None = Field(default=None, description="#name or C… of the thread; omit for this thread")
    thread_ts: ThreadTs | None = Field(default=None, description="Timestamp of the thread's parent message")
    refresh: bool = Field(default=False, description="Rebuild the summary instead of using the cached one")

    hints: ClassVar[Mapping[str, str]] = {
        "thread_ts": THREAD_TS_HINT,
        "channel": "a channel, e.g. `#alerts`",
    }


def _fail(text: str) -> ToolResult:
    return ToolResult(text=text, ok=False)


def _target(
    args: SummarizeThreadArgs, ctx: ToolContext, reader: SlackReader
) -> tuple[str, str, ThreadChoice] | ToolResult:
    request = ctx.request
    channel, choice = named_thread(ctx, reader, args.channel, args.thread_ts)
    if choice.problem:
        return _fail(choice.problem)
    if choice.ts:
        return channel, choice.ts, choice
    current = current_thread(request)
    if channel == request.channel_id and current:
        return channel, current, choice
    if args.channel:
        latest = reader.latest_thread(channel)
        if latest:
            return channel, latest, choice
        return _fail(f"I found no thread with replies in <#{channel}>. Give me a thread link or timestamp.")
    return _fail(
        "Which thread? Ask me inside the thread you want summarized, use the *Summarize thread* shortcut on any "
        "of its messages, or give me its link."
    )


def _summarize(args: SummarizeThreadArgs, ctx: ToolContext) -> ToolResult:
    return reading_slack(ctx, "Thread summaries need", lambda reader: _summarize_with(args, ctx, reader))


def _summarize_with(args: SummarizeThreadArgs, ctx: ToolContext, reader: SlackReader) -> ToolResult:
    target = _target(args, ctx, reader)
    if isinstance(target, ToolResult):
        return target
    channel, ts, choice = target
    return choice.annotate(_summarize_at(args, ctx, reader, channel, ts))


def _summarize_at(
    args: SummarizeThreadArgs, ctx: ToolContext, reader: SlackReader, channel: str, ts: str
) -> ToolResult:
    request, services = ctx.request, ctx.services
    if channel != request.channel_id and not reader.is_member(channel, request.user_id):
        return _fail(
            f"You can only summarize threads from channels you are a member of, and you're not in <#{channel}>."
        )
    # The one read: the whole thread (a page per 1,000 messages). Whether the cache still holds is decided from
    # it, so an unchanged thread costs this read and nothing else, and a changed one needs no second read.
    messages = reader.replies(channel, ts)
    if not messages:
        return _fail("I could not find that thread: it may have been deleted.")
    head = messages[0]
    ts = str(head.get("thread_ts") or head["ts"])
    bot = services.bot_user_id
    thread = _Thread(
        messages=messages,
        lines=_lines(reader, messages, bot),
        fingerprint=fingerprint(m for m in messages if not is_noise(m, bot)),
        latest=str(head.get("latest_reply") or head["ts"]),
    )
    offline = ctx.offline
    cache = services.summaries
    team = request.team_id

    def fresh(entry: CachedSummary | None) -> bool:
        return bool(entry and not args.refresh and entry.fingerprint == thread.fingerprint and entry.offline == offline)

    cached = cache.get(team, channel, ts) if cache else None
    if cached and fresh(cached):
        return _result(cached, channel, ts, reader, "cached", cache_hit=True)
    token = cache.acquire(team, channel, ts) if cache else None
    if cache and token is None:
        # Someone else is summarizing this thread right now: wait for their result instead of paying twice.
        cache.wait_unlocked(team, channel, ts, LOCK_WAIT_S)
        cached = cache.get(team, channel, ts)
        if cached and fresh(cached):
            return _result(cached, channel, ts, reader, "cached", cache_hit=True)
        token = cache.acquire(team, channel, ts)
    try:
        entry, source = _build(args, ctx, thread, cached)
        if cache:
            cache.put(team, channel, ts, entry)
    finally:
        if cache and token:
            cache.release(team, channel, ts, token)
    return _result(entry, channel, ts, reader, source, cache_hit=source == "cached")


@dataclass(frozen=True)
class _Thread:
    """A thread as read for this request."""

    messages: list[dict[str, Any]]
    lines: list[Line]
    fingerprint: dict[str, str]
    latest: str

    @property
    def last_ts(self) -> str:
        return max((str(m["ts"]) for m in self.messages), key=float)


def _lines(reader: SlackReader, messages: list[dict[str, Any]], bot_user_id: str | None) -> list[Line]:
    people = {str(m.get("user", "")) for m in messages}
    for message in messages:
        people |= mentioned_users(str(message.get("text", "")))
    return build_lines(messages, reader.user_names(people), bot_user_id=bot_user_id)


def _build(
    args: SummarizeThreadArgs, ctx: ToolContext, thread: _Thread, cached: CachedSummary | None
) -> tuple[CachedSummary, str]:
    def entry(summary: ThreadSummary) -> CachedSummary:
        return CachedSummary(
            summary=summary,
            last_ts=thread.last_ts,
            message_count=len(thread.lines),
            latest_reply=thread.latest,
            fingerprint=thread.fingerprint,
            offline=ctx.offline,
            requested_by=ctx.request.user_id,
        )

    reusable = (
        cached is not None and cached.fingerprint is not None and not args.refresh and cached.offline == ctx.offline
    )
    if reusable and cached is not None and cached.fingerprint is not None:
        changes = compare(cached.fingerprint, thread.fingerprint)
        if not changes:
            # Only bot replies or requests to the bot were added (e.g. this very request): nothing to redo.
            return cached.model_copy(update={"latest_reply": thread.latest, "last_ts": thread.last_ts}), "cached"
        if not ctx.offline and worth_updating(changes, len(thread.lines)):
            engine = _engine(ctx)
            summary = engine.update(cached.summary, changed_lines(thread.lines, changes))
            ctx.trace.root.set(
                summary_model_calls=engine.stats.calls,
                summary_largest_prompt=engine.stats.largest_prompt,
                summary_changes=changes.count,
            )
            return entry(summary), "revised" if changes.revised else "updated"
    if ctx.offline:
        return entry(extractive_digest(thread.lines)), "offline"
    engine = _engine(ctx)
    summary = engine.summarise(thread.lines)
    ctx.trace.root.set(summary_model_calls=engine.stats.calls, summary_largest_prompt=engine.stats.largest_prompt)
    return entry(summary), "new"


def _engine(ctx: ToolContext) -> SummaryEngine:
    assert ctx.llm is not None
    settings = ctx.settings
    return SummaryEngine(
        lambda msgs, purpose: ctx.complete(
            msgs, purpose, response_format=summary_response_format(), max_output_tokens=settings.summary_output_tokens
        ),
        ctx.llm.counter,
        call_budget=settings.summary_call_budget(ctx.llm.context_tokens),
        output_tokens=settings.summary_output_tokens,
        map_calls=ctx.side_by_side,
    )


def _result(
    entry: CachedSummary, channel: str, ts: str, reader: SlackReader, source: str, *, cache_hit: bool
) -> ToolResult:
    coverage = Coverage(
        entry.message_count,
        entry.last_ts,
        reader.permalink(channel, ts),
        source,
        offline=entry.offline,
    )
    return ToolResult(
        text=render_summary(entry.summary, coverage),
        data={
            "channel": channel,
            "thread_ts": ts,
            "messages": entry.message_count,
            "cache_hit": cache_hit,
            "source": source,
            "tldr": entry.summary.tldr[:300],
        },
        sources=[channel],
    )


def _parse(text: str, lower: str) -> RouteResult:
    if not re.match(r"^(summari[sz]e|summary|tl;?dr|recap)\b", lower):
        return None
    refresh = bool(re.search(r"\b(refresh|rebuild|again|fresh)\b", lower))
    link = parse_permalink(text)
    if link:
        return [ToolCall("summarize_thread", {"channel": link[0], "thread_ts": link[1], "refresh": refresh})]
    channels = channel_refs(text)
    ts = TS.search(text)
    args: dict[str, Any] = {"refresh": refresh}
    if channels:
        args["channel"] = channels[0]
    if ts:
        args["thread_ts"] = ts.group(1)
    return [ToolCall("summarize_thread", args)]


TOOL = Tool(
    name="summarize_thread",
    summary="summarize a Slack thread: TL;DR, key points, decisions, action items, open questions",
    description=(
        "Summarize a Slack thread. With no channel/thread_ts, summarizes the thread the request was made in. "
        "Set refresh to rebuild instead of using the cached summary."
    ),
    args_model=SummarizeThreadArgs,
    handler=_summarize,
    status="is reading the thread…",
    examples=("summarize this thread", "summarize slack thread in #general with timestamp 1712345678.123456"),
    grammar=Grammar(
        verbs=("summari[sz]e",),
        parse=_parse,
        words=r"\b(?:summari[sz]e|summary|tl;?dr|recap|of|this|the|that|slack|thread|conversation|discussion|channel|"
        r"in|with|at|from|timestamp|ts|message|refresh|rebuild|again|fresh|it|here)\b",
    ),
)
