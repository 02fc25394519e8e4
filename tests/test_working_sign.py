"""The sign that Synapse has a request: a thread status in channels too, cleared when the answer is out; 👀 only
where status is refused; a rate-limited sign pauses itself and never holds up the answer; a sign that arrives
after the answer is not left behind."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from synapse_bot.app import build_sign_client
from synapse_bot.config import Settings
from synapse_bot.integrations.working_sign import SignSender, SlackSigns, TokenBucket, WorkingSigns
from synapse_bot.request import SlackRequest
from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_bot.store.keys import Keys
from synapse_bot.store.signs import DONE, SignRecords
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.requests import mention
from tests.support.settings import make_model_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def _statuses(slack: SlackSandbox, channel: str, thread_ts: str) -> list[str]:
    return [s["status"] for s in slack.statuses if (s["channel_id"], s["thread_ts"]) == (channel, thread_ts)]


def test_a_mention_shows_a_status_in_its_channel_thread_cleared_once_answered(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    general = workspace["general"]
    ts = slack.mention(workspace["alice"], general, "list monitors")
    slack.wait_for_bot_message(general, thread_ts=ts)
    _until(lambda: _statuses(slack, general, ts)[-1:] == [""])
    seen = _statuses(slack, general, ts)
    # The gateway's sign, or (when the job started at once) the job's own progress, which the sign then leaves be.
    assert seen[0] in ("is working on it…", "is looking up the monitors…") or "ahead of it" in seen[0]
    assert "is looking up the monitors…" in seen
    assert not slack.reaction_log  # no 👀 where status works


def test_the_reaction_is_the_fallback_where_status_is_refused(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    general = workspace["general"]
    slack.fail("assistant.threads.setStatus", "method_not_supported_for_channel_type", times=50)
    ts = slack.mention(workspace["alice"], general, "help")
    slack.wait_for_bot_message(general, thread_ts=ts)
    _until(lambda: ("remove", general, ts, "eyes") in slack.reaction_log)
    assert slack.reaction_log == [("add", general, ts, "eyes"), ("remove", general, ts, "eyes")]


def test_a_rate_limited_status_pauses_itself_and_does_not_hold_up_the_answer(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    general = workspace["general"]
    slack.rate_limit("assistant.threads.setStatus", times=1, retry_after=60)
    model.script(Reply.delay(2.0, Reply.text("All good.")))  # the sign is surely up before the answer comes
    started = time.monotonic()
    ts = slack.mention(workspace["alice"], general, "how is the deploy going?")
    slack.wait_for_bot_message(general, thread_ts=ts)
    assert time.monotonic() - started < 10  # nobody waited out the 60 s
    _until(lambda: ("remove", general, ts, "eyes") in slack.reaction_log)
    assert len(slack.calls("assistant.threads.setStatus")) == 1  # paused after the 429: no retries, no progress


def _question(slack: SlackSandbox, workspace: dict[str, str], dedupe_key: str) -> SlackRequest:
    """Alice's question in #general, as the request for it (its thread is the question's own message)."""
    general = workspace["general"]
    ts = slack.post_message(workspace["alice"], general, "question")
    return mention("question", dedupe_key=dedupe_key, channel_id=general, thread_ts=ts, message_ts=ts)


def test_a_sign_that_would_land_after_the_answer_is_not_sent(
    slack: SlackSandbox, settings: Settings, redis_client: redis.Redis, workspace: dict[str, str]
) -> None:
    request = _question(slack, workspace, "ev1")
    records = SignRecords(redis_client, Keys(settings.key_prefix))
    records.mark("T1", "ev1", DONE)  # the worker finished first
    sender = SignSender(SlackSigns(build_sign_client(settings, slack.bot_token)), records, threads=1).start()
    sender.offer(request)
    sender.stop()  # drains the queue
    assert slack.calls("assistant.threads.setStatus") == [] and sender.sent == 0


def test_the_sign_does_not_replace_a_progress_status_the_job_already_shows(
    slack: SlackSandbox, settings: Settings, redis_client: redis.Redis, workspace: dict[str, str]
) -> None:
    request = _question(slack, workspace, "ev2")
    general, ts = request.channel_id, str(request.thread_ts)
    records = SignRecords(redis_client, Keys(settings.key_prefix))
    signs = SlackSigns(build_sign_client(settings, slack.bot_token))
    worker = WorkingSigns(signs, records, gateway_signs=True)
    worker.progress(request, "is looking up the monitors…")  # the job started before the sign went out
    sender = SignSender(signs, records, threads=1).start()
    sender.offer(request)
    sender.stop()  # drains the queue
    assert _statuses(slack, general, ts) == ["is looking up the monitors…"] and sender.sent == 0
    worker.end(request, None)
    assert _statuses(slack, general, ts)[-1] == ""  # cleared once answered


def test_a_recorded_sign_is_still_cleared_when_progress_follows_it(
    slack: SlackSandbox, settings: Settings, redis_client: redis.Redis, workspace: dict[str, str]
) -> None:
    """Progress after the gateway's 👀 must not hide the reaction from the worker that takes it down."""
    slack.fail("assistant.threads.setStatus", "method_not_supported_for_channel_type", times=1)
    request = _question(slack, workspace, "ev3")
    general, ts = request.channel_id, str(request.thread_ts)
    records = SignRecords(redis_client, Keys(settings.key_prefix))
    signs = SlackSigns(build_sign_client(settings, slack.bot_token))
    sender = SignSender(signs, records, threads=1).start()
    sender.offer(request)
    sender.stop()
    assert slack.reaction_log == [("add", general, ts, "eyes")]
    worker = WorkingSigns(signs, records, gateway_signs=True)
    worker.progress(request, "is reading the thread…")
    worker.end(request, None)
    assert slack.reaction_log[-1] == ("remove", general, ts, "eyes")


def test_the_budget_refills_and_pauses() -> None:
    bucket = TokenBucket(capacity=2, per_minute=60)
    assert bucket.take() and bucket.take() and not bucket.take()
    _until(bucket.take, timeout=3)  # one a second
    paused = TokenBucket(capacity=2, per_minute=60)
    paused.pause(30)  # a 429's Retry-After
    assert not paused.take()


def test_a_request_that_waits_behind_others_says_how_many_are_ahead(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    with OpenAIServer() as model:
        model.set_responder(lambda body: Reply.delay(1.0, Reply.text("done")))
        settings = make_model_settings(slack, redis_server, tmp_path, model, SYNAPSE_WORKER_THREADS=1)
        runtime = Runtime(settings).start()
        try:
            assert slack.wait_connected(1, timeout=10)
            threads = [slack.mention(workspace["alice"], workspace["general"], f"question {i}") for i in range(6)]
            signs = [_first_status(slack, workspace["general"], ts) for ts in threads]
        finally:
            runtime.stop()
    # One worker thread, six questions at once: those that wait say roughly how many are ahead of them.
    assert any("ahead of it" in sign for sign in signs)


def _first_status(slack: SlackSandbox, channel: str, thread_ts: str) -> str:
    _until(lambda: bool(_statuses(slack, channel, thread_ts)))
    return _statuses(slack, channel, thread_ts)[0]
