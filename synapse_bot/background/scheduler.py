"""The scheduler: each schedule's due time turned into one request, whatever the number of processes running it.

Every job-running process runs one scheduler thread. It sleeps until the earliest due time on the index, or until
a schedule is saved in any process (a Redis publish it is subscribed to), and a minute at most; nothing is polled
for. At a due time it claims the run (`store/schedules.py`: one scheduler of any number gets it), checks that it can
still post there, and submits the run as a request of the schedule's owner (`run schedule <id> due <time>`, the
`run_schedule` tool) on the request queue, keyed by schedule and due time: a worker killed mid-way hands the job on
and the post is made once. Then the next due time is recorded. A run missed by more than an hour (Synapse was down)
is skipped and counted; the next post says so. A schedule whose channel was archived, or that Synapse is no longer
in, is paused and its owner told once. Runs hold to the channel's posting rate (SYNAPSE_CHANNEL_REQUESTS_PER_MINUTE):
one over it waits its turn, keeping its due time.

The clock and the wait are parameters, so tests move time on instead of waiting for it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from synapse_bot.request import RequestKind, SlackRequest
from synapse_bot.schedules.model import Schedule
from synapse_bot.schedules.plan import plan_run
from synapse_bot.store.limits import Limiter
from synapse_bot.store.schedules import ScheduleStore, split_member

log = logging.getLogger(__name__)

LONGEST_SLEEP_S = 60.0  # schedules made in another process are seen within this
LEASE_S = 30.0  # a scheduler that dies after claiming leaves the run to another this long after
GONE_ERRORS = ("channel_not_found", "is_archived", "not_in_channel", "channel_is_archived", "missing_scope")

Clock = Callable[[], float]


class RequestSubmitter(Protocol):
    def submit(self, request: SlackRequest) -> None: ...


def run_request(schedule: Schedule, due: float) -> SlackRequest:
    """The request a run is: its owner's, posting where the schedule posts, keyed by schedule and due time."""
    return SlackRequest(
        kind=RequestKind.AUTOMATIC,
        dedupe_key=f"schedule:{schedule.id}:{int(due)}",
        team_id=schedule.team_id,
        user_id=schedule.owner,
        channel_id=schedule.channel_id,
        text=f"run schedule {schedule.id} due {int(due)}",
    )


class Scheduler:
    def __init__(
        self,
        store: ScheduleStore,
        requests: RequestSubmitter,
        slack: WebClient,
        *,
        limiter: Limiter | None = None,
        clock: Clock = time.time,
        longest_sleep_s: float = LONGEST_SLEEP_S,
    ) -> None:
        self.store = store
        self.limiter = limiter
        self.requests = requests
        self.slack = slack
        self.clock = clock
        self.longest_sleep_s = longest_sleep_s
        self.submitted = 0
        self.skipped = 0
        self.deferred = 0
        self.wakeups = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # Lifecycle -------------------------------------------------------------------------------------

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="synapse-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(redis.RedisError):
            self.store.announce()  # wakes this thread (and, harmlessly, every other scheduler)
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _loop(self) -> None:
        changes: redis.client.PubSub | None = None
        while not self._stop.is_set():
            try:
                if changes is None:
                    changes = self.store.changes()
                wait = self.run_due()
                changes.get_message(timeout=wait)
                while changes.get_message(timeout=0) is not None:  # one look covers every change so far
                    pass
            except redis.RedisError as exc:
                log.warning("scheduler cannot read Redis", extra={"error": type(exc).__name__})
                changes = None
                self._stop.wait(5.0)
            except Exception as exc:  # Slack unreachable mid-look, a bug: the thread must outlive it (the claim's
                # lease hands the run on if it was taken); the traceback at DEBUG, as everywhere
                log.warning("scheduler look failed; trying again in 5 s", extra={"error": type(exc).__name__})
                log.debug("scheduler look failed", exc_info=True)
                self._stop.wait(5.0)
            self.wakeups += 1
        if changes is not None:
            with contextlib.suppress(redis.RedisError):
                changes.close()

    # One look --------------------------------------------------------------------------------------

    def run_due(self) -> float:
        """Submit every run due now; how long to sleep before the next one."""
        now = self.clock()
        for value in list(self.store.due(now)):
            self._take(value, now)
        head = self.store.earliest()
        if head is None:
            return self.longest_sleep_s
        return min(self.longest_sleep_s, max(0.05, head[1] - self.clock()))

    def _take(self, value: str, now: float) -> None:
        due = self.store.claim(value, now, LEASE_S)
        if due is None:
            return  # another scheduler has it
        team, schedule_id = split_member(value)
        schedule = self.store.get(team, schedule_id)
        if schedule is None:
            self.store.remove(team, schedule_id)
            return
        if schedule.paused:
            self.store.finish(schedule, None)
            return
        plan = plan_run(schedule, due, now)
        if not plan.run:
            self.skipped += 1
            log.info("schedule run missed", extra={"schedule": schedule.id, "missed": plan.missed})
            self.store.finish(schedule.model_copy(update={"missed": schedule.missed + plan.missed}), plan.next_due)
            return
        problem = self._cannot_post(schedule)
        if problem is not None:
            self._pause(schedule, problem)
            return
        wait = self.limiter.channel_wait(schedule.team_id, schedule.channel_id) if self.limiter else 0.0
        if wait > 0:  # the channel's posting rate: this run waits its turn, still once, still for this due time
            self.deferred += 1
            self.store.defer(value, now + wait)
            return
        self.requests.submit(run_request(schedule, due))
        self.submitted += 1
        log.info("schedule run submitted", extra={"schedule": schedule.id, "due": int(due)})
        self.store.finish(schedule, plan.next_due)

    # Where it posts --------------------------------------------------------------------------------

    def _cannot_post(self, schedule: Schedule) -> str | None:
        """Why the schedule can no longer post where it posts, or None (also when Slack could not say)."""
        if schedule.in_dm:
            return None
        try:
            info = self.slack.conversations_info(channel=schedule.channel_id).get("channel") or {}
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            return f"Slack says `{error}` for <#{schedule.channel_id}>" if error in GONE_ERRORS else None
        if info.get("is_archived"):
            return f"<#{schedule.channel_id}> was archived"
        if (info.get("is_channel") or info.get("is_group")) and info.get("is_member") is False:
            return f"Synapse is no longer in <#{schedule.channel_id}>"
        return None

    def _pause(self, schedule: Schedule, reason: str) -> None:
        paused = schedule.model_copy(update={"paused": reason})
        self.store.finish(paused, None)
        log.info("schedule paused", extra={"schedule": schedule.id})
        text = (
            f"I paused your schedule `{schedule.id}` ({schedule.what()}): {reason}. "
            f"Invite me back and say `resume schedule {schedule.id}`, or `cancel schedule {schedule.id}`."
        )
        try:
            try:
                dm = str(self.slack.conversations_open(users=schedule.owner)["channel"]["id"])
            except SlackApiError:
                dm = schedule.owner  # chat.postMessage takes a user id for the DM too
            self.slack.chat_postMessage(channel=dm, text=text, mrkdwn=True)
        except SlackApiError as exc:
            log.warning("pause notice not sent", extra={"error": str(exc.response.get("error"))})
