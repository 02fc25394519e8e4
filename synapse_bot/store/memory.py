"""Thread memory: the earlier exchanges of a Slack thread, kept as the model saw them, so follow-ups carry context.

An exchange is the chat messages of one request: the person's question, the assistant's tool calls, the tool
results (trimmed) and the answer. Keeping the real tool calls and results — never prose such as "[I ran …]" —
means a model cannot learn to imitate a tool run it never made. A Redis list per thread, newest last, trimmed to
SYNAPSE_MEMORY_TURNS exchanges, each message's text bounded, with a TTL refreshed on every write. A reader gets
whole exchanges only, so a tool result never arrives without the call it answers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import redis
from pydantic import BaseModel, ValidationError

from synapse_bot.store.keys import Keys

log = logging.getLogger(__name__)

Message = dict[str, Any]


class Exchange(BaseModel):
    messages: list[Message]
    sources: list[str] = []  # Slack conversations its tool results quoted: whoever reads a later answer may see them


@dataclass(frozen=True)
class Recollection:
    """A thread's earlier exchanges, and every conversation their content came from."""

    messages: list[Message] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def _clip(message: Message, max_chars: int) -> Message:
    clipped = dict(message)
    content = clipped.get("content")
    if isinstance(content, str) and len(content) > max_chars:
        clipped["content"] = content[:max_chars] + " …[trimmed]"
    return clipped


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
        return self._keys.key(team_id, "conversation", channel_id, thread_ts)

    def recall(self, team_id: str, channel_id: str, thread_ts: str | None) -> Recollection:
        """The thread's earlier exchanges as chat messages, oldest first; empty when Redis is unavailable."""
        if not thread_ts or self.max_turns == 0:
            return Recollection()
        try:
            raw = self._client.lrange(self._key(team_id, channel_id, thread_ts), 0, -1)
        except (redis.RedisError, OSError):
            log.warning("thread memory unavailable")
            return Recollection()
        messages: list[Message] = []
        sources: list[str] = []
        for item in raw:
            try:
                exchange = Exchange.model_validate_json(item)
            except ValidationError:
                continue
            messages.extend(exchange.messages)
            sources.extend(s for s in exchange.sources if s not in sources)
        return Recollection(messages, sources)

    def remember(
        self,
        team_id: str,
        channel_id: str,
        thread_ts: str | None,
        messages: list[Message],
        sources: list[str] | None = None,
    ) -> None:
        """Keep one exchange and the conversations it quoted (fails soft: a reply matters more than its memory)."""
        if not thread_ts or not messages or self.max_turns == 0:
            return
        key = self._key(team_id, channel_id, thread_ts)
        exchange = Exchange(messages=[_clip(m, self.max_chars) for m in messages], sources=list(sources or []))
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.rpush(key, json.dumps(exchange.model_dump(), ensure_ascii=False, default=str))
            pipe.ltrim(key, -self.max_turns, -1)
            pipe.expire(key, self.ttl_seconds)
            pipe.execute()
        except (redis.RedisError, OSError):
            log.warning("thread memory not saved")
