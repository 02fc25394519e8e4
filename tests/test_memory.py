"""Thread memory in a real Redis: ordered, bounded, expiring, and soft when Redis is gone."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from synapse_bot.store.keys import Keys
from synapse_bot.store.memory import ThreadMemory, Turn


def test_turns_come_back_in_order_and_bounded(redis_client: redis.Redis) -> None:
    memory = ThreadMemory(redis_client, Keys("memtest1"), max_turns=4, max_chars=20, ttl_seconds=120)
    for i in range(6):
        memory.remember("T1", "C1", "1.000001", Turn(role="user", text=f"question {i} " + "x" * 50))
    turns = memory.recall("T1", "C1", "1.000001")
    assert [t.text[:10] for t in turns] == ["question 2", "question 3", "question 4", "question 5"]
    assert all(len(t.text) <= 20 for t in turns)
    ttl = redis_client.ttl(Keys("memtest1").key("T1", "memory", "C1", "1.000001"))
    assert 0 < ttl <= 120


def test_threads_and_teams_do_not_mix(redis_client: redis.Redis) -> None:
    memory = ThreadMemory(redis_client, Keys("memtest2"))
    memory.remember("T1", "C1", "1.1", Turn(role="user", text="a"))
    memory.remember("T2", "C1", "1.1", Turn(role="user", text="b"))
    assert [t.text for t in memory.recall("T1", "C1", "1.1")] == ["a"]
    assert memory.recall("T1", "C1", "2.2") == []
    assert memory.recall("T1", "C1", None) == []


def test_memory_fails_soft_without_redis() -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    memory = ThreadMemory(dead, Keys("memtest3"))
    memory.remember("T1", "C1", "1.1", Turn(role="user", text="a"))  # no exception
    assert memory.recall("T1", "C1", "1.1") == []
