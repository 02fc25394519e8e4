"""triage_issues: classify and prioritise a GitHub repository's open issues, with suggested labels."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from synapse_bot.tools.base import Tool, ToolArgs, not_available_yet

REPO_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"


class TriageIssuesArgs(ToolArgs):
    repo: str = Field(pattern=REPO_PATTERN, description="Repository as owner/name")
    label: str | None = Field(default=None, description="Only issues with this label")
    only_unlabelled: bool = Field(default=False, description="Only issues without any label")
    since: date | None = Field(default=None, description="Only issues updated on or after this date")
    limit: int = Field(default=30, ge=1, le=100, description="How many issues to triage at most")


TOOL = Tool(
    name="triage_issues",
    summary="triage a GitHub repository's open issues: type, priority, labels, duplicates",
    description="Triage the open issues of a GitHub repository (owner/name).",
    args_model=TriageIssuesArgs,
    handler=not_available_yet("triage_issues", "GitHub issue triage"),
    examples=("triage github issues in acme/widgets",),
    needs_llm=True,
    available=False,
)
