"""A channel's subscription to a repository: which kinds of events, what to do on arrival, and its filters."""

from __future__ import annotations

import time
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator


class Kind(StrEnum):
    ISSUES = "issues"
    PULLS = "pulls"
    REVIEWS = "reviews"
    COMMENTS = "comments"
    CHECKS = "checks"
    RELEASES = "releases"


DEFAULT_KINDS = (Kind.ISSUES, Kind.PULLS)


class Filters(BaseModel):
    """Which issues and pull requests a subscription shows.

    `label_groups`: every group must match, a group matches when the item has any of its labels (`label:a,b` is one
    group, several `label:` terms several groups); `excluded_labels`: none of these. Authors are the item's opener.
    `paths`: a pull request must touch a file under one of these prefixes (issues touch no paths and pass). Events by
    bot accounts, and on items bots opened, are muted unless `bots`.
    """

    label_groups: list[list[str]] = Field(default_factory=list)
    excluded_labels: list[str] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    excluded_authors: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)
    bots: bool = False

    @field_validator("label_groups")
    @classmethod
    def _no_empty_groups(cls, groups: list[list[str]]) -> list[list[str]]:
        return [[label for label in group if label.strip()] for group in groups if any(g.strip() for g in group)]

    def terms(self) -> list[str]:
        """The filters as the command words that set them."""

        def quoted(label: str) -> str:
            return f'"{label}"' if any(c in label for c in " ,") else label

        words = [f"label:{','.join(quoted(x) for x in group)}" for group in self.label_groups]
        words += [f"-label:{quoted(x)}" for x in self.excluded_labels]
        words += [f"author:{x}" for x in self.authors] + [f"-author:{x}" for x in self.excluded_authors]
        words += [f"path:{x}" for x in self.paths]
        if self.bots:
            words.append("+bots")
        return words


class Subscription(BaseModel):
    team_id: str
    channel_id: str
    repo: str  # owner/name as GitHub spells it
    kinds: list[Kind] = Field(default_factory=lambda: list(DEFAULT_KINDS))
    triage: bool = False  # new issues get a triage suggestion in their card's thread
    review: bool = False  # PRs opened or marked ready get a review in their card's thread
    filters: Filters = Field(default_factory=Filters)
    creator: str = ""
    created_at: float = Field(default_factory=time.time)
    private: bool = False  # the repository is private (only admins may subscribe channels to it)
    # The newest issue or PR number when it was confirmed: anything numbered above it was opened after (GitHub's
    # whole-second timestamps cannot tell within the second of confirming). None: not known, times decide.
    known_up_to: int | None = None

    @property
    def repo_key(self) -> str:
        """GitHub names are case-insensitive: one subscription per channel and repository, however it is spelled."""
        return self.repo.lower()

    @property
    def confirmed_at(self) -> float:
        """Events from this second on are posted (GitHub's timestamps are whole seconds)."""
        return float(int(self.created_at))

    def describe(self) -> str:
        options = [o for o, on in (("triage", self.triage), ("review", self.review)) if on]
        return " ".join([*(k.value for k in self.kinds), *options, *self.filters.terms()])
