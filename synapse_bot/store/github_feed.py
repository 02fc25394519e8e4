"""What the events job keeps per repository, in Redis: the last look at each issue and pull request, which events
were found (the outbox, drained as they are posted), each channel's card of each item, and a lock.

Finding events and queueing them is one Lua step per batch (`record`): the last looks are replaced, events keyed
by id (comments, reviews, check failures, releases) are queued only the first time their key is seen, and the rest
come from comparing looks, so a second look at the same thing queues nothing. Posting drains the outbox from its
head, and every post is exactly-once on its own (the reply guard), so a job that dies mid-way is finished by the
next one for that repository — nothing is lost and nothing is posted twice.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

import redis

from synapse_bot.feed.diff import Event
from synapse_bot.feed.model import Item
from synapse_bot.store.keys import Keys

SEEN_TTL_S = 30 * 86400
ITEM_TTL_S = 180 * 86400
CARD_TTL_S = 180 * 86400
LOCK_TTL_MS = 30_000

# KEYS[1] items hash, KEYS[2] outbox; ARGV[1] seen-key prefix, ARGV[2] seen ttl, ARGV[3] item ttl, ARGV[4] n items,
# then n (field, json) pairs, then (seen key or "", event json) pairs. Returns how many events were queued.
_RECORD = """
local n = tonumber(ARGV[4])
local i = 5
for _ = 1, n do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
if n > 0 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3])) end
local queued = 0
while i <= #ARGV do
  local key, event = ARGV[i], ARGV[i + 1]
  if key == '' or redis.call('SET', ARGV[1] .. key, '1', 'NX', 'EX', tonumber(ARGV[2])) then
    redis.call('RPUSH', KEYS[2], event)
    queued = queued + 1
  end
  i = i + 2
end
return queued
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class LockLost(Exception):
    """Another job took the repository's lock (ours expired): stop, it carries on from the outbox."""


class RepoLock:
    def __init__(self, client: redis.Redis, key: str, token: str, renew: object) -> None:
        self._r = client
        self._key = key
        self._token = token
        self._renew = renew

    def renew(self) -> None:
        if not self._renew(keys=[self._key], args=[self._token, LOCK_TTL_MS]):  # type: ignore[operator]
            raise LockLost(self._key)


class FeedState:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys
        self._record = client.register_script(_RECORD)
        self._unlock = client.register_script(_UNLOCK)
        self._renew = client.register_script(_RENEW)

    def _k(self, kind: str, *parts: str) -> str:
        return self._keys.key("all", "ghfeed", kind, *parts)

    # The lock: one job at a time per repository ------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, repo_key: str, wait_s: float = 120.0) -> Iterator[RepoLock]:
        """Hold the repository's lock (a lease, renewed by the holder as it posts); waits for another holder."""
        key, token = self._k("lock", repo_key), uuid.uuid4().hex
        deadline = time.monotonic() + wait_s
        delay = 0.01
        while not self._r.set(key, token, nx=True, px=LOCK_TTL_MS):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the events of {repo_key} are held by another job")
            time.sleep(delay)
            delay = min(0.25, delay * 2)
        try:
            yield RepoLock(self._r, key, token, self._renew)
        finally:
            with contextlib.suppress(redis.RedisError):
                self._unlock(keys=[key], args=[token])

    # Last looks ----------------------------------------------------------------------------------

    def items(self, repo_key: str, numbers: list[int]) -> dict[int, Item]:
        if not numbers:
            return {}
        raw = self._r.hmget(self._k("items", repo_key), [str(n) for n in numbers])
        return {n: Item.model_validate_json(v) for n, v in zip(numbers, raw, strict=True) if v}

    def record(self, repo_key: str, items: list[Item], events: list[tuple[str | None, Event]]) -> int:
        """Keep these looks and queue the events (those with a seen-key only once ever); how many were queued."""
        args: list[str] = [self._k("seen", repo_key) + ":", str(SEEN_TTL_S), str(ITEM_TTL_S), str(len(items))]
        for item in items:
            args += [str(item.number), item.model_dump_json()]
        for seen_key, event in events:
            args += [seen_key or "", event.model_dump_json()]
        keys = [self._k("items", repo_key), self._k("outbox", repo_key)]
        return int(self._record(keys=keys, args=args))

    # The outbox ----------------------------------------------------------------------------------

    def next_event(self, repo_key: str) -> Event | None:
        raw = self._r.lindex(self._k("outbox", repo_key), 0)
        return Event.model_validate_json(raw) if raw else None

    def done(self, repo_key: str) -> None:
        """The head event is posted everywhere it goes."""
        self._r.lpop(self._k("outbox", repo_key))

    def waiting(self, repo_key: str) -> int:
        return int(self._r.llen(self._k("outbox", repo_key)))

    # Cards ---------------------------------------------------------------------------------------

    def _cards(self, team: str, channel: str, repo_key: str) -> str:
        return self._keys.key(team, "ghfeed", "cards", channel, repo_key)

    def card(self, team: str, channel: str, repo_key: str, number: int) -> str | None:
        value = self._r.hget(self._cards(team, channel, repo_key), str(number))
        return str(value) if value else None

    def set_card(self, team: str, channel: str, repo_key: str, number: int, ts: str) -> None:
        key = self._cards(team, channel, repo_key)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, str(number), ts)
        pipe.expire(key, CARD_TTL_S)
        pipe.execute()
