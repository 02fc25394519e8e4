"""One aggregation of finished requests, whatever they are read from.

`synapse-bot stats` reads traces back from MLflow; the recorder's metrics window sees the live `RequestTrace`s it
writes. Both turn a request into the same figures — its root attributes, and each span's name, duration, outcome,
attributes and the tool it ran inside — and add them up here, so the numbers mean the same in both places.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DISPATCH = "dispatch"  # the owner of model calls made outside any tool (the model loop itself)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass(frozen=True)
class SpanFigures:
    name: str
    duration_ms: float
    failed: bool
    attributes: Mapping[str, Any]
    owner: str = DISPATCH  # the tool this span ran inside


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
    cache_lookups: int = 0
    cache_hits: int = 0
    kinds: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tools: dict[str, ToolStats] = field(default_factory=lambda: defaultdict(ToolStats))
    models: dict[str, ToolStats] = field(default_factory=lambda: defaultdict(ToolStats))  # tokens and cost only

    def add(self, root: Mapping[str, Any], latency_ms: float, failed: bool, spans: Iterable[SpanFigures]) -> None:
        """One finished request: its root span's attributes and outcome, and its other spans."""
        self.requests += 1
        self.kinds[str(root.get("kind", "?"))] += 1
        self.errors += 1 if failed or root.get("tool_error") else 0
        self.fast_path += 1 if root.get("path") == "fast" else 0
        self.latencies.append(latency_ms)
        self.prompt_tokens += int(root.get("prompt_tokens") or 0)
        self.completion_tokens += int(root.get("completion_tokens") or 0)
        self.cost += float(root.get("cost_usd") or 0.0)
        for span in spans:
            if span.name.startswith("tool."):
                tool = self.tools[span.name.removeprefix("tool.")]
                tool.calls += 1
                tool.errors += 1 if span.failed else 0
                tool.latencies.append(span.duration_ms)
                hit = span.attributes.get("result.cache_hit")
                if isinstance(hit, bool):
                    self.cache_lookups += 1
                    self.cache_hits += 1 if hit else 0
            elif span.name.startswith("llm."):
                tokens = int(span.attributes.get("prompt_tokens") or 0) + int(
                    span.attributes.get("completion_tokens") or 0
                )
                cost = float(span.attributes.get("cost_usd") or 0.0)
                for bucket in (self.tools[span.owner], self.models[str(span.attributes.get("model") or "unknown")]):
                    bucket.tokens += tokens
                    bucket.cost += cost
