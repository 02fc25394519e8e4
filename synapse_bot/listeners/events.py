"""Events API listeners: @-mentions, channel messages, and the Home tab.

One message gets at most one answer, ever. When a person edits a message that mentions Synapse, Slack sends
`app_mention` again with an `edited` field and a new event id, so a mention is claimed on its channel and message
ts, not on the event id: the edit finds the claim of the first delivery and is dropped. A message edited to add
its *first* mention of Synapse was never claimed, so it is answered once, like a new mention — but only while the
edit is younger than the claim memory (`SYNAPSE_DEDUPE_TTL_SECONDS`, measured from the message's own ts): past
that we could no longer tell whether we already answered, so the edit is ignored. `message_changed` events only
ever feed keyword monitors (which alert at most once per rule per message), never an answer.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest

from synapse_bot.listeners.follow_ups import FollowUps
from synapse_bot.listeners.intake import Intake, answer_key, retry_attempt, slack_request
from synapse_bot.request import RequestKind

MONITORED_SUBTYPES = {None, "message_changed", "thread_broadcast", "file_share", "me_message"}


def mention_key(event: dict[str, Any]) -> str:
    """The claim of a mention: its message's answer key, shared with the DM, follow-up and agent-view paths."""
    return answer_key(str(event.get("channel")), str(event.get("ts")))


def edit_may_be_answered(event: dict[str, Any], memory_seconds: int) -> bool:
    """An edited mention is answered only while a claim of the message's first delivery would still be known.

    A claim is made no earlier than the message's ts and lives `memory_seconds`, so if the edit comes less than
    that after the message was posted, an earlier answer is still on record and the claim refuses the edit.
    """
    edited = event.get("edited")
    if not edited:
        return True
    try:
        age = float(edited.get("ts") or event.get("event_ts") or 0) - float(event.get("ts") or 0)
    except (TypeError, ValueError, AttributeError):
        return False
    return 0 <= age < memory_seconds


def register(app: App, intake: Intake, follow_ups: FollowUps | None = None) -> None:
    @app.event("app_mention")
    def on_mention(
        body: dict[str, Any], event: dict[str, Any], context: BoltContext, request: BoltRequest, ack: Ack
    ) -> None:
        if str(event.get("channel", "")).startswith("D"):  # a DM is answered from its message event, once
            ack()
            return
        if (
            event.get("subtype") in ("message_changed", "message_deleted", "bot_message")
            or event.get("bot_id")
            or not edit_may_be_answered(event, intake.remembers_for)
        ):
            ack()
            return
        intake.accept(
            slack_request(
                context,
                RequestKind.MENTION,
                mention_key(event),
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
