"""The set of tools Synapse offers, looked up by name: the source of help, function-calling schemas, fast-path
grammars and button handlers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from synapse_bot.llm.schemas import function_parameters
from synapse_bot.tools import (
    get_issue,
    get_pull_request,
    link_github,
    monitor_channel,
    read_channel,
    recap_channel,
    review_pull_request,
    review_queue,
    schedule,
    search_issues,
    search_thread,
    subscribe_repo,
    summarize_thread,
    triage_issues,
)
from synapse_bot.tools import help as help_tool
from synapse_bot.tools.base import ActionHandler, Tool


class ToolRegistry:
    def __init__(self, tools: list[Tool[Any]]) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        self._actions: dict[str, ActionHandler] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"duplicate tool name {tool.name}")
            self._tools[tool.name] = tool
            for action_id, handler in tool.actions.items():
                if action_id in self._actions:
                    raise ValueError(f"two tools answer the button {action_id}")
                self._actions[action_id] = handler

    def get(self, name: str) -> Tool[Any] | None:
        return self._tools.get(name)

    def __iter__(self) -> Iterator[Tool[Any]]:
        return iter(self._tools.values())

    def names(self) -> list[str]:
        return list(self._tools)

    def action(self, action_id: str) -> ActionHandler | None:
        """The handler of a button some tool put under an answer."""
        return self._actions.get(action_id)

    def action_ids(self) -> list[str]:
        return list(self._actions)

    def schemas(self, strict: bool) -> list[dict[str, Any]]:
        """Function-calling tool schemas, generated from the argument models that also validate the calls."""
        schemas = []
        for tool in self:
            if not tool.offered_to_model:
                continue
            function: dict[str, Any] = {
                "name": tool.name,
                "description": tool.description,
                "parameters": function_parameters(tool.args_model, strict),
            }
            if strict:
                function["strict"] = True
            schemas.append({"type": "function", "function": function})
        return schemas


def default_registry() -> ToolRegistry:
    """Every tool Synapse ships, in the order help lists them (and the fast path tries their grammars: recap_channel
    before summarize_thread, which would otherwise read "recap #incidents since yesterday" as a thread). Whole-
    command grammars are tried before the others (`dispatch/fast_path.py`); the schedule tools share one grammar,
    declared on `schedule`."""
    return ToolRegistry(
        [
            recap_channel.TOOL,
            summarize_thread.TOOL,
            search_thread.TOOL,
            read_channel.TOOL,
            monitor_channel.TOOL,
            monitor_channel.LIST_TOOL,
            monitor_channel.STOP_TOOL,
            triage_issues.TOOL,
            review_pull_request.TOOL,
            get_issue.TOOL,
            search_issues.TOOL,
            get_pull_request.TOOL,
            subscribe_repo.TOOL,
            subscribe_repo.UNSUBSCRIBE_TOOL,
            subscribe_repo.LIST_TOOL,
            review_queue.TOOL,
            schedule.TOOL,
            schedule.LIST_TOOL,
            schedule.CANCEL_TOOL,
            schedule.RESUME_TOOL,
            schedule.RUN_TOOL,
            link_github.TOOL,
            help_tool.TOOL,
        ]
    )
