"""The "Summarize thread" message shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from synapse_bot.jobs.model import RequestKind, SlackRequest
from synapse_bot.listeners.intake import Intake

SUMMARIZE_SHORTCUT = "synapse_summarize_thread"


def register(app: App, intake: Intake) -> None:
    @app.shortcut(SUMMARIZE_SHORTCUT)
    def on_summarize(body: dict[str, Any], ack: Ack) -> None:
        message = body.get("message") or {}
        message_ts = str(message.get("ts") or body.get("message_ts") or "")
        team = body.get("team") or {}
        intake.accept(
            SlackRequest(
                kind=RequestKind.SHORTCUT,
                dedupe_key=f"shortcut:{body.get('trigger_id') or message_ts}",
                team_id=str(team.get("id") or body.get("team_id") or ""),
                user_id=str((body.get("user") or {}).get("id", "")),
                channel_id=str((body.get("channel") or {}).get("id", "")),
                thread_ts=str(message.get("thread_ts") or message_ts),
                message_ts=message_ts,
                response_url=body.get("response_url"),
                callback_id=SUMMARIZE_SHORTCUT,
            )
        )
        ack()
