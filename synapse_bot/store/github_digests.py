"""Quiet by design: at most SYNAPSE_GITHUB_BURST_POSTS top-level posts per subscription in
SYNAPSE_GITHUB_DIGEST_SECONDS; past that, events wait in the subscription's digest, posted as one message when the
window ends (a bulk relabel, a release train, a
catch-up after downtime).

The window is a counter with a TTL, shared by every process; folding an event is keyed by the event, so a job that
runs twice folds it once; a due digest is claimed with a lease (see `take_due`).
"""

from __future__ import annotations

import time

import redis

from synapse_bot.feed.diff import Event
from synapse_bot.store.keys import Keys

BURST_POSTS = 5
WINDOW_S = 60
MAX_FOLDED = 500


# KEYS[1] due zset; ARGV member, now, lease end. Claims a due digest by moving its due time to the lease's end.
_CLAIM = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""


def _member(team: str, channel: str, repo_key: str) -> str:
    return f"{team}|{channel}|{repo_key}"


class DigestStore:
    def __init__(
        self, client: redis.Redis, keys: Keys, *, burst_posts: int = BURST_POSTS, window_s: int = WINDOW_S
    ) -> None:
        self._r = client
        self._keys = keys
        self.burst_posts = burst_posts
        self.window_s = window_s
        self._claim = client.register_script(_CLAIM)

    def _window(self, team: str, channel: str, repo_key: str) -> str:
        return self._keys.key(team, "ghdigest", "window", channel, repo_key)

    def _pending(self, team: str, channel: str, repo_key: str) -> str:
        return self._keys.key(team, "ghdigest", "pending", channel, repo_key)

    def _due(self) -> str:
        return self._keys.key("all", "ghdigest", "due")

    def may_post(self, team: str, channel: str, repo_key: str) -> bool:
        """Take one top-level post from the subscription's window; False once the window's posts are used."""
        key = self._window(team, channel, repo_key)
        pipe = self._r.pipeline(transaction=True)
        pipe.set(key, 0, nx=True, ex=self.window_s)  # the window starts with its first post (INCR keeps the TTL)
        pipe.incr(key)
        _, count = pipe.execute()
        return int(count) <= self.burst_posts

    def fold(self, team: str, channel: str, repo_key: str, event: Event) -> bool:
        """Put `event` into the subscription's next digest (once per event); True if it was new there."""
        marker = self._keys.key(team, "ghdigest", "folded", channel, event.key)
        if not self._r.set(marker, "1", nx=True, ex=7 * 86400):
            return False
        pending = self._pending(team, channel, repo_key)
        ttl = self._r.ttl(self._window(team, channel, repo_key))
        due = time.time() + (ttl if ttl and ttl > 0 else 1)
        pipe = self._r.pipeline(transaction=True)
        pipe.rpush(pending, event.model_dump_json())
        pipe.ltrim(pending, -MAX_FOLDED, -1)
        pipe.expire(pending, 86400)
        pipe.zadd(self._due(), {_member(team, channel, repo_key): due}, nx=True)
        pipe.execute()
        return True

    def take_due(self, now: float | None = None, lease_s: float = 60) -> list[tuple[str, str, str, list[Event]]]:
        """Claim every digest whose window has ended: (team, channel, repository, events). A claim is a lease (the
        digest's due time moves `lease_s` on): the claimer posts, then calls `posted`; one that dies before that
        leaves the digest to be claimed again when the lease ends, and posting under the digest's key keeps it
        to one message."""
        now = time.time() if now is None else now
        claimed = []
        for raw in self._r.zrangebyscore(self._due(), "-inf", now):
            member = str(raw)
            if not self._claim(keys=[self._due()], args=[member, now, now + lease_s]):
                continue  # another process took it
            team, channel, repo_key = member.split("|", 2)
            items = self._r.lrange(self._pending(team, channel, repo_key), 0, -1)
            events = [Event.model_validate_json(item) for item in items]
            if events:
                claimed.append((team, channel, repo_key, events))
            else:
                self._r.zrem(self._due(), member)
        return claimed

    def posted(self, team: str, channel: str, repo_key: str, count: int) -> None:
        """The first `count` folded events are posted: drop them; events folded meanwhile wait for the next digest."""
        pending = self._pending(team, channel, repo_key)
        self._r.ltrim(pending, count, -1)
        member = _member(team, channel, repo_key)
        if self._r.llen(pending):
            self._r.zadd(self._due(), {member: time.time() + self.window_s})
        else:
            self._r.zrem(self._due(), member)

    def next_due(self) -> float | None:
        first = self._r.zrange(self._due(), 0, 0, withscores=True)
        return float(first[0][1]) if first else None
