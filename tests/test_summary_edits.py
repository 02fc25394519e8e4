"""A cached summary is used only while the thread's messages are unchanged — edits and deletions included — and a
change costs an update from the previous summary with the changed messages marked, not a full re-summary."""

from __future__ import annotations

from typing import Any

import pytest

from synapse_bot.runtime import Runtime
from synapse_bot.summaries.fingerprint import (
    DELETED_TEXT,
    EDITED_NOTE,
    ThreadChanges,
    changed_lines,
    compare,
    fingerprint,
)
from synapse_bot.summaries.transcript import Line
from synapse_sandbox.openai_server import OpenAIServer
from synapse_sandbox.workspace import SlackSandbox
from tests.test_summarize_thread import summary_reply, summary_requests

pytestmark = pytest.mark.e2e


def _summarize(slack: SlackSandbox, workspace: dict[str, str], root: str, count: int) -> dict[str, Any]:
    slack.mention(workspace["alice"], workspace["general"], "summarize this thread", thread_ts=root)
    return slack.wait_for_bot_message(workspace["general"], thread_ts=root, count=count)


def _replies_reads(slack: SlackSandbox) -> int:
    return len(slack.calls("conversations.replies"))


def _thread(slack: SlackSandbox, workspace: dict[str, str]) -> tuple[str, list[str]]:
    root = slack.seed_thread(
        workspace["general"],
        workspace["bob"],
        ["Which database for the new service?", "We go with Postgres 16.", "Agreed.", "I will write the migration."],
        repliers=[workspace["alice"], workspace["bob"]],
    )
    replies = [m["ts"] for m in slack.messages(workspace["general"], thread_ts=root) if m["ts"] != root]
    return root, replies


def test_an_unchanged_thread_is_answered_from_cache_with_one_read_and_no_model_call(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.set_responder(summary_reply)
    root, _ = _thread(slack, workspace)
    _summarize(slack, workspace, root, 1)
    calls, reads = len(summary_requests(model)), _replies_reads(slack)
    again = _summarize(slack, workspace, root, 2)
    assert "from cache" in again["text"]
    assert len(summary_requests(model)) == calls
    assert _replies_reads(slack) - reads == 1  # the thread read we always do, nothing more


def test_an_edited_message_is_not_served_stale_and_costs_an_update_with_the_edit_marked(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.set_responder(summary_reply)
    root, replies = _thread(slack, workspace)
    first = _summarize(slack, workspace, root, 1)
    assert "saw 4 lines" in first["text"]
    slack.edit_message(workspace["alice"], workspace["general"], replies[0], "We go with MySQL 8.4.")
    calls, reads = len(summary_requests(model)), _replies_reads(slack)
    revised = _summarize(slack, workspace, root, 2)
    assert "from cache" not in revised["text"] and "edited or deleted" in revised["text"]
    [update] = summary_requests(model)[calls:]  # one model call: an update, not a re-summary
    data = update["messages"][-1]["content"]
    assert "<previous_summary>" in data and "saw 4 lines" in data
    assert EDITED_NOTE.strip() in data and "MySQL 8.4" in data
    assert "Which database" not in data and "Agreed." not in data  # unchanged messages are not re-sent
    assert "Covers 4 messages" in revised["text"]
    assert _replies_reads(slack) - reads == 1
    # And the revised summary is what the cache holds now.
    assert "from cache" in _summarize(slack, workspace, root, 3)["text"]


def test_a_deleted_message_is_not_served_stale_and_costs_an_update_that_says_so(
    model_bot: Runtime, slack: SlackSandbox, model: OpenAIServer, workspace: dict[str, str]
) -> None:
    model.set_responder(summary_reply)
    root, replies = _thread(slack, workspace)
    _summarize(slack, workspace, root, 1)
    slack.delete_message(workspace["general"], replies[0])
    calls = len(summary_requests(model))
    revised = _summarize(slack, workspace, root, 2)
    [update] = summary_requests(model)[calls:]
    data = update["messages"][-1]["content"]
    assert "<previous_summary>" in data and DELETED_TEXT in data and "Postgres 16" not in data
    assert "edited or deleted" in revised["text"] and "Covers 3 messages" in revised["text"]


def test_fingerprints_tell_additions_edits_and_deletions_apart() -> None:
    before = fingerprint([{"ts": "1.1"}, {"ts": "1.2"}, {"ts": "1.3", "edited": {"ts": "5.0"}}])
    assert before == {"1.1": "", "1.2": "", "1.3": "5.0"}
    now = fingerprint([{"ts": "1.1", "edited": {"ts": "6.0"}}, {"ts": "1.3", "edited": {"ts": "5.0"}}, {"ts": "1.4"}])
    changes = compare(before, now)
    assert changes == ThreadChanges(added=["1.4"], edited=["1.1"], deleted=["1.2"])
    assert changes.revised and changes.count == 3
    assert not compare(now, dict(now))
    lines = [Line("1.1", "bob", "MySQL 8.4"), Line("1.3", "alice", "ok"), Line("1.4", "carol", "new")]
    marked = changed_lines(lines, changes)
    assert [(line.ts, line.text) for line in marked] == [
        ("1.1", EDITED_NOTE + "MySQL 8.4"),
        ("1.2", DELETED_TEXT),
        ("1.4", "new"),
    ]
