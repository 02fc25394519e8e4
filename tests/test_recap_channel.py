"""recap_channel end to end: the window, threads, offline digest, cache and incremental update, rights, privacy."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from synapse_bot.dispatch.fast_path import FastPath
from synapse_bot.llm.tokens import TokenCounter
from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_bot.tools.grammar import FastPathError, ToolCall
from synapse_bot.tools.recap_channel import head_fingerprint, relevant
from synapse_bot.tools.registry import default_registry
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import make_model_settings
from tests.support.transcripts import transcript_lines


def incidents_channel(slack: SlackSandbox, workspace: dict[str, str]) -> str:
    """#incidents: one message from three days ago, then a discussed failover and a question."""
    alice, bob = workspace["alice"], workspace["bob"]
    channel = slack.add_channel("incidents", members=[alice, bob])
    slack.seed_message(channel, bob, "ancient outage of the mail relay", at=time.time() - 3 * 86400)
    root = slack.seed_message(channel, bob, "db failover at 02:00, primary unreachable")
    slack.seed_message(channel, alice, "replica promoted, writes are back", thread_ts=root)
    slack.seed_message(channel, bob, "we decided to keep the old primary down until Friday", thread_ts=root)
    slack.seed_message(channel, alice, "is the deploy freeze still on?")
    return channel


def summary_reply(body: dict[str, Any]) -> Reply:
    """A structured summary that says how many transcript lines the model was shown."""
    data = body["messages"][-1]["content"]
    shown = transcript_lines(data)
    return Reply.json_content(
        {"tldr": f"saw {len(shown)} lines", "key_points": [], "decisions": [], "action_items": [], "open_questions": []}
    )


def echo_tool_result(body: dict[str, Any]) -> Reply:
    results = [m for m in body["messages"] if m.get("role") == "tool"]
    if results:
        return Reply.text(str(results[-1]["content"]))
    return summary_reply(body) if body.get("response_format") else Reply.text("no tool result")


def recap_requests(model: OpenAIServer) -> list[dict[str, Any]]:
    return [r for r in model.requests if r.get("response_format")]


def test_synapses_own_posts_and_requests_to_it_do_not_count_as_channel_activity() -> None:
    bot = "U0SYNAPSE"
    assert not relevant({"ts": "1.1", "user": bot, "bot_id": "B1", "text": "Recap of …"}, bot)
    assert not relevant({"ts": "1.2", "user": "U1", "text": f"<@{bot}> recap since yesterday", "reply_count": 1}, bot)
    assert relevant({"ts": "1.3", "bot_id": "B9", "subtype": "bot_message", "text": "ALERT", "reply_count": 2}, bot)
    assert not relevant({"ts": "1.4", "bot_id": "B9", "subtype": "bot_message", "text": "ALERT"}, bot)
    quiet = [{"ts": "1.5", "user": "U1", "text": "hi"}]
    edited = [{"ts": "1.5", "user": "U1", "text": "hi!", "edited": {"ts": "1.6"}}]
    assert head_fingerprint(quiet, False) != head_fingerprint(edited, False)


@pytest.mark.e2e
def test_a_recap_since_yesterday_covers_the_window_and_its_threads_offline(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    incidents = incidents_channel(slack, workspace)
    asked = slack.mention(workspace["alice"], workspace["general"], f"recap <#{incidents}> since yesterday")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=asked)["text"]
    assert f"**Recap of <#{incidents}>** since " in reply and "(Europe/London)" in reply
    assert "offline digest" in reply and "ancient outage" not in reply
    assert "keep the old primary down until Friday" in reply  # a reply inside the thread, read
    assert "deploy freeze still on?" in reply
    assert "**Busiest threads**" in reply and f"/archives/{incidents}/p" in reply
    assert "Covers 4 messages (1 thread read)" in reply


@pytest.mark.e2e
def test_a_recap_asked_again_costs_no_model_call_and_new_messages_only_update_it(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.set_responder(summary_reply)
    incidents = incidents_channel(slack, workspace)

    def ask(user: str) -> str:
        asked = slack.mention(workspace[user], incidents, "recap this channel since yesterday")
        return str(slack.wait_for_bot_message(incidents, thread_ts=asked)["text"])

    assert "saw 4 lines" in ask("alice")
    calls = len(recap_requests(model))
    cached = ask("bob")  # asked in the channel itself: neither the requests nor the answers are "activity"
    assert "from cache (nothing new)" in cached and len(recap_requests(model)) == calls
    slack.post_message(workspace["bob"], incidents, "postmortem draft is up")
    updated = ask("alice")
    assert "updated with new messages" in updated and "Covers 5 messages" in updated
    update = recap_requests(model)[-1]["messages"][-1]["content"]
    assert "<previous_summary>" in update and "postmortem draft" in update and "db failover" not in update
    root = next(m["ts"] for m in slack.messages(incidents) if "db failover" in m.get("text", ""))
    slack.edit_message(workspace["bob"], incidents, root, "db failover at 02:10, primary unreachable")
    assert "saw 5 lines" in ask("alice")
    assert "<previous_summary>" not in recap_requests(model)[-1]["messages"][-1]["content"]


@pytest.mark.e2e
def test_what_happened_questions_go_to_the_model_which_calls_the_recap(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    incidents = incidents_channel(slack, workspace)
    model.script(Reply.calls(("recap_channel", {"channel": incidents, "since": "yesterday"})))
    model.set_responder(echo_tool_result)
    asked = slack.mention(workspace["alice"], workspace["general"], f"what happened in <#{incidents}> since yesterday?")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=asked)
    assert "saw 4 lines" in reply["text"]
    assert model.requests[0].get("tools")  # the question went to the model, not the fast path


@pytest.mark.e2e
def test_recapping_a_channel_the_requester_is_not_in_is_refused(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    secret = slack.add_channel("secret", members=[workspace["bob"]], is_private=True)
    slack.seed_message(secret, workspace["bob"], "the Initech deal closes Friday")
    asked = slack.mention(workspace["alice"], workspace["general"], f"recap <#{secret}> since yesterday")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=asked)["text"]
    assert "only recap channels you are a member of" in reply and "Initech" not in reply
    assert slack.ephemerals == []


@pytest.mark.e2e
def test_a_private_channels_recap_asked_in_a_public_channel_reaches_only_the_requester(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    secret = slack.add_channel("secret", members=[workspace["alice"], workspace["bob"]], is_private=True)
    slack.seed_message(secret, workspace["bob"], "the Initech deal closes Friday")
    asked = slack.mention(workspace["alice"], workspace["general"], f"recap <#{secret}> since yesterday")
    private = slack.wait_for_ephemeral(workspace["alice"])
    assert "Initech" in private["text"] and "This quotes #secret" in private["text"]
    assert slack.bot_messages(workspace["general"], thread_ts=asked) == []


@pytest.mark.e2e
def test_a_window_that_cannot_be_read_says_what_would_work(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    asked = slack.mention(workspace["alice"], workspace["general"], "recap #general since the blue moon")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=asked)["text"]
    assert "I can't tell when" in reply and "`yesterday`" in reply


@pytest.mark.e2e
def test_an_empty_window_says_nothing_was_posted(bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]) -> None:
    quiet = slack.add_channel("quiet", members=[workspace["alice"]])
    slack.seed_message(quiet, workspace["alice"], "last week's news", at=time.time() - 8 * 86400)
    asked = slack.mention(workspace["alice"], workspace["general"], f"recap <#{quiet}> since yesterday")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=asked)["text"]
    assert f"Nothing was posted in <#{quiet}> since" in reply


@pytest.mark.e2e
def test_a_reply_also_sent_to_the_channel_is_recapped_once(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    ops = slack.add_channel("ops", members=[workspace["alice"], workspace["bob"]])
    root = slack.seed_message(ops, workspace["bob"], "disk alarms on db-2")
    with slack.workspace.lock:
        slack.workspace.add_message(
            slack.workspace.channels[ops],
            {"user": workspace["alice"], "text": "rotated the logs", "thread_ts": root, "subtype": "thread_broadcast"},
        )
    asked = slack.mention(workspace["alice"], workspace["general"], f"recap <#{ops}> since yesterday")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=asked)["text"]
    assert "Covers 2 messages" in reply and reply.count("rotated the logs") == 1


@pytest.mark.e2e
def test_a_busy_channel_is_recapped_with_every_model_call_under_the_budget(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    budget = 6_000
    busy = slack.add_channel("busy", members=[workspace["alice"], workspace["bob"]])
    for n in range(1500):
        slack.seed_message(busy, workspace["bob"], f"build {n}: the cache layer step {n % 17} passed on runner {n % 9}")
    with OpenAIServer() as model:
        model.set_responder(summary_reply)
        settings = make_model_settings(slack, redis_server, tmp_path, model, SYNAPSE_SUMMARY_CALL_TOKENS=budget)
        runtime = Runtime(settings).start()
        try:
            assert slack.wait_connected(1)
            asked = slack.mention(workspace["alice"], workspace["general"], f"recap <#{busy}> since yesterday")
            reply = slack.wait_for_bot_message(workspace["general"], thread_ts=asked, timeout=90)
        finally:
            runtime.stop()
    assert "Covers 1500 messages" in reply["text"]
    counter = TokenCounter(settings.openai_model)
    sizes = [counter.count_messages(r["messages"]) + r["max_tokens"] for r in model.requests]
    assert len(sizes) > 3 and max(sizes) <= budget
    parts = [r["messages"][-1]["content"] for r in model.requests if "Part " in r["messages"][-1]["content"]]
    assert sum(len(transcript_lines(part)) for part in parts) == 1500
    assert len(slack.calls("conversations.history")) <= 2  # pages of 999


@pytest.mark.e2e
def test_two_requests_for_one_recap_at_once_do_the_model_work_once(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.set_responder(lambda body: Reply.delay(1.5, summary_reply(body)))
    incidents = incidents_channel(slack, workspace)
    asked = [
        slack.mention(workspace[u], workspace["general"], f"recap <#{incidents}> since yesterday")
        for u in ("alice", "bob")
    ]
    replies = [slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=20)["text"] for ts in asked]
    assert len(recap_requests(model)) == 1
    assert all("saw 4 lines" in text for text in replies) and any("from cache" in text for text in replies)


def test_the_fast_path_takes_recap_commands_and_leaves_threads_and_questions_alone() -> None:
    parse = FastPath(default_registry()).parse
    assert parse("recap #incidents since yesterday") == [
        ToolCall("recap_channel", {"channel": "#incidents", "since": "yesterday"})
    ]
    assert parse("recap <#C123|ops> from monday to wednesday refresh") == [
        ToolCall("recap_channel", {"refresh": True, "channel": "C123", "since": "monday", "until": "wednesday"})
    ]
    assert parse("recap this channel for the past 3 days") == [ToolCall("recap_channel", {"since": "past 3 days"})]
    assert parse("summarize #incidents since yesterday") == [
        ToolCall("recap_channel", {"channel": "#incidents", "since": "yesterday"})
    ]
    assert parse("recap this thread") == [ToolCall("summarize_thread", {"refresh": False})]
    assert parse("summarize #alerts") == [ToolCall("summarize_thread", {"refresh": False, "channel": "#alerts"})]
    assert parse("what happened in #incidents since yesterday?") is None
    assert isinstance(parse("recap #incidents since the blue moon"), FastPathError)
    route = FastPath(default_registry()).route
    assert route("recap #ops for the past 3 days").complete  # a whole command: no model needed
    assert not route("recap #incidents since yesterday and list carol's action items").complete  # the model's
