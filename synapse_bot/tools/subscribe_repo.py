"""subscribe_repo, unsubscribe_repo, list_subscriptions: a repository's GitHub events in the channels that care.

`subscribe #dev to acme/widgets issues pulls reviews triage label:bug,crash -label:wontfix -author:renovate[bot]`
— kinds (default `issues pulls`), options (`triage` a new issue, `review` a PR opened or marked ready), filters
(`label:a,b` any of, several `label:` all of, `-label:` none of, `author:`, `-author:`, `path:` for PRs touching a
prefix; bots muted unless `+bots`). Without a channel, the channel it is asked in. Subscribing again replaces the
kinds, options and filters. Only Synapse admins subscribe channels to private repositories (everyone in the channel
would read them). From the moment it is confirmed, what happens is posted by the events job (`jobs/github_events.py`)
from the poller or webhooks; nothing from before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from synapse_bot.feed.subscription import DEFAULT_KINDS, Filters, Kind, Subscription
from synapse_bot.github.client import GitHubClient
from synapse_bot.github.errors import GitHubError
from synapse_bot.integrations.slack_reader import SlackReader
from synapse_bot.store.subscriptions import SubscriptionStore
from synapse_bot.tools.base import Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.grammar import (
    CHANNEL,
    REPO_PATTERN,
    FastPathError,
    Grammar,
    RepoName,
    RouteResult,
    ToolCall,
    channel_refs,
)
from synapse_bot.tools.slack_reading import is_admin_user, reading_slack

KIND_WORDS = {
    "issues": Kind.ISSUES,
    "issue": Kind.ISSUES,
    "pulls": Kind.PULLS,
    "pull": Kind.PULLS,
    "prs": Kind.PULLS,
    "pr": Kind.PULLS,
    "pull-requests": Kind.PULLS,
    "pull_requests": Kind.PULLS,
    "reviews": Kind.REVIEWS,
    "comments": Kind.COMMENTS,
    "comment": Kind.COMMENTS,
    "checks": Kind.CHECKS,
    "check": Kind.CHECKS,
    "ci": Kind.CHECKS,
    "releases": Kind.RELEASES,
    "release": Kind.RELEASES,
}
VOCABULARY = (
    "kinds `issues` `pulls` `reviews` `comments` `checks` `releases`; options `triage` `review`; filters "
    "`label:bug,crash` (any of; repeat for all of), `-label:wontfix`, `author:login`, `-author:login`, `path:src/api`, "
    "`+bots`"
)
_TOKEN = re.compile(r'[-+]?[a-z]+:(?:"[^"]*"|[^\s,"]+)(?:,(?:"[^"]*"|[^\s,"]+))*|<[^>]+>|"[^"]*"|\S+', re.I)
_FILTER = re.compile(r"^([-+]?)(label|labels|author|path):(.+)$", re.I)
_REPO_TOKEN = re.compile(REPO_PATTERN)
_LIST_ITEM = re.compile(r'"([^"]*)"|([^,]+)')
BOT_WORDS = ("+bots", "+bot", "bots")
FILTER_ARGS = {"label_groups", "excluded_labels", "authors", "excluded_authors", "paths", "include_bots"}


class SubscribeArgs(ToolArgs):
    repo: RepoName
    channel: str | None = Field(default=None, description="C… or #name; default: here")
    # Literal, not the Kind enum: inlined in the schema rather than a $defs entry (fewer tokens in every prompt).
    kinds: list[Literal["issues", "pulls", "reviews", "comments", "checks", "releases"]] = Field(
        default_factory=list, description="default: issues, pulls"
    )
    triage: bool = Field(default=False, description="triage new issues")
    review: bool = Field(default=False, description="review new PRs")
    filters: list[str] = Field(
        default_factory=list,
        description="e.g. label:bug,crash -label:wontfix author:x -author:x path:src (+bots: bots too)",
    )

    hints: ClassVar[Mapping[str, str]] = {
        "repo": "a repository as `owner/name`, e.g. `acme/widgets`",
        "channel": "a channel, e.g. `#dev`",
        "kinds": "some of issues, pulls, reviews, comments, checks, releases",
        "filters": "terms such as `label:bug`, `-label:wontfix`, `author:alice`, `path:src/api`, `+bots`",
    }


class UnsubscribeArgs(ToolArgs):
    repo: RepoName
    channel: str | None = Field(default=None, description="C… or #name; default: here")

    hints: ClassVar[Mapping[str, str]] = SubscribeArgs.hints


class ListSubscriptionsArgs(ToolArgs):
    channel: str | None = Field(default=None, description="C… or #name")

    hints: ClassVar[Mapping[str, str]] = {"channel": "a channel, e.g. `#dev`"}


def _fail(text: str) -> ToolResult:
    return ToolResult(text=text, ok=False)


def _store(ctx: ToolContext) -> SubscriptionStore | None:
    return ctx.services.subscriptions


def _channel(ctx: ToolContext, reader: SlackReader, ref: str | None) -> str:
    request = ctx.request
    return reader.resolve_channel(ref or request.context_channel_id or request.channel_id)


def _how_delivered(ctx: ToolContext) -> str:
    if ctx.settings.github_webhook_port:
        return "as GitHub's webhooks arrive (and by polling, for anything they miss)"
    return f"within about {ctx.settings.github_poll_seconds:.0f} s (Synapse polls GitHub)"


def _subscribe(args: SubscribeArgs, ctx: ToolContext) -> ToolResult:
    store = _store(ctx)
    if store is None:
        return _fail("GitHub subscriptions need Redis, which this runtime does not have.")
    terms = parse_terms(args.filters)
    if isinstance(terms, FastPathError):
        return _fail(terms.message)
    if set(terms) - FILTER_ARGS:
        return _fail(f"`filters` takes filters only ({', '.join(args.filters)}): kinds and options have their own.")

    def work(reader: SlackReader) -> ToolResult:
        assert store is not None
        channel = _channel(ctx, reader, args.channel)
        if not channel.startswith("D") and not reader.channel_info(channel).get("is_member"):
            return _fail(
                f"I'm not in <#{channel}>, so I couldn't post its GitHub events. Invite me there with "
                "`/invite @synapse`, then subscribe again."
            )
        client = ctx.services.github or GitHubClient(ctx.settings)
        try:
            repo = client.repo_info(args.repo)
        except GitHubError as exc:
            return _fail(str(exc))
        user = ctx.request.user_id
        if repo.private and not is_admin_user(ctx.settings.admin_ids, reader, user):
            return _fail(
                f"{repo.full_name} is a private repository, and everyone in <#{channel}> would read its issues and "
                "pull requests: only a Synapse admin (SYNAPSE_ADMINS) or a workspace admin may subscribe a channel "
                "to it. Ask one to run this command."
            )
        subscription = Subscription(
            team_id=ctx.request.team_id,
            channel_id=channel,
            repo=repo.full_name,
            kinds=[Kind(k) for k in dict.fromkeys(args.kinds)] or list(DEFAULT_KINDS),
            triage=args.triage,
            review=args.review,
            filters=Filters(
                label_groups=terms.get("label_groups", []),
                excluded_labels=terms.get("excluded_labels", []),
                authors=terms.get("authors", []),
                excluded_authors=terms.get("excluded_authors", []),
                paths=terms.get("paths", []),
                bots=bool(terms.get("include_bots")),
            ),
            creator=user,
            private=repo.private,
            known_up_to=repo.newest_number,
        )
        replaced = store.save(subscription)
        verb = "Updated the subscription of" if replaced else "Subscribed"
        return ToolResult(
            text=(
                f"{verb} <#{channel}> to **{repo.full_name}**: {subscription.describe()}. From now on each issue and "
                f"pull request gets one card here, with its updates in the card's thread, {_how_delivered(ctx)}. "
                f"Change it by subscribing again; stop with `unsubscribe <#{channel}> from {repo.full_name}`."
            ),
            data={"channel": channel, "repo": repo.full_name, "replaced": bool(replaced)},
            changed=True,
        )

    return reading_slack(ctx, "GitHub subscriptions need", work)


def _unsubscribe(args: UnsubscribeArgs, ctx: ToolContext) -> ToolResult:
    store = _store(ctx)
    if store is None:
        return _fail("GitHub subscriptions need Redis, which this runtime does not have.")

    def work(reader: SlackReader) -> ToolResult:
        assert store is not None
        channel = _channel(ctx, reader, args.channel)
        existing = store.get(ctx.request.team_id, channel, args.repo)
        if existing is None:
            return ToolResult(text=f"<#{channel}> is not subscribed to {args.repo}, so nothing changed.")
        if existing.private and not is_admin_user(ctx.settings.admin_ids, reader, ctx.request.user_id):
            return _fail(
                f"Only a Synapse admin may unsubscribe <#{channel}> from {existing.repo} (a private repository)."
            )
        store.remove(ctx.request.team_id, channel, args.repo)
        return ToolResult(
            text=f"Unsubscribed <#{channel}> from **{existing.repo}**: nothing more from it is posted here.",
            data={"channel": channel, "repo": existing.repo},
            changed=True,
        )

    return reading_slack(ctx, "GitHub subscriptions need", work)


def _list(args: ListSubscriptionsArgs, ctx: ToolContext) -> ToolResult:
    store = _store(ctx)
    if store is None:
        return _fail("GitHub subscriptions need Redis, which this runtime does not have.")

    def work(reader: SlackReader) -> ToolResult:
        assert store is not None
        team = ctx.request.team_id
        everywhere = args.channel is None and is_admin_user(ctx.settings.admin_ids, reader, ctx.request.user_id)
        channel = None if everywhere else _channel(ctx, reader, args.channel)
        found = store.in_team(team) if channel is None else store.in_channel(team, channel)
        where = "any channel" if channel is None else f"<#{channel}>"
        if not found:
            return ToolResult(
                text=f"No GitHub subscriptions in {where}. Start one with `subscribe #dev to owner/repo`.",
                data={"subscriptions": 0},
            )
        plural = "s" if len(found) != 1 else ""
        lines = [f"**{len(found)} GitHub subscription{plural}** in {where}"]
        for s in found:
            lines.append(f"• <#{s.channel_id}> ← **{s.repo}**: {s.describe()} (set by <@{s.creator}>)")
        return ToolResult(text="\n".join(lines), data={"subscriptions": len(found)})

    return reading_slack(ctx, "GitHub subscriptions need", work)


# The fast path ---------------------------------------------------------------------------------------


def _values(raw: str) -> list[str]:
    return [(m.group(1) if m.group(1) is not None else m.group(2)).strip() for m in _LIST_ITEM.finditer(raw)]


def parse_terms(words: list[str]) -> dict[str, Any] | FastPathError:
    """Kinds, options and filters, from the words that say them: `kinds`, `triage`, `review`, and the filters as
    `Filters` fields (`include_bots` for bots); a FastPathError naming any word it does not know."""
    args: dict[str, Any] = {}
    kinds: list[Kind] = []
    unknown: list[str] = []
    for word in words:
        lower = word.lower().strip(",.;")
        if not lower:
            continue
        if lower in KIND_WORDS:
            kinds.append(KIND_WORDS[lower])
        elif lower in ("triage", "review"):
            args[lower] = True
        elif lower in BOT_WORDS:
            args["include_bots"] = True
        elif (match := _FILTER.match(word.strip(",;"))) is not None:
            sign, what, raw = match.group(1), match.group(2).lower(), match.group(3)
            values = [v for v in _values(raw) if v]
            if not values or sign == "+":
                unknown.append(word)
            elif what in ("label", "labels"):
                if sign == "-":
                    args.setdefault("excluded_labels", []).extend(values)
                else:
                    args.setdefault("label_groups", []).append(values)
            elif what == "author":
                args.setdefault("excluded_authors" if sign else "authors", []).extend(values)
            elif sign:
                unknown.append(word)
            else:
                args.setdefault("paths", []).extend(values)
        else:
            unknown.append(word)
    if unknown:
        shown = ", ".join(f"`{w}`" for w in unknown[:5])
        return FastPathError(f"I don't know {shown} in a subscription. It takes {VOCABULARY}.")
    if kinds:
        args["kinds"] = [k.value for k in dict.fromkeys(kinds)]
    return args


def _split(text: str) -> tuple[list[str], list[str], list[str]]:
    """The command's channels, repositories and other words (after its first word)."""
    tokens = _TOKEN.findall(text)[1:]
    channels, repos, rest = [], [], []
    for token in tokens:
        if CHANNEL.fullmatch(token.rstrip(",")):
            channels += channel_refs(token)
        elif _REPO_TOKEN.match(token.rstrip(",.")) and not _FILTER.match(token):
            repos.append(token.rstrip(",."))
        elif token.lower() not in ("to", "from", "for", "on", "in", "the", "channel", "repo", "repository", "with"):
            rest.append(token)
    return channels, repos, rest


def _parse_subscribe(text: str, lower: str) -> RouteResult:
    if not re.match(r"^subscribe\b", lower):
        return None
    channels, repos, rest = _split(text)
    if not repos:
        return FastPathError("Which repository? Try `subscribe #dev to acme/widgets issues pulls`.")
    terms = parse_terms(rest)
    if isinstance(terms, FastPathError):
        return terms
    args: dict[str, Any] = {"repo": repos[0]}
    for word in ("kinds", "triage", "review"):
        if word in terms:
            args[word] = terms[word]
    filters = [w for w in rest if _FILTER.match(w.strip(",;")) or w.lower().strip(",.;") in BOT_WORDS]
    if filters:
        args["filters"] = filters
    if channels:
        args["channel"] = channels[0]
    return [ToolCall("subscribe_repo", args)]


def _parse_unsubscribe(text: str, lower: str) -> RouteResult:
    if not re.match(r"^unsubscribe\b", lower):
        return None
    channels, repos, _ = _split(text)
    if not repos:
        return FastPathError("Which repository? Try `unsubscribe #dev from acme/widgets`.")
    args: dict[str, Any] = {"repo": repos[0]}
    if channels:
        args["channel"] = channels[0]
    return [ToolCall("unsubscribe_repo", args)]


def _parse_list(text: str, lower: str) -> RouteResult:
    if not re.match(
        r"^(?:(?:list|show)\s+(?:all\s+|the\s+|my\s+)?(?:github\s+)?subscriptions?|subscriptions)\b", lower
    ):
        return None
    channels = channel_refs(text)
    return [ToolCall("list_subscriptions", {"channel": channels[0]} if channels else {})]


_SUBSCRIBE_WORDS = (
    r"[-+]?(?:labels?|author|path):[^\s,]*(?:\s*,\s*[^\s,]+)*|\+bots?|\b(?:subscribe|to|for|on|in|the|channel|repo|repository|with|triage|"
    r"reviews?|issues?|pulls?|prs?|pull[-_]requests|comments?|checks?|ci|releases?|bots)\b"
)

TOOL = Tool(
    name="subscribe_repo",
    summary="bring a GitHub repository's issues, PRs, reviews, comments, checks or releases into a channel",
    description="Subscribe a channel to tell it about a GitHub repo's new issues/PRs as they come: a card each.",
    args_model=SubscribeArgs,
    handler=_subscribe,
    status="is setting up the subscription…",
    examples=(
        "subscribe #dev to acme/widgets issues pulls reviews",
        "subscribe #bugs to acme/widgets issues triage label:bug -author:dependabot[bot]",
    ),
    grammar=Grammar(verbs=("subscribe",), parse=_parse_subscribe, words=_SUBSCRIBE_WORDS),
)

UNSUBSCRIBE_TOOL = Tool(
    name="unsubscribe_repo",
    summary="stop a channel's GitHub subscription",
    description="Stop a channel's subscription to a GitHub repository.",
    args_model=UnsubscribeArgs,
    handler=_unsubscribe,
    status="is removing the subscription…",
    examples=("unsubscribe #dev from acme/widgets",),
    grammar=Grammar(
        verbs=("unsubscribe",),
        parse=_parse_unsubscribe,
        words=r"\b(?:unsubscribe|from|the|channel|repo|repository|to)\b",
    ),
)

LIST_TOOL = Tool(
    name="list_subscriptions",
    summary="list a channel's GitHub subscriptions (every channel's, for admins)",
    description="List GitHub subscriptions (a channel's; admins: all).",
    args_model=ListSubscriptionsArgs,
    handler=_list,
    status="is looking up the subscriptions…",
    examples=("list subscriptions",),
    grammar=Grammar(
        verbs=("list", "subscriptions"),
        parse=_parse_list,
        words=r"\b(?:list|show|all|the|my|github|subscriptions?|in|of|for)\b",
    ),
)
