"""The /synapse slash command."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from synapse_bot.listeners.intake import Intake, slack_request
from synapse_bot.request import RequestKind

COMMAND = "/synapse"


def register(app: App, intake: Intake) -> None:
    @app.command(COMMAND)
    def on_command(body: dict[str, Any], context: BoltContext, ack: Ack) -> None:
        trigger = body.get("trigger_id") or f"{body.get('channel_id')}:{body.get('user_id')}:{body.get('text')}"
        intake.accept(
            slack_request(
                context,
                RequestKind.COMMAND,
                f"command:{trigger}",
                text=str(body.get("text", "")),
                thread_ts=None,
                response_url=body.get("response_url"),
            )
        )
        ack()
