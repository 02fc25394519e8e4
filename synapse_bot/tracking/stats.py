"""`synapse-bot stats`: what Synapse did over the last day, read back from the MLflow traces.

Per request: kind, status, latency, tokens and cost (root span). Per tool: calls, errors, latency percentiles and
the tokens and cost of the model calls made inside it.
"""

from __future__ import annotations

import os
import time
from typing import Any

from synapse_bot.tracking.aggregate import DISPATCH, SpanFigures, Stats, percentile
from synapse_bot.tracking.store_init import opening_store

__all__ = ["Stats", "collect", "percentile", "render"]


def _ms(span: Any) -> float:
    return max(0.0, (span.end_time_ns - span.start_time_ns) / 1e6)


def collect(tracking_uri: str, experiment_name: str, hours: float = 24.0, max_traces: int = 20_000) -> Stats:
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    stats = Stats()
    with opening_store(tracking_uri):
        experiment = mlflow.get_experiment_by_name(experiment_name)
    if experiment is None:
        return stats
    since_ms = (time.time() - hours * 3600) * 1000
    traces = mlflow.search_traces(
        locations=[experiment.experiment_id], return_type="list", max_results=max_traces, order_by=["timestamp_ms DESC"]
    )
    for trace in traces:
        if trace.info.request_time < since_ms or not trace.data.spans:
            continue
        spans = trace.data.spans
        root = next((s for s in spans if s.parent_id is None), spans[0])
        attrs = root.attributes
        by_id = {s.span_id: s for s in spans}
        stats.add(
            attrs,
            float(attrs.get("latency_ms") or _ms(root)),
            attrs.get("status") == "error",
            (
                SpanFigures(s.name, _ms(s), str(s.status.status_code).endswith("ERROR"), s.attributes, _owner(s, by_id))
                for s in spans
                if s is not root
            ),
        )
    return stats


def _owner(span: Any, by_id: dict[str, Any]) -> str:
    """The tool an MLflow span ran inside: its nearest `tool.*` ancestor."""
    parent = by_id.get(span.parent_id)
    while parent is not None:
        if parent.name.startswith("tool."):
            return str(parent.name.removeprefix("tool."))
        parent = by_id.get(parent.parent_id)
    return DISPATCH


def render(stats: Stats, hours: float, where: str) -> str:
    lines = [f"Synapse — the last {hours:g} h, from {where}"]
    if not stats.requests:
        return "\n".join([*lines, "No requests recorded."])
    share = 100 * stats.fast_path / stats.requests
    lines.append(
        f"requests {stats.requests} · errors {stats.errors} · p50 {percentile(stats.latencies, 0.5):.0f} ms · "
        f"p95 {percentile(stats.latencies, 0.95):.0f} ms · tokens {stats.prompt_tokens + stats.completion_tokens:,} "
        f"(prompt {stats.prompt_tokens:,} / completion {stats.completion_tokens:,}) · cost ${stats.cost:.4f} · "
        f"fast path {share:.0f}%"
    )
    lines.append("by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(stats.kinds.items())))
    lines += ["", f"{'tool':<22}{'calls':>6}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'tokens':>10}{'cost $':>10}"]
    for name, tool in sorted(stats.tools.items(), key=lambda kv: -kv[1].calls):
        if not tool.calls and not tool.tokens:
            continue
        lines.append(
            f"{name:<22}{tool.calls:>6}{tool.errors:>8}{percentile(tool.latencies, 0.5):>9.0f}"
            f"{percentile(tool.latencies, 0.95):>9.0f}{tool.tokens:>10,}{tool.cost:>10.4f}"
        )
    return "\n".join(lines)
