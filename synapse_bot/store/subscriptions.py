"""Channels' subscriptions to GitHub repositories, in Redis.

Two indexes of the same records, written together: by repository (what the poller and the events job read: every
team's channels subscribed to it) and by channel (what `list subscriptions` reads). Subscribing a channel again to
the same repository replaces its record. Subscribing puts the repository on the poller's schedule, due at once (so
the first look, which sets where "new" starts, comes within seconds); the last unsubscription takes it off.
"""

from __future__ import annotations

import redis

from synapse_bot.feed.subscription import Subscription
from synapse_bot.store.keys import Keys
from synapse_bot.store.poll_schedule import PollSchedule


def _member(team_id: str, channel_id: str) -> str:
    return f"{team_id}|{channel_id}"


class SubscriptionStore:
    def __init__(self, client: redis.Redis, keys: Keys, schedule: PollSchedule | None = None) -> None:
        self._r = client
        self._keys = keys
        self._schedule = schedule or PollSchedule(client, keys)

    def _by_repo(self, repo_key: str) -> str:
        return self._keys.key("all", "ghsub", "repo", repo_key)

    def _by_channel(self, team: str, channel: str) -> str:
        return self._keys.key(team, "ghsub", "channel", channel)

    def _channels(self, team: str) -> str:
        return self._keys.key(team, "ghsub", "channels")

    def _repos(self) -> str:
        return self._keys.key("all", "ghsub", "repos")

    def save(self, subscription: Subscription) -> Subscription | None:
        """Store `subscription`; returns the one it replaced (same channel and repository), if any."""
        s = subscription
        previous = self.get(s.team_id, s.channel_id, s.repo)
        raw = s.model_dump_json()
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(self._by_repo(s.repo_key), _member(s.team_id, s.channel_id), raw)
        pipe.hset(self._by_channel(s.team_id, s.channel_id), s.repo_key, raw)
        pipe.sadd(self._channels(s.team_id), s.channel_id)
        pipe.sadd(self._repos(), s.repo_key)
        pipe.execute()
        self._schedule.due_now(s.repo_key)
        return previous

    def get(self, team: str, channel: str, repo: str) -> Subscription | None:
        raw = self._r.hget(self._by_channel(team, channel), repo.lower())
        return Subscription.model_validate_json(raw) if raw else None

    def remove(self, team: str, channel: str, repo: str) -> Subscription | None:
        """Drop one subscription; returns it, or None if there was none. The last one of a repository takes the
        repository off the poller's list."""
        existing = self.get(team, channel, repo)
        if existing is None:
            return None
        repo_key = repo.lower()
        pipe = self._r.pipeline(transaction=True)
        pipe.hdel(self._by_repo(repo_key), _member(team, channel))
        pipe.hdel(self._by_channel(team, channel), repo_key)
        pipe.execute()
        if not self._r.hlen(self._by_channel(team, channel)):
            self._r.srem(self._channels(team), channel)
        if not self._r.hlen(self._by_repo(repo_key)):
            self._r.srem(self._repos(), repo_key)
            self._schedule.drop(repo_key)
        return existing

    def in_channel(self, team: str, channel: str) -> list[Subscription]:
        raw = self._r.hgetall(self._by_channel(team, channel))
        return sorted((Subscription.model_validate_json(v) for v in raw.values()), key=lambda s: s.repo_key)

    def in_team(self, team: str) -> list[Subscription]:
        channels = sorted(str(c) for c in self._r.smembers(self._channels(team)))
        return [s for channel in channels for s in self.in_channel(team, channel)]

    def for_repo(self, repo: str) -> list[Subscription]:
        """Every channel (of every team) subscribed to `repo`."""
        raw = self._r.hgetall(self._by_repo(repo.lower()))
        return sorted((Subscription.model_validate_json(v) for v in raw.values()), key=lambda s: s.created_at)

    def repos(self) -> list[str]:
        """Every subscribed repository (lower-cased owner/name)."""
        return sorted(str(r) for r in self._r.smembers(self._repos()))

    def count_repos(self) -> int:
        return int(self._r.scard(self._repos()))
