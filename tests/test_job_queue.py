"""The request queue on a real redis-server: idle workers wait to be woken instead of polling (jobs/wakeup.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from synapse_bot.jobs.queue import JobQueue, QueueWorker, build_broker
from synapse_bot.jobs.wakeup import WakeChannel
from synapse_bot.request import SlackRequest
from synapse_bot.store.embedded import EmbeddedRedis
from synapse_sandbox.workspace import SlackSandbox
from tests.support.requests import mention
from tests.support.settings import make_settings
from tests.support.waits import wait_until

# A heartbeat timeout of a minute makes an idle consumer wait a minute between fetches: any pick-up or stop faster
# than that is the wake-up's doing.
LONG_HEARTBEAT_S = 60


def fetch_scripts_run(client: redis.Redis) -> int:
    """Lua script calls the server has run (Dramatiq's fetch, ack and enqueue are all scripts)."""
    stats = client.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval"))


def consumers_waiting(queue: JobQueue) -> None:
    """Every consumer (each queue and its delay queue) has made its first fetch and waits on its wake channel."""
    broker = queue.broker
    channels = [broker.wake_channel(name) for name in (*broker.queues, *broker.delay_queues)]

    def subscribed() -> bool:
        counts = dict(broker.client.pubsub_numsub(*channels))
        return all(int(counts.get(c.encode(), 0)) >= 1 for c in channels)

    wait_until(subscribed, 10, "every consumer waiting on its wake channel")


def request(n: int) -> SlackRequest:
    return mention(dedupe_key=f"Ev{n}")


@pytest.fixture
def worker_on(
    slack: SlackSandbox, tcp_redis: EmbeddedRedis, tmp_path: Path
) -> Iterator[tuple[JobQueue, list[SlackRequest], threading.Event]]:
    settings = make_settings(slack, tcp_redis, tmp_path, SYNAPSE_QUEUE_HEARTBEAT_SECONDS=LONG_HEARTBEAT_S)
    handled: list[SlackRequest] = []
    arrived = threading.Event()

    def handle(job: SlackRequest) -> None:
        handled.append(job)
        arrived.set()

    queue = JobQueue(build_broker(settings, tcp_redis.url), handle)
    worker = QueueWorker(queue, threads=2)
    worker.start()
    try:
        yield queue, handled, arrived
    finally:
        started = time.monotonic()
        worker.stop(timeout_s=10)
        assert time.monotonic() - started < 5, "stopping waited out an idle consumer's wait"


def test_an_idle_worker_does_not_poll_redis(worker_on: tuple[JobQueue, list[SlackRequest], threading.Event]) -> None:
    queue, _, _ = worker_on
    client = queue.broker.client
    consumers_waiting(queue)
    # A consumer subscribes before its first fetch: the window starts once every consumer has made that fetch.
    consumers = len(queue.broker.queues) + len(queue.broker.delay_queues)
    wait_until(lambda: fetch_scripts_run(client) >= consumers, 10, "every consumer's first fetch")
    before = fetch_scripts_run(client)
    time.sleep(3.0)  # the window measured: nothing happens in it, so no event can end it
    # Polling every SYNAPSE_QUEUE_POLL_MS (200 ms) made about 60 fetches in 3 s (four consumers: two queues, each
    # with its delay queue).
    assert fetch_scripts_run(client) - before <= 2


def _handled_after_idle(queue: JobQueue, send: Callable[[], object], arrived: threading.Event) -> float:
    """Once the consumers are in their idle wait, `send` a job: seconds until a worker handled it."""
    consumers_waiting(queue)
    sent = time.monotonic()
    send()
    assert arrived.wait(10)
    return time.monotonic() - sent


def test_a_job_sent_to_an_idle_worker_is_picked_up_at_once(
    worker_on: tuple[JobQueue, list[SlackRequest], threading.Event],
) -> None:
    queue, handled, arrived = worker_on
    waited = _handled_after_idle(queue, lambda: queue.submit(request(1)), arrived)
    assert waited < 5, "the job waited for the end of the idle wait"
    assert [job.dedupe_key for job in handled] == ["Ev1"]


def test_a_burst_of_jobs_is_all_handled_once(worker_on: tuple[JobQueue, list[SlackRequest], threading.Event]) -> None:
    queue, handled, _ = worker_on
    for n in range(30):
        queue.submit(request(n))
    deadline = time.monotonic() + 15
    while len(handled) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(job.dedupe_key for job in handled) == sorted(f"Ev{n}" for n in range(30))


def test_a_wake_channel_takes_every_pending_wake_up_at_once(tcp_redis: EmbeddedRedis) -> None:
    client = redis.Redis.from_url(tcp_redis.url)
    channel = WakeChannel(client, "wake-test")
    try:
        assert channel.wait(0.05) is False  # nothing sent: the wait times out
        for _ in range(5):
            client.publish("wake-test", b"1")
        assert channel.wait(2.0) is True
        assert channel.wait(0.05) is False  # the other four were taken with the first
    finally:
        channel.close()
        client.close()


def test_a_delayed_job_runs_once_due_on_an_otherwise_idle_worker(
    worker_on: tuple[JobQueue, list[SlackRequest], threading.Event],
) -> None:
    """Retries go through the delay queue: its consumer is woken too, and releases the job when it is due."""
    queue, handled, arrived = worker_on
    waited = _handled_after_idle(
        queue, lambda: queue.actor.send_with_options(args=(request(7).model_dump(mode="json"),), delay=500), arrived
    )
    assert 0.5 <= waited < 5
    assert [job.dedupe_key for job in handled] == ["Ev7"]


def test_where_redis_refuses_pub_sub_idle_workers_poll_and_jobs_still_run(
    slack: SlackSandbox, tcp_redis: EmbeddedRedis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Some managed Redis and proxies refuse pub/sub to an app's user: the queue must work on, polling as before."""
    admin = redis.Redis.from_url(tcp_redis.url)
    admin.execute_command("ACL", "SETUSER", "nopubsub", "on", ">secret", "~*", "&*", "+@all", "-@pubsub")
    admin.close()
    url = tcp_redis.url.replace("redis://", "redis://nopubsub:secret@", 1)
    settings = make_settings(slack, tcp_redis, tmp_path, SYNAPSE_QUEUE_HEARTBEAT_SECONDS=LONG_HEARTBEAT_S)
    arrived = threading.Event()
    queue = JobQueue(build_broker(settings, url), lambda job: arrived.set())
    worker = QueueWorker(queue, threads=2)
    worker.start()
    try:
        wait_until(
            lambda: sum("refused the job wake-up channel" in r.getMessage() for r in caplog.records) >= 4,
            10,
            "every consumer finding pub/sub refused",
        )
        sent = time.monotonic()
        queue.submit(request(1))  # its wake-up is refused too: the job is queued all the same
        assert arrived.wait(10)
        assert time.monotonic() - sent < 5, "an idle worker waited out the minute-long idle wait without wake-ups"
    finally:
        worker.stop(timeout_s=10)
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "Consumer encountered" in m]  # no crash-and-restart loop in Dramatiq
    # said once per consumer: two queues (requests, github events), each with its delay queue
    assert sum("refused the job wake-up channel" in m for m in messages) == 4


def test_a_worker_with_every_slot_full_keeps_its_heartbeat(
    slack: SlackSandbox, tcp_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    """Full (as many jobs in hand as it may prefetch), Dramatiq's consumer fetches nothing; without another command
    the heartbeat would go stale and another worker would take the jobs it is running for a dead worker's."""
    heartbeat_s = 1.0
    settings = make_settings(slack, tcp_redis, tmp_path, SYNAPSE_QUEUE_HEARTBEAT_SECONDS=heartbeat_s)
    release, started = threading.Event(), threading.Event()
    busy_handled: list[str] = []
    other_handled: list[str] = []

    def slow(job: SlackRequest) -> None:
        started.set()
        release.wait(30)
        busy_handled.append(job.dedupe_key)

    busy = JobQueue(build_broker(settings, tcp_redis.url), slow)
    other = JobQueue(build_broker(settings, tcp_redis.url), lambda job: other_handled.append(job.dedupe_key))
    busy_worker = QueueWorker(busy, threads=1)  # prefetch 2: one job running and one waiting fill it
    other_worker: QueueWorker | None = None
    busy_worker.start()
    try:
        busy.submit(request(1))
        busy.submit(request(2))
        assert started.wait(10)
        wait_until(lambda: busy.depth() == 0, 10, "both jobs in the busy worker's hands")
        # Started only now, the other worker finds nothing to fetch; its fetches run queue maintenance.
        other_worker = QueueWorker(other, threads=1)
        other_worker.start()
        heartbeats = f"{busy.broker.namespace}:__heartbeats__"  # Dramatiq's key, only read here
        full_since = time.time() * 1000
        wait_until(
            lambda: (
                (busy.broker.client.zscore(heartbeats, busy.broker.broker_id) or 0) > full_since + 4000 * heartbeat_s
            ),
            15,
            "the full worker's heartbeat refreshed four heartbeat timeouts after it filled up",
        )
        assert other_handled == [], "the other worker took the full worker's jobs for a dead worker's"
        release.set()
        wait_until(lambda: len(busy_handled) == 2, 10, "the full worker finishing both jobs")
    finally:
        release.set()
        busy_worker.stop(timeout_s=10)
        if other_worker is not None:
            other_worker.stop(timeout_s=10)
    assert sorted(busy_handled) == ["Ev1", "Ev2"] and other_handled == []
