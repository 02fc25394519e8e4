"""What every listener does before acknowledging: claim the delivery once, then hand the job on.

Claiming first makes Slack's at-least-once delivery exactly-once for us (across processes, via Redis);
enqueueing before the ack means a process that dies in between never acknowledged, so Slack redelivers.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis
from slack_bolt import BoltContext

from synapse_bot.logs import redact
from synapse_bot.request import RequestKind, SlackRequest
from synapse_bot.store.dedupe import EventDeduper
from synapse_bot.store.outage import RedisWatch

log = logging.getLogger(__name__)

UNSYNCED_LIMIT = 50_000


class LocalClaims:
    """The dedupe fallback while Redis is down: claims remembered by this process only (bounded, oldest dropped)."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return True


class Intake:
    def __init__(
        self,
        deduper: EventDeduper,
        submit: Callable[[SlackRequest], None],
        watch: RedisWatch | None = None,
        secrets: Sequence[str] = (),
        monitored: Callable[[str, str], bool] | None = None,
        on_queued: Callable[[SlackRequest], None] | None = None,
    ) -> None:
        self._monitored = monitored
        self._on_queued = on_queued  # e.g. the working sign, sent off the ack path
        self._secrets = tuple(s for s in secrets if s)
        self._deduper = deduper
        self._submit = submit
        self._watch = watch or RedisWatch()
        self._local = LocalClaims()
        # Deliveries claimed only in memory while Redis was down: written to Redis once it answers again, so a
        # later retry of one of them — to this gateway or another — is recognised there.
        self._unsynced: list[tuple[str, str]] = []
        self._unsynced_lock = threading.Lock()

    @property
    def remembers_for(self) -> int:
        """Seconds a claimed delivery is remembered (and so recognised when it comes again)."""
        return self._deduper.ttl_seconds

    def accept(self, request: SlackRequest) -> bool:
        """Queue the request unless this delivery was already taken; True when queued."""
        if request.kind is RequestKind.MESSAGE and not self._wanted(request):
            return False
        claimed = self._claim(request)
        if not claimed:
            log.info(
                "duplicate delivery dropped",
                extra={"dedupe_key": request.dedupe_key, "retry_attempt": request.retry_attempt},
            )
            return False
        scrubbed = self._scrubbed(request)
        try:
            self._submit(scrubbed)
        except Exception:
            self._release(request)
            raise
        if self._on_queued is not None:
            self._on_queued(scrubbed)
        return True

    def _wanted(self, request: SlackRequest) -> bool:
        """A channel message is work only where a monitor watches: elsewhere it is acknowledged and forgotten."""
        if self._monitored is None or not self._watch.usable():
            return True
        try:
            wanted = self._monitored(request.team_id, request.channel_id)
        except (redis.RedisError, OSError) as exc:
            self._watch.failed(exc)
            return True  # cannot tell: let a worker decide
        self._watch.ok()  # this call may have been the outage probe: its success ends degraded mode
        return wanted

    def _scrubbed(self, request: SlackRequest) -> SlackRequest:
        """A configured secret pasted into Slack is never queued, remembered, traced or echoed."""
        if not self._secrets:
            return request
        raw = request.model_dump_json()
        clean = redact(raw, self._secrets)
        return request if clean == raw else SlackRequest.model_validate_json(clean)

    def _claim(self, request: SlackRequest) -> bool:
        local = self._local.claim(f"{request.team_id}:{request.dedupe_key}")
        if self._watch.usable():
            try:
                self._sync_outage_claims()
                claimed = self._deduper.claim(request.team_id, request.dedupe_key)
            except (redis.RedisError, OSError) as exc:
                self._watch.failed(exc)
            else:
                self._watch.ok()
                return claimed
        # Without Redis only this process's memory tells a retry from a first delivery.
        if local:
            with self._unsynced_lock:
                self._unsynced.append((request.team_id, request.dedupe_key))
                del self._unsynced[:-UNSYNCED_LIMIT]  # a long outage keeps the newest (Slack retries for minutes)
        return local

    def _sync_outage_claims(self) -> None:
        with self._unsynced_lock:
            pending, self._unsynced = self._unsynced, []
        if not pending:
            return
        try:
            self._deduper.claim_many(pending)
        except (redis.RedisError, OSError):
            with self._unsynced_lock:
                self._unsynced[:0] = pending  # still down: keep them for the next probe
            raise
        log.info("outage claims written to redis", extra={"claims": len(pending)})

    def _release(self, request: SlackRequest) -> None:
        with contextlib.suppress(redis.RedisError, OSError):
            self._deduper.release(request.team_id, request.dedupe_key)


def answer_key(channel_id: str, ts: str) -> str:
    """The claim of one answer per message, whichever path delivered it: a mention, a DM, a follow-up, the agent
    view — and every redelivery and later edit of it, which share the message's channel and ts."""
    return f"answer:{channel_id}:{ts}"


def retry_attempt(headers: Mapping[str, Sequence[str] | str]) -> int:
    """Bolt maps Socket Mode's retry_attempt to the x-slack-retry-num header."""
    raw = headers.get("x-slack-retry-num")
    value = raw if isinstance(raw, str) else (raw[0] if raw else None)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def slack_request(context: BoltContext, kind: RequestKind, dedupe_key: str, **fields: Any) -> SlackRequest:
    """A SlackRequest for what Bolt received: team, user and channel come from Bolt's context."""
    return SlackRequest(
        kind=kind,
        dedupe_key=dedupe_key,
        team_id=context.team_id or "",
        user_id=context.user_id or "",
        channel_id=context.channel_id or "",
        **fields,
    )
