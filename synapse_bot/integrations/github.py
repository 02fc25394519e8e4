"""GitHub through PyGithub: open issues, labels, pull-request files, and the two writes (labels, reviews).

Pages of 100; `GithubRetry` with a bounded wait, so a rate limit never holds a request longer than
SYNAPSE_GITHUB_MAX_WAIT_SECONDS; every failure becomes a GitHubError whose message tells the person what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from github import (
    Auth,
    BadCredentialsException,
    Github,
    GithubException,
    RateLimitExceededException,
    UnknownObjectException,
)
from requests.exceptions import RequestException
from urllib3.exceptions import HTTPError

from synapse_bot.config import Settings
from synapse_bot.github_data import FileData, IssueData, IssuePage, PullData
from synapse_bot.tracking.external import CountingGithubRetry, add_calls

log = logging.getLogger(__name__)


class GitHubError(Exception):
    """A GitHub failure phrased for the Slack thread."""


def _reset_time(exc: GithubException) -> str:
    headers = exc.headers or {}
    reset = headers.get("x-ratelimit-reset") or headers.get("X-RateLimit-Reset")
    if reset and str(reset).isdigit():
        return datetime.fromtimestamp(int(reset), UTC).strftime("%H:%M UTC")
    return "in a few minutes"


def github_auth(settings: Settings) -> Auth.Auth | None:
    """GitHub App installation auth when the app is configured, else GITHUB_TOKEN, else anonymous."""
    key = settings.github_app_key()
    if settings.github_app_id and key and settings.github_app_installation_id:
        app = Auth.AppAuth(settings.github_app_id, key)
        return Auth.AppInstallationAuth(app, settings.github_app_installation_id)
    if settings.github_token:
        return Auth.Token(settings.github_token.get_secret_value())
    return None


class GitHubClient:
    def __init__(self, settings: Settings) -> None:
        self._gh = Github(
            auth=github_auth(settings),
            base_url=settings.github_api_url.rstrip("/"),
            per_page=100,
            timeout=int(settings.github_timeout_seconds),
            retry=CountingGithubRetry(total=3, max_rate_limit_wait=settings.github_max_wait_seconds),
        )

    @contextmanager
    def _errors(self, repo: str, what: str = "") -> Iterator[None]:
        add_calls("github_operation")
        try:
            yield
        except UnknownObjectException:
            raise GitHubError(
                what or f"I can't see {repo} — check the name or give the token access (GITHUB_TOKEN)."
            ) from None
        except BadCredentialsException:
            raise GitHubError(
                "GitHub rejected the token (401 Bad credentials); an admin should check GITHUB_TOKEN."
            ) from None
        except RateLimitExceededException as exc:
            raise GitHubError(
                f"GitHub's rate limit is used up; it resets at {_reset_time(exc)}. Try again then."
            ) from None
        except GithubException as exc:
            if exc.status == 403 and "rate limit" in str(exc.data).lower():
                raise GitHubError(f"GitHub's rate limit is used up; it resets at {_reset_time(exc)}.") from None
            if exc.status == 403:
                raise GitHubError(f"GitHub refused access to {repo} (403); the token may lack permission.") from None
            raise GitHubError(
                f"GitHub answered {exc.status} for {repo}; it may be having trouble. Try again later."
            ) from None
        except (RequestException, HTTPError, OSError) as exc:
            log.warning("github unreachable", extra={"error": type(exc).__name__})
            raise GitHubError("I can't reach GitHub right now (it may be down). Try again in a few minutes.") from None

    def open_issues(
        self, repo: str, *, label: str | None, unlabelled: bool, since: date | None, limit: int
    ) -> tuple[IssuePage, list[str], str | None]:
        """Open issues (pull requests left out), the repo's live labels, and its main language."""
        with self._errors(repo):
            repository = self._gh.get_repo(repo)
            labels = [lbl.name for lbl in repository.get_labels()]
            kwargs: dict[str, object] = {"state": "open"}
            if label:
                kwargs["labels"] = [label]
            if since:
                kwargs["since"] = datetime.combine(since, datetime.min.time(), tzinfo=UTC)
            picked: list[IssueData] = []
            skipped = pulls = 0
            for issue in repository.get_issues(**kwargs):  # type: ignore[arg-type]
                if issue.pull_request is not None:
                    pulls += 1
                    continue
                if unlabelled and issue.labels:
                    continue
                if len(picked) >= limit:
                    skipped += 1
                    continue
                picked.append(
                    IssueData(
                        issue.number,
                        issue.title or "",
                        issue.body or "",
                        [lbl.name for lbl in issue.labels],
                        issue.html_url,
                        issue.user.login if issue.user else "someone",
                        issue.comments or 0,
                    )
                )
            return IssuePage(picked, skipped, pulls), labels, repository.language

    def live_labels(self, repo: str) -> list[str]:
        with self._errors(repo):
            return [lbl.name for lbl in self._gh.get_repo(repo).get_labels()]

    def issue_labels(self, repo: str, number: int) -> list[str]:
        with self._errors(repo):
            return [lbl.name for lbl in self._gh.get_repo(repo).get_issue(number).labels]

    def add_labels(self, repo: str, number: int, labels: list[str]) -> None:
        with self._errors(repo):
            self._gh.get_repo(repo).get_issue(number).add_to_labels(*labels)

    def pull(self, repo: str, number: int) -> PullData:
        with self._errors(repo):
            repository = self._gh.get_repo(repo)
        with self._errors(repo, f"{repo} has no pull request #{number} — check the number."):
            pr = repository.get_pull(number)
            files = [
                FileData(f.filename, f.status, f.additions, f.deletions, f.patch, f.previous_filename)
                for f in pr.get_files()
            ]
            return PullData(
                pr.number,
                pr.title or "",
                pr.body or "",
                pr.html_url,
                pr.user.login if pr.user else "someone",
                pr.head.sha,
                files,
                repository.language,
            )

    def post_review(self, repo: str, number: int, body: str, comments: list[dict[str, object]]) -> str:
        with self._errors(repo):
            pr = self._gh.get_repo(repo).get_pull(number)
            review = pr.create_review(body=body, event="COMMENT", comments=comments)  # type: ignore[arg-type]
            return str(review.html_url or review.id)
