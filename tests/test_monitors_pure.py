"""Keyword matching (pure) and the monitor store (real Redis)."""

from __future__ import annotations

import time

import pytest
import redis

from synapse_bot.monitors.matcher import InvalidKeyword, KeywordMatcher, normalise_keyword
from synapse_bot.store.keys import Keys
from synapse_bot.store.monitors import MonitorRule, MonitorStore, PendingHit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ERROR: disk   Full on db-1", ["error", "disk full"]),
        ("errors are not the word error… wait, error!", ["error"]),
        ("sundown and downtime", []),
        ("the service is DOWN", ["down"]),
        ("发生错误了", ["错误"]),
        ("Cafe and CAFÉ", ["café"]),
        ("er\u200bror with a zero-width space", ["error"]),
        ("ｅｒｒｏｒ in full width", ["error"]),
        ("", []),
    ],
)
def test_matches_whole_words_case_and_unicode_insensitively(text: str, expected: list[str]) -> None:
    matcher = KeywordMatcher(["error", "disk full", "down", "错误", "café"])
    assert matcher.find(text) == expected


def test_regex_metacharacters_are_just_text() -> None:
    matcher = KeywordMatcher(["(a+)+$", "5xx", "c++"])
    started = time.perf_counter()
    assert matcher.find("a" * 50_000 + "!") == []  # one long word, not the word "a": no catastrophic backtracking
    assert time.perf_counter() - started < 1.0
    assert matcher.find("we see 5xx responses") == ["5xx"]
    assert matcher.find("write it in C++ please") == ["c++"]


def test_pathological_inputs_stay_fast() -> None:
    matcher = KeywordMatcher([("a " * n).strip() for n in range(1, 9)] + [f"kw{i}" for i in range(10_000)])
    started = time.perf_counter()
    assert matcher.find("a " * 20_000)[0] == "a"
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("bad", ["", "   ", "!!!", "x" * 101, "one two three four five six seven eight nine"])
def test_unusable_keywords_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(InvalidKeyword):
        normalise_keyword(bad)


def test_rules_persist_version_and_delete(redis_client: redis.Redis) -> None:
    store = MonitorStore(redis_client, Keys("montest1"))
    rule = MonitorRule(team_id="T1", channel_id="C1", keywords=["error"], creator="U1")
    before = store.version("T1", "C1")
    store.save(rule)
    assert store.version("T1", "C1") == before + 1
    assert [r.id for r in store.rules("T1", "C1")] == [rule.id]
    assert [r.id for r in MonitorStore(redis_client, Keys("montest1")).all_rules("T1")] == [rule.id]
    assert store.delete("T1", "C1", [rule.id]) == 1
    assert store.all_rules("T1") == []


def test_a_channel_is_monitored_until_its_last_rule_is_deleted(redis_client: redis.Redis) -> None:
    """Gateways drop messages from channels outside the monitored set, so the set must follow the rules exactly."""
    store = MonitorStore(redis_client, Keys("montest3"))
    first = MonitorRule(team_id="T1", channel_id="C1", keywords=["error"], creator="U1")
    second = MonitorRule(team_id="T1", channel_id="C1", keywords=["deploy"], creator="U2")
    assert not store.is_monitored("T1", "C1")
    store.save(first)
    store.save(second)
    version = store.version("T1", "C1")
    assert store.delete("T1", "C1", [first.id, "no-such-rule"]) == 1
    assert store.is_monitored("T1", "C1")  # one rule left
    assert store.version("T1", "C1") == version + 1
    assert store.delete("T1", "C1", [second.id]) == 1
    assert not store.is_monitored("T1", "C1")
    assert not store.is_monitored("T2", "C1")  # teams do not mix


def test_alert_once_per_message_and_flood_window(redis_client: redis.Redis) -> None:
    store = MonitorStore(redis_client, Keys("montest2"))
    assert store.first_alert_for("T1", "r1", "1.1")
    assert not store.first_alert_for("T1", "r1", "1.1")
    assert store.open_window("T1", "r1", 60)
    assert not store.open_window("T1", "r1", 60)


def test_deferred_hits_become_one_digest_claimed_once(redis_client: redis.Redis) -> None:
    store = MonitorStore(redis_client, Keys("montest3"))
    rule = MonitorRule(team_id="T1", channel_id="C1", keywords=["error"], creator="U1")
    store.open_window("T1", rule.id, 1)
    for i in range(3):
        store.defer(rule, PendingHit(message_ts=f"1.{i}", author="U2", keywords=["error"]), 1)
    assert store.take_due_digests(now=time.time() - 10) == []  # not due yet
    [(team, channel, rule_id, hits)] = store.take_due_digests(now=time.time() + 5)
    assert (team, channel, rule_id) == ("T1", "C1", rule.id) and [h.message_ts for h in hits] == ["1.0", "1.1", "1.2"]
    assert store.take_due_digests(now=time.time() + 5) == []


def test_an_identical_rule_is_kept_once(redis_client: redis.Redis) -> None:
    store = MonitorStore(redis_client, Keys("montest-same"))
    first = store.save_unless_same(
        MonitorRule(team_id="T1", channel_id="C1", keywords=["Error", "disk  full"], creator="U1")
    )
    again = store.save_unless_same(
        MonitorRule(team_id="T1", channel_id="C1", keywords=["DISK FULL", "error"], creator="U1")
    )
    assert again.id == first.id
    version = store.version("T1", "C1")
    # Another person, or another destination, is another monitor.
    store.save_unless_same(MonitorRule(team_id="T1", channel_id="C1", keywords=["error", "disk full"], creator="U2"))
    store.save_unless_same(
        MonitorRule(team_id="T1", channel_id="C1", keywords=["error", "disk full"], creator="U1", alert_channel="C9")
    )
    assert len(store.rules("T1", "C1")) == 3
    assert store.version("T1", "C1") == version + 2


def test_an_identical_rule_saved_concurrently_is_stored_once(redis_client: redis.Redis) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = MonitorStore(redis_client, Keys("montest-race"))
    rules = [MonitorRule(team_id="T1", channel_id="C1", keywords=["error"], creator="U1") for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        kept = list(pool.map(store.save_unless_same, rules))
    assert len(store.rules("T1", "C1")) == 1
    assert {k.id for k in kept} == {store.rules("T1", "C1")[0].id}
