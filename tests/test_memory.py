"""Thread memory in a real Redis: whole exchanges as the model saw them; ordered, bounded, expiring, fails soft."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from synapse_bot.store.keys import Keys
from synapse_bot.store.memory import ThreadMemory


def _exchange(i: int) -> list[dict[str, object]]:
    return [
        {"role": "user", "content": f"question {i} " + "x" * 50},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": f"c{i}", "type": "function", "function": {"name": "help", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": f"c{i}", "content": "result " + "y" * 50},
        {"role": "assistant", "content": f"answer {i}"},
    ]


def test_exchanges_come_back_whole_in_order_and_bounded(redis_client: redis.Redis) -> None:
    memory = ThreadMemory(redis_client, Keys("memtest1"), max_turns=3, max_chars=20, ttl_seconds=120)
    for i in range(5):
        memory.remember("T1", "C1", "1.000001", _exchange(i))
    messages = memory.recall("T1", "C1", "1.000001").messages
    assert [m["content"][:10] for m in messages if m["role"] == "user"] == ["question 2", "question 3", "question 4"]
    assert messages[0]["role"] == "user" and messages[-1] == {"role": "assistant", "content": "answer 4"}
    # Tool calls stay real calls, answered by their results: nothing turned into prose.
    calls = [m for m in messages if m.get("tool_calls")]
    results = [m for m in messages if m["role"] == "tool"]
    assert [c["tool_calls"][0]["id"] for c in calls] == [r["tool_call_id"] for r in results] == ["c2", "c3", "c4"]
    assert all(len(str(m["content"])) <= 20 + len(" …[trimmed]") for m in messages)
    ttl = redis_client.ttl(Keys("memtest1").key("T1", "conversation", "C1", "1.000001"))
    assert 0 < ttl <= 120


def test_threads_and_teams_do_not_mix(redis_client: redis.Redis) -> None:
    memory = ThreadMemory(redis_client, Keys("memtest2"))
    memory.remember("T1", "C1", "1.1", [{"role": "user", "content": "a"}])
    memory.remember("T2", "C1", "1.1", [{"role": "user", "content": "b"}])
    assert memory.recall("T1", "C1", "1.1").messages == [{"role": "user", "content": "a"}]
    assert memory.recall("T1", "C1", "2.2").messages == []
    assert memory.recall("T1", "C1", None).messages == []


def test_the_conversations_an_exchange_quoted_are_remembered_with_it(redis_client: redis.Redis) -> None:
    memory = ThreadMemory(redis_client, Keys("memtest4"))
    memory.remember("T1", "C1", "1.1", [{"role": "user", "content": "summarize #secret"}], ["G0SECRET"])
    memory.remember("T1", "C1", "1.1", [{"role": "user", "content": "and #ops"}], ["C0OPS", "G0SECRET"])
    assert memory.recall("T1", "C1", "1.1").sources == ["G0SECRET", "C0OPS"]


def test_memory_fails_soft_without_redis() -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    memory = ThreadMemory(dead, Keys("memtest3"))
    memory.remember("T1", "C1", "1.1", [{"role": "user", "content": "a"}])  # no exception
    assert memory.recall("T1", "C1", "1.1").messages == []
