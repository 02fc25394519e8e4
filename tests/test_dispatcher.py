"""The dispatcher in-process: fast path, model path, validation and the repair round, memory, failures.

No Slack, no queue, no bot: the real Dispatcher with the real tool registry, the real OpenAI client talking to the
scripted model on loopback, and thread memory in the test redis-server. The same claims end to end, through Socket
Mode and the queue, are in test_dispatcher_llm.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from synapse_bot.config import Settings
from synapse_bot.dispatch.dispatcher import Dispatcher, DispatchOutcome, build_llm
from synapse_bot.jobs.model import RequestKind, SlackRequest
from synapse_bot.render.sanitize import has_mass_mention
from synapse_bot.sandbox.openai_server import OpenAIServer, Reply
from synapse_bot.store.keys import Keys
from synapse_bot.store.memory import ThreadMemory
from synapse_bot.tools.registry import default_registry
from synapse_bot.tracking.trace import RequestTrace


def dispatcher_settings(tmp_path: Path, model: OpenAIServer | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "SYNAPSE_DATA_DIR": tmp_path / "data",
        "GITHUB_API_URL": "http://127.0.0.1:9",
        "SYNAPSE_TRACKING_ENABLED": False,
    }
    if model is not None:
        values.update(OPENAI_API_KEY=model.api_key, OPENAI_BASE_URL=model.base_url, OPENAI_MODEL="gpt-4o-mini")
    values.update(overrides)
    return Settings(_env_file=None, **values)


def make_dispatcher(settings: Settings, redis_client: redis.Redis) -> Dispatcher:
    memory = ThreadMemory(redis_client, Keys(f"dispatch-{uuid.uuid4().hex[:8]}"))
    return Dispatcher(default_registry(), settings, llm=build_llm(settings), memory=memory)


@pytest.fixture
def dispatcher(tmp_path: Path, model: OpenAIServer, redis_client: redis.Redis) -> Iterator[Dispatcher]:
    yield make_dispatcher(dispatcher_settings(tmp_path, model, SYNAPSE_OPENAI_MAX_RETRIES=0), redis_client)


def ask(dispatcher: Dispatcher, text: str, thread_ts: str = "1700000000.000100") -> DispatchOutcome:
    request = SlackRequest(
        kind=RequestKind.MENTION,
        dedupe_key=f"Ev{uuid.uuid4().hex[:8]}",
        team_id="T1",
        user_id="U1",
        channel_id="C1",
        text=text,
        thread_ts=thread_ts,
        message_ts=thread_ts,
    )
    return dispatcher.dispatch(request, RequestTrace.start("mention"))


def tool_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request["messages"] if m.get("role") == "tool"]


def test_an_explicit_command_takes_the_fast_path_without_the_model(dispatcher: Dispatcher, model: OpenAIServer) -> None:
    outcome = ask(dispatcher, "help")
    assert outcome.path == "fast" and outcome.ok
    assert [t.call.name for t in outcome.tools] == ["help"] and "summarize_thread" in outcome.text
    assert model.request_count == 0


def test_free_text_reaches_the_tool_the_model_chose(dispatcher: Dispatcher, model: OpenAIServer) -> None:
    model.script(Reply.calls(("help", {})))
    outcome = ask(dispatcher, "which of your skills would suit me?")
    assert outcome.path == "llm" and [t.call.name for t in outcome.tools] == ["help"]
    assert "summarize_thread" in outcome.text
    [request] = model.requests
    assert {t["function"]["name"] for t in request["tools"]} >= {"summarize_thread", "triage_issues", "help"}


def test_invalid_arguments_get_one_repair_round_that_names_the_problem(
    dispatcher: Dispatcher, model: OpenAIServer
) -> None:
    model.script(Reply.calls(("triage_issues", {"repo": "not a repo"})), Reply.calls(("help", {})))
    outcome = ask(dispatcher, "sort out the widgets issues please")
    assert [t.call.name for t in outcome.tools] == ["help"] and outcome.ok  # the repaired call ran
    _, repair = model.requests
    [tool_message] = tool_messages(repair)
    assert "repo" in tool_message["content"] and "owner/name" in tool_message["content"]


def test_still_invalid_after_the_repair_round_says_what_was_wrong(dispatcher: Dispatcher, model: OpenAIServer) -> None:
    model.script(Reply.calls(("launch_rockets", {})), Reply.calls(("triage_issues", "{not json")))
    outcome = ask(dispatcher, "do the thing")
    assert outcome.failed and outcome.tools == []
    assert "couldn't do all of that" in outcome.text and "not valid JSON" in outcome.text
    assert len(model.requests) == 2  # one repair round, no more
    assert "no tool called `launch_rockets`" in tool_messages(model.requests[1])[0]["content"]


def test_a_plain_answer_has_its_mass_mentions_neutralised(dispatcher: Dispatcher, model: OpenAIServer) -> None:
    model.script(Reply.text("Sure! <!channel> <!here> @everyone <!subteam^S123|@oncall> the answer is 42"))
    outcome = ask(dispatcher, "what is the answer?")
    assert outcome.path == "llm" and "the answer is 42" in outcome.text
    assert not has_mass_mention(outcome.text)


def test_a_follow_up_in_the_thread_carries_its_memory(dispatcher: Dispatcher, model: OpenAIServer) -> None:
    ask(dispatcher, "help", thread_ts="1700000000.000200")
    model.script(Reply.text("Those are all my skills."))
    ask(dispatcher, "and which one summarises?", thread_ts="1700000000.000200")
    [request] = model.requests
    history = "\n".join(str(m.get("content")) for m in request["messages"][1:-1])
    assert "help" in history and "summarize_thread" in history  # the earlier turn and the tool's answer
    assert request["messages"][-1]["content"] == "and which one summarises?"
    ask(dispatcher, "something unrelated", thread_ts="1700000000.000300")
    other = model.requests[-1]
    assert "summarize_thread" not in "\n".join(str(m.get("content")) for m in other["messages"][1:-1])


def test_a_model_outage_is_a_failed_outcome_that_points_to_explicit_commands(
    dispatcher: Dispatcher, model: OpenAIServer
) -> None:
    model.script(Reply.error(500))
    outcome = ask(dispatcher, "what's up?")
    assert outcome.failed and "model service is having trouble" in outcome.text and "`help`" in outcome.text


def test_without_a_model_free_text_is_answered_with_what_works(tmp_path: Path, redis_client: redis.Redis) -> None:
    offline = make_dispatcher(dispatcher_settings(tmp_path, None), redis_client)
    outcome = ask(offline, "could you look into the deploy problem?")
    assert outcome.path == "offline"
    assert "no model is configured" in outcome.text and "summarize_thread" in outcome.text
