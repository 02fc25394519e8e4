"""DMs to Synapse are questions like mentions: answered in the DM thread, every capability works there.

The real bot over Socket Mode against the sandbox, which sends Slack's DM events (`message` with
`channel_type: im`, no `app_mention`).
"""

from __future__ import annotations

import pytest

from synapse_bot.runtime import Runtime
from synapse_sandbox.workspace import SlackSandbox

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_a_direct_message_is_answered_in_its_dm_thread(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    ts = slack.direct_message(workspace["alice"], "help")
    dm = slack.im_channel(workspace["alice"]).id
    reply = slack.wait_for_bot_message(dm, thread_ts=ts)
    assert "summarize_thread" in reply["text"]
    assert len(slack.bot_messages(dm, thread_ts=ts)) == 1


def test_summarize_this_thread_in_a_dm_thread_summarizes_that_thread(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    alice = workspace["alice"]
    dm = slack.im_channel(alice).id
    root = slack.direct_message(alice, "notes: the deploy of billing-api failed on the migration step")
    slack.wait_for_bot_message(dm, thread_ts=root)
    slack.direct_message(alice, "decided: we roll back billing-api and retry the migration on Monday", thread_ts=root)
    slack.wait_for_bot_message(dm, thread_ts=root, count=2)
    slack.direct_message(alice, "summarize this thread", thread_ts=root)
    reply = slack.wait_for_bot_message(dm, thread_ts=root, count=3, timeout=30)
    assert "roll back billing-api" in reply["text"]


def test_monitor_asked_in_a_dm_names_what_it_needs(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    alice = workspace["alice"]
    dm = slack.im_channel(alice).id
    ts = slack.direct_message(alice, "monitor this channel for keywords: error")
    reply = slack.wait_for_bot_message(dm, thread_ts=ts)
    assert "Which channel" in reply["text"] and "#alerts" in reply["text"]


def test_a_dm_that_mentions_synapse_is_answered_once(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    alice = workspace["alice"]
    dm = slack.im_channel(alice).id
    text = f"<@{slack.bot_user_id}> list monitors"
    ts = slack.direct_message(alice, text)
    # Were Slack to send an app_mention for it too, it must not make a second answer.
    slack.send_event({"type": "app_mention", "user": alice, "text": text, "ts": ts, "channel": dm, "event_ts": ts})
    slack.wait_for_bot_message(dm, thread_ts=ts)
    later = slack.direct_message(alice, "help")  # a barrier: answered after the first request was handled
    slack.wait_for_bot_message(dm, thread_ts=later)
    assert len(slack.bot_messages(dm, thread_ts=ts)) == 1
