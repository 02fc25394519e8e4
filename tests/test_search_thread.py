"""search_thread: ranking and selection (pure), then end to end through the fast path and the model."""

from __future__ import annotations

from typing import Any

import pytest

from synapse_bot.dispatch.fast_path import FastPath
from synapse_bot.runtime import Runtime
from synapse_bot.summaries.transcript import Line
from synapse_bot.tools.grammar import ToolCall
from synapse_bot.tools.registry import default_registry
from synapse_bot.tools.search_thread import SearchThreadArgs, select
from synapse_sandbox.openai_server import OpenAIServer, Reply
from synapse_sandbox.workspace import SlackSandbox


def lines(*texts: str) -> list[Line]:
    return [Line(ts=f"1700000000.{i:06d}", author="bob", text=text) for i, text in enumerate(texts)]


def echo_tool_result(body: dict[str, Any]) -> Reply:
    """A model that answers with the last tool result it was given (the loop's second round, when there is one)."""
    results = [m for m in body["messages"] if m.get("role") == "tool"]
    return Reply.text(str(results[-1]["content"]) if results else "no tool result")


def test_a_query_ranks_the_message_with_more_of_its_words_first_and_leaves_out_the_rest() -> None:
    thread = lines("the deploy is done", "the deploy broke the migration", "lunch?", "migration of the users table")
    assert select(thread, SearchThreadArgs(query="migration users", limit=3)) == [3, 1]
    assert select(thread, SearchThreadArgs(query="nothing like it")) == []


def test_a_range_counts_positions_from_one_and_negative_ones_from_the_end() -> None:
    thread = lines(*[f"message {n}" for n in range(1, 21)])
    assert select(thread, SearchThreadArgs(start=3, end=5)) == [2, 3, 4]
    assert select(thread, SearchThreadArgs(start=-3)) == [17, 18, 19]
    assert select(thread, SearchThreadArgs(start=1, limit=4)) == [0, 1, 2, 3]
    assert select(thread, SearchThreadArgs(limit=2)) == [18, 19]  # neither query nor range: the latest


def test_a_query_within_a_range_only_ranks_that_range() -> None:
    thread = lines("db is slow", "lunch", "db restarted", "db fine now")
    assert select(thread, SearchThreadArgs(query="db", start=2, end=3)) == [2]


@pytest.mark.e2e
def test_search_this_thread_finds_a_message_deep_in_a_long_thread_with_its_permalink(
    bot: Runtime, slack: SlackSandbox, workspace: dict[str, str]
) -> None:
    texts = [f"status update {n}: all green" for n in range(300)]
    texts[137] = "the pg_upgrade step needs the old binaries on the box"
    root = slack.seed_thread(workspace["general"], workspace["bob"], texts, repliers=[workspace["alice"]])
    slack.mention(workspace["alice"], workspace["general"], "search this thread for pg_upgrade", thread_ts=root)
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=root)
    assert "#138 · alice" in reply["text"] and "pg_upgrade step" in reply["text"]
    assert "among 300 messages" in reply["text"] and "status update" not in reply["text"]
    reply_ts = slack.messages(workspace["general"], root)[137]["ts"]
    assert f"/archives/{workspace['general']}/p{reply_ts.replace('.', '')}?thread_ts={root}" in reply["text"]
    assert len(slack.calls("chat.getPermalink")) == 1  # links are built from one


@pytest.mark.e2e
def test_the_model_reads_the_latest_messages_of_the_current_thread(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    root = slack.seed_thread(workspace["general"], workspace["bob"], [f"step {n} done" for n in range(1, 11)])
    model.script(Reply.calls(("search_thread", {"start": -3})))
    model.set_responder(echo_tool_result)
    slack.mention(workspace["alice"], workspace["general"], "what were the last three steps?", thread_ts=root)
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=root)
    assert "step 8 done" in reply["text"] and "step 10 done" in reply["text"] and "step 7 done" not in reply["text"]


@pytest.mark.e2e
def test_a_thread_in_a_private_channel_the_requester_is_not_in_is_refused(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    secret = slack.add_channel("secret", members=[workspace["bob"]], is_private=True)
    root = slack.seed_thread(secret, workspace["bob"], ["merger talks", "with Initech"])
    model.script(Reply.calls(("search_thread", {"channel": secret, "thread_ts": root, "query": "merger"})))
    model.set_responder(echo_tool_result)
    asked = slack.mention(workspace["alice"], workspace["general"], "what was said about the merger there?")
    reply = slack.wait_for_bot_message(workspace["general"], thread_ts=asked)
    assert "only search threads in conversations you are a member of" in reply["text"]
    assert "Initech" not in reply["text"]


@pytest.mark.e2e
def test_a_member_searching_a_private_thread_from_a_public_channel_gets_the_result_privately(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    secret = slack.add_channel("secret", members=[workspace["alice"], workspace["bob"]], is_private=True)
    root = slack.seed_thread(secret, workspace["bob"], ["merger talks", "with Initech, quietly"])
    model.script(Reply.calls(("search_thread", {"channel": secret, "thread_ts": root, "query": "Initech"})))
    model.set_responder(echo_tool_result)
    asked = slack.mention(workspace["alice"], workspace["general"], "what was said about Initech there?")
    private = slack.wait_for_ephemeral(workspace["alice"])
    assert "Initech" in private["text"] and "#secret" in private["text"]
    assert slack.bot_messages(workspace["general"], thread_ts=asked) == []


def test_a_range_past_the_end_is_empty() -> None:
    assert select(lines("one", "two"), SearchThreadArgs(start=5, end=9)) == []


def test_an_unquoted_search_is_worded_by_the_model_when_there_is_one_and_a_quoted_one_is_a_command() -> None:
    route = FastPath(default_registry()).route
    assert not route("search this thread for pg_upgrade").complete
    quoted = route('search this thread for "pg_upgrade"')
    assert quoted.complete and quoted.result == [ToolCall("search_thread", {"query": "pg_upgrade"})]
