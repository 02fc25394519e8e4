"""review_pull_request: a token-budgeted review of a GitHub pull request."""

from __future__ import annotations

from pydantic import Field

from synapse_bot.tools.base import Tool, ToolArgs, not_available_yet
from synapse_bot.tools.triage_issues import REPO_PATTERN


class ReviewPullRequestArgs(ToolArgs):
    repo: str = Field(pattern=REPO_PATTERN, description="Repository as owner/name")
    number: int = Field(ge=1, le=10_000_000, description="Pull request number")


TOOL = Tool(
    name="review_pull_request",
    summary="review a GitHub pull request: summary, risks, key issues, test gaps",
    description="Review a pull request of a GitHub repository.",
    args_model=ReviewPullRequestArgs,
    handler=not_available_yet("review_pull_request", "pull-request review"),
    examples=("review pr #123 in acme/widgets",),
    needs_llm=True,
    available=False,
)
