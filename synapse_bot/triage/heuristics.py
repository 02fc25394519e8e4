"""Offline triage: deterministic keyword rules, clearly labelled, for when no model is configured (or it skipped
an issue)."""

from __future__ import annotations

import re

from synapse_bot.github_data import IssueData
from synapse_bot.triage.model import IssueTriage, IssueType, Priority

_TYPE_RULES: list[tuple[IssueType, re.Pattern[str]]] = [
    ("docs", re.compile(r"\b(docs?|documentation|readme|typo|tutorial)\b", re.I)),
    ("question", re.compile(r"\b(how (do|can|to)|question|is it possible|why does)\b|\?\s*$", re.I)),
    (
        "bug",
        re.compile(r"\b(bug|crash\w*|error|exception|traceback|broken|fails?|failing|regression|wrong|panic)\b", re.I),
    ),
    ("feature", re.compile(r"\b(feature|add|support|allow|request|proposal|would be nice|enhancement)\b", re.I)),
    ("chore", re.compile(r"\b(chore|refactor|cleanup|ci|bump|upgrade|dependency|deps)\b", re.I)),
]
_P0 = re.compile(r"\b(security|vulnerab\w*|cve|data loss|corrupt\w*|outage|production (is )?down)\b", re.I)
_P1 = re.compile(r"\b(crash\w*|regression|broken|cannot|can't|blocks?|blocking|fails? on start)\b", re.I)
_LABELS_FOR: dict[str, tuple[str, ...]] = {
    "bug": ("bug", "type: bug", "kind/bug"),
    "feature": ("enhancement", "feature", "type: feature", "kind/feature"),
    "question": ("question", "type: question"),
    "docs": ("documentation", "docs", "type: docs"),
    "chore": ("chore", "maintenance"),
}


def heuristic_triage(issue: IssueData, live_labels: list[str], candidates: list[int]) -> IssueTriage:
    text = f"{issue.title}\n{issue.body}"
    from_title = [k for k, rule in _TYPE_RULES if rule.search(issue.title)]
    from_text = [k for k, rule in _TYPE_RULES if rule.search(text)]
    kind: IssueType = (from_title or from_text or ["chore"])[0]
    priority: Priority
    if _P0.search(text):
        priority, reason = "P0", "mentions security, data loss or an outage"
    elif kind == "bug" and _P1.search(text):
        priority, reason = "P1", "a crash, regression or blocker"
    elif kind in ("bug", "feature"):
        priority, reason = "P2", f"a {kind} without signs of urgency"
    else:
        priority, reason = "P3", f"a {kind}"
    canonical = {label.casefold(): label for label in live_labels}
    labels = [canonical[c] for c in _LABELS_FOR[kind] if c in canonical][:1]
    missing = []
    if kind == "bug":
        if not re.search(r"\b(steps|reproduce|repro)\b", text, re.I):
            missing.append("steps to reproduce")
        if not re.search(r"\b(version|v\d+\.\d+)", text, re.I):
            missing.append("the version affected")
        if not re.search(r"(traceback|stack|log|```)", text, re.I):
            missing.append("logs or the error output")
    return IssueTriage(
        number=issue.number,
        type=kind,
        priority=priority,
        reason=reason,
        labels=labels,
        missing_info=missing,
        duplicates=candidates[:1],
        offline=True,
    )
