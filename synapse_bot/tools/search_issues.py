"""search_issues: GitHub's issue search within one repository, as a compact list of numbers, titles and links.

The search is always scoped to the repository in the arguments (scope, kind and state qualifiers in the free text
are dropped, so a query cannot widen it) and reads one page: at most `limit` results, best matches first, with
GitHub's total so the answer can say "12 match, showing 10". Pull requests are left out unless asked for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from synapse_bot.github.client import GitHubClient
from synapse_bot.github.errors import GitHubError
from synapse_bot.github_data import SearchHit, SearchPage
from synapse_bot.render.sanitize import neutralize_mass_mentions
from synapse_bot.tools.base import Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.github_text import GITHUB_REPO, link_title, some
from synapse_bot.tools.grammar import Grammar, RepoName, RouteResult, ToolCall

MAX_TEXT_CHARS = 3_800  # one Slack message (render.split.MAX_MESSAGE_CHARS)
KIND_WORDS = {"issues": "issue", "pull_requests": "pull request", "both": "issue or pull request"}


class SearchIssuesArgs(ToolArgs):
    repo: RepoName = Field(description="owner/name, e.g. acme/widgets")
    query: str = Field(
        default="",
        max_length=256,
        description=(
            "Search words, e.g. `SSO login` (all must match title, body or comments); label:bug, author:alice, "
            'in:title and "exact phrases" work; empty lists by state'
        ),
    )
    state: Literal["open", "closed", "all"] = Field(default="open", description="open, closed or all")
    kind: Literal["issues", "pull_requests", "both"] = Field(
        default="issues", description="issues, pull_requests or both"
    )
    limit: int = Field(default=10, ge=1, le=30, description="At most this many")

    hints: ClassVar[Mapping[str, str]] = {
        "repo": "a repository as `owner/name`, e.g. `acme/widgets`",
        "query": "a few search words, e.g. `SSO login`",
        "state": "`open`, `closed` or `all`",
        "kind": "`issues`, `pull_requests` or `both`",
        "limit": "a number from 1 to 30",
    }


def _hit_line(hit: SearchHit) -> str:
    kind = "PR " if hit.is_pull_request else ""
    labels = f" · {some(hit.labels, 3, code=True)}" if hit.labels else ""
    return f"• [{kind}#{hit.number} {link_title(hit.title)}]({hit.url}) — {hit.state}{labels}"


def fitting_hits(page: SearchPage) -> list[SearchHit]:
    """The hits whose lines fit MAX_TEXT_CHARS (titles are capped, so in practice all of them); at least one."""
    hits: list[SearchHit] = []
    used = 300  # room for the header
    for hit in page.hits:
        used += len(_hit_line(hit)) + 1
        if hits and used > MAX_TEXT_CHARS:
            break
        hits.append(hit)
    return hits


def render_search(repo: str, query: str, state: str, kind: str, page: SearchPage) -> str:
    """The results as one header line and one line per fitting hit."""
    noun = KIND_WORDS[kind]
    which = "" if state == "all" else f"{state} "
    about = f" matching “{' '.join(query.split())[:100]}”" if query.strip() else ""
    if not page.hits:
        return f"No {which}{noun}s in {repo}{about}."
    hits = fitting_hits(page)
    header = f"**{page.total} {which}{noun}{'s' if page.total != 1 else ''} in {repo}{about}**"
    if len(hits) < page.total:
        header += f" — showing {len(hits)}, best matches first"
    if page.incomplete:
        header += " (GitHub's search timed out, so some matches may be missing)"
    return neutralize_mass_mentions("\n".join([header, *(_hit_line(hit) for hit in hits)]))


def search_facts(repo: str, page: SearchPage) -> dict[str, Any]:
    """Numbers, titles, states, labels and links: enough to answer "just the numbers" and to cite each one."""
    return {
        "repo": repo,
        "github_query": page.query,
        "total": page.total,
        "incomplete": page.incomplete,
        "results": [
            {
                "number": hit.number,
                "kind": "pull_request" if hit.is_pull_request else "issue",
                "title": link_title(hit.title),
                "state": hit.state,
                "labels": hit.labels[:5],
                "url": hit.url,
            }
            for hit in fitting_hits(page)
        ],
    }


def _search(args: SearchIssuesArgs, ctx: ToolContext) -> ToolResult:
    client = ctx.services.github or GitHubClient(ctx.settings)
    try:
        page = client.search_issues(args.repo, args.query, state=args.state, kind=args.kind, limit=args.limit)
    except GitHubError as exc:
        return ToolResult(text=str(exc), ok=False, data={"repo": args.repo, "query": args.query, "error": str(exc)})
    return ToolResult(
        text=render_search(args.repo, args.query, args.state, args.kind, page), data=search_facts(args.repo, page)
    )


_COMMAND = re.compile(
    rf"(?:search|find)\s+(?:(open|closed|all)\s+)?(issues|prs|pull requests|issues and (?:prs|pull requests))\s+"
    rf"(?:in|of)\s+{GITHUB_REPO}\s+(?:for|about|matching|mentioning)\s+(\S.*?)[.!?]?",
    re.IGNORECASE,
)
_KINDS = {"issues": "issues", "prs": "pull_requests", "pull requests": "pull_requests"}


def _parse(text: str, lower: str) -> RouteResult:
    """Only a complete `search [open|closed|all] issues|prs in owner/repo for <words>`; questions go to the model."""
    match = _COMMAND.fullmatch(text)
    if not match:
        return None
    state, kinds, owner, name, query = match.groups()
    args: dict[str, Any] = {
        "repo": f"{owner}/{name}",
        "query": query.strip(),
        "kind": _KINDS.get(kinds.lower(), "both"),
    }
    if state:
        args["state"] = state.lower()
    return [ToolCall("search_issues", args)]


TOOL = Tool(
    name="search_issues",
    summary="search a GitHub repository's issues (or pull requests) by words",
    description=(
        "Search a GitHub repository's issues (GitHub's issue search): the total and the best matches with number, "
        "title, state, labels, URL. Set state or kind only when asked."
    ),
    args_model=SearchIssuesArgs,
    handler=_search,
    examples=("search issues in acme/widgets for SSO login", "find closed prs in acme/widgets about dark mode"),
    grammar=Grammar(verbs=("search", "find"), parse=_parse, exact=True),
)
