"""`synapse-bot stats`: what Synapse did over the last day, read back from the MLflow traces.

Per request: kind, status, latency, tokens and cost (root span). Per tool: calls, errors, latency percentiles and
the tokens and cost of the model calls made inside it.
"""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from synapse_bot.tracking.store_init import opening_store


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass
class ToolStats:
    calls: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    tokens: int = 0
    cost: float = 0.0


@dataclass
class Stats:
    requests: int = 0
    errors: int = 0
    fast_path: int = 0
    latencies: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    kinds: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tools: dict[str, ToolStats] = field(default_factory=lambda: defaultdict(ToolStats))


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
        stats.requests += 1
        stats.kinds[str(attrs.get("kind", "?"))] += 1
        stats.errors += 1 if attrs.get("status") == "error" or attrs.get("tool_error") else 0
        stats.fast_path += 1 if attrs.get("path") == "fast" else 0
        stats.latencies.append(float(attrs.get("latency_ms") or _ms(root)))
        stats.prompt_tokens += int(attrs.get("prompt_tokens") or 0)
        stats.completion_tokens += int(attrs.get("completion_tokens") or 0)
        stats.cost += float(attrs.get("cost_usd") or 0.0)
        by_id = {s.span_id: s for s in spans}
        for span in spans:
            if span.name.startswith("tool."):
                tool = stats.tools[span.name.removeprefix("tool.")]
                tool.calls += 1
                tool.errors += 1 if str(span.status.status_code).endswith("ERROR") else 0
                tool.latencies.append(_ms(span))
            elif span.name.startswith("llm."):
                owner, parent = "dispatch", by_id.get(span.parent_id)
                while parent is not None:
                    if parent.name.startswith("tool."):
                        owner = parent.name.removeprefix("tool.")
                        break
                    parent = by_id.get(parent.parent_id)
                tool = stats.tools[owner]
                tool.tokens += int(span.attributes.get("prompt_tokens") or 0) + int(
                    span.attributes.get("completion_tokens") or 0
                )
                tool.cost += float(span.attributes.get("cost_usd") or 0.0)
    return stats


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
        lines.append(
            f"{name:<22}{tool.calls:>6}{tool.errors:>8}{percentile(tool.latencies, 0.5):>9.0f}"
            f"{percentile(tool.latencies, 0.95):>9.0f}{tool.tokens:>10,}{tool.cost:>10.4f}"
        )
    return "\n".join(lines)
