"""Turn finished answer text into Slack message payloads."""

from __future__ import annotations

from typing import Any

from synapse_bot.render.sanitize import neutralize_mass_mentions
from synapse_bot.render.split import MAX_MESSAGE_CHARS, split_message


def escape_mrkdwn(text: str) -> str:
    """mrkdwn escapes only &, < and >."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message_payloads(markdown: str, *, limit: int = MAX_MESSAGE_CHARS) -> list[dict[str, Any]]:
    """One payload per piece: a standard-Markdown block plus the same text as the notification fallback."""
    safe = neutralize_mass_mentions(markdown)
    return [{"text": piece, "blocks": [{"type": "markdown", "text": piece}]} for piece in split_message(safe, limit)]
