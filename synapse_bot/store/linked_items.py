"""What a linked GitHub issue or PR was when last read, for a few minutes: a thread asked about again and again, or
by several people, reads each link once."""

from __future__ import annotations

import json
from dataclasses import asdict

import redis

from synapse_bot.context.github_links import LinkedItem
from synapse_bot.store.keys import Keys

TTL_S = 600


class LinkedItems:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def _key(self, team: str, repo: str, number: int) -> str:
        return self._keys.key(team, "ghlink", repo.lower(), str(number))

    def get(self, team: str, repo: str, number: int) -> LinkedItem | None:
        raw = self._r.get(self._key(team, repo, number))
        if not raw:
            return None
        return LinkedItem(**json.loads(raw))

    def put(self, team: str, item: LinkedItem, ttl_s: int = TTL_S) -> None:
        self._r.set(self._key(team, item.repo, item.number), json.dumps(asdict(item)), ex=ttl_s)
