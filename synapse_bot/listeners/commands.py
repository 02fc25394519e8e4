"""The /synapse slash command."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from synapse_bot.jobs.model import RequestKind, SlackRequest
from synapse_bot.listeners.intake import Intake

COMMAND = "/synapse"


def register(app: App, intake: Intake) -> None:
    @app.command(COMMAND)
    def on_command(body: dict[str, Any], ack: Ack) -> None:
        trigger = body.get("trigger_id") or f"{body.get('channel_id')}:{body.get('user_id')}:{body.get('text')}"
        intake.accept(
            SlackRequest(
                kind=RequestKind.COMMAND,
                dedupe_key=f"command:{trigger}",
                team_id=str(body.get("team_id", "")),
                user_id=str(body.get("user_id", "")),
                channel_id=str(body.get("channel_id", "")),
                text=str(body.get("text", "")),
                thread_ts=None,
                response_url=body.get("response_url"),
            )
        )
        ack()
