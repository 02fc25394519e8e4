"""Exactly one reply per request, even when a job runs twice.

Slack delivers at least once and the queue redelivers a dead worker's job, so a request's job may run more than
once. Before posting, the job claims the request's reply key (`SET NX`, a short lease); after posting it stores the
posted ts there for as long as deliveries are deduplicated. A later run that finds a ts does nothing. A run that
finds a lease whose owner died mid-post looks in Slack for a message carrying the request's marker (message
metadata) before posting, so the one window where a crash could double-post is closed too.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from enum import Enum

import redis

from synapse_bot.store.keys import Keys

log = logging.getLogger(__name__)

POSTED_PREFIX = "ts:"
LEASE_PREFIX = "posting:"
STREAMING_PREFIX = "streaming:"  # an answer being streamed: its message exists and is still being written


class ClaimState(Enum):
    FRESH = "fresh"  # nobody has tried to reply: post
    POSTED = "posted"  # a reply exists: do nothing
    IN_DOUBT = "in_doubt"  # an earlier run started posting and never finished: look before posting
    UNGUARDED = "unguarded"  # Redis is unreachable: post (twice beats never)
    STREAMING = "streaming"  # an earlier run was streaming the answer and died: mark that message, post nothing


@dataclass(frozen=True)
class ReplyClaim:
    state: ClaimState
    team_id: str
    request_key: str
    token: str = ""
    posted_ts: str | None = None


class ReplyGuard:
    def __init__(self, client: redis.Redis, keys: Keys, *, ttl_seconds: int, lease_seconds: int = 120) -> None:
        self._r = client
        self._keys = keys
        self._ttl = ttl_seconds
        self._lease = lease_seconds

    def posted(self, team_id: str, request_key: str) -> str | None:
        """The ts of the reply already posted for this request, if any."""
        try:
            value = self._r.get(self._keys.reply(team_id, request_key))
        except (redis.RedisError, OSError):
            return None
        text = str(value) if value else ""
        return text.removeprefix(POSTED_PREFIX) if text.startswith(POSTED_PREFIX) else None

    def streaming(self, team_id: str, request_key: str) -> str | None:
        """The ts of this request's answer if a run was streaming it and never finished."""
        try:
            value = str(self._r.get(self._keys.reply(team_id, request_key)) or "")
        except (redis.RedisError, OSError):
            return None
        return value.removeprefix(STREAMING_PREFIX) if value.startswith(STREAMING_PREFIX) else None

    def claim(self, team_id: str, request_key: str) -> ReplyClaim:
        key = self._keys.reply(team_id, request_key)
        token = uuid.uuid4().hex
        try:
            if self._r.set(key, LEASE_PREFIX + token, nx=True, ex=self._lease):
                return ReplyClaim(ClaimState.FRESH, team_id, request_key, token)
            current = str(self._r.get(key) or "")
        except (redis.RedisError, OSError) as exc:
            log.warning("reply guard unavailable", extra={"error": type(exc).__name__})
            return ReplyClaim(ClaimState.UNGUARDED, team_id, request_key)
        if current.startswith(POSTED_PREFIX):
            return ReplyClaim(ClaimState.POSTED, team_id, request_key, posted_ts=current.removeprefix(POSTED_PREFIX))
        if current.startswith(STREAMING_PREFIX):
            ts = current.removeprefix(STREAMING_PREFIX)
            return ReplyClaim(ClaimState.STREAMING, team_id, request_key, token, posted_ts=ts)
        # A lease from an earlier run (or one that just expired): take it over and look before posting.
        try:
            self._r.set(key, LEASE_PREFIX + token, ex=self._lease)
        except (redis.RedisError, OSError):
            return ReplyClaim(ClaimState.UNGUARDED, team_id, request_key)
        return ReplyClaim(ClaimState.IN_DOUBT, team_id, request_key, token)

    def record_stream(self, claim: ReplyClaim, ts: str) -> None:
        """The answer's message exists and is being streamed: a rerun must not post another one."""
        try:
            self._r.set(self._keys.reply(claim.team_id, claim.request_key), STREAMING_PREFIX + ts, ex=self._ttl)
        except (redis.RedisError, OSError) as exc:
            log.warning("stream not recorded", extra={"error": type(exc).__name__})

    def record(self, claim: ReplyClaim, ts: str) -> None:
        try:
            self._r.set(self._keys.reply(claim.team_id, claim.request_key), POSTED_PREFIX + ts, ex=self._ttl)
        except (redis.RedisError, OSError) as exc:
            log.warning("reply not recorded", extra={"error": type(exc).__name__})

    def release(self, claim: ReplyClaim) -> None:
        """Posting failed: drop our lease so a retry can post."""
        if claim.state in (ClaimState.POSTED, ClaimState.UNGUARDED):
            return
        key = self._keys.reply(claim.team_id, claim.request_key)
        try:
            if str(self._r.get(key) or "") == LEASE_PREFIX + claim.token:
                self._r.delete(key)
        except (redis.RedisError, OSError):
            pass
