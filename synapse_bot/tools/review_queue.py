"""review_queue: the pull requests waiting for review in some repositories, oldest first, and why each is stuck;
or, with `mine`, the ones asked of the person and their own that are stuck.

`reviews waiting in acme/widgets, acme/api` · `which PRs are waiting for review in acme/widgets` · `my reviews`.
What a scheduled reminder posts (`tools/schedule.py`) is this tool's answer. Private repositories are listed only
for Synapse admins (everyone in the channel would read them); the DM of `my reviews` is only the person's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import Field

from synapse_bot.github.client import GitHubClient
from synapse_bot.github.errors import GitHubError
from synapse_bot.github_data import WaitingPull
from synapse_bot.integrations.slack_reader import SlackReader
from synapse_bot.schedules.reviews import PER_REPO, RepoQueue, render_mine, render_queue, waiting
from synapse_bot.tools.base import Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.grammar import REPO, Grammar, RepoName, RouteResult, ToolCall
from synapse_bot.tools.slack_reading import is_admin_user, reading_slack

MAX_REPOS = 5
SCAN = 100  # pull requests read per repository for `mine` (asked of a person, or theirs)


class ReviewQueueArgs(ToolArgs):
    repos: list[RepoName] = Field(default_factory=list, description="owner/name")
    mine: bool = Field(default=False, description="only those asked of me, or mine")

    hints: ClassVar[Mapping[str, str]] = {"repos": "repositories as `owner/name`, e.g. `acme/widgets`"}


def login_of(ctx: ToolContext, user: str) -> str | None:
    """The person's GitHub login: said with `my github is …`, else SYNAPSE_GITHUB_USERS."""
    store = ctx.services.schedules
    said = store.login(ctx.request.team_id, user) if store is not None else None
    return said or ctx.settings.github_logins.get(user)


NO_LOGIN = (
    "I don't know your GitHub login yet. Tell me with `my github is <login>` (or ask an operator to add you to "
    "SYNAPSE_GITHUB_USERS)."
)


def _repos(args: ReviewQueueArgs, ctx: ToolContext) -> list[str] | ToolResult:
    repos = list(dict.fromkeys(args.repos)) or ctx.settings.default_repo_list
    if not repos:
        example = "my reviews in acme/widgets, acme/api" if args.mine else "reviews waiting in acme/widgets, acme/api"
        return ToolResult(
            text=f"Which repositories? For example: `{example}` (an operator can set SYNAPSE_DEFAULT_REPOS).", ok=False
        )
    if len(repos) > MAX_REPOS:
        return ToolResult(text=f"At most {MAX_REPOS} repositories at a time (got {len(repos)}).", ok=False)
    return repos


def _queue(args: ReviewQueueArgs, ctx: ToolContext) -> ToolResult:
    repos = _repos(args, ctx)
    if isinstance(repos, ToolResult):
        return repos
    client = ctx.services.github or GitHubClient(ctx.settings)
    login = login_of(ctx, ctx.request.user_id) if args.mine else None
    if args.mine and login is None:
        return ToolResult(text=NO_LOGIN, ok=False)

    def work(reader: SlackReader) -> ToolResult:
        if login is not None:
            return _mine(ctx, reader, client, repos, login)
        return _channel_queue(ctx, reader, client, repos)

    return reading_slack(ctx, "Review reminders need", work)


def _hidden_here(ctx: ToolContext, reader: SlackReader, client: GitHubClient, repo: str) -> bool:
    """A private repository's pull requests are listed in a channel only for an admin (everyone there reads them);
    a DM is the person's own."""
    if ctx.request.channel_id.startswith("D") or not client.repo_info(repo).private:
        return False
    return not is_admin_user(ctx.settings.admin_ids, reader, ctx.request.user_id)


PRIVATE_HERE = "private: only a Synapse admin may list it in a channel"


def _channel_queue(ctx: ToolContext, reader: SlackReader, client: GitHubClient, repos: list[str]) -> ToolResult:
    now = datetime.now(UTC)
    queues = []
    for repo in repos:
        try:
            in_channel = not ctx.request.channel_id.startswith("D")
            if (
                in_channel
                and client.repo_info(repo).private
                and not is_admin_user(ctx.settings.admin_ids, reader, ctx.request.user_id)
            ):
                queues.append(RepoQueue(repo, [], error="private: only a Synapse admin may list it in a channel"))
                continue
            pulls, _ = client.waiting_pulls(repo, SCAN)
        except GitHubError as exc:
            queues.append(RepoQueue(repo, [], error=str(exc)))
            continue
        stuck = [p for p in pulls if waiting(p)]
        queues.append(RepoQueue(repo, stuck[:PER_REPO], more=max(0, len(stuck) - PER_REPO)))
    text = render_queue(queues, now)
    count = sum(len(q.pulls) + q.more for q in queues)
    return ToolResult(
        text=text or "No pull requests are waiting for review in " + ", ".join(f"`{r}`" for r in repos) + ".",
        ok=not any(q.error for q in queues) or count > 0,
        data={"repos": repos, "waiting": count, "empty": text is None},
    )


def _mine(ctx: ToolContext, reader: SlackReader, client: GitHubClient, repos: list[str], login: str) -> ToolResult:
    asked: list[WaitingPull] = []
    own: list[WaitingPull] = []
    problems = []
    for repo in repos:
        try:
            if _hidden_here(ctx, reader, client, repo):
                problems.append(f"{repo}: {PRIVATE_HERE} (ask me in a DM)")
                continue
            pulls, _ = client.waiting_pulls(repo, SCAN)
        except GitHubError as exc:
            problems.append(f"{repo}: {exc}")
            continue
        key = login.lower()
        asked += [p for p in pulls if key in (r.lower() for r in p.requested)]
        own += [p for p in pulls if p.author.lower() == key and waiting(p)]
    text = render_mine(login, asked, own, datetime.now(UTC))
    notes = "\n".join(f"_{p}_" for p in problems)
    body = text or f"Nothing is waiting on you (`{login}`) in " + ", ".join(f"`{r}`" for r in repos) + "."
    return ToolResult(
        text=body + (f"\n{notes}" if notes else ""),
        ok=not problems,
        data={"login": login, "asked": len(asked), "own": len(own), "empty": text is None and not problems},
    )


_QUEUE = re.compile(
    r"^(?:(?:which|what)\s+(?:prs|pull requests)\s+(?:are\s+)?(?:waiting|wait)\s+(?:for\s+)?(?:a\s+)?reviews?|"
    r"(?:prs|pull requests|reviews)\s+waiting(?:\s+for\s+review)?|review\s+queue)\s+(?:in|for|on)\s+(.+?)\??$",
    re.I,
)
_MINE = re.compile(r"^(?:show\s+)?my\s+(?:reviews|review queue|pending reviews)(?:\s+in\s+(.+?))?\??$", re.I)


def _parse(text: str, lower: str) -> RouteResult:
    mine = _MINE.match(text)
    match = mine or _QUEUE.match(text)
    if not match:
        return None
    listed = match.group(1) or ""
    repos = [f"{m.group(1)}/{m.group(2)}" for m in REPO.finditer(listed)]
    if listed and not repos:
        return None
    return [ToolCall("review_queue", {"repos": repos, "mine": bool(mine)})]


TOOL = Tool(
    name="review_queue",
    summary="list the pull requests waiting for review, and why each is stuck",
    description="PRs waiting for review in repos, oldest first, and why each is stuck.",
    args_model=ReviewQueueArgs,
    handler=_queue,
    status="is reading the pull requests…",
    examples=("reviews waiting in acme/widgets", "my reviews"),
    grammar=Grammar(
        verbs=(
            r"(?:which|what)\s+(?:prs|pull\s+requests)",
            r"(?:prs|pull\s+requests|reviews)\s+waiting",
            r"review\s+queue",
            r"(?:show\s+)?my\s+(?:reviews|review\s+queue|pending\s+reviews)",
        ),
        parse=_parse,
        exact=True,
    ),
)
