"""Turn finished answer text into Slack message payloads."""

from __future__ import annotations

from typing import Any

from synapse_bot.render.sanitize import neutralize_mass_mentions
from synapse_bot.render.split import MAX_MESSAGE_CHARS, split_message


def escape_mrkdwn(text: str) -> str:
    """mrkdwn escapes only &, < and >."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# A cut can turn a neutralised "…x@hereafter" into a piece starting "@here" or ending "@here": neutralising each
# piece again adds at most one word joiner at each end, so pieces are cut that much shorter.
_RENEUTRALISE_ROOM = 2


def safe_pieces(markdown: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """`markdown` split to fit `limit`, every piece neutralised after its cut (no live or half `<!…>` token)."""
    pieces = split_message(neutralize_mass_mentions(markdown), limit - _RENEUTRALISE_ROOM)
    return [neutralize_mass_mentions(piece) for piece in pieces]


def message_payloads(markdown: str, *, limit: int = MAX_MESSAGE_CHARS) -> list[dict[str, Any]]:
    """One payload per piece: a standard-Markdown block plus the same text as the notification fallback."""
    return [{"text": piece, "blocks": [{"type": "markdown", "text": piece}]} for piece in safe_pieces(markdown, limit)]
