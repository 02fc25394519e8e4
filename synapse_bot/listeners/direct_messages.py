"""Direct messages to Synapse (the App Home's messages tab): every one is a question, as a mention is.

Messages inside a DM thread reach Bolt's `Assistant` middleware first (see `assistant.py`); what arrives here is a
top-level DM, whose own thread becomes "this thread". Slack sends no `app_mention` for DMs, so nothing else answers.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest

from synapse_bot.listeners.intake import Intake, answer_key, retry_attempt, slack_request
from synapse_bot.request import RequestKind, Surface

ANSWERED_SUBTYPES = (None, "file_share")


def is_direct_message(event: dict[str, Any]) -> bool:
    return event.get("channel_type") == "im"


def register(app: App, intake: Intake) -> None:
    @app.event("message", matchers=[is_direct_message])
    def on_direct_message(event: dict[str, Any], context: BoltContext, request: BoltRequest, ack: Ack) -> None:
        if event.get("bot_id") or event.get("subtype") not in ANSWERED_SUBTYPES or not event.get("user"):
            ack()
            return
        ts = str(event.get("ts"))
        intake.accept(
            slack_request(
                context,
                RequestKind.MENTION,
                answer_key(str(event.get("channel")), ts),
                text=str(event.get("text", "")),
                thread_ts=str(event.get("thread_ts") or ts),
                message_ts=ts,
                surface=Surface.DM,
                retry_attempt=retry_attempt(request.headers),
            )
        )
        ack()
