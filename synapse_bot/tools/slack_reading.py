"""The frame of every tool that reads Slack: a reader for the requester's workspace, and Slack's refusals (not a
member, not found, rate-limited) turned into the tool's error sentence."""

from __future__ import annotations

from collections.abc import Callable

from synapse_bot.integrations.slack_reader import SlackReader, SlackReadError
from synapse_bot.tools.base import ToolResult
from synapse_bot.tools.context import ToolContext


def reading_slack(
    ctx: ToolContext,
    needs: str,
    work: Callable[[SlackReader], ToolResult],
    *,
    also: tuple[type[Exception], ...] = (),
) -> ToolResult:
    """`work` with a reader; `needs` starts the sentence for a runtime without Slack ("Thread summaries need");
    `also`: the tool's own errors whose message is likewise the reply."""
    services = ctx.services
    if services.slack is None:
        return ToolResult(text=f"{needs} a Slack connection, which this runtime does not have.", ok=False)
    reader = SlackReader(services.slack, services.redis, services.keys, ctx.request.team_id, services.secrets)
    refusals: tuple[type[Exception], ...] = (SlackReadError, *also)
    try:
        return work(reader)
    except refusals as exc:
        return ToolResult(text=str(exc), ok=False)


def is_admin_user(admin_ids: set[str], reader: SlackReader, user: str) -> bool:
    """Listed in SYNAPSE_ADMINS, or a Slack workspace admin."""
    if user in admin_ids:
        return True
    try:
        return bool(reader.user_info(user).get("is_admin"))
    except SlackReadError:
        return False
