"""What changed: each observation against the last look kept, as events to post.

Pure: the events job keeps the last look of every issue and pull request (and which comments, reviews, check
failures and releases were seen) and asks here what is new. A second look at the same thing — the poll after
the webhook, a redelivered job — yields nothing, so every event is found once whichever source saw it first.
An older look than the one kept (a poll that read the list before a webhook's change arrived) is ignored.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import BaseModel

from synapse_bot.feed.model import CheckRun, Comment, Item, Release, Review

FAILED_CONCLUSIONS = frozenset({"failure", "timed_out", "action_required", "startup_failure"})


class EventKind(StrEnum):
    OPENED = "opened"
    CLOSED = "closed"
    MERGED = "merged"
    REOPENED = "reopened"
    READY = "ready_for_review"
    LABELED = "labeled"  # the labels changed: the card is updated (a label filter may now match)
    EDITED = "edited"  # something else the card shows changed (title, draft, size, reviewers)
    COMMENT = "comment"
    REVIEW = "review"
    CHECK_FAILED = "check_failed"
    RELEASE = "release"


STATE_CHANGES = frozenset({EventKind.CLOSED, EventKind.MERGED, EventKind.REOPENED, EventKind.READY})
CARD_UPDATES = STATE_CHANGES | {EventKind.LABELED, EventKind.EDITED}


class Event(BaseModel):
    """One thing to post. `key` is unique per repository and the same from either source; `at` is when it
    happened on GitHub (a subscription posts only what happened after it was confirmed)."""

    key: str
    kind: EventKind
    repo: str
    at: float
    number: int | None = None  # the issue or PR it is about (None for a release)
    item: Item | None = None  # how that issue or PR looks now, when known (None for a release)
    previous_labels: list[str] | None = None  # LABELED: the labels before
    actor: str = ""
    actor_bot: bool = False
    comment: Comment | None = None
    review: Review | None = None
    check: CheckRun | None = None
    release: Release | None = None


# What a card shows: a change to any of these updates the card.
_CARD_FIELDS = ("title", "draft", "base", "head", "additions", "deletions", "changed_files", "requested_reviewers")


def _labels_key(labels: list[str]) -> str:
    return hashlib.sha1("\n".join(sorted(label.casefold() for label in labels)).encode()).hexdigest()[:10]


def is_newer(current: Item, kept: Item | None) -> bool:
    """Should this look replace the kept one? Not when it is older (a stale read racing a newer one)."""
    return kept is None or current.updated_at >= kept.updated_at


def item_events(kept: Item | None, current: Item, tracked_since: float) -> list[Event]:
    """The events between the kept look of an item and this one.

    Without a kept look, the item is new to Synapse: it is "opened" if GitHub created it after the repository
    was first subscribed to (`tracked_since`), "closed"/"merged" if that happened since; otherwise this look is
    only the starting point.
    """
    ref, repo, author = current.ref, current.repo, current.author

    def event(kind: EventKind, at: float, suffix: str, **extra: object) -> Event:
        return Event(
            key=f"{ref}:{kind.value}:{suffix}",
            kind=kind,
            repo=repo,
            at=at,
            number=current.number,
            item=current,
            actor=author,
            actor_bot=current.author_bot,
            **extra,
        )

    if kept is None:
        if current.created_at >= tracked_since:
            return [event(EventKind.OPENED, current.created_at, "")]
        if current.merged and (current.merged_at or 0) >= tracked_since:
            return [event(EventKind.MERGED, current.merged_at or current.updated_at, str(int(current.merged_at or 0)))]
        if current.state == "closed" and (current.closed_at or 0) >= tracked_since:
            return [event(EventKind.CLOSED, current.closed_at or current.updated_at, str(int(current.closed_at or 0)))]
        return []
    if not is_newer(current, kept):
        return []
    events: list[Event] = []
    at, stamp = current.updated_at, str(int(current.updated_at))
    if current.merged and not kept.merged:
        events.append(event(EventKind.MERGED, current.merged_at or at, str(int(current.merged_at or at))))
    elif current.state == "closed" and kept.state != "closed":
        events.append(event(EventKind.CLOSED, current.closed_at or at, str(int(current.closed_at or at))))
    elif current.state == "open" and kept.state == "closed":
        events.append(event(EventKind.REOPENED, at, stamp))
    if current.is_pull and kept.draft and not current.draft and current.state == "open":
        events.append(event(EventKind.READY, at, stamp))
    if _labels_key(current.labels) != _labels_key(kept.labels):
        events.append(
            event(EventKind.LABELED, at, f"{_labels_key(current.labels)}:{stamp}", previous_labels=list(kept.labels))
        )
    compared = _CARD_FIELDS if current.detailed and kept.detailed else ("title", "draft")
    if not any(e.kind in CARD_UPDATES for e in events) and any(
        getattr(current, f) != getattr(kept, f) for f in compared
    ):
        events.append(event(EventKind.EDITED, at, stamp))
    return events


def comment_event(comment: Comment, item: Item | None) -> Event:
    return Event(
        key=f"comment:{comment.id}",
        kind=EventKind.COMMENT,
        repo=comment.repo,
        at=comment.created_at,
        number=comment.number,
        item=item,
        actor=comment.author,
        actor_bot=comment.author_bot,
        comment=comment,
    )


def review_event(review: Review, item: Item | None) -> Event | None:
    """A submitted review; a review with no body that only comments is the wrapper of inline comments: skipped."""
    if review.state == "PENDING" or (review.state == "COMMENTED" and not review.body.strip()):
        return None
    return Event(
        key=f"review:{review.id}",
        kind=EventKind.REVIEW,
        repo=review.repo,
        at=review.submitted_at,
        number=review.number,
        item=item,
        actor=review.reviewer,
        actor_bot=review.reviewer_bot,
        review=review,
    )


def check_event(check: CheckRun, item: Item | None, number: int) -> Event | None:
    """A check run that finished failing, on pull request `number` (one event per run, conclusion and PR;
    passing runs are not news)."""
    if check.status != "completed" or (check.conclusion or "") not in FAILED_CONCLUSIONS:
        return None
    return Event(
        key=f"check:{check.id}:{check.conclusion}:{number}",
        kind=EventKind.CHECK_FAILED,
        repo=check.repo,
        at=check.completed_at,
        number=number,
        item=item,
        actor="",
        check=check,
    )


def release_event(release: Release) -> Event | None:
    if release.draft:
        return None
    return Event(
        key=f"release:{release.id}",
        kind=EventKind.RELEASE,
        repo=release.repo,
        at=release.published_at,
        actor=release.author,
        actor_bot=release.author_bot,
        release=release,
    )
