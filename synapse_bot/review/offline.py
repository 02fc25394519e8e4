"""A deterministic review for when the model cannot give one: facts and simple red flags, clearly labelled.

That happens when no model is configured, and when one is but nothing of the diff could be sent to it; the
caller says which in `why`, so the person is never told "no model configured" when one is.
"""

from __future__ import annotations

import re

from synapse_bot.github_data import FileData
from synapse_bot.review.classify import COUNTED_ONLY_REASONS, changed, is_test, skip_reason
from synapse_bot.review.model import KeyIssue, PullReview
from synapse_bot.review.numbering import parse_hunks
from synapse_bot.review.packing import PackedDiff

NO_MODEL = "Offline review (no model configured)"

_FLAGS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(TODO|FIXME|XXX)\b"), "adds a TODO/FIXME"),
    (re.compile(r"\b(print\(|console\.log\(|debugger;|pdb\.set_trace\(|breakpoint\(\))"), "leaves debug output"),
    (re.compile(r"(?i)(api[_-]?key|secret|password|token)\s*[:=]\s*['\"][^'\"]{8,}"), "may hard-code a secret"),
    (re.compile(r"\beval\(|\bexec\(|shell=True"), "runs dynamic code or a shell"),
]


def heuristic_review(files: list[FileData], packed: PackedDiff, why: str = NO_MODEL) -> PullReview:
    issues: list[KeyIssue] = []
    security: list[str] = []
    included = set(packed.included)
    for change in files:
        if change.filename not in included or not change.patch:
            continue
        for hunk in parse_hunks(change.patch):
            for line in hunk.lines:
                if line.kind != "+" or line.new_number is None:
                    continue
                for pattern, flag in _FLAGS:
                    if not pattern.search(line.text):
                        continue
                    if "secret" in flag or "shell" in flag:
                        security.append(f"`{change.filename}` L{line.new_number} {flag}")
                    else:
                        n = line.new_number
                        issues.append(KeyIssue(file=change.filename, start_line=n, end_line=n, why=flag))
    # Deleted, vendored and lockfile churn says little about how hard the change is to review.
    reviewable = [f for f in files if f.status != "removed" and skip_reason(f) not in COUNTED_ONLY_REASONS]
    lines = sum(changed(f) for f in reviewable)
    code = [f for f in packed.included if not is_test(f)]
    tests_touched = any(is_test(f.filename) for f in files)
    gaps = [] if tests_touched or not code else ["No test files changed while code did."]
    effort = 1 if lines < 50 else 2 if lines < 200 else 3 if lines < 800 else 4 if lines < 3000 else 5
    risk = "high" if security or lines > 3000 else "medium" if lines > 400 or issues else "low"
    summary = (
        f"{why}: {len(files)} files changed, +{sum(f.additions for f in files)}"
        f"/-{sum(f.deletions for f in files)} lines"
        + ("; checked the reviewable patches for common red flags." if included else ".")
    )
    return PullReview(
        summary=summary,
        effort=effort,
        risk=risk,
        key_issues=issues[:12],
        security_concerns=security[:8],
        test_gaps=gaps,
    )
