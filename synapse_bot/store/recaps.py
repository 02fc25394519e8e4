"""Cached channel recaps, one per (channel, time window), so asking again costs no model call.

An entry remembers two fingerprints of the channel's top-level messages: `head` (ts, edit, reply count and
latest reply of every message in the window: equal means nothing moved, so the entry is the answer) and `covered`
(ts and edit of the messages up to `last_ts`: equal means nothing the recap covers was edited or deleted, so only
newer messages need adding).
"""

from __future__ import annotations

import contextlib

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

    def put(self, team: str, channel: str, oldest: str, latest: str | None, entry: CachedRecap) -> None:
        with contextlib.suppress(redis.RedisError, OSError):
            self._r.set(self._key(team, channel, oldest, latest), entry.model_dump_json(), ex=self.ttl_seconds)
