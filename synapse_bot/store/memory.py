"""Thread memory: the recent turns of a Slack thread, so follow-ups ("now only the bugs") carry context.

A Redis list per thread, newest last, trimmed to a fixed number of turns, each turn truncated, with a TTL
refreshed on every write. Bounded in size whatever people send.
"""

from __future__ import annotations

import json
import logging

import redis
from pydantic import BaseModel, ValidationError

from synapse_bot.store.keys import Keys

log = logging.getLogger(__name__)


class Turn(BaseModel):
    role: str  # "user" or "assistant"
    text: str
    tool: str | None = None
    args: dict[str, object] | None = None


class ThreadMemory:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        max_turns: int = 12,
        max_chars: int = 1_500,
        ttl_seconds: int = 7 * 86400,
    ) -> None:
        self._client = client
        self._keys = keys
        self.max_turns = max_turns
        self.max_chars = max_chars
        self.ttl_seconds = ttl_seconds

    def _key(self, team_id: str, channel_id: str, thread_ts: str) -> str:
        return self._keys.key(team_id, "memory", channel_id, thread_ts)

    def recall(self, team_id: str, channel_id: str, thread_ts: str | None) -> list[Turn]:
        """The thread's recent turns, oldest first; empty when Redis is unavailable (memory fails soft)."""
        if not thread_ts:
            return []
        try:
            raw = self._client.lrange(self._key(team_id, channel_id, thread_ts), 0, -1)
        except (redis.RedisError, OSError):
            log.warning("thread memory unavailable")
            return []
        turns = []
        for item in raw:
            try:
                turns.append(Turn.model_validate_json(item))
            except ValidationError:
                continue
        return turns

    def remember(self, team_id: str, channel_id: str, thread_ts: str | None, *turns: Turn) -> None:
        if not thread_ts or not turns:
            return
        key = self._key(team_id, channel_id, thread_ts)
        payloads = []
        for turn in turns:
            clipped = turn.model_copy(update={"text": turn.text[: self.max_chars]})
            payloads.append(json.dumps(clipped.model_dump(exclude_none=True), ensure_ascii=False, default=str))
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.rpush(key, *payloads)
            pipe.ltrim(key, -self.max_turns, -1)
            pipe.expire(key, self.ttl_seconds)
            pipe.execute()
        except (redis.RedisError, OSError):
            log.warning("thread memory not saved")
