"""Slack's agent view through Bolt's `Assistant` middleware: greeting and prompts, the channel in view as "this
channel", a title per thread, status while working, answers in the assistant thread.

The sandbox sends Slack's `assistant_thread_started` / `assistant_thread_context_changed` events and answers
`assistant.threads.setSuggestedPrompts` / `setTitle` / `setStatus`, so Bolt's and slack-sdk's own code runs.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from synapse_bot.runtime import Runtime
from synapse_bot.tools.registry import default_registry
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _said(slack: SlackSandbox, channel: str, thread_ts: str, count: int = 1) -> dict[str, Any]:
    """Synapse's `count`-th message in an agent-view thread (Slack's own thread-opening message not counted)."""
    return slack.wait_for_bot_message(
        channel, thread_ts=thread_ts, count=count, predicate=lambda m: m.get("subtype") != "assistant_app_thread"
    )


def _statuses(slack: SlackSandbox, channel: str, thread_ts: str) -> list[str]:
    return [s["status"] for s in slack.statuses if (s["channel_id"], s["thread_ts"]) == (channel, thread_ts)]


def _wait_status_cleared(slack: SlackSandbox, channel: str, thread_ts: str, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = _statuses(slack, channel, thread_ts)
        if seen and seen[-1] == "":
            return seen
        time.sleep(0.02)
    raise AssertionError(f"status never cleared: {_statuses(slack, channel, thread_ts)}")


def test_opening_the_agent_view_greets_and_suggests_prompts_from_the_tools(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    dm, thread = slack.start_assistant_thread(workspace["alice"], context_channel=workspace["general"])
    greeting = _said(slack, dm, thread)
    assert f"<@{workspace['alice']}>" in greeting["text"] and f"<#{workspace['general']}>" in greeting["text"]
    [offered] = [p for p in slack.suggested_prompts if p["thread_ts"] == thread]
    messages = [p["message"] for p in offered["prompts"]]
    examples = {example for tool in default_registry() for example in tool.examples}
    assert 0 < len(messages) <= 4 and set(messages) <= examples
    assert "summarize this channel's last day" in messages
    assert not any("this thread" in m for m in messages)  # the panel's own thread has nothing to summarize


def test_this_channel_in_the_side_panel_is_the_channel_in_view(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    alice, bob, general = workspace["alice"], workspace["bob"], workspace["general"]
    ops = slack.add_channel("ops", members=[alice, bob])
    slack.post_message(bob, ops, "disk on db-3 is full, cleaning up old snapshots")
    slack.post_message(bob, general, "lunch at noon?")
    dm, thread = slack.start_assistant_thread(alice, context_channel=general)
    _said(slack, dm, thread)  # the greeting
    slack.wait_for_ack(slack.change_assistant_context(alice, dm, thread, ops))
    # The sandbox's clock starts a day back, so the model asks for two days.
    model.script(
        Reply.calls(("read_channel", {"hours": 48})), Reply.text("Ops had one incident: db-3's disk filled up.")
    )

    slack.direct_message(alice, "summarize this channel's last day", thread_ts=thread)

    answer = _said(slack, dm, thread, 2)
    assert answer["text"] == "Ops had one incident: db-3's disk filled up."
    first, second = model.wait_for_requests(2)
    assert f"looking at Slack channel {ops}" in first["messages"][-1]["content"]
    [tool_result] = [json.loads(m["content"]) for m in second["messages"] if m.get("role") == "tool"]
    assert "disk on db-3 is full" in tool_result["result"] and "lunch" not in tool_result["result"]
    assert [t["title"] for t in slack.titles if t["thread_ts"] == thread] == ["summarize this channel's last day"]
    seen = _wait_status_cleared(slack, dm, thread)
    assert "is reading the channel…" in seen


def test_the_title_is_set_once_per_thread(bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]) -> None:
    alice = workspace["alice"]
    dm, thread = slack.start_assistant_thread(alice)
    _said(slack, dm, thread)
    slack.direct_message(alice, "list monitors", thread_ts=thread)
    _said(slack, dm, thread, 2)
    slack.direct_message(alice, "help", thread_ts=thread)
    _said(slack, dm, thread, 3)
    assert [t["title"] for t in slack.titles if t["thread_ts"] == thread] == ["list monitors"]


def test_a_channel_only_tool_asked_from_the_panel_says_what_it_needs(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    alice = workspace["alice"]
    dm, thread = slack.start_assistant_thread(alice)  # looking at no channel
    _said(slack, dm, thread)
    model.script(
        Reply.calls(("read_channel", {})), Reply.calls(("monitor_channel", {"channel": dm, "keywords": ["x"]}))
    )
    model.set_responder(lambda body: Reply.text("Tell me which channel."))

    slack.direct_message(alice, "what happened in this channel today, and watch it for x", thread_ts=thread)

    _said(slack, dm, thread, 2)
    results = [
        json.loads(m["content"])["result"] for m in model.wait_for_requests(3)[2]["messages"] if m.get("role") == "tool"
    ]
    assert any("Which channel?" in r for r in results) and any("Monitors watch channels" in r for r in results)


def test_a_redelivered_thread_start_greets_once(bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]) -> None:
    alice = workspace["alice"]
    dm, thread = slack.start_assistant_thread(alice)
    _said(slack, dm, thread)
    slack.deliver_again(slack.last_envelope_for_event("assistant_thread_started"))
    slack.direct_message(alice, "help", thread_ts=thread)  # a barrier: answered after the redelivery was handled
    _said(slack, dm, thread, 2)
    greetings = [m for m in slack.bot_messages(dm, thread_ts=thread) if m["text"].startswith("Hi <@")]
    assert len(greetings) == 1
