"""What Synapse reads from GitHub, as plain data: issues, pull requests and their files.

Apart from the PyGithub client (`integrations/github.py`) so the pure triage and review logic can use these types
without importing any I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
