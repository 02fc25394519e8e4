"""Slack-facing listeners: each acknowledges at once and hands the work to a job."""

from __future__ import annotations

from slack_bolt import App

from synapse_bot.listeners import actions, commands, events, shortcuts
from synapse_bot.listeners.intake import Intake
from synapse_bot.tools.registry import ToolRegistry


def register_all(app: App, intake: Intake, registry: ToolRegistry) -> None:
    events.register(app, intake)
    commands.register(app, intake)
    shortcuts.register(app, intake)
    actions.register(app, intake, registry)
