"""Button clicks (block_actions): acknowledged at once, handled by a job.

The buttons are the tools' own (found in the registry) plus 👍/👎 feedback (Slack's `feedback_buttons` element,
whose action carries the pressed button's value); a tool that adds a button needs no change here.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from synapse_bot.listeners.intake import Intake, slack_request
from synapse_bot.render.feedback import FEEDBACK, FEEDBACK_DOWN, FEEDBACK_UP
from synapse_bot.request import RequestKind
from synapse_bot.tools.registry import ToolRegistry


def register(app: App, intake: Intake, registry: ToolRegistry) -> None:
    for action_id in (*registry.action_ids(), FEEDBACK, FEEDBACK_UP, FEEDBACK_DOWN):

        @app.action(action_id)
        def on_action(body: dict[str, Any], action: dict[str, Any], context: BoltContext, ack: Ack) -> None:
            container = body.get("container") or {}
            message = body.get("message") or {}
            intake.accept(
                slack_request(
                    context,
                    RequestKind.ACTION,
                    f"action:{body.get('trigger_id') or action.get('action_ts')}",
                    thread_ts=container.get("thread_ts") or message.get("thread_ts") or message.get("ts"),
                    message_ts=container.get("message_ts") or message.get("ts"),
                    response_url=body.get("response_url"),
                    action_id=str(action.get("action_id")),
                    action_value=action.get("value"),
                )
            )
            ack()
