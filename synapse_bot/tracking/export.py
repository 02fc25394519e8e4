"""Turn finished RequestTraces into MLflow trace entities and write many of them in one go.

Why not `mlflow.start_span_no_context` (what the recorder used to do): that API is for live code. It runs MLflow's
in-memory trace manager and OpenTelemetry span processors, and its exporter writes every span in its own database
transaction as the span ends, then the trace info in another; `flush_trace_async_logging` then waits for the
pool. A finished RequestTrace is already complete, so it is built directly as the entities MLflow stores
(`TraceInfo` and `Span`, through `Span.from_dict`, MLflow's own deserialiser) and written with the store's batch
API, `log_spans`, once for the spans of a whole batch of traces: the sqlalchemy store writes them in one session
and fills each trace's row from them (previews from the root's inputs and outputs, tags from its
`mlflow.traceTag.*` attributes, user from `user.id`, session from `session.id`, token usage from the model calls'
`mlflow.chat.tokenUsage`). `start_trace` would set the same row explicitly but costs a transaction per trace, about
twice the CPU of the whole batched write (measured: bench/tracing_throughput.py, docs/performance.md).

Imported on the recorder thread only (MLflow is a slow import).
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

from mlflow.entities import Span
from mlflow.tracing.client import TracingClient
from mlflow.tracing.constant import (
    TRACE_REQUEST_ID_PREFIX,
    CostKey,
    SpanAttributeKey,
    TokenUsageKey,
    TraceTagKey,
)

from synapse_bot.tracking.privacy import Scrubber
from synapse_bot.tracking.story import tell
from synapse_bot.tracking.trace import RequestTrace, SpanRecord

REQUEST_ID_TAG = "synapse.request_id"
TAG_PREFIX = SpanAttributeKey.TRACE_TAG_PREFIX  # root attributes the store turns into trace tags
USER_ATTRIBUTE = "user.id"  # OpenTelemetry's name; the store records it as mlflow.trace.user metadata
_STATUS_CODE = {"OK": "STATUS_CODE_OK", "ERROR": "STATUS_CODE_ERROR"}


def _b64(value: int, size: int) -> str:
    return base64.b64encode(value.to_bytes(size, "big")).decode()


def _usage(span: SpanRecord) -> dict[str, int] | None:
    prompt, completion = span.attributes.get("prompt_tokens"), span.attributes.get("completion_tokens")
    if not isinstance(prompt, int) and not isinstance(completion, int):
        return None
    p, c = int(prompt or 0), int(completion or 0)
    return {TokenUsageKey.INPUT_TOKENS: p, TokenUsageKey.OUTPUT_TOKENS: c, TokenUsageKey.TOTAL_TOKENS: p + c}


def _cost(span: SpanRecord) -> dict[str, float] | None:
    inp, out = span.attributes.get("input_cost_usd"), span.attributes.get("output_cost_usd")
    if not isinstance(inp, int | float) or not isinstance(out, int | float):
        return None  # a model with no price: no cost rather than a wrong one
    return {CostKey.INPUT_COST: inp, CostKey.OUTPUT_COST: out, CostKey.TOTAL_COST: round(inp + out, 6)}


def _standard_attributes(span: SpanRecord) -> dict[str, Any]:
    """MLflow's own attribute names for what its UI shows in columns (model calls: token usage, cost and model);
    the store adds up a trace's model calls into its token and cost columns."""
    if span.span_type != "LLM":
        return {}
    extra: dict[str, Any] = {}
    if usage := _usage(span):
        extra[SpanAttributeKey.CHAT_USAGE] = usage
    if cost := _cost(span):
        extra[SpanAttributeKey.LLM_COST] = cost
    if model := span.attributes.get("model"):
        extra[SpanAttributeKey.MODEL] = model
    return extra


def _root_attributes(trace: RequestTrace, scrubber: Scrubber) -> dict[str, Any]:
    """What the store promotes from the root span to the trace's row: previews, user, session, tags, name.

    The previews are written as one chat message each, the shape from which MLflow takes a preview's text as it
    is (a plain string would be shown JSON-quoted).
    """
    story = tell(trace, scrubber)
    attributes: dict[str, Any] = {
        SpanAttributeKey.INPUTS: {"messages": [{"role": "user", "content": story.request_preview}]},
        SpanAttributeKey.OUTPUTS: {"messages": [{"role": "assistant", "content": story.response_preview}]},
        TAG_PREFIX + REQUEST_ID_TAG: trace.request_id,
        TAG_PREFIX + TraceTagKey.TRACE_NAME: trace.root.name,
        REQUEST_ID_TAG: trace.request_id,
    }
    if story.user:
        attributes[USER_ATTRIBUTE] = story.user
    if story.session:
        attributes[SpanAttributeKey.SESSION_ID] = story.session
    return attributes


def to_mlflow(trace: RequestTrace, scrubber: Scrubber, rng: random.Random) -> list[Span]:
    """The spans MLflow would have stored for this request, root first (pure: no I/O)."""
    otel_trace_id = rng.getrandbits(128) or 1
    trace_id = TRACE_REQUEST_ID_PREFIX + format(otel_trace_id, "032x")
    trace_b64 = _b64(otel_trace_id, 16)
    dumped_trace_id = json.dumps(trace_id)
    end_default = trace.root.end_ns or trace.root.start_ns
    spans: list[Span] = []

    def add(span: SpanRecord, parent_b64: str | None, extra: dict[str, Any]) -> None:
        span_b64 = _b64(rng.getrandbits(64) or 1, 8)
        attributes = scrubber.attributes(span.attributes)
        if span.error:
            attributes["error"] = scrubber.text(span.error)
        attributes.update(_standard_attributes(span))
        attributes.update(extra)
        dumped = {k: json.dumps(v, ensure_ascii=False) for k, v in attributes.items()}
        dumped[SpanAttributeKey.REQUEST_ID] = dumped_trace_id
        dumped[SpanAttributeKey.SPAN_TYPE] = json.dumps(span.span_type)
        spans.append(
            Span.from_dict(
                {
                    "trace_id": trace_b64,
                    "span_id": span_b64,
                    "parent_span_id": parent_b64,
                    "name": span.name,
                    "start_time_unix_nano": span.start_ns,
                    "end_time_unix_nano": span.end_ns or end_default,
                    "status": {"code": _STATUS_CODE.get(span.status, "STATUS_CODE_UNSET"), "message": ""},
                    "attributes": dumped,
                    "events": [],
                }
            )
        )
        for child in span.children:
            add(child, span_b64, {})

    add(trace.root, None, _root_attributes(trace, scrubber))
    return spans


class BatchWriter:
    """Writes the spans of many traces to one tracking store in a single `log_spans` call (one transaction)."""

    def __init__(self, tracking_uri: str) -> None:
        self.client = TracingClient(tracking_uri)

    def write(self, experiment_id: str, traces: list[list[Span]]) -> None:
        self.client.log_spans(experiment_id, [span for spans in traces for span in spans])
