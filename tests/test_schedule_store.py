"""The schedule store against a real redis-server: one claim per due time, a finished run's next due time, and a
schedule cancelled while its run was in hand staying cancelled."""

from __future__ import annotations

import uuid

import redis

from synapse_bot.schedules.model import Schedule, ScheduleKind
from synapse_bot.store.keys import Keys
from synapse_bot.store.schedules import ScheduleStore, member


def store(client: redis.Redis) -> ScheduleStore:
    return ScheduleStore(client, Keys(f"test-{uuid.uuid4().hex[:8]}"))


def schedule() -> Schedule:
    return Schedule(
        team_id="T1",
        kind=ScheduleKind.RECAP,
        owner="U1",
        channel_id="C1",
        days=[0],
        at="09:00",
        tz="UTC",
        created_at=0.0,
    )


def test_one_claim_per_due_time_and_a_lost_lease_hands_the_same_due_time_on(redis_client: redis.Redis) -> None:
    schedules, s = store(redis_client), schedule()
    schedules.save(s, 1_000)
    value = member(s.team_id, s.id)
    assert schedules.claim(value, 1_000, 30) == 1_000
    assert schedules.claim(value, 1_000, 30) is None  # another scheduler at the same moment
    assert schedules.claim(value, 1_031, 30) == 1_000  # the lease ran out unfinished: the same due time again
    schedules.finish(s, 2_000)
    assert schedules.next_due(s.team_id, s.id) == 2_000
    assert schedules.claim(value, 1_100, 30) is None


def test_a_schedule_cancelled_while_its_run_is_in_hand_stays_cancelled(redis_client: redis.Redis) -> None:
    schedules, s = store(redis_client), schedule()
    schedules.save(s, 1_000)
    assert schedules.claim(member(s.team_id, s.id), 1_000, 30) == 1_000
    schedules.remove(s.team_id, s.id)
    schedules.finish(s, 2_000)
    assert schedules.get(s.team_id, s.id) is None and schedules.next_due(s.team_id, s.id) is None
