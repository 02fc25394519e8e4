"""Follow-ups: in a thread where Synapse has answered, a message meant for it is answered without a mention.

Meant for it (`context/addressed.py`): from someone who asked Synapse in that thread, within
SYNAPSE_FOLLOW_UP_WINDOW_SECONDS of its last answer, reading as a question or request to it — not a statement, a
reply to someone else, an acknowledgement or a question put to the group. A question that could be for anyone is
queued to be checked by one small model call first (`confirm_addressed`); a complete command ("summarize this
thread") is for Synapse whoever writes it. Never for bots or Synapse itself, never in threads Synapse has not
answered in, not when the message mentions Synapse (the `app_mention` event answers that one). The channel message
still feeds the keyword monitors: this check runs beside them. SYNAPSE_FOLLOW_UPS=false turns it off.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import redis
from slack_bolt import BoltContext

from synapse_bot.context.addressed import Addressed, addressed
from synapse_bot.dispatch.fast_path import FastPath
from synapse_bot.listeners.intake import Intake, answer_key, slack_request
from synapse_bot.request import RequestKind, Surface
from synapse_bot.store.conversations import AnsweredThreads

log = logging.getLogger(__name__)

FOLLOW_UP_SUBTYPES = (None, "file_share", "thread_broadcast")
ADDRESSED = re.compile(r"^\s*<(?:@[UW][A-Z0-9]+|!subteam\^[A-Z0-9]+|!here|!channel|!everyone)")


def addressed_to_someone_else(text: str) -> bool:
    """Does the message open with a mention (of a person or a group)? The bot's own mention never reaches here."""
    return bool(ADDRESSED.match(text))


class FollowUps:
    def __init__(
        self, intake: Intake, answered: AnsweredThreads, bot_user_id: str, commands: FastPath, window_s: float
    ) -> None:
        self._intake = intake
        self._answered = answered
        self._bot_user_id = bot_user_id
        self._commands = commands
        self._window_s = window_s

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
            facts = self._answered.facts(context.team_id or "", channel, str(thread_ts), str(event.get("user")))
        except (redis.RedisError, OSError) as exc:
            log.info("follow-up check skipped (redis)", extra={"error": type(exc).__name__})
            return False
        if facts is None:
            return False  # Synapse has not answered in this thread
        routed = self._commands.route(text)
        if text.strip() and routed.complete and isinstance(routed.result, list):
            verdict = Addressed.ANSWER  # a command is for Synapse, whoever writes it
        else:
            verdict = addressed(text, facts, window_s=self._window_s, bot_user_id=self._bot_user_id)
        if verdict is Addressed.IGNORE:
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
                confirm_addressed=verdict is Addressed.CHECK,
                retry_attempt=retry,
            )
        )
