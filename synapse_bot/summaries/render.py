"""A ThreadSummary as Slack-ready Markdown, with a footer saying exactly what it covers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from synapse_bot.render.sanitize import neutralize_mass_mentions
from synapse_bot.summaries.model import ThreadSummary


@dataclass(frozen=True)
class Coverage:
    message_count: int
    last_ts: str
    permalink: str | None
    source: str  # "new", "cached", "updated", "revised" (edits or deletions), "offline"
    offline: bool = False


def _bullets(items: list[str]) -> list[str]:
    return [f"• {item.strip()}" for item in items if item.strip()]


def summary_sections(summary: ThreadSummary) -> list[str]:
    """The TL;DR and the non-empty sections (key points, decisions, action items, open questions) as lines."""
    lines = [f"**TL;DR** {summary.tldr.strip()}"]
    sections: list[tuple[str, list[str]]] = [
        ("Key points", _bullets(summary.key_points)),
        ("Decisions", _bullets(summary.decisions)),
        (
            "Action items",
            [
                f"• {item.task.strip()}"
                + (f" — {item.owner.strip()}" if item.owner else "")
                + (f" (due {item.due.strip()})" if item.due else "")
                for item in summary.action_items
                if item.task.strip()
            ],
        ),
        ("Open questions", _bullets(summary.open_questions)),
    ]
    for title, items in sections:
        if items:
            lines += ["", f"**{title}**", *items]
    return lines


def render_summary(summary: ThreadSummary, coverage: Coverage) -> str:
    offline = coverage.offline or coverage.source == "offline"
    lines = ["**Thread summary**" + (" — offline digest (no model configured)" if offline else "")]
    lines += ["", *summary_sections(summary)]
    when = datetime.fromtimestamp(float(coverage.last_ts), UTC).strftime("%Y-%m-%d %H:%M UTC")
    status = {
        "cached": " · from cache (no new replies)",
        "updated": " · updated with new replies",
        "revised": " · updated for edited or deleted messages",
    }.get(coverage.source, "")
    link = f" · [view thread]({coverage.permalink})" if coverage.permalink else ""
    plural = "s" if coverage.message_count != 1 else ""
    lines += ["", f"_Covers {coverage.message_count} message{plural} up to {when}{link}{status}_"]
    return neutralize_mass_mentions("\n".join(lines))
