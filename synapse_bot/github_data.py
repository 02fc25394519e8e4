"""What Synapse reads from GitHub, as plain data: issues, comments, search results, pull requests, their files,
reviews and checks.

Apart from the PyGithub client (`github/`) so the pure triage and review logic can use these types
without importing any I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class RepoData:
    full_name: str  # as GitHub spells it
    private: bool
    url: str
    newest_number: int | None  # of its newest issue or pull request (0: none yet; None: could not be read)


@dataclass(frozen=True)
class IssueData:
    number: int
    title: str
    body: str
    labels: list[str]
    url: str
    author: str
    comments: int


@dataclass(frozen=True)
class IssuePage:
    issues: list[IssueData]
    skipped: int  # open issues matching the filters beyond the limit
    pulls_excluded: int


@dataclass(frozen=True)
class FileData:
    filename: str
    status: str
    additions: int
    deletions: int
    patch: str | None
    previous_filename: str | None = None


@dataclass(frozen=True)
class PullData:
    number: int
    title: str
    body: str
    url: str
    author: str
    head_sha: str
    files: list[FileData] = field(default_factory=list)
    language: str | None = None


@dataclass(frozen=True)
class CommentData:
    author: str
    body: str
    created_at: datetime | None
    url: str


@dataclass(frozen=True)
class IssueDetail:
    """One issue (or pull request seen as an issue) with its most recent comments, oldest of them first."""

    repo: str
    number: int
    title: str
    state: str  # open / closed
    state_reason: str | None  # completed / not_planned / reopened, when GitHub says
    is_pull_request: bool
    author: str
    labels: list[str]
    assignees: list[str]
    body: str
    url: str
    created_at: datetime | None
    updated_at: datetime | None
    comments_total: int
    comments: list[CommentData] = field(default_factory=list)
    merged: bool = False  # a pull request that was merged (GitHub's issue view says so: `pull_request.merged_at`)


@dataclass(frozen=True)
class SearchHit:
    number: int
    title: str
    state: str
    labels: list[str]
    url: str
    is_pull_request: bool


@dataclass(frozen=True)
class SearchPage:
    query: str  # the query as sent to GitHub, qualifiers included
    total: int  # matches GitHub counted, beyond the ones returned
    incomplete: bool  # GitHub timed out and may have missed matches
    hits: list[SearchHit] = field(default_factory=list)


# Check-run conclusions and commit-status states, by what they mean for a merge.
_FAILED = {"failure", "error", "timed_out", "cancelled", "action_required", "startup_failure", "stale"}
_SKIPPED = {"skipped", "neutral"}


@dataclass(frozen=True)
class CheckData:
    """A check run (`status` queued/in_progress/completed plus a `conclusion`) or a commit status (`status` is its
    state: success/failure/error/pending, no conclusion)."""

    name: str
    status: str
    conclusion: str | None
    url: str | None

    @property
    def outcome(self) -> str:
        """passed, failed, pending or skipped."""
        result = self.conclusion if self.status == "completed" else self.status
        if result == "success":
            return "passed"
        if result in _FAILED:
            return "failed"
        if result in _SKIPPED:
            return "skipped"
        return "pending"


@dataclass(frozen=True)
class ReviewData:
    reviewer: str
    state: str  # APPROVED / CHANGES_REQUESTED / COMMENTED / DISMISSED: each reviewer's latest that counts


@dataclass(frozen=True)
class PullDetail:
    """A pull request's metadata, reviews and the checks on its head commit."""

    repo: str
    number: int
    title: str
    state: str  # open / closed
    merged: bool
    draft: bool
    author: str
    base: str
    head: str
    head_sha: str
    mergeable: bool | None  # None while GitHub is still computing it
    mergeable_state: str | None
    additions: int
    deletions: int
    changed_files: int
    commits: int
    labels: list[str]
    body: str
    url: str
    requested_reviewers: list[str] = field(default_factory=list)
    reviews: list[ReviewData] = field(default_factory=list)
    checks: list[CheckData] = field(default_factory=list)
    checks_total: int = 0  # check runs plus statuses GitHub reported, which may exceed the ones read
    checks_unreadable: list[str] = field(default_factory=list)  # "check runs" / "commit statuses" the token can't read


@dataclass(frozen=True)
class WaitingPull:
    """An open, non-draft pull request as a review reminder needs it: who is asked, what reviews stand, its checks."""

    repo: str
    number: int
    title: str
    url: str
    author: str
    created_at: datetime
    requested: list[str]  # reviewers (and `team slug`s) still asked
    reviews: list[ReviewData]  # each reviewer's standing review
    failed_checks: list[str]
    pending_checks: int
