"""GitHub through PyGithub, behind `github/client.py`: issues (one with its latest comments, open ones for
triage, a search), labels, pull requests (files, metadata, reviews, checks), and the two writes (labels, reviews).

Pages of 100; `GithubRetry` with a bounded wait, so a rate limit never holds a request longer than
SYNAPSE_GITHUB_MAX_WAIT_SECONDS; every failure becomes a GitHubError whose message tells the person what to do.
Reads are bounded in requests whatever the size of the thing read: the latest comments come from the last pages
only, a search and the checks read one page, reviews at most MAX_REVIEW_PAGES.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

from github import (
    Auth,
    BadCredentialsException,
    Github,
    GithubException,
    GithubRetry,
    RateLimitExceededException,
    UnknownObjectException,
)
from github.Commit import Commit
from github.Repository import Repository
from requests.exceptions import RequestException
from urllib3.exceptions import HTTPError

from synapse_bot.config import Settings
from synapse_bot.github.errors import GitHubError
from synapse_bot.github.queries import issue_search_query, standing_reviews
from synapse_bot.github_data import (
    CheckData,
    CommentData,
    FileData,
    IssueData,
    IssueDetail,
    IssuePage,
    PullData,
    PullDetail,
    RepoData,
    ReviewData,
    SearchHit,
    SearchPage,
    WaitingPull,
)
from synapse_bot.tracking.external import add_calls, count

log = logging.getLogger(__name__)

PAGE = 100  # per_page of every list call
# PyGithub spaces every request of a client 0.25 s apart by default (4 a second for all of a process's tools
# together: a review reminder's 17 reads took 2 s). GitHub's documented secondary limit for REST reads is 900 points
# (GET requests) a minute: requests are spaced to stay within it. Writes keep PyGithub's 1 s, as GitHub asks.
READ_SPACING_S = 60 / 900
MAX_COMMENT_PAGES = 3  # the latest comments need one or two pages; a third only if comments vanished meanwhile
MAX_REVIEW_PAGES = 3


def _reset_time(exc: GithubException) -> str:
    headers = exc.headers or {}
    reset = headers.get("x-ratelimit-reset") or headers.get("X-RateLimit-Reset")
    if reset and str(reset).isdigit():
        return datetime.fromtimestamp(int(reset), UTC).strftime("%H:%M UTC")
    return "in a few minutes"


class CountingGithubRetry(GithubRetry):
    """GithubRetry (bounded rate-limit waits) that records each retry and the backoff it chose."""

    def increment(self, *args: Any, **kwargs: Any) -> Any:
        following = super().increment(*args, **kwargs)
        count("github", retries=1, waited_s=float(following.get_backoff_time()))
        return following


def github_auth(settings: Settings) -> Auth.Auth | None:
    """GitHub App installation auth when the app is configured, else GITHUB_TOKEN, else anonymous."""
    key = settings.github_app_key()
    if settings.github_app_id and key and settings.github_app_installation_id:
        app = Auth.AppAuth(settings.github_app_id, key)
        return Auth.AppInstallationAuth(app, settings.github_app_installation_id)
    if settings.github_token:
        return Auth.Token(settings.github_token.get_secret_value())
    return None


class PyGithubClient:
    """The GitHub calls of `GitHubClient`, through PyGithub (imported on first use: see `github/client.py`)."""

    def __init__(self, settings: Settings) -> None:
        self._gh = Github(
            auth=github_auth(settings),
            base_url=settings.github_api_url.rstrip("/"),
            per_page=100,
            timeout=int(settings.github_timeout_seconds),
            seconds_between_requests=READ_SPACING_S,
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

    def repo_info(self, repo: str) -> RepoData:
        """The repository's name and visibility, and its newest issue or PR number (two requests)."""
        with self._errors(repo):
            repository = self._gh.get_repo(repo)
            try:
                newest = repository.get_issues(state="all", sort="created", direction="desc").get_page(0)
                number: int | None = newest[0].number if newest else 0
            except GithubException:  # issues turned off (410), say: times alone then say what is new
                number = None
            return RepoData(repository.full_name, bool(repository.private), repository.html_url, number)

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

    def issue(self, repo: str, number: int, *, comments: int) -> IssueDetail:
        """One issue (or a pull request, seen as an issue) and its `comments` most recent comments, oldest first.

        Comments come from the last page or two only (the issue says how many there are), so an issue with a
        thousand comments costs the same few requests as one with ten.
        """
        with self._errors(repo):
            repository = self._gh.get_repo(repo)
        with self._errors(repo, f"{repo} has no issue or pull request #{number} — check the number."):
            try:
                issue = repository.get_issue(number)
            except GithubException as exc:
                if exc.status != 410:
                    raise
                raise GitHubError(f"{repo}#{number} was deleted, or {repo} has issues turned off.") from None
            total = issue.comments or 0
            latest: list[CommentData] = []
            if comments and total:
                pages = issue.get_comments()
                last = (total - 1) // PAGE
                for page in range(last, max(-1, last - MAX_COMMENT_PAGES), -1):
                    if len(latest) >= comments:
                        break
                    latest = [
                        CommentData(c.user.login if c.user else "someone", c.body or "", c.created_at, c.html_url)
                        for c in pages.get_page(page)
                    ] + latest
                latest = latest[-comments:]
            return IssueDetail(
                repo=repo,
                number=issue.number,
                title=issue.title or "",
                state=issue.state or "open",
                state_reason=issue.state_reason,
                is_pull_request=issue.pull_request is not None,
                author=issue.user.login if issue.user else "someone",
                labels=[label.name for label in issue.labels],
                assignees=[user.login for user in issue.assignees or []],
                body=issue.body or "",
                url=issue.html_url,
                created_at=issue.created_at,
                updated_at=issue.updated_at,
                comments_total=total,
                comments=latest,
                merged=bool(issue.pull_request is not None and issue.pull_request.merged_at),
            )

    def search_issues(self, repo: str, query: str, *, state: str, kind: str, limit: int) -> SearchPage:
        """GitHub's issue search within `repo`, best matches first: one request, at most `limit` (≤ 100) hits."""
        q = issue_search_query(repo, query, state=state, kind=kind)
        with self._errors(repo):
            try:
                results = self._gh.search_issues(q)
                hits = [
                    SearchHit(
                        item.number,
                        item.title or "",
                        item.state or "open",
                        [label.name for label in item.labels],
                        item.html_url,
                        item.pull_request is not None,
                    )
                    for item in results.get_page(0)[:limit]
                ]
            except GithubException as exc:
                if exc.status != 422:
                    raise
                raise GitHubError(_search_refusal(repo, exc)) from None
            return SearchPage(q, results.totalCount, bool(results.incomplete_results), hits)

    def pull_request(self, repo: str, number: int) -> PullDetail:
        """A pull request's metadata, each reviewer's standing review and the checks on its head commit.

        Checks are both kinds GitHub has: check runs (GitHub Actions and apps) and commit statuses (older CI
        integrations); one page of each.
        """
        with self._errors(repo):
            repository = self._gh.get_repo(repo)
        with self._errors(repo, f"{repo} has no pull request #{number} — check the number."):
            pr = repository.get_pull(number)
        with self._errors(repo):
            reviews = [
                ReviewData(review.user.login if review.user else "someone", review.state or "COMMENTED")
                for review in islice(pr.get_reviews(), PAGE * MAX_REVIEW_PAGES)
            ]
            checks, checks_total, unreadable = self._checks(repository, pr.head.sha)
            return PullDetail(
                repo=repo,
                number=pr.number,
                title=pr.title or "",
                state=pr.state or "open",
                merged=bool(pr.merged),
                draft=bool(pr.draft),
                author=pr.user.login if pr.user else "someone",
                base=pr.base.ref,
                head=pr.head.ref,
                head_sha=pr.head.sha,
                mergeable=pr.mergeable,
                mergeable_state=pr.mergeable_state,
                additions=pr.additions or 0,
                deletions=pr.deletions or 0,
                changed_files=pr.changed_files or 0,
                commits=pr.commits or 0,
                labels=[label.name for label in pr.labels],
                body=pr.body or "",
                url=pr.html_url,
                requested_reviewers=[user.login for user in pr.requested_reviewers or []]
                + [f"team {team.slug}" for team in pr.requested_teams or []],
                reviews=standing_reviews(reviews),
                checks=checks,
                checks_total=checks_total,
                checks_unreadable=unreadable,
            )

    def waiting_pulls(self, repo: str, limit: int) -> tuple[list[WaitingPull], int]:
        """Up to `limit` open, non-draft pull requests, oldest first, with their reviews and checks; and how many
        open non-draft ones there are in the pages read (the reminder says when it lists only some)."""
        with self._errors(repo):
            repository = self._gh.get_repo(repo)
            pulls = [
                pr
                for pr in islice(repository.get_pulls(state="open", sort="created", direction="asc"), PAGE * 3)
                if not pr.draft
            ]
            found = []
            for pr in pulls[:limit]:
                reviews = [
                    ReviewData(review.user.login if review.user else "someone", review.state or "COMMENTED")
                    for review in islice(pr.get_reviews(), PAGE * MAX_REVIEW_PAGES)
                ]
                try:
                    checks, _, _ = self._checks(repository, pr.head.sha)
                except GithubException as exc:  # e.g. 404 for a head commit GitHub no longer has: the PR still waits
                    log.info("checks not read", extra={"repo": repo, "number": pr.number, "status": exc.status})
                    checks = []
                found.append(
                    WaitingPull(
                        repo=repo,
                        number=pr.number,
                        title=pr.title or "",
                        url=pr.html_url,
                        author=pr.user.login if pr.user else "someone",
                        created_at=pr.created_at.replace(tzinfo=pr.created_at.tzinfo or UTC),
                        requested=[user.login for user in pr.requested_reviewers or []]
                        + [f"team {team.slug}" for team in pr.requested_teams or []],
                        reviews=standing_reviews(reviews),
                        failed_checks=[c.name for c in checks if c.outcome == "failed"],
                        pending_checks=sum(1 for c in checks if c.outcome == "pending"),
                    )
                )
            return found, len(pulls)

    def _checks(self, repository: Repository, sha: str) -> tuple[list[CheckData], int, list[str]]:
        """One page of check runs and the commit's statuses, their total, and which of the two the token may not
        read (a GitHub App without the Checks permission gets 403): the rest of the PR is still worth showing."""
        # A lazy commit: fetching the commit itself would download its files just to name the sha.
        commit = Commit(repository.requester.withLazy(True), url=f"{repository.url}/commits/{sha}")
        checks: list[CheckData] = []
        total = 0
        unreadable: list[str] = []
        try:
            runs = commit.get_check_runs()
            checks += [
                CheckData(run.name, run.status or "queued", run.conclusion, run.html_url or run.details_url)
                for run in runs.get_page(0)
            ]
            total += runs.totalCount or 0
        except GithubException as exc:
            if not _not_permitted(exc):
                raise
            unreadable.append("check runs")
        try:
            combined = commit.get_combined_status()
            checks += [CheckData(s.context, s.state, None, s.target_url) for s in combined.statuses]
            total += combined.total_count or 0
        except GithubException as exc:
            if not _not_permitted(exc):
                raise
            unreadable.append("commit statuses")
        return checks, total, unreadable

    def post_review(self, repo: str, number: int, body: str, comments: list[dict[str, object]]) -> str:
        with self._errors(repo):
            pr = self._gh.get_repo(repo).get_pull(number)
            review = pr.create_review(body=body, event="COMMENT", comments=comments)  # type: ignore[arg-type]
            return str(review.html_url or review.id)


def _not_permitted(exc: GithubException) -> bool:
    """A 403 or 404 that means "this token may not read this", not a rate limit."""
    rate_limited = isinstance(exc, RateLimitExceededException) or "rate limit" in str(exc.data).lower()
    return exc.status in (403, 404) and not rate_limited


def _search_refusal(repo: str, exc: GithubException) -> str:
    """GitHub's 422 for a search: the repository cannot be searched, or the query is not one GitHub accepts."""
    data = exc.data if isinstance(exc.data, dict) else {}
    messages = " ".join(str(e.get("message", "")) for e in data.get("errors", []) if isinstance(e, dict))
    if "cannot be searched" in messages:
        return f"I can't see {repo} — check the name or give the token access (GITHUB_TOKEN)."
    detail = f" ({messages[:200]})" if messages else ""
    return f"GitHub could not run that search in {repo}{detail}; try simpler words."
