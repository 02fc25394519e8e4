"""monitor_channel, list_monitors, stop_monitor: keyword alerts for a Slack channel.

A rule is a channel, keywords (whole words/phrases, case-insensitive), and where alerts go (a DM to its creator
by default, or a channel). Rules live in Redis and survive restarts; the matching itself happens on every
channel message, in `jobs/alerts.py`. Asking twice for the same monitor (same channel, same keywords as a
casefolded set, same person, same destination) is answered "already watching" and stores nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from synapse_bot.integrations.slack_reader import SlackReader, SlackReadError
from synapse_bot.monitors.matcher import InvalidKeyword, normalise_keyword
from synapse_bot.store.monitors import MonitorRule, MonitorStore
from synapse_bot.tools.base import ActionOutcome, Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.grammar import CHANNEL, FastPathError, Grammar, RouteResult, ToolCall, channel_refs
from synapse_bot.tools.slack_reading import is_admin_user

STOP_MONITOR_ACTION = "synapse_stop_monitor"  # the Stop button beside each monitor on the Home tab


class MonitorChannelArgs(ToolArgs):
    channel: str = Field(min_length=1, max_length=100, description="#name or C… to watch")
    keywords: list[str] = Field(min_length=1, max_length=200, description="Words or phrases to alert on")
    alert_channel: str | None = Field(default=None, description="#name for the alerts; default a DM")

    hints: ClassVar[Mapping[str, str]] = {
        "keywords": "one or more keywords, e.g. `keywords: error, critical, down`",
        "channel": "a channel, e.g. `#alerts`",
        "alert_channel": "a channel, e.g. `#oncall`",
    }


class ListMonitorsArgs(ToolArgs):
    channel: str | None = Field(default=None, description="Only monitors of this channel")

    hints: ClassVar[Mapping[str, str]] = {"channel": "a channel, e.g. `#alerts`"}


class StopMonitorArgs(ToolArgs):
    channel: str = Field(min_length=1, max_length=100, description="#name or C… to stop watching")

    hints: ClassVar[Mapping[str, str]] = {"channel": "a channel, e.g. `#alerts`"}


def _fail(text: str) -> ToolResult:
    return ToolResult(text=text, ok=False)


def _parts(ctx: ToolContext) -> tuple[SlackReader, MonitorStore] | ToolResult:
    services = ctx.services
    if services.slack is None or services.monitors is None:
        return _fail("Channel monitors need Slack and Redis, which this runtime does not have.")
    return SlackReader(services.slack, services.redis, services.keys, ctx.request.team_id), services.monitors


def is_admin(ctx: ToolContext, reader: SlackReader, user: str) -> bool:
    return is_admin_user(ctx.settings.admin_ids, reader, user)


def stop_rule(
    store: MonitorStore, reader: SlackReader, admin_ids: set[str], team: str, channel: str, rule_id: str, user: str
) -> tuple[bool, str]:
    """Stop one monitor if `user` may (its creator or an admin); (stopped, what to tell them)."""
    rule = next((r for r in store.rules(team, channel) if r.id == rule_id), None)
    if rule is None:
        return False, "That monitor was already stopped."
    if rule.creator != user and not is_admin_user(admin_ids, reader, user):
        return False, f"Only the monitor's creator (<@{rule.creator}>) or an admin can stop it."
    store.delete(team, channel, [rule.id])
    return True, f"Stopped the monitor of <#{channel}>."


def destination(rule: MonitorRule) -> str:
    return f"<#{rule.alert_channel}>" if rule.alert_channel else f"a DM to <@{rule.creator}>"


def _monitor(args: MonitorChannelArgs, ctx: ToolContext) -> ToolResult:
    parts = _parts(ctx)
    if isinstance(parts, ToolResult):
        return parts
    reader, store = parts
    try:
        channel = reader.resolve_channel(args.channel)
        if channel.startswith("D"):
            return _fail(
                "Monitors watch channels, not direct messages. Name the channel to watch, e.g. "
                "`monitor #alerts for keywords: error, down`; alerts come to you here."
            )
        if not reader.channel_info(channel).get("is_member"):
            return _fail(
                f"I'm not in <#{channel}>, so I can't see its messages. Invite me with "
                "`/invite @synapse` there, then ask again."
            )
        alert_channel = reader.resolve_channel(args.alert_channel) if args.alert_channel else None
        if alert_channel and not reader.channel_info(alert_channel).get("is_member"):
            return _fail(f"I can't post alerts in <#{alert_channel}> because I'm not a member. Invite me there first.")
    except SlackReadError as exc:
        return _fail(str(exc))
    problems, keywords = [], []
    for keyword in args.keywords:
        try:
            normalise_keyword(keyword)
            keywords.append(keyword.strip())
        except InvalidKeyword as exc:
            problems.append(str(exc))
    if problems:
        return _fail("I can't watch for these keywords: " + "; ".join(problems) + ". Use plain words or phrases.")
    team = ctx.request.team_id
    rule = MonitorRule(
        team_id=team, channel_id=channel, keywords=keywords, creator=ctx.request.user_id, alert_channel=alert_channel
    )
    existing = store.rules(team, channel)
    same = next((r for r in existing if r.identity == rule.identity), None)
    if same is None:
        if len(existing) >= ctx.settings.monitor_max_rules_per_channel:
            return _fail(
                f"<#{channel}> already has {len(existing)} monitors, the most allowed. Stop one first "
                f"(`stop monitoring <#{channel}>`)."
            )
        same = store.save_unless_same(rule)  # one step in Redis: an identical request racing this one finds ours
    if same.id != rule.id:
        shown = ", ".join(f"`{k}`" for k in same.keywords)
        return ToolResult(
            text=f"I'm already watching <#{channel}> for {shown} with alerts to {destination(same)}, so nothing "
            f"changed. Stop it with `stop monitoring <#{channel}>`.",
            data={"rule": same.id, "channel": channel, "keywords": same.keywords, "already": True},
        )
    shown = ", ".join(f"`{k}`" for k in keywords)
    minutes = max(1, ctx.settings.monitor_alert_interval_seconds // 60)
    return ToolResult(
        text=f"Watching <#{channel}> for {shown}. Alerts go to {destination(rule)} — at most one per {minutes} "
        f"min, with later matches folded into a digest. Stop with `stop monitoring <#{channel}>`.",
        data={"rule": rule.id, "channel": channel, "keywords": keywords},
        changed=True,
    )


def _list(args: ListMonitorsArgs, ctx: ToolContext) -> ToolResult:
    parts = _parts(ctx)
    if isinstance(parts, ToolResult):
        return parts
    reader, store = parts
    team = ctx.request.team_id
    try:
        rules = store.rules(team, reader.resolve_channel(args.channel)) if args.channel else store.all_rules(team)
    except SlackReadError as exc:
        return _fail(str(exc))
    if not rules:
        return ToolResult(
            text="No channel monitors are active. Start one with "
            "`monitor slack channel #alerts for keywords: error, down`."
        )
    lines = [f"**{len(rules)} active monitor{'s' if len(rules) != 1 else ''}**"]
    for rule in rules:
        keywords = ", ".join(f"`{k}`" for k in rule.keywords[:20]) + (" …" if len(rule.keywords) > 20 else "")
        lines.append(f"• <#{rule.channel_id}>: {keywords} → {destination(rule)} (set by <@{rule.creator}>)")
    return ToolResult(text="\n".join(lines), data={"monitors": len(rules)})


def _stop(args: StopMonitorArgs, ctx: ToolContext) -> ToolResult:
    parts = _parts(ctx)
    if isinstance(parts, ToolResult):
        return parts
    reader, store = parts
    team, user = ctx.request.team_id, ctx.request.user_id
    try:
        channel = reader.resolve_channel(args.channel)
    except SlackReadError as exc:
        return _fail(str(exc))
    rules = store.rules(team, channel)
    if not rules:
        return ToolResult(text=f"Nothing to stop: no monitors are active in <#{channel}>.")
    admin = is_admin(ctx, reader, user)
    mine = [r for r in rules if admin or r.creator == user]
    if not mine:
        owners = ", ".join(sorted({f"<@{r.creator}>" for r in rules}))
        return _fail(
            f"Only a monitor's creator or an admin can stop it; the monitors in <#{channel}> were set by {owners}."
        )
    removed = store.delete(team, channel, [r.id for r in mine])
    left = len(rules) - len(mine)
    tail = f" {left} monitor{'s' if left != 1 else ''} set by others remain." if left else ""
    return ToolResult(
        text=f"Stopped {removed} monitor{'s' if removed != 1 else ''} in <#{channel}>.{tail}",
        data={"stopped": removed, "channel": channel},
        changed=True,
    )


def _split_keywords(raw: str) -> list[str]:
    raw = raw.strip().rstrip(".")
    quoted = re.findall(r"\"([^\"]+)\"|“([^”]+)”|'([^']+)'", raw)
    phrases = [next(p for p in group if p) for group in quoted]
    rest = re.sub(r"\"[^\"]+\"|“[^”]+”|'[^']+'", ",", raw)
    parts = re.split(r",|;|\bor\b|\band\b|\n", rest)
    words = [p.strip().strip("`*_") for p in parts]
    seen: dict[str, str] = {}
    for word in [*phrases, *words]:
        word = word.strip()
        if word and word.lower() not in seen:
            seen[word.lower()] = word
    return list(seen.values())


def _parse_list(text: str, lower: str) -> RouteResult:
    if not re.match(r"^(list|show)\s+(all\s+|my\s+|the\s+)?monitors?\b", lower):
        return None
    channels = channel_refs(text)
    return [ToolCall("list_monitors", {"channel": channels[0]} if channels else {})]


def _parse_stop(text: str, lower: str) -> RouteResult:
    if not re.match(
        r"^(stop|cancel|remove|delete|disable)\s+(monitoring|monitors?|watching)\b", lower
    ) and not re.match(r"^unmonitor\b", lower):
        return None
    channels = channel_refs(text)
    if not channels:
        return FastPathError("Which channel should I stop monitoring? Try `stop monitoring #alerts`.")
    return [ToolCall("stop_monitor", {"channel": channels[0]})]


def _parse_monitor(text: str, lower: str) -> RouteResult:
    if not re.match(r"^(monitor|watch)\b", lower):
        return None
    channels = channel_refs(text)
    if not channels:
        return FastPathError(
            "Which channel should I monitor? Try `monitor slack channel #alerts for keywords: error, down`."
        )
    match = re.search(r"\b(?:keywords?|words?|phrases?|terms?)\s*:?\s*(.+)$", text, re.I | re.S) or re.search(
        r"\bfor\s*:?\s*(.+)$", text, re.I | re.S
    )
    keywords = _split_keywords(match.group(1)) if match else []
    keywords = [k for k in keywords if not CHANNEL.fullmatch(k)]
    if not keywords:
        return FastPathError(
            f"Which keywords should I watch for in {channels[0]}? "
            "Try `monitor slack channel #alerts for keywords: error, critical, down`."
        )
    args: dict[str, Any] = {"channel": channels[0], "keywords": keywords}
    alert = re.search(r"\b(?:alert|notify|post|send)\w*\s+(?:alerts?\s+)?(?:in|to)\s+(<#[^>]+>|#[\w.-]+)", text, re.I)
    if alert:
        args["alert_channel"] = channel_refs(alert.group(1))[0]
        args["keywords"] = [k for k in keywords if alert.group(1) not in k and "alert" not in k.lower()]
    return [ToolCall("monitor_channel", args)]


def _stop_clicked(ctx: ToolContext, value: str) -> ActionOutcome:
    """The Home tab's Stop button: value is `channel|rule id`; only the creator or an admin may stop it."""
    parts = _parts(ctx)
    if isinstance(parts, ToolResult):
        return ActionOutcome(parts.text, private=True)
    reader, store = parts
    channel, _, rule_id = value.partition("|")
    _, message = stop_rule(
        store, reader, ctx.settings.admin_ids, ctx.request.team_id, channel, rule_id, ctx.request.user_id
    )
    return ActionOutcome(message, private=True, refresh_home=True)


TOOL = Tool(
    name="monitor_channel",
    summary="watch a channel for keywords and alert you when they appear",
    description=(
        "Watch a Slack channel for keywords or phrases (whole words, any case); alerts by DM unless alert_channel."
    ),
    args_model=MonitorChannelArgs,
    handler=_monitor,
    status="is setting up the monitor…",
    examples=("monitor slack channel #alerts for keywords: error, critical, down",),
    grammar=Grammar(
        verbs=("monitor", "watch"),
        parse=_parse_monitor,
        words=r"\b(?:for\s+)?(?:keywords?|words?|phrases?|terms?)\b.*$|\bfor\b.*$|\b(?:monitor(?:ing)?|watch|slack|channel|"
        r"(?:alert|notify|post|send)\w*|alerts?|in|to)\b",
    ),
)

LIST_TOOL = Tool(
    name="list_monitors",
    summary="list the active channel monitors",
    description="List active keyword monitors, optionally for one channel.",
    args_model=ListMonitorsArgs,
    handler=_list,
    status="is looking up the monitors…",
    examples=("list monitors",),
    grammar=Grammar(
        verbs=("list",), parse=_parse_list, words=r"\b(?:list|show|all|my|the|active|monitors?|in|of|for)\b"
    ),
)

STOP_TOOL = Tool(
    name="stop_monitor",
    summary="stop monitoring a channel",
    description="Stop the keyword monitors of a channel (only their creator or an admin may).",
    args_model=StopMonitorArgs,
    handler=_stop,
    status="is stopping the monitor…",
    examples=("stop monitoring #alerts",),
    grammar=Grammar(
        verbs=("stop",),
        parse=_parse_stop,
        words=r"\b(?:stop|cancel|remove|delete|disable|unmonitor|monitoring|monitors?|watching|in|of|all|my|the)\b",
    ),
    actions={STOP_MONITOR_ACTION: _stop_clicked},
)
