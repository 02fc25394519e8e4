"""The real bot over a real Socket Mode connection to the Slack sandbox: where and how it answers."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import mlflow
import pytest

from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_bot.tracking.recorder import MlflowRecorder
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import make_settings
from tests.support.waits import settled, wait_until

pytestmark = pytest.mark.e2e


def test_mention_in_a_channel_gets_a_reply_in_the_mentions_thread(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    ts = slack.mention(workspace["alice"], workspace["general"], "help")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    assert reply["thread_ts"] == ts
    assert "summarize_thread" in reply["text"] and "triage_issues" in reply["text"]
    # Nothing was posted at the channel's top level.
    assert [m for m in slack.messages(workspace["general"]) if m.get("bot_id")] == []


def test_mention_inside_a_thread_replies_in_that_thread(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    root = slack.post_message(workspace["bob"], workspace["general"], "deploy is stuck")
    slack.mention(workspace["alice"], workspace["general"], "help", thread_ts=root)
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=root)
    assert reply["thread_ts"] == root


def test_slash_command_help_is_acked_fast_and_delivered(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    envelope = slack.slash_command(workspace["alice"], workspace["general"], "help")
    ack = slack.wait_for_ack(envelope, timeout=3.0)
    assert ack.latency_s < 3.0
    reply = slack.wait_for_bot_message(workspace["general"])
    assert "/synapse help" in reply["text"]
    assert "monitor_channel" in reply["text"]


def test_slash_command_where_the_bot_is_not_a_member_answers_privately(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    elsewhere = slack.add_channel("elsewhere", members=[workspace["alice"]], bot_member=False)
    envelope = slack.slash_command(workspace["alice"], elsewhere, "help")
    slack.wait_for_ack(envelope, timeout=3.0)
    wait_until(lambda: slack.response_url_posts, what="a post to the response URL")
    [post] = slack.response_url_posts
    assert post["body"]["response_type"] == "ephemeral"
    assert "/invite @synapse" in post["body"]["text"]


def test_shortcut_on_a_reply_answers_in_the_clicked_thread(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    root = slack.post_message(workspace["bob"], workspace["general"], "incident review")
    reply_ts = slack.post_message(workspace["alice"], workspace["general"], "root cause: cache", thread_ts=root)
    envelope = slack.message_shortcut(
        workspace["alice"], workspace["general"], reply_ts, callback_id="synapse_summarize_thread"
    )
    ack = slack.wait_for_ack(envelope, timeout=3.0)
    assert ack.latency_s < 3.0
    answer = slack.wait_for_bot_message(workspace["general"], thread_ts=root)
    assert answer["thread_ts"] == root
    assert "Thread summary" in answer["text"] and "incident review" in answer["text"]


def test_github_being_unreachable_gets_a_clear_reply(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    ts = slack.mention(workspace["alice"], workspace["general"], "triage github issues in acme/widgets")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=30)
    assert "can't reach GitHub" in reply["text"]


def test_a_redelivered_event_gets_exactly_one_reply(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    ts = slack.mention(workspace["alice"], workspace["general"], "help")
    slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    first = slack.last_envelope_for_event("app_mention")
    slack.deliver_again(first, retry_attempt=1, retry_reason="timeout")
    slack.wait_for_ack(first, timeout=3.0)
    settled(slack, bot)
    assert len(slack.bot_messages(workspace["general"], thread_ts=ts)) == 1


def test_the_bot_ignores_its_own_messages(bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]) -> None:
    ts = slack.mention(workspace["alice"], workspace["general"], "help")
    slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    settled(slack, bot)  # including the message event for its own reply
    # The bot's reply came back to it as a message event; it must not have answered itself.
    assert len(slack.bot_messages(workspace["general"], thread_ts=ts)) == 1
    assert len(slack.bot_messages()) == 1


def test_disconnect_refresh_requested_reconnects_and_keeps_answering(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    connects = slack.hub.connects
    slack.request_disconnect("refresh_requested")
    wait_until(lambda: slack.hub.connects > connects, what="a new connection")
    assert slack.wait_connected(1, timeout=10)
    ts = slack.mention(workspace["alice"], workspace["general"], "help")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=15)
    assert "**Synapse** — your engineering assistant" in reply["text"]  # the answer to help, not any message


def test_dropped_socket_reconnects_without_losing_the_event(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    slack.drop_connections()
    ts = slack.mention(workspace["alice"], workspace["general"], "help")  # queued while nobody is connected
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=20)
    assert "**Synapse** — your engineering assistant" in reply["text"]  # the answer to help, not any message


def _nodelay(bot: Runtime) -> int:
    assert bot.socket is not None
    sock = bot.socket.client.current_session.sock  # type: ignore[attr-defined]
    return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)) if sock is not None else -1


def _wait_nodelay(bot: Runtime, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _nodelay(bot) != 1:
        time.sleep(0.05)
    return _nodelay(bot)


def test_acks_are_sent_without_nagle_delay_on_every_connection(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    """slack-sdk leaves Nagle on; acks written back to back would then wait for Slack's TCP ACKs."""
    assert _wait_nodelay(bot) == 1
    first = bot.socket.client.current_session  # type: ignore[union-attr]
    slack.drop_connections()
    ts = slack.mention(workspace["alice"], workspace["general"], "help")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=20)
    assert "**Synapse** — your engineering assistant" in reply["text"]  # the answer to help, not any message
    assert bot.socket.client.current_session is not first  # type: ignore[union-attr]  # a new connection...
    assert _wait_nodelay(bot) == 1  # ...set up the same way


def test_home_tab_is_published_when_opened(bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]) -> None:
    slack.open_home(workspace["alice"])
    view = wait_until(lambda: slack.home_views.get(workspace["alice"]), what="publishing the home view")
    assert view["type"] == "home"
    text = str(view["blocks"])
    assert "Summarize thread" in text and "/synapse help" in text


def test_each_request_leaves_one_trace_in_mlflow(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    settings = make_settings(slack, redis_server, tmp_path, SYNAPSE_TRACKING_ENABLED=True)
    runtime = Runtime(settings).start()
    try:
        assert slack.wait_connected(1, timeout=10)
        ts = slack.mention(workspace["alice"], workspace["general"], "help")
        slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
        envelope = slack.slash_command(workspace["alice"], workspace["general"], "review pr #3 in acme/widgets")
        slack.wait_for_ack(envelope)
        slack.wait_for_bot_message(workspace["general"], count=1)
        assert isinstance(runtime.sink, MlflowRecorder)
        assert runtime.sink.flush(60)
    finally:
        runtime.stop()
    mlflow.set_tracking_uri(settings.tracking_uri)
    experiment = mlflow.get_experiment_by_name("synapse")
    assert experiment is not None
    traces = mlflow.search_traces(locations=[experiment.experiment_id], return_type="list")
    roots = sorted((t.data.spans[0] for t in traces), key=lambda s: s.start_time_ns)
    kinds = [s.attributes.get("kind") for s in roots]
    assert kinds == ["mention", "command"]
    for root in roots:
        assert root.attributes["status"] == "ok"
        assert root.attributes["latency_ms"] > 0
        assert root.attributes["path"] == "fast"


@pytest.mark.parametrize("tool_text", ["help"])
def test_two_bots_on_one_redis_answer_each_event_once(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str], tool_text: str
) -> None:
    """Two processes' worth of runtime share the dedupe keyspace: a redelivery to the other one is dropped."""
    settings = make_settings(slack, redis_server, tmp_path)
    first, second = Runtime(settings).start(), Runtime(settings).start()
    try:
        assert slack.wait_connected(2, timeout=10)
        ts = slack.mention(workspace["alice"], workspace["general"], tool_text)
        slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
        envelope = slack.last_envelope_for_event("app_mention")
        for attempt in (1, 2):
            slack.deliver_again(envelope, retry_attempt=attempt, retry_reason="timeout")
        settled(slack, first, second)
        assert len(slack.bot_messages(workspace["general"], thread_ts=ts)) == 1
    finally:
        first.stop()
        second.stop()
