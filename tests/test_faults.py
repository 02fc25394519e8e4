"""Fault suite: real `python -m synapse_bot` processes, the Slack and model stand-ins over the wire, a real
redis-server on a TCP port that can be killed and brought back. Each test breaks one thing and checks that every
request is still answered, exactly once, with a clear reply."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from synapse_sandbox.openai_server import Reply
from tests.support.cluster import BotProcess, cluster_env, free_port
from tests.support.rig import Rig, assert_exactly_once, launch, model_env, replies, wait_answered
from tests.support.waits import processes_settled, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.timeout(300)]


def test_the_same_event_delivered_three_times_gets_one_reply(rig: Rig) -> None:
    slack, workspace, tmp_path, tcp_redis = rig.slack, rig.workspace, rig.tmp_path, rig.tcp_redis
    processes = rig.processes
    env = cluster_env(slack, tcp_redis.url, tmp_path / "data")
    launch(processes, "gateway", env, tmp_path).wait_healthy()
    launch(processes, "worker", env, tmp_path).wait_healthy()
    ts = slack.mention(workspace["alice"], workspace["general"], "help")
    envelope = slack.last_envelope_for_event("app_mention")
    slack.deliver_again(envelope, retry_attempt=1, retry_reason="timeout")
    slack.deliver_again(envelope, retry_attempt=2, retry_reason="timeout")
    slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=30)
    processes_settled(slack, processes)  # a duplicate, if one were coming, is posted by now
    assert_exactly_once(slack, workspace["general"], [ts])
    assert slack.acks[envelope].count >= 1


def test_a_worker_killed_mid_job_ten_times_answers_each_request_exactly_once(rig: Rig) -> None:
    slack, workspace, tmp_path, tcp_redis, model = rig.slack, rig.workspace, rig.tmp_path, rig.tcp_redis, rig.model
    processes = rig.processes
    model.set_responder(lambda body: Reply.delay(1.5, Reply.text("Here is the answer.")))
    env = cluster_env(slack, tcp_redis.url, tmp_path / "data", **model_env(model, SYNAPSE_QUEUE_HEARTBEAT_SECONDS="3"))
    launch(processes, "gateway", env, tmp_path).wait_healthy()
    worker = launch(processes, "worker", env, tmp_path)
    worker.wait_healthy()
    channel, threads, latencies = workspace["general"], [], []
    for round_no in range(10):
        seen = model.request_count
        asked = time.monotonic()
        ts = slack.mention(workspace["alice"], channel, f"question {round_no}: what changed in the deploy?")
        threads.append(ts)
        model.wait_for_requests(seen + 1, timeout=20)  # the worker is inside the job, waiting on the model
        worker.kill()
        assert replies(slack, channel, ts) == []  # killed before it could answer
        worker = launch(processes, "worker", env, tmp_path)
        slack.wait_for_bot_message(channel, thread_ts=ts, timeout=30 - (time.monotonic() - asked))
        latencies.append(time.monotonic() - asked)
    processes_settled(slack, [p for p in processes if p.process is not None and p.process.poll() is None])
    assert_exactly_once(slack, channel, threads)  # any duplicate would be posted by now
    assert max(latencies) < 30, latencies


def test_redis_down_for_twenty_seconds_during_traffic_every_request_is_answered(rig: Rig) -> None:
    slack, workspace, tmp_path, tcp_redis, model = rig.slack, rig.workspace, rig.tmp_path, rig.tcp_redis, rig.model
    processes = rig.processes
    model.set_responder(lambda body: Reply.text("Answered."))
    env = cluster_env(slack, tcp_redis.url, tmp_path / "data", **model_env(model))
    gateway = launch(processes, "gateway", env, tmp_path)
    gateway.wait_healthy()
    worker = launch(processes, "worker", env, tmp_path)
    worker.wait_healthy()
    channel, threads = workspace["general"], []

    def ask(label: str) -> None:
        ts = slack.mention(workspace["alice"], channel, f"{label}: how is the release going?")
        envelope = slack.last_envelope_for_event("app_mention")
        assert slack.wait_for_ack(envelope, timeout=3.0).latency_s < 3.0  # Slack's limit, outage or not
        threads.append(ts)

    for i in range(3):
        ask(f"before {i}")
    wait_answered(slack, channel, threads, timeout=20)

    tcp_redis.kill()
    outage_started = time.monotonic()
    i = 0
    while time.monotonic() - outage_started < 20:
        ask(f"during {i}")
        i += 1
        time.sleep(1.0)
    code, body = gateway.health()
    assert code == 200 and body["status"] == "degraded" and body["redis"] is False
    assert body["jobs_in_process"] >= 1
    wait_answered(slack, channel, threads, timeout=20)

    tcp_redis.start()
    queued_before = gateway.health()[1]["jobs_queued"]
    for i in range(3):
        ask(f"after {i}")
        time.sleep(0.5)
    wait_answered(slack, channel, threads, timeout=30)
    status = gateway.health()[1]
    assert status["status"] == "ok" and status["jobs_queued"] > queued_before  # back on the queue, no restart
    assert_exactly_once(slack, channel, threads)
    assert "degraded mode" in gateway.logs() and "normal mode" in gateway.logs()


def test_mlflow_unreachable_has_no_effect_on_answers(rig: Rig) -> None:
    slack, workspace, tmp_path, tcp_redis = rig.slack, rig.workspace, rig.tmp_path, rig.tcp_redis
    processes = rig.processes
    env = cluster_env(
        slack,
        tcp_redis.url,
        tmp_path / "data",
        SYNAPSE_TRACKING_ENABLED="true",
        MLFLOW_TRACKING_URI=f"http://127.0.0.1:{free_port()}",
    )
    launch(processes, "run", env, tmp_path).wait_healthy()
    threads = []
    for i in range(3):
        threads.append(slack.mention(workspace["alice"], workspace["general"], "help"))
        envelope = slack.last_envelope_for_event("app_mention")
        assert slack.wait_for_ack(envelope, timeout=3).latency_s < 1.0, f"ack {i} slowed by tracking"
    wait_answered(slack, workspace["general"], threads, timeout=20)
    assert_exactly_once(slack, workspace["general"], threads)


def test_model_throttling_errors_and_timeouts_are_retried_then_answered_clearly(rig: Rig) -> None:
    slack, workspace, tmp_path, tcp_redis, model = rig.slack, rig.workspace, rig.tmp_path, rig.tcp_redis, rig.model
    processes = rig.processes
    env = cluster_env(
        slack,
        tcp_redis.url,
        tmp_path / "data",
        **model_env(model, SYNAPSE_OPENAI_TIMEOUT_SECONDS="2", SYNAPSE_OPENAI_MAX_RETRIES="1"),
    )
    launch(processes, "run", env, tmp_path).wait_healthy()
    channel = workspace["general"]

    model.script(Reply.error(429, retry_after=1), Reply.text("after the wait"))
    started = time.monotonic()
    ts = slack.mention(workspace["alice"], channel, "are you there?")
    assert slack.wait_for_bot_message(channel, thread_ts=ts, timeout=30)["text"] == "after the wait"
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured

    model.script(Reply.error(500), Reply.error(503))
    ts = slack.mention(workspace["alice"], channel, "and now?")
    text = slack.wait_for_bot_message(channel, thread_ts=ts, timeout=30)["text"]
    assert "model service is having trouble" in text and "`help`" in text

    model.script(Reply.hang(30), Reply.hang(30))
    ts = slack.mention(workspace["alice"], channel, "still there?")
    text = slack.wait_for_bot_message(channel, thread_ts=ts, timeout=30)["text"]
    assert "model took too long" in text and "`help`" in text, text
    assert len(replies(slack, channel, ts)) == 1


def test_slack_rate_limit_on_post_message_is_waited_out_and_posted_once(rig: Rig) -> None:
    slack, workspace, tmp_path, tcp_redis = rig.slack, rig.workspace, rig.tmp_path, rig.tcp_redis
    processes = rig.processes
    launch(processes, "run", cluster_env(slack, tcp_redis.url, tmp_path / "data"), tmp_path).wait_healthy()
    slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    ts = slack.mention(workspace["alice"], workspace["general"], "help")
    slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=30)
    processes_settled(slack, processes)
    assert_exactly_once(slack, workspace["general"], [ts])
    posts = slack.calls("chat.postMessage")
    limited = [c for c in posts if c.status == "ratelimited"]
    assert len(limited) == 1
    assert posts[-1].at - limited[0].at >= 1.0  # waited for Retry-After before posting


def test_disconnects_and_dropped_sockets_under_load_lose_no_event(rig: Rig) -> None:
    slack, workspace, tmp_path, tcp_redis = rig.slack, rig.workspace, rig.tmp_path, rig.tcp_redis
    processes = rig.processes
    env = cluster_env(slack, tcp_redis.url, tmp_path / "data")
    launch(processes, "run", env, tmp_path).wait_healthy()
    channel, threads = workspace["general"], []
    for i in range(30):
        threads.append(slack.mention(workspace["alice"], channel, "help"))
        if i == 10:
            slack.request_disconnect("refresh_requested", close_after=0.5)
        if i == 20:
            slack.drop_connections()
        time.sleep(0.1)
    wait_answered(slack, channel, threads, timeout=60)
    processes_settled(slack, processes)
    assert_exactly_once(slack, channel, threads)
    assert slack.hub.connects >= 3  # it really did reconnect twice


def test_a_second_gateway_and_two_workers_share_the_load_through_redis(rig: Rig) -> None:
    slack, workspace, tmp_path, tcp_redis, model = rig.slack, rig.workspace, rig.tmp_path, rig.tcp_redis, rig.model
    processes = rig.processes
    model.set_responder(lambda body: Reply.delay(0.5, Reply.text("Shared answer.")))
    env = cluster_env(slack, tcp_redis.url, tmp_path / "data", **model_env(model, SYNAPSE_WORKER_THREADS="2"))
    gateways = [launch(processes, "gateway", env, tmp_path) for _ in range(2)]
    workers = [launch(processes, "worker", env, tmp_path) for _ in range(2)]
    for process in (*gateways, *workers):
        process.wait_healthy()
    assert slack.wait_connected(2, timeout=30)
    channel, threads = workspace["general"], []
    for i in range(20):
        threads.append(slack.mention(workspace["alice"], channel, f"question {i}?"))
        time.sleep(0.05)
    wait_answered(slack, channel, threads, timeout=60)
    assert_exactly_once(slack, channel, threads)
    # A job counts as done once its handler returns, a moment after its answer is posted (the sign comes down).
    wait_until(lambda: sum(w.health()[1].get("jobs_done", 0) for w in workers) >= 20, 15, "the workers' job counts")
    queued = [g.health()[1]["jobs_queued"] for g in gateways]
    done = [w.health()[1]["jobs_done"] for w in workers]
    # Each mention is two events; the channel message is not queued (no monitor watches the channel): 20 jobs.
    assert all(n > 0 for n in queued) and sum(queued) == 20, queued  # both gateways took deliveries
    assert all(n > 0 for n in done) and sum(done) == 20, done  # both workers did jobs


def test_a_killed_poller_is_taken_over_and_every_github_event_is_posted_exactly_once(rig: Rig) -> None:
    """Two workers share the pollers; the one polling is killed (SIGKILL) while the repository keeps changing: the
    other takes the repository over within seconds, and each card and thread line is posted once."""
    from synapse_sandbox.github_server import GitHubServer
    from tests.support.github_feed import REPO, card_for, cards, github_with_repo, thread_lines

    slack, workspace, tmp_path, tcp_redis = rig.slack, rig.workspace, rig.tmp_path, rig.tcp_redis
    channel = workspace["general"]
    with GitHubServer() as github:
        github_with_repo(github)
        env = cluster_env(
            slack,
            tcp_redis.url,
            tmp_path / "data",
            GITHUB_TOKEN=github.token,
            GITHUB_API_URL=github.base_url,
            SYNAPSE_GITHUB_POLL_SECONDS="5",
            SYNAPSE_QUEUE_HEARTBEAT_SECONDS="3",
        )
        launch(rig.processes, "gateway", env, tmp_path).wait_healthy()
        workers = [launch(rig.processes, "worker", env, tmp_path) for _ in range(2)]
        for worker in workers:
            worker.wait_healthy()
        ts = slack.mention(workspace["alice"], channel, f"<@{slack.bot_user_id}> subscribe to {REPO} issues comments")
        slack.wait_for_bot_message(channel, thread_ts=ts, timeout=30)
        first = github.open_issue(REPO, "Before the kill", user="bob")
        card = wait_until(lambda: card_for(slack, channel, first), 30, "the first card")
        polling = wait_until(
            lambda: next((w for w in workers if int(w.health()[1].get("github_polls", 0)) > 0), None), 30, "a poller"
        )
        polling.kill()
        survivor = next(w for w in workers if w is not polling)
        later = [github.open_issue(REPO, f"After the kill {n}", user="bob") for n in range(3)]
        github.comment(REPO, first, "still happening", user="carol")
        wait_until(lambda: all(card_for(slack, channel, n) for n in later), 45, "the cards after the kill")
        wait_until(lambda: thread_lines(slack, channel, card["ts"]), 30, "the comment after the kill")
        assert int(survivor.health()[1].get("github_polls", 0)) > 0  # the survivor took the repository over
        replacement = launch(rig.processes, "worker", env, tmp_path)
        replacement.wait_healthy()
        last = github.open_issue(REPO, "With a new worker", user="bob")
        wait_until(lambda: card_for(slack, channel, last), 30, "the last card")
        processes_settled(slack, [p for p in rig.processes if p is not polling])
        assert len(cards(slack, channel)) == 5  # each issue once
        assert len(thread_lines(slack, channel, card["ts"])) == 1


def test_a_schedule_due_in_the_next_minute_posts_once_with_two_workers_and_one_killed_mid_way(rig: Rig) -> None:
    """Real time, real processes: the run's job is inside GitHub (stalled) on one worker when that worker is killed;
    the other worker's redelivered job posts the reminder, once."""
    from synapse_sandbox.github_server import GitHubServer
    from tests.support.github_feed import REPO, github_with_repo

    slack, workspace, tmp_path, tcp_redis = rig.slack, rig.workspace, rig.tmp_path, rig.tcp_redis
    channel = workspace["general"]
    with GitHubServer() as github:
        github_with_repo(github)
        github.add_pull(REPO, "Waiting for a reviewer", user="carol")
        env = cluster_env(
            slack,
            tcp_redis.url,
            tmp_path / "data",
            GITHUB_TOKEN=github.token,
            GITHUB_API_URL=github.base_url,
            SYNAPSE_QUEUE_HEARTBEAT_SECONDS="3",
        )
        launch(rig.processes, "gateway", env, tmp_path).wait_healthy()
        workers = [launch(rig.processes, "worker", env, tmp_path) for _ in range(2)]
        for worker in workers:
            worker.wait_healthy()
        zone = ZoneInfo("Europe/London")  # the sandbox's people's Slack time zone
        due = datetime.now(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        if (due - datetime.now(zone)).total_seconds() < 12:
            due += timedelta(minutes=1)  # time enough to make it first
        ts = slack.mention(
            workspace["alice"],
            channel,
            f"<@{slack.bot_user_id}> remind <#{channel}|general> about reviews in {REPO} every day at {due:%H:%M}",
        )
        assert slack.wait_for_bot_message(channel, thread_ts=ts, timeout=30)["text"].startswith("Scheduled")
        github.stall_next(25)  # the run's first GitHub read hangs: the job is mid-way

        def holder() -> BotProcess | None:
            return next((w for w in workers if int(w.health()[1].get("jobs_running", 0)) > 0), None)

        busy = wait_until(holder, 150, "a worker running the scheduled reminder")
        busy.kill()
        survivor = next(w for w in workers if w is not busy)

        def reminders() -> list[dict[str, Any]]:
            return [m for m in slack.bot_messages(channel) if m.get("thread_ts") in (None, m["ts"])]

        wait_until(reminders, 60, "the reminder from the surviving worker")
        processes_settled(slack, [survivor, *[p for p in rig.processes if p.shape == "gateway"]])
        [reminder] = reminders()
        assert "Waiting for a reviewer" in reminder["text"]
        assert datetime.now(zone) - due < timedelta(seconds=60)
