"""Tool schemas come from the argument models; token counts are safe without any network."""

from __future__ import annotations

import pytest

from synapse_bot.llm.schemas import drop_nulls, supports_strict
from synapse_bot.llm.tokens import TokenCounter
from synapse_bot.tools.registry import default_registry
from synapse_bot.tools.triage_issues import TriageIssuesArgs

INTERFACE_TOOLS = {
    "summarize_thread",
    "search_thread",
    "read_channel",
    "recap_channel",
    "monitor_channel",
    "list_monitors",
    "stop_monitor",
    "triage_issues",
    "review_pull_request",
    "get_issue",
    "search_issues",
    "get_pull_request",
    "subscribe_repo",
    "unsubscribe_repo",
    "list_subscriptions",
    "review_queue",
    "schedule",
    "help",
}


def test_every_interface_tool_has_a_schema() -> None:
    names = {s["function"]["name"] for s in default_registry().schemas(strict=False)}
    assert names == INTERFACE_TOOLS


def test_strict_schemas_require_everything_and_make_optionals_nullable() -> None:
    [triage] = [s for s in default_registry().schemas(strict=True) if s["function"]["name"] == "triage_issues"]
    params = triage["function"]["parameters"]
    assert triage["function"]["strict"] is True
    assert params["additionalProperties"] is False
    assert set(params["required"]) == set(params["properties"])
    assert {"type": "null"} in params["properties"]["label"]["anyOf"]
    assert "default" not in str(params)
    # What a strict model sends for "not given" validates once nulls are dropped.
    args = TriageIssuesArgs.model_validate(
        drop_nulls({"repo": "acme/widgets", "label": None, "limit": None, "since": None, "only_unlabelled": None})
    )
    assert args.limit == 30


def test_non_strict_schemas_keep_defaults_and_validation_rules() -> None:
    [triage] = [s for s in default_registry().schemas(strict=False) if s["function"]["name"] == "triage_issues"]
    params = triage["function"]["parameters"]
    assert params["required"] == ["repo"]
    assert params["properties"]["limit"]["maximum"] == 100
    assert "strict" not in triage["function"]


def test_strict_only_for_openai_models_on_openai() -> None:
    assert supports_strict("gpt-4o-mini", None)
    assert not supports_strict("gpt-4o-mini", "http://localhost:11434/v1")
    assert not supports_strict("llama3", None)


@pytest.mark.parametrize(
    ("model", "exact"), [("gpt-4", True), ("gpt-3.5-turbo", True), ("gpt-4o-mini", True), ("some-local-model", False)]
)
def test_counts_are_exact_or_padded(model: str, exact: bool) -> None:
    counter = TokenCounter(model)
    exact_cl100k = TokenCounter("gpt-4")
    text = "The quick brown fox jumps over the lazy dog. " * 50
    assert counter.exact is exact
    if not exact:
        assert counter.count(text) > exact_cl100k.count(text)  # an estimate is padded, never under
    assert counter.count("") == 0


def test_truncate_fits_the_budget() -> None:
    counter = TokenCounter("some-local-model")
    text = "word " * 5_000
    cut = counter.truncate(text, 300)
    assert counter.count(cut) <= 300
    assert text.startswith(cut)


def test_message_count_includes_tools_and_overheads() -> None:
    counter = TokenCounter("gpt-4")
    messages = [{"role": "user", "content": "hello"}]
    tools = default_registry().schemas(strict=False)
    assert counter.count_messages(messages, tools) > counter.count_messages(messages) > counter.count("hello")
