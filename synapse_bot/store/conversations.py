"""What Synapse remembers about conversations it takes part in, beyond their messages.

- Threads it has answered in, when, and who asked it there: a message from one of them soon after may be a
  follow-up, answered without a mention (`context/addressed.py` decides).
- Agent-view threads: the channel the person is looking at (their "this channel"), and whether the thread has its
  title yet. Bolt's `Assistant` middleware reads and writes the context through `AssistantContexts`.

Every key expires (SYNAPSE_MEMORY_TTL_SECONDS): a thread quiet for that long is forgotten, as its memory is.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from synapse_bot.context.addressed import ThreadFacts
from synapse_bot.store.keys import Keys


class AnsweredThreads:
    """Threads where Synapse has posted an answer: when it last did, and who asked it there (one hash per thread)."""

    def __init__(self, client: redis.Redis, keys: Keys, ttl_seconds: int) -> None:
        self._redis = client
        self._keys = keys
        self._ttl = ttl_seconds

    def _key(self, team_id: str, channel_id: str, thread_ts: str) -> str:
        return self._keys.key(team_id, "answered-in", channel_id, thread_ts)

    def remember(self, team_id: str, channel_id: str, thread_ts: str, asker: str = "") -> None:
        """Synapse answers in this thread now; `asker` asked it (their next messages there may be follow-ups)."""
        key = self._key(team_id, channel_id, thread_ts)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, "at", f"{time.time():.3f}")
        if asker:
            pipe.hset(key, f"u:{asker}", "1")
        pipe.expire(key, self._ttl)
        pipe.execute()

    def answered_in(self, team_id: str, channel_id: str, thread_ts: str) -> bool:
        return bool(self._redis.exists(self._key(team_id, channel_id, thread_ts)))

    def facts(self, team_id: str, channel_id: str, thread_ts: str, user: str) -> ThreadFacts | None:
        """Whether `user` asked Synapse in this thread and how long ago it answered; None where it never did."""
        at, asked = self._redis.hmget(self._key(team_id, channel_id, thread_ts), ["at", f"u:{user}"])
        if at is None:
            return None
        return ThreadFacts(asked_here=bool(asked), seconds_since_answer=max(0.0, time.time() - float(at)))


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
