"""At-least-once delivery, exactly-once handling: claim each Slack delivery once across all processes."""

from __future__ import annotations

import redis

from synapse_bot.store.keys import Keys


class EventDeduper:
    """`SET NX` with a TTL: the first process to claim a delivery key handles it; every redelivery is dropped."""

    def __init__(self, client: redis.Redis, keys: Keys, ttl_seconds: int) -> None:
        self._client = client
        self._keys = keys
        self._ttl = ttl_seconds

    @property
    def ttl_seconds(self) -> int:
        """How long a claim is remembered."""
        return self._ttl

    def claim(self, team_id: str, dedupe_key: str) -> bool:
        """True the first time this delivery is seen, False for every repeat."""
        return bool(self._client.set(self._keys.event(team_id, dedupe_key), "1", nx=True, ex=self._ttl))

    def claim_many(self, claims: list[tuple[str, str]]) -> None:
        """Record deliveries already handled elsewhere (during a Redis outage); one round trip."""
        pipe = self._client.pipeline(transaction=False)
        for team_id, dedupe_key in claims:
            pipe.set(self._keys.event(team_id, dedupe_key), "1", nx=True, ex=self._ttl)
        pipe.execute()

    def release(self, team_id: str, dedupe_key: str) -> None:
        """Forget a claim whose job could not even be queued, so Slack's retry gets a second chance."""
        self._client.delete(self._keys.event(team_id, dedupe_key))
