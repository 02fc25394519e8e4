"""Posting something exactly once under a key, whoever posts it and however often the job runs: what Synapse posts
without being asked (GitHub cards and the lines in their threads, digests, notices) goes through here.

The key is claimed with the reply guard (`jobs/guard.py`); the message carries it as metadata, so a run that finds
an earlier run died mid-post looks in Slack before posting again. Callers serialise posts under one key (the events
job holds its repository's lock), which is what makes the look reliable.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_sdk.errors import SlackApiError

from synapse_bot.integrations.slack import NOT_IN_CHANNEL_ERRORS, PartialReply, ReplyTarget, SlackReplier
from synapse_bot.jobs.guard import ClaimState, ReplyGuard

log = logging.getLogger(__name__)

LOOK_BACK_S = 300  # how far back an in-doubt post is looked for in a channel's history


class NotPostable(Exception):
    """Slack refuses posting there for good (the bot left the channel, it was archived): not worth retrying."""

    def __init__(self, channel_id: str, error: str) -> None:
        super().__init__(f"cannot post in {channel_id}: {error}")
        self.channel_id = channel_id
        self.error = error


class PostOnce:
    def __init__(self, replier: SlackReplier, guard: ReplyGuard) -> None:
        self.replier = replier
        self.guard = guard

    def post(
        self,
        team_id: str,
        key: str,
        channel_id: str,
        markdown: str,
        *,
        thread_ts: str | None = None,
        buttons: list[dict[str, Any]] | None = None,
    ) -> str:
        """The ts of the message posted under `key` — this call's, or an earlier run's. Raises NotPostable when
        Slack refuses the channel, SlackApiError for other failures (the key is released: a retry may post)."""
        target = ReplyTarget(channel_id, thread_ts, "")
        claim = self.guard.claim(team_id, key)
        if claim.state is ClaimState.POSTED and claim.posted_ts:
            return claim.posted_ts
        if claim.state is ClaimState.IN_DOUBT:
            found = self.replier.find_reply(target, key, time.time() - LOOK_BACK_S)
            if found is not None:
                self.guard.record(claim, found.first_ts)
                return found.first_ts
        try:
            posted = self.replier.reply(target, markdown, buttons or [], marker=key)
        except PartialReply as partial:
            self.guard.record(claim, partial.posted[0])
            return partial.posted[0]
        except SlackApiError as exc:
            self.guard.release(claim)
            error = str(exc.response.get("error"))
            if error in NOT_IN_CHANNEL_ERRORS:
                raise NotPostable(channel_id, error) from None
            raise
        self.guard.record(claim, posted[0])
        return posted[0]

    def posted(self, team_id: str, key: str) -> str | None:
        """The ts already posted under `key`, if any."""
        return self.guard.posted(team_id, key)

    def mark(self, team_id: str, key: str, value: str) -> None:
        """Record `key` as handled without a message of its own (an event folded into a digest)."""
        claim = self.guard.claim(team_id, key)
        if claim.state is not ClaimState.POSTED:
            self.guard.record(claim, value)
