"""Which pull requests wait for review and why, as a reminder lists them. Pure: pull requests in, Markdown out.

A pull request waits when nobody has approved it yet, or when reviewers it asked for have not answered. Why it is
stuck, in the order that says who has to act: changes requested or failing checks (the author), reviewers asked
and silent (them), nobody asked (the team).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from synapse_bot.github_data import WaitingPull

PER_REPO = 20


def waiting(pull: WaitingPull) -> bool:
    approved = any(r.state == "APPROVED" for r in pull.reviews)
    return not approved or bool(pull.requested)


def why_stuck(pull: WaitingPull) -> str:
    changes = [r.reviewer for r in pull.reviews if r.state == "CHANGES_REQUESTED"]
    if changes:
        return f"changes requested by {', '.join(changes)} — waiting on the author"
    if pull.failed_checks:
        shown = ", ".join(pull.failed_checks[:3]) + (" …" if len(pull.failed_checks) > 3 else "")
        return f"failing checks ({shown}) — waiting on the author"
    if pull.requested:
        return f"waiting on {', '.join(pull.requested)}"
    if not pull.reviews:
        return "no reviewer"
    return "reviewed, not approved — waiting on the author"


def age(created: datetime, now: datetime) -> str:
    seconds = max(0.0, (now - created).total_seconds())
    if seconds >= 2 * 86400:
        return f"{int(seconds // 86400)} days"
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h"
    return f"{max(1, int(seconds // 60))} min"


def line(pull: WaitingPull, now: datetime) -> str:
    asked = f" · asked: {', '.join(pull.requested)}" if pull.requested else ""
    return (
        f"• [#{pull.number} {pull.title}]({pull.url}) — {age(pull.created_at, now)} old, by {pull.author}{asked} · "
        f"_{why_stuck(pull)}_"
    )


@dataclass(frozen=True)
class RepoQueue:
    repo: str
    pulls: list[WaitingPull]  # those waiting, oldest first, at most PER_REPO
    more: int = 0  # waiting ones not listed
    error: str | None = None  # GitHub could not be read for it: said, not hidden


def render_queue(queues: Sequence[RepoQueue], now: datetime) -> str | None:
    """The reminder's Markdown, or None when nothing waits (and nothing failed)."""
    total = sum(len(q.pulls) + q.more for q in queues)
    errors = [q for q in queues if q.error]
    if total == 0 and not errors:
        return None
    parts = [f"*Pull requests waiting for review* ({total})"]
    for queue in queues:
        if queue.error:
            parts.append(f"*{queue.repo}* — {queue.error}")
            continue
        if not queue.pulls:
            parts.append(f"*{queue.repo}* — nothing waiting")
            continue
        parts.append(f"*{queue.repo}* ({len(queue.pulls) + queue.more})")
        parts.extend(line(p, now) for p in queue.pulls)
        if queue.more:
            parts.append(f"…and {queue.more} more (the {PER_REPO} oldest are listed)")
    return "\n".join(parts)


def render_mine(login: str, asked: Sequence[WaitingPull], own: Sequence[WaitingPull], now: datetime) -> str | None:
    """A person's digest: reviews asked of them, and their own pull requests that are stuck; None when neither."""
    if not asked and not own:
        return None
    parts = [f"*Your reviews* (GitHub `{login}`)"]
    if asked:
        parts.append(f"*Asked of you* ({len(asked)})")
        parts.extend(line(p, now) for p in asked)
    if own:
        parts.append(f"*Yours, stuck* ({len(own)})")
        parts.extend(line(p, now) for p in own)
    return "\n".join(parts)
