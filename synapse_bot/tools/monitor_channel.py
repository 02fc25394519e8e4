"""monitor_channel, list_monitors, stop_monitor: keyword alerts for a Slack channel."""

from __future__ import annotations

from pydantic import Field

from synapse_bot.tools.base import Tool, ToolArgs, not_available_yet


class MonitorChannelArgs(ToolArgs):
    channel: str = Field(min_length=1, description="Channel id (C…) or #name to watch")
    keywords: list[str] = Field(min_length=1, max_length=200, description="Words or phrases to alert on")
    alert_channel: str | None = Field(
        default=None, description="Where alerts go (channel id or #name); default: a DM to the requester"
    )


class ListMonitorsArgs(ToolArgs):
    channel: str | None = Field(default=None, description="Only monitors of this channel")


class StopMonitorArgs(ToolArgs):
    channel: str = Field(min_length=1, description="Channel id (C…) or #name to stop watching")


_unavailable = not_available_yet("monitor_channel", "channel keyword monitoring")

TOOL = Tool(
    name="monitor_channel",
    summary="watch a channel for keywords and alert you when they appear",
    description="Start monitoring a Slack channel for keywords or phrases (case-insensitive, whole words).",
    args_model=MonitorChannelArgs,
    handler=_unavailable,
    examples=("monitor slack channel #alerts for keywords: error, critical, down",),
    available=False,
)

LIST_TOOL = Tool(
    name="list_monitors",
    summary="list the active channel monitors",
    description="List active keyword monitors, optionally for one channel.",
    args_model=ListMonitorsArgs,
    handler=_unavailable,
    examples=("list monitors",),
    available=False,
)

STOP_TOOL = Tool(
    name="stop_monitor",
    summary="stop monitoring a channel",
    description="Stop the keyword monitor of a channel (its creator or an admin).",
    args_model=StopMonitorArgs,
    handler=_unavailable,
    examples=("stop monitoring #alerts",),
    available=False,
)
