"""Request jobs on Dramatiq, with Redis as the broker.

A gateway `send`s each accepted request as one message; any worker process sharing the Redis picks it up.
Dramatiq keeps a fetched message in the worker's ack set until the job returns, and every broker command
refreshes the worker's heartbeat; when a worker dies its heartbeat goes stale and queue maintenance (run on a
share of every worker's and gateway's commands) puts its unacknowledged messages back on the queue. With the
heartbeat timeout at SYNAPSE_QUEUE_HEARTBEAT_SECONDS and maintenance on a fifth of commands, a killed worker's job
is redelivered within a few seconds. Redelivery is safe because jobs are idempotent (see `jobs/guard.py`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import dramatiq
import redis
from dramatiq.middleware import Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit, TimeLimitExceeded

from synapse_bot.config import Settings
from synapse_bot.feed.model import Observations
from synapse_bot.jobs.wakeup import WakingRedisBroker
from synapse_bot.request import SlackRequest

log = logging.getLogger(__name__)

QUEUE_NAME = "requests"
ACTOR_NAME = "synapse.handle_request"
GITHUB_QUEUE_NAME = "github"  # its own queue: a burst of GitHub events does not wait in line with people's questions
GITHUB_ACTOR_NAME = "synapse.github_events"
# Out of a million broker commands, how many also run queue maintenance (requeueing dead workers' jobs).
MAINTENANCE_CHANCE = 200_000

JobHandler = Callable[[SlackRequest], None]
GitHubHandler = Callable[[Observations], None]
# How often an idle job thread looks up to see whether it is being stopped (Dramatiq's `worker_timeout`). Jobs reach
# the threads through an in-process queue and wake them at once; this only bounds how long a stop waits for them,
# and each look costs CPU in every idle thread (eight threads at 1 s were a third of an idle worker's 1.5–2 ms/s).
THREAD_WAKE_MS = 1000
# How often Dramatiq's time-limit thread looks for jobs over their limit: a job may overrun its limit (10 s at the
# least) by this much, and every look wakes the thread in an idle process.
TIME_LIMIT_CHECK_MS = 2000


def build_broker(settings: Settings, redis_url: str) -> WakingRedisBroker:
    # Dramatiq needs raw bytes (no decode_responses) and short timeouts so a gateway notices an outage quickly.
    client = redis.Redis.from_url(
        redis_url, socket_connect_timeout=1.0, socket_timeout=5.0, health_check_interval=15, retry_on_timeout=False
    )
    middleware = [
        TimeLimit(time_limit=settings.job_time_limit_seconds * 1000, interval=TIME_LIMIT_CHECK_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        # The handler replies on its own errors; a retry only happens if the job itself crashed.
        Retries(max_retries=2, min_backoff=500, max_backoff=5_000),
    ]
    return WakingRedisBroker(
        busy_wait_ms=settings.queue_poll_ms,
        recovery_queue=QUEUE_NAME,
        client=client,
        namespace=f"{settings.key_prefix}-jobs",
        heartbeat_timeout=int(settings.queue_heartbeat_seconds * 1000),
        maintenance_chance=MAINTENANCE_CHANCE,
        middleware=middleware,
    )


class JobQueue:
    """Both ends of the request queue: `submit` (gateways) and `handler` (set in processes that run workers); and
    of the GitHub events queue: `submit_github` (the poller, the webhook receiver) and `github_handler`."""

    def __init__(
        self,
        broker: WakingRedisBroker,
        handler: JobHandler | None = None,
        on_time_limit: JobHandler | None = None,
        github_handler: GitHubHandler | None = None,
    ) -> None:
        self.broker = broker
        self.handler = handler
        self.on_time_limit = on_time_limit
        self.github_handler = github_handler
        self.performed = 0
        self.running = 0  # request jobs this process is inside right now (/health: which worker holds what)
        self._running_lock = threading.Lock()
        self.github_submitted = 0
        self.github_performed = 0
        self.github_actor: dramatiq.Actor[[dict[str, Any]], None] = dramatiq.Actor(
            self._perform_github,
            broker=broker,
            actor_name=GITHUB_ACTOR_NAME,
            queue_name=GITHUB_QUEUE_NAME,
            priority=10,
            options={},
        )
        self.actor: dramatiq.Actor[[dict[str, Any]], None] = dramatiq.Actor(
            self._perform,
            broker=broker,
            actor_name=ACTOR_NAME,
            queue_name=QUEUE_NAME,
            priority=0,
            options={},
        )

    def submit(self, request: SlackRequest) -> None:
        """Put the request on the queue; raises redis errors so the caller can fall back."""
        self.actor.send(request.model_dump(mode="json"))
        self._count("requests", "submitted")

    def _perform(self, payload: dict[str, Any]) -> None:
        if self.handler is None:
            raise RuntimeError("this process has no job handler (a gateway-only process received a job)")
        request = SlackRequest.model_validate(payload)
        with self._running_lock:
            self.running += 1
        try:
            self.handler(request)
        except TimeLimitExceeded:
            # Dramatiq interrupted a job past SYNAPSE_JOB_TIME_LIMIT_SECONDS: say so rather than go quiet.
            log.warning("job over its time limit", extra={"kind": request.kind.value})
            if self.on_time_limit is not None:
                self.on_time_limit(request)
        finally:
            with self._running_lock:
                self.running -= 1
        self.performed += 1
        self._count("requests", "performed")

    def submit_github(self, seen: Observations) -> None:
        """Queue one look at a repository for the events job; raises redis errors (the caller says so)."""
        self.github_actor.send(seen.model_dump(mode="json"))
        self.github_submitted += 1
        self._count("github", "submitted")

    def _perform_github(self, payload: dict[str, Any]) -> None:
        if self.github_handler is None:
            raise RuntimeError("this process has no GitHub events handler (a gateway-only process received a job)")
        self.github_handler(Observations.model_validate(payload))
        self.github_performed += 1
        self._count("github", "performed")

    def _count(self, queue: str, what: str) -> None:
        """The deployment's totals (every process's), for /health: a job a killed worker took and another one
        performed is counted once."""
        with contextlib.suppress(redis.RedisError):
            self.broker.client.incr(f"{self.broker.namespace}:count:{queue}:{what}")

    def totals(self, queue: str) -> tuple[int, int]:
        """(jobs queued, jobs performed) on `queue` ("requests", "github") by every process sharing this Redis."""
        queued, performed = self.broker.client.mget(
            [f"{self.broker.namespace}:count:{queue}:submitted", f"{self.broker.namespace}:count:{queue}:performed"]
        )
        return int(queued or 0), int(performed or 0)

    def depth(self) -> int:
        """Messages waiting on the queue (not counting those being worked on)."""
        return int(self.broker.client.llen(f"{self.broker.namespace}:{QUEUE_NAME}"))


class QueueWorker:
    """A Dramatiq worker (consumer threads + worker threads) running inside this process."""

    def __init__(self, queue: JobQueue, *, threads: int) -> None:
        self._worker = dramatiq.Worker(queue.broker, worker_threads=threads, worker_timeout=THREAD_WAKE_MS)
        self._broker = queue.broker
        self.threads = threads

    def start(self) -> None:
        # Dramatiq's CLI announces process boot; TimeLimit starts its deadline thread on it. We embed the worker, so
        # we announce it ourselves, or SYNAPSE_JOB_TIME_LIMIT_SECONDS would never be enforced.
        self._worker.broker.emit_after("process_boot")
        self._worker.start()
        log.info("job worker started", extra={"threads": self.threads})

    def stop(self, timeout_s: float = 60.0) -> None:
        """Finish the jobs in hand (up to timeout_s); prefetched-but-unstarted messages go back to the queue."""
        self._broker.stop_waiting()
        self._worker.stop(timeout=int(timeout_s * 1000))
