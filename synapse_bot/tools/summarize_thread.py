"""summarize_thread: a structured summary of a Slack thread (TL;DR, decisions, action items, open questions)."""

from __future__ import annotations

from pydantic import Field

from synapse_bot.tools.base import Tool, ToolArgs, not_available_yet


class SummarizeThreadArgs(ToolArgs):
    channel: str | None = Field(
        default=None, description="Channel id (C…) or #name holding the thread; omit for the current thread"
    )
    thread_ts: str | None = Field(
        default=None, pattern=r"^\d{9,11}\.\d{1,6}$", description="Timestamp of the thread's parent message"
    )
    refresh: bool = Field(default=False, description="Rebuild the summary instead of using the cached one")


TOOL = Tool(
    name="summarize_thread",
    summary="summarize a Slack thread: TL;DR, key points, decisions, action items, open questions",
    description=("Summarize a Slack thread. With no channel/thread_ts, summarizes the thread the request was made in."),
    args_model=SummarizeThreadArgs,
    handler=not_available_yet("summarize_thread", "thread summaries"),
    examples=("summarize this thread", "summarize slack thread in #general with timestamp 1712345678.123456"),
    needs_llm=True,
    available=False,
)
