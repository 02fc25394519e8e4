"""Slack-facing listeners: each acknowledges at once and hands the work to a job."""

from __future__ import annotations

from slack_bolt import App

from synapse_bot.listeners import actions, assistant, commands, direct_messages, events, shortcuts
from synapse_bot.listeners.follow_ups import FollowUps
from synapse_bot.listeners.intake import Intake
from synapse_bot.store.conversations import AssistantContexts
from synapse_bot.tools.registry import ToolRegistry


def register_all(
    app: App,
    intake: Intake,
    registry: ToolRegistry,
    *,
    follow_ups: FollowUps | None = None,
    assistant_contexts: AssistantContexts | None = None,
) -> None:
    # Order matters: Bolt runs the first listener that matches, so DMs are taken before the channel-message one.
    if assistant_contexts is not None:
        assistant.register(app, intake, assistant_contexts)
    direct_messages.register(app, intake)
    events.register(app, intake, follow_ups)
    commands.register(app, intake)
    shortcuts.register(app, intake)
    actions.register(app, intake, registry)
