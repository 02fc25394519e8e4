"""A triage as a compact list for Slack, most urgent first, with links and an apply button."""

from __future__ import annotations

from synapse_bot.github_data import IssueData, IssuePage
from synapse_bot.render.sanitize import neutralize_mass_mentions
from synapse_bot.triage.model import IssueTriage

ORDER = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}


def render_triage(repo: str, page: IssuePage, items: list[IssueTriage], offline: bool, *, one: bool = False) -> str:
    """`one`: the triage of a single issue (a subscription's, on arrival), headed by its reference."""
    by_number: dict[int, IssueData] = {i.number: i for i in page.issues}
    if one and page.issues:
        header = f"**Triage of {repo}#{page.issues[0].number}**"
    else:
        header = f"**Triage of {repo}** — {len(items)} open issue{'s' if len(items) != 1 else ''}"
    if offline:
        header += " · offline heuristics (no model configured)"
    notes = []
    if page.skipped:
        notes.append(f"{page.skipped} more skipped by the limit")
    if page.pulls_excluded:
        notes.append(f"{page.pulls_excluded} pull request{'s' if page.pulls_excluded != 1 else ''} left out")
    lines = [header + (f" ({'; '.join(notes)})" if notes else "")]
    if not items:
        lines.append("No open issues match.")
    for item in sorted(items, key=lambda t: (ORDER[t.priority], t.number)):
        issue = by_number.get(item.number)
        title = (issue.title if issue else "").replace("[", "(").replace("]", ")")[:100]
        link = f"[#{item.number} {title}]({issue.url})" if issue else f"#{item.number}"
        line = f"• **{item.priority}** {item.type} · {link} — {item.reason}"
        extras = []
        if item.labels:
            plural = "s" if len(item.labels) != 1 else ""
            extras.append(f"suggested label{plural}: " + ", ".join(f"`{label}`" for label in item.labels))
        if item.missing_info:
            extras.append("ask for: " + "; ".join(item.missing_info))
        if item.duplicates:
            extras.append("possible duplicate of " + ", ".join(f"#{n}" for n in item.duplicates))
        if extras:
            line += "\n    " + " · ".join(extras)
        lines.append(line)
    return neutralize_mass_mentions("\n".join(lines))
