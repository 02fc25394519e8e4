"""Which thread a tool call means: one rule for the `thread_ts` argument of every tool that reads a thread.

Small models copy what the prompt shows into `thread_ts`: the time beside a thread line (`2026-11-30 18:26`), an
ISO time, or a number they made up. When the request was made in a thread and the call names that thread's channel
(or none), such a value can only mean "this thread": a `thread_ts` that is not a Slack timestamp, or one at which
the channel has no message, is replaced by the current thread. A real thread is kept, even when it is not the
current one. Outside a thread there is nothing to fall back on, and the answer says what a thread timestamp looks
like and where to find it.

The decision is pure (`choose_thread`). `resolve_thread` applies it to a call: it asks Slack only whether a
well-formed timestamp names another thread of the current channel, and records a replacement on the tool's span;
the tool's result then tells the model which thread it got, and the person only if they wrote that value
themselves. Argument models declare `thread_ts: ThreadTs | None`: the schema shows models the pattern, validation
checks only the length, and this rule does the rest where the request is known.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints, WithJsonSchema

from synapse_bot.integrations.slack_reader import SlackReader
from synapse_bot.request import SlackRequest
from synapse_bot.tools.base import ToolResult
from synapse_bot.tools.context import ToolContext

TS_PATTERN = r"^[0-9]{9,11}\.[0-9]{1,6}$"
_SLACK_TS = re.compile(TS_PATTERN)
THREAD_TS_HINT = "a message timestamp like `1712345678.123456`, or paste the thread's link"
WHERE_TO_FIND = (
    "A thread's timestamp looks like `1712345678.123456`, and it is in the thread's link (*Copy link* on its first "
    "message: `…/p1712345678123456` is `1712345678.123456`). Paste that link, or ask me inside the thread."
)
SHOWN_CHARS = 40  # of a value echoed back

# The schema says what a timestamp looks like (servers that constrain arguments enforce it); validation only bounds
# the length, so that a malformed value reaches `resolve_thread`, which knows whether the request has a thread.
ThreadTs = Annotated[str, StringConstraints(max_length=100), WithJsonSchema({"type": "string", "pattern": TS_PATTERN})]


class Replaced(StrEnum):
    """Why a call's thread_ts gave way to the current thread (recorded on the tool's span)."""

    NOT_A_TIMESTAMP = "not_a_timestamp"
    NO_SUCH_THREAD = "no_such_thread"


def is_slack_ts(value: str) -> bool:
    return bool(_SLACK_TS.match(value))


def current_thread(request: SlackRequest) -> str | None:
    """The thread the request was made in (the shortcut's is the message it was used on); None outside one."""
    return request.thread_asked_in


def written_by_person(given: str, asked: str) -> bool:
    """Whether the person's own words hold the value (as written, or as the `p…` part of a thread link): then a
    replacement matters to them. Values without digits ("this", "current") are the model's words."""
    if not any(ch.isdigit() for ch in given):
        return False
    return given in asked or (is_slack_ts(given) and f"/p{given.replace('.', '')}" in asked)


def _shown(value: str) -> str:
    value = " ".join(value.split()).replace("`", "'")
    return value if len(value) <= SHOWN_CHARS else value[: SHOWN_CHARS - 1] + "…"


@dataclass(frozen=True)
class ThreadChoice:
    """What a call's thread_ts comes to: a thread to read (None: no thread named), or a sentence for the person."""

    ts: str | None = None
    problem: str | None = None
    replaced: str | None = None  # the call's thread_ts, where the current thread took its place
    reason: Replaced | None = None
    tell: bool = False  # the person wrote that value themselves: the answer says which thread it is about

    def annotate(self, result: ToolResult) -> ToolResult:
        """The tool's result, saying which thread it is about where the call's thread_ts was set aside."""
        if self.replaced is None or self.reason is None:
            return result
        given = _shown(self.replaced)
        why = (
            f"`{given}` is not a thread timestamp"
            if self.reason is Replaced.NOT_A_TIMESTAMP
            else f"no thread in this channel is at `{given}`"
        )
        data = {**result.data, "thread_ts_note": f"{why}, so this is the thread the request was made in."}
        text = result.text
        if self.tell:
            said = (
                f"{why[0].upper()}{why[1:]}, so this is about the thread you asked in. For another one, paste its link."
            )
            text = f"_{said}_\n\n{text}"
        return result.model_copy(update={"data": data, "text": text})


def choose_thread(
    given: str | None,
    *,
    current: str | None,
    same_channel: bool,
    asked: str,
    exists: Callable[[str], bool],
) -> ThreadChoice:
    """The thread a call means. `current`: the request's own thread; `same_channel`: the call names the request's
    channel (or none); `asked`: what the person wrote; `exists`: whether the channel has a message at a timestamp
    (asked only for a well-formed one that is not the current thread, when there is a current thread to fall back on).
    """
    if not given:
        return ThreadChoice()
    fallback = current if same_channel else None
    tell = written_by_person(given, asked)
    if not is_slack_ts(given):
        if fallback is None:
            return ThreadChoice(problem=f"`{_shown(given)}` is not a thread timestamp. {WHERE_TO_FIND}")
        return ThreadChoice(fallback, replaced=given, reason=Replaced.NOT_A_TIMESTAMP, tell=tell)
    if fallback is None or given == fallback or tell or exists(given):
        # A thread the person named themselves (its link, its ts) is the one read: if it is gone, the tool says so,
        # rather than answering about another thread than the one they pointed at.
        return ThreadChoice(given)
    return ThreadChoice(fallback, replaced=given, reason=Replaced.NO_SUCH_THREAD, tell=tell)


def resolve_thread(ctx: ToolContext, reader: SlackReader, channel: str, given: str | None) -> ThreadChoice:
    """`choose_thread` for a call reading `channel` (already resolved to an id); a replacement goes on the span."""
    request = ctx.request
    choice = choose_thread(
        given,
        current=current_thread(request),
        same_channel=channel == request.channel_id,
        asked=request.text,
        exists=lambda ts: reader.has_thread(channel, ts),
    )
    if choice.reason is not None:
        ctx.trace.current().set(thread_ts_replaced=choice.reason.value)
    return choice


def named_thread(
    ctx: ToolContext, reader: SlackReader, channel_arg: str | None, given: str | None
) -> tuple[str, ThreadChoice]:
    """The channel a thread tool reads (the one the call names, else the request's) and the thread chosen in it."""
    channel = reader.resolve_channel(channel_arg) if channel_arg else ctx.request.channel_id
    return channel, resolve_thread(ctx, reader, channel, given)
