"""The sandbox's Slack Web API: the methods Synapse uses, with Slack's request and response shapes and errors.

Bodies may be form-encoded or JSON (slack_sdk sends both); the token comes from `Authorization: Bearer` or the
body. Every call is recorded (tokens removed) so tests can count them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from synapse_sandbox.workspace.state import Channel

if TYPE_CHECKING:
    from synapse_sandbox.workspace.sandbox import SlackSandbox

Handler = Callable[[dict[str, Any], str], Awaitable[dict[str, Any]] | dict[str, Any]]
MAX_TEXT = 40_000
MAX_BLOCKS = 50
JSON_FIELDS = ("blocks", "attachments", "view", "users", "metadata", "chunks", "prompts")
MAX_PROMPTS = 4


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.time)
    status: str = "ok"


class SlackApiFailure(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _visible(messages: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    """Copies of messages as the API returns them: metadata only with include_all_metadata, as Slack does."""
    with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
    return [m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in map(dict, messages)]


def _page(items: list[Any], params: dict[str, Any], default_limit: int, max_limit: int) -> tuple[list[Any], str]:
    limit = min(int(params.get("limit") or default_limit), max_limit) or default_limit
    start = int(params.get("cursor") or 0) if str(params.get("cursor") or "0").isdigit() else 0
    page = items[start : start + limit]
    next_cursor = str(start + limit) if start + limit < len(items) else ""
    return page, next_cursor


class WebApi:
    def __init__(self, sandbox: SlackSandbox) -> None:
        self.sb = sandbox
        self.ws = sandbox.workspace
        self.handlers: dict[str, Handler] = {
            "auth.test": self.auth_test,
            "apps.connections.open": self.connections_open,
            "chat.postMessage": self.post_message,
            "chat.update": self.update,
            "chat.postEphemeral": self.post_ephemeral,
            "chat.getPermalink": self.get_permalink,
            "conversations.replies": self.replies,
            "conversations.history": self.history,
            "conversations.info": self.info,
            "conversations.list": self.list_channels,
            "conversations.members": self.members,
            "conversations.join": self.join,
            "conversations.open": self.open_im,
            "users.info": self.users_info,
            "users.list": self.users_list,
            "usergroups.users.list": self.usergroup_users,
            "reactions.add": self.reactions_add,
            "reactions.remove": self.reactions_remove,
            "views.publish": self.views_publish,
            "assistant.threads.setStatus": self.set_status,
            "assistant.threads.setTitle": self.set_title,
            "assistant.threads.setSuggestedPrompts": self.set_suggested_prompts,
            "chat.startStream": self.start_stream,
            "chat.appendStream": self.append_stream,
            "chat.stopStream": self.stop_stream,
        }

    # Plumbing ----------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or str(params.pop("token", ""))
        params.pop("token", None)
        if self.sb.api_latency_s:
            await asyncio.sleep(self.sb.api_latency_s)  # the way to Slack and back, as from a real network
        call = ApiCall(method, params)
        self.sb.api_calls.append(call)
        knob = self.sb.take_rate_limit(method)
        if knob is not None:
            call.status = "ratelimited"
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(knob)}
            )
        forced = self.sb.take_failure(method)
        if forced:
            call.status = forced
            return web.json_response({"ok": False, "error": forced})
        handler = self.handlers.get(method)
        if handler is None:
            call.status = "unknown_method"
            return web.json_response({"ok": False, "error": "unknown_method"})
        try:
            self._authorise(method, token)
            with self.ws.lock:
                result = handler(params, token)
            if asyncio.iscoroutine(result):
                result = await result
        except SlackApiFailure as failure:
            call.status = failure.error
            return web.json_response({"ok": False, "error": failure.error, **failure.extra})
        assert isinstance(result, dict)
        return web.json_response({"ok": True, **result})

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                params.update(dict(await request.post()))
        for key in JSON_FIELDS:
            if isinstance(params.get(key), str) and params[key][:1] in "[{":
                try:
                    params[key] = json.loads(params[key])
                except json.JSONDecodeError as exc:
                    raise web.HTTPBadRequest(text=f"invalid JSON in {key}") from exc
        return params

    def _authorise(self, method: str, token: str) -> None:
        if not token:
            raise SlackApiFailure("not_authed")
        if method == "apps.connections.open":
            if token != self.sb.app_token:
                raise SlackApiFailure("not_allowed_token_type" if token.startswith("xox") else "invalid_auth")
            return
        if token.startswith("xapp-"):
            raise SlackApiFailure("not_allowed_token_type")
        if token != self.sb.bot_token:
            raise SlackApiFailure("invalid_auth")

    def _channel(self, params: dict[str, Any], key: str = "channel", need_member: bool = False) -> Channel:
        channel = self.ws.channel(str(params.get(key, "")))
        if channel is None:
            raise SlackApiFailure("channel_not_found")
        if need_member and channel.is_archived:
            raise SlackApiFailure("is_archived")
        if need_member and self.ws.bot_user_id not in channel.members:
            raise SlackApiFailure("not_in_channel")
        return channel

    # Identity ----------------------------------------------------------------------------------------

    def auth_test(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        return {
            "url": f"https://{self.ws.team_domain}.slack.com/",
            "team": self.ws.team_domain,
            "user": self.sb.bot_name,
            "team_id": self.ws.team_id,
            "user_id": self.ws.bot_user_id,
            "bot_id": self.ws.bot_id,
            "is_enterprise_install": False,
        }

    def connections_open(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        return {"url": self.sb.socket_url()}

    # Messages ------------------------------------------------------------------------------------------

    def _validate_content(self, params: dict[str, Any]) -> None:
        text, blocks = params.get("text"), params.get("blocks")
        if not text and not blocks and not params.get("attachments") and not params.get("markdown_text"):
            raise SlackApiFailure("no_text")
        if text and len(str(text)) > MAX_TEXT:
            raise SlackApiFailure("msg_too_long")
        if blocks is not None:
            if not isinstance(blocks, list) or not all(isinstance(b, dict) and b.get("type") for b in blocks):
                raise SlackApiFailure("invalid_blocks")
            if len(blocks) > MAX_BLOCKS:
                raise SlackApiFailure("invalid_blocks", errors=["must contain at most 50 blocks"])

    def post_message(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._channel(params, need_member=True)
        self._validate_content(params)
        message: dict[str, Any] = {
            "type": "message",
            "user": self.ws.bot_user_id,
            "bot_id": self.ws.bot_id,
            "app_id": self.sb.app_id,
            "text": str(params.get("text") or ""),
            "team": self.ws.team_id,
        }
        if params.get("blocks"):
            message["blocks"] = params["blocks"]
        if isinstance(params.get("metadata"), dict):
            message["metadata"] = params["metadata"]
        if params.get("thread_ts"):
            thread_ts = str(params["thread_ts"])
            if thread_ts not in channel.messages:
                raise SlackApiFailure("thread_not_found")
            message["thread_ts"] = channel.messages[thread_ts].get("thread_ts", thread_ts)
        message = self.ws.add_message(channel, message)
        self.sb.emit_message_event(channel, message)
        return {"channel": channel.id, "ts": message["ts"], "message": message}

    def update(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._channel(params)
        message = channel.messages.get(str(params.get("ts", "")))
        if message is None:
            raise SlackApiFailure("message_not_found")
        if message.get("user") != self.ws.bot_user_id:
            raise SlackApiFailure("cant_update_message")
        self._validate_content(params)
        message["text"] = str(params.get("text") or message.get("text", ""))
        if "blocks" in params:
            message["blocks"] = params["blocks"]
        if isinstance(params.get("metadata"), dict):
            message["metadata"] = params["metadata"]
        message["edited"] = {"user": self.ws.bot_user_id, "ts": self.ws.next_ts()}
        return {"channel": channel.id, "ts": message["ts"], "text": message["text"]}

    def post_ephemeral(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._channel(params, need_member=True)
        if str(params.get("user", "")) not in channel.members and not channel.is_im:
            raise SlackApiFailure("user_not_in_channel")
        self._validate_content(params)
        ts = self.ws.next_ts()
        self.sb.ephemerals.append(
            {
                "channel": channel.id,
                "user": params.get("user"),
                "text": params.get("text"),
                "blocks": params.get("blocks"),
                "thread_ts": params.get("thread_ts"),
                "ts": ts,
            }
        )
        return {"message_ts": ts}

    def get_permalink(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._channel(params)
        ts = str(params.get("message_ts", ""))
        if ts not in channel.messages:
            raise SlackApiFailure("message_not_found")
        return {"channel": channel.id, "permalink": self.ws.permalink(channel.id, ts)}

    # Conversations -------------------------------------------------------------------------------

    def _readable(self, params: dict[str, Any]) -> Channel:
        channel = self._channel(params)
        if (channel.is_private or channel.is_im) and self.ws.bot_user_id not in channel.members:
            raise SlackApiFailure("channel_not_found")
        return channel

    def replies(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._readable(params)
        ts = str(params.get("ts", ""))
        if ts not in channel.messages:
            raise SlackApiFailure("thread_not_found")
        items = channel.thread(ts)
        oldest, latest = params.get("oldest"), params.get("latest")
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
        if oldest:
            items = [
                m
                for m in items
                if float(m["ts"]) > float(oldest) or (inclusive and m["ts"] == oldest) or m["ts"] == items[0]["ts"]
            ]
        if latest:
            items = [m for m in items if float(m["ts"]) < float(latest) or (inclusive and m["ts"] == latest)]
        page, cursor = _page(items, params, 1000, 1000)
        return {
            "messages": _visible(page, params),
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def history(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._readable(params)
        items = channel.top_level()
        if params.get("oldest"):
            items = [m for m in items if float(m["ts"]) > float(params["oldest"])]
        if params.get("latest"):
            items = [m for m in items if float(m["ts"]) < float(params["latest"])]
        page, cursor = _page(items, params, 100, 999)
        return {
            "messages": _visible(page, params),
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def info(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        return {"channel": self._readable(params).as_api(self.ws.bot_user_id)}

    def list_channels(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        types = str(params.get("types") or "public_channel").split(",")
        items = [
            c.as_api(self.ws.bot_user_id)
            for c in self.ws.channels.values()
            if not c.is_im
            and (
                ("private_channel" in types and c.is_private and self.ws.bot_user_id in c.members)
                or ("public_channel" in types and not c.is_private)
            )
        ]
        page, cursor = _page(items, params, 100, 1000)
        return {"channels": page, "response_metadata": {"next_cursor": cursor}}

    def members(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._readable(params)
        page, cursor = _page(sorted(channel.members), params, 100, 1000)
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    def join(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._channel(params)
        if channel.is_private:
            raise SlackApiFailure("method_not_supported_for_channel_type")
        channel.members.add(self.ws.bot_user_id)
        return {"channel": channel.as_api(self.ws.bot_user_id)}

    def open_im(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        users = params.get("users")
        user_list = users if isinstance(users, list) else str(users or "").split(",")
        user_list = [u for u in user_list if u]
        if not user_list or any(u not in self.ws.users for u in user_list):
            raise SlackApiFailure("user_not_found")
        channel = self.sb.im_channel(user_list[0])
        return {"channel": {"id": channel.id}}

    # People ------------------------------------------------------------------------------------------

    def users_info(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        user = self.ws.users.get(str(params.get("user", "")))
        if user is None:
            raise SlackApiFailure("user_not_found")
        return {"user": user.as_api(self.ws.team_id)}

    def users_list(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        people = [u.as_api(self.ws.team_id) for u in sorted(self.ws.users.values(), key=lambda u: u.id)]
        page, cursor = _page(people, params, 100, 1000)
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    def usergroup_users(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        group = str(params.get("usergroup", ""))
        if group not in self.ws.user_groups:
            raise SlackApiFailure("no_such_subteam")
        return {"users": list(self.ws.user_groups[group])}

    # Reactions, views, status, streams ---------------------------------------------------------------

    def reactions_add(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._channel(params, need_member=True)
        message = channel.messages.get(str(params.get("timestamp", "")))
        if message is None:
            raise SlackApiFailure("message_not_found")
        name = str(params.get("name", ""))
        reactions = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name:
                if self.ws.bot_user_id in reaction["users"]:
                    raise SlackApiFailure("already_reacted")
                reaction["users"].append(self.ws.bot_user_id)
                reaction["count"] += 1
                break
        else:
            reactions.append({"name": name, "users": [self.ws.bot_user_id], "count": 1})
        self.sb.reaction_log.append(("add", channel.id, message["ts"], name))
        return {}

    def reactions_remove(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._channel(params, need_member=True)
        message = channel.messages.get(str(params.get("timestamp", "")))
        if message is None:
            raise SlackApiFailure("message_not_found")
        name = str(params.get("name", ""))
        for reaction in message.get("reactions", []):
            if reaction["name"] == name and self.ws.bot_user_id in reaction["users"]:
                reaction["users"].remove(self.ws.bot_user_id)
                reaction["count"] -= 1
                message["reactions"] = [r for r in message["reactions"] if r["count"] > 0]
                self.sb.reaction_log.append(("remove", channel.id, message["ts"], name))
                return {}
        raise SlackApiFailure("no_reaction")

    def views_publish(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        user = str(params.get("user_id", ""))
        view = params.get("view")
        if user not in self.ws.users:
            raise SlackApiFailure("user_not_found")
        if not isinstance(view, dict) or view.get("type") != "home" or not isinstance(view.get("blocks"), list):
            raise SlackApiFailure("invalid_arguments")
        if len(view["blocks"]) > 100:
            raise SlackApiFailure("invalid_arguments", errors=["must contain at most 100 blocks"])
        self.sb.home_views[user] = view
        return {"view": {"id": "V" + self.ws.new_id("V"), **view}}

    def set_status(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._channel(params, key="channel_id", need_member=True)
        self.sb.statuses.append(
            {"channel_id": channel.id, "thread_ts": params.get("thread_ts"), "status": params.get("status", "")}
        )
        return {}

    def _thread(self, params: dict[str, Any]) -> Channel:
        channel = self._channel(params, key="channel_id", need_member=True)
        if str(params.get("thread_ts", "")) not in channel.messages:
            raise SlackApiFailure("invalid_thread_ts")
        return channel

    def set_title(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._thread(params)
        if not params.get("title"):
            raise SlackApiFailure("invalid_arguments")
        self.sb.titles.append({"channel_id": channel.id, "thread_ts": params["thread_ts"], "title": params["title"]})
        return {}

    def set_suggested_prompts(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._thread(params)
        prompts = params.get("prompts")
        if (
            not isinstance(prompts, list)
            or not 0 < len(prompts) <= MAX_PROMPTS
            or not all(isinstance(p, dict) and p.get("title") and p.get("message") for p in prompts)
        ):
            raise SlackApiFailure("invalid_arguments")
        self.sb.suggested_prompts.append(
            {
                "channel_id": channel.id,
                "thread_ts": params["thread_ts"],
                "title": params.get("title"),
                "prompts": prompts,
            }
        )
        return {}

    def start_stream(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._channel(params, need_member=True)
        if not params.get("thread_ts"):
            raise SlackApiFailure("invalid_arguments", errors=["thread_ts is required"])
        if not channel.is_im and not (params.get("recipient_team_id") and params.get("recipient_user_id")):
            raise SlackApiFailure(
                "missing_recipient_team_id" if not params.get("recipient_team_id") else "missing_recipient_user_id"
            )
        message = self.ws.add_message(
            channel,
            {
                "user": self.ws.bot_user_id,
                "bot_id": self.ws.bot_id,
                "app_id": self.sb.app_id,
                "text": _stream_text(params),
                "thread_ts": channel.messages[str(params["thread_ts"])].get("thread_ts", params["thread_ts"])
                if str(params["thread_ts"]) in channel.messages
                else params["thread_ts"],
                "team": self.ws.team_id,
                "streaming": True,
            },
        )
        self.sb.stream_log.append(("start", message["ts"], message["text"], time.time()))
        return {"channel": channel.id, "ts": message["ts"]}

    def append_stream(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._channel(params)
        message = channel.messages.get(str(params.get("ts", "")))
        if message is None or not message.get("streaming"):
            raise SlackApiFailure("message_not_in_streaming_state")
        piece = _stream_text(params)
        message["text"] += piece
        self.sb.stream_log.append(("append", message["ts"], piece, time.time()))
        return {"channel": channel.id, "ts": message["ts"]}

    def stop_stream(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        channel = self._channel(params)
        message = channel.messages.get(str(params.get("ts", "")))
        if message is None or not message.get("streaming"):
            raise SlackApiFailure("message_not_in_streaming_state")
        piece = _stream_text(params)
        message["text"] += piece
        if params.get("blocks"):
            message["blocks"] = params["blocks"]
        if isinstance(params.get("metadata"), dict):
            message["metadata"] = params["metadata"]
        message.pop("streaming", None)
        self.sb.stream_log.append(("stop", message["ts"], piece, time.time()))
        return {"channel": channel.id, "ts": message["ts"], "message": dict(message)}


def _stream_text(params: dict[str, Any]) -> str:
    """The text a streaming call carries: `markdown_text`, and/or `chunks` of type markdown_text."""
    text = str(params.get("markdown_text") or "")
    for chunk in params.get("chunks") or []:
        if isinstance(chunk, dict) and chunk.get("type") == "markdown_text":
            text += str(chunk.get("text") or "")
    return text
