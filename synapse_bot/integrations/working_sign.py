"""The sign that Synapse has a request: a thread status ("is working on it…"), or 👀 where status is refused.

The gateway shows it right after queueing the job, from a few background threads with their own rate budget, so
it appears within a second even when every worker thread is busy, and it never slows the acknowledgement. The
worker updates the status while it works ("is reading the thread…", from the tool being run) and clears the sign
when the answer is out. `store/signs.py` records which sign was set, so each is cleared exactly once whichever side
finishes first.

Slack's limits: `assistant.threads.setStatus` has "special" limits and `reactions.add` is Tier 3 (50+ a minute,
short bursts tolerated). Each method gets its own token bucket here (status: bursts of 100, 100 a minute; reaction:
bursts of 50, 50 a minute), a 429 pauses that method for its Retry-After, and the sender's client never retries or
sleeps on a 429 itself — so signs are what gets dropped, never the answers' calls that share the workspace budget.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from synapse_bot.request import RequestKind, SlackRequest
from synapse_bot.store.signs import DONE, SignRecords

log = logging.getLogger(__name__)

WORKING_STATUS = "is working on it…"
WORKING_REACTION = "eyes"
STATUS, REACTION = "status", "reaction"
STALE_AFTER_S = 60.0  # a sign that could not be sent for this long is pointless: the worker is on it by now
SENDER_THREADS = 16  # calls wait on the network: 16 send ~100 signs/s at ~150 ms per call, twice a 50/s burst
QUEUE_LIMIT = 10_000


def queued_status(ahead: int) -> str:
    """The status while the request waits behind others (Slack shows it after the app's name)."""
    if ahead <= 0:
        return WORKING_STATUS
    return f"has your request — about {ahead} ahead of it, I'll be on it shortly…"


def wants_sign(request: SlackRequest) -> bool:
    """Questions asked in a conversation get a sign; clicks, commands and the Home tab do not, nor a follow-up that
    may turn out to be for the people in the thread (it would flash a sign for nothing)."""
    kinds = (RequestKind.MENTION, RequestKind.SHORTCUT)
    return request.kind in kinds and bool(request.thread_ts) and not request.confirm_addressed


class TokenBucket:
    """`capacity` calls at once, refilled at `per_minute`; `pause` honours a 429's Retry-After."""

    def __init__(self, capacity: int, per_minute: float) -> None:
        self.capacity = capacity
        self.rate = per_minute / 60.0
        self._tokens = float(capacity)
        self._stamp = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now < self._paused_until:
                return False
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)


@dataclass
class SignBudget:
    status: TokenBucket
    reaction: TokenBucket

    @classmethod
    def slack_defaults(cls) -> SignBudget:
        return cls(TokenBucket(100, 100), TokenBucket(50, 50))


class SlackSigns:
    """Setting and clearing one request's sign through the Web API, within the budget."""

    def __init__(self, client: WebClient, budget: SignBudget | None = None) -> None:
        self._client = client
        self.budget = budget or SignBudget.slack_defaults()

    def show(self, request: SlackRequest, status: str) -> str | None:
        """Set the status (else 👀 on the request's message); which one was set, or None."""
        if request.thread_ts and self.budget.status.take():
            try:
                self._client.assistant_threads_setStatus(
                    channel_id=request.channel_id, thread_ts=request.thread_ts, status=status
                )
                return STATUS
            except SlackApiError as exc:
                self._refused(exc, self.budget.status, "assistant.threads.setStatus")
        if request.message_ts and request.kind is RequestKind.MENTION and self.budget.reaction.take():
            try:
                self._client.reactions_add(
                    channel=request.channel_id, timestamp=request.message_ts, name=WORKING_REACTION
                )
                return REACTION
            except SlackApiError as exc:
                if exc.response.get("error") == "already_reacted":
                    return REACTION
                self._refused(exc, self.budget.reaction, "reactions.add")
        return None

    def update(self, request: SlackRequest, status: str) -> bool:
        """A new status line while working (best effort: a refusal or an empty budget changes nothing)."""
        if not request.thread_ts or not self.budget.status.take():
            return False
        try:
            self._client.assistant_threads_setStatus(
                channel_id=request.channel_id, thread_ts=request.thread_ts, status=status
            )
        except SlackApiError as exc:
            self._refused(exc, self.budget.status, "assistant.threads.setStatus")
            return False
        return True

    def clear(self, request: SlackRequest, kind: str) -> None:
        try:
            if kind == REACTION and request.message_ts:
                self._client.reactions_remove(
                    channel=request.channel_id, timestamp=request.message_ts, name=WORKING_REACTION
                )
            elif kind == STATUS and request.thread_ts:
                self._client.assistant_threads_setStatus(
                    channel_id=request.channel_id, thread_ts=request.thread_ts, status=""
                )
        except SlackApiError as exc:
            log.info("working sign not cleared", extra={"error": exc.response.get("error")})

    @staticmethod
    def _refused(exc: SlackApiError, bucket: TokenBucket, method: str) -> None:
        if exc.response.status_code == 429:
            retry_after = float(exc.response.headers.get("Retry-After", 1) or 1)
            bucket.pause(retry_after)
            log.warning("working sign rate limited", extra={"method": method, "retry_after_s": retry_after})
        else:
            log.info("working sign refused", extra={"method": method, "error": exc.response.get("error")})


class SignSender:
    """The gateway's side: `offer` (on the ack path: a queue put) and a few threads that set the signs."""

    def __init__(
        self,
        signs: SlackSigns,
        records: SignRecords,
        *,
        waiting: Callable[[], int] | None = None,
        threads: int = SENDER_THREADS,
    ) -> None:
        self._signs = signs
        self._records = records
        self._waiting = waiting
        self._queue: queue.Queue[tuple[float, int, SlackRequest] | None] = queue.Queue(QUEUE_LIMIT)
        self._offered = 0  # requests offered so far: those offered after one were queued behind it
        self._count_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, name=f"synapse-sign-{i}", daemon=True) for i in range(threads)
        ]
        self.sent = 0
        self.dropped = 0

    def start(self) -> SignSender:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        for thread in self._threads:
            thread.join(timeout=5)

    def offer(self, request: SlackRequest) -> None:
        if not wants_sign(request):
            return
        with self._count_lock:
            self._offered += 1
            seq = self._offered
        try:
            self._queue.put_nowait((time.monotonic(), seq, request))
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            offered, seq, request = item
            try:
                self._send(offered, seq, request)
            except Exception:
                log.exception("working sign failed")

    def _ahead(self, seq: int) -> int:
        """Jobs waiting before this one: the queue's length, less this one and those this gateway queued after it."""
        if self._waiting is None:
            return 0
        behind = self._offered - seq
        return max(0, self._waiting() - behind - 1)

    def _send(self, offered: float, seq: int, request: SlackRequest) -> None:
        if time.monotonic() - offered > STALE_AFTER_S:
            self.dropped += 1
            return
        try:
            if self._records.settled(request.team_id, request.dedupe_key):
                return  # answered already, or a progress status already shows
            ahead = self._ahead(seq)
        except (redis.RedisError, OSError):
            return  # without the record the worker could not clear it: show nothing rather than a stuck sign
        kind = self._signs.show(request, queued_status(ahead))
        if kind is None:
            self.dropped += 1
            return
        self.sent += 1
        try:
            previous = self._records.mark(request.team_id, request.dedupe_key, kind)
        except (redis.RedisError, OSError):
            return
        if previous == DONE:  # the answer came out while the sign was on its way: take it down again
            self._signs.clear(request, kind)
            self._records.mark(request.team_id, request.dedupe_key, DONE)


class WorkingSigns:
    """The worker's side: status updates while working, and the sign cleared once the answer is out.

    With `gateway_signs` the gateway has set the sign; without (a runtime with no gateway sender) the worker sets it
    itself when the job starts, as before.
    """

    def __init__(self, signs: SlackSigns, records: SignRecords | None, *, gateway_signs: bool) -> None:
        self._signs = signs
        self._records = records
        self._gateway_signs = gateway_signs and records is not None
        self._progressed: set[str] = set()  # requests whose thread shows a progress status
        self._lock = threading.Lock()

    def begin(self, request: SlackRequest) -> str | None:
        """Set the sign unless the gateway does; what this call set (for `end`)."""
        if self._gateway_signs or not wants_sign(request):
            return None
        return self._signs.show(request, WORKING_STATUS)

    def progress(self, request: SlackRequest, status: str) -> None:
        if wants_sign(request) and self._signs.update(request, status):
            with self._lock:
                first = request.dedupe_key not in self._progressed
                self._progressed.add(request.dedupe_key)
            if first and self._gateway_signs:
                self._note_progress(request)

    def _note_progress(self, request: SlackRequest) -> None:
        assert self._records is not None
        # On failure, at worst the gateway's sign replaces this status until the next one.
        with contextlib.suppress(redis.RedisError, OSError):
            self._records.note_progress(request.team_id, request.dedupe_key)

    def end(self, request: SlackRequest, set_here: str | None) -> None:
        """The answer is out: clear the sign (and any progress status), whoever set it."""
        if not wants_sign(request):
            return
        previous = self._mark(request, DONE) if self._records is not None else None
        kind = set_here or previous
        if kind in (STATUS, REACTION):
            self._signs.clear(request, kind)
        with self._lock:
            progressed = request.dedupe_key in self._progressed
            self._progressed.discard(request.dedupe_key)
        if progressed and kind != STATUS:
            self._signs.clear(request, STATUS)  # a progress status over a 👀, or where the sign never landed

    def _mark(self, request: SlackRequest, value: str) -> str | None:
        assert self._records is not None
        try:
            return self._records.mark(request.team_id, request.dedupe_key, value)
        except (redis.RedisError, OSError):
            return None
