"""Keyword matching: messages per second with 10 and with 10,000 keywords over 100 channels.

Compares Synapse's matcher (one trie walk per message, per channel) with the naive way (one compiled
word-boundary regex per keyword, each run over every message). Prints figures and writes JSON.

    python bench/keyword_matching.py [--quick] [--out bench/results/keyword_matching.json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

from synapse_bot.monitors.matcher import KeywordMatcher

WORDS = (
    "deploy",
    "error",
    "timeout",
    "database",
    "cache",
    "latency",
    "rollback",
    "incident",
    "pager",
    "disk",
    "memory",
    "cpu",
    "network",
    "auth",
    "login",
    "token",
    "build",
    "test",
    "release",
    "merge",
    "branch",
    "queue",
    "worker",
    "retry",
    "alert",
    "outage",
    "spike",
    "slow",
    "fast",
    "green",
    "red",
)


def make_keywords(n: int, rng: random.Random) -> list[str]:
    keywords = {f"kw{i}x{rng.randrange(10**6)}" for i in range(n - 5)} | {
        "error",
        "outage",
        "disk full",
        "timeout",
        "rollback",
    }
    return sorted(keywords)[:n]


def make_messages(n: int, rng: random.Random) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randrange(8, 40))) for _ in range(n)]


def rate(fn: Callable[[int, str], object], messages: list[str], channels: int, min_seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while True:
        for i, message in enumerate(messages):
            fn(i % channels, message)
        done += len(messages)
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return done / elapsed


def run(
    keyword_count: int, channels: int, messages: list[str], min_seconds: float, rng: random.Random
) -> dict[str, float]:
    per_channel = [make_keywords(keyword_count, rng) for _ in range(channels)]
    matchers = [KeywordMatcher(k) for k in per_channel]
    synapse = rate(lambda ch, text: matchers[ch].find(text), messages, channels, min_seconds)
    regexes = [[re.compile(rf"\b{re.escape(k)}\b", re.IGNORECASE) for k in keywords] for keywords in per_channel]
    sample = messages if keyword_count <= 100 else messages[: max(20, len(messages) // 50)]
    naive = rate(lambda ch, text: [r for r in regexes[ch] if r.search(text)], sample, channels, min_seconds)
    return {
        "keywords": keyword_count,
        "synapse_msgs_per_s": round(synapse),
        "regex_per_keyword_msgs_per_s": round(naive),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (for CI)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/keyword_matching.json"))
    args = parser.parse_args()
    rng = random.Random(7)
    messages = make_messages(2_000, rng)
    seconds = 0.5 if args.quick else 3.0
    results = [run(n, 100, messages, seconds, rng) for n in (10, 10_000)]
    small, large = results
    ratio = large["synapse_msgs_per_s"] / small["synapse_msgs_per_s"]
    print("keyword matching over 100 channels (messages/second, higher is better)")
    print(f"{'keywords':>9} {'synapse':>12} {'regex/keyword':>14}")
    for r in results:
        print(f"{r['keywords']:>9} {r['synapse_msgs_per_s']:>12,} {r['regex_per_keyword_msgs_per_s']:>14,}")
    print(f"synapse 10,000-keyword rate / 10-keyword rate = {ratio:.2f} (target ≥ 0.67)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"results": results, "ratio_10k_to_10": round(ratio, 3)}, indent=2))


if __name__ == "__main__":
    main()
