"""Writes waiting for a confirmation click (apply labels, post a review), and their outcome.

The proposal is stored when the answer is posted; the button carries only its id. A click claims the write once
(SET NX), so a double click or a redelivered action never writes twice; later clicks are told what happened.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import redis

from synapse_bot.store.keys import Keys


class PendingWrites:
    def __init__(self, client: redis.Redis, keys: Keys, ttl_seconds: int = 7 * 86400) -> None:
        self._r = client
        self._keys = keys
        self.ttl_seconds = ttl_seconds

    def save(self, team: str, kind: str, payload: dict[str, Any]) -> str:
        write_id = uuid.uuid4().hex[:12]
        self._r.set(
            self._keys.key(team, "pending", write_id), json.dumps({"kind": kind, **payload}), ex=self.ttl_seconds
        )
        return write_id

    def get(self, team: str, write_id: str) -> dict[str, Any] | None:
        raw = self._r.get(self._keys.key(team, "pending", write_id))
        return json.loads(raw) if raw else None

    def claim(self, team: str, write_id: str) -> bool:
        return bool(
            self._r.set(self._keys.key(team, "pending", write_id, "claimed"), "1", nx=True, ex=self.ttl_seconds)
        )

    def release(self, team: str, write_id: str) -> None:
        self._r.delete(self._keys.key(team, "pending", write_id, "claimed"))

    def record(self, team: str, write_id: str, outcome: str) -> None:
        self._r.set(self._keys.key(team, "pending", write_id, "outcome"), outcome, ex=self.ttl_seconds)

    def outcome(self, team: str, write_id: str) -> str | None:
        value = self._r.get(self._keys.key(team, "pending", write_id, "outcome"))
        return str(value) if value is not None else None
