"""What every listener does before acknowledging: claim the delivery once, then hand the job on.

Claiming first makes Slack's at-least-once delivery exactly-once for us (across processes, via Redis);
enqueueing before the ack means a process that dies in between never acknowledged, so Slack redelivers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

import redis

from synapse_bot.jobs.model import SlackRequest
from synapse_bot.store.dedupe import EventDeduper

log = logging.getLogger(__name__)


class Intake:
    def __init__(self, deduper: EventDeduper, submit: Callable[[SlackRequest], None]) -> None:
        self._deduper = deduper
        self._submit = submit

    def accept(self, request: SlackRequest) -> bool:
        """Queue the request unless this delivery was already taken; True when queued."""
        try:
            claimed = self._deduper.claim(request.team_id, request.dedupe_key)
        except (redis.RedisError, OSError) as exc:
            # Without Redis we cannot tell a retry from a first delivery; answering twice beats silence.
            log.warning("dedupe unavailable, handling anyway", extra={"error": type(exc).__name__})
            claimed = True
        if not claimed:
            log.info(
                "duplicate delivery dropped",
                extra={"dedupe_key": request.dedupe_key, "retry_attempt": request.retry_attempt},
            )
            return False
        try:
            self._submit(request)
        except Exception:
            self._release(request)
            raise
        return True

    def _release(self, request: SlackRequest) -> None:
        with contextlib.suppress(redis.RedisError, OSError):
            self._deduper.release(request.team_id, request.dedupe_key)


def retry_attempt(headers: Mapping[str, Sequence[str] | str]) -> int:
    """Bolt maps Socket Mode's retry_attempt to the x-slack-retry-num header."""
    raw = headers.get("x-slack-retry-num")
    value = raw if isinstance(raw, str) else (raw[0] if raw else None)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0
