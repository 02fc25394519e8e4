"""What Synapse did, per hour, kept in Redis as it happens: the admins' figures on the Home tab.

Each finished request adds to one hash per UTC hour (requests, errors, fast-path share, tokens, cost, a latency
histogram, calls and errors per tool) in one pipelined round trip. Reading the last 24 hours is 24 HGETALLs, so
opening the Home tab never reads traces back from MLflow. Every process writes to the same hashes, so the figures
cover the whole deployment; MLflow stays the place for the detail of each request.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

import redis

from synapse_bot.store.keys import Keys

log = logging.getLogger(__name__)

LATENCY_BOUNDS_MS = (100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000)
KEEP_HOURS = 48


@dataclass(frozen=True)
class RequestFacts:
    """The figures of one finished request."""

    ok: bool
    fast_path: bool
    latency_ms: float
    tokens: int
    cost_usd: float
    tools: dict[str, bool]  # tool name -> ran without error


@dataclass
class ToolTotals:
    calls: int = 0
    errors: int = 0


@dataclass
class Activity:
    requests: int = 0
    errors: int = 0
    fast_path: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    latency_buckets: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    tools: dict[str, ToolTotals] = field(default_factory=lambda: defaultdict(ToolTotals))

    def latency_percentile(self, q: float) -> str:
        """'≤ N ms' for the histogram bucket holding the q-th request ('> 120 s' past the last bound)."""
        wanted, seen = q * self.requests, 0
        for bound in (*LATENCY_BOUNDS_MS, 0):
            seen += self.latency_buckets.get(bound, 0)
            if seen >= wanted:
                return f"≤ {bound:,} ms" if bound else f"> {LATENCY_BOUNDS_MS[-1] // 1000} s"
        return "-"

    def render(self, hours: int) -> str:
        if not self.requests:
            return f"No requests in the last {hours} h."
        lines = [
            f"last {hours} h: requests {self.requests} · errors {self.errors} · "
            f"fast path {100 * self.fast_path / self.requests:.0f}% · p50 {self.latency_percentile(0.5)} · "
            f"p95 {self.latency_percentile(0.95)} · tokens {self.tokens:,} · cost ${self.cost_usd:.4f}",
            "",
            f"{'tool':<22}{'calls':>7}{'errors':>8}",
        ]
        for name, totals in sorted(self.tools.items(), key=lambda kv: -kv[1].calls):
            lines.append(f"{name:<22}{totals.calls:>7}{totals.errors:>8}")
        return "\n".join(lines)


def _bucket(latency_ms: float) -> int:
    return next((b for b in LATENCY_BOUNDS_MS if latency_ms <= b), 0)


class ActivityLog:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def _key(self, hour: int) -> str:
        return self._keys.key("all", "activity", str(hour))

    def record(self, facts: RequestFacts, now: float | None = None) -> None:
        """Add one request to this hour's figures (fails soft: figures are not worth an error)."""
        key = self._key(int((now or time.time()) // 3600))
        try:
            pipe = self._r.pipeline(transaction=False)
            pipe.hincrby(key, "requests", 1)
            pipe.hincrby(key, "errors", 0 if facts.ok else 1)
            pipe.hincrby(key, "fast_path", 1 if facts.fast_path else 0)
            pipe.hincrby(key, "tokens", facts.tokens)
            pipe.hincrbyfloat(key, "cost_usd", facts.cost_usd)
            pipe.hincrby(key, f"latency:{_bucket(facts.latency_ms)}", 1)
            for tool, ok in facts.tools.items():
                pipe.hincrby(key, f"tool:{tool}:calls", 1)
                pipe.hincrby(key, f"tool:{tool}:errors", 0 if ok else 1)
            pipe.expire(key, KEEP_HOURS * 3600)
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            log.info("activity not recorded: redis unavailable", extra={"error": type(exc).__name__})

    def last(self, hours: int = 24, now: float | None = None) -> Activity:
        current = int((now or time.time()) // 3600)
        pipe = self._r.pipeline(transaction=False)
        for hour in range(current - hours + 1, current + 1):
            pipe.hgetall(self._key(hour))
        total = Activity()
        for raw in pipe.execute():
            for name, value in dict(raw).items():
                _add(total, str(name), str(value))
        return total


def _add(total: Activity, name: str, value: str) -> None:
    if name == "cost_usd":
        total.cost_usd += float(value)
        return
    number = int(value)
    if name.startswith("latency:"):
        total.latency_buckets[int(name.split(":", 1)[1])] += number
    elif name.startswith("tool:"):
        _, tool, what = name.split(":", 2)  # tool:<name>:calls|errors (tool names hold no colon)
        totals = total.tools[tool]
        if what == "calls":
            totals.calls += number
        else:
            totals.errors += number
    elif name in ("requests", "errors", "fast_path", "tokens"):
        setattr(total, name, getattr(total, name) + number)
