"""The set of tools Synapse offers, looked up by name; source of help text and function-calling schemas."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from synapse_bot.tools.base import Tool


class ToolRegistry:
    def __init__(self, tools: list[Tool[Any]]) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"duplicate tool name {tool.name}")
            self._tools[tool.name] = tool

    def get(self, name: str) -> Tool[Any] | None:
        return self._tools.get(name)

    def __iter__(self) -> Iterator[Tool[Any]]:
        return iter(self._tools.values())

    def names(self) -> list[str]:
        return list(self._tools)


def default_registry() -> ToolRegistry:
    """Every tool Synapse ships, in the order help lists them."""
    from synapse_bot.tools import help as help_tool
    from synapse_bot.tools import monitor_channel, review_pull_request, summarize_thread, triage_issues

    return ToolRegistry(
        [
            summarize_thread.TOOL,
            monitor_channel.TOOL,
            monitor_channel.LIST_TOOL,
            monitor_channel.STOP_TOOL,
            triage_issues.TOOL,
            review_pull_request.TOOL,
            help_tool.TOOL,
        ]
    )
