"""A deterministic review for when no model is configured: facts and simple red flags, clearly labelled."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from synapse_bot.github_data import FileData
from synapse_bot.review.model import KeyIssue, PullReview
from synapse_bot.review.packing import PackedDiff, added_lines

_FLAGS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(TODO|FIXME|XXX)\b"), "adds a TODO/FIXME"),
    (re.compile(r"\b(print\(|console\.log\(|debugger;|pdb\.set_trace\(|breakpoint\(\))"), "leaves debug output"),
    (re.compile(r"(?i)(api[_-]?key|secret|password|token)\s*[:=]\s*['\"][^'\"]{8,}"), "may hard-code a secret"),
    (re.compile(r"\beval\(|\bexec\(|shell=True"), "runs dynamic code or a shell"),
]


def heuristic_review(files: list[FileData], packed: PackedDiff) -> PullReview:
    issues: list[KeyIssue] = []
    security: list[str] = []
    for change in files:
        if change.filename not in packed.included or not change.patch:
            continue
        new_line = 0
        for raw in change.patch.splitlines():
            header = re.match(r"^@@ -\d+(?:,\d+)? \+(\d+)", raw)
            if header:
                new_line = int(header.group(1)) - 1
                continue
            if raw.startswith("-"):
                continue
            new_line += 1
            if not raw.startswith("+"):
                continue
            for pattern, why in _FLAGS:
                if pattern.search(raw) and new_line in added_lines(change.patch):
                    if "secret" in why or "shell" in why:
                        security.append(f"`{change.filename}` L{new_line} {why}")
                    else:
                        issues.append(KeyIssue(file=change.filename, start_line=new_line, end_line=new_line, why=why))
    changed = sum(f.additions + f.deletions for f in files)
    code = [f for f in packed.included if not _is_test(f)]
    tests_touched = any(_is_test(f.filename) for f in files)
    gaps = [] if tests_touched or not code else ["No test files changed while code did."]
    effort = 1 if changed < 50 else 2 if changed < 200 else 3 if changed < 800 else 4 if changed < 3000 else 5
    risk = "high" if security or changed > 3000 else "medium" if changed > 400 or issues else "low"
    summary = (
        f"Offline review (no model configured): {len(files)} files changed, +{sum(f.additions for f in files)}"
        f"/-{sum(f.deletions for f in files)} lines; checked the reviewed patches for common red flags."
    )
    return PullReview(
        summary=summary,
        effort=effort,
        risk=risk,
        key_issues=issues[:12],
        security_concerns=security[:8],
        test_gaps=gaps,
    )


def _is_test(path: str) -> bool:
    name = PurePosixPath(path).name.lower()
    return (
        "test" in path.lower().split("/")[0:-1]
        or name.startswith("test_")
        or "_test." in name
        or ".spec." in name
        or ".test." in name
        or "/tests/" in f"/{path.lower()}"
    )
