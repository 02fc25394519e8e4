"""Aggregates of finished requests, logged as MLflow metrics at a steady interval.

Fed from the recorder thread with the same RequestTrace objects it writes, so it costs requests nothing. Each
interval produces one step of metrics (counts are per interval, latencies are that interval's percentiles). The
adding up is `aggregate.Stats`, the same as `synapse-bot stats` reading traces back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from synapse_bot.tracking.aggregate import DISPATCH, SpanFigures, Stats, percentile
from synapse_bot.tracking.trace import RequestTrace, SpanRecord


def _clean(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)[:120]


def _figures(span: SpanRecord, owner: str) -> Iterator[SpanFigures]:
    for child in span.children:
        child_owner = child.name.removeprefix("tool.") if child.name.startswith("tool.") else owner
        yield SpanFigures(child.name, child.duration_ms, child.status == "ERROR", child.attributes, owner)
        yield from _figures(child, child_owner)


@dataclass
class MetricsWindow:
    stats: Stats = field(default_factory=Stats)

    @property
    def requests(self) -> int:
        return self.stats.requests

    def add(self, trace: RequestTrace) -> None:
        root = trace.root
        self.stats.add(root.attributes, root.duration_ms, root.status == "ERROR", _figures(root, DISPATCH))

    def metrics(self) -> dict[str, float]:
        stats = self.stats
        out: dict[str, float] = {"requests": stats.requests, "errors": stats.errors}
        if stats.requests:
            out["fast_path_share"] = stats.fast_path / stats.requests
            out["latency_p50_ms"] = percentile(stats.latencies, 0.5)
            out["latency_p95_ms"] = percentile(stats.latencies, 0.95)
        if stats.cache_lookups:
            out["cache_hit_rate"] = stats.cache_hits / stats.cache_lookups
        for name, tool in stats.tools.items():
            if tool.calls:
                out[_clean(f"tool.{name}.calls")] = tool.calls
                out[_clean(f"tool.{name}.errors")] = tool.errors
                out[_clean(f"tool.{name}.p50_ms")] = percentile(tool.latencies, 0.5)
                out[_clean(f"tool.{name}.p95_ms")] = percentile(tool.latencies, 0.95)
            if tool.tokens or tool.cost:
                out[_clean(f"tool.{name}.tokens")] = tool.tokens
                out[_clean(f"tool.{name}.cost_usd")] = tool.cost
        for model, usage in stats.models.items():
            out[_clean(f"model.{model}.tokens")] = usage.tokens
            out[_clean(f"model.{model}.cost_usd")] = usage.cost
        return out
