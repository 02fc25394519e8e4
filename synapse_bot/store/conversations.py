"""What Synapse remembers about conversations it takes part in, beyond their messages.

- Threads it has answered in: a person's next message there is a follow-up, answered without a mention.
- Agent-view threads: the channel the person is looking at (their "this channel"), and whether the thread has its
  title yet. Bolt's `Assistant` middleware reads and writes the context through `AssistantContexts`.

Every key expires (SYNAPSE_MEMORY_TTL_SECONDS): a thread quiet for that long is forgotten, as its memory is.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from synapse_bot.store.keys import Keys


class AnsweredThreads:
    """Threads where Synapse has posted an answer (one small key per thread)."""

    def __init__(self, client: redis.Redis, keys: Keys, ttl_seconds: int) -> None:
        self._redis = client
        self._keys = keys
        self._ttl = ttl_seconds

    def _key(self, team_id: str, channel_id: str, thread_ts: str) -> str:
        return self._keys.key(team_id, "answered", channel_id, thread_ts)

    def remember(self, team_id: str, channel_id: str, thread_ts: str) -> None:
        self._redis.set(self._key(team_id, channel_id, thread_ts), "1", ex=self._ttl)

    def answered_in(self, team_id: str, channel_id: str, thread_ts: str) -> bool:
        return bool(self._redis.exists(self._key(team_id, channel_id, thread_ts)))


class AssistantContexts:
    """Per agent-view thread: the context Slack sent (`channel_id`, `team_id`, `enterprise_id`) and its title flag."""

    def __init__(self, client: redis.Redis, keys: Keys, ttl_seconds: int, team_id: str = "") -> None:
        self._redis = client
        self._keys = keys
        self._ttl = ttl_seconds
        self._team = team_id

    def _key(self, kind: str, channel_id: str, thread_ts: str) -> str:
        return self._keys.key(self._team, kind, channel_id, thread_ts)

    def save(self, channel_id: str, thread_ts: str, context: dict[str, Any]) -> None:
        clean = {k: str(v) for k, v in context.items() if isinstance(v, str | int) and v != ""}
        self._redis.set(self._key("assistant_ctx", channel_id, thread_ts), json.dumps(clean), ex=self._ttl)

    def find(self, channel_id: str, thread_ts: str) -> dict[str, str] | None:
        raw = self._redis.get(self._key("assistant_ctx", channel_id, thread_ts))
        if not raw:
            return None
        value = json.loads(raw)
        return value if isinstance(value, dict) else None

    def first_title(self, channel_id: str, thread_ts: str) -> bool:
        """True once per thread: the caller sets the thread's title from its first question."""
        return bool(self._redis.set(self._key("assistant_title", channel_id, thread_ts), "1", nx=True, ex=self._ttl))
