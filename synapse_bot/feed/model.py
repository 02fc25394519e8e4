"""What the poller and the webhook receiver hand the events job: observations of one repository.

An observation says how something looks now (an issue or pull request, a comment, a review, a check run, a
release); it does not say what changed. Both sources build the same observations from the same GitHub JSON
(`payloads.py`), so whatever one of them saw first, the other's look at the same thing changes nothing
(`diff.py` compares each look with the last one kept).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field


def parse_time(value: object) -> float | None:
    """GitHub's ISO-8601 timestamp ("2026-12-07T15:51:34Z") as epoch seconds; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def iso_time(seconds: float) -> str:
    """Epoch seconds as GitHub writes them (whole seconds, UTC): the form `since` takes."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_bot(login: str, account_type: str | None = None) -> bool:
    """GitHub marks app accounts `type: Bot`; their logins end in `[bot]` (dependabot[bot], github-actions[bot])."""
    return (account_type or "").lower() == "bot" or login.lower().endswith("[bot]")


class Item(BaseModel):
    """An issue or pull request as last seen. PR details (base, head, size, reviewers) come from the pull request
    itself: `detailed` says whether they are known (an issue list or an issue comment does not carry them)."""

    repo: str
    number: int
    is_pull: bool = False
    title: str = ""
    url: str = ""
    author: str = "someone"
    author_bot: bool = False
    state: str = "open"  # open / closed
    merged: bool = False
    draft: bool = False
    labels: list[str] = Field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    closed_at: float | None = None
    merged_at: float | None = None
    detailed: bool = False
    base: str = ""
    head: str = ""
    head_sha: str = ""
    additions: int = 0
    deletions: int = 0
    changed_files: int = 0
    requested_reviewers: list[str] = Field(default_factory=list)
    files: list[str] | None = None  # paths the PR touches, when read (only path filters need them)

    @property
    def ref(self) -> str:
        return f"{self.repo}#{self.number}"

    @property
    def shown_state(self) -> str:
        """open, draft, closed or merged: what the card says."""
        if self.merged:
            return "merged"
        if self.state == "closed":
            return "closed"
        return "draft" if self.is_pull and self.draft else "open"

    def with_details_of(self, older: Item | None) -> Item:
        """This look, keeping PR details and files the older look had where this one does not carry them."""
        if older is None or not self.is_pull:
            return self
        update: dict[str, object] = {}
        if not self.detailed and older.detailed:
            update.update(
                detailed=True,
                base=older.base,
                head=older.head,
                head_sha=self.head_sha or older.head_sha,
                additions=older.additions,
                deletions=older.deletions,
                changed_files=older.changed_files,
                requested_reviewers=older.requested_reviewers,
            )
        if self.files is None and older.files is not None and (self.head_sha or older.head_sha) == older.head_sha:
            update["files"] = older.files
        return self.model_copy(update=update) if update else self


class Comment(BaseModel):
    repo: str
    number: int
    id: int
    author: str
    author_bot: bool = False
    body: str = ""
    url: str = ""
    created_at: float = 0.0


class Review(BaseModel):
    repo: str
    number: int
    id: int
    reviewer: str
    reviewer_bot: bool = False
    state: str = "COMMENTED"  # APPROVED / CHANGES_REQUESTED / COMMENTED / DISMISSED
    body: str = ""
    url: str = ""
    submitted_at: float = 0.0


class CheckRun(BaseModel):
    repo: str
    numbers: list[int]  # the pull requests whose head it ran on
    id: int
    name: str
    status: str = "completed"
    conclusion: str | None = None
    title: str = ""
    summary: str = ""
    url: str = ""
    head_sha: str = ""
    completed_at: float = 0.0


class Release(BaseModel):
    repo: str
    id: int
    tag: str
    name: str = ""
    url: str = ""
    author: str = "someone"
    author_bot: bool = False
    published_at: float = 0.0
    prerelease: bool = False
    draft: bool = False


class Source(StrEnum):
    POLL = "poll"
    WEBHOOK = "webhook"


class Problem(StrEnum):
    """What the poller says about a repository it cannot read (told once in each subscribed channel)."""

    GONE = "gone"  # 404/410: deleted, renamed, or the token lost access
    FORBIDDEN = "forbidden"  # 403 that is not a rate limit
    BACK = "back"  # readable again after one of the above


class Observations(BaseModel):
    """One look at one repository: the events job's unit of work (a Dramatiq message)."""

    repo: str
    source: Source
    items: list[Item] = Field(default_factory=list)
    comments: list[Comment] = Field(default_factory=list)
    reviews: list[Review] = Field(default_factory=list)
    checks: list[CheckRun] = Field(default_factory=list)
    releases: list[Release] = Field(default_factory=list)
    problem: Problem | None = None
    problem_detail: str = ""
    problem_since: float = 0.0  # when the poller first saw it (one report per problem and time)

    @property
    def empty(self) -> bool:
        return not (self.items or self.comments or self.reviews or self.checks or self.releases or self.problem)
