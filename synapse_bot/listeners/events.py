"""Events API listeners: @-mentions, channel messages, and the Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltRequest

from synapse_bot.jobs.model import RequestKind, SlackRequest
from synapse_bot.listeners.intake import Intake, retry_attempt

MONITORED_SUBTYPES = {None, "message_changed", "thread_broadcast", "file_share", "me_message"}


def _team(body: dict[str, Any], event: dict[str, Any]) -> str:
    return str(body.get("team_id") or event.get("team") or "")


def register(app: App, intake: Intake) -> None:
    @app.event("app_mention")
    def on_mention(body: dict[str, Any], event: dict[str, Any], request: BoltRequest, ack: Ack) -> None:
        if event.get("subtype") in ("message_changed", "message_deleted", "bot_message") or event.get("bot_id"):
            ack()
            return
        intake.accept(
            SlackRequest(
                kind=RequestKind.MENTION,
                dedupe_key=str(body.get("event_id") or f"mention:{event.get('channel')}:{event.get('ts')}"),
                team_id=_team(body, event),
                user_id=str(event.get("user", "")),
                channel_id=str(event.get("channel", "")),
                text=str(event.get("text", "")),
                thread_ts=str(event.get("thread_ts") or event.get("ts")),
                message_ts=str(event.get("ts")),
                retry_attempt=retry_attempt(request.headers),
            )
        )
        ack()

    @app.event("message")
    def on_message(body: dict[str, Any], event: dict[str, Any], request: BoltRequest, ack: Ack) -> None:
        # Channel messages feed keyword monitors (mentions also arrive separately, as app_mention).
        if not event.get("bot_id") and event.get("subtype") in MONITORED_SUBTYPES:
            intake.accept(
                SlackRequest(
                    kind=RequestKind.MESSAGE,
                    dedupe_key=str(body.get("event_id") or f"message:{event.get('channel')}:{event.get('ts')}"),
                    team_id=_team(body, event),
                    user_id=str(event.get("user") or (event.get("message") or {}).get("user") or ""),
                    channel_id=str(event.get("channel", "")),
                    message_ts=str(event.get("ts", "")),
                    event=event,
                    retry_attempt=retry_attempt(request.headers),
                )
            )
        ack()

    @app.event("app_home_opened")
    def on_home_opened(body: dict[str, Any], event: dict[str, Any], request: BoltRequest, ack: Ack) -> None:
        if event.get("tab", "home") == "home":
            intake.accept(
                SlackRequest(
                    kind=RequestKind.HOME,
                    dedupe_key=str(body.get("event_id") or f"home:{event.get('user')}:{event.get('event_ts')}"),
                    team_id=_team(body, event),
                    user_id=str(event.get("user", "")),
                    channel_id=str(event.get("channel", "")),
                    retry_attempt=retry_attempt(request.headers),
                )
            )
        ack()
