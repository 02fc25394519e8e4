"""The dispatcher with a model: tool choice, validation and repair, memory, failures — over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from synapse_bot.render.sanitize import has_mass_mention
from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import make_model_settings
from tests.support.waits import wait_until

pytestmark = pytest.mark.e2e

SUMMARY = {
    "tldr": "The deploy is blocked on a flaky test.",
    "key_points": ["CI is red"],
    "decisions": [],
    "action_items": [{"task": "Quarantine the test", "owner": "Bob", "due": None}],
    "open_questions": [],
}


def _tool_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request["messages"] if m.get("role") == "tool"]


def test_free_text_reaches_the_right_tool_with_validated_arguments(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    root = slack.post_message(workspace["bob"], workspace["general"], "deploy blocked by flaky auth test")
    slack.post_message(workspace["alice"], workspace["general"], "I'll quarantine it", thread_ts=root)
    model.script(
        Reply.calls(("summarize_thread", {"channel": None, "thread_ts": None, "refresh": None})),
        Reply.json_content(SUMMARY),
        Reply.text("The deploy waits on a flaky test [m1]; Bob's team quarantines it."),
    )
    slack.mention(
        workspace["alice"], workspace["general"], "can you give me the gist of this discussion?", thread_ts=root
    )
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=root)
    # The answer is the model's, its citation turned into a link to the thread's first message.
    assert reply["text"].startswith("The deploy waits on a flaky test ([msg 1](https://")
    first, second, third = model.wait_for_requests(3)
    assert {t["function"]["name"] for t in first["tools"]} >= {"summarize_thread", "triage_issues", "help"}
    system, question = first["messages"][0]["content"], first["messages"][-1]["content"]
    assert "untrusted" in system and workspace["general"] not in system  # static first: prefix caches work
    assert workspace["general"] in question and "[m1]" in question and "deploy blocked by flaky auth test" in question
    assert "deploy blocked by flaky auth test" in second["messages"][-1]["content"]  # the summary's transcript
    assert second["response_format"]["type"] == "json_schema"
    [result] = _tool_messages(third)
    assert "The deploy is blocked on a flaky test." in result["content"]


def test_explicit_commands_never_touch_the_model(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    for text in ("help", "triage github issues in acme/widgets", "review pr #7 in acme/widgets", "list monitors"):
        ts = slack.mention(workspace["alice"], workspace["general"], text)
        slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    assert model.request_count == 0


def test_one_repair_round_fixes_invalid_arguments(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.script(
        Reply.calls(("triage_issues", {"repo": "not a repo"})),
        Reply.calls(("help", {})),
        Reply.text("I can summarize threads and triage issues."),
    )
    ts = slack.mention(workspace["alice"], workspace["general"], "sort out the widgets issues please")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    assert reply["text"] == "I can summarize threads and triage issues."
    _, repair, answer = model.wait_for_requests(3)
    [tool_message] = _tool_messages(repair)
    assert "repo" in tool_message["content"] and "owner/name" in tool_message["content"]
    assert "summarize_thread" in _tool_messages(answer)[-1]["content"]  # the help the repaired call produced


def test_still_invalid_after_repair_gets_a_clear_reply(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.script(
        Reply.calls(("launch_rockets", {})),
        Reply.calls(("triage_issues", "{not json")),
        Reply.text("Sorry — I couldn't work out which repository you meant."),
    )
    ts = slack.mention(workspace["alice"], workspace["general"], "do the thing")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    assert reply["text"] == "Sorry — I couldn't work out which repository you meant."
    _, first_repair, second_repair = model.wait_for_requests(3)
    assert "no tool called `launch_rockets`" in _tool_messages(first_repair)[0]["content"]
    assert "not valid JSON" in _tool_messages(second_repair)[-1]["content"]
    # What went back to the server is valid JSON, whatever the model wrote.
    sent = [m for m in second_repair["messages"] if m.get("tool_calls")][-1]
    assert json.loads(sent["tool_calls"][0]["function"]["arguments"]) == {}


def test_two_tools_in_one_request(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    root = slack.post_message(workspace["bob"], workspace["general"], "release notes draft")
    model.script(
        Reply.calls(("summarize_thread", {}), ("triage_issues", {"repo": "acme/widgets"})),
        Reply.json_content(SUMMARY),
        Reply.text("Deploy blocked on a flaky test; GitHub was unreachable, so no triage."),
    )
    slack.mention(
        workspace["alice"],
        workspace["general"],
        "could you recap this and also look at acme/widgets issues",
        thread_ts=root,
    )
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=root)
    assert reply["text"] == "Deploy blocked on a flaky test; GitHub was unreachable, so no triage."
    assert model.request_count == 3  # dispatch, the summary, the answer
    results = [m["content"] for m in _tool_messages(model.requests[-1])]
    assert "The deploy is blocked on a flaky test." in results[0] and "can't reach GitHub" in results[1]


def test_compound_explicit_commands_take_the_fast_path(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    root = slack.post_message(workspace["bob"], workspace["general"], "release notes draft")
    model.script(Reply.json_content(SUMMARY))
    slack.mention(
        workspace["alice"], workspace["general"], "summarize this thread and triage acme/widgets", thread_ts=root
    )
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=root)
    assert "The deploy is blocked on a flaky test." in reply["text"] and "can't reach GitHub" in reply["text"]
    [request] = model.wait_for_requests(1)
    assert "tools" not in request  # the only model call was the summary itself


def test_plain_answer_when_no_tool_fits_and_mass_pings_are_neutralised(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.script(Reply.text("Sure! <!channel> <!here> @everyone <!subteam^S123|@oncall> the answer is 42"))
    ts = slack.mention(workspace["alice"], workspace["general"], "what is the answer?")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    assert "the answer is 42" in reply["text"]
    assert not has_mass_mention(reply["text"]) and not has_mass_mention(json.dumps(reply.get("blocks")))


def test_long_answers_are_split_within_slack_limits(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    long_text = "\n\n".join(f"Section {i}. " + "details " * 120 for i in range(12))
    model.script(Reply.text(long_text))
    ts = slack.mention(workspace["alice"], workspace["general"], "explain everything")
    slack.wait_for_bot_message(workspace["general"], thread_ts=ts, count=3)
    messages = slack.bot_messages(workspace["general"], thread_ts=ts)
    assert len(messages) >= 3 and all(len(m["text"]) <= 4000 for m in messages)
    assert "".join(m["text"] for m in messages).count("Section") == 12


def test_a_follow_up_carries_the_threads_memory(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    ts = slack.mention(workspace["alice"], workspace["general"], "triage github issues in acme/widgets")
    slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    model.script(
        Reply.calls(("triage_issues", {"repo": "acme/widgets", "label": "bug"})),
        Reply.text("GitHub is unreachable right now, so I can't list the bugs."),
    )
    slack.mention(workspace["alice"], workspace["general"], "now only the bugs", thread_ts=ts)
    slack.wait_for_bot_message(workspace["general"], thread_ts=ts, count=2)
    request, _ = model.wait_for_requests(2)
    # The earlier exchange comes back as it happened: the question, a real tool call, its result, the answer.
    question, call, result, answer = request["messages"][1:5]
    assert question == {"role": "user", "content": "triage github issues in acme/widgets"}
    assert call["tool_calls"][0]["function"]["name"] == "triage_issues"
    assert result["role"] == "tool" and result["tool_call_id"] == call["tool_calls"][0]["id"]
    assert answer == {"role": "assistant", "content": ""}  # the results are there; the reply text is not repeated
    assert "[I ran" not in json.dumps(request["messages"])
    assert request["messages"][-1]["content"].endswith("now only the bugs")


def test_model_outage_gets_a_clear_reply_after_retries(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.script(Reply.error(500), Reply.error(502), Reply.error(503))
    ts = slack.mention(workspace["alice"], workspace["general"], "what's up?")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=30)
    assert "model service is having trouble" in reply["text"] and "`help`" in reply["text"]
    assert model.request_count == 3  # the first try and two retries


def test_rate_limit_is_retried_after_retry_after(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.script(Reply.error(429, retry_after=1), Reply.text("recovered"))
    ts = slack.mention(workspace["alice"], workspace["general"], "are you there?")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts, timeout=30)
    assert reply["text"] == "recovered"
    assert model.request_count == 2


def test_a_visible_sign_of_work_is_shown_and_cleared(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.script(Reply.delay(1.0, Reply.text("done thinking")))
    general = workspace["general"]
    ts = slack.mention(workspace["alice"], general, "think hard")
    slack.wait_for_bot_message(general, thread_ts=ts, timeout=20)

    def statuses() -> list[str]:
        return [s["status"] for s in slack.statuses if (s["channel_id"], s["thread_ts"]) == (general, ts)]

    wait_until(lambda: statuses()[-1:] == [""], 5, "clearing the status")  # cleared just after the reply is posted
    assert statuses()[0] == "is working on it…" and statuses()[-1] == ""  # a status in the channel thread
    assert slack.reactions(general, ts) == []  # 👀 only where status is refused


def test_offline_mode_answers_free_text_with_what_works(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    ts = slack.mention(workspace["alice"], workspace["general"], "could you look into the deploy problem?")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
    assert "no model is configured" in reply["text"] and "summarize_thread" in reply["text"]


def test_fallback_models_are_tried_when_the_primary_is_missing(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    with OpenAIServer(known_models={"backup-model"}) as model:
        settings = make_model_settings(
            slack,
            redis_server,
            tmp_path,
            model,
            OPENAI_MODEL="retired-model",
            SYNAPSE_OPENAI_FALLBACK_MODELS="backup-model",
        )
        runtime = Runtime(settings).start()
        try:
            model.script(Reply.text("answered by the backup"))
            ts = slack.mention(workspace["alice"], workspace["general"], "hello there")
            reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
        finally:
            runtime.stop()
    assert reply["text"] == "answered by the backup"
    assert [r["model"] for r in model.requests] == ["retired-model", "backup-model"]


def test_an_unknown_local_model_name_works(
    slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, workspace: dict[str, str]
) -> None:
    with OpenAIServer() as model:
        settings = make_model_settings(
            slack,
            redis_server,
            tmp_path,
            model,
            OPENAI_MODEL="llama3.1:8b-instruct",
        )
        runtime = Runtime(settings).start()
        try:
            model.script(Reply.calls(("help", {})), Reply.text("Try summarize_thread."))
            ts = slack.mention(workspace["alice"], workspace["general"], "which of your skills would suit me?")
            reply = slack.wait_for_bot_message(workspace["general"], thread_ts=ts)
        finally:
            runtime.stop()
    assert reply["text"] == "Try summarize_thread."
    request = model.requests[0]
    assert all("strict" not in tool["function"] for tool in request["tools"])  # not an OpenAI model: no strict mode
