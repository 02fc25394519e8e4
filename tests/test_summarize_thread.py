"""summarize_thread end to end: finding the thread, names, cache, incremental updates, any length, rights."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from synapse_bot.llm.tokens import TokenCounter
from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import make_model_settings
from tests.support.transcripts import transcript_lines
from tests.support.waits import settled

pytestmark = pytest.mark.e2e


def summary_reply(body: dict[str, Any]) -> Reply:
    """A structured summary that says how many transcript lines the model was shown."""
    data = body["messages"][-1]["content"]
    lines = transcript_lines(data)
    return Reply.json_content(
        {"tldr": f"saw {len(lines)} lines", "key_points": [], "decisions": [], "action_items": [], "open_questions": []}
    )


def summary_requests(model: OpenAIServer) -> list[dict[str, Any]]:
    return [r for r in model.requests if r.get("response_format")]


def test_summary_from_a_permalink_with_names_resolved(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.set_responder(summary_reply)
    incidents = slack.add_channel("incidents", members=[workspace["alice"], workspace["bob"]])
    root = slack.post_message(workspace["bob"], incidents, "db failover at 02:00, <@" + workspace["alice"] + "> paged")
    slack.post_message(workspace["alice"], incidents, "ack, looking :eyes:", thread_ts=root)
    link = f"https://sandbox.slack.com/archives/{incidents}/p{root.replace('.', '')}"
    ts = slack.mention(workspace["alice"], workspace["general"], f"summarize <{link}>")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    assert "saw 2 lines" in reply["text"] and "Covers 2 messages" in reply["text"]
    [request] = summary_requests(model)
    transcript = request["messages"][-1]["content"]
    assert "bob: db failover at 02:00, @alice paged" in transcript  # ids resolved to the names people see
    assert "<@" not in transcript and "👀" in transcript


def test_unchanged_thread_is_answered_from_cache_then_updated_incrementally(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.set_responder(summary_reply)
    root = slack.seed_thread(
        workspace["general"],
        workspace["bob"],
        [f"message {i}" for i in range(30)],
        repliers=[workspace["alice"], workspace["bob"]],
    )
    slack.mention(workspace["alice"], workspace["general"], "summarize this thread", thread_ts=root)
    first = slack.wait_for_bot_message(workspace["general"], thread_ts=root)
    assert "saw 30 lines" in first["text"]
    calls_before = len(summary_requests(model))
    slack.mention(workspace["alice"], workspace["general"], "summarize this thread", thread_ts=root)
    cached = slack.wait_for_bot_message(workspace["general"], thread_ts=root, count=2)
    assert "from cache" in cached["text"] and len(summary_requests(model)) == calls_before  # zero model calls
    for i in range(3):
        # Addressed to alice, so not follow-ups for Synapse (which has answered in this thread).
        slack.post_message(workspace["bob"], workspace["general"], f"<@{workspace['alice']}> new reply {i}", root)
    slack.mention(workspace["alice"], workspace["general"], "summarize this thread", thread_ts=root)
    updated = slack.wait_for_bot_message(workspace["general"], thread_ts=root, count=3)
    assert "updated with new replies" in updated["text"] and "Covers 33 messages" in updated["text"]
    update = summary_requests(model)[-1]["messages"][-1]["content"]
    assert "<previous_summary>" in update and "saw 30 lines" in update
    assert "new reply 0" in update and "message 5" not in update  # only the new messages
    slack.mention(workspace["alice"], workspace["general"], "summarize this thread refresh", thread_ts=root)
    rebuilt = slack.wait_for_bot_message(workspace["general"], thread_ts=root, count=4)
    assert "saw 33 lines" in rebuilt["text"]


def test_a_5000_message_thread_keeps_every_model_call_under_the_budget(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    budget = 6_000
    with OpenAIServer() as model:
        model.set_responder(lambda body: Reply.delay(0.2, summary_reply(body)))  # a model that takes a moment
        settings = make_model_settings(
            slack,
            redis_server,
            tmp_path,
            model,
            SYNAPSE_SUMMARY_CALL_TOKENS=budget,
        )
        texts = [
            f"reply {i}: the migration step {i % 17} looks fine but check index {i % 23} again" for i in range(5000)
        ]
        root = slack.seed_thread(workspace["general"], workspace["bob"], texts, repliers=[workspace["alice"]])
        runtime = Runtime(settings).start()
        try:
            assert slack.wait_connected(1)
            slack.message_shortcut(workspace["alice"], workspace["general"], root)
            reply = slack.wait_for_bot_message(workspace["general"], thread_ts=root, timeout=120)
        finally:
            runtime.stop()
    assert "Covers 5000 messages" in reply["text"]
    counter = TokenCounter(settings.openai_model)
    sizes = [counter.count_messages(r["messages"]) + r["max_tokens"] for r in model.requests]
    assert len(sizes) > 5 and max(sizes) <= budget
    parts = [r["messages"][-1]["content"] for r in model.requests if "Part " in r["messages"][-1]["content"]]
    shown = sum(len(transcript_lines(part)) for part in parts)
    assert shown == 5000  # every message reached the model exactly once, in some chunk
    assert len([c for c in slack.calls("conversations.replies") if c.params.get("limit") in (1000, "1000")]) <= 6
    assert model.peak_in_flight == 4  # the map step ran SYNAPSE_SUMMARY_PARALLEL_CALLS calls side by side


def test_a_200_message_thread_is_one_call_for_a_large_context_model(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.set_responder(summary_reply)
    texts = [f"reply {i}: the rollout of service {i % 9} needs a second look at its dashboards" for i in range(200)]
    root = slack.seed_thread(workspace["general"], workspace["bob"], texts, repliers=[workspace["alice"]])
    slack.message_shortcut(workspace["alice"], workspace["general"], root)
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=root, timeout=60)
    assert "Covers 200 messages" in reply["text"]
    [request] = model.requests  # gpt-4o-mini's 128k window: one call, no parts and no combine step
    assert request["messages"][-1]["content"].count("reply ") == 200


def test_reading_another_channels_thread_needs_membership(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    secret = slack.add_channel("leadership", members=[workspace["bob"]], is_private=True)
    root = slack.post_message(workspace["bob"], secret, "reorg plans")
    slack.post_message(workspace["bob"], secret, "details", thread_ts=root)
    ts = slack.mention(
        workspace["alice"], workspace["general"], f"summarize thread in <#{secret}> with timestamp {root}"
    )
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    assert "only summarize threads from channels you are a member of" in reply["text"]
    assert "reorg" not in reply["text"] and summary_requests(model) == []


def test_a_thread_the_bot_cannot_read_says_to_invite_it(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    private = slack.add_channel("private", members=[workspace["alice"]], is_private=True, bot_member=False)
    root = slack.post_message(workspace["alice"], private, "hello")
    ts = slack.mention(
        workspace["alice"], workspace["general"], f"summarize thread in <#{private}> with timestamp {root}"
    )
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    assert "/invite @synapse" in reply["text"]


def test_concurrent_requests_for_one_thread_do_the_work_once(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.set_responder(lambda body: Reply.delay(1.5, summary_reply(body)))
    root = slack.seed_thread(workspace["general"], workspace["bob"], [f"m{i}" for i in range(10)])
    threads = [
        threading.Thread(target=slack.message_shortcut, args=(workspace[u], workspace["general"], root))
        for u in ("alice", "bob")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slack.wait_for_bot_message(workspace["general"], thread_ts=root, count=2, timeout=20)
    settled(slack, model_bot)
    assert len(summary_requests(model)) == 1
    assert all("saw 10 lines" in m["text"] for m in slack.bot_messages(workspace["general"], thread_ts=root))
