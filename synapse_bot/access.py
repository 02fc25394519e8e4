"""Who may do what.

Two kinds of rule live here:

- **Tool access** (`SYNAPSE_ACCESS_RULES`): per tool (or `"*"` for every tool), `allow` and `deny` lists of Slack
  ids — users (`U…`/`W…`), user groups (`S…`) and channels (`C…`/`G…`/`D…`). Deny wins; a non-empty allow list
  means "only these". Admins (`SYNAPSE_ADMINS`) are never refused.
- **GitHub writes**: Slack users listed in `SYNAPSE_GITHUB_WRITERS`, or members of the user group
  `SYNAPSE_GITHUB_WRITER_GROUP`. Nobody by default.

Every refusal says which rule refused and how to be allowed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

HOW_TO_ALLOW = (
    "Writes to GitHub need permission: an admin can add your Slack user id to SYNAPSE_GITHUB_WRITERS, or you to the "
    "user group named in SYNAPSE_GITHUB_WRITER_GROUP."
)

ALL_TOOLS = "*"
ID_KINDS = ("U", "W", "S", "C", "G", "D")


class ToolRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Subject:
    """Who is asking, and where: the ids a rule can name."""

    user: str
    channel: str
    groups: frozenset[str] = frozenset()

    def ids(self) -> set[str]:
        return {self.user, self.channel, *self.groups}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""


@dataclass
class AccessRules:
    """Parsed `SYNAPSE_ACCESS_RULES`: `{"tool_name": {"allow": [...], "deny": [...]}, "*": {...}}`."""

    rules: dict[str, ToolRule] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str) -> AccessRules:
        if not raw.strip():
            return cls()
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"SYNAPSE_ACCESS_RULES is not valid JSON ({exc.msg} at character {exc.pos}). Expected e.g. "
                '{"review_pull_request": {"allow": ["S0123ENG"]}, "*": {"deny": ["C0RANDOM"]}}'
            ) from None
        if not isinstance(data, dict):
            raise ValueError('SYNAPSE_ACCESS_RULES must be a JSON object keyed by tool name (or "*").')
        rules: dict[str, ToolRule] = {}
        for tool, body in data.items():
            try:
                rule = ToolRule.model_validate(body)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                raise ValueError(
                    f"SYNAPSE_ACCESS_RULES[{tool!r}] is invalid at '{where}': {first.get('msg')}. "
                    'Each tool takes {"allow": [ids], "deny": [ids]}.'
                ) from None
            for slack_id in (*rule.allow, *rule.deny):
                if not slack_id or slack_id[0] not in ID_KINDS:
                    raise ValueError(
                        f"SYNAPSE_ACCESS_RULES[{tool!r}] names {slack_id!r}, which is not a Slack user (U…), "
                        "user group (S…) or channel (C…/G…/D…) id."
                    )
            rules[str(tool)] = rule
        return cls(rules)

    def groups_named(self) -> set[str]:
        return {i for rule in self.rules.values() for i in (*rule.allow, *rule.deny) if i.startswith("S")}

    def check(self, tool: str, subject: Subject, admins: Iterable[str] = ()) -> Verdict:
        """Pure decision: may `subject` use `tool`?"""
        if subject.user in set(admins):
            return Verdict(True)
        ids = subject.ids()
        for scope in (ALL_TOOLS, tool):
            rule = self.rules.get(scope)
            if rule is None:
                continue
            denied = ids.intersection(rule.deny)
            if denied:
                return Verdict(False, _denied_text(tool, sorted(denied)[0], subject))
            if rule.allow and not ids.intersection(rule.allow):
                return Verdict(False, _not_allowed_text(tool, scope, subject))
        return Verdict(True)


def _describe(slack_id: str, subject: Subject) -> str:
    if slack_id == subject.user:
        return "you"
    if slack_id == subject.channel:
        return "this channel"
    return f"a user group you are in (<!subteam^{slack_id}>)"


def _denied_text(tool: str, slack_id: str, subject: Subject) -> str:
    return (
        f"`{tool}` is not available to {_describe(slack_id, subject)}: SYNAPSE_ACCESS_RULES denies it. "
        "Ask a Synapse admin if you need it."
    )


def _not_allowed_text(tool: str, scope: str, subject: Subject) -> str:
    which = "any tool" if scope == ALL_TOOLS else f"`{tool}`"
    return (
        f"`{tool}` is limited to certain people and channels, and neither you nor <#{subject.channel}> is among "
        f"them (SYNAPSE_ACCESS_RULES for {which}). Ask a Synapse admin to add you, your user group, or this channel."
    )


class GroupDirectory:
    """Members of Slack user groups, cached for a minute (rules are checked on every tool call)."""

    def __init__(self, lookup: Callable[[str], list[str]], ttl_s: float = 60.0) -> None:
        self._lookup = lookup
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_client(cls, client: WebClient | None) -> GroupDirectory:
        def lookup(group: str) -> list[str]:
            if client is None:
                return []
            try:
                return list(client.usergroups_users_list(usergroup=group).get("users") or [])
            except SlackApiError as exc:
                log.warning("user group lookup failed", extra={"error": exc.response.get("error")})
                return []

        return cls(lookup)

    def members(self, group: str) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(group)
            if hit and now - hit[0] < self._ttl:
                return hit[1]
        users = frozenset(self._lookup(group))
        with self._lock:
            self._cache[group] = (now, users)
        return users

    def groups_of(self, user: str, candidates: Iterable[str]) -> frozenset[str]:
        return frozenset(g for g in candidates if user in self.members(g))


class ToolAccess:
    """Applies `AccessRules` to a request, resolving only the user groups the rules name."""

    def __init__(self, rules: AccessRules, admins: Iterable[str], directory: GroupDirectory) -> None:
        self.rules = rules
        self.admins = frozenset(admins)
        self.directory = directory
        self._groups = rules.groups_named()

    def check(self, tool: str, user: str, channel: str) -> Verdict:
        if not self.rules.rules or user in self.admins:
            return Verdict(True)
        groups = self.directory.groups_of(user, self._groups) if self._groups else frozenset()
        return self.rules.check(tool, Subject(user, channel, groups), self.admins)


class GitHubWriters:
    """Who may confirm GitHub writes: SYNAPSE_GITHUB_WRITERS users, or members of SYNAPSE_GITHUB_WRITER_GROUP."""

    def __init__(self, users: Iterable[str], group: str, directory: GroupDirectory) -> None:
        self.users = frozenset(users)
        self.group = group.strip()
        self.directory = directory

    def may_write(self, user: str) -> bool:
        if user in self.users:
            return True
        return bool(self.group) and user in self.directory.members(self.group)
