"""The "Summarize thread" message shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from synapse_bot.listeners.intake import Intake, slack_request
from synapse_bot.request import RequestKind

SUMMARIZE_SHORTCUT = "synapse_summarize_thread"


def register(app: App, intake: Intake) -> None:
    @app.shortcut(SUMMARIZE_SHORTCUT)
    def on_summarize(body: dict[str, Any], context: BoltContext, ack: Ack) -> None:
        message = body.get("message") or {}
        message_ts = str(message.get("ts") or body.get("message_ts") or "")
        intake.accept(
            slack_request(
                context,
                RequestKind.SHORTCUT,
                f"shortcut:{body.get('trigger_id') or message_ts}",
                thread_ts=str(message.get("thread_ts") or message_ts),
                message_ts=message_ts,
                response_url=body.get("response_url"),
                callback_id=SUMMARIZE_SHORTCUT,
            )
        )
        ack()
