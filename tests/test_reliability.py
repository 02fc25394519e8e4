"""Reliability parts, one at a time: the reply guard, limits, access rules, the Redis circuit, health."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from slack_sdk import WebClient

from synapse_bot.access import AccessRules, GroupDirectory, Subject, ToolAccess
from synapse_bot.config import ConfigError, load_settings
from synapse_bot.health import query
from synapse_bot.jobs.guard import ClaimState, ReplyGuard
from synapse_bot.listeners.intake import Intake
from synapse_bot.request import RequestKind, SlackRequest
from synapse_bot.runtime import Runtime
from synapse_bot.store.dedupe import EventDeduper
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_bot.store.keys import Keys
from synapse_bot.store.limits import Limiter, LimitSettings, seconds_text
from synapse_bot.store.outage import RedisWatch
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.cluster import free_port
from tests.support.settings import make_model_settings, make_settings, subprocess_env
from tests.support.waits import all_acknowledged, settled, wait_until


def keys() -> Keys:
    return Keys(f"rel-{uuid.uuid4().hex[:8]}")


# Reply guard -------------------------------------------------------------------------------------------------


def test_reply_guard_claims_once_records_and_resolves_doubt(redis_client: redis.Redis) -> None:
    guard = ReplyGuard(redis_client, keys(), ttl_seconds=600, lease_seconds=60)
    first = guard.claim("T1", "Ev1")
    assert first.state is ClaimState.FRESH
    # A second run while the first still holds the lease (or died holding it) must look before posting.
    assert guard.claim("T1", "Ev1").state is ClaimState.IN_DOUBT
    guard.record(first, "1700000000.000100")
    again = guard.claim("T1", "Ev1")
    assert again.state is ClaimState.POSTED and again.posted_ts == "1700000000.000100"
    assert guard.posted("T1", "Ev1") == "1700000000.000100"
    released = guard.claim("T1", "Ev2")
    guard.release(released)
    assert guard.claim("T1", "Ev2").state is ClaimState.FRESH  # a failed post leaves no lease behind


def test_reply_guard_without_redis_lets_the_reply_through() -> None:
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    guard = ReplyGuard(dead, keys(), ttl_seconds=600)
    assert guard.claim("T1", "Ev1").state is ClaimState.UNGUARDED
    assert guard.posted("T1", "Ev1") is None


def help_in_a_thread(slack: SlackSandbox, workspace: dict[str, str]) -> tuple[str, SlackRequest]:
    """Alice's "help" message, and the request a worker gets for it (handed to the handler directly)."""
    ts = slack.post_message(workspace["alice"], workspace["general"], "help")
    request = SlackRequest(
        kind=RequestKind.MENTION,
        dedupe_key=f"Ev{uuid.uuid4().hex[:8]}",
        team_id=slack.team_id,
        user_id=workspace["alice"],
        channel_id=workspace["general"],
        text="help",
        thread_ts=ts,
        message_ts=ts,
    )
    return ts, request


@pytest.mark.e2e
def test_a_rerun_after_a_crash_between_post_and_record_does_not_post_again(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    """The one window the lease cannot close alone: found through the reply's metadata marker in Slack."""
    assert bot.queue is not None and bot.queue.handler is not None and bot.redis is not None
    ts, request = help_in_a_thread(slack, workspace)
    bot.queue.handler(request)
    assert len(slack.bot_messages(workspace["general"], thread_ts=ts)) == 1
    # Simulate a worker that posted and died before recording: the key holds a stale lease again.
    reply_key = Keys(bot.settings.key_prefix).reply(request.team_id, request.dedupe_key)
    bot.redis.set(reply_key, "posting:dead-worker")
    bot.queue.handler(request)
    assert len(slack.bot_messages(workspace["general"], thread_ts=ts)) == 1
    assert str(bot.redis.get(reply_key)).startswith("ts:")


LONG_ANSWER = "\n\n".join(f"Paragraph {i}: " + "the deploy pipeline runs its checks in order. " * 20 for i in range(30))


@pytest.mark.e2e
def test_a_reply_cut_short_by_slack_is_never_repeated_and_says_what_is_missing(
    model_bot: Runtime, model: OpenAIServer, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    model.set_responder(lambda body: Reply.text(LONG_ANSWER))
    slack.fail("chat.postMessage", "internal_error", after=1)  # the first part posts, the second is refused
    ts = slack.mention(workspace["alice"], workspace["general"], "walk me through the deploy pipeline")
    slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=30, count=2)
    settled(slack, model_bot)  # a retried job would have repeated the first part by now
    texts = [m["text"] for m in slack.bot_messages(workspace["general"], thread_ts=ts)]
    assert texts[0].startswith("Paragraph 0:")  # streamed, then continued in further messages
    assert "could not be posted (internal_error). Ask again for the full answer" in texts[-1]
    assert "could not be posted" not in "".join(texts[:-1])
    assert all("".join(texts).count(f"Paragraph {i}:") <= 1 for i in range(30))  # nothing posted twice


@pytest.mark.e2e
def test_a_rerun_after_a_crash_between_parts_does_not_repeat_them_and_says_what_is_missing(
    model_bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    assert model_bot.queue is not None and model_bot.queue.handler is not None and model_bot.redis is not None
    ts, request = help_in_a_thread(slack, workspace)
    # What a worker killed after the first of three parts leaves: that part in Slack, its lease in Redis.
    WebClient(token=slack.bot_token, base_url=slack.api_url).chat_postMessage(
        channel=workspace["general"],
        thread_ts=ts,
        text="Part one of three.",
        metadata={
            "event_type": "synapse_reply",
            "event_payload": {"request": request.dedupe_key, "part": 0, "parts": 3},
        },
    )
    reply_key = Keys(model_bot.settings.key_prefix).reply(request.team_id, request.dedupe_key)
    model_bot.redis.set(reply_key, "posting:dead-worker")
    model_bot.queue.handler(request)
    texts = [m["text"] for m in slack.bot_messages(workspace["general"], thread_ts=ts)]
    assert texts[0] == "Part one of three." and len(texts) == 2, texts
    assert "The last 2 parts of this answer could not be posted (Synapse restarted while posting it)" in texts[1]
    assert str(model_bot.redis.get(reply_key)).startswith("ts:")


# Limits ------------------------------------------------------------------------------------------------------


def test_request_rate_bucket_refuses_with_the_wait_and_admins_are_exempt(redis_client: redis.Redis) -> None:
    limiter = Limiter(redis_client, keys(), LimitSettings(user_per_minute=3), frozenset({"UADMIN"}))
    assert all(limiter.admit("T1", "U1", "C1").allowed for _ in range(3))
    refused = limiter.admit("T1", "U1", "C1")
    assert not refused.allowed and "3 a minute" in refused.message and "try again in" in refused.message
    assert limiter.admit("T1", "U2", "C1").allowed  # per user
    assert all(limiter.admit("T1", "UADMIN", "C1").allowed for _ in range(10))


def test_channel_rate_is_shared_by_everyone_in_it(redis_client: redis.Redis) -> None:
    limiter = Limiter(redis_client, keys(), LimitSettings(channel_per_minute=2), frozenset())
    assert limiter.admit("T1", "U1", "C1").allowed and limiter.admit("T1", "U2", "C1").allowed
    refused = limiter.admit("T1", "U3", "C1")
    assert not refused.allowed and refused.message.startswith("This channel is")
    assert limiter.admit("T1", "U3", "C2").allowed


def test_daily_token_budget_counts_usage_and_says_when_it_resets(redis_client: redis.Redis) -> None:
    limiter = Limiter(redis_client, keys(), LimitSettings(user_daily_tokens=1_000), frozenset())
    limiter.charge("T1", "U1", "C1", 600)
    assert limiter.admit("T1", "U1", "C1").allowed
    limiter.charge("T1", "U1", "C1", 600)
    refused = limiter.admit("T1", "U1", "C1")
    assert not refused.allowed and "1,000 tokens" in refused.message and "midnight UTC" in refused.message
    assert "SYNAPSE_USER_DAILY_TOKENS" in refused.message


def test_limits_fail_open_without_redis() -> None:
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    limiter = Limiter(dead, keys(), LimitSettings(user_per_minute=1, user_daily_tokens=1), frozenset())
    assert limiter.admit("T1", "U1", "C1").allowed
    limiter.charge("T1", "U1", "C1", 5)  # no exception


def test_seconds_text_reads_naturally() -> None:
    assert seconds_text(0.2) == "1 s" and seconds_text(61) == "61 s" and seconds_text(600) == "10 min"
    assert seconds_text(5 * 3600 + 60) == "5 h 1 min"


@pytest.mark.e2e
def test_a_rate_limited_person_gets_a_clear_reply_in_the_thread(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    settings = make_settings(slack, redis_server, tmp_path, SYNAPSE_USER_REQUESTS_PER_MINUTE=2)
    runtime = Runtime(settings).start()
    try:
        assert slack.wait_connected(1)
        texts = []
        for _ in range(3):
            ts = slack.mention(workspace["alice"], workspace["general"], "help")
            texts.append(slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=20)["text"])
        assert "summarize_thread" in texts[0] and "summarize_thread" in texts[1]
        assert "faster than Synapse allows (2 a minute)" in texts[2]
        ts = slack.mention(workspace["bob"], workspace["general"], "help")  # someone else is not affected
        assert "summarize_thread" in slack.wait_for_bot_message(workspace["general"], thread_ts=ts)["text"]
    finally:
        runtime.stop()


# Access rules ------------------------------------------------------------------------------------------------


def test_access_rules_parse_and_reject_with_the_problem_named() -> None:
    rules = AccessRules.parse('{"triage_issues": {"allow": ["S1"], "deny": ["C9"]}, "*": {"deny": ["U666"]}}')
    assert set(rules.rules) == {"triage_issues", "*"}
    for raw, expected in (
        ("{not json", "not valid JSON"),
        ("[1]", "JSON object keyed by tool name"),
        ('{"triage_issues": {"allw": ["U1"]}}', "'allw'"),
        ('{"triage_issues": {"allow": ["alice"]}}', "'alice', which is not a Slack"),
    ):
        with pytest.raises(ValueError, match=expected):
            AccessRules.parse(raw)
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None, SYNAPSE_ACCESS_RULES="{oops")
    assert "SYNAPSE_ACCESS_RULES" in str(raised.value)


def test_access_rule_decisions() -> None:
    rules = AccessRules.parse(
        '{"review_pull_request": {"allow": ["S0ENG", "C0REVIEW"]}, "triage_issues": {"deny": ["C0RANDOM", "U0BAD"]},'
        ' "*": {"deny": ["U0BANNED"]}}'
    )
    engineer = Subject("U1", "C0GENERAL", frozenset({"S0ENG"}))
    outsider = Subject("U2", "C0GENERAL")
    assert rules.check("review_pull_request", engineer).allowed
    refused = rules.check("review_pull_request", outsider)
    assert not refused.allowed and "SYNAPSE_ACCESS_RULES" in refused.reason and "<#C0GENERAL>" in refused.reason
    assert rules.check("review_pull_request", Subject("U2", "C0REVIEW")).allowed  # the channel is allowed
    assert not rules.check("triage_issues", Subject("U1", "C0RANDOM")).allowed  # the channel is denied
    assert "this channel" in rules.check("triage_issues", Subject("U1", "C0RANDOM")).reason
    assert not rules.check("triage_issues", Subject("U0BAD", "C0GENERAL")).allowed
    assert not rules.check("help", Subject("U0BANNED", "C0GENERAL")).allowed  # "*" covers every tool
    assert rules.check("help", Subject("U0BANNED", "C0GENERAL"), admins={"U0BANNED"}).allowed  # admins never


def test_group_membership_is_looked_up_only_for_named_groups_and_cached() -> None:
    lookups: list[str] = []

    def lookup(group: str) -> list[str]:
        lookups.append(group)
        return ["U1"] if group == "S0ENG" else []

    access = ToolAccess(
        AccessRules.parse('{"triage_issues": {"allow": ["S0ENG"]}}'), {"UADMIN"}, GroupDirectory(lookup)
    )
    assert access.check("triage_issues", "U1", "C1").allowed
    assert not access.check("triage_issues", "U2", "C1").allowed
    assert access.check("triage_issues", "UADMIN", "C1").allowed
    assert lookups == ["S0ENG"]  # one lookup, cached


@pytest.mark.e2e
def test_a_denied_tool_gets_a_clear_reply_and_other_tools_still_work(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    eng = slack.add_user_group("eng", [workspace["bob"]])
    rules = f'{{"triage_issues": {{"allow": ["{eng}"]}}}}'
    runtime = Runtime(make_settings(slack, redis_server, tmp_path, SYNAPSE_ACCESS_RULES=rules)).start()
    try:
        assert slack.wait_connected(1)
        ts = slack.mention(workspace["alice"], workspace["general"], "triage acme/widgets")
        text = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=20)["text"]
        assert "`triage_issues` is limited" in text and "Ask a Synapse admin" in text
        ts = slack.mention(workspace["bob"], workspace["general"], "triage acme/widgets")
        text = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=20)["text"]
        assert "limited" not in text  # bob is in the group: the tool ran (and GitHub is unreachable here)
        ts = slack.mention(workspace["alice"], workspace["general"], "help")
        assert "summarize_thread" in slack.wait_for_bot_message(workspace["general"], thread_ts=ts)["text"]
    finally:
        runtime.stop()


# Redis circuit and health ------------------------------------------------------------------------------------


def test_redis_watch_skips_redis_while_down_then_probes() -> None:
    now = [100.0]
    watch = RedisWatch(retry_s=0.2, clock=lambda: now[0])
    assert watch.usable()
    watch.failed(ConnectionError("refused"))
    assert watch.down and not watch.usable()
    now[0] += 0.25
    assert watch.usable() and not watch.usable()  # exactly one probe per interval
    watch.ok()
    assert not watch.down and watch.usable() and watch.outages == 1


def test_deliveries_claimed_during_an_outage_are_recognised_after_it_by_every_gateway(tmp_path: Path) -> None:
    """A retry that reaches another gateway after Redis returns must not be answered a second time."""
    server = EmbeddedRedis(tmp_path / "redis", persist=False, port=free_port()).start()
    prefix = keys()
    client = redis.Redis.from_url(server.url, socket_connect_timeout=0.3, socket_timeout=0.3)
    queued: list[SlackRequest] = []
    gateway = Intake(EventDeduper(client, prefix, 600), queued.append, RedisWatch(retry_s=0.0))

    def delivery(event_id: str, retry: int = 0) -> SlackRequest:
        return SlackRequest(
            kind=RequestKind.MENTION,
            dedupe_key=event_id,
            team_id="T1",
            user_id="U1",
            channel_id="C1",
            text="help",
            retry_attempt=retry,
        )

    try:
        server.kill()
        assert gateway.accept(delivery("EvDuringOutage"))  # handled from memory
        assert not gateway.accept(delivery("EvDuringOutage", retry=1))  # memory still dedupes
        server.start()
        assert gateway.accept(delivery("EvAfter"))  # Redis is back: the outage claims are written first
        other_client = redis.Redis.from_url(server.url)
        other_gateway = Intake(EventDeduper(other_client, prefix, 600), queued.append, RedisWatch())
        assert not other_gateway.accept(delivery("EvDuringOutage", retry=2))
        assert not other_gateway.accept(delivery("EvAfter", retry=1))
        assert [r.dedupe_key for r in queued] == ["EvDuringOutage", "EvAfter"]
        other_client.close()
    finally:
        client.close()
        server.stop()


@pytest.mark.e2e
def test_health_endpoint_and_command(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    port = free_port()
    settings = make_settings(slack, redis_server, tmp_path, SYNAPSE_HEALTH_PORT=port, SYNAPSE_HEALTH_HOST="127.0.0.1")
    runtime = Runtime(settings).start()
    try:
        assert slack.wait_connected(1) and runtime.wait_connected()
        code, body = query(f"http://127.0.0.1:{port}/health")
        assert code == 200 and body["status"] == "ok" and body["socket_connected"] and body["redis"]
        assert body["shape"] == "run" and "jobs_done" in body
        command = [sys.executable, "-m", "synapse_bot", "health", "--url", f"http://127.0.0.1:{port}/health"]
        done = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and '"status": "ok"' in done.stdout
        assert query(f"http://127.0.0.1:{port}/nope")[0] == 404
    finally:
        runtime.stop()
    unreachable = [sys.executable, "-m", "synapse_bot", "health", "--url", f"http://127.0.0.1:{free_port()}/health"]
    done = subprocess.run(unreachable, env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "unreachable" in done.stdout


@pytest.mark.e2e
def test_channel_messages_are_queued_only_where_a_monitor_watches(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    assert bot.failover is not None
    alerts = slack.add_channel("alerts", members=[workspace["alice"], workspace["bob"]])
    for i in range(5):
        slack.post_message(workspace["bob"], alerts, f"chatter {i}")
    wait_until(lambda: all_acknowledged(slack), what="acknowledging the chatter")  # acked after queueing, if queued
    assert bot.failover.queued == 0  # acknowledged, not turned into jobs
    ts = slack.mention(workspace["alice"], workspace["general"], "monitor #alerts for outage")
    slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=20)
    queued = bot.failover.queued
    slack.post_message(workspace["bob"], alerts, "big outage in eu-west")
    dm = slack.im_channel(workspace["alice"]).id
    assert "outage" in slack.wait_for_bot_message(dm, timeout=20)["text"]
    assert bot.failover.queued == queued + 1


@pytest.mark.e2e
def test_a_job_over_its_time_limit_is_stopped_and_says_so(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    with OpenAIServer() as model:
        summary = {"tldr": "t", "key_points": [], "decisions": [], "action_items": [], "open_questions": []}
        # Parts are summarised side by side, then combined: two rounds of 8 s each outlast the 10 s limit.
        model.set_responder(lambda body: Reply.delay(8.0, Reply.json_content(summary)))
        settings = make_model_settings(slack, redis_server, tmp_path, model, SYNAPSE_JOB_TIME_LIMIT_SECONDS=10)
        runtime = Runtime(settings).start()
        try:
            assert slack.wait_connected(1)
            texts = [f"message {i} about the release and the flaky deploy pipeline" * 3 for i in range(1_500)]
            root = slack.seed_thread(workspace["general"], workspace["bob"], texts)
            slack.mention(workspace["alice"], workspace["general"], "summarize this thread", thread_ts=root)
            reply = slack.wait_for_bot_message(workspace["general"], thread_ts=root, timeout=40)
            assert "took longer than Synapse's limit of 10 s, so I stopped" in reply["text"]
            assert "SYNAPSE_JOB_TIME_LIMIT_SECONDS" in reply["text"]
            assert len(slack.bot_messages(workspace["general"], thread_ts=root)) == 1
        finally:
            runtime.stop()


@pytest.mark.e2e
def test_the_embedded_redis_is_restarted_when_it_dies_and_answers_continue(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    settings = make_settings(slack, redis_server, tmp_path, REDIS_URL=None)  # the embedded default
    runtime = Runtime(settings).start()
    try:
        assert slack.wait_connected(1) and runtime.embedded_redis is not None
        first_pid = runtime.embedded_redis.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)  # an OOM kill, say
        ts = slack.mention(workspace["alice"], workspace["general"], "help")  # answered while it is down
        assert "summarize_thread" in slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=20)["text"]
        deadline = time.monotonic() + 15
        while not runtime.redis_reachable() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert runtime.redis_reachable() and runtime.embedded_redis.pid not in (None, first_pid)
        ts = slack.mention(workspace["alice"], workspace["general"], "help")
        slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=20)
        assert runtime.health()["status"] == "ok"
    finally:
        runtime.stop()


def test_processes_sharing_a_data_dir_start_one_server_and_the_survivor_restarts_it() -> None:
    with tempfile.TemporaryDirectory(prefix="er-") as tmp:  # short: unix socket paths are limited to ~100 bytes
        directory = Path(tmp) / "redis"
        contenders = [EmbeddedRedis(directory, persist=True) for _ in range(4)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda e: e.start(), contenders))  # four processes starting at the same moment
        owners = [e for e in contenders if e.pid is not None]
        assert len(owners) == 1  # one server; the others reuse it
        owner, survivor = owners[0], next(e for e in contenders if e.pid is None)
        client = redis.Redis.from_url(survivor.url, socket_connect_timeout=1)
        client.set("kept", "yes")
        stopped = threading.Event()
        survivor.supervise(stopped, every_s=0.2)
        try:
            owner.stop()  # the process that started it exits (a deploy, a crash)

            def restarted_with_the_data() -> bool:
                # the survivor's pid is set when it launches redis-server, a moment before the server listens
                try:
                    return survivor.pid is not None and client.get("kept") == b"yes"
                except redis.ConnectionError:
                    return False

            deadline = time.monotonic() + 15
            while not restarted_with_the_data() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert restarted_with_the_data()  # restarted, data back from the AOF
        finally:
            stopped.set()
            client.close()
            survivor.stop()
