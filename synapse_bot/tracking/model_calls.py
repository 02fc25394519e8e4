"""Model calls recorded on the request's trace: one LLM span per call, with model, tokens, latency and outcome."""

from __future__ import annotations

import threading
import time
from typing import Any

from synapse_bot.llm.client import CallRecord, ChatModel, ChatResult, TokenBudget
from synapse_bot.tracking.trace import RequestTrace, SpanRecord


def traced_chat(
    llm: ChatModel,
    trace: RequestTrace,
    messages: list[dict[str, Any]],
    *,
    budget: TokenBudget,
    purpose: str,
    **kwargs: Any,
) -> ChatResult:
    """One model call recorded as an LLM span: model, tokens, latency, and what came back."""
    with trace.span(f"llm.{purpose}", span_type="LLM") as span:
        started = time.perf_counter()
        first = len(budget.calls)
        try:
            result = llm.chat(messages, budget=budget, purpose=purpose, **kwargs)
        finally:
            _record_usage(span, _calls_of_this_chat(budget, first))
            span.set(latency_ms=round((time.perf_counter() - started) * 1000, 2))
        span.set(tool_calls=len(result.tool_calls), finish_reason=result.finish_reason)
        return result


def _calls_of_this_chat(budget: TokenBudget, first: int) -> list[CallRecord]:
    """The attempts this chat charged (a fallback model is a second one): those charged since it began, by this
    thread. A call refused before it was sent charged nothing, and its span gets no tokens of another call's."""
    me = threading.get_ident()
    return [call for call in budget.calls[first:] if call.thread == me]


def _record_usage(span: SpanRecord, calls: list[CallRecord]) -> None:
    if not calls:
        return
    span.set(
        model=calls[-1].model,
        prompt_tokens=sum(call.prompt_tokens for call in calls),
        completion_tokens=sum(call.completion_tokens for call in calls),
        ok=calls[-1].ok,
        cost_usd=round(sum(call.cost_usd or 0.0 for call in calls), 6),
    )
    priced = [call for call in calls if call.input_cost_usd is not None and call.output_cost_usd is not None]
    if priced:
        span.set(
            input_cost_usd=round(sum(call.input_cost_usd or 0.0 for call in priced), 6),
            output_cost_usd=round(sum(call.output_cost_usd or 0.0 for call in priced), 6),
        )
