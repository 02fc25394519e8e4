"""The dispatcher's decisions, in process with a scripted model: no Slack, no sockets, no Redis."""

from __future__ import annotations

from typing import Any

from synapse_bot.config import Settings
from synapse_bot.dispatch.dispatcher import Dispatcher
from synapse_bot.llm.client import LlmError
from synapse_bot.request import RequestKind, SlackRequest
from synapse_bot.store.memory import Turn
from synapse_bot.tools import help as help_tool
from synapse_bot.tools.registry import ToolRegistry
from synapse_bot.tracking.trace import RequestTrace
from tests.support.scripted_model import ScriptedModel, called, said
from tests.test_tool_contract import ROLL_TOOL


def _settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, OPENAI_API_KEY="sk-test", **overrides)  # type: ignore[call-arg]


def _dispatcher(model: ScriptedModel | None) -> Dispatcher:
    return Dispatcher(ToolRegistry([ROLL_TOOL, help_tool.TOOL]), _settings(), llm=model)


def _ask(text: str) -> SlackRequest:
    return SlackRequest(
        kind=RequestKind.MENTION,
        dedupe_key="e1",
        team_id="T1",
        user_id="U1",
        channel_id="C1",
        text=text,
        thread_ts="1.000001",
        message_ts="1.000001",
    )


def test_an_explicit_command_never_asks_the_model() -> None:
    model = ScriptedModel([])
    outcome = _dispatcher(model).dispatch(_ask("roll a d6"), RequestTrace.start("mention"))
    assert outcome.path == "fast" and "Rolled a d6" in outcome.text
    assert model.requests == []


def test_free_text_runs_the_tool_the_model_calls_with_validated_arguments() -> None:
    model = ScriptedModel([called(("roll_dice", {"sides": 8}))])
    outcome = _dispatcher(model).dispatch(_ask("throw me an octahedron"), RequestTrace.start("mention"))
    assert outcome.path == "llm" and "Rolled a d8" in outcome.text
    assert [t["function"]["name"] for t in model.requests[0]["tools"]] == ["roll_dice", "help"]


def test_invalid_arguments_get_one_repair_round_with_the_reason() -> None:
    model = ScriptedModel([called(("roll_dice", {"sides": 1})), called(("roll_dice", {"sides": 20}))])
    outcome = _dispatcher(model).dispatch(_ask("a tiny die please"), RequestTrace.start("mention"))
    assert "Rolled a d20" in outcome.text
    repair = model.requests[1]["messages"]
    assert repair[-2]["role"] == "tool" and "a number of sides from 2 to 100" in repair[-2]["content"]


def test_arguments_still_invalid_after_the_repair_are_explained_to_the_person() -> None:
    model = ScriptedModel([called(("roll_dice", "{not json")), called(("roll_dice", {"sides": 0}))])
    outcome = _dispatcher(model).dispatch(_ask("something dicey"), RequestTrace.start("mention"))
    assert not outcome.ok
    assert "couldn't do all of that" in outcome.text and "a number of sides from 2 to 100" in outcome.text


def test_an_unknown_tool_is_named_with_the_tools_that_exist() -> None:
    model = ScriptedModel([called(("launch_rockets", {})), said("I can only roll dice.")])
    outcome = _dispatcher(model).dispatch(_ask("launch"), RequestTrace.start("mention"))
    assert "launch_rockets" in model.requests[1]["messages"][-2]["content"]
    assert "roll_dice" in model.requests[1]["messages"][-2]["content"]
    assert outcome.text == "I can only roll dice."


def test_a_model_failure_becomes_a_sentence_and_points_to_explicit_commands() -> None:
    model = ScriptedModel([LlmError("The model took too long to answer (I retried).", kind="timeout")])
    outcome = _dispatcher(model).dispatch(_ask("hello?"), RequestTrace.start("mention"))
    assert outcome.failed
    assert "took too long" in outcome.text and "Explicit commands still work" in outcome.text


def test_offline_free_text_is_answered_with_what_works_without_a_model() -> None:
    dispatcher = Dispatcher(ToolRegistry([ROLL_TOOL, help_tool.TOOL]), Settings(_env_file=None))  # type: ignore[call-arg]
    outcome = dispatcher.dispatch(_ask("what's up?"), RequestTrace.start("mention"))
    assert outcome.path == "offline" and "no model is configured" in outcome.text and "roll_dice" in outcome.text


def test_memory_of_the_thread_goes_to_the_model_before_the_question() -> None:
    model = ScriptedModel([said("Still a d8.")])
    dispatcher = _dispatcher(model)
    assert dispatcher.model_loop is not None
    history = [Turn(role="user", text="roll a d8"), Turn(role="assistant", text="Rolled a d8: 4", tool="roll_dice")]
    messages = dispatcher.model_loop.messages_for(_ask("and again?"), history)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[-1]["content"] == "and again?"
