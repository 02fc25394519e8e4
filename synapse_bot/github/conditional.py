"""Conditional reads for the event poller: `If-None-Match` with the last ETag, so an unchanged list answers
304 Not Modified, which GitHub does not count against the rate limit.

Through PyGithub's own requester (`Github.requester.requestJson`, its documented way to call endpoints it has no
method for), so token and GitHub App installation auth work as for the tools. No retries and no waiting here: the
poller reads GitHub's rate-limit headers itself (`limits_of`) and decides when to try again, for every process.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from synapse_bot.config import Settings
from synapse_bot.tracking.external import add_calls

if TYPE_CHECKING:
    from github import Github

_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubUnreachable(Exception):
    """Nothing answered (connection refused, timed out): try again on the next round."""


@dataclass(frozen=True)
class Read:
    status: int
    data: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def next_url(self) -> str | None:
        """The next page's URL from the `Link` header (GitHub pages lists that way)."""
        match = _NEXT.search(self.headers.get("link", ""))
        return match.group(1) if match else None


@dataclass(frozen=True)
class Limits:
    """What GitHub's headers say about pacing: wait `retry_after` seconds (a secondary limit or a 429), or until
    `reset` when `remaining` ran out; `poll_interval` is GitHub's own wish for how often to poll."""

    remaining: int | None = None
    reset: float | None = None
    retry_after: float | None = None
    poll_interval: float | None = None
    secondary: bool = False


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def limits_of(read: Read) -> Limits:
    h = read.headers
    remaining = _number(h.get("x-ratelimit-remaining"))
    message = str(read.data.get("message", "")) if isinstance(read.data, dict) else ""
    secondary = read.status in (403, 429) and ("secondary rate limit" in message.lower() or "retry-after" in h)
    return Limits(
        remaining=int(remaining) if remaining is not None else None,
        reset=_number(h.get("x-ratelimit-reset")),
        retry_after=_number(h.get("retry-after")),
        poll_interval=_number(h.get("x-poll-interval")),
        secondary=secondary,
    )


def is_rate_limited(read: Read) -> bool:
    """A refusal because of a rate limit (primary or secondary), not because of access."""
    if read.status == 429:
        return True
    if read.status != 403:
        return False
    limits = limits_of(read)
    return limits.secondary or limits.remaining == 0 or "rate limit" in str(read.data).lower()


class ConditionalReader:
    """GET with an ETag; one per poller thread (its HTTP session is its own). PyGithub (~19 MB) is imported here, by
    the first reader a process makes (see `github/client.py`)."""

    def __init__(self, settings: Settings) -> None:
        from github import Github

        from synapse_bot.github.pygithub import github_auth

        self._gh: Github = Github(
            auth=github_auth(settings),
            base_url=settings.github_api_url.rstrip("/"),
            per_page=100,
            timeout=int(settings.github_timeout_seconds),
            retry=0,
        )

    def get(self, url: str, params: dict[str, Any] | None = None, etag: str | None = None) -> Read:
        """`url` is a path under GITHUB_API_URL (`/repos/o/r/issues`) or a full URL from a `Link` header."""
        from requests.exceptions import RequestException
        from urllib3.exceptions import HTTPError

        headers = {"If-None-Match": etag} if etag else {}
        add_calls("github_operation")
        try:
            status, response_headers, body = self._gh.requester.requestJson("GET", url, params, headers)
        except (RequestException, HTTPError, OSError) as exc:
            raise GitHubUnreachable(type(exc).__name__) from None
        try:
            data = json.loads(body) if body else None
        except json.JSONDecodeError:
            data = None
        return Read(int(status), data, {str(k).lower(): str(v) for k, v in (response_headers or {}).items()})

    def close(self) -> None:
        self._gh.close()
