"""Adding a tool is one file plus one registry line.

A toy tool, declared here and nowhere else (argument model with hints, handler, help examples, fast-path grammar,
a button), registered in a test registry, is reached by the real bot over Socket Mode through every path: the fast
path (alone and in a compound command), the model's function call, its button, and help. No module of Synapse
knows its name, verbs or action id.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from synapse_bot.runtime import Runtime
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_bot.tools import help as help_tool
from synapse_bot.tools.registry import ToolRegistry
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox
from tests.support.settings import make_model_settings
from tests.support.toy_tool import REROLL_ACTION, ROLL_TOOL

pytestmark = pytest.mark.e2e


@pytest.fixture
def toy_bot(slack: SlackSandbox, redis_server: EmbeddedRedis, tmp_path: Path, model: OpenAIServer) -> Iterator[Runtime]:
    settings = make_model_settings(slack, redis_server, tmp_path, model)
    runtime = Runtime(settings, registry=ToolRegistry([ROLL_TOOL, help_tool.TOOL])).start()
    assert slack.wait_connected(1, timeout=10)
    yield runtime
    runtime.stop()


def test_a_new_tool_is_reached_by_fast_path_model_button_and_help_from_its_own_file(
    toy_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    alice, general = workspace["alice"], workspace["general"]

    # Fast path: no model call.
    ts = slack.mention(alice, general, "roll a d20")
    answer = slack.wait_for_bot_message(general, thread_ts=ts)
    assert "Rolled a d20" in answer["text"]
    assert model.request_count == 0

    # Compound commands split before the tool's own verb.
    ts = slack.mention(alice, general, "roll a d6 and roll a d8")
    answer = slack.wait_for_bot_message(general, thread_ts=ts)
    assert "Rolled a d6" in answer["text"] and "Rolled a d8" in answer["text"]

    # A grammar's fixable problem is answered without the model.
    ts = slack.mention(alice, general, "roll")
    assert "Try `roll a d20`" in slack.wait_for_bot_message(general, thread_ts=ts)["text"]

    # Model path: the schema offered to the model came from the argument model; the call is validated by it, run,
    # and its result goes back to the model, which answers.
    model.script(Reply.calls(("roll_dice", {"sides": 12})), Reply.text("You got a 6 on the d12."))
    ts = slack.mention(alice, general, "throw something for me please")
    answer = slack.wait_for_bot_message(general, thread_ts=ts)
    assert answer["text"] == "You got a 6 on the d12."
    offered = {tool["function"]["name"]: tool["function"] for tool in model.requests[-2]["tools"]}
    assert offered["roll_dice"]["parameters"]["properties"]["sides"]["maximum"] == 100
    assert "Rolled a d12" in model.requests[-1]["messages"][-1]["content"]

    # Invalid arguments go back to the model explained with the argument model's hint.
    model.script(Reply.calls(("roll_dice", {"sides": 1000})), Reply.text("My dice stop at 100 sides."))
    ts = slack.mention(alice, general, "what is the biggest die you have?")
    assert slack.wait_for_bot_message(general, thread_ts=ts)["text"] == "My dice stop at 100 sides."
    assert "a number of sides from 2 to 100" in model.requests[-1]["messages"][-1]["content"]

    # Its button: the actions listener and the job handler find it through the registry.
    ts = slack.mention(alice, general, "roll a d4")
    answer = slack.wait_for_bot_message(general, thread_ts=ts)
    slack.click_button(alice, general, str(answer["ts"]), REROLL_ACTION)
    rerolled = slack.wait_for_bot_message(general, thread_ts=ts, count=2)
    assert "rerolled the d4" in rerolled["text"]

    # Help lists it, with its example.
    ts = slack.mention(alice, general, "help")
    text = slack.wait_for_bot_message(general, thread_ts=ts)["text"]
    assert "roll_dice" in text and "roll a d20" in text
