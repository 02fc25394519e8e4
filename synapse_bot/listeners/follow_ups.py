"""Follow-ups: in a thread where Synapse has answered, a person's next message is answered without a mention.

Only when the message is addressed to nobody else (it does not open with someone else's mention or a group
ping), never for bots or Synapse itself, never in threads Synapse has not answered in, and not when the message
mentions Synapse (the `app_mention` event answers that one). The channel message still feeds the keyword monitors:
this check runs beside them, from the channel-message listener. SYNAPSE_FOLLOW_UPS=false turns it off.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import redis
from slack_bolt import BoltContext

from synapse_bot.listeners.direct_messages import answer_key
from synapse_bot.listeners.intake import Intake, slack_request
from synapse_bot.request import RequestKind, Surface
from synapse_bot.store.conversations import AnsweredThreads

log = logging.getLogger(__name__)

FOLLOW_UP_SUBTYPES = (None, "file_share", "thread_broadcast")
ADDRESSED = re.compile(r"^\s*<(?:@[UW][A-Z0-9]+|!subteam\^[A-Z0-9]+|!here|!channel|!everyone)")


def addressed_to_someone_else(text: str) -> bool:
    """Does the message open with a mention (of a person or a group)? The bot's own mention never reaches here."""
    return bool(ADDRESSED.match(text))


class FollowUps:
    def __init__(self, intake: Intake, answered: AnsweredThreads, bot_user_id: str) -> None:
        self._intake = intake
        self._answered = answered
        self._bot_user_id = bot_user_id

    def consider(self, event: dict[str, Any], context: BoltContext, retry: int) -> bool:
        """Queue the message as a question when it is a follow-up; True when queued."""
        text = str(event.get("text", ""))
        thread_ts, ts, channel = event.get("thread_ts"), str(event.get("ts", "")), str(event.get("channel", ""))
        if (
            not thread_ts
            or thread_ts == ts
            or event.get("bot_id")
            or event.get("subtype") not in FOLLOW_UP_SUBTYPES
            or event.get("user") in (None, self._bot_user_id)
            or f"<@{self._bot_user_id}>" in text
            or addressed_to_someone_else(text)
        ):
            return False
        try:
            if not self._answered.answered_in(context.team_id or "", channel, str(thread_ts)):
                return False
        except (redis.RedisError, OSError) as exc:
            log.info("follow-up check skipped (redis)", extra={"error": type(exc).__name__})
            return False
        return self._intake.accept(
            slack_request(
                context,
                RequestKind.MENTION,
                answer_key(channel, ts),
                text=text,
                thread_ts=str(thread_ts),
                message_ts=ts,
                surface=Surface.FOLLOW_UP,
                retry_attempt=retry,
            )
        )
