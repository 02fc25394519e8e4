"""The sandbox workspace's data: people, channels, messages. Pure data, no I/O; guarded by one lock."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class User:
    id: str
    name: str
    real_name: str
    display_name: str
    is_admin: bool = False
    is_bot: bool = False
    is_guest: bool = False  # a multi-channel guest: reads only the conversations they are in
    tz: str = "Europe/London"

    def as_api(self, team_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": False,
            "is_bot": self.is_bot,
            "is_admin": self.is_admin,
            "is_restricted": self.is_guest,
            "is_ultra_restricted": False,
            "tz": self.tz,
            "profile": {"display_name": self.display_name, "real_name": self.real_name},
        }


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    is_archived: bool = False
    members: set[str] = field(default_factory=set)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # ts -> message

    def as_api(self, bot_user_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private and not self.is_im,
            "is_group": self.is_private,
            "is_im": self.is_im,
            "is_private": self.is_private,
            "is_member": bot_user_id in self.members,
            "is_archived": self.is_archived,
            "num_members": len(self.members),
        }

    def thread(self, ts: str) -> list[dict[str, Any]]:
        parent = self.messages.get(ts)
        if parent is None:
            return []
        root = parent.get("thread_ts", ts)
        items = [m for m in self.messages.values() if m["ts"] == root or m.get("thread_ts") == root]
        return sorted(items, key=lambda m: float(m["ts"]))

    def top_level(self) -> list[dict[str, Any]]:
        items = [
            m
            for m in self.messages.values()
            if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
        ]
        return sorted(items, key=lambda m: float(m["ts"]), reverse=True)


class Workspace:
    def __init__(self, team_id: str, team_domain: str, bot_user_id: str, bot_id: str, bot_name: str) -> None:
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.lock = threading.RLock()
        self.users: dict[str, User] = {bot_user_id: User(bot_user_id, bot_name, bot_name, bot_name, is_bot=True)}
        self.channels: dict[str, Channel] = {}
        self.user_groups: dict[str, list[str]] = {}
        self._ids = itertools.count(1)
        self._last_ts_us = 0
        self._ts_lock = threading.Lock()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):07d}"

    def next_ts(self) -> str:
        """Now, as Slack stamps a message (so dates read as today), kept strictly increasing, >= 100 µs apart."""
        with self._ts_lock:
            self._last_ts_us = max(time.time_ns() // 1000, self._last_ts_us + 100)
            micros = self._last_ts_us
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def channel(self, channel_id: str) -> Channel | None:
        return self.channels.get(channel_id)

    def add_message(self, channel: Channel, message: dict[str, Any]) -> dict[str, Any]:
        """Store a message; a reply updates its parent's thread fields as Slack does."""
        message.setdefault("type", "message")
        message.setdefault("ts", self.next_ts())
        channel.messages[message["ts"]] = message
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            parent = channel.messages.get(thread_ts)
            if parent is not None:
                parent["thread_ts"] = thread_ts
                parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
                users = list(parent.get("reply_users", []))
                author = message.get("user")
                if author and author not in users:
                    users.append(author)
                parent["reply_users"] = users
                parent["reply_users_count"] = len(users)
                parent["latest_reply"] = message["ts"]
        return message

    def permalink(self, channel_id: str, ts: str) -> str:
        message = self.channels[channel_id].messages.get(ts, {})
        link = f"https://{self.team_domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"
        thread = message.get("thread_ts")
        if thread and thread != ts:
            link += f"?thread_ts={thread}&cid={channel_id}"
        return link


def new_event_id() -> str:
    return "Ev" + uuid.uuid4().hex[:10].upper()
