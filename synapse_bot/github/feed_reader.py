"""What the events job reads from GitHub itself: an issue or pull request it has not seen in full (a check run's
PR, a PR card whose details a webhook did not carry), and a PR's files for path filters."""

from __future__ import annotations

import logging
import threading

from synapse_bot.config import Settings
from synapse_bot.feed.model import Item
from synapse_bot.feed.payloads import PayloadError, item_from_issue, item_from_pull
from synapse_bot.github.conditional import ConditionalReader, GitHubUnreachable

log = logging.getLogger(__name__)

MAX_FILE_PAGES = 30  # GitHub lists at most 3,000 files of a pull request


class FeedReader:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._local = threading.local()  # one HTTP session per job thread

    def _reader(self) -> ConditionalReader:
        reader = getattr(self._local, "reader", None)
        if reader is None:
            reader = self._local.reader = ConditionalReader(self._settings)
        return reader

    def item(self, repo: str, number: int) -> Item | None:
        """The issue or pull request as GitHub shows it now (PRs with their details); None if it cannot be read."""
        try:
            read = self._reader().get(f"/repos/{repo}/issues/{number}")
            if not read.ok or not isinstance(read.data, dict):
                log.info("github item not readable", extra={"repo": repo, "number": number, "status": read.status})
                return None
            if not read.data.get("pull_request"):
                return item_from_issue(repo, read.data)
            pull = self._reader().get(f"/repos/{repo}/pulls/{number}")
            if pull.ok and isinstance(pull.data, dict):
                return item_from_pull(repo, pull.data)
            return item_from_issue(repo, read.data)
        except (GitHubUnreachable, PayloadError) as exc:
            log.info("github item not read", extra={"repo": repo, "number": number, "error": str(exc)[:200]})
            return None

    def files(self, repo: str, number: int) -> list[str] | None:
        """The paths a pull request touches (renamed files under both names); None if they cannot be read."""
        paths: list[str] = []
        url: str | None = f"/repos/{repo}/pulls/{number}/files"
        params: dict[str, object] | None = {"per_page": 100}
        try:
            for _ in range(MAX_FILE_PAGES):
                if url is None:
                    break
                read = self._reader().get(url, params)
                if not read.ok or not isinstance(read.data, list):
                    return None
                for change in read.data:
                    if isinstance(change, dict):
                        paths += [str(change[k]) for k in ("filename", "previous_filename") if change.get(k)]
                url, params = read.next_url, None
        except GitHubUnreachable:
            return None
        return paths
