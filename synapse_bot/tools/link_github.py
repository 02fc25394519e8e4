"""link_github: `my github is <login>` — which GitHub account a Slack user is, for `my reviews` and their schedules.

Stored per person in Redis; it overrides SYNAPSE_GITHUB_USERS, which an operator sets for everyone at once. The
login is checked against GitHub's rules for names (not looked up: a login the token cannot see is still theirs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from synapse_bot.tools.base import Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.grammar import Grammar, RouteResult, ToolCall

LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")


class LinkGitHubArgs(ToolArgs):
    login: str = Field(pattern=LOGIN.pattern, description="a GitHub login")

    hints: ClassVar[Mapping[str, str]] = {"login": "a GitHub login such as `octocat`"}


def _link(args: LinkGitHubArgs, ctx: ToolContext) -> ToolResult:
    store = ctx.services.schedules
    if store is None:
        return ToolResult(text="Remembering your GitHub login needs Redis, which this runtime does not have.", ok=False)
    store.set_login(ctx.request.team_id, ctx.request.user_id, args.login)
    return ToolResult(
        text=f"Noted: you are `{args.login}` on GitHub. `my reviews` and your review reminders use it.", changed=True
    )


_SAID = re.compile(r"^my\s+github(?:\s+(?:login|user(?:name)?|account|handle))?\s+is\s+@?(\S+?)\.?$", re.I)


def _parse(text: str, lower: str) -> RouteResult:
    match = _SAID.match(text)
    return [ToolCall("link_github", {"login": match.group(1)})] if match else None


TOOL = Tool(
    name="link_github",
    summary="tell Synapse your GitHub login",
    description="Remember the requester's GitHub login.",
    args_model=LinkGitHubArgs,
    handler=_link,
    examples=("my github is octocat",),
    grammar=Grammar(verbs=(r"my\s+github",), parse=_parse, exact=True),
    offered_to_model=False,
)
