"""Posting Synapse's answers to Slack: in the thread, split to fit, and never silently lost.

When the bot cannot post in a channel (not a member, private channel, DM it is not part of) a slash command
still has its `response_url`, so the person gets the answer and is told how to invite the bot.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from synapse_bot.logs import redact
from synapse_bot.render.feedback import element_blocks
from synapse_bot.render.slack import message_payloads

log = logging.getLogger(__name__)

NOT_IN_CHANNEL_ERRORS = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}


@dataclass(frozen=True)
class ReplyTarget:
    channel_id: str
    thread_ts: str | None
    user_id: str
    response_url: str | None = None


REPLY_EVENT_TYPE = "synapse_reply"


@dataclass(frozen=True)
class FoundReply:
    """What an earlier run of a request already posted: its first message and how many of its parts."""

    first_ts: str
    parts_found: int
    parts_total: int

    @property
    def complete(self) -> bool:
        return self.parts_found >= self.parts_total


class PartialReply(Exception):
    """Posting stopped part-way: `posted` holds the parts already in Slack, `error` what stopped the rest."""

    def __init__(self, posted: list[str], total: int, error: str) -> None:
        super().__init__(f"{len(posted)} of {total} parts posted; then {error}")
        self.posted = posted
        self.total = total
        self.error = error


def lost_parts_notice(missing: int, reason: str) -> str:
    parts = "part" if missing == 1 else "parts"
    return f"_The last {missing} {parts} of this answer could not be posted ({reason}). Ask again for the full answer._"


def invite_hint(channel_id: str) -> str:
    return f"I can't post in <#{channel_id}> because I'm not a member. Invite me with `/invite @synapse` and ask again."


class SlackReplier:
    """Posts markdown answers as thread replies; returns the ts of every message posted."""

    def __init__(self, client: WebClient, http_timeout: float = 10.0, secrets: Sequence[str] = ()) -> None:
        self._client = client
        self.client = client
        self._http_timeout = http_timeout
        self._secrets = tuple(secrets)

    def reply(
        self,
        target: ReplyTarget,
        markdown: str,
        buttons: list[dict[str, Any]] | None = None,
        *,
        marker: str | None = None,
    ) -> list[str]:
        """Post `markdown` (split to fit) in the thread; `marker` tags each part so a rerun can find them.

        Raises PartialReply when a part after the first fails, so the caller knows some of it is already in Slack.
        """
        posted: list[str] = []
        # Whatever a tool, the model or a pasted message produced, a configured secret never reaches Slack.
        markdown = redact(markdown, self._secrets)
        payloads = message_payloads(markdown)
        if buttons and payloads:
            payloads[-1]["blocks"] = [*payloads[-1]["blocks"], *element_blocks(buttons)]
        if marker:
            for index, payload in enumerate(payloads):
                tag = {"request": marker, "part": index, "parts": len(payloads)}
                payload["metadata"] = {"event_type": REPLY_EVENT_TYPE, "event_payload": tag}
        for payload in payloads:
            try:
                response = self._client.chat_postMessage(
                    channel=target.channel_id,
                    thread_ts=target.thread_ts,
                    unfurl_links=False,
                    unfurl_media=False,
                    **payload,
                )
            except SlackApiError as exc:
                error = str(exc.response.get("error", "unknown_error"))
                log.warning("chat.postMessage failed", extra={"error": error, "channel": target.channel_id})
                if posted:
                    raise PartialReply(posted, len(payloads), error) from exc
                if error in NOT_IN_CHANNEL_ERRORS and self._respond_privately(target, markdown):
                    return posted
                raise
            posted.append(str(response["ts"]))
        return posted

    def update(self, channel_id: str, ts: str, markdown: str) -> bool:
        """Edit a message Synapse posted (a GitHub card whose issue changed) to `markdown`'s first piece; False when
        Slack refused (the message was deleted, say)."""
        payload = message_payloads(redact(markdown, self._secrets))[0]
        try:
            self._client.chat_update(channel=channel_id, ts=ts, **payload)
        except SlackApiError as exc:
            log.info("chat.update failed", extra={"error": exc.response.get("error"), "channel": channel_id})
            return False
        return True

    def find_reply(self, target: ReplyTarget, marker: str, since_ts: float) -> FoundReply | None:
        """The messages we posted carrying `marker`, looking in the thread (or recent channel history)."""
        try:
            if target.thread_ts:
                response = self._client.conversations_replies(
                    channel=target.channel_id, ts=target.thread_ts, include_all_metadata=True, limit=1000
                )
            else:
                response = self._client.conversations_history(
                    channel=target.channel_id, oldest=f"{since_ts - 5:.6f}", include_all_metadata=True, limit=200
                )
        except SlackApiError as exc:
            log.info("could not look for an earlier reply", extra={"error": exc.response.get("error")})
            return None
        parts: dict[int, str] = {}
        total = 1
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == REPLY_EVENT_TYPE and payload.get("request") == marker:
                index, count = payload.get("part", 0), payload.get("parts", 1)
                parts[index if isinstance(index, int) else 0] = str(message.get("ts"))
                total = max(total, count if isinstance(count, int) else 1)
        if not parts:
            return None
        return FoundReply(parts[min(parts)], len(parts), total)

    def _respond_privately(self, target: ReplyTarget, markdown: str) -> bool:
        """Answer through the slash command's response_url (visible only to the requester)."""
        if not target.response_url:
            return False
        text = invite_hint(target.channel_id) + "\n\n" + markdown
        webhook = WebhookClient(target.response_url, timeout=int(self._http_timeout))
        for payload in message_payloads(text):
            try:
                resp = webhook.send(response_type="ephemeral", **payload)
            except OSError as exc:
                log.warning("response_url post failed", extra={"error": type(exc).__name__})
                return False
            if resp.status_code >= 300:
                log.warning("response_url post refused", extra={"status": resp.status_code})
                return False
        return True

    def reply_privately(
        self,
        target: ReplyTarget,
        markdown: str,
        buttons: list[dict[str, Any]] | None = None,
        *,
        note_here: str = "",
        note_elsewhere: str = "",
    ) -> str | None:
        """Show `markdown` to the requester alone: ephemeral messages in the thread, else a DM.

        `note_here` heads the ephemeral answer, `note_elsewhere` the DM (which must say where it was asked).
        Returns where it went ("ephemeral" or the DM's channel id), or None if Slack refused both.
        """

        def payloads(note: str) -> list[dict[str, Any]]:
            parts = message_payloads(redact(f"{note}\n\n{markdown}" if note else markdown, self._secrets))
            if buttons and parts:
                parts[-1]["blocks"] = [*parts[-1]["blocks"], *element_blocks(buttons)]
            return parts

        try:
            for payload in payloads(note_here):
                self._client.chat_postEphemeral(
                    channel=target.channel_id, user=target.user_id, thread_ts=target.thread_ts, **payload
                )
            return "ephemeral"
        except SlackApiError as exc:
            log.info("private reply not shown in the channel", extra={"error": exc.response.get("error")})
        try:
            channel = str(self._client.conversations_open(users=target.user_id)["channel"]["id"])
            for payload in payloads(note_elsewhere):
                self._client.chat_postMessage(channel=channel, unfurl_links=False, unfurl_media=False, **payload)
            return channel
        except SlackApiError as exc:
            log.warning("private reply not delivered", extra={"error": exc.response.get("error")})
            return None

    def ephemeral(self, channel_id: str, user_id: str, thread_ts: str | None, text: str) -> None:
        try:
            self._client.chat_postEphemeral(channel=channel_id, user=user_id, thread_ts=thread_ts, text=text)
        except SlackApiError as exc:
            log.info("ephemeral reply failed", extra={"error": exc.response.get("error")})

    def notify(self, user_id: str, markdown: str) -> None:
        """A direct message to one person (e.g. the outcome of a Home tab button)."""
        try:
            channel = str(self._client.conversations_open(users=user_id)["channel"]["id"])
            for payload in message_payloads(markdown):
                self._client.chat_postMessage(channel=channel, **payload)
        except SlackApiError as exc:
            log.warning("direct message failed", extra={"error": exc.response.get("error")})

    def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        self._client.views_publish(user_id=user_id, view=view)
