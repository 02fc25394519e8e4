"""search_thread: find or read messages of a Slack thread — by words (best matches first) and/or by position.

Works on the thread the request was made in, or another thread given by its link, after checking that the
requester may read it. Every message shown carries its position, author, time and permalink, so an answer can
cite it. Output is bounded (at most MAX_LIMIT messages, each clipped). No model is involved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import Field

from synapse_bot.context.retrieval import rank
from synapse_bot.integrations.slack_reader import SlackReader
from synapse_bot.summaries.slack_text import mentioned_users
from synapse_bot.summaries.transcript import Line, build_lines
from synapse_bot.tools.base import Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.grammar import Grammar, RouteResult, ToolCall, parse_permalink
from synapse_bot.tools.slack_reading import reading_slack
from synapse_bot.tools.threads import THREAD_TS_HINT, ThreadChoice, ThreadTs, current_thread, named_thread

MAX_LIMIT = 30
MESSAGE_CHARS = 400


class SearchThreadArgs(ToolArgs):
    query: str | None = Field(default=None, max_length=200, description="Words to look for; best matches first")
    start: int | None = Field(
        default=None,
        description="First position to read: 1 the first message, -1 the latest (start=-10 alone: last ten)",
    )
    end: int | None = Field(default=None, description="Last position to read, inclusive")
    limit: int = Field(default=10, ge=1, le=MAX_LIMIT, description=f"At most (≤ {MAX_LIMIT})")
    channel: str | None = Field(default=None, description="Another thread's channel id (C…), from its link")
    thread_ts: ThreadTs | None = Field(default=None, description="Another thread's parent ts, from its link")

    hints: ClassVar[Mapping[str, str]] = {
        "limit": f"a number from 1 to {MAX_LIMIT}",
        "thread_ts": THREAD_TS_HINT,
        "query": "a few words, at most 200 characters",
    }


def _fail(text: str) -> ToolResult:
    return ToolResult(text=text, ok=False)


# Selection (pure) ------------------------------------------------------------------------------------------


def _position(value: int, total: int) -> int:
    return total + 1 + value if value < 0 else value


def select(lines: list[Line], args: SearchThreadArgs) -> list[int]:
    """0-based indices of the lines to show: the range (default: all), ranked by the query if there is one."""
    total = len(lines)
    if not args.query and args.start is None and args.end is None:
        return list(range(max(0, total - args.limit), total))  # the latest messages
    first = max(1, _position(args.start, total)) if args.start is not None else 1
    last = min(total, _position(args.end, total)) if args.end is not None else total
    window = list(range(first - 1, last))
    if not args.query:
        return window[: args.limit]
    ranked = rank(args.query, [lines[i].text for i in window], args.limit)
    return [window[i] for i in ranked]


# The tool ---------------------------------------------------------------------------------------------------


def _target(
    args: SearchThreadArgs, ctx: ToolContext, reader: SlackReader
) -> tuple[str, str, ThreadChoice] | ToolResult:
    request = ctx.request
    channel, choice = named_thread(ctx, reader, args.channel, args.thread_ts)
    if choice.problem:
        return _fail(choice.problem)
    if choice.ts:
        return channel, choice.ts, choice
    if channel != request.channel_id:
        return _fail("Which thread in that channel? Give me the thread's link, and I'll search it.")
    current = current_thread(request)
    if current:
        return request.channel_id, current, choice
    return _fail("Which thread? Ask me inside the thread you want searched, or give me its link.")


def _search(args: SearchThreadArgs, ctx: ToolContext) -> ToolResult:
    return reading_slack(ctx, "Searching a thread needs", lambda reader: _search_with(args, ctx, reader))


def _search_with(args: SearchThreadArgs, ctx: ToolContext, reader: SlackReader) -> ToolResult:
    target = _target(args, ctx, reader)
    if isinstance(target, ToolResult):
        return target
    channel, ts, choice = target
    return choice.annotate(_search_at(args, ctx, reader, channel, ts))


def _search_at(args: SearchThreadArgs, ctx: ToolContext, reader: SlackReader, channel: str, ts: str) -> ToolResult:
    if channel != ctx.request.channel_id and not reader.is_member(channel, ctx.request.user_id):
        return _fail(
            f"You can only search threads in conversations you are a member of, and you're not in <#{channel}>."
        )
    messages = reader.replies(channel, ts)
    root = str(messages[0].get("thread_ts") or messages[0]["ts"]) if messages else ts
    people = {str(m.get("user", "")) for m in messages}
    for message in messages:
        people |= mentioned_users(str(message.get("text", "")))
    lines = build_lines(messages, reader.user_names(people), bot_user_id=ctx.services.bot_user_id)
    chosen = select(lines, args)
    links = reader.message_links(channel, [(root, None)] + [(lines[i].ts, root) for i in chosen])
    return _result(args, lines, chosen, links, channel, root)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def _result(
    args: SearchThreadArgs, lines: list[Line], chosen: list[int], links: dict[str, str], channel: str, root: str
) -> ToolResult:
    total = len(lines)
    thread = f"[the thread]({links[root]})" if root in links else "the thread"
    if args.query:
        head = (
            f"**Thread search** — the {len(chosen)} best match{'es' if len(chosen) != 1 else ''} for “{args.query}” "
            f"among {total} messages of {thread}:"
            if chosen
            else f"**Thread search** — no message among the {total} of {thread} mentions “{args.query}”."
        )
    else:
        head = (
            f"**Thread messages** {chosen[0] + 1}–{chosen[-1] + 1} of {total} in {thread}:"
            if chosen
            else f"**Thread messages** — none in that range: {thread} has {total} message{'s' if total != 1 else ''}."
        )
    rows = []
    for i in chosen:
        line = lines[i]
        link = links.get(line.ts)
        when = datetime.fromtimestamp(float(line.ts), UTC).strftime("%Y-%m-%d %H:%M UTC")
        rows.append(
            f"• #{i + 1} · {line.author} · {when} — {_clip(line.text)}" + (f" ([link]({link}))" if link else "")
        )
    text = "\n".join([head, *rows]) if rows else head
    return ToolResult(
        text=text,
        data={
            "channel": channel,
            "thread_ts": root,
            "messages_in_thread": total,
            "query": args.query,
            "shown": [
                {"position": i + 1, "author": lines[i].author, "ts": lines[i].ts, "permalink": links.get(lines[i].ts)}
                for i in chosen
            ],
        },
        sources=[channel],
    )


_COMMAND = re.compile(r"^(?:search|find)\s+(?:in\s+)?(?:this\s+)?thread\s+for\s+(.+?)\s*$", re.I)


def _parse(text: str, lower: str) -> RouteResult:
    match = _COMMAND.match(text)
    if not match:
        return None
    query = match.group(1).strip().strip("\"“”'")
    if parse_permalink(query):
        return None  # "search thread for X in <link>" has parts to sort out: the model's job
    return [ToolCall("search_thread", {"query": query})]


TOOL = Tool(
    name="search_thread",
    summary="search or read the messages of a thread, with links to each",
    description=(
        "Search or read this Slack thread's messages (or another thread's, by channel and thread_ts from its "
        "link): `query` for the best matches, `start`/`end` positions (1 first, -1 latest) for a stretch, neither "
        "for the latest. Each comes with position, author, time and a permalink to cite."
    ),
    args_model=SearchThreadArgs,
    handler=_search,
    examples=("search this thread for migration",),
    # The query is free text: unquoted, it is "more than a command", so with a model the model words the search.
    grammar=Grammar(verbs=("search",), parse=_parse, words=r"\b(?:search|find|in|this|thread|for)\b"),
)
