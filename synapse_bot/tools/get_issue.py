"""get_issue: one GitHub issue (or pull request, seen as an issue) with its latest comments, read-only.

The result is sized for a model's tool message as much as for a person: the body and every comment are cut to a
budget, only the most recent comments are read (from the last pages, so a thousand comments cost what ten do),
and the whole text never exceeds MAX_TEXT_CHARS, dropping the oldest shown comments first and saying so. Issue
text is untrusted data: it is quoted, with mass mentions neutralised, and never acted on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from synapse_bot.github.client import GitHubClient
from synapse_bot.github.errors import GitHubError
from synapse_bot.github_data import CommentData, IssueDetail
from synapse_bot.render.sanitize import neutralize_mass_mentions
from synapse_bot.tools.base import Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.github_text import GITHUB_REPO, excerpt, link_title, some
from synapse_bot.tools.grammar import Grammar, RepoName, RouteResult, ToolCall

BODY_CHARS = 1_200
COMMENT_CHARS = 400
MAX_TEXT_CHARS = 3_800  # one Slack message (render.split.MAX_MESSAGE_CHARS), about 1,000 tokens for the model


class GetIssueArgs(ToolArgs):
    repo: RepoName = Field(description="owner/name, e.g. acme/widgets")
    number: int = Field(ge=1, le=10_000_000, description="Issue number (a pull request number works too)")
    comments: int = Field(
        default=5, ge=0, le=20, description="How many of the most recent comments to include (0 for none)"
    )

    hints: ClassVar[Mapping[str, str]] = {
        "repo": "a repository as `owner/name`, e.g. `acme/widgets`",
        "number": "an issue number, e.g. `#12`",
        "comments": "a number of comments from 0 to 20",
    }


def _comment_line(comment: CommentData) -> str:
    when = f" ({comment.created_at:%Y-%m-%d})" if comment.created_at else ""
    return f"• @{comment.author}{when}: {excerpt(comment.body, COMMENT_CHARS) or '_(empty)_'}"


def render_issue(issue: IssueDetail) -> str:
    """The issue as compact Markdown, at most MAX_TEXT_CHARS whatever its size."""
    kind = "Pull request" if issue.is_pull_request else "Issue"
    state = issue.state + (f", {issue.state_reason.replace('_', ' ')}" if issue.state_reason else "")
    facts = [f"by @{issue.author}"]
    if issue.labels:
        facts.append("labels: " + some(issue.labels, 10, code=True))
    if issue.assignees:
        facts.append("assigned to " + some([f"@{a}" for a in issue.assignees], 5))
    if issue.created_at:
        facts.append(f"opened {issue.created_at:%Y-%m-%d}")
    if issue.updated_at:
        facts.append(f"updated {issue.updated_at:%Y-%m-%d}")
    facts.append(f"{issue.comments_total} comment{'s' if issue.comments_total != 1 else ''}")
    head = [
        f"**{kind} [{issue.repo}#{issue.number} {link_title(issue.title)}]({issue.url})** ({state})",
        " · ".join(facts),
        "> " + (excerpt(issue.body, BODY_CHARS) or "_(no description)_"),
    ]
    if issue.is_pull_request:
        head.append(
            f"_A pull request: `show pr #{issue.number} in {issue.repo}` (get_pull_request) gives its checks "
            "and reviews._"
        )
    lines = [_comment_line(c) for c in issue.comments]
    while True:
        shown = len(lines)
        older = issue.comments_total - shown
        if shown:
            title = f"**Latest {shown} of {issue.comments_total} comments**, oldest first"
            if older:
                title += f" ({older} earlier not shown)"
            text = "\n".join([*head, title + ":", *lines])
        else:
            text = "\n".join(head)
        if len(text) <= MAX_TEXT_CHARS or not lines:
            break
        lines.pop(0)  # the oldest shown comment goes first
    return neutralize_mass_mentions(text[:MAX_TEXT_CHARS])


def issue_facts(issue: IssueDetail) -> dict[str, Any]:
    """What the model and memory keep: the facts and links, not the text."""
    return {
        "repo": issue.repo,
        "number": issue.number,
        "kind": "pull_request" if issue.is_pull_request else "issue",
        "title": link_title(issue.title),
        "state": issue.state,
        "state_reason": issue.state_reason,
        "labels": issue.labels[:20],
        "author": issue.author,
        "url": issue.url,
        "comments_total": issue.comments_total,
        "comments": [{"author": c.author, "url": c.url} for c in issue.comments],
    }


def _get_issue(args: GetIssueArgs, ctx: ToolContext) -> ToolResult:
    client = ctx.services.github or GitHubClient(ctx.settings)
    try:
        issue = client.issue(args.repo, args.number, comments=args.comments)
    except GitHubError as exc:
        return ToolResult(text=str(exc), ok=False, data={"repo": args.repo, "number": args.number, "error": str(exc)})
    return ToolResult(text=render_issue(issue), data=issue_facts(issue))


_COMMAND = re.compile(
    rf"(?:show|get|fetch)\s+(?:me\s+)?(?:github\s+)?issue\s+(?:#|number\s+|no\.?\s*)?(\d+)\s+(?:in|of|from|on)\s+"
    rf"{GITHUB_REPO}[.!]?",
    re.IGNORECASE,
)
_HASHED = re.compile(rf"(?:show|get|fetch)\s+(?:me\s+)?(?:github\s+)?(?:issue\s+)?{GITHUB_REPO}#(\d+)[.!]?", re.I)
_URL = re.compile(
    rf"(?:show|get|fetch)\s+(?:me\s+)?(?:issue\s+)?https?://[^/\s]+/{GITHUB_REPO}/issues/(\d+)(?:[#?]\S*)?",
    re.IGNORECASE,
)


def _parse(text: str, lower: str) -> RouteResult:
    """Only a complete `show issue #12 in owner/repo`, `show owner/repo#12` or `show <issue URL>`; anything more
    (a question, an extra clause) is the model's."""
    command = _COMMAND.fullmatch(text)
    if command:
        number, owner, name = command.groups()
    else:
        hashed = _HASHED.fullmatch(text) or _URL.fullmatch(text)
        if not hashed:
            return None
        owner, name, number = hashed.groups()
    return [ToolCall("get_issue", {"repo": f"{owner}/{name}", "number": int(number)})]


TOOL = Tool(
    name="get_issue",
    summary="show one GitHub issue with its latest comments",
    description=(
        "One GitHub issue: title, state, labels, author, assignees, description, latest comments, URL. A PR number "
        "works too; a PR's checks and reviews: get_pull_request."
    ),
    args_model=GetIssueArgs,
    handler=_get_issue,
    examples=("show issue #12 in acme/widgets", "show acme/widgets#12"),
    grammar=Grammar(verbs=("show", "get", "fetch"), parse=_parse, exact=True),
)
