"""A thread's messages as transcript lines: who said what, when, without noise.

Bot messages (ours included) and join/leave/topic noise are left out; every kept message becomes one Line, with
Slack markup made readable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from synapse_bot.summaries.slack_text import readable

NOISE_SUBTYPES = {
    "channel_join",
    "channel_leave",
    "group_join",
    "group_leave",
    "channel_topic",
    "channel_purpose",
    "channel_name",
    "channel_archive",
    "channel_unarchive",
    "pinned_item",
    "unpinned_item",
    "bot_message",
    "bot_add",
    "bot_remove",
    "message_deleted",
    "tombstone",
    "reminder_add",
}
MAX_LINE_CHARS = 4_000
# In a transcript, a line's time is shown only this long after the last time shown (and on a new day, the date):
# a full date and time on every line was a tenth of a long thread's summary prompt (issue #26, item 4).
STAMP_GAP_S = 600


@dataclass(frozen=True)
class Line:
    ts: str
    author: str
    text: str

    def render(self) -> str:
        when = datetime.fromtimestamp(float(self.ts), UTC).strftime("%Y-%m-%d %H:%M")
        return f"[{when}] {self.author}: {self.text}"

    def render_after(self, stamped: Line | None) -> tuple[str, bool]:
        """The line as it follows `stamped` (the last line of the same transcript whose time was shown): the date
        and time first and on another day, the time after `STAMP_GAP_S`, else no stamp; and whether it shows one."""
        if stamped is None:
            return self.render(), True
        now, then = float(self.ts), float(stamped.ts)
        moment = datetime.fromtimestamp(now, UTC)
        if moment.date() != datetime.fromtimestamp(then, UTC).date():
            return self.render(), True
        if now - then >= STAMP_GAP_S:
            return f"[{moment.strftime('%H:%M')}] {self.author}: {self.text}", True
        return f"{self.author}: {self.text}", False


def is_noise(message: Mapping[str, Any], bot_user_id: str | None = None) -> bool:
    if message.get("subtype") in NOISE_SUBTYPES or message.get("bot_id") or message.get("app_id"):
        return True
    if bot_user_id and message.get("user") == bot_user_id:
        return True
    if bot_user_id and str(message.get("text", "")).lstrip().startswith(f"<@{bot_user_id}>"):
        return True  # a request addressed to the bot, not part of the discussion
    return not str(message.get("text", "")).strip() and not message.get("files")


def build_lines(
    messages: Iterable[Mapping[str, Any]],
    users: Mapping[str, str],
    channels: Mapping[str, str] | None = None,
    bot_user_id: str | None = None,
) -> list[Line]:
    lines = []
    for message in messages:
        if is_noise(message, bot_user_id):
            continue
        text = readable(str(message.get("text", "")), users, channels).strip()
        files = message.get("files") or []
        if files:
            names = ", ".join(str(f.get("name") or f.get("title") or "file") for f in files if isinstance(f, dict))
            text = (text + f" [attached: {names}]").strip()
        if len(text) > MAX_LINE_CHARS:
            text = text[:MAX_LINE_CHARS] + " …[truncated]"
        user = str(message.get("user", ""))
        lines.append(Line(ts=str(message["ts"]), author=users.get(user) or user or "someone", text=text))
    return lines
