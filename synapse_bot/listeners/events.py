"""Events API listeners: @-mentions, channel messages, and the Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest

from synapse_bot.listeners.follow_ups import FollowUps
from synapse_bot.listeners.intake import Intake, retry_attempt, slack_request
from synapse_bot.request import RequestKind

MONITORED_SUBTYPES = {None, "message_changed", "thread_broadcast", "file_share", "me_message"}


def register(app: App, intake: Intake, follow_ups: FollowUps | None = None) -> None:
    @app.event("app_mention")
    def on_mention(
        body: dict[str, Any], event: dict[str, Any], context: BoltContext, request: BoltRequest, ack: Ack
    ) -> None:
        if str(event.get("channel", "")).startswith("D"):  # a DM is answered from its message event, once
            ack()
            return
        if event.get("subtype") in ("message_changed", "message_deleted", "bot_message") or event.get("bot_id"):
            ack()
            return
        intake.accept(
            slack_request(
                context,
                RequestKind.MENTION,
                str(body.get("event_id") or f"mention:{event.get('channel')}:{event.get('ts')}"),
                text=str(event.get("text", "")),
                thread_ts=str(event.get("thread_ts") or event.get("ts")),
                message_ts=str(event.get("ts")),
                retry_attempt=retry_attempt(request.headers),
            )
        )
        ack()

    @app.event("message")
    def on_message(
        body: dict[str, Any], event: dict[str, Any], context: BoltContext, request: BoltRequest, ack: Ack
    ) -> None:
        # Channel messages feed keyword monitors (mentions also arrive separately, as app_mention).
        if not event.get("bot_id") and event.get("subtype") in MONITORED_SUBTYPES:
            intake.accept(
                slack_request(
                    context,
                    RequestKind.MESSAGE,
                    str(body.get("event_id") or f"message:{event.get('channel')}:{event.get('ts')}"),
                    message_ts=str(event.get("ts", "")),
                    event=event,
                    retry_attempt=retry_attempt(request.headers),
                )
            )
        if follow_ups is not None:
            follow_ups.consider(event, context, retry_attempt(request.headers))
        ack()

    @app.event("app_home_opened")
    def on_home_opened(
        body: dict[str, Any], event: dict[str, Any], context: BoltContext, request: BoltRequest, ack: Ack
    ) -> None:
        if event.get("tab", "home") == "home":
            intake.accept(
                slack_request(
                    context,
                    RequestKind.HOME,
                    str(body.get("event_id") or f"home:{event.get('user')}:{event.get('event_ts')}"),
                    retry_attempt=retry_attempt(request.headers),
                )
            )
        ack()
