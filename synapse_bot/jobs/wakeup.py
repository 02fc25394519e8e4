"""Idle workers wait to be woken instead of polling Redis.

Dramatiq's Redis consumer finds new jobs by polling: with nothing to do, each consumer (a queue and its delay queue)
runs its fetch script every few hundred milliseconds, which is most of an idle process's CPU (9–12 ms a second
at a 200 ms poll, `docs/performance.md`). Polling less often would delay the first job after a quiet spell by as
much. Here every enqueue also publishes on a wake channel, and a consumer with nothing in hand blocks on that
channel: a job is picked up as soon as it is sent, and an idle process wakes only to keep its heartbeat.

The wake-up is only a hint. A missed one (the subscription was reconnecting, the publish failed) costs at most one
idle wait, because the consumer fetches after every wait whether woken or not.

Heartbeats. Every broker command refreshes the process's heartbeat; other workers' queue maintenance takes a worker
without a recent heartbeat for dead and puts the jobs it holds back on the queue. Only a process holding jobs needs
a fresh heartbeat, so only consumers holding jobs keep it: one that can take more fetches every `busy_wait_s`
anyway; one that is full (as many jobs in hand as it may prefetch, so Dramatiq's consumer fetches nothing) sends a
read-only queue-size command every third of the heartbeat timeout. A consumer with nothing in hand sends nothing:
if its process is taken for dead meanwhile, there is nothing to put back, and its next fetch refreshes the heartbeat
in the same script that hands it a job.

Maintenance runs inside broker commands, on a random share of them, for the command's queue. Polling made fetches
frequent enough for the share to come up within a second of a dead worker's heartbeat going stale; fetches are now
rare, so every fetch does maintenance (the rest keep the configured share). The idle consumer of the
`recovery_queue` (the request queue) looks once per heartbeat timeout, so a killed worker's request is back on the
queue within twice `SYNAPSE_QUEUE_HEARTBEAT_SECONDS`; the other queues' idle consumers (the GitHub queue, the delay
queues) wait up to `QUIET_IDLE_WAIT_S`: a dead worker's GitHub batch is put back within a minute (its poll
interval). Four consumers each fetching every 1.7 s were most of an idle worker's CPU (`docs/performance.md`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

log = logging.getLogger(__name__)

# Dramatiq's own consumer sleeps between empty fetches for at most this long; the waiting is done here instead.
_INNER_BACKOFF_MS = 1
# The longest idle wait of a consumer that does not keep the heartbeat (see the module docstring).
QUIET_IDLE_WAIT_S = 60.0


class WakeChannel:
    """One consumer's subscription to the wake channel, on its own Redis connection."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(channel)

    def wait(self, timeout_s: float) -> bool:
        """Block until a wake-up arrives or `timeout_s` passes; True when woken. Pending wake-ups are all taken, so
        a burst of enqueues costs one fetch, not one per message."""
        woken = self._pubsub.get_message(timeout=timeout_s) is not None
        while woken and self._pubsub.get_message(timeout=0) is not None:
            pass
        return woken

    def close(self) -> None:
        self._pubsub.close()


class PollingWait:
    """What an idle consumer does where Redis refuses pub/sub (an ACL without it, a proxy that does not pass it):
    sleep for the poll interval, as Dramatiq would. Idle CPU is then what it was before wake-ups, nothing breaks."""

    def __init__(self, poll_s: float) -> None:
        self.poll_s = poll_s

    def wait(self, timeout_s: float) -> bool:
        time.sleep(min(timeout_s, self.poll_s))
        return False

    def close(self) -> None:
        pass


def _pubsub_refused(exc: redis.ResponseError, busy_wait_s: float) -> PollingWait:
    log.warning(
        "Redis refused the job wake-up channel; idle workers poll the queue instead",
        extra={"error": str(exc)[:200], "poll_ms": round(busy_wait_s * 1000)},
    )
    return PollingWait(busy_wait_s)


class WakingConsumer(Consumer):
    """Dramatiq's Redis consumer, with the waits between fetches spent on the wake channel.

    With jobs in hand (running, prefetched or delayed), the wait is at most `busy_wait_s`: the consumer thread also
    releases delayed messages between fetches. With none, it is `idle_wait_s`.
    """

    def __init__(
        self,
        inner: Consumer,
        wake: WakeChannel | PollingWait,
        *,
        busy_wait_s: float,
        idle_wait_s: float,
        heartbeat_every_s: float,
        keep_heartbeat: Callable[[], None],
        stopping: threading.Event,
    ) -> None:
        self._inner = inner
        self._wake = wake
        self.busy_wait_s = busy_wait_s
        self.idle_wait_s = idle_wait_s
        self.heartbeat_every_s = heartbeat_every_s
        self._keep_heartbeat = keep_heartbeat
        self._last_heartbeat = time.monotonic()
        self._stopping = stopping

    def __next__(self) -> MessageProxy | None:
        message = self._inner.__next__()
        if message is not None:
            return message
        held = getattr(self._inner, "outstanding_message_count", 1)
        try:
            if held and held >= getattr(self._inner, "prefetch", held + 1):
                self._heartbeat_while_full()
            idle = held == 0 and not self._stopping.is_set()
            self._wake.wait(self.idle_wait_s if idle else self.busy_wait_s)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise ConnectionClosed(exc) from None
        except redis.ResponseError as exc:  # the subscription itself was refused (its reply comes with the first read)
            self._wake.close()
            self._wake = _pubsub_refused(exc, self.busy_wait_s)
        return None

    def _heartbeat_while_full(self) -> None:
        """Full, Dramatiq's consumer fetches nothing: keep the heartbeat of the process holding these jobs."""
        now = time.monotonic()
        if now - self._last_heartbeat >= self.heartbeat_every_s:
            self._last_heartbeat = now
            self._keep_heartbeat()

    def ack(self, message: MessageProxy) -> None:
        self._inner.ack(message)

    def nack(self, message: MessageProxy) -> None:
        self._inner.nack(message)

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        self._inner.requeue(messages)

    def close(self) -> None:
        try:
            self._wake.close()
        finally:
            self._inner.close()


class WakingRedisBroker(RedisBroker):
    """A RedisBroker whose enqueues wake idle consumers (see the module docstring)."""

    def __init__(self, *, busy_wait_ms: int, recovery_queue: str, **parameters: Any) -> None:
        super().__init__(**parameters)
        self.busy_wait_s = busy_wait_ms / 1000
        self.heartbeat_every_s = max(self.busy_wait_s, self.heartbeat_timeout / 1000 / 3)
        self.recovery_wait_s = max(self.busy_wait_s, self.heartbeat_timeout / 1000)
        self.quiet_idle_wait_s = max(self.recovery_wait_s, QUIET_IDLE_WAIT_S)
        self.recovery_queue = recovery_queue
        self._stopping = threading.Event()

    def _should_do_maintenance(self, command: str) -> int:
        # Dramatiq's hook for the share of commands that run queue maintenance (see the module docstring).
        return 1 if command == "fetch" else int(super()._should_do_maintenance(command))

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        # Subscribe before the first fetch: a job sent in between then wakes the wait that follows it.
        wake: WakeChannel | PollingWait
        try:
            wake = WakeChannel(self.client, self.wake_channel(queue_name))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise ConnectionClosed(exc) from None
        except redis.ResponseError as exc:
            wake = _pubsub_refused(exc, self.busy_wait_s)
        inner = super().consume(queue_name, prefetch=prefetch, timeout=_INNER_BACKOFF_MS)
        idle_wait_s = self.recovery_wait_s if queue_name == self.recovery_queue else self.quiet_idle_wait_s
        return WakingConsumer(
            inner,
            wake,
            busy_wait_s=self.busy_wait_s,
            idle_wait_s=idle_wait_s,
            heartbeat_every_s=self.heartbeat_every_s,
            keep_heartbeat=lambda: self.keep_heartbeat(queue_name),
            stopping=self._stopping,
        )

    def keep_heartbeat(self, queue_name: str) -> None:
        """A read-only broker command (the queue's size, as Dramatiq's own `join` asks it): like every command, it
        refreshes this process's heartbeat."""
        self.do_qsize(queue_name)

    def wake_channel(self, queue_name: str) -> str:
        """Each queue its own channel: a job for the queue does not wake the delay queue's consumers, nor the
        reverse."""
        return f"{self.namespace}:wake:{queue_name}"

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        sent = super().enqueue(message, delay=delay)
        self.wake(dq_name(message.queue_name) if delay is not None else message.queue_name)
        return sent

    def stop_waiting(self) -> None:
        """Before stopping the worker: its consumers wait no longer than `busy_wait_s` from now on, so each notices
        it is being stopped within that time (woken now, they would otherwise go back to a long idle wait)."""
        self._stopping.set()
        for queue_name in (*self.queues, *self.delay_queues):
            self.wake(queue_name)

    def wake(self, queue_name: str) -> None:
        """Wake the idle consumers of `queue_name` in every process sharing this Redis."""
        try:
            self.client.publish(self.wake_channel(queue_name), b"1")
        except redis.RedisError as exc:
            # The job is queued; an idle consumer finds it at the end of its wait.
            log.info("job wake-up not sent", extra={"error": type(exc).__name__})
