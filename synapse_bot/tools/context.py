"""What a tool handler gets: the request, the settings and the clients it may use, passed in explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from synapse_bot.config import Settings
from synapse_bot.jobs.model import SlackRequest

if TYPE_CHECKING:
    from synapse_bot.tools.registry import ToolRegistry


@dataclass
class ToolContext:
    request: SlackRequest
    settings: Settings
    registry: ToolRegistry
