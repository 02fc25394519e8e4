"""The pure rules of GitHub queries: how a search is scoped, and which review of each reviewer stands."""

from __future__ import annotations

import re

from synapse_bot.github_data import ReviewData

# Qualifiers the search arguments own: the repository scope, issue-or-PR and state never come from free text.
_OWNED_QUALIFIERS = re.compile(
    r'(?<!\S)-?(?:repo|org|user|owner|is|type|state|archived):(?:"[^"]*"|\S+)', re.IGNORECASE
)


def issue_search_query(repo: str, query: str, *, state: str, kind: str) -> str:
    """The `q` of GitHub's issue search, scoped to `repo` whatever the free text says.

    `state` is open, closed or all; `kind` is issues, pull_requests or both. Scope, kind and state qualifiers in
    `query` are dropped: the arguments say those, so a query can never widen the search beyond its repository.
    """
    words = " ".join(_OWNED_QUALIFIERS.sub(" ", query).split())
    parts = [f"repo:{repo}"]
    if kind == "issues":
        parts.append("is:issue")
    elif kind == "pull_requests":
        parts.append("is:pr")
    if state in ("open", "closed"):
        parts.append(f"is:{state}")
    if words:
        parts.append(words)
    return " ".join(parts)


def standing_reviews(reviews: list[ReviewData]) -> list[ReviewData]:
    """Each reviewer's standing review, as GitHub shows it: the latest approval or change request (or dismissal),
    else their latest comment; in the order reviewers first appeared."""
    standing: dict[str, ReviewData] = {}
    for review in reviews:
        current = standing.get(review.reviewer)
        if review.state == "COMMENTED" and current is not None and current.state != "COMMENTED":
            continue
        if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED", "COMMENTED"):
            standing[review.reviewer] = review
    return list(standing.values())
