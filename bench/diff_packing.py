"""Diff packing: time and tokens for synthetic pull requests of 10, 100 and 1,000 files, against the naive way
(every file's patch concatenated into one prompt). The whole review call — prompt, response schema and the longest
answer — must stay within SYNAPSE_REVIEW_CALL_TOKENS (default 24,000), packed as the tool packs it. For real pull
requests see `bench.review_packing_real`.

    python -m bench.diff_packing [--quick] [--out bench/results/diff_packing.json]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path
from typing import Any

from bench.harness import write_json
from synapse_bot.config import Settings
from synapse_bot.github_data import FileData
from synapse_bot.llm.tokens import TokenCounter
from synapse_bot.review.model import review_response_format
from synapse_bot.review.packing import PackedDiff
from synapse_bot.tools.review_pull_request import call_tokens, pack_for_call, review_messages

WORDS = ["value", "result", "config", "user", "request", "cache", "timeout", "retry", "items", "index", "error"]


def hunk(rng: random.Random, lines: int, deletions_only: bool = False) -> str:
    body = []
    for i in range(lines):
        code = f"    {rng.choice(WORDS)}_{i} = compute({rng.choice(WORDS)}, {rng.randrange(1000)})"
        body.append(("-" if deletions_only or rng.random() < 0.3 else "+") + code)
    return f"@@ -{rng.randrange(1, 500)},{lines} +{rng.randrange(1, 500)},{lines} @@ def handler():\n" + "\n".join(body)


def make_pull(files: int, rng: random.Random) -> list[FileData]:
    """A realistic mix: mostly Python sources and tests, some TypeScript, and the noise a real PR carries."""
    changes: list[FileData] = []
    for i in range(files):
        roll = rng.random()
        if i == 0:
            changes.append(FileData("poetry.lock", "modified", 900, 850, hunk(rng, 200)))
        elif i == 1:
            changes.append(FileData("static/app.min.js", "modified", 1, 1, hunk(rng, 2)))
        elif i == 2:
            changes.append(FileData("assets/logo.png", "added", 0, 0, None))
        elif roll < 0.05:
            changes.append(FileData(f"vendor/lib{i}/mod.py", "modified", 40, 10, hunk(rng, 50)))
        elif roll < 0.10:
            changes.append(FileData(f"src/old/mod_{i}.py", "removed", 0, 120, hunk(rng, 120, deletions_only=True)))
        elif roll < 0.15:
            changes.append(FileData(f"src/pkg/cleanup_{i}.py", "modified", 0, 30, hunk(rng, 30, deletions_only=True)))
        elif roll < 0.30:
            changes.append(FileData(f"web/src/view_{i}.ts", "modified", 30, 10, hunk(rng, rng.randrange(10, 60))))
        elif roll < 0.50:
            changes.append(FileData(f"tests/test_mod_{i}.py", "modified", 25, 5, hunk(rng, rng.randrange(10, 50))))
        else:
            size = rng.choice([8, 20, 40, 80, 160])
            changes.append(FileData(f"src/pkg/mod_{i}.py", "modified", size, size // 3, hunk(rng, size)))
    return changes


def measure(files: int, rng: random.Random, repeats: int) -> dict[str, Any]:
    pull = make_pull(files, rng)
    counter = TokenCounter("gpt-4o-mini")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    call_budget = settings.review_call_tokens
    header = "Pull request acme/widgets#1: a change\nDescription: \n"
    timings = []
    packed = pack_for_call(pull, header, "Python", counter, call_budget)
    for _ in range(repeats):
        started = time.perf_counter()
        packed = pack_for_call(pull, header, "Python", counter, call_budget)
        timings.append(time.perf_counter() - started)
    call = call_tokens(counter, review_messages(header, packed), review_response_format())
    naive_text = "\n".join(f"--- {f.filename}\n{f.patch or ''}" for f in pull)
    fixed = call_tokens(counter, review_messages(header, PackedDiff(text="")), review_response_format())
    naive = fixed + counter.count(naive_text)
    return {
        "files": files,
        "pack_ms_median": round(statistics.median(timings) * 1000, 2),
        "included": len(packed.included),
        "cut": len(packed.cut),
        "deleted_as_names": len(packed.deleted),
        "left_out": len(packed.left_out),
        "call_tokens": call,
        "budget_tokens": call_budget,
        "within_budget": call <= call_budget,
        "naive_call_tokens": naive,
        "naive_times_over_budget": round(naive / call_budget, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 and 100 files only, fewer repeats")
    parser.add_argument("--out", type=Path, default=Path("bench/results/diff_packing.json"))
    args = parser.parse_args()
    rng = random.Random(11)
    sizes = (10, 100) if args.quick else (10, 100, 1_000)
    results = [measure(n, rng, 3 if args.quick else 7) for n in sizes]
    print("diff packing for a review call (prompt + schema + answer, counted with tiktoken as the tool does)")
    print(
        f"{'files':>6} {'pack ms':>8} {'sent':>5} {'cut':>4} {'names':>6} {'left out':>9} {'call tok':>9} "
        f"{'budget':>7} {'fits':>5} {'naive tok':>10} {'naive/budget':>13}"
    )
    for r in results:
        print(
            f"{r['files']:>6} {r['pack_ms_median']:>8} {r['included']:>5} {r['cut']:>4} {r['deleted_as_names']:>6} "
            f"{r['left_out']:>9} {r['call_tokens']:>9,} {r['budget_tokens']:>7,} "
            f"{'yes' if r['within_budget'] else 'NO':>5} {r['naive_call_tokens']:>10,} "
            f"{r['naive_times_over_budget']:>12}×"
        )
    print(f"largest call ≤ budget: {'yes' if all(r['within_budget'] for r in results) else 'NO'}")
    write_json(args.out, {"results": results})


if __name__ == "__main__":
    main()
