"""The dispatcher's decisions, in process with a scripted model: no Slack, no sockets, no Redis."""

from __future__ import annotations

import json
from typing import Any

from synapse_bot.config import Settings
from synapse_bot.dispatch.dispatcher import Dispatcher
from synapse_bot.dispatch.model_loop import RequestContext
from synapse_bot.llm.client import LlmError
from synapse_bot.request import SlackRequest
from synapse_bot.tools import help as help_tool
from synapse_bot.tools.base import Tool, ToolArgs, ToolResult
from synapse_bot.tools.registry import ToolRegistry
from synapse_bot.tracking.trace import RequestTrace
from tests.support.requests import mention
from tests.support.scripted_model import ScriptedModel, called, said
from tests.support.toy_tool import ROLL_TOOL


def _settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, OPENAI_API_KEY="sk-test", **overrides)  # type: ignore[call-arg]


def _dispatcher(model: ScriptedModel | None) -> Dispatcher:
    return Dispatcher(ToolRegistry([ROLL_TOOL, help_tool.TOOL]), _settings(), llm=model)


def _ask(text: str) -> SlackRequest:
    return mention(text, thread_ts="1.000001", message_ts="1.000001")


def test_an_explicit_command_never_asks_the_model() -> None:
    model = ScriptedModel([])
    outcome = _dispatcher(model).dispatch(_ask("roll a d6"), RequestTrace.start("mention"))
    assert outcome.path == "fast" and "Rolled a d6" in outcome.text
    assert model.requests == []


def test_free_text_runs_the_tools_the_model_calls_then_the_model_answers() -> None:
    model = ScriptedModel([called(("roll_dice", {"sides": 8})), said("You rolled a 4 on the d8.")])
    outcome = _dispatcher(model).dispatch(_ask("throw me an octahedron"), RequestTrace.start("mention"))
    assert outcome.path == "llm" and outcome.text == "You rolled a 4 on the d8."
    assert [t["function"]["name"] for t in model.requests[0]["tools"]] == ["roll_dice", "help"]
    result = model.requests[1]["messages"][-1]
    assert result["role"] == "tool" and "Rolled a d8" in result["content"]
    assert [t.call.name for t in outcome.tools] == ["roll_dice"]


def test_a_command_with_more_to_it_goes_to_the_model() -> None:
    model = ScriptedModel([said("A d6 has six faces; want me to roll one?")])
    outcome = _dispatcher(model).dispatch(_ask("roll a d6 and explain dice to me"), RequestTrace.start("mention"))
    assert outcome.path == "llm" and len(model.requests) == 1


def test_offline_a_command_with_more_to_it_still_takes_the_fast_path() -> None:
    dispatcher = Dispatcher(ToolRegistry([ROLL_TOOL, help_tool.TOOL]), Settings(_env_file=None))  # type: ignore[call-arg]
    outcome = dispatcher.dispatch(_ask("roll a d6 and explain dice to me"), RequestTrace.start("mention"))
    assert outcome.path == "fast" and "Rolled a d6" in outcome.text


def test_invalid_arguments_go_back_with_the_reason_and_the_corrected_call_runs() -> None:
    model = ScriptedModel(
        [called(("roll_dice", {"sides": 1})), called(("roll_dice", {"sides": 20})), said("Rolled: 10.")]
    )
    outcome = _dispatcher(model).dispatch(_ask("a tiny die please"), RequestTrace.start("mention"))
    assert outcome.text == "Rolled: 10." and [t.call.args for t in outcome.tools] == [{"sides": 20}]
    repair = model.requests[1]["messages"]
    assert repair[-1]["role"] == "tool" and "a number of sides from 2 to 100" in repair[-1]["content"]


def test_broken_json_goes_back_as_valid_json_with_the_raw_text_in_the_tool_message() -> None:
    model = ScriptedModel([called(("roll_dice", '{"sides": 6')), said("Sorry, let me stop there.")])
    _dispatcher(model).dispatch(_ask("something dicey"), RequestTrace.start("mention"))
    sent = model.requests[1]["messages"]
    assistant, tool = sent[-2], sent[-1]
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {}
    error = json.loads(tool["content"])["error"]
    assert '{"sides": 6' in error and "not valid JSON" in error


def test_null_arguments_mean_no_arguments() -> None:
    model = ScriptedModel([called(("help", "null")), said("Here is what I can do.")])
    outcome = _dispatcher(model).dispatch(_ask("what can you?"), RequestTrace.start("mention"))
    assert [t.call.name for t in outcome.tools] == ["help"] and outcome.tools[0].result.ok


def test_an_unknown_tool_is_named_with_the_tools_that_exist() -> None:
    model = ScriptedModel([called(("launch_rockets", {})), said("I can only roll dice.")])
    outcome = _dispatcher(model).dispatch(_ask("launch"), RequestTrace.start("mention"))
    assert "launch_rockets" in model.requests[1]["messages"][-1]["content"]
    assert "roll_dice" in model.requests[1]["messages"][-1]["content"]
    assert outcome.text == "I can only roll dice."


def test_the_fifth_round_offers_no_tools_so_the_model_must_answer() -> None:
    script = [called(("roll_dice", {"sides": 6})) for _ in range(4)] + [said("Four rolls: 3, 3, 3, 3.")]
    model = ScriptedModel(list(script))
    outcome = _dispatcher(model).dispatch(_ask("keep rolling"), RequestTrace.start("mention"))
    assert len(model.requests) == 5 and model.requests[-1]["tools"] is None
    assert outcome.text == "Four rolls: 3, 3, 3, 3." and len(outcome.tools) == 4


def test_a_tool_call_written_as_text_is_run_and_never_shown() -> None:
    written = '<tool_call>\n{"name": "roll_dice", "arguments": {"sides": 10}}\n</tool_call>'
    model = ScriptedModel([said(written), said("A 5 on the d10.")])
    outcome = _dispatcher(model).dispatch(_ask("d10 time"), RequestTrace.start("mention"))
    assert [t.call.args for t in outcome.tools] == [{"sides": 10}]
    assert outcome.text == "A 5 on the d10." and "tool_call" not in outcome.text


def test_a_final_answer_that_is_only_tool_call_text_is_not_posted() -> None:
    rockets = '{"name": "launch_rockets", "arguments": {}}'  # no such tool: it goes back once, then ends
    model = ScriptedModel([said(rockets), said(rockets)])
    outcome = _dispatcher(model).dispatch(_ask("go"), RequestTrace.start("mention"))
    assert "launch_rockets" not in outcome.text and "couldn't work out" in outcome.text


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
    history = [{"role": "user", "content": "roll a d8"}, {"role": "assistant", "content": "Rolled a d8: 4"}]
    messages = dispatcher.model_loop.messages_for(RequestContext(_ask("and again?")), history)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[-1]["content"].endswith("and again?")


def test_a_repeated_failing_call_is_reported_once_when_the_model_says_nothing() -> None:
    model = ScriptedModel([called(("roll_dice", {"sides": 6}), ("roll_dice", {"sides": 6})), said("")])
    outcome = _dispatcher(model).dispatch(_ask("roll twice"), RequestTrace.start("mention"))
    assert outcome.text.count("Rolled a d6") == 1


def test_a_call_in_tools_tags_is_run_as_qwen_coder_writes_it() -> None:
    written = '<tools>\n{"name": "roll_dice", "arguments": {"sides": 12}}\n</tools>'
    model = ScriptedModel([said(written), said("An 8 on the d12.")])
    outcome = _dispatcher(model).dispatch(_ask("d12 please"), RequestTrace.start("mention"))
    assert [t.call.args for t in outcome.tools] == [{"sides": 12}]
    assert outcome.text == "An 8 on the d12."


def test_an_unreadable_call_goes_back_once_saying_so_and_is_never_shown() -> None:
    # What Qwen2.5-Coder-1.5B wrote for a subscription asked in free text: call-shaped, not valid JSON.
    broken = '<tools>\n{"name": "roll_dice", "arguments": {"sides": 6, "note": "a "fair" die"}}\n</tools>'
    model = ScriptedModel([said(broken), called(("roll_dice", {"sides": 6})), said("A 2 on the d6.")])
    outcome = _dispatcher(model).dispatch(_ask("roll a fair die"), RequestTrace.start("mention"))
    assert outcome.text == "A 2 on the d6." and [t.call.args for t in outcome.tools] == [{"sides": 6}]
    said_back = model.requests[1]["messages"][-1]
    assert said_back["role"] == "user" and "could not be read" in said_back["content"]


def test_an_unreadable_call_written_twice_ends_in_a_plain_sentence() -> None:
    broken = '{"name": "roll_dice", "arguments": {"note": "a "fair" die"}}'
    model = ScriptedModel([said(broken), said(broken)])
    outcome = _dispatcher(model).dispatch(_ask("roll a fair die"), RequestTrace.start("mention"))
    assert len(model.requests) == 2 and "roll_dice" not in outcome.text and "couldn't work out" in outcome.text


class _NoteArgs(ToolArgs):
    text: str


NOTE_TOOL = Tool(
    name="pin_note",
    summary="pin a note to the channel",
    description="Pin a note.",
    args_model=_NoteArgs,
    handler=lambda args, ctx: ToolResult(text=f"Pinned the note {args.text!r} here.", changed=True),
)


def test_a_change_a_tool_made_is_said_in_its_own_words_before_the_models() -> None:
    # A small model's summary of what it had just done: "subscribe this channel", of a subscription it had made.
    model = ScriptedModel([called(("pin_note", {"text": "deploy at 5"})), said("You could pin a note here.")])
    dispatcher = Dispatcher(ToolRegistry([NOTE_TOOL, help_tool.TOOL]), _settings(), llm=model)
    outcome = dispatcher.dispatch(_ask("remember we deploy at 5"), RequestTrace.start("mention"))
    assert outcome.text == "Pinned the note 'deploy at 5' here.\n\nYou could pin a note here."


def test_a_change_the_model_quotes_in_full_is_not_said_twice() -> None:
    # The real 1.5B model answered a schedule it had made by repeating the tool's sentence, in code marks.
    model = ScriptedModel(
        [called(("pin_note", {"text": "deploy at 5"})), said("Done: `Pinned the note 'deploy at 5' here.`")]
    )
    dispatcher = Dispatcher(ToolRegistry([NOTE_TOOL, help_tool.TOOL]), _settings(), llm=model)
    outcome = dispatcher.dispatch(_ask("remember we deploy at 5"), RequestTrace.start("mention"))
    assert outcome.text == "Done: `Pinned the note 'deploy at 5' here.`"


def test_an_unreadable_call_and_the_note_about_it_stay_out_of_the_threads_memory() -> None:
    broken = '{"name": "roll_dice", "arguments": {"note": "a "fair" die"}}'
    model = ScriptedModel([said(broken), said("A 4 on the d6.")])
    outcome = _dispatcher(model).dispatch(_ask("roll a fair die"), RequestTrace.start("mention"))
    assert outcome.text == "A 4 on the d6."
    remembered = json.dumps(outcome.exchange)
    assert "fair" in remembered and '\\"fair\\" die' not in remembered and "could not be read" not in remembered


def test_the_model_cannot_call_a_tool_it_is_not_offered() -> None:
    # run_schedule is Synapse's own (a schedule's due run): not in the model's tools, and refused if named anyway.
    from synapse_bot.tools.registry import default_registry

    model = ScriptedModel([called(("run_schedule", {"id": "s1a2b3c", "due": 1})), said("Sorry.")])
    dispatcher = Dispatcher(default_registry(), _settings(), llm=model)
    outcome = dispatcher.dispatch(_ask("run schedule s1a2b3c due 1, as a model"), RequestTrace.start("mention"))
    assert outcome.text == "Sorry."
    assert "There is no tool called `run_schedule`" in json.dumps(model.requests[-1]["messages"])
