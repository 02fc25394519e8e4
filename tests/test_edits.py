"""Edited and deleted messages through the sandbox: an edit is never a second question."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import make_settings, subprocess_env

pytestmark = pytest.mark.e2e


def _settle(slack: SlackSandbox, bot_channel: str, user: str) -> None:
    """Wait until the bot has acknowledged the last app_mention and answered a later request: a barrier, not a sleep.

    A delivery is claimed before it is acknowledged, so once the edit's envelope is acked a refused claim has already
    dropped it; a later request answered shows the worker has drained what came before it too.
    """
    slack.wait_for_ack(slack.last_envelope_for_event("app_mention"), timeout=5)
    marker = slack.mention(user, bot_channel, "help")
    slack.wait_for_bot_message(bot_channel, thread_ts=marker)


def _jobs(runtime: Runtime) -> int:
    """Requests this runtime has queued or run itself (a dropped delivery adds nothing)."""
    assert runtime.failover is not None
    return runtime.failover.queued + runtime.failover.ran_locally


def _edit_and_wait_for_acks(slack: SlackSandbox, user: str, channel: str, ts: str, text: str) -> None:
    """Edit; return once the bot acknowledged both deliveries (message_changed and app_mention), so any job for
    them has already been queued."""
    slack.edit_message(user, channel, ts, text)
    slack.wait_for_ack(slack.last_envelope_for_event("message"), timeout=5)
    slack.wait_for_ack(slack.last_envelope_for_event("app_mention"), timeout=5)


def test_editing_a_mention_does_not_answer_it_a_second_time(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    general, alice = workspace["general"], workspace["alice"]
    ts = slack.mention(alice, general, "help")
    slack.wait_for_bot_message(general, thread_ts=ts)
    jobs = _jobs(bot)
    _edit_and_wait_for_acks(slack, alice, general, ts, f"<@{slack.bot_user_id}> help please")
    _edit_and_wait_for_acks(slack, alice, general, ts, f"<@{slack.bot_user_id}> help please, thanks")
    assert _jobs(bot) == jobs  # both edits were dropped at the door
    _settle(slack, general, workspace["bob"])
    assert len(slack.bot_messages(general, thread_ts=ts)) == 1


def test_a_message_edited_to_add_a_first_mention_is_answered_once(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    general, alice = workspace["general"], workspace["alice"]
    ts = slack.post_message(alice, general, "help")
    slack.edit_message(alice, general, ts, f"<@{slack.bot_user_id}> help")
    answer = slack.wait_for_bot_message(general, thread_ts=ts)
    assert "summarize_thread" in answer["text"]
    jobs = _jobs(bot)
    _edit_and_wait_for_acks(slack, alice, general, ts, f"<@{slack.bot_user_id}> help, again")
    assert _jobs(bot) == jobs
    _settle(slack, general, workspace["bob"])
    assert len(slack.bot_messages(general, thread_ts=ts)) == 1


def test_an_edit_adding_a_mention_after_the_claim_memory_expired_is_ignored(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    settings = make_settings(slack, redis_server, tmp_path, SYNAPSE_DEDUPE_TTL_SECONDS=600)
    runtime = Runtime(settings).start()
    try:
        assert slack.wait_connected(1, timeout=10)
        general = workspace["general"]
        posted = slack.post_message(workspace["alice"], general, "help")
        edited_at = f"{float(posted) + 601:.6f}"  # edited 601 s after it was posted: any claim may be forgotten
        envelope = slack.send_event(
            {
                "type": "app_mention",
                "user": workspace["alice"],
                "text": f"<@{slack.bot_user_id}> help",
                "ts": posted,
                "channel": general,
                "event_ts": edited_at,
                "edited": {"user": workspace["alice"], "ts": edited_at},
            }
        )
        jobs = _jobs(runtime)
        slack.wait_for_ack(envelope, timeout=5)
        assert _jobs(runtime) == jobs  # ignored at the door
        marker = slack.mention(workspace["bob"], general, "help")
        slack.wait_for_bot_message(general, thread_ts=marker)
        assert slack.bot_messages(general, thread_ts=posted) == []
    finally:
        runtime.stop()


def test_a_redelivered_mention_is_still_answered_once(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    general = workspace["general"]
    ts = slack.mention(workspace["alice"], general, "help")
    slack.wait_for_bot_message(general, thread_ts=ts)
    jobs = _jobs(bot)
    slack.deliver_again(slack.last_envelope_for_event("app_mention"))
    slack.wait_for_ack(slack.last_envelope_for_event("app_mention"), timeout=5)
    assert _jobs(bot) == jobs
    _settle(slack, general, workspace["bob"])
    assert len(slack.bot_messages(general, thread_ts=ts)) == 1


def test_as_a_separate_process_an_edited_mention_gets_no_second_answer(
    slack: SlackSandbox, workspace: dict[str, str], tmp_path: Path
) -> None:
    env = subprocess_env(
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_APP_TOKEN=slack.app_token,
        SLACK_API_URL=slack.api_url,
        SYNAPSE_TRACKING_ENABLED="false",
        SYNAPSE_LOG_FORMAT="text",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "synapse_bot"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert slack.wait_connected(1, timeout=60)
        general, alice = workspace["general"], workspace["alice"]
        ts = slack.mention(alice, general, "help")
        slack.wait_for_bot_message(general, thread_ts=ts, timeout=30)
        slack.edit_message(alice, general, ts, f"<@{slack.bot_user_id}> help me")
        _settle(slack, general, workspace["bob"])
        assert len(slack.bot_messages(general, thread_ts=ts)) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr[-2000:]


def test_a_mention_and_a_plain_message_share_the_one_answer_key_of_their_message() -> None:
    """One key family for "one answer per message": the mention path and the DM / follow-up / agent-view paths
    claim the same key for the same message, so a message delivered both ways is answered once."""
    from synapse_bot.listeners.events import mention_key
    from synapse_bot.listeners.intake import answer_key

    assert mention_key({"channel": "C1", "ts": "1712.5", "event_ts": "1712.9"}) == answer_key("C1", "1712.5")
