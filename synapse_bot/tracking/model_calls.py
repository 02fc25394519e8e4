"""Model calls recorded on the request's trace: one LLM span per call, with model, tokens, latency and outcome."""

from __future__ import annotations

import time
from typing import Any

from synapse_bot.llm.client import ChatModel, ChatResult, TokenBudget
from synapse_bot.tracking.trace import RequestTrace


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
        try:
            result = llm.chat(messages, budget=budget, purpose=purpose, **kwargs)
        finally:
            if budget.calls:
                last = budget.calls[-1]
                span.set(
                    model=last.model,
                    prompt_tokens=last.prompt_tokens,
                    completion_tokens=last.completion_tokens,
                    ok=last.ok,
                    cost_usd=last.cost_usd,
                )
                if last.input_cost_usd is not None and last.output_cost_usd is not None:
                    span.set(input_cost_usd=last.input_cost_usd, output_cost_usd=last.output_cost_usd)
            span.set(latency_ms=round((time.perf_counter() - started) * 1000, 2))
        span.set(tool_calls=len(result.tool_calls), finish_reason=result.finish_reason)
        return result
