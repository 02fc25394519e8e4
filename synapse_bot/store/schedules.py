"""Schedules in Redis, and the due index every scheduler reads.

A schedule is one JSON record per team (`schedule:<id>`, listed in the team's set); the due index is one sorted
set across teams, member `<team>|<id>`, score the next due time in whole seconds. A run is taken with `claim`: an
atomic compare-and-set of the score from the due time to a lease's end, so of any number of schedulers looking at
the same moment exactly one gets it; `finish` then moves the score to the next due time. A scheduler that dies
between the two leaves the lease to run out: the schedule is due again, with the same due time on record, and the
next scheduler submits that run again (the run's post is keyed by schedule and due time, so it is posted once).
"""

from __future__ import annotations

from collections.abc import Iterator

import redis

from synapse_bot.schedules.model import Schedule
from synapse_bot.store.keys import Keys

# KEYS[1] the due index, ARGV: member, due time, lease end. The claimed due time is kept in the record's hash.
_CLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  local held = redis.call('HGET', KEYS[2], ARGV[1])
  if not held then
    redis.call('HSET', KEYS[2], ARGV[1], score)
    return score
  end
  return held
end
return false
"""


# KEYS: the due index, the claims hash, the record; ARGV: member, the record's JSON, the next due time ("" = none).
# One step, so a scheduler dying inside it cannot leave the claim gone but the lease as the due time (which would run
# again under another due time, posting twice); a schedule cancelled meanwhile stays cancelled.
_FINISH = """
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
redis.call('SET', KEYS[3], ARGV[2])
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1
"""


def member(team_id: str, schedule_id: str) -> str:
    return f"{team_id}|{schedule_id}"


def split_member(value: str) -> tuple[str, str]:
    team, _, schedule_id = value.partition("|")
    return team, schedule_id


def _text(raw: object) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class ScheduleStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys
        self._claim = client.register_script(_CLAIM)
        self._finish = client.register_script(_FINISH)

    def _record(self, team: str, schedule_id: str) -> str:
        return self._keys.key(team, "schedule", schedule_id)

    def _team(self, team: str) -> str:
        return self._keys.key(team, "schedules")

    def _due(self) -> str:
        return self._keys.key("all", "schedules", "due")

    def _held(self) -> str:
        return self._keys.key("all", "schedules", "claimed")

    # Records ---------------------------------------------------------------------------------------

    def _changes(self) -> str:
        return self._keys.key("all", "schedules", "changed")

    def changes(self) -> redis.client.PubSub:
        """A subscription to "the due index changed": a sleeping scheduler wakes on it instead of polling."""
        pubsub = self._r.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self._changes())
        return pubsub

    def announce(self) -> None:
        self._r.publish(self._changes(), "1")

    def save(self, schedule: Schedule, next_due: float | None) -> None:
        """Store the schedule; with `next_due`, (re)put it on the due index (None: paused, off the index); every
        process's scheduler hears of it."""
        pipe = self._r.pipeline(transaction=True)
        pipe.set(self._record(schedule.team_id, schedule.id), schedule.model_dump_json())
        pipe.sadd(self._team(schedule.team_id), schedule.id)
        if next_due is None:
            pipe.zrem(self._due(), member(schedule.team_id, schedule.id))
        else:
            pipe.zadd(self._due(), {member(schedule.team_id, schedule.id): int(next_due)})
        pipe.publish(self._changes(), "1")
        pipe.execute()

    def update(self, schedule: Schedule) -> None:
        """Rewrite the record of a schedule that still exists, leaving its due time alone."""
        self._r.set(self._record(schedule.team_id, schedule.id), schedule.model_dump_json(), xx=True)

    def get(self, team: str, schedule_id: str) -> Schedule | None:
        raw = self._r.get(self._record(team, schedule_id))
        return Schedule.model_validate_json(_text(raw)) if raw else None

    def team_schedules(self, team: str) -> list[Schedule]:
        ids = sorted(_text(i) for i in self._r.smembers(self._team(team)))
        found = [self.get(team, i) for i in ids]
        return sorted((s for s in found if s is not None), key=lambda s: s.created_at)

    def remove(self, team: str, schedule_id: str) -> Schedule | None:
        schedule = self.get(team, schedule_id)
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(self._record(team, schedule_id))
        pipe.srem(self._team(team), schedule_id)
        pipe.zrem(self._due(), member(team, schedule_id))
        pipe.hdel(self._held(), member(team, schedule_id))
        pipe.execute()
        return schedule

    def next_due(self, team: str, schedule_id: str) -> float | None:
        score = self._r.zscore(self._due(), member(team, schedule_id))
        return float(score) if score is not None else None

    # The due index ---------------------------------------------------------------------------------

    def earliest(self) -> tuple[str, float] | None:
        """The member due first and its score."""
        head: list[tuple[bytes | str, float]] = self._r.zrange(self._due(), 0, 0, withscores=True)  # type: ignore[assignment]
        if not head:
            return None
        value, score = head[0]
        return _text(value), float(score)

    def due(self, now: float, limit: int = 100) -> Iterator[str]:
        for value in self._r.zrangebyscore(self._due(), "-inf", int(now), start=0, num=limit):
            yield _text(value)

    def claim(self, value: str, now: float, lease_s: float) -> float | None:
        """Take the run of `value` due at or before `now` for `lease_s`: the due time taken (an earlier claim's that
        was never finished, if any), or None when another scheduler has it."""
        held = self._claim(keys=[self._due(), self._held()], args=[value, int(now), int(now + lease_s)])
        return float(_text(held)) if held else None

    def defer(self, value: str, until: float) -> None:
        """The claimed run waits until `until` (the channel's posting rate): due again then, its due time kept."""
        self._r.zadd(self._due(), {value: int(until) + 1})

    def finish(self, schedule: Schedule, next_due: float | None) -> None:
        """The claimed run is submitted (or skipped): record the schedule and its next due time."""
        self._finish(
            keys=[self._due(), self._held(), self._record(schedule.team_id, schedule.id)],
            args=[
                member(schedule.team_id, schedule.id),
                schedule.model_dump_json(),
                "" if next_due is None else int(next_due),
            ],
        )

    # Identities ------------------------------------------------------------------------------------

    def _logins(self, team: str) -> str:
        return self._keys.key(team, "github-login")

    def set_login(self, team: str, user: str, login: str) -> None:
        self._r.hset(self._logins(team), user, login)

    def login(self, team: str, user: str) -> str | None:
        raw = self._r.hget(self._logins(team), user)
        return _text(raw) if raw else None
