"""Pure tracking logic: scrubbing, prices, percentiles, nesting."""

from __future__ import annotations

import pytest

from synapse_bot.llm.prices import PriceTable
from synapse_bot.tracking.export import to_mlflow
from synapse_bot.tracking.privacy import Scrubber
from synapse_bot.tracking.stats import percentile
from synapse_bot.tracking.story import tell
from synapse_bot.tracking.trace import RequestTrace


def test_scrubber_removes_secrets_patterns_and_content_unless_asked() -> None:
    scrubber = Scrubber(["my-custom-secret"], patterns=r"ACME-\d{4}", trace_content=False)
    attrs = scrubber.attributes(
        {
            "error": "boom my-custom-secret ACME-1234 xoxb-1-abcdef",
            "args": "{'repo': 'x'}",
            "tool": "help",
            "tokens": 3,
            "none": None,
        }
    )
    assert attrs == {"error": "boom [redacted] [redacted] [redacted]", "tool": "help", "tokens": 3}
    assert "args" in Scrubber([], trace_content=True).attributes({"args": "{}"})


def test_prices_match_the_longest_prefix_and_accept_overrides() -> None:
    table = PriceTable('{"my-local": [0, 0], "gpt-4o": [1, 2]}')
    assert table.cost("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == 0.75  # gpt-4o-mini, not gpt-4o
    assert table.cost("gpt-4o-2024", 1_000_000, 0) == 1.0
    assert table.cost("my-local-llama", 5000, 5000) == 0.0
    assert table.cost("unknown-model", 10, 10) is None
    with pytest.raises(ValueError):
        PriceTable('{"m": [1]}')


def test_percentiles_and_span_nesting() -> None:
    assert (
        percentile([], 0.5) == 0.0 and percentile([5, 1, 3], 0.5) == 3 and percentile(list(range(1, 101)), 0.95) == 95
    )
    trace = RequestTrace.start("mention")
    with trace.span("tool.x") as tool, trace.span("llm.y") as llm:
        assert trace.current() is llm
    assert tool.children == [llm] and trace.root.children == [tool] and trace.current() is trace.root


def _answered_trace() -> RequestTrace:
    trace = RequestTrace.start("mention", channel="C1", user="U1", thread="17.1", text="why is xoxb-1-abcdef red?")
    with (
        trace.span("dispatch", span_type="CHAIN"),
        trace.span("tool.triage_issues", span_type="TOOL"),
        trace.span("llm.triage", span_type="LLM") as llm,
    ):
        llm.set(model="gpt-4o-mini", prompt_tokens=1200, completion_tokens=34)
    trace.root.set(path="llm", reply="Because of my-custom-secret.")
    trace.finish("ERROR", "TimeoutError")
    return trace


def test_the_story_names_kind_tools_and_outcome_and_adds_text_only_with_content() -> None:
    trace = _answered_trace()
    plain = tell(trace, Scrubber(["my-custom-secret"]))
    assert plain.request_preview == "mention · via the model · tools: triage_issues"
    assert plain.response_preview == "error (TimeoutError) · 1 model call, 1,234 tokens"
    assert (plain.user, plain.session, plain.prompt_tokens, plain.completion_tokens) == ("U1", "17.1@C1", 1200, 34)
    told = tell(trace, Scrubber(["my-custom-secret"], trace_content=True))
    assert told.request_preview.endswith(' — "why is [redacted] red?"')
    assert told.response_preview.endswith(' — "Because of [redacted]."')


def test_model_calls_carry_mlflow_token_usage_and_the_root_carries_the_previews() -> None:
    import random

    from mlflow.tracing.constant import SpanAttributeKey

    spans = {s.name: s for s in to_mlflow(_answered_trace(), Scrubber([]), random.Random(1))}
    usage = spans["llm.triage"].attributes[SpanAttributeKey.CHAT_USAGE]
    assert usage == {"input_tokens": 1200, "output_tokens": 34, "total_tokens": 1234}
    root = spans["slack.mention"]
    assert root.parent_id is None and spans["llm.triage"].parent_id == spans["tool.triage_issues"].span_id
    assert root.attributes[SpanAttributeKey.INPUTS]["messages"][0]["content"].startswith("mention · via the model")
    assert root.attributes["user.id"] == "U1" and root.attributes["session.id"] == "17.1@C1"
    assert "text" not in root.attributes and "reply" not in root.attributes  # content stays out by default
    assert root.status.status_code == "ERROR"
