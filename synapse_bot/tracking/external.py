"""Retries and rate-limit waits of the external calls a request makes, counted on its trace.

The request's trace travels in a context variable (each job runs in its own worker thread); the Slack and GitHub
retry handlers below add to the innermost open span (the running tool's) without knowing about requests.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from synapse_bot.tracking.trace import RequestTrace

current_trace: ContextVar[RequestTrace | None] = ContextVar("synapse_current_trace", default=None)


def count(prefix: str, *, retries: int = 0, waited_s: float = 0.0) -> None:
    trace = current_trace.get()
    if trace is None:
        return
    span = trace.current()
    span.set(
        **{
            f"{prefix}_retries": int(span.attributes.get(f"{prefix}_retries") or 0) + retries,
            f"{prefix}_wait_s": round(float(span.attributes.get(f"{prefix}_wait_s") or 0.0) + waited_s, 3),
        }
    )


def add_calls(prefix: str, n: int = 1) -> None:
    trace = current_trace.get()
    if trace is not None:
        span = trace.current()
        span.set(**{f"{prefix}_calls": int(span.attributes.get(f"{prefix}_calls") or 0) + n})


class CountingWebClient(WebClient):
    """A WebClient that counts every Web API call on the running request's current span."""

    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        add_calls("slack")
        return super().api_call(api_method, **kwargs)


class _CountingRetries(RetryHandler):
    """Mixin for slack_sdk retry handlers: do the stock wait, then record the retry and how long it took."""

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        started = time.monotonic()
        super().prepare_for_next_attempt(state=state, request=request, response=response, error=error)
        count("slack", retries=1, waited_s=time.monotonic() - started)


class CountingRateLimitHandler(_CountingRetries, RateLimitErrorRetryHandler):
    """Slack 429s: waits Retry-After (the stock behaviour), recorded on the current span."""


class CountingConnectionHandler(_CountingRetries, ConnectionErrorRetryHandler):
    """Dropped connections to Slack: retried (the stock behaviour), recorded on the current span."""
