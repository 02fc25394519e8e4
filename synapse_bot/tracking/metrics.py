"""Aggregates of finished requests, logged as MLflow metrics at a steady interval.

Fed from the recorder thread with the same RequestTrace objects it writes, so it costs requests nothing. Each
interval produces one step of metrics (counts are per interval, latencies are that interval's percentiles).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from synapse_bot.tracking.stats import percentile
from synapse_bot.tracking.trace import RequestTrace, SpanRecord


def _clean(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)[:120]


@dataclass
class MetricsWindow:
    requests: int = 0
    errors: int = 0
    fast_path: int = 0
    latencies: list[float] = field(default_factory=list)
    tool_calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tool_errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tool_latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    cache_lookups: int = 0
    cache_hits: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # per tool and per model
    cost: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, trace: RequestTrace) -> None:
        root = trace.root
        self.requests += 1
        self.errors += 1 if root.status == "ERROR" or root.attributes.get("tool_error") else 0
        self.fast_path += 1 if root.attributes.get("path") == "fast" else 0
        self.latencies.append(root.duration_ms)
        self._walk(root, owner="dispatch")

    def _walk(self, span: SpanRecord, owner: str) -> None:
        for child in span.children:
            child_owner = owner
            if child.name.startswith("tool."):
                child_owner = child.name.removeprefix("tool.")
                self.tool_calls[child_owner] += 1
                self.tool_errors[child_owner] += 1 if child.status == "ERROR" else 0
                self.tool_latencies[child_owner].append(child.duration_ms)
                hit = child.attributes.get("result.cache_hit")
                if isinstance(hit, bool):
                    self.cache_lookups += 1
                    self.cache_hits += 1 if hit else 0
            elif child.name.startswith("llm."):
                tokens = int(child.attributes.get("prompt_tokens") or 0) + int(
                    child.attributes.get("completion_tokens") or 0
                )
                cost = float(child.attributes.get("cost_usd") or 0.0)
                model = str(child.attributes.get("model") or "unknown")
                for key in (f"tool.{owner}", f"model.{model}"):
                    self.tokens[key] += tokens
                    self.cost[key] += cost
            self._walk(child, child_owner)

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {"requests": self.requests, "errors": self.errors}
        if self.requests:
            out["fast_path_share"] = self.fast_path / self.requests
            out["latency_p50_ms"] = percentile(self.latencies, 0.5)
            out["latency_p95_ms"] = percentile(self.latencies, 0.95)
        if self.cache_lookups:
            out["cache_hit_rate"] = self.cache_hits / self.cache_lookups
        for tool, calls in self.tool_calls.items():
            out[_clean(f"tool.{tool}.calls")] = calls
            out[_clean(f"tool.{tool}.errors")] = self.tool_errors[tool]
            out[_clean(f"tool.{tool}.p50_ms")] = percentile(self.tool_latencies[tool], 0.5)
            out[_clean(f"tool.{tool}.p95_ms")] = percentile(self.tool_latencies[tool], 0.95)
        for key, tokens in self.tokens.items():
            out[_clean(f"{key}.tokens")] = tokens
            out[_clean(f"{key}.cost_usd")] = self.cost[key]
        return out
