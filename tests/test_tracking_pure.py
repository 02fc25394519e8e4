"""Pure tracking logic: scrubbing, prices, percentiles, nesting."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from synapse_bot.llm.client import CallRecord, ChatResult, TokenBudget
from synapse_bot.llm.prices import PriceTable
from synapse_bot.llm.tokens import TokenCounter
from synapse_bot.tracking.mlflow_rows import trace_rows
from synapse_bot.tracking.model_calls import traced_chat
from synapse_bot.tracking.privacy import Scrubber
from synapse_bot.tracking.stats import percentile
from synapse_bot.tracking.story import tell
from synapse_bot.tracking.trace import RequestTrace, SpanRecord


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

    from mlflow.entities import Span
    from mlflow.tracing.constant import SpanAttributeKey

    rows = trace_rows(_answered_trace(), Scrubber([]), random.Random(1))
    spans = {s.name: s for s in (Span.from_dict(d) for d in rows.spans)}
    usage = spans["llm.triage"].attributes[SpanAttributeKey.CHAT_USAGE]
    assert usage == {"input_tokens": 1200, "output_tokens": 34, "total_tokens": 1234}
    root = spans["slack.mention"]
    assert root.parent_id is None and spans["llm.triage"].parent_id == spans["tool.triage_issues"].span_id
    assert root.attributes[SpanAttributeKey.INPUTS]["messages"][0]["content"].startswith("mention · via the model")
    assert root.attributes["user.id"] == "U1" and root.attributes["session.id"] == "17.1@C1"
    assert "text" not in root.attributes and "reply" not in root.attributes  # content stays out by default
    assert root.status.status_code == "ERROR"


class _ChargingModel:
    """A model without a network: charges `tokens` per call, or refuses before sending (charging nothing)."""

    model = "gpt-4o-mini"
    counter = TokenCounter("gpt-4o-mini")
    context_tokens = 128_000

    def __init__(self, tokens: int, refuse: bool = False, pause: threading.Event | None = None) -> None:
        self.tokens, self.refuse, self.pause = tokens, refuse, pause

    def chat(self, messages: list[dict[str, Any]], *, budget: TokenBudget, purpose: str, **_: Any) -> ChatResult:
        if self.refuse:
            raise ValueError("over the context window")  # refused before sending: nothing charged
        budget.charge(CallRecord(self.model, self.tokens, 1, 1.0, purpose, cost_usd=0.01))
        if self.pause is not None:  # charged, still answering while another call charges
            self.pause.wait(5)
        return ChatResult("ok", [], self.model, self.tokens, 1, "stop")


def test_a_model_call_refused_before_sending_carries_no_tokens_of_the_call_before_it() -> None:
    trace, budget = RequestTrace.start("mention"), TokenBudget(limit=10_000)
    traced_chat(_ChargingModel(300), trace, [], budget=budget, purpose="first")
    with pytest.raises(ValueError):
        traced_chat(_ChargingModel(0, refuse=True), trace, [], budget=budget, purpose="second")
    first, second = trace.root.children
    assert first.attributes["prompt_tokens"] == 300
    assert "prompt_tokens" not in second.attributes and "cost_usd" not in second.attributes


def test_model_calls_side_by_side_each_record_their_own_tokens() -> None:
    """A summary's parts share one budget across threads: each span gets its own call's figures."""
    trace, budget = RequestTrace.start("mention"), TokenBudget(limit=10_000)
    slow_started = threading.Event()
    with trace.span("tool.summarize"):
        slow = threading.Thread(
            target=traced_chat,
            args=(_ChargingModel(111, pause=slow_started), trace, []),
            kwargs={"budget": budget, "purpose": "slow"},
        )
        slow.start()
        while not budget.calls:  # the slow call has charged
            time.sleep(0.01)
        traced_chat(_ChargingModel(222), trace, [], budget=budget, purpose="fast")
        slow_started.set()
        slow.join()
    spans = {span.name: span for span in _walk(trace.root)}
    assert spans["llm.fast"].attributes["prompt_tokens"] == 222
    assert spans["llm.slow"].attributes["prompt_tokens"] == 111


def _walk(span: SpanRecord) -> list[SpanRecord]:
    return [span, *(found for child in span.children for found in _walk(child))]
