"""Button clicks (block_actions): acknowledged at once, handled by a job."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from synapse_bot.jobs.model import RequestKind, SlackRequest
from synapse_bot.listeners.intake import Intake
from synapse_bot.render.feedback import FEEDBACK_DOWN, FEEDBACK_UP
from synapse_bot.render.home import STOP_MONITOR_ACTION
from synapse_bot.tools.review_pull_request import POST_REVIEW_ACTION
from synapse_bot.tools.triage_issues import APPLY_LABELS_ACTION

ACTIONS = (STOP_MONITOR_ACTION, APPLY_LABELS_ACTION, POST_REVIEW_ACTION, FEEDBACK_UP, FEEDBACK_DOWN)


def register(app: App, intake: Intake) -> None:
    for action_id in ACTIONS:

        @app.action(action_id)
        def on_action(body: dict[str, Any], action: dict[str, Any], ack: Ack) -> None:
            container = body.get("container") or {}
            message = body.get("message") or {}
            intake.accept(
                SlackRequest(
                    kind=RequestKind.ACTION,
                    dedupe_key=f"action:{body.get('trigger_id') or action.get('action_ts')}",
                    team_id=str((body.get("team") or {}).get("id") or body.get("user", {}).get("team_id") or ""),
                    user_id=str((body.get("user") or {}).get("id", "")),
                    channel_id=str((body.get("channel") or {}).get("id") or container.get("channel_id") or ""),
                    thread_ts=container.get("thread_ts") or message.get("thread_ts") or message.get("ts"),
                    message_ts=container.get("message_ts") or message.get("ts"),
                    response_url=body.get("response_url"),
                    action_id=str(action.get("action_id")),
                    action_value=action.get("value"),
                )
            )
            ack()
