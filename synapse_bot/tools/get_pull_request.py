"""get_pull_request: a GitHub pull request's state, size, reviews and check status, read-only.

Answers "is PR #7 ready?" without reading the diff (review_pull_request does that): title, state (draft, merged),
author, base ← head, mergeability, size, each reviewer's standing review and who is still asked, and the checks on
the head commit — check runs and commit statuses both — summed up as failing, pending or passing with the names
that matter. One page of each list is read, and the text is bounded whatever GitHub returns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from synapse_bot.github.client import GitHubClient
from synapse_bot.github.errors import GitHubError
from synapse_bot.github_data import CheckData, PullDetail
from synapse_bot.render.sanitize import neutralize_mass_mentions
from synapse_bot.tools.base import Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.github_text import GITHUB_REPO, excerpt, link_title, some
from synapse_bot.tools.grammar import Grammar, RepoName, RouteResult, ToolCall

BODY_CHARS = 600
NAMES_SHOWN = 10  # check and reviewer names listed per group before "+N more"
NAME_CHARS = 60  # a check's name as listed (matrix jobs can have very long ones)
MAX_TEXT_CHARS = 3_800  # one Slack message (render.split.MAX_MESSAGE_CHARS)
REVIEW_WORDS = {
    "APPROVED": "approved",
    "CHANGES_REQUESTED": "changes requested",
    "COMMENTED": "commented",
    "DISMISSED": "dismissed",
}


class GetPullRequestArgs(ToolArgs):
    repo: RepoName = Field(description="owner/name, e.g. acme/widgets")
    number: int = Field(ge=1, le=10_000_000, description="Pull request number")

    hints: ClassVar[Mapping[str, str]] = {
        "repo": "a repository as `owner/name`, e.g. `acme/widgets`",
        "number": "a pull-request number, e.g. `#7`",
    }


def checks_summary(checks: list[CheckData]) -> str:
    """failing, pending, passing, or none: any failure fails; else anything unfinished is pending."""
    outcomes = {check.outcome for check in checks}
    if "failed" in outcomes:
        return "failing"
    if "pending" in outcomes:
        return "pending"
    if "passed" in outcomes:
        return "passing"
    return "skipped" if outcomes else "none"


def _by_outcome(checks: list[CheckData], outcome: str) -> list[CheckData]:
    return [check for check in checks if check.outcome == outcome]


def _check_names(checks: list[CheckData], *, links: bool) -> str:
    names = [
        f"[{link_title(c.name, NAME_CHARS)}]({c.url})" if links and c.url else link_title(c.name, NAME_CHARS)
        for c in checks
    ]
    return some(names, NAMES_SHOWN)


def _state(pr: PullDetail) -> str:
    if pr.merged:
        return "merged"
    if pr.state == "closed":
        return "closed without merging"
    return "open, draft" if pr.draft else "open"


def _mergeable(pr: PullDetail) -> str | None:
    if pr.merged or pr.state == "closed":
        return None
    if pr.mergeable is None:
        return "mergeability not computed yet"
    if not pr.mergeable:
        return (
            "has merge conflicts" if pr.mergeable_state in (None, "dirty") else f"not mergeable ({pr.mergeable_state})"
        )
    return "mergeable" + (f" ({pr.mergeable_state})" if pr.mergeable_state not in (None, "clean", "unknown") else "")


def render_pull(pr: PullDetail) -> str:
    """The pull request as compact Markdown: what it is, where it stands on reviews and checks."""
    facts = [f"by @{pr.author}", f"`{pr.base}` ← `{pr.head}`"]
    mergeable = _mergeable(pr)
    if mergeable:
        facts.append(mergeable)
    facts.append(
        f"+{pr.additions}/−{pr.deletions} in {pr.changed_files} file{'s' if pr.changed_files != 1 else ''}, "
        f"{pr.commits} commit{'s' if pr.commits != 1 else ''}"
    )
    if pr.labels:
        facts.append("labels: " + some(pr.labels, NAMES_SHOWN, code=True))
    lines = [
        f"**Pull request [{pr.repo}#{pr.number} {link_title(pr.title)}]({pr.url})** ({_state(pr)})",
        " · ".join(facts),
    ]
    if pr.body.strip():
        lines.append("> " + excerpt(pr.body, BODY_CHARS))
    reviews = [
        f"{REVIEW_WORDS.get(r.state, r.state.lower())} by @{r.reviewer}" for r in pr.reviews if r.state != "PENDING"
    ]
    waiting = [f"@{name}" if not name.startswith("team ") else name for name in pr.requested_reviewers]
    review_parts = [some(reviews, NAMES_SHOWN)] if reviews else ["no reviews yet"]
    if waiting:
        review_parts.append("waiting on " + some(waiting, NAMES_SHOWN))
    lines.append("**Reviews:** " + "; ".join(review_parts))
    lines.append(_checks_line(pr))
    return neutralize_mass_mentions("\n".join(lines)[:MAX_TEXT_CHARS])


def _checks_line(pr: PullDetail) -> str:
    summary = checks_summary(pr.checks)
    unreadable = (
        f" (I can't read its {' or '.join(pr.checks_unreadable)}: the token lacks permission)"
        if pr.checks_unreadable
        else ""
    )
    if summary == "none":
        return f"**Checks:** none reported on `{pr.head_sha[:7]}`{unreadable}"
    parts = []
    failed, pending = _by_outcome(pr.checks, "failed"), _by_outcome(pr.checks, "pending")
    passed, skipped = _by_outcome(pr.checks, "passed"), _by_outcome(pr.checks, "skipped")
    if failed:
        parts.append(f"{len(failed)} failed: {_check_names(failed, links=True)}")
    if pending:
        parts.append(f"{len(pending)} pending: {_check_names(pending, links=False)}")
    if passed:
        parts.append(f"{len(passed)} passed: {_check_names(passed, links=False)}")
    if skipped:
        parts.append(f"{len(skipped)} skipped")
    unread = pr.checks_total - len(pr.checks)
    more = f" ({unread} more not read)" if unread > 0 else ""
    return f"**Checks: {summary}** on `{pr.head_sha[:7]}`{more}{unreadable} — " + "; ".join(parts)


def pull_facts(pr: PullDetail) -> dict[str, Any]:
    """The facts a follow-up needs, with the links to cite; names capped like the text."""
    return {
        "repo": pr.repo,
        "number": pr.number,
        "title": link_title(pr.title),
        "url": pr.url,
        "state": _state(pr),
        "author": pr.author,
        "base": pr.base,
        "head": pr.head,
        "mergeable": pr.mergeable,
        "additions": pr.additions,
        "deletions": pr.deletions,
        "changed_files": pr.changed_files,
        "reviews": {r.reviewer: r.state for r in pr.reviews[:NAMES_SHOWN]},
        "requested_reviewers": pr.requested_reviewers[:NAMES_SHOWN],
        "checks": {
            "overall": checks_summary(pr.checks),
            "failed": [{"name": c.name, "url": c.url} for c in _by_outcome(pr.checks, "failed")[:NAMES_SHOWN]],
            "pending": [c.name for c in _by_outcome(pr.checks, "pending")[:NAMES_SHOWN]],
            "passed": len(_by_outcome(pr.checks, "passed")),
            "skipped": len(_by_outcome(pr.checks, "skipped")),
            "total": pr.checks_total,
            "unreadable": pr.checks_unreadable,
        },
    }


def _get_pull(args: GetPullRequestArgs, ctx: ToolContext) -> ToolResult:
    client = ctx.services.github or GitHubClient(ctx.settings)
    try:
        pr = client.pull_request(args.repo, args.number)
    except GitHubError as exc:
        return ToolResult(text=str(exc), ok=False, data={"repo": args.repo, "number": args.number, "error": str(exc)})
    return ToolResult(text=render_pull(pr), data=pull_facts(pr))


_PR = r"(?:pr|pull request|pull)"
_COMMAND = re.compile(
    rf"(?:show|get|fetch)\s+(?:me\s+)?(?:the\s+)?(?:status\s+of\s+)?{_PR}\s+(?:#|number\s+|no\.?\s*)?(\d+)\s+"
    rf"(?:in|of|from|on)\s+{GITHUB_REPO}[.!]?",
    re.IGNORECASE,
)
_HASHED = re.compile(rf"(?:show|get|fetch)\s+(?:me\s+)?{_PR}\s+{GITHUB_REPO}#(\d+)[.!]?", re.IGNORECASE)
_URL = re.compile(
    rf"(?:show|get|fetch)\s+(?:me\s+)?(?:{_PR}\s+)?https?://[^/\s]+/{GITHUB_REPO}/pull/(\d+)(?:/\S*|[#?]\S*)?",
    re.IGNORECASE,
)


def _parse(text: str, lower: str) -> RouteResult:
    """Only a complete `show pr #7 in owner/repo`, `show pr owner/repo#7` or `show <PR URL>`."""
    command = _COMMAND.fullmatch(text)
    if command:
        number, owner, name = command.groups()
    else:
        other = _HASHED.fullmatch(text) or _URL.fullmatch(text)
        if not other:
            return None
        owner, name, number = other.groups()
    return [ToolCall("get_pull_request", {"repo": f"{owner}/{name}", "number": int(number)})]


TOOL = Tool(
    name="get_pull_request",
    summary="show a GitHub pull request's state, reviews and checks",
    description=(
        "One GitHub pull request's status: state, author, branches, mergeability, size, each reviewer's latest "
        "review, requested reviewers, CI checks on its head, URL. Not the diff (a code review: review_pull_request)."
    ),
    args_model=GetPullRequestArgs,
    handler=_get_pull,
    examples=("show pr #7 in acme/widgets", "show https://github.com/acme/widgets/pull/7"),
    grammar=Grammar(verbs=("show", "get", "fetch"), parse=_parse, exact=True),
)
