"""SlackSandbox: a local Slack workspace over real sockets, and the control API tests and the demo drive it with.

People post, mention the bot, run `/synapse`, click the shortcut or a button; the sandbox turns each act into the
Events API / slash command / interactive payload Slack would send, over Socket Mode, and records what the bot
does through the Web API.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from synapse_sandbox.server import BackgroundServer
from synapse_sandbox.workspace.socket_mode import AckRecord, SocketHub
from synapse_sandbox.workspace.state import Channel, User, Workspace, new_event_id
from synapse_sandbox.workspace.web_api import ApiCall, WebApi

MessagePredicate = Callable[[dict[str, Any]], bool]


class SlackSandbox:
    def __init__(
        self,
        *,
        bot_token: str = "xoxb-sandbox-bot-token",
        app_token: str = "xapp-sandbox-app-token",
        team_id: str = "T0SANDBOX",
        team_domain: str = "sandbox",
        bot_user_id: str = "U0SYNAPSE",
        bot_id: str = "B0SYNAPSE",
        bot_name: str = "synapse",
        app_id: str = "A0SYNAPSE",
        ack_timeout: float = 3.0,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_name = bot_name
        self.app_id = app_id
        self.workspace = Workspace(team_id, team_domain, bot_user_id, bot_id, bot_name)
        self.hub = SocketHub(app_id=app_id, ack_timeout=ack_timeout)
        self.api = WebApi(self)
        self.api_calls: list[ApiCall] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.home_views: dict[str, dict[str, Any]] = {}
        self.statuses: list[dict[str, Any]] = []
        self.stream_log: list[tuple[str, str, str, float]] = []  # (start|append|stop, ts, text, time.time())
        self.titles: list[dict[str, Any]] = []
        self.suggested_prompts: list[dict[str, Any]] = []
        self.reaction_log: list[tuple[str, str, str, str]] = []
        self.response_url_posts: list[dict[str, Any]] = []
        self._rate_limits: dict[str, list[float]] = {}
        self.api_latency_s = 0.0  # every Web API call takes this long (benchmarks: a real network's round trip)
        self._failures: dict[str, list[str | None]] = {}
        self._event_envelopes: list[tuple[str, str]] = []  # (event type, envelope id)
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/api/{method}", self.api.handle)
        app.router.add_get("/api/{method}", self.api.handle)
        app.router.add_get("/link/", self.hub.handle)
        app.router.add_post("/response/{token}", self._response_url)
        self._server = BackgroundServer(app)

    # Lifecycle -------------------------------------------------------------------------------------

    def start(self) -> SlackSandbox:
        self._server.start()
        self.hub.loop = self._server.loop
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._server.run(self.hub.drop_all(), timeout=5)
        self._server.stop()

    def __enter__(self) -> SlackSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def api_url(self) -> str:
        return self._server.base_url + "/api/"

    @property
    def team_id(self) -> str:
        return self.workspace.team_id

    @property
    def bot_user_id(self) -> str:
        return self.workspace.bot_user_id

    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self._server.port}/link/?ticket={uuid.uuid4().hex}&app_id={self.app_id}"

    # Workspace setup ----------------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        real_name: str | None = None,
        display_name: str | None = None,
        is_admin: bool = False,
        is_guest: bool = False,
        tz: str = "Europe/London",
    ) -> str:
        with self.workspace.lock:
            user_id = self.workspace.new_id("U")
            self.workspace.users[user_id] = User(
                user_id, name, real_name or name, display_name or name, is_admin, is_guest=is_guest, tz=tz
            )
            return user_id

    def users(self) -> list[dict[str, Any]]:
        with self.workspace.lock:
            return [{"id": u.id, "name": u.name, "is_bot": u.is_bot} for u in self.workspace.users.values()]

    def add_channel(
        self, name: str, *, members: list[str] | None = None, is_private: bool = False, bot_member: bool = True
    ) -> str:
        with self.workspace.lock:
            channel_id = self.workspace.new_id("G" if is_private else "C")
            channel = Channel(channel_id, name, is_private=is_private, members=set(members or []))
            if bot_member:
                channel.members.add(self.workspace.bot_user_id)
            self.workspace.channels[channel_id] = channel
            return channel_id

    def archive_channel(self, channel_id: str) -> None:
        """Archive a channel, as a person does in Slack: nobody may post in it any more."""
        with self.workspace.lock:
            self.workspace.channels[channel_id].is_archived = True

    def remove_bot(self, channel_id: str) -> None:
        """Remove the app from a channel (`/remove @synapse`)."""
        with self.workspace.lock:
            self.workspace.channels[channel_id].members.discard(self.workspace.bot_user_id)

    def add_user_group(self, handle: str, members: list[str]) -> str:
        with self.workspace.lock:
            group_id = self.workspace.new_id("S")
            self.workspace.user_groups[group_id] = list(members)
            return group_id

    def im_channel(self, user: str) -> Channel:
        with self.workspace.lock:
            for channel in self.workspace.channels.values():
                if channel.is_im and channel.members == {user, self.workspace.bot_user_id}:
                    return channel
            channel = Channel(self.workspace.new_id("D"), user, is_im=True, members={user, self.workspace.bot_user_id})
            self.workspace.channels[channel.id] = channel
            return channel

    def join(self, user: str, channel_id: str) -> str:
        with self.workspace.lock:
            channel = self.workspace.channels[channel_id]
            channel.members.add(user)
            message = self.workspace.add_message(
                channel, {"user": user, "subtype": "channel_join", "text": f"<@{user}> has joined the channel"}
            )
        self._emit_event(self._message_event(channel, message))
        return str(message["ts"])

    # People act --------------------------------------------------------------------------------------

    def post_message(self, user: str, channel_id: str, text: str, thread_ts: str | None = None) -> str:
        with self.workspace.lock:
            channel = self.workspace.channels[channel_id]
            message: dict[str, Any] = {"user": user, "text": text, "team": self.team_id}
            if thread_ts:
                message["thread_ts"] = channel.messages[thread_ts].get("thread_ts", thread_ts)
            message = self.workspace.add_message(channel, message)
            in_channel = self.workspace.bot_user_id in channel.members
        if in_channel:
            self._emit_event(self._message_event(channel, message))
            if f"<@{self.workspace.bot_user_id}>" in text and not channel.is_im:  # no app_mention in DMs
                mention = {
                    "type": "app_mention",
                    "user": user,
                    "text": text,
                    "ts": message["ts"],
                    "channel": channel_id,
                    "event_ts": message["ts"],
                    "team": self.team_id,
                }
                if message.get("thread_ts"):
                    mention["thread_ts"] = message["thread_ts"]
                self._emit_event(mention)
        return str(message["ts"])

    def mention(self, user: str, channel_id: str, text: str, thread_ts: str | None = None) -> str:
        return self.post_message(user, channel_id, f"<@{self.workspace.bot_user_id}> {text}", thread_ts=thread_ts)

    def direct_message(self, user: str, text: str, thread_ts: str | None = None) -> str:
        """`user` writes to Synapse in their DM with it (the App Home's messages tab)."""
        return self.post_message(user, self.im_channel(user).id, text, thread_ts=thread_ts)

    # The agent view (assistant side panel) ------------------------------------------------------------

    def start_assistant_thread(self, user: str, context_channel: str | None = None) -> tuple[str, str]:
        """`user` opens Synapse's side panel (while looking at `context_channel`): a new thread in their DM.

        Returns (DM channel id, thread ts). Slack starts the thread with a message of its own and sends
        `assistant_thread_started`.
        """
        channel = self.im_channel(user)
        with self.workspace.lock:
            root = self.workspace.add_message(
                channel,
                {
                    "user": self.bot_user_id,
                    "bot_id": self.workspace.bot_id,
                    "subtype": "assistant_app_thread",
                    "text": "New chat",
                },
            )
        self._emit_event(
            {
                "type": "assistant_thread_started",
                "assistant_thread": self._assistant_thread(user, channel.id, str(root["ts"]), context_channel),
                "event_ts": self.workspace.next_ts(),
            }
        )
        return channel.id, str(root["ts"])

    def change_assistant_context(self, user: str, channel_id: str, thread_ts: str, context_channel: str) -> str:
        """`user` switches to another channel while the side panel's thread stays open."""
        return self._emit_event(
            {
                "type": "assistant_thread_context_changed",
                "assistant_thread": self._assistant_thread(user, channel_id, thread_ts, context_channel),
                "event_ts": self.workspace.next_ts(),
            }
        )

    def _assistant_thread(
        self, user: str, channel_id: str, thread_ts: str, context_channel: str | None
    ) -> dict[str, Any]:
        context = (
            {"channel_id": context_channel, "team_id": self.team_id, "enterprise_id": None} if context_channel else {}
        )
        return {"user_id": user, "context": context, "channel_id": channel_id, "thread_ts": thread_ts}

    def edit_message(self, user: str, channel_id: str, ts: str, new_text: str) -> None:
        with self.workspace.lock:
            channel = self.workspace.channels[channel_id]
            message = channel.messages[ts]
            previous = dict(message)
            message["text"] = new_text
            message["edited"] = {"user": user, "ts": self.workspace.next_ts()}
            event = {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "channel": channel_id,
                "ts": self.workspace.next_ts(),
                "event_ts": self.workspace.next_ts(),
                "message": dict(message),
                "previous_message": previous,
                "channel_type": self._channel_type(channel),
            }
            in_channel = self.workspace.bot_user_id in channel.members
        if not in_channel:
            return
        self._emit_event(event)
        if f"<@{self.workspace.bot_user_id}>" in new_text:
            # Slack sends app_mention again for an edited message that mentions the app: same ts, an `edited`
            # field and a new event id.
            mention = {
                "type": "app_mention",
                "user": message.get("user", user),
                "text": new_text,
                "ts": ts,
                "channel": channel_id,
                "event_ts": message["edited"]["ts"],
                "edited": dict(message["edited"]),
                "team": self.team_id,
            }
            if message.get("thread_ts") and message["thread_ts"] != ts:
                mention["thread_ts"] = message["thread_ts"]
            self._emit_event(mention)

    def delete_message(self, channel_id: str, ts: str) -> None:
        """Remove a message and send message_deleted, as Slack does when a person deletes one."""
        with self.workspace.lock:
            channel = self.workspace.channels[channel_id]
            previous = channel.messages.pop(ts)
            parent = channel.messages.get(str(previous.get("thread_ts", "")))
            if parent is not None and parent is not previous:
                parent["reply_count"] = max(0, int(parent.get("reply_count", 1)) - 1)
            event = {
                "type": "message",
                "subtype": "message_deleted",
                "hidden": True,
                "channel": channel_id,
                "ts": self.workspace.next_ts(),
                "deleted_ts": ts,
                "event_ts": self.workspace.next_ts(),
                "previous_message": previous,
                "channel_type": self._channel_type(channel),
            }
            in_channel = self.workspace.bot_user_id in channel.members
        if in_channel:
            self._emit_event(event)

    def seed_thread(self, channel_id: str, author: str, texts: list[str], repliers: list[str] | None = None) -> str:
        """Create a thread without emitting events (fast, for thousands of replies). Returns the root ts."""
        repliers = repliers or [author]
        with self.workspace.lock:
            channel = self.workspace.channels[channel_id]
            root = self.workspace.add_message(channel, {"user": author, "text": texts[0], "team": self.team_id})
            for i, text in enumerate(texts[1:]):
                self.workspace.add_message(
                    channel,
                    {"user": repliers[i % len(repliers)], "text": text, "thread_ts": root["ts"], "team": self.team_id},
                )
            return str(root["ts"])

    def seed_message(
        self, channel_id: str, user: str, text: str, *, at: float | None = None, thread_ts: str | None = None
    ) -> str:
        """Store one message posted at `at` (epoch seconds; default now) without emitting events. Returns its ts."""
        with self.workspace.lock:
            channel = self.workspace.channels[channel_id]
            message: dict[str, Any] = {"user": user, "text": text, "team": self.team_id}
            if at is not None:
                message["ts"] = f"{at:.6f}"
            if thread_ts:
                message["thread_ts"] = thread_ts
            return str(self.workspace.add_message(channel, message)["ts"])

    def slash_command(self, user: str, channel_id: str, text: str, command: str = "/synapse") -> str:
        with self.workspace.lock:
            channel = self.workspace.channels[channel_id]
            person = self.workspace.users[user]
        payload = {
            "token": "sandbox-verification",
            "team_id": self.team_id,
            "team_domain": self.workspace.team_domain,
            "channel_id": channel_id,
            "channel_name": channel.name,
            "user_id": user,
            "user_name": person.name,
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": self._new_response_url(),
            "trigger_id": self._trigger_id(),
        }
        return self._send("slash_commands", payload)

    def message_shortcut(
        self, user: str, channel_id: str, message_ts: str, callback_id: str = "synapse_summarize_thread"
    ) -> str:
        with self.workspace.lock:
            channel = self.workspace.channels[channel_id]
            message = dict(channel.messages[message_ts])
            person = self.workspace.users[user]
        payload = {
            "type": "message_action",
            "token": "sandbox-verification",
            "action_ts": str(time.time()),
            "team": {"id": self.team_id, "domain": self.workspace.team_domain},
            "user": {"id": user, "username": person.name, "team_id": self.team_id, "name": person.name},
            "channel": {"id": channel_id, "name": channel.name},
            "is_enterprise_install": False,
            "callback_id": callback_id,
            "trigger_id": self._trigger_id(),
            "response_url": self._new_response_url(),
            "message_ts": message_ts,
            "message": message,
        }
        return self._send("interactive", payload)

    def click_button(
        self, user: str, channel_id: str, message_ts: str, action_id: str, value: str | None = None
    ) -> str:
        message = self._message(channel_id, message_ts)
        button, block_id = _find_button(message.get("blocks") or [], action_id)
        if button is None:
            raise AssertionError(f"no button {action_id!r} in message {message_ts}: {message.get('blocks')}")
        action = {
            "action_id": action_id,
            "block_id": block_id,
            "text": button.get("text"),
            "value": value if value is not None else button.get("value"),
            "type": "button",
            "action_ts": str(time.time()),
        }
        return self._send("interactive", self._message_action(user, channel_id, message_ts, message, action))

    def click_feedback(self, user: str, channel_id: str, message_ts: str, *, positive: bool) -> str:
        """Press 👍 (or 👎) of the `feedback_buttons` element under a message: Slack's `block_actions` shape."""
        message = self._message(channel_id, message_ts)
        element, block_id = _find_element(message.get("blocks") or [], "feedback_buttons")
        if element is None:
            raise AssertionError(f"no feedback buttons in message {message_ts}: {message.get('blocks')}")
        pressed = element["positive_button" if positive else "negative_button"]
        action = {
            "type": "feedback_buttons",
            "action_id": element.get("action_id"),
            "block_id": block_id,
            "text": pressed.get("text"),
            "value": pressed.get("value"),
            "action_ts": str(time.time()),
        }
        return self._send("interactive", self._message_action(user, channel_id, message_ts, message, action))

    def _message(self, channel_id: str, message_ts: str) -> dict[str, Any]:
        with self.workspace.lock:
            return dict(self.workspace.channels[channel_id].messages[message_ts])

    def _message_action(
        self, user: str, channel_id: str, message_ts: str, message: dict[str, Any], action: dict[str, Any]
    ) -> dict[str, Any]:
        """Slack's `block_actions` payload for one action on an element of a channel message."""
        with self.workspace.lock:
            channel = self.workspace.channels[channel_id]
            person = self.workspace.users[user]
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        if message.get("thread_ts"):
            container["thread_ts"] = message["thread_ts"]
        return {
            "type": "block_actions",
            "user": {"id": user, "username": person.name, "name": person.name, "team_id": self.team_id},
            "api_app_id": self.app_id,
            "token": "sandbox-verification",
            "container": container,
            "trigger_id": self._trigger_id(),
            "team": {"id": self.team_id, "domain": self.workspace.team_domain},
            "channel": {"id": channel_id, "name": channel.name},
            "message": message,
            "state": {"values": {}},
            "response_url": self._new_response_url(),
            "actions": [action],
        }

    def click_home_button(self, user: str, action_id: str, *, view_owner: str | None = None) -> str:
        """Click a button in the Home tab the bot published (to `view_owner`, default: the clicker)."""
        view = self.home_views.get(view_owner or user)
        if view is None:
            raise AssertionError(f"no home view published for {view_owner or user}")
        button, block_id = _find_button(view.get("blocks") or [], action_id)
        if button is None:
            raise AssertionError(f"no button {action_id!r} in the home view")
        with self.workspace.lock:
            person = self.workspace.users[user]
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": person.name, "name": person.name, "team_id": self.team_id},
            "api_app_id": self.app_id,
            "token": "sandbox-verification",
            "container": {"type": "view", "view_id": "VHOME"},
            "trigger_id": self._trigger_id(),
            "team": {"id": self.team_id, "domain": self.workspace.team_domain},
            "view": {"id": "VHOME", "type": "home", **view},
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": button.get("text"),
                    "value": button.get("value"),
                    "type": "button",
                    "action_ts": str(time.time()),
                }
            ],
        }
        return self._send("interactive", payload)

    def open_home(self, user: str) -> str:
        channel = self.im_channel(user)
        return self._emit_event(
            {
                "type": "app_home_opened",
                "user": user,
                "channel": channel.id,
                "tab": "home",
                "event_ts": self.workspace.next_ts(),
            }
        )

    def send_event(
        self, event: dict[str, Any], *, retry_attempt: int = 0, retry_reason: str = "", event_id: str | None = None
    ) -> str:
        return self._emit_event(event, retry_attempt=retry_attempt, retry_reason=retry_reason, event_id=event_id)

    def deliver_again(self, envelope_id: str, *, retry_attempt: int = 1, retry_reason: str = "timeout") -> None:
        envelope = self.hub.envelopes[envelope_id]
        envelope.retry_attempt, envelope.retry_reason = retry_attempt, retry_reason
        self._server.run(self.hub.deliver(envelope_id))

    def last_envelope_for_event(self, event_type: str) -> str:
        for kind, envelope_id in reversed(self._event_envelopes):
            if kind == event_type:
                return envelope_id
        raise AssertionError(f"no {event_type} event was sent")

    # Connections ---------------------------------------------------------------------------------------

    def connection_count(self) -> int:
        return len([ws for ws in self.hub.connections if not ws.closed])

    def wait_connected(self, n: int = 1, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connection_count() >= n:
                return True
            time.sleep(0.02)
        return False

    def request_disconnect(self, reason: str = "refresh_requested", close_after: float = 1.0) -> None:
        asyncio.run_coroutine_threadsafe(self.hub.disconnect_all(reason, close_after), self._server.loop)

    def drop_connections(self) -> None:
        self._server.run(self.hub.drop_all())

    @property
    def acks(self) -> dict[str, AckRecord]:
        return self.hub.acks

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> AckRecord:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.hub.acks.get(envelope_id)
            if record is not None:
                return record
            time.sleep(0.005)
        raise AssertionError(f"envelope {envelope_id} was not acknowledged within {timeout}s")

    # Knobs -----------------------------------------------------------------------------------------------

    def rate_limit(self, method: str, times: int = 1, retry_after: float = 1) -> None:
        self._rate_limits.setdefault(method, []).extend([retry_after] * times)

    def take_rate_limit(self, method: str) -> float | None:
        queue = self._rate_limits.get(method)
        return queue.pop(0) if queue else None

    def fail(self, method: str, error: str = "internal_error", times: int = 1, after: int = 0) -> None:
        """The next `times` calls of `method` answer `ok: false` with `error`, once `after` calls have succeeded."""
        self._failures.setdefault(method, []).extend([None] * after + [error] * times)

    def take_failure(self, method: str) -> str | None:
        queue = self._failures.get(method)
        return queue.pop(0) if queue else None

    # Reading what happened ----------------------------------------------------------------------------

    def messages(self, channel_id: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        with self.workspace.lock:
            channel = self.workspace.channels[channel_id]
            items = channel.thread(thread_ts) if thread_ts else list(reversed(channel.top_level()))
            return [dict(m) for m in items]

    def bot_messages(self, channel_id: str | None = None, thread_ts: str | None = None) -> list[dict[str, Any]]:
        with self.workspace.lock:
            channels = [self.workspace.channels[channel_id]] if channel_id else list(self.workspace.channels.values())
            found = []
            for channel in channels:
                for message in channel.messages.values():
                    if message.get("bot_id") != self.workspace.bot_id or message.get("streaming"):
                        continue  # a message still being streamed is not finished
                    if thread_ts and message.get("thread_ts") != thread_ts:
                        continue
                    if channel_id and not thread_ts and message.get("thread_ts") not in (None, message["ts"]):
                        continue
                    found.append({**message, "channel": channel.id})
            return sorted(found, key=lambda m: float(m["ts"]))

    def all_bot_messages(self) -> list[dict[str, Any]]:
        with self.workspace.lock:
            return sorted(
                (
                    {**m, "channel": c.id}
                    for c in self.workspace.channels.values()
                    for m in c.messages.values()
                    if m.get("bot_id") == self.workspace.bot_id
                ),
                key=lambda m: float(m["ts"]),
            )

    def all_messages(self) -> list[dict[str, Any]]:
        """Every message in every conversation (channels, threads, DMs), oldest first, each with its `channel`."""
        with self.workspace.lock:
            return sorted(
                ({**m, "channel": c.id} for c in self.workspace.channels.values() for m in c.messages.values()),
                key=lambda m: float(m["ts"]),
            )

    def wait_for_bot_message(
        self,
        channel_id: str | None = None,
        thread_ts: str | None = None,
        timeout: float = 10.0,
        predicate: MessagePredicate | None = None,
        count: int = 1,
    ) -> dict[str, Any]:
        """The newest bot message matching, once at least `count` match; AssertionError with a dump on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.bot_messages(channel_id, thread_ts) if predicate is None or predicate(m)]
            if len(found) >= count:
                return found[-1]
            if time.monotonic() >= deadline:
                dump = "\n".join(
                    f"  {m['channel']} {m['ts']} thread={m.get('thread_ts')}: {m.get('text', '')[:200]}"
                    for m in self.all_bot_messages()
                )
                where = f"{channel_id} thread={thread_ts}"
                raise AssertionError(f"no bot message in {where} within {timeout}s; bot posted:\n{dump or '  nothing'}")
            time.sleep(0.02)

    def wait_for_ephemeral(
        self, user: str, timeout: float = 10.0, predicate: MessagePredicate | None = None
    ) -> dict[str, Any]:
        """The newest ephemeral message shown to `user` (matching `predicate`); AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in list(self.ephemerals) if e["user"] == user and (predicate is None or predicate(e))]
            if found:
                return found[-1]
            if time.monotonic() >= deadline:
                raise AssertionError(f"no ephemeral message for {user} within {timeout}s; got {self.ephemerals}")
            time.sleep(0.02)

    def calls(self, method: str) -> list[ApiCall]:
        return [c for c in self.api_calls if c.method == method]

    def reactions(self, channel_id: str, ts: str) -> list[dict[str, Any]]:
        with self.workspace.lock:
            return list(self.workspace.channels[channel_id].messages[ts].get("reactions", []))

    # Internals --------------------------------------------------------------------------------------

    def _trigger_id(self) -> str:
        return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:16]}"

    def _new_response_url(self) -> str:
        return f"{self.base_url}/response/{uuid.uuid4().hex}"

    @staticmethod
    def _channel_type(channel: Channel) -> str:
        return "im" if channel.is_im else ("group" if channel.is_private else "channel")

    def _message_event(self, channel: Channel, message: dict[str, Any]) -> dict[str, Any]:
        event = {
            k: v
            for k, v in message.items()
            if k not in ("reply_count", "reply_users", "latest_reply", "reply_users_count", "reactions")
        }
        event.update(
            {
                "type": "message",
                "channel": channel.id,
                "event_ts": message["ts"],
                "channel_type": self._channel_type(channel),
            }
        )
        if event.get("thread_ts") == event["ts"]:
            event.pop("thread_ts")
        return event

    def emit_message_event(self, channel: Channel, message: dict[str, Any]) -> None:
        """Slack sends the app its own posts too (the app must ignore them)."""
        self._emit_event(self._message_event(channel, message))

    def _emit_event(
        self, event: dict[str, Any], *, retry_attempt: int = 0, retry_reason: str = "", event_id: str | None = None
    ) -> str:
        payload = {
            "token": "sandbox-verification",
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or new_event_id(),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": uuid.uuid4().hex,
        }
        envelope_id = self.hub.new_envelope("events_api", payload, retry_attempt, retry_reason)
        self._event_envelopes.append((str(event.get("type")), envelope_id))
        asyncio.run_coroutine_threadsafe(self.hub.deliver(envelope_id), self._server.loop)
        return envelope_id

    def _send(self, kind: str, payload: dict[str, Any]) -> str:
        envelope_id = self.hub.new_envelope(kind, payload)
        asyncio.run_coroutine_threadsafe(self.hub.deliver(envelope_id), self._server.loop)
        return envelope_id

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.response_url_posts.append({"token": request.match_info["token"], "body": body})
        if body.get("response_type") == "in_channel":
            # Posted as the bot in the invoking channel, as Slack does.
            for record in reversed(self.hub.envelopes.values()):
                if record.payload.get("response_url", "").endswith(request.match_info["token"]):
                    channel_id = record.payload.get("channel_id") or (record.payload.get("channel") or {}).get("id")
                    with self.workspace.lock:
                        channel = self.workspace.channels[str(channel_id)]
                        self.workspace.add_message(
                            channel,
                            {
                                "user": self.bot_user_id,
                                "bot_id": self.workspace.bot_id,
                                "text": body.get("text", ""),
                                "blocks": body.get("blocks"),
                                "thread_ts": body.get("thread_ts"),
                            },
                        )
                    break
        return web.Response(text="ok")


def _find_button(blocks: list[dict[str, Any]], action_id: str) -> tuple[dict[str, Any] | None, str | None]:
    for block in blocks:
        for element in block.get("elements", []) + ([block["accessory"]] if "accessory" in block else []):
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element, block.get("block_id")
    return None, None


def _find_element(blocks: list[dict[str, Any]], element_type: str) -> tuple[dict[str, Any] | None, str | None]:
    for block in blocks:
        for element in block.get("elements", []):
            if isinstance(element, dict) and element.get("type") == element_type:
                return element, block.get("block_id")
    return None, None
