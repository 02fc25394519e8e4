"""A finished RequestTrace as the rows MLflow's tracking store keeps for it (pure: no I/O, no MLflow import).

The spans are MLflow's serialised span dicts (what `Span.to_dict()` gives and what the store keeps in
`spans.content`); the trace's row is what MLflow's sqlalchemy store derives from them in `log_spans` (previews
from the root's inputs and outputs, tags from its `mlflow.traceTag.*` attributes, user from `user.id`, session from
`session.id`, token and cost totals from the model calls). Both writers start from here: the direct sqlite writer
(sqlite_store.py) stores these rows as they are, and the MLflow writer (export.py) hands the span dicts to
MLflow's `Span.from_dict` and lets the store derive the rest. `tests/test_trace_store.py` writes the same traces
both ways and compares every row.

MLflow's attribute, tag and metadata names are spelled out here rather than imported: importing even
`mlflow.tracing.constant` loads MLflow (~44 MB). A test checks each against MLflow's own constant.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field
from typing import Any

from synapse_bot.tracking.privacy import Scrubber
from synapse_bot.tracking.story import tell
from synapse_bot.tracking.trace import RequestTrace, SpanRecord

# MLflow's names (mlflow.tracing.constant in mlflow 3.17)
INPUTS = "mlflow.spanInputs"
OUTPUTS = "mlflow.spanOutputs"
SPAN_TYPE = "mlflow.spanType"
REQUEST_ID = "mlflow.traceRequestId"
CHAT_USAGE = "mlflow.chat.tokenUsage"
LLM_COST = "mlflow.llm.cost"
MODEL = "mlflow.llm.model"
SESSION_ID = "session.id"
TAG_PREFIX = "mlflow.traceTag."  # root attributes the store turns into trace tags
TRACE_NAME_TAG = "mlflow.traceName"
USER_METADATA = "mlflow.trace.user"
ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
SPANS_IN_TRACKING_STORE = "TRACKING_STORE"
TRACE_ID_PREFIX = "tr-"
PREVIEW_MAX_CHARS = 1000  # TRACE_REQUEST_RESPONSE_PREVIEW_MAX_LENGTH_OSS
TAG_VALUE_MAX_CHARS = 8000
SESSION_MAX_CHARS = 250
INPUT_TOKENS, OUTPUT_TOKENS, TOTAL_TOKENS = "input_tokens", "output_tokens", "total_tokens"
INPUT_COST, OUTPUT_COST, TOTAL_COST = "input_cost", "output_cost", "total_cost"

REQUEST_ID_TAG = "synapse.request_id"
USER_ATTRIBUTE = "user.id"  # OpenTelemetry's name; the store records it as mlflow.trace.user metadata
_STATUS_CODE = {"OK": "STATUS_CODE_OK", "ERROR": "STATUS_CODE_ERROR"}


@dataclass
class TraceRows:
    """One trace as MLflow stores it; `experiment_id` and the artifact location are the writer's to add."""

    trace_id: str
    spans: list[dict[str, Any]]
    timestamp_ms: int
    execution_time_ms: int | None
    status: str
    request_preview: str | None
    response_preview: str | None
    trace_name: str
    session_id: str | None
    user: str | None
    tags: dict[str, str]
    usage: dict[str, int] | None
    cost: dict[str, float] | None
    standard: dict[str, dict[str, Any]] = field(default_factory=dict)  # each span's MLflow columns, by its dict's id


def _b64(value: int, size: int) -> str:
    return base64.b64encode(value.to_bytes(size, "big")).decode()


def hex_id(b64: str) -> str:
    """MLflow's span and trace ids in rows are the hex of the ids its span dicts carry in base64."""
    return base64.b64decode(b64).hex()


def _usage(span: SpanRecord) -> dict[str, int] | None:
    prompt, completion = span.attributes.get("prompt_tokens"), span.attributes.get("completion_tokens")
    if not isinstance(prompt, int) and not isinstance(completion, int):
        return None
    p, c = int(prompt or 0), int(completion or 0)
    return {INPUT_TOKENS: p, OUTPUT_TOKENS: c, TOTAL_TOKENS: p + c}


def _cost(span: SpanRecord) -> dict[str, float] | None:
    inp, out = span.attributes.get("input_cost_usd"), span.attributes.get("output_cost_usd")
    if not isinstance(inp, int | float) or not isinstance(out, int | float):
        return None  # a model with no price: no cost rather than a wrong one
    return {INPUT_COST: inp, OUTPUT_COST: out, TOTAL_COST: round(inp + out, 6)}


def _standard_attributes(span: SpanRecord) -> dict[str, Any]:
    """MLflow's own attribute names for what its UI shows in columns (model calls: token usage, cost and model)."""
    if span.span_type != "LLM":
        return {}
    extra: dict[str, Any] = {}
    if usage := _usage(span):
        extra[CHAT_USAGE] = usage
    if cost := _cost(span):
        extra[LLM_COST] = cost
    if model := span.attributes.get("model"):
        extra[MODEL] = model
    return extra


def _root_attributes(trace: RequestTrace, scrubber: Scrubber) -> dict[str, Any]:
    """What the store promotes from the root span to the trace's row: previews, user, session, tags, name.

    The previews are written as one chat message each, the shape from which MLflow takes a preview's text as it
    is (a plain string would be shown JSON-quoted).
    """
    story = tell(trace, scrubber)
    attributes: dict[str, Any] = {
        INPUTS: {"messages": [{"role": "user", "content": story.request_preview}]},
        OUTPUTS: {"messages": [{"role": "assistant", "content": story.response_preview}]},
        TAG_PREFIX + REQUEST_ID_TAG: trace.request_id,
        TAG_PREFIX + TRACE_NAME_TAG: trace.root.name,
        REQUEST_ID_TAG: trace.request_id,
    }
    if story.user:
        attributes[USER_ATTRIBUTE] = story.user
    if story.session:
        attributes[SESSION_ID] = story.session
    return attributes


def _preview(message_text: str, dumped: str) -> str:
    """MLflow's `_get_truncated_preview` for a one-message list: the message's text (the raw JSON when empty)."""
    text = message_text or dumped
    return text if len(text) <= PREVIEW_MAX_CHARS else text[: PREVIEW_MAX_CHARS - 3] + "..."


def _outermost_sum(nodes: list[tuple[str, str | None, dict[str, Any] | None]], keys: list[str]) -> dict[str, Any]:
    """MLflow's tree-aware total: a span's figures count unless an ancestor already carries figures."""
    parents = {span_id: parent for span_id, parent, _ in nodes}
    carrying = {span_id for span_id, _, data in nodes if data is not None}
    totals: dict[str, Any] = {}
    for _, parent, data in nodes:
        if data is None:
            continue
        ancestor = parent
        while ancestor is not None and ancestor not in carrying:
            ancestor = parents.get(ancestor)
        if ancestor is None:
            for key in keys:
                totals[key] = totals.get(key, 0) + data.get(key, 0)
    return totals


def trace_rows(trace: RequestTrace, scrubber: Scrubber, rng: random.Random) -> TraceRows:
    """The rows MLflow would have stored for this request, root span first."""
    otel_trace_id = rng.getrandbits(128) or 1
    trace_id = TRACE_ID_PREFIX + format(otel_trace_id, "032x")
    trace_b64 = _b64(otel_trace_id, 16)
    dumped_trace_id = json.dumps(trace_id)
    end_default = trace.root.end_ns or trace.root.start_ns
    spans: list[dict[str, Any]] = []
    standard_of: dict[str, dict[str, Any]] = {}

    def add(span: SpanRecord, parent_b64: str | None, extra: dict[str, Any]) -> None:
        span_b64 = _b64(rng.getrandbits(64) or 1, 8)
        attributes = scrubber.attributes(span.attributes)
        if span.error:
            attributes["error"] = scrubber.text(span.error)
        standard = _standard_attributes(span)
        attributes.update(standard)
        attributes.update(extra)
        dumped = {k: json.dumps(v, ensure_ascii=False) for k, v in attributes.items()}
        dumped[REQUEST_ID] = dumped_trace_id
        dumped[SPAN_TYPE] = json.dumps(span.span_type)
        spans.append(
            {
                "trace_id": trace_b64,
                "span_id": span_b64,
                "parent_span_id": parent_b64,
                "name": span.name,
                "start_time_unix_nano": span.start_ns,
                "end_time_unix_nano": span.end_ns or end_default,
                "events": [],
                "status": {"code": _STATUS_CODE.get(span.status, "STATUS_CODE_UNSET"), "message": ""},
                "attributes": dumped,
                "links": [],
            }
        )
        if standard:
            standard_of[span_b64] = standard
        for child in span.children:
            add(child, span_b64, {})

    root_extra = _root_attributes(trace, scrubber)
    add(trace.root, None, root_extra)
    start_ms = min(span["start_time_unix_nano"] for span in spans) // 1_000_000
    end_ms = max(span["end_time_unix_nano"] for span in spans) // 1_000_000
    root_attributes = spans[0]["attributes"]
    tree = [(span["span_id"], span["parent_span_id"], standard_of.get(span["span_id"], {})) for span in spans]
    usage = _outermost_sum([(i, p, s.get(CHAT_USAGE)) for i, p, s in tree], [INPUT_TOKENS, OUTPUT_TOKENS, TOTAL_TOKENS])
    cost = _outermost_sum([(i, p, s.get(LLM_COST)) for i, p, s in tree], [INPUT_COST, OUTPUT_COST, TOTAL_COST])
    session = root_extra.get(SESSION_ID)
    return TraceRows(
        trace_id=trace_id,
        spans=spans,
        timestamp_ms=start_ms,
        execution_time_ms=(end_ms - start_ms) if end_ms else None,
        status="ERROR" if trace.root.status == "ERROR" else "OK",
        request_preview=_preview(root_extra[INPUTS]["messages"][0]["content"], root_attributes[INPUTS]),
        response_preview=_preview(root_extra[OUTPUTS]["messages"][0]["content"], root_attributes[OUTPUTS]),
        trace_name=trace.root.name[:TAG_VALUE_MAX_CHARS],
        session_id=session[:SESSION_MAX_CHARS] if session else None,
        user=root_extra.get(USER_ATTRIBUTE),
        tags={REQUEST_ID_TAG: trace.request_id[:TAG_VALUE_MAX_CHARS]},
        usage=usage or None,
        cost=cost or None,
        standard=standard_of,
    )
