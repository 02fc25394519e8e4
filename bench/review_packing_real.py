"""Review packing on real pull requests: git history of public repositories, packed as the review tool packs them.

Pull requests are taken from local git mirrors given on the command line (nothing from those repositories is kept
in ours): recent merged pull requests (a "Merge pull request #N" merge, or a squash commit ending in "(#N)",
diffed against its first parent) that touch non-test source, and release ranges (`--range name=base..head`, where
`name` is the mirror's folder name). Per pull request and budget:

- today's packer (`pack_for_call`, as the tool calls it): tokens of the whole call (prompt + response schema +
  answer), files shown (and cut short), the share of changed source lines that reached the prompt, whether every
  line number is right (each numbered line compared with that line of the file at the head commit, `git show`),
  and the packing time;
- the packer before issue #18 (`bench.legacy_packing`, a copy kept only here): the same figures, no numbers;
- the naive whole diff: its tokens.

"Changed source lines" are the added and deleted lines of the non-test files in the main language(s) that are
neither deleted outright nor skipped as lockfile, vendored, generated or binary, under the current rules.

    python -m bench.review_packing_real MIRROR [MIRROR …] [--range NAME=BASE..HEAD …] [--budget N …]
        [--model gpt-4o-mini] [--prs 4] [--out bench/results/review_packing_real.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import legacy_packing
from bench.git_pulls import check_line_numbers, git, new_file, pull_files
from bench.harness import write_json
from synapse_bot.config import Settings
from synapse_bot.github_data import FileData
from synapse_bot.llm.tokens import TokenCounter
from synapse_bot.review.classify import is_main_source, main_languages, skip_reason
from synapse_bot.review.model import review_response_format
from synapse_bot.review.numbering import parse_hunks
from synapse_bot.review.packing import OVER_BUDGET, source_coverage
from synapse_bot.tools.review_pull_request import call_tokens, pack_for_call, review_messages

PULL_SUBJECT = re.compile(r"^Merge pull request #(\d+)|\(#(\d+)\)$")
SMALL_FILES = 10  # a "small" pull request changes at most this many files
SCAN = 400  # first-parent commits looked at per mirror


@dataclass(frozen=True)
class Case:
    repo: Path
    name: str  # "requests#123" or "requests v2.28.0..v2.32.0"
    kind: str  # small, medium or release
    base: str
    head: str


def mirror_name(repo: Path) -> str:
    folder = repo.name if repo.name != "repo" else repo.parent.name
    return folder.split("+")[-1]


def recent_pulls(repo: Path, per_kind: int) -> list[Case]:
    """The newest merged pull requests that change non-test source: `per_kind` small and `per_kind` medium ones."""
    picked: dict[str, list[Case]] = {"small": [], "medium": []}
    log = git(repo, "log", "--first-parent", f"-{SCAN}", "--format=%H %P%x00%s", "HEAD")
    for entry in log.split("\n"):
        ids, _, subject = entry.partition("\0")
        match = PULL_SUBJECT.search(subject)
        commits = ids.split()
        if not match or len(commits) < 2:
            continue
        head, base = commits[0], commits[1]
        names = git(repo, "diff", "--name-only", base, head).split("\n")
        names = [n for n in names if n]
        if not any(n.endswith(".py") and is_main_source(n, {"Python"}) for n in names):
            continue
        kind = "small" if len(names) <= SMALL_FILES else "medium"
        if len(picked[kind]) < per_kind:
            number = match.group(1) or match.group(2)
            picked[kind].append(Case(repo, f"{mirror_name(repo)}#{number}", kind, base, head))
        if all(len(v) >= per_kind for v in picked.values()):
            break
    return picked["small"] + picked["medium"]


def changed_source_lines(files: list[FileData], language: str) -> int:
    main = main_languages(files, language)
    return sum(
        sum(h.changed_lines for h in parse_hunks(f.patch or ""))
        for f in files
        if f.status != "removed" and skip_reason(f) is None and is_main_source(f.filename, main)
    )


def _timed(fn: Any, repeats: int) -> tuple[Any, float]:
    result, timings = None, []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        timings.append(time.perf_counter() - started)
    return result, statistics.median(timings) * 1000


def measure(case: Case, budget: int, counter: TokenCounter, language: str, repeats: int) -> dict[str, Any]:
    files = pull_files(case.repo, case.base, case.head)
    header = f"Pull request {case.name}\nDescription: \n"
    response_format = review_response_format()

    packed, new_ms = _timed(lambda: pack_for_call(files, header, language, counter, budget), repeats)
    new_call = call_tokens(counter, review_messages(header, packed), response_format)
    lines_of = functools.cache(lambda path: new_file(case.repo, case.head, path))
    checked, wrong = check_line_numbers(packed.text, packed.included, lines_of)

    old_room = legacy_packing.old_budget(budget, header, counter.count)
    old, old_ms = _timed(lambda: legacy_packing.pack_diff(files, old_room, counter.count, language), repeats)
    old_messages = [
        {"role": "system", "content": legacy_packing.SYSTEM},
        {"role": "user", "content": header + "<diff>\n" + old.text + "</diff>"},
    ]
    old_call = counter.count_messages(old_messages) + counter.count(json.dumps(response_format))
    old_call += legacy_packing.REVIEW_OUTPUT_TOKENS

    naive = git(case.repo, "diff", "-M", "--no-color", case.base, case.head)
    return {
        "pull": case.name,
        "kind": case.kind,
        "budget": budget,
        "files": len(files),
        "source_lines": changed_source_lines(files, language),
        "naive_tokens": counter.count(naive),
        "old_call_tokens": old_call,
        "old_files_in": len(old.included),
        "old_coverage": round(source_coverage(files, legacy_packing.shown_changed(files, old), language), 4),
        "old_ms": round(old_ms, 1),
        "new_call_tokens": new_call,
        "new_unused_share": round((budget - new_call) / budget, 4),
        "new_files_in": len(packed.included),
        "new_cut": len(packed.cut),
        "new_budget_bound": bool(packed.cut) or any(why == OVER_BUDGET for _, why in packed.left_out),
        "new_coverage": round(source_coverage(files, packed.shown_changed, language), 4),
        "numbers_checked": checked,
        "numbers_wrong": wrong,
        "new_ms": round(new_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mirrors", nargs="+", type=Path, help="git directories of the mirrors")
    parser.add_argument("--range", action="append", default=[], help="NAME=BASE..HEAD, a release range")
    parser.add_argument(
        "--budget", action="append", type=int, help="call budget(s); default SYNAPSE_REVIEW_CALL_TOKENS"
    )
    parser.add_argument(
        "--model", default=None, help="model whose token counter is used (default: OPENAI_MODEL's default)"
    )
    parser.add_argument("--language", default="Python", help="the repositories' main language")
    parser.add_argument("--prs", type=int, default=4, help="small and medium pull requests per mirror")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/review_packing_real.json"))
    args = parser.parse_args()
    defaults = Settings(_env_file=None)
    budgets = args.budget or [defaults.review_call_tokens]
    model = args.model or defaults.openai_model
    counter = TokenCounter(model)
    by_name = {mirror_name(m): m for m in args.mirrors}
    cases = [case for mirror in args.mirrors for case in recent_pulls(mirror, args.prs)]
    for spec in args.range:
        name, _, span = spec.partition("=")
        base, _, head = span.partition("..")
        cases.append(Case(by_name[name], f"{name} {base}..{head}", "release", base, head))
    print(f"review packing on real pull requests; counter {model} ({'exact' if counter.exact else 'estimate'})")
    print(
        f"{'pull request':<30} {'kind':<8} {'budget':>7} {'files':>5} {'src ln':>6} {'naive tok':>9} │ "
        f"{'old tok':>7} {'in':>4} {'cov':>6} {'ms':>6} │ {'new tok':>7} {'in':>4} {'cut':>3} {'cov':>6} "
        f"{'numbers':>13} {'ms':>6}"
    )
    results = []
    for budget in budgets:
        for case in cases:
            r = measure(case, budget, counter, args.language, args.repeats)
            results.append(r)
            numbers = f"{r['numbers_checked'] - r['numbers_wrong']}/{r['numbers_checked']}"
            print(
                f"{r['pull']:<30} {r['kind']:<8} {budget:>7,} {r['files']:>5} {r['source_lines']:>6} "
                f"{r['naive_tokens']:>9,} │ {r['old_call_tokens']:>7,} {r['old_files_in']:>4} "
                f"{r['old_coverage']:>6.1%} {r['old_ms']:>6} │ {r['new_call_tokens']:>7,} {r['new_files_in']:>4} "
                f"{r['new_cut']:>3} {r['new_coverage']:>6.1%} {numbers:>13} {r['new_ms']:>6}"
            )
    print()
    for budget in budgets:
        for kind in ("small", "medium", "release"):
            rows = [r for r in results if r["kind"] == kind and r["budget"] == budget]
            if not rows:
                continue
            print(
                f"{kind:<8} at {budget:,}: {len(rows)} pulls; changed source lines in the prompt: "
                f"old mean {statistics.mean(r['old_coverage'] for r in rows):.1%} "
                f"(min {min(r['old_coverage'] for r in rows):.1%}), "
                f"new mean {statistics.mean(r['new_coverage'] for r in rows):.1%} "
                f"(min {min(r['new_coverage'] for r in rows):.1%}); calls over budget: "
                f"old {sum(r['old_call_tokens'] > budget for r in rows)}, "
                f"new {sum(r['new_call_tokens'] > budget for r in rows)}"
            )
    full = [r["new_unused_share"] for r in results if r["new_budget_bound"]]
    if full:
        print(f"unused share of the call budget when the budget is what limits the diff: max {max(full):.2%}")
    checked = sum(r["numbers_checked"] for r in results)
    wrong = sum(r["numbers_wrong"] for r in results)
    print(f"line numbers checked against the head commit: {checked:,}, wrong: {wrong}")
    write_json(args.out, {"model": model, "exact": counter.exact, "results": results})


if __name__ == "__main__":
    main()
