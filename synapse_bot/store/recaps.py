"""Cached channel recaps, one per (channel, time window), so asking again costs no model call.

An entry remembers two fingerprints of the channel's top-level messages: `head` (ts, edit, reply count and
latest reply of every message in the window: equal means nothing moved, so the entry is the answer) and `covered`
(ts and edit of the messages up to `last_ts`: equal means nothing the recap covers was edited or deleted, so only
newer messages need adding). A lock per recap lets two requests for it at once do the model work once.
"""

from __future__ import annotations

import contextlib
import time
import uuid

import redis
from pydantic import BaseModel

from synapse_bot.store.keys import Keys
from synapse_bot.summaries.model import ThreadSummary


class CachedRecap(BaseModel):
    summary: ThreadSummary
    head: str
    covered: str
    last_ts: str
    message_count: int
    threads_read: int = 0
    offline: bool = False


class RecapCache:
    def __init__(self, client: redis.Redis, keys: Keys, ttl_seconds: int) -> None:
        self._r = client
        self._keys = keys
        self.ttl_seconds = ttl_seconds

    def _key(self, team: str, channel: str, oldest: str, latest: str | None) -> str:
        return self._keys.key(team, "recap", channel, oldest, latest or "open")

    def get(self, team: str, channel: str, oldest: str, latest: str | None) -> CachedRecap | None:
        try:
            raw = self._r.get(self._key(team, channel, oldest, latest))
        except (redis.RedisError, OSError):
            return None
        return CachedRecap.model_validate_json(raw) if raw else None

    # Single flight: two requests for one recap at once do the model work once --------------------------------

    def acquire(self, team: str, channel: str, oldest: str, latest: str | None, ttl_s: int = 300) -> str | None:
        """A lock token if we may do the work; None if another request is already doing it."""
        token = uuid.uuid4().hex
        try:
            got = self._r.set(self._key(team, channel, oldest, latest) + ":lock", token, nx=True, ex=ttl_s)
        except (redis.RedisError, OSError):
            return token  # without Redis there is nobody to coordinate with
        return token if got else None

    def release(self, team: str, channel: str, oldest: str, latest: str | None, token: str) -> None:
        key = self._key(team, channel, oldest, latest) + ":lock"
        with contextlib.suppress(redis.RedisError, OSError):
            if self._r.get(key) == token:
                self._r.delete(key)

    def wait_unlocked(self, team: str, channel: str, oldest: str, latest: str | None, timeout_s: float) -> None:
        key = self._key(team, channel, oldest, latest) + ":lock"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if not self._r.exists(key):
                    return
            except (redis.RedisError, OSError):
                return
            time.sleep(0.1)

    def put(self, team: str, channel: str, oldest: str, latest: str | None, entry: CachedRecap) -> None:
        with contextlib.suppress(redis.RedisError, OSError):
            self._r.set(self._key(team, channel, oldest, latest), entry.model_dump_json(), ex=self.ttl_seconds)
