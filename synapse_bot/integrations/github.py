"""GitHub for the tools: the client they are given, the error they catch, and the pure rules of its queries.

The calls themselves are PyGithub's (`integrations/pygithub.py`). PyGithub brings requests, cryptography, PyNaCl
and PyJWT, about 19 MB of a serving process; `GitHubClient` imports it on its first call, so a process that never
reads GitHub (a gateway, a deployment without GitHub) never loads it.
"""

from __future__ import annotations

import re
import threading
from datetime import date
from typing import TYPE_CHECKING

from synapse_bot.config import Settings
from synapse_bot.github_data import IssueDetail, IssuePage, PullData, PullDetail, ReviewData, SearchPage

if TYPE_CHECKING:
    from synapse_bot.integrations.pygithub import PyGithubClient


class GitHubError(Exception):
    """A GitHub failure phrased for the Slack thread."""


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


class GitHubClient:
    """GitHub's reads and the two writes, each failure a GitHubError whose message tells the person what to do."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: PyGithubClient | None = None
        self._lock = threading.Lock()

    def _api(self) -> PyGithubClient:
        with self._lock:
            if self._client is None:
                from synapse_bot.integrations.pygithub import PyGithubClient

                self._client = PyGithubClient(self._settings)
            return self._client

    def open_issues(
        self, repo: str, *, label: str | None, unlabelled: bool, since: date | None, limit: int
    ) -> tuple[IssuePage, list[str], str | None]:
        """Open issues (pull requests left out), the repo's live labels, and its main language."""
        return self._api().open_issues(repo, label=label, unlabelled=unlabelled, since=since, limit=limit)

    def live_labels(self, repo: str) -> list[str]:
        return self._api().live_labels(repo)

    def issue_labels(self, repo: str, number: int) -> list[str]:
        return self._api().issue_labels(repo, number)

    def add_labels(self, repo: str, number: int, labels: list[str]) -> None:
        self._api().add_labels(repo, number, labels)

    def pull(self, repo: str, number: int) -> PullData:
        return self._api().pull(repo, number)

    def issue(self, repo: str, number: int, *, comments: int) -> IssueDetail:
        return self._api().issue(repo, number, comments=comments)

    def search_issues(self, repo: str, query: str, *, state: str, kind: str, limit: int) -> SearchPage:
        return self._api().search_issues(repo, query, state=state, kind=kind, limit=limit)

    def pull_request(self, repo: str, number: int) -> PullDetail:
        return self._api().pull_request(repo, number)

    def post_review(self, repo: str, number: int, body: str, comments: list[dict[str, object]]) -> str:
        return self._api().post_review(repo, number, body, comments)
