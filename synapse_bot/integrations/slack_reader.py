"""Reading from Slack for the tools: threads (paged), people's names (cached), channels and membership.

Every list call pages with Slack's cursor at the largest page size the method allows, so a 5,000-message thread
is five `conversations.replies` calls. Display names are cached in Redis for a day: a summary of a busy thread
makes one `users.info` call per person the first time and none after.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from synapse_bot.logs import redact
from synapse_bot.store.keys import Keys

log = logging.getLogger(__name__)

REPLIES_PAGE = 1000
HISTORY_PAGE = 999  # conversations.history's largest page
NAME_TTL_S = 86400
MAX_PAGES = 200  # a runaway cursor loop must end


class SlackReadError(Exception):
    """A Slack read that failed in a way the person can act on; `message` says how, `error` is Slack's code."""

    def __init__(self, message: str, error: str = "") -> None:
        super().__init__(message)
        self.error = error


def _paged(call: Any, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    cursor = None
    for _ in range(MAX_PAGES):
        response = call(**params, cursor=cursor) if cursor else call(**params)
        yield from response.get(key) or []
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return


def explain(error: str, channel: str) -> str:
    if error in ("not_in_channel", "channel_not_found"):
        return (
            f"I can't read <#{channel}>: I'm not a member (or it doesn't exist). "
            "Invite me with `/invite @synapse` and ask again."
        )
    if error == "thread_not_found":
        return "I couldn't find that thread — check the link or timestamp (the message may have been deleted)."
    if error == "missing_scope":
        return "I'm missing a Slack permission for that; an admin should reinstall the app from manifest.yml."
    if error == "ratelimited":
        return "Slack is rate-limiting me right now. Please try again in a minute."
    return f"Slack refused the request ({error})."


class SlackReader:
    def __init__(
        self,
        client: WebClient,
        redis_client: redis.Redis | None,
        keys: Keys,
        team_id: str,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self._secrets = secrets
        self._client = client
        self._redis = redis_client
        self._keys = keys
        self._team = team_id

    def _call(self, method: str, **params: Any) -> Any:
        try:
            return getattr(self._client, method)(**params)
        except SlackApiError as exc:
            channel, error = str(params.get("channel", "")), str(exc.response.get("error"))
            raise SlackReadError(explain(error, channel), error) from None

    # Threads ---------------------------------------------------------------------------------------

    def thread_head(self, channel: str, ts: str) -> dict[str, Any]:
        """The parent message (with reply_count / latest_reply): the cheapest way to see whether a thread moved."""
        response = self._call("conversations_replies", channel=channel, ts=ts, limit=1)
        messages = response.get("messages") or []
        if not messages:
            raise SlackReadError(explain("thread_not_found", channel), "thread_not_found")
        head: dict[str, Any] = messages[0]
        return head

    def has_thread(self, channel: str, ts: str) -> bool:
        """Whether the channel has a message at `ts` (a thread's parent, or one of its replies); other failures
        (not a member, rate-limited) raise as usual."""
        try:
            self.thread_head(channel, ts)
        except SlackReadError as exc:
            if exc.error == "thread_not_found":
                return False
            raise
        return True

    def replies(self, channel: str, ts: str, oldest: str | None = None) -> list[dict[str, Any]]:
        """Parent and replies in order (only those after `oldest` when given)."""
        params: dict[str, Any] = {"channel": channel, "ts": ts, "limit": REPLIES_PAGE}
        if oldest:
            params.update(oldest=oldest, inclusive=False)
        messages = list(_paged(lambda **p: self._call("conversations_replies", **p), "messages", **params))
        if oldest:
            messages = [m for m in messages if float(m["ts"]) > float(oldest)]
        if self._secrets:
            # A token pasted into a thread must not reach the model, a summary or the cache.
            messages = [{**m, "text": redact(str(m.get("text") or ""), self._secrets)} for m in messages]
        return messages

    def history(
        self, channel: str, oldest: str, latest: str | None, max_messages: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Top-level messages after `oldest` (and before `latest`), oldest first: the newest `max_messages` of them,
        and whether older ones in the window were left out."""
        params: dict[str, Any] = {"channel": channel, "oldest": oldest, "limit": HISTORY_PAGE}
        if latest:
            params["latest"] = latest
        messages: list[dict[str, Any]] = []
        truncated = False
        for message in _paged(lambda **p: self._call("conversations_history", **p), "messages", **params):
            if len(messages) >= max_messages:
                truncated = True
                break
            messages.append(message)
        messages.sort(key=lambda m: float(m["ts"]))
        if self._secrets:
            messages = [{**m, "text": redact(str(m.get("text") or ""), self._secrets)} for m in messages]
        return messages, truncated

    def latest_thread(self, channel: str) -> str | None:
        """The ts of the most recent message with replies in a channel."""
        response = self._call("conversations_history", channel=channel, limit=100)
        for message in response.get("messages") or []:
            if message.get("reply_count"):
                return str(message["ts"])
        return None

    def recent_history(self, channel: str, oldest: float, limit: int) -> list[dict[str, Any]]:
        """A channel's top-level messages since `oldest` (newest `limit` of them), oldest first."""
        response = self._call("conversations_history", channel=channel, oldest=f"{oldest:.6f}", limit=limit)
        messages = list(reversed(response.get("messages") or []))
        if self._secrets:
            messages = [{**m, "text": redact(str(m.get("text") or ""), self._secrets)} for m in messages]
        return messages

    def permalink(self, channel: str, ts: str) -> str | None:
        try:
            return str(self._call("chat_getPermalink", channel=channel, message_ts=ts).get("permalink"))
        except SlackReadError:
            return None

    def message_links(self, channel: str, messages: Iterable[tuple[str, str | None]]) -> dict[str, str]:
        """Permalinks of many messages, `(ts, thread_ts or None)` each, for one `chat.getPermalink` call.

        Slack's permalinks share one shape: the workspace URL, `/archives/<channel>/p<ts without the dot>`, and for
        a reply `?thread_ts=<parent>&cid=<channel>`; the workspace URL comes from the first message's link.
        """
        items = list(messages)
        if not items:
            return {}
        first = self.permalink(channel, items[0][0])
        if not first or "/archives/" not in first:
            return {}
        base = first.split("/archives/", 1)[0]
        links = {}
        for ts, thread_ts in items:
            link = f"{base}/archives/{channel}/p{ts.replace('.', '')}"
            if thread_ts and thread_ts != ts:
                link += f"?thread_ts={thread_ts}&cid={channel}"
            links[ts] = link
        return links

    # People and channels -----------------------------------------------------------------------

    def _names_key(self) -> str:
        return self._keys.key(self._team, "names", "users")

    def user_names(self, user_ids: Iterable[str]) -> dict[str, str]:
        wanted = sorted({u for u in user_ids if u})
        names: dict[str, str] = {}
        if self._redis is not None and wanted:
            try:
                cached = self._redis.hmget(self._names_key(), wanted)
                names = {u: str(n) for u, n in zip(wanted, cached, strict=True) if n}
            except (redis.RedisError, OSError):
                pass
        missing = [u for u in wanted if u not in names]
        fetched: dict[str, str] = {}
        for user in missing:
            try:
                info = self._call("users_info", user=user).get("user") or {}
            except SlackReadError:
                continue
            profile = info.get("profile") or {}
            fetched[user] = str(
                profile.get("display_name")
                or profile.get("real_name")
                or info.get("real_name")
                or info.get("name")
                or user
            )
        if fetched and self._redis is not None:
            try:
                pipe = self._redis.pipeline()
                pipe.hset(self._names_key(), mapping=dict(fetched))  # type: ignore[arg-type]
                pipe.expire(self._names_key(), NAME_TTL_S)
                pipe.execute()
            except (redis.RedisError, OSError):
                pass
        return {**names, **fetched}

    def resolve_channel(self, ref: str) -> str:
        """A channel id for `C…`/`G…` or `#name`; SlackReadError if no channel has that name."""
        ref = ref.strip()
        if not ref.startswith("#"):
            return ref.upper()
        name = ref[1:].lower()
        for channel in _paged(
            lambda **p: self._call("conversations_list", **p),
            "channels",
            types="public_channel,private_channel",
            exclude_archived=True,
            limit=1000,
        ):
            if str(channel.get("name", "")).lower() == name:
                return str(channel["id"])
        raise SlackReadError(
            f"I can't find a channel called #{name} that I can see. Check the name, or invite me to it."
        )

    def is_member(self, channel: str, user: str) -> bool:
        for member in _paged(
            lambda **p: self._call("conversations_members", **p), "members", channel=channel, limit=1000
        ):
            if member == user:
                return True
        return False

    def user_info(self, user: str) -> dict[str, Any]:
        info: dict[str, Any] = self._call("users_info", user=user).get("user") or {}
        return info

    def open_dm(self, user: str) -> str:
        """The id of Synapse's DM with `user`."""
        return str((self._call("conversations_open", users=user).get("channel") or {}).get("id") or "")

    def channel_info(self, channel: str) -> dict[str, Any]:
        info: dict[str, Any] = self._call("conversations_info", channel=channel).get("channel") or {}
        return info


def dm_channel(reader: SlackReader, user: str) -> str:
    """The DM between Synapse and `user` (`conversations.open`); where Slack will not open it, the user id itself,
    which `chat.postMessage` also takes for a DM."""
    try:
        channel = reader.open_dm(user)
    except SlackReadError:
        return user
    return channel or user
