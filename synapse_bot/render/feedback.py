"""👍 / 👎 under model-written answers: Slack's `feedback_buttons` element, in a `context_actions` block.

A click arrives as one `block_actions` action of type `feedback_buttons` whose `value` is the pressed button's:
`positive:<request id>` or `negative:<request id>`. It is recorded as MLflow feedback on that request's trace.
Older answers carry two plain buttons (`synapse_feedback_up` / `_down`, value = the request id); their clicks are
still understood.
"""

from __future__ import annotations

from typing import Any

FEEDBACK = "synapse_feedback"
FEEDBACK_UP = "synapse_feedback_up"  # the hand-made buttons of answers posted before the element
FEEDBACK_DOWN = "synapse_feedback_down"
POSITIVE, NEGATIVE = "positive", "negative"


def feedback_buttons(request_id: str) -> list[dict[str, Any]]:
    """The element (one, holding both buttons) to put under an answer."""
    return [
        {
            "type": "feedback_buttons",
            "action_id": FEEDBACK,
            "positive_button": {
                "text": {"type": "plain_text", "text": "👍"},
                "accessibility_label": "This answer was helpful",
                "value": f"{POSITIVE}:{request_id}",
            },
            "negative_button": {
                "text": {"type": "plain_text", "text": "👎"},
                "accessibility_label": "This answer was not helpful",
                "value": f"{NEGATIVE}:{request_id}",
            },
        }
    ]


def parse_feedback(action_id: str, value: str) -> tuple[str, bool] | None:
    """(request id, positive) from a feedback click, of either generation; None when it is not one."""
    if action_id == FEEDBACK:
        verdict, _, request_id = value.partition(":")
        if verdict in (POSITIVE, NEGATIVE) and request_id:
            return request_id, verdict == POSITIVE
        return None
    if action_id in (FEEDBACK_UP, FEEDBACK_DOWN) and value:
        return value, action_id == FEEDBACK_UP
    return None


def element_blocks(elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Buttons in an `actions` block, the feedback element in a `context_actions` block after them."""
    feedback = [e for e in elements if e.get("type") == "feedback_buttons"]
    buttons = [e for e in elements if e.get("type") != "feedback_buttons"]
    blocks: list[dict[str, Any]] = []
    if buttons:
        blocks.append({"type": "actions", "elements": buttons[:25]})
    if feedback:
        blocks.append({"type": "context_actions", "elements": feedback[:5]})
    return blocks
