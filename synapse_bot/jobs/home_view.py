"""The App Home tab: the person's monitors and schedules (with Stop / Cancel buttons), their recent summaries, and
how to use Synapse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synapse_bot.config import Settings
from synapse_bot.schedules.model import Schedule
from synapse_bot.store.monitors import MonitorRule
from synapse_bot.tools.monitor_channel import STOP_MONITOR_ACTION
from synapse_bot.tools.registry import ToolRegistry
from synapse_bot.tools.schedule import CANCEL_SCHEDULE_ACTION

MAX_LISTED = 20


@dataclass(frozen=True)
class RecentSummary:
    channel_id: str
    thread_ts: str
    tldr: str
    messages: int


def _section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    if accessory:
        block["accessory"] = accessory
    return block


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_home_view(
    registry: ToolRegistry,
    settings: Settings,
    monitors: list[MonitorRule] | None = None,
    recent: list[RecentSummary] | None = None,
    admin_stats: str | None = None,
    schedules: list[Schedule] | None = None,
) -> dict[str, Any]:
    monitors, recent, schedules = monitors or [], recent or [], schedules or []
    blocks: list[dict[str, Any]] = [
        _header("Synapse"),
        _section(
            "Your engineering assistant in Slack: thread summaries, channel keyword alerts, GitHub issue "
            "triage and pull-request reviews. Answers come back in the thread you asked in."
        ),
        _section(
            "*How to ask*\n"
            "• Mention me in a channel: `@synapse summarize this thread`\n"
            "• Use the slash command anywhere: `/synapse help`\n"
            "• On any message, open the ⋮ menu → *Summarize thread*"
        ),
        {"type": "divider"},
        _header("Your channel monitors"),
    ]
    if not monitors:
        blocks.append(_section("_None yet._ Try `@synapse monitor #alerts for keywords: error, down`."))
    for rule in monitors[:MAX_LISTED]:
        keywords = ", ".join(f"`{_escape(k)}`" for k in rule.keywords[:15]) + (" …" if len(rule.keywords) > 15 else "")
        where = f"<#{rule.alert_channel}>" if rule.alert_channel else "a DM"
        blocks.append(
            _section(
                f"<#{rule.channel_id}>: {keywords} → {where}",
                {
                    "type": "button",
                    "action_id": STOP_MONITOR_ACTION,
                    "value": f"{rule.channel_id}|{rule.id}",
                    "text": {"type": "plain_text", "text": "Stop"},
                    "style": "danger",
                },
            )
        )
    blocks += [{"type": "divider"}, _header("Your schedules")]
    if not schedules:
        blocks.append(
            _section("_None yet._ Try `@synapse remind #dev about reviews in acme/widgets every weekday at 09:00`.")
        )
    for schedule in schedules[:MAX_LISTED]:
        blocks.append(
            _section(
                schedule.describe(),
                {
                    "type": "button",
                    "action_id": CANCEL_SCHEDULE_ACTION,
                    "value": schedule.id,
                    "text": {"type": "plain_text", "text": "Cancel"},
                    "style": "danger",
                },
            )
        )
    blocks += [{"type": "divider"}, _header("Your recent summaries")]
    if not recent:
        blocks.append(_section("_None yet._ Use *Summarize thread* on any message."))
    for item in recent[:10]:
        blocks.append(_section(f"<#{item.channel_id}> · {item.messages} messages\n{_escape(item.tldr)[:280]}"))
    if admin_stats:
        blocks += [{"type": "divider"}, _header("Last 24 hours (admins)"), _section(f"```{admin_stats[:2900]}```")]
    blocks += [{"type": "divider"}, _header("What I can do")]
    for tool in registry:
        if tool.name == "help":
            continue
        example = f"\n`{tool.examples[0]}`" if tool.examples else ""
        blocks.append(_section(f"*{tool.name}* — {tool.summary}{example}"))
    if settings.offline:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "Running without a model (offline): explicit commands only."}],
            }
        )
    return {"type": "home", "blocks": blocks[:100]}
