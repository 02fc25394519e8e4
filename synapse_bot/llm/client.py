"""The model client: any OpenAI-compatible endpoint, bounded in time, tokens and retries.

Retries on 429/5xx/timeouts with backoff that honours `Retry-After` are the openai client's own (max_retries);
on top of that we try the configured fallback models, keep a per-request token budget, and turn every failure into
an LlmError whose message can be shown to the person who asked.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai

from synapse_bot.llm.prices import PriceTable
from synapse_bot.llm.tokens import TokenCounter

log = logging.getLogger(__name__)


class LlmError(Exception):
    """A model failure, with a message fit for the Slack thread."""

    def __init__(self, user_message: str, *, kind: str = "error") -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.kind = kind


class BudgetExceeded(LlmError):
    pass


@dataclass
class CallRecord:
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    purpose: str
    ok: bool = True
    error: str | None = None
    cost_usd: float | None = None


@dataclass
class TokenBudget:
    """Tokens one request may spend across all its model calls."""

    limit: int
    used: int = 0
    calls: list[CallRecord] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def charge(self, record: CallRecord) -> None:
        self.calls.append(record)
        self.used += record.prompt_tokens + record.completion_tokens

    @property
    def cost_usd(self) -> float:
        return round(sum(c.cost_usd or 0.0 for c in self.calls), 6)

    @property
    def prompt_tokens(self) -> int:
        return sum(c.prompt_tokens for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.calls)


@dataclass(frozen=True)
class ChatResult:
    content: str | None
    tool_calls: list[dict[str, Any]]
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


class ChatModel(Protocol):
    """What Synapse needs of a model: one chat completion within a request's budget, and a token counter.

    `LlmClient` is the real one (any OpenAI-compatible server); tests may script one without a network.
    """

    model: str
    counter: TokenCounter

    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        budget: TokenBudget,
        purpose: str,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
    ) -> ChatResult: ...


class LlmClient:
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        model: str,
        fallback_models: list[str] | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        max_output_tokens: int = 2_000,
        prices: PriceTable | None = None,
    ) -> None:
        self.model = model
        self.prices = prices or PriceTable()
        self.models = [model, *[m for m in (fallback_models or []) if m and m != model]]
        self.max_output_tokens = max_output_tokens
        self.counter = TokenCounter(model)
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries)

    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        budget: TokenBudget,
        purpose: str,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
    ) -> ChatResult:
        """One completion, within the budget; tries fallback models before giving up."""
        output_cap = min(max_output_tokens or self.max_output_tokens, self.max_output_tokens)
        estimate = self.counter.count_messages(messages, tools)
        if estimate + output_cap > budget.remaining:
            raise BudgetExceeded(
                f"That request needs about {estimate + output_cap:,} model tokens but only {budget.remaining:,} are "
                "left in this request's budget. Try a narrower question (e.g. fewer issues or one thread).",
                kind="budget",
            )
        last_error: LlmError | None = None
        for model in self.models:
            try:
                return self._call(model, messages, tools, response_format, output_cap, estimate, budget, purpose)
            except LlmError as exc:
                last_error = exc
                if exc.kind in ("auth", "bad_request"):
                    break  # another model will not fix a bad key or a malformed request
                log.warning("model call failed", extra={"model": model, "kind": exc.kind})
        assert last_error is not None
        raise last_error

    def _call(
        self,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        response_format: dict[str, Any] | None,
        output_cap: int,
        estimate: int,
        budget: TokenBudget,
        purpose: str,
    ) -> ChatResult:
        kwargs: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": output_cap}
        if tools:
            kwargs["tools"] = tools
            kwargs["tool_choice"] = "auto"
        if response_format:
            kwargs["response_format"] = response_format
        started = time.perf_counter()
        try:
            response = self._client.chat.completions.create(**kwargs)
        except openai.APIError as exc:
            latency = (time.perf_counter() - started) * 1000
            budget.charge(CallRecord(model, 0, 0, latency, purpose, ok=False, error=type(exc).__name__))
            raise _explain(exc) from None
        latency = (time.perf_counter() - started) * 1000
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else estimate
        completion_tokens = usage.completion_tokens if usage else 0
        cost = self.prices.cost(response.model or model, prompt_tokens, completion_tokens)
        budget.charge(CallRecord(model, prompt_tokens, completion_tokens, latency, purpose, cost_usd=cost))
        if not response.choices:
            raise LlmError("The model returned an empty answer. Please try again.", kind="empty")
        choice = response.choices[0]
        tool_calls = [
            {"id": call.id, "name": call.function.name, "arguments": call.function.arguments}
            for call in (choice.message.tool_calls or [])
            if getattr(call, "function", None) is not None
        ]
        return ChatResult(
            content=choice.message.content,
            tool_calls=tool_calls,
            model=response.model or model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=choice.finish_reason,
        )


def _explain(exc: openai.APIError) -> LlmError:
    if isinstance(exc, openai.AuthenticationError):
        return LlmError("The model endpoint rejected our API key. An admin needs to check OPENAI_API_KEY.", kind="auth")
    if isinstance(exc, openai.RateLimitError):
        return LlmError(
            "The model is rate-limiting us right now (I retried). Please try again in a minute.", kind="rate_limit"
        )
    if isinstance(exc, openai.APITimeoutError):
        return LlmError("The model took too long to answer (I retried). Please try again shortly.", kind="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return LlmError(
            "I can't reach the model endpoint right now. Please try again later; an admin can run "
            "`synapse-bot check` to see what is wrong.",
            kind="unavailable",
        )
    if isinstance(exc, openai.NotFoundError):
        return LlmError(
            "The configured model was not found at the endpoint (an admin should check OPENAI_MODEL and "
            "SYNAPSE_OPENAI_FALLBACK_MODELS).",
            kind="model_not_found",
        )
    if isinstance(exc, openai.BadRequestError):
        return LlmError("The model endpoint refused the request as malformed.", kind="bad_request")
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return LlmError(
            "The model service is having trouble (it returned errors, and I retried). Please try again later.",
            kind="unavailable",
        )
    return LlmError(f"The model call failed ({type(exc).__name__}). Please try again later.", kind="error")
