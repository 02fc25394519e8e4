"""Does an event belong in a subscribed channel? Its kind, when it happened, and the subscription's filters."""

from __future__ import annotations

from synapse_bot.feed.diff import Event, EventKind
from synapse_bot.feed.model import Item
from synapse_bot.feed.subscription import Filters, Kind, Subscription

ITEM_KINDS = frozenset({Kind.ISSUES, Kind.PULLS})
_KIND_OF = {
    EventKind.COMMENT: Kind.COMMENTS,
    EventKind.REVIEW: Kind.REVIEWS,
    EventKind.CHECK_FAILED: Kind.CHECKS,
    EventKind.RELEASE: Kind.RELEASES,
}


def kind_of(event: Event) -> Kind:
    """The subscription kind an event is part of: the item's own changes are `issues` or `pulls`."""
    if event.kind in _KIND_OF:
        return _KIND_OF[event.kind]
    return Kind.PULLS if event.item is not None and event.item.is_pull else Kind.ISSUES


def _item_kind_wanted(kinds: set[Kind], item: Item | None) -> bool:
    """Comments, reviews and checks follow the item kinds a subscription names: `issues comments` shows comments on
    issues only. A subscription naming neither issues nor pulls gets them on both."""
    if item is None or not kinds & ITEM_KINDS:
        return True
    return (Kind.PULLS if item.is_pull else Kind.ISSUES) in kinds


def labels_match(filters: Filters, labels: list[str]) -> bool:
    have = {label.casefold() for label in labels}
    if any(x.casefold() in have for x in filters.excluded_labels):
        return False
    return all(any(x.casefold() in have for x in group) for group in filters.label_groups)


def _item_matches(filters: Filters, item: Item) -> bool:
    author = item.author.casefold()
    if filters.authors and author not in {a.casefold() for a in filters.authors}:
        return False
    if author in {a.casefold() for a in filters.excluded_authors}:
        return False
    if filters.paths and item.is_pull:
        touched = item.files or []
        if not any(path.startswith(prefix.lstrip("/")) for path in touched for prefix in filters.paths):
            return False
    return True


def needs_files(subscriptions: list[Subscription]) -> bool:
    """Must the PR's files be read? Only for a path filter."""
    return any(s.filters.paths for s in subscriptions)


def matches(subscription: Subscription, event: Event, labels: list[str] | None = None) -> bool:
    """Does `event` go to the subscribed channel? `labels` overrides the item's (to ask about its labels before)."""
    if event.kind is EventKind.OPENED and event.number is not None and subscription.known_up_to is not None:
        if event.number <= subscription.known_up_to:
            return False  # it existed when the subscription was confirmed
    elif event.at < subscription.confirmed_at:
        return False  # a subscription posts only what happens after it is confirmed
    kinds = set(subscription.kinds)
    if kind_of(event) not in kinds:
        return False
    item = event.item
    if event.kind in _KIND_OF and not _item_kind_wanted(kinds, item):
        return False
    filters = subscription.filters
    if not filters.bots:
        if event.actor_bot and event.kind is not EventKind.CHECK_FAILED:  # checks are run by apps by nature
            return False
        if item is not None and item.author_bot:
            return False
        if event.release is not None and event.release.author_bot:
            return False
    if event.release is not None:
        author = event.release.author.casefold()
        return (not filters.authors or author in {a.casefold() for a in filters.authors}) and author not in {
            a.casefold() for a in filters.excluded_authors
        }
    if item is None:
        return True
    return labels_match(filters, item.labels if labels is None else labels) and _item_matches(filters, item)


def newly_matches(subscription: Subscription, event: Event) -> bool:
    """A label change that brings an item into a label-filtered subscription (it matches now, not before)."""
    if event.kind is not EventKind.LABELED or event.previous_labels is None:
        return False
    return matches(subscription, event) and not matches(subscription, event, labels=event.previous_labels)
