"""The fast-path grammar: explicit commands become tool calls with no model involved."""

from __future__ import annotations

import pytest

from synapse_bot.dispatch.fast_path import FastPath
from synapse_bot.tools.grammar import FastPathError, ToolCall, channel_refs, normalize, parse_permalink
from synapse_bot.tools.registry import default_registry

parse_command = FastPath(default_registry()).parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@U0SYNAPSE> help", ToolCall("help", {})),
        ("help monitors", ToolCall("help", {"topic": "monitors"})),
        (
            "summarize slack thread in <#C0GENERAL|general> with timestamp 1234567890.123456",
            ToolCall("summarize_thread", {"refresh": False, "channel": "C0GENERAL", "thread_ts": "1234567890.123456"}),
        ),
        ("summarize slack thread in #general", ToolCall("summarize_thread", {"refresh": False, "channel": "#general"})),
        ("summarize this thread", ToolCall("summarize_thread", {"refresh": False})),
        ("summarise this thread again", ToolCall("summarize_thread", {"refresh": True})),
        (
            "monitor slack channel #alerts for keywords: error, critical, down",
            ToolCall("monitor_channel", {"channel": "#alerts", "keywords": ["error", "critical", "down"]}),
        ),
        (
            'monitor <#C0ALERTS|alerts> for "disk full", OOM',
            ToolCall("monitor_channel", {"channel": "C0ALERTS", "keywords": ["disk full", "OOM"]}),
        ),
        ("list monitors", ToolCall("list_monitors", {})),
        ("stop monitoring <#C0ALERTS|alerts>", ToolCall("stop_monitor", {"channel": "C0ALERTS"})),
        ("triage github issues in owner/repo", ToolCall("triage_issues", {"repo": "owner/repo"})),
        (
            "triage acme/widgets unlabelled limit 10",
            ToolCall("triage_issues", {"repo": "acme/widgets", "only_unlabelled": True, "limit": 10}),
        ),
        ("review pr #123 in owner/repo", ToolCall("review_pull_request", {"repo": "owner/repo", "number": 123})),
        ("review acme/widgets#7", ToolCall("review_pull_request", {"repo": "acme/widgets", "number": 7})),
        (
            "review <https://github.com/acme/widgets/pull/42|acme/widgets#42>",
            ToolCall("review_pull_request", {"repo": "acme/widgets", "number": 42}),
        ),
    ],
)
def test_explicit_commands_parse(text: str, expected: ToolCall) -> None:
    assert parse_command(text) == [expected]


def test_permalink_of_a_reply_points_at_its_thread() -> None:
    text = "summarize <https://acme.slack.com/archives/C0ABC/p1712345678123456?thread_ts=1712345000.000100&cid=C0ABC>"
    assert parse_command(text) == [
        ToolCall("summarize_thread", {"channel": "C0ABC", "thread_ts": "1712345000.000100", "refresh": False})
    ]
    assert parse_permalink("https://x.slack.com/archives/C0ABC/p1712345678123456") == ("C0ABC", "1712345678.123456")


@pytest.mark.parametrize("text", ["triage", "review pr in acme/widgets", "monitor #alerts", "stop monitoring"])
def test_incomplete_commands_say_what_is_missing(text: str) -> None:
    result = parse_command(text)
    assert isinstance(result, FastPathError)
    assert "Try `" in result.message or "Try" in result.message


@pytest.mark.parametrize("text", ["what's the weather like?", "can you look at the last deploy", "thanks!"])
def test_free_text_is_left_to_the_model(text: str) -> None:
    assert parse_command(text) is None


def test_empty_mention_means_help() -> None:
    assert parse_command("<@U0SYNAPSE>   ") == [ToolCall("help", {})]


def test_normalize_strips_invisible_and_leading_mentions() -> None:
    assert normalize("<@U0SYNAPSE|synapse>\u200b  help\u202e ") == "help"
    assert channel_refs("in <#C0AB|general> and #random") == ["C0AB", "#random"]


def test_compound_commands_become_several_calls() -> None:
    assert parse_command("summarize this thread and triage acme/widgets") == [
        ToolCall("summarize_thread", {"refresh": False}),
        ToolCall("triage_issues", {"repo": "acme/widgets"}),
    ]
    assert parse_command("triage a/b, then review pr #2 in a/b") == [
        ToolCall("triage_issues", {"repo": "a/b"}),
        ToolCall("review_pull_request", {"repo": "a/b", "number": 2}),
    ]


def test_and_inside_keywords_is_not_a_second_command() -> None:
    assert parse_command("monitor #alerts for keywords: error and review failures") == [
        ToolCall("monitor_channel", {"channel": "#alerts", "keywords": ["error", "review failures"]})
    ]


route = FastPath(default_registry()).route


@pytest.mark.parametrize(
    "text",
    [
        "summarize this thread please",
        "summarize slack thread in #general with timestamp 1234567890.123456",
        "monitor #alerts for keywords: error and review failures",
        "triage acme/widgets label bug since 2024-01-01",
        "review pr 12 in acme/widgets please",
        "stop monitoring #alerts",
        "show issue #12 in acme/widgets",
        "search open issues in acme/widgets for sso login",
        "summarize this thread and triage acme/widgets",
    ],
)
def test_commands_said_completely_are_complete(text: str) -> None:
    assert route(text).complete


@pytest.mark.parametrize(
    "text",
    [
        "summarize what bob said about the DB migration and list carol's action items",
        "review this approach — is it sound?",
        "help me fix the flaky test",
        "triage acme/widgets and tell me which are urgent",
        "show issue #12 in acme/widgets and explain it",
        "summarize this thread?",
    ],
)
def test_commands_with_more_to_them_are_not_complete(text: str) -> None:
    assert not route(text).complete
