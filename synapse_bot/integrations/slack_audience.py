"""Who can read a Slack conversation, for the privacy rule (`synapse_bot/privacy.py`): kind, sharing, members.

`conversations.info` gives the kind and whether the conversation is shared with another organisation;
`conversations.members` (paged) the members, fetched only when the rule needs them (for a public channel only when
guests or another organisation are involved); `users.list` the workspace's guest accounts. Conversations are
cached in Redis for a minute (a membership change counts within a minute), guest accounts for ten. A conversation
Slack will not describe is reported as unknown, which the rule treats as not shareable: the answer goes privately.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from synapse_bot.privacy import Conversation, Delivery, Verdict, Visibility, decide
from synapse_bot.store.keys import Keys

log = logging.getLogger(__name__)

AUDIENCE_TTL_S = 60
GUESTS_TTL_S = 600
MEMBERS_PAGE = 1000
MAX_MEMBER_PAGES = 50


def _error_of(exc: Exception) -> str:
    return str(exc.response.get("error")) if isinstance(exc, SlackApiError) else type(exc).__name__


def visibility_of(info: dict[str, Any]) -> Visibility:
    if info.get("is_im"):
        return Visibility.DIRECT
    if info.get("is_mpim"):
        return Visibility.GROUP_DIRECT
    if info.get("is_private") or info.get("is_group"):
        return Visibility.PRIVATE
    return Visibility.PUBLIC


class ConversationAudience:
    def __init__(self, client: WebClient, redis_client: redis.Redis | None, keys: Keys, bot_user_id: str) -> None:
        self._client = client
        self._redis = redis_client
        self._keys = keys
        self.bots = frozenset({bot_user_id})

    def verdict(self, team: str, sources: Sequence[str], destination_id: str, requester: str) -> Verdict:
        """Where an answer quoting `sources`, asked by `requester` in `destination_id`, may be posted."""
        others = [s for s in dict.fromkeys(sources) if s and s != destination_id]
        if not others:
            return Verdict(Delivery.IN_PLACE)
        # A non-public conversation is always described with its members; a public one only when the rule needs
        # them: a destination holding guests, and a public source quoted where guests or another organisation read.
        infos = [self.describe(team, source, with_members=False) for source in others]
        guests = self.guests(team) if any(i.visibility is Visibility.PUBLIC for i in infos) else frozenset()
        destination = self.describe(team, destination_id, with_members=bool(guests))
        if destination.members is None and destination_id.startswith("D"):
            # A DM the request came from (Slack may not describe it without im:read): the requester and Synapse.
            destination = Conversation(destination_id, "", Visibility.DIRECT, frozenset({requester}) | self.bots)
        visiting = (destination.members or frozenset()) & guests
        described = [
            self.describe(team, info.id, with_members=True)
            if info.visibility is Visibility.PUBLIC and (destination.shared_externally or visiting)
            else info
            for info in infos
        ]
        return decide(described, destination, requester, self.bots, guests)

    def guests(self, team: str) -> frozenset[str]:
        """The workspace's guest accounts (`users.list`, cached ten minutes); none known if Slack will not say."""
        key = self._keys.key(team, "audience", "_guests")
        if self._redis is not None:
            try:
                raw = self._redis.get(key)
            except (redis.RedisError, OSError):
                raw = None
            if raw:
                return frozenset(json.loads(raw))
        found: set[str] = set()
        cursor = None
        try:
            for _ in range(MAX_MEMBER_PAGES):
                params: dict[str, Any] = {"limit": MEMBERS_PAGE}
                if cursor:
                    params["cursor"] = cursor
                response = self._client.users_list(**params)
                for user in response.get("members") or []:
                    if (user.get("is_restricted") or user.get("is_ultra_restricted")) and not user.get("deleted"):
                        found.add(str(user["id"]))
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except (SlackApiError, OSError) as exc:
            log.warning("guest accounts not read; treating none as guests", extra={"error": _error_of(exc)})
            return frozenset()
        if self._redis is not None:
            with contextlib.suppress(redis.RedisError, OSError):
                self._redis.set(key, json.dumps(sorted(found)), ex=GUESTS_TTL_S)
        return frozenset(found)

    def describe(self, team: str, channel: str, *, with_members: bool) -> Conversation:
        cached = self._cached(team, channel)
        if cached is not None and (cached.members is not None or not with_members):
            return cached
        try:
            info: dict[str, Any] = self._client.conversations_info(channel=channel).get("channel") or {}
        except (SlackApiError, OSError) as exc:
            log.info("conversation not described", extra={"channel": channel, "error": _error_of(exc)})
            return self._unknown(channel)
        visibility = visibility_of(info)
        members = None
        if with_members or visibility is not Visibility.PUBLIC:
            members = self._members(channel)
            if members is None:
                return self._unknown(channel)
        conversation = Conversation(
            id=channel,
            name=str(info.get("name") or ""),
            visibility=visibility,
            members=members,
            shared_externally=bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared")),
        )
        self._store(team, conversation)
        return conversation

    @staticmethod
    def _unknown(channel: str) -> Conversation:
        return Conversation(id=channel, name="", visibility=Visibility.PRIVATE, members=None, shared_externally=True)

    def _members(self, channel: str) -> frozenset[str] | None:
        members: set[str] = set()
        cursor = None
        try:
            for _ in range(MAX_MEMBER_PAGES):
                params: dict[str, Any] = {"channel": channel, "limit": MEMBERS_PAGE}
                if cursor:
                    params["cursor"] = cursor
                response = self._client.conversations_members(**params)
                members.update(str(m) for m in response.get("members") or [])
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return frozenset(members)
        except (SlackApiError, OSError) as exc:
            log.info("members not read", extra={"channel": channel, "error": _error_of(exc)})
        return None  # unreadable, or more pages than we will read: unknown

    # Cache -------------------------------------------------------------------------------------------

    def _key(self, team: str, channel: str) -> str:
        return self._keys.key(team, "audience", channel)

    def _cached(self, team: str, channel: str) -> Conversation | None:
        if self._redis is None:
            return None
        try:
            raw = self._redis.get(self._key(team, channel))
        except (redis.RedisError, OSError):
            return None
        if not raw:
            return None
        data = json.loads(raw)
        members = data.get("members")
        return Conversation(
            id=channel,
            name=str(data.get("name") or ""),
            visibility=Visibility(data["visibility"]),
            members=frozenset(members) if members is not None else None,
            shared_externally=bool(data.get("shared_externally")),
        )

    def _store(self, team: str, conversation: Conversation) -> None:
        if self._redis is None:
            return
        data = {
            "name": conversation.name,
            "visibility": conversation.visibility.value,
            "members": sorted(conversation.members) if conversation.members is not None else None,
            "shared_externally": conversation.shared_externally,
        }
        with contextlib.suppress(redis.RedisError, OSError):
            self._redis.set(self._key(team, conversation.id), json.dumps(data), ex=AUDIENCE_TTL_S)
