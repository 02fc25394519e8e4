"""The one rule for a tool call's `thread_ts` (tools/threads.py): pure decisions, then end to end with a small
model's copied time."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from synapse_bot.request import RequestKind, SlackRequest
from synapse_bot.runtime import Runtime
from synapse_bot.tools.base import ToolResult
from synapse_bot.tools.registry import default_registry
from synapse_bot.tools.threads import Replaced, ThreadChoice, choose_thread, current_thread
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox

HERE = "1764527160.000100"  # the thread the request was made in
OTHER = "1764440000.000200"


def never_asked(ts: str) -> bool:
    raise AssertionError(f"Slack was asked about {ts}, which the rule decides without it")


def test_a_time_copied_from_the_thread_context_means_the_current_thread() -> None:
    choice = choose_thread(
        "2026-11-30 18:26", current=HERE, same_channel=True, asked="what did bob decide?", exists=never_asked
    )
    assert choice == ThreadChoice(HERE, replaced="2026-11-30 18:26", reason=Replaced.NOT_A_TIMESTAMP)


@pytest.mark.parametrize("junk", ["2026-11-30T18:26:00.000Z", "current", "this thread", "m12", "1712345678"])
def test_anything_that_is_not_digits_dot_digits_means_the_current_thread_inside_one(junk: str) -> None:
    choice = choose_thread(junk, current=HERE, same_channel=True, asked="summarize", exists=never_asked)
    assert choice.ts == HERE and choice.reason is Replaced.NOT_A_TIMESTAMP and choice.problem is None


def test_a_well_formed_timestamp_of_no_message_in_this_channel_means_the_current_thread() -> None:
    choice = choose_thread("1601363133.000000", current=HERE, same_channel=True, asked="gist?", exists=lambda ts: False)
    assert choice.ts == HERE and choice.reason is Replaced.NO_SUCH_THREAD


def test_a_thread_the_person_linked_is_read_even_if_gone_so_the_tool_says_it_is_not_found() -> None:
    link = f"summarize <https://x.slack.com/archives/C1/p{OTHER.replace('.', '')}>"
    choice = choose_thread(OTHER, current=HERE, same_channel=True, asked=link, exists=never_asked)
    assert choice == ThreadChoice(OTHER)  # not swapped for the thread they asked in; Slack is not even asked


def test_a_real_other_thread_the_model_named_is_kept() -> None:
    asked: list[str] = []
    choice = choose_thread(
        OTHER, current=HERE, same_channel=True, asked="gist?", exists=lambda ts: not asked.append(ts)
    )
    assert choice == ThreadChoice(OTHER) and asked == [OTHER]


def test_the_current_thread_named_exactly_is_used_without_asking_slack() -> None:
    assert choose_thread(HERE, current=HERE, same_channel=True, asked="", exists=never_asked) == ThreadChoice(HERE)


def test_no_thread_ts_leaves_the_choice_to_the_tool() -> None:
    assert choose_thread(None, current=HERE, same_channel=True, asked="", exists=never_asked) == ThreadChoice()
    assert choose_thread("", current=None, same_channel=True, asked="", exists=never_asked) == ThreadChoice()


def test_outside_a_thread_a_malformed_thread_ts_says_what_one_looks_like_and_where_to_find_it() -> None:
    choice = choose_thread("2026-11-30 18:26", current=None, same_channel=True, asked="", exists=never_asked)
    assert choice.ts is None and choice.problem is not None
    assert choice.problem.startswith("`2026-11-30 18:26` is not a thread timestamp.")
    assert "`1712345678.123456`" in choice.problem and "link" in choice.problem
    assert "…/p1712345678123456" in choice.problem  # where in the link it is


def test_a_call_naming_another_channel_never_falls_back_to_this_thread() -> None:
    junk = choose_thread("yesterday", current=HERE, same_channel=False, asked="", exists=never_asked)
    assert junk.ts is None and junk.problem is not None and "`yesterday`" in junk.problem
    # A well-formed ts there is the tool's to read (and Slack's to refuse), not ours to replace.
    assert choose_thread(OTHER, current=HERE, same_channel=False, asked="", exists=never_asked) == ThreadChoice(OTHER)


def test_an_unknown_timestamp_outside_a_thread_is_left_for_the_tool_to_report() -> None:
    assert choose_thread(OTHER, current=None, same_channel=True, asked="", exists=never_asked) == ThreadChoice(OTHER)


def test_the_model_always_learns_which_thread_it_got_and_the_person_only_if_they_wrote_that_value() -> None:
    result = ToolResult(text="**Summary**", data={"thread_ts": HERE})
    silent = choose_thread("2026-11-30 18:26", current=HERE, same_channel=True, asked="gist?", exists=never_asked)
    annotated = silent.annotate(result)
    assert annotated.text == "**Summary**"
    assert "not a thread timestamp" in annotated.data["thread_ts_note"] and annotated.data["thread_ts"] == HERE

    asked = "summarize the thread from 2026-11-30 18:26"
    told = choose_thread("2026-11-30 18:26", current=HERE, same_channel=True, asked=asked, exists=never_asked)
    text = told.annotate(result).text
    assert text.startswith("_`2026-11-30 18:26` is not a thread timestamp, so this is about the thread you asked in.")
    assert text.endswith("**Summary**")

    made_up = choose_thread(OTHER, current=HERE, same_channel=True, asked="gist?", exists=lambda ts: False)
    assert made_up.ts == HERE and made_up.annotate(result).text == "**Summary**"  # the model's slip: not said

    assert ThreadChoice(OTHER).annotate(result) == result  # nothing set aside, nothing said


def test_the_current_thread_is_the_one_asked_in_or_the_shortcuts_message() -> None:
    def request(kind: RequestKind, thread_ts: str | None, message_ts: str) -> SlackRequest:
        return SlackRequest(
            kind=kind, dedupe_key="e", team_id="T", user_id="U", thread_ts=thread_ts, message_ts=message_ts
        )

    assert current_thread(request(RequestKind.MENTION, HERE, "1764527999.000100")) == HERE  # a reply in a thread
    assert current_thread(request(RequestKind.MENTION, HERE, HERE)) is None  # a new message in the channel
    assert current_thread(request(RequestKind.SHORTCUT, HERE, HERE)) == HERE  # the shortcut names its message


def test_every_tool_taking_a_thread_ts_shows_the_pattern_and_lets_the_rule_judge_the_value() -> None:
    tools = [t for t in default_registry() if "thread_ts" in t.args_model.model_fields]
    assert {t.name for t in tools} >= {"summarize_thread", "search_thread"}
    for tool in tools:
        schema = json.dumps(tool.args_model.model_json_schema()["properties"]["thread_ts"])
        assert "^[0-9]{9,11}\\\\.[0-9]{1,6}$" in schema, tool.name
        assert tool.args_model.model_validate({"thread_ts": "2026-11-30 18:26"})  # not refused before the rule
        with pytest.raises(ValidationError):
            tool.args_model.model_validate({"thread_ts": "9" * 101})  # still bounded


@pytest.mark.e2e
def test_a_small_models_copied_time_as_thread_ts_summarises_the_thread_it_was_asked_in(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    channel = workspace["general"]
    root = slack.post_message(workspace["bob"], channel, "release 2.3 is blocked on the flaky auth test")
    slack.post_message(workspace["alice"], channel, "I'll quarantine it today", thread_ts=root)
    summary = {
        "tldr": "Release 2.3 waits on the flaky auth test.",
        "key_points": [],
        "decisions": [],
        "action_items": [{"task": "Quarantine the test", "owner": "alice", "due": None}],
        "open_questions": [],
    }
    model.script(
        Reply.calls(("summarize_thread", {"thread_ts": "2026-11-30 18:26"})),  # the time shown beside a thread line
        Reply.json_content(summary),
        Reply.text("Release 2.3 waits on the flaky auth test; alice quarantines it."),
    )
    slack.mention(workspace["alice"], channel, "what's the status here?", thread_ts=root)
    reply = slack.wait_for_bot_message(channel, thread_ts=root)
    assert reply["text"] == "Release 2.3 waits on the flaky auth test; alice quarantines it."
    _, summarising, answering = model.wait_for_requests(3)
    assert "release 2.3 is blocked on the flaky auth test" in summarising["messages"][-1]["content"]
    [tool_message] = [m for m in answering["messages"] if m.get("role") == "tool"]
    result = json.loads(tool_message["content"])
    assert result["ok"] is True and result["data"]["thread_ts"] == root  # this thread, summarised
    assert "is not a thread timestamp" in result["data"]["thread_ts_note"]  # and the model is told why


@pytest.mark.e2e
def test_a_made_up_thread_ts_of_no_message_here_searches_the_thread_it_was_asked_in(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    channel = workspace["general"]
    root = slack.post_message(workspace["bob"], channel, "the pg_upgrade step needs the old binaries")
    slack.post_message(workspace["alice"], channel, "lunch?", thread_ts=root)
    model.script(
        Reply.calls(("search_thread", {"query": "pg_upgrade", "thread_ts": "1601363133.000000"})),  # valid in form
        Reply.text("The old binaries must be on the box for pg_upgrade."),
    )
    slack.mention(workspace["alice"], channel, "what does the upgrade need?", thread_ts=root)
    assert slack.wait_for_bot_message(channel, thread_ts=root)["text"].startswith("The old binaries")
    _, answering = model.wait_for_requests(2)
    [tool_message] = [m for m in answering["messages"] if m.get("role") == "tool"]
    result = json.loads(tool_message["content"])
    assert result["ok"] is True and result["data"]["thread_ts"] == root and "pg_upgrade step" in result["result"]
    assert "no thread in this channel is at `1601363133.000000`" in result["data"]["thread_ts_note"]


def test_one_rule_says_which_thread_a_request_was_asked_in() -> None:
    """`SlackRequest.thread_asked_in`, read by the thread context, the model's prompt, the progress line and the
    thread tools (they used to compute it three ways, disagreeing on the shortcut)."""
    from synapse_bot.request import RequestKind, SlackRequest

    def request(kind: RequestKind, thread_ts: str | None, message_ts: str | None) -> SlackRequest:
        return SlackRequest(
            kind=kind, dedupe_key="k", team_id="T", user_id="U", thread_ts=thread_ts, message_ts=message_ts
        )

    assert request(RequestKind.MENTION, "1.1", "1.2").thread_asked_in == "1.1"  # a reply in a thread
    assert request(RequestKind.MENTION, "1.1", "1.1").thread_asked_in is None  # top level: its answer starts one
    assert request(RequestKind.SHORTCUT, "1.1", "1.1").thread_asked_in == "1.1"  # the shortcut on a thread's root
    assert request(RequestKind.COMMAND, None, None).thread_asked_in is None
