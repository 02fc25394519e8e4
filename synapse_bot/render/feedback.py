"""👍 / 👎 under answers; a click is recorded as MLflow feedback on that request's trace."""

from __future__ import annotations

from typing import Any

FEEDBACK_UP = "synapse_feedback_up"
FEEDBACK_DOWN = "synapse_feedback_down"


def feedback_buttons(request_id: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "button",
            "action_id": FEEDBACK_UP,
            "value": request_id,
            "text": {"type": "plain_text", "text": "👍", "emoji": True},
        },
        {
            "type": "button",
            "action_id": FEEDBACK_DOWN,
            "value": request_id,
            "text": {"type": "plain_text", "text": "👎", "emoji": True},
        },
    ]
