"""The checks before any confirmed write to GitHub: the clicker is allowed, the proposal still exists, and this is
the first click (claimed once in Redis, so a double click or a redelivered action never writes twice)."""

from __future__ import annotations

from typing import Any

from synapse_bot.access import HOW_TO_ALLOW, may_write_github
from synapse_bot.store.pending import PendingWrites
from synapse_bot.tools.context import ToolContext


def claim_write(
    ctx: ToolContext, write_id: str, *, refused: str, expired: str, already: str
) -> tuple[PendingWrites, dict[str, Any]] | str:
    """(the store, the proposal) when the write may go ahead now; otherwise the sentence to reply with."""
    request = ctx.request
    if not may_write_github(ctx.settings, ctx.services.slack, request.user_id):
        return f"<@{request.user_id}>, {refused} {HOW_TO_ALLOW}"
    pending = ctx.services.pending
    proposal = pending.get(request.team_id, write_id) if pending else None
    if pending is None or proposal is None:
        return expired
    if not pending.claim(request.team_id, write_id):
        previous = pending.outcome(request.team_id, write_id)
        return already + (f"\n{previous}" if previous else "")
    return pending, proposal
