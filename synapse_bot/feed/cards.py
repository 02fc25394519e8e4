"""What Synapse posts for GitHub events: the card of an issue or pull request (one top-level message per item and
channel, edited when the item changes), the lines in its thread, releases, digests and repository problems.

Markdown, as the reply path posts it (it neutralises mass mentions in titles, bodies and logins: all of it is
GitHub users' text).
"""

from __future__ import annotations

from synapse_bot.feed.diff import Event, EventKind
from synapse_bot.feed.model import Item, Problem

QUOTE_CHARS = 500
SUMMARY_CHARS = 300
DIGEST_LINES = 15

_STATE_MARK = {"open": "🟢", "draft": "⚪", "merged": "🟣", "closed": "🔴"}
_REVIEW_WORDS = {
    "APPROVED": ("✅", "approved"),
    "CHANGES_REQUESTED": ("🔁", "requested changes"),
    "COMMENTED": ("💬", "reviewed"),
    "DISMISSED": ("↩️", "had their review dismissed"),
}


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _quote(text: str, limit: int = QUOTE_CHARS) -> str:
    clipped = _clip(text, limit)
    return "\n".join(f"> {line}" if line.strip() else ">" for line in clipped.splitlines()) if clipped else ""


def _title(item: Item) -> str:
    title = " ".join(item.title.split()) or "(no title)"
    return title.replace("[", "(").replace("]", ")")  # brackets would end the link text


def item_link(item: Item) -> str:
    return f"[{item.ref} {_title(item)}]({item.url})" if item.url else f"{item.ref} {_title(item)}"


def card_text(item: Item) -> str:
    """The card: number, title, link, author, labels, state; for PRs base ← head, size and requested reviewers."""
    state = item.shown_state
    what = "Pull request" if item.is_pull else "Issue"
    facts = [f"{what} · {state}", f"opened by **{item.author}**"]
    if item.is_pull and item.detailed:
        facts.append(f"`{item.base} ← {item.head}`")
        files = "file" if item.changed_files == 1 else "files"
        facts.append(f"+{item.additions} −{item.deletions} in {item.changed_files} {files}")
        if item.requested_reviewers:
            facts.append("reviewers: " + ", ".join(item.requested_reviewers))
    if item.labels:
        facts.append("labels: " + " ".join(f"`{label}`" for label in item.labels))
    return f"{_STATE_MARK[state]} **{item_link(item)}**\n{' · '.join(facts)}"


def thread_line(event: Event) -> str | None:
    """The reply in the card's thread for `event`; None for events that only update the card."""
    item = event.item
    if event.kind is EventKind.CLOSED:
        return "🔴 Closed."
    if event.kind is EventKind.MERGED:
        into = f" into `{item.base}`" if item is not None and item.base else ""
        return f"🟣 Merged{into}."
    if event.kind is EventKind.REOPENED:
        return "🟢 Reopened."
    if event.kind is EventKind.READY:
        asked = ", ".join(item.requested_reviewers) if item is not None else ""
        return "👀 Ready for review" + (f" — requested: {asked}." if asked else ".")
    if event.kind is EventKind.COMMENT and event.comment is not None:
        comment = event.comment
        link = f"\n[View comment]({comment.url})" if comment.url else ""
        return f"💬 **{comment.author}** commented:\n{_quote(comment.body)}{link}"
    if event.kind is EventKind.REVIEW and event.review is not None:
        review = event.review
        mark, words = _REVIEW_WORDS.get(review.state, ("💬", "reviewed"))
        body = f"\n{_quote(review.body)}" if review.body.strip() else ""
        link = f"\n[View review]({review.url})" if review.url else ""
        return f"{mark} **{review.reviewer}** {words}{body}{link}"
    if event.kind is EventKind.CHECK_FAILED and event.check is not None:
        check = event.check
        detail = " — ".join(x for x in (_clip(check.title, 120), _clip(check.summary, SUMMARY_CHARS)) if x)
        link = f" [Details]({check.url})" if check.url else ""
        return f"❌ Check **{check.name}** failed ({check.conclusion})" + (f": {detail}" if detail else ".") + link
    return None


def release_text(event: Event) -> str:
    release = event.release
    assert release is not None
    name = f" — {_clip(release.name, 200)}" if release.name and release.name != release.tag else ""
    pre = " (pre-release)" if release.prerelease else ""
    title = f"{release.repo} {release.tag}"
    link = f"[{title}]({release.url})" if release.url else title
    return f"🚀 **{link}** released{pre} by **{release.author}**{name}"


def event_summary(event: Event) -> str:
    """One line naming an event, for digests."""
    if event.release is not None:
        return release_text(event)
    item = event.item
    what = {
        EventKind.OPENED: "opened",
        EventKind.CLOSED: "closed",
        EventKind.MERGED: "merged",
        EventKind.REOPENED: "reopened",
        EventKind.READY: "ready for review",
        EventKind.LABELED: "labels: " + (", ".join(item.labels) if item and item.labels else "none"),
        EventKind.EDITED: "edited",
        EventKind.COMMENT: f"comment by {event.actor}",
        EventKind.REVIEW: f"review by {event.actor}",
        EventKind.CHECK_FAILED: f"check {event.check.name if event.check else ''} failed",
    }.get(event.kind, event.kind.value)
    return f"{item_link(item)} — {what}" if item is not None else what


def digest_text(repo: str, events: list[Event], overview: str | None = None) -> str:
    """Many events on one subscription within a short time, as one message (a bulk relabel, a release train)."""
    count = len(events)
    plural = "s" if count != 1 else ""
    lines = [f"📦 **{count} more update{plural} in {repo}**, in one message to keep this channel quiet"]
    if overview:
        lines.append(_clip(overview, 600))
    lines += [f"• {event_summary(e)}" for e in events[:DIGEST_LINES]]
    if count > DIGEST_LINES:
        lines.append(f"…and {count - DIGEST_LINES} more.")
    return "\n".join(lines)


PAUSE_PROBE_MINUTES = 15


def problem_text(repo: str, problem: Problem, detail: str, channel_id: str) -> str:
    if problem is Problem.BACK:
        return f"✅ I can read **{repo}** on GitHub again: its events are posted here again, with what I missed."
    cause = detail or (
        "it answers 404: the repository was deleted or renamed, or Synapse's GitHub access to it was removed"
        if problem is Problem.GONE
        else "GitHub refused access (403): the token or the GitHub App may lack permission for it"
    )
    return (
        f"⚠️ I can no longer read **{repo}** on GitHub ({cause}). Its subscription here is paused: I'll look again "
        f"every {PAUSE_PROBE_MINUTES} minutes and carry on when I can, or stop it with "
        f"`unsubscribe <#{channel_id}> from {repo}`."
    )
