"""The model client: any OpenAI-compatible endpoint, bounded in time, tokens and retries.

Retries on 429/5xx/timeouts with backoff that honours `Retry-After` are the openai client's own (max_retries);
on top of that we try the configured fallback models, keep a per-request token budget, and turn every failure into
an LlmError whose message can be shown to the person who asked. Given the job's deadline, a call waits at most the
time left before it (less a margin to tell the person), retries only as often as fits, and is not started at all
when too little time is left (`DeadlineReached`, see llm/deadline.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import openai

from synapse_bot.llm.context_window import UNKNOWN_MODEL_WINDOW, known_window, reported_window
from synapse_bot.llm.deadline import CallLimits, Deadline
from synapse_bot.llm.prices import PriceTable
from synapse_bot.llm.tokens import TokenCounter

log = logging.getLogger(__name__)


def _sdk() -> ModuleType:
    """The OpenAI SDK, imported on first use: it is 0.4 s of imports (its types, its vendored aiohttp transport) that
    a gateway never needs and that would otherwise delay the Socket Mode connection (`LlmClient.warm_up` loads it
    right after connecting, so the first question does not pay for it either)."""
    import openai

    return openai


class LlmError(Exception):
    """A model failure, with a message fit for the Slack thread."""

    def __init__(self, user_message: str, *, kind: str = "error") -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.kind = kind


class BudgetExceeded(LlmError):
    pass


class DeadlineReached(LlmError):
    """A model call not started, or cut short, because the job's time limit is (nearly) up."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__(deadline.notice, kind="deadline")


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
    input_cost_usd: float | None = None
    output_cost_usd: float | None = None
    # The thread that made the call: a budget is shared by calls running side by side (a summary's parts).
    thread: int = field(default_factory=threading.get_ident, compare=False)


@dataclass
class TokenBudget:
    """Tokens one request may spend across all its model calls (charged from any thread)."""

    limit: int
    used: int = 0
    calls: list[CallRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def charge(self, record: CallRecord) -> None:
        with self._lock:
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

    @property
    def context_tokens(self) -> int:
        """Prompt + answer of one call."""
        ...

    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        budget: TokenBudget,
        purpose: str,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
        on_text: Callable[[str], None] | None = None,
        deadline: Deadline | None = None,
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
        context_tokens: int = 0,
    ) -> None:
        self.model = model
        self.prices = prices or PriceTable()
        self.models = [model, *[m for m in (fallback_models or []) if m and m != model]]
        self.max_output_tokens = max_output_tokens
        self.counter = TokenCounter(model)
        self.limits = CallLimits(timeout_s, max_retries)  # per call, unless the job's deadline is nearer
        self._client_settings: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout_s,
            "max_retries": max_retries,
        }
        self._client_made: openai.OpenAI | None = None
        self._client_lock = threading.Lock()
        self._context_tokens = context_tokens or known_window(model) or 0

    @property
    def _client(self) -> openai.OpenAI:
        made = self._client_made
        if made is None:
            with self._client_lock:  # the warm-up thread and a first request may both get here
                if self._client_made is None:
                    self._client_made = _sdk().OpenAI(**self._client_settings)
                made = self._client_made
        return made

    def warm_up(self) -> None:
        """Load the SDK and build its client now (a thread started after connecting), not at the first question."""
        self._client  # noqa: B018 (the property builds it)

    @property
    def context_tokens(self) -> int:
        """OPENAI_CONTEXT_TOKENS, else OpenAI's published window, else what the server reports (asked once)."""
        if not self._context_tokens:
            self._context_tokens = self._ask_server_window() or UNKNOWN_MODEL_WINDOW
        return self._context_tokens

    def _ask_server_window(self) -> int | None:
        try:
            listing = self._client.with_options(max_retries=0, timeout=5.0).models.list()
        except _sdk().OpenAIError:
            return None
        for entry in listing.data:
            if entry.id == self.model:
                return reported_window(entry.model_dump())
        return None

    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        budget: TokenBudget,
        purpose: str,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
        on_text: Callable[[str], None] | None = None,
        deadline: Deadline | None = None,
    ) -> ChatResult:
        """One completion, within the budget and before the deadline; tries fallback models before giving up.

        With `on_text`, the answer is streamed and each piece of its text is handed over as it arrives.
        """
        output_cap = min(max_output_tokens or self.max_output_tokens, self.max_output_tokens)
        estimate = self.counter.count_messages(messages, tools)
        if estimate + output_cap > budget.remaining:
            raise BudgetExceeded(
                f"That request needs about {estimate + output_cap:,} model tokens but only {budget.remaining:,} are "
                "left in this request's budget. Try a narrower question (e.g. fewer issues or one thread).",
                kind="budget",
            )
        if estimate + output_cap > self.context_tokens:
            raise LlmError(too_long_text(self.model, estimate + output_cap, self.context_tokens), kind="context_length")
        last_error: LlmError | None = None
        for model in self.models:
            limits = self._limits(deadline)
            try:
                return self._call(
                    model,
                    messages,
                    tools,
                    response_format,
                    output_cap,
                    estimate,
                    budget,
                    purpose,
                    on_text,
                    limits=limits,
                    deadline=deadline,
                )
            except LlmError as exc:
                last_error = exc
                if exc.kind in ("auth", "bad_request", "context_length", "deadline"):
                    break  # another model will not fix a bad key or a malformed request, nor give time back
                log.warning("model call failed", extra={"model": model, "kind": exc.kind})
        assert last_error is not None
        raise last_error

    def _limits(self, deadline: Deadline | None) -> CallLimits:
        """The configured timeout and retries, cut to what fits before the deadline; raises if nothing fits."""
        if deadline is None:
            return self.limits
        limits = deadline.limits(timeout_s=self.limits.timeout_s, max_retries=self.limits.max_retries)
        if limits is None:
            raise DeadlineReached(deadline)
        return limits

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
        on_text: Callable[[str], None] | None = None,
        *,
        limits: CallLimits,
        deadline: Deadline | None = None,
    ) -> ChatResult:
        kwargs: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": output_cap}
        if tools:
            kwargs["tools"] = tools
            kwargs["tool_choice"] = "auto"
        if response_format:
            kwargs["response_format"] = response_format
        client = self._client
        if limits != self.limits:
            client = client.with_options(timeout=limits.timeout_s, max_retries=limits.max_retries)
        started = time.perf_counter()
        try:
            if on_text is not None:
                answer = self._streamed(client, kwargs, on_text, deadline)
            else:
                answer = self._whole(client, kwargs)
        except (_sdk().APIError, DeadlineReached) as exc:
            latency = (time.perf_counter() - started) * 1000
            budget.charge(CallRecord(model, 0, 0, latency, purpose, ok=False, error=type(exc).__name__))
            if isinstance(exc, DeadlineReached):
                raise
            if isinstance(exc, _sdk().APITimeoutError) and deadline is not None and not deadline.can_start_call():
                raise DeadlineReached(deadline) from None  # the wait was cut to the deadline, and it has come
            raise _explain(exc, estimate + output_cap, self.context_tokens, model) from None
        latency = (time.perf_counter() - started) * 1000
        prompt_tokens = answer.prompt_tokens if answer.prompt_tokens is not None else estimate
        completion_tokens = (
            answer.completion_tokens
            if answer.completion_tokens is not None
            else self.counter.count((answer.content or "") + "".join(c["arguments"] or "" for c in answer.tool_calls))
        )
        split = self.prices.split_cost(answer.model or model, prompt_tokens, completion_tokens)
        budget.charge(
            CallRecord(
                model,
                prompt_tokens,
                completion_tokens,
                latency,
                purpose,
                cost_usd=None if split is None else round(split[0] + split[1], 6),
                input_cost_usd=None if split is None else split[0],
                output_cost_usd=None if split is None else split[1],
            )
        )
        if answer.empty:
            raise LlmError("The model returned an empty answer. Please try again.", kind="empty")
        return ChatResult(
            content=answer.content,
            tool_calls=answer.tool_calls,
            model=answer.model or model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=answer.finish_reason,
        )

    @staticmethod
    def _whole(client: openai.OpenAI, kwargs: dict[str, Any]) -> _Answer:
        response = client.chat.completions.create(**kwargs)
        usage = response.usage
        if not response.choices:
            return _Answer(None, [], response.model, None, None, None, empty=True)
        choice = response.choices[0]
        tool_calls = [
            {"id": call.id, "name": call.function.name, "arguments": call.function.arguments}
            for call in (choice.message.tool_calls or [])
            if getattr(call, "function", None) is not None
        ]
        return _Answer(
            choice.message.content,
            tool_calls,
            response.model,
            usage.prompt_tokens if usage else None,
            usage.completion_tokens if usage else None,
            choice.finish_reason,
        )

    @staticmethod
    def _streamed(
        client: openai.OpenAI, kwargs: dict[str, Any], on_text: Callable[[str], None], deadline: Deadline | None
    ) -> _Answer:
        """The same completion over server-sent events: text pieces go to `on_text`, tool calls are assembled.

        The timeout bounds each wait for the next piece, so a server writing slowly is stopped at the deadline here.
        """
        stream = client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True})
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        model, finish, prompt_tokens, completion_tokens, seen = None, None, None, None, False
        for chunk in stream:
            if deadline is not None and deadline.past_margin():
                stream.close()
                raise DeadlineReached(deadline)
            model = chunk.model or model
            if chunk.usage is not None:
                prompt_tokens, completion_tokens = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
            for choice in chunk.choices[:1]:
                seen = True
                finish = choice.finish_reason or finish
                delta = choice.delta
                if delta.content:
                    content.append(delta.content)
                    on_text(delta.content)
                for piece in delta.tool_calls or []:
                    call = calls.setdefault(piece.index, {"id": None, "name": "", "arguments": ""})
                    call["id"] = piece.id or call["id"]
                    if piece.function is not None:
                        call["name"] += piece.function.name or ""
                        call["arguments"] += piece.function.arguments or ""
        tool_calls = [
            {"id": c["id"] or f"call_{i}", "name": c["name"], "arguments": c["arguments"]}
            for i, c in sorted(calls.items())
        ]
        text = "".join(content) if content else None
        return _Answer(text, tool_calls, model, prompt_tokens, completion_tokens, finish, empty=not seen)


@dataclass(frozen=True)
class _Answer:
    content: str | None
    tool_calls: list[dict[str, Any]]
    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None
    empty: bool = False


def too_long_text(model: str, needed: int, window: int) -> str:
    return (
        f"This conversation is too long for the configured model ({model}): it needs about {needed:,} tokens and "
        f"the model takes {window:,}. Ask about a shorter part, or an admin can set OPENAI_CONTEXT_TOKENS to the "
        "server's real context size or choose a model with a larger one."
    )


_TOO_LONG = ("context length", "context_length", "maximum context", "context window", "too many tokens", "too long")


def _server_message(exc: openai.APIError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    message = str((error or {}).get("message") or exc.message or "")
    return " ".join(message.split())[:300]


def _explain(exc: openai.APIError, needed: int = 0, window: int = 0, model: str = "") -> LlmError:
    sdk = _sdk()
    if isinstance(exc, sdk.AuthenticationError):
        return LlmError("The model endpoint rejected our API key. An admin needs to check OPENAI_API_KEY.", kind="auth")
    if isinstance(exc, sdk.RateLimitError):
        return LlmError(
            "The model is rate-limiting us right now (I retried). Please try again in a minute.", kind="rate_limit"
        )
    if isinstance(exc, sdk.APITimeoutError):
        return LlmError("The model took too long to answer (I retried). Please try again shortly.", kind="timeout")
    if isinstance(exc, sdk.APIConnectionError):
        return LlmError(
            "I can't reach the model endpoint right now. Please try again later; an admin can run "
            "`synapse-bot check` to see what is wrong.",
            kind="unavailable",
        )
    if isinstance(exc, sdk.NotFoundError):
        return LlmError(
            "The configured model was not found at the endpoint (an admin should check OPENAI_MODEL and "
            "SYNAPSE_OPENAI_FALLBACK_MODELS).",
            kind="model_not_found",
        )
    if isinstance(exc, sdk.BadRequestError) or (
        isinstance(exc, sdk.APIStatusError) and exc.status_code in (400, 413, 422)
    ):
        said = _server_message(exc)
        if (
            any(marker in said.lower() for marker in _TOO_LONG)
            or getattr(exc, "code", None) == "context_length_exceeded"
        ):
            return LlmError(too_long_text(model, needed, window) + f" (The server said: {said})", kind="context_length")
        return LlmError(f"The model endpoint refused the request: {said or 'no reason given'}.", kind="bad_request")
    if isinstance(exc, sdk.APIStatusError) and exc.status_code >= 500:
        return LlmError(
            "The model service is having trouble (it returned errors, and I retried). Please try again later.",
            kind="unavailable",
        )
    return LlmError(f"The model call failed ({type(exc).__name__}). Please try again later.", kind="error")
