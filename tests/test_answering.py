"""Synapse answers, over the wire: the thread in context, a model↔tools loop, any OpenAI-compatible server.

The real bot (Bolt over Socket Mode, the real openai client) against the Slack sandbox and the scripted
chat.completions stand-in; each test scripts what a model or server would do and checks what the person reads.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synapse_bot.llm.tokens import TokenCounter
from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import make_model_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _tools_sent(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["messages"] if m.get("role") == "tool"]


@pytest.mark.parametrize(
    "written",
    [
        '<tool_call>\n{"name": "help", "arguments": {}}\n</tool_call>',
        'I will call a tool.\n```json\n{"name": "help", "arguments": {"topic": null}}\n```',
        '{"name": "help", "arguments": "{}"}',
    ],
    ids=["tagged", "fenced", "bare"],
)
def test_a_tool_call_written_as_text_runs_and_the_person_never_sees_it(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str], written: str
) -> None:
    answer = "I can summarize threads, watch channels and triage issues."
    model.script(Reply.text(written), Reply.text(answer))
    ts = slack.mention(workspace["alice"], workspace["general"], "what are you good at")
    # A sentence before the call may be streamed, then replaced by the answer: wait for the answer itself.
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, predicate=lambda m: m["text"] == answer)
    assert len(slack.bot_messages(workspace["general"], thread_ts=ts)) == 1
    shown = "".join(text for _, stream_ts, text, _ in slack.stream_log if stream_ts == reply["ts"])
    assert "```" not in shown and '"name"' not in shown and "tool_call" not in shown  # not even while streaming
    assert "summarize_thread" in _tools_sent(model.wait_for_requests(2)[1])[0]  # help ran; its result went back


def test_two_tools_one_after_the_other_then_the_answer(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.script(
        Reply.calls(("list_monitors", {})),
        Reply.calls(("help", {"topic": "monitor"})),
        Reply.text("No monitors yet; say `monitor #alerts for keywords: error` to start one."),
    )
    ts = slack.mention(workspace["alice"], workspace["general"], "am I watching anything, and how do I start?")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    assert reply["text"].startswith("No monitors yet")
    _, second, third = model.wait_for_requests(3)
    assert "No channel monitors are active" in _tools_sent(second)[0]
    assert len(_tools_sent(third)) == 2 and "monitor_channel" in _tools_sent(third)[1]


def test_a_question_deep_in_a_long_thread_is_answered_from_the_message_that_holds_it(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    rng = random.Random(7)
    chatter = [
        "I reran the integration suite on the staging cluster and the checkout flow still times out at the gateway",
        "Dashboards show p99 latency for the cart service climbing again after the last deploy went out",
        "Can someone from the payments team confirm whether the retry budget changed in yesterday's release",
        "Rolling back the feature flag for the new pricing engine did not change the error rate at all",
        "I am pairing with the SRE on call to look at the load balancer health checks and node pressure",
        "The flame graphs point at JSON serialisation in the order summary endpoint, but only under load",
    ]
    texts = ["Incident: checkout latency up since 09:00"]
    texts += [f"{rng.choice(chatter)} (update {i})" for i in range(1, 1000)]
    texts[37] = "Root cause found: the connection pool was capped at 10 after the config migration"
    root = slack.seed_thread(workspace["general"], workspace["bob"], texts, [workspace["alice"], workspace["bob"]])
    model.script(Reply.text("The pool was capped at 10 after the config migration [m38]."))
    slack.mention(
        workspace["alice"], workspace["general"], "what was the root cause of the pool issue?", thread_ts=root
    )
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=root, timeout=30)
    [request] = model.wait_for_requests(1)
    prompt = request["messages"][-1]["content"]
    assert "connection pool was capped at 10" in prompt and "[m38]" in prompt
    assert "1000 messages" in prompt and "not shown" in prompt
    counter = TokenCounter("gpt-4o-mini")
    prompt_tokens = counter.count_messages(request["messages"], request["tools"])
    whole_thread = counter.count_messages(
        [request["messages"][0], {"role": "user", "content": "\n".join(texts)}], request["tools"]
    )
    assert prompt_tokens <= 12_000 and prompt_tokens <= whole_thread / 5
    assert "([msg 38](https://" in reply["text"]


def test_a_thread_too_long_for_the_server_gets_a_plain_sentence(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    refusal = (
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9120 tokens. "
        "Please reduce the length of the messages."
    )
    model.script(Reply.error(400, message=refusal))
    ts = slack.mention(workspace["alice"], workspace["general"], "go through everything we said")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    assert "too long for the configured model" in reply["text"] and "OPENAI_CONTEXT_TOKENS" in reply["text"]
    assert "malformed" not in reply["text"]
    assert model.request_count == 1  # a 400 is not retried, and never "without the schema"


def test_other_refusals_say_what_the_server_said(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.script(Reply.error(400, message="tools are not supported by this model"))
    ts = slack.mention(workspace["alice"], workspace["general"], "anything new?")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    assert "refused the request: tools are not supported by this model" in reply["text"]


def test_a_call_larger_than_the_configured_window_is_refused_before_sending(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    with OpenAIServer() as model:
        settings = make_model_settings(slack, redis_server, tmp_path, model, OPENAI_CONTEXT_TOKENS=1500)
        runtime = Runtime(settings).start()
        try:
            ts = slack.mention(workspace["alice"], workspace["general"], "hello")
            reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
        finally:
            runtime.stop()
    assert "too long for the configured model" in reply["text"] and "takes 1,500" in reply["text"]
    assert model.request_count == 0


@pytest.fixture
def repo_bot(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, model: OpenAIServer
) -> Iterator[Runtime]:
    settings = make_model_settings(slack, redis_server, tmp_path, model, SYNAPSE_DEFAULT_REPOS="acme/widgets")
    runtime = Runtime(settings).start()
    assert slack.wait_connected(1, timeout=10)
    yield runtime
    runtime.stop()


def test_the_prompt_names_the_default_repos_and_labels_slack_ids(
    repo_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.script(Reply.text("Which issues do you mean?"))
    ts = slack.mention(workspace["alice"], workspace["general"], "anything burning in the widgets repo")
    slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    [request] = model.wait_for_requests(1)
    question = request["messages"][-1]["content"]
    assert "acme/widgets" in question
    assert f"Slack user {workspace['alice']}" in question and f"Slack channel {workspace['general']}" in question
    assert slack.team_id not in json.dumps(request["messages"])  # the workspace id is never offered as an owner


def test_a_command_with_more_to_it_goes_to_the_model(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    root = slack.post_message(workspace["bob"], workspace["general"], "DB migration plan: move to Postgres 16")
    slack.post_message(workspace["alice"], workspace["general"], "I'll write the runbook", thread_ts=root)
    model.script(Reply.text("Bob proposed moving to Postgres 16 [m1]; Alice writes the runbook [m2]."))
    slack.mention(
        workspace["alice"],
        workspace["general"],
        "summarize what bob said about the DB migration and list the action items",
        thread_ts=root,
    )
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=root)
    assert reply["text"].startswith("Bob proposed moving to Postgres 16")
    assert model.request_count == 1
