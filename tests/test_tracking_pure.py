"""Pure tracking logic: scrubbing, prices, percentiles, nesting."""

from __future__ import annotations

import pytest

from synapse_bot.llm.prices import PriceTable
from synapse_bot.tracking.privacy import Scrubber
from synapse_bot.tracking.stats import percentile
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
