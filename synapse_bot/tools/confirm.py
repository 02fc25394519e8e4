"""Writes outside Slack (GitHub labels, reviews) happen only when an allowed person confirms them.

A tool `propose`s a write: the proposal is stored and a button carrying only its id goes under the answer. The
click runs `confirmed_write`: the clicker must be allowed, the proposal must still exist, and only the first click
writes (claimed once in Redis, so a double click or a redelivered action never writes twice; later clicks are told
what happened). A failed write releases the claim so the person can try again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from synapse_bot.access import HOW_TO_ALLOW
from synapse_bot.github.errors import GitHubError
from synapse_bot.tools.base import ActionOutcome
from synapse_bot.tools.context import ToolContext

# proposal -> (what to tell the thread, what to remember as the outcome for later clicks)
Write = Callable[[dict[str, Any]], tuple[str, str]]


@dataclass(frozen=True)
class WriteWording:
    """The sentences of one kind of write, for each way a click can end."""

    refused: str  # the clicker may not write, e.g. "I can't apply labels for you."
    expired: str  # the proposal is gone
    already: str  # an earlier click wrote it
    failed: str  # GitHub refused; followed by GitHub's reason


def propose(
    ctx: ToolContext, kind: str, payload: dict[str, Any], *, action_id: str, label: str, style: str | None = None
) -> list[dict[str, Any]]:
    """Store a proposed write; the button that confirms it (none where there is no store to keep it)."""
    pending = ctx.services.pending
    if pending is None:
        return []
    write_id = pending.save(ctx.request.team_id, kind, payload)
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "value": write_id,
        "text": {"type": "plain_text", "text": label},
    }
    if style:
        button["style"] = style
    return [button]


def confirmed_write(ctx: ToolContext, write_id: str, wording: WriteWording, write: Write) -> ActionOutcome:
    """Run `write` on the stored proposal if the clicker may, and only for the first click."""
    request = ctx.request
    writers = ctx.services.writers
    if writers is None or not writers.may_write(request.user_id):
        return ActionOutcome(f"<@{request.user_id}>, {wording.refused} {HOW_TO_ALLOW}")
    pending = ctx.services.pending
    proposal = pending.get(request.team_id, write_id) if pending else None
    if pending is None or proposal is None:
        return ActionOutcome(wording.expired)
    if not pending.claim(request.team_id, write_id):
        previous = pending.outcome(request.team_id, write_id)
        return ActionOutcome(wording.already + (f"\n{previous}" if previous else ""))
    try:
        text, record = write(proposal)
    except GitHubError as exc:
        pending.release(request.team_id, write_id)
        return ActionOutcome(f"{wording.failed}: {exc}")
    pending.record(request.team_id, write_id, record)
    return ActionOutcome(text)
