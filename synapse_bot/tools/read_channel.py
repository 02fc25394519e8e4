"""read_channel: a channel's recent messages, for questions about a channel ("summarize this channel's last day").

Without a channel it reads the one the person is looking at in the agent view, else the one they asked in. The
model gets the messages (with their reply counts) and answers in its own words; the requester must be a member of
a channel other than the one they asked in, as for thread summaries.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from synapse_bot.integrations.slack_reader import SlackReader
from synapse_bot.summaries.transcript import build_lines
from synapse_bot.tools.base import Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.slack_reading import reading_slack

MAX_MESSAGES = 200


class ReadChannelArgs(ToolArgs):
    channel: str | None = Field(
        default=None,
        description="#name or C…; omit for 'this channel'",
    )
    hours: int = Field(default=24, ge=1, le=168, description="How far back to read, in hours (a day: 24)")

    hints: ClassVar[Mapping[str, str]] = {
        "channel": "a channel, e.g. `#alerts`",
        "hours": "a number of hours from 1 to 168 (a week)",
    }


def _fail(text: str) -> ToolResult:
    return ToolResult(text=text, ok=False)


def _read(args: ReadChannelArgs, ctx: ToolContext) -> ToolResult:
    return reading_slack(ctx, "Reading a channel needs", lambda reader: _read_with(args, ctx, reader))


def _read_with(args: ReadChannelArgs, ctx: ToolContext, reader: SlackReader) -> ToolResult:
    services, request = ctx.services, ctx.request
    channel = reader.resolve_channel(args.channel) if args.channel else None
    channel = channel or request.context_channel_id or request.channel_id
    if channel.startswith("D"):
        return _fail(
            "Which channel? Name one (e.g. `summarize #alerts over the last day`), or open me beside the channel "
            "in Slack's side panel and ask there."
        )
    if channel != request.channel_id and not reader.is_member(channel, request.user_id):
        return _fail(f"You can only read channels you are a member of, and you're not in <#{channel}>.")
    messages = reader.recent_history(channel, time.time() - args.hours * 3600, MAX_MESSAGES)
    names = reader.user_names({str(m.get("user", "")) for m in messages if m.get("user")})
    lines = build_lines(messages, names, bot_user_id=services.bot_user_id)
    replies = {str(m.get("ts")): int(m.get("reply_count") or 0) for m in messages}
    if not lines:
        return ToolResult(
            text=f"No messages in <#{channel}> in the last {args.hours} h.",
            data={"channel": channel, "messages": 0},
            sources=[channel],
        )
    shown = [line.render() + (f" ({replies[line.ts]} replies)" if replies.get(line.ts) else "") for line in lines]
    capped = " (the newest ones; there may be more)" if len(messages) >= MAX_MESSAGES else ""
    return ToolResult(
        text=f"{len(lines)} messages in <#{channel}> in the last {args.hours} h{capped}:\n" + "\n".join(shown),
        data={"channel": channel, "messages": len(lines), "hours": args.hours},
        sources=[channel],
    )


TOOL = Tool(
    name="read_channel",
    summary="read a channel's recent messages: what happened there today, this week",
    description=(
        "Read a Slack channel's top-level messages of the last `hours`, oldest first, with reply counts; no channel: "
        "'this channel' (the one looked at, else asked in). For a channel; summarize_thread is for one thread."
    ),
    args_model=ReadChannelArgs,
    handler=_read,
    status="is reading the channel…",
    examples=("summarize this channel's last day",),
)
