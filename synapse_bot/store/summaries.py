"""Cached thread summaries, and a lock so two requests for one thread do the model work once.

The entry remembers what the summary covers: every summarised message's ts and edit ts (the fingerprint, see
`summaries/fingerprint.py`), so an unchanged thread is answered with zero model calls, and a thread that grew, or
whose messages were edited or deleted, is updated from the changed messages only.
"""

from __future__ import annotations

import time
import uuid

import redis
from pydantic import BaseModel

from synapse_bot.store.keys import Keys
from synapse_bot.summaries.model import ThreadSummary


class CachedSummary(BaseModel):
    summary: ThreadSummary
    last_ts: str
    message_count: int
    latest_reply: str | None
    # ts → ts of the last edit ("" if none) of each message summarised; None in entries cached before edits were
    # tracked, which are therefore rebuilt once rather than trusted.
    fingerprint: dict[str, str] | None = None
    offline: bool = False
    requested_by: str | None = None
    created_at: float = 0.0


class SummaryCache:
    def __init__(self, client: redis.Redis, keys: Keys, ttl_seconds: int) -> None:
        self._r = client
        self._keys = keys
        self.ttl_seconds = ttl_seconds

    def _key(self, team: str, channel: str, ts: str) -> str:
        return self._keys.key(team, "summary", channel, ts)

    def get(self, team: str, channel: str, ts: str) -> CachedSummary | None:
        try:
            raw = self._r.get(self._key(team, channel, ts))
        except (redis.RedisError, OSError):
            return None
        return CachedSummary.model_validate_json(raw) if raw else None

    def put(self, team: str, channel: str, ts: str, entry: CachedSummary) -> None:
        try:
            self._r.set(self._key(team, channel, ts), entry.model_dump_json(), ex=self.ttl_seconds)
            recent = self._keys.key(team, "summary", "recent", entry.requested_by or "_")
            pipe = self._r.pipeline()
            pipe.lrem(recent, 0, f"{channel}|{ts}")
            pipe.lpush(recent, f"{channel}|{ts}")
            pipe.ltrim(recent, 0, 9)
            pipe.expire(recent, self.ttl_seconds)
            pipe.execute()
        except (redis.RedisError, OSError):
            pass

    def recent_for(self, team: str, user: str) -> list[tuple[str, str]]:
        try:
            raw = self._r.lrange(self._keys.key(team, "summary", "recent", user), 0, 9)
        except (redis.RedisError, OSError):
            return []
        pairs = [str(item).split("|", 1) for item in raw]
        return [(pair[0], pair[1]) for pair in pairs if len(pair) == 2]

    # Single flight ---------------------------------------------------------------------------------

    def acquire(self, team: str, channel: str, ts: str, ttl_s: int = 300) -> str | None:
        """A lock token if we may do the work; None if another request is already doing it."""
        token = uuid.uuid4().hex
        try:
            got = self._r.set(self._key(team, channel, ts) + ":lock", token, nx=True, ex=ttl_s)
        except (redis.RedisError, OSError):
            return token  # without Redis there is nobody to coordinate with
        return token if got else None

    def release(self, team: str, channel: str, ts: str, token: str) -> None:
        key = self._key(team, channel, ts) + ":lock"
        try:
            if self._r.get(key) == token:
                self._r.delete(key)
        except (redis.RedisError, OSError):
            pass

    def wait_unlocked(self, team: str, channel: str, ts: str, timeout_s: float) -> bool:
        key = self._key(team, channel, ts) + ":lock"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if not self._r.exists(key):
                    return True
            except (redis.RedisError, OSError):
                return True
            time.sleep(0.1)
        return False
