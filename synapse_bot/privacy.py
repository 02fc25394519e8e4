"""Private by default across conversations: may an answer quoting some conversations be posted in another?

The one rule, pure (no I/O): content from a source conversation may be posted in a destination only when everyone
who can read the destination can read the source.

- Same conversation: always.
- A public channel's readers are every full member of the workspace (anyone may open or join it), so a public
  source may go to any destination inside the workspace, except that guests (single- and multi-channel guests read
  only their own conversations) in the destination must be members of the source, and a destination shared with
  another organisation (Slack Connect) qualifies only if all of its members are members of the source.
- A private channel, DM or group DM is readable by its members only. It may go to a destination only if the
  destination's members are all among the source's members. A public destination never qualifies (its readers are
  the whole workspace, including people who join later).
- What cannot be checked (members unknown) does not qualify: the answer goes privately.

When any source fails, the answer goes to the requester alone, with the reason; and if the requester cannot read a
source themselves, it is not shown at all (the tools refuse that earlier; this is the backstop).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Visibility(StrEnum):
    PUBLIC = "public"  # a public channel
    PRIVATE = "private"  # a private channel
    DIRECT = "direct"  # a DM
    GROUP_DIRECT = "group_direct"  # a group DM


@dataclass(frozen=True)
class Conversation:
    """Who can read a conversation. `members` is None when not fetched (public, not shared: not needed)."""

    id: str
    name: str
    visibility: Visibility
    members: frozenset[str] | None = None
    shared_externally: bool = False

    @property
    def label(self) -> str:
        """How the reason line names it, e.g. `#secret` or `a direct message`."""
        if self.visibility is Visibility.DIRECT:
            return "a direct message"
        if self.visibility is Visibility.GROUP_DIRECT:
            return "a group DM"
        return f"#{self.name}" if self.name else f"<#{self.id}>"


class Delivery(StrEnum):
    IN_PLACE = "in_place"  # post where it was asked
    PRIVATE = "private"  # only the requester sees it
    WITHHELD = "withheld"  # the requester cannot read a source either: show nothing of it


@dataclass(frozen=True)
class Verdict:
    delivery: Delivery
    blocking: tuple[Conversation, ...] = ()  # the sources that decided it

    def reason(self, where: str = "here", *, what: str = "This", then: str = "so only you see it") -> str:
        """One sentence for the requester (empty when posted in place), e.g. "This quotes #secret, which not
        everyone here can read, so only you see it." `where` names the place asked in, `what` the content."""
        names = _join([source.label for source in self.blocking])
        quotes = "quotes" if len(self.blocking) == 1 else "quote"
        if self.delivery is Delivery.PRIVATE:
            return f"{what} {quotes} {names}, which not everyone {where} can read, {then}."
        if self.delivery is Delivery.WITHHELD:
            return f"That answer {quotes} {names}, which you are not a member of, so I won't show it to you."
        return ""


def may_show(
    source: Conversation,
    destination: Conversation,
    bots: frozenset[str] = frozenset(),
    guests: frozenset[str] = frozenset(),
) -> bool:
    """Can everyone who reads `destination` read `source`?

    `bots` are members that are apps (Synapse itself); `guests` the workspace's guest accounts, who read only the
    conversations they are members of, so a public source reaches a destination with guests only if those guests
    are members of the source too.
    """
    if source.id == destination.id:
        return True
    if source.visibility is Visibility.PUBLIC and not destination.shared_externally:
        if not guests:
            return True
        if destination.members is None:
            return False
        visiting = destination.members & guests
        return not visiting or (source.members is not None and visiting <= source.members)
    if destination.visibility is Visibility.PUBLIC or destination.members is None or source.members is None:
        return False
    return destination.members - bots <= source.members


def can_read(user: str, source: Conversation) -> bool:
    """False only when the source's members are known and the user is not among them (unknown: the tool that read
    it already checked; the answer still goes privately, as `may_show` cannot clear an unknown source)."""
    return source.visibility is Visibility.PUBLIC or source.members is None or user in source.members


def decide(
    sources: Sequence[Conversation],
    destination: Conversation,
    requester: str,
    bots: frozenset[str] = frozenset(),
    guests: frozenset[str] = frozenset(),
) -> Verdict:
    """Where an answer quoting `sources`, asked by `requester` in `destination`, may go."""
    unreadable = tuple(s for s in sources if s.id != destination.id and not can_read(requester, s))
    if unreadable:
        return Verdict(Delivery.WITHHELD, unreadable)
    blocking = tuple(s for s in sources if not may_show(s, destination, bots, guests))
    if blocking:
        return Verdict(Delivery.PRIVATE, blocking)
    return Verdict(Delivery.IN_PLACE)


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
