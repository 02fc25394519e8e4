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


# Why a priority was given, as a sentence for the triage list; `{word}` is the word in the issue that decided it.
_REASONS: dict[str, str] = {
    "P0": "It mentions “{word}”: possibly a security, data-loss or outage problem.",
    "P1": "A bug report that mentions “{word}”: likely a crash, regression or blocker.",
    "bug": "A bug report with no sign of a crash, regression or blocker.",
    "feature": "A feature request with no sign of urgency.",
    "question": "A question rather than a defect: it needs an answer, not a fix.",
    "docs": "A documentation issue rather than a defect in the software.",
    "chore": "Maintenance work with no sign of urgency.",
}


def _priority(kind: IssueType, text: str) -> tuple[Priority, str]:
    """The priority of an issue of this kind with this text, and the sentence that says why."""
    if urgent := _P0.search(text):
        return "P0", _REASONS["P0"].format(word=" ".join(urgent.group(0).split()))
    if kind == "bug" and (blocker := _P1.search(text)):
        return "P1", _REASONS["P1"].format(word=" ".join(blocker.group(0).split()))
    return ("P2" if kind in ("bug", "feature") else "P3"), _REASONS[kind]


def heuristic_triage(issue: IssueData, live_labels: list[str], candidates: list[int]) -> IssueTriage:
    text = f"{issue.title}\n{issue.body}"
    from_title = [k for k, rule in _TYPE_RULES if rule.search(issue.title)]
    from_text = [k for k, rule in _TYPE_RULES if rule.search(text)]
    kind: IssueType = (from_title or from_text or ["chore"])[0]
    priority, reason = _priority(kind, text)
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
