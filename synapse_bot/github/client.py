"""GitHub for the tools: the client they are given.

The calls themselves are PyGithub's (`github/pygithub.py`). PyGithub brings requests, cryptography, PyNaCl
and PyJWT, about 19 MB of a serving process; `GitHubClient` imports it on its first call, so a process that never
reads GitHub (a gateway, a deployment without GitHub) never loads it.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import TYPE_CHECKING

from synapse_bot.config import Settings
from synapse_bot.github_data import (
    IssueDetail,
    IssuePage,
    PullData,
    PullDetail,
    RepoData,
    SearchPage,
    WaitingPull,
)

SHARED_READ_S = 30.0

if TYPE_CHECKING:
    from synapse_bot.github.pygithub import PyGithubClient


class GitHubClient:
    """GitHub's reads and the two writes, each failure a GitHubError whose message tells the person what to do."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: PyGithubClient | None = None
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._reading: dict[tuple[str, int], threading.Lock] = {}
        self._shared: dict[tuple[str, int], tuple[float, tuple[list[WaitingPull], int]]] = {}

    def _api(self) -> PyGithubClient:
        with self._build_lock:
            if self._client is None:
                from synapse_bot.github.pygithub import PyGithubClient

                self._client = PyGithubClient(self._settings)
            return self._client

    def open_issues(
        self, repo: str, *, label: str | None, unlabelled: bool, since: date | None, limit: int
    ) -> tuple[IssuePage, list[str], str | None]:
        """Open issues (pull requests left out), the repo's live labels, and its main language."""
        return self._api().open_issues(repo, label=label, unlabelled=unlabelled, since=since, limit=limit)

    def repo_info(self, repo: str) -> RepoData:
        """The repository as GitHub names it, and whether it is private."""
        return self._api().repo_info(repo)

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

    def waiting_pulls(self, repo: str, limit: int) -> tuple[list[WaitingPull], int]:
        """Open, non-draft pull requests, oldest first, with reviews and checks (at most `limit`), and how many.

        Read once for every caller within `SHARED_READ_S`: reminders of one repository due at the same minute (in
        several channels, or a person's and a channel's) share one read of its pull requests."""
        key = (repo.lower(), limit)
        with self._lock:
            gate = self._reading.setdefault(key, threading.Lock())
        with gate:
            kept = self._shared.get(key)
            if kept is not None and time.monotonic() - kept[0] < SHARED_READ_S:
                return kept[1]
            found = self._api().waiting_pulls(repo, limit)
            self._shared[key] = (time.monotonic(), found)
            return found

    def post_review(self, repo: str, number: int, body: str, comments: list[dict[str, object]]) -> str:
        return self._api().post_review(repo, number, body, comments)
